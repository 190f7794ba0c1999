// ekn_mfp_*_cuda (kernels/mfp.h): one thread per element moved, its source
// and destination found by index arithmetic.  Crop gathers (each output
// element reads one input element); interleave scatters, one write per
// input element, and the shifts make the writes a bijection onto y, so no
// two threads write one element and no atomics are needed.
#include "cuda_check.h"
extern "C" {
#include "mfp.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// y (n * P, c, span) from x (n, c, in): y's index is, slowest first,
// b, d = (dz, dy, dx), ch, z, y, x.
__global__ void crop(ekn_mfp_crop_geom g, const float *x, float *y, size_t total)
{
    const int SZ = g.out[0] * g.p[0], SY = g.out[1] * g.p[1], SX = g.out[2] * g.p[2];
    const size_t span = (size_t)SZ * SY * SX, plane = (size_t)g.in[0] * g.in[1] * g.in[2];
    const int P = g.p[0] * g.p[1] * g.p[2];
    GRID_STRIDE(o, total)
    {
        size_t r = o % span, item = o / span; // item = (b * P + d) * c + ch
        int ch = (int)(item % g.c);
        size_t bd = item / g.c;
        int d = (int)(bd % P);
        size_t b = bd / P;
        int dz = d / (g.p[1] * g.p[2]), dy = d / g.p[2] % g.p[1], dx = d % g.p[2];
        int z = (int)(r / ((size_t)SY * SX)), yy = (int)(r / SX % SY), xx = (int)(r % SX);
        y[o] = x[(b * g.c + ch) * plane + ((size_t)(dz + z) * g.in[1] + dy + yy) * g.in[2] + dx + xx];
    }
}

// x (n * F, c, frag_out) into y (n, c, out): x's index is, slowest first,
// e, f, ch, jz, jy, jx.
__global__ void interleave(ekn_mfp_interleave_geom g, const int32_t *shift, const float *x, float *y, size_t total)
{
    const int FY = g.frag_out[1], FX = g.frag_out[2];
    const size_t fplane = (size_t)g.frag_out[0] * FY * FX, oplane = (size_t)g.out[0] * g.out[1] * g.out[2];
    GRID_STRIDE(i, total)
    {
        size_t r = i % fplane, item = i / fplane; // item = (e * F + f) * c + ch
        int ch = (int)(item % g.c);
        size_t ef = item / g.c;
        int f = (int)(ef % g.frags);
        size_t e = ef / g.frags;
        int jz = (int)(r / ((size_t)FY * FX)), jy = (int)(r / FX % FY), jx = (int)(r % FX);
        const int32_t *sh = shift + 3 * (size_t)f;
        size_t q = ((size_t)(sh[0] + g.stride[0] * jz) * g.out[1] + sh[1] + g.stride[1] * jy) * g.out[2] + sh[2] +
                   g.stride[2] * jx;
        y[(e * g.c + ch) * oplane + q] = x[i];
    }
}

size_t volume(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

} // namespace

void ekn_mfp_crop_cuda(const ekn_mfp_crop_geom *g, const float *x, float *y)
{
    int span[3] = {g->out[0] * g->p[0], g->out[1] * g->p[1], g->out[2] * g->p[2]};
    size_t total = (size_t)g->n * volume(g->p) * g->c * volume(span);
    if (!total) return;
    crop<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, x, y, total);
    ekn_launch_ok("mfp_crop");
}

void ekn_mfp_interleave_cuda(const ekn_mfp_interleave_geom *g, const int32_t *shift, const float *x, float *y)
{
    size_t total = (size_t)g->n * g->frags * g->c * volume(g->frag_out);
    if (!total) return;
    interleave<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, shift, x, y, total);
    ekn_launch_ok("mfp_interleave");
}
