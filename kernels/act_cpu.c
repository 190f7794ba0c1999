/* Fast activations: the switch is outside the loops, and each loop body is a
 * branch-free select, so GCC vectorises the piecewise-linear ones at -O3.
 * No restrict: y may be x and dx may be dy (in-place use), which is safe
 * because element i is read before it is written. */
#include <math.h>

#include "act.h"

void ekn_act_forward_cpu(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    switch (a) {
    case EKN_ACT_LINEAR:
        if (y != x)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    case EKN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    case EKN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
        return;
    case EKN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        return;
    case EKN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        return;
    case EKN_ACT_ABS:
        for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        return;
    case EKN_ACT_ELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * expm1f(x[i]);
        return;
    case EKN_ACT_SILU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    case EKN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
        return;
    }
}

void ekn_act_backward_cpu(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx)
{
    switch (a) {
    case EKN_ACT_LINEAR:
        if (dx != dy)
            for (size_t i = 0; i < n; i++) dx[i] = dy[i];
        return;
    case EKN_ACT_RELU:
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f;
        return;
    case EKN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
        return;
    case EKN_ACT_TANH:
        for (size_t i = 0; i < n; i++) dx[i] = (1.0f - y[i] * y[i]) * dy[i];
        return;
    case EKN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dx[i] = y[i] * (1.0f - y[i]) * dy[i];
        return;
    case EKN_ACT_ABS:
        /* sign(x) as a difference of two masks: 0 at x = 0, like _ref */
        for (size_t i = 0; i < n; i++)
            dx[i] = ((float)(x[i] > 0) - (float)(x[i] < 0)) * dy[i];
        return;
    case EKN_ACT_ELU:
        for (size_t i = 0; i < n; i++) dx[i] = (x[i] > 0 ? 1.0f : alpha * expf(x[i])) * dy[i];
        return;
    case EKN_ACT_SILU:
        for (size_t i = 0; i < n; i++) {
            float s = 1.0f / (1.0f + expf(-x[i]));
            dx[i] = s * (1.0f + x[i] * (1.0f - s)) * dy[i];
        }
        return;
    case EKN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) dx[i] = (1.0f / (1.0f + expf(-x[i]))) * dy[i];
        return;
    }
}
