/* conv_lower: the copies between a volume and its lowered (col) form, for a
 * range of output columns, used by conv_cpu.c.  Internal to the kernels.
 *
 * col has K = Cin*kz*ky*kx rows indexed (ci,dz,dy,dx) and one column per
 * output position, columns ordered (n,oz,oy,ox) as in y.  The columns are
 * grouped into "units": a unit is one run of contiguous output positions
 * whose inputs are contiguous too (one output row, or a whole plane or
 * volume when the kernel spans x or y completely), so a unit is the finest
 * grain at which the lowering can be cut into chunks.
 *
 * That holds for stride 1 and pad 0 (ekn_conv_plain), the tuned path.  Any
 * other geometry is lowered by a general path: a unit is then one output
 * row (OX columns, units ordered (n,oz,oy)), col holds 0 where the window
 * reaches into the padding, and col2vol drops those entries. */
#ifndef EKN_CONV_LOWER_H
#define EKN_CONV_LOWER_H
#include <stddef.h>

#include "conv.h"

typedef struct {
    size_t nz, ny, run;   /* units per example: nz * ny, each run columns long */
    size_t sz, sy;        /* input strides between units along z and y */
    size_t per_example;   /* nz * ny */
    size_t count;         /* units in the batch: n * per_example */
    int general;          /* stride or pad: the general lowering (sz, sy unused) */
} ekn_conv_units;

/* Stride 1 and pad 0 on every axis. */
static inline int ekn_conv_plain(const ekn_conv_geom *g)
{
    for (int d = 0; d < 3; d++)
        if (g->stride[d] != 1 || g->pad[d] != 0) return 0;
    return 1;
}

void ekn_conv_units_of(const ekn_conv_geom *g, ekn_conv_units *u);

/* col[r*ldc + c] for the columns of units [u0,u1), c counted from u0's
 * first column (ldc >= (u1-u0)*run).  Overwrites those columns. */
void ekn_vol2col_units(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                       const float *x, float *col, size_t ldc);

/* The adjoint: dx += every entry of those col columns at the input element
 * it was copied from.  dx is accumulated, never cleared here. */
void ekn_col2vol_units(const ekn_conv_geom *g, const ekn_conv_units *u, size_t u0, size_t u1,
                       const float *col, size_t ldc, float *dx);
#endif
