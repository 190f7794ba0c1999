#include "predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "finite.h"
#include "group.h"
#include "memlimit.h"
#include "net.h"
#include "net_mfp.h"
#include "stream.h"
#include "tiling.h"
#include "predict_internal.h"

int ekn_predict_rebuild(predictor *p, const int shape[3], int batch, ekn_err *err)
{
    if (p->built && !memcmp(p->net.in, shape, 3 * sizeof *shape) && p->net.max_batch >= batch) return 0;
    if (p->built) ekn_net_free(&p->net);
    p->built = 0;
    /* what the net will allocate and a batch of inputs and outputs, against --max-memory */
    ekn_net_size ns;
    if (ekn_net_measure(&p->spec, shape, batch, p->ops, &ns, err)) return -1;
    double io = 4.0 * batch * (ns.in_size + ns.out_size), need = (double)ns.bytes + io;
    char a[32], b[32], detail[96], what[64];
    snprintf(detail, sizeof detail, "network %s, batch %s", ekn_mem_text((double)ns.bytes, a, sizeof a),
             ekn_mem_text(io, b, sizeof b));
    snprintf(what, sizeof what, "predicting with batch %d on %dx%dx%d", batch, shape[0], shape[1], shape[2]);
    if (ekn_mem_check(need, detail, p->cfg->max_memory, p->ops->host, what,
                      p->cfg->dense ? "try a smaller --batch or --tile" : "try a smaller --batch", err))
        return -1;
    if (ekn_net_build(&p->net, &p->spec, shape, batch, p->ops, err)) return -1;
    p->built = 1;
    if (!p->theta) {
        ekn_net_tensor *t;
        int n = ekn_ckpt_net_tensors(&p->net, &t, err);
        if (n < 0) return -1;
        p->nparams = p->net.nparams;
        p->theta = malloc((p->nparams ? p->nparams : 1) * sizeof(float));
        p->state = malloc((p->net.nstate ? p->net.nstate : 1) * sizeof(float));
        int rc = p->theta && p->state ? ekn_ckpt_read_params(&p->ckpt, t, n, p->theta, p->state, err)
                                      : ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        free(t);
        ekn_ckpt_close(&p->ckpt);
        if (rc) {
            free(p->theta);
            free(p->state);
            p->theta = p->state = NULL;
            return -1;
        }
    }
    ekn_net_params_set(&p->net, p->theta);
    if (p->net.nstate) {
        memcpy(ekn_net_state_host(&p->net), p->state, p->net.nstate * sizeof(float));
        ekn_net_state_commit(&p->net);
    }
    return 0;
}

int ekn_predict_grow(void **buf, size_t *cap, size_t bytes, ekn_err *err)
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
void ekn_predict_argmax(predictor *p, size_t n, size_t spatial)
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

/* The input record holds only values that are finite as float32: one NaN
 * would predict class 0 for its example without a word. */
static int check_input(const ekn_tensor *in, const char *src, unsigned long long rec, ekn_err *err)
{
    if (ekn_tensor_check_f32(in, err)) return ekn_err_prefix(err, "'%s': record %llu: '%s'", src, rec, in->name);
    return 0;
}

/* --eval: every label of the record is a class of the model or -1 (none);
 * a label the model cannot predict would be dropped from the score unseen. */
static int check_labels(const ekn_tensor *lab, int classes, const char *src, unsigned long long rec, ekn_err *err)
{
    size_t n = (size_t)ekn_tensor_numel(lab);
    for (size_t i = 0; i < n; i++) {
        double v = ekn_tensor_get(lab, i);
        if (!(v >= -1 && v < classes) || v != floor(v))
            return ekn_err_set(err, EKN_EXIT_FAIL,
                               "'%s': record %llu: label %g (element %zu) is not a class of the model (0 to %d, or -1 for none)",
                               src, rec, v, i, classes - 1);
    }
    return 0;
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

int ekn_predict_tta_check(const predictor *p, const int in[3], const int out[3], const int left[3], const int step[3],
                          const char *src, unsigned long long rec, ekn_err *err)
{
    int flips[3] = {0, 0, 0};
    for (int i = 0; i < p->ntta; i++)
        for (int k = 0; k < 3; k++) flips[k] |= p->tta[i].flip[k] || (k && p->tta[i].transpose);
    if (ekn_tta_transposes(p->tta, p->ntta) && (in[1] != in[2] || (out && out[1] != out[2])))
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': record %llu: --tta %s transposes Y and X, which needs square "
                                                "images and outputs (here %dx%d in, %dx%d out)",
                           src, rec, p->cfg->tta, in[1], in[2], out ? out[1] : 1, out ? out[2] : 1);
    for (int k = 0; out && k < 3; k++) {
        int right = in[k] - 1 - left[k] - step[k] * (out[k] - 1);
        if (flips[k] && right != left[k])
            return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': record %llu: --tta %s mirrors %c, but the outputs are not "
                                                    "centred there (%d voxels before them, %d after); give an input of a "
                                                    "valid size (ekn-calc)",
                               src, rec, p->cfg->tta, "ZYX"[k], left[k], right);
    }
    return 0;
}

int ekn_predict_tta(predictor *p, const float *x, int m, float *dst, int in_c, const int in[3], int out_c,
                    const int out[3], ekn_predict_fn predict, void *ctx, ekn_err *err)
{
    if (!p->ntta) return predict(ctx, x, m, dst, err);
    size_t in_size = (size_t)in_c * in[0] * in[1] * in[2], out_size = (size_t)out_c * out[0] * out[1] * out[2];
    if (ekn_predict_grow((void **)&p->tta_x, &p->tta_x_cap, (size_t)m * in_size * sizeof(float), err) ||
        ekn_predict_grow((void **)&p->tta_out, &p->tta_out_cap, (size_t)m * out_size * sizeof(float), err))
        return -1;
    memset(dst, 0, (size_t)m * out_size * sizeof *dst);
    for (int i = 0; i < p->ntta; i++) {
        for (int e = 0; e < m; e++) ekn_tta_apply(&p->tta[i], x + e * in_size, p->tta_x + e * in_size, in_c, in);
        if (predict(ctx, p->tta_x, m, p->tta_out, err)) return -1;
        for (int e = 0; e < m; e++) ekn_tta_add_inverse(&p->tta[i], p->tta_out + e * out_size, dst + e * out_size, out_c, out);
    }
    const float k = 1.0f / (float)p->ntta;
    for (size_t j = 0; j < (size_t)m * out_size; j++) dst[j] *= k;
    return 0;
}

static int forward_plain(void *ctx, const float *x, int m, float *y, ekn_err *err)
{
    predictor *p = ctx;
    return ekn_net_forward_host(&p->net, x, m, y, err);
}

/* Where example e's labels sit for its output positions: labels of the
 * image's shape are read at each output's voxel (offset + stride *
 * position), labels of the output's shape as they are. */
typedef struct {
    const ekn_tensor *lab;
    const ekn_net *net;
    size_t e, per;
    int full, S[3], classes;
} label_pos;

static size_t label_index(const label_pos *q, size_t s)
{
    if (!q->full) return q->e * q->per + s;
    const int *off = q->net->calc.offset, *st = q->net->calc.stride, *out = q->net->out, *S = q->S;
    int z = (int)(s / ((size_t)out[1] * out[2])), y = (int)(s / out[2] % out[1]), x = (int)(s % out[2]);
    return q->e * q->per + ((size_t)(off[0] + st[0] * z) * S[1] + off[1] + st[1] * y) * S[2] + off[2] + st[2] * x;
}

/* The class label of output position s, -1 when there is none. */
static int label_at(const void *ctx, size_t s)
{
    const label_pos *q = ctx;
    double v = ekn_tensor_get(q->lab, label_index(q, s));
    return v >= 0 && v < q->classes ? (int)v : -1;
}

int ekn_predict_score_slices(predictor *p, size_t e, const int out[3], size_t spatial,
                             int (*label_of)(const void *ctx, size_t s), const void *ctx, ekn_err *err)
{
    if (p->spec.mode != EKN_MODE_IMG_IMG || p->classes < 2) return 0;
    size_t plane = (size_t)out[1] * out[2];
    if (ekn_predict_grow((void **)&p->slice_lab, &p->slice_cap, plane * sizeof *p->slice_lab, err)) return -1;
    const float *prob = p->out + (e * (size_t)p->classes + (size_t)p->cfg->boundary) * spatial;
    for (int z = 0; z < out[0]; z++) {
        for (size_t s = 0; s < plane; s++) p->slice_lab[s] = label_of(ctx, (size_t)z * plane + s);
        if (ekn_seg_score_slice(&p->seg, p->slice_lab, prob + (size_t)z * plane, out[1], out[2]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the segmentation scores");
    }
    return 0;
}

static int score(predictor *p, const ekn_tensor *lab, size_t n, const int S[3], ekn_err *err)
{
    ekn_net *net = &p->net;
    size_t per = ekn_tensor_numel(lab) / (n ? n : 1);
    size_t vol = (size_t)S[0] * S[1] * S[2];
    /* full resolution: one label per voxel, or one target per voxel and output channel (affinities) */
    int full = p->spec.mode == EKN_MODE_IMG_IMG && (per == vol || (!p->classes && per == (size_t)net->out_c * vol));
    label_pos q = {lab, net, 0, per, full, {S[0], S[1], S[2]}, p->classes};
    for (size_t e = 0; e < n; e++) {
        q.e = e;
        size_t terms = p->se_n;
        for (size_t s = 0; s < net->out_spatial; s++) {
            if (p->classes) {
                int l = label_at(&q, s);
                if (l >= 0) p->confusion[l * p->classes + p->cls[e * net->out_spatial + s]]++;
                continue;
            }
            size_t li = label_index(&q, s);
            for (int c = 0; c < net->out_c; c++) {
                /* targets are (N, C, positions...): per = C * positions */
                size_t ti = li + (size_t)c * (per / (size_t)net->out_c);
                double t = ti < (e + 1) * per ? ekn_tensor_get(lab, ti) : NAN;
                double y = p->out[(e * net->out_c + c) * net->out_spatial + s];
                ekn_predict_target_term(p, c, y, t);
            }
        }
        p->se_examples += p->se_n > terms;
        if (p->classes && ekn_predict_score_slices(p, e, net->out, net->out_spatial, label_at, &q, err)) return -1;
    }
    return 0;
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
    if (choose_shape(p, S, shape, src, err) || ekn_predict_rebuild(p, shape, batch, err)) return -1;
    ekn_net *net = &p->net;
    if (c != net->in_c)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': record %llu has %d channels, the model expects %d", src, rec, c,
                           net->in_c);
    if (p->spec.mode != EKN_MODE_IMG_IMG && memcmp(S, net->in, sizeof S))
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': record %llu: examples of %dx%dx%d do not match the model's input %dx%dx%d",
                           src, rec, S[0], S[1], S[2], net->in[0], net->in[1], net->in[2]);
    size_t n = (size_t)in->shape[0], ex = (size_t)c * S[0] * S[1] * S[2];
    const size_t bs = (size_t)net->max_batch;
    if (ekn_predict_grow((void **)&p->x, &p->x_cap, bs * net->in_size * sizeof(float), err) ||
        ekn_predict_grow((void **)&p->out, &p->out_cap, n * net->out_size * sizeof(float), err))
        return -1;
    free(p->cls);
    if (!(p->cls = malloc(n * net->out_spatial * sizeof *p->cls + 1)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (p->ntta && ekn_predict_tta_check(p, net->in, p->spec.mode == EKN_MODE_IMG_IMG ? net->out : NULL,
                                         net->calc.offset, net->calc.stride, src, rec, err))
        return -1;
    /* float32 examples of the net's own input shape go in as they are:
     * no conversion, no cut, one copy less to a GPU */
    int direct = in->dtype == EKN_F32 && !memcmp(S, net->in, sizeof S);
    float *conv = direct ? NULL : malloc(ex * sizeof(float));
    if (!direct && !conv) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    const size_t esz = ekn_dtype_size(in->dtype);
    for (size_t i = 0; i < n; i += bs) {
        int m = (int)(n - i < bs ? n - i : bs);
        const float *x = direct ? (const float *)in->data + i * ex : p->x;
        for (int e = 0; !direct && e < m; e++) {
            ekn_convert_to_f32(in->dtype, (const char *)in->data + (i + e) * ex * esz, conv, ex);
            cut_input(conv, c, S, net->in, p->x + e * net->in_size);
        }
        int img = p->spec.mode == EKN_MODE_IMG_IMG, one[3] = {1, 1, 1};
        if (ekn_predict_tta(p, x, m, p->out + i * net->out_size, net->in_c, net->in, img ? net->out_c : (int)net->out_size,
                            img ? net->out : one, forward_plain, p, err)) {
            free(conv);
            return -1;
        }
    }
    free(conv);
    ekn_predict_argmax(p, n, net->out_spatial);
    if (lab && score(p, lab, n, S, err)) return -1;
    if (!w) return 0;
    int nd = p->spec.mode == EKN_MODE_IMG_IMG ? p->spec.ndim : 0;
    uint64_t shp[5] = {n, (uint64_t)net->out_c};
    for (int k = 0; k < nd; k++) shp[2 + k] = (uint64_t)net->out[3 - nd + k];
    char meta[256] = "";
    if (nd)
        snprintf(meta, sizeof meta, "offset=%d,%d,%d\nstride=%d,%d,%d\n", net->calc.offset[0], net->calc.offset[1],
                 net->calc.offset[2], net->calc.stride[0], net->calc.stride[1], net->calc.stride[2]);
    int rank = 2 + nd;
    if (p->spec.target_input) { /* an autoencoder's outputs lie in its input's space: give them its shape */
        rank = in->rank;
        for (int k = 0; k < rank; k++) shp[k] = in->shape[k];
    }
    if ((p->cfg->want_prob || !p->classes) &&
        ekn_stream_write_raw(w, EKN_F32, rank, shp, p->classes ? EKN_REC_PROB : EKN_REC_OUTPUT, meta, p->out, err))
        return -1;
    if (p->cfg->want_class && p->classes) {
        uint64_t cs[4] = {n};
        for (int k = 0; k < nd; k++) cs[1 + k] = shp[2 + k];
        if (ekn_stream_write_raw(w, EKN_I32, 1 + nd, cs, EKN_REC_CLASS, meta, p->cls, err)) return -1;
    }
    return 0;
}

void ekn_predict_target_term(predictor *p, int c, double y, double t)
{
    if (!isfinite(t)) return;
    p->se_sum += (y - t) * (y - t), p->se_n++;
    if (p->sg_c && c < p->sg_c) {
        float yf = (float)y, tf = (float)t;
        ekn_sigmoid_score(1, 1, 1, &yf, &tf, &p->sg_ok[c], &p->sg_n[c], &p->sg_bce[c]);
    }
}

/* a sigmoid net's scores: over all channels, then per channel */
static void report_sigmoid(const predictor *p, FILE *f)
{
    long ok = 0, n = 0;
    double bce = 0;
    for (int c = 0; c < p->sg_c; c++) ok += p->sg_ok[c], n += p->sg_n[c], bce += p->sg_bce[c];
    fprintf(f, "accuracy\t%.4f\t(%ld of %ld)\n", n ? (double)ok / n : NAN, ok, n);
    fprintf(f, "bce\t%.6g\nmse\t%.6g\nexamples\t%zu\n", n ? bce / n : NAN, p->se_n ? p->se_sum / p->se_n : NAN,
            p->se_examples);
    fprintf(f, "channel\taccuracy\tbce\tsupport\n");
    for (int c = 0; c < p->sg_c; c++)
        fprintf(f, "%d\t%.4f\t%.6g\t%ld\n", c, p->sg_n[c] ? (double)p->sg_ok[c] / p->sg_n[c] : NAN,
                p->sg_n[c] ? p->sg_bce[c] / p->sg_n[c] : NAN, p->sg_n[c]);
}

static void report(const predictor *p, FILE *f)
{
    int C = p->classes;
    if (p->sg_c) {
        report_sigmoid(p, f);
        return;
    }
    if (!C) {
        fprintf(f, "mse\t%.6g\nexamples\t%zu\n", p->se_n ? p->se_sum / p->se_n : NAN, p->se_examples);
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
    fprintf(f, "class\tprecision\trecall\tsupport\tiou\tdice\n");
    for (int k = 0; k < C; k++) {
        long tp = p->confusion[k * C + k], pred = 0, lab = 0;
        for (int j = 0; j < C; j++) pred += p->confusion[j * C + k], lab += p->confusion[k * C + j];
        long uni = pred + lab - tp; /* tp + fp + fn */
        fprintf(f, "%d\t%.4f\t%.4f\t%ld\t%.4f\t%.4f\n", k, pred ? (double)tp / pred : NAN, lab ? (double)tp / lab : NAN,
                lab, uni ? (double)tp / uni : NAN, pred + lab ? 2.0 * tp / (pred + lab) : NAN);
    }
    if (p->spec.mode == EKN_MODE_IMG_IMG) {
        fprintf(f, "pixel_error\t%.4f\n", total ? 1 - (double)right / total : NAN);
        ekn_seg_score_print(&p->seg, f);
    }
}

int ekn_predict_run(const ekn_predict_config *cfg, FILE *rep, ekn_err *err)
{
    predictor p = {0};
    p.cfg = cfg;
    p.ops = cfg->ops ? cfg->ops : ekn_ops_default();
    ekn_group_reader gr;
    ekn_group g = {0};
    ekn_writer w;
    int have_w = 0, rc = 0;
    if (ekn_ckpt_open(&p.ckpt, cfg->model, err)) return -1;
    if (ekn_ckpt_read_spec(&p.ckpt, &p.spec, err)) {
        ekn_ckpt_close(&p.ckpt);
        return -1;
    }
    p.classes = ekn_spec_classes(&p.spec);
    if (cfg->tta && (p.ntta = ekn_tta_maps(cfg->tta, p.spec.ndim, p.tta)) < 0) p.ntta = 0;
    if (cfg->tta && p.spec.mode == EKN_MODE_VECT_SCALAR) {
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_USAGE, "--tta: '%s' is a vect-scalar model; its inputs have no image symmetries",
                           cfg->model);
    }
    p.seg.boundary = cfg->boundary;
    p.seg.threshold = cfg->threshold;
    if (cfg->eval && p.spec.mode == EKN_MODE_IMG_IMG && p.classes && cfg->boundary >= p.classes) {
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_USAGE, "--boundary-class %d: '%s' has %d classes (0..%d)", cfg->boundary,
                           cfg->model, p.classes, p.classes - 1);
    }
    if (cfg->dense && p.spec.mode != EKN_MODE_IMG_IMG) {
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': --dense needs an img-img model", cfg->model);
    }
    const char *bad = NULL;
    if ((cfg->region.n || cfg->region.blocks || cfg->h5_file) && !cfg->dense)
        bad = "--roi, --block and HDF5 output (-o FILE:/DATASET) need --dense";
    else if (cfg->h5_in_file && !cfg->dense)
        bad = "HDF5 input (INPUT FILE.h5:/DATASET) needs --dense";
    else if (cfg->h5_in_file && cfg->eval)
        bad = "--eval needs labels: HDF5 input (INPUT FILE.h5:/DATASET) has none";
    else if (cfg->apply && !cfg->h5_in_file)
        bad = "--apply normalises HDF5 input (INPUT FILE.h5:/DATASET); a stream is normalised by ekn-preprocess";
    else if ((cfg->region.n || cfg->region.blocks) && (cfg->tta || cfg->eval))
        bad = "--roi and --block predict part of the volume: --tta and --eval need all of it";
    else if (cfg->region.blocks && !cfg->h5_file)
        bad = "--block writes one HDF5 file per block: give -o FILE.h5:/DATASET";
    else if (cfg->h5_file && cfg->want_prob && cfg->want_class)
        bad = "HDF5 output holds one dataset: --write prob or --write class";
    else if (cfg->h5_file && (cfg->quantize || cfg->channel >= 0) && (!p.classes || !cfg->want_prob))
        bad = "--quantize and --channel apply to class probabilities (a classifier's --write prob)";
    else if (cfg->h5_file && cfg->channel >= p.classes && p.classes)
        bad = "--channel is not a class of the model";
    if (bad) {
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        if (cfg->channel >= p.classes && p.classes && !strncmp(bad, "--channel", 9))
            return ekn_err_set(err, EKN_EXIT_USAGE, "--channel %d: '%s' has %d classes (0..%d)", cfg->channel, cfg->model,
                               p.classes, p.classes - 1);
        return ekn_err_set(err, EKN_EXIT_USAGE, "%s", bad);
    }
    if (cfg->h5_file) {
        int done = ekn_predict_h5_prepare(&p, err);
        if (done) {
            ekn_ckpt_close(&p.ckpt);
            ekn_spec_free(&p.spec);
            return done < 0 ? -1 : 0;
        }
    }
    if (ekn_spec_sigmoid(&p.spec) && (p.sg_c = ekn_spec_outputs(&p.spec)) > 0 &&
        (!(p.sg_ok = calloc((size_t)p.sg_c, sizeof *p.sg_ok)) || !(p.sg_n = calloc((size_t)p.sg_c, sizeof *p.sg_n)) ||
         !(p.sg_bce = calloc((size_t)p.sg_c, sizeof *p.sg_bce)))) {
        free(p.sg_ok), free(p.sg_n);
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    if (p.classes && !(p.confusion = calloc((size_t)p.classes * p.classes, sizeof *p.confusion))) {
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    /* HDF5 input: one volume, read box by box */
    int h5_in = cfg->h5_in_file != NULL;
    if (!h5_in && ekn_group_reader_open(&gr, cfg->input, err)) {
        free(p.confusion);
        free(p.sg_ok), free(p.sg_n), free(p.sg_bce);
        ekn_ckpt_close(&p.ckpt);
        ekn_spec_free(&p.spec);
        return -1;
    }
    const char *src = h5_in ? cfg->h5_in_file : ekn_group_source(&gr);
    if (cfg->output) {
        if (ekn_writer_open(&w, cfg->output, cfg->force, err)) rc = -1;
        else have_w = 1;
    }
    /* a group: an input record, and its labels or not */
    int got = 0;
    size_t inputs = 0;
    if (h5_in && !rc) {
        ekn_tensor hdr;
        if (ekn_predict_h5_input_open(&p, &hdr, err) ||
            ekn_predict_process_dense(&p, &hdr, NULL, have_w ? &w : NULL, src, 0, err))
            rc = -1;
        inputs = 1;
    }
    while (!h5_in && !rc && (got = ekn_group_read(&gr, &g, err)) == 1) {
        unsigned long long rec = (unsigned long long)g.first;
        if (ekn_group_check(&gr, &g, EKN_GROUP_BARE, err)) {
            rc = -1;
            break;
        }
        const ekn_tensor *a = &g.rec[0], *b = g.lab >= 0 ? &g.rec[g.lab] : NULL;
        if (b && (b->rank < 1 || b->shape[0] != a->shape[0])) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %llu labels for %llu examples", src, rec + 1,
                             (unsigned long long)(b->rank ? b->shape[0] : 0), (unsigned long long)a->shape[0]);
            break;
        }
        /* an autoencoder ('target = input') regresses onto its input: that is its target, and a
         * label record after it (class labels) is not (score() reads the input as (N, C) targets) */
        if (p.spec.target_input) b = a;
        if (cfg->eval && !b) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: --eval needs a '%s' or '%s' record after each input",
                             src, rec, EKN_REC_LABEL, EKN_REC_TARGET);
            break;
        }
        if (check_input(a, src, rec, err) ||
            (cfg->eval && p.classes && !p.spec.target_input && check_labels(b, p.classes, src, rec + (uint64_t)g.lab, err))) {
            rc = -1;
            break;
        }
        if ((cfg->dense ? ekn_predict_process_dense : process)(&p, a, cfg->eval ? b : NULL, have_w ? &w : NULL, src, rec, err)) {
            rc = -1;
            break;
        }
        inputs++;
    }
    if (!rc && got < 0) rc = -1;
    if (!rc && inputs == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no input records", src);
    if (!rc && cfg->eval) report(&p, rep);
    if (have_w) {
        if (rc) ekn_writer_abort(&w);
        else if (ekn_writer_close(&w, err)) rc = -1;
    }
    if (p.h5_open) {
        if (rc) ekn_h5_abort(&p.h5);
        else if (ekn_h5_commit(&p.h5, err)) rc = -1;
    }
    if (h5_in) ekn_predict_h5_input_close(&p);
    else ekn_group_reader_close(&gr);
    ekn_group_free(&g);
    if (p.mfp_built) ekn_mfp_free(&p.mfp); /* before the net it borrows */
    if (p.built) ekn_net_free(&p.net);
    free(p.theta);
    free(p.state);
    free(p.x);
    free(p.out);
    free(p.tile_out);
    free(p.cls);
    free(p.confusion);
    free(p.sg_ok), free(p.sg_n), free(p.sg_bce);
    free(p.slice_lab);
    free(p.tta_x);
    free(p.tta_out);
    ekn_seg_score_free(&p.seg);
    ekn_ckpt_close(&p.ckpt); /* still open when no record came */
    ekn_spec_free(&p.spec);
    return rc;
}
