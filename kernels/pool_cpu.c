/* Fast CPU max pooling.  Each output row (n,c,oz,oy) is built from its
 * pz*py input rows, read in order; the inner loop walks one input row
 * sequentially, so memory is streamed once and nothing is divided.  The
 * maxabs mode compares |x| and keeps the signed value. */
#include "pool.h"

#include "cpu_threads.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* v beats the current m: a larger value, or (maxabs) a larger |value|.
 * maxabs is a constant in each of the two expansions of pool_forward, so
 * each inner loop keeps one comparison. */
#define BEATS(v, m) (maxabs ? fabsf(v) > fabsf(m) : (v) > (m))

static inline __attribute__((always_inline)) void pool_forward(const ekn_pool_geom *g, const float *x, float *y,
                                                               int32_t *arg, const int maxabs, size_t nc0,
                                                               size_t nc1)
{
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    const int PZ = g->p[0], PY = g->p[1], PX = g->p[2];
    const int OZ = g->out[0], OY = g->out[1], OX = g->out[2];
    const size_t plane = (size_t)g->in[0] * Y * X;
    const size_t oplane = (size_t)OZ * OY * OX;
    float *yo = y + nc0 * oplane;
    int32_t *ao = arg + nc0 * oplane;
    for (size_t nc = nc0; nc < nc1; nc++) {
        const float *xp = x + nc * plane;
        for (int oz = 0; oz < OZ; oz++)
            for (int oy = 0; oy < OY; oy++, yo += OX, ao += OX) {
                /* the window's first input row seeds the row of maxima, so
                 * later rows replace only on a strict increase: ties keep the
                 * first element in (z,y,x) scan order, as _ref does */
                const size_t r0 = ((size_t)oz * PZ * Y + (size_t)oy * PY) * X;
                for (int ox = 0, ix = 0; ox < OX; ox++, ix += PX) {
                    float m = xp[r0 + ix];
                    int32_t a = (int32_t)(r0 + ix);
                    for (int dx = 1; dx < PX; dx++)
                        if (BEATS(xp[r0 + ix + dx], m)) {
                            m = xp[r0 + ix + dx];
                            a = (int32_t)(r0 + ix + dx);
                        }
                    yo[ox] = m;
                    ao[ox] = a;
                }
                for (int dz = 0; dz < PZ; dz++)
                    for (int dy = (dz == 0); dy < PY; dy++) {
                        const size_t r = r0 + ((size_t)dz * Y + dy) * X;
                        const float *restrict row = xp + r;
                        float *restrict ym = yo;
                        int32_t *restrict am = ao;
                        for (int ox = 0, ix = 0; ox < OX; ox++, ix += PX) {
                            float m = ym[ox];
                            int32_t a = am[ox];
                            for (int dx = 0; dx < PX; dx++)
                                if (BEATS(row[ix + dx], m)) { /* compiles to selects */
                                    m = row[ix + dx];
                                    a = (int32_t)(r + ix + dx);
                                }
                            ym[ox] = m;
                            am[ox] = a;
                        }
                    }
            }
    }
}

#undef BEATS

/* Threads (cpu_threads.h): the (n, c) planes are split into contiguous
 * ranges when the input holds at least EKN_CPU_SPLIT_MIN floats; each
 * plane is pooled as on one thread, so results do not depend on the count. */
typedef struct {
    const ekn_pool_geom *g;
    const float *x, *dy;
    float *y, *dx;
    int32_t *arg;
    const int32_t *carg;
} pool_job;

static void forward_planes(void *p, size_t nc0, size_t nc1)
{
    const pool_job *j = p;
    if (j->g->mode == EKN_POOL_MAXABS)
        pool_forward(j->g, j->x, j->y, j->arg, 1, nc0, nc1);
    else
        pool_forward(j->g, j->x, j->y, j->arg, 0, nc0, nc1);
}

static size_t planes_min(const ekn_pool_geom *g)
{
    size_t plane = (size_t)g->in[0] * g->in[1] * g->in[2];
    return plane ? (EKN_CPU_SPLIT_MIN + plane - 1) / plane : 1;
}

void ekn_maxpool_forward_cpu(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg)
{
    pool_job j = {g, x, NULL, y, NULL, arg, NULL};
    ekn_cpu_for((size_t)g->n * g->c, 1, planes_min(g), forward_planes, &j);
}

static void backward_planes(void *p, size_t nc0, size_t nc1)
{
    const pool_job *j = p;
    const ekn_pool_geom *g = j->g;
    const size_t plane = (size_t)g->in[0] * g->in[1] * g->in[2];
    const size_t oplane = (size_t)g->out[0] * g->out[1] * g->out[2];
    memset(j->dx + nc0 * plane, 0, (nc1 - nc0) * plane * sizeof *j->dx);
    for (size_t nc = nc0; nc < nc1; nc++) {
        float *restrict dxp = j->dx + nc * plane;
        const float *restrict d = j->dy + nc * oplane;
        const int32_t *restrict a = j->carg + nc * oplane;
        for (size_t o = 0; o < oplane; o++) dxp[a[o]] += d[o];
    }
}

void ekn_maxpool_backward_cpu(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx)
{
    pool_job j = {g, NULL, dy, NULL, dx, NULL, arg};
    ekn_cpu_for((size_t)g->n * g->c, 1, planes_min(g), backward_planes, &j);
}
