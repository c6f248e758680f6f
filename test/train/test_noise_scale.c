/* Per-example gradient norms on the device (cl/noise.cl after a gradient-mode backward pass)
 * against the double-precision CPU reference, for every hidden activation x (output, cost) pair
 * and both engines, and the resident-data path against the host path.
 *
 * The reference's per-example gradient is bt_ref_gradient on that one example; its squared norm,
 * and the squared norm of the batch's mean gradient, are summed in double.
 * Tolerance (float32 sums of squares of float32 gradients, layers of at most 13 units):
 *   |n_dev - n_ref| <= 1e-3 * n_ref + 1e-7 * max over the batch of n_ref
 * ReLU data keeps every hidden |z| >= 1e-3 so that float and double agree on the kink's side. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_noise.h"
#include "reference_network.h"

static bt_device *device;
static bt_test_rng rng;

static int setup(void **state)
{
    (void)state;
    device = bt_test_open_device();
    rng = bt_test_rng_make(bt_test_seed());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_device_destroy(device);
    return 0;
}

typedef struct combo {
    bt_activation hidden, output;
    bt_cost cost;
} combo;

static const combo combos[] = {
    {BT_ACT_SIGMOID, BT_ACT_SIGMOID, BT_COST_QUADRATIC},
    {BT_ACT_SIGMOID, BT_ACT_SIGMOID, BT_COST_CROSS_ENTROPY},
    {BT_ACT_SIGMOID, BT_ACT_SOFTMAX, BT_COST_LOG_LIKELIHOOD},
    {BT_ACT_TANH, BT_ACT_SIGMOID, BT_COST_QUADRATIC},
    {BT_ACT_TANH, BT_ACT_SIGMOID, BT_COST_CROSS_ENTROPY},
    {BT_ACT_TANH, BT_ACT_SOFTMAX, BT_COST_LOG_LIKELIHOOD},
    {BT_ACT_RELU, BT_ACT_SIGMOID, BT_COST_QUADRATIC},
    {BT_ACT_RELU, BT_ACT_SIGMOID, BT_COST_CROSS_ENTROPY},
    {BT_ACT_RELU, BT_ACT_SOFTMAX, BT_COST_LOG_LIKELIHOOD},
};

static bt_network *make_net(const size_t *sizes, size_t n_sizes, const combo *c, size_t max_batch,
                            bt_engine engine)
{
    bt_network_opts opts = bt_network_opts_default();
    memcpy(opts.sizes, sizes, n_sizes * sizeof *sizes);
    opts.n_sizes = n_sizes;
    opts.hidden = c->hidden;
    opts.output = c->output;
    opts.cost = c->cost;
    opts.max_batch = max_batch;
    opts.engine = engine;
    bt_network *net = NULL;
    BT_ASSERT_OK(bt_network_create(device, &opts, &net));
    return net;
}

static void expect_close(double got, double want, double scale, const char *what,
                         const char *label, size_t index)
{
    double bound = 1e-3 * fabs(want) + 1e-7 * scale;
    if (!(fabs(got - want) <= bound))
        fail_msg("%s: %s[%zu] = %.9g, reference %.9g (bound %.3g)", label, what, index, got,
                 want, bound);
}

static void check_norms(const size_t *sizes, size_t n_sizes, const combo *c, size_t m,
                        bt_engine engine)
{
    bt_ref_net ref;
    assert_int_equal(bt_ref_net_init(&ref, sizes, n_sizes, (bt_ref_activation)c->hidden,
                                     (bt_ref_activation)c->output, (bt_ref_cost)c->cost),
                     0);
    bt_network *net = make_net(sizes, n_sizes, c, m, engine);
    size_t inputs = sizes[0], classes = sizes[n_sizes - 1], count = ref.param_count;
    float *params = malloc(count * sizeof *params), *x = malloc(m * inputs * sizeof *x);
    double *xd = malloc(m * inputs * sizeof *xd), *g = malloc(count * sizeof *g);
    double *per = malloc(m * sizeof *per), *per_ref = malloc(m * sizeof *per_ref);
    int32_t *labels = malloc(m * sizeof *labels);
    int *labels_ref = malloc(m * sizeof *labels_ref);
    assert_true(params && x && xd && g && per && per_ref && labels && labels_ref);
    for (int attempt = 0;; ++attempt) {
        assert_true(attempt < 1000);
        bt_test_fill_uniform(&rng, params, count, -1.0f, 1.0f);
        bt_test_fill_uniform(&rng, x, m * inputs, 0.0f, 1.0f);
        for (size_t i = 0; i < count; ++i)
            ref.params[i] = params[i];
        for (size_t i = 0; i < m * inputs; ++i)
            xd[i] = x[i];
        if (ref.hidden != BT_REF_RELU || bt_ref_min_abs_hidden_z(&ref, xd, m) >= 1e-3)
            break;
    }
    for (size_t i = 0; i < m; ++i)
        labels_ref[i] = labels[i] = (int32_t)(bt_test_rng_next(&rng) % classes);
    BT_ASSERT_OK(bt_network_set_params(net, params, count));

    bt_noise_sample s;
    BT_ASSERT_OK(bt_network_noise_sample_host(net, x, labels, m, &s, per));

    double largest = 0.0, mean_ref = 0.0, big_ref = 0.0;
    for (size_t i = 0; i < m; ++i) {
        bt_ref_gradient(&ref, xd + i * inputs, labels_ref + i, 1, g);
        per_ref[i] = 0.0;
        for (size_t k = 0; k < count; ++k)
            per_ref[i] += g[k] * g[k];
        largest = fmax(largest, per_ref[i]);
        mean_ref += per_ref[i] / (double)m;
    }
    bt_ref_gradient(&ref, xd, labels_ref, m, g);
    for (size_t k = 0; k < count; ++k)
        big_ref += g[k] * g[k];

    char label[160];
    snprintf(label, sizeof label, "%s %s/%s/%s, %zu layers, m = %zu", bt_engine_str(engine),
             bt_activation_str(c->hidden), bt_activation_str(c->output), bt_cost_str(c->cost),
             n_sizes - 1, m);
    for (size_t i = 0; i < m; ++i)
        expect_close(per[i], per_ref[i], largest, "|g_i|^2", label, i);
    expect_close(s.small_norm_sq, mean_ref, largest, "mean |g_i|^2", label, 0);
    expect_close(s.big_norm_sq, big_ref, largest, "|G_m|^2", label, 0);
    assert_int_equal(s.small_batch, 1);
    assert_int_equal(s.big_batch, m);
    /* The mean of squares is at least the square of the mean (Jensen): a quick sanity check
     * that a wrong layer offset would also likely break. */
    assert_true(s.small_norm_sq >= s.big_norm_sq * (1.0 - 1e-5));

    free(params);
    free(x);
    free(xd);
    free(g);
    free(per);
    free(per_ref);
    free(labels);
    free(labels_ref);
    bt_network_destroy(net);
    bt_ref_net_free(&ref);
}

static void test_per_example_norms_match_the_reference(void **state)
{
    (void)state;
    static const size_t shallow[] = {13, 9, 6};
    static const size_t deep[] = {11, 8, 7, 5};
    static const size_t batch_sizes[] = {2, 7, 33};
    static const bt_engine engines[] = {BT_ENGINE_FUSED, BT_ENGINE_CLBLAST};
    for (size_t e = 0; e < 2; ++e)
        for (size_t c = 0; c < BT_TEST_COUNT(combos); ++c)
            for (size_t i = 0; i < BT_TEST_COUNT(batch_sizes); ++i) {
                check_norms(shallow, 3, &combos[c], batch_sizes[i], engines[e]);
                check_norms(deep, 4, &combos[c], batch_sizes[i], engines[e]);
            }
}

/* Rows first.. of resident data give what the same pixels (scaled to [0, 1]) give from host
 * memory, and a training step in between changes nothing about that path. */
static void test_resident_rows_match_the_host_path(void **state)
{
    (void)state;
    enum { COUNT = 40, FEATURES = 12, CLASSES = 4, FIRST = 5, M = 17 };
    uint8_t pixels[COUNT * FEATURES], labels[COUNT];
    bt_test_fill_bytes(&rng, pixels, sizeof pixels);
    for (size_t i = 0; i < COUNT; ++i)
        labels[i] = (uint8_t)(bt_test_rng_next(&rng) % CLASSES);
    bt_dataset *set = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, COUNT, FEATURES, CLASSES, &set));
    bt_device_data *data = NULL;
    BT_ASSERT_OK(bt_device_data_create(device, set, &data));
    static const size_t sizes[] = {FEATURES, 7, CLASSES};
    bt_network *net = make_net(sizes, 3, &combos[2], M, BT_ENGINE_AUTO);

    float x[M * FEATURES];
    int32_t y[M];
    for (size_t i = 0; i < M * FEATURES; ++i)
        x[i] = (float)pixels[FIRST * FEATURES + i] / 255.0f;
    for (size_t i = 0; i < M; ++i)
        y[i] = labels[FIRST + i];
    bt_noise_sample from_host, from_data;
    BT_ASSERT_OK(bt_network_noise_sample_host(net, x, y, M, &from_host, NULL));
    BT_ASSERT_OK(bt_network_noise_sample_data(net, data, FIRST, M, &from_data));
    assert_true(fabs(from_host.small_norm_sq - from_data.small_norm_sq) <=
                1e-5 * from_host.small_norm_sq);
    assert_true(fabs(from_host.big_norm_sq - from_data.big_norm_sq) <=
                1e-5 * from_host.big_norm_sq);
    assert_true(from_host.small_norm_sq > 0.0 && from_host.big_norm_sq > 0.0);

    /* Bad input: too few rows, rows past the end, one example. */
    bt_test_assert_failure(bt_network_noise_sample_data(net, data, COUNT - 3, 4, &from_data),
                           BT_ERR_INVALID_ARGUMENT, "outside", "40 examples");
    bt_test_assert_failure(bt_network_noise_sample_host(net, x, y, 1, &from_host, NULL),
                           BT_ERR_INVALID_ARGUMENT, "noise sample", "one example");
    bt_noise *unbound = NULL;
    BT_ASSERT_OK(bt_noise_create(NULL, NULL, &unbound));
    bt_test_assert_failure(bt_noise_update_data(unbound, data, 0, M, NULL),
                           BT_ERR_INVALID_ARGUMENT, "bt_noise_update_data", "no network");
    bt_noise_destroy(unbound);

    bt_network_destroy(net);
    bt_device_data_destroy(data);
    bt_dataset_destroy(set);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_example_norms_match_the_reference),
        cmocka_unit_test(test_resident_rows_match_the_host_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
