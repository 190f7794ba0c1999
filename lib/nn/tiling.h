/* tiling: the geometry of dense img-img prediction (ekn-predict --dense).
 *
 * A net with field of view F and stride S per axis maps a valid input tile
 * of T = F + S * (o - 1) voxels to o outputs, at tile positions
 * offset + S * j.  Dense prediction wants one output per position where the
 * field of view fits: the volume of n voxels (n + 2 * pad once padded) has
 * out = n + 2 * pad - F + 1 dense outputs, dense output q being the window
 * that starts at padded voxel q (centred on padded voxel q + offset).
 *
 * Shift and stitch: a tile whose window starts at a covers the dense
 * outputs a, a + S, ..., a + S * (o - 1).  Per axis the plan lists window
 * starts for every residue r = 0..S-1, in chunks of o outputs, the last
 * chunk of a residue moved back to end at its last output (overlaps are
 * recomputed, which is harmless).  Tiles are the product of the three axes'
 * starts; every tile has the same shape, so one net serves the volume.
 *
 * With max fragment pooling (mfp: every pool sets mfp = 1, net_mfp.h) a
 * tile of T = fov - 1 + S * o voxels gives all its S * o outputs at stride
 * 1, so tiles are chunks of S * o outputs, the last moved back to end at
 * the volume's last output.  A volume with fewer than S outputs in an axis
 * falls back to shift and stitch (t->mfp says which is used), ignoring
 * the tile sizes asked for.
 *
 * Graph networks (spec.h) need not have valid input sizes one stride
 * apart: a U-Net takes tiles of base + step * (m - 1) voxels (step: the
 * distance between valid sizes) and gives out_base + out_step * (m - 1)
 * outputs at its stride, e.g. 44 + 4 (m - 1) voxels to 4 + 4 (m - 1)
 * outputs at stride 1.  The plan counts tile sizes by m and outputs by that
 * rule (a chain has out_base = out_step = 1), and the field of view is the
 * effective one, base - stride * (out_base - 1).
 *
 * Padding (pad = offset on each side): zero, or mirror, which reflects
 * about the edge voxel without repeating it (numpy's mode 'reflect',
 * periodically for pads wider than the volume).  Then out == n. */
#ifndef EKN_TILING_H
#define EKN_TILING_H
#include <stddef.h>

#include "diag.h"
#include "spec.h"

typedef enum ekn_pad_mode { EKN_PAD_NONE = 0, EKN_PAD_ZERO, EKN_PAD_MIRROR } ekn_pad_mode;

typedef struct ekn_tiling_axis {
    int fov, step, offset;   /* of the net along this axis (step: its stride) */
    int base;                /* smallest tile: fov, with MFP fov + step - 1 */
    int unused;              /* an axis the spec does not use: tiles of 1, the volume slice by slice */
    int stride;              /* of the outputs within a tile: the net's stride, 1 with MFP */
    int out_base, out_step;  /* outputs of the smallest tile, and per step of its size (chains: 1, 1) */
    int pad;                 /* voxels added on each side */
    int in, out;             /* volume size; dense outputs in + 2 * pad - fov + 1 */
    int tile, tile_out;      /* tile input size, and its (strided) outputs */
    int nstarts;
    int *starts;             /* window starts, in padded coordinates */
    int *source;             /* per padded voxel: the volume voxel it copies, -1 for zero */
    int vol_lo, vol_n;       /* the box of the volume that ekn_tiling_gather reads: voxels vol_lo..+vol_n (0, in) */
} ekn_tiling_axis;

typedef struct ekn_tiling {
    ekn_tiling_axis ax[3];   /* Z, Y, X */
    size_t ntiles;           /* product of the axes' nstarts */
    int mfp;                 /* tiles run with max fragment pooling (net_mfp.h) */
    int batch;               /* tiles per forward pass within the memory budget */
    double tile_bytes;       /* estimated network memory per tile */
} ekn_tiling;

/* Plans the tiles for one volume of spatial size in[3] (Z,Y,X; 1 for axes
 * the spec does not use).  tile[3]: the requested tile input sizes (0 per
 * axis: choose), each a valid input size of the spec, reduced to what the
 * volume needs.  Chosen tiles are the largest whose batch of
 * min(max_batch, S^d) tiles (1 tile with MFP) fits in max_bytes of network memory (at least
 * the smallest valid tile).  Fails with EKN_EXIT_SPEC when the (padded)
 * volume is smaller than the field of view or a requested tile is not a
 * valid input size; EKN_EXIT_FAIL when out of memory. */
int ekn_tiling_plan(ekn_tiling *t, const ekn_spec *spec, const int in[3], ekn_pad_mode pad, const int tile[3],
                    double max_bytes, int max_batch, int mfp, ekn_err *err);
void ekn_tiling_free(ekn_tiling *t);

/* The window start (padded coordinates) of tile i < ntiles. */
void ekn_tiling_start(const ekn_tiling *t, size_t i, int start[3]);

/* Copies the tile window at start[] of the padded volume into dst
 * (c, tile Z, Y, X); vol is (c, vol_n Z, Y, X), the box at vol_lo of the
 * volume (all of it unless ekn_tiling_box set a box). */
void ekn_tiling_gather(const ekn_tiling *t, const float *vol, int c, const int start[3], float *dst);

/* Writes the tile's net outputs (k, tile_out Z, Y, X) into the dense
 * outputs (k, out Z, Y, X) at start + stride * j. */
void ekn_tiling_scatter(const ekn_tiling *t, const float *tile_out, int k, const int start[3], float *dense);

/* Spatial voxels of the dense output. */
size_t ekn_tiling_out_spatial(const ekn_tiling *t);
/* ---- regions of the dense output (ekn-predict --roi, --block) --------------
 * A region [lo, hi) per axis of the dense output is predicted by the tiles
 * of the whole volume's plan whose outputs meet it, in the plan's order, so
 * every output voxel is computed by the same tile at the same place as in a
 * prediction of the whole volume, and the last of them to write it is the
 * same: a region's values are the whole prediction's, byte for byte. */

/* Block b of n along axis k: [*lo, *hi) of that axis's dense outputs.
 * Boundaries fall on multiples of one tile's span of outputs (tile_out *
 * stride; 1 in an unused axis) when the axis has at least n of them, else
 * at b * out / n.  Needs 0 <= b < n <= ax[k].out. */
void ekn_tiling_block(const ekn_tiling *t, int k, int b, int n, int *lo, int *hi);

/* Keeps only the tiles whose outputs meet [lo[k], hi[k]) in every axis
 * (in their order), ntiles updated; batch stays the whole plan's. */
void ekn_tiling_restrict(ekn_tiling *t, const int lo[3], const int hi[3]);

/* The box of the volume the tiles (those ekn_tiling_restrict kept) read:
 * per axis the voxels lo..lo+n-1 (n >= 1), set as the box that
 * ekn_tiling_gather reads. */
void ekn_tiling_box(ekn_tiling *t, int lo[3], int n[3]);

/* As ekn_tiling_scatter, into the region [lo, hi) of the dense outputs:
 * region is (k, hi - lo per axis); outputs outside it are dropped. */
void ekn_tiling_scatter_region(const ekn_tiling *t, const float *tile_out, int k, const int start[3], const int lo[3],
                               const int hi[3], float *region);
#endif
