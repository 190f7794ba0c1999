/* optim_cg: nonlinear conjugate gradient, Polak-Ribiere with beta clipped
 * at 0 (PR+), several iterations on each batch, each with ELEKTRONN's
 * bounded backtracking line search.
 *
 * Iteration k on the objective F = f + lambda/2 sum d theta^2:
 *   beta = max(0, g.(g - g_prev) / g_prev.g_prev),  dir = -g + beta dir
 * (dir = -g on the first iteration, after a failed search, when dir is not
 * a descent direction, and on every new batch unless restart=0).  The search
 * tries t = max_step, max_step beta_ls, ... down to min_step and takes the
 * first t with F(theta + t dir) <= F + alpha t g.dir (Armijo).  When none
 * qualifies the iterate stays where it was: the batch's loss never rises.
 * The step along dir is not normalised, so max_step acts as a rate. */
#include <math.h>

#include "optim.h"

enum { P_ALPHA, P_BETA, P_MAX_STEP, P_MIN_STEP, P_N_STEPS, P_RESTART };
enum { S_DIR, S_PREV_GRAD };
enum { C_HAVE_DIR };

static int cg_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                   ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    const size_t n = o->n;
    const ekn_vec_ops *V = o->ops->vec;
    float *dir = o->state[S_DIR], *gp = o->state[S_PREV_GRAD], *x0 = o->work[0];
    const double alpha = o->p[P_ALPHA], shrink = o->p[P_BETA], tmax = o->p[P_MAX_STEP], tmin = o->p[P_MIN_STEP];
    const double lambda = h->weight_decay;
    /* trials t = tmax shrink^k, k = 0..tries-1, all >= tmin */
    int tries = tmin < tmax ? 1 + (int)floor(log(tmin / tmax) / log(shrink) + 1e-9) : 1;
    o->diag.evals = 0;
    o->diag.beta = o->diag.step_size = NAN;
    double F = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, lambda, loss);
    int steepest = o->p[P_RESTART] != 0 || o->scalar[C_HAVE_DIR] == 0;
    for (int it = 0; it < (int)o->p[P_N_STEPS]; it++) {
        double beta = 0;
        if (!steepest) {
            double gg = V->dot(n, gp, gp), num = V->pr_numerator(n, grad, gp);
            beta = gg > 0 ? fmax(0, num / gg) : 0;
        }
        if (steepest)
            V->neg(n, dir, grad);
        else
            V->cg_direction(n, dir, grad, (float)beta);
        double gd = V->dot(n, grad, dir);
        if (!(gd < 0)) {
            /* not a descent direction: restart along -g */
            beta = 0;
            V->neg(n, dir, grad);
            gd = -V->dot(n, grad, grad);
            steepest = 1;
        }
        o->diag.beta = beta;
        if (gd == 0) break; /* a stationary point of the batch */
        o->ops->copy(gp, grad, n * sizeof *gp);
        o->ops->copy(x0, theta, n * sizeof *x0);
        o->scalar[C_HAVE_DIR] = 1;
        double t = tmax;
        int ok = 0;
        for (int k = 0; k < tries; k++, t *= shrink) {
            V->lincomb(n, theta, x0, (float)t, dir);
            double Ft = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, lambda, NULL);
            if (Ft <= F + alpha * t * gd) {
                F = Ft;
                ok = 1;
                break;
            }
        }
        if (!ok) {
            o->ops->copy(theta, x0, n * sizeof *theta);
            o->ops->copy(grad, gp, n * sizeof *grad);
            o->diag.step_size = 0;
            o->scalar[C_HAVE_DIR] = 0;
            if (steepest) break; /* even -g gains nothing at min_step */
            steepest = 1;
            continue;
        }
        o->diag.step_size = t;
        steepest = 0;
    }
    return 0;
}

const ekn_optim_vt ekn_optim_cg = {
    .name = "cg",
    .nstate = 2,
    .state_names = {"direction", "prev_grad"},
    .state_rows_param = {-1, -1},
    .nscalar = 1,
    .scalar_names = {"have_direction"},
    .nparam = 6,
    .params =
        {
            {"alpha", 0.35, 1e-9, 0.999, 0, "Armijo constant: the decrease asked for, relative to the linear model"},
            {"beta", 0.75, 0.01, 0.99, 0, "line-search step shrinkage"},
            {"max_step", 0.02, 1e-30, 1e30, 0, "first (largest) step along the direction"},
            {"min_step", 8e-5, 1e-30, 1e30, 0, "smallest step tried"},
            {"n_steps", 4, 1, 1e6, 1, "CG iterations per batch"},
            {"restart", 1, 0, 1, 1, "1: each batch starts along -g; 0: the direction carries over"},
        },
    .nwork = 1,
    .step = cg_step,
};
