/* Fast CPU up-convolution (kernels/upconv.h): per example one SGEMM and a
 * copy.  With R = Cout*fvol rows indexed (co,a,b,c) and S = Z*Y*X columns
 * indexed (z,y,x), w (Cin, Cout, f) is an (Cin x R) matrix, x_n and dx_n
 * are (Cin x S), and
 *     forward   Y'  = W^T x_n       (R x S) in work, scattered into y + b
 *     backward  dY' = dy_n gathered (R x S) in work
 *               dx_n = W dY'        dW += x_n dY'^T
 * Threads: the SGEMMs split themselves over the kernels' threads
 * (cpu_threads.h, ekn-train -j); the copies and db split the channels.
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
static void scatter(const ekn_upconv_geom *g, const float *mat, const float *b, float *y, int co0, int co1)
{
    const int X = g->in[2], FX = g->f[2];
    const size_t S = volume(g->in), OX = (size_t)g->out[2];
    y += (size_t)co0 * volume(g->out);
    for (int co = co0; co < co1; co++)
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
static void gather(const ekn_upconv_geom *g, const float *dy, float *mat, int co0, int co1)
{
    const int X = g->in[2], FX = g->f[2];
    const size_t S = volume(g->in), OX = (size_t)g->out[2];
    dy += (size_t)co0 * volume(g->out);
    for (int co = co0; co < co1; co++)
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

/* The copies and db split their output channels over the kernels'
 * threads (ekn_cpu_for) when an example's output holds at least
 * EKN_CPU_SPLIT_MIN floats; each channel is done as on one thread. */
typedef struct {
    const ekn_upconv_geom *g;
    const float *mat, *b, *dy;
    float *y, *work, *db;
} copy_job;

static size_t channels_min(const ekn_upconv_geom *g)
{
    size_t ovol = volume(g->out);
    return ovol ? (EKN_CPU_SPLIT_MIN + ovol - 1) / ovol : 1;
}

static void scatter_range(void *p, size_t co0, size_t co1)
{
    const copy_job *j = p;
    scatter(j->g, j->mat, j->b, j->y, (int)co0, (int)co1);
}

static void gather_range(void *p, size_t co0, size_t co1)
{
    const copy_job *j = p;
    gather(j->g, j->dy, j->work, (int)co0, (int)co1);
}

void ekn_upconv_forward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                            float *work)
{
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, yplane = (size_t)g->cout * volume(g->out);
    for (int n = 0; n < g->n; n++) {
        ekn_sgemm_cpu(CblasTrans, CblasNoTrans, R, S, g->cin, 1.0f, w, R, x + n * xplane, S, 0.0f,
                    work, S);
        copy_job j = {g, work, b, NULL, y + n * yplane, NULL, NULL};
        ekn_cpu_for((size_t)g->cout, 1, channels_min(g), scatter_range, &j);
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

static void db_range(void *p, size_t co0, size_t co1)
{
    const copy_job *j = p;
    const ekn_upconv_geom *g = j->g;
    const size_t ovol = volume(g->out), yplane = (size_t)g->cout * ovol;
    for (size_t co = co0; co < co1; co++) {
        double acc = 0;
        for (int n = 0; n < g->n; n++) acc += sum(j->dy + n * yplane + co * ovol, ovol);
        j->db[co] += (float)acc;
    }
}

void ekn_upconv_backward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db, float *work)
{
    const int R = g->cout * (int)volume(g->f), S = (int)volume(g->in);
    const size_t xplane = (size_t)g->cin * S, ovol = volume(g->out), yplane = (size_t)g->cout * ovol;
    copy_job j = {g, NULL, NULL, dy, NULL, work, db};
    ekn_cpu_for((size_t)g->cout, 1, channels_min(g) / (g->n > 0 ? (size_t)g->n : 1), db_range, &j);
    for (int n = 0; n < g->n; n++) {
        j.dy = dy + n * yplane;
        ekn_cpu_for((size_t)g->cout, 1, channels_min(g), gather_range, &j);
        ekn_sgemm_cpu(CblasNoTrans, CblasTrans, g->cin, R, S, 1.0f, x + n * xplane, S, work, S, 1.0f,
                    dw, R);
        if (dx)
            ekn_sgemm_cpu(CblasNoTrans, CblasNoTrans, g->cin, S, R, 1.0f, w, R, work, S, 0.0f,
                        dx + n * xplane, S);
    }
}
