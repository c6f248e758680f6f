/* Internal: the device handle, shared by the files that enqueue work on it. */
#ifndef BT_DEVICE_IMPL_H
#define BT_DEVICE_IMPL_H

#include "batchtune.h"

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
};

#endif
