// The device updates of kernels/optim_cuda.h.  Each kernel body is its CPU
// loop (lib/nn/optim_sgd.c, optim_rprop.c, optim_adam.c) with every float
// product and sum written as __fmul_rn/__fadd_rn/__fsub_rn: nvcc would fuse
// a*b+c into one FMA, the C build (no -ffp-contract) does not, and RPROP's
// sign tests make such differences visible.
#include <math.h>

#include "cuda_check.h"
extern "C" {
#include "optim_cuda.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// wd * decay[i] * theta[i], left to right as in C
__device__ float decay_term(float wd, float d, float th) { return __fmul_rn(__fmul_rn(wd, d), th); }

__global__ void sgd_kernel(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr,
                           float mu, float wd, int nesterov)
{
    GRID_STRIDE(i, n)
    {
        float vi = __fadd_rn(grad[i], __fmul_rn(mu, v[i]));
        v[i] = vi;
        float dir = nesterov ? __fadd_rn(grad[i], __fmul_rn(mu, vi)) : vi;
        theta[i] = __fsub_rn(theta[i], __fmul_rn(lr, __fadd_rn(dir, decay_term(wd, decay[i], theta[i]))));
    }
}

__global__ void rprop_kernel(size_t n, float *theta, const float *grad, float *prev, float *step,
                             const float *decay, float wd, float up, float down, float lo, float hi, float first,
                             double *partials)
{
    double sum = 0;
    GRID_STRIDE(i, n)
    {
        float g = __fadd_rn(grad[i], decay_term(wd, decay[i], theta[i]));
        float d = step[i] > 0 ? step[i] : first;
        float s = __fmul_rn(prev[i], g);
        if (s > 0) d = fminf(__fmul_rn(d, up), hi);
        else if (s < 0) {
            d = fmaxf(__fmul_rn(d, down), lo);
            g = 0;
        }
        if (g > 0) theta[i] = __fsub_rn(theta[i], d);
        else if (g < 0) theta[i] = __fadd_rn(theta[i], d);
        prev[i] = g;
        step[i] = d;
        sum += d;
    }
    if (partials) ekn_block_sum2_store(sum, 0, partials);
}

__global__ void adam_kernel(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay,
                            float lr, float wd, float b1, float b2, float eps, float c1, float c2, int decoupled)
{
    GRID_STRIDE(i, n)
    {
        float wdi = decay_term(wd, decay[i], theta[i]);
        float g = decoupled ? grad[i] : __fadd_rn(grad[i], wdi);
        float mi = __fadd_rn(__fmul_rn(b1, m[i]), __fmul_rn(__fsub_rn(1, b1), g));
        float vi = __fadd_rn(__fmul_rn(b2, v[i]), __fmul_rn(__fmul_rn(__fsub_rn(1, b2), g), g));
        m[i] = mi;
        v[i] = vi;
        float upd = __fdiv_rn(__fmul_rn(mi, c1), __fadd_rn(__fsqrt_rn(__fmul_rn(vi, c2)), eps));
        theta[i] = __fsub_rn(theta[i], __fmul_rn(lr, decoupled ? __fadd_rn(upd, wdi) : upd));
    }
}

__global__ void dot_kernel(size_t n, const float *a, const float *b, double *partials)
{
    double sum = 0;
    GRID_STRIDE(i, n) sum += (double)a[i] * b[i];
    ekn_block_sum2_store(sum, 0, partials);
}

} // namespace

void ekn_sgd_update_cuda(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr,
                         float mu, float wd, int nesterov)
{
    if (!n) return;
    sgd_kernel<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>(n, theta, grad, v, decay, lr, mu, wd, nesterov);
    ekn_launch_ok(nesterov ? "nesterov update" : "sgd update");
}

void ekn_rprop_update_cuda(size_t n, float *theta, const float *grad, float *prev, float *step,
                           const float *decay, float wd, double eta_plus, double eta_minus, double delta_min,
                           double delta_max, double delta0, double *mean_step)
{
    if (mean_step) *mean_step = NAN;
    if (!n) return;
    const float up = (float)eta_plus, down = (float)eta_minus, lo = (float)delta_min, hi = (float)delta_max;
    const float first = fminf(fmaxf((float)delta0, lo), hi);
    double *partials = mean_step ? ekn_reduce_partials() : NULL;
    if (mean_step && !partials) return;
    // with a mean to compute, the reduction's grid; otherwise the element-wise one
    unsigned blocks = partials ? ekn_reduce_blocks(n) : ekn_cuda_blocks(n);
    rprop_kernel<<<blocks, EKN_CUDA_THREADS>>>(n, theta, grad, prev, step, decay, wd, up, down, lo, hi, first,
                                               partials);
    if (!ekn_launch_ok("rprop update") || !partials) return;
    double sum[2];
    if (ekn_reduce_finish(blocks, sum, "rprop mean step")) *mean_step = sum[0] / (double)n;
}

void ekn_adam_update_cuda(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay,
                          float lr, float wd, double beta1, double beta2, double eps, double t, int decoupled)
{
    if (!n) return;
    const float c1 = (float)(1.0 / (1.0 - pow(beta1, t))), c2 = (float)(1.0 / (1.0 - pow(beta2, t)));
    adam_kernel<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>(n, theta, grad, m, v, decay, lr, wd, (float)beta1,
                                                          (float)beta2, (float)eps, c1, c2, decoupled);
    ekn_launch_ok(decoupled ? "adamw update" : "adam update");
}

double ekn_dot_cuda(size_t n, const float *a, const float *b)
{
    double *partials = ekn_reduce_partials();
    if (!partials || !n) return 0;
    unsigned blocks = ekn_reduce_blocks(n);
    double sum[2];
    dot_kernel<<<blocks, EKN_CUDA_THREADS>>>(n, a, b, partials);
    if (!ekn_launch_ok("dot") || !ekn_reduce_finish(blocks, sum, "dot sum")) return 0;
    return sum[0];
}

void ekn_axpy_cuda(size_t n, float alpha, const float *x, float *y)
{
    cublasHandle_t h = ekn_cublas_handle();
    if (!h || !n) return;
    ekn_cublas_ok(cublasSaxpy_64(h, (int64_t)n, &alpha, x, 1, y, 1), "cublasSaxpy_64");
}
