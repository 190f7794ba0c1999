/* calc: the CNN calculator; the arithmetic is described in calc.h. */
#include "calc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "net.h"
#include "ops.h"

#define MAX_FOV (1 << 30)
/* graphs: candidate input sizes tried per axis when looking for valid ones */
#define GRAPH_SCAN (1 << 20)
#define MAX_PARAMS 4.0e18

static const char axis_char[3] = {'Z', 'Y', 'X'};

static const char *spec_file(const ekn_spec *s)
{
    return s->file[0] ? s->file : "<spec>";
}

static int cerr(ekn_err *err, const ekn_spec *s, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cerr(ekn_err *err, const ekn_spec *s, int line, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ekn_err_set(err, EKN_EXIT_SPEC, "%s:%d: %s", spec_file(s), line, buf);
}

/* The checks the parser makes on what calc relies on, for specs built by hand. */
static int check_spec(const ekn_spec *s, ekn_err *err)
{
    if (!s) return ekn_err_set(err, EKN_EXIT_SPEC, "no spec");
    if (s->nlayers < 1 || s->nlayers > EKN_MAX_LAYERS)
        return cerr(err, s, s->input_line, "the spec has %d layers (1..%d)", s->nlayers,
                    EKN_MAX_LAYERS);
    if (s->ndim < 1 || s->ndim > 3)
        return cerr(err, s, s->input_line, "the spec has %d spatial dimensions (1..3)", s->ndim);
    if (s->channels < 1)
        return cerr(err, s, s->input_line, "the input has %d channels", s->channels);
    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        if ((L->kind == EKN_LAYER_CONV || L->kind == EKN_LAYER_DENSE || L->kind == EKN_LAYER_UPCONV) && L->units < 1)
            return cerr(err, s, L->line, "layer '%s' has %d outputs", L->name, L->units);
        for (int d = 0; d < 3; d++)
            if (L->size[d] < 1 || L->size[d] > MAX_FOV)
                return cerr(err, s, L->line, "layer '%s': size %d in %c", L->name, L->size[d],
                            axis_char[d]);
    }
    return 0;
}

static int used_axis(const ekn_spec *s, int dim)
{
    return dim >= 3 - s->ndim;
}

static int graph_dim_info(const ekn_spec *s, int dim, ekn_calc_dim *o, ekn_err *err);
static int graph_run(const ekn_spec *s, const int sh[3], ekn_calc *out, ekn_err *err);

static int dim_info(const ekn_spec *s, int dim, int with_mfp, ekn_calc_dim *o, ekn_err *err)
{
    *o = (ekn_calc_dim){.fov = 1, .stride = 1, .offset = 0, .base = 1, .step = 0, .frags = 1};
    if (!used_axis(s, dim)) return 0;
    if (s->graph) return graph_dim_info(s, dim, o, err);
    long long fov = 1, stride = 1, extra = 0, frags = 1;
    int last_line = s->input_line;
    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        if (L->kind == EKN_LAYER_DENSE) break;
        int k = L->size[dim];
        fov += (long long)(k - 1) * stride;
        if (L->kind == EKN_LAYER_POOL) {
            if (with_mfp && L->mfp) {
                extra += (long long)(k - 1) * stride;
                frags *= k;
            }
            stride *= k;
        }
        if (fov + extra > MAX_FOV || stride > MAX_FOV)
            return cerr(err, s, L->line, "layer '%s': the field of view grows past %d in %c",
                        L->name, MAX_FOV, axis_char[dim]);
        last_line = L->line;
    }
    if (s->mode == EKN_MODE_IMG_IMG && fov % 2 == 0)
        return cerr(err, s, last_line, "the field of view is %lld in %c, an even number: img-img "
                                       "needs an odd field of view so that each output has a "
                                       "centre pixel (change a filter size by 1)",
                    fov, axis_char[dim]);
    o->fov = (int)fov;
    o->stride = (int)stride;
    o->offset = (int)(fov / 2);
    o->base = (int)(fov + extra);
    o->step = (int)stride;
    o->frags = (int)frags;
    return 0;
}

int ekn_calc_dim_info(const ekn_spec *spec, int dim, int with_mfp, ekn_calc_dim *out, ekn_err *err)
{
    if (check_spec(spec, err)) return -1;
    if (dim < 0 || dim > 2) return ekn_err_set(err, EKN_EXIT_USAGE, "no spatial axis %d (0..2)", dim);
    return dim_info(spec, dim, with_mfp, out, err);
}

/* Largest valid size <= n, or the smallest valid size if none is. */
static long long nearest_below(const ekn_calc_dim *di, long long n)
{
    if (di->step == 0 || n <= di->base) return di->base;
    return di->base + (n - di->base) / di->step * di->step;
}

/* "nearest valid input sizes in X: 22, 26" for an input n that does not fit. */
static void nearest_text(const ekn_calc_dim *di, int dim, long long n, char *buf, size_t cap)
{
    if (di->step == 0)
        snprintf(buf, cap, "only 1 fits in %c", axis_char[dim]);
    else if (n < di->base)
        snprintf(buf, cap, "the smallest valid input size in %c is %d", axis_char[dim], di->base);
    else {
        long long lo = nearest_below(di, n);
        snprintf(buf, cap, "nearest valid input sizes in %c: %lld, %lld", axis_char[dim], lo,
                 lo + di->step);
    }
}

/* ---- graphs ------------------------------------------------------------------ */

/* The node whose output the spatial geometry describes: the last layer in
 * img-img, else what the first dense layer reads (-1: the input). */
static int spatial_end(const ekn_spec *s)
{
    if (s->mode == EKN_MODE_IMG_IMG) return s->nlayers - 1;
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].kind == EKN_LAYER_DENSE) return s->layers[i].inputs[0];
    return s->nlayers - 1;
}

/* Every layer's size, crops and geometry along axis d for input size n.
 * Returns 0, or -1 with *bad the failing layer and why its reason. */
static int graph_axis(const ekn_spec *s, int d, int n, int *sizes, int (*crops)[EKN_MAX_INPUTS], ekn_geo *geo,
                      int *bad, char *why, size_t cap)
{
    const ekn_geo g0 = {0, 1, 1};
    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        int in[EKN_MAX_INPUTS];
        ekn_geo gin[EKN_MAX_INPUTS];
        for (int k = 0; k < L->ninputs; k++) {
            int j = L->inputs[k];
            in[k] = j == EKN_INPUT_NODE ? n : sizes[j];
            gin[k] = j == EKN_INPUT_NODE ? g0 : geo[j];
        }
        memset(crops[i], 0, sizeof crops[i]);
        if (ekn_layer_class_of(L->kind)->dim(L, d, in, gin, L->ninputs, &sizes[i], crops[i], &geo[i], why, cap)) {
            *bad = i;
            return -1;
        }
        if (sizes[i] > MAX_FOV || geo[i].fov > MAX_FOV) {
            snprintf(why, cap, "the output or its field of view grows past %d", MAX_FOV);
            *bad = i;
            return -1;
        }
    }
    return 0;
}

/* 1 if n fits along d (every layer's rule holds and, in img-img, output 0
 * has a centre pixel at an integer step). */
static int graph_fits(const ekn_spec *s, int d, int n, char *why, size_t cap, int *bad)
{
    int sizes[EKN_MAX_LAYERS], crops[EKN_MAX_LAYERS][EKN_MAX_INPUTS];
    ekn_geo geo[EKN_MAX_LAYERS];
    if (graph_axis(s, d, n, sizes, crops, geo, bad, why, cap)) return 0;
    int e = spatial_end(s);
    if (s->mode == EKN_MODE_IMG_IMG && e >= 0) {
        const ekn_geo *g = &geo[e];
        if (fabs(g->step - floor(g->step + 0.5)) > 1e-9 || g->step < 1 - 1e-9 ||
            fabs(g->centre - floor(g->centre + 0.5)) > 1e-9) {
            snprintf(why, cap, "the output's step (%g) and the centre of its first pixel (%g) must be whole "
                     "numbers of input pixels", g->step, g->centre);
            *bad = e;
            return 0;
        }
    }
    return 1;
}

static int graph_dim_info(const ekn_spec *s, int dim, ekn_calc_dim *o, ekn_err *err)
{
    int found[2], nf = 0, bad = 0;
    char why[300] = "";
    for (int n = 1; n <= GRAPH_SCAN && nf < 2; n++)
        if (graph_fits(s, dim, n, why, sizeof why, &bad)) found[nf++] = n;
    if (!nf)
        return cerr(err, s, s->layers[bad].line, "no input size up to %d fits in %c (at layer '%s': %s)", GRAPH_SCAN,
                    axis_char[dim], s->layers[bad].name, why);
    int sizes[EKN_MAX_LAYERS], crops[EKN_MAX_LAYERS][EKN_MAX_INPUTS];
    ekn_geo geo[EKN_MAX_LAYERS];
    graph_axis(s, dim, found[0], sizes, crops, geo, &bad, why, sizeof why);
    int e = spatial_end(s);
    ekn_geo g = e >= 0 ? geo[e] : (ekn_geo){0, 1, 1};
    o->fov = (int)ceil(g.fov - 1e-9);
    o->stride = (int)floor(g.step + 0.5);
    o->offset = (int)floor(g.centre + 1e-9);
    o->base = found[0];
    o->step = nf > 1 ? found[1] - found[0] : 0;
    return 0;
}

/* The largest size <= n that fits along d, or the smallest that does. */
static int graph_nearest(const ekn_spec *s, int d, int n, ekn_err *err)
{
    char why[300];
    int bad;
    for (int v = n; v >= 1; v--)
        if (graph_fits(s, d, v, why, sizeof why, &bad)) return v;
    ekn_calc_dim di;
    if (graph_dim_info(s, d, &di, err)) return -1;
    return di.base;
}

int ekn_calc_valid_sizes(const ekn_spec *spec, int dim, int with_mfp, int *sizes, int max,
                         ekn_err *err)
{
    if (spec && spec->graph && used_axis(spec, dim) && dim >= 0 && dim <= 2) {
        ekn_calc_dim di;
        if (ekn_calc_dim_info(spec, dim, with_mfp, &di, err)) return -1;
        char why[300];
        int n = 0, bad;
        for (long v = di.base; n < max && v <= GRAPH_SCAN; v++)
            if (graph_fits(spec, dim, (int)v, why, sizeof why, &bad)) sizes[n++] = (int)v;
        return n;
    }
    ekn_calc_dim di;
    if (ekn_calc_dim_info(spec, dim, with_mfp, &di, err)) return -1;
    if (max < 1) return 0;
    if (di.step == 0) {
        sizes[0] = di.base;
        return 1;
    }
    int n = 0;
    for (long long v = di.base; n < max && v <= INT_MAX; v += di.step) sizes[n++] = (int)v;
    return n;
}

int ekn_calc_nearest(const ekn_spec *spec, int dim, int with_mfp, int desired, ekn_err *err)
{
    ekn_calc_dim di;
    if (ekn_calc_dim_info(spec, dim, with_mfp, &di, err)) return -1;
    if (desired < 1)
        return ekn_err_set(err, EKN_EXIT_USAGE, "desired size %d in %c is not positive", desired,
                           axis_char[dim]);
    if (spec->graph && used_axis(spec, dim)) return graph_nearest(spec, dim, desired, err);
    return (int)nearest_below(&di, desired);
}

int ekn_calc_is_valid(const ekn_spec *spec, int dim, int with_mfp, int n, ekn_err *err)
{
    ekn_calc_dim di;
    if (ekn_calc_dim_info(spec, dim, with_mfp, &di, err)) return -1;
    if (spec->graph && used_axis(spec, dim)) {
        char why[300];
        int bad;
        return n >= 1 && graph_fits(spec, dim, n, why, sizeof why, &bad);
    }
    if (di.step == 0) return n == di.base;
    return n >= di.base && (n - di.base) % di.step == 0;
}

int ekn_calc_check(const ekn_spec *spec, ekn_err *err)
{
    if (check_spec(spec, err)) return -1;
    if (!spec->graph) return 0;
    int shape[3] = {1, 1, 1};
    for (int d = 0; d < 3; d++) {
        ekn_calc_dim di;
        if (dim_info(spec, d, 0, &di, err)) return -1;
        shape[d] = di.base;
    }
    ekn_calc *c = malloc(sizeof *c); /* too large for the stack */
    if (!c) return ekn_err_set(err, EKN_EXIT_FAIL, "%s: out of memory", spec_file(spec));
    int rc = graph_run(spec, shape, c, err);
    free(c);
    return rc;
}

int ekn_calc_run(const ekn_spec *spec, const int shape[3], ekn_calc *out, ekn_err *err)
{
    return ekn_calc_run_mfp(spec, shape, 0, out, err);
}

/* Error for an input that does not fit in axis d at layer L. */
static int misfit(const ekn_spec *s, const ekn_spec_layer *L, int d, int with_mfp, int n_in,
                  const char *why, ekn_err *err)
{
    ekn_calc_dim di;
    char near[160] = "";
    if (dim_info(s, d, with_mfp, &di, err) == 0) nearest_text(&di, d, n_in, near, sizeof near);
    return cerr(err, s, L->line, "layer '%s': input size %d in %c does not fit: %s; %s", L->name,
                n_in, axis_char[d], why, near);
}

/* The graph path of ekn_calc_run_mfp: sh has been checked against the axes. */
static int graph_run(const ekn_spec *s, const int sh[3], ekn_calc *out, ekn_err *err)
{
    int sizes[3][EKN_MAX_LAYERS], crops[3][EKN_MAX_LAYERS][EKN_MAX_INPUTS];
    ekn_geo geo[3][EKN_MAX_LAYERS];
    for (int d = 0; d < 3; d++) {
        char why[300];
        int bad = 0;
        if (!graph_fits(s, d, sh[d], why, sizeof why, &bad)) {
            ekn_calc_dim di;
            char near[160] = "";
            if (used_axis(s, d) && graph_dim_info(s, d, &di, err) == 0) {
                if (sh[d] < di.base)
                    snprintf(near, sizeof near, "the smallest valid input size in %c is %d", axis_char[d], di.base);
                else {
                    int lo = graph_nearest(s, d, sh[d], err), hi = -1;
                    for (int v = sh[d] + 1; v <= GRAPH_SCAN && hi < 0; v++) {
                        char w2[300];
                        int b2;
                        if (graph_fits(s, d, v, w2, sizeof w2, &b2)) hi = v;
                    }
                    snprintf(near, sizeof near, "nearest valid input sizes in %c: %d, %d", axis_char[d], lo, hi);
                }
            } else if (!used_axis(s, d)) {
                snprintf(near, sizeof near, "only 1 fits in %c", axis_char[d]);
            }
            const ekn_spec_layer *L = &s->layers[bad];
            return cerr(err, s, L->line, "layer '%s': input size %d in %c does not fit: %s; %s", L->name, sh[d],
                        axis_char[d], why, near);
        }
        graph_axis(s, d, sh[d], sizes[d], crops[d], geo[d], &bad, why, sizeof why);
    }
    out->graph = 1;
    out->in_channels = s->channels;
    double input = (double)s->channels * sh[0] * sh[1] * sh[2];
    out->act_bytes = 8.0 * input; /* the batch's input and its noisy copy */
    double max_elts = input;
    int chans[EKN_MAX_LAYERS];
    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        const ekn_layer_class *cls = ekn_layer_class_of(L->kind);
        ekn_calc_layer *cl = &out->layers[i];
        int cin[EKN_MAX_INPUTS];
        cl->nin = L->ninputs;
        for (int k = 0; k < L->ninputs; k++) {
            int j = L->inputs[k];
            cin[k] = j == EKN_INPUT_NODE ? s->channels : chans[j];
            cl->in_c[k] = cin[k];
            for (int d = 0; d < 3; d++) {
                cl->in_sz[k][d] = j == EKN_INPUT_NODE ? sh[d] : sizes[d][j];
                cl->crop[k][d] = crops[d][i][k];
            }
        }
        memcpy(cl->in, cl->in_sz[0], sizeof cl->in);
        cl->channels_in = cin[0];
        double flat = (double)cin[0] * cl->in[0] * cl->in[1] * cl->in[2];
        char why[300] = "";
        if (cls->channels(s, L, cin, L->ninputs, flat, &chans[i], why, sizeof why))
            return cerr(err, s, L->line, "layer '%s': %s", L->name, why);
        cl->channels_out = chans[i];
        for (int d = 0; d < 3; d++) {
            cl->out[d] = sizes[d][i];
            cl->frags[d] = 1;
            cl->fov[d] = (int)ceil(geo[d][i].fov - 1e-9);
            cl->stride[d] = (int)floor(geo[d][i].step + 0.5);
            cl->offset[d] = (int)floor(geo[d][i].centre + 1e-9);
            cl->centre[d] = geo[d][i].centre;
            cl->step[d] = geo[d][i].step;
        }
        double outn = (double)cl->out[0] * cl->out[1] * cl->out[2], elts = chans[i] * outn;
        if (flat > INT_MAX || elts > INT_MAX)
            return cerr(err, s, L->line, "layer '%s' has %.0f elements per example (at most %d)", L->name,
                        flat > elts ? flat : elts, INT_MAX);
        double nw, nb, nst;
        cls->params(L, cin[0], chans[i], flat, &nw, &nb, &nst);
        if (L->act == EKN_ACT_PRELU) nb += chans[i]; /* the slopes (net.c) */
        if (nw + nb > MAX_PARAMS)
            return cerr(err, s, L->line, "layer '%s' has too many parameters (%.3g)", L->name, nw + nb);
        cl->params = (long)(nw + nb);
        cl->state = (long)nst;
        cl->flops = cls->flops(L, cin[0], chans[i], flat, outn);
        double per_ex = 0, per_batch = 0;
        if (cls->scratch) cls->scratch(L, chans[i], outn, &per_ex, &per_batch);
        /* as lib/nn/net.c allocates: z, y unless linear, a dropout mask, the
         * noisy output, a pool's argmax, the kind's own scratch */
        cl->act_bytes = elts * (L->act == EKN_ACT_LINEAR ? 4 : 8) + (L->dropout > 0 ? 4 * elts : 0) +
                        (L->noise > 0 ? 4 * elts : 0) + (L->kind == EKN_LAYER_POOL ? 4 * elts : 0) + 4 * per_ex;
        cl->work_bytes = cls->workspace ? 4.0 * cls->workspace(ekn_ops_cpu(), L, cl, 1) : 0;
        out->batch_bytes += 4 * per_batch + 4.0 * nst;
        if (elts > max_elts) max_elts = elts;
        out->params += cl->params;
        out->flops += cl->flops;
        out->act_bytes += cl->act_bytes;
        if (cl->work_bytes > out->work_bytes) out->work_bytes = cl->work_bytes;
    }
    ekn_net_layer plan[EKN_MAX_LAYERS];
    out->grad_slots = ekn_net_plan(s, plan);
    out->act_bytes += 4.0 * out->grad_slots * max_elts;
    out->nlayers = s->nlayers;
    const ekn_calc_layer *last = &out->layers[s->nlayers - 1];
    memcpy(out->in, sh, sizeof out->in);
    memcpy(out->out, last->out, sizeof out->out);
    out->out_channels = last->channels_out;
    int e = spatial_end(s);
    for (int d = 0; d < 3; d++) {
        out->frags[d] = 1;
        out->dense_out[d] = last->out[d];
        if (e >= 0) {
            out->fov[d] = out->layers[e].fov[d];
            out->stride[d] = out->layers[e].stride[d];
            out->offset[d] = out->layers[e].offset[d];
        } else {
            out->fov[d] = out->stride[d] = 1;
            out->offset[d] = 0;
        }
    }
    return 0;
}

int ekn_calc_run_mfp(const ekn_spec *spec, const int shape[3], int with_mfp, ekn_calc *out,
                     ekn_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_spec(spec, err)) return -1;
    const ekn_spec *s = spec;
    ekn_calc_dim di[3];
    for (int d = 0; d < 3; d++)
        if (dim_info(s, d, with_mfp, &di[d], err)) return -1;

    if (!shape) {
        if (!s->has_shape)
            return cerr(err, s, s->input_line, "[input] gives no 'shape': the input size must "
                                               "be given");
        shape = s->shape;
    }
    int sh[3];
    for (int d = 0; d < 3; d++) {
        sh[d] = shape[d];
        if (!used_axis(s, d) && sh[d] != 1)
            return cerr(err, s, s->input_line, "the spec has %d spatial dimension%s (%s): the "
                        "input size in %c must be 1, not %d", s->ndim, s->ndim == 1 ? "" : "s",
                        s->ndim == 3 ? "Z,Y,X" : s->ndim == 2 ? "Y,X" : "X", axis_char[d], sh[d]);
        if (sh[d] < 1)
            return cerr(err, s, s->input_line, "input size %d in %c is not positive", sh[d],
                        axis_char[d]);
    }

    if (s->graph) return graph_run(s, sh, out, err);
    int cur[3] = {sh[0], sh[1], sh[2]}, frags[3] = {1, 1, 1};
    long long fov[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
    int C = s->channels;
    double total_params = 0;
    out->in_channels = C;
    out->mfp = with_mfp;
    /* the batch's input and its noisy copy */
    out->act_bytes = 8.0 * C * sh[0] * sh[1] * sh[2];
    double max_elts = (double)C * sh[0] * sh[1] * sh[2]; /* dx of the first layer goes there too */

    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        ekn_calc_layer *cl = &out->layers[i];
        memcpy(cl->in, cur, sizeof cur);
        cl->channels_in = C;
        cl->nin = 1;
        cl->in_c[0] = C;
        memcpy(cl->in_sz[0], cur, sizeof cur);
        double nfr = (double)frags[0] * frags[1] * frags[2];
        double kvol = (double)L->size[0] * L->size[1] * L->size[2];
        double params = 0;
        char why[200];

        switch (L->kind) {
        case EKN_LAYER_CONV:
            for (int d = 0; d < 3; d++) {
                if (cur[d] < L->size[d]) {
                    snprintf(why, sizeof why, "here it is %d, smaller than the filter size %d",
                             cur[d], L->size[d]);
                    return misfit(s, L, d, with_mfp, sh[d], why, err);
                }
                cur[d] -= L->size[d] - 1;
                fov[d] += (long long)(L->size[d] - 1) * stride[d];
            }
            params = (double)C * kvol * L->units + L->units;
            cl->flops = 2.0 * cur[0] * cur[1] * cur[2] * L->units * C * kvol * nfr;
            /* the lowered input (C*kvol rows) and the GEMM's output, per example (kernels/conv_cpu.c) */
            cl->work_bytes = 4.0 * ((double)C * kvol + L->units) * cur[0] * cur[1] * cur[2] * nfr;
            C = L->units;
            break;
        case EKN_LAYER_POOL: {
            int mfp = with_mfp && L->mfp;
            for (int d = 0; d < 3; d++) {
                int p = L->size[d];
                if (mfp) {
                    if (cur[d] < p || (cur[d] - p + 1) % p) {
                        snprintf(why, sizeof why, "here it is %d, and max fragment pooling by %d "
                                 "needs (n - %d + 1) to be a multiple of %d", cur[d], p, p, p);
                        return misfit(s, L, d, with_mfp, sh[d], why, err);
                    }
                    cur[d] = (cur[d] - p + 1) / p;
                    frags[d] *= p;
                } else {
                    if (cur[d] % p) {
                        snprintf(why, sizeof why, "here it is %d, not a multiple of the pool "
                                 "size %d", cur[d], p);
                        return misfit(s, L, d, with_mfp, sh[d], why, err);
                    }
                    cur[d] /= p;
                }
                fov[d] += (long long)(p - 1) * stride[d];
                stride[d] *= p;
            }
            nfr = (double)frags[0] * frags[1] * frags[2];
            cl->flops = 0;
            break;
        }
        case EKN_LAYER_DENSE: {
            double in = (double)C * cur[0] * cur[1] * cur[2];
            if (in > INT_MAX)
                return cerr(err, s, L->line, "layer '%s' flattens %.0f inputs (at most %d)",
                            L->name, in, INT_MAX);
            params = in * L->units + L->units;
            cl->flops = 2.0 * in * L->units * nfr;
            for (int d = 0; d < 3; d++) {
                fov[d] = sh[d]; /* a dense layer sees the whole input */
                cur[d] = 1;
            }
            C = L->units;
            break;
        }
        default: /* the other kinds make a spec a graph (graph_run) */
            break;
        }
        if (params > MAX_PARAMS)
            return cerr(err, s, L->line, "layer '%s' has too many parameters (%.3g)", L->name, params);
        cl->params = (long)params;
        total_params += params;
        if (total_params > MAX_PARAMS)
            return cerr(err, s, L->line, "the network has too many parameters (%.3g)", total_params);
        /* as lib/nn/net.c allocates: the pre-activation output, the activated one
         * unless linear, a dropout mask, a max-pool's argmax */
        double elts = (double)C * cur[0] * cur[1] * cur[2] * nfr;
        cl->act_bytes = elts * (L->act == EKN_ACT_LINEAR ? 4 : 8) + (L->dropout > 0 ? 4 * elts : 0) +
                        (L->kind == EKN_LAYER_POOL ? 4 * elts : 0);
        if (elts > max_elts) max_elts = elts;
        memcpy(cl->out, cur, sizeof cur);
        memcpy(cl->frags, frags, sizeof frags);
        cl->channels_out = C;
        for (int d = 0; d < 3; d++) {
            cl->fov[d] = (int)fov[d];
            cl->stride[d] = (int)stride[d];
            cl->offset[d] = (int)(fov[d] / 2);
        }
        out->params += cl->params;
        out->flops += cl->flops;
        out->act_bytes += cl->act_bytes;
        if (cl->work_bytes > out->work_bytes) out->work_bytes = cl->work_bytes;
    }
    /* two gradient buffers of the largest layer, ping-ponged by the backward pass */
    out->act_bytes += 8 * max_elts;
    out->grad_slots = 2;
    out->nlayers = s->nlayers;
    memcpy(out->in, sh, sizeof sh);
    memcpy(out->out, cur, sizeof cur);
    memcpy(out->frags, frags, sizeof frags);
    out->out_channels = C;
    for (int d = 0; d < 3; d++) {
        out->fov[d] = di[d].fov;
        out->stride[d] = di[d].stride;
        out->offset[d] = di[d].offset;
        out->dense_out[d] = cur[d] * frags[d];
    }
    return 0;
}

double ekn_calc_train_bytes(const ekn_calc *c, long batch)
{
    return (c->act_bytes + c->work_bytes) * batch + 16.0 * c->params + c->batch_bytes;
}
