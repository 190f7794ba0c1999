/* train_internal: what lib/nn/train.c and lib/nn/train_batch.c share; not for callers of train.h. */
#ifndef EKN_TRAIN_INTERNAL_H
#define EKN_TRAIN_INTERNAL_H
#include "train.h"

/* RNG stream ids: fixed forever, or resumed runs would change. */
enum { RNG_INIT = 1, RNG_DATA = 2, RNG_TRAIN = 3, RNG_VAL = 4 };

int ekn_train_img_img(const ekn_trainer *tr);
/* Whether labels come at full resolution (cropped per patch) or already per output voxel. */
int ekn_train_labels_full_res(const ekn_dataset *d);
/* A random example of d and a random input patch of it into x (labels into y or t); returns the example. */
size_t ekn_train_sample_patch(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, float *x, int32_t *y, float *t);
/* Fills the batch buffers: 1, or 0 when a stream has ended before the
 * batch's first example, or -1.  A stream that ends mid-batch gives a
 * short last batch. */
int ekn_train_next_batch(ekn_trainer *tr, ekn_err *err);

/* The batch in the ops table's memory (the host buffers themselves on the CPU). */
int ekn_train_alloc_device_batch(ekn_trainer *tr, size_t B, size_t ls, ekn_err *err);
void ekn_train_free_device_batch(ekn_trainer *tr);
void ekn_train_upload_batch(ekn_trainer *tr);

/* Rates set through the control file replace the command line's and its
 * schedules, and checkpoints keep them, so a resumed run goes on with them. */
void ekn_train_set_control_lr(ekn_trainer *tr, double v);
void ekn_train_set_control_momentum(ekn_trainer *tr, double v);
#endif
