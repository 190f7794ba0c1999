/* tta: test-time augmentation (ekn-predict --tta): the symmetries an input
 * is predicted under, and the maps between an example and its transformed
 * copies.
 *
 * A symmetry mirrors Z, Y and X or not, then transposes Y with X or not:
 *     g(v) = transpose(mirror(v)), so that
 *     g(v)[c][z][y][x] = v[c][z'][y'][x'],  (y', x') = t ? (x, y) : (y, x),
 *     then z' = Z-1-z' if fz, likewise y' and x',
 * a bijection of positions, so its inverse is the same map read the other
 * way (scattered instead of gathered).  The sets:
 *     flips  every combination of mirrors of the spatial axes (4 in 2D, 8 in 3D)
 *     d4     the four rotations by multiples of 90 degrees in the Y-X plane
 *     d8     those and their mirror images: the eight symmetries of the square
 * A transpose needs Y and X of one size. */
#ifndef EKN_TTA_H
#define EKN_TTA_H
#include <stddef.h>

typedef struct ekn_tta_map {
    int flip[3];   /* Z, Y, X */
    int transpose; /* Y with X, after the mirrors */
} ekn_tta_map;

enum { EKN_TTA_MAX = 8 };

/* The maps of set `name` (flips, d4, d8) for ndim spatial axes into maps[];
 * returns how many (the identity first), or -1 for an unknown name. */
int ekn_tta_maps(const char *name, int ndim, ekn_tta_map maps[EKN_TTA_MAX]);
/* 1 when some map of the set transposes. */
int ekn_tta_transposes(const ekn_tta_map *maps, int n);

/* dst = g(src) for C channels of shape dims (Z, Y, X); dims[1] == dims[2]
 * when g transposes.  dst and src must not overlap. */
void ekn_tta_apply(const ekn_tta_map *g, const float *src, float *dst, int C, const int dims[3]);
/* acc += g^-1(src): a prediction of the transformed example back onto the
 * original's positions. */
void ekn_tta_add_inverse(const ekn_tta_map *g, const float *src, float *acc, int C, const int dims[3]);
#endif
