/* predict_dense: ekn-predict --dense: every position where the field of
 * view fits, at stride 1, by tiles through the strided net stitched from
 * shifts, or through max fragment pooling (lib/nn/tiling.h, lib/nn/net_mfp.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "predict_internal.h"
#include "progress.h"

/* --eval for dense outputs: dense output q sits on volume voxel q + offset - pad per axis. */
typedef struct {
    const ekn_tensor *lab;
    const ekn_tiling_axis *a;
    size_t e, per;
    int classes;
} dense_pos;

static size_t dense_voxel(const dense_pos *q, size_t s)
{
    const ekn_tiling_axis *a = q->a;
    size_t x = s % (size_t)a[2].out, y = s / (size_t)a[2].out % (size_t)a[1].out,
           z = s / ((size_t)a[2].out * (size_t)a[1].out);
    return ((z + a[0].offset - a[0].pad) * a[1].in + (y + a[1].offset - a[1].pad)) * a[2].in + (x + a[2].offset - a[2].pad);
}

static int dense_label(const void *ctx, size_t s)
{
    const dense_pos *q = ctx;
    double v = ekn_tensor_get(q->lab, q->e * q->per + dense_voxel(q, s));
    return v >= 0 && v < q->classes ? (int)v : -1;
}

static int score_dense(predictor *p, const ekn_tensor *lab, size_t n, const ekn_tiling *t, const char *src,
                       unsigned long long rec, ekn_err *err)
{
    const ekn_tiling_axis *a = t->ax;
    size_t vox = (size_t)a[0].in * a[1].in * a[2].in, spatial = ekn_tiling_out_spatial(t);
    size_t per = ekn_tensor_numel(lab) / n, chans = p->classes ? 1 : (size_t)p->net.out_c;
    if (per != chans * vox)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: --dense --eval needs %s of the image's shape (%zu values per example, got %zu)",
                           src, rec + 1, p->classes ? "labels" : "targets", chans * vox, per);
    const int out[3] = {a[0].out, a[1].out, a[2].out};
    dense_pos q = {lab, a, 0, per, p->classes};
    for (size_t e = 0; e < n; e++) {
        q.e = e;
        size_t terms = p->se_n;
        for (size_t s = 0; s < spatial; s++) {
            if (p->classes) {
                int l = dense_label(&q, s);
                if (l >= 0) p->confusion[l * p->classes + p->cls[e * spatial + s]]++;
                continue;
            }
            size_t v = dense_voxel(&q, s);
            for (size_t c = 0; c < chans; c++) {
                double tv = ekn_tensor_get(lab, e * per + c * vox + v);
                double y_ = p->out[(e * chans + c) * spatial + s];
                ekn_predict_target_term(p, (int)c, y_, tv);
            }
        }
        p->se_examples += p->se_n > terms;
        if (p->classes && ekn_predict_score_slices(p, e, out, spatial, dense_label, &q, err)) return -1;
    }
    return 0;
}

/* The nets for the tiles: the strided net at the tile shape, or for MFP
 * the net at its smallest shape (for the parameters) and the MFP pass. */
static int build_dense(predictor *p, const ekn_tiling *t, ekn_err *err)
{
    int shape[3] = {t->ax[0].tile, t->ax[1].tile, t->ax[2].tile};
    if (!t->mfp) return ekn_predict_rebuild(p, shape, t->batch, err);
    int smallest[3] = {t->ax[0].fov, t->ax[1].fov, t->ax[2].fov};
    if (p->mfp_built && (memcmp(p->mfp.in, shape, sizeof shape) || p->mfp.max_batch != t->batch)) {
        ekn_mfp_free(&p->mfp);
        p->mfp_built = 0;
    }
    if (ekn_predict_rebuild(p, p->built ? p->net.in : smallest, p->built ? p->net.max_batch : 1, err)) return -1;
    if (!p->mfp_built && ekn_mfp_build(&p->mfp, &p->net, shape, t->batch, err)) return -1;
    p->mfp_built = 1;
    return 0;
}

/* One example's dense outputs (k, out...) into dense: tiles in batches through the net, stitched;
 * with a region (lo non-NULL), only [lo, hi) of them, dense then (k, hi - lo...). */
static int predict_tiles(predictor *p, const ekn_tiling *t, const float *vol, float *dense, const int *lo, const int *hi,
                         ekn_err *err)
{
    ekn_net *net = &p->net;
    size_t in_size = t->mfp ? p->mfp.in_size : net->in_size, out_size = t->mfp ? p->mfp.out_size : net->out_size;
    int start[3];
    /* on a terminal: the output voxels done, their rate and the time left */
    size_t tile_voxels = out_size / (size_t)net->out_c;
    ekn_progress prog;
    ekn_progress_begin(&prog, "voxels", (uint64_t)(t->ntiles * tile_voxels));
    for (size_t i = 0; i < t->ntiles; i += (size_t)t->batch) {
        int m = (int)(t->ntiles - i < (size_t)t->batch ? t->ntiles - i : (size_t)t->batch);
        for (int j = 0; j < m; j++) {
            ekn_tiling_start(t, i + j, start);
            ekn_tiling_gather(t, vol, net->in_c, start, p->x + j * in_size);
        }
        if (t->mfp ? ekn_mfp_forward_host(&p->mfp, p->x, m, p->tile_out, err)
                   : ekn_net_forward_host(net, p->x, m, p->tile_out, err)) {
            ekn_progress_end(&prog);
            return -1;
        }
        for (int j = 0; j < m; j++) {
            ekn_tiling_start(t, i + j, start);
            if (lo) ekn_tiling_scatter_region(t, p->tile_out + j * out_size, net->out_c, start, lo, hi, dense);
            else ekn_tiling_scatter(t, p->tile_out + j * out_size, net->out_c, start, dense);
        }
        ekn_progress_update(&prog, (uint64_t)((i + (size_t)m) * tile_voxels), NULL);
    }
    ekn_progress_end(&prog);
    return 0;
}

typedef struct {
    predictor *p;
    const ekn_tiling *t;
} tiles_ctx;

/* ekn_predict_fn of one example (m = 1) through the tiles */
static int predict_one(void *ctx, const float *x, int m, float *y, ekn_err *err)
{
    const tiles_ctx *tc = ctx;
    (void)m;
    return predict_tiles(tc->p, tc->t, x, y, NULL, NULL, err);
}

/* The records of the region [lo, hi) of the dense outputs (all of them: lo 0, hi out). */
static int write_dense(predictor *p, const ekn_tiling *t, size_t n, int nd, const int lo[3], const int hi[3], ekn_writer *w,
                       ekn_err *err)
{
    uint64_t shp[5] = {n, (uint64_t)p->net.out_c}, cs[4] = {n};
    for (int k = 0; k < nd; k++) cs[1 + k] = shp[2 + k] = (uint64_t)(hi[3 - nd + k] - lo[3 - nd + k]);
    char meta[256];
    snprintf(meta, sizeof meta, "offset=%d,%d,%d\nstride=1,1,1\n", t->ax[0].offset - t->ax[0].pad + lo[0],
             t->ax[1].offset - t->ax[1].pad + lo[1], t->ax[2].offset - t->ax[2].pad + lo[2]);
    if ((p->cfg->want_prob || !p->classes) &&
        ekn_stream_write_raw(w, EKN_F32, 2 + nd, shp, p->classes ? EKN_REC_PROB : EKN_REC_OUTPUT, meta, p->out, err))
        return -1;
    if (p->cfg->want_class && p->classes && ekn_stream_write_raw(w, EKN_I32, 1 + nd, cs, EKN_REC_CLASS, meta, p->cls, err))
        return -1;
    return 0;
}

/* The box lo..lo+n (Z,Y,X) of example e of the record (c channels of S), as floats into dst. */
static void copy_box(const ekn_tensor *in, size_t e, int c, const int S[3], const int lo[3], const int n[3], float *dst)
{
    const size_t esz = ekn_dtype_size(in->dtype);
    for (int ch = 0; ch < c; ch++)
        for (int z = lo[0]; z < lo[0] + n[0]; z++)
            for (int y = lo[1]; y < lo[1] + n[1]; y++) {
                size_t at = (((e * (size_t)c + (size_t)ch) * (size_t)S[0] + (size_t)z) * (size_t)S[1] + (size_t)y) *
                                (size_t)S[2] + (size_t)lo[2];
                ekn_convert_to_f32(in->dtype, (const char *)in->data + at * esz, dst, (size_t)n[2]);
                dst += n[2];
            }
}

/* --dense: every position where the field of view fits, at stride 1. */
int ekn_predict_process_dense(predictor *p, const ekn_tensor *in, const ekn_tensor *lab, ekn_writer *w, const char *src,
                         unsigned long long rec, ekn_err *err)
{
    int c, nd, S[3];
    if (ekn_rec_kind_of(in->name) != EKN_KIND_IMAGE || ekn_input_geometry(in, &c, &nd, S) || in->shape[0] == 0) {
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
    /* --roi / --block: the region of the outputs, and the tiles that give it */
    int lo[3], hi[3], region = cfg->region.n || cfg->region.blocks;
    if (ekn_predict_region_resolve(p, &t, nd, lo, hi, err)) {
        ekn_tiling_free(&t);
        return ekn_err_prefix(err, "'%s': record %llu", src, rec);
    }
    if (region) ekn_tiling_restrict(&t, lo, hi);
    size_t n = (size_t)in->shape[0], ex = (size_t)c * S[0] * S[1] * S[2];
    size_t spatial = (size_t)(hi[0] - lo[0]) * (size_t)(hi[1] - lo[1]) * (size_t)(hi[2] - lo[2]);
    float *conv = NULL;
    if (cfg->h5_file && (n != 1 || p->h5_open)) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: HDF5 output takes one input image of one example, "
                    "(1,C,[Z,]Y,X); this is %s", src, rec, n != 1 ? "a record of several examples" : "a second record");
        goto done;
    }
    if (region)
        ekn_info("record %llu: region %d:%d,%d:%d,%d:%d of %dx%dx%d outputs", rec, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2],
                 t.ax[0].out, t.ax[1].out, t.ax[2].out);
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
    if (ekn_predict_grow((void **)&p->x, &p->x_cap, (size_t)t.batch * tile_in * sizeof(float), err) ||
        ekn_predict_grow((void **)&p->out, &p->out_cap, n * net->out_c * spatial * sizeof(float), err) ||
        ekn_predict_grow((void **)&p->tile_out, &p->tile_out_cap, (size_t)t.batch * tile_out * sizeof(float), err))
        goto done;
    /* a region, or HDF5 input: only the box of the volume its tiles read is converted (read) */
    int blo[3] = {0, 0, 0}, bn[3] = {S[0], S[1], S[2]}, boxed = region || cfg->h5_in_file;
    if (region) ekn_tiling_box(&t, blo, bn);
    if (boxed) ex = (size_t)c * bn[0] * bn[1] * bn[2];
    if (region)
        ekn_info("record %llu: reads the box %d:%d,%d:%d,%d:%d of the input", rec, blo[0], blo[0] + bn[0], blo[1],
                 blo[1] + bn[1], blo[2], blo[2] + bn[2]);
    if (!(p->cls = malloc(n * spatial * sizeof *p->cls + 1)) || !(conv = malloc(ex * sizeof(float)))) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        goto done;
    }
    const int out[3] = {t.ax[0].out, t.ax[1].out, t.ax[2].out}, step[3] = {1, 1, 1};
    int left[3];
    for (int k = 0; k < 3; k++) left[k] = t.ax[k].offset - t.ax[k].pad;
    if (p->ntta && ekn_predict_tta_check(p, S, out, left, step, src, rec, err)) goto done;
    tiles_ctx tc = {p, &t};
    for (size_t e = 0; e < n; e++) {
        if (cfg->h5_in_file) {
            if (ekn_predict_h5_input_box(p, blo, bn, conv, err)) goto done;
        } else if (boxed) {
            copy_box(in, e, c, S, blo, bn, conv);
        } else {
            ekn_convert_to_f32(in->dtype, (const char *)in->data + e * ex * ekn_dtype_size(in->dtype), conv, ex);
        }
        float *dst = p->out + e * net->out_c * spatial;
        if (region ? predict_tiles(p, &t, conv, dst, lo, hi, err)
                   : ekn_predict_tta(p, conv, 1, dst, c, S, net->out_c, out, predict_one, &tc, err))
            goto done;
    }
    ekn_predict_argmax(p, n, spatial);
    if (lab && score_dense(p, lab, n, &t, src, rec, err)) goto done;
    if (cfg->h5_file) rc = ekn_predict_h5_dense(p, &t, nd, lo, hi, in, err);
    else rc = w ? write_dense(p, &t, n, nd, lo, hi, w, err) : 0;
done:
    free(conv);
    ekn_tiling_free(&t);
    return rc;
}
