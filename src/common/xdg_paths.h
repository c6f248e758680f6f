/* Internal: batchtune's folders under the XDG base directories. */
#ifndef BT_XDG_PATHS_H
#define BT_XDG_PATHS_H

#include <stdbool.h>

typedef enum bt_xdg_base {
    BT_XDG_CACHE, /* $XDG_CACHE_HOME, else $HOME/.cache: compiled programs */
    BT_XDG_DATA,  /* $XDG_DATA_HOME, else $HOME/.local/share: tuned GEMM parameters */
} bt_xdg_base;

/* "<base>/batchtune" as a malloc'ed path. NULL when neither the XDG variable nor HOME is set (or
 * both are empty), *unset then true; NULL with *unset false when out of memory. */
char *bt_xdg_batchtune_dir(bt_xdg_base base, bool *unset);

#endif
