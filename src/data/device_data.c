/* Datasets uploaded once to the device in their compact uint8 form. */
#include <stdlib.h>

#include "data/device_data.h"
#include "common/error.h"

bt_status bt_device_data_create(bt_device *device, const bt_dataset *dataset, bt_device_data **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_data_create: out must not be NULL");
    *out = NULL;
    if (!device || !dataset)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_data_create: NULL argument");
    size_t count = bt_dataset_count(dataset), features = bt_dataset_features(dataset);
    if (count > UINT32_MAX || features > UINT32_MAX / 2)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "dataset of %zu examples x %zu features is "
                                                "too large for 32-bit indices",
                       count, features);
    bt_device_data *data = calloc(1, sizeof *data);
    if (!data)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    data->device = device;
    data->count = count;
    data->features = features;
    data->classes = bt_dataset_classes(dataset);
    bt_status status = bt_buffer_create(device, count * features, &data->pixels);
    if (status == BT_OK)
        status = bt_buffer_create(device, count, &data->labels);
    if (status == BT_OK)
        status = bt_buffer_write(data->pixels, 0, bt_dataset_pixels(dataset), count * features);
    if (status == BT_OK)
        status = bt_buffer_write(data->labels, 0, bt_dataset_labels(dataset), count);
    if (status != BT_OK) {
        bt_device_data_destroy(data);
        return status;
    }
    *out = data;
    return BT_OK;
}

void bt_device_data_destroy(bt_device_data *data)
{
    if (!data)
        return;
    bt_buffer_destroy(data->pixels);
    bt_buffer_destroy(data->labels);
    free(data);
}

size_t bt_device_data_count(const bt_device_data *data) { return data ? data->count : 0; }
