/* Fully-connected networks on the device: parameters, and the forward and backward passes of a
 * whole mini-batch as CLBlast GEMMs plus our element-wise kernels (cl/activation.cl,
 * cl/output.cl, cl/update.cl). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "device/device_impl.h"
#include "common/error.h"
#include "train/network_impl.h"
#include "common/rng.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define BT_NAME_(name, text) text,
static const char *const activation_names[] = {BT_ACTIVATION_LIST(BT_NAME_)};
static const char *const cost_names[] = {BT_COST_LIST(BT_NAME_)};
static const char *const init_names[] = {BT_INIT_LIST(BT_NAME_)};
#undef BT_NAME_

static bt_status parse_name(const char *text, const char *const *names, size_t count,
                            const char *what, int *out)
{
    for (size_t i = 0; text && i < count; ++i) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return BT_OK;
        }
    }
    bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown %s '%s'; expected one of:", what,
            text ? text : "(null)");
    for (size_t i = 0; i < count; ++i) {
        bt_fail_append(" ");
        bt_fail_append(names[i]);
    }
    return BT_ERR_INVALID_ARGUMENT;
}

/* bt_<name>_str and bt_<name>_parse of an enum whose names come from its X-macro list. */
#define BT_ENUM_NAME_FUNCTIONS_(type, names, what)                                              \
    const char *type##_str(type value)                                                          \
    {                                                                                           \
        return (unsigned)value < COUNT_OF(names) ? names[value] : "unknown";                    \
    }                                                                                           \
    bt_status type##_parse(const char *text, type *out)                                         \
    {                                                                                           \
        int v;                                                                                  \
        BT_TRY(parse_name(text, names, COUNT_OF(names), what, &v));                             \
        *out = (type)v;                                                                         \
        return BT_OK;                                                                           \
    }
BT_ENUM_NAME_FUNCTIONS_(bt_activation, activation_names, "activation")
BT_ENUM_NAME_FUNCTIONS_(bt_cost, cost_names, "cost")
BT_ENUM_NAME_FUNCTIONS_(bt_init, init_names, "initialisation")
#undef BT_ENUM_NAME_FUNCTIONS_

bt_network_opts bt_network_opts_default(void)
{
    bt_network_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.sizes[0] = 784;
    opts.sizes[1] = 30;
    opts.sizes[2] = 10;
    opts.n_sizes = 3;
    opts.hidden = BT_ACT_SIGMOID;
    opts.output = BT_ACT_SIGMOID;
    opts.cost = BT_COST_QUADRATIC;
    opts.init = BT_INIT_NORMAL;
    opts.seed = 1;
    opts.max_batch = 1024;
    return opts;
}

/* Largest layer width we accept: far beyond any fully-connected layer that fits a device. */
#define MAX_LAYER_SIZE (1u << 24)

bt_status bt_network_parse_sizes(const char *text, bt_network_opts *opts)
{
    if (!text || !opts)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes: no text given");
    size_t n = 0;
    const char *p = text;
    while (*p) {
        if (n == BT_MAX_LAYERS + 1)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes '%s': more than %d layers", text,
                           BT_MAX_LAYERS + 1);
        size_t value = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            value = value * 10 + (size_t)(*p - '0');
            if (value > MAX_LAYER_SIZE)
                return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes '%s': a layer is larger "
                                                        "than %u units",
                               text, MAX_LAYER_SIZE);
            ++p;
        }
        if (p == start || value == 0 || (*p && *p != ','))
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes '%s': expected positive "
                                                    "integers separated by commas, e.g. 784,30,10",
                           text);
        opts->sizes[n++] = value;
        if (*p == ',' && !*++p)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes '%s': trailing comma", text);
    }
    if (n < 2)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer sizes '%s': need at least an input and "
                                                "an output layer, e.g. 784,10",
                       text);
    opts->n_sizes = n;
    return BT_OK;
}

bt_status bt_network_opts_validate(const bt_network_opts *o)
{
    if (!o)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "network options are NULL");
    if (o->n_sizes < 2 || o->n_sizes > BT_MAX_LAYERS + 1)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "a network needs 2 to %d layer sizes, not %zu",
                       BT_MAX_LAYERS + 1, o->n_sizes);
    for (size_t i = 0; i < o->n_sizes; ++i)
        if (o->sizes[i] == 0 || o->sizes[i] > MAX_LAYER_SIZE)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "layer %zu has %zu units: must be 1..%u", i,
                           o->sizes[i], MAX_LAYER_SIZE);
    if ((unsigned)o->hidden > BT_ACT_RELU)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "hidden activation '%s' is not allowed: use "
                                                "sigmoid, tanh or relu",
                       bt_activation_str(o->hidden));
    if (o->output != BT_ACT_SIGMOID && o->output != BT_ACT_SOFTMAX)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "output activation '%s' is not supported: use "
                                                "sigmoid or softmax",
                       bt_activation_str(o->output));
    bool sigmoid_cost = o->cost == BT_COST_QUADRATIC || o->cost == BT_COST_CROSS_ENTROPY;
    if ((o->output == BT_ACT_SIGMOID) != sigmoid_cost || (unsigned)o->cost > BT_COST_LOG_LIKELIHOOD)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "cost '%s' does not go with a %s output: use quadratic or cross-entropy "
                       "with sigmoid, log-likelihood with softmax",
                       bt_cost_str(o->cost), bt_activation_str(o->output));
    if ((unsigned)o->init > BT_INIT_SCALED)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown initialisation %d", (int)o->init);
    if (o->max_batch == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "max_batch must be at least 1");
    if (strcmp(bt_engine_str(o->engine), "unknown") == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown engine %d", (int)o->engine);
    return BT_OK;
}

static unsigned output_kind(const bt_network_opts *o)
{
    if (o->output == BT_ACT_SOFTMAX)
        return BT_OUT_SOFTMAX_LOG_LIKELIHOOD;
    return o->cost == BT_COST_CROSS_ENTROPY ? BT_OUT_SIGMOID_CROSS_ENTROPY
                                            : BT_OUT_SIGMOID_QUADRATIC;
}

/* ---- profiling ------------------------------------------------------------------------------ */

cl_event *bt_network_profile_slot(bt_network *net, bt_profile_kind kind)
{
    if (!net->profiling)
        return NULL;
    if (net->event_count == net->event_capacity) {
        size_t capacity = net->event_capacity ? 2 * net->event_capacity : 256;
        bt_profile_event *grown = realloc(net->events, capacity * sizeof *grown);
        if (!grown)
            return NULL; /* profiling is best effort; the command still runs */
        net->events = grown;
        net->event_capacity = capacity;
    }
    bt_profile_event *e = &net->events[net->event_count++];
    e->event = NULL;
    e->kind = kind;
    return &e->event;
}

static void release_events(bt_network *net)
{
    for (size_t i = 0; i < net->event_count; ++i)
        if (net->events[i].event)
            clReleaseEvent(net->events[i].event);
    net->event_count = 0;
}

bt_status bt_network_set_profiling(bt_network *net, bool on)
{
    if (!net)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_set_profiling: network is NULL");
    if (!on)
        release_events(net);
    net->profiling = on;
    return BT_OK;
}

typedef struct interval {
    cl_ulong start, end;
} interval;

static int by_start(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* Total overlap of each transfer with the (sorted, non-overlapping: one in-order queue) compute
 * intervals. */
static double hidden_seconds(const interval *compute, size_t n_compute, const interval *transfer,
                             size_t n_transfer)
{
    cl_ulong hidden = 0;
    for (size_t t = 0; t < n_transfer; ++t) {
        /* First compute interval that may end after this transfer starts. */
        size_t lo = 0, hi = n_compute;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (compute[mid].end <= transfer[t].start)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t c = lo; c < n_compute && compute[c].start < transfer[t].end; ++c) {
            cl_ulong from = compute[c].start > transfer[t].start ? compute[c].start
                                                                 : transfer[t].start;
            cl_ulong to = compute[c].end < transfer[t].end ? compute[c].end : transfer[t].end;
            if (to > from)
                hidden += to - from;
        }
    }
    return (double)hidden * 1e-9;
}

bt_status bt_network_take_profile(bt_network *net, bt_profile *out)
{
    if (!net || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_take_profile: NULL argument");
    memset(out, 0, sizeof *out);
    BT_TRY(bt_device_finish(net->device));
    BT_CL_TRY(clFinish(net->device->transfer_queue), "clFinish (transfer queue)");
    interval *compute = malloc((net->event_count + 1) * sizeof *compute);
    interval *transfer = malloc((net->event_count + 1) * sizeof *transfer);
    size_t n_compute = 0, n_transfer = 0;
    bt_status status = compute && transfer
                           ? BT_OK
                           : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (size_t i = 0; i < net->event_count && status == BT_OK; ++i) {
        cl_event ev = net->events[i].event;
        if (!ev)
            continue;
        cl_ulong start = 0, end = 0;
        cl_int err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof start, &start,
                                             NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
        if (err != CL_SUCCESS) {
            status = bt_fail_cl(err, "clGetEventProfilingInfo");
            break;
        }
        if (end < start)
            end = start;
        double seconds = (double)(end - start) * 1e-9;
        interval span = {start, end};
        switch (net->events[i].kind) {
        case BT_PROF_GEMM:
            out->gemm_seconds += seconds;
            out->gemm_calls++;
            compute[n_compute++] = span;
            break;
        case BT_PROF_KERNEL:
            out->kernel_seconds += seconds;
            out->kernel_calls++;
            compute[n_compute++] = span;
            break;
        case BT_PROF_DATA:
            out->data_seconds += seconds;
            out->data_calls++;
            compute[n_compute++] = span;
            break;
        case BT_PROF_TRANSFER:
            out->transfer_seconds += seconds;
            out->transfer_calls++;
            transfer[n_transfer++] = span;
            break;
        }
    }
    if (status == BT_OK && n_transfer) {
        qsort(compute, n_compute, sizeof *compute, by_start);
        out->transfer_hidden_seconds = hidden_seconds(compute, n_compute, transfer, n_transfer);
    }
    free(compute);
    free(transfer);
    release_events(net);
    return status;
}

/* ---- enqueueing ----------------------------------------------------------------------------- */

void bt_network_profile_add(bt_network *net, bt_profile_kind kind, cl_event event)
{
    cl_event *slot = event ? bt_network_profile_slot(net, kind) : NULL;
    if (slot && clRetainEvent(event) == CL_SUCCESS)
        *slot = event;
}

bt_status bt_network_enqueue(bt_network *net, cl_kernel kernel, size_t count,
                             bt_profile_kind kind, const char *name)
{
    return bt_network_enqueue_after(net, kernel, count, kind, name, NULL, NULL);
}

static bt_status enqueue_sized(bt_network *net, cl_kernel kernel, size_t count, size_t local,
                               bt_profile_kind kind, const char *name, cl_event wait,
                               cl_event *done);

bt_status bt_network_enqueue_after(bt_network *net, cl_kernel kernel, size_t count,
                                   bt_profile_kind kind, const char *name, cl_event wait,
                                   cl_event *done)
{
    return enqueue_sized(net, kernel, count, net->local_size, kind, name, wait, done);
}

/* The fused kernels' work-groups are sized per device (bt_dense_tiles). One size per kernel:
 * PoCL compiles a kernel anew for every work-group size it meets. */
static bt_status enqueue_dense(bt_network *net, cl_kernel kernel, size_t count, const char *name)
{
    return enqueue_sized(net, kernel, count, net->tiles.local_size, BT_PROF_GEMM, name, NULL,
                         NULL);
}

static bt_status enqueue_sized(bt_network *net, cl_kernel kernel, size_t count, size_t local,
                               bt_profile_kind kind, const char *name, cl_event wait,
                               cl_event *done)
{
    size_t global = (count + local - 1) / local * local;
    /* An event costs host time: ask for one only when it is used. */
    cl_event event = NULL;
    cl_event *event_out = (done || net->profiling) ? &event : NULL;
    cl_int err = clEnqueueNDRangeKernel(bt_device_cl_queue(net->device), kernel, 1, NULL, &global,
                                        &local, wait ? 1 : 0, wait ? &wait : NULL, event_out);
    if (err == CL_SUCCESS && event) {
        bt_network_profile_add(net, kind, event);
        if (done)
            *done = event;
        else
            clReleaseEvent(event);
    }
    if (err != CL_SUCCESS)
        return bt_fail(err == CL_OUT_OF_RESOURCES ? BT_ERR_DEVICE_MEMORY : BT_ERR_OPENCL,
                       "enqueueing kernel %s over %zu work-items: %s (%d)", name, count,
                       bt_cl_error_name(err), (int)err);
    return BT_OK;
}

static bt_status gemm(bt_network *net, bt_transpose ta, bt_transpose tb, size_t m, size_t n,
                      size_t k, float alpha, const bt_buffer *a, size_t lda, const bt_buffer *b,
                      size_t ldb, float beta, bt_buffer *c, size_t ldc)
{
    return bt_gemm(net->device, ta, tb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc,
                   bt_network_profile_slot(net, BT_PROF_GEMM));
}

/* Work-items of a fused kernel: tiles of `rows` x `cols` over a rows_total x cols_total output. */
static size_t tile_count(size_t rows_total, size_t rows, size_t cols_total, size_t cols)
{
    return ((rows_total + rows - 1) / rows) * ((cols_total + cols - 1) / cols);
}

/* out = f(in W^T + b) (act = BT_ACT_NONE: the product alone) in one fused kernel. */
static bt_status enqueue_dense_forward(bt_network *net, size_t l, size_t m, cl_uint act)
{
    const size_t *n = net->opts.sizes;
    cl_kernel k = net->k.dense_forward;
    cl_mem x = bt_buffer_cl_mem(net->act[l - 1]), w = bt_buffer_cl_mem(net->w[l - 1]);
    cl_mem bias = bt_buffer_cl_mem(net->b[l - 1]), out = bt_buffer_cl_mem(net->act[l]);
    cl_uint rows = (cl_uint)m, units = (cl_uint)n[l], inputs = (cl_uint)n[l - 1];
    BT_SET_ARG(k, 0, x);
    BT_SET_ARG(k, 1, w);
    BT_SET_ARG(k, 2, bias);
    BT_SET_ARG(k, 3, out);
    BT_SET_ARG(k, 4, rows);
    BT_SET_ARG(k, 5, units);
    BT_SET_ARG(k, 6, inputs);
    BT_SET_ARG(k, 7, act);
    const bt_dense_tiles *t = &net->tiles;
    return enqueue_dense(net, k, tile_count(m, t->forward_rows, n[l], t->forward_cols),
                         "dense_forward");
}

/* The output layer of a training step in one fused kernel: product, bias, output activation and
 * delta (cl/dense.cl's dense_output). */
static bt_status enqueue_dense_output(bt_network *net, size_t m)
{
    const size_t *n = net->opts.sizes;
    size_t L = net->layers;
    cl_kernel k = net->k.dense_output;
    cl_mem x = bt_buffer_cl_mem(net->act[L - 1]), w = bt_buffer_cl_mem(net->w[L - 1]);
    cl_mem bias = bt_buffer_cl_mem(net->b[L - 1]), labels = bt_buffer_cl_mem(net->labels);
    cl_mem za = bt_buffer_cl_mem(net->act[L]), delta = bt_buffer_cl_mem(net->delta[L]);
    cl_uint rows = (cl_uint)m, units = (cl_uint)n[L], inputs = (cl_uint)n[L - 1];
    cl_uint kind = output_kind(&net->opts);
    BT_SET_ARG(k, 0, x);
    BT_SET_ARG(k, 1, w);
    BT_SET_ARG(k, 2, bias);
    BT_SET_ARG(k, 3, labels);
    BT_SET_ARG(k, 4, za);
    BT_SET_ARG(k, 5, delta);
    BT_SET_ARG(k, 6, rows);
    BT_SET_ARG(k, 7, units);
    BT_SET_ARG(k, 8, inputs);
    BT_SET_ARG(k, 9, kind);
    return enqueue_dense(net, k, tile_count(m, net->tiles.forward_rows, 1, 1), "dense_output");
}

bt_status bt_network_enqueue_forward(bt_network *net, size_t m, cl_kernel output_kernel)
{
    const size_t *n = net->opts.sizes;
    size_t L = net->layers;
    for (size_t l = 1; l <= L; ++l) {
        if (l == L && output_kernel == net->k.output_delta &&
            bt_network_uses_fused(net, BT_OP_FORWARD, l, m))
            return enqueue_dense_output(net, m);
        if (bt_network_uses_fused(net, BT_OP_FORWARD, l, m)) {
            BT_TRY(enqueue_dense_forward(net, l, m,
                                         l == L ? BT_ACT_NONE : (cl_uint)net->opts.hidden));
            continue;
        }
        /* z_l = a_{l-1} W_l^T, m x n_l; the bias is added by the kernel that follows. */
        BT_TRY(gemm(net, BT_NO_TRANS, BT_TRANS, m, n[l], n[l - 1], 1.0f, net->act[l - 1],
                    n[l - 1], net->w[l - 1], n[l - 1], 0.0f, net->act[l], n[l]));
        if (l == L)
            break;
        cl_kernel k = net->k.bias_activate;
        cl_mem za = bt_buffer_cl_mem(net->act[l]), bias = bt_buffer_cl_mem(net->b[l - 1]);
        cl_uint count = (cl_uint)(m * n[l]), width = (cl_uint)n[l], act = net->opts.hidden;
        BT_SET_ARG(k, 0, za);
        BT_SET_ARG(k, 1, bias);
        BT_SET_ARG(k, 2, count);
        BT_SET_ARG(k, 3, width);
        BT_SET_ARG(k, 4, act);
        BT_TRY(bt_network_enqueue(net, k, m * n[l], BT_PROF_KERNEL, "bias_activate"));
    }

    cl_kernel k = output_kernel;
    cl_mem za = bt_buffer_cl_mem(net->act[L]), bias = bt_buffer_cl_mem(net->b[L - 1]);
    cl_mem labels = bt_buffer_cl_mem(net->labels);
    cl_uint rows = (cl_uint)m, width = (cl_uint)n[L], kind = output_kind(&net->opts);
    cl_uint arg = 0;
    BT_SET_ARG(k, arg++, za);
    BT_SET_ARG(k, arg++, bias);
    if (k != net->k.output_activate) {
        cl_mem out = bt_buffer_cl_mem(k == net->k.output_delta ? net->delta[L] : net->stats);
        BT_SET_ARG(k, arg++, labels);
        BT_SET_ARG(k, arg++, out);
    }
    BT_SET_ARG(k, arg++, rows);
    BT_SET_ARG(k, arg++, width);
    BT_SET_ARG(k, arg++, kind);
    return bt_network_enqueue(net, k, m, BT_PROF_KERNEL, "output layer");
}

static bt_status enqueue_bias(bt_network *net, bt_buffer *dst, size_t l, size_t m, float alpha,
                              float beta)
{
    cl_kernel k = net->k.bias_update;
    cl_mem d = bt_buffer_cl_mem(dst), delta = bt_buffer_cl_mem(net->delta[l]);
    cl_uint rows = (cl_uint)m, width = (cl_uint)net->opts.sizes[l];
    BT_SET_ARG(k, 0, d);
    BT_SET_ARG(k, 1, delta);
    BT_SET_ARG(k, 2, rows);
    BT_SET_ARG(k, 3, width);
    BT_SET_ARG(k, 4, alpha);
    BT_SET_ARG(k, 5, beta);
    return bt_network_enqueue(net, k, width, BT_PROF_KERNEL, "bias_update");
}

/* delta_{l-1} = (delta_l W_l) * f'(z_{l-1}) in one fused kernel. */
static bt_status enqueue_dense_backward(bt_network *net, size_t l, size_t m)
{
    const size_t *n = net->opts.sizes;
    cl_kernel k = net->k.dense_backward;
    cl_mem delta = bt_buffer_cl_mem(net->delta[l]), w = bt_buffer_cl_mem(net->w[l - 1]);
    cl_mem a = bt_buffer_cl_mem(net->act[l - 1]), out = bt_buffer_cl_mem(net->delta[l - 1]);
    cl_uint rows = (cl_uint)m, units = (cl_uint)n[l], inputs = (cl_uint)n[l - 1];
    cl_uint act = net->opts.hidden;
    BT_SET_ARG(k, 0, delta);
    BT_SET_ARG(k, 1, w);
    BT_SET_ARG(k, 2, a);
    BT_SET_ARG(k, 3, out);
    BT_SET_ARG(k, 4, rows);
    BT_SET_ARG(k, 5, units);
    BT_SET_ARG(k, 6, inputs);
    BT_SET_ARG(k, 7, act);
    const bt_dense_tiles *t = &net->tiles;
    return enqueue_dense(
        net, k, tile_count(m, t->backward_rows, n[l - 1], t->backward_vecs * t->vector_width),
        "dense_backward");
}

/* w = decay w + alpha delta_l^T a_{l-1} and b = b + alpha sum delta_l (accumulate), or the same
 * without the old values (gradient mode), in one fused kernel. */
static bt_status enqueue_dense_update(bt_network *net, size_t l, size_t m, bt_buffer *w_dst,
                                      bt_buffer *b_dst, float alpha, float decay,
                                      cl_uint accumulate)
{
    const size_t *n = net->opts.sizes;
    cl_kernel k = net->k.dense_update;
    cl_mem delta = bt_buffer_cl_mem(net->delta[l]), x = bt_buffer_cl_mem(net->act[l - 1]);
    cl_mem w = bt_buffer_cl_mem(w_dst), b = bt_buffer_cl_mem(b_dst);
    cl_uint rows = (cl_uint)m, units = (cl_uint)n[l], inputs = (cl_uint)n[l - 1];
    BT_SET_ARG(k, 0, delta);
    BT_SET_ARG(k, 1, x);
    BT_SET_ARG(k, 2, w);
    BT_SET_ARG(k, 3, b);
    BT_SET_ARG(k, 4, rows);
    BT_SET_ARG(k, 5, units);
    BT_SET_ARG(k, 6, inputs);
    BT_SET_ARG(k, 7, alpha);
    BT_SET_ARG(k, 8, decay);
    BT_SET_ARG(k, 9, accumulate);
    const bt_dense_tiles *t = &net->tiles;
    return enqueue_dense(
        net, k,
        tile_count(n[l], t->update_rows * t->update_blocks, n[l - 1],
                   t->update_vecs * t->vector_width),
        "dense_update");
}

/* The factors of the weight update W <- decay W + alpha sum delta^T a: with `sgd` the step
 * (alpha = -eta/m, decay from L2), without it the mean gradient (alpha = 1/m, decay unused). */
static void step_factors(const bt_sgd *sgd, size_t m, float *alpha, float *decay)
{
    float inv_m = 1.0f / (float)m;
    *alpha = sgd ? -sgd->eta * inv_m : inv_m;
    *decay = sgd && sgd->lambda > 0.0f ? 1.0f - sgd->eta * sgd->lambda / (float)sgd->n_train
                                       : 1.0f;
}

/* Backward pass after a forward pass with output_delta. With `sgd`, updates the parameters in
 * place (the weight product folds decay and step into alpha and beta); without, writes the mean
 * gradient into grad_w / grad_b. */
static bt_status enqueue_backward(bt_network *net, size_t m, const bt_sgd *sgd)
{
    const size_t *n = net->opts.sizes;
    for (size_t l = net->layers; l >= 1; --l) {
        /* dC/da_{l-1} = delta_l W_l, before W_l changes; then times f'(z_{l-1}). The first
         * layer needs no input gradient. */
        if (l > 1 && bt_network_uses_fused(net, BT_OP_BACKWARD, l, m)) {
            BT_TRY(enqueue_dense_backward(net, l, m));
        } else if (l > 1) {
            BT_TRY(gemm(net, BT_NO_TRANS, BT_NO_TRANS, m, n[l - 1], n[l], 1.0f, net->delta[l],
                        n[l], net->w[l - 1], n[l - 1], 0.0f, net->delta[l - 1], n[l - 1]));
            cl_kernel k = net->k.activation_backward;
            cl_mem delta = bt_buffer_cl_mem(net->delta[l - 1]);
            cl_mem a = bt_buffer_cl_mem(net->act[l - 1]);
            cl_uint count = (cl_uint)(m * n[l - 1]), act = net->opts.hidden;
            BT_SET_ARG(k, 0, delta);
            BT_SET_ARG(k, 1, a);
            BT_SET_ARG(k, 2, count);
            BT_SET_ARG(k, 3, act);
            BT_TRY(bt_network_enqueue(net, k, m * n[l - 1], BT_PROF_KERNEL,
                                      "activation_backward"));
        }
        float alpha, decay;
        step_factors(sgd, m, &alpha, &decay);
        bt_buffer *w_dst = sgd ? net->w[l - 1] : net->grad_w[l - 1];
        bt_buffer *b_dst = sgd ? net->b[l - 1] : net->grad_b[l - 1];
        if (bt_network_uses_fused(net, BT_OP_UPDATE, l, m)) {
            BT_TRY(enqueue_dense_update(net, l, m, w_dst, b_dst, alpha, decay, sgd ? 1u : 0u));
            continue;
        }
        /* W_l <- beta W_l + alpha delta_l^T a_{l-1}: n_l x n_{l-1}, summed over the m rows. */
        BT_TRY(gemm(net, BT_TRANS, BT_NO_TRANS, n[l], n[l - 1], m, alpha, net->delta[l], n[l],
                    net->act[l - 1], n[l - 1], sgd ? decay : 0.0f, w_dst, n[l - 1]));
        BT_TRY(enqueue_bias(net, b_dst, l, m, alpha, sgd ? 1.0f : 0.0f));
    }
    return BT_OK;
}

/* On CPUs a small batch's whole SGD step runs as one work-item of dense_step: its kernels would
 * cost more to launch than to run (README). Networks of up to BT_STEP_MAX_LAYERS layers. */
#define BT_STEP_MAX_LAYERS 4
#define BT_STEP_MAX_BATCH 32

static bool uses_single_step(const bt_network *net, size_t m)
{
    if (net->layers > BT_STEP_MAX_LAYERS || m > BT_STEP_MAX_BATCH ||
        net->device->info.type != BT_DEVICE_CPU)
        return false;
    /* Every product must be ours: a stored choice may give one of them to CLBlast. */
    for (size_t l = 1; l <= net->layers; ++l)
        if (!bt_network_uses_fused(net, BT_OP_FORWARD, l, m) ||
            !bt_network_uses_fused(net, BT_OP_UPDATE, l, m) ||
            (l > 1 && !bt_network_uses_fused(net, BT_OP_BACKWARD, l, m)))
            return false;
    return true;
}

static bt_status enqueue_single_step(bt_network *net, size_t m, const bt_sgd *sgd)
{
    const size_t *n = net->opts.sizes;
    size_t L = net->layers;
    cl_kernel k = net->k.dense_step;
    cl_uint arg = 0;
    for (size_t l = 0; l <= BT_STEP_MAX_LAYERS; ++l) { /* a0..a4 */
        cl_mem a = bt_buffer_cl_mem(net->act[l <= L ? l : 0]);
        BT_SET_ARG(k, arg++, a);
    }
    bt_buffer *const *per_layer[3] = {net->delta + 1, net->w, net->b}; /* d1.., w1.., b1.. */
    for (size_t group = 0; group < 3; ++group)
        for (size_t l = 0; l < BT_STEP_MAX_LAYERS; ++l) {
            cl_mem mem = bt_buffer_cl_mem(per_layer[group][l < L ? l : 0]);
            BT_SET_ARG(k, arg++, mem);
        }
    cl_mem labels = bt_buffer_cl_mem(net->labels);
    BT_SET_ARG(k, arg++, labels);
    cl_uint layers = (cl_uint)L, rows = (cl_uint)m;
    BT_SET_ARG(k, arg++, layers);
    BT_SET_ARG(k, arg++, rows);
    for (size_t l = 0; l <= BT_STEP_MAX_LAYERS; ++l) {
        cl_uint units = (cl_uint)(l <= L ? n[l] : 1);
        BT_SET_ARG(k, arg++, units);
    }
    cl_uint hidden = net->opts.hidden, kind = output_kind(&net->opts);
    float alpha, decay;
    step_factors(sgd, m, &alpha, &decay);
    BT_SET_ARG(k, arg++, hidden);
    BT_SET_ARG(k, arg++, kind);
    BT_SET_ARG(k, arg++, alpha);
    BT_SET_ARG(k, arg++, decay);
    return enqueue_sized(net, k, 1, 1, BT_PROF_GEMM, "dense_step", NULL, NULL);
}

bt_status bt_network_enqueue_step(bt_network *net, size_t m, const bt_sgd *sgd)
{
    if (sgd && uses_single_step(net, m))
        return enqueue_single_step(net, m, sgd);
    BT_TRY(bt_network_enqueue_forward(net, m, net->k.output_delta));
    return enqueue_backward(net, m, sgd);
}

/* ---- creation ------------------------------------------------------------------------------- */

static bt_status create_kernel_table(bt_network *net);

static const char *const program_files[6] = {"activation.cl", "output.cl", "update.cl",
                                             "data.cl",       "reduce.cl", "dense.cl"};
enum { DENSE_PROGRAM = 5 };

/* Tiles of the fused kernels. CPUs (PoCL) run one work-item per thread iteration, so the
 * explicit vectors must fill the SIMD unit and a work-item's tile must reuse each load several
 * times; GPUs vectorise across work-items, so there a work-item keeps a small tile and the grid
 * stays large enough to fill the device even for small m. */
static bt_dense_tiles choose_tiles(const bt_device *dev)
{
    if (dev->info.type == BT_DEVICE_CPU) {
        cl_uint native = 0;
        if (clGetDeviceInfo(dev->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof native,
                            &native, NULL) != CL_SUCCESS || native < 4)
            native = 8;
        unsigned vw = native >= 16 ? 16 : 8;
        return (bt_dense_tiles){vw, 4, 4, 4, 2, 6, 2, 1, 1, 64};
    }
    return (bt_dense_tiles){4, 2, 2, 2, 1, 2, 1, 64, 1, 64};
}

/* Build options of every program: the codes and sizes the host and the kernels share. */
static bt_status build_options(const bt_dense_tiles *t, char *dst, size_t size)
{
    size_t at = 0;
    int wrote = snprintf(dst, size, "-cl-std=CL1.2");
#define BT_DEFINE_CODE_(name, ...)                                                              \
    if (wrote >= 0 && (at += (size_t)wrote) < size)                                            \
        wrote = snprintf(dst + at, size - at, " -D" #name "=%d", (int)name);
    BT_ACTIVATION_LIST(BT_DEFINE_CODE_)
    BT_OUTPUT_KIND_LIST(BT_DEFINE_CODE_)
#undef BT_DEFINE_CODE_
    if (wrote >= 0 && (at += (size_t)wrote) < size)
        wrote = snprintf(dst + at, size - at,
                         " -DBT_ACT_NONE=%uu -DBT_GATHER_CHUNK=%d -DBT_REDUCE_GROUP=%d -DVW=%u "
                         "-DFWD_ROWS=%u -DFWD_COLS=%u -DBWD_ROWS=%u -DBWD_VECS=%u "
                         "-DUPD_ROWS=%u -DUPD_VECS=%u -DUPD_BLOCKS=%u -DUPD_CHUNK=%u",
                         BT_ACT_NONE, BT_GATHER_CHUNK, BT_REDUCE_GROUP, t->vector_width,
                         t->forward_rows, t->forward_cols, t->backward_rows, t->backward_vecs,
                         t->update_rows, t->update_vecs, t->update_blocks, t->update_chunk);
    if (wrote < 0 || at + (size_t)wrote >= size)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "kernel build options need more than %zu bytes",
                       size);
    return BT_OK;
}

bt_status bt_kernel_build_options(const bt_device *device, char *dst, size_t size)
{
    if (!device || !dst || size == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_kernel_build_options: bad arguments");
    bt_dense_tiles tiles = choose_tiles(device);
    return build_options(&tiles, dst, size);
}

static bt_status create_kernels(bt_network *net)
{
    char options[1024];
    BT_TRY(build_options(&net->tiles, options, sizeof options));
    for (size_t i = 0; i < COUNT_OF(program_files); ++i)
        BT_TRY(bt_program_create(net->device, program_files[i], options, &net->programs[i],
                                 NULL));
    return create_kernel_table(net);
}

static bt_status create_kernel_table(bt_network *net)
{
    struct {
        cl_kernel *slot;
        size_t program;
        const char *name;
    } table[] = {
        {&net->k.bias_activate, 0, "bias_activate"},
        {&net->k.activation_backward, 0, "activation_backward"},
        {&net->k.output_delta, 1, "output_delta"},
        {&net->k.output_evaluate, 1, "output_evaluate"},
        {&net->k.output_activate, 1, "output_activate"},
        {&net->k.bias_update, 2, "bias_update"},
        {&net->k.gather_indexed, 3, "gather_indexed"},
        {&net->k.gather_range, 3, "gather_range"},
        {&net->k.reduce_pairs, 4, "reduce_pairs"},
        {&net->k.dense_forward, 5, "dense_forward"},
        {&net->k.dense_backward, 5, "dense_backward"},
        {&net->k.dense_update, 5, "dense_update"},
        {&net->k.dense_output, 5, "dense_output"},
        {&net->k.dense_step, 5, "dense_step"},
    };
    for (size_t i = 0; i < COUNT_OF(table); ++i) {
        if (*table[i].slot)
            clReleaseKernel(*table[i].slot);
        *table[i].slot = NULL;
        BT_TRY(bt_program_create_kernel(net->programs[table[i].program], table[i].name,
                                        table[i].slot));
    }
    return BT_OK;
}

bt_status bt_network_use_tiles(bt_network *net, const bt_dense_tiles *tiles)
{
    const bt_dense_tiles *t = tiles;
    unsigned vw = t ? t->vector_width : 0;
    bool width_ok = vw == 1 || vw == 2 || vw == 4 || vw == 8 || vw == 16;
    unsigned counts[] = {t ? t->forward_rows : 0, t ? t->forward_cols : 0,
                         t ? t->backward_rows : 0, t ? t->backward_vecs : 0,
                         t ? t->update_rows : 0, t ? t->update_vecs : 0};
    bool counts_ok = true;
    for (size_t i = 0; i < COUNT_OF(counts); ++i)
        counts_ok = counts_ok && counts[i] >= 1 && counts[i] <= 8;
    if (!net || !width_ok || !counts_ok || t->local_size == 0 ||
        t->local_size > bt_device_get_info(net->device)->max_work_group_size ||
        t->backward_vecs * vw > BT_DENSE_PAD || t->update_vecs * vw > BT_DENSE_PAD ||
        t->update_blocks < 1 || t->update_blocks > 16 || t->update_chunk < 1)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "fused-kernel tiles: vector width 1, 2, 4, 8 "
                                                "or 16, 1 to 8 rows and columns, a work-group "
                                                "size the device takes");
    BT_TRY(bt_device_finish(net->device));
    net->tiles = *tiles;
    char options[1024];
    BT_TRY(build_options(&net->tiles, options, sizeof options));
    bt_program *dense = NULL;
    BT_TRY(bt_program_create(net->device, "dense.cl", options, &dense, NULL));
    bt_program_destroy(net->programs[DENSE_PROGRAM]);
    net->programs[DENSE_PROGRAM] = dense;
    return create_kernel_table(net);
}

/* GPUs: the fused kernels take the products of batches below BT_FUSED_GPU_MAX_BATCH of at most
 * BT_FUSED_GPU_MAX_FLOPS (2 m n k). Measured on an H200 (README): they win there, where a step
 * is launches and CLBlast's padding kernels; at m >= 128 CLBlast's tiled kernels win, the thin
 * products included. */
#define BT_FUSED_GPU_MAX_BATCH 128
#define BT_FUSED_GPU_MAX_FLOPS 16e6

/* On a CPU (PoCL) the fused kernels beat CLBlast on every product of these networks (README); on
 * other devices they take the small products of small batches. */
bool bt_fused_rule(bt_device_type type, bt_layer_op op, const size_t *n, size_t l, size_t m)
{
    if (type == BT_DEVICE_CPU)
        return true;
    if (m >= BT_FUSED_GPU_MAX_BATCH)
        return false;
    double depth = op == BT_OP_BACKWARD ? (double)n[l] : op == BT_OP_UPDATE ? (double)m
                                                                           : (double)n[l - 1];
    double outputs = op == BT_OP_UPDATE ? (double)n[l] * (double)n[l - 1]
                     : op == BT_OP_FORWARD ? (double)m * (double)n[l]
                                           : (double)m * (double)n[l - 1];
    return 2.0 * outputs * depth <= BT_FUSED_GPU_MAX_FLOPS;
}

/* The product as the GEMM that computes it on CLBlast (as bt_network_step_shapes lists it). */
static bt_gemm_shape product_shape(const size_t *n, bt_layer_op op, size_t l, size_t m)
{
    switch (op) {
    case BT_OP_FORWARD:
        return (bt_gemm_shape){BT_NO_TRANS, BT_TRANS, m, n[l], n[l - 1]};
    case BT_OP_BACKWARD:
        return (bt_gemm_shape){BT_NO_TRANS, BT_NO_TRANS, m, n[l - 1], n[l]};
    default:
        return (bt_gemm_shape){BT_TRANS, BT_NO_TRANS, n[l], n[l - 1], m};
    }
}

bool bt_network_uses_fused(const bt_network *net, bt_layer_op op, size_t l, size_t m)
{
    if (net->opts.engine != BT_ENGINE_AUTO)
        return net->opts.engine == BT_ENGINE_FUSED;
    bt_gemm_shape shape = product_shape(net->opts.sizes, op, l, m);
    bt_engine stored = bt_device_engine_choice(net->device, &shape);
    if (stored != BT_ENGINE_AUTO)
        return stored == BT_ENGINE_FUSED;
    return bt_fused_rule(net->device->info.type, op, net->opts.sizes, l, m);
}

/* Every buffer is zero-filled once, which touches all its pages. CLBlast's padding kernels read
 * whole tiles of the GEMM operands with masked vector loads on PoCL's CPU device, also past the
 * rows a small batch uses; a masked load on a page never touched is not faulted in and takes a
 * slow microcode assist on every call. Measured at m = 10 with the indirect path: padding kernels
 * of 130 us instead of 15, training steps 2.5x slower until the first evaluation filled the
 * rows. */
static bt_status create_buffer(bt_network *net, size_t floats, bt_buffer **out)
{
    BT_TRY(bt_buffer_create(net->device, floats * sizeof(float), out));
    return bt_buffer_fill_float(*out, 0, floats, 0.0f);
}

/* Every matrix the fused kernels read has BT_DENSE_PAD zeroed floats after it, for their vector
 * loads past a row's end (cl/dense.cl). */
static bt_status create_matrix(bt_network *net, size_t floats, bt_buffer **out)
{
    return create_buffer(net, floats + BT_DENSE_PAD, out);
}

static bt_status create_buffers(bt_network *net)
{
    const size_t *n = net->opts.sizes;
    for (size_t l = 1; l <= net->layers; ++l) {
        BT_TRY(create_matrix(net, n[l] * n[l - 1], &net->w[l - 1]));
        BT_TRY(create_buffer(net, n[l], &net->b[l - 1]));
        BT_TRY(create_matrix(net, net->opts.max_batch * n[l], &net->delta[l]));
    }
    for (size_t l = 0; l <= net->layers; ++l)
        BT_TRY(create_matrix(net, net->rows * n[l], &net->act[l]));
    BT_TRY(create_buffer(net, net->rows, &net->labels)); /* ints, same size as floats */
    return create_buffer(net, net->rows * 2, &net->stats);
}

/* Fill the parameters from the seed: weights N(0,1) or N(0,1/n_in), biases N(0,1). */
static bt_status init_params(bt_network *net)
{
    size_t count = bt_network_param_count(net);
    float *params = malloc(count * sizeof *params);
    if (!params)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %zu parameters", count);
    bt_rng rng;
    bt_rng_init(&rng, net->opts.seed, 0);
    size_t at = 0;
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t fan_in = net->opts.sizes[l - 1], units = net->opts.sizes[l];
        double scale = net->opts.init == BT_INIT_SCALED ? 1.0 / sqrt((double)fan_in) : 1.0;
        for (size_t i = 0; i < units * fan_in; ++i)
            params[at++] = (float)(scale * bt_rng_normal(&rng));
        for (size_t i = 0; i < units; ++i)
            params[at++] = (float)bt_rng_normal(&rng);
    }
    bt_status status = bt_network_set_params(net, params, count);
    free(params);
    return status;
}

bt_status bt_network_create(bt_device *device, const bt_network_opts *opts, bt_network **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_create: out must not be NULL");
    *out = NULL;
    if (!device)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_create: device is NULL");
    BT_TRY(bt_network_opts_validate(opts));
    bt_network *net = calloc(1, sizeof *net);
    if (!net)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    net->device = device;
    net->opts = *opts;
    net->layers = opts->n_sizes - 1;
    net->rows = opts->max_batch > BT_EVAL_CHUNK ? opts->max_batch : BT_EVAL_CHUNK;
    size_t max_wg = bt_device_get_info(device)->max_work_group_size;
    net->local_size = max_wg < 64 ? max_wg : 64;
    net->tiles = choose_tiles(device);

    bt_status status = create_kernels(net);
    if (status == BT_OK)
        status = create_buffers(net);
    if (status == BT_OK)
        status = init_params(net);
    if (status != BT_OK) {
        bt_network_destroy(net);
        return status;
    }
    *out = net;
    return BT_OK;
}

void bt_network_destroy(bt_network *net)
{
    if (!net)
        return;
    bt_device_finish(net->device);
    release_events(net);
    free(net->events);
    cl_kernel *kernels = (cl_kernel *)&net->k;
    for (size_t i = 0; i < sizeof net->k / sizeof(cl_kernel); ++i)
        if (kernels[i])
            clReleaseKernel(kernels[i]);
    for (size_t i = 0; i < COUNT_OF(net->programs); ++i)
        bt_program_destroy(net->programs[i]);
    for (size_t l = 0; l < BT_MAX_LAYERS; ++l) {
        bt_buffer_destroy(net->w[l]);
        bt_buffer_destroy(net->b[l]);
        bt_buffer_destroy(net->grad_w[l]);
        bt_buffer_destroy(net->grad_b[l]);
    }
    for (size_t l = 0; l <= BT_MAX_LAYERS; ++l) {
        bt_buffer_destroy(net->act[l]);
        bt_buffer_destroy(net->delta[l]);
    }
    bt_buffer_destroy(net->labels);
    bt_buffer_destroy(net->stats);
    free(net);
}

const bt_network_opts *bt_network_get_opts(const bt_network *net) { return net ? &net->opts : NULL; }
bt_device *bt_network_get_device(const bt_network *net) { return net ? net->device : NULL; }

size_t bt_network_param_count(const bt_network *net)
{
    if (!net)
        return 0;
    size_t count = 0;
    for (size_t l = 1; l <= net->layers; ++l)
        count += net->opts.sizes[l] * (net->opts.sizes[l - 1] + 1);
    return count;
}

/* Copy between a host array in the parameter layout and per-layer buffers. */
static bt_status copy_params(bt_network *net, bt_buffer *const *w, bt_buffer *const *b,
                             float *host, size_t count, bool to_device)
{
    if (count != bt_network_param_count(net))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "parameter count %zu does not match the "
                                                "network's %zu",
                       count, bt_network_param_count(net));
    size_t at = 0;
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t wn = net->opts.sizes[l] * net->opts.sizes[l - 1], bn = net->opts.sizes[l];
        if (to_device) {
            BT_TRY(bt_buffer_write(w[l - 1], 0, host + at, wn * sizeof(float)));
            BT_TRY(bt_buffer_write(b[l - 1], 0, host + at + wn, bn * sizeof(float)));
        } else {
            BT_TRY(bt_buffer_read(w[l - 1], 0, host + at, wn * sizeof(float)));
            BT_TRY(bt_buffer_read(b[l - 1], 0, host + at + wn, bn * sizeof(float)));
        }
        at += wn + bn;
    }
    return BT_OK;
}

bt_status bt_network_get_params(const bt_network *net, float *dst, size_t count)
{
    if (!net || !dst)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_get_params: NULL argument");
    return copy_params((bt_network *)net, net->w, net->b, dst, count, false);
}

bt_status bt_network_set_params(bt_network *net, const float *src, size_t count)
{
    if (!net || !src)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_set_params: NULL argument");
    return copy_params(net, net->w, net->b, (float *)src, count, true);
}

bt_status bt_network_step_shapes(const bt_network *net, size_t m, bt_gemm_shape *out, size_t max,
                                 size_t *count)
{
    if (!net || !count || (max && !out) || m == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_step_shapes: bad arguments");
    const size_t *n = net->opts.sizes;
    size_t c = 0;
#define ADD_SHAPE(ta, tb, mm, nn, kk)                                                           \
    do {                                                                                        \
        if (c < max)                                                                            \
            out[c] = (bt_gemm_shape){ta, tb, mm, nn, kk};                                       \
        ++c;                                                                                    \
    } while (0)
    for (size_t l = 1; l <= net->layers; ++l)
        ADD_SHAPE(BT_NO_TRANS, BT_TRANS, m, n[l], n[l - 1]);
    for (size_t l = net->layers; l >= 1; --l) {
        if (l > 1)
            ADD_SHAPE(BT_NO_TRANS, BT_NO_TRANS, m, n[l - 1], n[l]);
        ADD_SHAPE(BT_TRANS, BT_NO_TRANS, n[l], n[l - 1], m);
    }
#undef ADD_SHAPE
    *count = c;
    return BT_OK;
}

bt_status bt_network_step_engines(const bt_network *net, size_t m, bt_engine *out, size_t max,
                                  size_t *count)
{
    if (!net || !count || (max && !out) || m == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_step_engines: bad arguments");
    size_t c = 0;
#define ADD_ENGINE(op, l)                                                                        \
    do {                                                                                        \
        if (c < max)                                                                            \
            out[c] = bt_network_uses_fused(net, op, l, m) ? BT_ENGINE_FUSED : BT_ENGINE_CLBLAST; \
        ++c;                                                                                    \
    } while (0)
    for (size_t l = 1; l <= net->layers; ++l)
        ADD_ENGINE(BT_OP_FORWARD, l);
    for (size_t l = net->layers; l >= 1; --l) {
        if (l > 1)
            ADD_ENGINE(BT_OP_BACKWARD, l);
        ADD_ENGINE(BT_OP_UPDATE, l);
    }
#undef ADD_ENGINE
    *count = c;
    return BT_OK;
}

bt_status bt_network_warmup(bt_network *net, const size_t *batch_sizes, size_t count)
{
    if (!net || (count && !batch_sizes))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_warmup: bad arguments");
    size_t per_step = 3 * net->layers;
    bt_gemm_shape *shapes = malloc((count * per_step + net->layers) * sizeof *shapes);
    if (!shapes)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t total = 0, got = 0;
    bt_status status = BT_OK;
    for (size_t i = 0; i < count && status == BT_OK; ++i) {
        status = bt_network_step_shapes(net, batch_sizes[i], shapes + total, per_step, &got);
        total += got;
    }
    /* Evaluation runs the forward GEMMs at the chunk size. */
    if (status == BT_OK)
        status = bt_network_step_shapes(net, BT_EVAL_CHUNK, shapes + total, net->layers, &got);
    if (status == BT_OK)
        status = bt_gemm_warmup(net->device, shapes, total + net->layers);
    free(shapes);
    return status;
}

/* ---- host-memory convenience ---------------------------------------------------------------- */

static bt_status upload_batch(bt_network *net, const float *x, const int32_t *labels, size_t m,
                              size_t max_rows)
{
    if (!x || m == 0 || m > max_rows)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "batch of %zu examples: must be 1..%zu (the "
                                                "network's max_batch)",
                       m, max_rows);
    BT_TRY(bt_buffer_write(net->act[0], 0, x, m * net->opts.sizes[0] * sizeof(float)));
    if (labels) {
        size_t classes = net->opts.sizes[net->layers];
        for (size_t i = 0; i < m; ++i)
            if (labels[i] < 0 || (size_t)labels[i] >= classes)
                return bt_fail(BT_ERR_INVALID_ARGUMENT, "label %d of example %zu is outside "
                                                        "0..%zu",
                               (int)labels[i], i, classes - 1);
        BT_TRY(bt_buffer_write(net->labels, 0, labels, m * sizeof(int32_t)));
    }
    return BT_OK;
}

static bt_status batch_cost(bt_network *net, size_t m, double *cost)
{
    BT_TRY(bt_network_enqueue_forward(net, m, net->k.output_evaluate));
    float *stats = malloc(2 * m * sizeof *stats);
    if (!stats)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    bt_status status = bt_buffer_read(net->stats, 0, stats, 2 * m * sizeof(float));
    double sum = 0.0;
    for (size_t i = 0; i < m; ++i)
        sum += stats[2 * i];
    free(stats);
    *cost = sum / (double)m;
    return status;
}

bt_status bt_network_enqueue_gradient(bt_network *net, size_t m)
{
    for (size_t l = 1; l <= net->layers; ++l) {
        if (!net->grad_w[l - 1])
            BT_TRY(create_matrix(net, net->opts.sizes[l] * net->opts.sizes[l - 1],
                                 &net->grad_w[l - 1]));
        if (!net->grad_b[l - 1])
            BT_TRY(create_buffer(net, net->opts.sizes[l], &net->grad_b[l - 1]));
    }
    return bt_network_enqueue_step(net, m, NULL);
}

bt_status bt_network_gradient(bt_network *net, const float *x, const int32_t *labels, size_t m,
                              float *grad, double *cost)
{
    if (!net || !labels || !grad)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_gradient: NULL argument");
    BT_TRY(upload_batch(net, x, labels, m, net->opts.max_batch));
    if (cost)
        BT_TRY(batch_cost(net, m, cost));
    BT_TRY(bt_network_enqueue_gradient(net, m));
    return copy_params(net, net->grad_w, net->grad_b, grad, bt_network_param_count(net), false);
}

static bt_status check_sgd(const bt_sgd *sgd)
{
    if (!sgd || !bt_sgd_rates_valid(sgd->eta, sgd->lambda) ||
        (sgd->lambda > 0.0f && sgd->n_train == 0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "learning rate must be finite and above 0, "
                                                "lambda finite and at least 0, and n_train set "
                                                "when lambda > 0");
    return BT_OK;
}

bt_status bt_network_train_step_host(bt_network *net, const float *x, const int32_t *labels,
                                     size_t m, const bt_sgd *sgd)
{
    if (!net || !labels)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_train_step_host: NULL argument");
    BT_TRY(check_sgd(sgd));
    BT_TRY(upload_batch(net, x, labels, m, net->opts.max_batch));
    return bt_network_enqueue_step(net, m, sgd);
}

bt_status bt_network_predict_host(bt_network *net, const float *x, size_t m, float *out)
{
    if (!net || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_predict_host: NULL argument");
    BT_TRY(upload_batch(net, x, NULL, m, net->rows));
    BT_TRY(bt_network_enqueue_forward(net, m, net->k.output_activate));
    return bt_buffer_read(net->act[net->layers], 0, out,
                          m * net->opts.sizes[net->layers] * sizeof(float));
}
