/* optim_sgd: momentum SGD (ELEKTRONN's form) and Nesterov momentum.
 *
 *   sgd       v <- g + mu v;  theta <- theta - lr (v + lambda d theta)
 *   nesterov  v <- g + mu v;  theta <- theta - lr (g + mu v + lambda d theta)
 *
 * The Nesterov form is the one of Sutskever et al. as PyTorch writes it:
 * the gradient at the look-ahead point, expressed with the gradient at the
 * current point, so one evaluation per step suffices.  Weight decay stays
 * outside the velocity, as in ELEKTRONN. */
#include "optim.h"

static int momentum_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                         ekn_objective f, void *ctx, double *loss, int nesterov)
{
    o->diag.evals = 0;
    *loss = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, 0, NULL);
    o->ops->vec->sgd(o->n, theta, grad, o->state[0], decay, (float)h->lr, (float)h->momentum,
                     (float)h->weight_decay, nesterov);
    return 0;
}

static int sgd_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                    ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    return momentum_step(o, theta, grad, decay, h, f, ctx, loss, 0);
}

static int nesterov_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                         ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    return momentum_step(o, theta, grad, decay, h, f, ctx, loss, 1);
}

const ekn_optim_vt ekn_optim_sgd = {
    .name = "sgd", .nstate = 1, .state_names = {"velocity"}, .state_rows_param = {-1}, .step = sgd_step};
const ekn_optim_vt ekn_optim_nesterov = {
    .name = "nesterov", .nstate = 1, .state_names = {"velocity"}, .state_rows_param = {-1}, .step = nesterov_step};
