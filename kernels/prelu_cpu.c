/* Fast CPU PReLU: one pass per channel plane, the slope hoisted, the select
 * branch-free.  No restrict between dy and dx: they may alias (each element
 * is read before it is written).  The slope gradient sums each plane in a
 * double, then adds the planes in order. */
#include "prelu.h"

void ekn_prelu_forward_cpu(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y)
{
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float slope = a[nslopes == 1 ? 0 : (int)(p % (size_t)c)];
        const float *xp = x + p * s;
        float *yp = y + p * s;
        for (size_t j = 0; j < s; j++) yp[j] = xp[j] > 0 ? xp[j] : slope * xp[j];
    }
}

void ekn_prelu_backward_cpu(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                            float *dx, float *da)
{
    double shared = 0;
    for (int ch = 0; ch < c && da; ch++) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            const float *xp = x + ((size_t)i * c + ch) * s, *dp = dy + ((size_t)i * c + ch) * s;
            double p0 = 0, p1 = 0;
            size_t j = 0;
            for (; j + 2 <= s; j += 2) {
                p0 += xp[j] > 0 ? 0.0 : (double)xp[j] * dp[j];
                p1 += xp[j + 1] > 0 ? 0.0 : (double)xp[j + 1] * dp[j + 1];
            }
            for (; j < s; j++) p0 += xp[j] > 0 ? 0.0 : (double)xp[j] * dp[j];
            sum += p0 + p1;
        }
        if (nslopes == 1)
            shared += sum;
        else
            da[ch] = (float)(da[ch] + sum);
    }
    if (da && nslopes == 1) da[0] = (float)(da[0] + shared);
    if (!dx) return;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float slope = a[nslopes == 1 ? 0 : (int)(p % (size_t)c)];
        const float *xp = x + p * s, *dp = dy + p * s;
        float *gp = dx + p * s;
        for (size_t j = 0; j < s; j++) gp[j] = xp[j] > 0 ? dp[j] : slope * dp[j];
    }
}
