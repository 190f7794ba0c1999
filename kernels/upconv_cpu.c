/* Fast CPU up-convolution (kernels/upconv.h): per example one SGEMM and a
 * copy.  With R = Cout*fvol rows indexed (co,a,b,c) and S = Z*Y*X columns
 * indexed (z,y,x), w (Cin, Cout, f) is an (Cin x R) matrix, x_n and dx_n
 * are (Cin x S), and
 *     forward   Y'  = W^T x_n       (R x S) in work, scattered into y + b
 *     backward  dY' = dy_n gathered (R x S) in work
 *               dx_n = W dY'        dW += x_n dY'^T
 * Threads: the SGEMMs split themselves over the kernels' threads
 * (cpu_threads.h, ekn-train -j); the copies run on the calling thread.
 * kernels/conv_cpu.c splits its whole pipeline because its vol2col copies
 * are a large share; here the copies move each output once (the GEMM's Cin
 * multiply-adds per output dominate). */
#include "upconv.h"

#include "cpu_threads.h"

static size_t volume(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

size_t ekn_upconv_workspace_floats(const ekn_upconv_geom *g)
{
    return (size_t)g->cout * volume(g->f) * volume(g->in);
}

/* Y' row (co, a, bb, c) at column (z, yy, 0): where the x run of output
 * row (co, z*fz+a, yy*fy+bb) with x offset c comes from; its fx runs
 * interleave into that output row. */
static size_t mat_at(const ekn_upconv_geom *g, int co, int z, int a, int yy, int bb)
{
    const size_t S = volume(g->in);
    return ((((size_t)co * g->f[0] + a) * g->f[1] + bb) * g->f[2]) * S + ((size_t)z * g->in[1] + yy) * g->in[2];
}

/* One example: y (Cout, out) = scatter of Y' (R x S), plus the bias.  The
 * output rows are written in order: (co, z, a, yy, bb). */
static void scatter(const ekn_upconv_geom *g, const float *mat, const float *b, float *y)
{
    const int X = g->in[2], FX = g->f[2];
    const size_t S = volume(g->in), OX = (size_t)g->out[2];
    for (int co = 0; co < g->cout; co++)
        for (int z = 0; z < g->in[0]; z++)
            for (int a = 0; a < g->f[0]; a++)
                for (int yy = 0; yy < g->in[1]; yy++)
                    for (int bb = 0; bb < g->f[1]; bb++, y += OX) {
                        const float bias = b[co];
                        const float *m = mat + mat_at(g, co, z, a, yy, bb);
                        for (int c = 0; c < FX; c++) {
                            float *restrict o = y + c;
                            const float *restrict s = m + (size_t)c * S;
                            for (int xx = 0; xx < X; xx++) o[(size_t)xx * FX] = s[xx] + bias;
                        }
                    }
}

/* One example: dY' (R x S) gathered from dy (Cout, out), the inverse. */
static void gather(const ekn_upconv_geom *g, const float *dy, float *mat)
{
    const int X = g->in[2], FX = g->f[2];
    const size_t S = volume(g->in), OX = (size_t)g->out[2];
    for (int co = 0; co < g->cout; co++)
        for (int z = 0; z < g->in[0]; z++)
            for (int a = 0; a < g->f[0]; a++)
                for (int yy = 0; yy < g->in[1]; yy++)
                    for (int bb = 0; bb < g->f[1]; bb++, dy += OX) {
                        float *m = mat + mat_at(g, co, z, a, yy, bb);
                        for (int c = 0; c < FX; c++) {
                            const float *restrict o = dy + c;
                            float *restrict s = m + (size_t)c * S;
                            for (int xx = 0; xx < X; xx++) s[xx] = o[(size_t)xx * FX];
                        }
                    }
}

void ekn_upconv_forward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                            float *work)
{
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, yplane = (size_t)g->cout * volume(g->out);
    for (int n = 0; n < g->n; n++) {
        ekn_sgemm_cpu(CblasTrans, CblasNoTrans, R, S, g->cin, 1.0f, w, R, x + n * xplane, S, 0.0f,
                    work, S);
        scatter(g, work, b, y + n * yplane);
    }
}

/* sum of v[0..len) in double: blocks of 4096 summed in eight float
 * partial sums (so the loop vectorises), the blocks in double */
static double sum(const float *restrict v, size_t len)
{
    double acc = 0;
    for (size_t i0 = 0; i0 < len; i0 += 4096) {
        size_t end = len - i0 < 4096 ? len : i0 + 4096, i = i0;
        float part[8] = {0};
        for (; i + 8 <= end; i += 8)
            for (int j = 0; j < 8; j++) part[j] += v[i + j];
        for (; i < end; i++) acc += v[i];
        for (int j = 0; j < 8; j++) acc += part[j];
    }
    return acc;
}

void ekn_upconv_backward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db, float *work)
{
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, ovol = volume(g->out), yplane = (size_t)g->cout * ovol;
    for (int co = 0; co < g->cout; co++) {
        double acc = 0;
        for (int n = 0; n < g->n; n++) acc += sum(dy + n * yplane + co * ovol, ovol);
        db[co] += (float)acc;
    }
    for (int n = 0; n < g->n; n++) {
        gather(g, dy + n * yplane, work);
        ekn_sgemm_cpu(CblasNoTrans, CblasTrans, g->cin, R, S, 1.0f, x + n * xplane, S, work, S, 1.0f,
                    dw, R);
        if (dx)
            ekn_sgemm_cpu(CblasNoTrans, CblasNoTrans, g->cin, S, R, 1.0f, w, R, work, S, 0.0f,
                        dx + n * xplane, S);
    }
}
