/* ckpt: the checkpoint file, the format's one home (ekn-checkpoint(5)).
 *
 * A checkpoint is an HDF5 file (lib/core/h5.h) that h5py and h5dump read:
 *   /format      "ekn-checkpoint 1"
 *   /spec        the spec text, verbatim
 *   /params/T    each trainable tensor T of the net (ekn_net_tensors), f32
 *   /buffers/T   each non-trainable state tensor of the net (none today), f32
 *   /optimizer/  the optimiser's name, parameters, state vectors and scalars
 *   /state/      what else decides the next training step (counters, rates,
 *                RNG states, the data order)
 *   /settings/   the run's settings (ekn-train's options that change
 *                training), which --resume restores; absent in older files
 * Only this file knows the names, types and shapes above; the net's side of
 * the boundary is ekn_net_tensors (net.h), the trainer's ekn_ckpt_state.
 *
 * Writing is atomic: ekn_ckpt_create writes to "<path>.tmp.<pid>", the
 * ekn_ckpt_write_* calls fill it, ekn_ckpt_commit fsyncs and renames it
 * over path; ekn_ckpt_abort (after any failed write) removes it and leaves
 * the old file untouched.
 *
 * Reading: a command opens the file once (ekn_ckpt_open checks /format),
 * reads what it needs with ekn_ckpt_read_*, and closes it.  Every problem
 * is a one-line error naming the file (EKN_EXIT_FAIL). */
#ifndef EKN_CKPT_H
#define EKN_CKPT_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "h5.h"
#include "net.h"
#include "optim.h"
#include "rng.h"
#include "spec.h"
#include "tensor.h"

#define EKN_CKPT_FORMAT "ekn-checkpoint 1"

typedef struct ekn_ckpt {
    ekn_h5 h5;
} ekn_ckpt;

/* The trainer's state under /state (all but the data order). */
typedef struct ekn_ckpt_state {
    int64_t step, epoch, perm_pos, plateau_count;
    double lr, momentum, lr_scale;
    double control_lr, control_momentum; /* NaN: never set through the control file (also read so from files without them) */
    double best_val, loss_smooth;
    double elapsed;                      /* seconds trained */
    double best_metric;                  /* the best validation's monitored value (inf: none; also from older files) */
    int64_t best_step, since_best;       /* its step, and validations since (0 from older files) */
    ekn_rng rng_data, rng_train;
} ekn_ckpt_state;

/* The run's settings under /settings, one dataset each, named as the
 * options are (with '_' for '-'): integers int64 (seed uint64), rates
 * float64, schedules and class weights as text in the options' syntax
 * ("" when none).  have: bit EKN_SET_X set when setting X is present. */
enum {
    EKN_SET_BATCH, EKN_SET_STEPS, EKN_SET_EPOCHS, EKN_SET_LR, EKN_SET_LR_SCHEDULE, EKN_SET_LR_DECAY,
    EKN_SET_LR_DECAY_EVERY, EKN_SET_PLATEAU, EKN_SET_PLATEAU_FACTOR, EKN_SET_MOMENTUM, EKN_SET_MOMENTUM_SCHEDULE,
    EKN_SET_WEIGHT_DECAY, EKN_SET_CLASS_WEIGHTS, EKN_SET_SEED, EKN_SET_PATCH, EKN_SET_VAL_EVERY,
    EKN_SET_VAL_EXAMPLES, EKN_SET_EARLY_STOP, EKN_SET_MONITOR,
    /* the rate's shape (schedule.h); absent in older files, which had none */
    EKN_SET_LR_SHAPE, EKN_SET_WARMUP, EKN_SET_LR_FLOOR, EKN_SET_ONECYCLE_PCT, EKN_SET_ONECYCLE_DIV,
    EKN_SET_ONECYCLE_MOMENTUM, EKN_SET_EMA, EKN_SET_AVERAGE, EKN_NSET
};
typedef struct ekn_ckpt_settings {
    unsigned long have;
    int64_t batch, steps, epochs, lr_decay_every, plateau, val_every, val_examples, early_stop;
    int64_t patch[3]; /* img-img input patch Z,Y,X; 0,0,0: the spec's or the data's */
    double lr, lr_decay, plateau_factor, momentum, weight_decay;
    uint64_t seed;
    char *lr_schedule, *momentum_schedule, *class_weights; /* reading: malloc'd */
    char *monitor;                                         /* "val_loss" or "val_error"; ditto */
    char *lr_shape;                                        /* "constant", "cosine" or "onecycle"; ditto */
    int64_t warmup;
    double lr_floor, onecycle_pct, onecycle_div, onecycle_momentum;
    double ema;                                            /* --ema's decay, -1: off */
    int64_t average;                                       /* --average K, 0: off */
} ekn_ckpt_settings;
/* The settings' dataset names ("lr_schedule"), by EKN_SET_X. */
const char *ekn_ckpt_setting_name(int k);

/* ---- writing ---- */
/* Starts the temporary file and writes /format and /spec. */
int ekn_ckpt_create(ekn_ckpt *c, const char *path, const char *spec_text, ekn_err *err);
/* /params/NAME (state 0, from theta) and /buffers/NAME (state 1, from
 * state; may be NULL when no tensor has state 1): float32 of t[i].dims,
 * t[i].count floats from t[i].offset. */
int ekn_ckpt_write_params(ekn_ckpt *c, const ekn_net_tensor *t, int n, const float *theta, const float *state,
                          ekn_err *err);
/* /optimizer/...: name, params, state vectors, scalars (ekn_optim_save). */
int ekn_ckpt_write_optim(ekn_ckpt *c, const ekn_optim *o, ekn_err *err);
/* /state/...; perm (perm_n uint32, the data order) may be NULL. */
int ekn_ckpt_write_state(ekn_ckpt *c, const ekn_ckpt_state *s, const uint32_t *perm, size_t perm_n, ekn_err *err);
/* /state/ema_params (n floats) and /state/ema_buffers (nstate floats,
 * not written when 0): ekn-train --ema's average, flat in theta's and
 * state's order. */
int ekn_ckpt_write_ema(ekn_ckpt *c, const float *theta, size_t n, const float *state, size_t nstate, ekn_err *err);
/* /state/avg_snapshots: --average's snapshots, n rows (oldest first) of
 * width floats (theta, then state); nothing is written for n = 0. */
int ekn_ckpt_write_avg(ekn_ckpt *c, const float *rows, size_t n, size_t width, ekn_err *err);
/* The newest min(stored, max_rows) snapshots into rows (oldest first);
 * *n gets their count (0 when the file has none); 0 or -1 (another
 * width, a non-finite value, out of memory). */
int ekn_ckpt_read_avg(ekn_ckpt *c, float *rows, size_t max_rows, size_t width, size_t *n, ekn_err *err);
/* /settings/...: every setting (s->have is not looked at). */
int ekn_ckpt_write_settings(ekn_ckpt *c, const ekn_ckpt_settings *s, ekn_err *err);
/* fsync and rename into place; the handle is closed either way. */
int ekn_ckpt_commit(ekn_ckpt *c, ekn_err *err);
void ekn_ckpt_abort(ekn_ckpt *c);

/* ---- reading ---- */
/* Opens path and checks /format: "ekn-checkpoint 1", or a later minor
 * version "ekn-checkpoint 1.N" (which only adds what 1 readers skip). */
int ekn_ckpt_open(ekn_ckpt *c, const char *path, ekn_err *err);
void ekn_ckpt_close(ekn_ckpt *c);   /* safe on a closed or zeroed handle */
const char *ekn_ckpt_path(const ekn_ckpt *c);
/* /spec parsed; messages name "PATH:/spec:LINE". */
int ekn_ckpt_read_spec(ekn_ckpt *c, ekn_spec *spec, ekn_err *err);
/* Every tensor of t (the net's, ekn_net_tensors) into theta or state at
 * its offset.  Each must exist as float32 with exactly t[i].dims, and the
 * file must hold no other tensor in /params and /buffers; otherwise one
 * line such as "'m.h5': tensor 'conv2.w' has shape [32,16,5,5], the spec
 * needs [32,32,5,5]".  state may be NULL when no tensor has state 1. */
int ekn_ckpt_read_params(ekn_ckpt *c, const ekn_net_tensor *t, int n, float *theta, float *state, ekn_err *err);
/* One trainable tensor by name ("conv1.w"), float32 of any shape, into out. */
int ekn_ckpt_read_tensor(ekn_ckpt *c, const char *name, ekn_tensor *out, ekn_err *err);
/* The optimiser's name and "key=value,..." parameters (NULL when the file
 * has none), malloc'd. */
int ekn_ckpt_read_optim_name(ekn_ckpt *c, char **name, char **params, ekn_err *err);
/* The optimiser's state (ekn_optim_load: nothing when the file holds another optimiser's). */
int ekn_ckpt_read_optim(ekn_ckpt *c, ekn_optim *o, ekn_err *err);
/* Every field checked before it is returned: counters >= 0, rates and
 * times finite (control_* NaN or finite, best_val finite or +inf,
 * loss_smooth NaN or finite), RNG states not all zero with a 0/1 spare flag;
 * otherwise one line naming the field. */
int ekn_ckpt_read_state(ekn_ckpt *c, ekn_ckpt_state *s, ekn_err *err);
/* The average ekn_ckpt_write_ema wrote: 1, or 0 when the file has none
 * (/state/ema_params absent), or -1 (another length, a non-finite value). */
int ekn_ckpt_read_ema(ekn_ckpt *c, float *theta, size_t n, float *state, size_t nstate, ekn_err *err);
/* The settings the file records: 1 with s->have telling which, 0 (s
 * zeroed) for a file without /settings (written before they were kept),
 * or -1.  Free with ekn_ckpt_settings_free. */
int ekn_ckpt_read_settings(ekn_ckpt *c, ekn_ckpt_settings *s, ekn_err *err);
void ekn_ckpt_settings_free(ekn_ckpt_settings *s);
/* The data order of n examples, checked to be a permutation of 0..n-1; an
 * error when the file has none, another length, or any other values.
 * ekn_ckpt_read_params and ekn_ckpt_read_optim also refuse non-finite values. */
int ekn_ckpt_read_perm(ekn_ckpt *c, uint32_t *perm, size_t n, ekn_err *err);

/* ekn_net_tensors(net) in a malloc'd array (*out, free it); returns the count, or -1 out of memory. */
int ekn_ckpt_net_tensors(const ekn_net *net, ekn_net_tensor **out, ekn_err *err);
#endif
