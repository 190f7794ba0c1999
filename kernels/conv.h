/* conv: cross-correlation in up to 3 spatial dimensions with zero padding
 * and a stride per axis, forward and backward.
 *
 * Spatial axes are always (Z,Y,X): a 2D layer uses Z=1,kz=1 and a 1D layer
 * Z=Y=1, kz=ky=1, so one code path serves all three.  All tensors are f32 in
 * C order:
 *     x  (N, Cin,  Z, Y, X)
 *     w  (Cout, Cin, kz, ky, kx)
 *     b  (Cout)
 *     y  (N, Cout, OZ, OY, OX),  O = (in + 2*pad - k) / stride + 1 (floor)
 *     y[n,co,oz,oy,ox] = b[co] + sum_{ci,dz,dy,dx} w[co,ci,dz,dy,dx] *
 *                        x[n,ci, oz*sz+dz-pz, oy*sy+dy-py, ox*sx+dx-px]
 * where x reads as 0 outside the input: pad zeros on BOTH sides of each
 * axis (cross-correlation, as in every framework: the kernel is not
 * flipped).  Inputs past the last full window are unused (floor).  With
 * stride 1 and pad 0 (ekn_conv_geom_init) this is the valid convolution,
 * O = in - k + 1.
 *
 * Two implementations with identical semantics: _ref is plain loops and
 * serves as the test oracle; _cpu lowers the whole batch to one SGEMM per
 * pass (vol2col), so it needs a caller-owned workspace.
 *
 * Gradients are +dL/dtheta.  Backward overwrites dx (so the caller need not
 * clear it; inputs no window reads get 0) but accumulates into dw and db
 * (+=), so gradients of a shared weight or of several micro-batches sum
 * without extra buffers. */
#ifndef EKN_CONV_H
#define EKN_CONV_H
#include <stddef.h>

typedef struct ekn_conv_geom {
    int n, cin, cout;
    int in[3];  /* Z, Y, X of the input */
    int k[3];   /* kz, ky, kx */
    int out[3]; /* (in + 2*pad - k) / stride + 1 */
    int stride[3]; /* sz, sy, sx: >= 1 */
    int pad[3];    /* pz, py, px: zeros on both sides, 0 <= pad < k */
} ekn_conv_geom;

/* Fills g with stride 1 and pad 0 (out = in - k + 1).  Returns 0, or -1
 * when any size is < 1, some out < 1, or the lowered matrices would not fit
 * the int dimensions of BLAS (Cin*kvol or N*outvol > INT_MAX); g is then
 * unspecified. */
int ekn_conv_geom_init(ekn_conv_geom *g, int n, int cin, int cout, const int in[3], const int k[3]);
/* The same with a stride and a padding per axis (Z,Y,X).  -1 also when a
 * stride is < 1, a pad is < 0 or >= its k (a window of padding only), or
 * in + 2*pad < k (no output). */
int ekn_conv_geom_init_ex(ekn_conv_geom *g, int n, int cin, int cout, const int in[3], const int k[3],
                          const int stride[3], const int pad[3]);

/* Floats of scratch memory ekn_conv_forward_cpu and ekn_conv_backward_cpu
 * need for this geometry: (Cin*kz*ky*kx + Cout) * N*outvol.  One buffer of
 * this size serves both passes; its contents need not be preserved between
 * calls (backward rebuilds what it needs), so layers may share one. */
size_t ekn_conv_workspace_floats(const ekn_conv_geom *g);

/* y overwritten. */
void ekn_conv_forward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                          float *y);
/* dy has y's shape.  dx overwritten (skipped when dx == NULL, e.g. for the
 * first layer); dw and db ACCUMULATE (+=). */
void ekn_conv_backward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db);
/* The bias gradient of conv and upconv (their _ref backward both call it):
 * db[co] += sum over n < batch and o < ovol of dy[n, co, o], dy N x cout x
 * ovol, accumulated in double per channel.  db ACCUMULATES (+=). */
void ekn_bias_grad_ref(const float *dy, int batch, int cout, size_t ovol, float *db);

/* As the _ref versions; work holds ekn_conv_workspace_floats(g) floats and
 * must not alias any argument.  Stride 1 and pad 0 take the tuned lowering
 * of kernels/conv_lower.c; any other stride or pad a general one of the
 * same chunks and threads (one unit per output row, zeros written where a
 * window reaches into the padding).  Nothing is allocated; the work is split
 * over OpenBLAS's thread count of threads of their own, with OpenBLAS set
 * to one thread meanwhile (kernels/conv_cpu.c says why). */
void ekn_conv_forward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                          float *y, float *work);
void ekn_conv_backward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db, float *work);

/* For tests and benchmarks: the col floats per chunk (0: the default) and
 * the number of threads (0: OpenBLAS's thread count) of the _cpu kernels.
 * Process-wide; not to be called while a _cpu kernel runs. */
void ekn_conv_cpu_tune(size_t col_floats, int threads);

/* CUDA (kernels/conv_cuda.cu, CUDA builds only): every pointer is device
 * memory, work holds ekn_conv_workspace_cuda(g) floats (cuDNN's need for the
 * three passes; it differs from the CPU's).  Stride and pad go to cuDNN's
 * convolution descriptor, and plans are cached per geometry including them.
 * Errors are recorded for ekn_cuda_last_error (ops.h). */
size_t ekn_conv_workspace_cuda(const ekn_conv_geom *g);
void ekn_conv_forward_cuda(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                           float *y, float *work);
void ekn_conv_backward_cuda(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db, float *work);
#endif
