/* optim_adam: Adam and AdamW (Kingma & Ba, Algorithm 1; Loshchilov & Hutter).
 *
 *   t <- t + 1;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
 *   theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * adam adds the L2 gradient lambda d theta to g, so the decay is scaled by
 * the adaptive denominator like any gradient; adamw decouples it:
 * theta <- theta - lr lambda d theta beside the step, the same for every
 * parameter whatever its gradient history.  The bias corrections make the
 * first step lr g / (|g| + eps), about lr in every coordinate. */
#include "optim.h"

enum { P_BETA1, P_BETA2, P_EPS };

static int adam_common(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                       ekn_objective f, void *ctx, double *loss, int decoupled)
{
    o->diag.evals = 0;
    *loss = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, 0, NULL);
    double t = o->scalar[0] += 1;
    o->ops->vec->adam(o->n, theta, grad, o->state[0], o->state[1], decay, (float)h->lr, (float)h->weight_decay,
                      o->p[P_BETA1], o->p[P_BETA2], o->p[P_EPS], t, decoupled);
    return 0;
}

static int adam_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                     ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    return adam_common(o, theta, grad, decay, h, f, ctx, loss, 0);
}

static int adamw_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                      ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    return adam_common(o, theta, grad, decay, h, f, ctx, loss, 1);
}

#define ADAM_TABLE                                                                                       \
    .nstate = 2, .state_names = {"m", "v"}, .state_rows_param = {-1, -1}, .nscalar = 1,                  \
    .scalar_names = {"t"}, .nparam = 3,                                                                  \
    .params = {                                                                                          \
        {"beta1", 0.9, 0, 0.999999, 0, "decay of the gradient average"},                                 \
        {"beta2", 0.999, 0, 0.999999999, 0, "decay of the squared-gradient average"},                    \
        {"eps", 1e-8, 1e-30, 1, 0, "added to the root of the squared-gradient average"},                     \
    }

const ekn_optim_vt ekn_optim_adam = {.name = "adam", ADAM_TABLE, .step = adam_step};
const ekn_optim_vt ekn_optim_adamw = {.name = "adamw", ADAM_TABLE, .step = adamw_step};
