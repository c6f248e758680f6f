/* GEMM through CLBlast against a double-precision CPU reference: all four transpose combinations,
 * odd shapes, offsets and leading dimensions larger than the matrix, fresh random inputs.
 *
 * Tolerance: the classical forward-error bound of a length-k dot product in float,
 *   |c - c_ref| <= (k + 2) * FLT_EPSILON * (|alpha| * sum_p |a_ip| |b_pj| + |beta| |c0_ij|),
 * checked for every element. It holds for any summation order, so it does not depend on how
 * CLBlast tiles the product. The largest observed error relative to that bound is printed. The
 * cases run again with non-default GEMM parameters applied (direct, indirect and both paths). */
#include "test_support.h"

#include "batchtune_gemm_tuning.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bt_device *device;
static bt_test_rng rng;
static double worst_ratio; /* observed error / bound, over all checks */

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
    fprintf(stderr, "largest GEMM error relative to its bound: %.3g\n", worst_ratio);
    bt_device_destroy(device);
    return 0;
}

typedef struct gemm_case {
    bt_transpose ta, tb;
    size_t m, n, k;
    size_t a_off, b_off, c_off; /* in floats */
    size_t lda_pad, ldb_pad, ldc_pad; /* leading dimension beyond the stored column count */
} gemm_case;

/* Stored rows and columns of operand A (m x k after op) or B (k x n after op). */
static void stored_shape(bt_transpose t, size_t rows, size_t cols, size_t *srows, size_t *scols)
{
    *srows = t == BT_TRANS ? cols : rows;
    *scols = t == BT_TRANS ? rows : cols;
}

static float *host_matrix(size_t rows, size_t ld, size_t offset, size_t *total)
{
    *total = offset + rows * ld;
    float *p = malloc(*total * sizeof *p);
    assert_non_null(p);
    bt_test_fill_uniform(&rng, p, *total, -1.0f, 1.0f);
    return p;
}

static bt_buffer *upload(const float *host, size_t count)
{
    bt_buffer *buf = NULL;
    BT_ASSERT_OK(bt_buffer_create(device, count * sizeof(float), &buf));
    BT_ASSERT_OK(bt_buffer_write(buf, 0, host, count * sizeof(float)));
    return buf;
}

static double element(const float *p, size_t off, size_t ld, bt_transpose t, size_t r, size_t c)
{
    return t == BT_TRANS ? p[off + c * ld + r] : p[off + r * ld + c];
}

static void run_case(const gemm_case *g)
{
    size_t a_rows, a_cols, b_rows, b_cols, na, nb, nc;
    stored_shape(g->ta, g->m, g->k, &a_rows, &a_cols);
    stored_shape(g->tb, g->k, g->n, &b_rows, &b_cols);
    size_t lda = a_cols + g->lda_pad, ldb = b_cols + g->ldb_pad, ldc = g->n + g->ldc_pad;
    float *a = host_matrix(a_rows, lda, g->a_off, &na);
    float *b = host_matrix(b_rows, ldb, g->b_off, &nb);
    float *c0 = host_matrix(g->m, ldc, g->c_off, &nc);
    float *c = malloc(nc * sizeof *c);
    assert_non_null(c);
    float alpha = (float)bt_test_rng_uniform(&rng, -2.0, 2.0);
    float beta = (float)bt_test_rng_uniform(&rng, -1.0, 1.0);

    bt_buffer *da = upload(a, na), *db = upload(b, nb), *dc = upload(c0, nc);
    cl_event event = NULL;
    BT_ASSERT_OK(bt_gemm(device, g->ta, g->tb, g->m, g->n, g->k, alpha, da, g->a_off, lda, db,
                         g->b_off, ldb, beta, dc, g->c_off, ldc, &event));
    assert_non_null(event);
    assert_int_equal(clWaitForEvents(1, &event), CL_SUCCESS);
    cl_ulong start = 0, end = 0;
    assert_int_equal(clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start,
                                             &start, NULL),
                     CL_SUCCESS);
    assert_int_equal(clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end,
                                             NULL),
                     CL_SUCCESS);
    assert_true(end >= start);
    clReleaseEvent(event);
    BT_ASSERT_OK(bt_buffer_read(dc, 0, c, nc * sizeof(float)));

    for (size_t i = 0; i < g->m; ++i) {
        for (size_t j = 0; j < g->n; ++j) {
            double sum = 0.0, magnitude = 0.0;
            for (size_t p = 0; p < g->k; ++p) {
                double x = element(a, g->a_off, lda, g->ta, i, p);
                double y = element(b, g->b_off, ldb, g->tb, p, j);
                sum += x * y;
                magnitude += fabs(x * y);
            }
            size_t at = g->c_off + i * ldc + j;
            double expect = alpha * sum + beta * (double)c0[at];
            double bound = (double)(g->k + 2) * FLT_EPSILON *
                           (fabs(alpha) * magnitude + fabs(beta) * fabs((double)c0[at]));
            double error = fabs((double)c[at] - expect);
            if (error > bound)
                fail_msg("%c%c m=%zu n=%zu k=%zu: C[%zu][%zu] = %.9g, reference %.9g, error %.3g > "
                         "bound %.3g",
                         g->ta == BT_TRANS ? 'T' : 'N', g->tb == BT_TRANS ? 'T' : 'N', g->m, g->n,
                         g->k, i, j, (double)c[at], expect, error, bound);
            if (bound > 0 && error / bound > worst_ratio)
                worst_ratio = error / bound;
        }
    }
    /* Everything outside the m x n window (offset, padding columns) is untouched. */
    for (size_t at = 0; at < nc; ++at) {
        bool inside = at >= g->c_off && (at - g->c_off) % ldc < g->n;
        if (!inside && c[at] != c0[at])
            fail_msg("GEMM wrote outside C's window at float %zu", at);
    }
    bt_buffer_destroy(da);
    bt_buffer_destroy(db);
    bt_buffer_destroy(dc);
    free(a);
    free(b);
    free(c0);
    free(c);
}

static void run_all_transposes(size_t m, size_t n, size_t k, size_t offset, size_t pad)
{
    for (int t = 0; t < 4; ++t) {
        gemm_case g = {(t & 1) ? BT_TRANS : BT_NO_TRANS, (t & 2) ? BT_TRANS : BT_NO_TRANS, m, n,
                       k, offset, offset * 2, offset * 3, pad, pad * 2, pad + 1};
        if (!pad)
            g.ldc_pad = 0;
        run_case(&g);
    }
}

static void test_warmup_compiles_the_needed_kernels(void **state)
{
    (void)state;
    bt_gemm_shape shapes[4];
    for (int t = 0; t < 4; ++t)
        shapes[t] = (bt_gemm_shape){(t & 1) ? BT_TRANS : BT_NO_TRANS,
                                    (t & 2) ? BT_TRANS : BT_NO_TRANS, 7, 13, 31};
    BT_ASSERT_OK(bt_gemm_warmup(device, shapes, 4));
    assert_int_equal(bt_device_allocated_bytes(device), 0); /* scratch buffers released */
}

static void test_tiny_shapes(void **state)
{
    (void)state;
    run_all_transposes(1, 1, 1, 0, 0);
    run_all_transposes(1, 17, 1, 0, 0);
    run_all_transposes(1, 1, 29, 0, 0);
}

static void test_odd_shapes(void **state)
{
    (void)state;
    run_all_transposes(7, 13, 31, 0, 0);
    run_all_transposes(13, 7, 5, 0, 0);
}

static void test_network_shapes(void **state)
{
    (void)state;
    run_all_transposes(784, 30, 10, 0, 0);
    run_all_transposes(30, 784, 257, 0, 0);
    run_all_transposes(10, 30, 64, 0, 0);
}

static void test_offsets_and_leading_dimensions(void **state)
{
    (void)state;
    run_all_transposes(7, 13, 31, 5, 3);
    run_all_transposes(33, 9, 65, 17, 11);
    run_all_transposes(1, 1, 1, 1, 1);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    bt_buffer *a = NULL, *c = NULL;
    BT_ASSERT_OK(bt_buffer_create(device, 16 * sizeof(float), &a));
    BT_ASSERT_OK(bt_buffer_create(device, 16 * sizeof(float), &c));
    /* Leading dimension smaller than the row. */
    assert_int_equal(bt_gemm(device, BT_NO_TRANS, BT_NO_TRANS, 4, 4, 4, 1, a, 0, 4, a, 0, 4, 0, c,
                             0, 2, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "CLBlastInvalidLeadDimC"));
    /* C too small for 8 x 8. */
    assert_int_equal(bt_gemm(device, BT_NO_TRANS, BT_NO_TRANS, 8, 8, 1, 1, a, 0, 1, a, 0, 8, 0, c,
                             0, 8, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "InsufficientMemoryC"));
    assert_int_equal(bt_gemm(device, BT_NO_TRANS, BT_NO_TRANS, 0, 4, 4, 1, a, 0, 4, a, 0, 4, 0, c,
                             0, 4, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_gemm(device, BT_NO_TRANS, BT_NO_TRANS, 4, 4, 4, 1, NULL, 0, 4, a, 0, 4, 0,
                             c, 0, 4, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    BT_ASSERT_OK(bt_device_finish(device));
    bt_buffer_destroy(a);
    bt_buffer_destroy(c);
}

/* A valid parameter set unlike CLBlast's defaults, with the split at 20^3 multiply-adds. */
static bt_gemm_params tuned_params(void)
{
    bt_gemm_params p;
    memset(&p, 0, sizeof p);
    p.has_direct = true;
    static const unsigned direct[BT_GEMM_DIRECT_COUNT] = {
        [BT_GEMM_DIRECT_WGD] = 32,   [BT_GEMM_DIRECT_MDIMCD] = 8, [BT_GEMM_DIRECT_NDIMCD] = 4,
        [BT_GEMM_DIRECT_MDIMAD] = 4, [BT_GEMM_DIRECT_NDIMBD] = 8, [BT_GEMM_DIRECT_KWID] = 8,
        [BT_GEMM_DIRECT_VWMD] = 4,   [BT_GEMM_DIRECT_VWND] = 2,   [BT_GEMM_DIRECT_PADA] = 1,
        [BT_GEMM_DIRECT_PADB] = 0};
    memcpy(p.direct, direct, sizeof direct);
    p.has_indirect = true;
    static const unsigned indirect[BT_GEMM_INDIRECT_COUNT] = {
        [BT_GEMM_INDIRECT_GEMMK] = 0, [BT_GEMM_INDIRECT_KREG] = 1,  [BT_GEMM_INDIRECT_MWG] = 64,
        [BT_GEMM_INDIRECT_NWG] = 32,  [BT_GEMM_INDIRECT_KWG] = 32,  [BT_GEMM_INDIRECT_MDIMC] = 8,
        [BT_GEMM_INDIRECT_NDIMC] = 8, [BT_GEMM_INDIRECT_MDIMA] = 16, [BT_GEMM_INDIRECT_NDIMB] = 8,
        [BT_GEMM_INDIRECT_KWI] = 8,   [BT_GEMM_INDIRECT_VWM] = 4,   [BT_GEMM_INDIRECT_VWN] = 2,
        [BT_GEMM_INDIRECT_STRM] = 0,  [BT_GEMM_INDIRECT_STRN] = 1,  [BT_GEMM_INDIRECT_SA] = 0,
        [BT_GEMM_INDIRECT_SB] = 1};
    memcpy(p.indirect, indirect, sizeof indirect);
    p.has_min_indirect_size = true;
    p.min_indirect_size = 20;
    return p;
}

static void run_correctness_cases(void)
{
    test_tiny_shapes(NULL);
    test_odd_shapes(NULL);
    test_network_shapes(NULL);
    test_offsets_and_leading_dimensions(NULL);
}

/* The same cases with tuned parameters: both paths (the split at 20^3 sends the larger cases
 * indirect, through the device's reused temporary buffer), then every case on one path. Runs
 * last: CLBlast keeps the parameters for the rest of the process. */
static void test_correct_with_tuned_parameters(void **state)
{
    (void)state;
    bt_gemm_params p = tuned_params();
    BT_ASSERT_OK(bt_gemm_params_check(device, &p));
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &p));
    bt_gemm_params applied;
    bt_device_get_gemm_params(device, &applied);
    assert_memory_equal(&applied, &p, sizeof p);
    run_correctness_cases();

    bt_gemm_params split;
    memset(&split, 0, sizeof split);
    split.has_min_indirect_size = true;
    split.min_indirect_size = 1; /* everything indirect */
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &split));
    run_correctness_cases();
    split.min_indirect_size = 100000; /* everything direct */
    BT_ASSERT_OK(bt_device_apply_gemm_params(device, &split));
    run_correctness_cases();

    /* CLBlast refuses nothing that passes the checks; what fails them is never applied. */
    p.direct[BT_GEMM_DIRECT_KWID] = 3;
    assert_int_equal(bt_device_apply_gemm_params(device, &p), BT_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_compiles_the_needed_kernels),
        cmocka_unit_test(test_tiny_shapes),
        cmocka_unit_test(test_odd_shapes),
        cmocka_unit_test(test_network_shapes),
        cmocka_unit_test(test_offsets_and_leading_dimensions),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_correct_with_tuned_parameters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
