/* bt_gemm_tune: the search for CLBlast GEMM parameters (what it does is described at its
 * declaration in batchtune_gemm_tuning.h).
 *
 * Two kinds of candidate are measured: direct-kernel parameters with every shape forced onto the
 * direct path, and indirect-kernel parameters with every shape forced onto the indirect path.
 * Since the kernels do not depend on each other, any direct candidate can be combined with any
 * indirect one and a split size (shapes below it direct, the others indirect) without measuring
 * the combination: its objective is the sum of the measured per-shape times. After each
 * candidate the best combination over everything measured is recomputed, and the next
 * candidate of each kind is a neighbour of the one that combination uses. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device_impl.h"
#include "common/clock.h"
#include "common/error.h"
#include "gemm/tuning/gemm_tuning_impl.h"
#include "gemm/tuning/gemm_search_impl.h"
#include "common/stats.h"

#define MAX_SEEDS 16
/* A candidate more than this many times slower on a shape than the fastest measured there is
 * not measured on the shapes after it (it would never be chosen for them either): this saves
 * most of the timing of hopeless candidates. */
#define HOPELESS_FACTOR 4.0
/* Timed rounds per shape and candidate (the fastest counts); CLBlast's defaults, measured once
 * and the reference of every speed-up, get more. */
#define ROUNDS 3
#define DEFAULT_ROUNDS 7
/* Rounds of each step in the step check (each times both configurations twice); the median of
 * the paired ratios counts. */
#define STEP_ROUNDS 9
/* Length of one timed run of a step in the step check. */
#define STEP_ROUND_SECONDS 0.02
/* A step whose paired median says it is this much slower than with the defaults counts as
 * slowed. Below it the check cannot tell: the same parameters timed against themselves this way
 * gave ratios of 0.93-1.07 here. */
#define SLOWER_TOLERANCE 1.10

typedef struct candidate {
    bt_gemm_group group;
    bool is_default; /* CLBlast's own parameters for the group's kernel */
    bt_gemm_values values;
    bool valid;
    double seconds[BT_GEMM_TUNE_MAX_SHAPES]; /* per shape; INFINITY: not measured */
} candidate;

/* The best combination: direct candidate for the `split` smallest shapes, indirect for the
 * rest. A candidate index of -1: that path runs no shape. */
typedef struct combination {
    size_t split;
    unsigned min_indirect_size;
    long direct, indirect;
    double objective;
} combination;

typedef struct search {
    bt_device *dev;
    const bt_gemm_tune_opts *opts;
    size_t n;                                 /* shapes */
    bt_gemm_trial trials[BT_GEMM_TUNE_MAX_SHAPES];
    size_t by_volume[BT_GEMM_TUNE_MAX_SHAPES]; /* shape indices, ascending m * n * k */
    uint64_t volumes[BT_GEMM_TUNE_MAX_SHAPES];  /* their m * n * k, in that order */
    candidate *cands;
    size_t n_cands, cap_cands;
    bt_gemm_values seen[BT_GROUP_COUNT][512]; /* values tried per group, for neighbours */
    size_t n_seen[BT_GROUP_COUNT];
    bt_gemm_values seeds[BT_GROUP_COUNT][MAX_SEEDS];
    size_t n_seeds[BT_GROUP_COUNT], next_seed[BT_GROUP_COUNT];
    bt_gemm_params clblast_own; /* CLBlast's parameters before the search, all three parts */
    uint64_t rng;
    double start;
    combination best;
    bt_gemm_tune_result *result;
    const char *stage;
    char stage_text[96];
    /* What the budget has to leave room for, from what was measured so far (seconds): one
     * candidate (the slowest so far: compiling a new candidate's kernels can take tens of
     * times as long as fetching cached ones), measuring every shape with CLBlast's defaults
     * (the final measurement costs about as much) and one timing of the steps (a first
     * estimate, then what the first one took). */
    double candidate_seconds;
    double defaults_seconds;
    double step_try_seconds;
} search;

static uint64_t volume(const bt_gemm_shape *s)
{
    return (uint64_t)s->m * (uint64_t)s->n * (uint64_t)s->k;
}

/* ---- options and set-up --------------------------------------------------------------------- */

bt_gemm_tune_opts bt_gemm_tune_opts_default(void)
{
    bt_gemm_tune_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.budget_seconds = 300.0;
    opts.seed = 1;
    return opts;
}

static bool same_shape(const bt_gemm_shape *a, const bt_gemm_shape *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->m == b->m &&
           a->n == b->n && a->k == b->k;
}

static bt_status check_opts(const bt_device *dev, const bt_gemm_tune_opts *o)
{
    if (!o->shapes || o->n_shapes == 0 || o->n_shapes > BT_GEMM_TUNE_MAX_SHAPES)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: 1 to %d shapes are needed, not %zu",
                       BT_GEMM_TUNE_MAX_SHAPES, o->n_shapes);
    if (!(o->budget_seconds >= 0.0) || (o->n_start && !o->start))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: bad budget or start list");
    for (size_t i = 0; i < o->n_shapes; ++i) {
        const bt_gemm_tune_shape *s = &o->shapes[i];
        if (s->shape.m == 0 || s->shape.n == 0 || s->shape.k == 0 || !(s->weight > 0.0) ||
            !isfinite(s->weight))
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: shape %zu needs dimensions "
                                                    "and a weight above zero",
                           i);
        for (size_t j = 0; j < i; ++j)
            if (same_shape(&s->shape, &o->shapes[j].shape))
                return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: shapes %zu and %zu are "
                                                        "the same; give it once, weighted",
                               j, i);
    }
    if (o->n_steps > BT_GEMM_TUNE_MAX_STEPS || (o->n_steps && !o->steps))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: 0 to %d steps are allowed, not %zu",
                       BT_GEMM_TUNE_MAX_STEPS, o->n_steps);
    for (size_t t = 0; t < o->n_steps; ++t) {
        const bt_gemm_tune_step *step = &o->steps[t];
        if (step->count == 0 || step->count > BT_GEMM_TUNE_MAX_STEP_SHAPES ||
            !(step->weight > 0.0) || !isfinite(step->weight))
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: step %zu needs 1 to %d shapes "
                                                    "and a weight above zero",
                           t, BT_GEMM_TUNE_MAX_STEP_SHAPES);
        for (size_t j = 0; j < step->count; ++j)
            if (step->shapes[j] >= o->n_shapes)
                return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: step %zu names shape %zu "
                                                        "of %zu",
                               t, step->shapes[j], o->n_shapes);
    }
    bt_gemm_params applied;
    bt_device_get_gemm_params(dev, &applied);
    if (applied.has_direct || applied.has_indirect || applied.has_min_indirect_size)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_gemm_tune: the device already has applied GEMM parameters, so "
                       "CLBlast's defaults cannot be measured; open it with apply_gemm_tuning = "
                       "false");
    return BT_OK;
}

/* Shape indices by ascending volume (insertion sort: at most 128 shapes). */
static void sort_by_volume(search *s)
{
    for (size_t i = 0; i < s->n; ++i) {
        size_t at = i;
        uint64_t v = volume(&s->opts->shapes[i].shape);
        while (at > 0 && volume(&s->opts->shapes[s->by_volume[at - 1]].shape) > v) {
            s->by_volume[at] = s->by_volume[at - 1];
            --at;
        }
        s->by_volume[at] = i;
    }
    for (size_t r = 0; r < s->n; ++r)
        s->volumes[r] = volume(&s->opts->shapes[s->by_volume[r]].shape);
}

static bt_status create_trials(search *s)
{
    for (size_t i = 0; i < s->n; ++i)
        BT_TRY(bt_gemm_trial_create(s->dev, &s->opts->shapes[i],
                                    s->opts->seed ^ (0x9e3779b97f4a7c15ull * (i + 1)),
                                    &s->trials[i]));
    return BT_OK;
}

/* ---- progress ------------------------------------------------------------------------------- */

static double elapsed(const search *s) { return bt_clock_seconds() - s->start; }

/* false: the caller asked to stop. */
static bool report(search *s)
{
    if (!s->opts->progress)
        return true;
    bt_gemm_tune_progress p;
    memset(&p, 0, sizeof p);
    p.elapsed_seconds = elapsed(s);
    p.budget_seconds = s->opts->budget_seconds;
    p.tried = s->result->tried;
    p.invalid = s->result->invalid;
    p.stage = s->stage;
    p.speedup = s->best.objective > 0.0 && isfinite(s->best.objective)
                    ? s->result->default_objective / s->best.objective
                    : 1.0;
    bool go_on = s->opts->progress(&p, s->opts->progress_ctx);
    if (!go_on)
        s->result->stopped = true;
    return go_on;
}

/* ---- measuring ------------------------------------------------------------------------------ */

static bt_status apply_split(search *s, unsigned size)
{
    bt_gemm_params p;
    memset(&p, 0, sizeof p);
    p.has_min_indirect_size = true;
    p.min_indirect_size = size;
    return bt_device_apply_gemm_params(s->dev, &p);
}

/* The fastest valid time measured on shape i so far (INFINITY if none). */
static double best_on_shape(const search *s, size_t i)
{
    double best = INFINITY;
    for (size_t c = 0; c < s->n_cands; ++c)
        if (s->cands[c].valid && s->cands[c].seconds[i] < best)
            best = s->cands[c].seconds[i];
    return best;
}

/* Checks a trial, then calibrates it and times its first round. */
static bt_status first_round(search *s, bt_gemm_trial *trial, double *seconds)
{
    BT_TRY(bt_gemm_trial_check(s->dev, trial));
    BT_TRY(bt_gemm_trial_calibrate(s->dev, trial));
    return bt_gemm_trial_round(s->dev, trial, seconds);
}

/* `rounds` more rounds of each trial whose seconds[] is finite, one trial after the other in
 * each round so that every trial's samples spread over the whole measurement; seconds[] keeps
 * the fastest. */
static bt_status more_rounds(search *s, bt_gemm_trial *const *trials, size_t n, int rounds,
                             double *seconds)
{
    for (int r = 0; r < rounds; ++r)
        for (size_t i = 0; i < n; ++i) {
            if (!isfinite(seconds[i]))
                continue;
            double t = 0.0;
            BT_TRY(bt_gemm_trial_round(s->dev, trials[i], &t));
            seconds[i] = t < seconds[i] ? t : seconds[i];
        }
    return BT_OK;
}

/* The search's trials as more_rounds takes them. */
static void trial_list(search *s, bt_gemm_trial **out)
{
    for (size_t i = 0; i < s->n; ++i)
        out[i] = &s->trials[i];
}

/* Checks and times every shape with CLBlast's current parameters, into seconds[] (INFINITY for
 * shapes skipped as hopeless). *rejected: the parameters failed somewhere (the reason is in the
 * last error): a kernel that does not build, a launch the device refuses, a wrong result. Only
 * running out of host memory is returned as a failure of the search. Direct candidates go from
 * the smallest shape up, indirect ones from the largest down: each is measured first where it
 * is meant to run, and the first round decides whether the rest is worth timing. */
static bt_status measure(search *s, bt_gemm_group group, bool may_skip, double *seconds,
                         bool *rejected)
{
    *rejected = false;
    for (size_t i = 0; i < s->n; ++i)
        seconds[i] = INFINITY;
    bt_status status = BT_OK;
    for (size_t r = 0; r < s->n && status == BT_OK; ++r) {
        size_t i = s->by_volume[group == BT_GROUP_DIRECT ? r : s->n - 1 - r];
        status = first_round(s, &s->trials[i], &seconds[i]);
        if (status == BT_OK && may_skip && seconds[i] > HOPELESS_FACTOR * best_on_shape(s, i))
            break;
    }
    if (status == BT_OK) {
        bt_gemm_trial *trials[BT_GEMM_TUNE_MAX_SHAPES];
        trial_list(s, trials);
        status = more_rounds(s, trials, s->n, ROUNDS - 1, seconds);
    }
    if (status == BT_ERR_OUT_OF_HOST_MEMORY)
        return status;
    *rejected = status != BT_OK;
    return BT_OK;
}

static bt_status add_candidate(search *s, candidate **out)
{
    if (s->n_cands == s->cap_cands) {
        size_t cap = s->cap_cands ? 2 * s->cap_cands : 32;
        candidate *grown = realloc(s->cands, cap * sizeof *grown);
        if (!grown)
            return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        s->cands = grown;
        s->cap_cands = cap;
    }
    *out = &s->cands[s->n_cands++];
    memset(*out, 0, sizeof **out);
    return BT_OK;
}

static void remember(search *s, bt_gemm_group group, const bt_gemm_values *values)
{
    size_t max = sizeof s->seen[0] / sizeof s->seen[0][0];
    if (s->n_seen[group] < max)
        s->seen[group][s->n_seen[group]++] = *values;
}

static bool was_seen(const search *s, bt_gemm_group group, const bt_gemm_values *values)
{
    for (size_t i = 0; i < s->n_seen[group]; ++i)
        if (memcmp(&s->seen[group][i], values, sizeof *values) == 0)
            return true;
    return false;
}

static void combine(search *s);

/* Applies and measures one candidate (values NULL: the group's CLBlast defaults). A candidate
 * CLBlast refuses or that computes wrongly is kept as invalid. */
static bt_status evaluate(search *s, bt_gemm_group group, const bt_gemm_values *values)
{
    candidate *c = NULL;
    BT_TRY(add_candidate(s, &c));
    c->group = group;
    c->is_default = values == NULL;
    if (values) {
        c->values = *values;
        remember(s, group, values);
    }
    bool rejected = false;
    bt_status status = BT_OK;
    double started = bt_clock_seconds();
    if (values) {
        bt_gemm_params p = bt_gemm_group_params(group, values);
        status = bt_device_apply_gemm_params(s->dev, &p);
        rejected = status != BT_OK;
    }
    if (!rejected)
        BT_TRY(apply_split(s, group == BT_GROUP_DIRECT ? BT_GEMM_SPLIT_ALL_DIRECT
                                                       : BT_GEMM_SPLIT_ALL_INDIRECT));
    if (!rejected)
        BT_TRY(measure(s, group, values != NULL, c->seconds, &rejected));
    /* A failure that comes with a request to stop (an interrupt while the driver compiled the
     * candidate's kernels: PoCL's compiler passes it on as a build failure) is the interruption,
     * not an invalid candidate: it is neither counted nor reported as one. */
    bool interrupted = rejected && !report(s);
    if (!interrupted)
        s->result->tried++;
    c->valid = !rejected;
    if (rejected && !interrupted) {
        s->result->invalid++;
        snprintf(s->result->last_rejection, sizeof s->result->last_rejection, "%s",
                 bt_last_error());
    }
    if (rejected) {
        /* Whatever failed may have left commands queued: drain them before the next one (a
         * queue that cannot even drain fails the next candidate's first call instead). */
        (void)bt_device_finish(s->dev);
    }
    /* The candidate's programs are not needed again; failing to drop them costs memory only. */
    if (values)
        (void)bt_gemm_release_compiled();
    bt_clear_error();
    combine(s);
    double took = bt_clock_seconds() - started;
    if (took > s->candidate_seconds)
        s->candidate_seconds = took;
    return BT_OK;
}

/* ---- combining ------------------------------------------------------------------------------ */

static unsigned split_size(const search *s, size_t split)
{
    return bt_gemm_split_size(s->volumes, s->n, split);
}

/* Sum of weight * seconds of candidate c over the shapes by_volume[from..to). */
static double cost(const search *s, const candidate *c, size_t from, size_t to)
{
    double sum = 0.0;
    for (size_t r = from; r < to; ++r) {
        size_t i = s->by_volume[r];
        sum += s->opts->shapes[i].weight * c->seconds[i];
    }
    return sum;
}

/* The cheapest valid candidate of `group` over by_volume[from..to): its index, or -1 (with
 * *best = 0) when the range is empty. */
static long cheapest(const search *s, bt_gemm_group group, size_t from, size_t to, double *best)
{
    *best = from == to ? 0.0 : INFINITY;
    if (from == to)
        return -1;
    long arg = -1;
    for (size_t c = 0; c < s->n_cands; ++c) {
        const candidate *cand = &s->cands[c];
        if (cand->group != group || !cand->valid)
            continue;
        double v = cost(s, cand, from, to);
        if (v < *best) {
            *best = v;
            arg = (long)c;
        }
    }
    return arg;
}

static void combine(search *s)
{
    combination best = {0, 0, -1, -1, INFINITY};
    for (size_t split = 0; split <= s->n; ++split) {
        unsigned size = split_size(s, split);
        if (size == 0)
            continue;
        double d_cost, i_cost;
        long d = cheapest(s, BT_GROUP_DIRECT, 0, split, &d_cost);
        long i = cheapest(s, BT_GROUP_INDIRECT, split, s->n, &i_cost);
        if (d_cost + i_cost < best.objective)
            best = (combination){split, size, d, i, d_cost + i_cost};
    }
    s->best = best;
}

/* ---- choosing the next candidate ------------------------------------------------------------ */

/* What a candidate could add: per shape, the better of it and the other path's best. */
static double potential(const search *s, const candidate *c)
{
    double sum = 0.0;
    for (size_t i = 0; i < s->n; ++i) {
        double other = INFINITY;
        for (size_t o = 0; o < s->n_cands; ++o)
            if (s->cands[o].group != c->group && s->cands[o].valid &&
                s->cands[o].seconds[i] < other)
                other = s->cands[o].seconds[i];
        double t = c->seconds[i] < other ? c->seconds[i] : other;
        sum += s->opts->shapes[i].weight * (isfinite(t) ? t : s->result->default_seconds[i]);
    }
    return sum;
}

/* The candidate whose neighbours come next: the one the best combination uses, else the one of
 * the group with the best potential. false if the group has no measured values to start from. */
static bool center_of(const search *s, bt_gemm_group group, bt_gemm_values *out)
{
    long in_best = group == BT_GROUP_DIRECT ? s->best.direct : s->best.indirect;
    if (in_best >= 0 && !s->cands[in_best].is_default) {
        *out = s->cands[in_best].values;
        return true;
    }
    double best = INFINITY;
    bool found = false;
    for (size_t c = 0; c < s->n_cands; ++c) {
        const candidate *cand = &s->cands[c];
        if (cand->group != group || !cand->valid || cand->is_default)
            continue;
        double p = potential(s, cand);
        if (p < best) {
            best = p;
            *out = cand->values;
            found = true;
        }
    }
    return found;
}

/* The group's next values: an unseen seed, else a neighbour of the center. */
static bool next_values(search *s, bt_gemm_group group, bt_gemm_values *out)
{
    while (s->next_seed[group] < s->n_seeds[group]) {
        *out = s->seeds[group][s->next_seed[group]++];
        if (!was_seen(s, group, out))
            return true;
    }
    bt_gemm_values center;
    if (!center_of(s, group, &center)) {
        if (s->n_seeds[group] == 0)
            return false;
        center = s->seeds[group][0];
    }
    return bt_gemm_space_neighbour(s->dev, group, &center, s->seen[group], s->n_seen[group],
                                   &s->rng, out);
}

/* Seconds of one timing of the steps before any was made: per step STEP_ROUNDS rounds of four
 * timed runs of at least STEP_ROUND_SECONDS and about three untimed ones (switching parameters),
 * a step's run taken as twice its GEMMs with CLBlast's defaults (real training steps do more
 * than their GEMMs), plus one candidate's worth for compiling CLBlast's kernels. */
static double step_try_estimate(const search *s)
{
    if (s->step_try_seconds > 0.0)
        return s->step_try_seconds;
    const bt_gemm_tune_opts *o = s->opts;
    double total = s->candidate_seconds;
    for (size_t t = 0; t < o->n_steps; ++t) {
        double run = 0.0;
        for (size_t j = 0; j < o->steps[t].count; ++j)
            run += 2.0 * s->result->default_seconds[o->steps[t].shapes[j]];
        double timed = run > STEP_ROUND_SECONDS ? run : STEP_ROUND_SECONDS;
        total += STEP_ROUNDS * (4.0 * timed + 3.0 * run) + run;
    }
    return total;
}

/* What the search keeps in hand for after it: the step check's first timing (when there are
 * steps) and the final measurement of every shape. */
static double finish_reserve(const search *s)
{
    return (s->opts->n_steps > 0 ? step_try_estimate(s) : 0.0) + s->defaults_seconds;
}

/* Whether one more candidate fits: it and everything after the search end within the budget. */
static bool in_budget(const search *s)
{
    return elapsed(s) + s->candidate_seconds + finish_reserve(s) < s->opts->budget_seconds;
}

/* ---- the phases ----------------------------------------------------------------------------- */

/* CLBlast's parameters as they come, with its own split: the reference every figure is given
 * against. Must work: without it there is nothing to compare with. The smallest product, a
 * 1 x 1 x 1 GEMM, is timed with them: what a call costs before any arithmetic. */
static bt_status measure_defaults(search *s)
{
    s->stage = "CLBlast's defaults";
    if (!report(s))
        return BT_OK;
    bt_gemm_tune_result *r = s->result;
    bt_gemm_tune_shape one;
    memset(&one, 0, sizeof one);
    one.shape = (bt_gemm_shape){BT_NO_TRANS, BT_NO_TRANS, 1, 1, 1};
    one.weight = 1.0;
    bt_gemm_trial floor_trial;
    BT_TRY(bt_gemm_trial_create(s->dev, &one, s->opts->seed, &floor_trial));
    bt_gemm_trial *trials[BT_GEMM_TUNE_MAX_SHAPES + 1];
    double seconds[BT_GEMM_TUNE_MAX_SHAPES + 1];
    trial_list(s, trials);
    trials[s->n] = &floor_trial;
    bt_status status = BT_OK;
    double started = bt_clock_seconds();
    for (size_t i = 0; i <= s->n && status == BT_OK; ++i)
        status = first_round(s, trials[i], &seconds[i]);
    if (status == BT_OK)
        status = more_rounds(s, trials, s->n + 1, DEFAULT_ROUNDS - 1, seconds);
    bt_gemm_trial_destroy(&floor_trial);
    s->defaults_seconds = bt_clock_seconds() - started;
    if (status != BT_OK) {
        char reason[512];
        snprintf(reason, sizeof reason, "%s", bt_last_error());
        return bt_fail(status, "GEMM with CLBlast's default parameters failed: %s", reason);
    }
    for (size_t i = 0; i < s->n; ++i) {
        r->default_seconds[i] = seconds[i];
        r->default_objective += s->opts->shapes[i].weight * seconds[i];
    }
    r->call_floor_seconds = seconds[s->n];
    r->tried++;
    /* The same kernels on one path at a time: the baselines every candidate is combined with. */
    s->stage = "XgemmDirect defaults, every shape direct";
    if (report(s))
        BT_TRY(evaluate(s, BT_GROUP_DIRECT, NULL));
    s->stage = "Xgemm defaults, every shape indirect";
    if (!r->stopped && report(s))
        BT_TRY(evaluate(s, BT_GROUP_INDIRECT, NULL));
    return BT_OK;
}

static bt_status try_start_points(search *s)
{
    for (size_t i = 0; i < s->opts->n_start && !s->result->stopped && in_budget(s); ++i) {
        const bt_gemm_params *p = &s->opts->start[i];
        if (bt_gemm_params_check(s->dev, p) != BT_OK) {
            bt_clear_error();
            continue;
        }
        for (int g = 0; g < BT_GROUP_COUNT && !s->result->stopped && in_budget(s); ++g) {
            bool has = g == BT_GROUP_DIRECT ? p->has_direct : p->has_indirect;
            bt_gemm_values v;
            memset(&v, 0, sizeof v);
            memcpy(v.v, g == BT_GROUP_DIRECT ? p->direct : p->indirect,
                   bt_gemm_group_count((bt_gemm_group)g) * sizeof(unsigned));
            if (!has || was_seen(s, (bt_gemm_group)g, &v))
                continue;
            snprintf(s->stage_text, sizeof s->stage_text, "%s: the given start point",
                     bt_gemm_group_kernel((bt_gemm_group)g));
            s->stage = s->stage_text;
            if (report(s))
                BT_TRY(evaluate(s, (bt_gemm_group)g, &v));
        }
    }
    return BT_OK;
}

/* Which kernel's candidate comes next: the one whose recent candidates improved the best
 * objective more recently (compiling a candidate takes seconds to a minute, so turns spent on a
 * kernel that stopped paying off are expensive); alternating while both are equally stale. */
static bt_gemm_group choose_group(const size_t *stale, size_t turn)
{
    if (stale[BT_GROUP_DIRECT] != stale[BT_GROUP_INDIRECT])
        return stale[BT_GROUP_DIRECT] < stale[BT_GROUP_INDIRECT] ? BT_GROUP_DIRECT
                                                                 : BT_GROUP_INDIRECT;
    return (bt_gemm_group)(turn % BT_GROUP_COUNT);
}

static bt_status explore(search *s)
{
    bool exhausted[BT_GROUP_COUNT] = {false, false};
    size_t stale[BT_GROUP_COUNT] = {0, 0}; /* candidates since the group last improved */
    for (size_t turn = 0; !s->result->stopped && in_budget(s); ++turn) {
        if (exhausted[BT_GROUP_DIRECT] && exhausted[BT_GROUP_INDIRECT])
            break;
        bt_gemm_group group = choose_group(stale, turn);
        if (exhausted[group])
            group = (bt_gemm_group)(1 - group);
        bt_gemm_values v;
        if (!next_values(s, group, &v)) {
            exhausted[group] = true;
            continue;
        }
        snprintf(s->stage_text, sizeof s->stage_text, "%s candidate %zu",
                 bt_gemm_group_kernel(group), s->n_seen[group] + 1);
        s->stage = s->stage_text;
        if (!report(s))
            break;
        double before = s->best.objective;
        BT_TRY(evaluate(s, group, &v));
        /* Less than 1% better is within the timing noise: not an improvement. */
        stale[group] = s->best.objective < 0.99 * before ? 0 : stale[group] + 1;
    }
    return BT_OK;
}

/* With the result in effect, every shape is checked and timed again as CLBlast's defaults were
 * (same rounds, CLBlast choosing the path), so that the two columns of the final table compare
 * like with like rather than a candidate timed with every shape forced onto one path. A shape
 * that now fails keeps the search's figure; its failure stays in last_rejection. */
static void remeasure(search *s)
{
    bt_gemm_tune_result *r = s->result;
    double seconds[BT_GEMM_TUNE_MAX_SHAPES];
    for (size_t i = 0; i < s->n; ++i) {
        if (first_round(s, &s->trials[i], &seconds[i]) != BT_OK) {
            snprintf(r->last_rejection, sizeof r->last_rejection, "%s", bt_last_error());
            seconds[i] = INFINITY; /* keeps the search's figure */
        }
    }
    bt_gemm_trial *trials[BT_GEMM_TUNE_MAX_SHAPES];
    trial_list(s, trials);
    if (more_rounds(s, trials, s->n, DEFAULT_ROUNDS - 1, seconds) != BT_OK)
        snprintf(r->last_rejection, sizeof r->last_rejection, "%s", bt_last_error());
    bt_clear_error();
    double objective = 0.0;
    for (size_t i = 0; i < s->n; ++i) {
        if (isfinite(seconds[i]))
            r->best_seconds[i] = seconds[i];
        objective += s->opts->shapes[i].weight * r->best_seconds[i];
    }
    r->best_objective = objective;
}

/* ---- the step check ------------------------------------------------------------------------ */

/* The group's candidate with CLBlast's own parameters, or -1 if it was not measured. */
static long default_candidate(const search *s, bt_gemm_group group)
{
    for (size_t c = 0; c < s->n_cands; ++c)
        if (s->cands[c].group == group && s->cands[c].is_default && s->cands[c].valid)
            return (long)c;
    return -1;
}

/* All three parts: the two candidates' values (CLBlast's own for a default one) and a split. */
static bt_gemm_params full_params(const search *s, long direct, long indirect, unsigned split)
{
    bt_gemm_params p = s->clblast_own;
    const candidate *d = &s->cands[direct], *in = &s->cands[indirect];
    if (!d->is_default)
        memcpy(p.direct, d->values.v, sizeof p.direct);
    if (!in->is_default)
        memcpy(p.indirect, in->values.v, sizeof p.indirect);
    p.min_indirect_size = split;
    return p;
}

/* Runs step t `runs` times and waits: the caller's work when it gave run_step, else the step's
 * GEMMs in sequence on the search's buffers. */
static bt_status run_step(search *s, size_t t, size_t runs)
{
    const bt_gemm_tune_opts *o = s->opts;
    if (o->run_step)
        return o->run_step(t, runs, o->run_step_ctx);
    bt_gemm_trial *trials[BT_GEMM_TUNE_MAX_STEP_SHAPES];
    size_t n = o->steps[t].count;
    for (size_t j = 0; j < n; ++j)
        trials[j] = &s->trials[o->steps[t].shapes[j]];
    return bt_gemm_sequence_run(s->dev, trials, n, runs);
}

/* Wall-clock seconds per run of step t over `runs` runs back to back. */
static bt_status time_step(search *s, size_t t, size_t runs, double *seconds)
{
    double start = bt_clock_seconds();
    BT_TRY(run_step(s, t, runs));
    *seconds = (bt_clock_seconds() - start) / (double)runs;
    return BT_OK;
}

/* Applies configuration `config` (0: CLBlast's parameters, 1: p) unless it is in effect, then
 * runs step t once untimed: the first GEMMs after new parameters fetch CLBlast's programs again
 * (milliseconds, as long as tens of small steps), or compile them the first time. */
static bt_status switch_to(search *s, const bt_gemm_params *p, size_t config, size_t *current,
                           size_t t)
{
    if (*current != config) {
        BT_TRY(bt_device_apply_gemm_params(s->dev, config == 0 ? &s->clblast_own : p));
        *current = config;
    }
    return run_step(s, t, 1);
}

/* Times every step with CLBlast's parameters (configuration 0) and with `p` (1), STEP_ROUNDS
 * rounds. In a round each step runs A B B A (B A A B in the next), A being the defaults, so that
 * a drift in the machine's speed hits both alike: on this kind of machine the speed changes by
 * tens of percent within a tenth of a second, which whole passes over the steps with one
 * configuration and then the other turned into false differences of up to 30%.
 * seconds[t * STEP_ROUNDS + r]: the defaults' time per run in round r; ratio[...]: their time
 * over p's. */
static bt_status time_steps(search *s, const bt_gemm_params *p, double *seconds, double *ratio)
{
    const bt_gemm_tune_opts *o = s->opts;
    size_t runs[BT_GEMM_TUNE_MAX_STEPS] = {0};
    size_t current = 2; /* unknown */
    for (size_t t = 0; t < o->n_steps; ++t) {
        double one = 0.0;
        BT_TRY(switch_to(s, p, 0, &current, t));
        BT_TRY(time_step(s, t, 1, &one));
        runs[t] = bt_gemm_runs_per_round(one, STEP_ROUND_SECONDS);
    }
    for (size_t round = 0; round < STEP_ROUNDS; ++round) {
        for (size_t t = 0; t < o->n_steps; ++t) {
            double sum[2] = {0.0, 0.0};
            for (size_t k = 0; k < 4; ++k) {
                size_t config = (k == 0 || k == 3) == (round % 2 == 0) ? 0 : 1;
                double one = 0.0;
                if (config != current)
                    BT_TRY(switch_to(s, p, config, &current, t));
                BT_TRY(time_step(s, t, runs[t], &one));
                sum[config] += one;
            }
            seconds[t * STEP_ROUNDS + round] = 0.5 * sum[0];
            ratio[t * STEP_ROUNDS + round] = sum[0] / sum[1];
        }
    }
    return BT_OK;
}

/* One split timed against CLBlast's defaults: per step the defaults' median time and that over
 * the median of the paired ratios, the weighted sums, and the summary the result reports. */
typedef struct step_timing {
    double before[BT_GEMM_TUNE_MAX_STEPS], after[BT_GEMM_TUNE_MAX_STEPS];
    double before_objective, after_objective;
    bt_gemm_tune_split_try summary;
} step_timing;

/* Whether step t came out slower with the split than with the defaults, beyond the noise. */
static bool slowed(const step_timing *timing, size_t t)
{
    return timing->after[t] > SLOWER_TOLERANCE * timing->before[t];
}

static bt_status time_try(search *s, const bt_gemm_params *p, step_timing *out)
{
    const bt_gemm_tune_opts *o = s->opts;
    double *samples = calloc(o->n_steps * 2 * STEP_ROUNDS, sizeof *samples);
    if (!samples)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    double *seconds = samples, *ratio = samples + o->n_steps * STEP_ROUNDS;
    bt_status status = time_steps(s, p, seconds, ratio);
    if (status == BT_OK) {
        memset(out, 0, sizeof *out);
        for (size_t t = 0; t < o->n_steps; ++t) {
            double spread;
            double speedup = bt_median_and_spread(&ratio[t * STEP_ROUNDS], STEP_ROUNDS, &spread);
            out->before[t] = bt_median_and_spread(&seconds[t * STEP_ROUNDS], STEP_ROUNDS,
                                                  &spread);
            out->after[t] = out->before[t] / speedup;
            out->before_objective += o->steps[t].weight * out->before[t];
            out->after_objective += o->steps[t].weight * out->after[t];
            out->summary.slower_steps += slowed(out, t);
        }
        out->summary.min_indirect_size = p->min_indirect_size;
        out->summary.speedup = out->before_objective / out->after_objective;
    }
    free(samples);
    return status;
}

/* Larger splits worth timing when `first` slowed some steps: for each slowed step, the least
 * move that changes it, sending its smallest indirect shape (and any of equal volume) to the
 * direct path. Ascending and distinct, the smallest moves first; returns how many (<= max). */
static size_t repair_splits(const search *s, const step_timing *first, unsigned *sizes,
                            size_t max)
{
    const bt_gemm_tune_opts *o = s->opts;
    uint64_t cube = (uint64_t)first->summary.min_indirect_size *
                    first->summary.min_indirect_size * first->summary.min_indirect_size;
    size_t n = 0;
    for (size_t t = 0; t < o->n_steps; ++t) {
        if (!slowed(first, t))
            continue;
        uint64_t smallest = UINT64_MAX; /* the step's smallest indirect volume */
        for (size_t j = 0; j < o->steps[t].count; ++j) {
            uint64_t v = volume(&o->shapes[o->steps[t].shapes[j]].shape);
            if (v >= cube && v < smallest)
                smallest = v;
        }
        unsigned size = smallest == UINT64_MAX ? 0 : bt_gemm_split_past(s->volumes, s->n, smallest);
        size_t at = 0;
        while (at < n && sizes[at] < size)
            ++at;
        if (size == 0 || (at < n && sizes[at] == size) || (n == max && at == n))
            continue;
        if (n == max)
            --n; /* the largest gives way to a smaller move */
        memmove(&sizes[at + 1], &sizes[at], (n - at) * sizeof *sizes);
        sizes[at] = size;
        ++n;
    }
    return n;
}

/* A timing of the steps that did not complete: the caller's steps asked to stop
 * (BT_ERR_INTERRUPTED: the search stops, as when a progress callback says so), or an error that
 * finish_error keeps after `what`. */
static void timing_failed(search *s, bt_status status, const char *what)
{
    if (status == BT_ERR_INTERRUPTED)
        s->result->stopped = true;
    else
        snprintf(s->result->finish_error, sizeof s->result->finish_error, "%s: %s", what,
                 bt_last_error());
    bt_clear_error();
}

/* Times the steps with the best combination and with CLBlast's defaults, then with larger
 * splits if some steps were slower; moves *b to the split that slows the fewest steps, then
 * gives the largest speedup. false: that split is not at least 1% faster than the defaults
 * (less is within the timing noise). When the first timing fails, the per-shape choice stands
 * (true) and n_steps stays 0. */
static bool check_steps(search *s, combination *b, long d, long in)
{
    const bt_gemm_tune_opts *o = s->opts;
    bt_gemm_tune_result *r = s->result;
    s->stage = "timing the steps with the result and with CLBlast's defaults";
    if (!report(s))
        return true;
    step_timing *tries = calloc(BT_GEMM_TUNE_MAX_SPLIT_TRIES, sizeof *tries);
    bt_gemm_params p = full_params(s, d, in, b->min_indirect_size);
    double started = bt_clock_seconds();
    bt_status status = tries ? time_try(s, &p, &tries[0])
                             : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->step_try_seconds = bt_clock_seconds() - started;
    if (status != BT_OK) {
        timing_failed(s, status, "timing the steps failed");
        free(tries);
        return true;
    }
    size_t n_tries = 1;
    unsigned sizes[BT_GEMM_TUNE_MAX_SPLIT_TRIES - 1];
    size_t n_sizes = tries[0].summary.slower_steps
                         ? repair_splits(s, &tries[0], sizes, BT_GEMM_TUNE_MAX_SPLIT_TRIES - 1)
                         : 0;
    for (size_t i = 0; i < n_sizes; ++i) {
        /* Each larger split costs about what the first timing did; with a budget, one that
         * would end past it (with the final measurement after it) is left out, and so are the
         * ones after it. A budget of 0 asks for no search at all, not for no check. */
        double budget = o->budget_seconds;
        if (budget > 0.0 &&
            elapsed(s) + s->step_try_seconds + s->defaults_seconds > budget) {
            r->n_split_tries_skipped = n_sizes - i;
            break;
        }
        snprintf(s->stage_text, sizeof s->stage_text,
                 "timing the steps with split %u (compiles CLBlast's kernels)", sizes[i]);
        s->stage = s->stage_text;
        if (!report(s))
            break;
        p.min_indirect_size = sizes[i];
        status = time_try(s, &p, &tries[n_tries]);
        if (status == BT_OK) {
            ++n_tries;
            continue;
        }
        char what[96];
        snprintf(what, sizeof what, "timing the steps with split %u failed, so it was not "
                                    "considered", sizes[i]);
        timing_failed(s, status, what);
        if (r->stopped)
            break;
    }
    for (size_t i = 0; i < n_tries; ++i)
        r->split_tries[i] = tries[i].summary;
    r->n_split_tries = n_tries;
    size_t chosen = bt_gemm_split_choose(r->split_tries, n_tries);
    const step_timing *c = &tries[chosen];
    memcpy(r->default_step_seconds, c->before, o->n_steps * sizeof *c->before);
    memcpy(r->best_step_seconds, c->after, o->n_steps * sizeof *c->after);
    r->n_steps = o->n_steps;
    r->default_step_objective = c->before_objective;
    r->best_step_objective = c->after_objective;
    if (chosen > 0) {
        b->min_indirect_size = c->summary.min_indirect_size;
        b->split = bt_gemm_split_direct_count(s->volumes, s->n, b->min_indirect_size);
        b->objective = cost(s, &s->cands[d], 0, b->split) + cost(s, &s->cands[in], b->split, s->n);
    }
    bool keep = c->after_objective < 0.99 * c->before_objective;
    free(tries);
    return keep;
}

/* ---- the result ----------------------------------------------------------------------------- */

/* Fills the result from the best combination, checks it on the steps when there are any, and
 * puts it in effect: parts left to CLBlast get back the values CLBlast had before the search. */
static void finish(search *s)
{
    bt_gemm_tune_result *r = s->result;
    combination *b = &s->best;
    memset(&r->params, 0, sizeof r->params);
    bool improved = isfinite(b->objective) && b->objective < r->default_objective;
    for (size_t i = 0; i < s->n; ++i) {
        r->best_seconds[i] = r->default_seconds[i];
        r->best_direct[i] = false;
    }
    r->best_objective = r->default_objective;
    long d = b->direct >= 0 ? b->direct : default_candidate(s, BT_GROUP_DIRECT);
    long in = b->indirect >= 0 ? b->indirect : default_candidate(s, BT_GROUP_INDIRECT);
    bt_gemm_params effective = s->clblast_own;
    if (isfinite(b->objective) && d >= 0 && in >= 0) {
        /* The steps decide when there are any, even when the per-shape figures favour CLBlast's
         * defaults: they are what training runs. They may also move the split. */
        if (s->opts->n_steps > 0 && !r->stopped)
            improved = check_steps(s, b, d, in);
        if (improved) {
            effective = full_params(s, d, in, b->min_indirect_size);
            if (!s->cands[d].is_default)
                r->params = bt_gemm_group_params(BT_GROUP_DIRECT, &s->cands[d].values);
            if (!s->cands[in].is_default) {
                r->params.has_indirect = true;
                memcpy(r->params.indirect, s->cands[in].values.v, sizeof r->params.indirect);
            }
            r->params.has_min_indirect_size = true;
            r->params.min_indirect_size = b->min_indirect_size;
            for (size_t rank = 0; rank < s->n; ++rank) {
                size_t i = s->by_volume[rank];
                r->best_direct[i] = rank < b->split;
                r->best_seconds[i] = r->best_direct[i] ? s->cands[d].seconds[i]
                                                       : s->cands[in].seconds[i];
            }
            r->best_objective = b->objective;
        }
    }
    r->applied = bt_device_apply_gemm_params(s->dev, &effective) == BT_OK;
    if (!r->applied)
        snprintf(r->finish_error, sizeof r->finish_error, "%s", bt_last_error());
    bt_clear_error();
    if (r->applied && improved)
        remeasure(s);
    for (size_t i = 0; i < s->n; ++i) {
        double fastest = best_on_shape(s, i);
        fastest = r->default_seconds[i] < fastest ? r->default_seconds[i] : fastest;
        r->fastest_seconds[i] = r->best_seconds[i] < fastest ? r->best_seconds[i] : fastest;
        /* Timing noise can make a small shape beat the 1x1x1 product: then it bounds the fixed
         * cost, and the bound stays one that no call was measured below. */
        if (r->fastest_seconds[i] < r->call_floor_seconds)
            r->call_floor_seconds = r->fastest_seconds[i];
    }
}

static void destroy(search *s)
{
    for (size_t i = 0; i < s->n; ++i)
        bt_gemm_trial_destroy(&s->trials[i]);
    free(s->cands);
    free(s);
}

bt_status bt_gemm_tune(bt_device *dev, const bt_gemm_tune_opts *opts, bt_gemm_tune_result *out)
{
    if (!dev || !opts || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tune: NULL argument");
    memset(out, 0, sizeof *out);
    BT_TRY(check_opts(dev, opts));
    search *s = calloc(1, sizeof *s);
    if (!s)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    s->dev = dev;
    s->opts = opts;
    s->n = opts->n_shapes;
    s->result = out;
    s->start = bt_clock_seconds();
    s->rng = opts->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (s->rng == 0)
        s->rng = 1;
    s->best.objective = INFINITY;
    out->n_shapes = s->n;
    for (int g = 0; g < BT_GROUP_COUNT; ++g)
        s->n_seeds[g] = bt_gemm_space_seeds(dev, (bt_gemm_group)g, s->seeds[g], MAX_SEEDS);
    sort_by_volume(s);

    /* Before anything is overridden: CLBlast's own, to put back whatever part it keeps. */
    bt_status status = bt_gemm_current_params(dev, &s->clblast_own);
    if (status == BT_OK)
        status = create_trials(s);
    if (status == BT_OK)
        status = measure_defaults(s);
    if (status == BT_OK)
        status = try_start_points(s);
    if (status == BT_OK)
        status = explore(s);
    if (status == BT_OK)
        finish(s);
    out->elapsed_seconds = elapsed(s);
    destroy(s);
    return status;
}
