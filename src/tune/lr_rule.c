/* Learning-rate rules: their names and how eta scales with the batch size. */
#include <math.h>
#include <string.h>

#include "batchtune_tuner.h"
#include "common/error.h"

static const char *const rule_names[] = {"linear", "sqrt", "none"};

const char *bt_lr_rule_str(bt_lr_rule rule)
{
    return (unsigned)rule < sizeof rule_names / sizeof rule_names[0] ? rule_names[rule]
                                                                      : "unknown";
}

bt_status bt_lr_rule_parse(const char *text, bt_lr_rule *out)
{
    for (unsigned i = 0; text && out && i < sizeof rule_names / sizeof rule_names[0]; ++i)
        if (strcmp(text, rule_names[i]) == 0) {
            *out = (bt_lr_rule)i;
            return BT_OK;
        }
    return bt_fail(BT_ERR_INVALID_ARGUMENT,
                   "unknown learning-rate rule '%s': expected linear, sqrt or none",
                   text ? text : "(null)");
}

double bt_lr_rule_eta(bt_lr_rule rule, double eta_ref, size_t m_ref, size_t m)
{
    if (m_ref == 0)
        return NAN;
    double ratio = (double)m / (double)m_ref;
    switch (rule) {
    case BT_LR_LINEAR:
        return eta_ref * ratio;
    case BT_LR_SQRT:
        return eta_ref * sqrt(ratio);
    case BT_LR_NONE:
        return eta_ref;
    }
    return NAN;
}
