/* mfp: the data movement of max fragment pooling (lib/nn/net_mfp.h), f32,
 * C order, spatial axes (Z,Y,X) as in conv.h.  Pure copies: every table
 * gives bit-identical results.
 *
 * crop, before an MFP pool of factor p (P = pz*py*px fragment offsets):
 *     x   (n, c, in)
 *     y   (n * P, c, span), span = out * p per axis
 *     y[b*P + d, ch, z, y, x] = x[b, ch, dz + z, dy + y, dx + x]
 *     with d = (dz*py + dy)*px + dx, so each fragment's window is a whole
 *     number of pool windows that the strided pool then reduces.
 *
 * interleave, after the last layer (F final fragments per example):
 *     x     (n * F, c, frag_out)
 *     shift (F, 3) int32: fragment f's offset in the dense output
 *     y     (n, c, out)
 *     y[e, ch, shift[f] + stride * j] = x[e*F + f, ch, j]   (per axis)
 *     Under MFP the shifts are the F distinct points of [0, stride) per
 *     axis and out = stride * frag_out, so every y element is written
 *     exactly once; the ops need not clear y.
 *
 * _cpu (kernels/mfp_cpu.c) is plain loops; _cuda (kernels/mfp_cuda.cu,
 * CUDA builds only) one thread per element moved, all arrays (shift too)
 * device memory, errors recorded for ekn_cuda_last_error (ops.h). */
#ifndef EKN_MFP_H
#define EKN_MFP_H
#include <stdint.h>

typedef struct ekn_mfp_crop_geom {
    int n, c;
    int in[3];  /* the layer's input, Z, Y, X */
    int p[3];   /* pool factor */
    int out[3]; /* pool outputs per fragment: span = out * p <= in - p + 1 */
} ekn_mfp_crop_geom;

typedef struct ekn_mfp_interleave_geom {
    int n;           /* examples */
    int frags;       /* final fragments per example */
    int c;           /* output channels */
    int frag_out[3]; /* outputs per fragment */
    int stride[3];   /* product of the pool factors */
    int out[3];      /* dense outputs per example: stride * frag_out */
} ekn_mfp_interleave_geom;

void ekn_mfp_crop_cpu(const ekn_mfp_crop_geom *g, const float *x, float *y);
void ekn_mfp_interleave_cpu(const ekn_mfp_interleave_geom *g, const int32_t *shift, const float *x, float *y);

void ekn_mfp_crop_cuda(const ekn_mfp_crop_geom *g, const float *x, float *y);
void ekn_mfp_interleave_cuda(const ekn_mfp_interleave_geom *g, const int32_t *shift, const float *x, float *y);
#endif
