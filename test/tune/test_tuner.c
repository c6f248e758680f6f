/* The tuner on a small learnable workload: learning-rate rules, option checks, and sweeps whose
 * ranking, times and evaluations must agree with each other; a divergent candidate that must not
 * stop the sweep; a cancelled run that must leave valid partial results. No assertion depends on
 * how fast the machine is. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_tuner.h"

#define SIDE 4
#define FEATURES (SIDE * SIDE)
#define CLASSES 10
#define TRAIN_COUNT 3000
#define VALIDATION_COUNT 500

static bt_device *device;
static bt_dataset *train_set, *validation_set;

/* 4x4 images whose class c lights pixel c, over noise: learnable in well under a second. One
 * label in 20 is replaced by a random one, so no network gets near 100%. */
static bt_dataset *make_toy(size_t count, bt_test_rng *rng)
{
    uint8_t *pixels = malloc(count * FEATURES), *labels = malloc(count);
    assert_true(pixels && labels);
    for (size_t i = 0; i < count; ++i) {
        uint8_t lit = (uint8_t)(bt_test_rng_next(rng) % CLASSES);
        for (size_t j = 0; j < FEATURES; ++j)
            pixels[i * FEATURES + j] = (uint8_t)(bt_test_rng_next(rng) % 40);
        pixels[i * FEATURES + lit] = 255;
        labels[i] = bt_test_rng_next(rng) % 20 == 0 ? (uint8_t)(bt_test_rng_next(rng) % CLASSES)
                                                     : lit;
    }
    bt_dataset *data = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, count, FEATURES, CLASSES, &data));
    free(pixels);
    free(labels);
    return data;
}

static int setup(void **state)
{
    (void)state;
    device = bt_test_open_device();
    bt_test_rng rng = bt_test_rng_for("tuner-data");
    train_set = make_toy(TRAIN_COUNT, &rng);
    validation_set = make_toy(VALIDATION_COUNT, &rng);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_dataset_destroy(validation_set);
    bt_dataset_destroy(train_set);
    bt_device_destroy(device);
    return 0;
}

/* A 16,16,10 sigmoid network; m = 1, 8, 64 with the sqrt rule; short budgets. */
static bt_tuner_opts toy_opts(void)
{
    bt_tuner_opts o = bt_tuner_opts_default();
    BT_ASSERT_OK(bt_network_parse_sizes("16,16,10", &o.network));
    o.network.seed = 7;
    o.n_batch_sizes = 3;
    o.batch_sizes[0] = 1;
    o.batch_sizes[1] = 8;
    o.batch_sizes[2] = 64;
    o.eta_ref = 3.0;
    o.m_ref = 10;
    o.rule = BT_LR_SQRT;
    o.target_accuracy = 0.9;
    o.budget_seconds = 0.8;
    o.eval_interval_seconds = 0.1;
    o.repeats = 1;
    o.early_stop = false;
    return o;
}

/* ---- consistency checks shared by the sweeps ---------------------------------------------- */

/* Evaluations in time order from 0 s; best/final/time to target agree with them. */
static void check_trial(const bt_tuner_trial *t, double target)
{
    assert_true(t->n_points >= 1);
    assert_non_null(t->points);
    assert_true(t->points[0].train_seconds == 0.0);
    assert_int_equal(t->points[0].steps, 0);
    /* The best counts from the first evaluation after training began. */
    double best = t->points[t->n_points > 1 ? 1 : 0].accuracy;
    for (size_t i = 1; i < t->n_points; ++i) {
        const bt_tuner_point *p = &t->points[i], *q = &t->points[i - 1];
        if (!(p->train_seconds > q->train_seconds) || p->steps <= q->steps ||
            p->examples_seen <= q->examples_seen || p->epochs < q->epochs)
            fail_msg("evaluation %zu is not after evaluation %zu: %g s, %llu steps after %g s, "
                     "%llu steps",
                     i, i - 1, p->train_seconds, (unsigned long long)p->steps, q->train_seconds,
                     (unsigned long long)q->steps);
        assert_true(p->accuracy >= 0.0 && p->accuracy <= 1.0);
        best = p->accuracy > best ? p->accuracy : best;
    }
    const bt_tuner_point *last = &t->points[t->n_points - 1];
    assert_true(t->best_accuracy == best);
    assert_true(t->final_accuracy == last->accuracy);
    if (t->stop != BT_TUNER_STOP_INTERRUPTED) {
        /* Training always ends with an evaluation. */
        assert_true(last->train_seconds == t->train_seconds);
        assert_true(last->steps == t->steps);
    }
    assert_true(t->steps == 0 || fabs(t->step_seconds - t->train_seconds / (double)t->steps) <
                                     1e-12 * t->train_seconds + 1e-15);

    /* Time to target: inside the interval of the first evaluation at or above the target. */
    size_t first = t->n_points;
    for (size_t i = 0; i < t->n_points && first == t->n_points; ++i)
        if (t->points[i].accuracy >= target)
            first = i;
    assert_int_equal(t->reached, first < t->n_points);
    if (!t->reached) {
        assert_true(isnan(t->time_to_target));
        return;
    }
    const bt_tuner_point *at = &t->points[first];
    if (first == 0) {
        assert_true(t->time_to_target == 0.0);
        return;
    }
    const bt_tuner_point *before = &t->points[first - 1];
    assert_true(t->time_to_target > before->train_seconds);
    assert_true(t->time_to_target <= at->train_seconds);
    double f = (target - before->accuracy) / (at->accuracy - before->accuracy);
    double expect = before->train_seconds + f * (at->train_seconds - before->train_seconds);
    assert_true(fabs(t->time_to_target - expect) < 1e-9);
    assert_true(t->epochs_to_target >= before->epochs && t->epochs_to_target <= at->epochs);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check_candidate(const bt_tuner_candidate *c, const bt_tuner_opts *o)
{
    double eta = bt_lr_rule_eta(o->rule, o->eta_ref, o->m_ref, c->batch_size);
    assert_true(fabs(c->eta - eta) <= 1e-12 * eta);
    for (size_t k = 0; k < c->n_trials; ++k) {
        check_trial(&c->trials[k], o->target_accuracy);
        assert_true(c->trials[k].seed == o->network.seed + k);
    }
    if (c->n_trials == 0)
        return;
    /* The median time to target counts "not reached" as infinitely late. */
    double times[BT_TUNER_MAX_REPEATS];
    for (size_t k = 0; k < c->n_trials; ++k)
        times[k] = c->trials[k].reached ? c->trials[k].time_to_target : INFINITY;
    qsort(times, c->n_trials, sizeof *times, compare_doubles);
    double median = times[c->n_trials / 2];
    assert_int_equal(c->reached, isfinite(median));
    if (c->reached)
        assert_true(c->time_to_target == median);
    else
        assert_true(isnan(c->time_to_target));
}

/* A permutation; reached candidates first by time to target; rank fields; the winner. */
static void check_ranking(const bt_tuner_summary *s)
{
    bool seen[BT_TUNER_MAX_CANDIDATES] = {false};
    bool reached_phase = true;
    for (size_t i = 0; i < s->n_candidates; ++i) {
        size_t c = s->ranking[i];
        assert_true(c < s->n_candidates);
        assert_false(seen[c]);
        seen[c] = true;
        const bt_tuner_candidate *cand = &s->candidates[c];
        assert_int_equal(cand->rank, i + 1);
        if (!cand->reached)
            reached_phase = false;
        else
            assert_true(reached_phase); /* no reached candidate after one that did not reach */
        if (i > 0 && cand->reached)
            assert_true(s->candidates[s->ranking[i - 1]].time_to_target <=
                        cand->time_to_target);
    }
    for (size_t c = 0; c < s->n_candidates; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        if (s->winner && s->winner->reached && cand->reached)
            assert_true(s->winner->time_to_target <= cand->time_to_target);
        if (cand->reached)
            assert_non_null(s->winner);
    }
    if (s->winner)
        assert_ptr_equal(s->winner, &s->candidates[s->ranking[0]]);
}

static void check_result(const bt_tuner_result *result)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    const bt_tuner_opts *o = bt_tuner_result_opts(result);
    assert_non_null(s);
    assert_non_null(o);
    assert_null(o->progress);
    assert_null(o->cancel);
    assert_int_equal(s->n_candidates, o->n_batch_sizes);
    size_t evaluations = 0;
    double train_seconds = 0.0;
    for (size_t c = 0; c < s->n_candidates; ++c) {
        assert_int_equal(s->candidates[c].batch_size, o->batch_sizes[c]);
        check_candidate(&s->candidates[c], o);
        for (size_t k = 0; k < s->candidates[c].n_trials; ++k) {
            evaluations += s->candidates[c].trials[k].n_points;
            train_seconds += s->candidates[c].trials[k].train_seconds;
        }
    }
    assert_int_equal(s->evaluations, evaluations);
    assert_true(fabs(s->train_seconds - train_seconds) < 1e-9);
    assert_true(s->total_seconds >= s->train_seconds);
    check_ranking(s);
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_learning_rate_rules(void **state)
{
    (void)state;
    assert_true(fabs(bt_lr_rule_eta(BT_LR_LINEAR, 3.0, 10, 100) - 30.0) < 1e-12);
    assert_true(fabs(bt_lr_rule_eta(BT_LR_LINEAR, 3.0, 10, 1) - 0.3) < 1e-12);
    assert_true(fabs(bt_lr_rule_eta(BT_LR_SQRT, 3.0, 10, 40) - 6.0) < 1e-12);
    assert_true(fabs(bt_lr_rule_eta(BT_LR_SQRT, 3.0, 10, 10) - 3.0) < 1e-12);
    assert_true(fabs(bt_lr_rule_eta(BT_LR_SQRT, 2.0, 16, 1) - 0.5) < 1e-12);
    assert_true(bt_lr_rule_eta(BT_LR_NONE, 3.0, 10, 1024) == 3.0);
    assert_true(isnan(bt_lr_rule_eta(BT_LR_LINEAR, 3.0, 0, 4)));

    static const bt_lr_rule rules[] = {BT_LR_LINEAR, BT_LR_SQRT, BT_LR_NONE};
    for (size_t i = 0; i < 3; ++i) {
        bt_lr_rule parsed = BT_LR_NONE;
        BT_ASSERT_OK(bt_lr_rule_parse(bt_lr_rule_str(rules[i]), &parsed));
        assert_int_equal(parsed, rules[i]);
    }
    bt_lr_rule parsed;
    bt_test_assert_failure(bt_lr_rule_parse("cubic", &parsed), BT_ERR_INVALID_ARGUMENT, "cubic",
                           "linear");
    bt_test_assert_failure(bt_lr_rule_parse("Linear", &parsed), BT_ERR_INVALID_ARGUMENT,
                           "Linear", "sqrt");

    bt_tuner_opts o = bt_tuner_opts_default();
    assert_int_equal(o.n_batch_sizes, 11);
    assert_int_equal(o.batch_sizes[0], 1);
    assert_int_equal(o.batch_sizes[10], 1024);
    BT_ASSERT_OK(bt_tuner_opts_validate(&o, 50000));
}

static void expect_invalid(const bt_tuner_opts *o, const char *phrase)
{
    static char sentinel;
    bt_tuner_result *result = (bt_tuner_result *)(void *)&sentinel; /* must become NULL */
    bt_test_assert_failure(bt_tuner_run(device, train_set, validation_set, o, &result),
                           BT_ERR_INVALID_ARGUMENT, phrase, phrase);
    assert_null(result);
}

static void test_bad_options_are_rejected(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    o.n_batch_sizes = 0;
    expect_invalid(&o, "candidate");

    o = toy_opts();
    o.batch_sizes[1] = TRAIN_COUNT + 1;
    expect_invalid(&o, "training examples");

    o = toy_opts();
    o.batch_sizes[2] = o.batch_sizes[0];
    expect_invalid(&o, "twice");

    o = toy_opts();
    o.batch_sizes[0] = 0;
    expect_invalid(&o, "batch size 0");

    o = toy_opts();
    o.target_accuracy = 0.0;
    expect_invalid(&o, "target");
    o.target_accuracy = 1.5;
    expect_invalid(&o, "target");
    o.target_accuracy = NAN;
    expect_invalid(&o, "target");

    o = toy_opts();
    o.rule = (bt_lr_rule)7;
    expect_invalid(&o, "rule");

    o = toy_opts();
    o.eval_interval_seconds = 2.0 * o.budget_seconds;
    expect_invalid(&o, "interval");

    o = toy_opts();
    o.repeats = 0;
    expect_invalid(&o, "repeats");

    o = toy_opts();
    o.early_stop = true;
    o.halving_factor = 1;
    expect_invalid(&o, "halving");

    o = toy_opts();
    o.network.sizes[0] = 784; /* the toy images have 16 pixels */
    expect_invalid(&o, "pixels");
}

typedef struct progress_log {
    size_t calls;
    size_t last_evaluations;
    double last_elapsed;
    size_t cancel_after; /* 0: never cancel */
} progress_log;

static void log_progress(const bt_tuner_progress *p, void *user)
{
    progress_log *log = user;
    log->calls++;
    assert_int_equal(p->evaluations, log->calls);
    assert_true(p->elapsed_seconds >= log->last_elapsed);
    assert_true(p->accuracy >= 0.0 && p->accuracy <= 1.0);
    assert_true(p->best_accuracy >= p->accuracy);
    assert_true(p->stage < p->stages);
    log->last_evaluations = p->evaluations;
    log->last_elapsed = p->elapsed_seconds;
}

static bool cancel_when_due(void *user)
{
    const progress_log *log = user;
    return log->cancel_after && log->calls >= log->cancel_after;
}

static void test_full_sweep_ranking_times_and_evaluations_agree(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    o.repeats = 2;
    progress_log log = {0, 0, 0.0, 0};
    o.progress = log_progress;
    o.cancel = cancel_when_due;
    o.user = &log;
    bt_tuner_result *result = NULL;
    BT_ASSERT_OK(bt_tuner_run(device, train_set, validation_set, &o, &result));
    check_result(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    assert_int_equal(log.calls, s->evaluations);
    assert_false(s->interrupted);
    assert_int_equal(s->stages, 1);
    assert_true(s->stage_budgets[0] == o.budget_seconds);
    assert_int_equal(s->train_count, TRAIN_COUNT);
    assert_int_equal(s->validation_count, VALIDATION_COUNT);
    assert_true(s->chance_accuracy > 0.0 && s->chance_accuracy < 0.5);

    for (size_t c = 0; c < s->n_candidates; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        assert_int_equal(cand->n_trials, 2);
        assert_int_equal(cand->health, BT_TUNER_HEALTHY);
        assert_int_equal(cand->stop, BT_TUNER_STOP_BUDGET);
        assert_true(cand->examples_per_second > 0.0);
        assert_true(isfinite(cand->update_time_ratio) && cand->update_time_ratio > 0.0);
        for (size_t k = 0; k < 2; ++k) {
            /* Every m starts from the seed's initial weights: the evaluation at 0 s is the same
             * for every candidate. */
            const bt_tuner_point *p0 = &cand->trials[k].points[0];
            const bt_tuner_point *ref = &s->candidates[0].trials[k].points[0];
            assert_true(p0->accuracy == ref->accuracy);
            assert_true(fabs(p0->cost - ref->cost) <= 1e-6 * fabs(ref->cost));
            assert_true(cand->trials[k].n_points >= 3);
        }
    }
    /* m = 1 is a candidate, so it is the reference of the update-time ratio. */
    assert_true(fabs(s->candidates[0].update_time_ratio - 1.0) < 1e-12);
    /* The toy classes are separable by one pixel: someone reaches 90%. */
    assert_non_null(s->winner);
    assert_true(s->winner->reached);
    bt_tuner_result_destroy(result);
}

/* The trial stops agree with what was measured. */
static void check_early_stops(const bt_tuner_summary *s)
{
    for (size_t c = 0; c < s->n_candidates; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        assert_int_equal(cand->n_trials, 1); /* every candidate runs in stage 0 */
        const bt_tuner_trial *t = &cand->trials[0];
        if (t->stop == BT_TUNER_STOP_TARGET)
            assert_true(t->reached);
        if (t->stop == BT_TUNER_STOP_ELIMINATED)
            assert_false(t->reached);
        assert_int_equal(t->stop == BT_TUNER_STOP_UNHEALTHY, t->health != BT_TUNER_HEALTHY);
    }
}

static void test_early_stopping_halves_at_equal_training_time(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    o.n_batch_sizes = 4;
    o.batch_sizes[3] = 256;
    o.early_stop = true;
    o.budget_seconds = 1.2;
    o.target_accuracy = 0.999; /* above what the label noise allows: every stage runs */
    bt_tuner_result *result = NULL;
    BT_ASSERT_OK(bt_tuner_run(device, train_set, validation_set, &o, &result));
    check_result(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    assert_int_equal(s->stages, 3);
    assert_true(fabs(s->stage_budgets[0] - 0.3) < 1e-12);
    assert_true(fabs(s->stage_budgets[1] - 0.6) < 1e-12);
    assert_true(s->stage_budgets[2] == 1.2);
    check_early_stops(s);
    /* Halving factor 2: at most 2 of the 4 reach stage 1 and at most 1 stage 2. */
    size_t in_stage[3] = {0, 0, 0};
    for (size_t c = 0; c < s->n_candidates; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        assert_false(cand->reached);
        assert_true(cand->stage < 3);
        for (size_t st = 0; st <= cand->stage; ++st)
            in_stage[st]++;
        if (cand->stage < 2)
            assert_true(cand->trials[0].stop == BT_TUNER_STOP_ELIMINATED ||
                        cand->trials[0].stop == BT_TUNER_STOP_UNHEALTHY);
        else
            assert_int_equal(cand->trials[0].stop, BT_TUNER_STOP_BUDGET);
    }
    assert_int_equal(in_stage[0], 4);
    assert_true(in_stage[1] <= 2);
    assert_true(in_stage[2] <= 1);
    /* No one reached the target: the winner is the best accuracy of the last stage. */
    if (in_stage[2] == 1) {
        assert_non_null(s->winner);
        assert_int_equal(s->winner->stage, 2);
    }
    bt_tuner_result_destroy(result);
}

static void test_early_stopping_ends_when_the_winner_is_certain(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    o.n_batch_sizes = 4;
    o.batch_sizes[3] = 256;
    o.early_stop = true;
    o.budget_seconds = 1.2;
    bt_tuner_result *result = NULL;
    BT_ASSERT_OK(bt_tuner_run(device, train_set, validation_set, &o, &result));
    check_result(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    check_early_stops(s);
    assert_non_null(s->winner);
    assert_true(s->winner->reached);
    /* The stage in which someone reached the target is the last one anybody trained in. */
    for (size_t c = 0; c < s->n_candidates; ++c)
        assert_true(s->candidates[c].stage <= s->winner->stage);
    assert_int_equal(s->winner->trials[0].stop, BT_TUNER_STOP_TARGET);
    bt_tuner_result_destroy(result);
}

static void test_a_divergent_candidate_does_not_stop_the_sweep(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    /* The linear rule from eta 0.5 at m = 1 gives m = 2048 an eta of 1024: the sigmoids
     * saturate at once (or the cost overflows). It goes first, so the sweep must go on. */
    o.rule = BT_LR_LINEAR;
    o.eta_ref = 0.5;
    o.m_ref = 1;
    o.n_batch_sizes = 3;
    o.batch_sizes[0] = 2048;
    o.batch_sizes[1] = 4;
    o.batch_sizes[2] = 16;
    o.budget_seconds = 1.5;
    o.eval_interval_seconds = 0.1;
    o.target_accuracy = 0.8;
    bt_tuner_result *result = NULL;
    BT_ASSERT_OK(bt_tuner_run(device, train_set, validation_set, &o, &result));
    check_result(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    const bt_tuner_candidate *bad = &s->candidates[0];
    assert_true(fabs(bad->eta - 1024.0) < 1e-9);
    if (bad->health == BT_TUNER_HEALTHY)
        fail_msg("m = 2048 with eta 1024 was not reported: best accuracy %g, final %g",
                 bad->best_accuracy, bad->trials[0].final_accuracy);
    assert_int_equal(bad->stop, BT_TUNER_STOP_UNHEALTHY);
    assert_int_equal(bad->trials[0].stop, BT_TUNER_STOP_UNHEALTHY);
    assert_true(strlen(bad->reason) > 10);
    assert_false(bad->reached);
    assert_int_equal(bad->rank, s->n_candidates); /* last */
    for (size_t c = 1; c < s->n_candidates; ++c) {
        assert_int_equal(s->candidates[c].n_trials, 1);
        assert_int_equal(s->candidates[c].health, BT_TUNER_HEALTHY);
        assert_int_equal(s->candidates[c].stop, BT_TUNER_STOP_BUDGET);
    }
    assert_non_null(s->winner);
    assert_true(s->winner != bad);
    bt_tuner_result_destroy(result);
}

/* An interrupt during a kernel compile (PoCL's compiler passes it on as a build failure): the
 * cancel callback, which says an interrupt came, turns the failure into an interruption with
 * partial results. Emulated by a kernel folder whose dense.cl does not build and a cancel that
 * answers yes once that build has failed (issue 16, case 5). */
static bool cancel_after_build_failure(void *user)
{
    (void)user;
    return strstr(bt_last_error(), "bt_interrupted_compile_marker") != NULL;
}

static void test_a_build_failure_after_an_interrupt_is_an_interruption(void **state)
{
    (void)state;
    char *dir = bt_test_make_tmpdir("bt-test-interrupted-compile");
    char *path = bt_test_path(dir, "dense.cl");
    const char *broken = "__kernel void k(void) { bt_interrupted_compile_marker; }\n";
    bt_test_write_file(path, broken, strlen(broken));
    free(path);
    bt_device_opts dopts = bt_device_opts_default();
    dopts.kernel_dir = dir;
    dopts.use_program_cache = false;
    bt_device *overridden = NULL;
    BT_ASSERT_OK(bt_device_create(&dopts, &overridden));

    bt_tuner_opts o = toy_opts();
    o.cancel = cancel_after_build_failure;
    bt_tuner_result *result = NULL;
    bt_status status = bt_tuner_run(overridden, train_set, validation_set, &o, &result);
    if (status != BT_ERR_INTERRUPTED)
        fail_msg("expected BT_ERR_INTERRUPTED, got %s: %s", bt_status_name(status),
                 bt_last_error());
    assert_non_null(result);
    assert_true(bt_tuner_result_summary(result)->interrupted);
    bt_tuner_result_destroy(result);

    /* Without an interrupt the same failure stays a build failure. */
    o.cancel = NULL;
    result = NULL;
    assert_int_equal(bt_tuner_run(overridden, train_set, validation_set, &o, &result),
                     BT_ERR_BUILD);
    bt_tuner_result_destroy(result);
    bt_device_destroy(overridden);
    bt_test_remove_tree(dir);
    free(dir);
}

static void test_a_cancelled_run_keeps_valid_partial_results(void **state)
{
    (void)state;
    bt_tuner_opts o = toy_opts();
    o.early_stop = true;
    o.budget_seconds = 2.0;
    /* Each of the 3 candidates makes at least 2 evaluations (at 0 s and after training), so a
     * cancel after 4 always lands before the end. */
    progress_log log = {0, 0, 0.0, 4};
    o.progress = log_progress;
    o.cancel = cancel_when_due;
    o.user = &log;
    bt_tuner_result *result = NULL;
    bt_status status = bt_tuner_run(device, train_set, validation_set, &o, &result);
    if (status != BT_ERR_INTERRUPTED)
        fail_msg("expected BT_ERR_INTERRUPTED, got %s: %s", bt_status_name(status),
                 bt_last_error());
    assert_non_null(result);
    check_result(result);
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    assert_true(s->interrupted);
    assert_int_equal(s->evaluations, 4); /* polled before every slice and trial */
    assert_int_equal(log.calls, 4);
    size_t started = 0, interrupted = 0, not_run = 0;
    for (size_t c = 0; c < s->n_candidates; ++c) {
        const bt_tuner_candidate *cand = &s->candidates[c];
        started += cand->n_trials;
        not_run += cand->n_trials == 0;
        for (size_t k = 0; k < cand->n_trials; ++k)
            interrupted += cand->trials[k].stop == BT_TUNER_STOP_INTERRUPTED;
    }
    for (size_t c = 0; c < s->n_candidates; ++c)
        if (s->candidates[c].n_trials == 0) /* not run: ranked last */
            assert_true(s->candidates[c].rank > s->n_candidates - not_run);
    assert_true(started >= 1);
    /* Something was cut short: a trial in progress, or candidates never started. */
    assert_true(interrupted >= 1 || started < s->n_candidates);
    bt_tuner_result_destroy(result);

    /* Cancelled before anything ran: an empty but valid result. */
    progress_log at_once = {1, 0, 0.0, 1};
    o.progress = NULL;
    o.user = &at_once;
    result = NULL;
    assert_int_equal(bt_tuner_run(device, train_set, validation_set, &o, &result),
                     BT_ERR_INTERRUPTED);
    assert_non_null(result);
    check_result(result);
    s = bt_tuner_result_summary(result);
    assert_true(s->interrupted);
    assert_int_equal(s->evaluations, 0);
    assert_null(s->winner);
    for (size_t c = 0; c < s->n_candidates; ++c)
        assert_int_equal(s->candidates[c].n_trials, 0);
    bt_tuner_result_destroy(result);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learning_rate_rules),
        cmocka_unit_test(test_bad_options_are_rejected),
        cmocka_unit_test(test_full_sweep_ranking_times_and_evaluations_agree),
        cmocka_unit_test(test_early_stopping_halves_at_equal_training_time),
        cmocka_unit_test(test_early_stopping_ends_when_the_winner_is_certain),
        cmocka_unit_test(test_a_divergent_candidate_does_not_stop_the_sweep),
        cmocka_unit_test(test_a_cancelled_run_keeps_valid_partial_results),
        cmocka_unit_test(test_a_build_failure_after_an_interrupt_is_an_interruption),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
