#include "net.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

/* Allocates from the ops table's memory (the GPU's for cuda) and counts it
 * in *total, so that ekn-calc's memory estimate can be checked against it.
 * counting (ekn_net_measure): nothing is allocated, the bytes are added up
 * and a placeholder that is never dereferenced stands for the array. */
static float *alloc_floats(const ekn_ops *ops, size_t n, size_t *total, int counting)
{
    static float placeholder;
    if (n > SIZE_MAX / sizeof(float) / 2) return NULL;
    float *p = counting ? &placeholder : ops->alloc((n ? n : 1) * sizeof(float));
    if (p) *total += n * sizeof(float);
    return p;
}

static size_t prod3(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

/* Whether backward needs a slot for dL/dz.  Not for a softmax, nor for
 * the sigmoid of the last layer: the losses hand back dL/dlogits, fused. */
static int needs_dz(const ekn_spec *spec, int i)
{
    const ekn_spec_layer *s = &spec->layers[i];
    if (i == spec->nlayers - 1 && s->act == EKN_ACT_SIGMOID) return 0;
    return s->act != EKN_ACT_SOFTMAX && (s->dropout > 0 || s->act != EKN_ACT_LINEAR);
}

/* ---- the backward plan --------------------------------------------------------
 * Walking the layers backwards, a layer's output gradient takes a slot when
 * the first of its readers (the last in spec order) writes it, and gives it
 * back once the layer itself has used it; dL/dz of an activation, and the
 * gradient a second reader adds onto a first's, take a slot for the step.
 * The lowest free slot is taken, so a plain chain runs on two. */
typedef struct slot_pool {
    int busy[2 * EKN_MAX_LAYERS + 2];
    int n;
} slot_pool;

static int slot_take(slot_pool *p)
{
    for (int k = 0; k < p->n; k++)
        if (!p->busy[k]) return p->busy[k] = 1, k;
    p->busy[p->n] = 1;
    return p->n++;
}

static void slot_give(slot_pool *p, int k)
{
    if (k >= 0) p->busy[k] = 0;
}

int ekn_net_plan(const ekn_spec *spec, ekn_net_layer *layers)
{
    slot_pool pool = {{0}, 0};
    int last = spec->nlayers - 1;
    for (int i = 0; i <= last; i++) {
        layers[i].gslot = layers[i].dzslot = -1;
        for (int k = 0; k < EKN_MAX_INPUTS; k++) layers[i].first[k] = 0, layers[i].tslot[k] = -1;
    }
    for (int i = last; i >= 0; i--) {
        const ekn_spec_layer *s = &spec->layers[i];
        ekn_net_layer *L = &layers[i];
        int acc = ekn_layer_class_of(s->kind)->accumulates_dx;
        if (needs_dz(spec, i)) {
            L->dzslot = slot_take(&pool);
            slot_give(&pool, L->gslot);
        }
        for (int k = 0; k < s->ninputs; k++) {
            int j = s->inputs[k];
            if (j == EKN_INPUT_NODE) continue;
            if (layers[j].gslot < 0) {
                layers[j].gslot = slot_take(&pool);
                L->first[k] = 1;
            } else if (!acc) {
                L->tslot[k] = slot_take(&pool);
            }
        }
        for (int k = 0; k < s->ninputs; k++) slot_give(&pool, L->tslot[k]);
        slot_give(&pool, L->dzslot >= 0 ? L->dzslot : L->gslot);
    }
    return pool.n;
}

/* ---- building ----------------------------------------------------------------- */

static int build(ekn_net *net, const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops,
                 int counting, ekn_err *err)
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

    size_t off = 0, st = 0, max_act = net->in_size;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_calc_layer *cl = &c->layers[i];
        L->spec = &spec->layers[i];
        L->cls = ekn_layer_class_of(L->spec->kind);
        L->cin = cl->channels_in;
        L->cout = cl->channels_out;
        memcpy(L->in, cl->in, sizeof L->in);
        memcpy(L->out, cl->out, sizeof L->out);
        L->in_size = (size_t)L->cin * prod3(L->in);
        L->out_size = (size_t)L->cout * prod3(L->out);
        L->nin = cl->nin;
        memcpy(L->in_c, cl->in_c, sizeof L->in_c);
        memcpy(L->in_sz, cl->in_sz, sizeof L->in_sz);
        memcpy(L->crop, cl->crop, sizeof L->crop);
        double nw, nb, nst;
        L->cls->params(L->spec, L->cin, L->cout, (double)L->in_size, &nw, &nb, &nst);
        L->nw = (size_t)nw;
        L->nb = (size_t)nb;
        L->nst = (size_t)nst;
        if (L->cls->workspace) {
            size_t ws = L->cls->workspace(ops, L->spec, cl, max_batch);
            if (!ws)
                return ekn_err_set(err, EKN_EXIT_SPEC, "layer '%s': its shapes do not fit the kernels", L->spec->name);
            if (ws > net->work_floats) net->work_floats = ws;
        }
        L->w_off = off;
        L->b_off = off + L->nw;
        off += L->nw + L->nb;
        L->na = L->spec->act == EKN_ACT_PRELU ? (size_t)L->cout : 0;
        L->a_off = off;
        off += L->na;
        L->st_off = st;
        st += L->nst;
        if (L->out_size > max_act) max_act = L->out_size;
    }
    net->nparams = off;
    net->nstate = st;
    net->max_act = max_act;
    net->nslots = ekn_net_plan(spec, net->layers);
    const ekn_net_layer *last = &net->layers[net->nlayers - 1];
    net->out_c = last->cout;
    memcpy(net->out, last->out, sizeof net->out);
    net->out_spatial = prod3(net->out);
    net->out_size = last->out_size;

    size_t N = (size_t)max_batch;
    size_t *total = &net->alloc_bytes;
    int fail = !(net->theta = alloc_floats(ops, off, total, counting)) || !(net->grad = alloc_floats(ops, off, total, counting)) ||
               !(net->decay = alloc_floats(ops, off, total, counting)) ||
               !(net->x_noisy = alloc_floats(ops, N * net->in_size, total, counting)) ||
               !(net->work = alloc_floats(ops, net->work_floats, total, counting)) ||
               (st && !(net->state = alloc_floats(ops, st, total, counting)));
    for (int k = 0; k < net->nslots && !fail; k++) fail = !(net->slot[k] = alloc_floats(ops, N * max_act, total, counting));
    size_t max_draw = 0;
    for (int i = 0; i < net->nlayers && !fail; i++) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_spec_layer *s = L->spec;
        size_t m = N * L->out_size;
        fail = !(L->z = alloc_floats(ops, m, total, counting));
        if (!fail) L->y = s->act == EKN_ACT_LINEAR ? L->z : alloc_floats(ops, m, total, counting);
        fail = fail || !L->y;
        L->feed = L->y;
        if (!fail && s->dropout > 0) fail = !(L->mask = alloc_floats(ops, m, total, counting));
        if (!fail && s->noise > 0) fail = !(L->noisy = alloc_floats(ops, m, total, counting));
        if ((s->dropout > 0 || s->noise > 0) && m > max_draw) max_draw = m;
        if (!fail && s->kind == EKN_LAYER_POOL) fail = !(L->arg = (int32_t *)alloc_floats(ops, m, total, counting));
        if (!fail && L->cls->scratch) {
            double per_ex = 0, per_batch = 0;
            L->cls->scratch(s, L->cout, (double)prod3(L->out), &per_ex, &per_batch);
            size_t sc = (size_t)(per_ex * N + per_batch);
            if (sc) fail = !(L->stats = alloc_floats(ops, sc, total, counting));
        }
    }
    if (counting) return fail ? ekn_err_set(err, EKN_EXIT_FAIL, "the network for batch %d is too large to address",
                                            max_batch)
                              : 0;
    /* device memory: the host draws masks and noise (the same numbers as a
     * CPU run of the seed) and keeps copies of theta and state for checkpoints */
    if (!fail && !ops->host) {
        size_t draw = spec->noise > 0 && N * net->in_size > max_draw ? N * net->in_size : max_draw;
        fail = (draw && !(net->host_draw = malloc(draw * sizeof(float)))) ||
               !(net->host_theta = malloc((off ? off : 1) * sizeof(float))) ||
               (st && !(net->host_state = malloc(st * sizeof(float))));
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

int ekn_net_build(ekn_net *net, const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops,
                  ekn_err *err)
{
    return build(net, spec, shape, max_batch, ops, 0, err);
}

int ekn_net_measure(const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops, ekn_net_size *out,
                    ekn_err *err)
{
    ekn_net *net = malloc(sizeof *net); /* large: one entry per possible layer */
    if (!net) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int rc = build(net, spec, shape, max_batch, ops, 1, err);
    if (!rc) *out = (ekn_net_size){net->alloc_bytes, net->nparams, net->in_size, net->out_size};
    free(net); /* its arrays are placeholders: nothing else to free */
    return rc;
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
        ops->free(L->noisy);
        ops->free(L->arg);
        ops->free(L->stats);
    }
    ops->free(net->theta);
    ops->free(net->grad);
    ops->free(net->decay);
    ops->free(net->x_noisy);
    for (int k = 0; k < net->nslots; k++) ops->free(net->slot[k]);
    ops->free(net->work);
    ops->free(net->state);
    free(net->host_draw);
    free(net->host_theta);
    free(net->host_state);
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

float *ekn_net_state_host(ekn_net *net)
{
    if (net->ops->host || !net->nstate) return net->state;
    net->ops->download(net->host_state, net->state, net->nstate * sizeof(float));
    return net->host_state;
}

void ekn_net_state_commit(ekn_net *net)
{
    if (!net->ops->host && net->nstate) net->ops->upload(net->state, net->host_state, net->nstate * sizeof(float));
}

int ekn_net_tensors(const ekn_net *net, ekn_net_tensor *out, int max)
{
    int n = 0;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_tensor t[4];
        const ekn_net_layer *L = &net->layers[i];
        int k = L->cls->tensors(net, L, t);
        if (L->na) {
            ekn_net_tensor *a = &t[k++];
            memset(a, 0, sizeof *a);
            snprintf(a->name, sizeof a->name, "%s.prelu", L->spec->name);
            a->rank = 1;
            a->dims[0] = L->na;
            a->offset = L->a_off;
            a->count = L->na;
        }
        if (n + k > max) return -1;
        memcpy(out + n, t, (size_t)k * sizeof *t);
        n += k;
    }
    return n;
}

void ekn_net_init_params(ekn_net *net, ekn_rng *rng)
{
    float *theta = net->ops->host ? net->theta : net->host_theta;
    float *state = net->ops->host ? net->state : net->host_state;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        if (L->cls->init) L->cls->init(net, L, theta, state, rng);
        if (L->nb && L->spec->kind != EKN_LAYER_NORM) memset(theta + L->b_off, 0, L->nb * sizeof(float));
        for (size_t k = 0; k < L->na; k++) theta[L->a_off + k] = 0.25f; /* PyTorch's initial slope */
    }
    ekn_net_params_commit(net);
    ekn_net_state_commit(net);
}

void ekn_net_zero_grad(ekn_net *net) { net->ops->zero(net->grad, net->nparams * sizeof(float)); }
/* Draws m standard normals on the host and puts them where dst (the
 * table's memory) is, for ops->input_noise. */
static void draw_normals(ekn_net *net, float *dst, size_t m, ekn_rng *rng)
{
    const ekn_ops *ops = net->ops;
    float *normal = ops->host ? dst : net->host_draw;
    for (size_t k = 0; k < m; k++) normal[k] = (float)ekn_rng_normal(rng);
    if (!ops->host) ops->upload(dst, normal, m * sizeof *normal);
}

static void prelu_forward(ekn_net *net, const ekn_net_layer *L, int n)
{
    net->ops->prelu_forward(n, L->cout, L->out_size / L->cout, L->cout, L->z, net->theta + L->a_off, L->y);
}

static const float *layer_input(const ekn_net *net, int j)
{
    return j == EKN_INPUT_NODE ? net->input : net->layers[j].feed;
}

const float *ekn_net_forward(ekn_net *net, const float *x, int n, int train, ekn_rng *rng)
{
    const ekn_ops *ops = net->ops;
    const float *in = x;
    if (train && net->spec->noise > 0) {
        size_t m = (size_t)n * net->in_size;
        draw_normals(net, net->x_noisy, m, rng);
        ops->input_noise(m, x, net->x_noisy, net->spec->noise, net->x_noisy);
        in = net->x_noisy;
    }
    net->input = in;
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_spec_layer *s = L->spec;
        const float *xs[EKN_MAX_INPUTS];
        for (int k = 0; k < s->ninputs; k++) xs[k] = layer_input(net, s->inputs[k]);
        size_t m = (size_t)n * L->out_size;
        L->cls->forward(net, L, xs, n, train);
        if (s->act == EKN_ACT_SOFTMAX)
            ops->softmax_forward(n, L->cout, L->out_size / L->cout, L->z, L->y);
        else if (s->act == EKN_ACT_PRELU)
            prelu_forward(net, L, n);
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
        L->feed = L->y;
        if (train && L->noisy) {
            /* readers see y + noise; y itself stays for the activation's backward */
            draw_normals(net, L->noisy, m, rng);
            ops->input_noise(m, L->y, L->noisy, s->noise, L->noisy);
            L->feed = L->noisy;
        }
    }
    return net->layers[net->nlayers - 1].y;
}

void ekn_net_backward(ekn_net *net, int n, const float *dout)
{
    const ekn_ops *ops = net->ops;
    int last = net->nlayers - 1;
    for (int i = last; i >= 0; i--) {
        ekn_net_layer *L = &net->layers[i];
        const ekn_spec_layer *s = L->spec;
        size_t m = (size_t)n * L->out_size;
        /* the gradient w.r.t. what readers saw (noise adds nothing to it) */
        const float *dy = i == last ? dout : net->slot[L->gslot];
        const float *dz = dy;
        if (L->dzslot >= 0) {
            float *g = net->slot[L->dzslot];
            if (L->mask) {
                ops->dropout_backward(m, dy, L->mask, g);
                dy = g;
                /* forward scaled y by the mask, but act_backward takes f'
                 * from y (tanh, sigmoid): restore the unmasked activation
                 * (the readers' backward, which read y, has run) */
                if (s->act == EKN_ACT_PRELU) prelu_forward(net, L, n);
                else if (s->act != EKN_ACT_LINEAR) ops->act_forward((ekn_act)s->act, s->alpha, m, L->z, L->y);
            }
            if (s->act == EKN_ACT_PRELU)
                ops->prelu_backward(n, L->cout, L->out_size / L->cout, L->cout, L->z, net->theta + L->a_off, dy, g,
                                    net->grad + L->a_off);
            else if (s->act != EKN_ACT_LINEAR)
                ops->act_backward((ekn_act)s->act, s->alpha, m, L->z, L->y, dy, g);
            dz = g;
        }
        const float *xs[EKN_MAX_INPUTS];
        float *dx[EKN_MAX_INPUTS];
        for (int k = 0; k < s->ninputs; k++) {
            int j = s->inputs[k];
            xs[k] = layer_input(net, j);
            dx[k] = NULL;
            if (j == EKN_INPUT_NODE) continue;
            float *gj = net->slot[net->layers[j].gslot];
            if (L->cls->accumulates_dx) {
                if (L->first[k]) ops->zero(gj, (size_t)n * net->layers[j].out_size * sizeof *gj);
                dx[k] = gj;
            } else {
                dx[k] = L->first[k] ? gj : net->slot[L->tslot[k]];
            }
        }
        L->cls->backward(net, L, xs, dz, dx, n);
        for (int k = 0; k < s->ninputs; k++)
            if (L->tslot[k] >= 0) {
                const ekn_net_layer *J = &net->layers[s->inputs[k]];
                ops->vec->axpy((size_t)n * J->out_size, 1.0f, dx[k], net->slot[J->gslot]);
            }
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
