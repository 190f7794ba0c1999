/* Reference convolution: the definition written out as loops.  It is the
 * oracle the fast version is tested against, so clarity wins over speed;
 * sums are accumulated in double so that the oracle's own rounding is far
 * below the tolerance the tests allow the fast version. */
#include "conv.h"

#include <limits.h>

int ekn_conv_geom_init(ekn_conv_geom *g, int n, int cin, int cout, const int in[3], const int k[3])
{
    if (!g || !in || !k || n < 1 || cin < 1 || cout < 1) return -1;
    long long kvol = 1, ovol = 1;
    for (int d = 0; d < 3; d++) {
        if (in[d] < 1 || k[d] < 1 || k[d] > in[d]) return -1;
        g->in[d] = in[d];
        g->k[d] = k[d];
        g->out[d] = in[d] - k[d] + 1;
        kvol *= k[d];
        ovol *= g->out[d];
    }
    /* The fast path hands Cin*kvol and N*outvol to SGEMM as int. */
    if ((long long)cin * kvol > INT_MAX || (long long)n * ovol > INT_MAX) return -1;
    g->n = n;
    g->cin = cin;
    g->cout = cout;
    return 0;
}

void ekn_conv_forward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                          float *y)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int KZ = g->k[0], KY = g->k[1], KX = g->k[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    for (int n = 0; n < g->n; n++)
        for (int co = 0; co < g->cout; co++)
            for (int oz = 0; oz < OZ; oz++)
                for (int oy = 0; oy < OY; oy++)
                    for (int ox = 0; ox < OX; ox++) {
                        double acc = b[co];
                        for (int ci = 0; ci < g->cin; ci++)
                            for (int dz = 0; dz < KZ; dz++)
                                for (int dy = 0; dy < KY; dy++)
                                    for (int dx = 0; dx < KX; dx++) {
                                        size_t xi = ((((size_t)n * g->cin + ci) * Z + oz + dz) * Y + oy + dy) * X + ox + dx;
                                        size_t wi = (((size_t)co * g->cin + ci) * KZ + dz) * KY * KX + (size_t)dy * KX + dx;
                                        acc += (double)x[xi] * w[wi];
                                    }
                        y[((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox] = (float)acc;
                    }
}

void ekn_conv_backward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int KZ = g->k[0], KY = g->k[1], KX = g->k[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    const size_t ovol = (size_t)OZ * OY * OX;

    /* db[co] += sum over batch and positions of dy */
    for (int co = 0; co < g->cout; co++) {
        double acc = 0;
        for (int n = 0; n < g->n; n++)
            for (size_t o = 0; o < ovol; o++) acc += dy[((size_t)n * g->cout + co) * ovol + o];
        db[co] += (float)acc;
    }

    /* dw[co,ci,d] += sum_{n,o} dy[n,co,o] * x[n,ci,o+d] */
    for (int co = 0; co < g->cout; co++)
        for (int ci = 0; ci < g->cin; ci++)
            for (int kz = 0; kz < KZ; kz++)
                for (int ky = 0; ky < KY; ky++)
                    for (int kx = 0; kx < KX; kx++) {
                        double acc = 0;
                        for (int n = 0; n < g->n; n++)
                            for (int oz = 0; oz < OZ; oz++)
                                for (int oy = 0; oy < OY; oy++)
                                    for (int ox = 0; ox < OX; ox++) {
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox;
                                        size_t xi = ((((size_t)n * g->cin + ci) * Z + oz + kz) * Y + oy + ky) * X + ox + kx;
                                        acc += (double)dy[yi] * x[xi];
                                    }
                        dw[(((size_t)co * g->cin + ci) * KZ + kz) * KY * KX + (size_t)ky * KX + kx] += (float)acc;
                    }

    if (!dx) return;
    /* dx[n,ci,i] = sum_{co,d : o = i-d valid} dy[n,co,o] * w[co,ci,d]; written
     * as a gather so each dx element is assigned exactly once. */
    for (int n = 0; n < g->n; n++)
        for (int ci = 0; ci < g->cin; ci++)
            for (int iz = 0; iz < Z; iz++)
                for (int iy = 0; iy < Y; iy++)
                    for (int ix = 0; ix < X; ix++) {
                        double acc = 0;
                        for (int co = 0; co < g->cout; co++)
                            for (int kz = 0; kz < KZ; kz++)
                                for (int ky = 0; ky < KY; ky++)
                                    for (int kx = 0; kx < KX; kx++) {
                                        int oz = iz - kz, oy = iy - ky, ox = ix - kx;
                                        if (oz < 0 || oz >= OZ || oy < 0 || oy >= OY || ox < 0 || ox >= OX)
                                            continue;
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox;
                                        size_t wi = (((size_t)co * g->cin + ci) * KZ + kz) * KY * KX + (size_t)ky * KX + kx;
                                        acc += (double)dy[yi] * w[wi];
                                    }
                        dx[((((size_t)n * g->cin + ci) * Z + iz) * Y + iy) * X + ix] = (float)acc;
                    }
}
