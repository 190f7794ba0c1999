// ekn_maxout_*_cuda (kernels/maxout.h).  Forward: one thread per output,
// scanning its k channels in order with a strict >, as maxout_ref.c (so
// ties, NaNs and arg agree exactly).  Backward: one thread per input
// element, writing dy or 0: dx needs no clearing and no atomics.
#include "cuda_check.h"
extern "C" {
#include "maxout.h"
}

namespace {

__global__ void maxout_forward(size_t s, int k, size_t total, const float *x, float *y, int32_t *arg)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        size_t g = o / s, j = o % s; // g = n*(C/k) + output channel
        const float *xp = x + g * (size_t)k * s + j;
        float best = xp[0];
        int32_t a = 0;
        for (int q = 1; q < k; q++) {
            float v = xp[(size_t)q * s];
            if (v > best) {
                best = v;
                a = q;
            }
        }
        y[o] = best;
        arg[o] = a;
    }
}

__global__ void maxout_backward(size_t s, int k, size_t total, const float *dy, const int32_t *arg, float *dx)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        size_t plane = e / s, j = e % s; // plane = n*C + channel
        size_t g = plane / (size_t)k;
        int q = (int)(plane % (size_t)k);
        size_t o = g * s + j;
        dx[e] = arg[o] == q ? dy[o] : 0.0f;
    }
}

size_t count(int n, int c, size_t s) { return n > 0 && c > 0 ? (size_t)n * (size_t)c * s : 0; }

} // namespace

void ekn_maxout_forward_cuda(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg)
{
    size_t total = k > 0 ? count(n, c / k, s) : 0;
    if (!total) return;
    maxout_forward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(s, k, total, x, y, arg);
    ekn_launch_ok("maxout_forward");
}

void ekn_maxout_backward_cuda(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx)
{
    size_t total = k > 0 ? count(n, c, s) : 0;
    if (!total) return;
    maxout_backward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(s, k, total, dy, arg, dx);
    ekn_launch_ok("maxout_backward");
}
