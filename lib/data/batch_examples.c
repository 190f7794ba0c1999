/* Whole-example batches (img-scalar, vect-scalar, whole images): from a
 * file held in memory, reshuffled every epoch, or from a pipe read once
 * through a bounded shuffle buffer. */
#include <stdlib.h>
#include <string.h>

#include "batch.h"

int ekn_batch_examples_memory(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err)
{
    ekn_dataset d;
    if (ekn_dataset_load(&d, o->inputs[0].path, err)) return -1;
    ekn_dataset b;
    ekn_dataset_layout(&b, &d);
    uint32_t *perm = malloc(d.n * sizeof *perm);
    int rc = perm ? ekn_dataset_reserve(&b, (size_t)o->batch, err) : ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (!rc && o->drop_last && d.n < (size_t)o->batch)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %zu examples make no full batch of %ld (--drop-last)", d.source,
                         d.n, o->batch);
    ekn_rng rng;
    ekn_rng_seed(&rng, o->seed, 0x73687566); /* "shuf" */
    ekn_batch_out out = {w, 0, o->shard, o->nshards};
    for (size_t i = 0; !rc && i < d.n; i++) perm[i] = (uint32_t)i;
    for (uint64_t epoch = 0; !rc && (!o->epochs || epoch < o->epochs); epoch++) {
        if (!o->no_shuffle) ekn_rng_shuffle(&rng, perm, d.n);
        for (size_t i = 0; !rc && i < d.n; i += (size_t)o->batch) {
            size_t n = d.n - i < (size_t)o->batch ? d.n - i : (size_t)o->batch;
            if (n < (size_t)o->batch && o->drop_last) break;
            for (size_t k = 0; k < n; k++) ekn_dataset_copy_example(&b, k, &d, perm[i + k]);
            rc = ekn_batch_write(&out, &b, n, epoch, err);
        }
    }
    free(perm);
    ekn_dataset_free(&b);
    ekn_dataset_free(&d);
    return rc;
}

/* ---- one pass through a shuffle buffer ------------------------------------- */

typedef struct shuffler {
    const ekn_batch_opts *o;
    ekn_batch_out out;
    ekn_dataset slots;    /* the K examples held */
    ekn_dataset b;        /* the batch being assembled */
    ekn_rng rng;
    size_t K, count;
    size_t fill;          /* examples in the batch being assembled */
    uint64_t seen;
} shuffler;

static int emit(shuffler *s, size_t j, ekn_err *err)
{
    ekn_dataset_copy_example(&s->b, s->fill++, &s->slots, j);
    if (s->fill < (size_t)s->o->batch) return 0;
    s->fill = 0;
    return ekn_batch_write(&s->out, &s->b, (size_t)s->o->batch, 0, err);
}

/* The buffers take the first group's layout; the reader holds later groups to it. */
static int alloc_slots(shuffler *s, const ekn_dataset *grp, ekn_err *err)
{
    ekn_dataset_layout(&s->slots, grp);
    ekn_dataset_layout(&s->b, grp);
    if (ekn_dataset_reserve(&s->slots, s->K, err))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a shuffle buffer of %zu examples", s->K);
    return ekn_dataset_reserve(&s->b, (size_t)s->o->batch, err);
}

/* Pushes every example of the group through the buffer. */
static int push_group(shuffler *s, const ekn_dataset *grp, unsigned long long rec, ekn_err *err)
{
    if (!s->slots.cap && alloc_slots(s, grp, err)) return -1;
    if (grp->lazy_c != s->slots.lazy_c)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s'/'%s' records do not match the first pair's",
                           grp->source, rec, EKN_REC_LABELLED, EKN_REC_ABSENT);
    if (grp->has_weights != s->slots.has_weights || (grp->has_weights && grp->w_size != s->slots.w_size))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' records do not match the first pair's",
                           grp->source, rec, EKN_REC_WEIGHT);
    for (size_t k = 0; k < grp->n; k++) {
        size_t j = s->count;
        if (s->count == s->K) {
            j = (size_t)ekn_rng_below(&s->rng, s->K);
            if (emit(s, j, err)) return -1;
        } else {
            s->count++;
        }
        ekn_dataset_copy_example(&s->slots, j, grp, k);
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
        if (j != s->count) ekn_dataset_copy_example(&s->slots, j, &s->slots, s->count);
    }
    if (s->fill && !s->o->drop_last) return ekn_batch_write(&s->out, &s->b, s->fill, 0, err);
    return 0;
}

int ekn_batch_examples_stream(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err)
{
    shuffler s = {.o = o, .out = {w, 0, o->shard, o->nshards}, .K = o->no_shuffle ? 1 : (size_t)o->shuffle_buffer};
    ekn_rng_seed(&s.rng, o->seed, 0x73687566);
    ekn_dataset_reader dr;
    ekn_dataset grp;
    if (ekn_dataset_reader_open(&dr, &grp, o->inputs[0].path, err)) return -1;
    int rc = 0, got;
    /* one group at a time: the buffers hold the examples, grp only the group just read */
    while ((got = ekn_dataset_read_group(&dr, &grp, err)) == 1) {
        if ((rc = push_group(&s, &grp, (unsigned long long)dr.g.first, err))) break;
        ekn_dataset_clear(&grp);
    }
    if (got < 0) rc = -1;
    if (!rc && !s.seen) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples in the stream", grp.source);
    if (!rc) rc = drain(&s, err);
    ekn_dataset_reader_close(&dr);
    ekn_dataset_free(&grp);
    ekn_dataset_free(&s.slots);
    ekn_dataset_free(&s.b);
    return rc;
}
