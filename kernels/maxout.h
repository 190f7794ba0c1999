/* maxout: the maximum over groups of k consecutive channels (Goodfellow et
 * al. 2013), as ELEKTRONN's maxout layers.
 *
 * f32 and int32, C order, S = Z*Y*X positions per channel plane:
 *     x   (N, C, S), C % k == 0
 *     y   (N, C/k, S)   y[n, o, s] = max over j < k of x[n, o*k + j, s]
 *     arg (N, C/k, S)   int32: the winning j (0 <= j < k)
 * Ties go to the first channel of the group (the smaller j); a NaN wins
 * only as the group's first element (comparisons are strict >), so _ref,
 * _cpu and _cuda agree exactly, arg included.
 *   forward   y and arg OVERWRITTEN
 *   backward  dx (N, C, S) OVERWRITTEN: dy[n, o, s] at channel o*k + arg,
 *             zero at the others; it needs neither x nor y.
 *
 * _ref is plain loops, _cpu streams whole channel planes, _cuda one thread
 * per output (forward) or per input element (backward). */
#ifndef EKN_MAXOUT_H
#define EKN_MAXOUT_H
#include <stddef.h>
#include <stdint.h>

void ekn_maxout_forward_ref(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg);
void ekn_maxout_backward_ref(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx);
void ekn_maxout_forward_cpu(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg);
void ekn_maxout_backward_cpu(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx);

/* CUDA (kernels/maxout_cuda.cu, CUDA builds only): the same on device
 * memory; errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_maxout_forward_cuda(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg);
void ekn_maxout_backward_cuda(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx);
#endif
