/* tta: the symmetries are described in tta.h. */
#include "tta.h"

#include <string.h>

int ekn_tta_maps(const char *name, int ndim, ekn_tta_map maps[EKN_TTA_MAX])
{
    int n = 0;
    if (!strcmp(name, "flips")) {
        int axes = ndim < 1 ? 1 : ndim > 3 ? 3 : ndim;
        for (int bits = 0; bits < 1 << axes; bits++) {
            ekn_tta_map g = {{0, 0, 0}, 0};
            for (int k = 0; k < axes; k++) g.flip[3 - axes + k] = bits >> k & 1;
            maps[n++] = g;
        }
        return n;
    }
    /* (transpose, flip Y, flip X): the rotations by 0, 90, 180, 270 degrees,
     * then the mirrors of the square */
    static const int sym[8][3] = {{0, 0, 0}, {1, 0, 1}, {0, 1, 1}, {1, 1, 0},
                                  {0, 0, 1}, {0, 1, 0}, {1, 0, 0}, {1, 1, 1}};
    int count = !strcmp(name, "d4") ? 4 : !strcmp(name, "d8") ? 8 : -1;
    for (int i = 0; i < count; i++) maps[n++] = (ekn_tta_map){{0, sym[i][1], sym[i][2]}, sym[i][0]};
    return count;
}

int ekn_tta_transposes(const ekn_tta_map *maps, int n)
{
    for (int i = 0; i < n; i++)
        if (maps[i].transpose) return 1;
    return 0;
}

/* The index in the untransformed example of position (z, y, x) of g's. */
static size_t source_index(const ekn_tta_map *g, int z, int y, int x, const int d[3])
{
    int a = g->transpose ? x : y, b = g->transpose ? y : x;
    if (g->flip[0]) z = d[0] - 1 - z;
    if (g->flip[1]) a = d[1] - 1 - a;
    if (g->flip[2]) b = d[2] - 1 - b;
    return ((size_t)z * d[1] + (size_t)a) * d[2] + (size_t)b;
}

void ekn_tta_apply(const ekn_tta_map *g, const float *src, float *dst, int C, const int d[3])
{
    size_t vol = (size_t)d[0] * d[1] * d[2];
    for (int c = 0; c < C; c++)
        for (int z = 0, i = 0; z < d[0]; z++)
            for (int y = 0; y < d[1]; y++)
                for (int x = 0; x < d[2]; x++, i++) dst[c * vol + (size_t)i] = src[c * vol + source_index(g, z, y, x, d)];
}

void ekn_tta_add_inverse(const ekn_tta_map *g, const float *src, float *acc, int C, const int d[3])
{
    size_t vol = (size_t)d[0] * d[1] * d[2];
    for (int c = 0; c < C; c++)
        for (int z = 0, i = 0; z < d[0]; z++)
            for (int y = 0; y < d[1]; y++)
                for (int x = 0; x < d[2]; x++, i++) acc[c * vol + source_index(g, z, y, x, d)] += src[c * vol + (size_t)i];
}
