/* calc: the CNN calculator; the arithmetic is described in calc.h. */
#include "calc.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_FOV (1 << 30)
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
        if (L->kind != EKN_LAYER_POOL && L->units < 1)
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

static int dim_info(const ekn_spec *s, int dim, int with_mfp, ekn_calc_dim *o, ekn_err *err)
{
    *o = (ekn_calc_dim){.fov = 1, .stride = 1, .offset = 0, .base = 1, .step = 0, .frags = 1};
    if (!used_axis(s, dim)) return 0;
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

int ekn_calc_valid_sizes(const ekn_spec *spec, int dim, int with_mfp, int *sizes, int max,
                         ekn_err *err)
{
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
    return (int)nearest_below(&di, desired);
}

int ekn_calc_is_valid(const ekn_spec *spec, int dim, int with_mfp, int n, ekn_err *err)
{
    ekn_calc_dim di;
    if (ekn_calc_dim_info(spec, dim, with_mfp, &di, err)) return -1;
    if (di.step == 0) return n == di.base;
    return n >= di.base && (n - di.base) % di.step == 0;
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
    return (c->act_bytes + c->work_bytes) * batch + 16.0 * c->params;
}
