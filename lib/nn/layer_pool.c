/* layer_pool: non-overlapping max pooling, or ELEKTRONN's maxabs pooling
 * (the signed value of largest magnitude), kernels/pool.h; or maxout, the
 * max over groups of consecutive channels, kernels/maxout.h. */
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "net.h"

static void geom(const ekn_net_layer *L, int n, ekn_pool_geom *g)
{
    ekn_pool_geom_init(g, n, L->cin, L->in, L->spec->size);
    g->mode = L->spec->pool_mode == EKN_POOLMODE_MAXABS ? EKN_POOL_MAXABS : EKN_POOL_MAX;
}

static int pool_dim(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
                    ekn_geo *g, char *why, size_t cap)
{
    (void)nin, (void)crop;
    if (L->pool_mode == EKN_POOLMODE_MAXOUT) { /* channels only: each position stays */
        *out = in[0];
        *g = *gin;
        return 0;
    }
    int p = L->size[d];
    if (in[0] % p) {
        snprintf(why, cap, "here it is %d, not a multiple of the pool size %d", in[0], p);
        return -1;
    }
    *out = in[0] / p;
    g->centre = gin->centre + (p - 1) / 2.0 * gin->step;
    g->step = gin->step * p;
    g->fov = gin->fov + (p - 1) * gin->step;
    return 0;
}

static int pool_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat,
                         int *cout, char *why, size_t cap)
{
    if (L->pool_mode != EKN_POOLMODE_MAXOUT) return ekn_layer_same_channels(s, L, cin, nin, flat, cout, why, cap);
    if (cin[0] % L->maxout) {
        snprintf(why, cap, "maxout = %d needs a multiple of %d channels, not %d", L->maxout, L->maxout, cin[0]);
        return -1;
    }
    *cout = cin[0] / L->maxout;
    return 0;
}

static size_t positions(const ekn_net_layer *L) { return (size_t)L->in[0] * L->in[1] * L->in[2]; }

static void pool_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    if (L->spec->pool_mode == EKN_POOLMODE_MAXOUT) {
        net->ops->maxout_forward(n, L->cin, positions(L), L->spec->maxout, x[0], L->z, L->arg);
        return;
    }
    ekn_pool_geom g;
    geom(L, n, &g);
    net->ops->pool_forward(&g, x[0], L->z, L->arg);
}

static void pool_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                          int n)
{
    (void)x;
    if (!dx[0]) return;
    if (L->spec->pool_mode == EKN_POOLMODE_MAXOUT) {
        net->ops->maxout_backward(n, L->cin, positions(L), L->spec->maxout, dz, L->arg, dx[0]);
        return;
    }
    ekn_pool_geom g;
    geom(L, n, &g);
    net->ops->pool_backward(&g, dz, L->arg, dx[0]);
}

/* [pool]: size required, or maxout = K alone (channel maxout pools no axis);
 * mode = max or maxabs */
static int pool_parse(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    static const char *const modes[] = {"max", "maxabs"};
    int maxout = ekn_spec_key_given(c, EKN_KEY_MAXOUT);
    if (maxout) {
        int other = ekn_spec_key_given(c, EKN_KEY_SIZE) ? EKN_KEY_SIZE
                    : ekn_spec_key_given(c, EKN_KEY_MODE) ? EKN_KEY_MODE
                    : ekn_spec_key_given(c, EKN_KEY_MFP) ? EKN_KEY_MFP : -1;
        if (other >= 0)
            return ekn_spec_error(c, ekn_spec_key_given(c, other), "'%s' with 'maxout': a maxout [pool] pools channels "
                                  "only (pool the axes in a [pool] of its own)", ekn_spec_key_name(other));
        L->pool_mode = EKN_POOLMODE_MAXOUT;
        return ekn_spec_key_int(c, EKN_KEY_MAXOUT, 2, EKN_SPEC_MAX_UNITS, &L->maxout);
    }
    return ekn_spec_key_require(c, L, EKN_KEY_SIZE) ||
                   ekn_spec_key_axes(c, EKN_KEY_SIZE, 1, EKN_SPEC_MAX_KERNEL, L->size) ||
                   ekn_spec_key_choice(c, EKN_KEY_MODE, modes, 2, &L->pool_mode)
               ? -1 : 0;
}

/* mfp = 0 or 1; max fragment pooling only in img-img nets */
static int pool_check(ekn_spec_ctx *c, ekn_spec_layer *L)
{
    int line = ekn_spec_key_given(c, EKN_KEY_MFP);
    if (!line) return 0;
    const char *v = ekn_spec_key_value(c, EKN_KEY_MFP);
    if (strcmp(v, "0") && strcmp(v, "1")) return ekn_spec_error(c, line, "'mfp' must be 0 or 1, not '%s'", v);
    L->mfp = v[0] == '1';
    if (L->mfp && ekn_spec_of(c)->mode != EKN_MODE_IMG_IMG)
        return ekn_spec_error(c, line, "'mfp = 1' needs mode = img-img (max fragment "
                                       "pooling serves dense prediction)");
    return 0;
}

const ekn_layer_class ekn_layer_pool = {
    .name = "pool",
    .keys = EKN_KEY_BIT(EKN_KEY_SIZE) | EKN_KEY_BIT(EKN_KEY_MFP) | EKN_KEY_BIT(EKN_KEY_MODE) |
            EKN_KEY_BIT(EKN_KEY_MAXOUT),
    .default_act = EKN_ACT_LINEAR,
    .parse = pool_parse,
    .check = pool_check,
    .dim = pool_dim,
    .channels = pool_channels,
    .params = ekn_layer_no_params,
    .flops = ekn_layer_no_flops,
    .forward = pool_forward,
    .backward = pool_backward,
    .tensors = ekn_layer_no_tensors,
};
