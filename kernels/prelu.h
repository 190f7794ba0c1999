/* prelu: the rectifier with a learnable slope for x <= 0 (He et al. 2015).
 *
 * x, y, dy, dx: (N, C, S) f32, C order, S = Z*Y*X positions per channel
 * plane.  a: nslopes floats, nslopes == 1 (one slope shared by every
 * channel) or nslopes == C (one per channel); slope(c) = a[nslopes == 1 ? 0 : c].
 *
 *   forward   y = x > 0 ? x : slope*x       (y may alias x)
 *   backward  dx = x > 0 ? dy : slope*dy    OVERWRITTEN; may alias dy;
 *                                           NULL skips
 *             da[k] += sum of x*dy over the elements of slope k with
 *                      x <= 0 (ACCUMULATES; NULL skips)
 * At the kink the derivative is taken from the left (slope), as leaky's.
 *
 * _ref is plain loops with double sums, _cpu per-plane loops with double
 * sums (each plane's sum in one accumulator), _cuda elementwise kernels and,
 * for da, one block per channel (per channel) or a fixed grid of partial
 * sums (shared), both in double, in an order fixed by the shape: results
 * repeat bit for bit, no atomics. */
#ifndef EKN_PRELU_H
#define EKN_PRELU_H
#include <stddef.h>

void ekn_prelu_forward_ref(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y);
void ekn_prelu_backward_ref(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                            float *dx, float *da);
void ekn_prelu_forward_cpu(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y);
void ekn_prelu_backward_cpu(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                            float *dx, float *da);

/* CUDA (kernels/prelu_cuda.cu, CUDA builds only): the same on device memory;
 * errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_prelu_forward_cuda(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y);
void ekn_prelu_backward_cuda(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                             float *dx, float *da);
#endif
