/* calc_print: ekn-calc's report and its table, shell and JSON printers. */
#include "calc_print.h"

#include <stdio.h>
#include <string.h>

static const char AXIS[3] = {'Z', 'Y', 'X'};


/* ---- formatting helpers ---------------------------------------------------- */

/* "5x5" / "1x4x4" for the used axes of v. */
static const char *dims(const ekn_calc_report *x, const int v[3], const char *sep, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int d = x->d0; d < 3 && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", d > x->d0 ? sep : "", v[d]);
    return buf;
}

/* Shape of a tensor: "CxYxX", or the element count for flat ones (dense, vect-scalar). */
static const char *tensor(const ekn_calc_report *x, int channels, const int sp[3], int flat, char *buf,
                          size_t cap)
{
    if (flat) {
        snprintf(buf, cap, "%ld", (long)channels * sp[0] * sp[1] * sp[2]);
        return buf;
    }
    char s[64];
    snprintf(buf, cap, "%dx%s", channels, dims(x, sp, "x", s, sizeof s));
    return buf;
}

/* 1234567 -> "1.23M" (decimal units). */
static const char *human(double v, char *buf, size_t cap)
{
    const char *suf[] = {"", "K", "M", "G", "T", "P"};
    int i = 0;
    while (v >= 1000 && i < 5) {
        v /= 1000;
        i++;
    }
    if (i == 0) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "%.3g%s", v, suf[i]);
    return buf;
}

/* bytes -> "1.5 MiB". */
static const char *bytes(double v, char *buf, size_t cap)
{
    const char *suf[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    if (i == 0) snprintf(buf, cap, "%.0f B", v);
    else snprintf(buf, cap, "%.3g %s", v, suf[i]);
    return buf;
}

static int flat_layer(const ekn_calc_report *x, int i)
{
    return x->spec->mode == EKN_MODE_VECT_SCALAR || x->spec->layers[i].kind == EKN_LAYER_DENSE;
}

static int is_img(const ekn_calc_report *x)
{
    return x->spec->mode != EKN_MODE_VECT_SCALAR;
}

/* ---- table ---------------------------------------------------------------------- */

void ekn_calc_print_table(const ekn_calc_report *x)
{
    const ekn_spec *s = x->spec;
    const ekn_calc *c = &x->c;
    char a[64], b[64], f[64], g[64], h[64], k[64], m[64], n[64], o[64];
    const char *axes = s->ndim == 3 ? "Z,Y,X" : s->ndim == 2 ? "Y,X" : "X";

    printf("%s: %s, ", x->path, ekn_mode_name(s->mode));
    if (is_img(x))
        printf("%dD (%s), input %s (C,%s) from %s%s\n", s->ndim, axes,
               tensor(x, c->in_channels, c->in, 0, a, sizeof a), axes, x->shape_from,
               c->mfp ? ", max fragment pooling" : "");
    else
        printf("%d features from %s\n", c->in[2], x->shape_from);
    printf("\n%3s %-5s %-12s %7s %-7s %-7s %16s -> %-16s %-9s %-9s %-9s %-9s %9s %9s %10s\n", "#",
           "layer", "name", "outputs", "size", "act", "input", "output", "fov", "stride",
           "overlap", "offset", "params", "FLOPs", "act/ex");
    for (int i = 0; i < c->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        const ekn_calc_layer *cl = &c->layers[i];
        int flat = flat_layer(x, i);
        int in_flat = s->mode == EKN_MODE_VECT_SCALAR || (i > 0 && flat_layer(x, i - 1));
        char outs[16] = "-", size[32] = "-", act[16] = "-";
        int has_units = L->kind == EKN_LAYER_CONV || L->kind == EKN_LAYER_DENSE || L->kind == EKN_LAYER_UPCONV;
        if (L->kind != EKN_LAYER_POOL) {
            if (has_units) snprintf(outs, sizeof outs, "%d", L->units);
            snprintf(act, sizeof act, "%s", ekn_spec_act_name(L->act));
        }
        if (L->kind == EKN_LAYER_POOL && L->pool_mode == EKN_POOLMODE_MAXOUT)
            snprintf(size, sizeof size, "C/%d", L->maxout); /* channel maxout */
        else if (L->kind == EKN_LAYER_CONV || L->kind == EKN_LAYER_POOL || L->kind == EKN_LAYER_UPCONV)
            snprintf(size, sizeof size, "%s%s", dims(x, L->size, "x", a, sizeof a),
                     L->kind == EKN_LAYER_POOL && L->mfp && c->mfp ? "*" : "");
        int overlap[3];
        for (int d = 0; d < 3; d++) overlap[d] = cl->fov[d] - cl->stride[d];
        int show_geom = is_img(x);
        printf("%3d %-5s %-12s %7s %-7s %-7s %16s -> %-16s %-9s %-9s %-9s %-9s %9s %9s %10s",
               i + 1, ekn_layer_kind_name(L->kind), L->name, outs, size, act,
               tensor(x, cl->channels_in, cl->in, in_flat, b, sizeof b),
               tensor(x, cl->channels_out, cl->out, flat, f, sizeof f),
               show_geom ? dims(x, cl->fov, "x", g, sizeof g) : "-",
               show_geom ? dims(x, cl->stride, "x", h, sizeof h) : "-",
               show_geom ? dims(x, overlap, "x", k, sizeof k) : "-",
               show_geom ? dims(x, cl->offset, "x", m, sizeof m) : "-",
               human((double)cl->params, n, sizeof n), human(cl->flops, o, sizeof o),
               bytes(cl->act_bytes, a, sizeof a));
        /* a graph's rows name what each layer reads (the chain's is the row above) */
        for (int k = 0; s->graph && k < L->ninputs; k++)
            printf("%s%s", k ? ", " : "  <- ", L->inputs[k] < 0 ? "input" : s->layers[L->inputs[k]].name);
        printf("\n");
    }
    if (c->mfp) printf("    (* max fragment pooling; shapes are per fragment)\n");

    printf("\n");
    int flat_out = flat_layer(x, c->nlayers - 1);
    printf("output        %s", tensor(x, c->out_channels, c->out, flat_out, a, sizeof a));
    int classes = ekn_spec_classes(s);
    if (classes && s->loss != EKN_LOSS_NLL) printf(" (%d classes, softmax, loss %s)", classes, ekn_spec_loss_name(s->loss));
    else if (classes) printf(" (%d classes, softmax)", classes);
    else if (ekn_spec_sigmoid(s))
        printf(" (%d independent label%s, sigmoid, loss %s)", ekn_spec_outputs(s), ekn_spec_outputs(s) == 1 ? "" : "s",
               ekn_spec_loss_name(s->loss));
    else printf(" (regression, linear)");
    printf("%s\n", c->mfp ? ", per fragment" : "");
    printf("parameters    %ld (%s float32)\n", c->params, bytes(4.0 * c->params, a, sizeof a));
    printf("forward FLOPs %s per example (2 x multiply-adds)\n", human(c->flops, a, sizeof a));
    printf("activations   %s per example (input, layer outputs and their gradients, float32)",
           bytes(c->act_bytes, a, sizeof a));
    if (x->batch > 1) printf("; %s for a batch of %ld", bytes(c->act_bytes * x->batch, b, sizeof b),
                              x->batch);
    printf("\n");
    printf("workspace     %s for a batch of %ld (the largest conv layer's lowered input, shared)\n",
           bytes(c->work_bytes * x->batch, a, sizeof a), x->batch);
    printf("training      %s for a batch of %ld (activations, workspace, and parameters, gradients,\n"
           "              decay factors and momentum: what ekn-train needs besides its data)\n",
           bytes(ekn_calc_train_bytes(c, x->batch), a, sizeof a), x->batch);
    if (is_img(x)) {
        printf("field of view %s, stride %s, offset %s\n", dims(x, c->fov, "x", a, sizeof a),
               dims(x, c->stride, "x", b, sizeof b), dims(x, c->offset, "x", f, sizeof f));
        printf("valid input sizes%s:\n", c->mfp ? " with max fragment pooling" : "");
        for (int d = x->d0; d < 3; d++) {
            printf("  %c: ", AXIS[d]);
            for (int j = 0; j < x->nvalid[d]; j++) printf("%s%d", j ? ", " : "", x->valid[d][j]);
            printf(", ... (%d + %d k)\n", x->dim[d].base, x->dim[d].step);
        }
        if (s->mode == EKN_MODE_IMG_IMG) {
            char st[64];
            int dstride[3];
            for (int d = 0; d < 3; d++) dstride[d] = c->stride[d] / c->frags[d];
            printf("label patch   %s (%s) at offset %s, stride %s in the input%s\n",
                   dims(x, c->dense_out, "x", a, sizeof a), axes, dims(x, c->offset, "x", b, sizeof b),
                   dims(x, dstride, "x", st, sizeof st),
                   c->mfp ? " (dense output of all fragments)" : "");
            if (c->mfp)
                printf("fragments     %s, each %s\n", dims(x, c->frags, "x", f, sizeof f),
                       dims(x, c->out, "x", g, sizeof g));
        }
    }
    if (x->ndesired) {
        int des[3] = {1, 1, 1};
        for (int d = 0; d < 3; d++) des[d] = x->desired[d];
        printf("desired       %s -> nearest valid %s\n", dims(x, des, ",", a, sizeof a),
               dims(x, x->nearest, ",", b, sizeof b));
    }
}

/* ---- shell ---------------------------------------------------------------------- */

void ekn_calc_print_shell(const ekn_calc_report *x)
{
    const ekn_spec *s = x->spec;
    const ekn_calc *c = &x->c;
    char a[160], b[64];
    printf("EKN_MODE=%s\n", ekn_mode_name(s->mode));
    printf("EKN_NDIM=%d\n", s->ndim);
    printf("EKN_CHANNELS=%d\n", c->in_channels);
    printf("EKN_INPUT_SIZE=%s\n", dims(x, c->in, ",", a, sizeof a));
    printf("EKN_INPUT_SHAPE=%d,%s\n", c->in_channels, a);
    int flat_out = flat_layer(x, c->nlayers - 1);
    if (flat_out) {
        printf("EKN_OUTPUT_SIZE=1\nEKN_OUTPUT_SHAPE=%d\n", c->out_channels);
    } else {
        printf("EKN_OUTPUT_SIZE=%s\n", dims(x, c->out, ",", a, sizeof a));
        printf("EKN_OUTPUT_SHAPE=%d,%s\n", c->out_channels, a);
    }
    printf("EKN_CLASSES=%d\n", ekn_spec_classes(s));
    printf("EKN_FOV=%s\n", dims(x, c->fov, ",", a, sizeof a));
    printf("EKN_STRIDE=%s\n", dims(x, c->stride, ",", a, sizeof a));
    printf("EKN_OFFSET=%s\n", dims(x, c->offset, ",", a, sizeof a));
    printf("EKN_MFP=%d\n", c->mfp);
    if (s->mode == EKN_MODE_IMG_IMG) {
        printf("EKN_LABEL_SIZE=%s\n", dims(x, c->dense_out, ",", a, sizeof a));
        printf("EKN_FRAGMENTS=%s\n", dims(x, c->frags, ",", a, sizeof a));
    }
    if (is_img(x))
        for (int d = x->d0; d < 3; d++) {
            size_t n = 0;
            for (int j = 0; j < x->nvalid[d]; j++)
                n += (size_t)snprintf(a + n, sizeof a - n, "%s%d", j ? "," : "", x->valid[d][j]);
            printf("EKN_VALID_%c=%s\n", AXIS[d], a);
            printf("EKN_VALID_%c_MIN=%d\n", AXIS[d], x->dim[d].base);
            printf("EKN_VALID_%c_STEP=%d\n", AXIS[d], x->dim[d].step);
        }
    printf("EKN_PARAMS=%ld\n", c->params);
    printf("EKN_PARAM_BYTES=%.0f\n", 4.0 * c->params);
    printf("EKN_FLOPS=%.0f\n", c->flops);
    printf("EKN_ACT_BYTES=%.0f\n", c->act_bytes);
    printf("EKN_BATCH=%ld\n", x->batch);
    printf("EKN_BATCH_ACT_BYTES=%.0f\n", c->act_bytes * x->batch);
    printf("EKN_WORK_BYTES=%.0f\n", c->work_bytes * x->batch);
    printf("EKN_TRAIN_BYTES=%.0f\n", ekn_calc_train_bytes(c, x->batch));
    if (x->ndesired) {
        printf("EKN_DESIRED=%s\n", dims(x, x->desired, ",", a, sizeof a));
        printf("EKN_NEAREST=%s\n", dims(x, x->nearest, ",", b, sizeof b));
    }
}

/* ---- json ----------------------------------------------------------------------- */

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static void json_dims(const ekn_calc_report *x, const int v[3])
{
    putchar('[');
    for (int d = x->d0; d < 3; d++) printf("%s%d", d > x->d0 ? "," : "", v[d]);
    putchar(']');
}

void ekn_calc_print_json(const ekn_calc_report *x)
{
    const ekn_spec *s = x->spec;
    const ekn_calc *c = &x->c;
    printf("{\"spec\":");
    json_str(x->path);
    printf(",\"mode\":\"%s\",\"ndim\":%d,\"mfp\":%s,\"input_channels\":%d,\"input_size\":",
           ekn_mode_name(s->mode), s->ndim, c->mfp ? "true" : "false", c->in_channels);
    json_dims(x, c->in);
    printf(",\"output_channels\":%d,\"output_size\":", c->out_channels);
    json_dims(x, c->out);
    printf(",\"classes\":%d,\"fov\":", ekn_spec_classes(s));
    json_dims(x, c->fov);
    printf(",\"stride\":");
    json_dims(x, c->stride);
    printf(",\"offset\":");
    json_dims(x, c->offset);
    if (s->mode == EKN_MODE_IMG_IMG) {
        printf(",\"label_size\":");
        json_dims(x, c->dense_out);
        printf(",\"fragments\":");
        json_dims(x, c->frags);
    }
    printf(",\"params\":%ld,\"flops\":%.0f,\"act_bytes\":%.0f,\"batch\":%ld,\"batch_act_bytes\":%.0f",
           c->params, c->flops, c->act_bytes, x->batch, c->act_bytes * x->batch);
    printf(",\"work_bytes\":%.0f,\"train_bytes\":%.0f", c->work_bytes * x->batch, ekn_calc_train_bytes(c, x->batch));
    if (is_img(x)) {
        printf(",\"valid\":{");
        for (int d = x->d0; d < 3; d++) {
            printf("%s\"%c\":{\"min\":%d,\"step\":%d,\"first\":[", d > x->d0 ? "," : "", AXIS[d],
                   x->dim[d].base, x->dim[d].step);
            for (int j = 0; j < x->nvalid[d]; j++) printf("%s%d", j ? "," : "", x->valid[d][j]);
            printf("]}");
        }
        printf("}");
    }
    if (x->ndesired) {
        printf(",\"desired\":");
        json_dims(x, x->desired);
        printf(",\"nearest\":");
        json_dims(x, x->nearest);
    }
    printf(",\"layers\":[");
    for (int i = 0; i < c->nlayers; i++) {
        const ekn_spec_layer *L = &s->layers[i];
        const ekn_calc_layer *cl = &c->layers[i];
        printf("%s{\"name\":", i ? "," : "");
        json_str(L->name);
        printf(",\"kind\":\"%s\",\"line\":%d", ekn_layer_kind_name(L->kind), L->line);
        if (L->kind != EKN_LAYER_POOL)
            printf(",\"units\":%d,\"act\":\"%s\"", L->units, ekn_spec_act_name(L->act));
        if (L->kind != EKN_LAYER_DENSE) {
            printf(",\"size\":");
            json_dims(x, L->size);
        }
        if (L->kind == EKN_LAYER_POOL) printf(",\"mfp\":%s", L->mfp ? "true" : "false");
        if (L->kind == EKN_LAYER_POOL && L->pool_mode == EKN_POOLMODE_MAXOUT) printf(",\"maxout\":%d", L->maxout);
        if (s->graph) {
            /* the graph: each node's inputs, and where a merge centre-crops them */
            printf(",\"inputs\":[");
            for (int k = 0; k < L->ninputs; k++) {
                printf("%s{\"name\":", k ? "," : "");
                json_str(L->inputs[k] < 0 ? "input" : s->layers[L->inputs[k]].name);
                printf(",\"channels\":%d,\"size\":", cl->in_c[k]);
                json_dims(x, cl->in_sz[k]);
                printf(",\"crop\":");
                json_dims(x, cl->crop[k]);
                printf("}");
            }
            printf("]");
        }
        printf(",\"channels_in\":%d,\"in\":", cl->channels_in);
        json_dims(x, cl->in);
        printf(",\"channels_out\":%d,\"out\":", cl->channels_out);
        json_dims(x, cl->out);
        int overlap[3];
        for (int d = 0; d < 3; d++) overlap[d] = cl->fov[d] - cl->stride[d];
        printf(",\"fov\":");
        json_dims(x, cl->fov);
        printf(",\"stride\":");
        json_dims(x, cl->stride);
        printf(",\"overlap\":");
        json_dims(x, overlap);
        printf(",\"offset\":");
        json_dims(x, cl->offset);
        printf(",\"fragments\":");
        json_dims(x, cl->frags);
        printf(",\"params\":%ld,\"flops\":%.0f,\"act_bytes\":%.0f}", cl->params, cl->flops,
               cl->act_bytes);
    }
    printf("]}\n");
}

/* ---- the report ----------------------------------------------------------------- */

/* A per-axis list (--shape, --desired) of ndim values, or 3 whose unused
 * leading axes are 1, into v[3] (Z,Y,X). */
static int axis_list(const ekn_spec *s, const char *opt, const ekn_zyx *z, int v[3], ekn_err *err)
{
    const int U = EKN_EXIT_USAGE;
    int n = z->n;
    const char *arg = z->text, *axes = s->ndim == 3 ? "Z,Y,X" : s->ndim == 2 ? "Y,X" : "X";
    if (s->mode == EKN_MODE_VECT_SCALAR && n != 1)
        return ekn_err_set(err, U, "%s: '%s' must be one number (the feature count) for mode = vect-scalar", opt, arg);
    if (n != s->ndim && n != 3)
        return ekn_err_set(err, U, "%s: '%s' has %d value%s, the spec has %d spatial dimension%s (%s)", opt, arg, n,
                           n == 1 ? "" : "s", s->ndim, s->ndim == 1 ? "" : "s", axes);
    for (int d = 0; d < 3; d++) v[d] = 1;
    ekn_zyx_place(z, v);
    for (int d = 0; d < 3 - s->ndim; d++)
        if (v[d] != 1)
            return ekn_err_set(err, U, "%s: '%s': the spec has %d spatial dimension%s (%s), so %c must be 1", opt, arg,
                               s->ndim, s->ndim == 1 ? "" : "s", axes, AXIS[d]);
    return 0;
}

int ekn_calc_report_build(ekn_calc_report *x, const ekn_spec *s, const char *path, const ekn_calc_opts *o,
                          ekn_err *err)
{
    memset(x, 0, sizeof *x);
    x->spec = s;
    x->path = path;
    x->batch = o->batch;
    x->d0 = 3 - s->ndim;
    if (o->mfp && !ekn_spec_has_mfp(s)) ekn_warn("%s: no pool layer sets 'mfp = 1', so --mfp changes nothing", path);

    for (int d = 0; d < 3; d++) {
        if (ekn_calc_dim_info(s, d, o->mfp, &x->dim[d], err)) return -1;
        x->nvalid[d] = ekn_calc_valid_sizes(s, d, o->mfp, x->valid[d], EKN_CALC_NVALID, err);
        if (x->nvalid[d] < 0) return -1;
    }
    if (o->desired.n) {
        if (axis_list(s, "--desired", &o->desired, x->desired, err)) return -1;
        x->ndesired = 1;
        for (int d = 0; d < 3; d++) {
            x->nearest[d] = ekn_calc_nearest(s, d, o->mfp, x->desired[d], err);
            if (x->nearest[d] < 0) return -1;
        }
    }

    int shape[3];
    if (o->shape.n) {
        if (axis_list(s, "--shape", &o->shape, shape, err)) return -1;
        x->shape_from = "--shape";
    } else if (s->has_shape) {
        memcpy(shape, s->shape, sizeof shape);
        x->shape_from = "the spec";
    } else if (x->ndesired) {
        memcpy(shape, x->nearest, sizeof shape);
        x->shape_from = "--desired (nearest valid)";
    } else if (s->mode == EKN_MODE_VECT_SCALAR) {
        return ekn_err_set(err, EKN_EXIT_USAGE, "%s gives no 'shape' (the feature count): use --shape FEATURES", path);
    } else {
        for (int d = 0; d < 3; d++) shape[d] = x->dim[d].base;
        x->shape_from = "the smallest valid input (the spec gives no 'shape')";
    }
    ekn_info("input size %d,%d,%d (Z,Y,X) from %s", shape[0], shape[1], shape[2], x->shape_from);
    return ekn_calc_run_mfp(s, shape, o->mfp, &x->c, err);
}
