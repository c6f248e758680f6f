/* Evaluation on device-resident data, in chunks of BT_EVAL_CHUNK examples: gather, forward pass,
 * per-example cost and correctness, and a reduction to one pair per chunk, all on the device. */
#include <stdlib.h>

#include "device_data.h"
#include "error.h"
#include "network_impl.h"

/* Work-group size of reduce_pairs (REDUCE_GROUP in cl/reduce.cl). */
#define REDUCE_GROUP 256

static bt_status enqueue_gather_range(bt_network *net, const bt_device_data *data, size_t first,
                                      size_t m)
{
    cl_kernel k = net->k.gather_range;
    cl_mem pixels = bt_buffer_cl_mem(data->pixels), labels = bt_buffer_cl_mem(data->labels);
    cl_mem x = bt_buffer_cl_mem(net->act[0]), y = bt_buffer_cl_mem(net->labels);
    cl_uint start = (cl_uint)first, rows = (cl_uint)m, features = (cl_uint)data->features;
    BT_SET_ARG(k, 0, pixels);
    BT_SET_ARG(k, 1, labels);
    BT_SET_ARG(k, 2, start);
    BT_SET_ARG(k, 3, rows);
    BT_SET_ARG(k, 4, features);
    BT_SET_ARG(k, 5, x);
    BT_SET_ARG(k, 6, y);
    return bt_network_enqueue(net, k, bt_gather_work_items(m, data->features), BT_PROF_DATA, "gather_range");
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
    size_t global = REDUCE_GROUP, local = REDUCE_GROUP;
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

bt_status bt_network_evaluate(bt_network *net, const bt_device_data *data, bt_eval *out)
{
    if (!net || !data || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_evaluate: NULL argument");
    BT_TRY(bt_check_shape_fits(net, data->features, data->classes));
    size_t chunk = net->rows, chunks = (data->count + chunk - 1) / chunk;
    bt_buffer *partials = NULL;
    BT_TRY(bt_buffer_create(net->device, 2 * chunks * sizeof(float), &partials));
    float *sums = malloc(2 * chunks * sizeof *sums);
    bt_status status = sums ? BT_OK : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t c = 0; c < chunks && status == BT_OK; ++c) {
        size_t first = c * chunk;
        size_t m = data->count - first < chunk ? data->count - first : chunk;
        status = enqueue_gather_range(net, data, first, m);
        if (status == BT_OK)
            status = bt_network_enqueue_forward(net, m, net->k.output_evaluate);
        if (status == BT_OK)
            status = enqueue_reduce(net, m, partials, c);
    }
    if (status == BT_OK)
        status = bt_buffer_read(partials, 0, sums, 2 * chunks * sizeof(float));
    if (status == BT_OK) {
        /* Per-chunk float sums are exact for the counts; the costs add up in double here. */
        double cost = 0.0, correct = 0.0;
        for (size_t c = 0; c < chunks; ++c) {
            cost += sums[2 * c];
            correct += sums[2 * c + 1];
        }
        out->count = data->count;
        out->correct = (size_t)(correct + 0.5);
        out->accuracy = data->count ? (double)out->correct / (double)data->count : 0.0;
        out->cost = data->count ? cost / (double)data->count : 0.0;
    }
    free(sums);
    bt_buffer_destroy(partials);
    return status;
}
