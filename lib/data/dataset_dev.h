/* dataset_dev: the device mirror of examples in memory (dataset.h), in the
 * memory of an ops table (ops.h), where a network reads its batch.
 *
 * On a host table (cpu, ref) the mirror is the host arrays themselves:
 * ekn_dataset_dev_put only points at the examples, nothing is copied.  On a
 * device table (cuda, staged) it owns buffers for cap examples, allocated
 * once, and put uploads the examples into them, one transfer per array. */
#ifndef EKN_DATASET_DEV_H
#define EKN_DATASET_DEV_H
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "diag.h"
#include "ops.h"

typedef struct ekn_dataset_dev {
    const ekn_ops *ops;
    size_t cap;                /* examples the buffers hold */
    size_t ex_size, lab_size;  /* the layout: floats per example, labels or targets per example */
    int lazy_c;                /* lazy-label classes, 0: none */
    /* the examples put last, in the table's memory (NULL: not there) */
    size_t n;
    const float *x, *t;
    const int32_t *y;
    const uint8_t *labelled, *absent;
    const float *w;            /* voxel weights (w_size per example) or NULL */
    size_t w_size;
    /* device tables: the buffers */
    float *buf_x, *buf_t;
    int32_t *buf_y;
    uint8_t *buf_lab, *buf_abs;
    float *buf_w;
} ekn_dataset_dev;

/* A mirror for up to cap examples of layout's kind (its ex_size, labels or
 * targets of lab_size, lazy_c).  0, or -1 (EKN_EXIT_FAIL) out of device
 * memory, with why the table says. */
int ekn_dataset_dev_alloc(ekn_dataset_dev *m, const ekn_ops *ops, const ekn_dataset *layout, size_t cap, ekn_err *err);
/* Makes examples [first, first + n) of d (the mirror's layout, n <= cap)
 * the mirror's: pointers into d on a host table, an upload of each array
 * the mirror has otherwise.  The lazy masks come along only when the
 * mirror was made with them, and so do the weights. */
void ekn_dataset_dev_put(ekn_dataset_dev *m, const ekn_dataset *d, size_t first, size_t n);
void ekn_dataset_dev_free(ekn_dataset_dev *m);
#endif
