/* GEMM dispatch through CLBlast (with gemm_tuning.c, the only files that include its header). */
#include <clblast_c.h>
#include <stdlib.h>

#include "device/device_impl.h"
#include "common/error.h"
#include "gemm/gemm_impl.h"

const char *bt_clblast_status_name(int status)
{
    CLBlastStatusCode code = (CLBlastStatusCode)status;
    switch (code) {
#define BT_CLBLAST_CASE_(c)                                                                     \
    case c:                                                                                     \
        return #c;
        BT_CLBLAST_CASE_(CLBlastNotImplemented)
        BT_CLBLAST_CASE_(CLBlastInvalidMatrixA)
        BT_CLBLAST_CASE_(CLBlastInvalidMatrixB)
        BT_CLBLAST_CASE_(CLBlastInvalidMatrixC)
        BT_CLBLAST_CASE_(CLBlastInvalidDimension)
        BT_CLBLAST_CASE_(CLBlastInvalidLeadDimA)
        BT_CLBLAST_CASE_(CLBlastInvalidLeadDimB)
        BT_CLBLAST_CASE_(CLBlastInvalidLeadDimC)
        BT_CLBLAST_CASE_(CLBlastInsufficientMemoryA)
        BT_CLBLAST_CASE_(CLBlastInsufficientMemoryB)
        BT_CLBLAST_CASE_(CLBlastInsufficientMemoryC)
        BT_CLBLAST_CASE_(CLBlastInsufficientMemoryTemp)
        BT_CLBLAST_CASE_(CLBlastInvalidOverrideKernel)
        BT_CLBLAST_CASE_(CLBlastMissingOverrideParameter)
        BT_CLBLAST_CASE_(CLBlastInvalidLocalMemUsage)
        BT_CLBLAST_CASE_(CLBlastNoHalfPrecision)
        BT_CLBLAST_CASE_(CLBlastNoDoublePrecision)
        BT_CLBLAST_CASE_(CLBlastDatabaseError)
        BT_CLBLAST_CASE_(CLBlastUnknownError)
        BT_CLBLAST_CASE_(CLBlastUnexpectedError)
#undef BT_CLBLAST_CASE_
    default:
        /* CLBlast's other codes are OpenCL's own. */
        return bt_cl_error_name((cl_int)code);
    }
}

#define BT_STRINGIFY_(x) #x
#define BT_STRINGIFY(x) BT_STRINGIFY_(x)

const char *bt_clblast_version(void)
{
    return BT_STRINGIFY(CLBLAST_VERSION_MAJOR) "." BT_STRINGIFY(
        CLBLAST_VERSION_MINOR) "." BT_STRINGIFY(CLBLAST_VERSION_PATCH);
}

bt_status bt_clblast_status_map(int status)
{
    switch ((CLBlastStatusCode)status) {
    case CLBlastInvalidMatrixA:
    case CLBlastInvalidMatrixB:
    case CLBlastInvalidMatrixC:
    case CLBlastInvalidDimension:
    case CLBlastInvalidLeadDimA:
    case CLBlastInvalidLeadDimB:
    case CLBlastInvalidLeadDimC:
    case CLBlastInsufficientMemoryA:
    case CLBlastInsufficientMemoryB:
    case CLBlastInsufficientMemoryC:
        return BT_ERR_INVALID_ARGUMENT;
    case CLBlastTempBufferAllocFailure:
    case CLBlastOpenCLOutOfResources:
    case CLBlastInsufficientMemoryTemp:
        return BT_ERR_DEVICE_MEMORY;
    case CLBlastOpenCLBuildProgramFailure:
    case CLBlastOpenCLCompilerNotAvailable:
        return BT_ERR_BUILD;
    default:
        return BT_ERR_CLBLAST;
    }
}

static CLBlastTranspose to_clblast(bt_transpose t)
{
    return t == BT_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

/* The key of the GEMM layer's state on a device (bt_device_attach). */
static char gemm_device_key;

static void gemm_device_free(void *state)
{
    bt_gemm_device *g = state;
    if (g->scratch)
        clReleaseMemObject(g->scratch);
    free(g);
}

bt_gemm_device *bt_gemm_device_get(const bt_device *dev)
{
    return bt_device_attachment_get(dev, &gemm_device_key);
}

/* Makes the device's temporary GEMM buffer hold at least `bytes` and sets *scratch to it. The
 * old buffer may still be in use by GEMMs already enqueued: releasing it is safe, OpenCL frees
 * it once they have finished. Grows to 1.5x the request so that a slowly growing series of
 * shapes does not reallocate every time. */
static bt_status ensure_scratch(bt_device *dev, size_t bytes, cl_mem *scratch)
{
    bt_gemm_device *g = bt_gemm_device_get(dev);
    if (g && g->scratch && g->scratch_bytes >= bytes) {
        *scratch = g->scratch;
        return BT_OK;
    }
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g)
            return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        BT_TRY(bt_device_attach(dev, &gemm_device_key, g, gemm_device_free));
    }
    if (bytes > dev->info.max_alloc_bytes)
        return bt_fail(BT_ERR_DEVICE_MEMORY,
                       "CLBlast needs a temporary buffer of %zu bytes, above the largest single "
                       "allocation of '%s' (%llu bytes)",
                       bytes, dev->info.name, (unsigned long long)dev->info.max_alloc_bytes);
    size_t grown = bytes + bytes / 2;
    if (grown > dev->info.max_alloc_bytes)
        grown = bytes;
    cl_int err = CL_SUCCESS;
    cl_mem mem = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, grown, NULL, &err);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clCreateBuffer (CLBlast's temporary GEMM buffer)");
    /* Touch every page, as network.c does for its buffers (it says why). */
    const cl_uint zero = 0;
    err = clEnqueueFillBuffer(dev->queue, mem, &zero, sizeof zero, 0,
                              grown - grown % sizeof zero, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(mem);
        return bt_fail_cl(err, "clEnqueueFillBuffer (CLBlast's temporary GEMM buffer)");
    }
    if (g->scratch)
        clReleaseMemObject(g->scratch);
    g->scratch = mem;
    g->scratch_bytes = grown;
    *scratch = mem;
    return BT_OK;
}

bt_status bt_gemm(bt_device *dev, bt_transpose trans_a, bt_transpose trans_b, size_t m, size_t n,
                  size_t k, float alpha, const bt_buffer *a, size_t a_offset, size_t lda,
                  const bt_buffer *b, size_t b_offset, size_t ldb, float beta, bt_buffer *c,
                  size_t c_offset, size_t ldc, cl_event *event)
{
    if (!dev || !a || !b || !c)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm: device and buffers must not be NULL");
    if (m == 0 || n == 0 || k == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm: dimensions must be above zero "
                                                "(m=%zu n=%zu k=%zu)",
                       m, n, k);
    CLBlastTranspose ta = to_clblast(trans_a), tb = to_clblast(trans_b);
    /* On its indirect path CLBlast would allocate (and free) temporary matrices in every call;
     * it asks for none (0 bytes) on its direct path. The query costs well under a microsecond. */
    size_t temp_bytes = 0;
    CLBlastStatusCode code =
        CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, m, n, k, a_offset, lda,
                                   b_offset, ldb, c_offset, ldc, &dev->queue, &temp_bytes);
    if (code == CLBlastSuccess && temp_bytes > 0) {
        cl_mem scratch = NULL;
        BT_TRY(ensure_scratch(dev, temp_bytes, &scratch));
        code = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha,
                                          bt_buffer_cl_mem(a), a_offset, lda, bt_buffer_cl_mem(b),
                                          b_offset, ldb, beta, bt_buffer_cl_mem(c), c_offset, ldc,
                                          &dev->queue, event, scratch);
    } else if (code == CLBlastSuccess) {
        code = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, alpha, bt_buffer_cl_mem(a),
                            a_offset, lda, bt_buffer_cl_mem(b), b_offset, ldb, beta,
                            bt_buffer_cl_mem(c), c_offset, ldc, &dev->queue, event);
    }
    if (code != CLBlastSuccess)
        return bt_fail(bt_clblast_status_map(code),
                       "CLBlastSgemm(%s%s, m=%zu n=%zu k=%zu, lda=%zu ldb=%zu ldc=%zu) on '%s' "
                       "failed: %s (%d)",
                       trans_a == BT_TRANS ? "T" : "N", trans_b == BT_TRANS ? "T" : "N", m, n, k,
                       lda, ldb, ldc, dev->info.name, bt_clblast_status_name(code), (int)code);
    return BT_OK;
}

/* Leading dimension of a packed row-major operand: its stored column count. */
static size_t packed_ld(bt_transpose t, size_t cols_plain, size_t cols_transposed)
{
    return t == BT_TRANS ? cols_transposed : cols_plain;
}

bt_status bt_gemm_warmup(bt_device *dev, const bt_gemm_shape *shapes, size_t count)
{
    if (!dev)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_warmup: device is NULL");
    /* Small shapes take CLBlast's direct kernels, large ones its indirect path: compile both. */
    bt_gemm_shape defaults[8];
    if (!shapes) {
        for (size_t i = 0; i < 8; ++i) {
            size_t size = i < 4 ? 8 : 1024;
            defaults[i] = (bt_gemm_shape){(i & 1) ? BT_TRANS : BT_NO_TRANS,
                                          (i & 2) ? BT_TRANS : BT_NO_TRANS, size, size, size};
        }
        shapes = defaults;
        count = 8;
    }

    size_t a_size = 1, b_size = 1, c_size = 1;
    for (size_t i = 0; i < count; ++i) {
        const bt_gemm_shape *s = &shapes[i];
        if (s->m == 0 || s->n == 0 || s->k == 0)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_warmup: shape %zu has a zero "
                                                    "dimension",
                           i);
        a_size = s->m * s->k > a_size ? s->m * s->k : a_size;
        b_size = s->k * s->n > b_size ? s->k * s->n : b_size;
        c_size = s->m * s->n > c_size ? s->m * s->n : c_size;
    }

    bt_buffer *a = NULL, *b = NULL, *c = NULL;
    bt_status status = bt_buffer_create(dev, a_size * sizeof(float), &a);
    if (status == BT_OK)
        status = bt_buffer_create(dev, b_size * sizeof(float), &b);
    if (status == BT_OK)
        status = bt_buffer_create(dev, c_size * sizeof(float), &c);
    if (status == BT_OK)
        status = bt_buffer_fill_float(a, 0, a_size, 0.0f);
    if (status == BT_OK)
        status = bt_buffer_fill_float(b, 0, b_size, 0.0f);
    for (size_t i = 0; i < count && status == BT_OK; ++i) {
        const bt_gemm_shape *s = &shapes[i];
        size_t lda = packed_ld(s->trans_a, s->k, s->m);
        size_t ldb = packed_ld(s->trans_b, s->n, s->k);
        status = bt_gemm(dev, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, 0, lda, b, 0,
                         ldb, 0.0f, c, 0, s->n, NULL);
    }
    if (status == BT_OK)
        status = bt_device_finish(dev);
    bt_buffer_destroy(a);
    bt_buffer_destroy(b);
    bt_buffer_destroy(c);
    return status;
}
