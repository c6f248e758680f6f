/* Validates the double-precision CPU reference network (reference_network.c), which later serves
 * as the oracle for the OpenCL implementation: an oracle has to be checked by something
 * independent of it, here hand-computed forward passes and central finite differences.
 *
 * Tolerances:
 *  - gradient vs. central finite difference (h = 1e-6): |g - fd| <= 1e-6 + 1e-5 * |fd|.
 *    The truncation error of a central difference is O(h^2) ~ 1e-12 and its rounding error about
 *    eps * |C| / h ~ 1e-10 for costs of order 1, so the bound leaves a wide margin while any real
 *    mistake in a delta (a missing factor, a transposed index) is orders of magnitude larger.
 *    For ReLU the inputs and parameters are re-drawn until every hidden |z| >= 1e-3, so that no
 *    finite-difference step (which moves z by ~1e-6) crosses the kink and the check stays strict.
 *  - hand-computed forward values: 1e-12 relative (same formulas, different evaluation order).
 *  - bt_ref_step: 1e-12 relative to the magnitudes of the terms of the update.
 *
 * Data are random (seed from bt_test_seed(); set BT_TEST_SEED to replay a failure). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "reference_network.h"

#define FD_STEP 1e-6
#define FD_ABS_TOL 1e-6
#define FD_REL_TOL 1e-5
#define HAND_REL_TOL 1e-12
#define STEP_REL_TOL 1e-12
#define RELU_KINK_MARGIN 1e-3
#define MAX_REDRAWS 10000

static const size_t two_layer_sizes[] = {5, 4, 3};
static const size_t three_layer_sizes[] = {4, 3, 3, 2};

/* ---- helpers ---------------------------------------------------------------------------------- */

static void init_net(bt_ref_net *net, const size_t *sizes, size_t n_sizes,
                     bt_ref_activation hidden, bt_ref_activation output, bt_ref_cost cost)
{
    assert_int_equal(bt_ref_net_init(net, sizes, n_sizes, hidden, output, cost), 0);
}

static void *checked_calloc(size_t count, size_t size)
{
    void *p = calloc(count, size);
    assert_non_null(p);
    return p;
}

/* Each test draws from its own stream derived from the process seed, so tests do not depend on
 * the order in which they run and one BT_TEST_SEED replays all of them. */
static bt_test_rng rng_for(uint64_t test_id)
{
    return bt_test_rng_make(bt_test_seed() ^ (0x9e3779b97f4a7c15ull * (test_id + 1)));
}

static void fill_uniform(bt_test_rng *rng, double *dst, size_t count, double lo, double hi)
{
    for (size_t i = 0; i < count; ++i)
        dst[i] = bt_test_rng_uniform(rng, lo, hi);
}

/* Random params in [-1,1], inputs in [0,1] and labels; for ReLU re-drawn until no hidden
 * pre-activation is near the kink, so that finite differences are valid everywhere. */
static void draw_problem(bt_test_rng *rng, bt_ref_net *net, double *x, int *labels, size_t m)
{
    size_t n_in = net->sizes[0], n_out = net->sizes[net->layers];
    for (int attempt = 0; attempt < MAX_REDRAWS; ++attempt) {
        fill_uniform(rng, net->params, net->param_count, -1.0, 1.0);
        fill_uniform(rng, x, m * n_in, 0.0, 1.0);
        for (size_t i = 0; i < m; ++i)
            labels[i] = (int)(bt_test_rng_next(rng) % n_out);
        if (net->hidden != BT_REF_RELU ||
            bt_ref_min_abs_hidden_z(net, x, m) >= RELU_KINK_MARGIN)
            return;
    }
    fail_msg("could not draw a ReLU problem away from the kink in %d attempts", MAX_REDRAWS);
}

static double central_difference(bt_ref_net *net, size_t p, const double *x, const int *labels,
                                 size_t m)
{
    double saved = net->params[p];
    net->params[p] = saved + FD_STEP;
    double cost_plus = bt_ref_forward(net, x, labels, m, NULL);
    net->params[p] = saved - FD_STEP;
    double cost_minus = bt_ref_forward(net, x, labels, m, NULL);
    net->params[p] = saved;
    return (cost_plus - cost_minus) / (2.0 * FD_STEP);
}

static void assert_close_rel(double actual, double expected, double rel_tol, const char *what)
{
    if (!(fabs(actual - expected) <= rel_tol * fabs(expected)))
        fail_msg("%s: got %.17g, expected %.17g", what, actual, expected);
}

/* ---- construction and layout ------------------------------------------------------------------ */

static void test_init_accepts_only_valid_pairs(void **state)
{
    (void)state;
    const bt_ref_activation outputs[] = {BT_REF_SIGMOID, BT_REF_TANH, BT_REF_RELU, BT_REF_SOFTMAX};
    const bt_ref_cost costs[] = {BT_REF_QUADRATIC, BT_REF_CROSS_ENTROPY, BT_REF_LOG_LIKELIHOOD};
    int accepted = 0;
    for (size_t o = 0; o < 4; ++o) {
        for (size_t c = 0; c < 3; ++c) {
            bt_ref_net net;
            int rc = bt_ref_net_init(&net, two_layer_sizes, 3, BT_REF_TANH, outputs[o], costs[c]);
            int valid = bt_ref_pair_is_valid(outputs[o], costs[c]);
            assert_int_equal(rc, valid ? 0 : -1);
            accepted += rc == 0;
            bt_ref_net_free(&net);
        }
    }
    assert_int_equal(accepted, 3);
}

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    bt_ref_net net;
    const size_t with_zero[] = {3, 0, 2};
    assert_int_equal(bt_ref_net_init(&net, two_layer_sizes, 3, BT_REF_SOFTMAX, BT_REF_SOFTMAX,
                                     BT_REF_LOG_LIKELIHOOD),
                     -1);
    assert_int_equal(bt_ref_net_init(&net, two_layer_sizes, 1, BT_REF_SIGMOID, BT_REF_SIGMOID,
                                     BT_REF_QUADRATIC),
                     -1);
    assert_int_equal(bt_ref_net_init(&net, NULL, 3, BT_REF_SIGMOID, BT_REF_SIGMOID,
                                     BT_REF_QUADRATIC),
                     -1);
    assert_int_equal(
        bt_ref_net_init(&net, with_zero, 3, BT_REF_SIGMOID, BT_REF_SIGMOID, BT_REF_QUADRATIC), -1);
    bt_ref_net_free(&net); /* harmless after a failed init */
}

static void test_param_layout(void **state)
{
    (void)state;
    bt_ref_net net;
    init_net(&net, three_layer_sizes, 4, BT_REF_RELU, BT_REF_SOFTMAX, BT_REF_LOG_LIKELIHOOD);
    assert_int_equal(net.layers, 3);
    /* W1 3x4 | b1 3 | W2 3x3 | b2 3 | W3 2x3 | b3 2 */
    assert_int_equal(bt_ref_param_offset_w(&net, 1), 0);
    assert_int_equal(bt_ref_param_offset_b(&net, 1), 12);
    assert_int_equal(bt_ref_param_offset_w(&net, 2), 15);
    assert_int_equal(bt_ref_param_offset_b(&net, 2), 24);
    assert_int_equal(bt_ref_param_offset_w(&net, 3), 27);
    assert_int_equal(bt_ref_param_offset_b(&net, 3), 33);
    assert_int_equal(net.param_count, 35);
    for (size_t p = 0; p < net.param_count; ++p)
        assert_true(net.params[p] == 0.0);
    bt_ref_net_free(&net);
}

/* ---- forward pass against hand computation ---------------------------------------------------- */

/* One layer 2 -> 2, W = [[1,-2],[0.5,0.25]], b = [0.1,-0.3], x = [0.4,0.8], label 1:
 * z = [-1.1, 0.1]. */
static void set_single_layer_example(bt_ref_net *net)
{
    const double params[] = {1.0, -2.0, 0.5, 0.25, 0.1, -0.3};
    memcpy(net->params, params, sizeof params);
}

static void test_forward_sigmoid_costs(void **state)
{
    (void)state;
    const size_t sizes[] = {2, 2};
    const double x[] = {0.4, 0.8};
    const int label[] = {1};
    const double a0 = 1.0 / (1.0 + exp(1.1)), a1 = 1.0 / (1.0 + exp(-0.1));
    bt_ref_net net;
    double out[2];

    init_net(&net, sizes, 2, BT_REF_SIGMOID, BT_REF_SIGMOID, BT_REF_QUADRATIC);
    set_single_layer_example(&net);
    double quadratic = bt_ref_forward(&net, x, label, 1, out);
    assert_close_rel(out[0], a0, HAND_REL_TOL, "sigmoid output 0");
    assert_close_rel(out[1], a1, HAND_REL_TOL, "sigmoid output 1");
    assert_close_rel(quadratic, 0.5 * (a0 * a0 + (a1 - 1.0) * (a1 - 1.0)), HAND_REL_TOL,
                     "quadratic cost");
    bt_ref_net_free(&net);

    init_net(&net, sizes, 2, BT_REF_SIGMOID, BT_REF_SIGMOID, BT_REF_CROSS_ENTROPY);
    set_single_layer_example(&net);
    double cross_entropy = bt_ref_forward(&net, x, label, 1, NULL);
    assert_close_rel(cross_entropy, -(log(1.0 - a0) + log(a1)), HAND_REL_TOL,
                     "cross-entropy cost");
    bt_ref_net_free(&net);
}

static void test_forward_softmax_log_likelihood(void **state)
{
    (void)state;
    const size_t sizes[] = {2, 3};
    /* W = [[1,0],[0,1],[1,1]], b = [0,0.5,-1]; x = [0.3,0.6] -> z = [0.3, 1.1, -0.1] */
    const double params[] = {1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.5, -1.0};
    const double x[] = {0.3, 0.6};
    const int label[] = {2};
    const double sum = exp(0.3) + exp(1.1) + exp(-0.1);
    bt_ref_net net;
    double out[3];

    init_net(&net, sizes, 2, BT_REF_SIGMOID, BT_REF_SOFTMAX, BT_REF_LOG_LIKELIHOOD);
    memcpy(net.params, params, sizeof params);
    double cost = bt_ref_forward(&net, x, label, 1, out);
    assert_close_rel(out[0], exp(0.3) / sum, HAND_REL_TOL, "softmax output 0");
    assert_close_rel(out[1], exp(1.1) / sum, HAND_REL_TOL, "softmax output 1");
    assert_close_rel(out[2], exp(-0.1) / sum, HAND_REL_TOL, "softmax output 2");
    assert_close_rel(cost, -log(exp(-0.1) / sum), HAND_REL_TOL, "log-likelihood cost");

    /* Huge logits must not overflow: the max is subtracted first. */
    net.params[6] = 1000.0;
    net.params[7] = 1000.0;
    bt_ref_forward(&net, x, label, 1, out);
    assert_true(isfinite(out[0]) && isfinite(out[1]) && isfinite(out[2]));
    assert_close_rel(out[0] + out[1] + out[2], 1.0, HAND_REL_TOL, "softmax sum");
    bt_ref_net_free(&net);
}

/* 1 -> 2 -> 1 with W1 = [2,-1]^T, b1 = [0.1,0.2], W2 = [0.7,-1.5], b2 = 0.05, x = 0.5:
 * z1 = [1.1,-0.3]; the output is sigmoid(0.7 h0 - 1.5 h1 + 0.05) with h = f(z1). */
static void check_hidden_activation(bt_ref_activation hidden, double h0, double h1)
{
    const size_t sizes[] = {1, 2, 1};
    const double params[] = {2.0, -1.0, 0.1, 0.2, 0.7, -1.5, 0.05};
    const double x[] = {0.5};
    bt_ref_net net;
    double out[1];
    init_net(&net, sizes, 3, hidden, BT_REF_SIGMOID, BT_REF_QUADRATIC);
    memcpy(net.params, params, sizeof params);
    bt_ref_forward(&net, x, NULL, 1, out);
    double expected = 1.0 / (1.0 + exp(-(0.7 * h0 - 1.5 * h1 + 0.05)));
    assert_close_rel(out[0], expected, HAND_REL_TOL, "two-layer output");
    assert_close_rel(bt_ref_min_abs_hidden_z(&net, x, 1), 0.3, HAND_REL_TOL, "min |z|");
    bt_ref_net_free(&net);
}

static void test_forward_hidden_activations(void **state)
{
    (void)state;
    check_hidden_activation(BT_REF_SIGMOID, 1.0 / (1.0 + exp(-1.1)), 1.0 / (1.0 + exp(0.3)));
    check_hidden_activation(BT_REF_TANH, tanh(1.1), tanh(-0.3));
    check_hidden_activation(BT_REF_RELU, 1.1, 0.0);
}

static void test_invalid_input_gives_nan(void **state)
{
    (void)state;
    bt_ref_net net;
    const double x[] = {0.1, 0.2, 0.3, 0.4, 0.5};
    const int bad_label[] = {3};
    const int good_label[] = {0};
    init_net(&net, two_layer_sizes, 3, BT_REF_TANH, BT_REF_SIGMOID, BT_REF_QUADRATIC);
    double *grad = checked_calloc(net.param_count, sizeof *grad);
    assert_true(isnan(bt_ref_forward(&net, x, bad_label, 1, NULL)));
    assert_true(isnan(bt_ref_gradient(&net, x, good_label, 0, grad)));
    assert_true(isnan(grad[0]) && isnan(grad[net.param_count - 1]));
    bt_ref_step(&net, x, bad_label, 1, 0.1, 0.0, 1);
    assert_true(isnan(net.params[0]));
    free(grad);
    bt_ref_net_free(&net);
}

/* ---- gradient against finite differences ------------------------------------------------------ */

typedef struct fd_case {
    bt_ref_activation hidden, output;
    bt_ref_cost cost;
    uint64_t id; /* distinguishes the random streams of the cases */
} fd_case;

static void check_gradient_once(const fd_case *c, bt_test_rng *rng, const size_t *sizes,
                                size_t n_sizes, size_t m)
{
    bt_ref_net net;
    init_net(&net, sizes, n_sizes, c->hidden, c->output, c->cost);
    double *x = checked_calloc(m * sizes[0], sizeof *x);
    int *labels = checked_calloc(m, sizeof *labels);
    double *grad = checked_calloc(net.param_count, sizeof *grad);
    draw_problem(rng, &net, x, labels, m);

    double cost = bt_ref_gradient(&net, x, labels, m, grad);
    assert_close_rel(cost, bt_ref_forward(&net, x, labels, m, NULL), 1e-14,
                     "cost from gradient vs. forward");
    for (size_t p = 0; p < net.param_count; ++p) {
        double fd = central_difference(&net, p, x, labels, m);
        if (!(fabs(grad[p] - fd) <= FD_ABS_TOL + FD_REL_TOL * fabs(fd)))
            fail_msg("layers %zu, m %zu, param %zu: gradient %.12g, finite difference %.12g",
                     net.layers, m, p, grad[p], fd);
    }
    free(grad);
    free(labels);
    free(x);
    bt_ref_net_free(&net);
}

static void test_gradient_matches_finite_differences(void **state)
{
    const fd_case *c = *state;
    bt_test_rng rng = rng_for(c->id);
    const size_t batches[] = {1, 3};
    for (size_t b = 0; b < 2; ++b) {
        check_gradient_once(c, &rng, two_layer_sizes, 3, batches[b]);
        check_gradient_once(c, &rng, three_layer_sizes, 4, batches[b]);
    }
}

/* ---- SGD step --------------------------------------------------------------------------------- */

typedef struct step_problem {
    bt_ref_net net;
    double x[3 * 4];
    int labels[3];
} step_problem;

static void make_step_problem(step_problem *sp, uint64_t test_id)
{
    bt_test_rng rng = rng_for(test_id);
    init_net(&sp->net, three_layer_sizes, 4, BT_REF_TANH, BT_REF_SOFTMAX,
             BT_REF_LOG_LIKELIHOOD);
    draw_problem(&rng, &sp->net, sp->x, sp->labels, 3);
}

static double *copy_params(const bt_ref_net *net)
{
    double *copy = checked_calloc(net->param_count, sizeof *copy);
    memcpy(copy, net->params, net->param_count * sizeof *copy);
    return copy;
}

/* |actual - (decay*before - eta*grad)| within STEP_REL_TOL of the sizes of the two terms. */
static void assert_update(double actual, double decay, double before, double eta, double grad,
                          size_t p)
{
    double expected = decay * before - eta * grad;
    double scale = fabs(decay * before) + fabs(eta * grad);
    if (!(fabs(actual - expected) <= STEP_REL_TOL * scale))
        fail_msg("param %zu: got %.17g, expected %.17g", p, actual, expected);
}

static int is_bias(const bt_ref_net *net, size_t p)
{
    for (size_t l = 1; l <= net->layers; ++l) {
        size_t b_at = bt_ref_param_offset_b(net, l);
        if (p >= b_at && p < b_at + net->sizes[l])
            return 1;
    }
    return 0;
}

static void test_step_without_decay(void **state)
{
    (void)state;
    const double eta = 0.5;
    step_problem sp;
    make_step_problem(&sp, 1001);
    double *before = copy_params(&sp.net);
    double *grad = checked_calloc(sp.net.param_count, sizeof *grad);
    bt_ref_gradient(&sp.net, sp.x, sp.labels, 3, grad);

    bt_ref_step(&sp.net, sp.x, sp.labels, 3, eta, 0.0, 0);
    for (size_t p = 0; p < sp.net.param_count; ++p)
        assert_update(sp.net.params[p], 1.0, before[p], eta, grad[p], p);
    free(grad);
    free(before);
    bt_ref_net_free(&sp.net);
}

static void test_step_decays_weights_not_biases(void **state)
{
    (void)state;
    const double eta = 0.5, lambda = 5.0;
    const size_t n = 100;
    const double decay = 1.0 - eta * lambda / (double)n;
    step_problem decayed, plain;
    make_step_problem(&decayed, 1002);
    make_step_problem(&plain, 1002); /* same stream: identical params and data */
    double *before = copy_params(&decayed.net);
    double *grad = checked_calloc(decayed.net.param_count, sizeof *grad);
    bt_ref_gradient(&decayed.net, decayed.x, decayed.labels, 3, grad);

    bt_ref_step(&decayed.net, decayed.x, decayed.labels, 3, eta, lambda, n);
    bt_ref_step(&plain.net, plain.x, plain.labels, 3, eta, 0.0, n);
    for (size_t p = 0; p < decayed.net.param_count; ++p) {
        int bias = is_bias(&decayed.net, p);
        assert_update(decayed.net.params[p], bias ? 1.0 : decay, before[p], eta, grad[p], p);
        /* The two steps differ by exactly the decay term, and only for weights. */
        double difference = decayed.net.params[p] - plain.net.params[p];
        double expected = bias ? 0.0 : -(eta * lambda / (double)n) * before[p];
        if (!(fabs(difference - expected) <= STEP_REL_TOL * (fabs(plain.net.params[p]) + 1.0)))
            fail_msg("param %zu (%s): decayed - plain = %.17g, expected %.17g", p,
                     bias ? "bias" : "weight", difference, expected);
    }
    free(grad);
    free(before);
    bt_ref_net_free(&plain.net);
    bt_ref_net_free(&decayed.net);
}

/* ---- accuracy count --------------------------------------------------------------------------- */

static void test_correct_counts_argmax_with_low_index_ties(void **state)
{
    (void)state;
    /* Identity weights, zero biases: output = sigmoid(x), so the argmax is that of x itself. */
    const size_t sizes[] = {2, 2};
    const double x[] = {
        1.0, 0.0, /* argmax 0, label 0: correct */
        0.0, 1.0, /* argmax 1, label 0: wrong */
        0.5, 0.5, /* tie -> 0, label 0: correct */
        0.3, 0.3, /* tie -> 0, label 0: correct */
        0.7, 0.7, /* tie -> 0, label 1: wrong */
        0.2, 0.9, /* argmax 1, label 1: correct */
    }; /* ties going to the highest index instead would give 3, not 4 */
    const int labels[] = {0, 0, 0, 0, 1, 1};
    bt_ref_net net;
    init_net(&net, sizes, 2, BT_REF_SIGMOID, BT_REF_SIGMOID, BT_REF_QUADRATIC);
    net.params[bt_ref_param_offset_w(&net, 1) + 0] = 1.0; /* W[0][0] */
    net.params[bt_ref_param_offset_w(&net, 1) + 3] = 1.0; /* W[1][1] */
    assert_int_equal(bt_ref_correct(&net, x, labels, 6), 4);
    assert_int_equal(bt_ref_correct(&net, x, labels, 2), 1);
    bt_ref_net_free(&net);
}

/* ---- main ------------------------------------------------------------------------------------- */

#define FD_CASE(h, o, c, i) {BT_REF_##h, BT_REF_##o, BT_REF_##c, i}
static fd_case fd_cases[] = {
    FD_CASE(SIGMOID, SIGMOID, QUADRATIC, 0),
    FD_CASE(TANH, SIGMOID, QUADRATIC, 1),
    FD_CASE(RELU, SIGMOID, QUADRATIC, 2),
    FD_CASE(SIGMOID, SIGMOID, CROSS_ENTROPY, 3),
    FD_CASE(TANH, SIGMOID, CROSS_ENTROPY, 4),
    FD_CASE(RELU, SIGMOID, CROSS_ENTROPY, 5),
    FD_CASE(SIGMOID, SOFTMAX, LOG_LIKELIHOOD, 6),
    FD_CASE(TANH, SOFTMAX, LOG_LIKELIHOOD, 7),
    FD_CASE(RELU, SOFTMAX, LOG_LIKELIHOOD, 8),
};

#define FD_TEST(name, i) {name, test_gradient_matches_finite_differences, NULL, NULL, &fd_cases[i]}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_accepts_only_valid_pairs),
        cmocka_unit_test(test_init_rejects_bad_arguments),
        cmocka_unit_test(test_param_layout),
        cmocka_unit_test(test_forward_sigmoid_costs),
        cmocka_unit_test(test_forward_softmax_log_likelihood),
        cmocka_unit_test(test_forward_hidden_activations),
        cmocka_unit_test(test_invalid_input_gives_nan),
        FD_TEST("fd_sigmoid_quadratic_hidden_sigmoid", 0),
        FD_TEST("fd_sigmoid_quadratic_hidden_tanh", 1),
        FD_TEST("fd_sigmoid_quadratic_hidden_relu", 2),
        FD_TEST("fd_sigmoid_cross_entropy_hidden_sigmoid", 3),
        FD_TEST("fd_sigmoid_cross_entropy_hidden_tanh", 4),
        FD_TEST("fd_sigmoid_cross_entropy_hidden_relu", 5),
        FD_TEST("fd_softmax_log_likelihood_hidden_sigmoid", 6),
        FD_TEST("fd_softmax_log_likelihood_hidden_tanh", 7),
        FD_TEST("fd_softmax_log_likelihood_hidden_relu", 8),
        cmocka_unit_test(test_step_without_decay),
        cmocka_unit_test(test_step_decays_weights_not_biases),
        cmocka_unit_test(test_correct_counts_argmax_with_low_index_ties),
    };
    bt_test_seed(); /* print the seed before any output of the tests */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
