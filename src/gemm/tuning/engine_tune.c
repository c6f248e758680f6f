/* Which engine runs each product of a training step: our fused kernels or CLBlast, decided by
 * timing real steps (a product's cost inside a step, with its launches and the kernels around
 * it, is what matters; a product timed alone misses the fused kernels' saved launches). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/stats.h"

/* A timed block of steps lasts at least this long, so that the clock's resolution and the
 * wait at its end are small beside it. */
#define BLOCK_SECONDS 0.02
#define MAX_RUNS_PER_BLOCK 2000
#define ROUNDS 3
/* Runs of each configuration before its first timing: they compile what it needs. */
#define WARMUP_RUNS 2
/* A switched product must make the step this much faster to stay switched: less is within the
 * noise of such medians on a busy CPU device. */
#define MIN_GAIN 0.03

typedef struct engine_search {
    bt_device *device;
    const bt_engine_tune_opts *opts;
    bt_engine engine[BT_GEMM_TUNE_MAX_SHAPES]; /* per shape; BT_ENGINE_AUTO: undecided */
    double started;
    bool stop;
} engine_search;

/* Puts the table in effect: every shape with an engine in `engine`. */
static bt_status apply_table(engine_search *s, const bt_engine *engine)
{
    bt_gemm_params table;
    memset(&table, 0, sizeof table);
    table.has_engines = true;
    for (size_t i = 0; i < s->opts->n_shapes; ++i)
        if (engine[i] != BT_ENGINE_AUTO) {
            table.engines[table.n_engines].shape = s->opts->shapes[i].shape;
            table.engines[table.n_engines++].engine = engine[i];
        }
    return bt_device_apply_gemm_params(s->device, &table);
}

static bt_status run_steps(engine_search *s, size_t step, const bt_engine *engine, size_t runs,
                           double *seconds)
{
    BT_TRY(apply_table(s, engine));
    double start = bt_clock_seconds();
    bt_status status = s->opts->run_step(step, runs, s->opts->run_step_ctx);
    *seconds = bt_clock_seconds() - start;
    if (status == BT_ERR_INTERRUPTED)
        s->stop = true;
    return status;
}

/* Times step `step` with tables a and b in rounds A B B A. Sets the medians of one run of each
 * (*a_seconds, *b_seconds) and of the rounds' ratios b / a. */
static bt_status compare(engine_search *s, size_t step, const bt_engine *a, const bt_engine *b,
                         double *a_seconds, double *b_seconds, double *ratio)
{
    double t = 0.0;
    BT_TRY(run_steps(s, step, a, WARMUP_RUNS, &t));
    BT_TRY(run_steps(s, step, b, WARMUP_RUNS, &t));
    BT_TRY(run_steps(s, step, a, 1, &t));
    size_t runs = t > 0.0 ? (size_t)ceil(BLOCK_SECONDS / t) : MAX_RUNS_PER_BLOCK;
    runs = runs < 1 ? 1 : runs > MAX_RUNS_PER_BLOCK ? MAX_RUNS_PER_BLOCK : runs;
    double per_a[ROUNDS], per_b[ROUNDS], ratios[ROUNDS];
    for (size_t r = 0; r < ROUNDS; ++r) {
        double a1, b1, b2, a2;
        BT_TRY(run_steps(s, step, a, runs, &a1));
        BT_TRY(run_steps(s, step, b, runs, &b1));
        BT_TRY(run_steps(s, step, b, runs, &b2));
        BT_TRY(run_steps(s, step, a, runs, &a2));
        per_a[r] = (a1 + a2) / (2.0 * (double)runs);
        per_b[r] = (b1 + b2) / (2.0 * (double)runs);
        ratios[r] = (b1 + b2) / (a1 + a2);
    }
    double spread = 0.0;
    *a_seconds = bt_median_and_spread(per_a, ROUNDS, &spread);
    *b_seconds = bt_median_and_spread(per_b, ROUNDS, &spread);
    *ratio = bt_median_and_spread(ratios, ROUNDS, &spread);
    return BT_OK;
}

static bool keep_going(engine_search *s, const char *stage, size_t decided)
{
    if (s->stop)
        return false;
    if (!s->opts->progress)
        return true;
    bt_gemm_tune_progress p = {0};
    p.elapsed_seconds = bt_clock_seconds() - s->started;
    p.budget_seconds = s->opts->budget_seconds;
    p.tried = decided;
    p.stage = stage;
    p.speedup = NAN;
    if (!s->opts->progress(&p, s->opts->progress_ctx))
        s->stop = true;
    return !s->stop;
}

/* Decides the undecided shapes of one step. */
static bt_status tune_step(engine_search *s, size_t step, bt_engine_tune_result *out)
{
    const bt_gemm_tune_step *st = &s->opts->steps[step];
    bt_engine fused[BT_GEMM_TUNE_MAX_SHAPES], clblast[BT_GEMM_TUNE_MAX_SHAPES];
    memcpy(fused, s->engine, sizeof fused);
    memcpy(clblast, s->engine, sizeof clblast);
    bool open[BT_GEMM_TUNE_MAX_SHAPES] = {false};
    size_t n_open = 0;
    for (size_t i = 0; i < st->count; ++i) {
        size_t shape = st->shapes[i];
        if (s->engine[shape] != BT_ENGINE_AUTO || open[shape])
            continue;
        open[shape] = true;
        ++n_open;
        fused[shape] = BT_ENGINE_FUSED;
        clblast[shape] = BT_ENGINE_CLBLAST;
    }
    if (n_open == 0 || !keep_going(s, "our kernels against CLBlast", step))
        return BT_OK;
    double fused_seconds = 0.0, clblast_seconds = 0.0, ratio = 1.0;
    double first = bt_clock_seconds();
    BT_TRY(compare(s, step, fused, clblast, &fused_seconds, &clblast_seconds, &ratio));
    double comparison_seconds = bt_clock_seconds() - first;
    out->comparisons++;
    out->fused_seconds[step] = fused_seconds;
    out->clblast_seconds[step] = clblast_seconds;
    bt_engine current[BT_GEMM_TUNE_MAX_SHAPES];
    memcpy(current, ratio < 1.0 ? clblast : fused, sizeof current);
    double current_seconds = ratio < 1.0 ? clblast_seconds : fused_seconds;

    /* Each product switched alone; one step's products decided at once keep their joint best
     * when nothing else fits. */
    for (size_t i = 0; i < s->opts->n_shapes; ++i) {
        if (!open[i])
            continue;
        double elapsed = bt_clock_seconds() - s->started;
        if (elapsed + comparison_seconds > s->opts->budget_seconds) {
            out->comparisons_skipped++;
            continue;
        }
        if (!keep_going(s, "one product switched", step))
            break;
        bt_engine switched[BT_GEMM_TUNE_MAX_SHAPES];
        memcpy(switched, current, sizeof switched);
        switched[i] = current[i] == BT_ENGINE_FUSED ? BT_ENGINE_CLBLAST : BT_ENGINE_FUSED;
        double a = 0.0, b = 0.0;
        BT_TRY(compare(s, step, current, switched, &a, &b, &ratio));
        out->comparisons++;
        if (ratio < 1.0 - MIN_GAIN) {
            memcpy(current, switched, sizeof current);
            current_seconds = b;
        } else {
            current_seconds = a;
        }
    }
    out->chosen_seconds[step] = current_seconds;
    for (size_t i = 0; i < s->opts->n_shapes; ++i)
        if (open[i])
            s->engine[i] = current[i];
    return BT_OK;
}

static bt_status check_opts(const bt_engine_tune_opts *o)
{
    if (!o->shapes || o->n_shapes == 0 || o->n_shapes > BT_GEMM_MAX_ENGINE_CHOICES ||
        o->n_shapes > BT_GEMM_TUNE_MAX_SHAPES || !o->steps || o->n_steps == 0 ||
        o->n_steps > BT_GEMM_TUNE_MAX_STEPS || !o->run_step || !(o->budget_seconds >= 0.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_engine_tune: shapes, steps and run_step are "
                                                "required, within their limits");
    for (size_t i = 0; i < o->n_steps; ++i) {
        if (o->steps[i].count == 0 || o->steps[i].count > BT_GEMM_TUNE_MAX_STEP_SHAPES)
            return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_engine_tune: step %zu has %zu shapes",
                           i, o->steps[i].count);
        for (size_t j = 0; j < o->steps[i].count; ++j)
            if (o->steps[i].shapes[j] >= o->n_shapes)
                return bt_fail(BT_ERR_INVALID_ARGUMENT,
                               "bt_engine_tune: step %zu names shape %zu of %zu", i,
                               o->steps[i].shapes[j], o->n_shapes);
    }
    return BT_OK;
}

bt_status bt_engine_tune(bt_device *device, const bt_engine_tune_opts *opts,
                         bt_engine_tune_result *out)
{
    if (!device || !opts || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_engine_tune: NULL argument");
    memset(out, 0, sizeof *out);
    BT_TRY(check_opts(opts));
    engine_search s = {device, opts, {0}, bt_clock_seconds(), false};
    for (size_t i = 0; i < opts->n_shapes; ++i)
        s.engine[i] = BT_ENGINE_AUTO;
    out->n_steps = opts->n_steps;
    bt_status status = BT_OK;
    for (size_t step = 0; step < opts->n_steps && status == BT_OK && !s.stop; ++step)
        status = tune_step(&s, step, out);
    if (s.stop && status == BT_ERR_INTERRUPTED) {
        status = BT_OK;
        bt_clear_error();
    }
    out->stopped = s.stop;
    /* The table in effect is what was decided, whatever the last timing left there. */
    bt_status applied = apply_table(&s, s.engine);
    if (status == BT_OK)
        status = applied;
    for (size_t i = 0; i < opts->n_shapes; ++i)
        if (s.engine[i] != BT_ENGINE_AUTO) {
            out->engines[out->n_engines].shape = opts->shapes[i].shape;
            out->engines[out->n_engines++].engine = s.engine[i];
        }
    out->elapsed_seconds = bt_clock_seconds() - s.started;
    return status;
}
