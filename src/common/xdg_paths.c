/* batchtune's XDG folders. */
#define _POSIX_C_SOURCE 200809L
#include "common/xdg_paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *bt_xdg_batchtune_dir(bt_xdg_base base, bool *unset)
{
    const char *xdg = getenv(base == BT_XDG_CACHE ? "XDG_CACHE_HOME" : "XDG_DATA_HOME");
    const char *home = getenv("HOME");
    const char *root, *below;
    if (xdg && *xdg) {
        root = xdg;
        below = "batchtune";
    } else if (home && *home) {
        root = home;
        below = base == BT_XDG_CACHE ? ".cache/batchtune" : ".local/share/batchtune";
    } else {
        *unset = true;
        return NULL;
    }
    *unset = false;
    size_t len = strlen(root) + strlen(below) + 2;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/%s", root, below);
    return path;
}
