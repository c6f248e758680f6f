/* Internal: the device handle, shared by the files that enqueue work on it. */
#ifndef BT_DEVICE_IMPL_H
#define BT_DEVICE_IMPL_H

#include "batchtune.h"

/* Per-device state of a higher layer (e.g. the GEMM layer's temporary buffer), which the device
 * layer keeps without knowing what it is: found by a key only that layer knows (the address of
 * one of its static objects), freed by its `destroy` when the device is destroyed, after the
 * queues have finished and before the context is released. */
typedef struct bt_device_attachment {
    const void *key;
    void *state;
    void (*destroy)(void *state);
} bt_device_attachment;

#define BT_DEVICE_MAX_ATTACHMENTS 4

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
    bt_device_attachment attachments[BT_DEVICE_MAX_ATTACHMENTS]; /* owned, in attaching order */
    size_t n_attachments;
};

/* What bt_device_create does before the layers above attach their state: chooses the device
 * (opts->selector, else $BATCHTUNE_DEVICE), creates its context and queues and sets up the
 * program cache. opts may be NULL (bt_device_opts_default()); out must not be NULL. Nothing
 * of opts->apply_gemm_tuning or gemm_tuning_dir: bt_device_create (in the GEMM tuning layer)
 * applies the stored GEMM parameters after this. */
bt_status bt_device_open(const bt_device_opts *opts, bt_device **out);

/* The state attached under `key`, NULL if none. */
void *bt_device_attachment_get(const bt_device *device, const void *key);

/* Attaches `state` under `key` (not attached yet); the device owns it from then on and calls
 * destroy(state) when it is destroyed. Fails with BT_ERR_INVALID_ARGUMENT, calling
 * destroy(state) itself, when all BT_DEVICE_MAX_ATTACHMENTS places are taken (a bug). */
bt_status bt_device_attach(bt_device *device, const void *key, void *state,
                           void (*destroy)(void *state));

#endif
