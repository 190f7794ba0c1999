/* train: the training loop behind ekn-train.
 *
 * A training file is held in memory (lib/data/dataset.h) and batches are drawn
 * by the trainer's own seeded RNG streams: img-scalar and vect-scalar walk
 * a permutation reshuffled every epoch; img-img samples a random example
 * and a random patch of the net's input shape, with the label patch taken
 * at the net's offset and stride.  Everything that decides the next step
 * (parameters, optimiser state, RNG states, permutation and position,
 * schedule state) is saved in checkpoints, so a resumed run ends
 * bit-identical to an uninterrupted one.
 *
 * A pipe (e.g. from ekn-batch | ekn-augment) is streamed instead: examples
 * are taken in the order they come, record group by record group, and the
 * run ends with the stream.  The producer then owns shuffling and epochs,
 * and a resumed run continues with whatever the pipe delivers.  A group of
 * ekn-batch's (batch= metadata) is one step as it comes, trained on where
 * it was read (no copy into the batch, no second patch sampling), and must
 * not hold more than cfg.batch examples; other groups are cut into batches
 * of cfg.batch.
 *
 * Log (TSV, one row per logged step; documented in ekn-train(1)):
 *   step epoch time examples_per_s loss loss_smooth loss_after gain lr momentum
 *   mean_label train_err val_loss val_err step_size beta evals
 * Unmeasured values are written as "nan". */
#ifndef EKN_TRAIN_H
#define EKN_TRAIN_H
#include <stdint.h>
#include <stdio.h>

#include "control.h"
#include "dataset.h"
#include "dataset_dev.h"
#include "device_opts.h"
#include "net.h"
#include "optim.h"
#include "rng.h"
#include "schedule.h"
#include "spec.h"

#define EKN_MAX_SCHEDULE 64
#define EKN_MAX_CLASSES 1024

typedef struct ekn_schedule {
    int n;
    int64_t step[EKN_MAX_SCHEDULE];
    double value[EKN_MAX_SCHEDULE];
} ekn_schedule;

enum { EKN_MONITOR_LOSS = 0, EKN_MONITOR_ERROR = 1 }; /* --monitor val_loss|val_error */

typedef enum ekn_input_mode { EKN_INPUT_AUTO, EKN_INPUT_MEMORY, EKN_INPUT_STREAM } ekn_input_mode;

typedef struct ekn_train_config {
    const char *spec_path;    /* NULL with resume: the checkpoint's spec */
    const char *train_path;   /* "-" for stdin */
    const char *val_path;     /* NULL: no validation */
    const char *save_path;    /* checkpoint file */
    const char *resume_path;
    const char *log_path;     /* NULL: no log */
    const char *control_path; /* NULL: no control file */
    const char *optimizer;
    ekn_input_mode input_mode; /* auto: stream pipes, FIFOs and terminals; hold regular files in memory */
    const char *optimizer_params; /* "key=value,..." or NULL (ekn_optim_create) */
    int patch[3];             /* img-img input patch (Z,Y,X); 0 = from the spec or the data */
    long batch;
    int64_t steps, epochs;    /* stop after whichever comes first (0 = unset) */
    double max_time;          /* seconds, 0 = unset */
    double lr, momentum, weight_decay;
    ekn_schedule lr_schedule, momentum_schedule;
    double lr_decay;          /* multiply lr by this every lr_decay_every steps (1 = off) */
    /* the rate's shape over the budget (schedule.h): EKN_SHAPE_CONSTANT
     * (--lr-schedule, --lr-decay apply), _COSINE or _ONECYCLE; --warmup
     * steps (0: none); the floor both end at; onecycle's rising fraction,
     * start divisor and momentum at the peak rate (--momentum is its top) */
    int lr_shape;
    int64_t warmup;
    double lr_floor, onecycle_pct, onecycle_div, onecycle_momentum;
    /* --ema: an exponential moving average of the parameters (and the
     * norm layers' running statistics) with this decay in [0, 1), updated
     * after every step and saved as FILE-ema.h5 (ekn_train_ema_path) */
    int ema_on;
    double ema;
    /* --average K: the parameters (and running statistics) of each
     * --save-every checkpoint are kept, the last K of them, and their mean
     * is saved as FILE-avg.h5 (ekn_train_avg_path) at each save (0: off) */
    int64_t average;
    int64_t lr_decay_every;
    int plateau_patience;     /* validations without improvement before lr *= plateau_factor (0 = off) */
    int64_t early_stop;       /* stop after this many validations without a better monitored value (0 = off) */
    int monitor;              /* what validation improves: EKN_MONITOR_LOSS or EKN_MONITOR_ERROR */
    double plateau_factor;
    int nclass_weights;
    float class_weights[EKN_MAX_CLASSES];
    uint64_t seed;
    int64_t log_every, val_every, save_every, gain_every;
    long val_examples;        /* 0 = all (img-img: number of fixed patches) */
    int stop_on_nan;
    double max_memory;        /* --max-memory in bytes; 0: the host's available memory (memlimit.h) */
    const ekn_ops *ops;       /* where to compute: NULL = ekn_ops_default() (the CPU); ekn_ops_cuda() for a GPU */
    /* With resume_path: whether the option of this long name ("lr") was
     * given; a given one overrides the checkpoint's setting (one line on
     * stderr when they differ), the others are restored from it (ckpt.h,
     * /settings).  NULL: all count as given.  ekn-train: ekn_opt_given. */
    int (*given)(const char *option);
} ekn_train_config;

typedef struct ekn_trainer {
    ekn_train_config cfg;
    ekn_spec spec;
    ekn_net net;
    ekn_optim opt;
    ekn_dataset train, val;   /* streaming: train holds the current record group */
    int streaming;
    ekn_dataset_reader feed;
    size_t feed_pos;          /* next example of the current group */
    ekn_rng rng_data, rng_train;
    ekn_rng rng_step;         /* rng_train as the step began: its evaluations all replay it */
    uint32_t *perm;
    uint64_t perm_pos;
    int64_t step, epoch;
    double lr, momentum;      /* current values (schedules and live control change them) */
    double lr_scale;          /* product of plateau reductions and decays */
    double control_lr, control_momentum; /* set through the control file (NaN: never) */
    double best_val;
    int plateau_count;
    /* the best validation of the monitored value (cfg.monitor): its value
     * (inf before the first), step, and validations since; with --val the
     * checkpoint of that step is kept as well (ekn_train_best_path) */
    double best_metric;
    int64_t best_step, since_best;
    int log_best;             /* the log has the 'best' column (a log appended to may predate it) */
    unsigned long restored;   /* EKN_SET_X bits (ckpt.h) the checkpoint's settings changed in cfg */
    double loss_smooth;
    double elapsed_before;    /* seconds trained before this run (resume) */
    double run_start;         /* ekn_now() when this run started, 0 outside a run */
    /* The step's examples.  batch is allocated once for cfg.batch examples
     * of the net's input and output (labels per output voxel in img-img);
     * cur is the batch, or a streamed group of ekn-batch's that is trained
     * on as it is (&train, no copy); dev mirrors cur in the ops table's
     * memory (cur's own arrays on the CPU, one upload per array on a GPU). */
    ekn_dataset batch;
    const ekn_dataset *cur;
    ekn_dataset_dev dev;
    int cur_n;                /* examples in the current batch */
    /* in the ops table's memory: gradients, class weights */
    float *dout, *gtmp, *dev_cw;
    float *dev_pw, *host_pw;  /* bce's pos_weight per channel (NULL when it is 1), there and on the host */
    float *host_out;          /* GPU: a batch of outputs on the host (validation's confusion counts) */
    ekn_dataset val_patches;  /* img-img: fixed validation patches */
    const ekn_dataset *val_set; /* what validation scores: val or val_patches */
    size_t val_n;
    double mean_label;
    long correct, counted;    /* of the current batch */
    FILE *log;
    ekn_control control;      /* cfg.control_path, polled before each step */
    /* --ema: the average of theta and of the net's state, in the ops
     * table's memory (NULL: off; ema_state NULL when nstate is 0), and
     * their host copies for checkpoints (the same arrays on the host) */
    float *ema_theta, *ema_state, *ema_host_theta, *ema_host_state;
    /* --average: avg_n snapshots of avg_width floats (theta, then state),
     * oldest first, room for cfg.average; avg_mean one row for the mean */
    float *avg_rows, *avg_mean;
    size_t avg_n, avg_width;
    volatile int *stop_flag;  /* set by signal handlers in the command */
    volatile int *save_flag;
    /* A data-parallel run (lib/core/dist.h; ekn-train(1), DISTRIBUTED
     * TRAINING): this process is rank `rank` of `nranks`, all with the same
     * net, optimiser and (data in memory) the same global batch of
     * cfg.batch, of which this rank takes [slice_lo, slice_hi).  step_n:
     * the step's examples over all ranks; label_sum, label_cnt: this rank's
     * share of mean_label; rng_rank: this rank's dropout and noise, drawn
     * from rng_train every step (rng_rank_step replays it in a step's
     * evaluations); host_grad: a device net's gradient on the host for the
     * reduction.  With one rank none of this is used. */
    int rank, nranks;
    size_t slice_lo, slice_hi;
    double step_n, label_sum, label_cnt;
    ekn_rng rng_rank, rng_rank_step;
    float *host_grad;
    ekn_err dist_err;         /* a failed reduction inside the objective (code 0: none) */
    double dist_seconds;      /* this run's time in the gradient's reduction (ekn-train -v reports its share) */
} ekn_trainer;

int ekn_trainer_init(ekn_trainer *tr, const ekn_train_config *cfg, ekn_err *err);
/* Runs until a stop condition; returns 0, or -1 (NaN loss, I/O failure). */
int ekn_trainer_run(ekn_trainer *tr, ekn_err *err);
/* Writes the checkpoint cfg.save_path (ckpt.h) atomically. */
int ekn_trainer_save(ekn_trainer *tr, ekn_err *err);
/* The best validation's checkpoint beside save_path: "model.h5" ->
 * "model-best.h5" ("-best" before a final ".h5", else appended). */
void ekn_train_best_path(const char *save_path, char *buf, size_t cap);
/* --ema's model beside save_path: "model.h5" -> "model-ema.h5" (as the best's). */
void ekn_train_ema_path(const char *save_path, char *buf, size_t cap);
/* --average's model: "model.h5" -> "model-avg.h5". */
void ekn_train_avg_path(const char *save_path, char *buf, size_t cap);
void ekn_trainer_free(ekn_trainer *tr);

/* The run's budget as ekn_trainer_run measures it: --steps, or --epochs
 * in steps (the smaller of both), 0 when neither. */
int64_t ekn_trainer_max_steps(const ekn_trainer *tr);
/* Checks that the rate's settings agree (--lr-shape with --lr-schedule,
 * --lr-decay, --warmup, --momentum-schedule, a budget, --lr-floor below
 * --lr, --onecycle-momentum below --momentum); EKN_EXIT_USAGE otherwise. */
int ekn_train_check_shape(const ekn_train_config *c, ekn_err *err);

/* "0:0.1,1000:0.01" -> schedule sorted by step; duplicate steps are an error. */
int ekn_schedule_parse(ekn_schedule *s, const char *text, const char *what, ekn_err *err);
double ekn_schedule_at(const ekn_schedule *s, int64_t step, double fallback);

/* ---- ekn-train's command line (train_opts.c) -------------------------------
 * The option table fills c directly and the texts below as given;
 * ekn_train_opts_resolve turns the texts into c. */
typedef struct ekn_train_opts {
    ekn_train_config c;
    const char *input;             /* --input: auto|memory|stream */
    ekn_zyx patch;                 /* --patch: right-aligned, the leading axes 1 */
    const char *lr_schedule, *momentum_schedule, *class_weights;
    const char *monitor;           /* --monitor: val_loss|val_error */
    const char *lr_shape;          /* --lr-shape: constant|cosine|onecycle */
    int optimizer_given;           /* without --optimizer a resumed run keeps the checkpoint's */
    int ema_given;                 /* --ema appeared: c.ema_on */
    double max_mib;                /* --max-memory, MiB (0: not given) */
    ekn_device_opts dev;           /* applied by the command (ekn_device_opts_apply) */
} ekn_train_opts;

/* Checks the texts and fills o->c: the optimiser (NULL for a resume
 * without --optimizer) after a probe of its --opt-param, the input mode,
 * the patch, both schedules and the class weights.  Errors are
 * EKN_EXIT_USAGE: "--momentum-schedule values must be below 1, you specified 1". */
int ekn_train_opts_resolve(ekn_train_opts *o, ekn_err *err);

#endif
