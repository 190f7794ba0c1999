/* Reference PReLU: prelu.h's definition element by element, the slope
 * gradient summed in double per slope. */
#include "prelu.h"

void ekn_prelu_forward_ref(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float slope = a[nslopes == 1 ? 0 : ch];
            for (size_t j = 0; j < s; j++) {
                size_t k = ((size_t)i * c + ch) * s + j;
                y[k] = x[k] > 0 ? x[k] : slope * x[k];
            }
        }
}

void ekn_prelu_backward_ref(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                            float *dx, float *da)
{
    for (int k = 0; k < nslopes; k++) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++) {
                if (nslopes != 1 && ch != k) continue;
                for (size_t j = 0; j < s; j++) {
                    size_t e = ((size_t)i * c + ch) * s + j;
                    if (!(x[e] > 0)) sum += (double)x[e] * dy[e];
                }
            }
        if (da) da[k] = (float)(da[k] + sum);
    }
    if (!dx) return;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float slope = a[nslopes == 1 ? 0 : ch];
            for (size_t j = 0; j < s; j++) {
                size_t e = ((size_t)i * c + ch) * s + j;
                dx[e] = x[e] > 0 ? dy[e] : slope * dy[e];
            }
        }
}
