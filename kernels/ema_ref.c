/* Reference EMA step (ema.h): the expression in double, rounded once. */
#include "ema.h"

void ekn_ema_update_ref(size_t n, float decay, const float *x, float *avg)
{
    for (size_t i = 0; i < n; i++) avg[i] = (float)((double)decay * avg[i] + (1.0 - (double)decay) * x[i]);
}
