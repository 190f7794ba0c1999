/* layer_merge: concat (along channels) and add (residual) of several
 * layers; inputs larger than the smallest are centre-cropped to it, as in
 * the U-Net's crop-and-copy (kernels/crop.h). */
#include <math.h>
#include <stdio.h>

#include "layer.h"
#include "net.h"

static int merge_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                     ekn_geo *g, char *why, size_t cap)
{
    (void)L;
    int m = in[0];
    for (int k = 1; k < nin; k++)
        if (in[k] < m) m = in[k];
    *out = m;
    *g = gin[0];
    for (int k = 0; k < nin; k++) {
        int diff = in[k] - m;
        if (diff % 2) {
            snprintf(why, cap, "inputs of sizes %d and %d in %c cannot be centre-cropped to each other (an odd "
                     "difference)", in[k], m, "ZYX"[d]);
            return -1;
        }
        crop[k] = diff / 2;
        if (fabs(gin[k].step - gin[0].step) > 1e-9) {
            snprintf(why, cap, "its inputs have different steps in %c (%g and %g input pixels)", "ZYX"[d],
                     gin[0].step, gin[k].step);
            return -1;
        }
        double c0 = gin[0].centre + crop[0] * gin[0].step, ck = gin[k].centre + crop[k] * gin[k].step;
        if (fabs(ck - c0) > 1e-6) {
            snprintf(why, cap, "its centre-cropped inputs are not aligned in %c (first outputs centred at %g and %g)",
                     "ZYX"[d], c0, ck);
            return -1;
        }
        if (gin[k].fov > g->fov) g->fov = gin[k].fov;
    }
    g->centre = gin[0].centre + crop[0] * gin[0].step;
    return 0;
}

static int concat_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat,
                           int *cout, char *why, size_t cap)
{
    (void)s, (void)L, (void)flat, (void)why, (void)cap;
    long c = 0;
    for (int k = 0; k < nin; k++) c += cin[k];
    *cout = (int)c;
    return 0;
}

static int add_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat, int *cout,
                        char *why, size_t cap)
{
    for (int k = 1; k < nin; k++)
        if (cin[k] != cin[0]) {
            snprintf(why, cap, "[add] needs inputs with equal channels, not %d ('%s') and %d ('%s')", cin[0],
                     L->inputs[0] < 0 ? "input" : s->layers[L->inputs[0]].name, cin[k],
                     L->inputs[k] < 0 ? "input" : s->layers[L->inputs[k]].name);
            return -1;
        }
    (void)flat;
    *cout = cin[0];
    return 0;
}

static double add_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)cin, (void)flat;
    return (double)(L->ninputs - 1) * out * cout;
}

static void crop_geom(const ekn_net_layer *L, int k, int n, int c0, ekn_crop_geom *g)
{
    ekn_crop_geom_init(g, n, L->in_c[k], L->in_sz[k], L->crop[k], L->out, L->cout, c0);
}

/* Input k's window goes to channels [c0, c0 + C_k) of the output: stacked
 * after each other for concat, all at 0 for add (summed after the first). */
static void merge_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int stack)
{
    for (int k = 0, c0 = 0; k < L->nin; c0 += stack ? L->in_c[k] : 0, k++) {
        ekn_crop_geom g;
        crop_geom(L, k, n, c0, &g);
        net->ops->crop_forward(&g, x[k], L->z, !stack && k > 0);
    }
}

static void merge_backward(ekn_net *net, ekn_net_layer *L, const float *dz, float *const *dx, int n, int stack)
{
    for (int k = 0, c0 = 0; k < L->nin; c0 += stack ? L->in_c[k] : 0, k++) {
        if (!dx[k]) continue;
        ekn_crop_geom g;
        crop_geom(L, k, n, c0, &g);
        net->ops->crop_backward(&g, dz, dx[k]);
    }
}

static void concat_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    merge_forward(net, L, x, n, 1);
}

static void concat_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz,
                            float *const *dx, int n)
{
    (void)x;
    merge_backward(net, L, dz, dx, n, 1);
}

static void add_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    merge_forward(net, L, x, n, 0);
}

static void add_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                         int n)
{
    (void)x;
    merge_backward(net, L, dz, dx, n, 0);
}

const ekn_layer_class ekn_layer_concat = {
    .name = "concat",
    .keys = 0,
    .default_act = EKN_ACT_LINEAR,
    .accumulates_dx = 1,
    .dim = merge_dim,
    .channels = concat_channels,
    .params = ekn_layer_no_params,
    .flops = ekn_layer_no_flops,
    .forward = concat_forward,
    .backward = concat_backward,
    .tensors = ekn_layer_no_tensors,
};

const ekn_layer_class ekn_layer_add = {
    .name = "add",
    .keys = EKN_KEYS_ACT,
    .default_act = EKN_ACT_LINEAR,
    .accumulates_dx = 1,
    .dim = merge_dim,
    .channels = add_channels,
    .params = ekn_layer_no_params,
    .flops = add_flops,
    .forward = add_forward,
    .backward = add_backward,
    .tensors = ekn_layer_no_tensors,
};
