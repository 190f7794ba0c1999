// ekn_act_*_cuda (kernels/act.h): act_ref.c's formulas element by element.
// The products and sums of the derivatives are spelled with __fmul_rn and
// __fadd_rn/__fsub_rn so that nvcc does not fuse them into FMAs: 1 - y*y
// near y = 1 is a cancellation, and there the fused form would differ from
// the C code's separately rounded one by far more than an ulp.
#include "cuda_check.h"
extern "C" {
#include "act.h"
}

namespace {

__device__ float act_f(ekn_act a, float alpha, float x)
{
    switch (a) {
    case EKN_ACT_LINEAR: return x;
    case EKN_ACT_RELU: return x > 0 ? x : 0.0f;
    case EKN_ACT_LEAKY: return x > 0 ? x : alpha * x;
    case EKN_ACT_TANH: return tanhf(x);
    case EKN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case EKN_ACT_ABS: return fabsf(x);
    case EKN_ACT_ELU: return x > 0 ? x : __fmul_rn(alpha, expm1f(x));
    case EKN_ACT_SILU: return __fdiv_rn(x, __fadd_rn(1.0f, expf(-x)));
    case EKN_ACT_SOFTPLUS: return __fadd_rn(fmaxf(x, 0.0f), log1pf(expf(-fabsf(x))));
    }
    return x;
}

__device__ float act_df(ekn_act a, float alpha, float x, float y)
{
    switch (a) {
    case EKN_ACT_LINEAR: return 1.0f;
    case EKN_ACT_RELU: return x > 0 ? 1.0f : 0.0f;
    case EKN_ACT_LEAKY: return x > 0 ? 1.0f : alpha;
    case EKN_ACT_TANH: return __fsub_rn(1.0f, __fmul_rn(y, y));
    case EKN_ACT_SIGMOID: return __fmul_rn(y, __fsub_rn(1.0f, y));
    case EKN_ACT_ABS: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case EKN_ACT_ELU: return x > 0 ? 1.0f : __fmul_rn(alpha, expf(x));
    case EKN_ACT_SILU: {
        float s = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x)));
        return __fmul_rn(s, __fadd_rn(1.0f, __fmul_rn(x, __fsub_rn(1.0f, s))));
    }
    case EKN_ACT_SOFTPLUS: return __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-x)));
    }
    return 1.0f;
}

__global__ void act_forward(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = act_f(a, alpha, x[i]);
}

__global__ void act_backward(ekn_act a, float alpha, size_t n, const float *x, const float *y, const float *dy,
                             float *dx)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dx[i] = __fmul_rn(act_df(a, alpha, x[i], y[i]), dy[i]);
}

} // namespace

void ekn_act_forward_cuda(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    if (!n) return;
    act_forward<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>(a, alpha, n, x, y);
    ekn_launch_ok("act_forward");
}

void ekn_act_backward_cuda(ekn_act a, float alpha, size_t n, const float *x, const float *y, const float *dy,
                           float *dx)
{
    if (!n) return;
    act_backward<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>(a, alpha, n, x, y, dy, dx);
    ekn_launch_ok("act_backward");
}
