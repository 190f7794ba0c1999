/* dropout_cuda: dropout and input noise on device memory
 * (kernels/dropout_cuda.cu, CUDA builds only).
 *
 * The random numbers are NOT drawn on the GPU: the host draws the dropout
 * mask (0 or 1/(1-rate) per element) and the standard normal noise with
 * lib/core/rng.h exactly as lib/nn/net.c does, copies them over, and these kernels
 * apply them, so a CUDA run sees the same masks as a CPU run of the same
 * seed.  Each result is one float operation, rounded as the C code rounds it
 * (no fused multiply-add), so it is bit-identical to the CPU's.  m is the
 * element count; all arrays are device memory.  Errors are recorded for
 * ekn_cuda_last_error (lib/core/ops.h). */
#ifndef EKN_DROPOUT_CUDA_H
#define EKN_DROPOUT_CUDA_H
#include <stddef.h>

/* forward: y[k] *= mask[k] */
void ekn_dropout_forward_cuda(size_t m, float *y, const float *mask);
/* backward: g[k] = dy[k] * mask[k] (g may alias dy) */
void ekn_dropout_backward_cuda(size_t m, const float *dy, const float *mask, float *g);
/* input noise: out[k] = x[k] + sigma * normal[k] (out may alias x) */
void ekn_input_noise_cuda(size_t m, const float *x, const float *normal, float sigma, float *out);
#endif
