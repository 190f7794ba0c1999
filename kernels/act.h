/* act: elementwise activation functions.
 *
 * All buffers are flat float32 arrays of n elements, any layout (the
 * activation does not care about shape).
 *
 *   forward:  y = f(x).  y may alias x (in-place activation).
 *   backward: dx = f'(x) * dy, OVERWRITTEN (not accumulated: an input
 *             gradient, not a parameter gradient).  Both the pre-activation x
 *             and its activation y are passed so each function uses the
 *             cheaper one (tanh and sigmoid from y, the piecewise ones from x);
 *             dx may alias dy.
 *
 * Conventions at the kinks (where f' is undefined): relu'(0) = 0,
 * leaky'(0) = alpha, abs'(0) = 0, elu'(0) = alpha (the left derivative).
 * alpha is the slope for x < 0 of EKN_ACT_LEAKY, the scale of EKN_ACT_ELU,
 * and ignored by the others.
 *
 *   elu       x > 0 ? x : alpha*(exp(x) - 1)   (expm1: exact near 0)
 *             f' = x > 0 ? 1 : alpha*exp(x)
 *   silu      x*sigmoid(x)                     (swish)
 *             f' = s*(1 + x*(1 - s)), s = sigmoid(x)
 *   softplus  log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)) so that
 *             neither large nor very negative x overflows or loses digits
 *             f' = sigmoid(x)
 * All three compute their derivative from x.
 *
 * _ref switches per element; _cpu hoists the switch out of the loop so each
 * loop body is branch-free and vectorises (tanh and sigmoid stay bound by the
 * libm calls). */
#ifndef EKN_ACT_H
#define EKN_ACT_H
#include <stddef.h>

typedef enum ekn_act {
    EKN_ACT_LINEAR,
    EKN_ACT_RELU,
    EKN_ACT_LEAKY,
    EKN_ACT_TANH,
    EKN_ACT_SIGMOID,
    EKN_ACT_ABS,
    /* appended later; the values above never change */
    EKN_ACT_ELU,
    EKN_ACT_SILU,
    EKN_ACT_SOFTPLUS
} ekn_act;

void ekn_act_forward_ref(ekn_act a, float alpha, size_t n, const float *x, float *y);
void ekn_act_backward_ref(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx);

void ekn_act_forward_cpu(ekn_act a, float alpha, size_t n, const float *x, float *y);
void ekn_act_backward_cpu(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx);

/* Spec-file names: "linear", "relu", "leaky", "tanh", "sigmoid", "abs",
 * "elu", "silu", "softplus".
 * ekn_act_from_name returns the enum value, or -1 for an unknown (or NULL)
 * name; ekn_act_name returns "?" for a value outside the enum. */
int ekn_act_from_name(const char *name);
const char *ekn_act_name(ekn_act a);

/* CUDA (kernels/act_cuda.cu, CUDA builds only): the same on device memory;
 * errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_act_forward_cuda(ekn_act a, float alpha, size_t n, const float *x, float *y);
void ekn_act_backward_cuda(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                           const float *dy, float *dx);

#endif
