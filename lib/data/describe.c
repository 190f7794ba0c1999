/* describe: ekn-info's record lines, metadata lines and summary. */
#include "describe.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

typedef struct ekn_describe_group { /* totals of the records that share a name */
    char name[EKN_NAME_MAX + 1];
    uint64_t records, examples;
    ekn_dtype dtype;
    int mixed_dtype, rank, varies;
    uint64_t inner[EKN_MAX_RANK]; /* shape without the first axis */
    ekn_stats st;
} group;

static uint64_t examples_of(const ekn_tensor *t) { return t->rank ? t->shape[0] : 1; }

static group *find_group(ekn_describe *d, const char *name)
{
    for (size_t i = 0; i < d->ngroups; i++)
        if (!strcmp(d->groups[i].name, name)) return &d->groups[i];
    group *g = realloc(d->groups, (d->ngroups + 1) * sizeof *g);
    if (!g) return NULL;
    d->groups = g;
    g = &d->groups[d->ngroups++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    ekn_stats_init(&g->st);
    return g;
}

static int add_to_group(ekn_describe *d, const ekn_tensor *t, const ekn_stats *st, ekn_err *err)
{
    group *g = find_group(d, t->name);
    if (!g) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (!g->records) {
        g->dtype = t->dtype;
        g->rank = t->rank;
        for (int i = 1; i < t->rank; i++) g->inner[i] = t->shape[i];
    } else {
        if (t->dtype != g->dtype) g->mixed_dtype = 1;
        if (t->rank != g->rank) g->varies = 1;
        for (int i = 1; i < t->rank && !g->varies; i++)
            if (t->shape[i] != g->inner[i]) g->varies = 1;
    }
    g->records++;
    g->examples += examples_of(t);
    ekn_stats_merge(&g->st, st);
    return 0;
}

/* min, max, mean, std ("-" in text and empty in tsv when there are no numbers) */
static void print_stats(int tsv, const ekn_stats *s)
{
    const char *sep = tsv ? "\t" : " ";
    if (!s->n) printf(tsv ? "\t\t\t" : " min - max - mean - std -");
    else if (tsv) printf("\t%.8g\t%.8g\t%.8g\t%.8g", s->min, s->max, s->mean, ekn_stats_std(s));
    else printf(" min %.6g max %.6g mean %.6g std %.6g", s->min, s->max, s->mean, ekn_stats_std(s));
    if (tsv) printf("\t%" PRIu64, s->nan);
    else if (s->nan) printf("%snan %" PRIu64, sep, s->nan);
}

/* The classes of one label record: "0:12 1:30" (tsv: "0:12,1:30"); then the range is cleared. */
static void print_record_hist(ekn_describe *d, const ekn_stats *s)
{
    int tsv = d->tsv;
    ekn_hist *rec_hist = &d->rec_hist;
    long lo = -1, hi = -2;
    if (s->n) {
        lo = s->min < -1 ? -1 : (long)fmax(-1, floor(s->min));
        hi = s->max > EKN_HIST_MAX ? EKN_HIST_MAX : (long)floor(s->max);
    }
    printf(tsv ? "\t" : " classes");
    int first = 1;
    for (long v = lo; v <= hi; v++) {
        uint64_t c = ekn_hist_get(rec_hist, v);
        if (!c) continue;
        printf("%s%ld:%" PRIu64, tsv ? (first ? "" : ",") : " ", v, c);
        first = 0;
    }
    if (rec_hist->other) printf("%sother:%" PRIu64, tsv ? (first ? "" : ",") : " ", rec_hist->other);
    if (lo <= hi) memset(rec_hist->count + lo + 1, 0, (size_t)(hi - lo + 1) * sizeof *rec_hist->count);
    rec_hist->other = rec_hist->total = 0;
}

/* names, metadata and file names as text from outside: escaped (ekn_escape) */
#define ESC(s, n, buf) ekn_escape((s), (n), (buf), sizeof(buf))
#define PUT_ESC(s, n) ekn_fputs_escaped((s), (n), stdout)

static void print_prefix(int tsv, const char *file, uint64_t index, const char *name)
{
    if (file) {
        PUT_ESC(file, strlen(file));
        fputs(tsv ? "\t" : ":", stdout);
    }
    printf(tsv ? "%" PRIu64 "\t" : "%" PRIu64 " ", index);
    if (*name || tsv) PUT_ESC(name, strlen(name));
    else fputs("-", stdout);
}

static void print_meta(int tsv, const char *file, uint64_t index, const ekn_tensor *t)
{
    for (const char *p = t->meta; p && *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        print_prefix(tsv, file, index, t->name);
        fputs(tsv ? "\t" : " ", stdout);
        if (tsv) {
            PUT_ESC(p, (size_t)((eq ? eq : end) - p));
            fputs("\t", stdout);
            if (eq) PUT_ESC(eq + 1, (size_t)(end - eq - 1));
        } else {
            PUT_ESC(p, (size_t)(end - p));
        }
        fputs("\n", stdout);
        p = nl ? nl + 1 : end;
    }
}

static void print_record(ekn_describe *d, const char *file, uint64_t index, const ekn_tensor *t, const ekn_stats *st)
{
    int tsv = d->tsv;
    char shape[256];
    ekn_shape_str(t->rank, t->shape, shape, sizeof shape);
    print_prefix(tsv, file, index, t->name);
    printf(tsv ? "\t%s\t%s" : " %s %s", ekn_dtype_name(t->dtype), shape);
    print_stats(tsv, st);
    if (ekn_rec_kind_of(t->name) == EKN_KIND_LABEL) print_record_hist(d, st);
    else if (tsv) printf("\t");
    printf("\n");
}

static void print_summary(const ekn_describe *d, uint64_t records, uint64_t examples)
{
    int tsv = d->tsv;
    const group *groups = d->groups;
    size_t ngroups = d->ngroups;
    const ekn_hist *label_hist = &d->label_hist;
    printf(tsv ? "records\t%" PRIu64 "\n" : "records: %" PRIu64, records);
    char nm[1024];
    for (size_t i = 0; i < ngroups && !tsv; i++)
        printf("%s%" PRIu64 " %s", i ? ", " : " (", groups[i].records,
               *groups[i].name ? ESC(groups[i].name, strlen(groups[i].name), nm) : "-");
    if (!tsv) printf("%s\n", ngroups ? ")" : "");
    printf(tsv ? "examples\t%" PRIu64 "\n" : "examples: %" PRIu64 "\n", examples);
    for (size_t i = 0; i < ngroups; i++) {
        const group *g = &groups[i];
        char shape[256] = "varies";
        if (!g->varies) {
            size_t n = (size_t)snprintf(shape, sizeof shape, "[%s", g->rank ? "N" : "");
            for (int k = 1; k < g->rank && n < sizeof shape; k++)
                n += (size_t)snprintf(shape + n, sizeof shape - n, ",%" PRIu64, g->inner[k]);
            if (n < sizeof shape) snprintf(shape + n, sizeof shape - n, "]");
        }
        const char *dt = g->mixed_dtype ? "mixed" : ekn_dtype_name(g->dtype);
        ESC(g->name, strlen(g->name), nm);
        if (tsv) printf("name\t%s\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s", nm, g->records, g->examples, dt, shape);
        else printf("%s: %" PRIu64 " records, %" PRIu64 " examples, %s %s", *g->name ? nm : "-", g->records,
                    g->examples, dt, shape);
        print_stats(tsv, &g->st);
        printf("\n");
    }
    if (!label_hist->total) return;
    double total = (double)label_hist->total;
    for (long v = -1; v <= EKN_HIST_MAX; v++) {
        uint64_t c = ekn_hist_get(label_hist, v);
        if (!c) continue;
        if (tsv) printf("class\t%ld\t%" PRIu64 "\t%.6f\n", v, c, c / total);
        else printf("label %ld: %" PRIu64 " (%.2f%%)%s\n", v, c, 100 * c / total, v == -1 ? " ignored" : "");
    }
    if (label_hist->other) {
        if (tsv) printf("class\tother\t%" PRIu64 "\t%.6f\n", label_hist->other, label_hist->other / total);
        else printf("label other: %" PRIu64 " (%.2f%%) not an integer from -1 to %d\n", label_hist->other,
                    100 * label_hist->other / total, EKN_HIST_MAX);
    }
}

void ekn_describe_init(ekn_describe *d, const ekn_describe_opts *o)
{
    memset(d, 0, sizeof *d);
    d->o = *o;
    d->tsv = o->format && !strcmp(o->format, "tsv");
}

int ekn_describe_record(ekn_describe *d, const char *file, uint64_t index, const ekn_tensor *t, ekn_err *err)
{
    d->records++;
    int is_example = ekn_rec_is_input(t);
    if (is_example) d->examples += examples_of(t);
    if (d->o.count) return 0;
    if (d->o.meta) {
        print_meta(d->tsv, file, index, t);
        return 0;
    }
    ekn_stats st;
    ekn_stats_tensor(&st, t);
    int is_label = ekn_rec_kind_of(t->name) == EKN_KIND_LABEL;
    if (is_label && ekn_hist_add(d->o.summary ? &d->label_hist : &d->rec_hist, t, err)) return -1;
    if (d->o.summary) return add_to_group(d, t, &st, err);
    print_record(d, file, index, t, &st);
    return 0;
}

void ekn_describe_finish(ekn_describe *d)
{
    if (d->o.count) printf("%" PRIu64 "\n", d->examples);
    if (d->o.summary) print_summary(d, d->records, d->examples);
}

void ekn_describe_free(ekn_describe *d)
{
    ekn_hist_free(&d->label_hist);
    ekn_hist_free(&d->rec_hist);
    free(d->groups);
    d->groups = NULL;
    d->ngroups = 0;
}
