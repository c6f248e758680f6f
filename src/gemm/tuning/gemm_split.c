/* The split between CLBlast's two GEMM paths (XGEMM_MIN_INDIRECT_SIZE) as a function of the
 * tuned shapes' volumes, and the step check's choice among timed splits: pure arithmetic, kept
 * apart from the timing so that it can be tested exactly. */
#include <math.h>

#include "gemm/tuning/gemm_search_impl.h"

/* Largest t with t^3 <= x. */
static uint64_t cube_root_floor(uint64_t x)
{
    uint64_t t = (uint64_t)cbrt((double)x);
    while (t > 0 && t * t * t > x)
        --t;
    while ((t + 1) * (t + 1) * (t + 1) <= x)
        ++t;
    return t;
}

unsigned bt_gemm_split_size(const uint64_t *volumes, size_t n, size_t split)
{
    if (split == 0)
        return BT_GEMM_SPLIT_ALL_INDIRECT;
    uint64_t below = volumes[split - 1];
    if (split == n) {
        uint64_t t = 2 * (cube_root_floor(below) + 1);
        return t < BT_GEMM_SPLIT_ALL_DIRECT ? (unsigned)t : BT_GEMM_SPLIT_ALL_DIRECT;
    }
    uint64_t above = volumes[split];
    uint64_t lo = cube_root_floor(below) + 1, hi = cube_root_floor(above);
    if (lo > hi)
        return 0;
    uint64_t t = (uint64_t)llround(sqrt((double)lo * (double)hi));
    t = t < lo ? lo : t > hi ? hi : t;
    return (unsigned)t;
}

size_t bt_gemm_split_direct_count(const uint64_t *volumes, size_t n, unsigned size)
{
    uint64_t cube = (uint64_t)size * size * size;
    size_t k = 0;
    while (k < n && volumes[k] < cube)
        ++k;
    return k;
}

unsigned bt_gemm_split_past(const uint64_t *volumes, size_t n, uint64_t volume)
{
    size_t k = 0;
    while (k < n && volumes[k] <= volume)
        ++k;
    for (; k <= n; ++k) {
        unsigned size = bt_gemm_split_size(volumes, n, k);
        if (size)
            return size;
    }
    return 0;
}

size_t bt_gemm_split_choose(const bt_gemm_tune_split_try *tries, size_t n)
{
    size_t chosen = 0;
    for (size_t i = 1; i < n; ++i) {
        const bt_gemm_tune_split_try *t = &tries[i], *c = &tries[chosen];
        if (t->slower_steps < c->slower_steps ||
            (t->slower_steps == c->slower_steps && t->speedup > c->speedup))
            chosen = i;
    }
    return chosen;
}
