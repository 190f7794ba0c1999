/* optim: optimisers over a flat parameter vector.
 *
 * An optimiser step gets an objective it may evaluate as often as it needs
 * on the current batch (SGD once; conjugate gradient and l-BFGS, which
 * later join this interface, several times with a line search).  Its state
 * is a few named vectors of the parameters' length, which checkpoints save
 * and restore by name, so a resumed run continues exactly.
 *
 * Weight decay: each parameter i is decayed by weight_decay * decay[i]
 * (decay[] holds the layer's multiplier for weights and 0 for biases). */
#ifndef EKN_OPTIM_H
#define EKN_OPTIM_H
#include <stddef.h>

#include "diag.h"

/* Evaluates the loss at theta and OVERWRITES grad with dL/dtheta. */
typedef double (*ekn_objective)(void *ctx, const float *theta, float *grad);

typedef struct ekn_hyper {
    double lr;
    double momentum;
    double weight_decay;
} ekn_hyper;

#define EKN_OPTIM_MAX_STATE 4

typedef struct ekn_optim ekn_optim;
typedef struct ekn_optim_vt {
    const char *name;
    int nstate;
    const char *state_names[EKN_OPTIM_MAX_STATE];
    /* One update of theta.  *loss receives the loss before the update. */
    int (*step)(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                ekn_objective f, void *ctx, double *loss, ekn_err *err);
} ekn_optim_vt;

struct ekn_optim {
    const ekn_optim_vt *vt;
    size_t n;
    float *state[EKN_OPTIM_MAX_STATE];
};

/* name: "sgd" (momentum, v <- g + mu v; theta <- theta - lr (v + lambda theta)). */
int ekn_optim_create(ekn_optim *o, const char *name, size_t n, ekn_err *err);
void ekn_optim_free(ekn_optim *o);
/* "sgd" (the names ekn-train's --optimizer accepts, '|'-separated). */
const char *ekn_optim_names(void);
#endif
