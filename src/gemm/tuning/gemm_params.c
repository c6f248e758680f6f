/* CLBlast GEMM kernel parameters: names, validity rules and formatting. No CLBlast calls here
 * (those are in gemm_tuning.c): the rules are those of CLBlast's own tuner
 * (src/tuning/kernels/xgemm.hpp, xgemm_direct.hpp), which the kernels rely on for whole-number
 * work per work-item and for the shapes the work-group is reshaped into when loading tiles. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "device/device_impl.h"
#include "common/error.h"

static const char *const direct_names[BT_GEMM_DIRECT_COUNT] = {
#define BT_NAME_(name) #name,
    BT_GEMM_DIRECT_PARAM_LIST(BT_NAME_)
#undef BT_NAME_
};

static const char *const indirect_names[BT_GEMM_INDIRECT_COUNT] = {
#define BT_NAME_(name) #name,
    BT_GEMM_INDIRECT_PARAM_LIST(BT_NAME_)
#undef BT_NAME_
};

const char *bt_gemm_direct_param_name(unsigned index)
{
    return index < BT_GEMM_DIRECT_COUNT ? direct_names[index] : NULL;
}

const char *bt_gemm_indirect_param_name(unsigned index)
{
    return index < BT_GEMM_INDIRECT_COUNT ? indirect_names[index] : NULL;
}

/* Values beyond these are no tile or work-group any device runs. */
#define MAX_TILE 1024u
#define MAX_THREADS_PER_DIM 1024u
/* The split size is cubed in 64 bits by CLBlast: (2^21)^3 = 2^63 still fits. */
#define MAX_MIN_INDIRECT_SIZE (1u << 21)

static bool is_vector_width(unsigned v) { return v == 1 || v == 2 || v == 4 || v == 8 || v == 16; }
static bool divides(unsigned divisor, unsigned value) { return divisor && value % divisor == 0; }

#define RULE(cond, ...)                                                                         \
    do {                                                                                        \
        if (!(cond))                                                                            \
            return bt_fail(BT_ERR_INVALID_ARGUMENT, __VA_ARGS__);                               \
    } while (0)

static bt_status check_direct(const unsigned *p)
{
    unsigned wgd = p[BT_GEMM_DIRECT_WGD], mdimcd = p[BT_GEMM_DIRECT_MDIMCD];
    unsigned ndimcd = p[BT_GEMM_DIRECT_NDIMCD], mdimad = p[BT_GEMM_DIRECT_MDIMAD];
    unsigned ndimbd = p[BT_GEMM_DIRECT_NDIMBD], kwid = p[BT_GEMM_DIRECT_KWID];
    unsigned vwmd = p[BT_GEMM_DIRECT_VWMD], vwnd = p[BT_GEMM_DIRECT_VWND];
    RULE(wgd >= 1 && wgd <= MAX_TILE, "XgemmDirect: WGD=%u is outside 1..%u", wgd, MAX_TILE);
    RULE(mdimcd >= 1 && ndimcd >= 1 && mdimad >= 1 && ndimbd >= 1 &&
             mdimcd <= MAX_THREADS_PER_DIM && ndimcd <= MAX_THREADS_PER_DIM,
         "XgemmDirect: MDIMCD, NDIMCD, MDIMAD, NDIMBD must be 1..%u", MAX_THREADS_PER_DIM);
    RULE(kwid >= 1, "XgemmDirect: KWID must be at least 1");
    RULE(is_vector_width(vwmd) && is_vector_width(vwnd),
         "XgemmDirect: VWMD=%u and VWND=%u must be 1, 2, 4, 8 or 16", vwmd, vwnd);
    RULE(p[BT_GEMM_DIRECT_PADA] <= 1 && p[BT_GEMM_DIRECT_PADB] <= 1,
         "XgemmDirect: PADA and PADB must be 0 or 1");
    RULE(divides(kwid, wgd), "XgemmDirect: WGD=%u is not a multiple of KWID=%u", wgd, kwid);
    RULE(divides(mdimcd * vwmd, wgd) && divides(ndimcd * vwnd, wgd),
         "XgemmDirect: WGD=%u must be a multiple of MDIMCD*VWMD=%u and NDIMCD*VWND=%u", wgd,
         mdimcd * vwmd, ndimcd * vwnd);
    RULE(divides(mdimad * vwmd, wgd) && divides(ndimbd * vwnd, wgd),
         "XgemmDirect: WGD=%u must be a multiple of MDIMAD*VWMD=%u and NDIMBD*VWND=%u", wgd,
         mdimad * vwmd, ndimbd * vwnd);
    /* The work-group reshaped to MDIMAD x KDIMAD (and NDIMBD x KDIMBD) to load A (and B). */
    unsigned threads = mdimcd * ndimcd;
    RULE(divides(mdimad, threads) && divides(ndimbd, threads),
         "XgemmDirect: MDIMCD*NDIMCD=%u must be a multiple of MDIMAD=%u and NDIMBD=%u", threads,
         mdimad, ndimbd);
    RULE(divides(threads / mdimad, wgd) && divides(threads / ndimbd, wgd),
         "XgemmDirect: WGD=%u must be a multiple of MDIMCD*NDIMCD/MDIMAD=%u and "
         "MDIMCD*NDIMCD/NDIMBD=%u",
         wgd, threads / mdimad, threads / ndimbd);
    return BT_OK;
}

static bt_status check_indirect(const unsigned *p)
{
    unsigned mwg = p[BT_GEMM_INDIRECT_MWG], nwg = p[BT_GEMM_INDIRECT_NWG];
    unsigned kwg = p[BT_GEMM_INDIRECT_KWG], kwi = p[BT_GEMM_INDIRECT_KWI];
    unsigned mdimc = p[BT_GEMM_INDIRECT_MDIMC], ndimc = p[BT_GEMM_INDIRECT_NDIMC];
    unsigned mdima = p[BT_GEMM_INDIRECT_MDIMA], ndimb = p[BT_GEMM_INDIRECT_NDIMB];
    unsigned vwm = p[BT_GEMM_INDIRECT_VWM], vwn = p[BT_GEMM_INDIRECT_VWN];
    /* GEMMK=1 (2-D register tiling) has rules of its own that CLBlast's tuner does not state
     * for this release; batchtune only checks, and searches, the tiled kernel. */
    RULE(p[BT_GEMM_INDIRECT_GEMMK] == 0 && p[BT_GEMM_INDIRECT_KREG] == 1,
         "Xgemm: only GEMMK=0 with KREG=1 (the tiled kernel) is supported, not GEMMK=%u KREG=%u",
         p[BT_GEMM_INDIRECT_GEMMK], p[BT_GEMM_INDIRECT_KREG]);
    RULE(mwg >= 1 && nwg >= 1 && kwg >= 1 && mwg <= MAX_TILE && nwg <= MAX_TILE &&
             kwg <= MAX_TILE,
         "Xgemm: MWG, NWG, KWG must be 1..%u", MAX_TILE);
    RULE(mdimc >= 1 && ndimc >= 1 && mdima >= 1 && ndimb >= 1 && mdimc <= MAX_THREADS_PER_DIM &&
             ndimc <= MAX_THREADS_PER_DIM,
         "Xgemm: MDIMC, NDIMC, MDIMA, NDIMB must be 1..%u", MAX_THREADS_PER_DIM);
    RULE(kwi >= 1, "Xgemm: KWI must be at least 1");
    RULE(is_vector_width(vwm) && is_vector_width(vwn),
         "Xgemm: VWM=%u and VWN=%u must be 1, 2, 4, 8 or 16", vwm, vwn);
    RULE(p[BT_GEMM_INDIRECT_SA] <= 1 && p[BT_GEMM_INDIRECT_SB] <= 1 &&
             p[BT_GEMM_INDIRECT_STRM] <= 1 && p[BT_GEMM_INDIRECT_STRN] <= 1,
         "Xgemm: SA, SB, STRM, STRN must be 0 or 1");
    RULE(divides(kwi, kwg), "Xgemm: KWG=%u is not a multiple of KWI=%u", kwg, kwi);
    RULE(divides(mdimc * vwm, mwg) && divides(ndimc * vwn, nwg),
         "Xgemm: MWG=%u must be a multiple of MDIMC*VWM=%u, NWG=%u of NDIMC*VWN=%u", mwg,
         mdimc * vwm, nwg, ndimc * vwn);
    RULE(divides(mdima * vwm, mwg) && divides(ndimb * vwn, nwg),
         "Xgemm: MWG=%u must be a multiple of MDIMA*VWM=%u, NWG=%u of NDIMB*VWN=%u", mwg,
         mdima * vwm, nwg, ndimb * vwn);
    unsigned threads = mdimc * ndimc;
    RULE(divides(mdima, threads) && divides(ndimb, threads),
         "Xgemm: MDIMC*NDIMC=%u must be a multiple of MDIMA=%u and NDIMB=%u", threads, mdima,
         ndimb);
    RULE(divides(threads / mdima, kwg) && divides(threads / ndimb, kwg),
         "Xgemm: KWG=%u must be a multiple of MDIMC*NDIMC/MDIMA=%u and MDIMC*NDIMC/NDIMB=%u",
         kwg, threads / mdima, threads / ndimb);
    return BT_OK;
}

/* Work-group size and local memory of each kernel against the device. */
static bt_status check_device(const bt_device *device, const bt_gemm_params *params)
{
    cl_ulong local_bytes = 0;
    BT_CL_TRY(clGetDeviceInfo(device->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local_bytes,
                              &local_bytes, NULL),
              "clGetDeviceInfo(CL_DEVICE_LOCAL_MEM_SIZE)");
    size_t max_wg = device->info.max_work_group_size;
    if (params->has_direct) {
        const unsigned *p = params->direct;
        size_t threads = (size_t)p[BT_GEMM_DIRECT_MDIMCD] * p[BT_GEMM_DIRECT_NDIMCD];
        size_t wgd = p[BT_GEMM_DIRECT_WGD];
        size_t bytes = sizeof(float) * (wgd * (wgd + p[BT_GEMM_DIRECT_PADA]) +
                                        wgd * (wgd + p[BT_GEMM_DIRECT_PADB]));
        RULE(threads <= max_wg, "XgemmDirect: a work-group of %zu exceeds the device's %zu",
             threads, max_wg);
        RULE(bytes <= local_bytes,
             "XgemmDirect: %zu bytes of local memory exceed the device's %llu", bytes,
             (unsigned long long)local_bytes);
    }
    if (params->has_indirect) {
        const unsigned *p = params->indirect;
        size_t threads = (size_t)p[BT_GEMM_INDIRECT_MDIMC] * p[BT_GEMM_INDIRECT_NDIMC];
        size_t kwg = p[BT_GEMM_INDIRECT_KWG];
        size_t bytes = sizeof(float) * (p[BT_GEMM_INDIRECT_SA] * kwg * p[BT_GEMM_INDIRECT_MWG] +
                                        p[BT_GEMM_INDIRECT_SB] * kwg * p[BT_GEMM_INDIRECT_NWG]);
        RULE(threads <= max_wg, "Xgemm: a work-group of %zu exceeds the device's %zu", threads,
             max_wg);
        RULE(bytes <= local_bytes, "Xgemm: %zu bytes of local memory exceed the device's %llu",
             bytes, (unsigned long long)local_bytes);
    }
    return BT_OK;
}

/* The engine names live here, below the networks that use them, because the stored choices
 * (gemm_params_file.c) spell them too. */
#define BT_NAME_(name, text) text,
static const char *const engine_names[] = {BT_ENGINE_LIST(BT_NAME_)};
#undef BT_NAME_
#define ENGINE_COUNT (sizeof engine_names / sizeof engine_names[0])

const char *bt_engine_str(bt_engine engine)
{
    return (unsigned)engine < ENGINE_COUNT ? engine_names[engine] : "unknown";
}

bt_status bt_engine_parse(const char *text, bt_engine *out)
{
    for (size_t i = 0; text && out && i < ENGINE_COUNT; ++i)
        if (strcmp(text, engine_names[i]) == 0) {
            *out = (bt_engine)i;
            return BT_OK;
        }
    bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown engine '%s'; expected one of:",
            text ? text : "(null)");
    for (size_t i = 0; i < ENGINE_COUNT; ++i) {
        bt_fail_append(" ");
        bt_fail_append(engine_names[i]);
    }
    return BT_ERR_INVALID_ARGUMENT;
}

/* A GEMM dimension in a stored choice: at most what a network's buffers could hold. */
#define MAX_ENGINE_DIMENSION (1u << 24)

static bool same_gemm_shape(const bt_gemm_shape *a, const bt_gemm_shape *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->m == b->m &&
           a->n == b->n && a->k == b->k;
}

static bt_status check_engines(const bt_gemm_params *params)
{
    RULE(params->n_engines <= BT_GEMM_MAX_ENGINE_CHOICES,
         "engine choices: %zu exceed the limit of %d", params->n_engines,
         BT_GEMM_MAX_ENGINE_CHOICES);
    for (size_t i = 0; i < params->n_engines; ++i) {
        const bt_engine_choice *c = &params->engines[i];
        const bt_gemm_shape *s = &c->shape;
        RULE(c->engine == BT_ENGINE_FUSED || c->engine == BT_ENGINE_CLBLAST,
             "engine choice %zu: the engine must be fused or clblast", i + 1);
        RULE((s->trans_a == BT_NO_TRANS || s->trans_a == BT_TRANS) &&
                 (s->trans_b == BT_NO_TRANS || s->trans_b == BT_TRANS),
             "engine choice %zu: bad transpose", i + 1);
        RULE(s->m >= 1 && s->n >= 1 && s->k >= 1 && s->m <= MAX_ENGINE_DIMENSION &&
                 s->n <= MAX_ENGINE_DIMENSION && s->k <= MAX_ENGINE_DIMENSION,
             "engine choice %zu: %zux%zux%zu is outside 1..%u", i + 1, s->m, s->n, s->k,
             MAX_ENGINE_DIMENSION);
        for (size_t j = 0; j < i; ++j)
            RULE(!same_gemm_shape(&params->engines[j].shape, s),
                 "engine choices %zu and %zu are for the same shape", j + 1, i + 1);
    }
    return BT_OK;
}

bt_status bt_gemm_params_check(const bt_device *device, const bt_gemm_params *params)
{
    if (!params)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_params_check: params is NULL");
    if (params->has_direct)
        BT_TRY(check_direct(params->direct));
    if (params->has_indirect)
        BT_TRY(check_indirect(params->indirect));
    if (params->has_min_indirect_size)
        RULE(params->min_indirect_size >= 1 &&
                 params->min_indirect_size <= MAX_MIN_INDIRECT_SIZE,
             "GemmRoutine: XGEMM_MIN_INDIRECT_SIZE=%u is outside 1..%u",
             params->min_indirect_size, MAX_MIN_INDIRECT_SIZE);
    if (params->has_engines)
        BT_TRY(check_engines(params));
    return device ? check_device(device, params) : BT_OK;
}

/* Appends with snprintf semantics: *used may pass size, later appends then do nothing. */
static void appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
    BT_PRINTF_LIKE(4, 5);
static void appendf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size)
        return;
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, args);
    va_end(args);
    if (n > 0)
        *used += (size_t)n;
}

static void append_group(char *buf, size_t size, size_t *used, const char *kernel, bool has,
                         const unsigned *values, const char *const *names, size_t count)
{
    appendf(buf, size, used, has ? "%s" : "%s default", kernel);
    for (size_t i = 0; has && i < count; ++i)
        appendf(buf, size, used, " %s=%u", names[i], values[i]);
}

const char *bt_gemm_params_format(const bt_gemm_params *params, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!params)
        return buf;
    size_t used = 0;
    append_group(buf, size, &used, "XgemmDirect", params->has_direct, params->direct,
                 direct_names, BT_GEMM_DIRECT_COUNT);
    append_group(buf, size, &used, "; Xgemm", params->has_indirect, params->indirect,
                 indirect_names, BT_GEMM_INDIRECT_COUNT);
    if (params->has_min_indirect_size)
        appendf(buf, size, &used, "; XGEMM_MIN_INDIRECT_SIZE=%u", params->min_indirect_size);
    else
        appendf(buf, size, &used, "; XGEMM_MIN_INDIRECT_SIZE default");
    if (params->has_engines) {
        size_t fused = 0;
        for (size_t i = 0; i < params->n_engines; ++i)
            fused += params->engines[i].engine == BT_ENGINE_FUSED;
        appendf(buf, size, &used, "; engines: %zu fused, %zu clblast", fused,
                params->n_engines - fused);
    }
    return buf;
}
