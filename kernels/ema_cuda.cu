// ekn_ema_update_cuda (kernels/ema.h): one element per thread in a grid-stride
// loop, each product and the sum rounded separately (__fmul_rn, __fadd_rn)
// as ema_cpu.c rounds them, so the two agree bit for bit.
#include "cuda_check.h"
extern "C" {
#include "ema.h"
}

namespace {

__global__ void ema_step(size_t n, float d, float w, const float *x, float *avg)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        avg[i] = __fadd_rn(__fmul_rn(d, avg[i]), __fmul_rn(w, x[i]));
}

} // namespace

void ekn_ema_update_cuda(size_t n, float decay, const float *x, float *avg)
{
    if (!n) return;
    ema_step<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>(n, decay, 1.0f - decay, x, avg);
    ekn_launch_ok("ema_update");
}
