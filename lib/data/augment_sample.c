/* augment_sample: resampling through a sampling map, row by row.
 *
 * Each output row (z, y) gets its source coordinates once (affine part as
 * base + step * x, the perspective division, the displacement field), then
 * plain loops over X gather every channel: no per-voxel calls. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

static int grow(ekn_aug_work *w, size_t floats, size_t ints)
{
    if (floats > w->row_cap) {
        float *p = realloc(w->row, floats * sizeof *p);
        if (!p) return -1;
        w->row = p, w->row_cap = floats;
    }
    if (ints > w->idx_cap) {
        int32_t *p = realloc(w->idx, ints * sizeof *p);
        if (!p) return -1;
        w->idx = p, w->idx_cap = ints;
    }
    return 0;
}

/* Source coordinates (cz, cy, cx) of output row (z, y). */
static void row_coords(const ekn_aug_map *m, int z, int y, float *cz, float *cy, float *cx)
{
    const int X = m->g.out[2];
    const ekn_aug_params *p = m->p;
    double dz = z - m->c_out[0], dy = y - m->c_out[1], dx0 = -m->c_out[2];
    double base[3], step[3];
    for (int k = 0; k < 3; k++) {
        base[k] = m->a[k][0] * dz + m->a[k][1] * dy + m->a[k][2] * dx0;
        step[k] = m->a[k][2];
    }
    float *c[3] = {cz, cy, cx};
    if (p->persp[0] != 0 || p->persp[1] != 0) {
        /* coefficients per half patch, so their effect does not depend on the size */
        double hy = fmax(1, m->c_out[1]), hx = fmax(1, m->c_out[2]);
        double w0 = 1 + p->persp[0] * dy / hy + p->persp[1] * dx0 / hx, wstep = p->persp[1] / hx;
        for (int x = 0; x < X; x++) {
            double inv = 1 / (w0 + wstep * x);
            cz[x] = (float)(base[0] + step[0] * x + m->b[0]);
            cy[x] = (float)((base[1] + step[1] * x) * inv + m->b[1]);
            cx[x] = (float)((base[2] + step[2] * x) * inv + m->b[2]);
        }
    } else {
        for (int k = 0; k < 3; k++) {
            float *ck = c[k];
            for (int x = 0; x < X; x++) ck[x] = (float)(base[k] + step[k] * x + m->b[k]);
        }
    }
    if (!m->field) return;
    size_t plane = (size_t)m->g.out[1] * X;
    if (m->ndisp == 2) {
        const float *fy = m->field + (size_t)y * X, *fx = fy + plane;
        for (int x = 0; x < X; x++) cy[x] += fy[x], cx[x] += fx[x];
    } else {
        size_t vol = plane * m->g.out[0];
        const float *fz = m->field + ((size_t)z * m->g.out[1] + y) * X, *fy = fz + vol, *fx = fy + vol;
        for (int x = 0; x < X; x++) cz[x] += fz[x], cy[x] += fy[x], cx[x] += fx[x];
    }
}

/* Within the source along an axis of n voxels (a hair of slack for rounding). */
static inline int outside(float c, int n) { return !(c >= -1e-3f && c <= (float)(n - 1) + 1e-3f); }

/* Clamped lower grid index and fraction for linear interpolation. */
static inline int lin_index(float c, int n, float *f)
{
    if (n < 2) {
        *f = 0;
        return 0;
    }
    float cc = c < 0 ? 0 : c > (float)(n - 1) ? (float)(n - 1) : c;
    int i = (int)cc;
    if (i > n - 2) i = n - 2;
    *f = cc - (float)i;
    return i;
}

static inline int near_index(float c, int n)
{
    int i = (int)floorf(c + 0.5f);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

size_t ekn_aug_sample_f32(const ekn_aug_map *m, const float *src, float *dst, int channels, ekn_aug_work *w)
{
    const int *S = m->g.src, *O = m->g.out;
    const int X = O[2];
    if (grow(w, 6 * (size_t)X, (size_t)X)) return (size_t)-1;
    float *cz = w->row, *cy = cz + X, *cx = cy + X, *fz = cx + X, *fy = fz + X, *fx = fy + X;
    int32_t *idx = w->idx;
    const size_t svol = (size_t)S[0] * S[1] * S[2], ovol = (size_t)O[0] * O[1] * X;
    const ptrdiff_t sx = S[2] > 1, sy = S[1] > 1 ? S[2] : 0, sz = S[0] > 1 ? (ptrdiff_t)S[1] * S[2] : 0;
    const int nearest = m->lattice_only, trilinear = !nearest && !m->g.in_plane && S[0] > 1;
    size_t out_count = 0;
    for (int z = 0; z < O[0]; z++)
        for (int y = 0; y < O[1]; y++) {
            row_coords(m, z, y, cz, cy, cx);
            for (int x = 0; x < X; x++) {
                out_count += outside(cz[x], S[0]) | outside(cy[x], S[1]) | outside(cx[x], S[2]);
                int iz, iy, ix;
                if (nearest) {
                    iz = near_index(cz[x], S[0]), iy = near_index(cy[x], S[1]), ix = near_index(cx[x], S[2]);
                } else {
                    iy = lin_index(cy[x], S[1], &fy[x]);
                    ix = lin_index(cx[x], S[2], &fx[x]);
                    if (trilinear) iz = lin_index(cz[x], S[0], &fz[x]);
                    else iz = near_index(cz[x], S[0]);
                }
                idx[x] = (int32_t)(((size_t)iz * S[1] + iy) * S[2] + ix);
            }
            size_t row = ((size_t)z * O[1] + y) * X;
            for (int c = 0; c < channels; c++) {
                const float *s = src + c * svol;
                float *d = dst + c * ovol + row;
                if (nearest) {
                    for (int x = 0; x < X; x++) d[x] = s[idx[x]];
                } else if (!trilinear) {
                    for (int x = 0; x < X; x++) {
                        const float *q = s + idx[x];
                        float top = q[0] + fx[x] * (q[sx] - q[0]);
                        float bot = q[sy] + fx[x] * (q[sy + sx] - q[sy]);
                        d[x] = top + fy[x] * (bot - top);
                    }
                } else {
                    for (int x = 0; x < X; x++) {
                        const float *q = s + idx[x], *r = q + sz;
                        float t0 = q[0] + fx[x] * (q[sx] - q[0]);
                        float b0 = q[sy] + fx[x] * (q[sy + sx] - q[sy]);
                        float t1 = r[0] + fx[x] * (r[sx] - r[0]);
                        float b1 = r[sy] + fx[x] * (r[sy + sx] - r[sy]);
                        float v0 = t0 + fy[x] * (b0 - t0), v1 = t1 + fy[x] * (b1 - t1);
                        d[x] = v0 + fz[x] * (v1 - v0);
                    }
                }
            }
        }
    return out_count;
}

/* Nearest-neighbour indices of one row; -1 where the source is outside. */
static size_t near_row(const ekn_aug_map *m, int z, int y, ekn_aug_work *w)
{
    const int *S = m->g.src;
    const int X = m->g.out[2];
    float *cz = w->row, *cy = cz + X, *cx = cy + X;
    row_coords(m, z, y, cz, cy, cx);
    size_t out_count = 0;
    for (int x = 0; x < X; x++) {
        if (outside(cz[x], S[0]) | outside(cy[x], S[1]) | outside(cx[x], S[2])) {
            w->idx[x] = -1;
            out_count++;
            continue;
        }
        w->idx[x] = (int32_t)(((size_t)near_index(cz[x], S[0]) * S[1] + near_index(cy[x], S[1])) * S[2] +
                              near_index(cx[x], S[2]));
    }
    return out_count;
}

size_t ekn_aug_sample_i32(const ekn_aug_map *m, const int32_t *src, int32_t *dst, int32_t outside_value,
                          ekn_aug_work *w)
{
    const int *O = m->g.out;
    if (grow(w, 3 * (size_t)O[2], (size_t)O[2])) return (size_t)-1;
    size_t out_count = 0;
    for (int z = 0; z < O[0]; z++)
        for (int y = 0; y < O[1]; y++) {
            out_count += near_row(m, z, y, w);
            int32_t *d = dst + ((size_t)z * O[1] + y) * O[2];
            for (int x = 0; x < O[2]; x++) d[x] = w->idx[x] < 0 ? outside_value : src[w->idx[x]];
        }
    return out_count;
}

size_t ekn_aug_sample_u8(const ekn_aug_map *m, const uint8_t *src, uint8_t *dst, ekn_aug_work *w)
{
    const int *O = m->g.out;
    if (grow(w, 3 * (size_t)O[2], (size_t)O[2])) return (size_t)-1;
    size_t out_count = 0;
    for (int z = 0; z < O[0]; z++)
        for (int y = 0; y < O[1]; y++) {
            out_count += near_row(m, z, y, w);
            uint8_t *d = dst + ((size_t)z * O[1] + y) * O[2];
            for (int x = 0; x < O[2]; x++) d[x] = w->idx[x] < 0 ? 0 : src[w->idx[x]];
        }
    return out_count;
}

void ekn_aug_lattice(const void *src, void *dst, size_t elem, int channels, const int shape[3], int transpose,
                     const int flip[3])
{
    const int Z = shape[0], Y = shape[1], X = shape[2];
    const size_t vol = (size_t)Z * Y * X;
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (int c = 0; c < channels; c++)
        for (int z = 0; z < Z; z++) {
            int sz = flip[0] ? Z - 1 - z : z;
            for (int y = 0; y < Y; y++)
                for (int x = 0; x < X; x++) {
                    int ty = transpose ? x : y, tx = transpose ? y : x;
                    int sy = flip[1] ? Y - 1 - ty : ty, sx = flip[2] ? X - 1 - tx : tx;
                    memcpy(d + (c * vol + ((size_t)z * Y + y) * X + x) * elem,
                           s + (c * vol + ((size_t)sz * Y + sy) * X + sx) * elem, elem);
                }
        }
}
