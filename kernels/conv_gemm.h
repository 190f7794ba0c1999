/* conv_gemm: the weight gradient of a convolution as explicit im2col plus
 * one matrix product per example, the CUDA path's alternative to cuDNN's
 * deterministic backward-filter algorithm (kernels/conv_cuda.cu times both
 * when it plans a geometry and keeps the faster).  cuDNN's algorithm 1 is
 * the only deterministic direct one, and on the 3D example net's layers
 * (one example, large volumes, few channels) it ran 10-20x slower than the
 * non-deterministic ones; a GEMM with the long summation inside cuBLAS is
 * deterministic and runs at memory speed there.
 *
 * Layout, per example b: col (K, O) row-major with K = cin*kz*ky*kx and
 * O = oz*oy*ox, col[kk][o] = x[b][ci][oz*sz+dz-pz][oy*sy+dy-py][ox*sx+dx-px]
 * (0 where that lies in the padding) for kk = ((ci*kz + dz)*ky + dy)*kx + dx
 * and o = (oz*OY + oy)*OX + ox.  Then
 *   dW (cout, K) += dy_b (cout, O) col^T
 * which cuBLAS (column-major) computes as
 *   C (K x cout, ld K) += col^T ... : gemm(T, N, m = K, n = cout, k = O,
 *   A = col (ld O), B = dy_b (ld O), C = dw (ld K), beta = 1).
 * This header is C and CUDA: ekn_im2col_source is the index function the
 * kernel uses, and tests/unit/test_conv_gemm.c checks it and the product's
 * mapping on the host against the reference weight gradient.
 *
 * Stride and padding: this path is EXTENDED to them (not a fall-back to
 * cuDNN): the index function returns EKN_IM2COL_PAD for a window position
 * in the padding, where im2col writes 0; the product is the same. */
#ifndef EKN_CONV_GEMM_H
#define EKN_CONV_GEMM_H
#include <stddef.h>

#include "conv.h"

#ifdef __CUDACC__
#define EKN_HD __host__ __device__
#else
#define EKN_HD
#endif

/* ekn_im2col_source's answer for a position in the padding (col holds 0) */
#define EKN_IM2COL_PAD ((size_t)-1)

/* Index into example b's input (offset from x + b * cin * in-volume) of
 * col[kk][o], or EKN_IM2COL_PAD. */
static inline EKN_HD size_t ekn_im2col_source(const ekn_conv_geom *g, size_t kk, size_t o)
{
    size_t kx = (size_t)g->k[2], ky = (size_t)g->k[1], kz = (size_t)g->k[0];
    size_t dx = kk % kx, dy = kk / kx % ky, dz = kk / (kx * ky) % kz, ci = kk / (kx * ky * kz);
    size_t OX = (size_t)g->out[2], OY = (size_t)g->out[1];
    size_t ox = o % OX, oy = o / OX % OY, oz = o / (OX * OY);
    size_t X = (size_t)g->in[2], Y = (size_t)g->in[1], Z = (size_t)g->in[0];
    /* the input position plus the padding, so that it cannot go below 0 */
    size_t iz = oz * (size_t)g->stride[0] + dz, iy = oy * (size_t)g->stride[1] + dy;
    size_t ix = ox * (size_t)g->stride[2] + dx;
    size_t pz = (size_t)g->pad[0], py = (size_t)g->pad[1], px = (size_t)g->pad[2];
    if (iz < pz || iz - pz >= Z || iy < py || iy - py >= Y || ix < px || ix - px >= X) return EKN_IM2COL_PAD;
    return ((ci * Z + iz - pz) * Y + iy - py) * X + ix - px;
}

/* Bytes of col for one example. */
static inline size_t ekn_conv_wgrad_gemm_bytes(const ekn_conv_geom *g)
{
    return (size_t)g->cin * g->k[0] * g->k[1] * g->k[2] * g->out[0] * g->out[1] * g->out[2] * sizeof(float);
}

#ifdef __CUDACC__
/* dw += the weight gradient over the batch, with work holding
 * ekn_conv_wgrad_gemm_bytes(g); false after a recorded CUDA/cuBLAS error. */
bool ekn_conv_wgrad_gemm_cuda(const ekn_conv_geom *g, const float *x, const float *dy, float *dw, float *work);
#endif
#endif
