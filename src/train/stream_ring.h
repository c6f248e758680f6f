/* Internal: streaming mini-batches from host memory through a ring of device buffers.
 *
 * For each batch the host packs the shuffled examples (uint8 pixels and labels, the compact form)
 * into a slot's pinned staging memory and enqueues its upload on the device's transfer queue; the
 * compute queue's gather kernel waits for that upload's event and scales the batch into the
 * network's input. An upload into a slot waits for the gather that last read it, and the host
 * repacks a slot only after its previous upload has read the staging memory. With R slots, R
 * batches can be in transfer or waiting while the device computes. */
#ifndef BT_STREAM_RING_H
#define BT_STREAM_RING_H

#include "batchtune.h"

typedef struct bt_stream_ring bt_stream_ring;

bt_status bt_stream_ring_create(bt_network *net, const bt_dataset *data, size_t batch_size,
                                size_t slots, bt_stream_ring **out);
void bt_stream_ring_destroy(bt_stream_ring *ring);

/* Upload examples order[first .. first + m) and gather them into the network's input. */
bt_status bt_stream_ring_enqueue_batch(bt_stream_ring *ring, const uint32_t *order, size_t first,
                                       size_t m);

#endif
