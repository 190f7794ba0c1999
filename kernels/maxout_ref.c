/* Reference maxout: maxout.h's definition as loops. */
#include "maxout.h"

void ekn_maxout_forward_ref(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg)
{
    const int co = c / k;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < co; o++)
            for (size_t j = 0; j < s; j++) {
                int best = 0;
                for (int q = 1; q < k; q++)
                    if (x[((size_t)i * c + (size_t)o * k + q) * s + j] > x[((size_t)i * c + (size_t)o * k + best) * s + j])
                        best = q;
                size_t out = ((size_t)i * co + o) * s + j;
                y[out] = x[((size_t)i * c + (size_t)o * k + best) * s + j];
                arg[out] = best;
            }
}

void ekn_maxout_backward_ref(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx)
{
    const int co = c / k;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < co; o++)
            for (size_t j = 0; j < s; j++) {
                size_t out = ((size_t)i * co + o) * s + j;
                for (int q = 0; q < k; q++)
                    dx[((size_t)i * c + (size_t)o * k + q) * s + j] = q == arg[out] ? dy[out] : 0.0f;
            }
}
