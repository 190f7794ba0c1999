/* layer_upconv: the U-Net's up-convolution, a transposed convolution whose
 * kernel equals its factor per axis (kernels/upconv.h). */
#include <stdio.h>

#include "layer.h"
#include "net.h"

static void geom(const ekn_spec_layer *L, const ekn_calc_layer *cl, int n, ekn_upconv_geom *g)
{
    ekn_upconv_geom_init(g, n, cl->channels_in, cl->channels_out, cl->in, L->size);
}

static int upconv_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                      ekn_geo *g, char *why, size_t cap)
{
    (void)nin, (void)crop, (void)why, (void)cap;
    int u = L->size[d];
    *out = in[0] * u;
    /* output j sits where input j/u would if upsampled in place */
    g->centre = gin->centre - (u - 1) / (2.0 * u) * gin->step;
    g->step = gin->step / u;
    g->fov = gin->fov;
    return 0;
}

static int upconv_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat,
                           int *cout, char *why, size_t cap)
{
    (void)s, (void)cin, (void)nin, (void)flat, (void)why, (void)cap;
    *cout = L->units;
    return 0;
}

static void upconv_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                          double *nstate)
{
    (void)flat;
    *nw = (double)cin * cout * ekn_layer_prod3(L->size);
    *nb = cout;
    *nstate = 0;
}

static double upconv_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)L, (void)flat;
    return 2.0 * out * cout * cin; /* each output gathers one weight per input channel */
}

static size_t upconv_workspace(const ekn_ops *ops, const ekn_spec_layer *L, const ekn_calc_layer *cl, int n)
{
    ekn_upconv_geom g;
    geom(L, cl, n, &g);
    return ops->upconv_workspace(&g);
}

static void upconv_init(const ekn_net *net, const ekn_net_layer *L, float *theta, float *state, ekn_rng *rng)
{
    (void)net, (void)state;
    ekn_layer_init_weights(L->spec, theta + L->w_off, L->nw, L->cin, (double)L->nw / L->cin, rng);
}

static void upconv_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    ekn_upconv_geom g;
    geom(L->spec, &net->calc.layers[L - net->layers], n, &g);
    net->ops->upconv_forward(&g, x[0], net->theta + L->w_off, net->theta + L->b_off, L->z, net->work);
}

static void upconv_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                            int n)
{
    ekn_upconv_geom g;
    geom(L->spec, &net->calc.layers[L - net->layers], n, &g);
    net->ops->upconv_backward(&g, x[0], net->theta + L->w_off, dz, dx[0], net->grad + L->w_off,
                              net->grad + L->b_off, net->work);
}

static int upconv_tensors(const ekn_net *net, const ekn_net_layer *L, ekn_net_tensor *out)
{
    unsigned long long dims[6];
    int rank = ekn_layer_weight_dims(net->spec, L->cin, L->cout, L->spec->size, dims);
    return ekn_layer_wb_tensors(net, L, out, "w", rank, dims, "b");
}

/* [upconv]: filters and size (the up-sampling factor) required */
static int upconv_parse(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    return ekn_spec_key_require(c, L, EKN_KEY_FILTERS) || ekn_spec_key_require(c, L, EKN_KEY_SIZE) ||
                   ekn_spec_key_int(c, EKN_KEY_FILTERS, 1, EKN_SPEC_MAX_UNITS, &L->units) ||
                   ekn_spec_key_axes(c, EKN_KEY_SIZE, 1, EKN_SPEC_MAX_KERNEL, L->size)
               ? -1 : 0;
}

const ekn_layer_class ekn_layer_upconv = {
    .name = "upconv",
    .keys = EKN_KEY_BIT(EKN_KEY_FILTERS) | EKN_KEY_BIT(EKN_KEY_SIZE) | EKN_KEYS_ACT | EKN_KEY_BIT(EKN_KEY_DECAY) |
            EKN_KEY_BIT(EKN_KEY_INIT),
    .default_act = EKN_ACT_RELU,
    .parse = upconv_parse,
    .dim = upconv_dim,
    .channels = upconv_channels,
    .params = upconv_params,
    .flops = upconv_flops,
    .workspace = upconv_workspace,
    .init = upconv_init,
    .forward = upconv_forward,
    .backward = upconv_backward,
    .tensors = upconv_tensors,
};
