// ekn_prelu_*_cuda (kernels/prelu.h).  forward and dx: one thread per
// element, the select of prelu_ref.c.  da: per channel, one block per
// channel adding its (example, position) elements in double, thread by
// thread in a fixed share, then a fixed tree; shared, ekn_reduce_blocks(m)
// blocks of partial sums over the whole tensor (ekn_reduce_partials as
// scratch), added by one block in a fixed order straight into da[0].  The
// grids depend only on the shape, so da repeats bit for bit; no atomics.
// da is reduced before dx is written, so dx may alias dy.
#include "cuda_check.h"
extern "C" {
#include "prelu.h"
}

namespace {

__device__ size_t slope_of(size_t k, int c, size_t s, int nslopes)
{
    return nslopes == 1 ? 0 : k / s % (size_t)c;
}

__global__ void prelu_forward(int c, size_t s, int nslopes, size_t total, const float *x, const float *a, float *y)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
        float v = x[k];
        y[k] = v > 0 ? v : a[slope_of(k, c, s, nslopes)] * v;
    }
}

__global__ void prelu_dx(int c, size_t s, int nslopes, size_t total, const float *x, const float *a,
                         const float *dy, float *dx)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
        float g = dy[k];
        dx[k] = x[k] > 0 ? g : a[slope_of(k, c, s, nslopes)] * g;
    }
}

__device__ double term(float x, float dy) { return x > 0 ? 0.0 : (double)x * dy; }

// per channel: block ch walks (example, position) as flat index t, t + THREADS, ...
__global__ void prelu_da_channel(int n, int c, size_t s, const float *x, const float *dy, float *da)
{
    const size_t C = (size_t)c, N = (size_t)n;
    const size_t q = EKN_CUDA_THREADS / s, r = EKN_CUDA_THREADS % s;
    for (size_t ch = blockIdx.x; ch < C; ch += gridDim.x) {
        double sum = 0, unused = 0;
        size_t o = threadIdx.x / s, i = threadIdx.x % s;
        while (o < N) {
            size_t at = (o * C + ch) * s + i;
            sum += term(x[at], dy[at]);
            i += r;
            o += q;
            if (i >= s) {
                i -= s;
                o++;
            }
        }
        ekn_block_sum2(sum, unused);
        if (threadIdx.x == 0) da[ch] = (float)(da[ch] + sum);
    }
}

// shared: partial sums of a fixed grid, then one block adds them
__global__ void prelu_da_partials(size_t total, const float *x, const float *dy, double *partials)
{
    double sum = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) sum += term(x[k], dy[k]);
    ekn_block_sum2_store(sum, 0.0, partials);
}

__global__ void prelu_da_finish(const double *partials, unsigned blocks, float *da)
{
    double sum = 0, unused = 0;
    for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) sum += partials[2 * b];
    ekn_block_sum2(sum, unused);
    if (threadIdx.x == 0) da[0] = (float)(da[0] + sum);
}

} // namespace

void ekn_prelu_forward_cuda(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y)
{
    size_t total = (size_t)(n > 0 ? n : 0) * (size_t)(c > 0 ? c : 0) * s;
    if (!total) return;
    prelu_forward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(c, s, nslopes, total, x, a, y);
    ekn_launch_ok("prelu_forward");
}

void ekn_prelu_backward_cuda(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                             float *dx, float *da)
{
    size_t total = (size_t)(n > 0 ? n : 0) * (size_t)(c > 0 ? c : 0) * s;
    if (!total) return;
    if (da && nslopes == 1) {
        double *partials = ekn_reduce_partials();
        if (!partials) return;
        unsigned blocks = ekn_reduce_blocks(total);
        prelu_da_partials<<<blocks, EKN_CUDA_THREADS>>>(total, x, dy, partials);
        if (!ekn_launch_ok("prelu_backward da partials")) return;
        prelu_da_finish<<<1, EKN_CUDA_THREADS>>>(partials, blocks, da);
        if (!ekn_launch_ok("prelu_backward da")) return;
    } else if (da) {
        prelu_da_channel<<<(unsigned)(c < 65535 ? c : 65535), EKN_CUDA_THREADS>>>(n, c, s, x, dy, da);
        if (!ekn_launch_ok("prelu_backward da")) return;
    }
    if (!dx) return;
    prelu_dx<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(c, s, nslopes, total, x, a, dy, dx);
    ekn_launch_ok("prelu_backward dx");
}
