/* Reference up-convolution: kernels/upconv.h's definitions written out as
 * loops, sums in double.  The oracle of the _cpu and _cuda versions. */
#include "upconv.h"
#include "conv.h"

#include <limits.h>
#include <stdint.h>

/* *acc *= v unless that passes limit; returns 0, or -1 on overflow */
static int mul_within(size_t *acc, size_t v, size_t limit)
{
    if (v && *acc > limit / v) return -1;
    *acc *= v;
    return 0;
}

int ekn_upconv_geom_init(ekn_upconv_geom *g, int n, int cin, int cout, const int in[3], const int f[3])
{
    if (!g || !in || !f || n < 1 || cin < 1 || cout < 1) return -1;
    size_t fvol = 1, ivol = 1, ovol = 1;
    for (int d = 0; d < 3; d++) {
        if (in[d] < 1 || f[d] < 1 || (long long)in[d] * f[d] > INT_MAX) return -1;
        g->in[d] = in[d];
        g->f[d] = f[d];
        g->out[d] = in[d] * f[d];
        if (mul_within(&fvol, (size_t)f[d], INT_MAX) || mul_within(&ivol, (size_t)in[d], INT_MAX) ||
            mul_within(&ovol, (size_t)g->out[d], SIZE_MAX))
            return -1;
    }
    /* The GEMMs take Cout*fvol and S as int; the tensors must be
     * addressable in floats. */
    size_t rows = (size_t)cout, xs = (size_t)n, ys = (size_t)n;
    const size_t max_floats = SIZE_MAX / sizeof(float);
    if (mul_within(&rows, fvol, INT_MAX) || mul_within(&xs, (size_t)cin, max_floats) ||
        mul_within(&xs, ivol, max_floats) || mul_within(&ys, (size_t)cout, max_floats) ||
        mul_within(&ys, ovol, max_floats) || mul_within(&rows, ivol, max_floats))
        return -1;
    g->n = n;
    g->cin = cin;
    g->cout = cout;
    return 0;
}

void ekn_upconv_forward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int FZ = g->f[0], FY = g->f[1], FX = g->f[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    for (int n = 0; n < g->n; n++)
        for (int co = 0; co < g->cout; co++)
            for (int oz = 0; oz < OZ; oz++)
                for (int oy = 0; oy < OY; oy++)
                    for (int ox = 0; ox < OX; ox++) {
                        const int z = oz / FZ, a = oz % FZ, yy = oy / FY, bb = oy % FY, xx = ox / FX, c = ox % FX;
                        double acc = b[co];
                        for (int ci = 0; ci < g->cin; ci++) {
                            size_t xi = ((((size_t)n * g->cin + ci) * Z + z) * Y + yy) * X + xx;
                            size_t wi = ((((size_t)ci * g->cout + co) * FZ + a) * FY + bb) * FX + c;
                            acc += (double)x[xi] * w[wi];
                        }
                        y[((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox] = (float)acc;
                    }
}

void ekn_upconv_backward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int FZ = g->f[0], FY = g->f[1], FX = g->f[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    const size_t ovol = (size_t)OZ * OY * OX;

    ekn_bias_grad_ref(dy, g->n, g->cout, ovol, db);

    /* dw[ci,co,a,b,c] += sum_{n,z,y,x} x[n,ci,z,y,x] * dy[n,co,z*fz+a,y*fy+b,x*fx+c] */
    for (int ci = 0; ci < g->cin; ci++)
        for (int co = 0; co < g->cout; co++)
            for (int a = 0; a < FZ; a++)
                for (int bb = 0; bb < FY; bb++)
                    for (int c = 0; c < FX; c++) {
                        double acc = 0;
                        for (int n = 0; n < g->n; n++)
                            for (int z = 0; z < Z; z++)
                                for (int yy = 0; yy < Y; yy++)
                                    for (int xx = 0; xx < X; xx++) {
                                        size_t xi = ((((size_t)n * g->cin + ci) * Z + z) * Y + yy) * X + xx;
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + z * FZ + a) * OY +
                                                     yy * FY + bb) * OX + xx * FX + c;
                                        acc += (double)x[xi] * dy[yi];
                                    }
                        dw[((((size_t)ci * g->cout + co) * FZ + a) * FY + bb) * FX + c] += (float)acc;
                    }

    if (!dx) return;
    /* dx[n,ci,z,y,x] = sum_{co,a,b,c} w[ci,co,a,b,c] * dy[n,co,z*fz+a,y*fy+b,x*fx+c] */
    for (int n = 0; n < g->n; n++)
        for (int ci = 0; ci < g->cin; ci++)
            for (int z = 0; z < Z; z++)
                for (int yy = 0; yy < Y; yy++)
                    for (int xx = 0; xx < X; xx++) {
                        double acc = 0;
                        for (int co = 0; co < g->cout; co++)
                            for (int a = 0; a < FZ; a++)
                                for (int bb = 0; bb < FY; bb++)
                                    for (int c = 0; c < FX; c++) {
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + z * FZ + a) * OY +
                                                     yy * FY + bb) * OX + xx * FX + c;
                                        size_t wi = ((((size_t)ci * g->cout + co) * FZ + a) * FY + bb) * FX + c;
                                        acc += (double)w[wi] * dy[yi];
                                    }
                        dx[((((size_t)n * g->cin + ci) * Z + z) * Y + yy) * X + xx] = (float)acc;
                    }
}
