/* Streaming mini-batches through a ring of device buffers (see stream_ring.h). */
#include "train/stream_ring.h"

#include <stdlib.h>
#include <string.h>

#include "device/device_impl.h"
#include "common/error.h"
#include "train/network_impl.h"

typedef struct stream_slot {
    bt_buffer *pixels;  /* device: batch_size x features bytes */
    bt_buffer *labels;  /* device: batch_size bytes */
    cl_mem staging;     /* pinned host memory, mapped for the slot's lifetime */
    uint8_t *host;      /* the mapping: pixels, then labels */
    cl_event uploaded;  /* the slot's last upload: staging may be rewritten after it */
    cl_event consumed;  /* the gather that last read the slot: it may be overwritten after it */
} stream_slot;

struct bt_stream_ring {
    bt_network *net;         /* not owned */
    const bt_dataset *data;  /* not owned */
    size_t batch_size, features;
    stream_slot *slots;
    size_t count, next;
};

static void release_event(cl_event *event)
{
    if (*event)
        clReleaseEvent(*event);
    *event = NULL;
}

static bt_status create_slot(bt_stream_ring *ring, stream_slot *slot)
{
    bt_device *dev = ring->net->device;
    size_t pixel_bytes = ring->batch_size * ring->features;
    BT_TRY(bt_buffer_create(dev, pixel_bytes, &slot->pixels));
    BT_TRY(bt_buffer_create(dev, ring->batch_size, &slot->labels));
    /* ALLOC_HOST_PTR gives page-locked memory on GPU drivers: uploads from it run at full speed
     * and asynchronously. */
    cl_int err = CL_SUCCESS;
    slot->staging = clCreateBuffer(dev->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                                   pixel_bytes + ring->batch_size, NULL, &err);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clCreateBuffer (streaming staging memory)");
    slot->host = clEnqueueMapBuffer(dev->transfer_queue, slot->staging, CL_TRUE, CL_MAP_WRITE, 0,
                                    pixel_bytes + ring->batch_size, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        slot->host = NULL;
        return bt_fail_cl(err, "clEnqueueMapBuffer (streaming staging memory)");
    }
    return BT_OK;
}

bt_status bt_stream_ring_create(bt_network *net, const bt_dataset *data, size_t batch_size,
                                size_t slots, bt_stream_ring **out)
{
    *out = NULL;
    if (slots < 2)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "a streaming ring needs at least 2 buffers, "
                                                "not %zu",
                       slots);
    bt_stream_ring *ring = calloc(1, sizeof *ring);
    if (!ring)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    ring->net = net;
    ring->data = data;
    ring->batch_size = batch_size;
    ring->features = bt_dataset_features(data);
    ring->slots = calloc(slots, sizeof *ring->slots);
    ring->count = slots;
    bt_status status = ring->slots ? BT_OK
                                   : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < slots && status == BT_OK; ++i)
        status = create_slot(ring, &ring->slots[i]);
    if (status != BT_OK) {
        bt_stream_ring_destroy(ring);
        return status;
    }
    *out = ring;
    return BT_OK;
}

void bt_stream_ring_destroy(bt_stream_ring *ring)
{
    if (!ring)
        return;
    bt_device *dev = ring->net->device;
    clFinish(dev->queue);
    clFinish(dev->transfer_queue);
    for (size_t i = 0; ring->slots && i < ring->count; ++i) {
        stream_slot *slot = &ring->slots[i];
        release_event(&slot->uploaded);
        release_event(&slot->consumed);
        if (slot->host)
            clEnqueueUnmapMemObject(dev->transfer_queue, slot->staging, slot->host, 0, NULL, NULL);
        if (slot->staging) {
            clFinish(dev->transfer_queue);
            clReleaseMemObject(slot->staging);
        }
        bt_buffer_destroy(slot->pixels);
        bt_buffer_destroy(slot->labels);
    }
    free(ring->slots);
    free(ring);
}

static void pack(const bt_stream_ring *ring, stream_slot *slot, const uint32_t *order,
                 size_t first, size_t m)
{
    const uint8_t *pixels = bt_dataset_pixels(ring->data);
    const uint8_t *labels = bt_dataset_labels(ring->data);
    size_t features = ring->features;
    uint8_t *label_out = slot->host + ring->batch_size * features;
    for (size_t i = 0; i < m; ++i) {
        size_t src = order[first + i];
        memcpy(slot->host + i * features, pixels + src * features, features);
        label_out[i] = labels[src];
    }
}

static bt_status upload(bt_stream_ring *ring, stream_slot *slot, size_t m)
{
    bt_network *net = ring->net;
    cl_command_queue tq = net->device->transfer_queue;
    size_t pixel_bytes = m * ring->features;
    cl_event pixels_done = NULL;
    cl_int err = clEnqueueWriteBuffer(tq, bt_buffer_cl_mem(slot->pixels), CL_FALSE, 0,
                                      pixel_bytes, slot->host, slot->consumed ? 1 : 0,
                                      slot->consumed ? &slot->consumed : NULL, &pixels_done);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "uploading a streamed batch");
    bt_network_profile_add(net, BT_PROF_TRANSFER, pixels_done);
    clReleaseEvent(pixels_done);
    release_event(&slot->uploaded);
    /* In order on the transfer queue: this event completing means both writes are done. */
    err = clEnqueueWriteBuffer(tq, bt_buffer_cl_mem(slot->labels), CL_FALSE, 0, m,
                               slot->host + ring->batch_size * ring->features, 0, NULL,
                               &slot->uploaded);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "uploading a streamed batch's labels");
    bt_network_profile_add(net, BT_PROF_TRANSFER, slot->uploaded);
    BT_CL_TRY(clFlush(tq), "clFlush (transfer queue)");
    return BT_OK;
}

bt_status bt_stream_ring_enqueue_batch(bt_stream_ring *ring, const uint32_t *order, size_t first,
                                       size_t m)
{
    stream_slot *slot = &ring->slots[ring->next];
    ring->next = (ring->next + 1) % ring->count;
    /* The slot's previous upload must have read the staging memory before we rewrite it; with
     * several slots that upload finished long ago unless transfers are the bottleneck. */
    if (slot->uploaded)
        BT_CL_TRY(clWaitForEvents(1, &slot->uploaded), "waiting for a streamed upload");
    pack(ring, slot, order, first, m);
    BT_TRY(upload(ring, slot, m));
    release_event(&slot->consumed);
    return bt_network_enqueue_gather_range(ring->net, slot->pixels, slot->labels, 0, m,
                                           ring->features, slot->uploaded, &slot->consumed);
}
