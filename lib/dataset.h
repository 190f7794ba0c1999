/* dataset: a whole stream of examples held in memory for training,
 * validation and evaluation.
 *
 * The stream is a sequence of record pairs (ekn-stream(5)): an `image`
 * (N,C,[Z,]Y,X) or `vector` (N,F) record of any numeric dtype, then its
 * `label` (N) / (N,[Z,]Y,X) integer record or `target` (N,...) float record.
 * A `mask` record after a pair is accepted and ignored for now.  Lazy
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
} ekn_dataset;

/* 1 for an `image` or `vector` record (a network input). */
int ekn_is_input_record(const ekn_tensor *t);
/* Channels, spatial dims and spatial shape (Z,Y,X; unused leading axes 1) of
 * an input record: image (N,C,[Z,]Y,X) or vector (N,F) as (1,1,F).  -1 if
 * the rank does not fit. */
int ekn_input_geometry(const ekn_tensor *t, int *c, int *ndim, int shape[3]);

int ekn_dataset_load(ekn_dataset *d, const char *path, ekn_err *err);
void ekn_dataset_free(ekn_dataset *d);
#endif
