/* group: the record grammar of a stream of examples (ekn-stream(5)) in one
 * place: the record names, how records group into examples, and the
 * metadata that places them.  Every reader and writer of examples (the
 * dataset, ekn-batch, ekn-augment, ekn-predict, ekn-info, ekn-plot) names
 * records through it.
 *
 * A stream of examples is a sequence of groups.  A group starts with an
 * input record, `image` (N,C,[Z,]Y,X) or `vector` (N,F), and holds every
 * record up to the next input record:
 *   - at most one `label` (N) / (N,[Z,]Y,X) or `target` (N,...) record,
 *     and only right after the input;
 *   - at most one `mask` (the labels' shape, 0 where a label does not count);
 *   - at most one each of the lazy-label records `labelled` and `absent`
 *     (N, classes);
 *   - at most one `weight` (float, one per label position: the labels'
 *     shape, or a target's without its channel axis), multiplying each
 *     voxel's loss terms (ELEKTRONN's recursive-training weights);
 *   - records of other names, which only ekn-augment passes through.
 * ekn_group_read enforces these; what a reader needs beyond them (labels,
 * no other names) it asks of ekn_group_check.
 *
 * Geometry metadata: a label record that covers only a network's output
 * region says where it lies in its image, label k at image position
 * offset= + stride= * k (Z,Y,X, right-aligned: "3,3" is Y,X); label
 * records may say classes=; ekn-batch's input records carry batch= and
 * epoch=. */
#ifndef EKN_GROUP_H
#define EKN_GROUP_H
#include <stdint.h>

#include "diag.h"
#include "stream.h"
#include "tensor.h"

/* ---- record names ------------------------------------------------------- */

#define EKN_REC_IMAGE "image"       /* input images (N,C,[Z,]Y,X), any numeric dtype */
#define EKN_REC_VECTOR "vector"     /* input feature vectors (N,F) */
#define EKN_REC_LABEL "label"       /* class labels, integers, -1 ignored */
#define EKN_REC_TARGET "target"     /* regression targets, float */
#define EKN_REC_MASK "mask"         /* 0 where a label does not count */
#define EKN_REC_LABELLED "labelled" /* lazy labels: class k is labelled in example n */
#define EKN_REC_ABSENT "absent"     /* lazy labels: class k does not occur in example n */
#define EKN_REC_PROB "prob"         /* ekn-predict: class probabilities (N,C,...) */
#define EKN_REC_CLASS "class"       /* ekn-predict: the argmax class (N,...) */
#define EKN_REC_OUTPUT "output"     /* ekn-predict: a regression net's output (N,C,...) */
#define EKN_REC_WEIGHT "weight"     /* per-voxel example weights (finite, >= 0), shaped as the labels */

typedef enum ekn_rec_kind {
    EKN_KIND_OTHER = 0,
    EKN_KIND_IMAGE, EKN_KIND_VECTOR,
    EKN_KIND_LABEL, EKN_KIND_TARGET, EKN_KIND_MASK, EKN_KIND_LABELLED, EKN_KIND_ABSENT,
    EKN_KIND_PROB, EKN_KIND_CLASS, EKN_KIND_OUTPUT,
    EKN_KIND_WEIGHT
} ekn_rec_kind;

ekn_rec_kind ekn_rec_kind_of(const char *name);
/* 1 for an `image` or `vector` record (a network input). */
int ekn_rec_is_input(const ekn_tensor *t);
/* 1 for a `label` or `target` record. */
int ekn_rec_is_labels(const ekn_tensor *t);

/* ---- geometry metadata -------------------------------------------------- */

/* Channels, spatial dims and spatial shape (Z,Y,X; unused leading axes 1) of
 * an input record: image (N,C,[Z,]Y,X) or vector (N,F) as (1,1,F).  -1 if
 * the rank does not fit. */
int ekn_input_geometry(const ekn_tensor *t, int *c, int *ndim, int shape[3]);
/* The Z,Y,X list under key ("offset", "stride"): its values, each >= min,
 * right-aligned into v (the leading axes keep what the caller put there).
 * Returns how many values it gave, 0 without the key, or -1 (err, EKN_EXIT_FAIL) when the value is malformed. */
int ekn_meta_zyx(const ekn_tensor *t, const char *key, long min, long v[3], ekn_err *err);
/* An integer metadata value (classes=, batch=, epoch=), or dflt without the key. */
long long ekn_meta_int(const ekn_tensor *t, const char *key, long long dflt);
/* An integer metadata value checked whole and in [min, max]: 1 and *v, 0
 * without the key, -1 (err, EKN_EXIT_FAIL: "bad metadata KEY=VALUE ...")
 * when it is not such an integer.  ekn_group_read checks a label record's
 * classes= this way (0 to INT32_MAX). */
int ekn_meta_int_checked(const ekn_tensor *t, const char *key, long long min, long long max, long long *v,
                         ekn_err *err);

/* ---- groups ------------------------------------------------------------- */

#define EKN_GROUP_MAX 16

typedef struct ekn_group {
    ekn_tensor rec[EKN_GROUP_MAX]; /* rec[0] is the input; buffers are reused from group to group */
    int n;                         /* records held */
    uint64_t first;                /* stream index of rec[0]; rec[i] is record first + i */
    int lab;                       /* index of the label or target record (1), or -1 */
    int mask, labelled, absent;    /* index of each, or -1 */
    int weight;                    /* index of the weight record, or -1 */
} ekn_group;

typedef struct ekn_group_reader {
    ekn_reader r;
    ekn_tensor look; /* the next group's input record, read ahead */
    int ahead;       /* 1: look holds it, 0: nothing read yet, -1: the stream has ended */
} ekn_group_reader;

/* Opens path ("-": stdin). */
int ekn_group_reader_open(ekn_group_reader *gr, const char *path, ekn_err *err);
/* Reads the next group into g (whose records it reuses; g starts zeroed):
 * 1, or 0 at the end of the stream, or -1 (err, EKN_EXIT_FAIL) on a broken
 * stream, a record other than an input where a group starts, or a group
 * that breaks the grammar above.  The group ends where the next input
 * record starts, so that record is read ahead. */
int ekn_group_read(ekn_group_reader *gr, ekn_group *g, ekn_err *err);
const char *ekn_group_source(const ekn_group_reader *gr); /* "stdin" or the path */
void ekn_group_reader_close(ekn_group_reader *gr);

/* What a reader asks of a group beyond the grammar; errors name the record. */
enum {
    EKN_GROUP_NEED_LABELS = 1, /* a label or target record */
    EKN_GROUP_NO_OTHER = 2,    /* no records of other names */
    EKN_GROUP_BARE = 4         /* nothing after the input and its labels */
};
int ekn_group_check(const ekn_group_reader *gr, const ekn_group *g, int need, ekn_err *err);

/* Writes the group's records in order. */
int ekn_group_write(ekn_writer *w, const ekn_group *g, ekn_err *err);
void ekn_group_free(ekn_group *g);
#endif
