/* The batch-size prediction (batchtune_predict.h): the step-time fit, m* = sqrt(B a / b), the
 * ranking by (1 + B/m) t(m), their bad input, and whole runs on a small learnable workload (a
 * target that is reached, one that is not, a candidate list that does not fit, a cancel).
 * Nothing here asserts a speed: step times are only checked to be positive and finite. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_predict.h"

#define FEATURES 16
#define CLASSES 10

static bt_device *device;
static bt_dataset *train_set, *validation_set;

/* 4x4 images whose class c lights pixel c over noise, one label in 20 redrawn (as test_tuner). */
static bt_dataset *make_toy(size_t count, bt_test_rng *rng)
{
    uint8_t *pixels = malloc(count * FEATURES), *labels = malloc(count);
    assert_true(pixels && labels);
    for (size_t i = 0; i < count; ++i) {
        uint8_t lit = (uint8_t)(bt_test_rng_next(rng) % CLASSES);
        for (size_t j = 0; j < FEATURES; ++j)
            pixels[i * FEATURES + j] = (uint8_t)(bt_test_rng_next(rng) % 40);
        pixels[i * FEATURES + lit] = 255;
        labels[i] = bt_test_rng_next(rng) % 20 == 0 ? (uint8_t)(bt_test_rng_next(rng) % CLASSES)
                                                     : lit;
    }
    bt_dataset *data = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, count, FEATURES, CLASSES, &data));
    free(pixels);
    free(labels);
    return data;
}

static int setup(void **state)
{
    (void)state;
    device = bt_test_open_device();
    bt_test_rng rng = bt_test_rng_for("predict-data");
    train_set = make_toy(3000, &rng);
    validation_set = make_toy(500, &rng);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_dataset_destroy(validation_set);
    bt_dataset_destroy(train_set);
    bt_device_destroy(device);
    return 0;
}

/* ---- the model on given numbers ------------------------------------------------------------ */

static void test_fit_recovers_a_line(void **state)
{
    (void)state;
    static const size_t m[] = {1, 4, 16, 64, 256};
    double t[5];
    for (size_t i = 0; i < 5; ++i)
        t[i] = 2e-4 + 3e-6 * (double)m[i];
    bt_step_fit fit;
    BT_ASSERT_OK(bt_step_fit_linear(m, t, 5, &fit));
    assert_true(fabs(fit.a - 2e-4) < 1e-12 && fabs(fit.b - 3e-6) < 1e-14);
    assert_true(fit.rms_relative < 1e-9 && fit.max_relative < 1e-9);
    /* A point off the line by 10% shows in the error. */
    t[2] *= 1.1;
    BT_ASSERT_OK(bt_step_fit_linear(m, t, 5, &fit));
    assert_true(fit.max_relative > 0.03 && fit.max_relative < 0.11);
    assert_true(fit.rms_relative > 0.01 && fit.rms_relative <= fit.max_relative);
}

/* m* = sqrt(B a / b), and the discrete argmin of (1 + B/m) t(m) agrees with brute force. */
static void test_optimum_and_ranking(void **state)
{
    (void)state;
    bt_step_fit fit = {1e-4, 1e-6, 0, 0};
    assert_true(fabs(bt_predict_optimal_m(100.0, &fit) - 100.0) < 1e-9);
    assert_true(fabs(bt_predict_optimal_m(400.0, &fit) - 200.0) < 1e-9);
    bt_step_fit flat = {1e-4, 0.0, 0, 0}, negative = {-1e-4, 1e-6, 0, 0};
    assert_true(isnan(bt_predict_optimal_m(100.0, &flat)));
    assert_true(isnan(bt_predict_optimal_m(100.0, &negative)));
    assert_true(isnan(bt_predict_optimal_m(NAN, &fit)));
    assert_true(isnan(bt_predict_optimal_m(0.0, &fit)));

    static const size_t m[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    double t[11], rel[11];
    size_t n = 11, best = 99;
    for (size_t i = 0; i < n; ++i)
        t[i] = fit.a + fit.b * (double)m[i];
    /* (1 + 100/64) 1.64e-4 = 4.20e-4, (1 + 100/128) 2.28e-4 = 4.06e-4, (1 + 100/256) 3.56e-4 =
     * 4.95e-4: m = 128. */
    BT_ASSERT_OK(bt_predict_rank(100.0, m, t, n, rel, &best));
    assert_int_equal(m[best], 128);
    assert_true(rel[best] == 1.0);
    for (size_t i = 0; i < n; ++i) {
        double cost = (1.0 + 100.0 / (double)m[i]) * t[i];
        assert_true(fabs(rel[i] - cost / ((1.0 + 100.0 / 128.0) * t[7])) < 1e-12);
        assert_true(i == best || rel[i] > 1.0);
    }
    /* Without noise the cheapest step wins; with a huge B the most examples per second. */
    BT_ASSERT_OK(bt_predict_rank(0.0, m, t, n, rel, &best));
    assert_int_equal(m[best], 1);
    BT_ASSERT_OK(bt_predict_rank(1e9, m, t, n, rel, &best));
    assert_int_equal(m[best], 1024);
    BT_ASSERT_OK(bt_predict_rank(INFINITY, m, t, n, rel, &best));
    assert_int_equal(m[best], 1024);
    assert_true(isnan(bt_predict_optimal_m(INFINITY, &fit)));
    /* A measured t(m) that is not linear: the table decides, not the fit. */
    t[6] = t[7] * 0.5; /* m = 64 as fast as half a step of 128 */
    BT_ASSERT_OK(bt_predict_rank(100.0, m, t, n, rel, &best));
    assert_int_equal(m[best], 64);
}

static void test_model_bad_input(void **state)
{
    (void)state;
    static const size_t m[] = {8, 8, 16};
    const double t[] = {1e-4, 1.1e-4, 2e-4}, bad[] = {1e-4, -1.0, 2e-4};
    bt_step_fit fit;
    double rel[3];
    size_t best;
    bt_test_assert_failure(bt_step_fit_linear(m, t, 1, &fit), BT_ERR_INVALID_ARGUMENT,
                           "step-time fit", "at least 2");
    bt_test_assert_failure(bt_step_fit_linear(m, t, 2, &fit), BT_ERR_INVALID_ARGUMENT,
                           "step-time fit", "two different batch sizes");
    bt_test_assert_failure(bt_step_fit_linear(m, bad, 3, &fit), BT_ERR_INVALID_ARGUMENT,
                           "step time -1", "above 0");
    bt_test_assert_failure(bt_predict_rank(NAN, m, t, 3, rel, &best), BT_ERR_INVALID_ARGUMENT,
                           "noise scale", ">= 0");
    bt_test_assert_failure(bt_predict_rank(10.0, m, bad, 3, rel, &best),
                           BT_ERR_INVALID_ARGUMENT, "step time", "above 0");
    bt_test_assert_failure(bt_predict_rank(10.0, m, t, 0, rel, &best), BT_ERR_INVALID_ARGUMENT,
                           "bt_predict_rank", "no candidates");
}

/* ---- whole runs ---------------------------------------------------------------------------- */

static bt_predict_opts toy_opts(void)
{
    bt_predict_opts o = bt_predict_opts_default();
    BT_ASSERT_OK(bt_network_parse_sizes("16,16,10", &o.tuner.network));
    o.tuner.network.seed = 7;
    o.tuner.n_batch_sizes = 3;
    o.tuner.batch_sizes[0] = 1;
    o.tuner.batch_sizes[1] = 8;
    o.tuner.batch_sizes[2] = 64;
    o.tuner.target_accuracy = 0.9;
    o.tuner.budget_seconds = 2.0;
    o.tuner.eval_interval_seconds = 0.05;
    o.step_seconds = 0.01;
    return o;
}

static void check_summary(const bt_predict_summary *s, const bt_predict_opts *o)
{
    assert_int_equal(s->reference_batch, 8); /* the median of 1, 8, 64 */
    assert_true(fabs(s->reference_eta - 3.0 * sqrt(0.8)) < 1e-12);
    assert_true(s->n_points >= 2);
    assert_true(s->points[0].train_seconds == 0.0 && s->points[0].samples == 0);
    for (size_t i = 1; i < s->n_points; ++i) {
        assert_true(s->points[i].train_seconds > s->points[i - 1].train_seconds);
        assert_true(s->points[i].samples > s->points[i - 1].samples);
        assert_true(s->points[i].trace > 0.0); /* mean of squares >= square of the mean */
    }
    assert_true(s->noise_scale == s->points[s->n_points - 1].noise_scale);
    /* Finite, or infinite when the mean gradient is lost in the noise (the toy task's accuracy
     * plateaus within 0.05 s). */
    assert_true(s->noise_scale > 0.0);
    assert_int_equal(s->n_candidates, 3);
    for (size_t i = 0; i < 3; ++i) {
        assert_int_equal(s->batch_sizes[i], o->tuner.batch_sizes[i]);
        assert_true(isfinite(s->step_seconds[i]) && s->step_seconds[i] > 0.0);
        assert_true(s->relative_time[i] >= 1.0);
    }
    assert_true(s->best < 3 && s->relative_time[s->best] == 1.0);
    assert_true(isfinite(s->fit.a) && isfinite(s->fit.b));
    /* m* is whatever the fit and B make it: only its formula is checked. */
    if (isfinite(s->optimal_m))
        assert_true(fabs(s->optimal_m - sqrt(s->noise_scale * s->fit.a / s->fit.b)) <
                    1e-9 * s->optimal_m);
    assert_true(s->total_seconds >= s->reference_seconds + s->timing_seconds);
    assert_false(s->interrupted);
}

static void test_run_reaches_the_target(void **state)
{
    (void)state;
    bt_predict_opts o = toy_opts();
    bt_predict_result *r = NULL;
    BT_ASSERT_OK(bt_predict_run(device, train_set, validation_set, &o, &r));
    const bt_predict_summary *s = bt_predict_result_summary(r);
    check_summary(s, &o);
    assert_true(s->reached);
    const bt_predict_point *last = &s->points[s->n_points - 1];
    assert_true(last->accuracy >= 0.9);
    assert_true(s->time_to_target > s->points[s->n_points - 2].train_seconds &&
                s->time_to_target <= last->train_seconds);
    bt_predict_result_destroy(r);
}

/* A target no run can reach: not an error; the prediction uses the last estimate and says the
 * target was not reached. */
static void test_unreached_target_gives_a_partial_prediction(void **state)
{
    (void)state;
    bt_predict_opts o = toy_opts();
    o.tuner.target_accuracy = 1.0;
    o.tuner.budget_seconds = 0.3;
    bt_predict_result *r = NULL;
    BT_ASSERT_OK(bt_predict_run(device, train_set, validation_set, &o, &r));
    const bt_predict_summary *s = bt_predict_result_summary(r);
    check_summary(s, &o);
    assert_false(s->reached);
    assert_true(isnan(s->time_to_target));
    assert_true(s->points[s->n_points - 1].train_seconds >= 0.3);
    bt_predict_result_destroy(r);
}

static void test_bad_options(void **state)
{
    (void)state;
    bt_predict_opts o = toy_opts();
    bt_predict_result *r = NULL;
    o.tuner.batch_sizes[2] = 5000; /* more than the 3,000 training images */
    bt_test_assert_failure(bt_predict_run(device, train_set, validation_set, &o, &r),
                           BT_ERR_INVALID_ARGUMENT, "batch size 5000", "3000 training examples");
    assert_null(r);
    o = toy_opts();
    o.reference_batch = 1;
    bt_test_assert_failure(bt_predict_opts_validate(&o, 0), BT_ERR_INVALID_ARGUMENT,
                           "reference batch size 1", "at least 2 examples");
    o = toy_opts();
    o.reference_batch = 4000;
    bt_test_assert_failure(bt_predict_opts_validate(&o, 3000), BT_ERR_INVALID_ARGUMENT,
                           "reference batch size 4000", "3000 training examples");
    o = toy_opts();
    o.noise_every = 0;
    bt_test_assert_failure(bt_predict_opts_validate(&o, 0), BT_ERR_INVALID_ARGUMENT,
                           "noise_every", "at least 1");
    o = toy_opts();
    o.step_seconds = 0.0;
    bt_test_assert_failure(bt_predict_opts_validate(&o, 0), BT_ERR_INVALID_ARGUMENT,
                           "step timing", "above 0");
    o = toy_opts();
    BT_ASSERT_OK(bt_network_parse_sizes("9,16,10", &o.tuner.network));
    bt_test_assert_failure(bt_predict_run(device, train_set, validation_set, &o, &r),
                           BT_ERR_INVALID_ARGUMENT, "16 pixels", "9 inputs");
    assert_null(r);
}

static bool cancel_after(void *user)
{
    int *polls = user;
    return ++*polls > 3;
}

static void test_cancel_keeps_a_partial_result(void **state)
{
    (void)state;
    bt_predict_opts o = toy_opts();
    int polls = 0;
    o.cancel = cancel_after;
    o.user = &polls;
    bt_predict_result *r = NULL;
    bt_status status = bt_predict_run(device, train_set, validation_set, &o, &r);
    bt_test_assert_failure(status, BT_ERR_INTERRUPTED, "prediction", "cancelled");
    assert_non_null(r);
    const bt_predict_summary *s = bt_predict_result_summary(r);
    assert_true(s->interrupted);
    assert_true(s->n_points >= 1);
    for (size_t i = 0; i < s->n_candidates; ++i)
        assert_true(isnan(s->step_seconds[i]));
    assert_int_equal(s->best, s->n_candidates);
    bt_predict_result_destroy(r);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_recovers_a_line),
        cmocka_unit_test(test_optimum_and_ranking),
        cmocka_unit_test(test_model_bad_input),
        cmocka_unit_test(test_run_reaches_the_target),
        cmocka_unit_test(test_unreached_target_gives_a_partial_prediction),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_cancel_keeps_a_partial_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
