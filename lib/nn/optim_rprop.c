/* optim_rprop: iRPROP- (Igel & Huesken 2000), the per-parameter step sizes
 * of ELEKTRONN's RPROP.
 *
 * With g the gradient plus the L2 term lambda d theta and p the gradient
 * stored at the previous step, for every parameter:
 *   p g > 0   step <- min(step eta_plus, delta_max), theta -= sign(g) step
 *   p g < 0   step <- max(step eta_minus, delta_min), no move, store g = 0
 *   p g = 0   theta -= sign(g) step
 * and p <- g.  Storing 0 after a sign change is what makes it iRPROP-: the
 * next step moves with the shrunken size whatever the sign, instead of
 * shrinking again.  Only signs matter, so lr is not used. */
#include "optim.h"

enum { P_ETA_PLUS, P_ETA_MINUS, P_DELTA_MIN, P_DELTA_MAX, P_DELTA0 };

static int rprop_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                      ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    o->diag.evals = 0;
    *loss = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, 0, NULL);
    o->ops->vec->rprop(o->n, theta, grad, o->state[0], o->state[1], decay, (float)h->weight_decay,
                       o->p[P_ETA_PLUS], o->p[P_ETA_MINUS], o->p[P_DELTA_MIN], o->p[P_DELTA_MAX], o->p[P_DELTA0],
                       &o->diag.step_size);
    return 0;
}

const ekn_optim_vt ekn_optim_rprop = {
    .name = "rprop",
    .nstate = 2,
    .state_names = {"prev_grad", "step"},
    .state_rows_param = {-1, -1},
    .nparam = 5,
    .params =
        {
            {"eta_plus", 1.2, 1, 10, 0, "step growth while the gradient's sign holds"},
            {"eta_minus", 0.65, 1e-6, 1, 0, "step shrinkage when it flips"},
            {"delta_min", 1e-7, 1e-30, 1e6, 0, "smallest step"},
            {"delta_max", 2e-3, 1e-30, 1e6, 0, "largest step"},
            {"delta0", 1e-4, 1e-30, 1e6, 0, "first step (clamped to the bounds)"},
        },
    .step = rprop_step,
};
