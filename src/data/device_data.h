/* Internal: a dataset resident on a device, read by the gather kernels. */
#ifndef BT_DEVICE_DATA_H
#define BT_DEVICE_DATA_H

#include "batchtune.h"

struct bt_device_data {
    bt_device *device; /* not owned */
    bt_buffer *pixels; /* count x features uint8 */
    bt_buffer *labels; /* count uint8 */
    size_t count, features;
    unsigned classes;
};

#endif
