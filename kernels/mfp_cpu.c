#include "mfp.h"

#include <stddef.h>
#include <string.h>

static size_t prod3(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

void ekn_mfp_crop_cpu(const ekn_mfp_crop_geom *g, const float *x, float *y)
{
    const int *in = g->in, *p = g->p;
    int span[3] = {g->out[0] * p[0], g->out[1] * p[1], g->out[2] * p[2]};
    for (int b = 0; b < g->n; b++)
        for (int dz = 0; dz < p[0]; dz++)
            for (int dy = 0; dy < p[1]; dy++)
                for (int dx = 0; dx < p[2]; dx++)
                    for (int ch = 0; ch < g->c; ch++) {
                        const float *plane = x + ((size_t)b * g->c + ch) * prod3(in);
                        for (int z = 0; z < span[0]; z++)
                            for (int yy = 0; yy < span[1]; yy++) {
                                memcpy(y, plane + ((size_t)(dz + z) * in[1] + dy + yy) * in[2] + dx,
                                       (size_t)span[2] * sizeof *y);
                                y += span[2];
                            }
                    }
}

void ekn_mfp_interleave_cpu(const ekn_mfp_interleave_geom *g, const int32_t *shift, const float *x, float *y)
{
    const int *fo = g->frag_out, *S = g->stride, *out = g->out;
    for (int e = 0; e < g->n; e++)
        for (int f = 0; f < g->frags; f++)
            for (int k = 0; k < g->c; k++) {
                float *dst = y + ((size_t)e * g->c + k) * prod3(out);
                const int32_t *sh = shift + 3 * (size_t)f;
                for (int jz = 0; jz < fo[0]; jz++)
                    for (int jy = 0; jy < fo[1]; jy++)
                        for (int jx = 0; jx < fo[2]; jx++)
                            dst[((size_t)(sh[0] + S[0] * jz) * out[1] + sh[1] + S[1] * jy) * out[2] + sh[2] +
                                S[2] * jx] = *x++;
            }
}
