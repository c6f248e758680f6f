/* The space the GEMM parameter search walks: the values tried for each parameter, typical
 * starting points, and random neighbours. Validity is bt_gemm_params_check's. */
#include <string.h>

#include "device/device_impl.h"
#include "common/error.h"
#include "gemm/tuning/gemm_search_impl.h"

size_t bt_gemm_group_count(bt_gemm_group group)
{
    return group == BT_GROUP_DIRECT ? BT_GEMM_DIRECT_COUNT : BT_GEMM_INDIRECT_COUNT;
}

const char *bt_gemm_group_kernel(bt_gemm_group group)
{
    return group == BT_GROUP_DIRECT ? "XgemmDirect" : "Xgemm";
}

bt_gemm_params bt_gemm_group_params(bt_gemm_group group, const bt_gemm_values *values)
{
    bt_gemm_params p;
    memset(&p, 0, sizeof p);
    if (group == BT_GROUP_DIRECT) {
        p.has_direct = true;
        memcpy(p.direct, values->v, sizeof p.direct);
    } else {
        p.has_indirect = true;
        memcpy(p.indirect, values->v, sizeof p.indirect);
    }
    return p;
}

uint64_t bt_gemm_rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ---- searched values -------------------------------------------------------------------------
 * CLBlast's own tuner ranges, widened downwards (thread dimensions of 1 to 4, unroll factors of
 * 1 to 8) and to 16-float vectors: on a CPU a work-group is one thread's loop, so few
 * work-items with large register tiles in wide vectors can beat the GPU-sized shapes. */

typedef struct range {
    const unsigned *values;
    size_t count;
} range;

#define RANGE(...)                                                                              \
    {                                                                                           \
        (const unsigned[]){__VA_ARGS__},                                                        \
            sizeof((const unsigned[]){__VA_ARGS__}) / sizeof(unsigned)                          \
    }

/* In the order of BT_GEMM_DIRECT_PARAM_LIST: KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD
 * VWND WGD. */
static const range direct_ranges[BT_GEMM_DIRECT_COUNT] = {
    RANGE(1, 2, 4, 8, 16),     RANGE(1, 2, 4, 8, 16, 32), RANGE(1, 2, 4, 8, 16, 32),
    RANGE(1, 2, 4, 8, 16, 32), RANGE(1, 2, 4, 8, 16, 32), RANGE(0, 1),
    RANGE(0, 1),               RANGE(1, 2, 4, 8, 16),     RANGE(1, 2, 4, 8, 16),
    RANGE(8, 16, 32, 64, 128),
};

/* In the order of BT_GEMM_INDIRECT_PARAM_LIST: GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC
 * NWG SA SB STRM STRN VWM VWN. GEMMK=1 is left out (see bt_gemm_params_check). */
static const range indirect_ranges[BT_GEMM_INDIRECT_COUNT] = {
    RANGE(0),
    RANGE(1),
    RANGE(8, 16, 32, 64),
    RANGE(1, 2, 4, 8),
    RANGE(1, 2, 4, 8, 16, 32),
    RANGE(1, 2, 4, 8, 16, 32),
    RANGE(8, 16, 32, 64, 128),
    RANGE(1, 2, 4, 8, 16, 32),
    RANGE(1, 2, 4, 8, 16, 32),
    RANGE(8, 16, 32, 64, 128),
    RANGE(0, 1),
    RANGE(0, 1),
    RANGE(0, 1),
    RANGE(0, 1),
    RANGE(1, 2, 4, 8, 16),
    RANGE(1, 2, 4, 8, 16),
};

static const range *ranges_of(bt_gemm_group group)
{
    return group == BT_GROUP_DIRECT ? direct_ranges : indirect_ranges;
}

/* ---- starting points -------------------------------------------------------------------------
 * From CLBlast's database (its entries for Intel CPUs and its generic GPU entries) plus
 * CPU-oriented shapes: 8 x 8 or 16 x 8 results per work-item in the widest vectors and no local
 * memory (a CPU's caches already do what local memory does on a GPU). Listed in parameter order
 * as above. */

static const unsigned direct_cpu_seeds[][BT_GEMM_DIRECT_COUNT] = {
    {2, 8, 8, 8, 8, 1, 1, 4, 4, 32},   /* CLBlast: Intel CPUs, default */
    /* 4 x 4 per work-item, 16 work-items: a 16-wide tile still gives a 32 x 30 product four
     * work-groups, enough for every core, where a 32-wide one gives a single work-group. */
    {2, 4, 4, 4, 4, 0, 0, 4, 4, 16},
    {2, 8, 8, 16, 8, 0, 0, 4, 4, 64},  /* CLBlast: Core i7-6770HQ */
    {2, 4, 4, 4, 4, 0, 0, 4, 4, 32},   /* 8 x 8 per work-item, 16 work-items */
};
static const unsigned direct_gpu_seeds[][BT_GEMM_DIRECT_COUNT] = {
    {2, 8, 8, 16, 16, 1, 1, 4, 2, 32}, /* CLBlast: NVIDIA GPUs, default */
    {2, 16, 16, 8, 8, 1, 1, 1, 1, 16}, /* CLBlast: AMD GPUs, default */
    {2, 8, 8, 8, 8, 1, 1, 1, 2, 16},   /* CLBlast: any device, default */
};
static const unsigned indirect_cpu_seeds[][BT_GEMM_INDIRECT_COUNT] = {
    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
    /* 16 x 8 per work-item in one column of work-items: 16-float vectors along M fill a wide
     * SIMD unit without the driver vectorising across work-items. */
    {0, 1, 32, 1, 1, 1, 16, 4, 4, 32, 0, 0, 0, 0, 16, 8},
    {0, 1, 32, 2, 4, 4, 32, 8, 8, 64, 0, 0, 0, 0, 8, 8},    /* 8 x 8 per work-item, 32 x 64 */
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 8, 8},    /* 8 x 8 per work-item, 64 x 64 */
    {0, 1, 32, 2, 8, 8, 32, 8, 8, 64, 0, 0, 0, 0, 4, 4},    /* CLBlast: Intel CPUs, default */
};
static const unsigned indirect_gpu_seeds[][BT_GEMM_INDIRECT_COUNT] = {
    {0, 1, 32, 2, 8, 8, 32, 32, 32, 64, 1, 1, 0, 0, 4, 2},  /* CLBlast: NVIDIA GPUs, default */
    {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4},  /* CLBlast: AMD GPUs, default */
    {0, 1, 16, 2, 8, 16, 64, 8, 8, 128, 1, 1, 1, 0, 4, 8},  /* CLBlast: NVIDIA SM5.2 */
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Work per work-item that the kernels unroll completely: an MWI x NWI tile of results, times
 * the unroll factor of the k loop. Beyond these the compiler's time grows to minutes per kernel
 * on a CPU and registers spill. The direct kernel is the sensitive one (measured on PoCL: 8 x 8
 * results unrolled 8 times took 34 s per transpose variant, 16 x 8 unrolled twice 92 s, where
 * the indirect kernel compiles 16 x 8 unrolled once in 8 s); the best entries of CLBlast's
 * database for GPUs stay within both limits. */
#define MAX_DIRECT_TILE 64
#define MAX_INDIRECT_TILE 128
#define MAX_UNROLLED 256

static bool cheap_to_compile(bt_gemm_group group, const bt_gemm_values *values)
{
    const unsigned *v = values->v;
    unsigned tile, unroll, max_tile;
    if (group == BT_GROUP_DIRECT) {
        tile = (v[BT_GEMM_DIRECT_WGD] / v[BT_GEMM_DIRECT_MDIMCD]) *
               (v[BT_GEMM_DIRECT_WGD] / v[BT_GEMM_DIRECT_NDIMCD]);
        unroll = v[BT_GEMM_DIRECT_KWID];
        max_tile = MAX_DIRECT_TILE;
    } else {
        tile = (v[BT_GEMM_INDIRECT_MWG] / v[BT_GEMM_INDIRECT_MDIMC]) *
               (v[BT_GEMM_INDIRECT_NWG] / v[BT_GEMM_INDIRECT_NDIMC]);
        unroll = v[BT_GEMM_INDIRECT_KWI];
        max_tile = MAX_INDIRECT_TILE;
    }
    return tile <= max_tile && tile * unroll <= MAX_UNROLLED;
}

/* Appends the valid rows of `table` to out. */
static size_t add_seeds(const bt_device *dev, bt_gemm_group group, const unsigned *table,
                        size_t rows, bt_gemm_values *out, size_t at, size_t max)
{
    size_t width = bt_gemm_group_count(group);
    for (size_t r = 0; r < rows && at < max; ++r) {
        bt_gemm_values v;
        memset(&v, 0, sizeof v);
        memcpy(v.v, table + r * width, width * sizeof(unsigned));
        bt_gemm_params p = bt_gemm_group_params(group, &v);
        if (bt_gemm_params_check(dev, &p) == BT_OK && cheap_to_compile(group, &v))
            out[at++] = v;
    }
    bt_clear_error();
    return at;
}

size_t bt_gemm_space_seeds(const bt_device *dev, bt_gemm_group group, bt_gemm_values *out,
                           size_t max)
{
    bool cpu = dev->info.type == BT_DEVICE_CPU;
    const unsigned *cpu_table, *gpu_table;
    size_t cpu_rows, gpu_rows;
    if (group == BT_GROUP_DIRECT) {
        cpu_table = &direct_cpu_seeds[0][0];
        cpu_rows = COUNT_OF(direct_cpu_seeds);
        gpu_table = &direct_gpu_seeds[0][0];
        gpu_rows = COUNT_OF(direct_gpu_seeds);
    } else {
        cpu_table = &indirect_cpu_seeds[0][0];
        cpu_rows = COUNT_OF(indirect_cpu_seeds);
        gpu_table = &indirect_gpu_seeds[0][0];
        gpu_rows = COUNT_OF(indirect_gpu_seeds);
    }
    size_t n = add_seeds(dev, group, cpu ? cpu_table : gpu_table, cpu ? cpu_rows : gpu_rows, out,
                         0, max);
    return add_seeds(dev, group, cpu ? gpu_table : cpu_table, cpu ? gpu_rows : cpu_rows, out, n,
                     max);
}

/* ---- neighbours ------------------------------------------------------------------------------ */

/* Tries per neighbour; checking a candidate costs microseconds. */
#define NEIGHBOUR_TRIES 5000

static size_t index_in(const range *r, unsigned value)
{
    for (size_t i = 0; i < r->count; ++i)
        if (r->values[i] == value)
            return i;
    return r->count; /* not in the range (e.g. a value from a stored file) */
}

/* One parameter moved: to an adjacent value of its range three times in four, else anywhere. */
static void move(const range *r, unsigned *value, uint64_t *rng)
{
    if (r->count < 2)
        return;
    size_t at = index_in(r, *value);
    uint64_t x = bt_gemm_rng_next(rng);
    size_t to;
    if (at < r->count && (x & 3) != 0) {
        bool up = ((x >> 2) & 1) ? at + 1 < r->count : at == 0;
        to = up ? at + 1 : at - 1;
    } else {
        to = (size_t)((x >> 8) % r->count);
    }
    *value = r->values[to];
}

static bool seen_before(const bt_gemm_values *v, const bt_gemm_values *seen, size_t n_seen)
{
    for (size_t i = 0; i < n_seen; ++i)
        if (memcmp(v, &seen[i], sizeof *v) == 0)
            return true;
    return false;
}

bool bt_gemm_space_neighbour(const bt_device *dev, bt_gemm_group group,
                             const bt_gemm_values *center, const bt_gemm_values *seen,
                             size_t n_seen, uint64_t *rng, bt_gemm_values *out)
{
    const range *ranges = ranges_of(group);
    size_t count = bt_gemm_group_count(group);
    bool found = false;
    for (int tries = 0; tries < NEIGHBOUR_TRIES && !found; ++tries) {
        bt_gemm_values v = *center;
        /* One parameter half the time, else two or three: the divisibility rules tie
         * parameters together, so single moves alone cannot reach much of the space. */
        uint64_t x = bt_gemm_rng_next(rng);
        int moves = (x & 1) ? 1 : ((x >> 1) % 3 == 0 ? 3 : 2);
        for (int i = 0; i < moves; ++i) {
            size_t p = (size_t)(bt_gemm_rng_next(rng) % count);
            move(&ranges[p], &v.v[p], rng);
        }
        if (memcmp(&v, center, sizeof v) == 0 || seen_before(&v, seen, n_seen))
            continue;
        bt_gemm_params params = bt_gemm_group_params(group, &v);
        if (bt_gemm_params_check(dev, &params) == BT_OK && cheap_to_compile(group, &v)) {
            *out = v;
            found = true;
        }
    }
    bt_clear_error();
    return found;
}
