/* augment_stream: ekn-augment's record-group loop (see augment.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "group.h"
#include "opt.h"
#include "stream.h"

typedef enum { LAB_NONE, LAB_SCALAR, LAB_FULL, LAB_GRID } label_form;

typedef struct run_state {
    ekn_aug_run_cfg *cfg;
    ekn_aug_opts o;          /* cfg->o with in_plane resolved per group */
    ekn_group_reader gr;
    ekn_writer w;
    int writing;             /* w is open */
    ekn_group g;             /* the group being augmented */
    ekn_tensor out_img, out_lab, out_mask, out_tgt, out_wt;
    float *srcf; size_t srcf_cap;
    int32_t *labi; size_t labi_cap;
    uint8_t *masku8; size_t masku8_cap;
    uint8_t *keep; size_t keep_cap;
    ekn_aug_work work;
} run_state;

static void *reserve(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap) return p;
    void *q = realloc(p, n * elem);
    if (!q) return NULL;
    *cap = n;
    return q;
}

static int fail(run_state *s, ekn_err *err, int code, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(run_state *s, ekn_err *err, int code, const char *what, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ekn_err_set(err, code, "'%s': record %" PRIu64 " (%s): %s", ekn_group_source(&s->gr), s->g.first, what,
                       msg);
}

static int copy_meta(ekn_tensor *dst, const ekn_tensor *src, ekn_err *err)
{
    ekn_tensor_set_name(dst, src->name);
    return ekn_tensor_meta_assign(dst, src->meta, src->meta ? strlen(src->meta) : 0, err);
}

static void swap(ekn_tensor *a, ekn_tensor *b)
{
    ekn_tensor t = *a;
    *a = *b;
    *b = t;
}

/* ---- vectors ----------------------------------------------------------------- */

static int vector_group(run_state *s, ekn_err *err)
{
    const ekn_aug_opts *o = &s->o;
    ekn_tensor *v = &s->g.rec[0];
    if (v->rank != 2) return fail(s, err, EKN_EXIT_FAIL, EKN_REC_VECTOR, "expected shape (N,F), got rank %d", v->rank);
    const char *bad = ekn_aug_has_geometry(o) ? "geometric transforms"
                      : o->brightness > 0 ? "--brightness" : o->contrast > 0 ? "--contrast"
                      : o->gamma > 1 ? "--gamma" : o->blur > 0 ? "--blur" : s->cfg->crop_dims ? "--crop" : NULL;
    if (bad)
        return fail(s, err, EKN_EXIT_USAGE, EKN_REC_VECTOR, "feature vectors take only --noise and --dropout, not %s", bad);
    uint64_t N = v->shape[0];
    size_t F = v->shape[1];
    if (copy_meta(&s->out_img, v, err) || ekn_tensor_reshape(&s->out_img, EKN_F32, 2, v->shape, err)) return -1;
    float *x = s->out_img.data;
    ekn_convert_to_f32(v->dtype, v->data, x, N * F);
    int shape[3] = {1, 1, (int)F};
    for (uint64_t e = 0; e < N; e++) {
        uint64_t id = s->cfg->examples_in + e;
        ekn_rng rng, noise;
        ekn_rng_seed(&rng, o->seed, id);
        ekn_rng_seed(&noise, o->seed ^ 0x6e6f697365ull, id);
        ekn_aug_params p;
        ekn_aug_draw(o, &rng, 1, &p);
        if (ekn_aug_intensity(x + e * F, 1, shape, o, &p, &noise, &s->work, err)) return -1;
    }
    s->cfg->examples_in += N;
    s->cfg->examples_out += N;
    swap(&s->out_img, &s->g.rec[0]);
    return ekn_group_write(&s->w, &s->g, err);
}

/* ---- images ------------------------------------------------------------------ */

typedef struct img_group {
    int sd;                    /* spatial dims: 2 or 3 */
    uint64_t N;
    int C, src[3], out[3];
    ekn_tensor *lab, *tgt, *mask, *wt; /* wt: the voxel weights, moved with the labels (nearest) */
    label_form lab_form, tgt_form;
    int grid[3];               /* shape of grid labels (Z,Y,X) */
} img_group;

/* Spatial shape (Z,Y,X) of a per-voxel record with sd spatial dims. */
static void spatial_of(const ekn_tensor *t, int sd, int out[3])
{
    out[0] = sd == 3 ? (int)t->shape[t->rank - 3] : 1;
    out[1] = (int)t->shape[t->rank - 2];
    out[2] = (int)t->shape[t->rank - 1];
}

static label_form classify(const ekn_tensor *t, const img_group *g, int grid[3])
{
    if (t->rank == 1) return LAB_SCALAR;
    if (t->rank != 1 + g->sd) return LAB_NONE;
    spatial_of(t, g->sd, grid);
    return !memcmp(grid, g->src, sizeof g->src) ? LAB_FULL : LAB_GRID;
}

/* offset= and stride= of grid labels must place them symmetrically along
 * each mirrored axis, and equally in Y and X for transposes. */
static int check_grid(run_state *s, const img_group *g, ekn_err *err)
{
    const ekn_aug_opts *o = &s->o;
    if (ekn_aug_has_warp(o) || s->cfg->crop_dims)
        return fail(s, err, EKN_EXIT_USAGE, EKN_REC_LABEL,
                    "labels at the network's output grid (%dx%dx%d, image %dx%dx%d) allow only mirrors, transposes "
                    "and 90-degree rotations; for warps and crops send full labels ('ekn-batch --margin')",
                    g->grid[0], g->grid[1], g->grid[2], g->src[0], g->src[1], g->src[2]);
    /* without offset= the labels are taken as centred */
    long off[3], st[3] = {1, 1, 1};
    for (int a = 0; a < 3; a++) off[a] = (g->src[a] - g->grid[a]) / 2;
    ekn_err merr = {0};
    if (ekn_meta_zyx(g->lab, "offset", 0, off, &merr) < 0 || ekn_meta_zyx(g->lab, "stride", 1, st, &merr) < 0)
        return fail(s, err, EKN_EXIT_FAIL, EKN_REC_LABEL, "%s", merr.msg);
    for (int a = 0; a < 3; a++) {
        int mirrored = o->flip[a] || (a > 0 && o->rot90);
        long last = off[a] + st[a] * (g->grid[a] - 1);
        if (mirrored && last != g->src[a] - 1 - off[a])
            return fail(s, err, EKN_EXIT_USAGE, EKN_REC_LABEL,
                        "labels at offset %ld stride %ld do not lie symmetrically in axis %c of size %d, so it "
                        "cannot be mirrored", off[a], st[a], "ZYX"[a], g->src[a]);
    }
    if ((o->transpose || o->rot90) &&
        (g->src[1] != g->src[2] || g->grid[1] != g->grid[2] || off[1] != off[2] || st[1] != st[2]))
        return fail(s, err, EKN_EXIT_USAGE, EKN_REC_LABEL,
                    "transposes and 90-degree rotations of labels at the output grid need a square Y,X image "
                    "(%dx%d) and square labels (%dx%d) placed alike", g->src[1], g->src[2], g->grid[1], g->grid[2]);
    return 0;
}

static int examine(run_state *s, img_group *g, ekn_err *err)
{
    const ekn_aug_run_cfg *cfg = s->cfg;
    ekn_tensor *im = &s->g.rec[0];
    if (im->rank != 4 && im->rank != 5)
        return fail(s, err, EKN_EXIT_FAIL, EKN_REC_IMAGE, "expected shape (N,C,Y,X) or (N,C,Z,Y,X), got rank %d", im->rank);
    memset(g, 0, sizeof *g);
    g->sd = im->rank - 2;
    g->N = im->shape[0];
    g->C = (int)im->shape[1];
    spatial_of(im, g->sd, g->src);
    if (g->C > EKN_AUG_MAX_CHANNELS && cfg->o.per_channel)
        return fail(s, err, EKN_EXIT_FAIL, EKN_REC_IMAGE, "--per-channel handles up to %d channels, the image has %d",
                    EKN_AUG_MAX_CHANNELS, g->C);
    if ((uint64_t)g->src[0] * (uint64_t)g->src[1] * (uint64_t)g->src[2] > INT32_MAX)
        return fail(s, err, EKN_EXIT_FAIL, EKN_REC_IMAGE, "more than 2^31 voxels per example");
    memcpy(g->out, g->src, sizeof g->out);
    if (cfg->crop_dims == 3 && g->sd == 2 && cfg->crop[0] != 1)
        return fail(s, err, EKN_EXIT_SPEC, EKN_REC_IMAGE, "--crop gives %d slices, the images are 2D", cfg->crop[0]);
    if (cfg->crop_dims) {
        for (int k = 3 - cfg->crop_dims; k < 3; k++) g->out[k] = cfg->crop[k];
        for (int k = 0; k < 3; k++)
            if (g->out[k] > g->src[k])
                return fail(s, err, EKN_EXIT_SPEC, EKN_REC_IMAGE, "crop %dx%dx%d is larger than the image %dx%dx%d",
                            g->out[0], g->out[1], g->out[2], g->src[0], g->src[1], g->src[2]);
    }
    for (int i = 1; i < s->g.n; i++) {
        ekn_tensor *t = &s->g.rec[i];
        if (t->rank < 1 || t->shape[0] != g->N)
            return fail(s, err, EKN_EXIT_FAIL, t->name, "%" PRIu64 " examples, the image record has %" PRIu64,
                        t->rank ? t->shape[0] : 0, g->N);
        ekn_rec_kind kind = ekn_rec_kind_of(t->name);
        int lab = kind == EKN_KIND_LABEL, tgt = kind == EKN_KIND_TARGET;
        if (lab || tgt) {
            int grid[3] = {0, 0, 0};
            label_form f = classify(t, g, grid);
            int larger = f == LAB_GRID && (grid[0] > g->src[0] || grid[1] > g->src[1] || grid[2] > g->src[2]);
            if ((lab && f == LAB_NONE) || larger)
                return fail(s, err, EKN_EXIT_FAIL, t->name, "shape does not fit images of %dx%dx%d",
                            g->src[0], g->src[1], g->src[2]);
            if (lab) g->lab = t, g->lab_form = f, memcpy(g->grid, grid, sizeof grid);
            else g->tgt = t, g->tgt_form = f == LAB_FULL ? LAB_FULL : LAB_NONE;
            if (tgt && f == LAB_GRID && ekn_aug_has_geometry(&s->o))
                return fail(s, err, EKN_EXIT_USAGE, EKN_REC_TARGET,
                            "per-voxel targets must have the image's shape to be transformed");
        } else if (kind == EKN_KIND_MASK) {
            g->mask = t;
        } else if (kind == EKN_KIND_WEIGHT) {
            g->wt = t;
        }
    }
    if (g->mask) {
        int want[3], got[3];
        if (g->lab && g->lab_form == LAB_GRID) memcpy(want, g->grid, sizeof want);
        else memcpy(want, g->src, sizeof want);
        if (g->mask->rank != 1 + g->sd || (spatial_of(g->mask, g->sd, got), memcmp(got, want, sizeof got)))
            return fail(s, err, EKN_EXIT_FAIL, EKN_REC_MASK, "shape does not match the labels (%dx%dx%d)", want[0],
                        want[1], want[2]);
        if (g->mask->dtype == EKN_F32 || g->mask->dtype == EKN_F64 || g->mask->dtype == EKN_F16 ||
            g->mask->dtype == EKN_BF16)
            return fail(s, err, EKN_EXIT_FAIL, EKN_REC_MASK, "dtype %s, expected an integer type",
                        ekn_dtype_name(g->mask->dtype));
    }
    if (g->wt) {
        int want[3], got[3];
        if (g->lab && g->lab_form == LAB_GRID) memcpy(want, g->grid, sizeof want);
        else memcpy(want, g->src, sizeof want);
        if (g->wt->rank != 1 + g->sd || (spatial_of(g->wt, g->sd, got), memcmp(got, want, sizeof got)))
            return fail(s, err, EKN_EXIT_FAIL, EKN_REC_WEIGHT, "shape does not match the labels (%dx%dx%d)", want[0],
                        want[1], want[2]);
        if (g->wt->dtype != EKN_F32) return fail(s, err, EKN_EXIT_FAIL, EKN_REC_WEIGHT, "dtype must be f32");
    }
    if (g->lab && g->lab_form == LAB_GRID && check_grid(s, g, err)) return -1;
    if (g->lab && (g->lab->dtype == EKN_F32 || g->lab->dtype == EKN_F64 || g->lab->dtype == EKN_F16 ||
                   g->lab->dtype == EKN_BF16))
        return fail(s, err, EKN_EXIT_FAIL, EKN_REC_LABEL, "dtype %s, expected an integer type", ekn_dtype_name(g->lab->dtype));
    return 0;
}

/* Z is warped only when it is about as fine as Y: spacing= says so, or,
 * without it, Z is not much thinner than the in-plane size. */
static int resolve_in_plane(const run_state *s, const img_group *g)
{
    if (s->cfg->in_plane_mode >= 0 || g->sd == 2) return s->cfg->in_plane_mode > 0;
    char buf[256];
    double sp[3];
    ekn_err perr = {0};
    if (ekn_tensor_meta_get(&s->g.rec[0], "spacing", buf, sizeof buf) &&
        ekn_parse_float_list(buf, sp, 3, "spacing=", &perr) == 3 && sp[1] > 0)
        return sp[0] >= 2 * sp[1];
    return 4 * g->src[0] <= g->src[1];
}

static int to_i32(const ekn_tensor *t, int32_t **buf, size_t *cap, ekn_err *err)
{
    size_t n = ekn_tensor_numel(t);
    if (t->dtype == EKN_I32) {
        *buf = NULL;
        return 0;
    }
    int32_t *b = reserve(*buf, cap, n, sizeof *b);
    if (!b) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    *buf = b;
    for (size_t i = 0; i < n; i++) b[i] = (int32_t)ekn_tensor_get(t, i);
    return 0;
}

static int out_tensor(ekn_tensor *out, const ekn_tensor *in, ekn_dtype dt, const img_group *g, int channels,
                      int spatial_out, ekn_err *err)
{
    uint64_t shape[EKN_MAX_RANK];
    int rank = 0;
    shape[rank++] = g->N;
    if (channels) shape[rank++] = (uint64_t)g->C;
    const int *sp = spatial_out ? g->out : g->grid;
    if (g->sd == 3) shape[rank++] = (uint64_t)sp[0];
    shape[rank++] = (uint64_t)sp[1];
    shape[rank++] = (uint64_t)sp[2];
    if (copy_meta(out, in, err)) return -1;
    return ekn_tensor_reshape(out, dt, rank, shape, err);
}

static int image_group(run_state *s, ekn_err *err)
{
    img_group g;
    if (examine(s, &g, err)) return -1;
    s->o.in_plane = resolve_in_plane(s, &g);
    const ekn_aug_opts *o = &s->o;
    ekn_tensor *im = &s->g.rec[0];
    const size_t svol = (size_t)g.src[0] * g.src[1] * g.src[2], ovol = (size_t)g.out[0] * g.out[1] * g.out[2];
    const size_t gvol = (size_t)g.grid[0] * g.grid[1] * g.grid[2];
    const int grid = g.lab && g.lab_form == LAB_GRID;
    const int geometry = ekn_aug_has_geometry(o) || s->cfg->crop_dims;

    /* sources as f32 / i32 / u8 */
    const float *srcf = im->data;
    if (im->dtype != EKN_F32) {
        float *b = reserve(s->srcf, &s->srcf_cap, ekn_tensor_numel(im), sizeof *b);
        if (!b) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        s->srcf = b;
        ekn_convert_to_f32(im->dtype, im->data, b, ekn_tensor_numel(im));
        srcf = b;
    }
    const int32_t *lab = NULL;
    if (g.lab && g.lab_form != LAB_SCALAR) {
        int32_t *b = s->labi;
        if (to_i32(g.lab, &b, &s->labi_cap, err)) return -1;
        if (b) s->labi = b;
        lab = b ? b : g.lab->data;
    }
    const uint8_t *mask = NULL;
    if (g.mask) {
        size_t nm = ekn_tensor_numel(g.mask);
        uint8_t *b = reserve(s->masku8, &s->masku8_cap, nm, 1);
        if (!b) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        s->masku8 = b;
        for (size_t i = 0; i < nm; i++) b[i] = ekn_tensor_get(g.mask, i) != 0;
        mask = b;
    }
    const float *wt = g.wt ? g.wt->data : NULL;
    const float *tgt = NULL;
    if (g.tgt && g.tgt_form == LAB_FULL) {
        if (g.tgt->dtype != EKN_F32) return fail(s, err, EKN_EXIT_FAIL, EKN_REC_TARGET, "dtype must be f32");
        tgt = g.tgt->data;
    }
    uint8_t *keep = reserve(s->keep, &s->keep_cap, g.N ? g.N : 1, 1);
    if (!keep) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    s->keep = keep;

    if (out_tensor(&s->out_img, im, EKN_F32, &g, 1, 1, err)) return -1;
    if (lab && out_tensor(&s->out_lab, g.lab, EKN_I32, &g, 0, !grid, err)) return -1;
    if (mask && out_tensor(&s->out_mask, g.mask, EKN_U8, &g, 0, !grid, err)) return -1;
    if (tgt && out_tensor(&s->out_tgt, g.tgt, EKN_F32, &g, 0, 1, err)) return -1;
    if (wt && out_tensor(&s->out_wt, g.wt, EKN_F32, &g, 0, !grid, err)) return -1;
    float *owt = wt ? s->out_wt.data : NULL;
    float *oimg = s->out_img.data;
    int32_t *olab = lab ? s->out_lab.data : NULL;
    uint8_t *omask = mask ? s->out_mask.data : NULL;
    float *otgt = tgt ? s->out_tgt.data : NULL;

    uint64_t kept = 0;
    for (uint64_t e = 0; e < g.N; e++) {
        uint64_t id = s->cfg->examples_in + e;
        ekn_rng rng, noise;
        ekn_rng_seed(&rng, o->seed, id);
        ekn_rng_seed(&noise, o->seed ^ 0x6e6f697365ull, id);
        ekn_aug_params p;
        ekn_aug_draw(o, &rng, g.C, &p);
        s->cfg->warped += p.warp;
        const float *xs = srcf + e * g.C * svol;
        float *xd = oimg + kept * g.C * ovol;
        size_t outside = 0;
        if (grid) {
            ekn_aug_lattice(xs, xd, sizeof *xd, g.C, g.src, p.transpose, p.flip);
            ekn_aug_lattice(lab + e * gvol, olab + kept * gvol, sizeof *olab, 1, g.grid, p.transpose, p.flip);
            if (mask) ekn_aug_lattice(mask + e * gvol, omask + kept * gvol, 1, 1, g.grid, p.transpose, p.flip);
            if (wt) ekn_aug_lattice(wt + e * gvol, owt + kept * gvol, sizeof *owt, 1, g.grid, p.transpose, p.flip);
        } else if (!geometry) {
            memcpy(xd, xs, g.C * svol * sizeof *xd);
            if (lab) memcpy(olab + kept * svol, lab + e * svol, svol * sizeof *olab);
            if (mask) memcpy(omask + kept * svol, mask + e * svol, svol);
            if (tgt) memcpy(otgt + kept * svol, tgt + e * svol, svol * sizeof *otgt);
            if (wt) memcpy(owt + kept * svol, wt + e * svol, svol * sizeof *owt);
        } else {
            ekn_aug_geom geo = {{g.src[0], g.src[1], g.src[2]}, {g.out[0], g.out[1], g.out[2]}, o->in_plane};
            ekn_aug_map m;
            if (ekn_aug_map_build(&m, o, &p, &geo, &s->work, err)) return -1;
            outside = ekn_aug_sample_f32(&m, xs, xd, g.C, &s->work);
            if (lab) ekn_aug_sample_i32(&m, lab + e * svol, olab + kept * ovol, -1, &s->work);
            if (mask) ekn_aug_sample_u8(&m, mask + e * svol, omask + kept * ovol, &s->work);
            if (tgt) ekn_aug_sample_f32(&m, tgt + e * svol, otgt + kept * ovol, 1, &s->work);
            /* nearest, as the labels are, so each weight stays with its label; the float bits are
             * copied as int32 and 0 (weight 0) fills what lies outside, where the labels are -1 */
            if (wt) ekn_aug_sample_i32(&m, (const int32_t *)(wt + e * svol), (int32_t *)(owt + kept * ovol), 0, &s->work);
            if (outside == (size_t)-1) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        }
        keep[e] = !(s->cfg->reject && outside);
        if (!keep[e]) continue;
        if (ekn_aug_has_intensity(o) && ekn_aug_intensity(xd, g.C, g.out, o, &p, &noise, &s->work, err)) return -1;
        kept++;
    }
    s->cfg->examples_in += g.N;
    s->cfg->examples_out += kept;
    if (!kept) return 0; /* every example rejected: the group is dropped whole */
    /* the outputs take the places of their sources in the group, which is written whole */
    s->out_img.shape[0] = kept;
    swap(&s->out_img, im);
    for (int i = 1; i < s->g.n; i++) {
        ekn_tensor *t = &s->g.rec[i];
        ekn_tensor *out = t == g.lab && lab ? &s->out_lab : t == g.mask ? &s->out_mask : t == g.tgt && tgt ? &s->out_tgt
                          : t == g.wt ? &s->out_wt : NULL;
        if (out) {
            out->shape[0] = kept;
            swap(out, t);
            continue;
        }
        if (kept < g.N) { /* per-example records lose the rejected rows */
            size_t row = ekn_tensor_bytes(t) / g.N;
            unsigned char *d = t->data;
            for (uint64_t e = 0, j = 0; e < g.N; e++)
                if (keep[e]) memmove(d + j++ * row, d + e * row, row);
            t->shape[0] = kept;
        }
    }
    return ekn_group_write(&s->w, &s->g, err);
}

/* ---- the loop ------------------------------------------------------------------ */

static int run(run_state *s, ekn_err *err)
{
    if (ekn_group_reader_open(&s->gr, s->cfg->input, err)) return -1;
    if (ekn_writer_open(&s->w, s->cfg->output, s->cfg->force, err)) return -1;
    s->writing = 1;
    int rc = ekn_group_read(&s->gr, &s->g, err);
    if (rc == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty stream, no examples", ekn_group_source(&s->gr));
    for (; rc > 0; rc = ekn_group_read(&s->gr, &s->g, err)) {
        s->o = s->cfg->o;
        int vec = ekn_rec_kind_of(s->g.rec[0].name) == EKN_KIND_VECTOR;
        if (vec ? vector_group(s, err) : image_group(s, err)) return -1;
    }
    if (rc < 0) return -1;
    s->writing = 0;
    return ekn_writer_close(&s->w, err);
}

int ekn_aug_run(ekn_aug_run_cfg *cfg, ekn_err *err)
{
    run_state *s = calloc(1, sizeof *s);
    if (!s) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    s->cfg = cfg;
    int rc = run(s, err);
    if (rc && s->writing) ekn_writer_abort(&s->w);
    ekn_group_reader_close(&s->gr);
    ekn_group_free(&s->g);
    ekn_tensor_free(&s->out_img);
    ekn_tensor_free(&s->out_lab);
    ekn_tensor_free(&s->out_mask);
    ekn_tensor_free(&s->out_tgt);
    ekn_tensor_free(&s->out_wt);
    free(s->srcf);
    free(s->labi);
    free(s->masku8);
    free(s->keep);
    ekn_aug_work_free(&s->work);
    free(s);
    return rc;
}
