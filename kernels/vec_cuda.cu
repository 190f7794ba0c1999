// ekn_vec_cuda (kernels/vec.h): the optimisers' vector operations on device
// memory.  The updates of sgd, rprop and adam and the dot product are those
// of kernels/optim_cuda.cu; the rest are here.  As there, every float
// product and sum is written as __fmul_rn/__fadd_rn/__fsub_rn (nvcc would
// fuse a*b+c, the C build does not), and the double terms of the reductions
// as __dmul_rn/__dadd_rn, so each term is rounded as ekn_vec_cpu rounds it
// and only the order of the sum differs (fixed by the grid, kernels/cuda/cuda_check.h).
#include <math.h>

#include "cuda_check.h"
extern "C" {
#include "optim_cuda.h"
#include "vec.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

__global__ void axpy_kernel(size_t n, float alpha, const float *x, float *y)
{
    GRID_STRIDE(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
}

__global__ void scale_kernel(size_t n, float *x, float a)
{
    GRID_STRIDE(i, n) x[i] = __fmul_rn(x[i], a);
}

__global__ void neg_kernel(size_t n, float *dst, const float *src)
{
    GRID_STRIDE(i, n) dst[i] = -src[i];
}

__global__ void lincomb_kernel(size_t n, float *dst, const float *x0, float t, const float *dir)
{
    GRID_STRIDE(i, n) dst[i] = __fadd_rn(x0[i], __fmul_rn(t, dir[i]));
}

__global__ void cg_direction_kernel(size_t n, float *dir, const float *g, float beta)
{
    GRID_STRIDE(i, n) dir[i] = __fadd_rn(-g[i], __fmul_rn(beta, dir[i]));
}

__global__ void decay_penalty_kernel(size_t n, const float *theta, float *grad, const float *decay, float lam,
                                     double *partials)
{
    double pen = 0;
    GRID_STRIDE(i, n)
    {
        float ld = __fmul_rn(lam, decay[i]), th = theta[i];
        pen = __dadd_rn(pen, __dmul_rn(__dmul_rn((double)ld, (double)th), (double)th));
        grad[i] = __fadd_rn(grad[i], __fmul_rn(ld, th));
    }
    ekn_block_sum2_store(pen, 0, partials);
}

__global__ void pr_numerator_kernel(size_t n, const float *g, const float *gp, double *partials)
{
    double num = 0;
    GRID_STRIDE(i, n)
    {
        double gi = g[i];
        num = __dadd_rn(num, __dmul_rn(gi, __dsub_rn(gi, (double)gp[i])));
    }
    ekn_block_sum2_store(num, 0, partials);
}

__global__ void lbfgs_pair_kernel(size_t n, float *s, float *y, const float *theta, const float *x0, const float *g,
                                  const float *g0, double *partials)
{
    double ys = 0, yy = 0;
    GRID_STRIDE(i, n)
    {
        float si = __fsub_rn(theta[i], x0[i]), yi = __fsub_rn(g[i], g0[i]);
        s[i] = si;
        y[i] = yi;
        ys = __dadd_rn(ys, __dmul_rn((double)yi, (double)si));
        yy = __dadd_rn(yy, __dmul_rn((double)yi, (double)yi));
    }
    ekn_block_sum2_store(ys, yy, partials);
}

// Element-wise launches: nothing for n = 0 (a zero-block grid is an error).
#define LAUNCH(kernel, what, n, ...)                                                                               \
    do {                                                                                                           \
        if (!(n)) return;                                                                                          \
        kernel<<<ekn_cuda_blocks(n), EKN_CUDA_THREADS>>>((n), __VA_ARGS__);                                        \
        ekn_launch_ok(what);                                                                                       \
    } while (0)

void axpy(size_t n, float alpha, const float *x, float *y) { LAUNCH(axpy_kernel, "vec axpy", n, alpha, x, y); }
void scale(size_t n, float *x, float a) { LAUNCH(scale_kernel, "vec scale", n, x, a); }
void neg(size_t n, float *dst, const float *src) { LAUNCH(neg_kernel, "vec neg", n, dst, src); }

void lincomb(size_t n, float *dst, const float *x0, float t, const float *dir)
{
    LAUNCH(lincomb_kernel, "vec lincomb", n, dst, x0, t, dir);
}

void cg_direction(size_t n, float *dir, const float *g, float beta)
{
    LAUNCH(cg_direction_kernel, "cg direction", n, dir, g, beta);
}

// A reduction: the partials and the grid, or false (error recorded, out zeroed).
bool reduce_start(size_t n, double **partials, unsigned *blocks)
{
    *partials = n ? ekn_reduce_partials() : NULL;
    *blocks = ekn_reduce_blocks(n);
    return *partials != NULL;
}

double decay_penalty(size_t n, const float *theta, float *grad, const float *decay, float lam)
{
    double *partials, sum[2];
    unsigned blocks;
    if (!reduce_start(n, &partials, &blocks)) return 0;
    decay_penalty_kernel<<<blocks, EKN_CUDA_THREADS>>>(n, theta, grad, decay, lam, partials);
    if (!ekn_launch_ok("decay penalty") || !ekn_reduce_finish(blocks, sum, "decay penalty sum")) return 0;
    return sum[0];
}

double pr_numerator(size_t n, const float *g, const float *gp)
{
    double *partials, sum[2];
    unsigned blocks;
    if (!reduce_start(n, &partials, &blocks)) return 0;
    pr_numerator_kernel<<<blocks, EKN_CUDA_THREADS>>>(n, g, gp, partials);
    if (!ekn_launch_ok("cg numerator") || !ekn_reduce_finish(blocks, sum, "cg numerator sum")) return 0;
    return sum[0];
}

void lbfgs_pair(size_t n, float *s, float *y, const float *theta, const float *x0, const float *g, const float *g0,
                double ys_yy[2])
{
    double *partials;
    unsigned blocks;
    ys_yy[0] = ys_yy[1] = 0;
    if (!reduce_start(n, &partials, &blocks)) return;
    lbfgs_pair_kernel<<<blocks, EKN_CUDA_THREADS>>>(n, s, y, theta, x0, g, g0, partials);
    if (ekn_launch_ok("lbfgs pair")) ekn_reduce_finish(blocks, ys_yy, "lbfgs pair sums");
}

} // namespace

extern "C" const ekn_vec_ops ekn_vec_cuda = {
    "cuda",
    ekn_dot_cuda,
    axpy,
    scale,
    neg,
    lincomb,
    decay_penalty,
    ekn_sgd_update_cuda,
    ekn_rprop_update_cuda,
    ekn_adam_update_cuda,
    pr_numerator,
    cg_direction,
    lbfgs_pair,
};
