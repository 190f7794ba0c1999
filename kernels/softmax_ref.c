/* Reference softmax: one voxel at a time, strided over c, double sums. */
#include <math.h>

#include "softmax.h"

void ekn_softmax_forward_ref(int n, int c, size_t s, const float *x, float *p)
{
    for (int i = 0; i < n; i++) {
        for (size_t v = 0; v < s; v++) {
            const float *xv = x + (size_t)i * c * s + v; /* stride s over classes */
            float *pv = p + (size_t)i * c * s + v;
            float mx = -INFINITY;
            for (int k = 0; k < c; k++)
                if (xv[k * s] > mx) mx = xv[k * s];
            double sum = 0;
            for (int k = 0; k < c; k++) {
                float e = expf(xv[k * s] - mx);
                pv[k * s] = e; /* x[k] is read before p[k] is written: aliasing is fine */
                sum += e;
            }
            for (int k = 0; k < c; k++) pv[k * s] = (float)(pv[k * s] / sum);
        }
    }
}

void ekn_softmax_backward_ref(int n, int c, size_t s, const float *p, const float *dp,
                              float *dx)
{
    for (int i = 0; i < n; i++) {
        for (size_t v = 0; v < s; v++) {
            size_t o = (size_t)i * c * s + v;
            double dot = 0;
            for (int k = 0; k < c; k++) dot += (double)p[o + k * s] * dp[o + k * s];
            for (int k = 0; k < c; k++)
                dx[o + k * s] = (float)(p[o + k * s] * (dp[o + k * s] - dot));
        }
    }
}
