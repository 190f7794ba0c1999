/* optim_lbfgs: limited-memory BFGS (Nocedal & Wright, Algorithms 7.4 and
 * 7.5) with a line search for the strong Wolfe conditions (Algorithms 3.5
 * and 3.6, safeguarded cubic interpolation), several iterations per batch.
 *
 * Written here rather than taken from liblbfgs so the CUDA path can run the
 * same steps on device vectors: it needs only dot products and axpys.
 *
 * The objective is F = f + lambda/2 sum d theta^2.  The m newest pairs
 * s = theta' - theta, y = g' - g are kept in a ring (state s and y, m rows;
 * scalars count and head); each pair comes from two evaluations on the same
 * batch, so it is a true curvature sample of that batch's loss.  With
 * restart=1 (scipy's fmin_l_bfgs_b as ELEKTRONN called it) the history is
 * cleared at each new batch; restart=0 keeps it across batches. */
#include <math.h>

#include "optim.h"

enum { P_M, P_N_STEPS, P_MAX_EVALS, P_C1, P_C2, P_RESTART };
enum { S_S, S_Y };
enum { C_COUNT, C_HEAD };
enum { W_X0, W_G0, W_DIR, W_GLO };

typedef struct line {
    ekn_optim *o;
    float *theta, *grad;
    const float *decay;
    double lambda;
    ekn_objective f;
    void *ctx;
    double phi0, dphi0;
    int evals_left;
} line;

/* phi(t) = F(x0 + t dir); its slope into *dphi. */
static double phi_at(line *L, double t, double *dphi)
{
    ekn_optim *o = L->o;
    const float *dir = o->work[W_DIR];
    o->ops->vec->lincomb(o->n, L->theta, o->work[W_X0], (float)t, dir);
    L->evals_left--;
    double v = ekn_optim_eval_decayed(o, L->f, L->ctx, L->theta, L->grad, L->decay, L->lambda, NULL);
    *dphi = o->ops->vec->dot(o->n, L->grad, dir);
    return v;
}

/* Minimiser of the cubic through (a, fa, da), (b, fb, db), kept inside the
 * middle 80% of the interval; bisection when the cubic has no minimum. */
static double cubic_min(double a, double fa, double da, double b, double fb, double db)
{
    double d1 = da + db - 3 * (fa - fb) / (a - b);
    double disc = d1 * d1 - da * db;
    double lo = fmin(a, b), hi = fmax(a, b), w = hi - lo, t = NAN;
    if (disc >= 0) {
        double d2 = (b > a ? 1 : -1) * sqrt(disc);
        double den = db - da + 2 * d2;
        if (den != 0) t = b - (b - a) * (db + d2 - d1) / den;
    }
    if (!(t >= lo + 0.1 * w && t <= hi - 0.1 * w)) t = 0.5 * (a + b);
    return t;
}

typedef struct point {
    double t, phi, dphi;
} point;

/* Strong Wolfe search.  Returns the accepted step (theta and grad hold its
 * point), or 0 when no step with sufficient decrease was found in the
 * evaluations allowed (theta and grad are then undefined). */
static double wolfe_search(line *L, double t, double c1, double c2, double *phi)
{
    ekn_optim *o = L->o;
    float *glo = o->work[W_GLO];
    point prev = {0, L->phi0, L->dphi0}, lo, hi;
    int have_lo = 0; /* lo.t > 0 with its gradient in glo */
    for (int i = 0;; i++) {
        if (L->evals_left <= 0) return 0;
        point cur = {t, 0, 0};
        cur.phi = phi_at(L, t, &cur.dphi);
        if (!isfinite(cur.phi) || cur.phi > L->phi0 + c1 * t * L->dphi0 || (i > 0 && cur.phi >= prev.phi)) {
            lo = prev;
            hi = cur;
            break;
        }
        if (fabs(cur.dphi) <= -c2 * L->dphi0) {
            *phi = cur.phi;
            return t;
        }
        o->ops->copy(glo, L->grad, o->n * sizeof *glo);
        have_lo = 1;
        if (cur.dphi >= 0) {
            lo = cur;
            hi = prev;
            break;
        }
        prev = cur;
        t *= 2;
    }
    /* zoom: lo has sufficient decrease and the lowest phi so far; the
     * minimum lies between lo and hi */
    while (L->evals_left > 0) {
        double tj = isfinite(hi.phi) ? cubic_min(lo.t, lo.phi, lo.dphi, hi.t, hi.phi, hi.dphi) : 0.5 * (lo.t + hi.t);
        point cur = {tj, 0, 0};
        cur.phi = phi_at(L, tj, &cur.dphi);
        if (!isfinite(cur.phi) || cur.phi > L->phi0 + c1 * tj * L->dphi0 || cur.phi >= lo.phi) {
            hi = cur;
            continue;
        }
        if (fabs(cur.dphi) <= -c2 * L->dphi0) {
            *phi = cur.phi;
            return tj;
        }
        if (cur.dphi * (hi.t - lo.t) >= 0) hi = lo;
        lo = cur;
        o->ops->copy(glo, L->grad, o->n * sizeof *glo);
        have_lo = 1;
    }
    if (!have_lo || lo.t <= 0) return 0;
    /* out of evaluations: settle for the best point with sufficient decrease */
    o->ops->vec->lincomb(o->n, L->theta, o->work[W_X0], (float)lo.t, o->work[W_DIR]);
    o->ops->copy(L->grad, glo, o->n * sizeof *glo);
    *phi = lo.phi;
    return lo.t;
}

static float *row(ekn_optim *o, int s, int k) { return o->state[s] + (size_t)k * o->n; }

/* dir = -H g by the two-loop recursion over the stored pairs. */
static void two_loop(ekn_optim *o, const float *grad, float *dir)
{
    const size_t n = o->n;
    const ekn_vec_ops *V = o->ops->vec;
    const int m = (int)o->p[P_M], count = (int)o->scalar[C_COUNT], head = (int)o->scalar[C_HEAD];
    V->neg(n, dir, grad);
    for (int k = 0; k < count; k++) {
        int r = (head - 1 - k + 2 * m) % m;
        const float *s = row(o, S_S, r), *y = row(o, S_Y, r);
        double a = V->dot(n, s, dir) / V->dot(n, y, s);
        o->hist[k] = a;
        V->axpy(n, -(float)a, y, dir); /* dir -= a y, rounded alike */
    }
    if (count) {
        int r = (head - 1 + m) % m;
        const float *s = row(o, S_S, r), *y = row(o, S_Y, r);
        V->scale(n, dir, (float)(V->dot(n, s, y) / V->dot(n, y, y)));
    }
    for (int k = count - 1; k >= 0; k--) {
        int r = (head - 1 - k + 2 * m) % m;
        const float *s = row(o, S_S, r), *y = row(o, S_Y, r);
        double b = V->dot(n, y, dir) / V->dot(n, y, s);
        V->axpy(n, (float)(o->hist[k] - b), s, dir);
    }
}

static int lbfgs_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                      ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    const size_t n = o->n;
    const ekn_vec_ops *V = o->ops->vec;
    const int m = (int)o->p[P_M];
    float *x0 = o->work[W_X0], *g0 = o->work[W_G0], *dir = o->work[W_DIR];
    line L = {o, theta, grad, decay, h->weight_decay, f, ctx, 0, 0, 0};
    o->diag.evals = 0;
    o->diag.step_size = NAN;
    if (o->p[P_RESTART] != 0) o->scalar[C_COUNT] = o->scalar[C_HEAD] = 0;
    double F = ekn_optim_eval_decayed(o, f, ctx, theta, grad, decay, L.lambda, loss);
    for (int it = 0; it < (int)o->p[P_N_STEPS]; it++) {
        two_loop(o, grad, dir);
        double gd = V->dot(n, grad, dir);
        if (!(gd < 0)) {
            /* the history lost positive definiteness in float: forget it */
            o->scalar[C_COUNT] = o->scalar[C_HEAD] = 0;
            two_loop(o, grad, dir);
            gd = V->dot(n, grad, dir);
        }
        if (!(gd < 0)) break; /* a stationary point of the batch */
        /* without history the first trial moves theta by one unit */
        double t0 = o->scalar[C_COUNT] > 0 ? 1.0 : 1.0 / sqrt(-gd);
        o->ops->copy(x0, theta, n * sizeof *x0);
        o->ops->copy(g0, grad, n * sizeof *g0);
        L.phi0 = F;
        L.dphi0 = gd;
        L.evals_left = (int)o->p[P_MAX_EVALS];
        double t = wolfe_search(&L, t0, o->p[P_C1], o->p[P_C2], &F);
        if (t <= 0) {
            o->ops->copy(theta, x0, n * sizeof *theta);
            o->ops->copy(grad, g0, n * sizeof *grad);
            o->diag.step_size = 0;
            int had_history = o->scalar[C_COUNT] > 0;
            o->scalar[C_COUNT] = o->scalar[C_HEAD] = 0;
            if (!had_history) break;
            continue;
        }
        o->diag.step_size = t;
        int head = (int)o->scalar[C_HEAD];
        double ys_yy[2];
        V->lbfgs_pair(n, row(o, S_S, head), row(o, S_Y, head), theta, x0, grad, g0, ys_yy);
        double ys = ys_yy[0], yy = ys_yy[1];
        /* keep only pairs of positive curvature, or H stops being positive definite */
        if (ys > 1e-10 * yy && yy > 0) {
            o->scalar[C_HEAD] = (head + 1) % m;
            if (o->scalar[C_COUNT] < m) o->scalar[C_COUNT]++;
        }
    }
    return 0;
}

const ekn_optim_vt ekn_optim_lbfgs = {
    .name = "lbfgs",
    .nstate = 2,
    .state_names = {"s", "y"},
    .state_rows_param = {P_M, P_M},
    .nscalar = 2,
    .scalar_names = {"count", "head"},
    .nparam = 6,
    .params =
        {
            {"m", 10, 1, EKN_OPTIM_MAX_HISTORY, 1, "pairs of history kept"},
            {"n_steps", 4, 1, 1e6, 1, "iterations per batch"},
            {"max_evals", 20, 1, 1e6, 1, "objective evaluations per line search"},
            {"c1", 1e-4, 1e-12, 0.49, 0, "sufficient-decrease (Armijo) constant"},
            {"c2", 0.9, 0.5, 0.999999, 0, "curvature constant (strong Wolfe)"},
            {"restart", 1, 0, 1, 1, "1: the history is cleared at each batch; 0: it carries over"},
        },
    .nwork = 4,
    .step = lbfgs_step,
};
