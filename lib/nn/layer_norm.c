/* layer_norm: batch normalisation (statistics over the batch and space
 * while training, running averages kept as state for prediction), group
 * and instance normalisation (statistics per example: the same in training
 * and prediction, for batch-1 training of 3D nets); kernels/norm.h.
 * Parameters: NAME.gamma (scale) and NAME.beta (shift) per channel; batch
 * norm's state: NAME.running_mean and NAME.running_var. */
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "net.h"

static int groups_of(const ekn_spec_layer *L, int c)
{
    return L->norm == EKN_NORM_INSTANCE ? c : L->norm == EKN_NORM_GROUP ? L->groups : 0;
}

static int norm_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                    ekn_geo *g, char *why, size_t cap)
{
    (void)L, (void)d, (void)nin, (void)crop, (void)why, (void)cap;
    *out = in[0];
    *g = gin[0];
    return 0;
}

static int norm_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat, int *cout,
                         char *why, size_t cap)
{
    (void)s, (void)nin, (void)flat;
    if (L->norm == EKN_NORM_GROUP && cin[0] % L->groups) {
        snprintf(why, cap, "%d groups do not divide its %d channels", L->groups, cin[0]);
        return -1;
    }
    *cout = cin[0];
    return 0;
}

static void norm_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                        double *nstate)
{
    (void)cin, (void)flat;
    *nw = *nb = cout;
    *nstate = L->norm == EKN_NORM_BATCH ? 2.0 * cout : 0;
}

static double norm_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)L, (void)cin, (void)flat;
    return 4.0 * out * cout;
}

/* mean and 1/std: per channel for the batch (batch norm), per example and group otherwise */
static void norm_scratch(const ekn_spec_layer *L, int cout, double out, double *per_example, double *per_batch)
{
    (void)out;
    if (L->norm == EKN_NORM_BATCH) {
        *per_example = 0;
        *per_batch = 2.0 * cout;
    } else {
        *per_example = 2.0 * groups_of(L, cout);
        *per_batch = 0;
    }
}

static void norm_init(const ekn_net *net, const ekn_net_layer *L, float *theta, float *state, ekn_rng *rng)
{
    (void)net, (void)rng;
    for (size_t k = 0; k < L->nw; k++) theta[L->w_off + k] = 1.0f;
    memset(theta + L->b_off, 0, L->nb * sizeof *theta);
    if (L->nst) {
        memset(state + L->st_off, 0, L->cout * sizeof *state);
        for (int k = 0; k < L->cout; k++) state[L->st_off + L->cout + k] = 1.0f;
    }
}

static void stats_of(const ekn_net *net, const ekn_net_layer *L, float **mean, float **invstd)
{
    size_t half = L->spec->norm == EKN_NORM_BATCH ? (size_t)L->cout
                                                  : (size_t)net->max_batch * groups_of(L->spec, L->cout);
    *mean = L->stats;
    *invstd = L->stats + half;
}

static void norm_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    const ekn_spec_layer *s = L->spec;
    const ekn_ops *ops = net->ops;
    const float *gamma = net->theta + L->w_off, *beta = net->theta + L->b_off;
    size_t S = (size_t)L->out[0] * L->out[1] * L->out[2];
    float *mean, *invstd;
    stats_of(net, L, &mean, &invstd);
    if (s->norm == EKN_NORM_BATCH) {
        float *rm = net->state + L->st_off, *rv = rm + L->cout;
        if (train)
            ops->bn_forward_train(n, L->cout, S, x[0], gamma, beta, s->eps, s->momentum, rm, rv, L->z, mean, invstd);
        else
            ops->bn_forward_infer(n, L->cout, S, x[0], gamma, beta, rm, rv, s->eps, L->z);
    } else {
        ops->gn_forward(n, L->cout, S, groups_of(s, L->cout), x[0], gamma, beta, s->eps, L->z, mean, invstd);
    }
}

static void norm_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                          int n)
{
    const ekn_spec_layer *s = L->spec;
    const float *gamma = net->theta + L->w_off;
    float *dgamma = net->grad + L->w_off, *dbeta = net->grad + L->b_off;
    size_t S = (size_t)L->out[0] * L->out[1] * L->out[2];
    float *mean, *invstd;
    stats_of(net, L, &mean, &invstd);
    if (s->norm == EKN_NORM_BATCH)
        net->ops->bn_backward(n, L->cout, S, x[0], gamma, mean, invstd, dz, dx[0], dgamma, dbeta);
    else
        net->ops->gn_backward(n, L->cout, S, groups_of(s, L->cout), x[0], gamma, mean, invstd, dz, dx[0], dgamma,
                              dbeta);
}

static int norm_tensors(const ekn_net *net, const ekn_net_layer *L, ekn_net_tensor *out)
{
    unsigned long long c = (unsigned long long)L->cout;
    int n = ekn_layer_wb_tensors(net, L, out, "gamma", 1, &c, "beta");
    static const char *const names[2] = {"running_mean", "running_var"};
    for (int k = 0; L->nst && k < 2; k++) {
        ekn_net_tensor *t = &out[n++];
        snprintf(t->name, sizeof t->name, "%s.%s", L->spec->name, names[k]);
        t->rank = 1;
        t->dims[0] = c;
        t->offset = L->st_off + k * (size_t)L->cout;
        t->count = (size_t)L->cout;
        t->state = 1;
    }
    return n;
}

/* kind = batch, group (needs groups) or instance; momentum (batch only), eps */
static int norm_check(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    static const char *const norms[] = {"batch", "group", "instance"};
    if (ekn_spec_key_choice(c, EKN_KEY_KIND, norms, 3, &L->norm)) return -1;
    int groups = ekn_spec_key_given(c, EKN_KEY_GROUPS), momentum = ekn_spec_key_given(c, EKN_KEY_MOMENTUM);
    if (L->norm == EKN_NORM_GROUP && !groups) return ekn_spec_error(c, L->line, "[norm]: kind = group needs 'groups'");
    if (groups && L->norm != EKN_NORM_GROUP)
        return ekn_spec_error(c, groups, "'groups' is only used with kind = group");
    if (ekn_spec_key_int(c, EKN_KEY_GROUPS, 1, EKN_SPEC_MAX_UNITS, &L->groups)) return -1;
    if (momentum && L->norm != EKN_NORM_BATCH)
        return ekn_spec_error(c, momentum, "'momentum' is only used with kind = batch");
    return ekn_spec_key_float(c, EKN_KEY_MOMENTUM, 0, 1, 0, &L->momentum) ||
                   ekn_spec_key_float(c, EKN_KEY_EPS, 1e-12, 1, 0, &L->eps)
               ? -1 : 0;
}

const ekn_layer_class ekn_layer_norm = {
    .name = "norm",
    .keys = EKN_KEY_BIT(EKN_KEY_KIND) | EKN_KEY_BIT(EKN_KEY_GROUPS) | EKN_KEY_BIT(EKN_KEY_MOMENTUM) |
            EKN_KEY_BIT(EKN_KEY_EPS) | EKN_KEYS_ACT | EKN_KEY_BIT(EKN_KEY_DECAY),
    .default_act = EKN_ACT_LINEAR,
    .no_decay = 1, /* batch statistics' scale and shift are not pulled towards 0 unless asked */
    .check = norm_check,
    .dim = norm_dim,
    .channels = norm_channels,
    .params = norm_params,
    .flops = norm_flops,
    .scratch = norm_scratch,
    .init = norm_init,
    .forward = norm_forward,
    .backward = norm_backward,
    .tensors = norm_tensors,
};
