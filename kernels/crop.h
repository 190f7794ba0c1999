/* crop: the data movement of U-Net skips, crop-and-concatenate and
 * residual adds.  A window of x goes to a range of y's channels:
 *     x  (N, C,  in)          f32, C order, spatial axes (Z,Y,X) as in conv.h
 *     y  (N, Cy, out)
 *     forward   y[n, c0+c, o] = x[n, c, o+off]   (accumulate = 0)
 *               y[n, c0+c, o] += x[n, c, o+off]  (accumulate = 1)
 *     backward  dx[n, c, o+off] += dy[n, c0+c, o]
 * for c in [0, C) and o in the window out (o + off per axis).  Forward
 * leaves y's other channels untouched (a concatenation fills them by a
 * second call with another c0); backward ACCUMULATES into dx and leaves dx
 * outside the window untouched (the caller zeroes dx, or lets the skip's
 * gradient add onto the main path's).  x and y (dy and dx) do not overlap.
 *
 * Every table computes exactly the same floats: copies, or one float add
 * per element.  _ref is plain loops, _cpu row-wise (memcpy, vectorisable
 * adds), _cuda (kernels/crop_cuda.cu, CUDA builds only) one thread per
 * element moved, all pointers device memory, errors recorded for
 * ekn_cuda_last_error (ops.h). */
#ifndef EKN_CROP_H
#define EKN_CROP_H

typedef struct ekn_crop_geom {
    int n, c;
    int in[3];  /* x's Z, Y, X */
    int off[3]; /* the window's start in x */
    int out[3]; /* the window's size = y's Z, Y, X */
    int cy, c0; /* y's channels; the first one written */
} ekn_crop_geom;

/* Fills g.  Returns 0, or -1 when g, in, off or out is NULL, n, c, cy, in
 * or out < 1, off or c0 < 0, off + out > in on some axis, c0 + c > cy, or
 * x or y would hold more floats than size_t counts. */
int ekn_crop_geom_init(ekn_crop_geom *g, int n, int c, const int in[3], const int off[3], const int out[3], int cy,
                       int c0);

void ekn_crop_forward_ref(const ekn_crop_geom *g, const float *x, float *y, int accumulate);
void ekn_crop_backward_ref(const ekn_crop_geom *g, const float *dy, float *dx);
void ekn_crop_forward_cpu(const ekn_crop_geom *g, const float *x, float *y, int accumulate);
void ekn_crop_backward_cpu(const ekn_crop_geom *g, const float *dy, float *dx);
void ekn_crop_forward_cuda(const ekn_crop_geom *g, const float *x, float *y, int accumulate);
void ekn_crop_backward_cuda(const ekn_crop_geom *g, const float *dy, float *dx);
#endif
