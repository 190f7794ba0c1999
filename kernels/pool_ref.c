/* Reference max pooling: the definition written out as loops; the oracle the
 * fast version is tested against. */
#include "pool.h"

#include <math.h>
#include <stddef.h>

int ekn_pool_geom_init(ekn_pool_geom *g, int n, int c, const int in[3], const int p[3])
{
    if (!g || !in || !p || n < 1 || c < 1) return -1;
    long long plane = 1;
    for (int d = 0; d < 3; d++) {
        if (in[d] < 1 || p[d] < 1 || in[d] % p[d] != 0) return -1;
        g->in[d] = in[d];
        g->p[d] = p[d];
        g->out[d] = in[d] / p[d];
        plane *= in[d];
    }
    if (plane > INT32_MAX) return -1; /* arg holds plane offsets as int32 */
    g->n = n;
    g->c = c;
    g->mode = EKN_POOL_MAX;
    return 0;
}

void ekn_maxpool_forward_ref(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg)
{
    const int Z = g->in[0], Y = g->in[1], X = g->in[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    const size_t plane = (size_t)Z * Y * X, oplane = (size_t)OZ * OY * OX;
    const int maxabs = g->mode == EKN_POOL_MAXABS;
    for (size_t nc = 0; nc < (size_t)g->n * g->c; nc++) {
        const float *xp = x + nc * plane;
        for (int oz = 0; oz < OZ; oz++)
            for (int oy = 0; oy < OY; oy++)
                for (int ox = 0; ox < OX; ox++) {
                    /* start from the window's first element and replace only
                     * on a strict increase (of x, or of |x| for maxabs): ties
                     * keep the first in scan order */
                    int32_t best = (int32_t)(((size_t)oz * g->p[0] * Y + (size_t)oy * g->p[1]) * X + (size_t)ox * g->p[2]);
                    for (int dz = 0; dz < g->p[0]; dz++)
                        for (int dy = 0; dy < g->p[1]; dy++)
                            for (int dx = 0; dx < g->p[2]; dx++) {
                                int iz = oz * g->p[0] + dz, iy = oy * g->p[1] + dy, ix = ox * g->p[2] + dx;
                                int32_t i = (int32_t)(((size_t)iz * Y + iy) * X + ix);
                                if (maxabs ? fabsf(xp[i]) > fabsf(xp[best]) : xp[i] > xp[best]) best = i;
                            }
                    size_t o = nc * oplane + ((size_t)oz * OY + oy) * OX + ox;
                    y[o] = xp[best];
                    arg[o] = best;
                }
    }
}

void ekn_maxpool_backward_ref(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx)
{
    const size_t plane = (size_t)g->in[0] * g->in[1] * g->in[2];
    const size_t oplane = (size_t)g->out[0] * g->out[1] * g->out[2];
    for (size_t nc = 0; nc < (size_t)g->n * g->c; nc++) {
        float *dxp = dx + nc * plane;
        for (size_t i = 0; i < plane; i++) dxp[i] = 0;
        /* += although windows do not overlap: correct for any arg */
        for (size_t o = 0; o < oplane; o++) dxp[arg[nc * oplane + o]] += dy[nc * oplane + o];
    }
}
