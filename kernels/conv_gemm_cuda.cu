// kernels/conv_gemm.h on the GPU: im2col (zeros for the padding), then one
// cuBLAS product per example.
#include "cuda_check.h"
extern "C" {
#include "conv_gemm.h"
}

namespace {

__global__ void im2col(ekn_conv_geom g, const float *x, float *col, size_t O, size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t s = ekn_im2col_source(&g, i / O, i % O);
        col[i] = s == EKN_IM2COL_PAD ? 0.0f : x[s];
    }
}

} // namespace

bool ekn_conv_wgrad_gemm_cuda(const ekn_conv_geom *g, const float *x, const float *dy, float *dw, float *work)
{
    cublasHandle_t h = ekn_cublas_handle();
    if (!h) return false;
    size_t O = (size_t)g->out[0] * g->out[1] * g->out[2];
    size_t K = (size_t)g->cin * g->k[0] * g->k[1] * g->k[2];
    size_t in_ex = (size_t)g->cin * g->in[0] * g->in[1] * g->in[2], out_ex = (size_t)g->cout * O;
    const float one = 1;
    for (int b = 0; b < g->n; b++) {
        im2col<<<ekn_cuda_blocks(K * O), EKN_CUDA_THREADS>>>(*g, x + b * in_ex, work, O, K * O);
        if (!ekn_launch_ok("conv im2col") ||
            !ekn_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)K, g->cout, (int)O, &one, work, (int)O, dy + b * out_ex,
                      (int)O, &one, dw, (int)K, "cublas gemm (conv weight gradient)"))
            return false;
    }
    return true;
}
