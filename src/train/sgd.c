/* The limits of an SGD update's rates. */
#include "batchtune.h"

bool bt_sgd_rates_valid(double eta, double lambda)
{
    return eta > 0.0 && eta <= BT_SGD_MAX_RATE && (float)eta > 0.0f && lambda >= 0.0 &&
           lambda <= BT_SGD_MAX_RATE;
}
