// cuda_check: what every kernels/*_cuda.cu file shares (C++ only; the C
// side is cuda_common.h).
//
// The _cuda kernels return void, so a failing CUDA, cuBLAS or cuDNN call
// cannot report through its caller.  Instead the first failure since the
// last ekn_cuda_take_error() is kept in one process-wide slot, with a
// message naming the call ("cuda: cudnnConvolutionForward:
// CUDNN_STATUS_BAD_PARAM"); later failures are dropped, because the first
// is the cause and the rest its echoes.  The checks return false on failure
// so an op can stop early.
//
// Handles and the reduction scratch are created on first use, for the
// device current at that moment, and live until exit.  Like the rest of the
// CUDA path they assume one host thread drives the GPU.
#ifndef EKN_CUDA_CHECK_H
#define EKN_CUDA_CHECK_H
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stddef.h>

void ekn_cuda_record(const char *call, const char *why);
bool ekn_cuda_ok(cudaError_t e, const char *call);
bool ekn_cudnn_ok(cudnnStatus_t s, const char *call);
bool ekn_cublas_ok(cublasStatus_t s, const char *call);
// After a <<<>>> launch: a bad configuration shows here; a fault while the
// kernel runs shows at the next synchronising call.
bool ekn_launch_ok(const char *kernel);

// The compute precision of convolutions and matrix products
// (ekn_cuda_set_precision, cuda_common.h); storage is always FP32.
int ekn_cuda_precision(void);

// A note for the log of ekn_cuda_set_log (cuda_common.h), printf-style,
// one line; nothing when no log is set.
void ekn_cuda_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// C = alpha op(A) op(B) + beta C (cuBLAS, column-major, float storage) in
// the current precision: SGEMM at FP32, tensor cores at TF32.
bool ekn_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
              const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc,
              const char *what);

cudnnHandle_t ekn_cudnn_handle(void);   // NULL after a recorded failure
cublasHandle_t ekn_cublas_handle(void); // NULL after a recorded failure

// Element-wise kernels: THREADS per block, at most MAX_BLOCKS blocks, a
// grid-stride loop over the rest.  Callers launch nothing for n == 0 (a
// zero-block grid is a launch error).
const int EKN_CUDA_THREADS = 256;
unsigned ekn_cuda_blocks(size_t n);

// Deterministic sums in double.  A kernel launched with ekn_reduce_blocks(n)
// blocks of EKN_CUDA_THREADS threads lets every thread add into (a, b) and
// ends with ekn_block_sum2_store(a, b, ekn_reduce_partials()); then
// ekn_reduce_finish(blocks, out) adds the partials in a fixed order and
// copies the two sums to the host.  The grid depends only on n, so the
// result is the same from run to run (no atomics).
const int EKN_REDUCE_MAX_BLOCKS = 1024;
unsigned ekn_reduce_blocks(size_t n);
double *ekn_reduce_partials(void); // device, 2 * EKN_REDUCE_MAX_BLOCKS doubles; NULL after a failure
bool ekn_reduce_finish(unsigned blocks, double out[2], const char *what);

// Sum of (a, b) over the block, valid in thread 0 only.  blockDim.x must be
// EKN_CUDA_THREADS.  Safe to call more than once per kernel.
__device__ inline void ekn_block_sum2(double &a, double &b)
{
    __shared__ double sa[EKN_CUDA_THREADS], sb[EKN_CUDA_THREADS];
    unsigned t = threadIdx.x;
    __syncthreads(); // an earlier call's readers are done with the arrays
    sa[t] = a;
    sb[t] = b;
    __syncthreads();
    for (unsigned h = EKN_CUDA_THREADS / 2; h > 0; h >>= 1) {
        if (t < h) {
            sa[t] += sa[t + h];
            sb[t] += sb[t + h];
        }
        __syncthreads();
    }
    a = sa[0];
    b = sb[0];
}

__device__ inline void ekn_block_sum2_store(double a, double b, double *partials)
{
    ekn_block_sum2(a, b);
    if (threadIdx.x == 0) {
        partials[2 * blockIdx.x] = a;
        partials[2 * blockIdx.x + 1] = b;
    }
}
#endif
