/* Reference convolution: the definition written out as loops.  It is the
 * oracle the fast version is tested against, so clarity wins over speed;
 * sums are accumulated in double so that the oracle's own rounding is far
 * below the tolerance the tests allow the fast version.  An input position
 * outside the volume is padding and reads as zero, so its term is skipped. */
#include "conv.h"

#include <limits.h>

int ekn_conv_geom_init_ex(ekn_conv_geom *g, int n, int cin, int cout, const int in[3], const int k[3],
                          const int stride[3], const int pad[3])
{
    if (!g || !in || !k || !stride || !pad || n < 1 || cin < 1 || cout < 1) return -1;
    long long kvol = 1, ovol = 1;
    for (int d = 0; d < 3; d++) {
        if (in[d] < 1 || k[d] < 1 || stride[d] < 1 || pad[d] < 0 || pad[d] >= k[d]) return -1;
        long long span = (long long)in[d] + 2LL * pad[d] - k[d]; /* no int overflow */
        if (span < 0) return -1;
        g->in[d] = in[d];
        g->k[d] = k[d];
        g->stride[d] = stride[d];
        g->pad[d] = pad[d];
        if (span / stride[d] + 1 > INT_MAX) return -1;
        g->out[d] = (int)(span / stride[d] + 1);
        kvol *= k[d];
        ovol *= g->out[d];
        if (kvol > INT_MAX || ovol > INT_MAX) return -1; /* no long long overflow of the products */
    }
    /* The fast path hands Cin*kvol and N*outvol to SGEMM as int. */
    if ((long long)cin * kvol > INT_MAX || (long long)n * ovol > INT_MAX) return -1;
    g->n = n;
    g->cin = cin;
    g->cout = cout;
    return 0;
}

int ekn_conv_geom_init(ekn_conv_geom *g, int n, int cin, int cout, const int in[3], const int k[3])
{
    static const int one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    return ekn_conv_geom_init_ex(g, n, cin, cout, in, k, one, zero);
}

/* The input index along axis d of output o and kernel offset t; outside
 * [0, in[d]) is padding. */
static int src(const ekn_conv_geom *g, int d, int o, int t) { return o * g->stride[d] + t - g->pad[d]; }

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
                                        int iz = src(g, 0, oz, dz), iy = src(g, 1, oy, dy), ix = src(g, 2, ox, dx);
                                        if (iz < 0 || iz >= Z || iy < 0 || iy >= Y || ix < 0 || ix >= X) continue;
                                        size_t xi = ((((size_t)n * g->cin + ci) * Z + iz) * Y + iy) * X + ix;
                                        size_t wi = (((size_t)co * g->cin + ci) * KZ + dz) * KY * KX + (size_t)dy * KX + dx;
                                        acc += (double)x[xi] * w[wi];
                                    }
                        y[((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox] = (float)acc;
                    }
}

/* The output index along axis d that reads input i through kernel offset
 * t, or -1 when none does (between strides, or past either end). */
static int dst(const ekn_conv_geom *g, int d, int i, int t)
{
    int s = i + g->pad[d] - t;
    if (s < 0 || s % g->stride[d]) return -1;
    s /= g->stride[d];
    return s < g->out[d] ? s : -1;
}

void ekn_bias_grad_ref(const float *dy, int batch, int cout, size_t ovol, float *db)
{
    for (int co = 0; co < cout; co++) {
        double acc = 0;
        for (int n = 0; n < batch; n++)
            for (size_t o = 0; o < ovol; o++) acc += dy[((size_t)n * cout + co) * ovol + o];
        db[co] += (float)acc;
    }
}

void ekn_conv_backward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int KZ = g->k[0], KY = g->k[1], KX = g->k[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    const size_t ovol = (size_t)OZ * OY * OX;

    ekn_bias_grad_ref(dy, g->n, g->cout, ovol, db);

    /* dw[co,ci,d] += sum_{n,o} dy[n,co,o] * x[n,ci,o*s+d-p] (padding: 0) */
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
                                        int iz = src(g, 0, oz, kz), iy = src(g, 1, oy, ky), ix = src(g, 2, ox, kx);
                                        if (iz < 0 || iz >= Z || iy < 0 || iy >= Y || ix < 0 || ix >= X) continue;
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox;
                                        size_t xi = ((((size_t)n * g->cin + ci) * Z + iz) * Y + iy) * X + ix;
                                        acc += (double)dy[yi] * x[xi];
                                    }
                        dw[(((size_t)co * g->cin + ci) * KZ + kz) * KY * KX + (size_t)ky * KX + kx] += (float)acc;
                    }

    if (!dx) return;
    /* dx[n,ci,i] = sum_{co,d : o*s = i+p-d for a valid o} dy[n,co,o] * w[co,ci,d];
     * written as a gather so each dx element is assigned exactly once. */
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
                                        int oz = dst(g, 0, iz, kz), oy = dst(g, 1, iy, ky), ox = dst(g, 2, ix, kx);
                                        if (oz < 0 || oy < 0 || ox < 0) continue;
                                        size_t yi = ((((size_t)n * g->cout + co) * OZ + oz) * OY + oy) * OX + ox;
                                        size_t wi = (((size_t)co * g->cin + ci) * KZ + kz) * KY * KX + (size_t)ky * KX + kx;
                                        acc += (double)dy[yi] * w[wi];
                                    }
                        dx[((((size_t)n * g->cin + ci) * Z + iz) * Y + iy) * X + ix] = (float)acc;
                    }
}
