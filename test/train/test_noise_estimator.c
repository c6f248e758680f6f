/* The noise-scale estimator (batchtune_noise.h) on a problem with a known answer, the A.1
 * formulas on a hand-computed sample, the moving average, and bad input. No device.
 *
 * Known answer: linear least squares, loss 0.5 (w.x - y)^2 with x ~ N(0, I_d) and
 * y = w*.x + e, e ~ N(0, s^2). With u = w - w*, the per-example gradient is g = (u.x - e) x, so
 *   G = E g = u,                      |G|^2 = |u|^2
 *   E|g|^2 = (d + 2)|u|^2 + s^2 d     (Gaussian fourth moments)
 *   tr(Sigma) = E|g|^2 - |G|^2 = (d + 1)|u|^2 + s^2 d,   B = tr(Sigma) / |G|^2.
 * With d = 10, |u|^2 = 1, s = 1: |G|^2 = 1, tr(Sigma) = 21, B = 21. 4,000 samples of 32 examples
 * (b = 1 and B_big = 32, as on the device; and b = 4), decay 0.999: each estimate within 10%
 * (its standard error here is about 2%). */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_noise.h"

#define D 10
#define M 32

static double normal(bt_test_rng *rng)
{
    double u1 = bt_test_rng_uniform(rng, 1e-300, 1.0), u2 = bt_test_rng_uniform(rng, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* One batch of M per-example gradients of the least-squares problem, reduced to a sample with
 * b = `small` (the mean over the M/small groups of |mean of the group|^2) and B_big = M. */
static bt_noise_sample least_squares_sample(bt_test_rng *rng, const double *u, double sigma,
                                            size_t small)
{
    double g[M][D], mean[D] = {0};
    for (size_t i = 0; i < M; ++i) {
        double x[D], ux = 0.0;
        for (size_t k = 0; k < D; ++k) {
            x[k] = normal(rng);
            ux += u[k] * x[k];
        }
        double r = ux - sigma * normal(rng);
        for (size_t k = 0; k < D; ++k) {
            g[i][k] = r * x[k];
            mean[k] += g[i][k] / M;
        }
    }
    double small_sq = 0.0, big_sq = 0.0;
    for (size_t k = 0; k < D; ++k)
        big_sq += mean[k] * mean[k];
    for (size_t start = 0; start < M; start += small) {
        double part[D] = {0};
        for (size_t i = start; i < start + small; ++i)
            for (size_t k = 0; k < D; ++k)
                part[k] += g[i][k] / (double)small;
        for (size_t k = 0; k < D; ++k)
            small_sq += part[k] * part[k] / (double)(M / small);
    }
    return (bt_noise_sample){small, small_sq, M, big_sq};
}

static void check_known_answer(size_t small)
{
    bt_test_rng rng = BT_TEST_RNG();
    double u[D];
    double norm = 0.0;
    for (size_t k = 0; k < D; ++k) {
        u[k] = normal(&rng);
        norm += u[k] * u[k];
    }
    for (size_t k = 0; k < D; ++k)
        u[k] /= sqrt(norm); /* |u|^2 = 1 */
    bt_noise_opts opts = bt_noise_opts_default();
    opts.decay = 0.999;
    bt_noise *noise = NULL;
    BT_ASSERT_OK(bt_noise_create(NULL, &opts, &noise));
    for (int i = 0; i < 4000; ++i) {
        bt_noise_sample s = least_squares_sample(&rng, u, 1.0, small);
        BT_ASSERT_OK(bt_noise_add(noise, &s));
    }
    bt_noise_estimate e = bt_noise_get(noise);
    assert_int_equal(e.samples, 4000);
    double want_g2 = 1.0, want_tr = (D + 1) + (double)D, want_b = want_tr / want_g2;
    if (!(fabs(e.gradient_sq - want_g2) <= 0.1 * want_g2 && fabs(e.trace - want_tr) <= 0.1 * want_tr &&
          fabs(e.noise_scale - want_b) <= 0.1 * want_b))
        fail_msg("b = %zu: |G|^2 %.4g (want %g), tr %.4g (want %g), B %.4g (want %g)", small,
                 e.gradient_sq, want_g2, e.trace, want_tr, e.noise_scale, want_b);
    bt_noise_destroy(noise);
}

static void test_least_squares_known_answer_b1(void **state)
{
    (void)state;
    check_known_answer(1);
}

static void test_least_squares_known_answer_b4(void **state)
{
    (void)state;
    check_known_answer(4);
}

/* One sample, decay 0 (only the last sample counts): the A.1 formulas exactly.
 * b = 1, |G_1|^2 = 5, B = 4, |G_4|^2 = 2: |G|^2 = (4*2 - 5)/3 = 1, tr = (5 - 2)/(1 - 1/4) = 4. */
static void test_formulas_on_one_sample(void **state)
{
    (void)state;
    bt_noise_opts opts = {0.0};
    bt_noise *noise = NULL;
    BT_ASSERT_OK(bt_noise_create(NULL, &opts, &noise));
    bt_noise_estimate e = bt_noise_get(noise);
    assert_int_equal(e.samples, 0);
    assert_true(isnan(e.noise_scale));
    bt_noise_sample s = {1, 5.0, 4, 2.0};
    BT_ASSERT_OK(bt_noise_add(noise, &s));
    e = bt_noise_get(noise);
    assert_true(fabs(e.gradient_sq - 1.0) < 1e-12);
    assert_true(fabs(e.trace - 4.0) < 1e-12);
    assert_true(fabs(e.noise_scale - 4.0) < 1e-12);
    /* A sample whose big-batch norm is below its share of noise: |G|^2 <= 0, B unbounded. */
    bt_noise_sample lost = {1, 5.0, 4, 1.0};
    BT_ASSERT_OK(bt_noise_add(noise, &lost));
    e = bt_noise_get(noise);
    assert_true(e.gradient_sq < 0.0);
    assert_true(isinf(e.noise_scale) && e.noise_scale > 0.0);
    bt_noise_reset(noise);
    assert_int_equal(bt_noise_get(noise).samples, 0);
    bt_noise_destroy(noise);
}

/* The averages are of numerator and denominator apart, corrected for their start: two samples
 * with decay 0.5 weigh 1/3 and 2/3. */
static void test_moving_average_is_of_the_parts(void **state)
{
    (void)state;
    bt_noise_opts opts = {0.5};
    bt_noise *noise = NULL;
    BT_ASSERT_OK(bt_noise_create(NULL, &opts, &noise));
    bt_noise_sample a = {1, 5.0, 4, 2.0};  /* |G|^2 1, tr 4 */
    bt_noise_sample b = {1, 10.0, 2, 6.0}; /* |G|^2 (12 - 10)/1 = 2, tr (10 - 6)/(1/2) = 8 */
    BT_ASSERT_OK(bt_noise_add(noise, &a));
    BT_ASSERT_OK(bt_noise_add(noise, &b));
    bt_noise_estimate e = bt_noise_get(noise);
    double g2 = (1.0 + 2.0 * 2.0) / 3.0, tr = (4.0 + 2.0 * 8.0) / 3.0;
    assert_true(fabs(e.gradient_sq - g2) < 1e-12);
    assert_true(fabs(e.trace - tr) < 1e-12);
    assert_true(fabs(e.noise_scale - tr / g2) < 1e-12);
    bt_noise_destroy(noise);
}

static void test_bad_input(void **state)
{
    (void)state;
    bt_noise *noise = NULL;
    bt_noise_opts opts = {1.0};
    bt_test_assert_failure(bt_noise_create(NULL, &opts, &noise), BT_ERR_INVALID_ARGUMENT,
                           "decay", "[0, 1)");
    assert_null(noise);
    BT_ASSERT_OK(bt_noise_create(NULL, NULL, &noise));
    bt_noise_sample same = {4, 1.0, 4, 1.0}, nan = {1, NAN, 4, 1.0}, neg = {1, 1.0, 4, -1.0};
    bt_test_assert_failure(bt_noise_add(noise, &same), BT_ERR_INVALID_ARGUMENT, "noise sample",
                           "1 <= b < B");
    bt_test_assert_failure(bt_noise_add(noise, &nan), BT_ERR_INVALID_ARGUMENT, "noise sample",
                           "finite");
    bt_test_assert_failure(bt_noise_add(noise, &neg), BT_ERR_INVALID_ARGUMENT, "noise sample",
                           ">= 0");
    float x[4] = {0};
    int32_t y[1] = {0};
    bt_test_assert_failure(bt_noise_update_host(noise, x, y, 2, NULL), BT_ERR_INVALID_ARGUMENT,
                           "bt_noise_update_host", "no network");
    assert_int_equal(bt_noise_get(noise).samples, 0);
    bt_noise_destroy(noise);
    bt_noise_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_least_squares_known_answer_b1),
        cmocka_unit_test(test_least_squares_known_answer_b4),
        cmocka_unit_test(test_formulas_on_one_sample),
        cmocka_unit_test(test_moving_average_is_of_the_parts),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
