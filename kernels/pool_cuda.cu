// ekn_maxpool_*_cuda (kernels/pool.h): one thread per output, scanning its
// window in the reference's order (z, then y, then x) and replacing only on
// a strict increase (of x, or of |x| in maxabs mode), so ties, NaNs and the
// int32 argmax are exactly ekn_maxpool_forward_ref's.  Backward clears dx
// and adds each dy at its argmax; windows do not overlap, so no element
// receives two adds and the atomicAdd (there only for an arbitrary arg)
// changes no bit.
#include "cuda_check.h"
extern "C" {
#include "pool.h"
}

namespace {

__global__ void pool_forward(ekn_pool_geom g, const float *x, float *y, int32_t *arg, size_t total)
{
    const int Y = g.in[1], X = g.in[2], OY = g.out[1], OX = g.out[2];
    const size_t plane = (size_t)g.in[0] * Y * X, oplane = (size_t)g.out[0] * OY * OX;
    const bool maxabs = g.mode == EKN_POOL_MAXABS;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride) {
        size_t nc = o / oplane, r = o % oplane;
        int oz = (int)(r / ((size_t)OY * OX)), oy = (int)(r / OX % OY), ox = (int)(r % OX);
        const float *xp = x + nc * plane;
        int32_t best = (int32_t)(((size_t)oz * g.p[0] * Y + (size_t)oy * g.p[1]) * X + (size_t)ox * g.p[2]);
        for (int dz = 0; dz < g.p[0]; dz++)
            for (int dy = 0; dy < g.p[1]; dy++)
                for (int dx = 0; dx < g.p[2]; dx++) {
                    int iz = oz * g.p[0] + dz, iy = oy * g.p[1] + dy, ix = ox * g.p[2] + dx;
                    int32_t i = (int32_t)(((size_t)iz * Y + iy) * X + ix);
                    if (maxabs ? fabsf(xp[i]) > fabsf(xp[best]) : xp[i] > xp[best]) best = i;
                }
        y[o] = xp[best];
        arg[o] = best;
    }
}

__global__ void pool_backward(const float *dy, const int32_t *arg, float *dx, size_t plane, size_t oplane,
                              size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += stride)
        atomicAdd(&dx[o / oplane * plane + arg[o]], dy[o]);
}

size_t volume(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

} // namespace

void ekn_maxpool_forward_cuda(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg)
{
    size_t total = (size_t)g->n * g->c * volume(g->out);
    if (!total) return;
    pool_forward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, x, y, arg, total);
    ekn_launch_ok("maxpool_forward");
}

void ekn_maxpool_backward_cuda(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx)
{
    size_t plane = volume(g->in), oplane = volume(g->out), total = (size_t)g->n * g->c * oplane;
    if (!ekn_cuda_ok(cudaMemsetAsync(dx, 0, (size_t)g->n * g->c * plane * sizeof(float)), "cudaMemsetAsync") ||
        !total)
        return;
    pool_backward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(dy, arg, dx, plane, oplane, total);
    ekn_launch_ok("maxpool_backward");
}
