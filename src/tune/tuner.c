/* The tuner: names, options, and the sweep over candidates in stages (successive halving when
 * early stopping is on, one stage of the whole budget otherwise). Training and evaluating one
 * trial is in tuner_trial.c, summaries and the ranking in tuner_rank.c, the learning-rate rules in
 * lr_rule.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "tune/tuner_rank.h"
#include "tune/tuner_trial.h"

/* ---- names --------------------------------------------------------------------------------- */

const char *bt_tuner_health_str(bt_tuner_health health)
{
    switch (health) {
    case BT_TUNER_HEALTHY:
        return "healthy";
    case BT_TUNER_DIVERGED:
        return "diverged";
    case BT_TUNER_STUCK:
        return "stuck";
    }
    return "unknown";
}

const char *bt_tuner_stop_str(bt_tuner_stop stop)
{
    switch (stop) {
    case BT_TUNER_STOP_BUDGET:
        return "budget";
    case BT_TUNER_STOP_TARGET:
        return "target";
    case BT_TUNER_STOP_ELIMINATED:
        return "eliminated";
    case BT_TUNER_STOP_UNHEALTHY:
        return "unhealthy";
    case BT_TUNER_STOP_INTERRUPTED:
        return "interrupted";
    }
    return "unknown";
}

/* ---- options ------------------------------------------------------------------------------- */

bt_tuner_opts bt_tuner_opts_default(void)
{
    bt_tuner_opts o;
    memset(&o, 0, sizeof o);
    o.network = bt_network_opts_default();
    for (size_t m = 1; m <= 1024; m *= 2)
        o.batch_sizes[o.n_batch_sizes++] = m;
    o.eta_ref = 3.0;
    o.m_ref = 10;
    o.rule = BT_LR_SQRT;
    o.lambda = 0.0;
    o.target_accuracy = 0.80;
    o.budget_seconds = 10.0;
    o.eval_interval_seconds = 0.25;
    o.repeats = 1;
    o.early_stop = true;
    o.halving_factor = 2;
    o.stages = 3;
    o.stuck_margin = 0.05;
    o.stuck_evaluations = 4;
    o.stuck_budget_fraction = 0.2;
    return o;
}

/* Seconds and fractions must be finite; the upper limits only keep arithmetic sane. */
static bool in_range(double value, double lo_exclusive, double hi_inclusive)
{
    return isfinite(value) && value > lo_exclusive && value <= hi_inclusive;
}

static bt_status validate_candidates(const bt_tuner_opts *o, size_t train_count)
{
    if (o->n_batch_sizes == 0 || o->n_batch_sizes > BT_TUNER_MAX_CANDIDATES)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "%zu candidate batch sizes: give 1 to %d",
                       o->n_batch_sizes, BT_TUNER_MAX_CANDIDATES);
    for (size_t i = 0; i < o->n_batch_sizes; ++i) {
        size_t m = o->batch_sizes[i];
        if (m == 0)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "batch size 0: every m must be >= 1");
        if (train_count && m > train_count)
            return bt_fail(BT_ERR_INVALID_ARGUMENT,
                           "batch size %zu is larger than the %zu training examples", m,
                           train_count);
        for (size_t j = 0; j < i; ++j)
            if (o->batch_sizes[j] == m)
                return bt_fail(BT_ERR_INVALID_ARGUMENT, "batch size %zu is listed twice", m);
        double eta = bt_lr_rule_eta(o->rule, o->eta_ref, o->m_ref, m);
        /* The scheduler's own limits. */
        if (!bt_sgd_rates_valid(eta, 0.0))
            return bt_fail(BT_ERR_INVALID_ARGUMENT,
                           "the learning rate for batch size %zu is %g: it must be above 0 as "
                           "a 32-bit float and at most 1e30",
                           m, eta);
    }
    return BT_OK;
}

bt_status bt_tuner_opts_validate(const bt_tuner_opts *o, size_t train_count)
{
    if (!o)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_tuner_opts_validate: opts is NULL");
    BT_TRY(bt_network_opts_validate(&o->network));
    if ((unsigned)o->rule > BT_LR_NONE)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "unknown learning-rate rule %d", (int)o->rule);
    if (!in_range(o->eta_ref, 0.0, 1e30) || o->m_ref == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "eta_ref %g at m_ref %zu: eta_ref must be finite and above 0, m_ref >= 1",
                       o->eta_ref, o->m_ref);
    if (!bt_sgd_rates_valid(1.0, o->lambda)) /* lambda within the scheduler's limits */
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "lambda %g: must be finite and >= 0", o->lambda);
    if (!in_range(o->target_accuracy, 0.0, 1.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "target accuracy %g: must be in (0, 1], e.g. 0.8 for 80%%",
                       o->target_accuracy);
    if (!in_range(o->budget_seconds, 0.0, 1e7))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "budget %g s: must be above 0",
                       o->budget_seconds);
    if (!in_range(o->eval_interval_seconds, 0.0, o->budget_seconds))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "evaluation interval %g s: must be above 0 and at most the budget (%g s)",
                       o->eval_interval_seconds, o->budget_seconds);
    if (o->repeats == 0 || o->repeats > BT_TUNER_MAX_REPEATS)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "%zu repeats: must be 1 to %d", o->repeats,
                       BT_TUNER_MAX_REPEATS);
    if (o->early_stop && (o->halving_factor < 2 || o->stages == 0 ||
                          o->stages > BT_TUNER_MAX_STAGES))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "early stopping with halving factor %zu over %zu stages: the factor must "
                       "be >= 2 and the stages 1 to %d",
                       o->halving_factor, o->stages, BT_TUNER_MAX_STAGES);
    if (!(o->stuck_margin >= 0.0 && o->stuck_margin <= 1.0) || o->stuck_evaluations == 0 ||
        !(o->stuck_budget_fraction >= 0.0 && o->stuck_budget_fraction <= 1.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "stuck detection: margin %g and budget fraction %g must be in [0, 1], "
                       "evaluations %zu >= 1",
                       o->stuck_margin, o->stuck_budget_fraction, o->stuck_evaluations);
    return validate_candidates(o, train_count);
}

/* The data must fit the network: as many pixels as inputs, no more classes than outputs. */
static bt_status check_data(const bt_tuner_opts *o, const bt_dataset *train,
                            const bt_dataset *validation)
{
    const bt_dataset *sets[2] = {train, validation};
    static const char *names[2] = {"training", "validation"};
    size_t inputs = o->network.sizes[0], outputs = o->network.sizes[o->network.n_sizes - 1];
    for (int i = 0; i < 2; ++i) {
        if (bt_dataset_count(sets[i]) == 0)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "the %s set is empty", names[i]);
        if (bt_dataset_features(sets[i]) != inputs || bt_dataset_classes(sets[i]) > outputs)
            return bt_fail(BT_ERR_INVALID_ARGUMENT,
                           "the %s set has %zu pixels and %u classes but the network has %zu "
                           "inputs and %zu outputs",
                           names[i], bt_dataset_features(sets[i]), bt_dataset_classes(sets[i]),
                           inputs, outputs);
    }
    return BT_OK;
}

/* ---- the result handle --------------------------------------------------------------------- */

static bt_tuner_result *result_create(const bt_tuner_opts *opts)
{
    bt_tuner_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = opts->n_batch_sizes, trials = n * opts->repeats;
    r->opts = *opts;
    r->opts.progress = NULL;
    r->opts.cancel = NULL;
    r->opts.user = NULL;
    r->candidates = calloc(n, sizeof *r->candidates);
    r->trials = calloc(trials, sizeof *r->trials);
    r->states = calloc(trials, sizeof *r->states);
    r->ranking = calloc(n, sizeof *r->ranking);
    if (!r->candidates || !r->trials || !r->states || !r->ranking) {
        bt_tuner_result_destroy(r);
        return NULL;
    }
    for (size_t c = 0; c < n; ++c) {
        bt_tuner_candidate *cand = &r->candidates[c];
        cand->batch_size = opts->batch_sizes[c];
        cand->eta = bt_lr_rule_eta(opts->rule, opts->eta_ref, opts->m_ref, cand->batch_size);
        cand->trials = &r->trials[c * opts->repeats];
        cand->reason = "";
        cand->time_to_target = cand->time_to_target_spread = cand->epochs_to_target = NAN;
        cand->best_accuracy = cand->best_accuracy_spread = NAN;
        cand->examples_per_second = cand->step_seconds = cand->update_time_ratio = NAN;
        r->ranking[c] = c;
    }
    for (size_t t = 0; t < trials; ++t) {
        r->trials[t].reason = r->states[t].reason;
        r->trials[t].time_to_target = r->trials[t].epochs_to_target = NAN;
        r->trials[t].examples_per_second = r->trials[t].step_seconds = NAN;
    }
    bt_tuner_summary *s = &r->summary;
    s->candidates = r->candidates;
    s->n_candidates = n;
    s->ranking = r->ranking;
    s->stages = opts->early_stop ? opts->stages : 1;
    s->stage_budgets = r->stage_budgets;
    s->reference_step_seconds = NAN;
    /* Stage s trains to budget / f^(stages - 1 - s); the last stage to the whole budget. */
    r->stage_budgets[s->stages - 1] = opts->budget_seconds;
    for (size_t i = s->stages - 1; i-- > 0;)
        r->stage_budgets[i] = r->stage_budgets[i + 1] / (double)opts->halving_factor;
    return r;
}

void bt_tuner_result_destroy(bt_tuner_result *r)
{
    if (!r)
        return;
    size_t trials = r->opts.n_batch_sizes * r->opts.repeats;
    for (size_t t = 0; r->states && t < trials; ++t) {
        bt_trial_release(&r->states[t]);
        free(r->states[t].points);
    }
    free(r->states);
    free(r->trials);
    free(r->candidates);
    free(r->ranking);
    free(r);
}

const bt_tuner_summary *bt_tuner_result_summary(const bt_tuner_result *r)
{
    return r ? &r->summary : NULL;
}

const bt_tuner_opts *bt_tuner_result_opts(const bt_tuner_result *r)
{
    return r ? &r->opts : NULL;
}

/* ---- the sweep ----------------------------------------------------------------------------- */

static double majority_share(const bt_dataset *data)
{
    size_t counts[256] = {0}, best = 0, n = bt_dataset_count(data);
    const uint8_t *labels = bt_dataset_labels(data);
    for (size_t i = 0; i < n; ++i)
        if (++counts[labels[i]] > best)
            best = counts[labels[i]];
    return n ? (double)best / (double)n : 0.0;
}

static bt_trial_state *state_of(bt_tuner_result *r, size_t c, size_t k)
{
    return &r->states[c * r->opts.repeats + k];
}

static bt_tuner_trial *trial_of(bt_tuner_result *r, size_t c, size_t k)
{
    return &r->trials[c * r->opts.repeats + k];
}

/* End every trial of candidate c that is still going with `stop` (a trial of a candidate that
 * reached the target, which did not reach it itself, is ELIMINATED), and free the device objects
 * of all its trials. */
static void end_candidate(bt_tuner_result *r, size_t c, bt_tuner_stop stop)
{
    for (size_t k = 0; k < r->candidates[c].n_trials; ++k) {
        bt_trial_state *s = state_of(r, c, k);
        if (!s->over) {
            bt_tuner_trial *t = trial_of(r, c, k);
            t->stop = stop == BT_TUNER_STOP_TARGET && !t->reached ? BT_TUNER_STOP_ELIMINATED
                                                                  : stop;
            s->over = true;
        }
        bt_trial_release(s);
    }
}

/* Start the trials of the candidates in `alive` that have not started (warm-up and the
 * evaluation at 0 s, all outside the clock). */
static bt_status start_trials(bt_tuner_context *ctx, const size_t *alive, size_t n_alive,
                              size_t stage)
{
    bt_tuner_result *r = ctx->result;
    for (size_t i = 0; i < n_alive; ++i) {
        bt_tuner_candidate *cand = &r->candidates[alive[i]];
        for (size_t k = cand->n_trials; k < r->opts.repeats; ++k) {
            if (ctx->opts->cancel && ctx->opts->cancel(ctx->opts->user)) {
                ctx->cancelled = true;
                return bt_fail(BT_ERR_INTERRUPTED, "the tuning was cancelled");
            }
            BT_TRY(bt_trial_start(ctx, alive[i], k, stage));
            cand->n_trials = k + 1;
        }
    }
    return BT_OK;
}

/* One turn of trial (c, k): train to its next evaluation, or to `limit` if that comes first.
 * Sets *trained when it did. */
static bt_status take_turn(bt_tuner_context *ctx, size_t c, size_t k, size_t stage, double limit,
                           bool *trained)
{
    bt_tuner_result *r = ctx->result;
    const bt_trial_state *s = state_of(r, c, k);
    double goal = s->next_eval < limit ? s->next_eval : limit;
    /* Within half a step of the goal counts as there: no slice can end closer. */
    if (s->over || trial_of(r, c, k)->train_seconds >= goal - 0.5 * s->step_estimate)
        return BT_OK;
    *trained = true;
    return bt_trial_train(ctx, c, k, stage, goal, r->opts.early_stop);
}

/* Train the trials of the candidates in `alive` in turns of one evaluation interval each, up to
 * the stage's budget, so that slow drifts of the machine's load (other jobs) touch every
 * candidate alike instead of whichever happened to run then. With early stopping nobody trains
 * past the best time to target found so far: a trial that trained that long without reaching
 * the target cannot win. */
static bt_status run_stage(bt_tuner_context *ctx, const size_t *alive, size_t n_alive,
                           size_t stage)
{
    bt_tuner_result *r = ctx->result;
    double cutoff = INFINITY;
    for (bool trained = true; trained;) {
        trained = false;
        for (size_t i = 0; i < n_alive; ++i) {
            double budget = r->stage_budgets[stage];
            double limit = budget < cutoff ? budget : cutoff;
            bt_tuner_candidate *cand = &r->candidates[alive[i]];
            for (size_t k = 0; k < cand->n_trials; ++k)
                BT_TRY(take_turn(ctx, alive[i], k, stage, limit, &trained));
            bt_candidate_summarise(cand, NAN);
            if (r->opts.early_stop && cand->reached && cand->time_to_target < cutoff)
                cutoff = cand->time_to_target;
        }
    }
    return BT_OK;
}

/* After a stage with early stopping: either the winner is certain (someone reached the target),
 * or keep the best 1/f of the healthy candidates. `alive` lists the survivors in the order of
 * their standing and is updated; returns true when the tuning is decided. */
static bool halve(bt_tuner_result *r, size_t *alive, size_t *n_alive, bool last_stage)
{
    bool any_reached = false;
    for (size_t i = 0; i < *n_alive; ++i)
        any_reached |= r->candidates[alive[i]].reached;
    if (any_reached || last_stage) {
        for (size_t i = 0; i < *n_alive; ++i) {
            const bt_tuner_candidate *cand = &r->candidates[alive[i]];
            end_candidate(r, alive[i],
                          !any_reached        ? BT_TUNER_STOP_BUDGET
                          : cand->reached ? BT_TUNER_STOP_TARGET
                                          : BT_TUNER_STOP_ELIMINATED);
        }
        *n_alive = 0;
        return true;
    }
    bt_tuner_sort_by_accuracy(r->candidates, alive, *n_alive);
    size_t f = r->opts.halving_factor, keep = (*n_alive + f - 1) / f, kept = 0;
    for (size_t i = 0; i < *n_alive; ++i) {
        bool healthy = r->candidates[alive[i]].health == BT_TUNER_HEALTHY;
        if (healthy && kept < keep)
            alive[kept++] = alive[i];
        else
            end_candidate(r, alive[i], BT_TUNER_STOP_ELIMINATED);
    }
    *n_alive = kept;
    return kept == 0;
}

static bt_status run_stages(bt_tuner_context *ctx)
{
    bt_tuner_result *r = ctx->result;
    size_t alive[BT_TUNER_MAX_CANDIDATES], n_alive = r->opts.n_batch_sizes;
    for (size_t c = 0; c < n_alive; ++c)
        alive[c] = c;
    for (size_t stage = 0; stage < r->summary.stages; ++stage) {
        BT_TRY(start_trials(ctx, alive, n_alive, stage));
        BT_TRY(run_stage(ctx, alive, n_alive, stage));
        if (!r->opts.early_stop) {
            for (size_t c = 0; c < n_alive; ++c)
                end_candidate(r, c, BT_TUNER_STOP_BUDGET);
            break;
        }
        if (halve(r, alive, &n_alive, stage + 1 == r->summary.stages))
            break;
    }
    return BT_OK;
}

/* m = 1's step time: from its trials when 1 is a candidate that trained, else measured apart
 * (only when `may_measure`: not after a failure or a cancel). */
static bt_status reference_step(bt_tuner_context *ctx, bool may_measure)
{
    bt_tuner_result *r = ctx->result;
    for (size_t c = 0; c < r->opts.n_batch_sizes; ++c)
        if (r->candidates[c].batch_size == 1 && isfinite(r->candidates[c].step_seconds)) {
            r->summary.reference_step_seconds = r->candidates[c].step_seconds;
            return BT_OK;
        }
    if (!may_measure)
        return BT_OK;
    return bt_tuner_measure_reference_step(ctx, &r->summary.reference_step_seconds);
}

/* Totals, summaries with the reference step, the ranking. */
static void finish(bt_tuner_context *ctx)
{
    bt_tuner_result *r = ctx->result;
    bt_tuner_summary *s = &r->summary;
    s->evaluations = 0;
    s->train_seconds = 0.0;
    for (size_t c = 0; c < r->opts.n_batch_sizes; ++c) {
        bt_tuner_candidate *cand = &r->candidates[c];
        for (size_t k = 0; k < cand->n_trials; ++k) {
            s->evaluations += cand->trials[k].n_points;
            s->train_seconds += cand->trials[k].train_seconds;
        }
        bt_candidate_summarise(cand, s->reference_step_seconds);
    }
    bt_tuner_rank(r);
    s->total_seconds = bt_clock_seconds() - ctx->start_time;
}

bt_status bt_tuner_run(bt_device *device, const bt_dataset *train, const bt_dataset *validation,
                       const bt_tuner_opts *opts, bt_tuner_result **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_tuner_run: out must not be NULL");
    *out = NULL;
    if (!device || !train || !validation || !opts)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_tuner_run: NULL argument");
    BT_TRY(bt_tuner_opts_validate(opts, bt_dataset_count(train)));
    BT_TRY(check_data(opts, train, validation));

    bt_tuner_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.start_time = bt_clock_seconds();
    ctx.opts = opts;
    ctx.device = device;
    ctx.result = result_create(opts);
    if (!ctx.result)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for the tuner's results");
    bt_tuner_result *r = ctx.result;
    r->summary.train_count = bt_dataset_count(train);
    r->summary.validation_count = bt_dataset_count(validation);
    r->summary.chance_accuracy = majority_share(validation);

    bt_status status = bt_device_data_create(device, train, &ctx.train);
    if (status == BT_OK)
        status = bt_device_data_create(device, validation, &ctx.validation);
    if (status == BT_OK)
        status = run_stages(&ctx);
    /* An interrupt can arrive while a driver compiles a kernel: PoCL's compiler deletes its
     * outputs and passes the signal on, and the build reports a failure. A failure that the
     * caller's cancel then explains is that interruption, not a fault of the candidate. */
    if (status != BT_OK && status != BT_ERR_INTERRUPTED && opts->cancel &&
        opts->cancel(opts->user)) {
        ctx.cancelled = true;
        status = bt_fail(BT_ERR_INTERRUPTED, "the tuning was cancelled");
    }
    if (status != BT_OK) {
        /* Keep what was measured: close every trial still going as interrupted. */
        for (size_t c = 0; c < opts->n_batch_sizes; ++c)
            end_candidate(r, c, BT_TUNER_STOP_INTERRUPTED);
        r->summary.interrupted = true;
    }
    finish(&ctx); /* the candidates' step times first: m = 1's is the reference */
    bt_status reference_status = reference_step(&ctx, status == BT_OK);
    if (status == BT_OK)
        status = reference_status;
    finish(&ctx);
    bt_device_data_destroy(ctx.validation);
    bt_device_data_destroy(ctx.train);
    *out = r;
    return status;
}
