/* Whole-example batches (img-scalar, vect-scalar, whole images): from a
 * file held in memory, reshuffled every epoch, or from a pipe read once
 * through a bounded shuffle buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

/* Copies one example into slot i of the batch (lab: int32 or float, 4 bytes each). */
static void put(ekn_batch_buf *b, int i, const float *x, const void *lab, const uint8_t *lz, const uint8_t *ab)
{
    memcpy(b->x + (size_t)i * b->x_size, x, b->x_size * sizeof *b->x);
    if (b->lab_kind == 1) memcpy(b->y + (size_t)i * b->lab_size, lab, b->lab_size * sizeof *b->y);
    if (b->lab_kind == 2) memcpy(b->t + (size_t)i * b->lab_size, lab, b->lab_size * sizeof *b->t);
    if (b->lazy_c) {
        memcpy(b->labelled + (size_t)i * b->lazy_c, lz, (size_t)b->lazy_c);
        memcpy(b->absent + (size_t)i * b->lazy_c, ab, (size_t)b->lazy_c);
    }
}

static void layout_from_dataset(ekn_batch_buf *b, const ekn_dataset *d, long batch)
{
    memset(b, 0, sizeof *b);
    b->cap = (int)batch;
    b->c = d->c;
    b->ndim = d->ndim;
    memcpy(b->shape, d->shape, sizeof b->shape);
    b->is_vector = d->ndim == 1 && d->c == 1;
    b->x_size = d->ex_size;
    b->lab_kind = d->has_labels ? 1 : d->has_targets ? 2 : 0;
    b->lab_ndim = d->lab_ndim;
    memcpy(b->lab_shape, d->lab_shape, sizeof b->lab_shape);
    b->lab_size = d->lab_size;
    b->classes = d->has_labels ? d->classes : 0;
    b->lazy_c = d->lazy_c;
}

int ekn_batch_examples_memory(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err)
{
    ekn_dataset d;
    if (ekn_dataset_load(&d, o->inputs[0].path, err)) return -1;
    ekn_batch_buf b;
    layout_from_dataset(&b, &d, o->batch);
    uint32_t *perm = malloc(d.n * sizeof *perm);
    int rc = perm ? ekn_batch_buf_alloc(&b, err) : ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (!rc && o->drop_last && d.n < (size_t)o->batch)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %zu examples make no full batch of %ld (--drop-last)", d.source,
                         d.n, o->batch);
    ekn_rng rng;
    ekn_rng_seed(&rng, o->seed, 0x73687566); /* "shuf" */
    for (size_t i = 0; !rc && i < d.n; i++) perm[i] = (uint32_t)i;
    for (uint64_t epoch = 0; !rc && (!o->epochs || epoch < o->epochs); epoch++) {
        if (!o->no_shuffle) ekn_rng_shuffle(&rng, perm, d.n);
        for (size_t i = 0; !rc && i < d.n; i += (size_t)o->batch) {
            int n = (int)(d.n - i < (size_t)o->batch ? d.n - i : (size_t)o->batch);
            if (n < o->batch && o->drop_last) break;
            for (int k = 0; k < n; k++) {
                size_t e = perm[i + (size_t)k];
                const void *lab = d.has_labels ? (const void *)(d.y + e * d.lab_size) : (const void *)(d.t + e * d.lab_size);
                put(&b, k, d.x + e * d.ex_size, lab, d.labelled ? d.labelled + e * d.lazy_c : NULL,
                    d.absent ? d.absent + e * d.lazy_c : NULL);
            }
            rc = ekn_batch_buf_write(&b, w, n, epoch, err);
        }
    }
    free(perm);
    ekn_batch_buf_free(&b);
    ekn_dataset_free(&d);
    return rc;
}

/* ---- one pass through a shuffle buffer ------------------------------------- */

typedef struct shuffler {
    const ekn_batch_opts *o;
    ekn_writer *w;
    ekn_batch_buf b;
    ekn_rng rng;
    size_t slot_bytes, x_bytes, lab_bytes;
    unsigned char *slots; /* K examples: x (f32) | labels (4 bytes each) | labelled | absent */
    size_t K, count;
    int fill;             /* examples in the batch being assembled */
    uint64_t seen;
} shuffler;

static int emit(shuffler *s, size_t j, ekn_err *err)
{
    const unsigned char *p = s->slots + j * s->slot_bytes;
    const unsigned char *lz = p + s->x_bytes + s->lab_bytes;
    put(&s->b, s->fill++, (const float *)p, p + s->x_bytes, lz, lz + s->b.lazy_c);
    if (s->fill < s->b.cap) return 0;
    s->fill = 0;
    return ekn_batch_buf_write(&s->b, s->w, s->b.cap, 0, err);
}

/* Sets the layout from the first pair; later pairs must match it. */
static int layout_from_pair(shuffler *s, const ekn_tensor *in, const ekn_tensor *lab, const char *src,
                            unsigned long long rec, ekn_err *err)
{
    ekn_batch_buf *b = &s->b;
    int c, ndim, shape[3];
    char str[256];
    ekn_shape_str(in->rank, in->shape, str, sizeof str);
    if (ekn_input_geometry(in, &c, &ndim, shape) || in->shape[0] == 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record of shape %s is not (N,C,[Z,]Y,X) or (N,F)",
                           src, rec, in->name, str);
    size_t n = (size_t)in->shape[0], x_size = ekn_tensor_numel(in) / n, lab_size = ekn_tensor_numel(lab) / n;
    int kind = !strcmp(lab->name, "label") ? 1 : 2;
    if (s->slots) {
        if (x_size != b->x_size || c != b->c || ndim != b->ndim || memcmp(shape, b->shape, sizeof shape) ||
            kind != b->lab_kind || lab_size != b->lab_size)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: shape %s or its labels differ from the first record's",
                               src, rec, str);
        return 0;
    }
    b->cap = (int)s->o->batch;
    b->c = c, b->ndim = ndim;
    memcpy(b->shape, shape, sizeof shape);
    b->is_vector = !strcmp(in->name, "vector");
    b->x_size = x_size;
    b->lab_kind = kind;
    b->lab_ndim = lab->rank - 1 > 3 ? 3 : lab->rank - 1;
    b->lab_shape[0] = b->lab_shape[1] = b->lab_shape[2] = 1;
    for (int i = 0; i < b->lab_ndim; i++) b->lab_shape[3 - b->lab_ndim + i] = (int)lab->shape[1 + i];
    b->lab_size = lab_size;
    char cls[32];
    if (kind == 1 && ekn_tensor_meta_get(lab, "classes", cls, sizeof cls)) b->classes = atoi(cls);
    s->x_bytes = x_size * sizeof(float);
    s->lab_bytes = lab_size * 4;
    return 0;
}

/* The lazy-label width is known only after the first pair's followers, so
 * the slots are allocated then. */
static int alloc_slots(shuffler *s, int lazy_c, ekn_err *err)
{
    s->b.lazy_c = lazy_c;
    s->slot_bytes = s->x_bytes + s->lab_bytes + 2 * (size_t)lazy_c;
    s->slot_bytes = (s->slot_bytes + 3) & ~(size_t)3; /* keeps each slot's floats aligned */
    s->slots = malloc(s->K * s->slot_bytes);
    if (!s->slots)
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a shuffle buffer of %zu examples", s->K);
    return ekn_batch_buf_alloc(&s->b, err);
}

/* Converts example k of the pending pair into a slot. */
static int fill_slot(shuffler *s, unsigned char *p, const ekn_tensor *in, const ekn_tensor *lab, const ekn_tensor *lz,
                     const ekn_tensor *ab, size_t k, const char *src, unsigned long long rec, ekn_err *err)
{
    float *x = (float *)p;
    size_t xs = s->b.x_size, ls = s->b.lab_size;
    size_t esz = ekn_dtype_size(in->dtype);
    ekn_convert_to_f32(in->dtype, (const unsigned char *)in->data + k * xs * esz, x, xs);
    for (size_t i = 0; i < xs; i++)
        if (!isfinite(x[i]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: example %zu has a non-finite value (%g)", src, rec,
                               k, x[i]);
    unsigned char *l = p + s->x_bytes;
    for (size_t i = 0; i < ls; i++) {
        double v = ekn_tensor_get(lab, k * ls + i);
        if (s->b.lab_kind == 2) {
            float f = (float)v;
            memcpy(l + 4 * i, &f, 4);
            continue;
        }
        if (!(v == floor(v)) || v > INT32_MAX || v < INT32_MIN)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: label %g is not an integer class", src, rec + 1, v);
        int32_t y = v < 0 ? -1 : (int32_t)v;
        memcpy(l + 4 * i, &y, 4);
    }
    unsigned char *m = l + s->lab_bytes;
    for (int i = 0; i < s->b.lazy_c; i++) {
        m[i] = (uint8_t)(ekn_tensor_get(lz, k * (size_t)s->b.lazy_c + (size_t)i) != 0);
        m[s->b.lazy_c + i] = (uint8_t)(ekn_tensor_get(ab, k * (size_t)s->b.lazy_c + (size_t)i) != 0);
    }
    return 0;
}

/* Pushes every example of the pending pair through the buffer. */
static int push_pair(shuffler *s, const ekn_tensor *in, const ekn_tensor *lab, const ekn_tensor *lz,
                     const ekn_tensor *ab, const char *src, unsigned long long rec, ekn_err *err)
{
    int lazy_c = lz->rank == 2 && ab->rank == 2 ? (int)lz->shape[1] : 0;
    if (!s->slots && alloc_slots(s, lazy_c, err)) return -1;
    if (lazy_c != s->b.lazy_c || (lazy_c && (lz->shape[0] != in->shape[0] || ab->shape[0] != in->shape[0] ||
                                             ab->shape[1] != lz->shape[1])))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: 'labelled'/'absent' records do not match the pair",
                           src, rec);
    for (size_t k = 0; k < in->shape[0]; k++) {
        size_t j = s->count;
        if (s->count == s->K) {
            j = (size_t)ekn_rng_below(&s->rng, s->K);
            if (emit(s, j, err)) return -1;
        } else {
            s->count++;
        }
        if (fill_slot(s, s->slots + j * s->slot_bytes, in, lab, lz, ab, k, src, rec, err)) return -1;
        s->seen++;
    }
    return 0;
}

static int drain(shuffler *s, ekn_err *err)
{
    while (s->count) {
        size_t j = (size_t)ekn_rng_below(&s->rng, s->count);
        if (emit(s, j, err)) return -1;
        s->count--;
        if (j != s->count) memcpy(s->slots + j * s->slot_bytes, s->slots + s->count * s->slot_bytes, s->slot_bytes);
    }
    if (s->fill && !s->o->drop_last) return ekn_batch_buf_write(&s->b, s->w, s->fill, 0, err);
    return 0;
}

int ekn_batch_examples_stream(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err)
{
    shuffler s = {.o = o, .w = w, .K = o->no_shuffle ? 1 : (size_t)o->shuffle_buffer};
    ekn_rng_seed(&s.rng, o->seed, 0x73687566);
    ekn_reader r;
    if (ekn_reader_open(&r, o->inputs[0].path, err)) return -1;
    const char *src = ekn_reader_name(&r);
    /* a pair is pushed once the record after it shows whether lazy labels follow */
    ekn_tensor in = EKN_TENSOR_INIT, lab = EKN_TENSOR_INIT, lz = EKN_TENSOR_INIT, ab = EKN_TENSOR_INIT,
               next = EKN_TENSOR_INIT;
    int rc = 0, got, pending = 0;
    unsigned long long pair_rec = 0;
    while (!rc && (got = ekn_stream_read(&r, &next, err)) >= 0) {
        unsigned long long rec = (unsigned long long)r.record - 1;
        if (got == 1 && !strcmp(next.name, "mask")) continue;
        if (got == 1 && (!strcmp(next.name, "labelled") || !strcmp(next.name, "absent"))) {
            if (!pending)
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a '%s' record must follow a pair", src, rec,
                                 next.name);
            else rc = ekn_tensor_copy(!strcmp(next.name, "labelled") ? &lz : &ab, &next, err);
            continue;
        }
        if (pending && (rc = push_pair(&s, &in, &lab, &lz, &ab, src, pair_rec, err))) break;
        pending = 0;
        lz.rank = ab.rank = 0;
        if (got == 0) break;
        if (!ekn_is_input_record(&next)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an 'image' or 'vector' record, found '%s'",
                             src, rec, next.name);
            break;
        }
        if ((rc = ekn_tensor_copy(&in, &next, err))) break;
        pair_rec = rec;
        got = ekn_stream_read(&r, &lab, err);
        if (got < 0) { rc = -1; break; }
        if (got == 0 || (strcmp(lab.name, "label") && strcmp(lab.name, "target")) || lab.rank < 1 ||
            lab.shape[0] != in.shape[0]) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record is not followed by its 'label' or 'target' record",
                             src, rec, in.name);
            break;
        }
        if ((rc = layout_from_pair(&s, &in, &lab, src, rec, err))) break;
        pending = 1;
    }
    if (got < 0) rc = -1;
    if (!rc && !s.seen) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples in the stream", src);
    if (!rc) rc = drain(&s, err);
    ekn_reader_close(&r);
    ekn_tensor_free(&in), ekn_tensor_free(&lab), ekn_tensor_free(&lz), ekn_tensor_free(&ab), ekn_tensor_free(&next);
    free(s.slots);
    ekn_batch_buf_free(&s.b);
    return rc;
}
