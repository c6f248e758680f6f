/* Internal: the pieces of the GEMM parameter search (gemm_search.c): test data and timing of one
 * shape (gemm_trial.c), and the space of candidates (gemm_space.c). */
#ifndef BT_GEMM_SEARCH_IMPL_H
#define BT_GEMM_SEARCH_IMPL_H

#include <stdint.h>

#include "batchtune_gemm_tuning.h"

/* ---- one shape: random inputs on the device, a double-precision reference on the host ---- */

typedef struct bt_gemm_trial {
    bt_gemm_tune_shape s;
    size_t lda, ldb;        /* packed row-major operands */
    float alpha, beta;      /* beta = 0 unless s.accumulate */
    bt_buffer *a, *b, *c;   /* device inputs and output */
    bt_buffer *c0;          /* device: C's initial values, copied into c before a check */
    float *expect;          /* host, m x n: alpha op(A) op(B) + beta C0, rounded to float */
    float *bound;           /* host, m x n: the largest error a correct float GEMM can make */
    float *got;             /* host, m x n: scratch for reading C back */
    size_t calls;           /* per timed round, from bt_gemm_trial_calibrate */
} bt_gemm_trial;

/* Fills the trial's inputs with random values in [-1, 1) from `seed`, uploads them and computes
 * the reference. */
bt_status bt_gemm_trial_create(bt_device *device, const bt_gemm_tune_shape *shape,
                               uint64_t seed, bt_gemm_trial *out);
void bt_gemm_trial_destroy(bt_gemm_trial *trial);

/* Runs the GEMM once with CLBlast's current parameters and compares every element of C with the
 * reference. BT_OK: correct. Otherwise the status of the failed call, or BT_ERR_CLBLAST with
 * "wrong result ..." when the values differ; the last error says what happened. */
bt_status bt_gemm_trial_check(bt_device *device, bt_gemm_trial *trial);

/* Timing, in wall-clock seconds per call with calls enqueued back to back as training does.
 * Calibrate once after a check (which compiles what the call needs): it chooses how many calls
 * make a round long enough to time. A round then runs them once. Callers take the fastest of
 * several rounds (other processes only ever add time), spread over time: this machine's speed
 * drifts by tens of percent over seconds, so rounds of one shape back to back can all fall into
 * one slow phase. */
bt_status bt_gemm_trial_calibrate(bt_device *device, bt_gemm_trial *trial);

/* How many runs of something that took `one` seconds once fill a round of `round_seconds`: at
 * least 1, at most BT_GEMM_MAX_ROUND_RUNS. Used for single GEMMs and for whole steps. */
#define BT_GEMM_MAX_ROUND_RUNS 2000
size_t bt_gemm_runs_per_round(double one, double round_seconds);
bt_status bt_gemm_trial_round(bt_device *device, bt_gemm_trial *trial, double *seconds);

/* Runs a sequence of trials in order, as a training step runs its GEMMs, `runs` times back to
 * back, and waits for them (the caller times it). */
bt_status bt_gemm_sequence_run(bt_device *device, bt_gemm_trial *const *trials, size_t n,
                               size_t runs);

/* ---- the split between the paths (gemm_split.c) ---- */

/* Split sizes that send every product a device can hold to the direct path ((2^20)^3 = 2^60
 * multiply-adds) and every product to the indirect one. */
#define BT_GEMM_SPLIT_ALL_DIRECT (1u << 20)
#define BT_GEMM_SPLIT_ALL_INDIRECT 1u

/* volumes: the shapes' m * n * k, ascending, n of them. */

/* A split size sending the `split` smallest shapes direct and the others indirect; 0 if no
 * integer size does (equal volumes on both sides, or no cube between them). Between two
 * volumes the geometric middle is taken, so that shapes near the tuned ones follow them. */
unsigned bt_gemm_split_size(const uint64_t *volumes, size_t n, size_t split);

/* How many of the shapes a split size sends to the direct path (volume < size^3). */
size_t bt_gemm_split_direct_count(const uint64_t *volumes, size_t n, unsigned size);

/* The least move past `volume`: the split size for the fewest shapes direct that includes every
 * shape of at most that volume; 0 if none exists. */
unsigned bt_gemm_split_past(const uint64_t *volumes, size_t n, uint64_t volume);

/* The try that slows the fewest steps, among those the largest speedup (the first on a tie). */
size_t bt_gemm_split_choose(const bt_gemm_tune_split_try *tries, size_t n);

/* ---- the candidates: parameter values for one kernel ---- */

typedef enum bt_gemm_group { BT_GROUP_DIRECT, BT_GROUP_INDIRECT, BT_GROUP_COUNT } bt_gemm_group;

/* Enough for either kernel's parameters. */
#define BT_GEMM_MAX_PARAMS BT_GEMM_INDIRECT_COUNT

typedef struct bt_gemm_values {
    unsigned v[BT_GEMM_MAX_PARAMS];
} bt_gemm_values;

size_t bt_gemm_group_count(bt_gemm_group group); /* parameters of the group's kernel */
const char *bt_gemm_group_kernel(bt_gemm_group group); /* "XgemmDirect", "Xgemm" */

/* A params struct holding only `values` for the group. */
bt_gemm_params bt_gemm_group_params(bt_gemm_group group, const bt_gemm_values *values);

/* Typical starting points for the group, best guesses for the device's type first. *count
 * receives how many; at most `max` are written. Each passes bt_gemm_params_check for the
 * device and stays within the work per work-item that compiles in reasonable time. */
size_t bt_gemm_space_seeds(const bt_device *device, bt_gemm_group group, bt_gemm_values *out,
                           size_t max);

/* A valid neighbour of `center` (one to three parameters moved, mostly to adjacent values of
 * the searched ranges, within the same compile-time limit as the seeds) not in
 * `seen[0..n_seen)`. false if none was found after many tries. */
bool bt_gemm_space_neighbour(const bt_device *device, bt_gemm_group group,
                             const bt_gemm_values *center, const bt_gemm_values *seen,
                             size_t n_seen, uint64_t *rng, bt_gemm_values *out);

/* xorshift64* step; *state must not be 0. */
uint64_t bt_gemm_rng_next(uint64_t *state);

#endif
