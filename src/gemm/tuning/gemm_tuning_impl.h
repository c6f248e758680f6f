/* Internal: the GEMM tuning layer's state of a device (the parameters applied through it, what
 * opening it did about stored ones) and the pieces shared by gemm_tuning.c, gemm_params_file.c,
 * device_open.c and the parameter search. */
#ifndef BT_GEMM_TUNING_IMPL_H
#define BT_GEMM_TUNING_IMPL_H

#include "batchtune_gemm_tuning.h"

/* Attached to the device (bt_device_attach) by bt_device_create, or by the first
 * bt_device_apply_gemm_params. */
typedef struct bt_gemm_tuning_device {
    bt_gemm_params params;       /* parts applied through this handle */
    bt_gemm_tuning_state state;  /* what opening did about stored parameters */
    char status[1200];           /* its message, for the user */
} bt_gemm_tuning_device;

/* Sets *out to the device's tuning state, attaching it first if it has none (zeroed: nothing
 * applied, state BT_GEMM_TUNING_DISABLED, status ""). Fails only when attaching fails. */
bt_status bt_gemm_tuning_device_get(bt_device *device, bt_gemm_tuning_device **out);

/* Every parameter CLBlast has in effect for the device's GEMMs (all three parts set): its own
 * for a part nobody has overridden. Applying the result later restores exactly this state, which
 * is how the search gets back to CLBlast's defaults after trying other parameters. */
bt_status bt_gemm_current_params(bt_device *device, bt_gemm_params *out);

/* true if `path` does not exist (as opposed to existing but unreadable). */
bool bt_gemm_tuning_file_missing(const char *path);

/* The key lines of a GEMM-tuning file: pointers into the text given to the parser. */
typedef struct bt_gemm_tuning_file_key {
    const char *format, *platform, *device, *driver, *clblast;
} bt_gemm_tuning_file_key;

/* Parses a GEMM-tuning file's text of `size` bytes without a device: the checksum line, the
 * format and key lines and the three parameter groups. `text[size]` must be '\0'; the text is
 * modified in place and *key points into it. The parameters are not checked against a device
 * (bt_gemm_tuning_load does that) and nothing is written to the outputs on failure. */
bt_status bt_gemm_tuning_parse_text(char *text, size_t size, bt_gemm_tuning_file_key *key,
                                    bt_gemm_params *out);

/* Drops the programs CLBlast has compiled (in this process, for every device); the parameters
 * applied stay. The search calls it after each candidate: every candidate is a new program of
 * tens of megabytes that would otherwise stay in memory until the process ends. */
bt_status bt_gemm_release_compiled(void);

/* Called by bt_device_create once the device is open: finds, checks and applies the device's
 * stored parameters when opts->apply_gemm_tuning, and records the outcome for
 * bt_device_gemm_tuning_status(). A file that cannot be used leaves CLBlast's parameters as
 * they are and is no failure; fails only when the state cannot be attached to the device. */
bt_status bt_device_gemm_tuning_open(bt_device *device, const bt_device_opts *opts);

#endif
