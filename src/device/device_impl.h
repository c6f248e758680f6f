/* Internal: the device handle, shared by the files that enqueue work on it. */
#ifndef BT_DEVICE_IMPL_H
#define BT_DEVICE_IMPL_H

#include "batchtune.h"
#include "batchtune_gemm_tuning.h"

struct bt_device {
    bt_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;    /* owned */
    cl_command_queue queue; /* owned; in order, profiling enabled */
    /* owned; a second in-order queue for uploads that overlap the compute queue's work */
    cl_command_queue transfer_queue;
    uint64_t allocated_bytes; /* sum of live bt_buffer sizes */
    char *cache_dir;       /* owned; NULL: no program-binary cache */
    char *kernel_dir;      /* owned; NULL: embedded kernel sources only */
    /* CLBlast's temporary matrices for its indirect GEMM path: one buffer, grown on demand and
     * shared by every GEMM (the queue is in order, so calls never overlap). */
    cl_mem gemm_scratch;   /* owned; NULL until a GEMM needs it */
    size_t gemm_scratch_bytes;
    bt_gemm_params gemm_params;             /* parts applied through this handle */
    bt_gemm_tuning_state gemm_tuning_state; /* what opening did about stored parameters */
    char gemm_tuning_status[1200];          /* its message, for the user */
};

#endif
