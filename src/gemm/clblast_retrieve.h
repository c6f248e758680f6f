/* Internal: a C entry to clblast::RetrieveParameters (clblast_retrieve.cpp). */
#ifndef BT_CLBLAST_RETRIEVE_H
#define BT_CLBLAST_RETRIEVE_H

#include <stddef.h>

#include "batchtune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The single-precision parameters `names[0..count)` that CLBlast has in effect for `kernel`
 * ("XgemmDirect", "Xgemm", "GemmRoutine") on the device: its own unless overridden. Returns 0
 * (CLBlastSuccess) or a CLBlast status code; kMissingOverrideParameter (-2047) when the kernel
 * has no parameter of one of the names. */
int bt_clblast_retrieve(cl_device_id device, const char *kernel, const char *const *names,
                        size_t count, size_t *values);

#ifdef __cplusplus
}
#endif

#endif
