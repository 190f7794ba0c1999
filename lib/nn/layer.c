/* layer: the table of kinds and what they share (see layer.h). */
#include "layer.h"

#include <math.h>
#include <stdio.h>

#include "net.h"

const ekn_layer_class *ekn_layer_class_of(ekn_layer_kind kind)
{
    static const ekn_layer_class *const classes[EKN_LAYER_KINDS] = {
        [EKN_LAYER_CONV] = &ekn_layer_conv,     [EKN_LAYER_POOL] = &ekn_layer_pool,
        [EKN_LAYER_DENSE] = &ekn_layer_dense,   [EKN_LAYER_UPCONV] = &ekn_layer_upconv,
        [EKN_LAYER_CONCAT] = &ekn_layer_concat, [EKN_LAYER_ADD] = &ekn_layer_add,
        [EKN_LAYER_NORM] = &ekn_layer_norm,
    };
    return (unsigned)kind < EKN_LAYER_KINDS ? classes[kind] : NULL;
}

double ekn_layer_prod3(const int v[3]) { return (double)v[0] * v[1] * v[2]; }

int ekn_layer_weight_dims(const ekn_spec *s, int a, int b, const int size[3], unsigned long long *dims)
{
    dims[0] = (unsigned long long)a;
    dims[1] = (unsigned long long)b;
    for (int k = 0; k < s->ndim; k++) dims[2 + k] = (unsigned long long)size[3 - s->ndim + k];
    return 2 + s->ndim;
}

void ekn_layer_init_weights(const ekn_spec_layer *L, float *w, size_t nw, double fan_in, double fan_out,
                            ekn_rng *rng)
{
    if (L->init == EKN_INIT_HE) {
        double sd = sqrt(2.0 / fan_in);
        for (size_t k = 0; k < nw; k++) w[k] = (float)(sd * ekn_rng_normal(rng));
    } else {
        double a = sqrt(6.0 / (fan_in + fan_out));
        for (size_t k = 0; k < nw; k++) w[k] = (float)(a * (2 * ekn_rng_uniform(rng) - 1));
    }
}

int ekn_layer_same_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat,
                            int *cout, char *why, size_t cap)
{
    (void)s, (void)L, (void)nin, (void)flat, (void)why, (void)cap;
    *cout = cin[0];
    return 0;
}

void ekn_layer_no_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                         double *nstate)
{
    (void)L, (void)cin, (void)cout, (void)flat;
    *nw = *nb = *nstate = 0;
}

double ekn_layer_no_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out)
{
    (void)L, (void)cin, (void)cout, (void)flat, (void)out;
    return 0;
}

int ekn_layer_no_tensors(const struct ekn_net *net, const struct ekn_net_layer *L, struct ekn_net_tensor *out)
{
    (void)net, (void)L, (void)out;
    return 0;
}

int ekn_layer_wb_tensors(const ekn_net *net, const ekn_net_layer *L, ekn_net_tensor *out, const char *wname,
                         int rank, const unsigned long long *dims, const char *bname)
{
    int n = 0;
    if (L->nw) {
        ekn_net_tensor *t = &out[n++];
        snprintf(t->name, sizeof t->name, "%s.%s", L->spec->name, wname);
        t->rank = rank;
        for (int k = 0; k < rank; k++) t->dims[k] = dims[k];
        t->offset = L->w_off;
        t->count = L->nw;
        t->state = 0;
    }
    if (L->nb) {
        ekn_net_tensor *t = &out[n++];
        snprintf(t->name, sizeof t->name, "%s.%s", L->spec->name, bname);
        t->rank = 1;
        t->dims[0] = L->nb;
        t->offset = L->b_off;
        t->count = L->nb;
        t->state = 0;
    }
    (void)net;
    return n;
}
