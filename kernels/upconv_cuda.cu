// ekn_upconv_*_cuda (kernels/upconv.h): the _cpu algorithm on the GPU.  Per
// example one cuBLAS GEMM into work, Y' (R x S) with R = Cout*fvol rows
// (co,a,b,c) and S = Z*Y*X columns, then a scatter kernel (bias fused);
// backward gathers dy into dY' (R x S) and runs the two GEMMs of dx and dw.
// cuBLAS is column-major, and a row-major (r, c) matrix is its column-major
// (c, r) transpose, so with x_n (Cin,S), w (Cin,R), Y' (R,S):
//   Y'^T  = x_n^T W          gemm(N, T, S,   R,   Cin, x_n, w)
//   dx_n^T = dY'^T W^T       gemm(N, N, S,   Cin, R,   dY', w)
//   dw^T += dY' x_n^T        gemm(T, N, R,   Cin, S,   dY', x_n), beta = 1
// db sums dy in double in two passes of fixed grids (as kernels/conv_cuda.cu
// does), its partial sums in the start of work, which the gathers overwrite
// only after (one stream).  No atomics: the scatter and the gather are
// bijections, so the results repeat bit for bit.
#include "bias_grad_cuda.h"
#include "cuda_check.h"
extern "C" {
#include "upconv.h"
}

namespace {

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// The bias gradient's first pass: about this many elements per block, at
// most this many blocks per channel.
const size_t BIAS_ELEMS_PER_BLOCK = 4096;
const unsigned BIAS_MAX_BLOCKS = 256;

size_t volume(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

unsigned bias_parts(const ekn_upconv_geom *g)
{
    size_t per_channel = (size_t)g->n * volume(g->out);
    size_t b = (per_channel + BIAS_ELEMS_PER_BLOCK - 1) / BIAS_ELEMS_PER_BLOCK;
    return (unsigned)(b < 1 ? 1 : b > BIAS_MAX_BLOCKS ? BIAS_MAX_BLOCKS : b);
}

// Y' row and column of output element o of one example's (Cout, out) block.
__device__ inline size_t mat_index(const ekn_upconv_geom &g, size_t o)
{
    const int OY = g.out[1], OX = g.out[2];
    const size_t ovol = (size_t)g.out[0] * OY * OX, S = (size_t)g.in[0] * g.in[1] * g.in[2];
    size_t co = o / ovol, r = o % ovol;
    int oz = (int)(r / ((size_t)OY * OX)), oy = (int)(r / OX % OY), ox = (int)(r % OX);
    int z = oz / g.f[0], a = oz % g.f[0], yy = oy / g.f[1], bb = oy % g.f[1], xx = ox / g.f[2], c = ox % g.f[2];
    size_t row = ((co * g.f[0] + a) * g.f[1] + bb) * g.f[2] + c;
    return row * S + ((size_t)z * g.in[1] + yy) * g.in[2] + xx;
}

// y[o] = Y'[...] + b[co] over one example's outputs
__global__ void scatter(ekn_upconv_geom g, const float *mat, const float *b, float *y, size_t total)
{
    const size_t ovol = (size_t)g.out[0] * g.out[1] * g.out[2];
    GRID_STRIDE(o, total) y[o] = mat[mat_index(g, o)] + b[o / ovol];
}

// dY'[...] = dy[o] over one example's outputs
__global__ void gather(ekn_upconv_geom g, const float *dy, float *mat, size_t total)
{
    GRID_STRIDE(o, total) mat[mat_index(g, o)] = dy[o];
}

} // namespace

size_t ekn_upconv_workspace_cuda(const ekn_upconv_geom *g)
{
    size_t mat = ekn_upconv_workspace_floats(g), partials = 2 * (size_t)g->cout * bias_parts(g);
    return mat > partials ? mat : partials;
}

void ekn_upconv_forward_cuda(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                             float *work)
{
    cublasHandle_t h = ekn_cublas_handle();
    if (!h) return;
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, total = (size_t)g->cout * volume(g->out);
    const float one = 1, zero = 0;
    for (int n = 0; n < g->n; n++) {
        if (!ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, S, R, g->cin, &one, x + n * xplane, S, w, R, &zero, work, S,
                      "cublas gemm (upconv forward)"))
            return;
        scatter<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, work, b, y + n * total, total);
        if (!ekn_launch_ok("upconv scatter")) return;
    }
}

void ekn_upconv_backward_cuda(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                              float *dw, float *db, float *work)
{
    cublasHandle_t h = ekn_cublas_handle();
    if (!h) return;
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, ovol = volume(g->out), total = (size_t)g->cout * ovol;
    const float one = 1, zero = 0;
    unsigned parts = bias_parts(g);
    double *partials = reinterpret_cast<double *>(work);
    ekn_bias_partial_sums<<<dim3(parts, g->cout), EKN_CUDA_THREADS>>>(dy, partials, g->cout, ovol, (size_t)g->n * ovol);
    if (!ekn_launch_ok("upconv bias_partial_sums")) return;
    ekn_bias_finish<<<g->cout, EKN_CUDA_THREADS>>>(partials, parts, db);
    if (!ekn_launch_ok("upconv bias_finish")) return;
    for (int n = 0; n < g->n; n++) {
        gather<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(*g, dy + n * total, work, total);
        if (!ekn_launch_ok("upconv gather") ||
            !ekn_gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, R, g->cin, S, &one, work, S, x + n * xplane, S, &one, dw, R,
                      "cublas gemm (upconv backward, dw)"))
            return;
        if (dx && !ekn_gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, S, g->cin, R, &one, work, S, w, R, &zero, dx + n * xplane,
                            S, "cublas gemm (upconv backward, dx)"))
            return;
    }
}
