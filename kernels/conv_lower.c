/* vol2col and col2vol over a range of units (see conv_lower.h).
 *
 * For one example, the col rows (ci,dz,dy,0..kx-1) are (OZ,OY,OX) windows of
 * the input plane that differ only by a shift along x: runs of OX floats at
 * stride X, rows at stride Y*X.  The copy loops take one input run and write
 * it to the kx rows at once.  When kx == 1 the runs are adjacent in the input
 * and are merged, so 1x1x1 and kz x 1 x 1 kernels copy whole planes.
 *
 * A geometry with a stride or padding goes to the general lowering at the
 * end of the file (one branch per call, taken on u->general), so the copy
 * loops of the plain case stay as they were. */
#include "conv_lower.h"

#include <string.h>

void ekn_conv_units_of(const ekn_conv_geom *g, ekn_conv_units *u)
{
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    if (!ekn_conv_plain(g)) { /* one unit per output row */
        *u = (ekn_conv_units){(size_t)g->out[0], (size_t)g->out[1], (size_t)g->out[2], 0, 0, 0, 0, 1};
        u->per_example = u->nz * u->ny;
        u->count = (size_t)g->n * u->per_example;
        return;
    }
    *u = (ekn_conv_units){(size_t)g->out[0], (size_t)g->out[1], (size_t)g->out[2], Y * X, X, 0, 0, 0};
    if (u->run == X) { /* rows adjacent: one run per z slice */
        u->run *= u->ny;
        u->ny = 1;
        if (u->run == Y * X) { /* slices adjacent too: one run per window */
            u->run *= u->nz;
            u->nz = 1;
        }
    }
    u->per_example = u->nz * u->ny;
    u->count = (size_t)g->n * u->per_example;
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

/* Walks units k, k+1, ... keeping the offset in x (or dx) of each one's
 * first input element (channel 0, kernel offset (0,0,0)) without the
 * divisions that locating a unit from scratch takes, which cost as much as
 * copying a short run. */
typedef struct {
    size_t z, y;   /* position of the unit in its example */
    size_t origin; /* its first input element */
} unit_walk;

static unit_walk walk_from(const ekn_conv_geom *g, const ekn_conv_units *u, size_t k)
{
    const size_t plane = (size_t)g->in[0] * g->in[1] * g->in[2];
    const size_t n = k / u->per_example, r = k % u->per_example;
    unit_walk w = {r / u->ny, r % u->ny, 0};
    w.origin = n * g->cin * plane + w.z * u->sz + w.y * u->sy;
    return w;
}

static inline void walk_next(const ekn_conv_geom *g, const ekn_conv_units *u, unit_walk *w)
{
    w->origin += u->sy;
    if (++w->y < u->ny) return;
    w->y = 0;
    w->origin += u->sz - u->ny * u->sy;
    if (++w->z < u->nz) return;
    w->z = 0;
    w->origin += (size_t)g->cin * g->in[0] * g->in[1] * g->in[2] - u->nz * u->sz;
}

static void vol2col_general(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                            const float *x, float *col, size_t ldc);
static void col2vol_general(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                            const float *col, size_t ldc, float *dx);

void ekn_vol2col_units(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                       const float *x, float *col, size_t ldc)
{
    if (u->general) {
        vol2col_general(g, u, u0, u1, x, col, ldc);
        return;
    }
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    const size_t plane = (size_t)g->in[0] * Y * X;
    const int KX = g->k[2];
    for (int ci = 0; ci < g->cin; ci++)
        for (int kz = 0; kz < g->k[0]; kz++)
            for (int ky = 0; ky < g->k[1]; ky++) {
                float *rows = col + (((size_t)ci * g->k[0] + kz) * g->k[1] + ky) * KX * ldc;
                const float *base = x + ci * plane + kz * Y * X + ky * X;
                unit_walk w = walk_from(g, u, u0);
                for (size_t k = u0; k < u1; k++, rows += u->run, walk_next(g, u, &w)) {
                    const float *s = base + w.origin;
                    for (int kx = 0; kx < KX; kx++) copy_run(rows + kx * ldc, s + kx, u->run);
                }
            }
}

/* Unlike vol2col, kx is not the inner loop: runs shifted by one float would
 * read back each other's fresh partial stores, which the CPU cannot forward
 * (measured 4x slower). */
void ekn_col2vol_units(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                       const float *col, size_t ldc, float *dx)
{
    if (u->general) {
        col2vol_general(g, u, u0, u1, col, ldc, dx);
        return;
    }
    const size_t Y = (size_t)g->in[1], X = (size_t)g->in[2];
    const size_t plane = (size_t)g->in[0] * Y * X;
    for (int ci = 0; ci < g->cin; ci++)
        for (int kz = 0; kz < g->k[0]; kz++)
            for (int ky = 0; ky < g->k[1]; ky++)
                for (int kx = 0; kx < g->k[2]; kx++) {
                    const size_t row = ((((size_t)ci * g->k[0] + kz) * g->k[1] + ky) * g->k[2] + kx);
                    const float *src = col + row * ldc;
                    float *base = dx + ci * plane + kz * Y * X + ky * X + (size_t)kx;
                    unit_walk w = walk_from(g, u, u0);
                    for (size_t k = u0; k < u1; k++, src += u->run, walk_next(g, u, &w))
                        add_run(base + w.origin, src, u->run);
                }
}

/* ---- the general lowering: any stride and padding ---------------------
 * Row by row of col (ci,dz,dy,dx), unit by unit (output rows (n,oz,oy)):
 * a row of the window inside the input along z and y reads the input row
 * (n,ci,oz*sz+dz-pz, oy*sy+dy-py) at x = ox*sx+dx-px for the ox of
 * [lo, hi) (x_range), and the rest of the unit is padding. */

/* [lo, hi): the ox whose input ox*sx + t - px lies in [0, X), for kernel
 * offset t along x (empty when the tap only ever meets padding). */
static void x_range(const ekn_conv_geom *g, int t, size_t *lo, size_t *hi)
{
    const long long S = g->stride[2], a = (long long)g->pad[2] - t, b = (long long)g->in[2] - 1 + g->pad[2] - t;
    long long l = a <= 0 ? 0 : (a + S - 1) / S; /* ox*S >= a */
    long long h = b < 0 ? 0 : b / S + 1;        /* ox*S <= b */
    if (h > g->out[2]) h = g->out[2];
    if (l > h) l = h;
    *lo = (size_t)l;
    *hi = (size_t)h;
}

/* The output row of a unit, walked without divisions. */
typedef struct {
    size_t n, oz, oy;
} row_walk;

static row_walk row_from(const ekn_conv_units *u, size_t k)
{
    const size_t r = k % u->per_example;
    return (row_walk){k / u->per_example, r / u->ny, r % u->ny};
}

static inline void row_next(const ekn_conv_units *u, row_walk *w)
{
    if (++w->oy < u->ny) return;
    w->oy = 0;
    if (++w->oz < u->nz) return;
    w->oz = 0;
    w->n++;
}

/* Whether a unit's window row (ci, dz, dy) lies inside the input along z
 * and y (else in the padding); if so *at is the offset of that input row
 * in x (or dx). */
static inline int input_row(const ekn_conv_geom *g, const row_walk *w, int ci, int dz, int dy, size_t *at)
{
    const long long iz = (long long)w->oz * g->stride[0] + dz - g->pad[0];
    const long long iy = (long long)w->oy * g->stride[1] + dy - g->pad[1];
    if (iz < 0 || iz >= g->in[0] || iy < 0 || iy >= g->in[1]) return 0;
    *at = (((w->n * g->cin + (size_t)ci) * g->in[0] + (size_t)iz) * g->in[1] + (size_t)iy) * g->in[2];
    return 1;
}

static void vol2col_general(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                            const float *x, float *col, size_t ldc)
{
    const size_t OX = u->run, SX = (size_t)g->stride[2];
    for (int ci = 0; ci < g->cin; ci++)
        for (int dz = 0; dz < g->k[0]; dz++)
            for (int dy = 0; dy < g->k[1]; dy++)
                for (int dx = 0; dx < g->k[2]; dx++) {
                    const size_t r = (((size_t)ci * g->k[0] + dz) * g->k[1] + dy) * g->k[2] + dx;
                    float *dst = col + r * ldc;
                    size_t lo, hi;
                    x_range(g, dx, &lo, &hi);
                    /* first input element of the window's row: x = lo*sx + dx - px >= 0 */
                    const size_t first = lo < hi ? lo * SX + (size_t)dx - (size_t)g->pad[2] : 0;
                    row_walk w = row_from(u, u0);
                    for (size_t k = u0; k < u1; k++, dst += OX, row_next(u, &w)) {
                        size_t at;
                        if (lo == hi || !input_row(g, &w, ci, dz, dy, &at)) {
                            memset(dst, 0, OX * sizeof *dst);
                            continue;
                        }
                        const float *s = x + at + first;
                        for (size_t i = 0; i < lo; i++) dst[i] = 0;
                        if (SX == 1)
                            copy_run(dst + lo, s, hi - lo);
                        else
                            for (size_t i = lo; i < hi; i++, s += SX) dst[i] = *s;
                        for (size_t i = hi; i < OX; i++) dst[i] = 0;
                    }
                }
}

static void col2vol_general(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                            const float *col, size_t ldc, float *dx)
{
    const size_t OX = u->run, SX = (size_t)g->stride[2];
    for (int ci = 0; ci < g->cin; ci++)
        for (int kz = 0; kz < g->k[0]; kz++)
            for (int ky = 0; ky < g->k[1]; ky++)
                for (int kx = 0; kx < g->k[2]; kx++) {
                    const size_t r = (((size_t)ci * g->k[0] + kz) * g->k[1] + ky) * g->k[2] + kx;
                    const float *src = col + r * ldc;
                    size_t lo, hi;
                    x_range(g, kx, &lo, &hi);
                    if (lo == hi) continue; /* this tap only ever meets padding */
                    const size_t first = lo * SX + (size_t)kx - (size_t)g->pad[2];
                    row_walk w = row_from(u, u0);
                    for (size_t k = u0; k < u1; k++, src += OX, row_next(u, &w)) {
                        size_t at;
                        if (!input_row(g, &w, ci, kz, ky, &at)) continue;
                        float *d = dx + at + first;
                        if (SX == 1)
                            add_run(d, src + lo, hi - lo);
                        else
                            for (size_t i = lo; i < hi; i++, d += SX) *d += src[i];
                    }
                }
}
