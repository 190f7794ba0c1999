/* pool: non-overlapping max pooling in up to 3 spatial dimensions.
 *
 * Spatial axes are (Z,Y,X) as in conv.h; the factor p[d] per axis must
 * divide in[d] (no partial windows, no padding).  f32, C order:
 *     x   (N, C, Z, Y, X)
 *     y   (N, C, Z/pz, Y/py, X/px)
 *     arg (N, C, Z/pz, Y/py, X/px) int32: for each output, the flat index of
 *         the winning input element within its (n,c) plane, z*Y*X + y*X + x.
 * Ties go to the first element in scan order (z, then y, then x), so the
 * result is deterministic and _ref and _cpu agree exactly.  Forward records
 * arg so backward needs neither x nor y.
 *
 * Modes (g->mode): EKN_POOL_MAX, the largest value wins (the default, as
 * ekn_pool_geom_init leaves it); EKN_POOL_MAXABS (ELEKTRONN's "maxabs"),
 * the element of largest |x| wins and its SIGNED value is the output (ties
 * in |x|, -3 against 3 included, again go to the first in scan order; a
 * NaN wins only as a window's first element, in both modes).  Backward
 * routes dy by arg alike in both modes.
 *
 * _ref is plain loops (the test oracle), _cpu the cache-friendly version. */
#ifndef EKN_POOL_H
#define EKN_POOL_H
#include <stdint.h>

typedef struct ekn_pool_geom {
    int n, c;
    int in[3];  /* Z, Y, X of the input */
    int p[3];   /* pooling factor per axis */
    int out[3]; /* in / p */
    int mode;   /* EKN_POOL_MAX (0) or EKN_POOL_MAXABS */
} ekn_pool_geom;

enum { EKN_POOL_MAX = 0, EKN_POOL_MAXABS = 1 };

/* Returns 0, or -1 when any size is < 1, some in[d] % p[d] != 0, or a plane
 * is too large for an int32 index; g is then unspecified.  Sets mode to
 * EKN_POOL_MAX; set g->mode afterwards for another. */
int ekn_pool_geom_init(ekn_pool_geom *g, int n, int c, const int in[3], const int p[3]);

/* y and arg overwritten. */
void ekn_maxpool_forward_ref(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg);
/* dx overwritten: dy[o] goes to the input element arg[o], zero elsewhere. */
void ekn_maxpool_backward_ref(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx);
void ekn_maxpool_forward_cpu(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg);
void ekn_maxpool_backward_cpu(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx);

/* CUDA (kernels/pool_cuda.cu, CUDA builds only): the same on device memory;
 * errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_maxpool_forward_cuda(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg);
void ekn_maxpool_backward_cuda(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx);
#endif
