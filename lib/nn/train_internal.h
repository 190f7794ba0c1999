/* train_internal: what lib/nn/train.c and lib/nn/train_batch.c share; not for callers of train.h. */
#ifndef EKN_TRAIN_INTERNAL_H
#define EKN_TRAIN_INTERNAL_H
#include "train.h"

/* RNG stream ids: fixed forever, or resumed runs would change. */
enum { RNG_INIT = 1, RNG_DATA = 2, RNG_TRAIN = 3, RNG_VAL = 4, RNG_RANK = 1000 /* + rank */ };

int ekn_train_img_img(const ekn_trainer *tr);
/* What --class-weights weighs: the softmax's classes, a sigmoid output's channels, or 0 (regression). */
int ekn_train_loss_channels(const ekn_trainer *tr);
#define EKN_DICE_EPS 1.0f /* the eps of the Dice losses' denominators (ekn-spec(5)) */
/* dst gets src's layout as the net sees it: img-img, the net's input patch
 * and its labels per output voxel; otherwise src's own. */
void ekn_train_batch_layout(const ekn_trainer *tr, const ekn_dataset *src, ekn_dataset *dst);
/* Whether labels come at full resolution (cropped per patch) or already per output voxel. */
int ekn_train_labels_full_res(const ekn_dataset *d);
/* A random example of d and a random input patch of it into x (labels into y or t, weights into w when
 * not NULL and d has them); returns the example. */
size_t ekn_train_sample_patch(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, float *x, int32_t *y, float *t,
                              float *w);
/* Makes the next step's examples tr->cur (tr->cur_n of them): 1, or 0 when
 * a stream has ended before the batch's first example, or -1.  A stream
 * that ends mid-batch gives a short last batch; a group of ekn-batch's is
 * one step as it comes. */
int ekn_train_next_batch(ekn_trainer *tr, ekn_err *err);

/* The batch (tr->batch, cfg.batch examples of the net's layout), its
 * mirror in the ops table's memory, the class weights there, and the host
 * copy of a batch of outputs a GPU needs; 0 or -1. */
int ekn_train_alloc_batch(ekn_trainer *tr, ekn_err *err);
void ekn_train_free_batch(ekn_trainer *tr);
/* Puts the step's examples into the mirror: tr->dev then holds them. */
void ekn_train_upload_batch(ekn_trainer *tr);

/* Rates set through the control file replace the command line's and its
 * schedules, and checkpoints keep them, so a resumed run goes on with them. */
void ekn_train_set_control_lr(ekn_trainer *tr, double v);
void ekn_train_set_control_momentum(ekn_trainer *tr, double v);

/* The run's settings (train_settings.c): tr->cfg into the checkpoint's
 * /settings; and on resume the checkpoint's into tr->cfg, except those
 * cfg.given says the command line gave (one warning per such setting that
 * differs: "--lr 0.05 overrides the checkpoint's 0.01").  A checkpoint
 * without /settings changes nothing.  0 or -1. */
struct ekn_ckpt;
int ekn_train_settings_write(const ekn_trainer *tr, struct ekn_ckpt *ck, ekn_err *err);
int ekn_train_settings_restore(ekn_trainer *tr, struct ekn_ckpt *from, ekn_err *err);
#endif
