/* layer_pool: non-overlapping max pooling, or ELEKTRONN's maxabs pooling
 * (the signed value of largest magnitude), kernels/pool.h. */
#include <stdio.h>

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

static void pool_forward(ekn_net *net, ekn_net_layer *L, const float *const *x, int n, int train)
{
    (void)train;
    ekn_pool_geom g;
    geom(L, n, &g);
    net->ops->pool_forward(&g, x[0], L->z, L->arg);
}

static void pool_backward(ekn_net *net, ekn_net_layer *L, const float *const *x, const float *dz, float *const *dx,
                          int n)
{
    (void)x;
    if (!dx[0]) return;
    ekn_pool_geom g;
    geom(L, n, &g);
    net->ops->pool_backward(&g, dz, L->arg, dx[0]);
}

const ekn_layer_class ekn_layer_pool = {
    .name = "pool",
    .dim = pool_dim,
    .channels = ekn_layer_same_channels,
    .params = ekn_layer_no_params,
    .flops = ekn_layer_no_flops,
    .forward = pool_forward,
    .backward = pool_backward,
    .tensors = ekn_layer_no_tensors,
};
