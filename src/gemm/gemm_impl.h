/* Internal: the GEMM pieces shared by gemm.c, gemm_tuning.c (the files that include CLBlast's
 * header) and the parameter search. */
#ifndef BT_GEMM_IMPL_H
#define BT_GEMM_IMPL_H

#include "batchtune_gemm_tuning.h"

/* CLBlast status codes as plain ints, so that callers need not include clblast_c.h. */

/* "CLBlastInvalidLeadDimC", or OpenCL's name for the codes CLBlast shares with OpenCL. */
const char *bt_clblast_status_name(int status);

/* The bt_status a CLBlast failure maps to, by what a user can do about it. */
bt_status bt_clblast_status_map(int status);

/* "1.5.3": the CLBlast version batchtune was built against (its header's version macros). */
const char *bt_clblast_version(void);

/* Every parameter CLBlast has in effect for the device's GEMMs (all three parts set): its own
 * for a part nobody has overridden. Applying the result later restores exactly this state, which
 * is how the search gets back to CLBlast's defaults after trying other parameters. */
bt_status bt_gemm_current_params(bt_device *device, bt_gemm_params *out);

/* true if `path` does not exist (as opposed to existing but unreadable). */
bool bt_gemm_tuning_file_missing(const char *path);

/* Drops the programs CLBlast has compiled (in this process, for every device); the parameters
 * applied stay. The search calls it after each candidate: every candidate is a new program of
 * tens of megabytes that would otherwise stay in memory until the process ends. */
bt_status bt_gemm_release_compiled(void);

/* Called by bt_device_create once the queue exists: finds, checks and applies the device's
 * stored parameters when opts->apply_gemm_tuning, and records the outcome for
 * bt_device_gemm_tuning_status(). Never fails: a file that cannot be used leaves CLBlast's
 * parameters as they are. */
void bt_device_gemm_tuning_open(bt_device *device, const bt_device_opts *opts);

#endif
