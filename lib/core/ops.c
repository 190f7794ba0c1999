#include "ops.h"
#include "vec.h"

#include <stdlib.h>
#include <string.h>

/* The reference conv needs no scratch; a one-float workspace keeps callers uniform. */
static size_t no_workspace(const ekn_conv_geom *g) { (void)g; return 1; }

static void conv_forward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *b, float *y,
                             float *work)
{
    (void)work;
    ekn_conv_forward_ref(g, x, w, b, y);
}

static void conv_backward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                              float *dx, float *dw, float *db, float *work)
{
    (void)work;
    ekn_conv_backward_ref(g, x, w, dy, dx, dw, db);
}

/* ---- U-Net ops for the ref table: upconv's reference needs no scratch ---- */
static size_t upconv_no_workspace(const ekn_upconv_geom *g) { (void)g; return 1; }

static void upconv_forward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y,
                               float *work)
{
    (void)work;
    ekn_upconv_forward_ref(g, x, w, b, y);
}

static void upconv_backward_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy,
                                float *dx, float *dw, float *db, float *work)
{
    (void)work;
    ekn_upconv_backward_ref(g, x, w, dy, dx, dw, db);
}

/* Host memory: what the cpu and ref tables compute on. */
static void *host_alloc(size_t bytes)
{
    size_t rounded = ((bytes ? bytes : 1) + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}
static void host_free(void *p) { free(p); }
static void host_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void host_copy(void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src) memcpy(dst, src, bytes);
}

static void dropout_forward_host(size_t m, float *y, const float *mask)
{
    for (size_t k = 0; k < m; k++) y[k] *= mask[k];
}
static void dropout_backward_host(size_t m, const float *dy, const float *mask, float *g)
{
    for (size_t k = 0; k < m; k++) g[k] = dy[k] * mask[k];
}
static void input_noise_host(size_t m, const float *x, const float *normal, float sigma, float *out)
{
    for (size_t k = 0; k < m; k++) out[k] = x[k] + sigma * normal[k];
}

#define HOST_MEMORY                                                                                                \
    .host = 1, .alloc = host_alloc, .free = host_free, .zero = host_zero, .upload = host_copy,                      \
    .download = host_copy, .copy = host_copy, .dropout_forward = dropout_forward_host,                             \
    .dropout_backward = dropout_backward_host, .input_noise = input_noise_host, .vec = &ekn_vec_cpu

static const ekn_ops cpu = {
    .name = "cpu",
    .conv_workspace = ekn_conv_workspace_floats,
    .conv_forward = ekn_conv_forward_cpu,
    .conv_backward = ekn_conv_backward_cpu,
    .pool_forward = ekn_maxpool_forward_cpu,
    .pool_backward = ekn_maxpool_backward_cpu,
    .dense_forward = ekn_dense_forward_cpu,
    .dense_backward = ekn_dense_backward_cpu,
    .act_forward = ekn_act_forward_cpu,
    .act_backward = ekn_act_backward_cpu,
    .softmax_forward = ekn_softmax_forward_cpu,
    .softmax_nll = ekn_softmax_nll_cpu,
    .mse = ekn_mse_cpu,
    .argmax_count = ekn_argmax_count_cpu,
    .mfp_crop = ekn_mfp_crop_cpu,
    .mfp_interleave = ekn_mfp_interleave_cpu,
    /* U-Net */
    .upconv_workspace = ekn_upconv_workspace_floats,
    .upconv_forward = ekn_upconv_forward_cpu,
    .upconv_backward = ekn_upconv_backward_cpu,
    .crop_forward = ekn_crop_forward_cpu,
    .crop_backward = ekn_crop_backward_cpu,
    /* normalisation, PReLU, maxout */
    .bn_forward_train = ekn_bn_forward_train_cpu,
    .bn_forward_infer = ekn_bn_forward_infer_cpu,
    .bn_backward = ekn_bn_backward_cpu,
    .gn_forward = ekn_gn_forward_cpu,
    .gn_backward = ekn_gn_backward_cpu,
    .prelu_forward = ekn_prelu_forward_cpu,
    .prelu_backward = ekn_prelu_backward_cpu,
    .maxout_forward = ekn_maxout_forward_cpu,
    .maxout_backward = ekn_maxout_backward_cpu,
    /* dense with tied weights */
    .dense_t_forward = ekn_dense_t_forward_cpu,
    .dense_t_backward = ekn_dense_t_backward_cpu,
    /* BCE, focal, Dice, voxel-weighted squared error */
    .mse_w = ekn_mse_w_cpu,
    .bce = ekn_bce_cpu,
    .softmax_focal = ekn_softmax_focal_cpu,
    .softmax_dice = ekn_softmax_dice_cpu,
    .sigmoid_dice = ekn_sigmoid_dice_cpu,
    /* exponential moving average (--ema) */
    .ema_update = ekn_ema_update_cpu,
    HOST_MEMORY,
};

static const ekn_ops ref = {
    .name = "ref",
    .conv_workspace = no_workspace,
    .conv_forward = conv_forward_ref,
    .conv_backward = conv_backward_ref,
    .pool_forward = ekn_maxpool_forward_ref,
    .pool_backward = ekn_maxpool_backward_ref,
    .dense_forward = ekn_dense_forward_ref,
    .dense_backward = ekn_dense_backward_ref,
    .act_forward = ekn_act_forward_ref,
    .act_backward = ekn_act_backward_ref,
    .softmax_forward = ekn_softmax_forward_ref,
    .softmax_nll = ekn_softmax_nll_ref,
    .mse = ekn_mse_ref,
    .argmax_count = ekn_argmax_count_ref,
    /* data movement only: the plain loops are their own reference */
    .mfp_crop = ekn_mfp_crop_cpu,
    .mfp_interleave = ekn_mfp_interleave_cpu,
    /* U-Net */
    .upconv_workspace = upconv_no_workspace,
    .upconv_forward = upconv_forward_ref,
    .upconv_backward = upconv_backward_ref,
    .crop_forward = ekn_crop_forward_ref,
    .crop_backward = ekn_crop_backward_ref,
    /* normalisation, PReLU, maxout */
    .bn_forward_train = ekn_bn_forward_train_ref,
    .bn_forward_infer = ekn_bn_forward_infer_ref,
    .bn_backward = ekn_bn_backward_ref,
    .gn_forward = ekn_gn_forward_ref,
    .gn_backward = ekn_gn_backward_ref,
    .prelu_forward = ekn_prelu_forward_ref,
    .prelu_backward = ekn_prelu_backward_ref,
    .maxout_forward = ekn_maxout_forward_ref,
    .maxout_backward = ekn_maxout_backward_ref,
    /* dense with tied weights */
    .dense_t_forward = ekn_dense_t_forward_ref,
    .dense_t_backward = ekn_dense_t_backward_ref,
    /* BCE, focal, Dice, voxel-weighted squared error */
    .mse_w = ekn_mse_w_ref,
    .bce = ekn_bce_ref,
    .softmax_focal = ekn_softmax_focal_ref,
    .softmax_dice = ekn_softmax_dice_ref,
    .sigmoid_dice = ekn_sigmoid_dice_ref,
    /* exponential moving average (--ema) */
    .ema_update = ekn_ema_update_ref,
    HOST_MEMORY,
};

static ekn_ops staged;

const ekn_ops *ekn_ops_cpu(void) { return &cpu; }
const ekn_ops *ekn_ops_ref(void) { return &ref; }

const ekn_ops *ekn_ops_staged(void)
{
    /* a copy of the cpu table made once; nothing but host differs */
    if (!staged.name) {
        staged = cpu;
        staged.name = "staged";
        staged.host = 0;
    }
    return &staged;
}

const ekn_ops *ekn_ops_default(void)
{
    const char *k = getenv("EKN_KERNELS");
    if (k && !strcmp(k, "ref")) return &ref;
    if (k && !strcmp(k, "staged")) return ekn_ops_staged();
    return &cpu;
}

int ekn_ops_check(const ekn_ops *ops, struct ekn_err *err) { return ops->check ? ops->check(err) : 0; }
