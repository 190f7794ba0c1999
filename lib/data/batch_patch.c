/* The img-img patch sampler: random patches of one shape out of volumes,
 * with the labels under the net's output lattice (or the whole patch).
 * A patch is cut by ekn_dataset_cut; the only per-patch decisions are a
 * volume (by weight) and a corner (uniform, or from the corner lists that
 * the start-up scan built for --max-ignored and --class). */
#include <stdlib.h>
#include <string.h>

#include "batch.h"

static size_t vol_elems(const ekn_dataset *d) { return (size_t)d->shape[0] * d->shape[1] * d->shape[2]; }

static int check_set(const ekn_sampler *s, const ekn_dataset *d, const ekn_dataset *first, const char *name,
                     ekn_err *err)
{
    const ekn_patch_geom *g = &s->o.geom;
    if (d->ex_size != (size_t)d->c * vol_elems(d) || d->ndim < 1)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': patches need 'image' volumes (N,C,[Z,]Y,X)", name);
    if ((d->has_labels || d->has_targets) && (d->lab_ndim != d->ndim || memcmp(d->lab_shape, d->shape, sizeof d->shape)))
        return ekn_err_set(err, EKN_EXIT_FAIL,
                           "'%s': labels of shape %dx%dx%d do not match the image volumes of shape %dx%dx%d", name,
                           d->lab_shape[0], d->lab_shape[1], d->lab_shape[2], d->shape[0], d->shape[1], d->shape[2]);
    if (d->has_weights && memcmp(d->w_shape, d->shape, sizeof d->shape))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' records of shape %dx%dx%d do not match the image volumes of "
                           "shape %dx%dx%d", name, EKN_REC_WEIGHT, d->w_shape[0], d->w_shape[1], d->w_shape[2],
                           d->shape[0], d->shape[1], d->shape[2]);
    if (g->channels && d->c != g->channels)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': %d channels, but the net takes %d", name, d->c, g->channels);
    if (first && (d->c != first->c || d->ndim != first->ndim || d->has_labels != first->has_labels ||
                  d->has_targets != first->has_targets || d->lazy_c != first->lazy_c ||
                  d->has_weights != first->has_weights))
        return ekn_err_set(err, EKN_EXIT_FAIL,
                           "'%s': channels, dimensions, label kind or weights differ from the first input's", name);
    return 0;
}

/* Scans every corner of v once: which pass --max-ignored, which hold the class. */
static int scan_volume(ekn_sampler *s, ekn_volume *v, const char *name, ekn_err *err)
{
    const ekn_dataset *d = v->d;
    const ekn_patch_geom *g = &s->o.geom;
    size_t m = vol_elems(d), corners = (size_t)v->n[0] * v->n[1] * v->n[2];
    const int32_t *y = d->y + v->e * d->lab_size;
    uint8_t *ind = malloc(m);
    int32_t *S_ign = malloc(m * sizeof *S_ign), *S_cls = malloc(m * sizeof *S_cls);
    v->ok = malloc(corners * sizeof *v->ok);
    v->cls = malloc(corners * sizeof *v->cls);
    if (!ind || !S_ign || !S_cls || !v->ok || !v->cls) {
        free(ind), free(S_ign), free(S_cls);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory scanning volume %zu", name, v->e);
    }
    for (size_t i = 0; i < m; i++) ind[i] = y[i] < 0;
    ekn_lattice_prefix(ind, d->shape, g->stride, S_ign);
    for (size_t i = 0; i < m; i++) ind[i] = y[i] == s->o.class_k;
    ekn_lattice_prefix(ind, d->shape, g->stride, S_cls);
    double labels = (double)g->out[0] * g->out[1] * g->out[2];
    size_t idx = 0;
    for (int z = 0; z < v->n[0]; z++)
        for (int yy = 0; yy < v->n[1]; yy++)
            for (int x = 0; x < v->n[2]; x++, idx++) {
                int corner[3] = {v->lo[0] + z, v->lo[1] + yy, v->lo[2] + x}, start[3];
                for (int k = 0; k < 3; k++) start[k] = corner[k] + g->margin[k] + g->offset[k];
                if (s->o.max_ignored < 1 &&
                    (double)ekn_lattice_count(S_ign, d->shape, g->stride, start, g->out) > s->o.max_ignored * labels)
                    continue;
                v->ok[v->n_ok++] = (uint32_t)idx;
                if (s->o.class_k >= 0 && ekn_lattice_count(S_cls, d->shape, g->stride, start, g->out) > 0)
                    v->cls[v->n_cls++] = (uint32_t)idx;
            }
    free(ind), free(S_ign), free(S_cls);
    return 0;
}

static int add_volumes(ekn_sampler *s, const ekn_dataset *d, double weight, const char *name, ekn_err *err)
{
    const ekn_region *r = &s->o.region;
    for (size_t e = 0; e < d->n; e++) {
        ekn_volume *v = &s->vol[s->nvol++];
        memset(v, 0, sizeof *v);
        v->d = d;
        v->e = e;
        v->weight = weight;
        size_t corners = 1;
        for (int k = 0; k < 3; k++) {
            int hi = r->hi[k] ? r->hi[k] : d->shape[k];
            if (hi > d->shape[k])
                return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': --region ends at %d in axis %c, beyond the volume's %d",
                                   name, hi, "ZYX"[k], d->shape[k]);
            v->lo[k] = r->lo[k];
            v->n[k] = hi - r->lo[k] - s->size[k] + 1;
            if (v->n[k] < 1)
                return ekn_err_set(err, EKN_EXIT_SPEC,
                                   "'%s': patch %dx%dx%d (Z,Y,X) is larger than volume %zu%s (%dx%dx%d) in axis %c", name,
                                   s->size[0], s->size[1], s->size[2], e, r->hi[k] || r->lo[k] ? "'s region" : "",
                                   (r->hi[0] ? r->hi[0] : d->shape[0]) - r->lo[0],
                                   (r->hi[1] ? r->hi[1] : d->shape[1]) - r->lo[1],
                                   (r->hi[2] ? r->hi[2] : d->shape[2]) - r->lo[2], "ZYX"[k]);
            corners *= (size_t)v->n[k];
        }
        if (corners > UINT32_MAX)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': volume %zu has too many patch positions to scan", name, e);
        if ((s->o.max_ignored < 1 || s->o.class_k >= 0) && scan_volume(s, v, name, err)) return -1;
    }
    return 0;
}

/* Cumulative weights; volumes without usable corners get none. */
static double cumulate(const ekn_sampler *s, double *cum, int cls)
{
    double total = 0;
    for (int i = 0; i < s->nvol; i++) {
        const ekn_volume *v = &s->vol[i];
        int usable = cls ? v->n_cls > 0 : (!v->ok || v->n_ok > 0);
        total += usable ? v->weight : 0;
        cum[i] = total;
    }
    return total;
}

int ekn_sampler_init(ekn_sampler *s, const ekn_sampler_opts *o, const ekn_dataset *sets, const double *weights,
                     const char *const *names, int nsets, ekn_err *err)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    ekn_patch_size(&o->geom, s->size);
    const ekn_patch_geom *g = &o->geom;
    for (int k = 0; k < 3; k++) s->lab[k] = g->full_labels ? s->size[k] : g->out[k];
    size_t nvol = 0;
    for (int i = 0; i < nsets; i++) {
        if (check_set(s, &sets[i], i ? &sets[0] : NULL, names[i], err)) return -1;
        nvol += sets[i].n;
    }
    s->c = sets[0].c;
    if ((o->max_ignored < 1 || o->class_k >= 0) && !sets[0].has_labels)
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': --max-ignored and --class need class labels", names[0]);
    s->vol = calloc(nvol, sizeof *s->vol);
    s->cum = calloc(nvol, sizeof *s->cum);
    s->cum_cls = calloc(nvol, sizeof *s->cum_cls);
    if (!s->vol || !s->cum || !s->cum_cls) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (int i = 0; i < nsets; i++)
        if (add_volumes(s, &sets[i], weights[i], names[i], err)) return -1;
    if (cumulate(s, s->cum, 0) <= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no patch has at most %g of its labels ignored (--max-ignored)",
                           names[0], o->max_ignored);
    if (o->class_k >= 0 && o->class_share > 0 && cumulate(s, s->cum_cls, 1) <= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL,
                           "'%s': class %d occurs in no patch's labels, so --class-share %g is impossible", names[0],
                           o->class_k, o->class_share);
    ekn_rng_seed(&s->rng, o->seed, 0x70617463); /* "patc": its own stream */
    return 0;
}

static int pick_volume(ekn_sampler *s, const double *cum)
{
    double u = ekn_rng_uniform(&s->rng) * cum[s->nvol - 1];
    int lo = 0, hi = s->nvol - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

const ekn_volume *ekn_sampler_draw(ekn_sampler *s, int want_class, float *x, int32_t *y, float *t, float *w)
{
    const ekn_volume *v = &s->vol[pick_volume(s, want_class ? s->cum_cls : s->cum)];
    const ekn_dataset *d = v->d;
    const ekn_patch_geom *g = &s->o.geom;
    uint64_t idx;
    if (want_class) idx = v->cls[ekn_rng_below(&s->rng, v->n_cls)];
    else if (v->ok) idx = v->ok[ekn_rng_below(&s->rng, v->n_ok)];
    else idx = ekn_rng_below(&s->rng, (uint64_t)v->n[0] * v->n[1] * v->n[2]);
    int corner[3] = {v->lo[0] + (int)(idx / ((uint64_t)v->n[1] * v->n[2])), v->lo[1] + (int)(idx / v->n[2] % v->n[1]),
                     v->lo[2] + (int)(idx % v->n[2])};
    /* full labels: the patch's own box; else the net's output lattice */
    ekn_lattice lat;
    for (int k = 0; k < 3; k++) {
        lat.offset[k] = g->full_labels ? 0 : g->offset[k];
        lat.stride[k] = g->full_labels ? 1 : g->stride[k];
        lat.out[k] = g->full_labels ? s->size[k] : g->out[k];
    }
    ekn_dataset_cut(d, v->e, corner, s->size, &lat, x, y, t);
    if (w && d->has_weights) ekn_dataset_cut_weights(d, v->e, corner, &lat, w);
    return v;
}

uint64_t ekn_sampler_tiles(const ekn_sampler *s)
{
    uint64_t total = 0;
    for (int i = 0; i < s->nvol; i++) {
        const ekn_volume *v = &s->vol[i];
        uint64_t tiles = 1;
        for (int k = 0; k < 3; k++) tiles *= (uint64_t)(v->n[k] + s->size[k] - 1) / (uint64_t)s->size[k];
        total += tiles;
    }
    return total ? total : 1;
}

void ekn_sampler_free(ekn_sampler *s)
{
    for (int i = 0; s->vol && i < s->nvol; i++) {
        free(s->vol[i].ok);
        free(s->vol[i].cls);
    }
    free(s->vol);
    free(s->cum);
    free(s->cum_cls);
    memset(s, 0, sizeof *s);
}
