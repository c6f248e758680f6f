/* Internal: summaries and ranking of the tuner's candidates (tuner_rank.c), for tuner.c and
 * tuner_trial.c. */
#ifndef BT_TUNER_RANK_H
#define BT_TUNER_RANK_H

#include "tune/tuner_impl.h"

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
