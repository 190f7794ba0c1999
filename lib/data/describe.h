/* describe: what ekn-info(1) prints about the records of ekn streams.
 *
 * Per record (default): file (when several), index, name, dtype, shape,
 * min, max, mean, std, NaN count, and for `label` records the classes;
 * with meta, the metadata lines instead; with summary, totals per record
 * name and the label histogram at the end (ekn_describe_summary); with
 * count, nothing but the number of examples (the first axis of `image`
 * and `vector` records).  Text or TSV, on stdout. */
#ifndef EKN_DESCRIBE_H
#define EKN_DESCRIBE_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "stats.h"
#include "tensor.h"

/* ekn-info's command line. */
typedef struct ekn_describe_opts {
    int summary, count, meta;  /* at most one of them */
    const char *format;        /* text|tsv */
} ekn_describe_opts;

typedef struct ekn_describe {
    ekn_describe_opts o;
    int tsv;
    struct ekn_describe_group *groups; /* the totals of the records that share a name */
    size_t ngroups;
    ekn_hist label_hist, rec_hist;
    uint64_t records, examples;
} ekn_describe;

void ekn_describe_init(ekn_describe *d, const ekn_describe_opts *o);
/* One record: counts it, then prints its line(s) or adds it to the totals.
 * file: the name to print before the index, NULL for none.  Errors: out of
 * memory (EKN_EXIT_FAIL). */
int ekn_describe_record(ekn_describe *d, const char *file, uint64_t index, const ekn_tensor *t, ekn_err *err);
/* After the last record: the count, or the summary (nothing otherwise). */
void ekn_describe_finish(ekn_describe *d);
void ekn_describe_free(ekn_describe *d);
#endif
