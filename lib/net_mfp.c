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

static float *alloc_floats(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

/* Where each final fragment's outputs lie: sum over the pools of the
 * fragment's offset d_i times the stride before pool i. */
static void fragment_shifts(ekn_mfp_net *m)
{
    const ekn_spec *spec = m->net->spec;
    for (int f = 0; f < m->frags; f++) {
        int rest = f, stride[3] = {1, 1, 1};
        int *sh = m->shift[f];
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
    if (!(m->buf[0] = alloc_floats(buf)) || !(m->buf[1] = alloc_floats(buf)) || !(m->crop = alloc_floats(crop)) ||
        !(m->work = alloc_floats(work)) || !(m->result = alloc_floats(N * m->out_size)) ||
        !(m->arg = malloc((buf ? buf : 1) * sizeof *m->arg)) || !(m->shift = malloc((size_t)frags * sizeof *m->shift))) {
        ekn_mfp_free(m);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for max fragment pooling of a %dx%dx%d tile", shape[0],
                           shape[1], shape[2]);
    }
    fragment_shifts(m);
    return 0;
}

void ekn_mfp_free(ekn_mfp_net *m)
{
    free(m->buf[0]);
    free(m->buf[1]);
    free(m->crop);
    free(m->work);
    free(m->result);
    free(m->arg);
    free(m->shift);
    memset(m, 0, sizeof *m);
}

/* (B, C, in) -> (B * P, C, out * p): the window of each fragment offset d. */
static void crop_fragments(const float *x, int B, int C, const int in[3], const int p[3], const int out[3], float *dst)
{
    int span[3] = {out[0] * p[0], out[1] * p[1], out[2] * p[2]};
    for (int b = 0; b < B; b++)
        for (int dz = 0; dz < p[0]; dz++)
            for (int dy = 0; dy < p[1]; dy++)
                for (int dx = 0; dx < p[2]; dx++)
                    for (int ch = 0; ch < C; ch++) {
                        const float *plane = x + ((size_t)b * C + ch) * prod3(in);
                        for (int z = 0; z < span[0]; z++)
                            for (int y = 0; y < span[1]; y++) {
                                memcpy(dst, plane + ((size_t)(dz + z) * in[1] + dy + y) * in[2] + dx,
                                       (size_t)span[2] * sizeof *dst);
                                dst += span[2];
                            }
                    }
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
            crop_fragments(in, B, L->channels_in, L->in, s->size, L->out, m->crop);
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
    int K = c->out_channels, S[3] = {1, 1, 1};
    const int *fo = c->out;
    for (int i = 0; i < net->spec->nlayers; i++)
        if (net->spec->layers[i].kind == EKN_LAYER_POOL)
            for (int k = 0; k < 3; k++) S[k] *= net->spec->layers[i].size[k];
    for (int e = 0; e < n; e++)
        for (int f = 0; f < m->frags; f++)
            for (int k = 0; k < K; k++) {
                const float *src = in + (((size_t)e * m->frags + f) * K + k) * prod3(fo);
                float *dst = m->result + ((size_t)e * K + k) * prod3(m->out);
                const int *sh = m->shift[f];
                for (int jz = 0; jz < fo[0]; jz++)
                    for (int jy = 0; jy < fo[1]; jy++)
                        for (int jx = 0; jx < fo[2]; jx++)
                            dst[((size_t)(sh[0] + S[0] * jz) * m->out[1] + sh[1] + S[1] * jy) * m->out[2] + sh[2] +
                                S[2] * jx] = *src++;
            }
    return m->result;
}
