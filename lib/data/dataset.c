#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "tensor.h"

int ekn_is_input_record(const ekn_tensor *t) { return !strcmp(t->name, "image") || !strcmp(t->name, "vector"); }

int ekn_input_geometry(const ekn_tensor *t, int *c, int *ndim, int shape[3])
{
    shape[0] = shape[1] = shape[2] = 1;
    if (!strcmp(t->name, "vector")) {
        if (t->rank != 2) return -1;
        *c = 1;
        *ndim = 1;
        shape[2] = (int)t->shape[1];
        return 0;
    }
    if (t->rank < 3 || t->rank > 5) return -1;
    *c = (int)t->shape[1];
    *ndim = t->rank - 2;
    for (int i = 0; i < *ndim; i++) shape[3 - *ndim + i] = (int)t->shape[2 + i];
    return 0;
}

static int grow(ekn_dataset *d, size_t need, ekn_err *err)
{
    if (need <= d->cap) return 0;
    size_t cap = d->cap ? d->cap : 64;
    while (cap < need) cap *= 2;
    float *x = realloc(d->x, cap * d->ex_size * sizeof *x);
    if (!x) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory for %zu examples", d->source, need);
    d->x = x;
    if (d->lab_size) {
        if (d->has_labels) {
            int32_t *y = realloc(d->y, cap * d->lab_size * sizeof *y);
            if (!y) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
            d->y = y;
        } else {
            float *t = realloc(d->t, cap * d->lab_size * sizeof *t);
            if (!t) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
            d->t = t;
        }
    }
    uint8_t **lazy[2] = {&d->labelled, &d->absent};
    for (int i = 0; i < 2; i++)
        if (*lazy[i]) {
            uint8_t *p = realloc(*lazy[i], cap * (size_t)d->lazy_c);
            if (!p) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", d->source);
            *lazy[i] = p;
        }
    d->cap = cap;
    return 0;
}

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
    d->lazy_c = c;
    int which = strcmp(m->name, "labelled") != 0;
    uint8_t **dst = which ? &d->absent : &d->labelled;
    if (d->lazy_count[which] != d->n - last_n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' records must follow every pair, or none", src, rec,
                           m->name);
    d->lazy_count[which] = d->n;
    /* sized to the examples' capacity, once: grow() keeps it so afterwards */
    if (!*dst && !(*dst = malloc(d->cap * (size_t)c)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", src);
    uint8_t *p = *dst;
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
static void read_placement(ekn_dataset *d, const ekn_tensor *lab)
{
    char v[96];
    int a[3], n;
    if (ekn_tensor_meta_get(lab, "offset", v, sizeof v) && (n = sscanf(v, "%d,%d,%d", &a[0], &a[1], &a[2])) >= 1) {
        d->lab_placed = 1;
        d->lab_offset[0] = d->lab_offset[1] = d->lab_offset[2] = 0;
        for (int i = 0; i < n; i++) d->lab_offset[3 - n + i] = a[i];
    }
    if (ekn_tensor_meta_get(lab, "stride", v, sizeof v) && (n = sscanf(v, "%d,%d,%d", &a[0], &a[1], &a[2])) >= 1) {
        d->lab_stride[0] = d->lab_stride[1] = d->lab_stride[2] = 1;
        for (int i = 0; i < n; i++) d->lab_stride[3 - n + i] = a[i];
    }
}

static int first_pair(ekn_dataset *d, const ekn_tensor *in, const ekn_tensor *lab, int c, int ndim, const int shape[3],
                      size_t n)
{
    d->c = c;
    d->ndim = ndim;
    memcpy(d->shape, shape, sizeof d->shape);
    d->ex_size = ekn_tensor_numel(in) / n;
    d->has_labels = !strcmp(lab->name, "label");
    d->has_targets = !d->has_labels;
    d->lab_size = ekn_tensor_numel(lab) / n;
    d->lab_ndim = lab->rank - 1;
    d->lab_shape[0] = d->lab_shape[1] = d->lab_shape[2] = 1;
    for (int i = 1; i < lab->rank && i <= 3; i++) d->lab_shape[3 - d->lab_ndim + i - 1] = (int)lab->shape[i];
    d->lab_stride[0] = d->lab_stride[1] = d->lab_stride[2] = 1;
    read_placement(d, lab);
    char cls[32];
    if (d->has_labels && ekn_tensor_meta_get(lab, "classes", cls, sizeof cls)) d->classes = atoi(cls);
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

/* Reads the next record into t: the one read ahead, if any. */
static int next_record(ekn_dataset_reader *dr, ekn_tensor *t, ekn_err *err)
{
    if (dr->has_pending) {
        ekn_tensor tmp = *t;
        *t = dr->pending;
        dr->pending = tmp;
        dr->has_pending = 0;
        return 1;
    }
    return ekn_stream_read(&dr->r, t, err);
}

int ekn_dataset_read_group(ekn_dataset_reader *dr, ekn_dataset *d, ekn_err *err)
{
    ekn_tensor *in = &dr->in, *lab = &dr->lab;
    const char *src = d->source;
    int got;
    if ((got = next_record(dr, in, err)) != 1) return got;
    unsigned long long rec = (unsigned long long)dr->r.record - 1;
    if (!ekn_is_input_record(in))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an 'image' or 'vector' record, found '%s'",
                           src, rec, in->name);
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
    got = ekn_stream_read(&dr->r, lab, err);
    if (got < 0) return -1;
    int is_lab = got == 1 && !strcmp(lab->name, "label"), is_tgt = got == 1 && !strcmp(lab->name, "target");
    if (!is_lab && !is_tgt)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record is not followed by its 'label' or 'target' record",
                           src, rec, in->name);
    if (lab->rank < 1 || lab->shape[0] != n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s count does not match the %zu examples of record %llu",
                           src, rec + 1, lab->name, n, rec);
    if (!d->ex_size) first_pair(d, in, lab, c, ndim, shape, n);
    else if (ekn_tensor_numel(lab) / n != d->lab_size || is_lab != d->has_labels)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s record differs in kind or shape from the first", src,
                           rec + 1, lab->name);
    char ep[32];
    dr->epoch = ekn_tensor_meta_get(in, "epoch", ep, sizeof ep) ? atoll(ep) : -1;
    if (append_pair(dr, d, in, lab, rec, err)) return -1;
    /* masks and lazy-label records describe the pair before them */
    while ((got = ekn_stream_read(&dr->r, &dr->pending, err)) == 1) {
        unsigned long long r2 = (unsigned long long)dr->r.record - 1;
        if (!strcmp(dr->pending.name, "mask")) {
            if (apply_mask(d, &dr->pending, n, r2, err)) return -1;
            continue;
        }
        if (strcmp(dr->pending.name, "labelled") && strcmp(dr->pending.name, "absent")) {
            dr->has_pending = 1;
            break;
        }
        if (add_lazy(d, &dr->pending, n, r2, err)) return -1;
    }
    if (got < 0) return -1;
    if (d->lazy_c && (d->lazy_count[0] != d->n || d->lazy_count[1] != d->n))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: lazy labels need both 'labelled' and 'absent' records after every pair",
                           src, rec + 1);
    return 1;
}

int ekn_dataset_reader_open(ekn_dataset_reader *dr, ekn_dataset *d, const char *path, ekn_err *err)
{
    memset(dr, 0, sizeof *dr);
    memset(d, 0, sizeof *d);
    dr->in = dr->lab = dr->pending = (ekn_tensor)EKN_TENSOR_INIT;
    dr->max_label = -1;
    dr->epoch = -1;
    if (ekn_reader_open(&dr->r, path, err)) return -1;
    snprintf(d->source, sizeof d->source, "%s", ekn_reader_name(&dr->r));
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
}

void ekn_dataset_reader_close(ekn_dataset_reader *dr)
{
    ekn_reader_close(&dr->r);
    ekn_tensor_free(&dr->in);
    ekn_tensor_free(&dr->lab);
    ekn_tensor_free(&dr->pending);
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
    memset(d, 0, sizeof *d);
}
