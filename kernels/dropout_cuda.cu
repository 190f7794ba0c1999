// The kernels of kernels/dropout_cuda.h: one element per thread, each the
// C expression of lib/nn/net.c with the same rounding.
#include "cuda_check.h"
extern "C" {
#include "dropout_cuda.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

__global__ void scale_by_mask(size_t m, const float *in, const float *mask, float *out)
{
    GRID_STRIDE(k, m) out[k] = __fmul_rn(in[k], mask[k]);
}

__global__ void add_scaled_noise(size_t m, const float *x, const float *normal, float sigma, float *out)
{
    GRID_STRIDE(k, m) out[k] = __fadd_rn(x[k], __fmul_rn(sigma, normal[k]));
}

} // namespace

void ekn_dropout_forward_cuda(size_t m, float *y, const float *mask)
{
    if (!m) return;
    scale_by_mask<<<ekn_cuda_blocks(m), EKN_CUDA_THREADS>>>(m, y, mask, y);
    ekn_launch_ok("dropout_forward");
}

void ekn_dropout_backward_cuda(size_t m, const float *dy, const float *mask, float *g)
{
    if (!m) return;
    scale_by_mask<<<ekn_cuda_blocks(m), EKN_CUDA_THREADS>>>(m, dy, mask, g);
    ekn_launch_ok("dropout_backward");
}

void ekn_input_noise_cuda(size_t m, const float *x, const float *normal, float sigma, float *out)
{
    if (!m) return;
    add_scaled_noise<<<ekn_cuda_blocks(m), EKN_CUDA_THREADS>>>(m, x, normal, sigma, out);
    ekn_launch_ok("input_noise");
}
