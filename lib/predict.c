#include "predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "net.h"
#include "net_mfp.h"
#include "stream.h"
#include "tiling.h"
#include "train.h"

typedef struct predictor {
    const ekn_predict_config *cfg;
    const ekn_ops *ops;      /* where the net computes */
    ekn_spec spec;
    ekn_net net;
    int built;
    ekn_mfp_net mfp;         /* --dense with max fragment pooling */
    int mfp_built;
    float *theta;            /* the checkpoint's parameters, kept across rebuilds */
    size_t nparams;
    float *x;                /* one batch of (cut) inputs */
    float *out;              /* the whole record's outputs */
    float *tile_out;         /* --dense: one batch of tile outputs on the host */
    size_t tile_out_cap;
    int32_t *cls;
    size_t out_cap, x_cap;
    long *confusion;
    int classes;
    double se_sum;           /* regression: squared error */
    size_t se_n;
} predictor;

static int rebuild(predictor *p, const int shape[3], int batch, ekn_err *err)
{
    if (p->built && !memcmp(p->net.in, shape, 3 * sizeof *shape) && p->net.max_batch >= batch) return 0;
    if (p->built) ekn_net_free(&p->net);
    p->built = 0;
    if (ekn_net_build(&p->net, &p->spec, shape, batch, p->ops, err)) return -1;
    p->built = 1;
    if (!p->theta) {
        if (ekn_checkpoint_load_params(p->cfg->model, &p->net, err)) return -1;
        p->nparams = p->net.nparams;
        if (!(p->theta = malloc(p->nparams * sizeof(float))))
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        memcpy(p->theta, ekn_net_params_host(&p->net), p->nparams * sizeof(float));
    } else {
        ekn_net_params_set(&p->net, p->theta);
    }
    return 0;
}

static int grow(void **buf, size_t *cap, size_t bytes, ekn_err *err)
{
    if (bytes <= *cap) return 0;
    void *q = realloc(*buf, bytes);
    if (!q) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for %zu bytes of output", bytes);
    *buf = q;
    *cap = bytes;
    return 0;
}

static int choose_shape(predictor *p, const int data[3], int shape[3], const char *src, ekn_err *err)
{
    if (p->spec.mode != EKN_MODE_IMG_IMG) {
        memcpy(shape, data, 3 * sizeof *shape);
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        int v = ekn_calc_nearest(&p->spec, k, 0, data[k], err);
        if (v < 0) return -1;
        if (v > data[k])
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': input of %d in axis %c is smaller than the net's smallest input %d",
                               src, data[k], "ZYX"[k], v);
        shape[k] = v;
    }
    return 0;
}

/* p->cls = the argmax over the classes of p->out (n, classes, spatial). */
static void argmax_classes(predictor *p, size_t n, size_t spatial)
{
    if (!p->classes) return;
    for (size_t e = 0; e < n; e++)
        for (size_t s = 0; s < spatial; s++) {
            const float *q = p->out + e * p->classes * spatial + s;
            int best = 0;
            for (int k = 1; k < p->classes; k++)
                if (q[k * spatial] > q[best * spatial]) best = k;
            p->cls[e * spatial + s] = best;
        }
}

/* Copies example e of the record, cut to the net's input, into dst. */
static void cut_input(const float *src, int c, const int S[3], const int in[3], float *dst)
{
    for (int ch = 0; ch < c; ch++)
        for (int z = 0; z < in[0]; z++)
            for (int y = 0; y < in[1]; y++) {
                memcpy(dst, src + (((size_t)ch * S[0] + z) * S[1] + y) * S[2], (size_t)in[2] * sizeof *dst);
                dst += in[2];
            }
}

static void score(predictor *p, const ekn_tensor *lab, size_t n, const int S[3], const char *src)
{
    ekn_net *net = &p->net;
    const int *off = net->calc.offset, *st = net->calc.stride, *out = net->out;
    size_t per = ekn_tensor_numel(lab) / (n ? n : 1);
    int full = p->spec.mode == EKN_MODE_IMG_IMG && per == (size_t)S[0] * S[1] * S[2];
    (void)src;
    for (size_t e = 0; e < n; e++)
        for (size_t s = 0; s < net->out_spatial; s++) {
            size_t li = e * per + s;
            if (full) {
                int z = (int)(s / ((size_t)out[1] * out[2])), y = (int)(s / out[2] % out[1]), x = (int)(s % out[2]);
                li = e * per + ((size_t)(off[0] + st[0] * z) * S[1] + off[1] + st[1] * y) * S[2] + off[2] + st[2] * x;
            }
            double v = ekn_tensor_get(lab, li);
            if (p->classes) {
                int l = (int)v;
                if (l < 0 || l >= p->classes) continue;
                p->confusion[l * p->classes + p->cls[e * net->out_spatial + s]]++;
            } else {
                for (int c = 0; c < net->out_c; c++) {
                    /* targets are (N, C, positions...): per = C * positions */
                    size_t ti = li + (size_t)c * (per / (size_t)net->out_c);
                    double t = ti < (e + 1) * per ? ekn_tensor_get(lab, ti) : NAN;
                    double y = p->out[(e * net->out_c + c) * net->out_spatial + s];
                    if (isfinite(t)) p->se_sum += (y - t) * (y - t), p->se_n++;
                }
            }
        }
}

static int process(predictor *p, const ekn_tensor *in, const ekn_tensor *lab, ekn_writer *w, const char *src,
                   unsigned long long rec, ekn_err *err)
{
    int c, in_nd, S[3], shape[3];
    int bad = ekn_input_geometry(in, &c, &in_nd, S) || in->shape[0] == 0;
    if (!bad && p->spec.mode == EKN_MODE_VECT_SCALAR) {
        /* an MLP sees each example as one flat feature vector */
        S[2] = (int)(ekn_tensor_numel(in) / in->shape[0]);
        S[0] = S[1] = c = 1;
    }
    if (bad) {
        char s[256];
        ekn_shape_str(in->rank, in->shape, s, sizeof s);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of shape %s is not (N,C,[Z,]Y,X) or (N,F)",
                           src, rec, in->name, s);
    }
    /* a net for more examples than the record holds only costs memory (GBs for large images) */
    size_t n_ex = (size_t)in->shape[0];
    int batch = (int)(n_ex < (size_t)p->cfg->batch ? n_ex : (size_t)p->cfg->batch);
    if (choose_shape(p, S, shape, src, err) || rebuild(p, shape, batch, err)) return -1;
    ekn_net *net = &p->net;
    if (c != net->in_c)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': record %llu has %d channels, the model expects %d", src, rec, c,
                           net->in_c);
    if (p->spec.mode != EKN_MODE_IMG_IMG && memcmp(S, net->in, sizeof S))
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': record %llu: examples of %dx%dx%d do not match the model's input %dx%dx%d",
                           src, rec, S[0], S[1], S[2], net->in[0], net->in[1], net->in[2]);
    size_t n = (size_t)in->shape[0], ex = (size_t)c * S[0] * S[1] * S[2];
    const size_t bs = (size_t)net->max_batch;
    if (grow((void **)&p->x, &p->x_cap, bs * net->in_size * sizeof(float), err) ||
        grow((void **)&p->out, &p->out_cap, n * net->out_size * sizeof(float), err))
        return -1;
    free(p->cls);
    if (!(p->cls = malloc(n * net->out_spatial * sizeof *p->cls + 1)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    float *conv = malloc(ex * sizeof(float));
    if (!conv) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    const size_t esz = ekn_dtype_size(in->dtype);
    for (size_t i = 0; i < n; i += bs) {
        int m = (int)(n - i < bs ? n - i : bs);
        for (int e = 0; e < m; e++) {
            ekn_convert_to_f32(in->dtype, (const char *)in->data + (i + e) * ex * esz, conv, ex);
            cut_input(conv, c, S, net->in, p->x + e * net->in_size);
        }
        if (ekn_net_forward_host(net, p->x, m, p->out + i * net->out_size, err)) {
            free(conv);
            return -1;
        }
    }
    free(conv);
    argmax_classes(p, n, net->out_spatial);
    if (lab) score(p, lab, n, S, src);
    if (!w) return 0;
    int nd = p->spec.mode == EKN_MODE_IMG_IMG ? p->spec.ndim : 0;
    uint64_t shp[5] = {n, (uint64_t)net->out_c};
    for (int k = 0; k < nd; k++) shp[2 + k] = (uint64_t)net->out[3 - nd + k];
    char meta[256] = "";
    if (nd)
        snprintf(meta, sizeof meta, "offset=%d,%d,%d\nstride=%d,%d,%d\n", net->calc.offset[0], net->calc.offset[1],
                 net->calc.offset[2], net->calc.stride[0], net->calc.stride[1], net->calc.stride[2]);
    if ((p->cfg->want_prob || !p->classes) &&
        ekn_stream_write_raw(w, EKN_F32, 2 + nd, shp, p->classes ? "prob" : "output", meta, p->out, err))
        return -1;
    if (p->cfg->want_class && p->classes) {
        uint64_t cs[4] = {n};
        for (int k = 0; k < nd; k++) cs[1 + k] = shp[2 + k];
        if (ekn_stream_write_raw(w, EKN_I32, 1 + nd, cs, "class", meta, p->cls, err)) return -1;
    }
    return 0;
}

/* --eval for dense outputs: dense output q sits on volume voxel q + offset - pad per axis. */
static int score_dense(predictor *p, const ekn_tensor *lab, size_t n, const ekn_tiling *t, const char *src,
                       unsigned long long rec, ekn_err *err)
{
    const ekn_tiling_axis *a = t->ax;
    size_t vox = (size_t)a[0].in * a[1].in * a[2].in, spatial = ekn_tiling_out_spatial(t);
    size_t per = ekn_tensor_numel(lab) / n, chans = p->classes ? 1 : (size_t)p->net.out_c;
    if (per != chans * vox)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: --dense --eval needs %s of the image's shape (%zu values per example, got %zu)",
                           src, rec + 1, p->classes ? "labels" : "targets", chans * vox, per);
    for (size_t e = 0; e < n; e++)
        for (int z = 0; z < a[0].out; z++)
            for (int y = 0; y < a[1].out; y++)
                for (int x = 0; x < a[2].out; x++) {
                    size_t s = ((size_t)z * a[1].out + y) * a[2].out + x;
                    size_t v = ((size_t)(z + a[0].offset - a[0].pad) * a[1].in + (size_t)(y + a[1].offset - a[1].pad)) *
                                   a[2].in + (size_t)(x + a[2].offset - a[2].pad);
                    if (p->classes) {
                        int l = (int)ekn_tensor_get(lab, e * per + v);
                        if (l >= 0 && l < p->classes) p->confusion[l * p->classes + p->cls[e * spatial + s]]++;
                        continue;
                    }
                    for (size_t c = 0; c < chans; c++) {
                        double tv = ekn_tensor_get(lab, e * per + c * vox + v);
                        double y_ = p->out[(e * chans + c) * spatial + s];
                        if (isfinite(tv)) p->se_sum += (y_ - tv) * (y_ - tv), p->se_n++;
                    }
                }
    return 0;
}

/* The nets for the tiles: the strided net at the tile shape, or for MFP
 * the net at its smallest shape (for the parameters) and the MFP pass. */
static int build_dense(predictor *p, const ekn_tiling *t, ekn_err *err)
{
    int shape[3] = {t->ax[0].tile, t->ax[1].tile, t->ax[2].tile};
    if (!t->mfp) return rebuild(p, shape, t->batch, err);
    int smallest[3] = {t->ax[0].fov, t->ax[1].fov, t->ax[2].fov};
    if (p->mfp_built && (memcmp(p->mfp.in, shape, sizeof shape) || p->mfp.max_batch != t->batch)) {
        ekn_mfp_free(&p->mfp);
        p->mfp_built = 0;
    }
    if (rebuild(p, p->built ? p->net.in : smallest, p->built ? p->net.max_batch : 1, err)) return -1;
    if (!p->mfp_built && ekn_mfp_build(&p->mfp, &p->net, shape, t->batch, err)) return -1;
    p->mfp_built = 1;
    return 0;
}

/* One example's dense outputs (k, out...) into dense: tiles in batches through the net, stitched. */
static int predict_tiles(predictor *p, const ekn_tiling *t, const float *vol, float *dense, ekn_err *err)
{
    ekn_net *net = &p->net;
    size_t in_size = t->mfp ? p->mfp.in_size : net->in_size, out_size = t->mfp ? p->mfp.out_size : net->out_size;
    int start[3];
    for (size_t i = 0; i < t->ntiles; i += (size_t)t->batch) {
        int m = (int)(t->ntiles - i < (size_t)t->batch ? t->ntiles - i : (size_t)t->batch);
        for (int j = 0; j < m; j++) {
            ekn_tiling_start(t, i + j, start);
            ekn_tiling_gather(t, vol, net->in_c, start, p->x + j * in_size);
        }
        if (t->mfp ? ekn_mfp_forward_host(&p->mfp, p->x, m, p->tile_out, err)
                   : ekn_net_forward_host(net, p->x, m, p->tile_out, err))
            return -1;
        for (int j = 0; j < m; j++) {
            ekn_tiling_start(t, i + j, start);
            ekn_tiling_scatter(t, p->tile_out + j * out_size, net->out_c, start, dense);
        }
    }
    return 0;
}

static int write_dense(predictor *p, const ekn_tiling *t, size_t n, int nd, ekn_writer *w, ekn_err *err)
{
    uint64_t shp[5] = {n, (uint64_t)p->net.out_c}, cs[4] = {n};
    for (int k = 0; k < nd; k++) cs[1 + k] = shp[2 + k] = (uint64_t)t->ax[3 - nd + k].out;
    char meta[256];
    snprintf(meta, sizeof meta, "offset=%d,%d,%d\nstride=1,1,1\n", t->ax[0].offset - t->ax[0].pad,
             t->ax[1].offset - t->ax[1].pad, t->ax[2].offset - t->ax[2].pad);
    if ((p->cfg->want_prob || !p->classes) &&
        ekn_stream_write_raw(w, EKN_F32, 2 + nd, shp, p->classes ? "prob" : "output", meta, p->out, err))
        return -1;
    if (p->cfg->want_class && p->classes && ekn_stream_write_raw(w, EKN_I32, 1 + nd, cs, "class", meta, p->cls, err))
        return -1;
    return 0;
}

/* --dense: every position where the field of view fits, at stride 1. */
static int process_dense(predictor *p, const ekn_tensor *in, const ekn_tensor *lab, ekn_writer *w, const char *src,
                         unsigned long long rec, ekn_err *err)
{
    int c, nd, S[3];
    if (strcmp(in->name, "image") || ekn_input_geometry(in, &c, &nd, S) || in->shape[0] == 0) {
        char s[256];
        ekn_shape_str(in->rank, in->shape, s, sizeof s);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of shape %s is not an image (N,C,[Z,]Y,X)",
                           src, rec, in->name, s);
    }
    ekn_tiling t;
    const ekn_predict_config *cfg = p->cfg;
    if (ekn_tiling_plan(&t, &p->spec, S, cfg->pad, cfg->tile, cfg->max_bytes, (int)cfg->batch,
                        !cfg->no_mfp && ekn_mfp_usable(&p->spec), err))
        return ekn_err_prefix(err, "'%s': record %llu", src, rec);
    int shape[3] = {t.ax[0].tile, t.ax[1].tile, t.ax[2].tile}, rc = -1;
    size_t n = (size_t)in->shape[0], ex = (size_t)c * S[0] * S[1] * S[2], spatial = ekn_tiling_out_spatial(&t);
    float *conv = NULL;
    ekn_info("record %llu: %zu tiles of %dx%dx%d, %d per pass (%.0f MiB each), %s", rec, t.ntiles, shape[0],
             shape[1], shape[2], t.batch, t.tile_bytes / 1048576.0,
             t.mfp ? "max fragment pooling" : "shift and stitch");
    if (build_dense(p, &t, err)) goto done;
    ekn_net *net = &p->net;
    if (c != net->in_c) {
        ekn_err_set(err, EKN_EXIT_SPEC, "'%s': record %llu has %d channels, the model expects %d", src, rec, c, net->in_c);
        goto done;
    }
    free(p->cls);
    p->cls = NULL;
    size_t tile_in = t.mfp ? p->mfp.in_size : net->in_size, tile_out = t.mfp ? p->mfp.out_size : net->out_size;
    if (grow((void **)&p->x, &p->x_cap, (size_t)t.batch * tile_in * sizeof(float), err) ||
        grow((void **)&p->out, &p->out_cap, n * net->out_c * spatial * sizeof(float), err) ||
        grow((void **)&p->tile_out, &p->tile_out_cap, (size_t)t.batch * tile_out * sizeof(float), err))
        goto done;
    if (!(p->cls = malloc(n * spatial * sizeof *p->cls + 1)) || !(conv = malloc(ex * sizeof(float)))) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        goto done;
    }
    for (size_t e = 0; e < n; e++) {
        ekn_convert_to_f32(in->dtype, (const char *)in->data + e * ex * ekn_dtype_size(in->dtype), conv, ex);
        if (predict_tiles(p, &t, conv, p->out + e * net->out_c * spatial, err)) goto done;
    }
    argmax_classes(p, n, spatial);
    if (lab && score_dense(p, lab, n, &t, src, rec, err)) goto done;
    rc = w ? write_dense(p, &t, n, nd, w, err) : 0;
done:
    free(conv);
    ekn_tiling_free(&t);
    return rc;
}

static void report(const predictor *p, FILE *f)
{
    int C = p->classes;
    if (!C) {
        fprintf(f, "mse\t%.6g\nexamples\t%zu\n", p->se_n ? p->se_sum / p->se_n : NAN, p->se_n);
        return;
    }
    long total = 0, right = 0;
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) total += p->confusion[i * C + j], right += i == j ? p->confusion[i * C + j] : 0;
    fprintf(f, "accuracy\t%.4f\t(%ld of %ld)\n", total ? (double)right / total : NAN, right, total);
    fprintf(f, "confusion (rows: label, columns: predicted)\n");
    for (int i = 0; i < C; i++) {
        fprintf(f, "%d", i);
        for (int j = 0; j < C; j++) fprintf(f, "\t%ld", p->confusion[i * C + j]);
        fputc('\n', f);
    }
    fprintf(f, "class\tprecision\trecall\tsupport\n");
    for (int k = 0; k < C; k++) {
        long tp = p->confusion[k * C + k], pred = 0, lab = 0;
        for (int j = 0; j < C; j++) pred += p->confusion[j * C + k], lab += p->confusion[k * C + j];
        fprintf(f, "%d\t%.4f\t%.4f\t%ld\n", k, pred ? (double)tp / pred : NAN, lab ? (double)tp / lab : NAN, lab);
    }
}

int ekn_predict_run(const ekn_predict_config *cfg, FILE *rep, ekn_err *err)
{
    predictor p = {0};
    p.cfg = cfg;
    p.ops = cfg->ops ? cfg->ops : ekn_ops_default();
    ekn_reader r;
    ekn_writer w;
    int have_w = 0, rc = 0;
    ekn_tensor a = EKN_TENSOR_INIT, b = EKN_TENSOR_INIT;
    if (ekn_checkpoint_load_spec(cfg->model, &p.spec, err)) return -1;
    p.classes = ekn_spec_classes(&p.spec);
    if (cfg->dense && p.spec.mode != EKN_MODE_IMG_IMG) {
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': --dense needs an img-img model", cfg->model);
    }
    if (p.classes && !(p.confusion = calloc((size_t)p.classes * p.classes, sizeof *p.confusion))) {
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    if (ekn_reader_open(&r, cfg->input, err)) {
        free(p.confusion);
        ekn_spec_free(&p.spec);
        return -1;
    }
    const char *src = ekn_reader_name(&r);
    if (cfg->output) {
        if (ekn_writer_open(&w, cfg->output, cfg->force, err)) rc = -1;
        else have_w = 1;
    }
    /* one record of lookahead: an input may or may not be followed by its labels */
    int got = rc ? 0 : ekn_stream_read(&r, &a, err);
    size_t inputs = 0, labelled = 0;
    while (!rc && got == 1) {
        unsigned long long rec = (unsigned long long)r.record - 1;
        if (!ekn_is_input_record(&a)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an 'image' or 'vector' record, found '%s'",
                             src, rec, a.name);
            break;
        }
        got = ekn_stream_read(&r, &b, err);
        if (got < 0) { rc = -1; break; }
        int has_lab = got == 1 && (!strcmp(b.name, "label") || !strcmp(b.name, "target"));
        if (has_lab && (b.rank < 1 || b.shape[0] != a.shape[0])) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %llu labels for %llu examples", src, rec + 1,
                             (unsigned long long)(b.rank ? b.shape[0] : 0), (unsigned long long)a.shape[0]);
            break;
        }
        if (cfg->eval && !has_lab) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: --eval needs a 'label' or 'target' record after each input",
                             src, rec);
            break;
        }
        if ((cfg->dense ? process_dense : process)(&p, &a, has_lab && cfg->eval ? &b : NULL, have_w ? &w : NULL, src, rec, err)) { rc = -1; break; }
        inputs++;
        labelled += has_lab;
        if (has_lab) got = ekn_stream_read(&r, &a, err);
        else if (got == 1) {
            ekn_tensor t = a;
            a = b;
            b = t;
        }
        if (got < 0) rc = -1;
    }
    if (!rc && got < 0) rc = -1;
    if (!rc && inputs == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no input records", src);
    if (!rc && cfg->eval) report(&p, rep);
    if (have_w) {
        if (rc) ekn_writer_abort(&w);
        else if (ekn_writer_close(&w, err)) rc = -1;
    }
    ekn_reader_close(&r);
    ekn_tensor_free(&a);
    ekn_tensor_free(&b);
    if (p.mfp_built) ekn_mfp_free(&p.mfp); /* before the net it borrows */
    if (p.built) ekn_net_free(&p.net);
    free(p.theta);
    free(p.x);
    free(p.out);
    free(p.tile_out);
    free(p.cls);
    free(p.confusion);
    ekn_spec_free(&p.spec);
    return rc;
}
