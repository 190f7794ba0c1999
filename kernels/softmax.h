/* softmax over the channel axis.
 *
 * Layout (row-major, float32): x, p, dp, dx are (N, C, S), element
 * (n, c, s) at (n*C + c)*S + s.  S is the number of spatial voxels (1 for a
 * scalar output per example); each (n, s) gets its own distribution over C.
 *
 *   forward:  p[n,:,s] = exp(x - max) / sum exp(x - max).  Subtracting the
 *             per-voxel max keeps exp from overflowing and changes nothing
 *             mathematically.  p is overwritten and may alias x.
 *   backward: dx = p * (dp - sum_c p*dp), OVERWRITTEN (an input gradient).
 *             dx may alias dp.
 *
 * Most training pairs softmax with the NLL in loss.h, which produces the
 * gradient w.r.t. the logits directly; this backward serves the other uses.
 *
 * _ref sums in double, one voxel at a time.  _cpu sums in float; for S > 1
 * its inner loops run along s (contiguous) over blocks of voxels, for S == 1
 * along c. */
#ifndef EKN_SOFTMAX_H
#define EKN_SOFTMAX_H
#include <stddef.h>

void ekn_softmax_forward_ref(int n, int c, size_t s, const float *x, float *p);
void ekn_softmax_backward_ref(int n, int c, size_t s, const float *p, const float *dp,
                              float *dx);

void ekn_softmax_forward_cpu(int n, int c, size_t s, const float *x, float *p);
void ekn_softmax_backward_cpu(int n, int c, size_t s, const float *p, const float *dp,
                              float *dx);

/* CUDA (kernels/softmax_cuda.cu, CUDA builds only): the same on device memory;
 * errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_softmax_forward_cuda(int n, int c, size_t s, const float *x, float *p);
#endif
