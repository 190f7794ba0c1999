#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "stream.h"
#include "tensor.h"

/* ---- memory ----------------------------------------------------------------- */

static int lazy_alloc(ekn_dataset *d, size_t cap, ekn_err *err)
{
    uint8_t **lazy[2] = {&d->labelled, &d->absent};
    for (int i = 0; i < 2 && d->lazy_c; i++) {
        uint8_t *p = realloc(*lazy[i], cap * (size_t)d->lazy_c);
        if (!p) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
        *lazy[i] = p;
    }
    return 0;
}

int ekn_dataset_reserve(ekn_dataset *d, size_t cap, ekn_err *err)
{
    if (cap <= d->cap) return 0;
    float *x = realloc(d->x, cap * d->ex_size * sizeof *x);
    if (!x) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory for %zu examples", d->source, cap);
    d->x = x;
    if (d->lab_size && d->has_labels) {
        int32_t *y = realloc(d->y, cap * d->lab_size * sizeof *y);
        if (!y) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
        d->y = y;
    } else if (d->lab_size && d->has_targets) {
        float *t = realloc(d->t, cap * d->lab_size * sizeof *t);
        if (!t) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
        d->t = t;
    }
    if (d->has_weights && d->w_size) {
        float *w = realloc(d->w, cap * d->w_size * sizeof *w);
        if (!w) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
        d->w = w;
    }
    if (lazy_alloc(d, cap, err)) return -1;
    d->cap = cap;
    return 0;
}

/* Room for need examples, doubling as a stream is appended. */
static int grow(ekn_dataset *d, size_t need, ekn_err *err)
{
    if (need <= d->cap) return 0;
    size_t cap = d->cap ? d->cap : 64;
    while (cap < need) cap *= 2;
    return ekn_dataset_reserve(d, cap, err);
}

void ekn_dataset_layout(ekn_dataset *dst, const ekn_dataset *src)
{
    *dst = *src;
    dst->n = dst->cap = 0;
    dst->lazy_count[0] = dst->lazy_count[1] = 0;
    dst->w_count = 0;
    dst->x = NULL, dst->y = NULL, dst->t = NULL, dst->labelled = NULL, dst->absent = NULL, dst->w = NULL;
}

void ekn_dataset_copy_lazy(ekn_dataset *dst, size_t i, const ekn_dataset *src, size_t j)
{
    size_t c = (size_t)dst->lazy_c;
    if (!c || !src->labelled) return;
    memcpy(dst->labelled + i * c, src->labelled + j * c, c);
    memcpy(dst->absent + i * c, src->absent + j * c, c);
}

void ekn_dataset_copy_example(ekn_dataset *dst, size_t i, const ekn_dataset *src, size_t j)
{
    memcpy(dst->x + i * dst->ex_size, src->x + j * src->ex_size, dst->ex_size * sizeof *dst->x);
    size_t ls = dst->lab_size;
    if (dst->has_labels) memcpy(dst->y + i * ls, src->y + j * ls, ls * sizeof *dst->y);
    if (dst->has_targets) memcpy(dst->t + i * ls, src->t + j * ls, ls * sizeof *dst->t);
    if (dst->has_weights && src->w) memcpy(dst->w + i * dst->w_size, src->w + j * src->w_size, dst->w_size * sizeof *dst->w);
    ekn_dataset_copy_lazy(dst, i, src, j);
}

/* ---- the patch cutter ------------------------------------------------------- */

/* 4-byte elements (floats, int32 labels) at start + stride * k, k < out, of
 * a (S[0], S[1], S[2]) array; a stride of 1 along X copies whole rows. */
static void copy_lattice(const uint32_t *src, const int S[3], const int start[3], const int stride[3],
                         const int out[3], uint32_t *dst)
{
    for (int z = 0; z < out[0]; z++)
        for (int y = 0; y < out[1]; y++) {
            const uint32_t *row = src + ((size_t)(start[0] + stride[0] * z) * S[1] + start[1] + stride[1] * y) * S[2] + start[2];
            if (stride[2] == 1) memcpy(dst, row, (size_t)out[2] * sizeof *dst);
            else
                for (int x = 0; x < out[2]; x++) dst[x] = row[(size_t)stride[2] * x];
            dst += out[2];
        }
}

void ekn_dataset_cut(const ekn_dataset *d, size_t e, const int corner[3], const int size[3], const ekn_lattice *lab,
                     float *x, int32_t *y, float *t)
{
    static const int one[3] = {1, 1, 1};
    size_t m = (size_t)d->shape[0] * d->shape[1] * d->shape[2], box = (size_t)size[0] * size[1] * size[2];
    const float *vx = d->x + e * d->ex_size;
    /* float and int32 are both 4 bytes: copied bit for bit */
    for (int c = 0; c < d->c; c++)
        copy_lattice((const uint32_t *)(vx + c * m), d->shape, corner, one, size, (uint32_t *)(x + c * box));
    const void *src = y && d->has_labels ? (const void *)(d->y + e * d->lab_size)
                    : t && d->has_targets ? (const void *)(d->t + e * d->lab_size) : NULL;
    void *dst = y && d->has_labels ? (void *)y : (void *)t;
    if (!src) return;
    if (!lab) {
        memcpy(dst, src, d->lab_size * 4);
        return;
    }
    int start[3];
    for (int k = 0; k < 3; k++) start[k] = corner[k] + lab->offset[k];
    size_t lvol = (size_t)d->lab_shape[0] * d->lab_shape[1] * d->lab_shape[2];
    size_t ovol = (size_t)lab->out[0] * lab->out[1] * lab->out[2];
    for (int c = 0; c < (d->lab_c ? d->lab_c : 1); c++) /* a target's channels, each on the lattice */
        copy_lattice((const uint32_t *)src + c * lvol, d->lab_shape, start, lab->stride, lab->out, (uint32_t *)dst + c * ovol);
}

void ekn_dataset_cut_weights(const ekn_dataset *d, size_t e, const int corner[3], const ekn_lattice *lab, float *w)
{
    const float *src = d->w + e * d->w_size;
    if (!lab) {
        memcpy(w, src, d->w_size * sizeof *w);
        return;
    }
    int start[3];
    for (int k = 0; k < 3; k++) start[k] = corner[k] + lab->offset[k];
    copy_lattice((const uint32_t *)src, d->w_shape, start, lab->stride, lab->out, (uint32_t *)w);
}

/* ---- writing ---------------------------------------------------------------- */

int ekn_dataset_write(const ekn_dataset *d, size_t n, const char *meta, ekn_writer *w, ekn_err *err)
{
    uint64_t shape[EKN_MAX_RANK];
    int rank = 0;
    shape[rank++] = (uint64_t)n;
    if (d->is_vector) {
        shape[rank++] = d->ex_size;
    } else {
        shape[rank++] = (uint64_t)d->c;
        for (int k = 3 - d->ndim; k < 3; k++) shape[rank++] = (uint64_t)d->shape[k];
    }
    if (ekn_stream_write_raw(w, EKN_F32, rank, shape, d->is_vector ? EKN_REC_VECTOR : EKN_REC_IMAGE, meta, d->x, err))
        return -1;
    if (d->has_labels || d->has_targets) {
        rank = 1;
        if (d->lab_c) shape[rank++] = (uint64_t)d->lab_c;
        for (int k = 3 - d->lab_ndim; k < 3; k++) shape[rank++] = (uint64_t)d->lab_shape[k];
        char cls[32] = "", off[64] = "", str[64] = "", lab_meta[512];
        if (d->has_labels && d->classes) snprintf(cls, sizeof cls, "classes=%d\n", d->classes);
        /* as many values as the image has spatial axes */
        for (int k = 3 - d->ndim; d->lab_placed && k < 3; k++) {
            const char *sep = k > 3 - d->ndim ? "," : "offset=";
            snprintf(off + strlen(off), sizeof off - strlen(off), "%s%d", sep, d->lab_offset[k]);
            snprintf(str + strlen(str), sizeof str - strlen(str), "%s%d", k > 3 - d->ndim ? "," : "stride=",
                     d->lab_stride[k]);
        }
        snprintf(lab_meta, sizeof lab_meta, "%s%s%s%s%s%s", meta, cls, off, *off ? "\n" : "", str, *str ? "\n" : "");
        if (d->has_labels ? ekn_stream_write_raw(w, EKN_I32, rank, shape, EKN_REC_LABEL, lab_meta, d->y, err)
                          : ekn_stream_write_raw(w, EKN_F32, rank, shape, EKN_REC_TARGET, lab_meta, d->t, err))
            return -1;
    }
    if (d->has_weights && d->w) {
        rank = 1;
        for (int k = 3 - d->w_ndim; k < 3; k++) shape[rank++] = (uint64_t)d->w_shape[k];
        if (ekn_stream_write_raw(w, EKN_F32, rank, shape, EKN_REC_WEIGHT, meta, d->w, err)) return -1;
    }
    if (d->lazy_c) {
        shape[1] = (uint64_t)d->lazy_c;
        if (ekn_stream_write_raw(w, EKN_U8, 2, shape, EKN_REC_LABELLED, meta, d->labelled, err) ||
            ekn_stream_write_raw(w, EKN_U8, 2, shape, EKN_REC_ABSENT, meta, d->absent, err))
            return -1;
    }
    return 0;
}

/* ---- reading ---------------------------------------------------------------- */

/* Lazy-label masks describe the examples of the pair before them. */
static int add_lazy(ekn_dataset *d, const ekn_tensor *m, size_t last_n, unsigned long long rec, ekn_err *err)
{
    const char *src = d->source;
    if (!last_n || m->rank != 2 || m->shape[0] != last_n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a '%s' record must follow a pair and be (N, classes)",
                           src, rec, m->name);
    int c = (int)m->shape[1];
    if (d->lazy_c && c != d->lazy_c)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %d classes in '%s', earlier records had %d", src, rec, c,
                           m->name, d->lazy_c);
    int which = ekn_rec_kind_of(m->name) != EKN_KIND_LABELLED;
    if (d->lazy_count[which] != d->n - last_n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' records must follow every pair, or none", src, rec,
                           m->name);
    /* sized to the examples' capacity, once: reserve() keeps it so afterwards */
    if (!d->lazy_c) {
        d->lazy_c = c;
        if (lazy_alloc(d, d->cap, err)) return -1;
    }
    d->lazy_count[which] = d->n;
    uint8_t *p = which ? d->absent : d->labelled;
    size_t base = (d->n - last_n) * (size_t)c;
    for (size_t k = 0; k < last_n * (size_t)c; k++) {
        double v = ekn_tensor_get(m, k);
        if (v != 0 && v != 1)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' values must be 0 or 1, found %g", src, rec,
                               m->name, v);
        p[base + k] = (uint8_t)v;
    }
    return 0;
}

/* Where a label record that covers only the network's output region sits in
 * its image: label[k] is image position offset + stride * k (ekn-batch's
 * metadata).  Spatial axes are (Z,Y,X) with unused leading axes 0 / 1. */
static int read_placement(ekn_dataset *d, const ekn_tensor *lab, unsigned long long rec, ekn_err *err)
{
    long off[3] = {0, 0, 0}, st[3] = {1, 1, 1};
    int k = ekn_meta_zyx(lab, "offset", 0, off, err);
    if (k < 0 || ekn_meta_zyx(lab, "stride", 1, st, err) < 0) return ekn_err_prefix(err, "'%s': record %llu", d->source, rec);
    d->lab_placed = k > 0;
    for (int i = 0; i < 3; i++) d->lab_offset[i] = (int)off[i], d->lab_stride[i] = (int)st[i];
    return 0;
}

static int first_pair(ekn_dataset *d, const ekn_tensor *in, const ekn_tensor *lab, int c, int ndim, const int shape[3],
                      size_t n, unsigned long long rec, ekn_err *err)
{
    d->c = c;
    d->ndim = ndim;
    memcpy(d->shape, shape, sizeof d->shape);
    d->is_vector = ekn_rec_kind_of(in->name) == EKN_KIND_VECTOR;
    d->ex_size = ekn_tensor_numel(in) / n;
    d->has_labels = ekn_rec_kind_of(lab->name) == EKN_KIND_LABEL;
    d->has_targets = !d->has_labels;
    d->lab_size = ekn_tensor_numel(lab) / n;
    d->lab_ndim = lab->rank - 1;
    d->lab_shape[0] = d->lab_shape[1] = d->lab_shape[2] = 1;
    d->lab_c = 0;
    if (d->has_targets && !d->is_vector && lab->rank == 2 + ndim) {
        /* per-voxel targets of several channels (affinities): (N, C, [Z,] Y, X) */
        d->lab_c = (int)lab->shape[1];
        d->lab_ndim = ndim;
        for (int i = 0; i < ndim; i++) d->lab_shape[3 - ndim + i] = (int)lab->shape[2 + i];
    } else {
        for (int i = 1; i < lab->rank && i <= 3; i++) d->lab_shape[3 - d->lab_ndim + i - 1] = (int)lab->shape[i];
    }
    if (read_placement(d, lab, rec, err)) return -1;
    if (d->has_labels) d->classes = (int)ekn_meta_int(lab, "classes", 0);
    return 0;
}

/* Appends the n examples of one input record and its label record. */
static int append_pair(ekn_dataset_reader *dr, ekn_dataset *d, const ekn_tensor *in, const ekn_tensor *lab,
                       unsigned long long rec, ekn_err *err)
{
    const char *src = d->source;
    size_t n = (size_t)in->shape[0], lab_size = d->lab_size;
    if (grow(d, d->n + n, err)) return -1;
    float *xs = d->x + d->n * d->ex_size;
    ekn_convert_to_f32(in->dtype, in->data, xs, n * d->ex_size);
    /* one NaN input would turn every weight it reaches into NaN */
    for (size_t k = 0; k < n * d->ex_size; k++)
        if (!isfinite(xs[k]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: example %zu has a non-finite value (%g)", src,
                               rec, k / d->ex_size, xs[k]);
    size_t m = n * lab_size;
    if (d->has_labels) {
        int32_t *y = d->y + d->n * lab_size;
        for (size_t k = 0; k < m; k++) {
            double v = ekn_tensor_get(lab, k);
            if (!(v == floor(v)) || v > INT32_MAX || v < INT32_MIN)
                return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: label %g is not an integer class", src,
                                   rec + 1, v);
            y[k] = v < 0 ? -1 : (int32_t)v;
            if (y[k] > dr->max_label) dr->max_label = y[k];
        }
    } else {
        ekn_convert_to_f32(lab->dtype, lab->data, d->t + d->n * lab_size, m);
    }
    d->n += n;
    return 0;
}

/* A mask (0: the label does not count) folds into the labels of the last n
 * examples as the ignore label -1, or into their targets as NaN, which the
 * losses skip; so masks survive every later step without a record of their own. */
static int apply_mask(ekn_dataset *d, const ekn_tensor *m, size_t n, unsigned long long rec, ekn_err *err)
{
    if (m->rank < 1 || m->shape[0] != n || ekn_tensor_numel(m) != n * d->lab_size)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a mask must have its labels' shape (%zu values for %zu examples)",
                           d->source, rec, n * d->lab_size, n);
    size_t base = (d->n - n) * d->lab_size;
    for (size_t k = 0; k < n * d->lab_size; k++) {
        if (ekn_tensor_get(m, k) != 0) continue;
        if (d->has_labels) d->y[base + k] = -1;
        else d->t[base + k] = NAN;
    }
    return 0;
}

/* A weight record (one weight per label position, finite and >= 0) for the pair's last n examples. */
static int add_weights(ekn_dataset *d, const ekn_tensor *m, size_t n, unsigned long long rec, ekn_err *err)
{
    const char *src = d->source;
    size_t per = m->rank >= 1 && m->shape[0] == n ? ekn_tensor_numel(m) / n : 0;
    if (!per || d->lab_size % per)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a '%s' record must have one value per label position "
                           "(the labels' shape, or the targets' without their channel axis: %zu values per example), "
                           "not %zu", src, rec, EKN_REC_WEIGHT, d->lab_size, per);
    if (d->w_count != d->n - n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' records must follow every pair, or none", src, rec,
                           EKN_REC_WEIGHT);
    if (!d->has_weights) {
        d->has_weights = 1;
        d->w_size = per;
        /* its spatial axes, without a leading axis of 1 (N,1,S... is N,S...) */
        int r0 = m->rank >= 2 && m->shape[1] == 1 && m->rank > 2 ? 2 : 1;
        d->w_ndim = m->rank - r0 > 3 ? 3 : m->rank - r0;
        d->w_shape[0] = d->w_shape[1] = d->w_shape[2] = 1;
        for (int i = 0; i < d->w_ndim; i++) d->w_shape[3 - d->w_ndim + i] = (int)m->shape[m->rank - d->w_ndim + i];
        float *w = realloc(d->w, d->cap * per * sizeof *w);
        if (!w) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", src);
        d->w = w;
    } else if (per != d->w_size) {
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of %zu values per example, earlier ones had %zu",
                           src, rec, EKN_REC_WEIGHT, per, d->w_size);
    }
    float *w = d->w + (d->n - n) * per;
    ekn_convert_to_f32(m->dtype, m->data, w, n * per);
    for (size_t k = 0; k < n * per; k++)
        if (!(isfinite(w[k]) && w[k] >= 0))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: weight %g (weights must be finite and >= 0)", src,
                               rec, w[k]);
    d->w_count = d->n;
    return 0;
}

int ekn_dataset_read_group(ekn_dataset_reader *dr, ekn_dataset *d, ekn_err *err)
{
    ekn_group *g = &dr->g;
    int got = ekn_group_read(&dr->gr, g, err);
    if (got <= 0) return got;
    if (ekn_group_check(&dr->gr, g, EKN_GROUP_NEED_LABELS | EKN_GROUP_NO_OTHER, err)) return -1;
    const ekn_tensor *in = &g->rec[0], *lab = &g->rec[g->lab];
    const char *src = d->source;
    unsigned long long rec = (unsigned long long)g->first;
    int c, ndim, shape[3];
    char s[256];
    ekn_shape_str(in->rank, in->shape, s, sizeof s);
    if (ekn_input_geometry(in, &c, &ndim, shape) || in->shape[0] == 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of shape %s is not (N,C,[Z,]Y,X) or (N,F)",
                           src, rec, in->name, s);
    int differs = d->flat ? ekn_tensor_numel(in) / in->shape[0] != d->ex_size
                          : c != d->c || memcmp(shape, d->shape, sizeof shape) || ndim != d->ndim;
    if (d->ex_size && differs)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: shape %s does not match the first record's examples",
                           src, rec, s);
    size_t n = (size_t)in->shape[0];
    int is_lab = ekn_rec_kind_of(lab->name) == EKN_KIND_LABEL;
    if (lab->rank < 1 || lab->shape[0] != n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s count does not match the %zu examples of record %llu",
                           src, rec + 1, lab->name, n, rec);
    if (!d->ex_size) {
        if (first_pair(d, in, lab, c, ndim, shape, n, rec + 1, err)) return -1;
    } else if (ekn_tensor_numel(lab) / n != d->lab_size || is_lab != d->has_labels) {
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s record differs in kind or shape from the first", src,
                           rec + 1, lab->name);
    }
    dr->epoch = ekn_meta_int(in, "epoch", -1);
    dr->batch = ekn_meta_int(in, "batch", -1);
    if (append_pair(dr, d, in, lab, rec, err)) return -1;
    /* masks and lazy-label records describe the pair before them */
    if (g->mask >= 0 && apply_mask(d, &g->rec[g->mask], n, rec + (unsigned long long)g->mask, err)) return -1;
    if (g->labelled >= 0 && add_lazy(d, &g->rec[g->labelled], n, rec + (unsigned long long)g->labelled, err)) return -1;
    if (g->absent >= 0 && add_lazy(d, &g->rec[g->absent], n, rec + (unsigned long long)g->absent, err)) return -1;
    if (g->weight >= 0 && add_weights(d, &g->rec[g->weight], n, rec + (unsigned long long)g->weight, err)) return -1;
    if (d->has_weights && d->w_count != d->n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' records must follow every pair, or none", src,
                           rec + 1, EKN_REC_WEIGHT);
    if (d->lazy_c && (d->lazy_count[0] != d->n || d->lazy_count[1] != d->n))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: lazy labels need both '%s' and '%s' records after every pair",
                           src, rec + 1, EKN_REC_LABELLED, EKN_REC_ABSENT);
    return 1;
}

int ekn_dataset_reader_open(ekn_dataset_reader *dr, ekn_dataset *d, const char *path, ekn_err *err)
{
    memset(dr, 0, sizeof *dr);
    memset(d, 0, sizeof *d);
    dr->max_label = -1;
    dr->epoch = dr->batch = -1;
    if (ekn_group_reader_open(&dr->gr, path, err)) return -1;
    snprintf(d->source, sizeof d->source, "%s", ekn_group_source(&dr->gr));
    return 0;
}

int ekn_dataset_check_classes(ekn_dataset_reader *dr, ekn_dataset *d, ekn_err *err)
{
    if (!d->has_labels || d->classes > dr->max_label) return 0;
    if (d->classes)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': label %d is not below classes=%d", d->source, dr->max_label,
                           d->classes);
    d->classes = dr->max_label + 1;
    return 0;
}

void ekn_dataset_clear(ekn_dataset *d)
{
    d->n = 0;
    d->lazy_count[0] = d->lazy_count[1] = 0;
    d->w_count = 0;
}

void ekn_dataset_reader_close(ekn_dataset_reader *dr)
{
    ekn_group_reader_close(&dr->gr);
    ekn_group_free(&dr->g);
    memset(dr, 0, sizeof *dr);
}

int ekn_dataset_load(ekn_dataset *d, const char *path, ekn_err *err)
{
    ekn_dataset_reader dr;
    if (ekn_dataset_reader_open(&dr, d, path, err)) return -1;
    int got;
    while ((got = ekn_dataset_read_group(&dr, d, err)) == 1) {}
    int rc = got < 0 ? -1 : 0;
    if (!rc && d->n == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples in the stream", d->source);
    if (!rc) rc = ekn_dataset_check_classes(&dr, d, err);
    ekn_dataset_reader_close(&dr);
    if (rc) ekn_dataset_free(d);
    return rc;
}

void ekn_dataset_free(ekn_dataset *d)
{
    free(d->x);
    free(d->y);
    free(d->t);
    free(d->labelled);
    free(d->absent);
    free(d->w);
    memset(d, 0, sizeof *d);
}
