/* Fast crop (kernels/crop.h): one window row (out X floats, contiguous in
 * both tensors) at a time, memcpy or an add loop the compiler vectorises;
 * the same float operations as _ref, so the results are identical. */
#include "crop.h"

#include "cpu_threads.h"

#include <stddef.h>
#include <string.h>

enum { COPY_TO_Y, ADD_TO_Y, ADD_TO_X };

static void add_row(float *restrict to, const float *restrict from, size_t len)
{
    for (size_t i = 0; i < len; i++) to[i] += from[i];
}

/* Every window row: its start in x (xr) and in y (yr), then the move. */
static void rows(const ekn_crop_geom *g, float *x, float *y, int mode, size_t nc0, size_t nc1)
{
    const size_t xplane = (size_t)g->in[0] * g->in[1] * g->in[2];
    const size_t yplane = (size_t)g->out[0] * g->out[1] * g->out[2], len = (size_t)g->out[2];
    for (size_t nc = nc0; nc < nc1; nc++) {
        const size_t n = nc / (size_t)g->c, c = nc % (size_t)g->c;
        float *xp = x + (n * g->c + c) * xplane + g->off[2];
        float *yp = y + (n * g->cy + g->c0 + c) * yplane;
        for (int z = 0; z < g->out[0]; z++)
            for (int yy = 0; yy < g->out[1]; yy++) {
                float *xr = xp + ((size_t)(z + g->off[0]) * g->in[1] + yy + g->off[1]) * g->in[2];
                float *yr = yp + ((size_t)z * g->out[1] + yy) * len;
                if (mode == COPY_TO_Y)
                    memcpy(yr, xr, len * sizeof *yr);
                else if (mode == ADD_TO_Y)
                    add_row(yr, xr, len);
                else
                    add_row(xr, yr, len);
            }
    }
}

/* Threads (cpu_threads.h): the (n, c) planes split into contiguous ranges
 * when the window holds at least EKN_CPU_SPLIT_MIN floats; each plane
 * moves its own rows, so the results do not depend on the count. */
typedef struct {
    const ekn_crop_geom *g;
    float *x, *y;
    int mode;
} crop_job;

static void rows_range(void *p, size_t nc0, size_t nc1)
{
    const crop_job *j = p;
    rows(j->g, j->x, j->y, j->mode, nc0, nc1);
}

static void rows_all(const ekn_crop_geom *g, float *x, float *y, int mode)
{
    const size_t yplane = (size_t)g->out[0] * g->out[1] * g->out[2];
    crop_job j = {g, x, y, mode};
    ekn_cpu_for((size_t)g->n * g->c, 1, yplane ? (EKN_CPU_SPLIT_MIN + yplane - 1) / yplane : 1, rows_range, &j);
}

/* rows() writes only the side the mode names: x is read-only for the
 * forward modes, dy for the backward one */
void ekn_crop_forward_cpu(const ekn_crop_geom *g, const float *x, float *y, int accumulate)
{
    rows_all(g, (float *)x, y, accumulate ? ADD_TO_Y : COPY_TO_Y);
}

void ekn_crop_backward_cpu(const ekn_crop_geom *g, const float *dy, float *dx)
{
    rows_all(g, dx, (float *)dy, ADD_TO_X);
}
