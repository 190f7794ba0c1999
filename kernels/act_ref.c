/* Reference activations: one switch per element, written for clarity.  Also
 * home of the name <-> enum table the spec parser uses. */
#include <math.h>
#include <string.h>

#include "act.h"

static const char *const act_names[] = {
    [EKN_ACT_LINEAR] = "linear", [EKN_ACT_RELU] = "relu",       [EKN_ACT_LEAKY] = "leaky",
    [EKN_ACT_TANH] = "tanh",     [EKN_ACT_SIGMOID] = "sigmoid", [EKN_ACT_ABS] = "abs",
    [EKN_ACT_ELU] = "elu",       [EKN_ACT_SILU] = "silu",       [EKN_ACT_SOFTPLUS] = "softplus",
};
#define N_ACT (sizeof act_names / sizeof act_names[0])

int ekn_act_from_name(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < N_ACT; i++)
        if (strcmp(name, act_names[i]) == 0) return (int)i;
    return -1;
}

const char *ekn_act_name(ekn_act a)
{
    return (unsigned)a < N_ACT ? act_names[a] : "?";
}

static float act_f(ekn_act a, float alpha, float x)
{
    switch (a) {
    case EKN_ACT_LINEAR: return x;
    case EKN_ACT_RELU: return x > 0 ? x : 0.0f;
    case EKN_ACT_LEAKY: return x > 0 ? x : alpha * x;
    case EKN_ACT_TANH: return tanhf(x);
    case EKN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case EKN_ACT_ABS: return fabsf(x);
    case EKN_ACT_ELU: return x > 0 ? x : alpha * expm1f(x);
    case EKN_ACT_SILU: return x / (1.0f + expf(-x));
    case EKN_ACT_SOFTPLUS: return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
    }
    return x;
}

/* derivative as a function of x (and y = f(x), which is cheaper for
 * tanh' = 1 - y^2 and sigmoid' = y (1 - y); elu, silu and softplus use x) */
static float act_df(ekn_act a, float alpha, float x, float y)
{
    switch (a) {
    case EKN_ACT_LINEAR: return 1.0f;
    case EKN_ACT_RELU: return x > 0 ? 1.0f : 0.0f;
    case EKN_ACT_LEAKY: return x > 0 ? 1.0f : alpha;
    case EKN_ACT_TANH: return 1.0f - y * y;
    case EKN_ACT_SIGMOID: return y * (1.0f - y);
    case EKN_ACT_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case EKN_ACT_ELU: return x > 0 ? 1.0f : alpha * expf(x);
    case EKN_ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    case EKN_ACT_SOFTPLUS: return 1.0f / (1.0f + expf(-x));
    }
    return 1.0f;
}

void ekn_act_forward_ref(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] = act_f(a, alpha, x[i]);
}

void ekn_act_backward_ref(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++) dx[i] = act_df(a, alpha, x[i], y[i]) * dy[i];
}
