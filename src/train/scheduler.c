/* The scheduler: feeds a network mini-batches, one seeded permutation per epoch. Resident data:
 * the permutation is uploaded once per epoch and every batch is gathered on the device. Streamed
 * data: every batch goes through the ring of stream_ring.c. Either way steps are enqueued ahead,
 * and the host waits only to bound the number of steps in flight. */
#include <stdlib.h>
#include <string.h>

#include "data/device_data.h"
#include "common/error.h"
#include "train/network_impl.h"
#include "common/rng.h"
#include "train/stream_ring.h"

/* The host waits on a marker every this many steps, for the one before it: at most two groups,
 * BT_SCHEDULER_MAX_STEPS_IN_FLIGHT steps, are queued at any time. */
#define MARKER_INTERVAL (BT_SCHEDULER_MAX_STEPS_IN_FLIGHT / 2)

struct bt_scheduler {
    bt_network *net;             /* not owned */
    const bt_device_data *data;  /* resident mode: the data (owned when owned_data is set) */
    bt_device_data *owned_data;  /* resident data uploaded by bt_scheduler_create_from_host */
    bt_stream_ring *ring;        /* streaming mode; owned */
    bt_data_mode mode;           /* BT_DATA_RESIDENT or BT_DATA_STREAM */
    size_t count;                /* training examples */
    bt_scheduler_opts opts;
    uint32_t *order;             /* host copy of the current epoch's permutation */
    bt_buffer *order_device;
    cl_event order_written;      /* the upload of `order`: wait before rewriting it */
    cl_event marker;             /* queue-depth marker of the previous group of steps */
    size_t steps_since_marker;
    size_t epoch;                /* epochs completed */
    size_t position;             /* next example of the current epoch; count: start a new one */
    uint64_t examples_seen;
};

bt_scheduler_opts bt_scheduler_opts_default(void)
{
    bt_scheduler_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.batch_size = 10;
    opts.sgd.eta = 3.0f;
    opts.seed = 1;
    opts.mode = BT_DATA_AUTO;
    opts.ring_size = 3;
    return opts;
}

const char *bt_data_mode_str(bt_data_mode mode)
{
    switch (mode) {
    case BT_DATA_AUTO:
        return "auto";
    case BT_DATA_RESIDENT:
        return "resident";
    case BT_DATA_STREAM:
        return "stream";
    }
    return "unknown";
}

static bt_status check_opts(const bt_network *net, size_t count, const bt_scheduler_opts *opts,
                            bt_sgd *sgd)
{
    if (count == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "the training data is empty");
    if (opts->batch_size == 0 || opts->batch_size > count)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "batch size %zu is invalid: it must be 1..%zu, "
                                                "the number of training examples",
                       opts->batch_size, count);
    if (opts->batch_size > net->opts.max_batch)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "batch size %zu exceeds the network's max_batch "
                                                "%zu: create the network with a larger max_batch",
                       opts->batch_size, net->opts.max_batch);
    *sgd = opts->sgd;
    if (sgd->n_train == 0)
        sgd->n_train = count;
    if (!bt_sgd_rates_valid(sgd->eta, sgd->lambda))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "learning rate %g and L2 strength %g: eta must "
                                                "be finite and above 0, lambda finite and >= 0",
                       (double)sgd->eta, (double)sgd->lambda);
    return BT_OK;
}

/* The part shared by both constructors: state and the host permutation. */
static bt_status scheduler_new(bt_network *net, size_t count, const bt_scheduler_opts *opts,
                               bt_scheduler **out)
{
    bt_sgd sgd;
    BT_TRY(check_opts(net, count, opts, &sgd));
    bt_scheduler *s = calloc(1, sizeof *s);
    if (!s)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->net = net;
    s->count = count;
    s->opts = *opts;
    s->opts.sgd = sgd;
    s->position = count; /* the first step starts epoch 0 */
    s->order = malloc(count * sizeof *s->order);
    if (!s->order) {
        free(s);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %zu indices", count);
    }
    *out = s;
    return BT_OK;
}

static bt_status make_resident(bt_scheduler *s, const bt_device_data *data)
{
    s->mode = BT_DATA_RESIDENT;
    s->data = data;
    return bt_buffer_create(s->net->device, s->count * sizeof(uint32_t), &s->order_device);
}

bt_status bt_scheduler_create(bt_network *net, const bt_device_data *data,
                              const bt_scheduler_opts *opts, bt_scheduler **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_scheduler_create: out must not be NULL");
    *out = NULL;
    if (!net || !data || !opts)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_scheduler_create: NULL argument");
    BT_TRY(bt_check_shape_fits(net, data->features, data->classes));
    bt_scheduler *s = NULL;
    BT_TRY(scheduler_new(net, data->count, opts, &s));
    bt_status status = make_resident(s, data);
    if (status != BT_OK) {
        bt_scheduler_destroy(s);
        return status;
    }
    *out = s;
    return BT_OK;
}

/* Auto mode: resident when the compact data takes at most BT_RESIDENT_FRACTION of the memory
 * limit and fits the device's largest allocation. */
static bool fits_resident(const bt_device *device, const bt_dataset *data, uint64_t limit)
{
    const bt_device_info *info = bt_device_get_info(device);
    uint64_t pixels = (uint64_t)bt_dataset_count(data) * bt_dataset_features(data);
    uint64_t bytes = pixels + bt_dataset_count(data);
    if (limit == 0)
        limit = info->global_mem_bytes;
    return (double)bytes <= BT_RESIDENT_FRACTION * (double)limit && pixels <= info->max_alloc_bytes;
}

bt_status bt_scheduler_create_from_host(bt_network *net, const bt_dataset *train,
                                        const bt_scheduler_opts *opts, bt_scheduler **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_scheduler_create_from_host: out must not be "
                                                "NULL");
    *out = NULL;
    if (!net || !train || !opts)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_scheduler_create_from_host: NULL argument");
    if ((unsigned)opts->mode > BT_DATA_STREAM)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown data mode %d", (int)opts->mode);
    BT_TRY(bt_check_shape_fits(net, bt_dataset_features(train), bt_dataset_classes(train)));
    bt_scheduler *s = NULL;
    BT_TRY(scheduler_new(net, bt_dataset_count(train), opts, &s));

    bool resident = opts->mode == BT_DATA_RESIDENT ||
                    (opts->mode == BT_DATA_AUTO &&
                     fits_resident(net->device, train, opts->memory_limit));
    bt_status status;
    if (resident) {
        status = bt_device_data_create(net->device, train, &s->owned_data);
        if (status == BT_OK)
            status = make_resident(s, s->owned_data);
    } else {
        s->mode = BT_DATA_STREAM;
        status = bt_stream_ring_create(net, train, opts->batch_size, opts->ring_size, &s->ring);
    }
    if (status != BT_OK) {
        bt_scheduler_destroy(s);
        return status;
    }
    *out = s;
    return BT_OK;
}

bt_data_mode bt_scheduler_data_mode(const bt_scheduler *s) { return s ? s->mode : BT_DATA_AUTO; }

void bt_scheduler_destroy(bt_scheduler *s)
{
    if (!s)
        return;
    bt_device_finish(s->net->device);
    if (s->order_written)
        clReleaseEvent(s->order_written);
    if (s->marker)
        clReleaseEvent(s->marker);
    bt_stream_ring_destroy(s->ring);
    bt_device_data_destroy(s->owned_data);
    bt_buffer_destroy(s->order_device);
    free(s->order);
    free(s);
}

size_t bt_scheduler_steps_per_epoch(const bt_scheduler *s)
{
    if (!s)
        return 0;
    size_t m = s->opts.batch_size, count = s->count;
    return s->opts.drop_last ? count / m : (count + m - 1) / m;
}

size_t bt_scheduler_epoch(const bt_scheduler *s) { return s ? s->epoch : 0; }
uint64_t bt_scheduler_examples_seen(const bt_scheduler *s) { return s ? s->examples_seen : 0; }

/* Shuffle for the epoch about to start and upload the order without waiting for it. */
static bt_status start_epoch(bt_scheduler *s)
{
    if (s->order_written) {
        /* The previous upload must have read the host array before it is rewritten. */
        BT_CL_TRY(clWaitForEvents(1, &s->order_written), "waiting for the order upload");
        clReleaseEvent(s->order_written);
        s->order_written = NULL;
    }
    bt_rng rng;
    /* Stream 1 + epoch: a function of (seed, epoch) alone, whatever ran before. */
    bt_rng_init(&rng, s->opts.seed, 1 + (uint64_t)s->epoch);
    bt_rng_permutation(&rng, s->order, s->count);
    s->position = 0;
    if (s->mode == BT_DATA_STREAM)
        return BT_OK; /* the host packs batches straight from s->order */
    BT_CL_TRY(clEnqueueWriteBuffer(bt_device_cl_queue(s->net->device),
                                   bt_buffer_cl_mem(s->order_device), CL_FALSE, 0,
                                   s->count * sizeof(uint32_t), s->order, 0, NULL,
                                   &s->order_written),
              "uploading the epoch's order");
    return BT_OK;
}

static bt_status enqueue_gather(bt_scheduler *s, size_t m)
{
    bt_network *net = s->net;
    cl_kernel k = net->k.gather_indexed;
    cl_mem pixels = bt_buffer_cl_mem(s->data->pixels), labels = bt_buffer_cl_mem(s->data->labels);
    cl_mem order = bt_buffer_cl_mem(s->order_device);
    cl_mem x = bt_buffer_cl_mem(net->act[0]), y = bt_buffer_cl_mem(net->labels);
    cl_uint first = (cl_uint)s->position, rows = (cl_uint)m;
    cl_uint features = (cl_uint)s->data->features;
    BT_SET_ARG(k, 0, pixels);
    BT_SET_ARG(k, 1, labels);
    BT_SET_ARG(k, 2, order);
    BT_SET_ARG(k, 3, first);
    BT_SET_ARG(k, 4, rows);
    BT_SET_ARG(k, 5, features);
    BT_SET_ARG(k, 6, x);
    BT_SET_ARG(k, 7, y);
    return bt_network_enqueue(net, k, bt_gather_work_items(m, s->data->features), BT_PROF_DATA,
                              "gather_indexed");
}

/* Keep at most two groups of MARKER_INTERVAL steps queued: wait for the previous marker. */
static bt_status bound_queue_depth(bt_scheduler *s)
{
    if (++s->steps_since_marker < MARKER_INTERVAL)
        return BT_OK;
    s->steps_since_marker = 0;
    cl_command_queue queue = bt_device_cl_queue(s->net->device);
    cl_event next = NULL;
    BT_CL_TRY(clEnqueueMarkerWithWaitList(queue, 0, NULL, &next), "clEnqueueMarkerWithWaitList");
    /* Without a flush some drivers would not start the queued work before we block. */
    cl_int err = clFlush(queue);
    if (err == CL_SUCCESS && s->marker)
        err = clWaitForEvents(1, &s->marker);
    if (s->marker)
        clReleaseEvent(s->marker);
    s->marker = next;
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "waiting for queued training steps");
    return BT_OK;
}

bt_status bt_scheduler_run(bt_scheduler *s, size_t steps)
{
    if (!s)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_scheduler_run: scheduler is NULL");
    size_t m = s->opts.batch_size, count = s->count;
    for (size_t step = 0; step < steps; ++step) {
        bool epoch_over = s->position >= count || (s->opts.drop_last && count - s->position < m);
        if (epoch_over)
            BT_TRY(start_epoch(s));
        size_t rows = count - s->position < m ? count - s->position : m;
        if (s->mode == BT_DATA_STREAM)
            BT_TRY(bt_stream_ring_enqueue_batch(s->ring, s->order, s->position, rows));
        else
            BT_TRY(enqueue_gather(s, rows));
        /* A last partial batch updates with its own size in eta/m. */
        BT_TRY(bt_network_enqueue_step(s->net, rows, &s->opts.sgd));
        s->position += rows;
        s->examples_seen += rows;
        if (s->position >= count || (s->opts.drop_last && count - s->position < m))
            s->epoch++;
        BT_TRY(bound_queue_depth(s));
    }
    return bt_device_finish(s->net->device);
}
