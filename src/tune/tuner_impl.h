/* Internal: the tuner's result handle and the pieces shared by tuner.c (options and the stages),
 * tuner_trial.c (training and evaluating one trial) and tuner_rank.c (summaries and ranking). */
#ifndef BT_TUNER_IMPL_H
#define BT_TUNER_IMPL_H

#include "batchtune_tuner.h"

/* What a trial needs while it trains; the public bt_tuner_trial holds what it measured. */
typedef struct bt_trial_state {
    bt_network *network;     /* owned; NULL once the trial is over */
    bt_scheduler *scheduler; /* owned; NULL once the trial is over */
    bt_tuner_point *points;  /* owned; the public trial's `points` aliases it */
    size_t capacity;
    double step_estimate;    /* seconds per step, from the last slice */
    double next_eval;        /* training time of the next evaluation */
    bool started;
    bool over;               /* unhealthy, reached the target early, or eliminated */
    char reason[200];        /* the public trial's `reason` aliases it */
} bt_trial_state;

struct bt_tuner_result {
    bt_tuner_opts opts; /* callbacks cleared */
    bt_tuner_summary summary;
    bt_tuner_candidate *candidates;
    bt_tuner_trial *trials;  /* candidate c's trials at c * repeats */
    bt_trial_state *states;  /* parallel to trials */
    size_t *ranking;
    double stage_budgets[BT_TUNER_MAX_STAGES];
};

/* Everything bt_tuner_run() holds while it runs. */
typedef struct bt_tuner_context {
    bt_tuner_result *result;
    const bt_tuner_opts *opts; /* the caller's, callbacks included */
    bt_device *device;
    bt_device_data *train, *validation;
    double start_time;
    size_t evaluations; /* so far, for the progress callback */
    bool cancelled;
} bt_tuner_context;

/* tuner_trial.c */
/* Network with the trial's seed, warm-up and step timing outside the clock, the initial weights
 * restored, a scheduler, and the evaluation at 0 s. */
bt_status bt_trial_start(bt_tuner_context *ctx, size_t candidate, size_t seed_index,
                         size_t stage);
/* Train until the trial's training time reaches `limit`, evaluating on the way. Stops early, with
 * BT_OK and state->over set, when the trial turns unhealthy or (stop_at_target) reaches the
 * target. BT_ERR_INTERRUPTED when the cancel callback asked to stop. */
bt_status bt_trial_train(bt_tuner_context *ctx, size_t candidate, size_t seed_index,
                         size_t stage, double limit, bool stop_at_target);
/* Destroy the trial's network and scheduler (its measurements stay). */
void bt_trial_release(bt_trial_state *state);
/* The time of one training step at m = 1, measured apart from the trials. */
bt_status bt_tuner_measure_reference_step(bt_tuner_context *ctx, double *seconds);

/* tuner_rank.c */
/* Time and epochs to target of a trial from its points; reached is false if never. */
void bt_trial_time_to_target(bt_tuner_trial *trial, double target);
/* Fill a candidate's summary fields from its started trials. */
void bt_candidate_summarise(bt_tuner_candidate *candidate, double reference_step_seconds);
/* Sort the candidates into result->ranking, set each one's rank and the winner. */
void bt_tuner_rank(bt_tuner_result *result);
/* Order of `count` candidate indices for successive halving: healthy first, then by best
 * accuracy, then by batch size. */
void bt_tuner_sort_by_accuracy(const bt_tuner_candidate *candidates, size_t *indices,
                               size_t count);

#endif
