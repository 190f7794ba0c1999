// The CUDA ops' shared machinery (cuda_check.h, cuda_common.h): the error
// slot behind ekn_cuda_take_error, the notes' log, the cuDNN and cuBLAS
// handles, the reduction scratch.
#include <stdarg.h>
#include <stdio.h>

#include "cuda_check.h"
extern "C" {
#include "cuda_common.h"
}

static int precision = EKN_PRECISION_FP32;

void ekn_cuda_set_precision(int p) { precision = p; }
int ekn_cuda_precision(void) { return precision; }

static char first_error[512];
static int have_error;

void ekn_cuda_record(const char *call, const char *why)
{
    if (have_error) return;
    have_error = 1;
    snprintf(first_error, sizeof first_error, "cuda: %s: %s", call, why);
}

bool ekn_cuda_ok(cudaError_t e, const char *call)
{
    if (e == cudaSuccess) return true;
    (void)cudaGetLastError(); // clear a non-sticky error so it is not reported twice
    ekn_cuda_record(call, cudaGetErrorString(e));
    return false;
}

bool ekn_cudnn_ok(cudnnStatus_t s, const char *call)
{
    if (s == CUDNN_STATUS_SUCCESS) return true;
    ekn_cuda_record(call, cudnnGetErrorString(s));
    return false;
}

bool ekn_cublas_ok(cublasStatus_t s, const char *call)
{
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    ekn_cuda_record(call, cublasGetStatusName(s));
    return false;
}

bool ekn_launch_ok(const char *kernel)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return true;
    char call[128];
    snprintf(call, sizeof call, "%s launch", kernel);
    ekn_cuda_record(call, cudaGetErrorString(e));
    return false;
}

int ekn_cuda_take_error(char *msg, size_t cap)
{
    // Wait for queued kernels so that a fault while one ran is caught here,
    // at the step that caused it, rather than at some later copy.
    ekn_cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    if (!have_error) return 0;
    have_error = 0;
    if (cap) snprintf(msg, cap, "%s", first_error);
    return -1;
}

static void (*log_sink)(const char *line);

void ekn_cuda_set_log(void (*log)(const char *line)) { log_sink = log; }

void ekn_cuda_log(const char *fmt, ...)
{
    if (!log_sink) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_sink(line);
}

cudnnHandle_t ekn_cudnn_handle(void)
{
    static cudnnHandle_t h;
    if (!h && !ekn_cudnn_ok(cudnnCreate(&h), "cudnnCreate")) h = NULL;
    return h;
}

cublasHandle_t ekn_cublas_handle(void)
{
    static cublasHandle_t h;
    if (!h) {
        if (!ekn_cublas_ok(cublasCreate(&h), "cublasCreate")) return h = NULL;
        // Plain FP32 (TF32 tensor cores would need an opt-in we never give):
        // the ops must agree with the CPU reference far better than TF32's 1e-3.
        ekn_cublas_ok(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    }
    return h;
}

unsigned ekn_cuda_blocks(size_t n)
{
    const size_t max_blocks = 65535; // enough to fill any GPU; the loops stride over the rest
    size_t b = (n + EKN_CUDA_THREADS - 1) / EKN_CUDA_THREADS;
    return (unsigned)(b < 1 ? 1 : b > max_blocks ? max_blocks : b);
}

unsigned ekn_reduce_blocks(size_t n)
{
    size_t b = (n + EKN_CUDA_THREADS - 1) / EKN_CUDA_THREADS;
    return (unsigned)(b < 1 ? 1 : b > (size_t)EKN_REDUCE_MAX_BLOCKS ? EKN_REDUCE_MAX_BLOCKS : b);
}

// partials[0 .. 2*EKN_REDUCE_MAX_BLOCKS) then the two results
static double *scratch;

double *ekn_reduce_partials(void)
{
    if (!scratch && !ekn_cuda_ok(cudaMalloc(&scratch, (2 * EKN_REDUCE_MAX_BLOCKS + 2) * sizeof(double)),
                                 "cudaMalloc (reduction scratch)"))
        scratch = NULL;
    return scratch;
}

__global__ void finish_kernel(const double *partials, unsigned blocks, double *out)
{
    double a = 0, b = 0;
    for (unsigned i = threadIdx.x; i < blocks; i += blockDim.x) {
        a += partials[2 * i];
        b += partials[2 * i + 1];
    }
    ekn_block_sum2(a, b);
    if (threadIdx.x == 0) {
        out[0] = a;
        out[1] = b;
    }
}

bool ekn_reduce_finish(unsigned blocks, double out[2], const char *what)
{
    out[0] = out[1] = 0;
    if (!scratch) return false;
    double *res = scratch + 2 * EKN_REDUCE_MAX_BLOCKS;
    finish_kernel<<<1, EKN_CUDA_THREADS>>>(scratch, blocks, res);
    if (!ekn_launch_ok(what)) return false;
    return ekn_cuda_ok(cudaMemcpy(out, res, 2 * sizeof(double), cudaMemcpyDeviceToHost),
                       "cudaMemcpy (reduction result)");
}

// C = alpha op(A) op(B) + beta C on float storage; the precision mode
// (ekn_cuda_precision) picks the compute: plain FP32 SGEMM, or tensor cores
// with the inputs rounded to TF32 and FP32 accumulation.
bool ekn_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float *alpha,
              const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc,
              const char *what)
{
    int p = ekn_cuda_precision();
    if (p == EKN_PRECISION_FP32)
        return ekn_cublas_ok(cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), what);
    return ekn_cublas_ok(cublasGemmEx(h, ta, tb, m, n, k, alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, beta, c,
                                      CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
                         what);
}

