/* optim: optimisers over a flat parameter vector.
 *
 * An optimiser step gets an objective it may evaluate as often as it needs
 * on the current batch: SGD, Nesterov, RPROP and Adam once, conjugate
 * gradient and l-BFGS several times, with a line search.  The objective
 * writes the loss gradient into grad and may share its storage for theta
 * (ekn-train passes the net's own parameter vector), so a step evaluates
 * trial points in theta itself and leaves the accepted point there.
 *
 * State is a few named float vectors (rows x n, n the number of parameters)
 * and a few named double scalars (Adam's step count, l-BFGS's history
 * position), which checkpoints save and restore by name, so a resumed run
 * continues bit-identically.  Scratch space is allocated at create: a step
 * never allocates (the CUDA path will need the same discipline).
 *
 * Hyperparameters: lr, momentum and weight decay come with every step (the
 * trainer's schedules and live control change them); the rest are fixed at
 * create from "key=value,..." text, each with ELEKTRONN's default where it
 * had one (the table in each optimiser's file and ekn-train(1)).
 *
 * Memory: an optimiser works in the memory of the ops table it was created
 * on (lib/core/ops.h): theta, grad, decay and the state and work vectors are host
 * arrays for the cpu and ref tables and device arrays for cuda, and every
 * vector operation of a step goes through ops->vec (kernels/vec.h).  The
 * objective gets theta and grad in that memory too.  Only scalars live on
 * the host (o->scalar, o->hist, the hyperparameters); parameters leave the
 * device only through ekn_optim_save.  With a device table, ask
 * ekn_cuda_last_error() after a step: the vector operations record their
 * failures there.
 *
 * Weight decay: parameter i is decayed by lambda * decay[i] (decay[] holds
 * the layer's multiplier for weights and 0 for biases).  How it enters
 * differs by optimiser and is documented in ekn-train(1):
 *   sgd, nesterov  theta -= lr (v + lambda d theta), outside the momentum
 *   rprop, adam    the L2 gradient lambda d theta is added to g
 *   cg, lbfgs      the objective is f + lambda/2 sum d theta^2
 *   adamw          decoupled: theta -= lr lambda d theta beside the Adam step */
#ifndef EKN_OPTIM_H
#define EKN_OPTIM_H
#include <stddef.h>

#include "diag.h"
#include "ops.h"
#include "vec.h"

/* Evaluates the loss at theta and OVERWRITES grad with dL/dtheta (both in
 * the memory of the optimiser's ops table). */
typedef double (*ekn_objective)(void *ctx, const float *theta, float *grad);

typedef struct ekn_hyper {
    double lr;
    double momentum;
    double weight_decay;
} ekn_hyper;

#define EKN_OPTIM_MAX_STATE 4
#define EKN_OPTIM_MAX_SCALAR 4
#define EKN_OPTIM_MAX_PARAM 10
#define EKN_OPTIM_MAX_WORK 4
#define EKN_OPTIM_MAX_HISTORY 64 /* l-BFGS pairs */

/* A fixed hyperparameter, settable as key=value. */
typedef struct ekn_optim_param {
    const char *key;
    double def, min, max; /* value in [min, max] */
    int integer;
    const char *help;
} ekn_optim_param;

/* What the last step did, for the training log ("nan" where not applicable). */
typedef struct ekn_optim_diag {
    double step_size; /* accepted line-search step (cg, lbfgs; last iteration) or mean RPROP step */
    double beta;      /* Polak-Ribiere beta of the last cg iteration */
    long evals;       /* objective evaluations in the step */
} ekn_optim_diag;

typedef struct ekn_optim ekn_optim;
typedef struct ekn_optim_vt {
    const char *name;
    int nstate;
    const char *state_names[EKN_OPTIM_MAX_STATE];
    int state_rows_param[EKN_OPTIM_MAX_STATE]; /* index of the param giving the rows, or -1 for 1 row */
    int nscalar;
    const char *scalar_names[EKN_OPTIM_MAX_SCALAR];
    int nparam;
    ekn_optim_param params[EKN_OPTIM_MAX_PARAM];
    int nwork; /* scratch vectors of n floats */
    /* One update of theta.  *loss receives the loss before the update (the
     * data loss, without the weight-decay term). */
    int (*step)(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                ekn_objective f, void *ctx, double *loss, ekn_err *err);
} ekn_optim_vt;

struct ekn_optim {
    const ekn_optim_vt *vt;
    const ekn_ops *ops; /* whose memory state and work are in, whose vec does the steps */
    size_t n;
    float *state[EKN_OPTIM_MAX_STATE]; /* ops memory */
    size_t state_rows[EKN_OPTIM_MAX_STATE];
    double scalar[EKN_OPTIM_MAX_SCALAR];
    double p[EKN_OPTIM_MAX_PARAM]; /* the vt's params, in its order */
    float *work[EKN_OPTIM_MAX_WORK];      /* ops memory */
    double hist[EKN_OPTIM_MAX_HISTORY]; /* host scratch of the l-BFGS two-loop recursion */
    ekn_optim_diag diag;
};

/* name: one of ekn_optim_names(); params: "key=value,..." or NULL for the
 * defaults.  Unknown names and keys and out-of-range values are usage
 * errors (EKN_EXIT_USAGE) naming what is valid.  State starts at zero, in
 * ops's memory; when that runs out, EKN_EXIT_FAIL naming the bytes.
 * ekn_optim_create is ekn_optim_create_on with ekn_ops_cpu(). */
int ekn_optim_create_on(ekn_optim *o, const char *name, size_t n, const char *params, const ekn_ops *ops,
                        ekn_err *err);
int ekn_optim_create(ekn_optim *o, const char *name, size_t n, const char *params, ekn_err *err);
/* The bytes of state and work vectors ekn_optim_create_on(name, n, params)
 * would allocate, by the same code, allocating nothing: 0, or its usage
 * errors. */
int ekn_optim_bytes(const char *name, size_t n, const char *params, double *bytes, ekn_err *err);
void ekn_optim_free(ekn_optim *o);
/* "sgd|nesterov|rprop|cg|lbfgs|adam|adamw" (what --optimizer accepts). */
const char *ekn_optim_names(void);
/* Value of a parameter by key (NaN if the optimiser has none of that name). */
double ekn_optim_param_value(const ekn_optim *o, const char *key);

/* ---- in checkpoints: implemented in ckpt.c, the format's home ------------ */

/* "key=value,..." of every parameter's current value (/optimizer/params);
 * returns the length. */
int ekn_optim_describe(const ekn_optim *o, char *buf, size_t cap);

/* Checkpoints (HDF5, lib/core/h5.h; ekn-checkpoint(5)): /optimizer/name,
 * /optimizer/params, one dataset per state vector and scalar, by name.
 * State goes through a host buffer allocated here (ops->download,
 * ops->upload), so the file is the same whichever table wrote it, and loads
 * into any.  Loading a checkpoint written by another optimiser leaves this
 * one's fresh state: that is how a run switches optimiser.  Commands reach
 * these through ekn_ckpt_write_optim and ekn_ckpt_read_optim (ckpt.h). */
struct ekn_h5;
int ekn_optim_save(const ekn_optim *o, struct ekn_h5 *h, ekn_err *err);
int ekn_optim_load(ekn_optim *o, struct ekn_h5 *h, ekn_err *err);

/* ---- for the optimisers' own files (optim_*.c) --------------------------- */

extern const ekn_optim_vt ekn_optim_sgd, ekn_optim_nesterov, ekn_optim_rprop, ekn_optim_cg, ekn_optim_lbfgs,
    ekn_optim_adam, ekn_optim_adamw;

/* f plus lambda/2 sum d theta^2, with lambda d theta added to grad (through
 * o->ops->vec); counts the evaluation in o->diag.evals and stores the data
 * loss in *data_loss when it is not NULL. */
double ekn_optim_eval_decayed(ekn_optim *o, ekn_objective f, void *ctx, const float *theta, float *grad,
                              const float *decay, double lambda, double *data_loss);
/* sum a[i] b[i] of HOST arrays, accumulated in double (the tests' oracle;
 * steps use o->ops->vec->dot) */
double ekn_optim_dot(const float *a, const float *b, size_t n);
#endif
