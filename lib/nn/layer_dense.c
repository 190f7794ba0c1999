/* layer_dense: the fully connected layer (kernels/dense.h); flattens its
 * input.  With 'tied = ENC' it uses ENC's weight transposed (a tied
 * autoencoder's decoder) and has a bias of its own only. */
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "net.h"

static int dense_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                     ekn_geo *g, char *why, size_t cap)
{
    (void)L, (void)d, (void)nin, (void)crop, (void)why, (void)cap;
    *out = 1;
    /* one output that sees the whole input */
    g->centre = gin->centre + (in[0] - 1) / 2.0 * gin->step;
    g->step = gin->step * in[0];
    g->fov = gin->fov + (in[0] - 1) * gin->step;
    return 0;
}

static int dense_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat, int *cout,
                          char *why, size_t cap)
{
    (void)cin, (void)nin;
    if (L->tied >= 0 && flat != s->layers[L->tied].units) {
        snprintf(why, cap, "tied to '%s', it must read %d values (that layer's units), not %.0f",
                 s->layers[L->tied].name, s->layers[L->tied].units, flat);
        return -1;
    }
    *cout = L->units;
    return 0;
}

static void dense_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                         double *nstate)
{
    (void)cin;
    *nw = L->tied >= 0 ? 0 : flat * cout;
    *nb = cout;
    *nstate = 0;
}

static double dense_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)L, (void)cin, (void)out;
    return 2.0 * flat * cout;
}

static void dense_init(const ekn_net *net, const ekn_net_layer *L, float *theta, float *state, ekn_rng *rng)
{
    (void)net, (void)state;
    if (L->nw) ekn_layer_init_weights(L->spec, theta + L->w_off, L->nw, (double)L->in_size, L->cout, rng);
}

static void dense_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    const float *b = net->theta + L->b_off;
    if (L->spec->tied >= 0) {
        const ekn_net_layer *E = &net->layers[L->spec->tied];
        net->ops->dense_t_forward(n, (int)E->in_size, E->cout, x[0], net->theta + E->w_off, b, L->z);
    } else {
        net->ops->dense_forward(n, (int)L->in_size, L->cout, x[0], net->theta + L->w_off, b, L->z);
    }
}

static void dense_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                           int n)
{
    float *db = net->grad + L->b_off;
    if (L->spec->tied >= 0) {
        const ekn_net_layer *E = &net->layers[L->spec->tied];
        net->ops->dense_t_backward(n, (int)E->in_size, E->cout, x[0], net->theta + E->w_off, dz, dx[0],
                                   net->grad + E->w_off, db);
    } else {
        net->ops->dense_backward(n, (int)L->in_size, L->cout, x[0], net->theta + L->w_off, dz, dx[0],
                                 net->grad + L->w_off, db);
    }
}

static int dense_tensors(const ekn_net *net, const ekn_net_layer *L, ekn_net_tensor *out)
{
    unsigned long long dims[2] = {(unsigned long long)L->cout, (unsigned long long)L->in_size};
    return ekn_layer_wb_tensors(net, L, out, "w", 2, dims, "b");
}

/* [dense]: units required unless tied */
static int dense_parse(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    if (!ekn_spec_key_given(c, EKN_KEY_UNITS) && !ekn_spec_key_given(c, EKN_KEY_TIED))
        return ekn_spec_key_require(c, L, EKN_KEY_UNITS);
    return ekn_spec_key_int(c, EKN_KEY_UNITS, 1, EKN_SPEC_MAX_UNITS, &L->units);
}

/* tied = LAYER: the transpose of an earlier untied dense layer's weights */
static int dense_check(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    int line = ekn_spec_key_given(c, EKN_KEY_TIED);
    if (!line) return 0;
    const ekn_spec *s = ekn_spec_of(c);
    const char *v = ekn_spec_key_value(c, EKN_KEY_TIED);
    int j = -2;
    for (int k = 0; k < s->nlayers; k++)
        if (!strcmp(s->layers[k].name, v)) j = k;
    if (j < 0) return ekn_spec_error(c, line, "'tied': no layer '%s' before this one", v);
    if (s->layers[j].kind != EKN_LAYER_DENSE || s->layers[j].tied >= 0)
        return ekn_spec_error(c, line, "'tied = %s': the layer must be an untied [dense]", v);
    L->tied = j;
    if (ekn_spec_key_given(c, EKN_KEY_INIT))
        return ekn_spec_error(c, ekn_spec_key_given(c, EKN_KEY_INIT),
                              "'init' has no meaning with 'tied' (the weights are '%s''s)", v);
    return 0;
}

const ekn_layer_class ekn_layer_dense = {
    .name = "dense",
    .keys = EKN_KEY_BIT(EKN_KEY_UNITS) | EKN_KEYS_ACT | EKN_KEY_BIT(EKN_KEY_DECAY) | EKN_KEY_BIT(EKN_KEY_INIT) |
            EKN_KEY_BIT(EKN_KEY_TIED),
    .default_act = EKN_ACT_RELU,
    .parse = dense_parse,
    .check = dense_check,
    .dim = dense_dim,
    .channels = dense_channels,
    .params = dense_params,
    .flops = dense_flops,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .tensors = dense_tensors,
};
