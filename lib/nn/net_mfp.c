#include "net_mfp.h"

#include <stdlib.h>
#include <string.h>

static size_t prod3(const int v[3])
{
    return (size_t)v[0] * v[1] * v[2];
}

int ekn_mfp_usable(const ekn_spec *spec)
{
    int pools = 0;
    for (int i = 0; i < spec->nlayers; i++) {
        const ekn_spec_layer *L = &spec->layers[i];
        if (L->kind == EKN_LAYER_DENSE) return 0;
        if (L->kind == EKN_LAYER_POOL) {
            if (!L->mfp) return 0;
            pools++;
        }
    }
    return pools > 0;
}

/* From the net's ops table (the GPU's memory for cuda), like lib/nn/net.c. */
static void *alloc_floats(const ekn_ops *ops, size_t n) { return ops->alloc((n ? n : 1) * sizeof(float)); }

/* Where each final fragment's outputs lie: sum over the pools of the
 * fragment's offset d_i times the stride before pool i. */
static void fragment_shifts(const ekn_spec *spec, int frags, int32_t *shift)
{
    for (int f = 0; f < frags; f++) {
        int rest = f, stride[3] = {1, 1, 1};
        int32_t *sh = shift + 3 * (size_t)f;
        sh[0] = sh[1] = sh[2] = 0;
        /* the strides before each pool, then the digits from the last pool back */
        int before[EKN_MAX_LAYERS][3], npool = 0, sizes[EKN_MAX_LAYERS][3];
        for (int i = 0; i < spec->nlayers; i++)
            if (spec->layers[i].kind == EKN_LAYER_POOL) {
                memcpy(before[npool], stride, sizeof stride);
                memcpy(sizes[npool], spec->layers[i].size, sizeof stride);
                for (int k = 0; k < 3; k++) stride[k] *= spec->layers[i].size[k];
                npool++;
            }
        for (int i = npool - 1; i >= 0; i--) {
            int P = (int)prod3(sizes[i]), d = rest % P;
            rest /= P;
            int dz = d / (sizes[i][1] * sizes[i][2]), dy = d / sizes[i][2] % sizes[i][1], dx = d % sizes[i][2];
            sh[0] += dz * before[i][0];
            sh[1] += dy * before[i][1];
            sh[2] += dx * before[i][2];
        }
    }
}

int ekn_mfp_build(ekn_mfp_net *m, const ekn_net *net, const int shape[3], int max_batch, ekn_err *err)
{
    memset(m, 0, sizeof *m);
    m->net = net;
    m->ops = net->ops;
    m->max_batch = max_batch;
    if (!ekn_mfp_usable(net->spec))
        return ekn_err_set(err, EKN_EXIT_SPEC, "max fragment pooling needs every pool layer to set mfp = 1");
    if (ekn_calc_run_mfp(net->spec, shape, 1, &m->calc, err)) return -1;
    const ekn_calc *c = &m->calc;
    size_t N = (size_t)max_batch, buf = 0, crop = 0, work = 0;
    int frags = 1;
    for (int i = 0; i < c->nlayers; i++) {
        const ekn_calc_layer *L = &c->layers[i];
        const ekn_spec_layer *s = &net->spec->layers[i];
        size_t items = N * (size_t)frags;
        if (s->kind == EKN_LAYER_CONV) {
            ekn_conv_geom g;
            if (ekn_conv_geom_init(&g, (int)items, L->channels_in, L->channels_out, L->in, s->size))
                return ekn_err_set(err, EKN_EXIT_SPEC, "layer '%s': filter larger than its input", s->name);
            size_t ws = net->ops->conv_workspace(&g);
            if (ws > work) work = ws;
        } else {
            int P = (int)prod3(s->size);
            int span[3] = {L->out[0] * s->size[0], L->out[1] * s->size[1], L->out[2] * s->size[2]};
            frags *= P;
            size_t cr = items * P * L->channels_in * prod3(span);
            if (cr > crop) crop = cr;
        }
        size_t o = N * (size_t)frags * L->channels_out * prod3(L->out);
        if (o > buf) buf = o;
    }
    m->frags = frags;
    memcpy(m->in, c->in, sizeof m->in);
    memcpy(m->out, c->dense_out, sizeof m->out);
    m->in_size = (size_t)c->in_channels * prod3(m->in);
    m->out_size = (size_t)c->out_channels * prod3(m->out);
    const ekn_ops *ops = net->ops;
    size_t shift_bytes = (size_t)frags * 3 * sizeof(int32_t);
    int32_t *shift = malloc(shift_bytes);
    int fail = !shift || !(m->buf[0] = alloc_floats(ops, buf)) || !(m->buf[1] = alloc_floats(ops, buf)) ||
               !(m->crop = alloc_floats(ops, crop)) || !(m->work = alloc_floats(ops, work)) ||
               !(m->result = alloc_floats(ops, N * m->out_size)) ||
               !(m->arg = ops->alloc((buf ? buf : 1) * sizeof *m->arg)) || !(m->shift = ops->alloc(shift_bytes)) ||
               (!ops->host && !(m->x = alloc_floats(ops, N * m->in_size)));
    if (fail) {
        ekn_err why = {0};
        ekn_ops_check(ops, &why); /* clears the device's record of the failed allocation */
        free(shift);
        ekn_mfp_free(m);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of %s memory for max fragment pooling of a %dx%dx%d tile",
                           ops->host ? "host" : "device", shape[0], shape[1], shape[2]);
    }
    fragment_shifts(net->spec, frags, shift);
    ops->upload(m->shift, shift, shift_bytes);
    free(shift); /* the cuda upload copies its source into a staging buffer before it returns */
    return 0;
}

void ekn_mfp_free(ekn_mfp_net *m)
{
    const ekn_ops *ops = m->ops;
    if (ops) {
        ops->free(m->buf[0]);
        ops->free(m->buf[1]);
        ops->free(m->crop);
        ops->free(m->work);
        ops->free(m->result);
        ops->free(m->arg);
        ops->free(m->shift);
        ops->free(m->x);
    }
    memset(m, 0, sizeof *m);
}

const float *ekn_mfp_forward(ekn_mfp_net *m, const float *x, int n)
{
    const ekn_net *net = m->net;
    const ekn_ops *ops = net->ops;
    const ekn_calc *c = &m->calc;
    const float *in = x;
    int B = n;
    for (int i = 0; i < c->nlayers; i++) {
        const ekn_calc_layer *L = &c->layers[i];
        const ekn_spec_layer *s = &net->spec->layers[i];
        const ekn_net_layer *NL = &net->layers[i];
        float *z = m->buf[i % 2];
        if (s->kind == EKN_LAYER_CONV) {
            ekn_conv_geom g;
            ekn_conv_geom_init(&g, B, L->channels_in, L->channels_out, L->in, s->size);
            ops->conv_forward(&g, in, net->theta + NL->w_off, net->theta + NL->b_off, z, m->work);
        } else {
            ekn_pool_geom g;
            int span[3] = {L->out[0] * s->size[0], L->out[1] * s->size[1], L->out[2] * s->size[2]};
            ekn_mfp_crop_geom cg = {.n = B, .c = L->channels_in};
            memcpy(cg.in, L->in, sizeof cg.in);
            memcpy(cg.p, s->size, sizeof cg.p);
            memcpy(cg.out, L->out, sizeof cg.out);
            ops->mfp_crop(&cg, in, m->crop);
            B *= (int)prod3(s->size);
            ekn_pool_geom_init(&g, B, L->channels_in, span, s->size);
            ops->pool_forward(&g, m->crop, z, m->arg);
        }
        size_t per = prod3(L->out), all = (size_t)B * L->channels_out * per;
        /* in place: both kernels read each element (softmax: each position) before writing it */
        if (s->act == EKN_ACT_SOFTMAX)
            ops->softmax_forward(B, L->channels_out, per, z, z);
        else if (s->act != EKN_ACT_LINEAR)
            ops->act_forward((ekn_act)s->act, s->alpha, all, z, z);
        in = z;
    }
    /* interleave: fragment f's output j lands at shift[f] + S * j */
    ekn_mfp_interleave_geom ig = {.n = n, .frags = m->frags, .c = c->out_channels, .stride = {1, 1, 1}};
    memcpy(ig.frag_out, c->out, sizeof ig.frag_out);
    memcpy(ig.out, m->out, sizeof ig.out);
    for (int i = 0; i < net->spec->nlayers; i++)
        if (net->spec->layers[i].kind == EKN_LAYER_POOL)
            for (int k = 0; k < 3; k++) ig.stride[k] *= net->spec->layers[i].size[k];
    ops->mfp_interleave(&ig, m->shift, in, m->result);
    return m->result;
}

int ekn_mfp_forward_host(ekn_mfp_net *m, const float *x, int n, float *out, ekn_err *err)
{
    const ekn_ops *ops = m->ops;
    const float *in = x;
    if (!ops->host) {
        ops->upload(m->x, x, (size_t)n * m->in_size * sizeof *x);
        in = m->x;
    }
    const float *o = ekn_mfp_forward(m, in, n);
    ops->download(out, o, (size_t)n * m->out_size * sizeof *out);
    return ekn_ops_check(ops, err);
}
