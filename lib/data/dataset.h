/* dataset: examples in memory, the one struct for them wherever they are
 * held: a whole stream read for training, validation and evaluation, one
 * streamed record group, a batch being assembled or trained on, a shuffle
 * buffer.  Its device mirror is dataset_dev.h.
 *
 * Examples are read group by group (group.h): an `image` (N,C,[Z,]Y,X) or
 * `vector` (N,F) record of any numeric dtype, then its `label` (N) /
 * (N,[Z,]Y,X) integer record or `target` (N,...) float record.  A `mask`
 * (its labels' shape, 0 where a label does not count) turns the masked
 * labels into the ignore label -1, and masked targets into NaN.  Lazy
 * labels (for data that is not densely labelled) come as `labelled` and
 * `absent` records of shape (N, classes), any integer dtype, 0 or 1:
 * labelled[n,k] = 1 where class k is labelled in example n, absent[n,k] = 1
 * where class k does not occur in it (see ekn-train(1)).  A `weight`
 * record (float, finite and >= 0) gives each label position a weight for
 * the losses: the labels' shape, or for targets (N,C,...) their shape
 * without the channel axis; after every pair or none.  All examples
 * share one shape; inputs become float32, labels int32. */
#ifndef EKN_DATASET_H
#define EKN_DATASET_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "group.h"
#include "stream.h"
#include "tensor.h"

typedef struct ekn_dataset {
    char source[256];
    size_t n;            /* examples */
    int c;               /* channels (1 for vectors) */
    int ndim;            /* spatial dims of the input record (vectors: 1) */
    int shape[3];        /* spatial (Z,Y,X), leading unused axes 1; vectors: (1,1,F) */
    int is_vector;       /* the inputs are `vector` records (N,F) */
    size_t ex_size;      /* floats per example */
    float *x;            /* (n, ex_size) */
    int has_labels;      /* class labels (int32) */
    int has_targets;     /* regression targets (float) */
    int lab_ndim;        /* spatial dims of the labels (0: one per example) */
    int lab_shape[3];
    int lab_c;           /* targets (N,C,[Z,]Y,X) with a channel axis beside an image's spatial axes: C
                            (lab_shape is then spatial only); 0 otherwise */
    size_t lab_size;     /* labels or targets per example */
    int32_t *y;          /* (n, lab_size) */
    float *t;            /* (n, lab_size) */
    int classes;         /* from a `classes=` metadata key, else 1 + the largest label seen */
    int lazy_c;          /* classes of the lazy-label masks, 0 without them */
    uint8_t *labelled;   /* (n, lazy_c) or NULL */
    uint8_t *absent;     /* (n, lazy_c) or NULL */
    size_t lazy_count[2];/* examples covered by labelled / absent records so far */
    int has_weights;     /* per-voxel example weights (a `weight` record after every pair) */
    size_t w_size;       /* weights per example: lab_size, or lab_size / channels for targets */
    int w_ndim;          /* spatial dims of the weight record */
    int w_shape[3];      /* its spatial shape (Z,Y,X), unused leading axes 1 */
    float *w;            /* (n, w_size) or NULL */
    size_t w_count;      /* examples covered by weight records so far */
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
    ekn_group_reader gr;
    ekn_group g;         /* the last group read */
    int max_label;
    long long epoch;     /* the `epoch=` metadata of the last input record, -1 without */
    long long batch;     /* the `batch=` metadata of the last input record (ekn-batch's batches), -1 without */
} ekn_dataset_reader;

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

/* ---- examples held, copied, cut and written -------------------------------- */

/* dst gets src's layout (geometry, label kind and placement, classes,
 * lazy_c, source) and no examples or memory. */
void ekn_dataset_layout(ekn_dataset *dst, const ekn_dataset *src);
/* Room for cap examples of d's layout (inputs, labels or targets, lazy
 * masks); keeps the examples held.  0, or -1 (EKN_EXIT_FAIL). */
int ekn_dataset_reserve(ekn_dataset *d, size_t cap, ekn_err *err);
/* Copies example j of src into slot i of dst (same layout): inputs, labels
 * or targets, and the lazy masks when dst has them. */
void ekn_dataset_copy_example(ekn_dataset *dst, size_t i, const ekn_dataset *src, size_t j);
/* Copies only the lazy masks of example j of src into slot i of dst (when dst has them). */
void ekn_dataset_copy_lazy(ekn_dataset *dst, size_t i, const ekn_dataset *src, size_t j);

/* Where the labels of a patch lie in it: label k (per axis Z,Y,X, k < out)
 * at patch position offset + stride * k.  {0, 1, size} is the patch itself. */
typedef struct ekn_lattice {
    int offset[3], stride[3], out[3];
} ekn_lattice;

/* The patch cutter: copies the box corner + [0, size) (Z,Y,X) of every
 * channel of example e into x (C, size...), and, into y or t (whichever is
 * not NULL and d has: int32 labels, float targets), the labels under the
 * lattice lab placed at corner (label position corner + offset + stride * k,
 * in the label array of shape lab_shape), or with lab NULL the example's
 * labels as they are.  The box and the lattice must lie inside the example. */
void ekn_dataset_cut(const ekn_dataset *d, size_t e, const int corner[3], const int size[3], const ekn_lattice *lab,
                     float *x, int32_t *y, float *t);
/* The weights of the same cut (d must have them): under the lattice lab at
 * corner, or with lab NULL the example's weights as they are, into w. */
void ekn_dataset_cut_weights(const ekn_dataset *d, size_t e, const int corner[3], const ekn_lattice *lab, float *w);

/* Writes examples [0, n) as one group (group.h): `image` (n,C,[Z,]Y,X) or
 * `vector` (n,F), its `label` or `target` record (with classes= when
 * d->classes, and offset=/stride= over the spatial axes when
 * d->lab_placed), its `weight` record when d has weights, and `labelled`,
 * `absent` when d has lazy labels; every
 * record carries meta ("key=value\n" lines, may be "") first. */
int ekn_dataset_write(const ekn_dataset *d, size_t n, const char *meta, ekn_writer *w, ekn_err *err);

void ekn_dataset_free(ekn_dataset *d);
#endif
