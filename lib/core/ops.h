/* ops: the kernel dispatch table.  Layer code calls kernels only through
 * it, so the reference kernels (EKN_KERNELS=ref, for whole-network checks),
 * the fast CPU ones and the CUDA ones are interchangeable without a single
 * #ifdef in layer code.  A table is a whole backend: its kernels, where its
 * arrays live (alloc, upload, download, ...), its devices and its error
 * check.
 *
 * Every table is here in lib/core: cpu, ref and staged in ops.c, cuda in
 * ops_cuda.c (CUDA builds only).  The tables bind kernels/ to lib/ (the
 * ekn_err of check and select), so kernels/ stay leaves that include
 * nothing from lib/: their functions are plain C, the _cuda ones record
 * their errors in kernels/cuda/cuda_common.h's slot, which
 * ekn_cuda_last_error turns into an ekn_err. */
#ifndef EKN_OPS_H
#define EKN_OPS_H
#include "act.h"
#include "conv.h"
#include "crop.h"
#include "cuda_common.h" /* EKN_PRECISION_*, ekn_cuda_set_precision, ... */
#include "dense.h"
#include "ema.h" /* --ema */
#include "loss.h"
#include "maxout.h"
#include "mfp.h"
#include "norm.h"
#include "pool.h"
#include "prelu.h"
#include "softmax.h"
#include "upconv.h"

struct ekn_err;
struct ekn_vec_ops;

typedef struct ekn_ops {
    const char *name;
    size_t (*conv_workspace)(const ekn_conv_geom *g);
    void (*conv_forward)(const ekn_conv_geom *g, const float *x, const float *w, const float *b, float *y,
                         float *work);
    void (*conv_backward)(const ekn_conv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                          float *dw, float *db, float *work);
    void (*pool_forward)(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg);
    void (*pool_backward)(const ekn_pool_geom *g, const float *dy, const int32_t *arg, float *dx);
    void (*dense_forward)(int n, int in, int out, const float *x, const float *w, const float *b, float *y);
    void (*dense_backward)(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db);
    void (*act_forward)(ekn_act a, float alpha, size_t n, const float *x, float *y);
    void (*act_backward)(ekn_act a, float alpha, size_t n, const float *x, const float *y, const float *dy,
                         float *dx);
    void (*softmax_forward)(int n, int c, size_t s, const float *x, float *p);
    double (*softmax_nll)(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float *dlogits,
                          double *count);
    double (*mse)(size_t m, const float *y, const float *t, float *dy);
    void (*argmax_count)(int n, int c, size_t s, const float *p, const int32_t *labels, long *correct,
                         long *counted);

    /* ---- memory: where this table's arrays live ----
     * host: 1 when they are plain host memory (cpu, ref: upload, download
     * and copy are memcpy), 0 for device memory (cuda).  alloc returns
     * zero-filled memory, 64-byte aligned, or NULL when out of memory (the
     * cuda table also records why, for ekn_cuda_last_error).  download
     * returns when the bytes are on the host; the others may be queued. */
    int host;
    void *(*alloc)(size_t bytes);
    void (*free)(void *p); /* NULL is fine */
    void (*zero)(void *p, size_t bytes);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);

    /* ---- devices: the GPUs of this backend (cuda; NULL in the host tables) ----
     * device_count: 0 when the driver or GPU is missing, never an error.
     * select: later calls of this thread use `device`; 0, or -1 with err
     *   ("cuda: cudaSetDevice(1) failed: ...").
     * describe: device >= 0 a one-line description ("NVIDIA H100 80GB
     *   HBM3, 79.1 GiB, sm_90"); device == -1 why device_count() is 0
     *   ("cudaGetDeviceCount: no CUDA-capable device is detected"), or "". */
    int (*device_count)(void);
    int (*select)(int device, struct ekn_err *err);
    void (*describe)(int device, char *buf, size_t cap);

    /* ---- dropout and input noise ----
     * The host draws the masks (0 or 1/(1-rate)) and the standard normals
     * with lib/core/rng.h, so every table sees the same ones for one seed; these
     * apply them, rounded as one float operation each.
     *   dropout_forward   y[k] *= mask[k]
     *   dropout_backward  g[k] = dy[k] * mask[k]   (g may alias dy)
     *   input_noise       out[k] = x[k] + sigma * normal[k] */
    void (*dropout_forward)(size_t m, float *y, const float *mask);
    void (*dropout_backward)(size_t m, const float *dy, const float *mask, float *g);
    void (*input_noise)(size_t m, const float *x, const float *normal, float sigma, float *out);

    /* ---- the optimisers' vector operations (kernels/vec.h) ---- */
    const struct ekn_vec_ops *vec;

    /* Waits for queued work; 0, or -1 with the first error since the last
     * check (ekn_cuda_last_error).  NULL for tables that cannot fail. */
    int (*check)(struct ekn_err *err);

    /* ---- max fragment pooling's data movement (kernels/mfp.h, lib/nn/net_mfp.h) ----
     * mfp_crop cuts each fragment's window out of a pool's input, and
     * mfp_interleave puts the final fragments' outputs back into the dense
     * result; shift is in this table's memory like the other arrays. */
    void (*mfp_crop)(const ekn_mfp_crop_geom *g, const float *x, float *y);
    void (*mfp_interleave)(const ekn_mfp_interleave_geom *g, const int32_t *shift, const float *x, float *y);

    /* ---- U-Net: up-convolution and the skips' crop (kernels/upconv.h, kernels/crop.h) ----
     * upconv as conv: work holds upconv_workspace(g) floats of this
     * table's memory (the ref table's is 1 float); dx overwritten (NULL
     * skips), dw and db +=.  crop_forward copies (accumulate 0) or adds
     * (1) x's window into y's channels [c0, c0+C); crop_backward adds dy's
     * channels back onto dx's window (the caller zeroes dx). */
    size_t (*upconv_workspace)(const ekn_upconv_geom *g);
    void (*upconv_forward)(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                           float *work);
    void (*upconv_backward)(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                            float *dw, float *db, float *work);
    void (*crop_forward)(const ekn_crop_geom *g, const float *x, float *y, int accumulate);
    void (*crop_backward)(const ekn_crop_geom *g, const float *dy, float *dx);
    /* ---- normalisation, PReLU and maxout (kernels/norm.h, prelu.h, maxout.h) ----
     * Layout (N, C, S), S = Z*Y*X; contracts in the kernel headers. */
    void (*bn_forward_train)(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                             float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                             float *invstd);
    void (*bn_forward_infer)(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                             const float *run_mean, const float *run_var, float eps, float *y);
    void (*bn_backward)(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                        const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
    void (*gn_forward)(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                       float eps, float *y, float *mean, float *invstd);
    void (*gn_backward)(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                        const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
    void (*prelu_forward)(int n, int c, size_t s, int nslopes, const float *x, const float *a, float *y);
    void (*prelu_backward)(int n, int c, size_t s, int nslopes, const float *x, const float *a, const float *dy,
                           float *dx, float *da);
    void (*maxout_forward)(int n, int c, size_t s, int k, const float *x, float *y, int32_t *arg);
    void (*maxout_backward)(int n, int c, size_t s, int k, const float *dy, const int32_t *arg, float *dx);
    /* ---- dense with tied (transposed) weights (kernels/dense.h) ----
     * A decoder using an encoder's weight w (Out, In): y (N, In) = x W + b;
     * dx overwritten, dw and db accumulate. */
    void (*dense_t_forward)(int n, int in, int out, const float *x, const float *w, const float *b, float *y);
    void (*dense_t_backward)(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db);
    /* ---- issue 14 section 5: sigmoid BCE, focal, Dice, voxel-weighted squared error (kernels/loss.h) ----
     * Contracts in loss.h; the pointers inside the args structs are in this table's memory. */
    double (*mse_w)(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy);
    double (*bce)(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count);
    double (*softmax_focal)(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                            float *dlogits, double *count);
    double (*softmax_dice)(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps, float *dlogits,
                           double *count);
    double (*sigmoid_dice)(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                           double *count);
    /* ---- exponential moving average of the parameters (kernels/ema.h; ekn-train --ema) ----
     * avg[i] = decay avg[i] + (1 - decay) x[i] for n floats; avg in place. */
    void (*ema_update)(size_t n, float decay, const float *x, float *avg);
} ekn_ops;

const ekn_ops *ekn_ops_cpu(void);
const ekn_ops *ekn_ops_ref(void);
/* The cpu kernels behind the device-memory interface (host = 0): arrays
 * live in their own host allocations and every transfer a GPU run makes is
 * made, as memcpy.  It tests the device code paths of the net, trainer and
 * optimisers on machines without a GPU, against plain cpu results. */
const ekn_ops *ekn_ops_staged(void);
/* By the environment's EKN_KERNELS: ref, staged, else (and by default) cpu. */
const ekn_ops *ekn_ops_default(void);

/* The CUDA table, or NULL in a build without CUDA (lib/core/cuda_none.c).  Every
 * array argument is DEVICE memory (so is conv's work and the pointers inside
 * ekn_nll_args); the scalar results (returned losses, *count, *correct,
 * *counted) are host values.  It computes what ekn_ops_ref() defines:
 * conv through cuDNN (deterministic algorithms, FP32 math, plans cached per
 * geometry), dense and upconv through cuBLAS SGEMM, the rest in own kernels.  Ops run
 * on the default stream of the current device; losses and counts wait for
 * their result, the others return once queued.
 *
 * The table's functions return no error: a failing CUDA call is recorded
 * instead (the first since the last check wins), and the caller asks after
 * a step with ekn_cuda_last_error(), which waits for the queued work and
 * then returns 0, or -1 with err set ("cuda: cudnnConvolutionForward:
 * CUDNN_STATUS_BAD_PARAM", EKN_EXIT_FAIL) and clears the record.  After an
 * error the outputs of that step are undefined.  One host thread drives the
 * GPU: the error record, the cuDNN/cuBLAS handles and conv's plan cache are
 * process-wide and unlocked.  ekn_ops_cuda() also sends the CUDA code's
 * notes (each conv plan it makes) to ekn_info, shown with -v. */
struct ekn_err;
const ekn_ops *ekn_ops_cuda(void);
int ekn_cuda_last_error(struct ekn_err *err);
/* The CUDA table's settings, ekn_cuda_set_precision (FP32 or TF32),
 * ekn_cuda_set_deterministic and ekn_cuda_conv_wgrad, are declared in
 * kernels/cuda/cuda_common.h (included above); no-ops without CUDA. */

/* ops->check(err), or 0 for a table without one. */
int ekn_ops_check(const ekn_ops *ops, struct ekn_err *err);
#endif
