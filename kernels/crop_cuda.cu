// ekn_crop_*_cuda (kernels/crop.h): one thread per window element, its
// places in x and y found by index arithmetic; each element of the
// destination is written by exactly one thread (no atomics), with the same
// single float copy or add as _ref, so the results are _ref's exactly.
#include "cuda_check.h"
extern "C" {
#include "crop.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// Element o of the window, slowest first n, c, z, y, x: its index in x
// (*xi) and in y (*yi).
__device__ inline void places(const ekn_crop_geom &g, size_t o, size_t *xi, size_t *yi)
{
    const int OY = g.out[1], OX = g.out[2];
    const size_t wvol = (size_t)g.out[0] * OY * OX;
    size_t item = o / wvol, r = o % wvol; // item = n * C + c
    size_t n = item / g.c, c = item % g.c;
    int z = (int)(r / ((size_t)OY * OX)), yy = (int)(r / OX % OY), xx = (int)(r % OX);
    *xi = (((n * g.c + c) * g.in[0] + z + g.off[0]) * g.in[1] + yy + g.off[1]) * g.in[2] + xx + g.off[2];
    *yi = (n * g.cy + g.c0 + c) * wvol + r;
}

__global__ void crop_forward(ekn_crop_geom g, const float *x, float *y, int accumulate, size_t total)
{
    GRID_STRIDE(o, total)
    {
        size_t xi, yi;
        places(g, o, &xi, &yi);
        y[yi] = accumulate ? y[yi] + x[xi] : x[xi];
    }
}

__global__ void crop_backward(ekn_crop_geom g, const float *dy, float *dx, size_t total)
{
    GRID_STRIDE(o, total)
    {
        size_t xi, yi;
        places(g, o, &xi, &yi);
        dx[xi] += dy[yi];
    }
}

size_t window_total(const ekn_crop_geom *g) { return (size_t)g->n * g->c * g->out[0] * g->out[1] * g->out[2]; }

} // namespace

void ekn_crop_forward_cuda(const ekn_crop_geom *g, const float *x, float *y, int accumulate)
{
    size_t total = window_total(g);
    if (!total) return;
    crop_forward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, x, y, accumulate, total);
    ekn_launch_ok("crop_forward");
}

void ekn_crop_backward_cuda(const ekn_crop_geom *g, const float *dy, float *dx)
{
    size_t total = window_total(g);
    if (!total) return;
    crop_backward<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, dy, dx, total);
    ekn_launch_ok("crop_backward");
}
