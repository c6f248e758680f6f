/*
 * batchtune predict: the wall-clock-fastest batch size from the gradient noise scale B
 * (batchtune_noise.h) and the device's step time t(m), without training every candidate.
 *
 * McCandlish et al. 2018: steps to a target go as S(m) = S_min (1 + B/m), so the training time
 * is T(m) = S_min (1 + B/m) t(m) and the fastest m minimises (1 + B/m) t(m), which needs no S_min.
 * With t(m) = a + b m the minimum is at m* = sqrt(B a / b). The model assumes the learning rate
 * is tuned for each m; a fixed rule (linear, sqrt) can limit large m before the noise does.
 *
 * Same conventions as batchtune.h.
 */
#ifndef BATCHTUNE_PREDICT_H
#define BATCHTUNE_PREDICT_H

#include "batchtune.h"
#include "batchtune_noise.h"
#include "batchtune_tuner.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * The model, on numbers the caller has
 * ------------------------------------------------------------------------------------------- */

/* t(m) = a + b m fitted by least squares on relative residuals (weights 1/t^2: a step of 0.05 ms
 * counts as much as one of 5 ms). */
typedef struct bt_step_fit {
    double a;               /* seconds per step that do not grow with m (launches, latency) */
    double b;               /* seconds per example */
    double rms_relative;    /* root mean square of (fit - t) / t over the points */
    double max_relative;    /* largest |fit - t| / t */
} bt_step_fit;

/* n >= 2 points with at least two distinct m, every t finite and > 0. */
BT_API bt_status bt_step_fit_linear(const size_t *m, const double *t, size_t n, bt_step_fit *out);

/* sqrt(B a / b): the m minimising (1 + B/m)(a + b m). NAN unless B > 0 finite, a > 0 and b > 0
 * (otherwise there is no interior minimum: the largest or the smallest m wins). */
BT_API double bt_predict_optimal_m(double noise_scale, const bt_step_fit *fit);

/* relative[i] = (1 + B/m_i) t_i over the smallest of these; *best = its index. B >= 0 (with
 * B = +INFINITY, t_i / m_i: examples per second decide), t_i finite and > 0, m_i >= 1, n >= 1. */
BT_API bt_status bt_predict_rank(double noise_scale, const size_t *m, const double *t, size_t n,
                                 double *relative, size_t *best);

/* ---------------------------------------------------------------------------------------------
 * Step times on a device
 * ------------------------------------------------------------------------------------------- */

/* Seconds per training step of each m, on `train` (resident data, the scheduler's batches):
 * after warm-up steps, the median of 3 timed runs of at least min_seconds / 3 each. The network
 * must have max_batch >= every m; its parameters change (it trains). */
BT_API bt_status bt_predict_step_times(bt_network *network, const bt_device_data *train,
                                       const size_t *m, size_t n, double min_seconds,
                                       double *seconds);

/* ---------------------------------------------------------------------------------------------
 * The whole prediction: one reference run that measures B, then t(m) for the candidates
 * ------------------------------------------------------------------------------------------- */

typedef struct bt_predict_progress {
    double train_seconds;   /* of the reference run so far */
    double accuracy;        /* the latest validation accuracy */
    double noise_scale;     /* the current estimate; NAN when unknown */
    bool timing;            /* false: reference run; true: timing the candidates */
    size_t timed;           /* candidates timed so far */
} bt_predict_progress;

typedef void (*bt_predict_progress_fn)(const bt_predict_progress *progress, void *user);

typedef struct bt_predict_opts {
    /* The workload and the candidates, as for the tuner: network, batch_sizes, eta_ref, m_ref,
     * rule, lambda, target_accuracy, eval_interval_seconds; budget_seconds bounds the reference
     * run's training time. The rest of it (repeats, early stopping, health) is not used. */
    bt_tuner_opts tuner;
    /* The reference run's batch size; 0: the median candidate (the lower middle one of an even
     * count), at least 2. */
    size_t reference_batch;
    size_t noise_every;    /* training steps between noise samples, >= 1 (default 16) */
    /* Examples per noise sample (B_big; b = 1): 0 means the reference batch size or 256,
     * whichever is larger (at most the training-set size). A larger one makes each sample's
     * |G|^2 estimate less noisy (its noise goes as tr(Sigma)/B_big, and B is in the hundreds on
     * the book's network). */
    size_t noise_batch;
    bt_noise_opts noise;   /* the moving averages (default decay 0.97: about the last 33
                              samples, 530 steps) */
    double step_seconds;   /* timed steps per candidate, > 0 (default 0.015 s) */
    bt_predict_progress_fn progress; /* may be NULL */
    bt_tuner_cancel_fn cancel;       /* may be NULL; polled between slices */
    void *user;
} bt_predict_opts;

/* The tuner's defaults (book network, m = 1..1024, eta 3 at m 10 with the sqrt rule, target 80%,
 * 10 s budget) but evaluations every 0.05 s of training, and the ones above. */
BT_API bt_predict_opts bt_predict_opts_default(void);

/* One evaluation of the reference run, with the estimate at that moment. */
typedef struct bt_predict_point {
    double train_seconds;
    double epochs;
    double accuracy;
    double noise_scale;  /* NAN before the first sample */
    double gradient_sq;
    double trace;
    size_t samples;
} bt_predict_point;

typedef struct bt_predict_summary {
    size_t reference_batch;
    double reference_eta;
    const bt_predict_point *points; /* every evaluation of the reference run, the first at 0 s */
    size_t n_points;
    bool reached;              /* the reference run reached the target */
    double time_to_target;     /* its training seconds to the target, interpolated; NAN if not */
    /* B used for the prediction: the estimate at the first evaluation at or above the target,
     * else (not reached: a caveat) the last one. NAN when it could not be estimated. */
    double noise_scale;
    size_t n_candidates;
    const size_t *batch_sizes;  /* the candidates, as given */
    const double *step_seconds; /* measured t(m); NAN for those not timed (interrupted) */
    const double *relative_time; /* (1 + B/m) t(m) over the best; NAN when unknown */
    const double *etas;         /* the learning rate of each m by the rule */
    size_t best;                /* index of the predicted fastest candidate; n_candidates if none */
    bt_step_fit fit;            /* of the timed candidates; a = b = NAN with fewer than 2 */
    double optimal_m;           /* sqrt(B a / b); NAN when undefined */
    double optimal_eta;         /* the rule's eta at optimal_m (rounded to an integer m) */
    double reference_seconds;   /* wall clock of the reference run, evaluations included */
    double timing_seconds;      /* wall clock of the step timing */
    double total_seconds;       /* of bt_predict_run, everything included */
    bool interrupted;
} bt_predict_summary;

typedef struct bt_predict_result bt_predict_result;

/* Uploads `train` and `validation` to the device, trains one network at reference_batch with the
 * rule's learning rate toward the target (at most budget_seconds of training), sampling B every
 * noise_every steps on a random stretch of reference_batch training examples, then times one step
 * of every candidate and ranks them. Like bt_tuner_run: BT_OK when done; the cancel callback gives
 * BT_ERR_INTERRUPTED and a failure its status, both with the partial result in *out (NULL only
 * for invalid options or no memory). A target that is not reached is not an error: the summary
 * says so (reached false) and the prediction uses the last estimate. */
BT_API bt_status bt_predict_run(bt_device *device, const bt_dataset *train,
                                const bt_dataset *validation, const bt_predict_opts *opts,
                                bt_predict_result **out);
BT_API void bt_predict_result_destroy(bt_predict_result *result);
BT_API const bt_predict_summary *bt_predict_result_summary(const bt_predict_result *result);

/* Checks options without running (also done by bt_predict_run); train_count 0 skips the checks
 * against the training-set size. */
BT_API bt_status bt_predict_opts_validate(const bt_predict_opts *opts, size_t train_count);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_PREDICT_H */
