/* Evaluation on device-resident data, in chunks of BT_EVAL_CHUNK examples: gather, forward pass,
 * per-example cost and correctness, and a reduction to one pair per chunk, all on the device. */
#include <stdlib.h>

#include "data/device_data.h"
#include "common/error.h"
#include "train/network_impl.h"


bt_status bt_network_enqueue_gather_range(bt_network *net, const bt_buffer *pixels,
                                          const bt_buffer *labels, size_t first, size_t m,
                                          size_t features, cl_event wait, cl_event *done)
{
    cl_kernel k = net->k.gather_range;
    cl_mem pixel_mem = bt_buffer_cl_mem(pixels), label_mem = bt_buffer_cl_mem(labels);
    cl_mem x = bt_buffer_cl_mem(net->act[0]), y = bt_buffer_cl_mem(net->labels);
    cl_uint start = (cl_uint)first, rows = (cl_uint)m, width = (cl_uint)features;
    BT_SET_ARG(k, 0, pixel_mem);
    BT_SET_ARG(k, 1, label_mem);
    BT_SET_ARG(k, 2, start);
    BT_SET_ARG(k, 3, rows);
    BT_SET_ARG(k, 4, width);
    BT_SET_ARG(k, 5, x);
    BT_SET_ARG(k, 6, y);
    return bt_network_enqueue_after(net, k, bt_gather_work_items(m, features), BT_PROF_DATA,
                                    "gather_range", wait, done);
}

static bt_status enqueue_gather_range(bt_network *net, const bt_device_data *data, size_t first,
                                      size_t m)
{
    return bt_network_enqueue_gather_range(net, data->pixels, data->labels, first, m,
                                           data->features, NULL, NULL);
}

static bt_status enqueue_reduce(bt_network *net, size_t m, bt_buffer *partials, size_t slot)
{
    cl_kernel k = net->k.reduce_pairs;
    cl_mem stats = bt_buffer_cl_mem(net->stats), out = bt_buffer_cl_mem(partials);
    cl_uint rows = (cl_uint)m, index = (cl_uint)slot;
    BT_SET_ARG(k, 0, stats);
    BT_SET_ARG(k, 1, rows);
    BT_SET_ARG(k, 2, out);
    BT_SET_ARG(k, 3, index);
    size_t global = BT_REDUCE_GROUP, local = BT_REDUCE_GROUP;
    BT_CL_TRY(clEnqueueNDRangeKernel(bt_device_cl_queue(net->device), k, 1, NULL, &global, &local,
                                     0, NULL, bt_network_profile_slot(net, BT_PROF_KERNEL)),
              "enqueueing kernel reduce_pairs");
    return BT_OK;
}

bt_status bt_check_shape_fits(const bt_network *net, size_t features, unsigned classes)
{
    size_t inputs = net->opts.sizes[0], outputs = net->opts.sizes[net->layers];
    if (features != inputs)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "the data has %zu features per example but the "
                                                "network's input layer has %zu units",
                       features, inputs);
    if (classes > outputs)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "the data has %u classes but the network's "
                                                "output layer has only %zu units",
                       classes, outputs);
    return BT_OK;
}

/* Where the chunks come from: device-resident data, or a host dataset uploaded chunk by chunk
 * into `staging` (the pixels) and `staging_labels`. */
typedef struct eval_source {
    const bt_device_data *resident;
    const bt_dataset *host;
    bt_device_data staging; /* host mode: one chunk's buffers, in device_data form */
} eval_source;

static bt_status enqueue_chunk(bt_network *net, eval_source *src, size_t first, size_t m)
{
    if (src->resident)
        return enqueue_gather_range(net, src->resident, first, m);
    size_t features = src->staging.features;
    BT_TRY(bt_buffer_write(src->staging.pixels, 0, bt_dataset_pixels(src->host) + first * features,
                           m * features));
    BT_TRY(bt_buffer_write(src->staging.labels, 0, bt_dataset_labels(src->host) + first, m));
    return enqueue_gather_range(net, &src->staging, 0, m);
}

static bt_status evaluate_chunks(bt_network *net, eval_source *src, size_t count, bt_eval *out)
{
    size_t chunk = net->rows, chunks = (count + chunk - 1) / chunk;
    bt_buffer *partials = NULL;
    BT_TRY(bt_buffer_create(net->device, 2 * (chunks ? chunks : 1) * sizeof(float), &partials));
    float *sums = malloc(2 * (chunks ? chunks : 1) * sizeof *sums);
    bt_status status = sums ? BT_OK : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t c = 0; c < chunks && status == BT_OK; ++c) {
        size_t first = c * chunk;
        size_t m = count - first < chunk ? count - first : chunk;
        status = enqueue_chunk(net, src, first, m);
        if (status == BT_OK)
            status = bt_network_enqueue_forward(net, m, net->k.output_evaluate);
        if (status == BT_OK)
            status = enqueue_reduce(net, m, partials, c);
    }
    if (status == BT_OK && chunks)
        status = bt_buffer_read(partials, 0, sums, 2 * chunks * sizeof(float));
    if (status == BT_OK) {
        /* Per-chunk float sums are exact for the counts; the costs add up in double here. */
        double cost = 0.0, correct = 0.0;
        for (size_t c = 0; c < chunks; ++c) {
            cost += sums[2 * c];
            correct += sums[2 * c + 1];
        }
        out->count = count;
        out->correct = (size_t)(correct + 0.5);
        out->accuracy = count ? (double)out->correct / (double)count : 0.0;
        out->cost = count ? cost / (double)count : 0.0;
    }
    free(sums);
    bt_buffer_destroy(partials);
    return status;
}

bt_status bt_network_evaluate(bt_network *net, const bt_device_data *data, bt_eval *out)
{
    if (!net || !data || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_evaluate: NULL argument");
    BT_TRY(bt_check_shape_fits(net, data->features, data->classes));
    eval_source src = {.resident = data};
    return evaluate_chunks(net, &src, data->count, out);
}

bt_status bt_network_evaluate_dataset(bt_network *net, const bt_dataset *data, bt_eval *out)
{
    if (!net || !data || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_evaluate_dataset: NULL argument");
    size_t count = bt_dataset_count(data), features = bt_dataset_features(data);
    BT_TRY(bt_check_shape_fits(net, features, bt_dataset_classes(data)));
    size_t rows = count < net->rows ? count : net->rows;
    eval_source src = {.host = data};
    src.staging.features = features;
    bt_status status = bt_buffer_create(net->device, (rows ? rows : 1) * features,
                                        &src.staging.pixels);
    if (status == BT_OK)
        status = bt_buffer_create(net->device, rows ? rows : 1, &src.staging.labels);
    if (status == BT_OK)
        status = evaluate_chunks(net, &src, count, out);
    bt_buffer_destroy(src.staging.pixels);
    bt_buffer_destroy(src.staging.labels);
    return status;
}
