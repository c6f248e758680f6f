/* The device network against the double-precision CPU reference (test/reference_network.c):
 * gradients for every hidden activation x (output, cost) pair and several batch sizes, central
 * finite differences of the device's own cost, full training steps, evaluation, prediction,
 * initialisation and the scheduler's epoch.
 *
 * Tolerances (float32 on the device against float64 on the host, layers of at most 13 units):
 *   gradient entries: |g_dev - g_ref| <= 2e-5 * max|g_ref| + 1e-3 * |g_ref|
 *   mean cost:        relative 1e-4
 *   parameters after a training step: |p_dev - p_ref| <= 1e-5 + 1e-4 * |p_ref|
 *   finite differences on the device (h = 1e-2, float cost): |g - fd| <= 2e-3 + 2e-2 * |fd|
 * ReLU data is redrawn until every hidden |z| >= 1e-3 (2.5e-2 for finite differences, more than
 * their step moves z), so no comparison straddles the kink.
 *
 * Every test runs twice, with the fused layer kernels (cl/dense.cl) and with CLBlast, and the
 * gradient, step and epoch tests a third time with stored engine choices that give each step's
 * products to both engines in turn (the dispatch of engine "auto"); the edge
 * shapes test sizes around the fused kernels' tiles and vector widths (1, 8 and 16 lanes, tiles of
 * 2 and 4): one unit, one input, m = 1, odd widths, k not a multiple of any tile. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "common/rng.h"
#include "train/network_impl.h"
#include "reference_network.h"

static bt_device *device;
static bt_test_rng rng;
/* Every test runs once per engine: the fused kernels and CLBlast with element-wise kernels. */
static bt_engine engine;
/* Fused-kernel tiles other than the device's own (NULL: the network's choice). */
static const bt_dense_tiles *tiles;
/* Engine BT_ENGINE_AUTO with stored choices that mix both engines in every step. */
static bool mixed;

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

/* The bt_* and bt_ref_* enums list activations and costs in the same order. */
static bt_ref_net make_ref(const size_t *sizes, size_t n_sizes, const combo *c)
{
    bt_ref_net ref;
    assert_int_equal(bt_ref_net_init(&ref, sizes, n_sizes, (bt_ref_activation)c->hidden,
                                     (bt_ref_activation)c->output, (bt_ref_cost)c->cost),
                     0);
    return ref;
}

/* With engine BT_ENGINE_AUTO: the device's table of stored engine choices gives each step's
 * products to both engines, alternating from a random start, for m = max_batch down (as many as
 * the table holds), so that every kernel meets inputs from the other engine. */
static void store_mixed_choices(const bt_network *net, size_t max_batch)
{
    static bt_gemm_params table;
    memset(&table, 0, sizeof table);
    table.has_engines = true;
    unsigned start = (unsigned)(bt_test_rng_next(&rng) & 1);
    for (size_t m = max_batch; m >= 1; --m) {
        bt_gemm_shape shapes[3 * BT_MAX_LAYERS];
        size_t count = 0;
        BT_ASSERT_OK(bt_network_step_shapes(net, m, shapes, 3 * BT_MAX_LAYERS, &count));
        if (table.n_engines + count > BT_GEMM_MAX_ENGINE_CHOICES)
            break;
        for (size_t i = 0; i < count; ++i) {
            table.engines[table.n_engines].shape = shapes[i];
            table.engines[table.n_engines++].engine =
                (i + start) % 2 ? BT_ENGINE_FUSED : BT_ENGINE_CLBLAST;
        }
    }
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &table));
    assert_int_equal(bt_device_engine_choice(device, &table.engines[0].shape),
                     table.engines[0].engine);
}

static bt_network *make_net(const size_t *sizes, size_t n_sizes, const combo *c, size_t max_batch)
{
    bt_network_opts opts = bt_network_opts_default();
    memcpy(opts.sizes, sizes, n_sizes * sizeof *sizes);
    opts.n_sizes = n_sizes;
    opts.hidden = c->hidden;
    opts.output = c->output;
    opts.cost = c->cost;
    opts.max_batch = max_batch;
    opts.seed = bt_test_rng_next(&rng);
    opts.engine = engine;
    bt_network *net = NULL;
    BT_ASSERT_OK(bt_network_create(device, &opts, &net));
    if (tiles)
        BT_ASSERT_OK(bt_network_use_tiles(net, tiles));
    if (mixed)
        store_mixed_choices(net, max_batch);
    return net;
}

/* Random parameters in [-1, 1] and inputs in [0, 1], given to both networks; for ReLU, redrawn
 * until no hidden pre-activation is within `margin` of the kink. */
typedef struct batch {
    size_t m;
    float *x;
    double *xd;
    int32_t *labels;
    int *labels_ref;
} batch;

static batch draw_scaled(bt_network *net, bt_ref_net *ref, size_t m, double margin,
                         float scale);

static batch draw_with_margin(bt_network *net, bt_ref_net *ref, size_t m, double margin)
{
    return draw_scaled(net, ref, m, margin, 1.0f);
}

/* Parameters in [-scale, scale]: wide layers need scale ~ 1/sqrt(fan-in) to keep z of order 1
 * (saturated outputs would leave float costs and gradients at the edge of their precision). */
static batch draw_scaled(bt_network *net, bt_ref_net *ref, size_t m, double margin, float scale)
{
    size_t inputs = ref->sizes[0], classes = ref->sizes[ref->layers];
    batch b = {m, malloc(m * inputs * sizeof(float)), malloc(m * inputs * sizeof(double)),
               malloc(m * sizeof(int32_t)), malloc(m * sizeof(int))};
    float *params = malloc(ref->param_count * sizeof *params);
    assert_true(b.x && b.xd && b.labels && b.labels_ref && params);
    for (int attempt = 0;; ++attempt) {
        assert_true(attempt < 1000);
        bt_test_fill_uniform(&rng, params, ref->param_count, -scale, scale);
        bt_test_fill_uniform(&rng, b.x, m * inputs, 0.0f, 1.0f);
        for (size_t i = 0; i < ref->param_count; ++i)
            ref->params[i] = params[i];
        for (size_t i = 0; i < m * inputs; ++i)
            b.xd[i] = b.x[i];
        if (ref->hidden != BT_REF_RELU || bt_ref_min_abs_hidden_z(ref, b.xd, m) >= margin)
            break;
    }
    for (size_t i = 0; i < m; ++i)
        b.labels_ref[i] = b.labels[i] = (int32_t)(bt_test_rng_next(&rng) % classes);
    BT_ASSERT_OK(bt_network_set_params(net, params, ref->param_count));
    free(params);
    return b;
}

/* Far enough from the kink for float and double to agree on every unit's side. */
static batch draw(bt_network *net, bt_ref_net *ref, size_t m)
{
    return draw_with_margin(net, ref, m, 1e-3);
}

static void free_batch(batch *b)
{
    free(b->x);
    free(b->xd);
    free(b->labels);
    free(b->labels_ref);
}

/* Parameters in [-s, s], s = min(1, 4 / sqrt(widest fan-in)): 1 for the layers of up to 16 units. */
static float param_scale(const size_t *sizes, size_t n_sizes)
{
    size_t widest = 1;
    for (size_t i = 0; i + 1 < n_sizes; ++i)
        widest = sizes[i] > widest ? sizes[i] : widest;
    return fminf(1.0f, 4.0f / sqrtf((float)widest));
}

static void check_gradient(const size_t *sizes, size_t n_sizes, const combo *c, size_t m)
{
    bt_ref_net ref = make_ref(sizes, n_sizes, c);
    bt_network *net = make_net(sizes, n_sizes, c, m);
    batch b = draw_scaled(net, &ref, m, 1e-3, param_scale(sizes, n_sizes));
    size_t count = ref.param_count;
    assert_int_equal(bt_network_param_count(net), count);
    float *grad = malloc(count * sizeof *grad);
    double *grad_ref = malloc(count * sizeof *grad_ref);
    assert_true(grad && grad_ref);

    double cost = 0.0;
    BT_ASSERT_OK(bt_network_gradient(net, b.x, b.labels, m, grad, &cost));
    double cost_ref = bt_ref_gradient(&ref, b.xd, b.labels_ref, m, grad_ref);
    if (!(fabs(cost - cost_ref) <= 1e-4 * fabs(cost_ref)))
        fail_msg("%s: %s/%s/%s m=%zu: cost %.9g, reference %.9g", bt_engine_str(engine), bt_activation_str(c->hidden),
                 bt_activation_str(c->output), bt_cost_str(c->cost), m, cost, cost_ref);

    double largest = 0.0;
    for (size_t i = 0; i < count; ++i)
        largest = fmax(largest, fabs(grad_ref[i]));
    for (size_t i = 0; i < count; ++i) {
        double bound = 2e-5 * largest + 1e-3 * fabs(grad_ref[i]);
        if (fabs(grad[i] - grad_ref[i]) > bound)
            fail_msg("%s: %s/%s/%s m=%zu: gradient[%zu] = %.8g, reference %.8g (bound %.3g)", bt_engine_str(engine),
                     bt_activation_str(c->hidden), bt_activation_str(c->output),
                     bt_cost_str(c->cost), m, i, (double)grad[i], grad_ref[i], bound);
    }
    free(grad);
    free(grad_ref);
    free_batch(&b);
    bt_network_destroy(net);
    bt_ref_net_free(&ref);
}

static void test_gradients_match_the_reference(void **state)
{
    (void)state;
    static const size_t shallow[] = {13, 9, 6};
    static const size_t deep[] = {11, 8, 7, 5};
    static const size_t batch_sizes[] = {1, 7, 32};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; ++c) {
        for (size_t i = 0; i < 3; ++i) {
            check_gradient(shallow, 3, &combos[c], batch_sizes[i]);
            check_gradient(deep, 4, &combos[c], batch_sizes[i]);
        }
    }
}

static void check_training_steps(const size_t *sizes, size_t n_sizes, const combo *c, size_t m,
                                 float lambda);

static void edge_shapes_match_the_reference(void);

/* The device's tiles, then tiles that put every kernel's edge cases elsewhere: scalar lanes,
 * a GPU's small tiles, odd tiles that divide none of the sizes, 16 lanes with 1-row tiles. */
static void test_edge_shapes_match_the_reference(void **state)
{
    (void)state;
    static const bt_dense_tiles variants[] = {
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},     {4, 2, 2, 2, 1, 2, 1, 64, 1, 64},
        {2, 3, 5, 3, 3, 1, 2, 7, 3, 5},     {16, 1, 1, 1, 1, 1, 1, 1, 2, 1},
        {8, 4, 4, 4, 2, 4, 2, 1, 4, 3},
    };
    tiles = NULL;
    edge_shapes_match_the_reference();
    for (size_t v = 0; engine == BT_ENGINE_FUSED && v < sizeof variants / sizeof variants[0];
         ++v) {
        tiles = &variants[v];
        edge_shapes_match_the_reference();
    }
    tiles = NULL;
}

static void edge_shapes_match_the_reference(void)
{
    static const size_t wide[] = {70, 37, 19};
    static const size_t deep[] = {33, 50, 17, 3};
    static const size_t thin[] = {1, 1};
    static const size_t single_output[] = {18, 1, 1};
    static const size_t batch_sizes[] = {1, 3, 17, 45};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; ++c) {
        for (size_t i = 0; i < 4; ++i) {
            check_gradient(wide, 3, &combos[c], batch_sizes[i]);
            check_gradient(deep, 4, &combos[c], batch_sizes[i]);
            check_training_steps(deep, 4, &combos[c], batch_sizes[i], i == 2 ? 5.0f : 0.0f);
        }
        if (combos[c].output == BT_ACT_SIGMOID) {
            /* a softmax over one unit is constant: nothing to learn */
            check_gradient(thin, 2, &combos[c], 1);
            check_gradient(thin, 2, &combos[c], 9);
            check_gradient(single_output, 3, &combos[c], 5);
            check_training_steps(single_output, 3, &combos[c], 33, 0.0f);
        }
    }
}

/* Outputs saturated far past float's resolution of 1 - a (|z| of 30 to 200): the log costs
 * must stay exact, not turn ln(1 - a) of an a rounded to 1 into a clamp or noise. */
static void test_saturated_outputs_keep_exact_costs(void **state)
{
    (void)state;
    static const size_t sizes[] = {13, 9, 6};
    const size_t m = 16;
    const double scale = 6.0; /* ReLU, tanh and sigmoid keep their signs under it */
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; ++c) {
        if (combos[c].cost == BT_COST_QUADRATIC)
            continue;
        bt_ref_net ref = make_ref(sizes, 3, &combos[c]);
        bt_network *net = make_net(sizes, 3, &combos[c], m);
        batch b = draw(net, &ref, m);
        size_t count = ref.param_count;
        float *params = malloc(count * sizeof *params), *grad = malloc(count * sizeof *grad);
        double *grad_ref = malloc(count * sizeof *grad_ref);
        assert_true(params && grad && grad_ref);
        for (size_t i = 0; i < count; ++i) {
            params[i] = (float)(scale * ref.params[i]);
            ref.params[i] = params[i];
        }
        BT_ASSERT_OK(bt_network_set_params(net, params, count));
        double cost = 0.0;
        BT_ASSERT_OK(bt_network_gradient(net, b.x, b.labels, m, grad, &cost));
        double cost_ref = bt_ref_gradient(&ref, b.xd, b.labels_ref, m, grad_ref);
        if (!(fabs(cost - cost_ref) <= 1e-4 * fabs(cost_ref)))
            fail_msg("%s/%s/%s saturated: cost %.9g, reference %.9g",
                     bt_activation_str(combos[c].hidden), bt_activation_str(combos[c].output),
                     bt_cost_str(combos[c].cost), cost, cost_ref);
        free(params);
        free(grad);
        free(grad_ref);
        free_batch(&b);
        bt_network_destroy(net);
        bt_ref_net_free(&ref);
    }
}

static void test_gradients_match_finite_differences(void **state)
{
    (void)state;
    static const size_t sizes[] = {4, 3, 2};
    const size_t m = 3;
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; ++c) {
        bt_ref_net ref = make_ref(sizes, 3, &combos[c]);
        bt_network *net = make_net(sizes, 3, &combos[c], m);
        /* A step of h moves a hidden z of this one-hidden-layer net by at most h * max(x, 1) = h:
         * keep every z 2.5 h from the ReLU kink so that no difference straddles it. */
        batch b = draw_with_margin(net, &ref, m, 2.5e-2);
        size_t count = ref.param_count;
        float *params = malloc(count * sizeof *params), *grad = malloc(count * sizeof *grad);
        float *scratch = malloc(count * sizeof *scratch);
        assert_true(params && grad && scratch);
        BT_ASSERT_OK(bt_network_get_params(net, params, count));
        BT_ASSERT_OK(bt_network_gradient(net, b.x, b.labels, m, grad, NULL));
        const float h = 1e-2f;
        for (size_t i = 0; i < count; ++i) {
            double up, down;
            float saved = params[i];
            params[i] = saved + h;
            BT_ASSERT_OK(bt_network_set_params(net, params, count));
            BT_ASSERT_OK(bt_network_gradient(net, b.x, b.labels, m, scratch, &up));
            params[i] = saved - h;
            BT_ASSERT_OK(bt_network_set_params(net, params, count));
            BT_ASSERT_OK(bt_network_gradient(net, b.x, b.labels, m, scratch, &down));
            params[i] = saved;
            double fd = (up - down) / (2.0 * h);
            if (fabs(grad[i] - fd) > 2e-3 + 2e-2 * fabs(fd))
                fail_msg("%s/%s/%s: gradient[%zu] = %.6g, finite difference %.6g",
                         bt_activation_str(combos[c].hidden), bt_activation_str(combos[c].output),
                         bt_cost_str(combos[c].cost), i, (double)grad[i], fd);
        }
        free(params);
        free(grad);
        free(scratch);
        free_batch(&b);
        bt_network_destroy(net);
        bt_ref_net_free(&ref);
    }
}

static void check_params_match(bt_network *net, const bt_ref_net *ref, const char *what)
{
    float *params = malloc(ref->param_count * sizeof *params);
    assert_non_null(params);
    BT_ASSERT_OK(bt_network_get_params(net, params, ref->param_count));
    for (size_t i = 0; i < ref->param_count; ++i)
        if (fabs(params[i] - ref->params[i]) > 1e-5 + 1e-4 * fabs(ref->params[i]))
            fail_msg("%s: parameter %zu = %.8g, reference %.8g", what, i, (double)params[i],
                     ref->params[i]);
    free(params);
}

static void check_training_steps(const size_t *sizes, size_t n_sizes, const combo *c, size_t m,
                                 float lambda)
{
    bt_ref_net ref = make_ref(sizes, n_sizes, c);
    bt_network *net = make_net(sizes, n_sizes, c, m);
    batch b = draw_scaled(net, &ref, m, 1e-3, param_scale(sizes, n_sizes));
    bt_sgd sgd = {.eta = 0.5f, .lambda = lambda, .n_train = 100};
    for (int step = 0; step < 3; ++step) {
        BT_ASSERT_OK(bt_network_train_step_host(net, b.x, b.labels, m, &sgd));
        bt_ref_step(&ref, b.xd, b.labels_ref, m, sgd.eta, sgd.lambda, sgd.n_train);
    }
    check_params_match(net, &ref, "after three steps");
    free_batch(&b);
    bt_network_destroy(net);
    bt_ref_net_free(&ref);
}

static void test_training_steps_match_the_reference(void **state)
{
    (void)state;
    static const size_t sizes[] = {12, 10, 7, 4};
    static const size_t batch_sizes[] = {1, 5, 16};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; ++c)
        for (size_t i = 0; i < 3; ++i)
            check_training_steps(sizes, 4, &combos[c], batch_sizes[i], i == 1 ? 5.0f : 0.0f);
}

static bt_dataset *random_dataset(size_t count, size_t features, unsigned classes)
{
    uint8_t *pixels = malloc(count * features), *labels = malloc(count);
    assert_true(pixels && labels);
    for (size_t i = 0; i < count * features; ++i)
        pixels[i] = (uint8_t)bt_test_rng_next(&rng);
    for (size_t i = 0; i < count; ++i)
        labels[i] = (uint8_t)(bt_test_rng_next(&rng) % classes);
    bt_dataset *data = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, count, features, classes, &data));
    free(pixels);
    free(labels);
    return data;
}

/* The dataset as the network sees it: pixels / 255. */
static double *dataset_inputs(const bt_dataset *data)
{
    size_t n = bt_dataset_count(data) * bt_dataset_features(data);
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (double)((float)bt_dataset_pixels(data)[i] * (1.0f / 255.0f));
    return x;
}

static int *dataset_labels(const bt_dataset *data)
{
    int *y = malloc(bt_dataset_count(data) * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < bt_dataset_count(data); ++i)
        y[i] = bt_dataset_labels(data)[i];
    return y;
}

static void test_evaluation_and_prediction_match_the_reference(void **state)
{
    (void)state;
    static const size_t sizes[] = {20, 16, 10};
    /* More than one evaluation chunk, and not a multiple of it. */
    bt_dataset *data = random_dataset(5000, 20, 10);
    double *x = dataset_inputs(data);
    int *labels = dataset_labels(data);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c += 4) {
        bt_ref_net ref = make_ref(sizes, 3, &combos[c]);
        bt_network *net = make_net(sizes, 3, &combos[c], 8);
        batch b = draw(net, &ref, 1); /* sets random parameters on both */
        bt_device_data *dd = NULL;
        BT_ASSERT_OK(bt_device_data_create(device, data, &dd));
        bt_eval eval;
        BT_ASSERT_OK(bt_network_evaluate(net, dd, &eval));
        size_t correct_ref = bt_ref_correct(&ref, x, labels, 5000);
        double cost_ref = bt_ref_forward(&ref, x, labels, 5000, NULL);
        assert_int_equal(eval.count, 5000);
        /* A near-tie between two outputs may fall either way in float. */
        assert_true(labs((long)eval.correct - (long)correct_ref) <= 2);
        assert_true(fabs(eval.accuracy - (double)eval.correct / 5000.0) < 1e-12);
        assert_true(fabs(eval.cost - cost_ref) <= 1e-4 * fabs(cost_ref));
        /* From host memory, uploaded chunk by chunk: the same result. */
        bt_eval from_host;
        BT_ASSERT_OK(bt_network_evaluate_dataset(net, data, &from_host));
        assert_int_equal(from_host.correct, eval.correct);
        assert_int_equal(from_host.count, eval.count);
        assert_true(fabs(from_host.cost - eval.cost) <= 1e-12 * fabs(eval.cost));

        float *out = malloc(3000 * 10 * sizeof *out), *xf = malloc(3000 * 20 * sizeof *xf);
        double *out_ref = malloc(3000 * 10 * sizeof *out_ref);
        assert_true(out && xf && out_ref);
        for (size_t i = 0; i < 3000 * 20; ++i)
            xf[i] = (float)x[i];
        BT_ASSERT_OK(bt_network_predict_host(net, xf, 2048, out));
        bt_ref_forward(&ref, x, labels, 2048, out_ref);
        for (size_t i = 0; i < 2048 * 10; ++i)
            assert_true(fabs(out[i] - out_ref[i]) <= 1e-5 + 1e-4 * fabs(out_ref[i]));
        assert_int_equal(bt_network_predict_host(net, xf, 3000, out), BT_ERR_INVALID_ARGUMENT);
        free(out);
        free(xf);
        free(out_ref);
        bt_device_data_destroy(dd);
        free_batch(&b);
        bt_network_destroy(net);
        bt_ref_net_free(&ref);
    }
    free(x);
    free(labels);
    bt_dataset_destroy(data);
}

static void test_scheduler_epoch_matches_reference_steps(void **state)
{
    (void)state;
    static const size_t sizes[] = {16, 8, 5};
    const size_t count = 103;
    static const size_t batch_sizes[] = {1, 10, 103};
    bt_dataset *data = random_dataset(count, 16, 5);
    double *x = dataset_inputs(data);
    int *labels = dataset_labels(data);
    double *xb = malloc(count * 16 * sizeof *xb);
    int *yb = malloc(count * sizeof *yb);
    uint32_t *order = malloc(count * sizeof *order);
    assert_true(xb && yb && order);
    for (size_t t = 0; t < 3; ++t) {
        size_t m = batch_sizes[t];
        const combo *c = &combos[2];
        bt_ref_net ref = make_ref(sizes, 3, c);
        bt_network *net = make_net(sizes, 3, c, m);
        batch b = draw(net, &ref, 1);
        bt_device_data *dd = NULL;
        BT_ASSERT_OK(bt_device_data_create(device, data, &dd));
        bt_scheduler_opts opts = bt_scheduler_opts_default();
        opts.batch_size = m;
        opts.sgd.eta = 0.3f;
        opts.sgd.lambda = 1.0f;
        opts.seed = bt_test_rng_next(&rng);
        bt_scheduler *sched = NULL;
        BT_ASSERT_OK(bt_scheduler_create(net, dd, &opts, &sched));
        size_t steps = bt_scheduler_steps_per_epoch(sched);
        assert_int_equal(steps, (count + m - 1) / m);
        BT_ASSERT_OK(bt_scheduler_run(sched, steps + 1)); /* one epoch and a step into the next */
        /* With m equal to the set size the extra step is a whole second epoch. */
        assert_int_equal(bt_scheduler_epoch(sched), m == count ? 2 : 1);
        assert_int_equal(bt_scheduler_examples_seen(sched), count + m);

        /* The same epoch on the reference: the permutation of (seed, stream 1 + epoch). */
        for (size_t epoch = 0; epoch < 2; ++epoch) {
            bt_rng shuffle;
            bt_rng_init(&shuffle, opts.seed, 1 + epoch);
            bt_rng_permutation(&shuffle, order, count);
            size_t end = epoch == 0 ? count : m;
            for (size_t first = 0; first < end; first += m) {
                size_t rows = count - first < m ? count - first : m;
                for (size_t i = 0; i < rows; ++i) {
                    memcpy(xb + i * 16, x + (size_t)order[first + i] * 16, 16 * sizeof *xb);
                    yb[i] = labels[order[first + i]];
                }
                bt_ref_step(&ref, xb, yb, rows, opts.sgd.eta, opts.sgd.lambda, count);
            }
        }
        check_params_match(net, &ref, "after a scheduled epoch");
        bt_scheduler_destroy(sched);
        bt_device_data_destroy(dd);
        free_batch(&b);
        bt_network_destroy(net);
        bt_ref_net_free(&ref);
    }
    free(xb);
    free(yb);
    free(order);
    free(x);
    free(labels);
    bt_dataset_destroy(data);
}

static void test_initialisation_is_seeded_and_scaled(void **state)
{
    (void)state;
    bt_network_opts opts = bt_network_opts_default(); /* 784,30,10 */
    bt_network *a = NULL, *b = NULL, *c = NULL;
    BT_ASSERT_OK(bt_network_create(device, &opts, &a));
    BT_ASSERT_OK(bt_network_create(device, &opts, &b));
    opts.seed = 2;
    opts.init = BT_INIT_SCALED;
    BT_ASSERT_OK(bt_network_create(device, &opts, &c));
    size_t count = bt_network_param_count(a);
    assert_int_equal(count, 784 * 30 + 30 + 30 * 10 + 10);
    float *pa = malloc(count * sizeof *pa), *pb = malloc(count * sizeof *pb);
    float *pc = malloc(count * sizeof *pc);
    assert_true(pa && pb && pc);
    BT_ASSERT_OK(bt_network_get_params(a, pa, count));
    BT_ASSERT_OK(bt_network_get_params(b, pb, count));
    BT_ASSERT_OK(bt_network_get_params(c, pc, count));
    assert_memory_equal(pa, pb, count * sizeof *pa);
    /* Standard deviations of W_1 (784 x 30 draws): 1 for N(0,1), 1/28 for N(0,1/784). */
    double sum_a = 0, sum_c = 0;
    for (size_t i = 0; i < 784 * 30; ++i) {
        sum_a += (double)pa[i] * pa[i];
        sum_c += (double)pc[i] * pc[i];
    }
    assert_true(fabs(sqrt(sum_a / (784 * 30)) - 1.0) < 0.03);
    assert_true(fabs(sqrt(sum_c / (784 * 30)) * 28.0 - 1.0) < 0.03);
    assert_true(memcmp(pa, pc, count * sizeof *pa) != 0);
    free(pa);
    free(pb);
    free(pc);
    bt_network_destroy(a);
    bt_network_destroy(b);
    bt_network_destroy(c);
}

static void test_invalid_configurations_are_rejected(void **state)
{
    (void)state;
    bt_network_opts opts = bt_network_opts_default();
    BT_ASSERT_OK(bt_network_parse_sizes("784,256,128,10", &opts));
    assert_int_equal(opts.n_sizes, 4);
    assert_int_equal(opts.sizes[1], 256);
    static const char too_many[] = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18";
    static const char *bad_sizes[] = {"",       "784",      "784,,10",         "784,10,",
                                      "784,0,10", "a,b", "784,-3", "784,99999999999", too_many};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; ++i)
        assert_int_equal(bt_network_parse_sizes(bad_sizes[i], &opts), BT_ERR_INVALID_ARGUMENT);

    opts = bt_network_opts_default();
    opts.output = BT_ACT_SOFTMAX; /* with the quadratic cost */
    bt_network *net = (bt_network *)&opts;
    assert_int_equal(bt_network_create(device, &opts, &net), BT_ERR_INVALID_ARGUMENT);
    assert_null(net);
    assert_non_null(strstr(bt_last_error(), "log-likelihood with softmax"));
    opts.cost = BT_COST_LOG_LIKELIHOOD;
    opts.hidden = BT_ACT_SOFTMAX;
    assert_int_equal(bt_network_opts_validate(&opts), BT_ERR_INVALID_ARGUMENT);
    opts = bt_network_opts_default();
    opts.cost = BT_COST_LOG_LIKELIHOOD;
    assert_int_equal(bt_network_opts_validate(&opts), BT_ERR_INVALID_ARGUMENT);

    bt_activation act;
    bt_cost cost;
    bt_init init;
    BT_ASSERT_OK(bt_activation_parse("relu", &act));
    assert_int_equal(act, BT_ACT_RELU);
    BT_ASSERT_OK(bt_cost_parse("log-likelihood", &cost));
    BT_ASSERT_OK(bt_init_parse("scaled", &init));
    assert_int_equal(bt_activation_parse("gelu", &act), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "sigmoid tanh relu softmax"));
    assert_int_equal(bt_cost_parse("mse", &cost), BT_ERR_INVALID_ARGUMENT);
    bt_network_opts bad_engine = bt_network_opts_default();
    bad_engine.engine = (bt_engine)7;
    assert_int_equal(bt_network_opts_validate(&bad_engine), BT_ERR_INVALID_ARGUMENT);
    bt_engine parsed;
    assert_int_equal(bt_engine_parse("cuda", &parsed), BT_ERR_INVALID_ARGUMENT);
    BT_ASSERT_OK(bt_engine_parse("fused", &parsed));
    assert_int_equal(parsed, BT_ENGINE_FUSED);
    static const size_t sizes[] = {9, 5, 3};
    bt_network *small = make_net(sizes, 3, &combos[0], 4);
    static const bt_dense_tiles bad_tiles[] = {
        {3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  {4, 0, 1, 1, 1, 1, 1, 1, 1, 1},
        {4, 1, 1, 1, 9, 1, 1, 1, 1, 1},  {4, 1, 1, 1, 1, 1, 1, 0, 1, 1},
        {4, 1, 1, 1, 1, 1, 1, 1, 0, 1},  {4, 1, 1, 1, 1, 1, 1, 1, 17, 1},
        {4, 1, 1, 1, 1, 1, 1, 1, 2, 0},
        {16, 1, 1, 1, 8, 1, 8, 1, 16, 1} /* 8 x 16 = BT_DENSE_PAD: the widest allowed */,
    };
    size_t n_bad = sizeof bad_tiles / sizeof bad_tiles[0] - 1;
    for (size_t i = 0; i < n_bad; ++i)
        assert_int_equal(bt_network_use_tiles(small, &bad_tiles[i]), BT_ERR_INVALID_ARGUMENT);
    BT_ASSERT_OK(bt_network_use_tiles(small, &bad_tiles[n_bad]));
    bt_network_destroy(small);
}

static void test_bad_batches_are_rejected(void **state)
{
    (void)state;
    static const size_t sizes[] = {4, 3, 2};
    bt_network *net = make_net(sizes, 3, &combos[0], 4);
    float x[5 * 4] = {0}, grad[23];
    int32_t labels[5] = {0, 1, 0, 1, 0};
    int32_t bad_labels[1] = {2};
    bt_sgd sgd = {.eta = 1.0f, .lambda = 0.0f, .n_train = 10};
    assert_int_equal(bt_network_gradient(net, x, labels, 5, grad, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_network_gradient(net, x, labels, 0, grad, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_network_gradient(net, x, bad_labels, 1, grad, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "label 2"));
    sgd.eta = NAN;
    assert_int_equal(bt_network_train_step_host(net, x, labels, 2, &sgd), BT_ERR_INVALID_ARGUMENT);
    sgd.eta = 1.0f;
    sgd.lambda = 1.0f;
    sgd.n_train = 0;
    assert_int_equal(bt_network_train_step_host(net, x, labels, 2, &sgd), BT_ERR_INVALID_ARGUMENT);
    float wrong[3];
    assert_int_equal(bt_network_set_params(net, wrong, 3), BT_ERR_INVALID_ARGUMENT);

    bt_dataset *data = random_dataset(10, 5, 2); /* 5 features: not the 4 inputs */
    bt_device_data *dd = NULL;
    BT_ASSERT_OK(bt_device_data_create(device, data, &dd));
    bt_scheduler *sched = NULL;
    bt_scheduler_opts opts = bt_scheduler_opts_default();
    opts.batch_size = 2;
    assert_int_equal(bt_scheduler_create(net, dd, &opts, &sched), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "5 features"));
    bt_device_data_destroy(dd);
    bt_dataset_destroy(data);

    data = random_dataset(3, 4, 2);
    BT_ASSERT_OK(bt_device_data_create(device, data, &dd));
    opts.batch_size = 4; /* more than the 3 examples */
    assert_int_equal(bt_scheduler_create(net, dd, &opts, &sched), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "must be 1..3"));
    assert_null(sched);
    bt_device_data_destroy(dd);
    bt_dataset_destroy(data);
    bt_network_destroy(net);
}

/* A CPU device keeps buffers in this process's memory, and a network touches every page of its
 * buffers when it creates them: masked loads of CLBlast's padding kernels on untouched pages
 * were 10x slower (network.c). The inputs alone are 8192 x 784 floats, 25.7 MB; at least half
 * of that must become resident (memory freed by earlier tests may be reused, already resident;
 * without the fill nothing did). */
static void test_network_buffers_are_touched_at_creation(void **state)
{
    (void)state;
    if (bt_device_get_info(device)->type != BT_DEVICE_CPU || bt_test_resident_bytes() == 0) {
        fprintf(stderr, "skipped: device memory is not this process's memory\n");
        return;
    }
    static const size_t sizes[] = {784, 30, 10};
    const uint64_t inputs = 8192 * 784 * sizeof(float);
    uint64_t before = bt_test_resident_bytes();
    bt_network *net = make_net(sizes, 3, &combos[0], 8192);
    BT_ASSERT_OK(bt_device_finish(device));
    uint64_t grown = bt_test_resident_bytes() - before;
    if (grown < inputs / 2)
        fail_msg("creating the network made %llu bytes resident, expected at least %llu",
                 (unsigned long long)grown, (unsigned long long)(inputs / 2));
    bt_network_destroy(net);
}

/* The rule without a measurement: everything fused on a CPU; on a GPU the products of at most
 * 16 MFLOP (2 m n k) at m below 128, so small batches fused and the rest on CLBlast. */
static void test_auto_engine_rule(void **state)
{
    (void)state;
    static const size_t book[] = {784, 30, 10}, wide[] = {784, 256, 128, 10};
    for (size_t m = 1; m <= 8192; m *= 2)
        for (size_t l = 1; l <= 2; ++l)
            assert_true(bt_fused_rule(BT_DEVICE_CPU, BT_OP_UPDATE, book, l, m));
    for (size_t l = 1; l <= 2; ++l) {
        assert_true(bt_fused_rule(BT_DEVICE_GPU, BT_OP_FORWARD, book, l, 64));
        assert_false(bt_fused_rule(BT_DEVICE_GPU, BT_OP_FORWARD, book, l, 128));
        assert_false(bt_fused_rule(BT_DEVICE_GPU, BT_OP_UPDATE, book, l, 512));
    }
    assert_false(bt_fused_rule(BT_DEVICE_GPU, BT_OP_BACKWARD, book, 2, 8192));
    /* wide, m = 64: 25.7e6 for layer 1's forward, 4.2e6 for layer 2's, 0.2e6 for layer 3's */
    assert_false(bt_fused_rule(BT_DEVICE_GPU, BT_OP_FORWARD, wide, 1, 64));
    assert_true(bt_fused_rule(BT_DEVICE_GPU, BT_OP_FORWARD, wide, 2, 64));
    assert_true(bt_fused_rule(BT_DEVICE_GPU, BT_OP_UPDATE, wide, 3, 64));
    assert_true(bt_fused_rule(BT_DEVICE_ACCELERATOR, BT_OP_BACKWARD, wide, 2, 32));
    assert_true(bt_fused_rule(BT_DEVICE_GPU, BT_OP_FORWARD, wide, 1, 32)); /* 12.8e6 */
}

static int use_fused(void **state)
{
    (void)state;
    engine = BT_ENGINE_FUSED;
    tiles = NULL;
    return 0;
}

static int use_clblast(void **state)
{
    (void)state;
    engine = BT_ENGINE_CLBLAST;
    return 0;
}

static int use_mixed(void **state)
{
    (void)state;
    engine = BT_ENGINE_AUTO;
    mixed = true;
    return 0;
}

/* Later tests see no stored choices. */
static int drop_mixed(void **state)
{
    (void)state;
    mixed = false;
    bt_gemm_params empty;
    memset(&empty, 0, sizeof empty);
    empty.has_engines = true;
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &empty));
    return 0;
}

/* A stored choice decides over the rule, for that shape only; a stored table survives a
 * network's creation and is read at every step. */
static void test_stored_choice_decides(void **state)
{
    (void)state;
    static const size_t sizes[] = {6, 5, 3};
    engine = BT_ENGINE_AUTO;
    bt_network *net = make_net(sizes, 3, &combos[0], 4);
    static bt_gemm_params table;
    memset(&table, 0, sizeof table);
    table.has_engines = true;
    table.n_engines = 2;
    table.engines[0] = (bt_engine_choice){{BT_NO_TRANS, BT_TRANS, 4, 5, 6}, BT_ENGINE_CLBLAST};
    table.engines[1] = (bt_engine_choice){{BT_TRANS, BT_NO_TRANS, 3, 5, 4}, BT_ENGINE_FUSED};
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &table));
    bool rule = bt_fused_rule(bt_device_get_info(device)->type, BT_OP_FORWARD, sizes, 1, 4);
    assert_false(bt_network_uses_fused(net, BT_OP_FORWARD, 1, 4));
    assert_true(bt_network_uses_fused(net, BT_OP_UPDATE, 2, 4));
    assert_int_equal(bt_network_uses_fused(net, BT_OP_FORWARD, 1, 3), rule);
    table.engines[0].engine = BT_ENGINE_FUSED;
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &table));
    assert_true(bt_network_uses_fused(net, BT_OP_FORWARD, 1, 4));
    bt_network_destroy(net);
    drop_mixed(NULL);
}

#define BT_NETWORK_TESTS(setup_engine)                                                          \
    cmocka_unit_test_setup(test_gradients_match_the_reference, setup_engine),                   \
        cmocka_unit_test_setup(test_edge_shapes_match_the_reference, setup_engine),            \
        cmocka_unit_test_setup(test_saturated_outputs_keep_exact_costs, setup_engine),         \
        cmocka_unit_test_setup(test_gradients_match_finite_differences, setup_engine),         \
        cmocka_unit_test_setup(test_training_steps_match_the_reference, setup_engine),         \
        cmocka_unit_test_setup(test_evaluation_and_prediction_match_the_reference, setup_engine), \
        cmocka_unit_test_setup(test_scheduler_epoch_matches_reference_steps, setup_engine)

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        BT_NETWORK_TESTS(use_fused),
        BT_NETWORK_TESTS(use_clblast),
        cmocka_unit_test_setup_teardown(test_gradients_match_the_reference, use_mixed,
                                        drop_mixed),
        cmocka_unit_test_setup_teardown(test_training_steps_match_the_reference, use_mixed,
                                        drop_mixed),
        cmocka_unit_test_setup_teardown(test_scheduler_epoch_matches_reference_steps, use_mixed,
                                        drop_mixed),
        cmocka_unit_test(test_stored_choice_decides),
        cmocka_unit_test(test_auto_engine_rule),
        cmocka_unit_test(test_initialisation_is_seeded_and_scaled),
        cmocka_unit_test(test_invalid_configurations_are_rejected),
        cmocka_unit_test(test_bad_batches_are_rejected),
        cmocka_unit_test(test_network_buffers_are_touched_at_creation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
