/* Internal: summaries of repeated measurements (stats.c), shared by the tuner's ranking and the
 * GEMM search's step check. */
#ifndef BT_STATS_H
#define BT_STATS_H

#include <stddef.h>

/* Median of the non-NaN values (mean of the two middle ones for an even count); *spread gets max
 * - min. Both NAN when there is no value. Reorders v. */
double bt_median_and_spread(double *v, size_t n, double *spread);

#endif
