/* The JSON of a prediction, shared by `batchtune predict` and `batchtune tune --predict`. */
#include "predict_report.h"

#include <math.h>

void bt_json_number(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

void bt_predict_json(const bt_predict_summary *s, cJSON *root)
{
    cJSON *r = cJSON_AddObjectToObject(root, "reference_run");
    cJSON_AddNumberToObject(r, "batch_size", (double)s->reference_batch);
    cJSON_AddNumberToObject(r, "eta", s->reference_eta);
    cJSON_AddBoolToObject(r, "reached", s->reached);
    bt_json_number(r, "time_to_target", s->time_to_target);
    cJSON *pts = cJSON_AddArrayToObject(r, "evaluations");
    for (size_t i = 0; i < s->n_points; ++i) {
        const bt_predict_point *p = &s->points[i];
        cJSON *o = cJSON_CreateObject();
        bt_json_number(o, "train_seconds", p->train_seconds);
        bt_json_number(o, "epochs", p->epochs);
        bt_json_number(o, "accuracy", p->accuracy);
        bt_json_number(o, "noise_scale", p->noise_scale);
        cJSON_AddBoolToObject(o, "noise_scale_unbounded", isinf(p->noise_scale));
        bt_json_number(o, "gradient_sq", p->gradient_sq);
        bt_json_number(o, "trace", p->trace);
        cJSON_AddNumberToObject(o, "samples", (double)p->samples);
        if (!o || !cJSON_AddItemToArray(pts, o)) {
            cJSON_Delete(o);
            break;
        }
    }

    cJSON *pr = cJSON_AddObjectToObject(root, "prediction");
    bt_json_number(pr, "noise_scale", s->noise_scale);
    cJSON_AddBoolToObject(pr, "noise_scale_unbounded", isinf(s->noise_scale));
    cJSON_AddBoolToObject(pr, "caveat_target_not_reached", !s->reached);
    cJSON *cands = cJSON_AddArrayToObject(pr, "candidates");
    for (size_t i = 0; i < s->n_candidates; ++i) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "m", (double)s->batch_sizes[i]);
        bt_json_number(o, "eta", s->etas[i]);
        bt_json_number(o, "step_seconds", s->step_seconds[i]);
        bt_json_number(o, "relative_time", s->relative_time[i]);
        if (!o || !cJSON_AddItemToArray(cands, o)) {
            cJSON_Delete(o);
            break;
        }
    }
    if (s->best < s->n_candidates) {
        cJSON_AddNumberToObject(pr, "best_m", (double)s->batch_sizes[s->best]);
        bt_json_number(pr, "best_eta", s->etas[s->best]);
    } else {
        cJSON_AddNullToObject(pr, "best_m");
    }
    cJSON *fit = cJSON_AddObjectToObject(pr, "step_fit");
    bt_json_number(fit, "a_seconds", s->fit.a);
    bt_json_number(fit, "b_seconds_per_example", s->fit.b);
    bt_json_number(fit, "rms_relative_error", s->fit.rms_relative);
    bt_json_number(fit, "max_relative_error", s->fit.max_relative);
    bt_json_number(pr, "optimal_m", s->optimal_m);
    bt_json_number(pr, "optimal_eta", s->optimal_eta);

}
