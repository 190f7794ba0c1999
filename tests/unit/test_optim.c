/* The optimisers of lib/optim*.c against closed forms and known optima:
 * parameter parsing; iRPROP- and Adam's first steps by hand; a quadratic
 * with a known minimum (every optimiser); Rosenbrock from (-1.2, 1); an
 * L2-regularised logistic regression whose optimum Newton's method finds
 * in double here; the weight-decay rule of each optimiser; and the state's
 * round trip through a checkpoint (a resumed run continues bit-identically).
 * Set EKN_TEST_SEED to replay a run; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5.h"
#include "optim.h"
#include "testutil.h"

static const char *const NAMES[] = {"sgd", "nesterov", "rprop", "cg", "lbfgs", "adam", "adamw"};
#define NOPT (sizeof NAMES / sizeof *NAMES)

/* ---- objectives ---------------------------------------------------------- */

/* 0.5 sum a_i (x_i - c_i)^2 */
typedef struct quad {
    size_t n;
    const double *a, *c;
    long calls;
} quad;

static double quad_f(void *ctx, const float *theta, float *grad)
{
    quad *q = ctx;
    double f = 0;
    q->calls++;
    for (size_t i = 0; i < q->n; i++) {
        double e = (double)theta[i] - q->c[i];
        f += 0.5 * q->a[i] * e * e;
        grad[i] = (float)(q->a[i] * e);
    }
    return f;
}

static long rosen_calls;
static double rosen_f(void *ctx, const float *th, float *grad)
{
    (void)ctx;
    rosen_calls++;
    double x = th[0], y = th[1];
    grad[0] = (float)(-2 * (1 - x) - 400 * x * (y - x * x));
    grad[1] = (float)(200 * (y - x * x));
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

/* Logistic regression: mean log-loss of N examples of D features plus a
 * bias, plus mu/2 |w|^2 when reg is set (the bias is never regularised). */
enum { LR_N = 200, LR_D = 4, LR_P = LR_D + 1 };
typedef struct logreg {
    double x[LR_N][LR_D];
    int y[LR_N];
    double mu;
    int reg;
} logreg;

static double logreg_fd(const logreg *L, const double *th, double *g, double H[LR_P][LR_P])
{
    double f = 0;
    for (int k = 0; k < LR_P; k++) g[k] = 0;
    if (H) memset(H, 0, sizeof(double) * LR_P * LR_P);
    for (int i = 0; i < LR_N; i++) {
        double z = th[LR_D];
        for (int k = 0; k < LR_D; k++) z += th[k] * L->x[i][k];
        /* log(1 + e^z) - y z, stably */
        f += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - L->y[i] * z;
        double p = 1 / (1 + exp(-z)), r = p - L->y[i];
        for (int k = 0; k <= LR_D; k++) {
            double xk = k < LR_D ? L->x[i][k] : 1;
            g[k] += r * xk;
            if (H)
                for (int j = 0; j <= LR_D; j++) H[k][j] += p * (1 - p) * xk * (j < LR_D ? L->x[i][j] : 1);
        }
    }
    f /= LR_N;
    for (int k = 0; k < LR_P; k++) g[k] /= LR_N;
    if (H)
        for (int k = 0; k < LR_P; k++)
            for (int j = 0; j < LR_P; j++) H[k][j] /= LR_N;
    if (L->reg)
        for (int k = 0; k < LR_D; k++) {
            f += 0.5 * L->mu * th[k] * th[k];
            g[k] += L->mu * th[k];
            if (H) H[k][k] += L->mu;
        }
    return f;
}

static double logreg_f(void *ctx, const float *theta, float *grad)
{
    double th[LR_P], g[LR_P];
    for (int k = 0; k < LR_P; k++) th[k] = theta[k];
    double f = logreg_fd(ctx, th, g, NULL);
    for (int k = 0; k < LR_P; k++) grad[k] = (float)g[k];
    return f;
}

/* Labels from a noisy linear rule, so the classes overlap and the optimum is finite. */
static void logreg_make(logreg *L, uint64_t *seed)
{
    const double w[LR_D] = {1.5, -2.0, 0.5, 0.0};
    for (int i = 0; i < LR_N; i++) {
        float u[LR_D + 1];
        tu_fill(seed, u, LR_D + 1, -1, 1);
        double z = -0.3;
        for (int k = 0; k < LR_D; k++) z += w[k] * (L->x[i][k] = 2 * u[k]);
        L->y[i] = z + 2.5 * u[LR_D] > 0;
    }
    L->mu = 0.01;
    L->reg = 1;
}

/* Newton's method in double; returns |grad| at the end. */
static double logreg_newton(const logreg *L, double *th)
{
    double g[LR_P], H[LR_P][LR_P];
    for (int k = 0; k < LR_P; k++) th[k] = 0;
    for (int it = 0; it < 50; it++) {
        logreg_fd(L, th, g, H);
        /* solve H d = g by Gaussian elimination (H is symmetric positive definite) */
        double A[LR_P][LR_P + 1];
        for (int r = 0; r < LR_P; r++) {
            for (int c = 0; c < LR_P; c++) A[r][c] = H[r][c];
            A[r][LR_P] = g[r];
        }
        for (int c = 0; c < LR_P; c++)
            for (int r = c + 1; r < LR_P; r++) {
                double m = A[r][c] / A[c][c];
                for (int k = c; k <= LR_P; k++) A[r][k] -= m * A[c][k];
            }
        double d[LR_P];
        for (int r = LR_P - 1; r >= 0; r--) {
            double s = A[r][LR_P];
            for (int k = r + 1; k < LR_P; k++) s -= A[r][k] * d[k];
            d[r] = s / A[r][r];
        }
        for (int k = 0; k < LR_P; k++) th[k] -= d[k];
    }
    logreg_fd(L, th, g, NULL);
    double gn = 0;
    for (int k = 0; k < LR_P; k++) gn += g[k] * g[k];
    return sqrt(gn);
}

/* ---- a driver ------------------------------------------------------------ */

typedef struct run_cfg {
    const char *name, *params;
    double lr, mu, wd;
    int steps;
} run_cfg;

/* Runs steps of an optimiser; returns the objective evaluations used until
 * max |theta - target| <= tol first held after a step (or -1), and the final
 * max error in *final_err. */
static long run(const run_cfg *r, ekn_objective f, void *ctx, long *calls, float *theta, const float *decay,
                size_t n, const double *target, double tol, double *final_err)
{
    ekn_optim o;
    ekn_err err = {0};
    if (ekn_optim_create(&o, r->name, n, r->params, &err)) fprintf(stderr, "%s\n", err.msg);
    assert_non_null(o.vt);
    float *grad = tu_alloc(n);
    ekn_hyper h = {r->lr, r->mu, r->wd};
    long reached = -1;
    double e = INFINITY;
    *calls = 0;
    for (int k = 0; k < r->steps; k++) {
        double loss;
        assert_int_equal(o.vt->step(&o, theta, grad, decay, &h, f, ctx, &loss, &err), 0);
        assert_true(isfinite(loss));
        *calls += o.diag.evals;
        e = 0;
        for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)theta[i] - target[i]));
        if (e <= tol && reached < 0) reached = *calls;
    }
    *final_err = e;
    free(grad);
    ekn_optim_free(&o);
    return reached;
}

/* ---- parameters ------------------------------------------------------------ */

static void expect_usage(const char *name, const char *params, const char *needle)
{
    ekn_optim o;
    ekn_err err = {0};
    int rc = ekn_optim_create(&o, name, 3, params, &err);
    fprintf(stderr, "%s '%s': %s\n", name, params ? params : "(null)", err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_null(strchr(err.msg, '\n'));
    assert_non_null(strstr(err.msg, needle));
    assert_null(o.vt);
}

static void test_params(void **state)
{
    (void)state;
    ekn_optim o;
    ekn_err err = {0};
    for (size_t k = 0; k < NOPT; k++) {
        assert_non_null(strstr(ekn_optim_names(), NAMES[k]));
        assert_int_equal(ekn_optim_create(&o, NAMES[k], 7, NULL, &err), 0);
        assert_string_equal(o.vt->name, NAMES[k]);
        for (int s = 0; s < o.vt->nstate; s++)
            for (size_t i = 0; i < 7 * o.state_rows[s]; i++) assert_true(o.state[s][i] == 0.0f);
        ekn_optim_free(&o);
    }
    /* ELEKTRONN's defaults */
    assert_int_equal(ekn_optim_create(&o, "cg", 4, NULL, &err), 0);
    assert_true(ekn_optim_param_value(&o, "alpha") == 0.35 && ekn_optim_param_value(&o, "beta") == 0.75);
    assert_true(ekn_optim_param_value(&o, "max_step") == 0.02 && ekn_optim_param_value(&o, "min_step") == 8e-5);
    assert_true(ekn_optim_param_value(&o, "n_steps") == 4);
    assert_true(isnan(ekn_optim_param_value(&o, "m")));
    ekn_optim_free(&o);
    assert_int_equal(ekn_optim_create(&o, "rprop", 4, NULL, &err), 0);
    assert_true(ekn_optim_param_value(&o, "eta_plus") == 1.2 && ekn_optim_param_value(&o, "eta_minus") == 0.65);
    assert_true(ekn_optim_param_value(&o, "delta_min") == 1e-7 && ekn_optim_param_value(&o, "delta_max") == 2e-3);
    assert_true(ekn_optim_param_value(&o, "delta0") == 1e-4);
    ekn_optim_free(&o);
    /* set values, and the history's rows follow m */
    assert_int_equal(ekn_optim_create(&o, "lbfgs", 5, "m=3,c2=0.8", &err), 0);
    assert_true(ekn_optim_param_value(&o, "m") == 3 && ekn_optim_param_value(&o, "c2") == 0.8);
    assert_int_equal(o.state_rows[0], 3);
    assert_int_equal(o.state_rows[1], 3);
    char buf[512];
    ekn_optim_describe(&o, buf, sizeof buf);
    assert_non_null(strstr(buf, "m=3,"));
    ekn_optim_free(&o);

    expect_usage("adagrad", NULL, "known: sgd|nesterov|rprop|cg|lbfgs|adam|adamw");
    expect_usage("cg", "alhpa=0.3", "no parameter 'alhpa' (known: alpha, beta, max_step, min_step, n_steps, restart)");
    expect_usage("sgd", "beta1=0.9", "known: none");
    expect_usage("adam", "beta1=1.5", "you specified '1.5'");
    expect_usage("lbfgs", "m=2.5", "integer");
    expect_usage("lbfgs", "m=0", "you specified '0'");
    expect_usage("adam", "beta1", "KEY=VALUE");
    expect_usage("adam", "beta1=", "you specified ''");
    expect_usage("adam", "beta1=0.5x", "you specified '0.5x'");
    expect_usage("adam", "eps=nan", "you specified 'nan'");
}

/* ---- closed forms ---------------------------------------------------------- */

typedef struct script {
    const float *g;
    int calls;
} script;

/* Gradients from a script, whatever theta; the loss is the call number. */
static double script_f(void *ctx, const float *theta, float *grad)
{
    (void)theta;
    script *s = ctx;
    grad[0] = s->g[s->calls];
    return s->calls++;
}

/* iRPROP- on one parameter, delta0 0.1, x2 / x0.5, bounds [0.04, 0.3]:
 *   g  +1: no history       step 0.1            theta  0   -> -0.1
 *   g  +1: same sign         step 0.2            theta     -> -0.3
 *   g  -1: sign flip         step 0.1, no move   prev <- 0
 *   g  -1: no history        step 0.1            theta     -> -0.2
 *   g  -1: same sign         step 0.2            theta     ->  0
 *   g  -1: same sign         step 0.3 (capped)   theta     ->  0.3
 *   g  +1: flip              step 0.15, no move
 *   g  -1: no history        step 0.15           theta     ->  0.45
 *   g  +1: flip              step 0.075, no move
 *   g  -1: no history        step 0.075          theta     ->  0.525
 *   g  +1: flip              step 0.04 (floored), no move */
static void test_rprop_by_hand(void **state)
{
    (void)state;
    const float g[] = {1, 1, -1, -1, -1, -1, 1, -1, 1, -1, 1};
    const float want_theta[] = {-0.1f, -0.3f, -0.3f, -0.2f, 0, 0.3f, 0.3f, 0.45f, 0.45f, 0.525f, 0.525f};
    const float want_step[] = {0.1f, 0.2f, 0.1f, 0.1f, 0.2f, 0.3f, 0.15f, 0.15f, 0.075f, 0.075f, 0.04f};
    const float want_prev[] = {1, 1, 0, -1, -1, -1, 0, -1, 0, -1, 0};
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "rprop", 1, "eta_plus=2,eta_minus=0.5,delta_min=0.04,delta_max=0.3,delta0=0.1",
                                      &err), 0);
    script s = {g, 0};
    float theta = 0, grad = 0, decay = 1;
    ekn_hyper h = {123, 0.9, 0}; /* lr and momentum play no part */
    for (int k = 0; k < 11; k++) {
        double loss;
        assert_int_equal(o.vt->step(&o, &theta, &grad, &decay, &h, script_f, &s, &loss, &err), 0);
        fprintf(stderr, "rprop step %d: theta %.7g step %.7g prev %g\n", k, theta, o.state[1][0], o.state[0][0]);
        assert_float_equal(theta, want_theta[k], 1e-6);
        assert_float_equal(o.state[1][0], want_step[k], 1e-7);
        assert_true(o.state[0][0] == want_prev[k]);
        assert_int_equal(o.diag.evals, 1);
        assert_float_equal(o.diag.step_size, want_step[k], 1e-7);
    }
    ekn_optim_free(&o);

    /* weight decay joins the gradient before its sign is taken: g = 0.5 + 2 * 1 * (-1) < 0 */
    assert_int_equal(ekn_optim_create(&o, "rprop", 1, NULL, &err), 0);
    const float half[] = {0.5f};
    script s2 = {half, 0};
    theta = -1;
    h.weight_decay = 2;
    double loss;
    assert_int_equal(o.vt->step(&o, &theta, &grad, &decay, &h, script_f, &s2, &loss, &err), 0);
    assert_float_equal(theta, -1 + 1e-4, 1e-7);
    ekn_optim_free(&o);
}

/* Adam's first step is lr g / (|g| + eps) per coordinate; the second
 * follows the recurrence in double.  AdamW's decay is decoupled: with a zero
 * gradient it is theta <- theta (1 - lr lambda d) exactly, while Adam's L2
 * gradient lambda d theta is normalised into a step of about lr. */
static void test_adam_closed_form(void **state)
{
    (void)state;
    enum { N = 50 };
    uint64_t seed = tu_seed_for("adam_closed_form");
    double a[N], c[N];
    float x[N], x0[N], grad[N], decay[N], tmp[N];
    tu_fill(&seed, tmp, N, 0.001f, 3.0f);
    for (int i = 0; i < N; i++) a[i] = tmp[i];
    tu_fill(&seed, tmp, N, -2, 2);
    for (int i = 0; i < N; i++) c[i] = tmp[i];
    tu_fill(&seed, x, N, -1, 1);
    for (int i = 0; i < N; i++) decay[i] = 1;
    memcpy(x0, x, sizeof x);
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "adam", N, NULL, &err), 0);
    quad q = {N, a, c, 0};
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    ekn_hyper h = {lr, 0, 0};
    double loss, m[N], v[N], xd[N];
    assert_int_equal(o.vt->step(&o, x, grad, decay, &h, quad_f, &q, &loss, &err), 0);
    size_t bad = 0;
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double g = a[i] * ((double)x0[i] - c[i]);
        double want = x0[i] - lr * g / (fabs(g) + eps);
        worst = fmax(worst, fabs(fabs((double)x[i] - x0[i]) - lr));
        bad += !(fabs((double)x[i] - want) <= 1e-6);
        m[i] = (1 - b1) * g;
        v[i] = (1 - b2) * g * g;
        xd[i] = x[i];
    }
    fprintf(stderr, "adam first step: max | |dx| - lr | = %.3g (lr %g)\n", worst, lr);
    assert_int_equal(bad, 0);
    assert_true(worst <= 1e-6);
    assert_true(o.scalar[0] == 1);
    /* step two from the float iterate, in double */
    assert_int_equal(o.vt->step(&o, x, grad, decay, &h, quad_f, &q, &loss, &err), 0);
    float want2[N];
    for (int i = 0; i < N; i++) {
        double g = a[i] * (xd[i] - c[i]);
        double mm = b1 * m[i] + (1 - b1) * g, vv = b2 * v[i] + (1 - b2) * g * g;
        want2[i] = (float)(xd[i] - lr * (mm / (1 - b1 * b1)) / (sqrt(vv / (1 - b2 * b2)) + eps));
    }
    assert_int_equal(tu_compare("adam second step", x, want2, N, 1e-6, 1e-5), 0);
    ekn_optim_free(&o);

    /* decay: zero gradient (a = 0) */
    for (int i = 0; i < N; i++) a[i] = 0;
    h.weight_decay = 0.5;
    for (int w = 0; w < 2; w++) {
        assert_int_equal(ekn_optim_create(&o, w ? "adamw" : "adam", N, NULL, &err), 0);
        memcpy(x, x0, sizeof x);
        assert_int_equal(o.vt->step(&o, x, grad, decay, &h, quad_f, &q, &loss, &err), 0);
        for (int i = 0; i < N; i++) {
            double want = w ? x0[i] * (1 - lr * 0.5) : x0[i] - lr * (x0[i] > 0 ? 1 : -1);
            if (fabs((double)x[i] - want) > 1e-6) bad++;
        }
        assert_int_equal(bad, 0);
        ekn_optim_free(&o);
    }
}

/* Nesterov by hand: x = 2, a = 3, lr 0.1, mu 0.9, no decay:
 * g = 6, v = 6, x = 2 - 0.1 (6 + 5.4) = 0.86;
 * g = 2.58, v = 2.58 + 5.4 = 7.98, x = 0.86 - 0.1 (2.58 + 7.182) = -0.1162 */
static void test_nesterov_by_hand(void **state)
{
    (void)state;
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "nesterov", 1, NULL, &err), 0);
    double a = 3, c = 0;
    quad q = {1, &a, &c, 0};
    float x = 2, g, d = 1;
    ekn_hyper h = {0.1, 0.9, 0};
    double loss;
    assert_int_equal(o.vt->step(&o, &x, &g, &d, &h, quad_f, &q, &loss, &err), 0);
    assert_float_equal(x, 0.86, 1e-6);
    assert_int_equal(o.vt->step(&o, &x, &g, &d, &h, quad_f, &q, &loss, &err), 0);
    assert_float_equal(o.state[0][0], 7.98, 1e-5);
    assert_float_equal(x, -0.1162, 1e-6);
    ekn_optim_free(&o);
}

/* ---- convergence ----------------------------------------------------------- */

/* Quadratic: N = 20, curvatures in [0.5, 2], minimum c in [-1, 1]^N, start
 * at 0; every optimiser must be within QUAD_TOL of c in the steps given. */
#define QUAD_TOL 1e-4
#define QUAD_FINAL_TOL 1e-6
static void test_quadratic(void **state)
{
    (void)state;
    enum { N = 20 };
    uint64_t seed = tu_seed_for("quadratic");
    double a[N], c[N];
    float tmp[N], decay[N];
    tu_fill(&seed, tmp, N, 0.5f, 2.0f);
    for (int i = 0; i < N; i++) a[i] = tmp[i], decay[i] = 1;
    tu_fill(&seed, tmp, N, -1, 1);
    for (int i = 0; i < N; i++) c[i] = tmp[i];
    const run_cfg cases[] = {
        {"sgd", NULL, 0.3, 0.5, 0, 300},
        {"nesterov", NULL, 0.3, 0.5, 0, 300},
        {"rprop", "delta_max=0.5,delta0=0.01", 0, 0, 0, 300},
        {"cg", "max_step=2", 0, 0, 0, 20},
        {"lbfgs", NULL, 0, 0, 0, 10},
        {"adam", NULL, 0.02, 0, 0, 3000},
        {"adamw", NULL, 0.02, 0, 0, 3000},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        float x[N] = {0};
        quad q = {N, a, c, 0};
        long calls;
        double e;
        long reached = run(&cases[k], quad_f, &q, &calls, x, decay, N, c, QUAD_TOL, &e);
        fprintf(stderr, "quadratic %-8s %s: %d steps, %ld evaluations, max |x - c| %.3g, within %g after %ld evaluations\n",
                cases[k].name, cases[k].params ? cases[k].params : "", cases[k].steps, calls, e, QUAD_TOL, reached);
        assert_true(calls == q.calls);
        assert_true(reached > 0);
        /* by the last step every one sits at the float32 minimum, within a few ulps */
        assert_true(e <= QUAD_FINAL_TOL);
    }
}

/* Rosenbrock from the standard start (-1.2, 1) to within ROSEN_TOL of (1, 1)
 * in at most the stated number of evaluations. */
#define ROSEN_TOL 1e-3
static void test_rosenbrock(void **state)
{
    (void)state;
    const struct {
        run_cfg r;
        long max_evals;
    } cases[] = {
        {{"lbfgs", "n_steps=1,restart=0", 0, 0, 0, 200}, 120},
        {{"cg", "n_steps=1,restart=0,max_step=1,min_step=1e-12,alpha=1e-4,beta=0.5", 0, 0, 0, 3000}, 4500},
        {{"rprop", "delta_max=0.05,delta0=0.01", 0, 0, 0, 20000}, 4000},
        {{"adam", NULL, 0.01, 0, 0, 20000}, 6500},
    };
    const double target[2] = {1, 1};
    const float decay[2] = {1, 1};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        float x[2] = {-1.2f, 1.0f};
        long calls;
        double e;
        rosen_calls = 0;
        long reached = run(&cases[k].r, rosen_f, NULL, &calls, x, decay, 2, target, ROSEN_TOL, &e);
        fprintf(stderr, "rosenbrock %-6s %s: within %g of (1,1) after %ld evaluations (limit %ld); final (%.7g, %.7g)\n",
                cases[k].r.name, cases[k].r.params ? cases[k].r.params : "", ROSEN_TOL, reached, cases[k].max_evals,
                x[0], x[1]);
        assert_true(calls == rosen_calls);
        assert_true(reached > 0 && reached <= cases[k].max_evals);
    }
}

/* Logistic regression against Newton's optimum, with the L2 term inside the
 * objective (every optimiser aims at the same point), and again with the
 * L2 term given as the optimisers' weight decay where their rule makes the
 * same point a fixed point (not adamw, whose decoupled decay does not). */
#define LOGREG_TOL 2e-3       /* the evaluations to get this close are printed */
#define LOGREG_FINAL_TOL 2e-5 /* where each must be after its steps */
static void test_logreg(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("logreg");
    static logreg L;
    logreg_make(&L, &seed);
    double opt[LR_P];
    double gnorm = logreg_newton(&L, opt);
    fprintf(stderr, "logreg: Newton optimum (%.6f %.6f %.6f %.6f | %.6f), |grad| %.3g\n", opt[0], opt[1], opt[2], opt[3],
            opt[4], gnorm);
    assert_true(gnorm < 1e-12);
    const float decay[LR_P] = {1, 1, 1, 1, 0};
    for (int as_decay = 0; as_decay < 2; as_decay++) {
        L.reg = !as_decay;
        double wd = as_decay ? L.mu : 0;
        const run_cfg cases[] = {
            {"sgd", NULL, 0.5, as_decay ? 0 : 0.9, wd, 3000},
            {"nesterov", NULL, 0.5, as_decay ? 0 : 0.9, wd, 3000},
            {"rprop", "delta_max=0.1,delta0=0.01", 0, 0, wd, 3000},
            {"cg", "max_step=10,min_step=1e-6,n_steps=10,restart=0", 0, 0, wd, 100},
            {"lbfgs", NULL, 0, 0, wd, 25},
            {"adam", NULL, 0.005, 0, wd, 6000},
            {"adamw", NULL, 0.005, 0, 0, as_decay ? 0 : 6000},
        };
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            if (!cases[k].steps) continue;
            float x[LR_P] = {0};
            long calls;
            double e;
            long reached = run(&cases[k], logreg_f, &L, &calls, x, decay, LR_P, opt, LOGREG_TOL, &e);
            fprintf(stderr, "logreg %s %-8s: %d steps, %ld evaluations, max |theta - theta*| %.3g (within %g after %ld)\n",
                    as_decay ? "decay" : "l2   ", cases[k].name, cases[k].steps, calls, e, LOGREG_TOL, reached);
            assert_true(reached > 0);
            assert_true(e <= LOGREG_FINAL_TOL);
        }
    }
}

/* Line-search optimisers never raise the batch's loss, and their
 * diagnostics stay within bounds: evals at most 1 + n_steps * tries. */
static void test_line_search_diag(void **state)
{
    (void)state;
    const float decay[2] = {1, 1};
    float grad[2];
    ekn_err err = {0};
    for (int w = 0; w < 2; w++) {
        ekn_optim o;
        assert_int_equal(ekn_optim_create(&o, w ? "lbfgs" : "cg", 2, w ? "max_evals=7" : NULL, &err), 0);
        float x[2] = {-1.2f, 1.0f};
        ekn_hyper h = {0, 0, 0};
        double before = rosen_f(NULL, x, grad);
        for (int k = 0; k < 50; k++) {
            double loss;
            assert_int_equal(o.vt->step(&o, x, grad, decay, &h, rosen_f, NULL, &loss, &err), 0);
            double after = rosen_f(NULL, x, grad);
            assert_true(fabs(loss - before) <= 1e-6 * fabs(before));
            assert_true(after <= before);
            assert_true(o.diag.evals >= 1 && o.diag.evals <= (w ? 1 + 4 * 7 : 1 + 4 * 20));
            assert_true(o.diag.step_size >= 0);
            if (!w) assert_true(o.diag.beta >= 0);
            else assert_true(isnan(o.diag.beta));
            before = after;
        }
        fprintf(stderr, "%s: 50 steps on Rosenbrock, loss %.4g, last step %.3g, %ld evaluations in it\n", o.vt->name,
                before, o.diag.step_size, o.diag.evals);
        ekn_optim_free(&o);
    }
}

/* ---- checkpoints ------------------------------------------------------------- */

/* K steps, save, load into a fresh optimiser, K more steps on both: theta and
 * state are bit-identical.  A checkpoint of another optimiser loads as fresh state. */
static void test_checkpoint_roundtrip(void **state)
{
    (void)state;
    enum { N = 20, K = 7 };
    uint64_t seed = tu_seed_for("checkpoint_roundtrip");
    double a[N], c[N];
    float tmp[N], decay[N];
    tu_fill(&seed, tmp, N, 0.5f, 2.0f);
    for (int i = 0; i < N; i++) a[i] = tmp[i], decay[i] = i % 2;
    tu_fill(&seed, tmp, N, -1, 1);
    for (int i = 0; i < N; i++) c[i] = tmp[i];
    char path[64];
    snprintf(path, sizeof path, "test_optim_%ld.h5", (long)getpid());
    for (size_t k = 0; k < NOPT; k++) {
        const char *params = !strcmp(NAMES[k], "lbfgs") || !strcmp(NAMES[k], "cg") ? "restart=0,n_steps=2" : NULL;
        ekn_optim a1, a2;
        ekn_err err = {0};
        assert_int_equal(ekn_optim_create(&a1, NAMES[k], N, params, &err), 0);
        float x1[N] = {0}, x2[N], g[N];
        quad q = {N, a, c, 0};
        ekn_hyper h = {0.01, 0.9, 0.1};
        double loss;
        for (int s = 0; s < K; s++) assert_int_equal(a1.vt->step(&a1, x1, g, decay, &h, quad_f, &q, &loss, &err), 0);
        ekn_h5 f;
        assert_int_equal(ekn_h5_create(&f, path, &err), 0);
        assert_int_equal(ekn_optim_save(&a1, &f, &err), 0);
        assert_int_equal(ekn_h5_commit(&f, &err), 0);
        assert_int_equal(ekn_optim_create(&a2, NAMES[k], N, params, &err), 0);
        assert_int_equal(ekn_h5_open(&f, path, &err), 0);
        assert_int_equal(ekn_optim_load(&a2, &f, &err), 0);
        ekn_h5_close(&f);
        memcpy(x2, x1, sizeof x1);
        for (int s = 0; s < K; s++) {
            assert_int_equal(a1.vt->step(&a1, x1, g, decay, &h, quad_f, &q, &loss, &err), 0);
            assert_int_equal(a2.vt->step(&a2, x2, g, decay, &h, quad_f, &q, &loss, &err), 0);
        }
        assert_memory_equal(x1, x2, sizeof x1);
        for (int s = 0; s < a1.vt->nstate; s++)
            assert_memory_equal(a1.state[s], a2.state[s], N * a1.state_rows[s] * sizeof(float));
        for (int s = 0; s < a1.vt->nscalar; s++) assert_true(a1.scalar[s] == a2.scalar[s]);
        fprintf(stderr, "%s: resumed after %d steps, bit-identical after %d more\n", NAMES[k], K, K);
        /* a checkpoint of another optimiser leaves fresh (zero) state */
        ekn_optim other;
        assert_int_equal(ekn_optim_create(&other, k ? NAMES[k - 1] : NAMES[NOPT - 1], N, NULL, &err), 0);
        assert_int_equal(ekn_h5_open(&f, path, &err), 0);
        assert_int_equal(ekn_optim_load(&other, &f, &err), 0);
        ekn_h5_close(&f);
        for (int s = 0; s < other.vt->nstate; s++)
            for (size_t i = 0; i < N * other.state_rows[s]; i++) assert_true(other.state[s][i] == 0.0f);
        ekn_optim_free(&other);
        ekn_optim_free(&a1);
        ekn_optim_free(&a2);
    }
    /* l-BFGS with another m cannot take the saved history */
    ekn_optim l1, l2;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&l1, "lbfgs", N, "m=3", &err), 0);
    assert_int_equal(ekn_optim_create(&l2, "lbfgs", N, "m=4", &err), 0);
    ekn_h5 f;
    assert_int_equal(ekn_h5_create(&f, path, &err), 0);
    assert_int_equal(ekn_optim_save(&l1, &f, &err), 0);
    assert_int_equal(ekn_h5_commit(&f, &err), 0);
    assert_int_equal(ekn_h5_open(&f, path, &err), 0);
    assert_int_equal(ekn_optim_load(&l2, &f, &err), -1);
    fprintf(stderr, "m changed: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "lbfgs"));
    ekn_h5_close(&f);
    ekn_optim_free(&l1);
    ekn_optim_free(&l2);
    unlink(path);
}

TU_MAIN(cmocka_unit_test(test_params),           cmocka_unit_test(test_rprop_by_hand),
        cmocka_unit_test(test_adam_closed_form), cmocka_unit_test(test_nesterov_by_hand),
        cmocka_unit_test(test_quadratic),        cmocka_unit_test(test_rosenbrock),
        cmocka_unit_test(test_logreg),           cmocka_unit_test(test_line_search_diag),
        cmocka_unit_test(test_checkpoint_roundtrip))
