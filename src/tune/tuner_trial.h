/* Internal: one trial of the tuner (tuner_trial.c), for tuner.c. */
#ifndef BT_TUNER_TRIAL_H
#define BT_TUNER_TRIAL_H

#include "tune/tuner_impl.h"

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

#endif
