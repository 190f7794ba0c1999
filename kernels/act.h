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
 * leaky'(0) = alpha, abs'(0) = 0.  alpha is the slope for x < 0 of
 * EKN_ACT_LEAKY and ignored by the others.
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
    EKN_ACT_ABS
} ekn_act;

void ekn_act_forward_ref(ekn_act a, float alpha, size_t n, const float *x, float *y);
void ekn_act_backward_ref(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx);

void ekn_act_forward_cpu(ekn_act a, float alpha, size_t n, const float *x, float *y);
void ekn_act_backward_cpu(ekn_act a, float alpha, size_t n, const float *x, const float *y,
                          const float *dy, float *dx);

/* Spec-file names: "linear", "relu", "leaky", "tanh", "sigmoid", "abs".
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
