#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocates from the ops table's memory (the GPU's for cuda) and counts it
 * in *total, so that ekn-calc's memory estimate can be checked against it. */
static float *alloc_floats(const ekn_ops *ops, size_t n, size_t *total)
{
    float *p = ops->alloc((n ? n : 1) * sizeof(float));
    if (p) *total += n * sizeof(float);
    return p;
}

static size_t prod3(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

int ekn_net_build(ekn_net *net, const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops,
                  ekn_err *err)
{
    memset(net, 0, sizeof *net);
    net->spec = spec;
    net->ops = ops;
    net->max_batch = max_batch;
    if (ekn_calc_run(spec, shape, &net->calc, err)) return -1;
    const ekn_calc *c = &net->calc;
    net->nlayers = spec->nlayers;
    net->in_c = c->in_channels;
    memcpy(net->in, c->in, sizeof net->in);
    net->in_size = (size_t)net->in_c * prod3(net->in);
    net->classes = ekn_spec_classes(spec);

    size_t off = 0, max_act = net->in_size;
    ekn_conv_geom cg;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_calc_layer *cl = &c->layers[i];
        L->spec = &spec->layers[i];
        L->cin = cl->channels_in;
        L->cout = cl->channels_out;
        memcpy(L->in, cl->in, sizeof L->in);
        memcpy(L->out, cl->out, sizeof L->out);
        L->in_size = (size_t)L->cin * prod3(L->in);
        L->out_size = (size_t)L->cout * prod3(L->out);
        if (L->spec->kind == EKN_LAYER_CONV) {
            L->nw = (size_t)L->cout * L->cin * prod3(L->spec->size);
            L->nb = (size_t)L->cout;
            if (ekn_conv_geom_init(&cg, max_batch, L->cin, L->cout, L->in, L->spec->size))
                return ekn_err_set(err, EKN_EXIT_SPEC, "layer '%s': filter larger than its input", L->spec->name);
            size_t ws = ops->conv_workspace(&cg);
            if (ws > net->work_floats) net->work_floats = ws;
        } else if (L->spec->kind == EKN_LAYER_DENSE) {
            L->nw = (size_t)L->cout * L->in_size;
            L->nb = (size_t)L->cout;
        }
        L->w_off = off;
        L->b_off = off + L->nw;
        off += L->nw + L->nb;
        if (L->out_size > max_act) max_act = L->out_size;
    }
    net->nparams = off;
    const ekn_net_layer *last = &net->layers[net->nlayers - 1];
    net->out_c = last->cout;
    memcpy(net->out, last->out, sizeof net->out);
    net->out_spatial = prod3(net->out);
    net->out_size = last->out_size;

    size_t N = (size_t)max_batch;
    size_t *total = &net->alloc_bytes;
    int fail = !(net->theta = alloc_floats(ops, off, total)) || !(net->grad = alloc_floats(ops, off, total)) ||
               !(net->decay = alloc_floats(ops, off, total)) ||
               !(net->x_noisy = alloc_floats(ops, N * net->in_size, total)) ||
               !(net->dbuf[0] = alloc_floats(ops, N * max_act, total)) ||
               !(net->dbuf[1] = alloc_floats(ops, N * max_act, total)) ||
               !(net->work = alloc_floats(ops, net->work_floats, total));
    size_t max_mask = 0;
    for (int i = 0; i < net->nlayers && !fail; i++) {
        ekn_net_layer *L = &net->layers[i];
        int linear = L->spec->act == EKN_ACT_LINEAR;
        fail = !(L->z = alloc_floats(ops, N * L->out_size, total));
        if (!fail) L->y = linear ? L->z : alloc_floats(ops, N * L->out_size, total);
        fail = fail || !L->y;
        if (!fail && L->spec->dropout > 0) {
            fail = !(L->mask = alloc_floats(ops, N * L->out_size, total));
            if (N * L->out_size > max_mask) max_mask = N * L->out_size;
        }
        if (!fail && L->spec->kind == EKN_LAYER_POOL)
            fail = !(L->arg = (int32_t *)alloc_floats(ops, N * L->out_size, total));
    }
    /* device memory: the host draws masks and noise (the same numbers as a
     * CPU run of the seed) and keeps a copy of theta for checkpoints */
    if (!fail && !ops->host) {
        size_t draw = spec->noise > 0 && N * net->in_size > max_mask ? N * net->in_size : max_mask;
        fail = (draw && !(net->host_draw = malloc(draw * sizeof(float)))) ||
               !(net->host_theta = malloc((off ? off : 1) * sizeof(float)));
    }
    if (fail) {
        ekn_err why = {0};
        ekn_ops_check(ops, &why); /* clears the device's record of the failed allocation */
        double need = ekn_calc_train_bytes(&net->calc, max_batch);
        ekn_net_free(net);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of %s memory building the network for batch %d: training needs "
                           "about %.1f MiB (ekn-calc --batch %d); try a smaller --batch%s",
                           ops->host ? "host" : "device", max_batch, need / (1 << 20), max_batch,
                           spec->mode == EKN_MODE_IMG_IMG ? " or --patch" : "");
    }
    float *decay = ops->host ? net->decay : net->host_theta;
    memset(decay, 0, off * sizeof *decay);
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        for (size_t k = 0; k < L->nw; k++) decay[L->w_off + k] = L->spec->decay_mult;
    }
    if (!ops->host) ops->upload(net->decay, decay, off * sizeof *decay);
    return 0;
}

void ekn_net_free(ekn_net *net)
{
    const ekn_ops *ops = net->ops;
    if (!ops) return; /* never built, or already freed */
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        if (L->y != L->z) ops->free(L->y);
        ops->free(L->z);
        ops->free(L->mask);
        ops->free(L->arg);
    }
    ops->free(net->theta);
    ops->free(net->grad);
    ops->free(net->decay);
    ops->free(net->x_noisy);
    ops->free(net->dbuf[0]);
    ops->free(net->dbuf[1]);
    ops->free(net->work);
    free(net->host_draw);
    free(net->host_theta);
    memset(net, 0, sizeof *net);
}

float *ekn_net_params_host(ekn_net *net)
{
    if (net->ops->host) return net->theta;
    net->ops->download(net->host_theta, net->theta, net->nparams * sizeof(float));
    return net->host_theta;
}

void ekn_net_params_set(ekn_net *net, const float *host_src)
{
    net->ops->upload(net->theta, host_src, net->nparams * sizeof(float));
}

int ekn_net_forward_host(ekn_net *net, const float *x, int n, float *out, ekn_err *err)
{
    const ekn_ops *ops = net->ops;
    const float *in = x;
    if (!ops->host) {
        ops->upload(net->x_noisy, x, (size_t)n * net->in_size * sizeof *x);
        in = net->x_noisy;
    }
    const float *o = ekn_net_forward(net, in, n, 0, NULL);
    ops->download(out, o, (size_t)n * net->out_size * sizeof *out);
    return ekn_ops_check(ops, err);
}

void ekn_net_params_commit(ekn_net *net)
{
    if (!net->ops->host) net->ops->upload(net->theta, net->host_theta, net->nparams * sizeof(float));
}

void ekn_net_init_params(ekn_net *net, ekn_rng *rng)
{
    float *theta = net->ops->host ? net->theta : net->host_theta;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        if (!L->nw) continue;
        double fan_in = (double)L->nw / L->cout;
        double fan_out = (double)L->nw / L->cin;
        if (L->spec->kind == EKN_LAYER_DENSE) fan_out = L->cout;
        float *w = theta + L->w_off;
        if (L->spec->init == EKN_INIT_HE) {
            double sd = sqrt(2.0 / fan_in);
            for (size_t k = 0; k < L->nw; k++) w[k] = (float)(sd * ekn_rng_normal(rng));
        } else {
            double a = sqrt(6.0 / (fan_in + fan_out));
            for (size_t k = 0; k < L->nw; k++) w[k] = (float)(a * (2 * ekn_rng_uniform(rng) - 1));
        }
        memset(theta + L->b_off, 0, L->nb * sizeof(float));
    }
    ekn_net_params_commit(net);
}

void ekn_net_zero_grad(ekn_net *net) { net->ops->zero(net->grad, net->nparams * sizeof(float)); }

static void pool_geom(const ekn_net_layer *L, int n, ekn_pool_geom *g)
{
    ekn_pool_geom_init(g, n, L->cin, L->in, L->spec->size);
}

const float *ekn_net_forward(ekn_net *net, const float *x, int n, int train, ekn_rng *rng)
{
    const ekn_ops *ops = net->ops;
    const float *in = x;
    if (train && net->spec->noise > 0) {
        size_t m = (size_t)n * net->in_size;
        float *normal = ops->host ? net->x_noisy : net->host_draw;
        for (size_t k = 0; k < m; k++) normal[k] = (float)ekn_rng_normal(rng);
        if (!ops->host) ops->upload(net->x_noisy, normal, m * sizeof *normal);
        ops->input_noise(m, x, net->x_noisy, net->spec->noise, net->x_noisy);
        in = net->x_noisy;
    }
    net->input = in;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_spec_layer *s = L->spec;
        const float *w = net->theta + L->w_off, *b = net->theta + L->b_off;
        size_t m = (size_t)n * L->out_size;
        if (s->kind == EKN_LAYER_CONV) {
            ekn_conv_geom g;
            ekn_conv_geom_init(&g, n, L->cin, L->cout, L->in, s->size);
            ops->conv_forward(&g, in, w, b, L->z, net->work);
        } else if (s->kind == EKN_LAYER_POOL) {
            ekn_pool_geom g;
            pool_geom(L, n, &g);
            ops->pool_forward(&g, in, L->z, L->arg);
        } else {
            ops->dense_forward(n, (int)L->in_size, L->cout, in, w, b, L->z);
        }
        if (s->act == EKN_ACT_SOFTMAX)
            ops->softmax_forward(n, L->cout, L->out_size / L->cout, L->z, L->y);
        else if (s->act != EKN_ACT_LINEAR)
            ops->act_forward((ekn_act)s->act, s->alpha, m, L->z, L->y);
        if (train && L->mask) {
            /* inverted dropout: scale at training time so prediction needs nothing */
            float keep = 1.0f - s->dropout, scale = 1.0f / keep;
            float *mask = ops->host ? L->mask : net->host_draw;
            for (size_t k = 0; k < m; k++) mask[k] = ekn_rng_uniformf(rng) < keep ? scale : 0.0f;
            if (!ops->host) ops->upload(L->mask, mask, m * sizeof *mask);
            ops->dropout_forward(m, L->y, L->mask);
        }
        in = L->y;
    }
    return net->layers[net->nlayers - 1].y;
}

void ekn_net_backward(ekn_net *net, int n, const float *dout)
{
    const ekn_ops *ops = net->ops;
    int cur = 0;
    /* the incoming gradient w.r.t. this layer's output activation y (or logits z) */
    const float *dy = dout;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_spec_layer *s = L->spec;
        size_t m = (size_t)n * L->out_size;
        const float *dz = dy;
        if (s->act != EKN_ACT_SOFTMAX && (L->mask || s->act != EKN_ACT_LINEAR)) {
            float *g = net->dbuf[cur];
            if (L->mask) {
                ops->dropout_backward(m, dy, L->mask, g);
                dy = g;
                /* forward scaled y by the mask, but act_backward takes f'
                 * from y (tanh, sigmoid): restore the unmasked activation
                 * (the next layer's backward, which read y, has run) */
                if (s->act != EKN_ACT_LINEAR) ops->act_forward((ekn_act)s->act, s->alpha, m, L->z, L->y);
            }
            if (s->act != EKN_ACT_LINEAR) ops->act_backward((ekn_act)s->act, s->alpha, m, L->z, L->y, dy, g);
            dz = g;
            cur ^= 1;
        }
        const float *x = i ? net->layers[i - 1].y : net->input;
        float *dx = i ? net->dbuf[cur] : NULL;
        const float *w = net->theta + L->w_off;
        float *dw = net->grad + L->w_off, *db = net->grad + L->b_off;
        if (s->kind == EKN_LAYER_CONV) {
            ekn_conv_geom g;
            ekn_conv_geom_init(&g, n, L->cin, L->cout, L->in, s->size);
            ops->conv_backward(&g, x, w, dz, dx, dw, db, net->work);
        } else if (s->kind == EKN_LAYER_POOL) {
            if (dx) {
                ekn_pool_geom g;
                pool_geom(L, n, &g);
                ops->pool_backward(&g, dz, L->arg, dx);
            }
        } else {
            ops->dense_backward(n, (int)L->in_size, L->cout, x, w, dz, dx, dw, db);
        }
        dy = dx;
        cur ^= 1;
    }
}

int ekn_net_find_layer(const ekn_net *net, const char *name)
{
    for (int i = 0; i < net->nlayers; i++)
        if (!strcmp(net->layers[i].spec->name, name)) return i;
    return -1;
}

void ekn_net_describe(const ekn_net *net, int i, char *buf, size_t cap)
{
    const ekn_net_layer *L = &net->layers[i];
    snprintf(buf, cap, "%-8s %-5s %s [%d,%d,%d,%d] -> [%d,%d,%d,%d] params %zu", L->spec->name,
             ekn_layer_kind_name(L->spec->kind), ekn_spec_act_name(L->spec->act), L->cin, L->in[0], L->in[1],
             L->in[2], L->cout, L->out[0], L->out[1], L->out[2], L->nw + L->nb);
}

int ekn_net_tensors(const ekn_net *net, ekn_net_tensor *out, int max)
{
    int n = 0, nd = net->spec->ndim;
    for (int i = 0; i < net->nlayers; i++) {
        const ekn_net_layer *L = &net->layers[i];
        if (!L->nw) continue;
        if (n + 2 > max) return -1;
        ekn_net_tensor *w = &out[n++], *b = &out[n++];
        memset(w, 0, sizeof *w);
        memset(b, 0, sizeof *b);
        snprintf(w->name, sizeof w->name, "%s.w", L->spec->name);
        snprintf(b->name, sizeof b->name, "%s.b", L->spec->name);
        w->dims[0] = (uint64_t)L->cout;
        if (L->spec->kind == EKN_LAYER_CONV) {
            w->dims[1] = (uint64_t)L->cin;
            for (int k = 0; k < nd; k++) w->dims[2 + k] = (uint64_t)L->spec->size[3 - nd + k];
            w->rank = 2 + nd;
        } else {
            w->dims[1] = L->in_size;
            w->rank = 2;
        }
        w->offset = L->w_off, w->count = L->nw;
        b->rank = 1, b->dims[0] = L->nb;
        b->offset = L->b_off, b->count = L->nb;
    }
    return n;
}
