/* layer_conv: convolution, valid or with zero padding ('pad = same'), with
 * a stride per axis (kernels/conv.h). */
#include <stdio.h>

#include "layer.h"
#include "net.h"

static int pad_of(const ekn_spec_layer *L, int d)
{
    return L->pad == EKN_PAD_SAME ? (L->size[d] - 1) / 2 : 0;
}

static void geom(const ekn_spec_layer *L, const ekn_calc_layer *cl, int n, ekn_conv_geom *g)
{
    int pad[3] = {pad_of(L, 0), pad_of(L, 1), pad_of(L, 2)};
    ekn_conv_geom_init_ex(g, n, cl->channels_in, cl->channels_out, cl->in, L->size, L->stride, pad);
}

static int conv_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                    ekn_geo *g, char *why, size_t cap)
{
    (void)nin, (void)crop;
    int k = L->size[d], p = pad_of(L, d), s = L->stride[d];
    if (in[0] + 2 * p < k) {
        snprintf(why, cap, "here it is %d, smaller than the filter size %d", in[0], k);
        return -1;
    }
    *out = (in[0] + 2 * p - k) / s + 1;
    g->centre = gin->centre + ((k - 1) / 2.0 - p) * gin->step;
    g->step = gin->step * s;
    g->fov = gin->fov + (k - 1) * gin->step;
    return 0;
}

static int conv_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat, int *cout,
                         char *why, size_t cap)
{
    (void)s, (void)cin, (void)nin, (void)flat, (void)why, (void)cap;
    *cout = L->units;
    return 0;
}

static void conv_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                        double *nstate)
{
    (void)flat;
    *nw = (double)cin * ekn_layer_prod3(L->size) * cout;
    *nb = cout;
    *nstate = 0;
}

static double conv_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)flat;
    return 2.0 * out * cout * cin * ekn_layer_prod3(L->size);
}

static size_t conv_workspace(const ekn_ops *ops, const ekn_spec_layer *L, const ekn_calc_layer *cl, int n)
{
    ekn_conv_geom g;
    geom(L, cl, n, &g);
    return ops->conv_workspace(&g);
}

static void conv_init(const ekn_net *net, const ekn_net_layer *L, float *theta, float *state, ekn_rng *rng)
{
    (void)net, (void)state;
    ekn_layer_init_weights(L->spec, theta + L->w_off, L->nw, (double)L->nw / L->cout, (double)L->nw / L->cin, rng);
}

static void conv_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    ekn_conv_geom g;
    geom(L->spec, &net->calc.layers[L - net->layers], n, &g);
    net->ops->conv_forward(&g, x[0], net->theta + L->w_off, net->theta + L->b_off, L->z, net->work);
}

static void conv_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                          int n)
{
    ekn_conv_geom g;
    geom(L->spec, &net->calc.layers[L - net->layers], n, &g);
    net->ops->conv_backward(&g, x[0], net->theta + L->w_off, dz, dx[0], net->grad + L->w_off, net->grad + L->b_off,
                            net->work);
}

static int conv_tensors(const ekn_net *net, const ekn_net_layer *L, ekn_net_tensor *out)
{
    unsigned long long dims[6];
    int rank = ekn_layer_weight_dims(net->spec, L->cout, L->cin, L->spec->size, dims);
    return ekn_layer_wb_tensors(net, L, out, "w", rank, dims, "b");
}

/* [conv]: filters and size required; stride; pad = same needs odd sizes */
static int conv_parse(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    static const char *const pads[] = {"valid", "same"};
    if (ekn_spec_key_require(c, L, EKN_KEY_FILTERS) || ekn_spec_key_require(c, L, EKN_KEY_SIZE) ||
        ekn_spec_key_int(c, EKN_KEY_FILTERS, 1, EKN_SPEC_MAX_UNITS, &L->units) ||
        ekn_spec_key_axes(c, EKN_KEY_SIZE, 1, EKN_SPEC_MAX_KERNEL, L->size) ||
        ekn_spec_key_axes(c, EKN_KEY_STRIDE, 1, EKN_SPEC_MAX_KERNEL, L->stride) ||
        ekn_spec_key_choice(c, EKN_KEY_PAD, pads, 2, &L->pad))
        return -1;
    for (int d = 0; L->pad == EKN_PAD_SAME && d < 3; d++)
        if (L->size[d] % 2 == 0)
            return ekn_spec_error(c, ekn_spec_key_given(c, EKN_KEY_PAD),
                                  "'pad = same' needs odd filter sizes (the padding is (size-1)/2 on "
                                  "each side), not %d in %c", L->size[d], "ZYX"[d]);
    return 0;
}

const ekn_layer_class ekn_layer_conv = {
    .name = "conv",
    .keys = EKN_KEY_BIT(EKN_KEY_FILTERS) | EKN_KEY_BIT(EKN_KEY_SIZE) | EKN_KEYS_ACT | EKN_KEY_BIT(EKN_KEY_DECAY) |
            EKN_KEY_BIT(EKN_KEY_INIT) | EKN_KEY_BIT(EKN_KEY_STRIDE) | EKN_KEY_BIT(EKN_KEY_PAD),
    .default_act = EKN_ACT_RELU,
    .parse = conv_parse,
    .dim = conv_dim,
    .channels = conv_channels,
    .params = conv_params,
    .flops = conv_flops,
    .workspace = conv_workspace,
    .init = conv_init,
    .forward = conv_forward,
    .backward = conv_backward,
    .tensors = conv_tensors,
};
