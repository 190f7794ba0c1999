/* upconv: the U-Net up-convolution, a transposed convolution whose kernel
 * equals its stride, factor f[d] per spatial axis (Z,Y,X as in conv.h; a
 * 2D layer uses Z=1, fz=1; anisotropic data e.g. f = 1,2,2).  Every input
 * voxel becomes one f-block of outputs and the blocks do not overlap, so
 * it is one matrix product per example and a scatter.  f32, C order:
 *     x  (N, Cin, Z, Y, X)
 *     w  (Cin, Cout, fz, fy, fx)          PyTorch's ConvTranspose layout
 *     b  (Cout)
 *     y  (N, Cout, Z*fz, Y*fy, X*fx)
 *     y[n,co,z*fz+a,y*fy+b,x*fx+c] = b[co] + sum_ci x[n,ci,z,y,x] * w[ci,co,a,b,c]
 * Backward (gradients are +dL/dtheta):
 *     dx[n,ci,z,y,x]  = sum_{co,a,b,c} w[ci,co,a,b,c] * dy[n,co,z*fz+a,y*fy+b,x*fx+c]
 *     dw[ci,co,a,b,c] += sum_{n,z,y,x} x[n,ci,z,y,x] * dy[n,co,z*fz+a,y*fy+b,x*fx+c]
 *     db[co]          += sum_{n,o} dy[n,co,o]
 * dx is OVERWRITTEN (skipped when dx == NULL, e.g. for a first layer); dw
 * and db ACCUMULATE (+=).
 *
 * _ref is plain loops with double accumulators (the test oracle).  _cpu
 * (kernels/upconv_cpu.c) is, per example, one SGEMM
 *     Y' (Cout*fvol x S) = W^T (Cout*fvol x Cin) . x_n (Cin x S),  S = Z*Y*X
 * into the workspace, then a scatter of Y' into y with the bias; backward
 * gathers dy_n into dY' (Cout*fvol x S), then dx_n = W dY' and
 * dW += x_n dY'^T (SGEMMs threaded by OpenBLAS; the copies single-threaded;
 * db summed in double straight from dy).  _cuda (kernels/upconv_cuda.cu)
 * is the same with cuBLAS and own scatter/gather kernels, deterministic. */
#ifndef EKN_UPCONV_H
#define EKN_UPCONV_H
#include <stddef.h>

typedef struct ekn_upconv_geom {
    int n, cin, cout;
    int in[3];  /* Z, Y, X of the input */
    int f[3];   /* fz, fy, fx: kernel = stride */
    int out[3]; /* in * f */
} ekn_upconv_geom;

/* Fills g (out = in * f).  Returns 0, or -1 when g, in or f is NULL, any
 * size or factor is < 1, some out would exceed INT_MAX, the matrices
 * would not fit the int dimensions of BLAS (Cout*fvol or S > INT_MAX) or a
 * tensor's element count would not fit size_t; g is then unspecified. */
int ekn_upconv_geom_init(ekn_upconv_geom *g, int n, int cin, int cout, const int in[3], const int f[3]);

/* Floats of scratch _cpu's passes need: Cout*fz*fy*fx * Z*Y*X (one
 * example's Y').  One buffer serves both passes; its contents need not be
 * kept between calls, so layers may share one. */
size_t ekn_upconv_workspace_floats(const ekn_upconv_geom *g);

/* y overwritten. */
void ekn_upconv_forward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y);
/* dy has y's shape; dx overwritten (NULL skips it), dw and db += . */
void ekn_upconv_backward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db);

/* As _ref; work holds ekn_upconv_workspace_floats(g) floats and aliases
 * no argument.  Nothing is allocated. */
void ekn_upconv_forward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                            float *work);
void ekn_upconv_backward_cpu(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db, float *work);

/* CUDA (kernels/upconv_cuda.cu, CUDA builds only): every pointer is device
 * memory; work holds ekn_upconv_workspace_cuda(g) floats (the CPU's size,
 * or more where the bias gradient's partial sums need it) and is 8-byte
 * aligned, as every ops->alloc is.  Results repeat bit for bit (no
 * atomics); errors are recorded for ekn_cuda_last_error (ops.h). */
size_t ekn_upconv_workspace_cuda(const ekn_upconv_geom *g);
void ekn_upconv_forward_cuda(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                             float *work);
void ekn_upconv_backward_cuda(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                              float *dw, float *db, float *work);
#endif
