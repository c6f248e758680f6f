/* One trial of the tuner: a candidate batch size trained from one seed. Warm-up and the
 * restoring of the initial weights happen outside the clock; training runs in timed slices sized
 * from the last slice's step time so that each ends near the next evaluation; evaluations are
 * not timed and check the trial's health. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/rng.h"
#include "tune/tuner_rank.h"
#include "tune/tuner_trial.h"

/* A slice never runs longer than this, so that a cancel is noticed within about this long. */
#define MAX_SLICE_SECONDS 0.25
#define MAX_SLICE_STEPS ((size_t)1 << 20)
/* Warm-up: untimed steps (the first launches, the first epoch's shuffle and upload), then steps
 * timed for at least this long to estimate the first slice. */
#define WARMUP_UNTIMED_STEPS 2
#define WARMUP_TIMING_SECONDS 0.02
#define WARMUP_MAX_TIMED_STEPS 256
/* The m = 1 reference step, when 1 is not a candidate, is timed over at least this long. */
#define REFERENCE_SECONDS 0.25
#define REFERENCE_MAX_STEPS ((size_t)1 << 20)

static bt_status cancelled(bt_tuner_context *ctx)
{
    ctx->cancelled = true;
    return bt_fail(BT_ERR_INTERRUPTED, "the tuning was cancelled");
}

static bool cancel_requested(bt_tuner_context *ctx)
{
    return ctx->opts->cancel && ctx->opts->cancel(ctx->opts->user);
}

static bt_scheduler_opts scheduler_opts(const bt_tuner_opts *o, size_t m, double eta,
                                        uint64_t seed)
{
    bt_scheduler_opts s = bt_scheduler_opts_default();
    s.batch_size = m;
    s.sgd.eta = (float)eta;
    s.sgd.lambda = (float)o->lambda;
    s.sgd.n_train = 0; /* the training-set size */
    s.seed = bt_rng_shuffle_seed(seed); /* every m of one seed sees the same epoch orders */
    return s;
}

/* Run steps in doubling groups until at least `min_seconds` or `max_steps` have passed; the mean
 * time of one step goes to *seconds. */
static bt_status time_steps(bt_scheduler *scheduler, double min_seconds, size_t max_steps,
                            double *seconds)
{
    size_t group = 1, steps = 0;
    double total = 0.0;
    for (;;) {
        double start = bt_clock_seconds();
        BT_TRY(bt_scheduler_run(scheduler, group));
        total += bt_clock_seconds() - start;
        steps += group;
        if (total >= min_seconds || steps >= max_steps)
            break;
        group *= 2;
    }
    *seconds = total / (double)steps;
    return BT_OK;
}

void bt_trial_release(bt_trial_state *state)
{
    bt_scheduler_destroy(state->scheduler);
    bt_network_destroy(state->network);
    state->scheduler = NULL;
    state->network = NULL;
}

/* Warm-up for m outside the clock: CLBlast's kernels for the step and evaluation shapes, a few
 * untimed steps on a scheduler of its own (so the real one starts at epoch 0), a timed group
 * for the first step estimate; then the initial weights come back. */
static bt_status warm_up(bt_tuner_context *ctx, bt_network *network,
                         const bt_scheduler_opts *sched_opts, double *step_estimate)
{
    size_t count = bt_network_param_count(network), m = sched_opts->batch_size;
    float *initial = malloc(count * sizeof *initial);
    if (!initial)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for %zu parameters",
                       count);
    bt_scheduler *warm = NULL;
    bt_status status = bt_network_get_params(network, initial, count);
    if (status == BT_OK)
        status = bt_network_warmup(network, &m, 1);
    if (status == BT_OK)
        status = bt_scheduler_create(network, ctx->train, sched_opts, &warm);
    if (status == BT_OK)
        status = bt_scheduler_run(warm, WARMUP_UNTIMED_STEPS);
    if (status == BT_OK)
        status = time_steps(warm, WARMUP_TIMING_SECONDS, WARMUP_MAX_TIMED_STEPS, step_estimate);
    bt_scheduler_destroy(warm);
    if (status == BT_OK)
        status = bt_network_set_params(network, initial, count);
    free(initial);
    return status;
}

/* ---- evaluation and health ------------------------------------------------------------------ */

static bt_status push_point(bt_tuner_trial *t, bt_trial_state *s, const bt_tuner_point *p)
{
    if (t->n_points == s->capacity) {
        size_t capacity = s->capacity ? 2 * s->capacity : 32;
        bt_tuner_point *points = realloc(s->points, capacity * sizeof *points);
        if (!points)
            return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for evaluations");
        s->points = points;
        s->capacity = capacity;
        t->points = points;
    }
    s->points[t->n_points++] = *p;
    return BT_OK;
}

/* The definitions are in batchtune_tuner.h; the evaluation at 0 s never counts, so a lucky
 * initialisation cannot hide a run that never learns. */
static void check_health(const bt_tuner_result *r, bt_tuner_trial *t, bt_trial_state *s)
{
    const bt_tuner_opts *o = &r->opts;
    const bt_tuner_point *last = &t->points[t->n_points - 1];
    if (!isfinite(last->cost)) {
        t->health = BT_TUNER_DIVERGED;
        snprintf(s->reason, sizeof s->reason,
                 "the validation cost is %s after %.2f s of training (%.2f epochs)",
                 isnan(last->cost) ? "NaN" : "infinite", last->train_seconds, last->epochs);
        return;
    }
    size_t trained = t->n_points - 1, need = o->stuck_evaluations;
    if (trained < need)
        return;
    double chance = r->summary.chance_accuracy, threshold = chance + o->stuck_margin;
    double best = 0.0;
    for (size_t i = 1; i < t->n_points; ++i)
        best = t->points[i].accuracy > best ? t->points[i].accuracy : best;
    if (best < threshold) {
        if (last->train_seconds >= o->stuck_budget_fraction * o->budget_seconds) {
            t->health = BT_TUNER_STUCK;
            snprintf(s->reason, sizeof s->reason,
                     "after %.2f s of training (%zu evaluations) the best validation accuracy "
                     "is %.1f%%, within %.0f points of chance (%.1f%%)",
                     last->train_seconds, trained, 100.0 * best, 100.0 * o->stuck_margin,
                     100.0 * chance);
        }
        return;
    }
    for (size_t i = t->n_points - need; i < t->n_points; ++i)
        if (t->points[i].accuracy >= threshold)
            return;
    t->health = BT_TUNER_DIVERGED;
    snprintf(s->reason, sizeof s->reason,
             "validation accuracy fell back to %.1f%% (chance %.1f%%) for %zu evaluations after "
             "reaching %.1f%%",
             100.0 * last->accuracy, 100.0 * chance, need, 100.0 * best);
}

static void report_progress(bt_tuner_context *ctx, size_t c, size_t k, size_t stage,
                            double budget)
{
    if (!ctx->opts->progress)
        return;
    const bt_tuner_result *r = ctx->result;
    const bt_tuner_trial *t = &r->trials[c * r->opts.repeats + k];
    bt_tuner_progress p;
    memset(&p, 0, sizeof p);
    p.candidate = c;
    p.batch_size = r->candidates[c].batch_size;
    p.eta = r->candidates[c].eta;
    p.seed_index = k;
    p.stage = stage;
    p.stages = r->summary.stages;
    p.budget_seconds = budget;
    p.train_seconds = t->train_seconds;
    p.accuracy = t->final_accuracy;
    p.best_accuracy = t->best_accuracy;
    p.evaluations = ctx->evaluations;
    p.elapsed_seconds = bt_clock_seconds() - ctx->start_time;
    ctx->opts->progress(&p, ctx->opts->user);
}

/* Evaluate the validation set (untimed), record the point, update the trial's figures. */
static bt_status evaluate(bt_tuner_context *ctx, size_t c, size_t k, size_t stage,
                          double budget)
{
    bt_tuner_result *r = ctx->result;
    bt_tuner_trial *t = &r->trials[c * r->opts.repeats + k];
    bt_trial_state *s = &r->states[c * r->opts.repeats + k];
    bt_eval ev;
    BT_TRY(bt_network_evaluate(s->network, ctx->validation, &ev));
    bt_tuner_point p;
    p.train_seconds = t->train_seconds;
    p.examples_seen = t->examples_seen;
    p.epochs = (double)t->examples_seen / (double)r->summary.train_count;
    p.steps = t->steps;
    p.accuracy = ev.accuracy;
    p.cost = ev.cost;
    BT_TRY(push_point(t, s, &p));
    ctx->evaluations++;
    /* The evaluation at 0 s is the same for every m of a seed: the best counts only once
     * training has begun. */
    if (t->n_points <= 2 || p.accuracy > t->best_accuracy)
        t->best_accuracy = p.accuracy;
    t->final_accuracy = p.accuracy;
    bt_trial_time_to_target(t, r->opts.target_accuracy);
    if (t->n_points > 1)
        check_health(r, t, s);
    report_progress(ctx, c, k, stage, budget);
    return BT_OK;
}

/* ---- a trial ------------------------------------------------------------------------------- */

bt_status bt_trial_start(bt_tuner_context *ctx, size_t c, size_t k, size_t stage)
{
    bt_tuner_result *r = ctx->result;
    const bt_tuner_opts *o = &r->opts;
    const bt_tuner_candidate *cand = &r->candidates[c];
    bt_tuner_trial *t = &r->trials[c * o->repeats + k];
    bt_trial_state *s = &r->states[c * o->repeats + k];

    uint64_t seed = o->network.seed + k;
    bt_network_opts net_opts = o->network;
    net_opts.seed = seed; /* the initial weights depend on the seed and the sizes only */
    net_opts.max_batch = cand->batch_size;
    bt_scheduler_opts sched_opts = scheduler_opts(o, cand->batch_size, cand->eta, seed);
    bt_status status = bt_network_create(ctx->device, &net_opts, &s->network);
    if (status == BT_OK)
        status = warm_up(ctx, s->network, &sched_opts, &s->step_estimate);
    if (status == BT_OK)
        status = bt_scheduler_create(s->network, ctx->train, &sched_opts, &s->scheduler);
    if (status != BT_OK) {
        bt_trial_release(s);
        return status;
    }
    t->seed = seed;
    t->stage = stage;
    s->started = true;
    s->next_eval = o->eval_interval_seconds;
    status = evaluate(ctx, c, k, stage, r->stage_budgets[stage]);
    if (status != BT_OK)
        bt_trial_release(s);
    return status;
}

/* Steps for a slice that should end at training time `goal`: rounded, so that slices end on
 * either side of the goal rather than always after it. */
static size_t slice_steps(double now, double goal, double step_estimate)
{
    double steps = floor((goal - now) / step_estimate + 0.5);
    if (!(steps >= 1.0))
        return 1;
    return steps >= (double)MAX_SLICE_STEPS ? MAX_SLICE_STEPS : (size_t)steps;
}

static bt_status run_slice(bt_tuner_trial *t, bt_trial_state *s, double goal)
{
    size_t steps = slice_steps(t->train_seconds, goal, s->step_estimate);
    double start = bt_clock_seconds();
    BT_TRY(bt_scheduler_run(s->scheduler, steps));
    double seconds = bt_clock_seconds() - start;
    t->train_seconds += seconds;
    t->steps += steps;
    t->examples_seen = bt_scheduler_examples_seen(s->scheduler);
    t->examples_per_second = (double)t->examples_seen / t->train_seconds;
    t->step_seconds = t->train_seconds / (double)t->steps;
    if (seconds > 0.0)
        s->step_estimate = seconds / (double)steps;
    return BT_OK;
}

static double min3(double a, double b, double c)
{
    double m = a < b ? a : b;
    return m < c ? m : c;
}

bt_status bt_trial_train(bt_tuner_context *ctx, size_t c, size_t k, size_t stage, double limit,
                         bool stop_at_target)
{
    bt_tuner_result *r = ctx->result;
    bt_tuner_trial *t = &r->trials[c * r->opts.repeats + k];
    bt_trial_state *s = &r->states[c * r->opts.repeats + k];
    double interval = r->opts.eval_interval_seconds;
    t->stage = stage;
    /* Within half a step of a time counts as reaching it: no slice can end closer. */
    while (!s->over && t->train_seconds < limit - 0.5 * s->step_estimate) {
        if (cancel_requested(ctx))
            return cancelled(ctx);
        BT_TRY(run_slice(t, s,
                         min3(s->next_eval, limit, t->train_seconds + MAX_SLICE_SECONDS)));
        double half_step = 0.5 * s->step_estimate;
        if (t->train_seconds < s->next_eval - half_step && t->train_seconds < limit - half_step)
            continue;
        BT_TRY(evaluate(ctx, c, k, stage, limit));
        while (s->next_eval <= t->train_seconds + half_step)
            s->next_eval += interval;
        if (t->health != BT_TUNER_HEALTHY || (stop_at_target && t->reached)) {
            t->stop = t->health != BT_TUNER_HEALTHY ? BT_TUNER_STOP_UNHEALTHY
                                                    : BT_TUNER_STOP_TARGET;
            s->over = true;
            bt_trial_release(s);
        }
    }
    return BT_OK;
}

bt_status bt_tuner_measure_reference_step(bt_tuner_context *ctx, double *seconds)
{
    const bt_tuner_opts *o = &ctx->result->opts;
    bt_network_opts net_opts = o->network;
    net_opts.max_batch = 1;
    bt_scheduler_opts sched_opts =
        scheduler_opts(o, 1, bt_lr_rule_eta(o->rule, o->eta_ref, o->m_ref, 1), o->network.seed);
    bt_network *network = NULL;
    bt_scheduler *scheduler = NULL;
    size_t one = 1;
    bt_status status = bt_network_create(ctx->device, &net_opts, &network);
    if (status == BT_OK)
        status = bt_network_warmup(network, &one, 1);
    if (status == BT_OK)
        status = bt_scheduler_create(network, ctx->train, &sched_opts, &scheduler);
    if (status == BT_OK)
        status = bt_scheduler_run(scheduler, WARMUP_UNTIMED_STEPS);
    if (status == BT_OK)
        status = time_steps(scheduler, REFERENCE_SECONDS, REFERENCE_MAX_STEPS, seconds);
    bt_scheduler_destroy(scheduler);
    bt_network_destroy(network);
    return status;
}
