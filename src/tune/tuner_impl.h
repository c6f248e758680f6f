/* Internal: the tuner's result handle and run state, shared by tuner.c (options and the stages),
 * tuner_trial.c (training and evaluating one trial; tuner_trial.h) and tuner_rank.c (summaries
 * and ranking; tuner_rank.h). The calls go one way: tuner.c -> tuner_trial.c -> tuner_rank.c. */
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

#endif
