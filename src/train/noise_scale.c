/* The gradient noise scale: per-example gradient norms on the device (cl/noise.cl) after a
 * backward pass in gradient mode, and the moving-average estimator of batchtune_noise.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_noise.h"
#include "common/error.h"
#include "data/device_data.h"
#include "device/device_impl.h"
#include "train/network_impl.h"

/* ---- device side ------------------------------------------------------------------------- */

/* The noise kernels and a buffer for the rows they write, per device: built on the first
 * sample, kept until the device goes. */
typedef struct noise_device {
    bt_program *program;
    cl_kernel example_norms, gradient_norms;
    bt_buffer *norms; /* `capacity` floats: m per-example norms, then one per unit of each layer */
    size_t capacity;
} noise_device;

static const char noise_device_key = 0;

static void noise_device_free(void *state)
{
    noise_device *nd = state;
    if (!nd)
        return;
    if (nd->example_norms)
        clReleaseKernel(nd->example_norms);
    if (nd->gradient_norms)
        clReleaseKernel(nd->gradient_norms);
    bt_buffer_destroy(nd->norms);
    bt_program_destroy(nd->program);
    free(nd);
}

static bt_status get_noise_device(bt_device *dev, noise_device **out)
{
    noise_device *nd = bt_device_attachment_get(dev, &noise_device_key);
    if (nd) {
        *out = nd;
        return BT_OK;
    }
    nd = calloc(1, sizeof *nd);
    if (!nd)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    bt_status status = bt_program_create(dev, "noise.cl", "-cl-std=CL1.2", &nd->program, NULL);
    if (status == BT_OK)
        status = bt_program_create_kernel(nd->program, "noise_example_norms", &nd->example_norms);
    if (status == BT_OK)
        status =
            bt_program_create_kernel(nd->program, "noise_gradient_norms", &nd->gradient_norms);
    if (status != BT_OK) {
        noise_device_free(nd);
        return status;
    }
    BT_TRY(bt_device_attach(dev, &noise_device_key, nd, noise_device_free));
    *out = nd;
    return BT_OK;
}

/* After bt_network_enqueue_gradient on the first m rows: the per-example norms into norms[0..m)
 * and the mean gradient's per-unit norms after them, read back at once and summed in double. */
static bt_status sample_after_gradient(bt_network *net, size_t m, bt_noise_sample *out,
                                       double *per_example)
{
    const size_t *n = net->opts.sizes;
    size_t L = net->layers, total = m;
    for (size_t l = 1; l <= L; ++l)
        total += n[l];
    noise_device *nd = NULL;
    BT_TRY(get_noise_device(net->device, &nd));
    if (nd->capacity < total) {
        bt_buffer_destroy(nd->norms);
        nd->norms = NULL;
        nd->capacity = 0;
        BT_TRY(bt_buffer_create(net->device, total * sizeof(float), &nd->norms));
        nd->capacity = total;
    }
    cl_mem norms = bt_buffer_cl_mem(nd->norms);
    cl_uint offset = (cl_uint)m;
    for (size_t l = 1; l <= L; ++l) {
        cl_kernel k = nd->example_norms;
        cl_mem delta = bt_buffer_cl_mem(net->delta[l]), act = bt_buffer_cl_mem(net->act[l - 1]);
        cl_uint rows = (cl_uint)m, units = (cl_uint)n[l], inputs = (cl_uint)n[l - 1];
        cl_uint first = l == 1;
        BT_SET_ARG(k, 0, delta);
        BT_SET_ARG(k, 1, act);
        BT_SET_ARG(k, 2, rows);
        BT_SET_ARG(k, 3, units);
        BT_SET_ARG(k, 4, inputs);
        BT_SET_ARG(k, 5, first);
        BT_SET_ARG(k, 6, norms);
        BT_TRY(bt_network_enqueue(net, k, m, BT_PROF_KERNEL, "noise_example_norms"));

        k = nd->gradient_norms;
        cl_mem w = bt_buffer_cl_mem(net->grad_w[l - 1]), b = bt_buffer_cl_mem(net->grad_b[l - 1]);
        BT_SET_ARG(k, 0, w);
        BT_SET_ARG(k, 1, b);
        BT_SET_ARG(k, 2, units);
        BT_SET_ARG(k, 3, inputs);
        BT_SET_ARG(k, 4, offset);
        BT_SET_ARG(k, 5, norms);
        BT_TRY(bt_network_enqueue(net, k, n[l], BT_PROF_KERNEL, "noise_gradient_norms"));
        offset += units;
    }
    float *host = malloc(total * sizeof *host);
    if (!host)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    bt_status status = bt_buffer_read(nd->norms, 0, host, total * sizeof(float));
    double small = 0.0, big = 0.0;
    for (size_t i = 0; i < total; ++i) {
        if (i < m) {
            small += host[i];
            if (per_example)
                per_example[i] = host[i];
        } else {
            big += host[i];
        }
    }
    free(host);
    if (status != BT_OK)
        return status;
    out->small_batch = 1;
    out->small_norm_sq = small / (double)m;
    out->big_batch = m;
    out->big_norm_sq = big;
    return BT_OK;
}

static bt_status check_sample_size(const bt_network *net, size_t m)
{
    if (m < 2 || m > net->opts.max_batch)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "a noise sample needs 2 to %zu examples (the network's max_batch), not "
                       "%zu: one example has no spread to measure",
                       net->opts.max_batch, m);
    return BT_OK;
}

bt_status bt_network_noise_sample_host(bt_network *net, const float *x, const int32_t *labels,
                                       size_t m, bt_noise_sample *out, double *per_example)
{
    if (!net || !x || !labels || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_noise_sample_host: NULL argument");
    BT_TRY(check_sample_size(net, m));
    size_t classes = net->opts.sizes[net->layers];
    for (size_t i = 0; i < m; ++i)
        if (labels[i] < 0 || (size_t)labels[i] >= classes)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "label %d of example %zu is outside 0..%zu",
                           (int)labels[i], i, classes - 1);
    BT_TRY(bt_buffer_write(net->act[0], 0, x, m * net->opts.sizes[0] * sizeof(float)));
    BT_TRY(bt_buffer_write(net->labels, 0, labels, m * sizeof(int32_t)));
    BT_TRY(bt_network_enqueue_gradient(net, m));
    return sample_after_gradient(net, m, out, per_example);
}

bt_status bt_network_noise_sample_data(bt_network *net, const bt_device_data *data, size_t first,
                                       size_t m, bt_noise_sample *out)
{
    if (!net || !data || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_noise_sample_data: NULL argument");
    BT_TRY(check_sample_size(net, m));
    if (first > data->count || m > data->count - first)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "rows %zu..%zu are outside the %zu examples of the data", first,
                       first + m - 1, data->count);
    BT_TRY(bt_check_shape_fits(net, data->features, data->classes));
    BT_TRY(bt_network_enqueue_gather_range(net, data->pixels, data->labels, first, m,
                                           data->features, NULL, NULL));
    BT_TRY(bt_network_enqueue_gradient(net, m));
    return sample_after_gradient(net, m, out, NULL);
}

/* ---- the estimator ----------------------------------------------------------------------- */

struct bt_noise {
    bt_network *network; /* not owned; may be NULL */
    bt_noise_opts opts;
    size_t samples;
    double gradient_sq, trace; /* moving averages before the start-up correction */
    double weight;             /* 1 - decay^samples: what the averages' weights sum to */
};

bt_noise_opts bt_noise_opts_default(void)
{
    bt_noise_opts opts;
    opts.decay = 0.9;
    return opts;
}

bt_status bt_noise_create(bt_network *network, const bt_noise_opts *opts, bt_noise **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_noise_create: out must not be NULL");
    *out = NULL;
    bt_noise_opts o = opts ? *opts : bt_noise_opts_default();
    if (!(o.decay >= 0.0 && o.decay < 1.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "noise-scale decay %g: must be in [0, 1) (0.9 averages about the last 10 "
                       "samples)",
                       o.decay);
    bt_noise *noise = calloc(1, sizeof *noise);
    if (!noise)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    noise->network = network;
    noise->opts = o;
    *out = noise;
    return BT_OK;
}

void bt_noise_destroy(bt_noise *noise) { free(noise); }

void bt_noise_reset(bt_noise *noise)
{
    if (!noise)
        return;
    noise->samples = 0;
    noise->gradient_sq = noise->trace = noise->weight = 0.0;
}

bt_status bt_noise_add(bt_noise *noise, const bt_noise_sample *s)
{
    if (!noise || !s)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_noise_add: NULL argument");
    if (s->small_batch < 1 || s->big_batch <= s->small_batch || !isfinite(s->small_norm_sq) ||
        !isfinite(s->big_norm_sq) || s->small_norm_sq < 0.0 || s->big_norm_sq < 0.0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "noise sample (b %zu, |G_b|^2 %g, B %zu, |G_B|^2 %g): needs 1 <= b < B "
                       "and finite norms >= 0",
                       s->small_batch, s->small_norm_sq, s->big_batch, s->big_norm_sq);
    double b = (double)s->small_batch, big = (double)s->big_batch;
    /* McCandlish et al., App. A.1: unbiased for |G|^2 and tr(Sigma) from the two sizes. */
    double g2 = (big * s->big_norm_sq - b * s->small_norm_sq) / (big - b);
    double tr = (s->small_norm_sq - s->big_norm_sq) / (1.0 / b - 1.0 / big);
    double d = noise->opts.decay;
    noise->gradient_sq = d * noise->gradient_sq + (1.0 - d) * g2;
    noise->trace = d * noise->trace + (1.0 - d) * tr;
    noise->weight = d * noise->weight + (1.0 - d);
    noise->samples++;
    return BT_OK;
}

static bt_status bound_network(const bt_noise *noise, const char *what)
{
    if (!noise)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "%s: NULL estimator", what);
    if (!noise->network)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "%s: the estimator has no network; create it with one, or add samples "
                       "with bt_noise_add",
                       what);
    return BT_OK;
}

bt_status bt_noise_update_host(bt_noise *noise, const float *x, const int32_t *labels, size_t m,
                               bt_noise_sample *out)
{
    BT_TRY(bound_network(noise, "bt_noise_update_host"));
    bt_noise_sample s;
    BT_TRY(bt_network_noise_sample_host(noise->network, x, labels, m, &s, NULL));
    if (out)
        *out = s;
    return bt_noise_add(noise, &s);
}

bt_status bt_noise_update_data(bt_noise *noise, const bt_device_data *data, size_t first,
                               size_t m, bt_noise_sample *out)
{
    BT_TRY(bound_network(noise, "bt_noise_update_data"));
    bt_noise_sample s;
    BT_TRY(bt_network_noise_sample_data(noise->network, data, first, m, &s));
    if (out)
        *out = s;
    return bt_noise_add(noise, &s);
}

bt_noise_estimate bt_noise_get(const bt_noise *noise)
{
    bt_noise_estimate e = {0, NAN, NAN, NAN};
    if (!noise || noise->samples == 0 || !(noise->weight > 0.0))
        return e;
    e.samples = noise->samples;
    e.gradient_sq = noise->gradient_sq / noise->weight;
    e.trace = noise->trace / noise->weight;
    e.noise_scale = e.gradient_sq > 0.0 ? e.trace / e.gradient_sq : INFINITY;
    return e;
}
