/* Strided prefix sums: counting the labels of a class (or the ignored ones)
 * under any patch's label lattice costs 8 lookups, so every patch corner of
 * a volume can be scanned once at start-up. */
#include "batch.h"

static inline size_t at(const int shape[3], int z, int y, int x)
{
    return ((size_t)z * shape[1] + y) * shape[2] + x;
}

/* S outside the volume is 0. */
static inline int32_t get(const int32_t *S, const int shape[3], int z, int y, int x)
{
    return z < 0 || y < 0 || x < 0 ? 0 : S[at(shape, z, y, x)];
}

void ekn_lattice_prefix(const uint8_t *ind, const int shape[3], const int stride[3], int32_t *S)
{
    const int sz = stride[0], sy = stride[1], sx = stride[2];
    for (int z = 0; z < shape[0]; z++)
        for (int y = 0; y < shape[1]; y++)
            for (int x = 0; x < shape[2]; x++)
                S[at(shape, z, y, x)] = ind[at(shape, z, y, x)] + get(S, shape, z - sz, y, x) +
                                        get(S, shape, z, y - sy, x) + get(S, shape, z, y, x - sx) -
                                        get(S, shape, z - sz, y - sy, x) - get(S, shape, z - sz, y, x - sx) -
                                        get(S, shape, z, y - sy, x - sx) + get(S, shape, z - sz, y - sy, x - sx);
}

int64_t ekn_lattice_count(const int32_t *S, const int shape[3], const int stride[3], const int start[3],
                          const int count[3])
{
    int hi[3], lo[3];
    for (int k = 0; k < 3; k++) {
        hi[k] = start[k] + stride[k] * (count[k] - 1);
        lo[k] = start[k] - stride[k];
    }
    int64_t sum = 0;
    for (int c = 0; c < 8; c++) {
        int z = c & 4 ? lo[0] : hi[0], y = c & 2 ? lo[1] : hi[1], x = c & 1 ? lo[2] : hi[2];
        int sign = __builtin_popcount((unsigned)c) & 1 ? -1 : 1;
        sum += sign * (int64_t)get(S, shape, z, y, x);
    }
    return sum;
}
