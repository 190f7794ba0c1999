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
    /* sized to the examples' capacity so later growth keeps them aligned */
    uint8_t *p = realloc(*dst, d->cap * (size_t)c);
    if (!p) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", src);
    *dst = p;
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

static int load(ekn_dataset *d, ekn_reader *r, ekn_err *err)
{
    ekn_tensor in = EKN_TENSOR_INIT, lab = EKN_TENSOR_INIT;
    int rc = 0, got;
    const char *src = d->source;
    int max_label = -1;
    size_t last_n = 0; /* examples of the last pair, which lazy-label records describe */
    while ((got = ekn_stream_read(r, &in, err)) == 1) {
        unsigned long long rec = (unsigned long long)r->record - 1;
        if (!strcmp(in.name, "mask")) continue;
        if (!strcmp(in.name, "labelled") || !strcmp(in.name, "absent")) {
            if (add_lazy(d, &in, last_n, rec, err)) { rc = -1; break; }
            continue;
        }
        if (!ekn_is_input_record(&in)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an 'image' or 'vector' record, found '%s'",
                             src, rec, in.name);
            break;
        }
        int c, ndim, shape[3];
        char s[256];
        ekn_shape_str(in.rank, in.shape, s, sizeof s);
        if (ekn_input_geometry(&in, &c, &ndim, shape) || in.shape[0] == 0) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of shape %s is not (N,C,[Z,]Y,X) or (N,F)",
                             src, rec, in.name, s);
            break;
        }
        size_t n = (size_t)in.shape[0];
        if (!d->ex_size) {
            d->c = c;
            d->ndim = ndim;
            memcpy(d->shape, shape, sizeof d->shape);
            d->ex_size = ekn_tensor_numel(&in) / n;
        } else if (c != d->c || memcmp(shape, d->shape, sizeof shape) || ndim != d->ndim) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: shape %s does not match the first record's examples",
                             src, rec, s);
            break;
        }
        got = ekn_stream_read(r, &lab, err);
        if (got < 0) { rc = -1; break; }
        int is_lab = got == 1 && !strcmp(lab.name, "label"), is_tgt = got == 1 && !strcmp(lab.name, "target");
        if (!is_lab && !is_tgt) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record is not followed by its 'label' or 'target' record",
                             src, rec, in.name);
            break;
        }
        if (lab.rank < 1 || lab.shape[0] != n) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s count does not match the %zu examples of record %llu",
                             src, rec + 1, lab.name, n, rec);
            break;
        }
        size_t lab_size = ekn_tensor_numel(&lab) / n;
        if (!d->lab_size) {
            d->has_labels = is_lab;
            d->has_targets = is_tgt;
            d->lab_size = lab_size;
            d->lab_ndim = lab.rank - 1;
            d->lab_shape[0] = d->lab_shape[1] = d->lab_shape[2] = 1;
            for (int i = 1; i < lab.rank && i <= 3; i++) d->lab_shape[3 - d->lab_ndim + i - 1] = (int)lab.shape[i];
            char cls[32];
            if (is_lab && ekn_tensor_meta_get(&lab, "classes", cls, sizeof cls)) d->classes = atoi(cls);
        } else if (lab_size != d->lab_size || is_lab != d->has_labels) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: %s record differs in kind or shape from the first",
                             src, rec + 1, lab.name);
            break;
        }
        if (grow(d, d->n + n, err)) { rc = -1; break; }
        float *xs = d->x + d->n * d->ex_size;
        ekn_convert_to_f32(in.dtype, in.data, xs, n * d->ex_size);
        /* one NaN input would turn every weight it reaches into NaN */
        size_t bad_at = SIZE_MAX;
        for (size_t k = 0; k < n * d->ex_size && bad_at == SIZE_MAX; k++)
            if (!isfinite(xs[k])) bad_at = k;
        if (bad_at != SIZE_MAX) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: example %zu has a non-finite value (%g)", src, rec,
                             bad_at / d->ex_size, xs[bad_at]);
            break;
        }
        size_t m = n * lab_size;
        if (is_lab) {
            int32_t *y = d->y + d->n * lab_size;
            for (size_t k = 0; k < m; k++) {
                double v = ekn_tensor_get(&lab, k);
                if (!(v == floor(v)) || v > INT32_MAX || v < INT32_MIN) {
                    rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: label %g is not an integer class", src,
                                     rec + 1, v);
                    break;
                }
                y[k] = v < 0 ? -1 : (int32_t)v;
                if (y[k] > max_label) max_label = y[k];
            }
            if (rc) break;
        } else {
            ekn_convert_to_f32(lab.dtype, lab.data, d->t + d->n * lab_size, m);
        }
        d->n += n;
        last_n = n;
    }
    if (got < 0) rc = -1;
    if (!rc && d->lazy_c && (d->lazy_count[0] != d->n || d->lazy_count[1] != d->n))
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': lazy labels need both 'labelled' and 'absent' records for every pair", src);
    if (!rc && d->n == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples in the stream", src);
    if (!rc && d->has_labels && d->classes <= max_label) {
        if (d->classes) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': label %d is not below classes=%d", src, max_label, d->classes);
        else d->classes = max_label + 1;
    }
    ekn_tensor_free(&in);
    ekn_tensor_free(&lab);
    return rc;
}

int ekn_dataset_load(ekn_dataset *d, const char *path, ekn_err *err)
{
    memset(d, 0, sizeof *d);
    ekn_reader r;
    if (ekn_reader_open(&r, path, err)) return -1;
    snprintf(d->source, sizeof d->source, "%s", ekn_reader_name(&r));
    int rc = load(d, &r, err);
    ekn_reader_close(&r);
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
