/* Fast CPU EMA step (ema.h): one streaming pass in float, the two weights
 * hoisted; the compiler vectorises it (ISO C11 mode contracts no FMA). */
#include "ema.h"

void ekn_ema_update_cpu(size_t n, float decay, const float *restrict x, float *restrict avg)
{
    const float d = decay, w = 1.0f - decay;
    for (size_t i = 0; i < n; i++) {
        float kept = d * avg[i], added = w * x[i];
        avg[i] = kept + added;
    }
}
