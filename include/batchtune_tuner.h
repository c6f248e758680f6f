/*
 * batchtune tuner: for each candidate mini-batch size m, train the same network from the same
 * initial weights with the learning rate scaled to m, record validation accuracy against
 * wall-clock training time, and rank the candidates by the time they take to reach a target
 * accuracy (the procedure of Nielsen, "Neural Networks and Deep Learning", ch. 3).
 *
 * Same conventions as batchtune.h: every function that can fail returns a bt_status with the
 * details in bt_last_error(); the library never prints; results live in a handle the caller
 * destroys. Progress and cancellation go through callbacks in the options.
 *
 * What is measured, per candidate m and seed (a "trial"):
 * - The network is created with the seed, so every m starts from the same initial weights.
 * - Outside the clock: bt_network_warmup() for m, a few steps to time one step, then the initial
 *   parameters are restored with bt_network_set_params().
 * - Training runs in slices sized from the measured step time, so that a slice ends near the next
 *   evaluation; only the slices are timed (the clock is paused while evaluating).
 * - The trials take turns of one evaluation interval each (round robin), so that a change in the
 *   machine's load (other jobs) affects every candidate alike rather than whichever ran then.
 *   Every trial's network therefore stays on the device for the whole tuning: about
 *   candidates * repeats networks with max(m, 2048) rows of activations each.
 * - The validation set is evaluated at 0 s and every eval_interval_seconds of training time,
 *   and at the end of the budget.
 * - Time to target: the first evaluation at or above the target and the one before it, linearly
 *   interpolated; "not reached" otherwise.
 * - Health (checked at each evaluation; an unhealthy trial stops and the sweep goes on):
 *     diverged: the validation cost is NaN or infinite; or the last `stuck_evaluations`
 *               accuracies are all below chance + stuck_margin after the best one was above it
 *               (the accuracy collapsed back to chance);
 *     stuck:    after at least `stuck_evaluations` evaluations (not counting the one at 0 s) and
 *               at least stuck_budget_fraction * budget_seconds of training, the best accuracy
 *               is still below chance + stuck_margin. This catches the saturated sigmoids of too
 *               large a learning rate, which give no NaN.
 *   Chance is the share of the validation set's most frequent class.
 *
 * Early stopping (successive halving over time budgets): stage s trains every surviving
 * candidate to budget_seconds / halving_factor^(stages - 1 - s) seconds of training time, so
 * candidates are compared at equal wall-clock training time. After a stage:
 * - if some candidates reached the target, the one with the smallest time to target wins: every
 *   other survivor has been trained at least that long without reaching it, so the full sweep
 *   would rank it lower. Within a stage a trial also stops once it reaches the target, or once it
 *   has trained as long as the best time to target found so far (it cannot win any more).
 * - otherwise the best 1/halving_factor of the candidates (by best accuracy so far, unhealthy
 *   ones first out) go on to the next stage; the rest are eliminated.
 * Without early stopping every candidate trains for the whole budget (the full sweep).
 */
#ifndef BATCHTUNE_TUNER_H
#define BATCHTUNE_TUNER_H

#include "batchtune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Learning-rate scaling with the batch size
 * ------------------------------------------------------------------------------------------- */

typedef enum bt_lr_rule {
    BT_LR_LINEAR, /* eta(m) = eta_ref * m / m_ref: the book's rule */
    BT_LR_SQRT,   /* eta(m) = eta_ref * sqrt(m / m_ref) */
    BT_LR_NONE,   /* eta(m) = eta_ref */
} bt_lr_rule;

/* "linear", "sqrt", "none". */
BT_API const char *bt_lr_rule_str(bt_lr_rule rule);
/* Case-sensitive; anything else is BT_ERR_INVALID_ARGUMENT naming the accepted rules. */
BT_API bt_status bt_lr_rule_parse(const char *text, bt_lr_rule *out);

/* The learning rate of batch size m under a rule; NAN for an unknown rule or m_ref == 0. */
BT_API double bt_lr_rule_eta(bt_lr_rule rule, double eta_ref, size_t m_ref, size_t m);

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

#define BT_TUNER_MAX_CANDIDATES 64
#define BT_TUNER_MAX_REPEATS 100
#define BT_TUNER_MAX_STAGES 16

/* Passed to the progress callback after every evaluation. */
typedef struct bt_tuner_progress {
    size_t candidate;       /* index into opts.batch_sizes */
    size_t batch_size;
    double eta;
    size_t seed_index;      /* 0 .. repeats - 1 */
    size_t stage;           /* 0 .. stages - 1 (always 0 without early stopping) */
    size_t stages;
    double budget_seconds;  /* training time this trial trains to in this stage */
    double train_seconds;   /* training time of this trial so far */
    double accuracy;        /* this evaluation's validation accuracy */
    double best_accuracy;   /* the trial's best so far */
    size_t evaluations;     /* evaluations made so far by the whole tuning */
    double elapsed_seconds; /* wall clock since bt_tuner_run() began, everything included */
} bt_tuner_progress;

typedef void (*bt_tuner_progress_fn)(const bt_tuner_progress *progress, void *user);
/* Polled before each slice of training (at most 0.25 s apart) and before each trial starts:
 * returning true stops the tuning cleanly (see bt_tuner_run). A slice that ran is still
 * evaluated, so the results cover all the training that was done. */
typedef bool (*bt_tuner_cancel_fn)(void *user);

typedef struct bt_tuner_opts {
    /* Architecture, cost and initialisation. network.seed is the first seed (repeat r uses
     * seed + r); max_batch is set per candidate. */
    bt_network_opts network;
    /* Candidate batch sizes, tried in this order; distinct, each 1 .. training-set size. */
    size_t batch_sizes[BT_TUNER_MAX_CANDIDATES];
    size_t n_batch_sizes;
    /* Learning rate eta_ref at batch size m_ref, scaled to each m by `rule`. */
    double eta_ref;
    size_t m_ref;
    bt_lr_rule rule;
    double lambda;                /* L2 strength, >= 0 */
    double target_accuracy;       /* in (0, 1] */
    double budget_seconds;        /* training time per candidate and seed, > 0 */
    double eval_interval_seconds; /* training time between evaluations, 0 < it <= budget */
    size_t repeats;               /* seeds per candidate, 1 .. BT_TUNER_MAX_REPEATS */
    bool early_stop;              /* successive halving (see above) */
    size_t halving_factor;        /* >= 2 */
    size_t stages;                /* 1 .. BT_TUNER_MAX_STAGES; used only with early_stop */
    double stuck_margin;          /* health checks: see above */
    size_t stuck_evaluations;     /* >= 1 */
    double stuck_budget_fraction; /* 0 .. 1 */
    bt_tuner_progress_fn progress; /* may be NULL */
    bt_tuner_cancel_fn cancel;     /* may be NULL */
    void *user;                    /* passed to both callbacks */
} bt_tuner_opts;

/* Defaults sized so that the book's network on Fashion-MNIST tunes in a few minutes on a 2-core
 * CPU through PoCL: the book's network (784,30,10, sigmoid, quadratic cost, N(0,1), seed 1);
 * batch sizes 1, 2, 4, ..., 1024; eta 3.0 at m 10 with the sqrt rule (the linear rule saturates
 * this network's sigmoids from m = 64..128); lambda 0; target 0.80; 10 s per candidate and seed,
 * evaluated every 0.25 s; 1 repeat; early stopping with halving factor 2 over 3 stages (2.5, 5 and
 * 10 s); stuck_margin 0.05, stuck_evaluations 4, stuck_budget_fraction 0.2. */
BT_API bt_tuner_opts bt_tuner_opts_default(void);

/* ---------------------------------------------------------------------------------------------
 * Results. Everything below is owned by the bt_tuner_result and valid until it is destroyed.
 * Times are seconds of training (evaluation and warm-up not counted) unless stated otherwise.
 * ------------------------------------------------------------------------------------------- */

typedef enum bt_tuner_health {
    BT_TUNER_HEALTHY,
    BT_TUNER_DIVERGED, /* NaN/inf cost, or accuracy collapsed back to chance */
    BT_TUNER_STUCK,    /* never rose clearly above chance */
} bt_tuner_health;

/* Why a trial's training ended. */
typedef enum bt_tuner_stop {
    BT_TUNER_STOP_BUDGET,      /* trained for the whole budget */
    BT_TUNER_STOP_TARGET,      /* early stopping: reached the target, no need to go on */
    BT_TUNER_STOP_ELIMINATED,  /* early stopping: behind others at equal training time, or
                                  the winner was decided before this trial reached the target */
    BT_TUNER_STOP_UNHEALTHY,   /* diverged or stuck */
    BT_TUNER_STOP_INTERRUPTED, /* the cancel callback, or an error, stopped the tuning */
} bt_tuner_stop;

/* "healthy", "diverged", "stuck"; "budget", "target", "eliminated", "unhealthy",
 * "interrupted". */
BT_API const char *bt_tuner_health_str(bt_tuner_health health);
BT_API const char *bt_tuner_stop_str(bt_tuner_stop stop);

/* One evaluation of the validation set. */
typedef struct bt_tuner_point {
    double train_seconds;
    double epochs;          /* examples_seen / training-set size */
    uint64_t examples_seen;
    uint64_t steps;
    double accuracy;
    double cost;            /* mean validation cost, without the L2 term */
} bt_tuner_point;

/* One candidate trained from one seed. */
typedef struct bt_tuner_trial {
    uint64_t seed;
    const bt_tuner_point *points; /* in training-time order; the first at 0 s */
    size_t n_points;
    bool reached;
    double time_to_target;   /* interpolated; NAN when not reached */
    double epochs_to_target; /* interpolated the same way; NAN when not reached */
    double best_accuracy;    /* the best evaluation after training began (the one at 0 s
                                while there is no other) */
    double final_accuracy;   /* the last evaluation's */
    bt_tuner_health health;
    const char *reason;      /* why it is unhealthy, in words; "" when healthy */
    bt_tuner_stop stop;
    size_t stage;            /* the last stage it trained in */
    double train_seconds;
    uint64_t steps;
    uint64_t examples_seen;
    double examples_per_second; /* examples_seen / train_seconds; NAN before any step */
    double step_seconds;        /* train_seconds / steps; NAN before any step */
} bt_tuner_trial;

/* One batch size, summarised over its trials (the seeds that were started). Medians of an even
 * count are the mean of the two middle values, except time_to_target: with "not reached" counting
 * as infinitely late it is the value at sorted index count / 2 (the median of an odd count, the
 * upper middle value of an even one), i.e. the time by which more than half of the seeds had
 * reached the target. It is known as soon as that many have, which lets early stopping decide
 * exactly. */
typedef struct bt_tuner_candidate {
    size_t batch_size;
    double eta;                 /* bt_lr_rule_eta() of this m */
    const bt_tuner_trial *trials; /* in seed order */
    size_t n_trials;            /* started; 0 if the tuning stopped before this candidate */
    bool reached;               /* time_to_target is finite */
    double time_to_target;      /* median as above; NAN when not reached */
    double time_to_target_spread; /* max - min over the seeds; NAN unless every seed reached */
    double epochs_to_target;    /* of the trial whose time is that median; NAN when not reached */
    double best_accuracy;       /* median over seeds */
    double best_accuracy_spread; /* max - min */
    double examples_per_second; /* median */
    double step_seconds;        /* median time of one update */
    double update_time_ratio;   /* step_seconds / the step time at m = 1; NAN if unknown */
    bt_tuner_health health;     /* healthy unless more than half of the trials are unhealthy,
                                   then diverged if any of those diverged, else stuck */
    const char *reason;         /* the first unhealthy trial's reason; "" if none */
    bt_tuner_stop stop;         /* unhealthy when health is not healthy; else interrupted if
                                   a trial was cut short; else target if it reached the
                                   target and a trial stopped there; else eliminated if a
                                   trial was; else budget */
    size_t stage;               /* the last stage it trained in */
    size_t rank;                /* 1 = best; see bt_tuner_summary.ranking */
} bt_tuner_candidate;

typedef struct bt_tuner_summary {
    const bt_tuner_candidate *candidates; /* in the order of opts.batch_sizes */
    size_t n_candidates;
    /* Indices into candidates, best first: those that reached the target by time to target
     * (then best accuracy); then the healthy rest by the stage they reached (later first) and
     * best accuracy; then the unhealthy by best accuracy; then those never started. */
    const size_t *ranking;
    /* ranking[0] when it reached the target, or when it is healthy and trained (no candidate
     * reached the target: the best accuracy within the budget wins); NULL otherwise. */
    const bt_tuner_candidate *winner;
    size_t stages;                  /* 1 without early stopping */
    const double *stage_budgets;    /* training seconds each stage trains to */
    double chance_accuracy;         /* share of the validation set's most frequent class */
    double reference_step_seconds;  /* one update at m = 1 (measured apart if 1 is not a
                                       candidate); NAN if not measured */
    size_t train_count, validation_count;
    size_t evaluations;             /* all trials */
    double train_seconds;           /* all trials */
    double total_seconds;           /* wall clock of bt_tuner_run(), everything included */
    bool interrupted;               /* stopped by the cancel callback or an error */
} bt_tuner_summary;

typedef struct bt_tuner_result bt_tuner_result;

/* Tune on `device`: `train` and `validation` are uploaded to it for the run (the caller keeps
 * ownership of both; they must match the network's input size and classes). Returns BT_OK when
 * every candidate was tried. The cancel callback makes it return BT_ERR_INTERRUPTED, and a
 * failure during training returns that failure; in both cases *out still receives the results
 * measured so far (summary.interrupted is true; the trial in progress keeps its evaluations).
 * *out is NULL only for invalid options (BT_ERR_INVALID_ARGUMENT) or when the result itself
 * cannot be allocated; the caller destroys a non-NULL *out with bt_tuner_result_destroy() whatever
 * the status. */
BT_API bt_status bt_tuner_run(bt_device *device, const bt_dataset *train,
                              const bt_dataset *validation, const bt_tuner_opts *opts,
                              bt_tuner_result **out);
BT_API void bt_tuner_result_destroy(bt_tuner_result *result);

/* Both owned by the result. The options are a copy with the callbacks cleared. */
BT_API const bt_tuner_summary *bt_tuner_result_summary(const bt_tuner_result *result);
BT_API const bt_tuner_opts *bt_tuner_result_opts(const bt_tuner_result *result);

/* Checks options without running anything (also done by bt_tuner_run); `train_count` is the
 * training-set size the batch sizes must fit, 0 to skip that check. */
BT_API bt_status bt_tuner_opts_validate(const bt_tuner_opts *opts, size_t train_count);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_TUNER_H */
