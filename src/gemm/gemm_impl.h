/* Internal: the GEMM layer's pieces shared by gemm.c and the tuning layer above it (gemm_tuning.c
 * includes CLBlast's header too, the parameter file names the CLBlast version). */
#ifndef BT_GEMM_IMPL_H
#define BT_GEMM_IMPL_H

#include "batchtune.h"

/* CLBlast status codes as plain ints, so that callers need not include clblast_c.h. */

/* "CLBlastInvalidLeadDimC", or OpenCL's name for the codes CLBlast shares with OpenCL. */
const char *bt_clblast_status_name(int status);

/* The bt_status a CLBlast failure maps to, by what a user can do about it. */
bt_status bt_clblast_status_map(int status);

/* "1.5.3": the CLBlast version batchtune was built against (its header's version macros). */
const char *bt_clblast_version(void);

/* The GEMM layer's state of one device, attached to it (bt_device_attach) by the first GEMM that
 * needs it. CLBlast's temporary matrices for its indirect GEMM path: one buffer, grown on demand
 * and shared by every GEMM (the queue is in order, so calls never overlap). */
typedef struct bt_gemm_device {
    cl_mem scratch; /* owned; NULL until a GEMM needs it */
    size_t scratch_bytes;
} bt_gemm_device;

/* The device's GEMM state; NULL until a GEMM has needed a temporary buffer. */
bt_gemm_device *bt_gemm_device_get(const bt_device *device);

#endif
