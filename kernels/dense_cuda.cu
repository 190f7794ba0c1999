// ekn_dense_*_cuda (kernels/dense.h): cuBLAS SGEMM on the row-major layouts
// of dense_ref.c.  cuBLAS is column-major, and a row-major (r, c) matrix is
// its column-major (c, r) transpose, so with x (N,In), w (Out,In), y (N,Out):
//   y^T  = W x^T       sgemm(T, N, Out, N, In,  w, x)
//   dx^T = W^T dy^T    sgemm(N, N, In,  N, Out, w, dy)
//   dw^T += x^T dy     sgemm(N, T, In,  Out, N, x, dy), beta = 1
// and for the tied layer, x (N,Out), w (Out,In) the encoder's, y (N,In):
//   y^T  = W^T x^T     sgemm(N, N, In,  N, Out, w, x)
//   dx^T = W dy^T      sgemm(T, N, Out, N, In,  w, dy)
//   dw^T += dy^T x     sgemm(N, T, In,  Out, N, dy, x), beta = 1
// The bias and its gradient are own kernels (db sums in double, as _ref).
#include "cuda_check.h"
extern "C" {
#include "dense.h"
}

namespace {

__global__ void add_bias_rows(float *y, const float *b, int out, size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) y[i] += b[i % out];
}

// db[o] += sum_i dy[i, o]: one thread per column, the rows in order
__global__ void column_sums(const float *dy, float *db, int n, int out)
{
    int o = blockIdx.x * blockDim.x + threadIdx.x;
    if (o >= out) return;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += dy[(size_t)i * out + o];
    db[o] += (float)acc;
}

} // namespace

void ekn_dense_forward_cuda(int n, int in, int out, const float *x, const float *w, const float *b, float *y)
{
    cublasHandle_t h = ekn_cublas_handle();
    const float one = 1, zero = 0;
    if (!h || n <= 0 || out <= 0 ||
        !ekn_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x, in, &zero, y, out, "cublas gemm (dense forward)") ||
        !b)
        return;
    size_t total = (size_t)n * out;
    add_bias_rows<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(y, b, out, total);
    ekn_launch_ok("dense add_bias_rows");
}

void ekn_dense_backward_cuda(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db)
{
    cublasHandle_t h = ekn_cublas_handle();
    const float one = 1, zero = 0;
    if (!h || n <= 0 || out <= 0 || in <= 0) return;
    if (dx && !ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy, out, &zero, dx, in,
                    "cublas gemm (dense backward, dx)"))
        return;
    if (!ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out, &one, dw, in,
              "cublas gemm (dense backward, dw)") ||
        !db)
        return;
    column_sums<<<(out + EKN_CUDA_THREADS - 1) / EKN_CUDA_THREADS, EKN_CUDA_THREADS>>>(dy, db, n, out);
    ekn_launch_ok("dense column_sums");
}

void ekn_dense_t_forward_cuda(int n, int in, int out, const float *x, const float *w, const float *b, float *y)
{
    cublasHandle_t h = ekn_cublas_handle();
    const float one = 1, zero = 0;
    if (!h || n <= 0 || in <= 0) return;
    size_t total = (size_t)n * in;
    if (out <= 0) { /* no terms: y = b (Out = 0 would make ldb = 0, which cuBLAS rejects) */
        if (!ekn_cuda_ok(cudaMemset(y, 0, total * sizeof *y), "cudaMemset (dense_t forward)")) return;
    } else if (!ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, x, out, &zero, y, in,
                         "cublas gemm (dense_t forward)"))
        return;
    if (!b) return;
    add_bias_rows<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(y, b, in, total);
    ekn_launch_ok("dense_t add_bias_rows");
}

void ekn_dense_t_backward_cuda(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,
                               float *dw, float *db)
{
    cublasHandle_t h = ekn_cublas_handle();
    const float one = 1, zero = 0;
    if (!h || n <= 0 || out <= 0) return;
    if (in <= 0) { /* no terms: dx is an empty sum, dw and db unchanged */
        if (dx) ekn_cuda_ok(cudaMemset(dx, 0, (size_t)n * out * sizeof *dx), "cudaMemset (dense_t backward)");
        return;
    }
    if (dx && !ekn_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, dy, in, &zero, dx, out,
                        "cublas gemm (dense_t backward, dx)"))
        return;
    if (!ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, dy, in, x, out, &one, dw, in,
                  "cublas gemm (dense_t backward, dw)") ||
        !db)
        return;
    column_sums<<<(in + EKN_CUDA_THREADS - 1) / EKN_CUDA_THREADS, EKN_CUDA_THREADS>>>(dy, db, n, in);
    ekn_launch_ok("dense_t column_sums");
}
