/* ekn-info: describe the records of ekn streams (ekn-info(1)). */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "group.h"
#include "stats.h"
#include "stream.h"

static int opt_summary, opt_count, opt_meta;
static const char *opt_format = "text";

static const ekn_option options[] = {
    {'s', "summary", EKN_OPT_FLAG, &opt_summary, NULL,
     "print totals per record name and the label histogram instead of one line per record", 0, 0, NULL, 0, NULL},
    {'c', "count", EKN_OPT_FLAG, &opt_count, NULL,
     "print only the number of examples in the image and vector records (no statistics)", 0, 0, NULL, 0, NULL},
    {'m', "meta", EKN_OPT_FLAG, &opt_meta, NULL, "print the metadata lines of every record", 0, 0, NULL, 0, NULL},
    {0, "format", EKN_OPT_CHOICE, &opt_format, "FORMAT", "output format", 0, 0, "text|tsv", 0, NULL},
    {0},
};

static const ekn_command command = {
    "ekn-info", "[options] [FILE...]",
    "Describe the records of ekn streams (stdin when no FILE is given): shape, dtype and statistics.",
    options,
};

typedef struct group { /* totals of the records that share a name */
    char name[EKN_NAME_MAX + 1];
    uint64_t records, examples;
    ekn_dtype dtype;
    int mixed_dtype, rank, varies;
    uint64_t inner[EKN_MAX_RANK]; /* shape without the first axis */
    ekn_stats st;
} group;

static group *groups;
static size_t ngroups;
static ekn_hist label_hist = EKN_HIST_INIT, rec_hist = EKN_HIST_INIT;
static int tsv;

static uint64_t examples_of(const ekn_tensor *t) { return t->rank ? t->shape[0] : 1; }

static group *find_group(const char *name)
{
    for (size_t i = 0; i < ngroups; i++)
        if (!strcmp(groups[i].name, name)) return &groups[i];
    group *g = realloc(groups, (ngroups + 1) * sizeof *g);
    if (!g) ekn_die(EKN_EXIT_FAIL, "out of memory");
    groups = g;
    g = &groups[ngroups++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    ekn_stats_init(&g->st);
    return g;
}

static void add_to_group(const ekn_tensor *t, const ekn_stats *st)
{
    group *g = find_group(t->name);
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
}

/* min, max, mean, std ("-" in text and empty in tsv when there are no numbers) */
static void print_stats(const ekn_stats *s)
{
    const char *sep = tsv ? "\t" : " ";
    if (!s->n) printf(tsv ? "\t\t\t" : " min - max - mean - std -");
    else if (tsv) printf("\t%.8g\t%.8g\t%.8g\t%.8g", s->min, s->max, s->mean, ekn_stats_std(s));
    else printf(" min %.6g max %.6g mean %.6g std %.6g", s->min, s->max, s->mean, ekn_stats_std(s));
    if (tsv) printf("\t%" PRIu64, s->nan);
    else if (s->nan) printf("%snan %" PRIu64, sep, s->nan);
}

/* The classes of one label record: "0:12 1:30" (tsv: "0:12,1:30"); then the range is cleared. */
static void print_record_hist(const ekn_stats *s)
{
    long lo = -1, hi = -2;
    if (s->n) {
        lo = s->min < -1 ? -1 : (long)fmax(-1, floor(s->min));
        hi = s->max > EKN_HIST_MAX ? EKN_HIST_MAX : (long)floor(s->max);
    }
    printf(tsv ? "\t" : " classes");
    int first = 1;
    for (long v = lo; v <= hi; v++) {
        uint64_t c = ekn_hist_get(&rec_hist, v);
        if (!c) continue;
        printf("%s%ld:%" PRIu64, tsv ? (first ? "" : ",") : " ", v, c);
        first = 0;
    }
    if (rec_hist.other) printf("%sother:%" PRIu64, tsv ? (first ? "" : ",") : " ", rec_hist.other);
    if (lo <= hi) memset(rec_hist.count + lo + 1, 0, (size_t)(hi - lo + 1) * sizeof *rec_hist.count);
    rec_hist.other = rec_hist.total = 0;
}

static void print_prefix(const char *file, uint64_t index, const char *name)
{
    if (file) printf(tsv ? "%s\t" : "%s:", file);
    printf(tsv ? "%" PRIu64 "\t%s" : "%" PRIu64 " %s", index, *name || tsv ? name : "-");
}

static void print_meta(const char *file, uint64_t index, const ekn_tensor *t)
{
    for (const char *p = t->meta; p && *p;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        print_prefix(file, index, t->name);
        if (tsv)
            printf("\t%.*s\t%.*s\n", (int)((eq ? eq : end) - p), p, eq ? (int)(end - eq - 1) : 0, eq ? eq + 1 : "");
        else
            printf(" %.*s\n", (int)(end - p), p);
        p = nl ? nl + 1 : end;
    }
}

static void print_record(const char *file, uint64_t index, const ekn_tensor *t, const ekn_stats *st)
{
    char shape[256];
    ekn_shape_str(t->rank, t->shape, shape, sizeof shape);
    print_prefix(file, index, t->name);
    printf(tsv ? "\t%s\t%s" : " %s %s", ekn_dtype_name(t->dtype), shape);
    print_stats(st);
    if (ekn_rec_kind_of(t->name) == EKN_KIND_LABEL) print_record_hist(st);
    else if (tsv) printf("\t");
    printf("\n");
}

static void print_summary(uint64_t records, uint64_t examples)
{
    printf(tsv ? "records\t%" PRIu64 "\n" : "records: %" PRIu64, records);
    for (size_t i = 0; i < ngroups && !tsv; i++)
        printf("%s%" PRIu64 " %s", i ? ", " : " (", groups[i].records, *groups[i].name ? groups[i].name : "-");
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
        if (tsv) printf("name\t%s\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s", g->name, g->records, g->examples, dt, shape);
        else printf("%s: %" PRIu64 " records, %" PRIu64 " examples, %s %s", *g->name ? g->name : "-", g->records,
                    g->examples, dt, shape);
        print_stats(&g->st);
        printf("\n");
    }
    if (!label_hist.total) return;
    double total = (double)label_hist.total;
    for (long v = -1; v <= EKN_HIST_MAX; v++) {
        uint64_t c = ekn_hist_get(&label_hist, v);
        if (!c) continue;
        if (tsv) printf("class\t%ld\t%" PRIu64 "\t%.6f\n", v, c, c / total);
        else printf("label %ld: %" PRIu64 " (%.2f%%)%s\n", v, c, 100 * c / total, v == -1 ? " ignored" : "");
    }
    if (label_hist.other) {
        if (tsv) printf("class\tother\t%" PRIu64 "\t%.6f\n", label_hist.other, label_hist.other / total);
        else printf("label other: %" PRIu64 " (%.2f%%) not an integer from -1 to %d\n", label_hist.other,
                    100 * label_hist.other / total, EKN_HIST_MAX);
    }
}

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&command, argc, argv);
    if (opt_summary + opt_count + opt_meta > 1)
        ekn_usage_die(&command, "--summary, --count and --meta cannot be combined");
    tsv = !strcmp(opt_format, "tsv");
    /* A 1 MiB pipe instead of 64 KiB: 2-3x the throughput of large records
     * (bench/stream_bench.sh).  Fails harmlessly when stdin is not a pipe. */
    (void)fcntl(0, F_SETPIPE_SZ, 1 << 20);
    static char inbuf[1 << 20];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);

    char *dash[] = {"-"};
    char **files = first < argc ? argv + first : dash;
    int nfiles = first < argc ? argc - first : 1;
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    uint64_t records = 0, examples = 0;
    for (int f = 0; f < nfiles; f++) {
        ekn_reader r;
        if (ekn_reader_open(&r, files[f], &err)) ekn_die_err(&err);
        const char *label = nfiles > 1 ? ekn_reader_name(&r) : NULL;
        int rc;
        while ((rc = ekn_stream_read(&r, &t, &err)) == 1) {
            uint64_t index = r.record - 1;
            records++;
            if (ekn_rec_is_input(&t)) examples += examples_of(&t);
            if (opt_count) continue;
            if (opt_meta) {
                print_meta(label, index, &t);
                continue;
            }
            ekn_stats st;
            ekn_stats_tensor(&st, &t);
            int is_label = ekn_rec_kind_of(t.name) == EKN_KIND_LABEL;
            if (is_label && ekn_hist_add(opt_summary ? &label_hist : &rec_hist, &t, &err)) ekn_die_err(&err);
            if (opt_summary) add_to_group(&t, &st);
            else print_record(label, index, &t, &st);
        }
        if (rc < 0) ekn_die_err(&err);
        ekn_info("'%s': %" PRIu64 " records, %" PRIu64 " bytes", ekn_reader_name(&r), r.record, r.offset);
        ekn_reader_close(&r);
    }
    if (opt_count) printf("%" PRIu64 "\n", examples);
    if (opt_summary) print_summary(records, examples);
    ekn_tensor_free(&t);
    ekn_hist_free(&label_hist);
    ekn_hist_free(&rec_hist);
    free(groups);
    return EKN_EXIT_OK;
}
