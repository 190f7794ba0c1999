/* Reference crop (kernels/crop.h): the definition, element by element. */
#include "crop.h"

#include <stddef.h>
#include <stdint.h>

static int mul_within(size_t *acc, size_t v, size_t limit)
{
    if (v && *acc > limit / v) return -1;
    *acc *= v;
    return 0;
}

int ekn_crop_geom_init(ekn_crop_geom *g, int n, int c, const int in[3], const int off[3], const int out[3], int cy,
                       int c0)
{
    if (!g || !in || !off || !out || n < 1 || c < 1 || cy < 1 || c0 < 0 || c0 > cy - c) return -1;
    const size_t max_floats = SIZE_MAX / sizeof(float);
    size_t xs = (size_t)n * c, ys = (size_t)n * cy;
    for (int d = 0; d < 3; d++) {
        if (in[d] < 1 || out[d] < 1 || off[d] < 0 || off[d] > in[d] - out[d]) return -1;
        if (mul_within(&xs, (size_t)in[d], max_floats) || mul_within(&ys, (size_t)out[d], max_floats)) return -1;
        g->in[d] = in[d];
        g->off[d] = off[d];
        g->out[d] = out[d];
    }
    g->n = n;
    g->c = c;
    g->cy = cy;
    g->c0 = c0;
    return 0;
}

static size_t x_at(const ekn_crop_geom *g, int n, int c, int z, int y, int x)
{
    return ((((size_t)n * g->c + c) * g->in[0] + z + g->off[0]) * g->in[1] + y + g->off[1]) * g->in[2] + x +
           g->off[2];
}

static size_t y_at(const ekn_crop_geom *g, int n, int c, int z, int y, int x)
{
    return ((((size_t)n * g->cy + g->c0 + c) * g->out[0] + z) * g->out[1] + y) * g->out[2] + x;
}

void ekn_crop_forward_ref(const ekn_crop_geom *g, const float *x, float *y, int accumulate)
{
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++)
            for (int z = 0; z < g->out[0]; z++)
                for (int yy = 0; yy < g->out[1]; yy++)
                    for (int xx = 0; xx < g->out[2]; xx++) {
                        float v = x[x_at(g, n, c, z, yy, xx)];
                        float *t = &y[y_at(g, n, c, z, yy, xx)];
                        *t = accumulate ? *t + v : v;
                    }
}

void ekn_crop_backward_ref(const ekn_crop_geom *g, const float *dy, float *dx)
{
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->c; c++)
            for (int z = 0; z < g->out[0]; z++)
                for (int yy = 0; yy < g->out[1]; yy++)
                    for (int xx = 0; xx < g->out[2]; xx++) dx[x_at(g, n, c, z, yy, xx)] += dy[y_at(g, n, c, z, yy, xx)];
}
