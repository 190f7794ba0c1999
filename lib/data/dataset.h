/* dataset: a whole stream of examples held in memory for training,
 * validation and evaluation.
 *
 * The stream is a sequence of record pairs (ekn-stream(5)): an `image`
 * (N,C,[Z,]Y,X) or `vector` (N,F) record of any numeric dtype, then its
 * `label` (N) / (N,[Z,]Y,X) integer record or `target` (N,...) float record.
 * A `mask` record after a pair (its labels' shape, 0 where a label does not
 * count) turns the masked labels into the ignore label -1, and masked
 * targets into NaN.  Lazy
 * labels (for data that is not densely labelled) come as `labelled` and
 * `absent` records of shape (N, classes), any integer dtype, 0 or 1, after
 * a pair: labelled[n,k] = 1 where class k is labelled in example n,
 * absent[n,k] = 1 where class k does not occur in it (see ekn-train(1)).
 * All examples must share one shape; inputs become float32, labels int32. */
#ifndef EKN_DATASET_H
#define EKN_DATASET_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "stream.h"
#include "tensor.h"

typedef struct ekn_dataset {
    char source[256];
    size_t n;            /* examples */
    int c;               /* channels (1 for vectors) */
    int ndim;            /* spatial dims of the input record (vectors: 1) */
    int shape[3];        /* spatial (Z,Y,X), leading unused axes 1; vectors: (1,1,F) */
    size_t ex_size;      /* floats per example */
    float *x;            /* (n, ex_size) */
    int has_labels;      /* class labels (int32) */
    int has_targets;     /* regression targets (float) */
    int lab_ndim;        /* spatial dims of the labels (0: one per example) */
    int lab_shape[3];
    size_t lab_size;     /* labels or targets per example */
    int32_t *y;          /* (n, lab_size) */
    float *t;            /* (n, lab_size) */
    int classes;         /* from a `classes=` metadata key, else 1 + the largest label seen */
    int lazy_c;          /* classes of the lazy-label masks, 0 without them */
    uint8_t *labelled;   /* (n, lazy_c) or NULL */
    uint8_t *absent;     /* (n, lazy_c) or NULL */
    size_t lazy_count[2];/* examples covered by labelled / absent records so far */
    size_t cap;          /* examples allocated */
    int flat;            /* examples are seen as flat vectors (an MLP on images): later records must match in size only */
    int lab_placed;      /* labels carry offset=/stride= metadata (ekn-batch's output-region labels) */
    int lab_offset[3];   /* then label[k] sits at image position lab_offset + lab_stride * k */
    int lab_stride[3];
} ekn_dataset;

/* Reads a stream group by group: an input record, its label/target record,
 * and the mask and lazy-label records after them.  Streamed training reads
 * this way; ekn_dataset_load reads every group. */
typedef struct ekn_dataset_reader {
    ekn_reader r;
    ekn_tensor in, lab;
    ekn_tensor pending;  /* the record read ahead: the next group's input */
    int has_pending;
    int max_label;
    long long epoch;     /* the `epoch=` metadata of the last input record, -1 without */
} ekn_dataset_reader;

/* 1 for an `image` or `vector` record (a network input). */
int ekn_is_input_record(const ekn_tensor *t);
/* Channels, spatial dims and spatial shape (Z,Y,X; unused leading axes 1) of
 * an input record: image (N,C,[Z,]Y,X) or vector (N,F) as (1,1,F).  -1 if
 * the rank does not fit. */
int ekn_input_geometry(const ekn_tensor *t, int *c, int *ndim, int shape[3]);

int ekn_dataset_load(ekn_dataset *d, const char *path, ekn_err *err);

/* Opens path ("-": stdin) and empties d. */
int ekn_dataset_reader_open(ekn_dataset_reader *dr, ekn_dataset *d, const char *path, ekn_err *err);
/* Appends the next group to d: 1, or 0 at the end of the stream, or -1. */
int ekn_dataset_read_group(ekn_dataset_reader *dr, ekn_dataset *d, ekn_err *err);
/* Sets d->classes from the labels seen when no classes= said it; fails when a label is not below it. */
int ekn_dataset_check_classes(ekn_dataset_reader *dr, ekn_dataset *d, ekn_err *err);
/* Forgets the examples but keeps the geometry and the memory. */
void ekn_dataset_clear(ekn_dataset *d);
void ekn_dataset_reader_close(ekn_dataset_reader *dr);
void ekn_dataset_free(ekn_dataset *d);
#endif
