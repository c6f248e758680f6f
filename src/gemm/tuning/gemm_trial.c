/* One GEMM shape of the parameter search: random inputs on the device, a double-precision
 * reference on the host, the correctness check of a candidate and its timing.
 *
 * The check allows each element the classical forward-error bound of a length-k float dot
 * product, (k + 2) * FLT_EPSILON * (|alpha| sum_p |a_ip b_pj| + |beta c0_ij|): it holds for any
 * summation order, so it accepts every correct tiling and rejects wrong ones (a missed tile, a
 * wrong index) by far. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device/device_impl.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/rng.h"
#include "gemm/tuning/gemm_search_impl.h"

/* Calls per timed round: enough for ROUND_SECONDS. */
#define ROUND_SECONDS 0.01

/* splitmix64, mapped to [-1, 1). */
static float next_uniform(uint64_t *state)
{
    uint64_t z = bt_splitmix64(state);
    return (float)((double)(z >> 40) / (double)(1ull << 23) - 1.0);
}

static bt_status upload_random(bt_device *dev, size_t count, uint64_t *rng, float **host,
                               bt_buffer **buf)
{
    *host = malloc(count * sizeof **host);
    if (!*host)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for GEMM test data");
    for (size_t i = 0; i < count; ++i)
        (*host)[i] = next_uniform(rng);
    BT_TRY(bt_buffer_create(dev, count * sizeof(float), buf));
    return bt_buffer_write(*buf, 0, *host, count * sizeof(float));
}

/* Element (r, c) of op(X) for a packed row-major X with leading dimension ld. */
static double element(const float *x, size_t ld, bt_transpose t, size_t r, size_t c)
{
    return t == BT_TRANS ? x[c * ld + r] : x[r * ld + c];
}

static void compute_reference(bt_gemm_trial *t, const float *a, const float *b, const float *c0)
{
    const bt_gemm_shape *s = &t->s.shape;
    for (size_t i = 0; i < s->m; ++i) {
        for (size_t j = 0; j < s->n; ++j) {
            double sum = 0.0, magnitude = 0.0;
            for (size_t p = 0; p < s->k; ++p) {
                double x = element(a, t->lda, s->trans_a, i, p) *
                           element(b, t->ldb, s->trans_b, p, j);
                sum += x;
                magnitude += fabs(x);
            }
            double c = c0[i * s->n + j];
            t->expect[i * s->n + j] = (float)(t->alpha * sum + t->beta * c);
            t->bound[i * s->n + j] =
                (float)((double)(s->k + 2) * FLT_EPSILON *
                        (fabs(t->alpha) * magnitude + fabs(t->beta) * fabs(c)));
        }
    }
}

bt_status bt_gemm_trial_create(bt_device *dev, const bt_gemm_tune_shape *shape, uint64_t seed,
                               bt_gemm_trial *t)
{
    memset(t, 0, sizeof *t);
    t->s = *shape;
    const bt_gemm_shape *s = &shape->shape;
    t->lda = s->trans_a == BT_TRANS ? s->m : s->k;
    t->ldb = s->trans_b == BT_TRANS ? s->k : s->n;
    t->alpha = 0.75f;
    t->beta = shape->accumulate ? 0.5f : 0.0f;
    uint64_t rng = seed;
    float *a = NULL, *b = NULL, *c0 = NULL;
    size_t cn = s->m * s->n;
    bt_status status = upload_random(dev, s->m * s->k, &rng, &a, &t->a);
    if (status == BT_OK)
        status = upload_random(dev, s->k * s->n, &rng, &b, &t->b);
    if (status == BT_OK)
        status = upload_random(dev, cn, &rng, &c0, &t->c0);
    if (status == BT_OK)
        status = bt_buffer_create(dev, cn * sizeof(float), &t->c);
    if (status == BT_OK) {
        t->expect = malloc(cn * sizeof *t->expect);
        t->bound = malloc(cn * sizeof *t->bound);
        t->got = malloc(cn * sizeof *t->got);
        if (!t->expect || !t->bound || !t->got)
            status = bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for GEMM test data");
    }
    if (status == BT_OK)
        compute_reference(t, a, b, c0);
    free(a);
    free(b);
    free(c0);
    if (status != BT_OK)
        bt_gemm_trial_destroy(t);
    return status;
}

void bt_gemm_trial_destroy(bt_gemm_trial *t)
{
    bt_buffer_destroy(t->a);
    bt_buffer_destroy(t->b);
    bt_buffer_destroy(t->c);
    bt_buffer_destroy(t->c0);
    free(t->expect);
    free(t->bound);
    free(t->got);
    memset(t, 0, sizeof *t);
}

static bt_status run(bt_device *dev, bt_gemm_trial *t)
{
    const bt_gemm_shape *s = &t->s.shape;
    return bt_gemm(dev, s->trans_a, s->trans_b, s->m, s->n, s->k, t->alpha, t->a, 0, t->lda,
                   t->b, 0, t->ldb, t->beta, t->c, 0, s->n, NULL);
}

bt_status bt_gemm_trial_check(bt_device *dev, bt_gemm_trial *t)
{
    const bt_gemm_shape *s = &t->s.shape;
    size_t cn = s->m * s->n;
    BT_CL_TRY(clEnqueueCopyBuffer(dev->queue, bt_buffer_cl_mem(t->c0), bt_buffer_cl_mem(t->c), 0,
                                  0, cn * sizeof(float), 0, NULL, NULL),
              "clEnqueueCopyBuffer (resetting C)");
    BT_TRY(run(dev, t));
    BT_TRY(bt_buffer_read(t->c, 0, t->got, cn * sizeof(float)));
    for (size_t i = 0; i < cn; ++i) {
        float error = fabsf(t->got[i] - t->expect[i]);
        if (!(error <= t->bound[i])) /* also catches NaN */
            return bt_fail(BT_ERR_CLBLAST,
                           "wrong result on %c%c m=%zu n=%zu k=%zu: C[%zu][%zu] = %.7g, "
                           "reference %.7g (allowed error %.3g)",
                           s->trans_a == BT_TRANS ? 'T' : 'N', s->trans_b == BT_TRANS ? 'T' : 'N',
                           s->m, s->n, s->k, i / s->n, i % s->n, (double)t->got[i],
                           (double)t->expect[i], (double)t->bound[i]);
    }
    return BT_OK;
}

/* Wall-clock seconds per call over `calls` calls enqueued back to back. */
static bt_status time_calls(bt_device *dev, bt_gemm_trial *t, size_t calls, double *seconds)
{
    double start = bt_clock_seconds();
    for (size_t i = 0; i < calls; ++i)
        BT_TRY(run(dev, t));
    BT_TRY(bt_device_finish(dev));
    *seconds = (bt_clock_seconds() - start) / (double)calls;
    return BT_OK;
}

size_t bt_gemm_runs_per_round(double one, double round_seconds)
{
    double wanted = one > 0.0 ? round_seconds / one : BT_GEMM_MAX_ROUND_RUNS;
    return wanted < 1.0                      ? 1
           : wanted > BT_GEMM_MAX_ROUND_RUNS ? BT_GEMM_MAX_ROUND_RUNS
                                             : (size_t)wanted;
}

bt_status bt_gemm_sequence_run(bt_device *dev, bt_gemm_trial *const *trials, size_t n,
                               size_t runs)
{
    for (size_t r = 0; r < runs; ++r)
        for (size_t i = 0; i < n; ++i)
            BT_TRY(run(dev, trials[i]));
    return bt_device_finish(dev);
}

bt_status bt_gemm_trial_calibrate(bt_device *dev, bt_gemm_trial *t)
{
    double one = 0.0;
    BT_TRY(time_calls(dev, t, 1, &one));
    t->calls = bt_gemm_runs_per_round(one, ROUND_SECONDS);
    return BT_OK;
}

bt_status bt_gemm_trial_round(bt_device *dev, bt_gemm_trial *t, double *seconds)
{
    return time_calls(dev, t, t->calls ? t->calls : 1, seconds);
}
