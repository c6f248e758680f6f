/* The tuner's arithmetic on measurements: time to target by interpolation, a candidate's medians
 * and spreads over its seeds, and the ranking. */
#include <math.h>
#include <stdlib.h>

#include "common/stats.h"
#include "tune/tuner_rank.h"

void bt_trial_time_to_target(bt_tuner_trial *t, double target)
{
    t->reached = false;
    t->time_to_target = t->epochs_to_target = NAN;
    for (size_t i = 0; i < t->n_points; ++i) {
        const bt_tuner_point *p = &t->points[i];
        if (!(p->accuracy >= target))
            continue;
        t->reached = true;
        if (i == 0) {
            t->time_to_target = p->train_seconds;
            t->epochs_to_target = p->epochs;
            return;
        }
        /* The accuracy before is below the target and this one at or above it, so the
         * denominator is positive. */
        const bt_tuner_point *q = &t->points[i - 1];
        double f = (target - q->accuracy) / (p->accuracy - q->accuracy);
        t->time_to_target = q->train_seconds + f * (p->train_seconds - q->train_seconds);
        t->epochs_to_target = q->epochs + f * (p->epochs - q->epochs);
        return;
    }
}

/* The upper median of the times to target with "not reached" as infinity (see the header), and
 * the epochs of the trial it comes from. */
static void summarise_time_to_target(bt_tuner_candidate *cand)
{
    size_t order[BT_TUNER_MAX_REPEATS], n = cand->n_trials;
    double v[BT_TUNER_MAX_REPEATS];
    for (size_t k = 0; k < n; ++k) {
        v[k] = cand->trials[k].reached ? cand->trials[k].time_to_target : INFINITY;
        order[k] = k;
    }
    /* Insertion sort of the trial indices by time: at most BT_TUNER_MAX_REPEATS of them. */
    for (size_t i = 1; i < n; ++i) {
        size_t idx = order[i], j = i;
        for (; j > 0 && v[idx] < v[order[j - 1]]; --j)
            order[j] = order[j - 1];
        order[j] = idx;
    }
    const bt_tuner_trial *median = &cand->trials[order[n / 2]];
    cand->reached = isfinite(v[order[n / 2]]);
    cand->time_to_target = cand->reached ? median->time_to_target : NAN;
    cand->epochs_to_target = cand->reached ? median->epochs_to_target : NAN;
    cand->time_to_target_spread =
        isfinite(v[order[n - 1]]) ? v[order[n - 1]] - v[order[0]] : NAN;
}

static void summarise_health(bt_tuner_candidate *cand)
{
    size_t unhealthy = 0;
    bool diverged = false, interrupted = false, target = false, eliminated = false;
    cand->reason = "";
    for (size_t k = 0; k < cand->n_trials; ++k) {
        const bt_tuner_trial *t = &cand->trials[k];
        interrupted |= t->stop == BT_TUNER_STOP_INTERRUPTED;
        target |= t->stop == BT_TUNER_STOP_TARGET;
        eliminated |= t->stop == BT_TUNER_STOP_ELIMINATED;
        if (t->health == BT_TUNER_HEALTHY)
            continue;
        if (!unhealthy)
            cand->reason = t->reason;
        ++unhealthy;
        diverged |= t->health == BT_TUNER_DIVERGED;
    }
    cand->health = 2 * unhealthy <= cand->n_trials ? BT_TUNER_HEALTHY
                   : diverged                      ? BT_TUNER_DIVERGED
                                                   : BT_TUNER_STUCK;
    /* Trials of one candidate end together, except those that turned unhealthy or reached the
     * target early; the candidate shows the most telling reason. */
    cand->stop = cand->health != BT_TUNER_HEALTHY ? BT_TUNER_STOP_UNHEALTHY
                 : interrupted                    ? BT_TUNER_STOP_INTERRUPTED
                 : cand->reached && target        ? BT_TUNER_STOP_TARGET
                 : eliminated                     ? BT_TUNER_STOP_ELIMINATED
                                                  : BT_TUNER_STOP_BUDGET;
}

void bt_candidate_summarise(bt_tuner_candidate *cand, double reference_step_seconds)
{
    size_t n = cand->n_trials;
    double spread;
    cand->update_time_ratio = NAN;
    if (n == 0)
        return;
    summarise_time_to_target(cand);
    double best[BT_TUNER_MAX_REPEATS], rate[BT_TUNER_MAX_REPEATS], step[BT_TUNER_MAX_REPEATS];
    cand->stage = 0;
    for (size_t k = 0; k < n; ++k) {
        const bt_tuner_trial *t = &cand->trials[k];
        best[k] = t->n_points ? t->best_accuracy : NAN;
        rate[k] = t->examples_per_second;
        step[k] = t->step_seconds;
        cand->stage = t->stage > cand->stage ? t->stage : cand->stage;
    }
    cand->best_accuracy = bt_median_and_spread(best, n, &cand->best_accuracy_spread);
    cand->examples_per_second = bt_median_and_spread(rate, n, &spread);
    cand->step_seconds = bt_median_and_spread(step, n, &spread);
    if (reference_step_seconds > 0.0 && isfinite(cand->step_seconds))
        cand->update_time_ratio = cand->step_seconds / reference_step_seconds;
    summarise_health(cand);
}

/* ---- ranking ------------------------------------------------------------------------------- */

enum { CLASS_REACHED, CLASS_HEALTHY, CLASS_UNHEALTHY, CLASS_NOT_STARTED };

static int rank_class(const bt_tuner_candidate *c)
{
    if (c->n_trials == 0)
        return CLASS_NOT_STARTED;
    if (c->reached)
        return CLASS_REACHED;
    return c->health == BT_TUNER_HEALTHY ? CLASS_HEALTHY : CLASS_UNHEALTHY;
}

/* Negative when a ranks before b. NaN accuracies (nothing measured) rank last in a class. */
static int compare_rank(const bt_tuner_candidate *a, const bt_tuner_candidate *b)
{
    int ca = rank_class(a), cb = rank_class(b);
    if (ca != cb)
        return ca - cb;
    if (ca == CLASS_REACHED && a->time_to_target != b->time_to_target)
        return a->time_to_target < b->time_to_target ? -1 : 1;
    if (ca == CLASS_HEALTHY && a->stage != b->stage)
        return a->stage > b->stage ? -1 : 1;
    double xa = isnan(a->best_accuracy) ? -1.0 : a->best_accuracy;
    double xb = isnan(b->best_accuracy) ? -1.0 : b->best_accuracy;
    if (xa != xb)
        return xa > xb ? -1 : 1;
    return (a->batch_size > b->batch_size) - (a->batch_size < b->batch_size);
}

/* Insertion sort: at most BT_TUNER_MAX_CANDIDATES entries, and qsort has no context pointer. */
static void sort_indices(const bt_tuner_candidate *cands, size_t *idx, size_t n,
                         int (*before)(const bt_tuner_candidate *, const bt_tuner_candidate *))
{
    for (size_t i = 1; i < n; ++i) {
        size_t v = idx[i], j = i;
        for (; j > 0 && before(&cands[v], &cands[idx[j - 1]]) < 0; --j)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

void bt_tuner_rank(bt_tuner_result *r)
{
    size_t n = r->summary.n_candidates;
    for (size_t i = 0; i < n; ++i)
        r->ranking[i] = i;
    sort_indices(r->candidates, r->ranking, n, compare_rank);
    for (size_t i = 0; i < n; ++i)
        r->candidates[r->ranking[i]].rank = i + 1;
    const bt_tuner_candidate *first = &r->candidates[r->ranking[0]];
    int cls = rank_class(first);
    r->summary.winner = cls == CLASS_REACHED || cls == CLASS_HEALTHY ? first : NULL;
}

static int compare_accuracy(const bt_tuner_candidate *a, const bt_tuner_candidate *b)
{
    bool ha = a->health == BT_TUNER_HEALTHY, hb = b->health == BT_TUNER_HEALTHY;
    if (ha != hb)
        return ha ? -1 : 1;
    double xa = isnan(a->best_accuracy) ? -1.0 : a->best_accuracy;
    double xb = isnan(b->best_accuracy) ? -1.0 : b->best_accuracy;
    if (xa != xb)
        return xa > xb ? -1 : 1;
    return (a->batch_size > b->batch_size) - (a->batch_size < b->batch_size);
}

void bt_tuner_sort_by_accuracy(const bt_tuner_candidate *candidates, size_t *indices,
                               size_t count)
{
    sort_indices(candidates, indices, count, compare_accuracy);
}
