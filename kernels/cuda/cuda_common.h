/* cuda_common: the C side of the CUDA runtime shared by every _cuda kernel
 * (kernels/cuda/cuda_common.cu; the C++ side is cuda_check.h).  lib/core
 * binds it to the ops table (lib/core/ops_cuda.c) and re-exports it through
 * lib/core/ops.h; in builds without CUDA lib/core/cuda_none.c stands in.
 *
 * Errors: the _cuda kernels return no error.  The first failing CUDA,
 * cuBLAS or cuDNN call since the last ekn_cuda_take_error is recorded, with
 * a message naming the call ("cuda: cudnnConvolutionForward:
 * CUDNN_STATUS_BAD_PARAM"); later failures are dropped (the first is the
 * cause, the rest its echoes).  One host thread drives the GPU: the record,
 * the handles and the settings below are process-wide and unlocked. */
#ifndef EKN_CUDA_COMMON_H
#define EKN_CUDA_COMMON_H
#include <stddef.h>

/* Waits for the queued work (a fault while a kernel ran is caught here),
 * then returns 0 when nothing failed, or -1 with the recorded message
 * copied into msg (cap bytes) and the record cleared. */
int ekn_cuda_take_error(char *msg, size_t cap);

/* Where notes of the CUDA code go (one line each, no newline: the conv
 * plans it makes and what cuDNN measured for them); NULL, the default,
 * drops them.  lib/core/ops_cuda.c sends them to ekn_info (shown with -v). */
void ekn_cuda_set_log(void (*log)(const char *line));

/* The compute precision of the convolutions (cuDNN) and matrix products
 * (cuBLAS); tensors, parameters and optimiser state stay FP32 (the master
 * weights), and so do the other kernels:
 *   FP32  plain FP32 arithmetic (the default; agrees with the CPU to 1e-4)
 *   TF32  tensor cores, inputs rounded to TF32 (10-bit mantissa), FP32 sums
 * (An FP16 mode through cuDNN's and cuBLAS's down-conversion permissions
 * was tried on an H200: with FP32 tensors both libraries chose the same
 * TF32 kernels, bit for bit, so it was dropped; true FP16/BF16 compute
 * needs half-precision activations.)
 * Set it before the first op: convolution plans keep the precision they
 * were made with.  A no-op in builds without CUDA. */
enum { EKN_PRECISION_FP32, EKN_PRECISION_TF32 };
void ekn_cuda_set_precision(int precision);

/* on = 1 (the default): the CUDA conv uses deterministic algorithms only, so
 * a run repeats bit for bit.  on = 0 also admits cuDNN's non-deterministic
 * ones (atomics in the backward passes: faster for some shapes, results
 * that vary in the last bits); still no FFT or Winograd.  It applies to
 * conv plans made afterwards, so call it before building the net.  A no-op
 * in builds without CUDA.  (kernels/conv_cuda.cu) */
void ekn_cuda_set_deterministic(int on);
/* How new convolution plans compute the weight gradient: AUTO times cuDNN's
 * choice against im2col + GEMM (kernels/conv_gemm.h) and keeps the faster;
 * GEMM and CUDNN force one (GEMM where its workspace fits), for tests.
 * (kernels/conv_cuda.cu) */
enum { EKN_CONV_WGRAD_AUTO, EKN_CONV_WGRAD_GEMM, EKN_CONV_WGRAD_CUDNN };
void ekn_cuda_conv_wgrad(int mode);
#endif
