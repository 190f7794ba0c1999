/* Fast CPU maxout: the group's first channel plane seeds y and arg, each
 * later plane is compared element by element in one sequential pass
 * (strict >: ties keep the earlier channel, as _ref).  Backward writes
 * each input plane once with a select. */
#include <string.h>

#include "maxout.h"

void ekn_maxout_forward_cpu(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg)
{
    const size_t groups = (size_t)n * (size_t)(c / k);
    for (size_t g = 0; g < groups; g++) {
        const float *xg = x + g * (size_t)k * s;
        float *restrict yg = y + g * s;
        int32_t *restrict ag = arg + g * s;
        memcpy(yg, xg, s * sizeof *yg);
        memset(ag, 0, s * sizeof *ag);
        for (int q = 1; q < k; q++) {
            const float *restrict xp = xg + (size_t)q * s;
            for (size_t j = 0; j < s; j++)
                if (xp[j] > yg[j]) {
                    yg[j] = xp[j];
                    ag[j] = q;
                }
        }
    }
}

void ekn_maxout_backward_cpu(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx)
{
    const size_t groups = (size_t)n * (size_t)(c / k);
    for (size_t g = 0; g < groups; g++) {
        const float *restrict dg = dy + g * s;
        const int32_t *restrict ag = arg + g * s;
        for (int q = 0; q < k; q++) {
            float *restrict dp = dx + (g * (size_t)k + (size_t)q) * s;
            for (size_t j = 0; j < s; j++) dp[j] = ag[j] == q ? dg[j] : 0.0f;
        }
    }
}
