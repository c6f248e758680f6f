/* The JSON of a prediction (batchtune_predict.h), shared by `batchtune predict` and `batchtune
 * tune --predict`. */
#ifndef BT_PREDICT_REPORT_H
#define BT_PREDICT_REPORT_H

#include <cjson/cJSON.h>

#include "batchtune_predict.h"

/* A number, or null when it is NaN or infinite (JSON has neither). */
void bt_json_number(cJSON *o, const char *name, double v);

/* Adds "reference_run" (its evaluations with B at each) and "prediction" (B, the candidates'
 * t(m) and relative predicted time, the fit, m*) to `root`. A failed allocation leaves a key
 * out; cJSON_Print of the whole still works. */
void bt_predict_json(const bt_predict_summary *s, cJSON *root);

#endif
