/* Summaries of repeated measurements. */
#include <math.h>
#include <stdlib.h>

#include "common/stats.h"

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bt_median_and_spread(double *v, size_t n, double *spread)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i)
        if (!isnan(v[i]))
            v[kept++] = v[i];
    *spread = NAN;
    if (kept == 0)
        return NAN;
    qsort(v, kept, sizeof *v, compare_doubles);
    *spread = v[kept - 1] - v[0];
    return kept % 2 ? v[kept / 2] : 0.5 * (v[kept / 2 - 1] + v[kept / 2]);
}
