/* The batch-size prediction of batchtune_predict.h: the step-time fit and ranking, step times on
 * the device, and the reference run that measures the gradient noise scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_predict.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/rng.h"

/* ---- the model --------------------------------------------------------------------------- */

bt_status bt_step_fit_linear(const size_t *m, const double *t, size_t n, bt_step_fit *out)
{
    if (!m || !t || !out || n < 2)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "a step-time fit needs at least 2 measured batch sizes");
    /* Weighted least squares, weights 1/t^2: minimises the relative residuals. */
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
        if (m[i] == 0 || !isfinite(t[i]) || !(t[i] > 0.0))
            return bt_fail(BT_ERR_INVALID_ARGUMENT,
                           "step time %g s at m = %zu: every step time must be finite and above "
                           "0, every m >= 1",
                           t[i], m[i]);
        double w = 1.0 / (t[i] * t[i]), x = (double)m[i];
        sw += w;
        sx += w * x;
        sy += w * t[i];
        sxx += w * x * x;
        sxy += w * x * t[i];
    }
    double det = sw * sxx - sx * sx;
    if (!(fabs(det) > 1e-12 * sw * sxx))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "a step-time fit needs at least two different batch sizes");
    out->b = (sw * sxy - sx * sy) / det;
    out->a = (sy - out->b * sx) / sw;
    double sq = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; ++i) {
        double r = fabs(out->a + out->b * (double)m[i] - t[i]) / t[i];
        sq += r * r;
        worst = r > worst ? r : worst;
    }
    out->rms_relative = sqrt(sq / (double)n);
    out->max_relative = worst;
    return BT_OK;
}

double bt_predict_optimal_m(double noise_scale, const bt_step_fit *fit)
{
    if (!fit || !(noise_scale > 0.0) || !(fit->a > 0.0) || !(fit->b > 0.0) ||
        !isfinite(noise_scale))
        return NAN;
    return sqrt(noise_scale * fit->a / fit->b);
}

bt_status bt_predict_rank(double noise_scale, const size_t *m, const double *t, size_t n,
                          double *relative, size_t *best)
{
    if (!m || !t || !relative || !best || n == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_predict_rank: no candidates");
    if (!(noise_scale >= 0.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "noise scale %g: must be a number >= 0 (or infinite) to rank batch sizes",
                       noise_scale);
    size_t arg = 0;
    for (size_t i = 0; i < n; ++i) {
        if (m[i] == 0 || !isfinite(t[i]) || !(t[i] > 0.0))
            return bt_fail(BT_ERR_INVALID_ARGUMENT,
                           "step time %g s at m = %zu: must be finite and above 0, m >= 1", t[i],
                           m[i]);
        relative[i] = isinf(noise_scale) ? t[i] / (double)m[i]
                                         : (1.0 + noise_scale / (double)m[i]) * t[i];
        if (relative[i] < relative[arg])
            arg = i;
    }
    double lowest = relative[arg];
    for (size_t i = 0; i < n; ++i)
        relative[i] /= lowest;
    *best = arg;
    return BT_OK;
}

/* ---- step times -------------------------------------------------------------------------- */

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bt_status time_one(bt_network *net, const bt_device_data *train, size_t m,
                          double min_seconds, double *seconds)
{
    /* No bt_network_warmup: the untimed steps below compile whatever the step needs. */
    bt_scheduler_opts so = bt_scheduler_opts_default();
    so.batch_size = m;
    so.sgd.eta = 0.01f; /* a step's cost does not depend on the values */
    so.seed = 1;
    so.drop_last = true;
    bt_scheduler *s = NULL;
    BT_TRY(bt_scheduler_create(net, train, &so, &s));
    /* Warm-up, then one timed step to size the runs. */
    bt_status status = bt_scheduler_run(s, 2);
    double t0 = bt_clock_seconds();
    if (status == BT_OK)
        status = bt_scheduler_run(s, 1);
    double one = bt_clock_seconds() - t0;
    double per_run = min_seconds / 3.0, runs[3];
    size_t steps = one > 0.0 ? (size_t)(per_run / one) : 1;
    steps = steps < 1 ? 1 : steps;
    for (int r = 0; r < 3 && status == BT_OK; ++r) {
        t0 = bt_clock_seconds();
        status = bt_scheduler_run(s, steps);
        runs[r] = (bt_clock_seconds() - t0) / (double)steps;
    }
    bt_scheduler_destroy(s);
    if (status != BT_OK)
        return status;
    qsort(runs, 3, sizeof runs[0], by_value);
    *seconds = runs[1];
    return BT_OK;
}

bt_status bt_predict_step_times(bt_network *net, const bt_device_data *train, const size_t *m,
                                size_t n, double min_seconds, double *seconds)
{
    if (!net || !train || !m || !seconds || !(min_seconds > 0.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_predict_step_times: bad arguments");
    for (size_t i = 0; i < n; ++i)
        BT_TRY(time_one(net, train, m[i], min_seconds, &seconds[i]));
    return BT_OK;
}

/* ---- options ----------------------------------------------------------------------------- */

bt_predict_opts bt_predict_opts_default(void)
{
    bt_predict_opts o;
    memset(&o, 0, sizeof o);
    o.tuner = bt_tuner_opts_default();
    /* The reference run reaches the tuner's default target within a fraction of a second on a
     * 2-core CPU: evaluate often enough for B's trajectory to have a start, middle and end. */
    o.tuner.eval_interval_seconds = 0.05;
    o.noise_every = 16;
    o.noise = bt_noise_opts_default();
    /* Measured on the book network (README): 0.9 let B jump by 3x between evaluations. */
    o.noise.decay = 0.97;
    o.step_seconds = 0.015;
    return o;
}

static int by_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The median candidate (lower middle), at least 2: a noise sample needs two examples. */
static size_t reference_batch(const bt_predict_opts *o)
{
    if (o->reference_batch)
        return o->reference_batch;
    size_t sorted[BT_TUNER_MAX_CANDIDATES];
    size_t n = o->tuner.n_batch_sizes;
    memcpy(sorted, o->tuner.batch_sizes, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_size);
    size_t m = n ? sorted[(n - 1) / 2] : 2;
    return m < 2 ? 2 : m;
}

bt_status bt_predict_opts_validate(const bt_predict_opts *o, size_t train_count)
{
    if (!o)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_predict_opts_validate: opts is NULL");
    BT_TRY(bt_tuner_opts_validate(&o->tuner, train_count));
    if (o->noise_every == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "noise_every must be at least 1 step");
    if (!(o->noise.decay >= 0.0 && o->noise.decay < 1.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "noise decay %g: must be in [0, 1)",
                       o->noise.decay);
    if (!(o->step_seconds > 0.0 && o->step_seconds <= 60.0))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "step timing %g s: must be above 0 and at most "
                                                "60 s per candidate",
                       o->step_seconds);
    size_t ref = reference_batch(o);
    if (o->reference_batch == 1)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "reference batch size 1: the noise scale needs at least 2 examples per "
                       "batch");
    if (o->noise_batch == 1 || (train_count && o->noise_batch > train_count))
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "noise batch of %zu examples: must be 2 to the %zu training examples",
                       o->noise_batch, train_count);
    if (train_count && ref > train_count)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "reference batch size %zu is larger than the %zu training examples", ref,
                       train_count);
    return BT_OK;
}

/* ---- the result -------------------------------------------------------------------------- */

struct bt_predict_result {
    bt_predict_summary summary;
    bt_predict_point *points;
    size_t capacity;
    size_t batch_sizes[BT_TUNER_MAX_CANDIDATES];
    double step_seconds[BT_TUNER_MAX_CANDIDATES];
    double relative[BT_TUNER_MAX_CANDIDATES];
    double etas[BT_TUNER_MAX_CANDIDATES];
};

void bt_predict_result_destroy(bt_predict_result *r)
{
    if (!r)
        return;
    free(r->points);
    free(r);
}

const bt_predict_summary *bt_predict_result_summary(const bt_predict_result *r)
{
    return r ? &r->summary : NULL;
}

static bt_status add_point(bt_predict_result *r, const bt_predict_point *p)
{
    if (r->summary.n_points == r->capacity) {
        size_t cap = r->capacity ? 2 * r->capacity : 64;
        bt_predict_point *grown = realloc(r->points, cap * sizeof *grown);
        if (!grown)
            return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        r->points = grown;
        r->capacity = cap;
    }
    r->points[r->summary.n_points++] = *p;
    r->summary.points = r->points;
    return BT_OK;
}

/* ---- the run ----------------------------------------------------------------------------- */

typedef struct run_state {
    const bt_predict_opts *opts;
    bt_predict_result *r;
    bt_network *net;
    bt_device_data *train, *validation;
    bt_scheduler *scheduler;
    bt_noise *noise;
} run_state;

static bool cancelled(const bt_predict_opts *o)
{
    return o->cancel && o->cancel(o->user);
}

static void report(const bt_predict_opts *o, double seconds, double accuracy, double b,
                   bool timing, size_t timed)
{
    if (!o->progress)
        return;
    bt_predict_progress p = {seconds, accuracy, b, timing, timed};
    o->progress(&p, o->user);
}

static bt_status evaluate_point(run_state *st, double train_seconds, size_t train_count)
{
    bt_eval ev;
    BT_TRY(bt_network_evaluate(st->net, st->validation, &ev));
    bt_noise_estimate e = bt_noise_get(st->noise);
    bt_predict_point p = {train_seconds,
                          (double)bt_scheduler_examples_seen(st->scheduler) / (double)train_count,
                          ev.accuracy,
                          e.noise_scale,
                          e.gradient_sq,
                          e.trace,
                          e.samples};
    BT_TRY(add_point(st->r, &p));
    report(st->opts, train_seconds, ev.accuracy, e.noise_scale, false, 0);
    return BT_OK;
}

#define DEFAULT_NOISE_BATCH 256

static size_t noise_batch(const bt_predict_opts *o, size_t ref, size_t train_count)
{
    if (o->noise_batch)
        return o->noise_batch;
    size_t nb = ref > DEFAULT_NOISE_BATCH ? ref : DEFAULT_NOISE_BATCH;
    return nb < train_count ? nb : train_count;
}

/* Trains at the reference batch size until the target, the budget or a cancel. */
static bt_status reference_run(run_state *st, size_t ref, size_t train_count)
{
    const bt_tuner_opts *t = &st->opts->tuner;
    bt_predict_summary *s = &st->r->summary;
    bt_scheduler_opts so = bt_scheduler_opts_default();
    so.batch_size = ref;
    so.sgd.eta = (float)s->reference_eta;
    so.sgd.lambda = (float)t->lambda;
    so.seed = t->network.seed;
    BT_TRY(bt_scheduler_create(st->net, st->train, &so, &st->scheduler));
    BT_TRY(bt_noise_create(st->net, &st->opts->noise, &st->noise));
    bt_rng rng;
    bt_rng_init(&rng, t->network.seed, 0x6e6f697365ull); /* "noise": apart from the shuffles */

    double trained = 0.0, next_eval = t->eval_interval_seconds;
    BT_TRY(evaluate_point(st, 0.0, train_count));
    while (trained < t->budget_seconds) {
        if (cancelled(st->opts)) {
            s->interrupted = true;
            return bt_fail(BT_ERR_INTERRUPTED, "the prediction was cancelled");
        }
        /* A random stretch of the training set: its order is the file's, which for the
         * MNIST-format sets is already shuffled. */
        size_t nb = noise_batch(st->opts, ref, train_count);
        size_t first = (size_t)bt_rng_below(&rng, (uint64_t)(train_count - nb + 1));
        BT_TRY(bt_noise_update_data(st->noise, st->train, first, nb, NULL));
        double t0 = bt_clock_seconds();
        BT_TRY(bt_scheduler_run(st->scheduler, st->opts->noise_every));
        trained += bt_clock_seconds() - t0;
        if (trained < next_eval && trained < t->budget_seconds)
            continue;
        while (next_eval <= trained)
            next_eval += t->eval_interval_seconds;
        BT_TRY(evaluate_point(st, trained, train_count));
        const bt_predict_point *last = &s->points[s->n_points - 1];
        if (last->accuracy >= t->target_accuracy) {
            const bt_predict_point *prev = last - 1;
            double span = last->accuracy - prev->accuracy;
            double f = span > 0.0 ? (t->target_accuracy - prev->accuracy) / span : 1.0;
            s->reached = true;
            s->time_to_target =
                prev->train_seconds + f * (last->train_seconds - prev->train_seconds);
            return BT_OK;
        }
    }
    return BT_OK;
}

static void predict(bt_predict_result *r, const bt_tuner_opts *t)
{
    bt_predict_summary *s = &r->summary;
    size_t n = 0, timed_m[BT_TUNER_MAX_CANDIDATES];
    double timed_t[BT_TUNER_MAX_CANDIDATES];
    for (size_t i = 0; i < s->n_candidates; ++i)
        if (isfinite(r->step_seconds[i])) {
            timed_m[n] = r->batch_sizes[i];
            timed_t[n++] = r->step_seconds[i];
        }
    if (n < 2 || bt_step_fit_linear(timed_m, timed_t, n, &s->fit) != BT_OK)
        s->fit.a = s->fit.b = s->fit.rms_relative = s->fit.max_relative = NAN;
    s->optimal_m = bt_predict_optimal_m(s->noise_scale, &s->fit);
    s->optimal_eta = isfinite(s->optimal_m)
                         ? bt_lr_rule_eta(t->rule, t->eta_ref, t->m_ref,
                                          (size_t)fmax(1.0, round(s->optimal_m)))
                         : NAN;
    double rel[BT_TUNER_MAX_CANDIDATES];
    size_t best = 0;
    if (n >= 1 && s->noise_scale >= 0.0 &&
        bt_predict_rank(s->noise_scale, timed_m, timed_t, n, rel, &best) == BT_OK) {
        for (size_t i = 0, k = 0; i < s->n_candidates; ++i)
            if (isfinite(r->step_seconds[i])) {
                r->relative[i] = rel[k];
                if (k++ == best)
                    s->best = i;
            }
    }
}

static bt_status run(run_state *st, bt_device *device, const bt_dataset *train,
                     const bt_dataset *validation)
{
    const bt_tuner_opts *t = &st->opts->tuner;
    bt_predict_summary *s = &st->r->summary;
    size_t count = bt_dataset_count(train), ref = s->reference_batch;
    BT_TRY(bt_device_data_create(device, train, &st->train));
    BT_TRY(bt_device_data_create(device, validation, &st->validation));
    bt_network_opts no = t->network;
    size_t nb = noise_batch(st->opts, ref, count);
    no.max_batch = ref > nb ? ref : nb;
    for (size_t i = 0; i < t->n_batch_sizes; ++i)
        no.max_batch = t->batch_sizes[i] > no.max_batch ? t->batch_sizes[i] : no.max_batch;
    BT_TRY(bt_network_create(device, &no, &st->net));
    BT_TRY(bt_network_warmup(st->net, &ref, 1));

    double t0 = bt_clock_seconds();
    bt_status status = reference_run(st, ref, count);
    s->reference_seconds = bt_clock_seconds() - t0;
    /* The estimate at the target, else the last one (the caller shows the caveat). */
    if (s->n_points)
        s->noise_scale = s->points[s->n_points - 1].noise_scale;
    if (status != BT_OK)
        return status;

    t0 = bt_clock_seconds();
    for (size_t i = 0; i < s->n_candidates && status == BT_OK; ++i) {
        if (cancelled(st->opts)) {
            s->interrupted = true;
            status = bt_fail(BT_ERR_INTERRUPTED, "the prediction was cancelled");
            break;
        }
        status = bt_predict_step_times(st->net, st->train, &st->r->batch_sizes[i], 1,
                                       st->opts->step_seconds, &st->r->step_seconds[i]);
        report(st->opts, s->n_points ? s->points[s->n_points - 1].train_seconds : 0.0,
               s->n_points ? s->points[s->n_points - 1].accuracy : NAN, s->noise_scale, true,
               i + 1);
    }
    s->timing_seconds = bt_clock_seconds() - t0;
    return status;
}

bt_status bt_predict_run(bt_device *device, const bt_dataset *train,
                         const bt_dataset *validation, const bt_predict_opts *opts,
                         bt_predict_result **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_predict_run: out must not be NULL");
    *out = NULL;
    if (!device || !train || !validation || !opts)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_predict_run: NULL argument");
    BT_TRY(bt_predict_opts_validate(opts, bt_dataset_count(train)));
    const bt_tuner_opts *t = &opts->tuner;
    size_t inputs = t->network.sizes[0], outputs = t->network.sizes[t->network.n_sizes - 1];
    if (bt_dataset_features(train) != inputs || bt_dataset_classes(train) > outputs ||
        bt_dataset_features(validation) != inputs || bt_dataset_classes(validation) > outputs ||
        bt_dataset_count(validation) == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "the data has %zu pixels and %u classes but the network has %zu inputs "
                       "and %zu outputs (or the validation set is empty)",
                       bt_dataset_features(train), bt_dataset_classes(train), inputs, outputs);

    bt_predict_result *r = calloc(1, sizeof *r);
    if (!r)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory for the prediction");
    double start = bt_clock_seconds();
    bt_predict_summary *s = &r->summary;
    s->reference_batch = reference_batch(opts);
    s->reference_eta = bt_lr_rule_eta(t->rule, t->eta_ref, t->m_ref, s->reference_batch);
    s->time_to_target = s->noise_scale = s->optimal_m = s->optimal_eta = NAN;
    s->fit.a = s->fit.b = s->fit.rms_relative = s->fit.max_relative = NAN;
    s->n_candidates = t->n_batch_sizes;
    for (size_t i = 0; i < t->n_batch_sizes; ++i) {
        r->batch_sizes[i] = t->batch_sizes[i];
        r->step_seconds[i] = r->relative[i] = NAN;
        r->etas[i] = bt_lr_rule_eta(t->rule, t->eta_ref, t->m_ref, t->batch_sizes[i]);
    }
    s->batch_sizes = r->batch_sizes;
    s->step_seconds = r->step_seconds;
    s->relative_time = r->relative;
    s->etas = r->etas;
    s->best = s->n_candidates;

    run_state st = {opts, r, NULL, NULL, NULL, NULL, NULL};
    bt_status status = run(&st, device, train, validation);
    /* The message of a failure survives the clean-up below, which does not fail. */
    predict(r, t);
    if (status != BT_OK)
        s->interrupted = true;
    bt_noise_destroy(st.noise);
    bt_scheduler_destroy(st.scheduler);
    bt_network_destroy(st.net);
    bt_device_data_destroy(st.validation);
    bt_device_data_destroy(st.train);
    s->total_seconds = bt_clock_seconds() - start;
    *out = r;
    return status;
}
