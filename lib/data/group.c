/* group: record names, groups of records and their metadata (see group.h). */
#include "group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

static const struct {
    const char *name;
    ekn_rec_kind kind;
} kinds[] = {
    {EKN_REC_IMAGE, EKN_KIND_IMAGE},       {EKN_REC_VECTOR, EKN_KIND_VECTOR}, {EKN_REC_LABEL, EKN_KIND_LABEL},
    {EKN_REC_TARGET, EKN_KIND_TARGET},     {EKN_REC_MASK, EKN_KIND_MASK},     {EKN_REC_LABELLED, EKN_KIND_LABELLED},
    {EKN_REC_ABSENT, EKN_KIND_ABSENT},     {EKN_REC_PROB, EKN_KIND_PROB},     {EKN_REC_CLASS, EKN_KIND_CLASS},
    {EKN_REC_OUTPUT, EKN_KIND_OUTPUT},     {EKN_REC_WEIGHT, EKN_KIND_WEIGHT},
};

ekn_rec_kind ekn_rec_kind_of(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(name, kinds[i].name)) return kinds[i].kind;
    return EKN_KIND_OTHER;
}

int ekn_rec_is_input(const ekn_tensor *t)
{
    ekn_rec_kind k = ekn_rec_kind_of(t->name);
    return k == EKN_KIND_IMAGE || k == EKN_KIND_VECTOR;
}

int ekn_rec_is_labels(const ekn_tensor *t)
{
    ekn_rec_kind k = ekn_rec_kind_of(t->name);
    return k == EKN_KIND_LABEL || k == EKN_KIND_TARGET;
}

/* ---- geometry metadata -------------------------------------------------- */

int ekn_input_geometry(const ekn_tensor *t, int *c, int *ndim, int shape[3])
{
    shape[0] = shape[1] = shape[2] = 1;
    if (ekn_rec_kind_of(t->name) == EKN_KIND_VECTOR) {
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

int ekn_meta_zyx(const ekn_tensor *t, const char *key, long min, long v[3], ekn_err *err)
{
    char buf[256];
    if (!ekn_tensor_meta_get(t, key, buf, sizeof buf)) return 0;
    long a[3];
    ekn_err perr = {0};
    int k = ekn_parse_int_list(buf, a, 3, min, key, &perr);
    if (k < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "bad metadata %s=%s", key, buf);
    for (int i = 0; i < k; i++) v[3 - k + i] = a[i];
    return k;
}

long long ekn_meta_int(const ekn_tensor *t, const char *key, long long dflt)
{
    char buf[32];
    return ekn_tensor_meta_get(t, key, buf, sizeof buf) ? atoll(buf) : dflt;
}

int ekn_meta_int_checked(const ekn_tensor *t, const char *key, long long min, long long max, long long *v,
                         ekn_err *err)
{
    char buf[64];
    if (!ekn_tensor_meta_get(t, key, buf, sizeof buf)) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (end == buf || *end || errno || x < min || x > max)
        return ekn_err_set(err, EKN_EXIT_FAIL, "bad metadata %s=%s (an integer from %lld to %lld)", key, buf, min, max);
    *v = x;
    return 1;
}

/* ---- groups ------------------------------------------------------------- */

int ekn_group_reader_open(ekn_group_reader *gr, const char *path, ekn_err *err)
{
    memset(gr, 0, sizeof *gr);
    gr->look = (ekn_tensor)EKN_TENSOR_INIT;
    return ekn_reader_open(&gr->r, path, err);
}

const char *ekn_group_source(const ekn_group_reader *gr) { return ekn_reader_name(&gr->r); }

static void swap(ekn_tensor *a, ekn_tensor *b)
{
    ekn_tensor t = *a;
    *a = *b;
    *b = t;
}

/* classes= on a label record, if there, is an integer 0..INT32_MAX: read
 * into an int it must not wrap (4294967298 would become 2). */
static int check_classes(const ekn_tensor *t, const char *src, unsigned long long rec, ekn_err *err)
{
    long long v;
    if (ekn_meta_int_checked(t, "classes", 0, INT32_MAX, &v, err) < 0)
        return ekn_err_prefix(err, "'%s': record %llu", src, rec);
    return 0;
}

/* Files the record just taken in as rec[i] under its kind. */
static int classify(const ekn_group_reader *gr, ekn_group *g, int i, ekn_err *err)
{
    const char *src = ekn_group_source(gr), *name = g->rec[i].name;
    unsigned long long rec = (unsigned long long)(g->first + (uint64_t)i);
    int *slot = NULL;
    switch (ekn_rec_kind_of(name)) {
    case EKN_KIND_LABEL:
        if (check_classes(&g->rec[i], src, rec, err)) return -1;
        /* fall through */
    case EKN_KIND_TARGET:
        if (g->lab >= 0)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a second 'label' or 'target' record for the '%s' record %llu",
                               src, rec, g->rec[0].name, (unsigned long long)g->first);
        if (i != 1)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: the '%s' record must come right after its '%s' record %llu",
                               src, rec, name, g->rec[0].name, (unsigned long long)g->first);
        slot = &g->lab;
        break;
    case EKN_KIND_MASK: slot = &g->mask; break;
    case EKN_KIND_LABELLED: slot = &g->labelled; break;
    case EKN_KIND_ABSENT: slot = &g->absent; break;
    case EKN_KIND_WEIGHT: slot = &g->weight; break;
    default: return 0;
    }
    if (slot != &g->lab && *slot >= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: a second '%s' record for the '%s' record %llu", src, rec,
                           name, g->rec[0].name, (unsigned long long)g->first);
    *slot = i;
    return 0;
}

int ekn_group_read(ekn_group_reader *gr, ekn_group *g, ekn_err *err)
{
    g->n = 0;
    g->lab = g->mask = g->labelled = g->absent = g->weight = -1;
    if (gr->ahead < 0) return 0;
    if (!gr->ahead) {
        int got = ekn_stream_read(&gr->r, &gr->look, err);
        if (got <= 0) {
            gr->ahead = -1;
            return got;
        }
    }
    const char *src = ekn_group_source(gr);
    g->first = gr->r.record - 1;
    if (!ekn_rec_is_input(&gr->look))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an '%s' or '%s' record, found '%s'", src,
                           (unsigned long long)g->first, EKN_REC_IMAGE, EKN_REC_VECTOR, gr->look.name);
    swap(&gr->look, &g->rec[g->n++]);
    int got;
    while ((got = ekn_stream_read(&gr->r, &gr->look, err)) == 1 && !ekn_rec_is_input(&gr->look)) {
        if (g->n == EKN_GROUP_MAX)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: more than %d records in the group of record %llu",
                               src, (unsigned long long)(gr->r.record - 1), EKN_GROUP_MAX, (unsigned long long)g->first);
        swap(&gr->look, &g->rec[g->n]);
        if (classify(gr, g, g->n++, err)) return -1;
    }
    if (got < 0) return -1;
    gr->ahead = got ? 1 : -1;
    return 1;
}

int ekn_group_check(const ekn_group_reader *gr, const ekn_group *g, int need, ekn_err *err)
{
    const char *src = ekn_group_source(gr);
    if ((need & EKN_GROUP_NEED_LABELS) && g->lab < 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: '%s' record is not followed by its '%s' or '%s' record",
                           src, (unsigned long long)g->first, g->rec[0].name, EKN_REC_LABEL, EKN_REC_TARGET);
    for (int i = 1; i < g->n; i++) {
        int other = i != g->lab && i != g->mask && i != g->labelled && i != g->absent && i != g->weight;
        /* a bare group may carry its weights: they only weigh training's loss */
        if ((need & EKN_GROUP_BARE && i != g->lab && i != g->weight) || (need & EKN_GROUP_NO_OTHER && other))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu: expected an '%s' or '%s' record, found '%s'", src,
                               (unsigned long long)(g->first + (uint64_t)i), EKN_REC_IMAGE, EKN_REC_VECTOR,
                               g->rec[i].name);
    }
    return 0;
}

int ekn_group_write(ekn_writer *w, const ekn_group *g, ekn_err *err)
{
    for (int i = 0; i < g->n; i++)
        if (ekn_stream_write(w, &g->rec[i], err)) return -1;
    return 0;
}

void ekn_group_reader_close(ekn_group_reader *gr)
{
    ekn_reader_close(&gr->r);
    ekn_tensor_free(&gr->look);
    memset(gr, 0, sizeof *gr);
}

void ekn_group_free(ekn_group *g)
{
    for (int i = 0; i < EKN_GROUP_MAX; i++) ekn_tensor_free(&g->rec[i]);
    memset(g, 0, sizeof *g);
}
