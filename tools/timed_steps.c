#include "timed_steps.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/rng.h"

bt_status bt_synthetic_data_create(bt_device *device, const bt_network_opts *net,
                                   const size_t *batch_sizes, size_t n_batch_sizes,
                                   bt_dataset **dataset, bt_device_data **data,
                                   size_t *examples)
{
    *dataset = NULL;
    *data = NULL;
    size_t count = BT_TIMED_STEPS_MIN_EXAMPLES;
    for (size_t i = 0; i < n_batch_sizes; ++i)
        count = batch_sizes[i] > count ? batch_sizes[i] : count;
    *examples = count;
    size_t features = net->sizes[0], outputs = net->sizes[net->n_sizes - 1];
    unsigned classes = outputs < 256 ? (unsigned)outputs : 256u;
    if (features == 0 || count > SIZE_MAX / features)
        return BT_ERR_OUT_OF_HOST_MEMORY;
    uint8_t *pixels = malloc(count * features), *labels = malloc(count);
    if (!pixels || !labels) {
        free(pixels);
        free(labels);
        return BT_ERR_OUT_OF_HOST_MEMORY;
    }
    /* Fixed values; a step's cost does not depend on them. */
    uint64_t state = 0;
    for (size_t i = 0; i < count * features; ++i)
        pixels[i] = (uint8_t)(bt_splitmix64(&state) >> 56);
    for (size_t i = 0; i < count; ++i)
        labels[i] = (uint8_t)((bt_splitmix64(&state) >> 32) % classes);
    /* The dataset keeps its own copy. */
    bt_status status =
        bt_dataset_create_from_memory(pixels, labels, count, features, classes, dataset);
    free(labels);
    free(pixels);
    if (status == BT_OK)
        status = bt_device_data_create(device, *dataset, data);
    if (status != BT_OK) {
        bt_dataset_destroy(*dataset);
        *dataset = NULL;
    }
    return status;
}

void bt_timed_step_opts(size_t m, bt_network_opts *net, bt_scheduler_opts *sched)
{
    net->max_batch = m;
    net->seed = 1;
    *sched = bt_scheduler_opts_default();
    sched->batch_size = m;
    sched->sgd.eta = 0.1f;
    sched->seed = 1;
    sched->drop_last = true;
}
