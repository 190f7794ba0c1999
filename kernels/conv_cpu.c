/* Fast CPU convolution: the whole batch is lowered to one SGEMM per pass.
 *
 * vol2col builds col (K x M), K = Cin*kz*ky*kx rows indexed (ci,dz,dy,dx),
 * M = N*S columns indexed (n,oz,oy,ox) with S = outZ*outY*outX.  Then
 *     forward   Y'  = W col              (Cout x M), scattered into y + bias
 *     backward  dW += dY' col^T          dY' = dy transposed to (Cout x M)
 *               dcol = W^T dY'           then col2im-accumulated into dx
 * One GEMM over the batch (rather than one per example) keeps the GEMM
 * large enough for OpenBLAS to reach its peak, and its threads are the only
 * parallelism here: the copies are memory-bound and run on the caller.
 *
 * Workspace: col (K*M) followed by Y' or dY' (Cout*M).  Backward lets dcol
 * overwrite col once dW has consumed it, so one buffer serves both passes. */
#include "conv.h"

#include <cblas.h>
#include <string.h>

size_t ekn_conv_workspace_floats(const ekn_conv_geom *g)
{
    size_t kvol = (size_t)g->k[0] * g->k[1] * g->k[2];
    size_t m = (size_t)g->n * g->out[0] * g->out[1] * g->out[2];
    return ((size_t)g->cin * kvol + (size_t)g->cout) * m;
}

/* For one example, the col rows (ci,dz,dy,0..kx-1) are (OZ,OY,OX) windows of
 * the input plane that differ only by a shift along x: runs of OX floats at
 * stride X, rows at stride Y*X.  The copy loops take one input run and write
 * it to the kx rows at once.  When kx == 1 the runs are adjacent in the input
 * and are merged, so 1x1x1 and kz x 1 x 1 kernels copy whole planes. */
typedef struct {
    size_t nz, ny, run; /* runs per window: nz * ny, each run floats long */
    size_t sz, sy;      /* input strides between runs */
} window;

static window window_of(const ekn_conv_geom *g)
{
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    window v = {(size_t)g->out[0], (size_t)g->out[1], (size_t)g->out[2], Y * X, X};
    if (v.run == X) { /* rows adjacent: one run per z slice */
        v.run *= v.ny;
        v.ny = 1;
        if (v.run == Y * X) { /* slices adjacent too: one run per window */
            v.run *= v.nz;
            v.nz = 1;
        }
    }
    return v;
}

/* Runs are often short (OX = 8 for a 5x5 kernel on 12x12).  A plain copy
 * loop is turned by GCC into a memcpy call, whose overhead then dominates;
 * fixed 8-float moves, the last one overlapping when n % 8 != 0, copy such a
 * run in a few instructions (measured 2x faster for the whole vol2col). */
static inline void copy_run(float *restrict d, const float *restrict s, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) memcpy(d + i, s + i, 8 * sizeof *d);
        memcpy(d + n - 8, s + n - 8, 8 * sizeof *d);
    } else if (n >= 4) {
        memcpy(d, s, 4 * sizeof *d);
        memcpy(d + n - 4, s + n - 4, 4 * sizeof *d);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    }
}

/* d[0..n) += s[0..n); blocks of 8 so that short runs need no loop set-up */
static inline void add_run(float *restrict d, const float *restrict s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) d[i + j] += s[i + j];
    for (; i < n; i++) d[i] += s[i];
}

static void vol2col(const ekn_conv_geom *g, const float *restrict x, float *restrict col)
{
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    const size_t plane = (size_t)g->in[0] * Y * X;
    const size_t M = (size_t)g->n * g->out[0] * g->out[1] * g->out[2];
    const int KX = g->k[2];
    const window v = window_of(g);
    for (int ci = 0; ci < g->cin; ci++)
        for (int kz = 0; kz < g->k[0]; kz++)
            for (int ky = 0; ky < g->k[1]; ky++) {
                float *rows = col + (((size_t)ci * g->k[0] + kz) * g->k[1] + ky) * KX * M;
                for (int n = 0; n < g->n; n++) {
                    const float *src = x + ((size_t)n * g->cin + ci) * plane + kz * Y * X + ky * X;
                    for (size_t z = 0; z < v.nz; z++)
                        for (size_t yy = 0; yy < v.ny; yy++, rows += v.run) {
                            const float *s = src + z * v.sz + yy * v.sy;
                            for (int kx = 0; kx < KX; kx++) copy_run(rows + kx * M, s + kx, v.run);
                        }
                }
            }
}

/* The adjoint of vol2col: dx (zeroed here) += every col entry at the input
 * element it was copied from.  Unlike vol2col, kx is not the inner loop:
 * runs shifted by one float would read back each other's fresh partial
 * stores, which the CPU cannot forward (measured 4x slower). */
static void col2vol(const ekn_conv_geom *g, const float *restrict col, float *restrict dx)
{
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    const size_t plane = (size_t)g->in[0] * Y * X;
    const window v = window_of(g);
    const float *src = col;
    memset(dx, 0, (size_t)g->n * g->cin * plane * sizeof *dx);
    for (int ci = 0; ci < g->cin; ci++)
        for (int kz = 0; kz < g->k[0]; kz++)
            for (int ky = 0; ky < g->k[1]; ky++)
                for (int kx = 0; kx < g->k[2]; kx++) {
                    const size_t off = kz * Y * X + ky * X + (size_t)kx;
                    for (int n = 0; n < g->n; n++) {
                        float *dst = dx + ((size_t)n * g->cin + ci) * plane + off;
                        for (size_t z = 0; z < v.nz; z++)
                            for (size_t yy = 0; yy < v.ny; yy++, src += v.run)
                                add_run(dst + z * v.sz + yy * v.sy, src, v.run);
                    }
                }
}

void ekn_conv_forward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                          float *y, float *work)
{
    const int K = g->cin * g->k[0] * g->k[1] * g->k[2];
    const size_t S = (size_t)g->out[0] * g->out[1] * g->out[2];
    const int M = (int)((size_t)g->n * S);
    float *col = work, *yt = work + (size_t)K * M;

    vol2col(g, x, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, M, K, 1.0f, w, K, col, M, 0.0f,
                yt, M);
    /* (Cout, N, S) -> (N, Cout, S), bias fused into the copy */
    for (int co = 0; co < g->cout; co++) {
        const float bias = b[co];
        for (int n = 0; n < g->n; n++) {
            const float *restrict src = yt + (size_t)co * M + (size_t)n * S;
            float *restrict dst = y + ((size_t)n * g->cout + co) * S;
            for (size_t s = 0; s < S; s++) dst[s] = src[s] + bias;
        }
    }
}

void ekn_conv_backward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db, float *work)
{
    const int K = g->cin * g->k[0] * g->k[1] * g->k[2];
    const size_t S = (size_t)g->out[0] * g->out[1] * g->out[2];
    const int M = (int)((size_t)g->n * S);
    float *col = work, *dyt = work + (size_t)K * M;

    /* (N, Cout, S) -> (Cout, N, S); db summed on the way, in double because a
     * row can hold millions of terms */
    for (int co = 0; co < g->cout; co++) {
        double acc = 0;
        for (int n = 0; n < g->n; n++) {
            const float *restrict src = dy + ((size_t)n * g->cout + co) * S;
            float *restrict dst = dyt + (size_t)co * M + (size_t)n * S;
            /* eight independent partial sums so the loop vectorises */
            float part[8] = {0};
            size_t s = 0;
            for (; s + 8 <= S; s += 8)
                for (int j = 0; j < 8; j++) {
                    dst[s + j] = src[s + j];
                    part[j] += src[s + j];
                }
            for (; s < S; s++) {
                dst[s] = src[s];
                acc += src[s];
            }
            for (int j = 0; j < 8; j++) acc += part[j];
        }
        db[co] += (float)acc;
    }

    /* col is rebuilt rather than kept from forward so that the workspace can
     * be shared between layers. */
    vol2col(g, x, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->cout, K, M, 1.0f, dyt, M, col, M, 1.0f,
                dw, K);
    if (!dx) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, M, g->cout, 1.0f, w, K, dyt, M, 0.0f,
                col, M);
    col2vol(g, col, dx);
}
