/* The device optimiser updates (kernels/optim_cuda.h) against the CPU
 * optimisers of lib/optim_*.c: sgd, nesterov, rprop, adam, adamw, each for
 * several steps on the same random gradients (correlated from step to step,
 * with exact zeros, so RPROP takes all three branches), weight decay with
 * per-parameter multipliers 0, 0.5 and 1.  Then ekn_dot_cuda against
 * ekn_optim_dot, ekn_axpy_cuda against the loop, and the dropout and input
 * noise kernels (kernels/dropout_cuda.h) against lib/nn/net.c's expressions on
 * masks and noise drawn with lib/core/rng.h.
 *
 * Then every optimiser whole (sgd, nesterov, rprop, cg, lbfgs, adam, adamw,
 * and cg and lbfgs with restart=0), created on the cpu table and on the
 * cuda table (ekn_optim_create_on), 10 steps each from the same start on a
 * quadratic with a dense Hessian (diagonal from 1e-2 to 1e2 plus rank 4
 * with eigenvalues about 1), n = 100003 so the
 * reductions span many blocks, weight decay with multipliers 0, 0.5, 1.
 * The objective of the cuda side downloads theta, evaluates on the host and
 * uploads the gradient (test-only; the trainer's net stays on the device).
 * Tolerance (stated): max |cuda - cpu| <= 1e-4 max |cpu| for the final theta
 * and for each state vector; scalars (step counts, l-BFGS's ring) equal.
 * Then the cuda optimiser's checkpoint: saved and loaded into a fresh cuda
 * optimiser and into a cpu one, its state comes back bit-identical, and one
 * more step of the original and of the reloaded cuda optimiser agrees bit
 * for bit (the reductions have a fixed order).
 *
 * Tolerance of the kernel checks (stated): |cuda - cpu| <= 1e-7 + 1e-6*|cpu| for parameters and
 * state; the kernels mirror the CPU's roundings, so the number of elements
 * that are not bit-equal is printed too (expected 0, except axpy, where
 * cuBLAS may fuse).  Dropout and noise must be bit-identical.  The dot
 * product: relative 1e-10 (both accumulate in double, in another order).
 *
 * Exits 77 (skip) without a device.  The whole-optimiser part and
 * kernels/vec_cuda.cu were WRITTEN WITHOUT A GPU (compiled, not yet run on
 * one).  EKN_TEST_FAKE_DEVICE=cpu runs everything on host memory, the cpu
 * table in place of the cuda one and host transcriptions of the kernels
 * (below), to test this file's logic only.
 *
 * Plain C (no cmocka): exit 0 all agree, 1 a mismatch or a CUDA error. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_harness.h"
#include "dropout_cuda.h"
#include "h5.h"
#include "optim.h"
#include "optim_cuda.h"
#include "ops.h"
#include "rng.h"
#include "vec.h"

#define ATOL 1e-7
#define RTOL 1e-6
#define N 100003 /* odd: the grid-stride tail */
#define STEPS 6

static size_t n_checks, n_failed;

static void tally(size_t bad)
{
    n_checks++;
    n_failed += bad != 0;
}

static size_t compare_bits(const char *what, const float *got, const float *ref, size_t n, int must_equal)
{
    size_t bad = tu_compare(what, got, ref, n, ATOL, RTOL), differ = 0;
    for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &ref[i], 4) != 0;
    if (differ) fprintf(stderr, "    %zu of %zu not bit-equal%s\n", differ, n, must_equal ? " FAIL" : "");
    return bad + (must_equal ? differ : 0);
}

/* the reference of the axpy check (its cpu twin is ekn_vec_cpu.axpy) */
static void host_axpy(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

static struct {
    void (*sgd)(size_t, float *, const float *, float *, const float *, float, float, float, int);
    void (*rprop)(size_t, float *, const float *, float *, float *, const float *, float, double, double, double,
                  double, double, double *);
    void (*adam)(size_t, float *, const float *, float *, float *, const float *, float, float, double, double,
                 double, double, int);
    double (*dot)(size_t, const float *, const float *);
    void (*axpy)(size_t, float, const float *, float *);
    void (*dropout_forward)(size_t, float *, const float *);
    void (*dropout_backward)(size_t, const float *, const float *, float *);
    void (*noise)(size_t, const float *, const float *, float, float *);
} K = {ekn_sgd_update_cuda, ekn_rprop_update_cuda, ekn_adam_update_cuda, ekn_dot_cuda, ekn_axpy_cuda,
       ekn_dropout_forward_cuda, ekn_dropout_backward_cuda, ekn_input_noise_cuda};

/* ---- optimisers ---------------------------------------------------------- */

static float *grads; /* STEPS x N */
static int step_now;

static double objective(void *ctx, const float *theta, float *grad)
{
    (void)ctx, (void)theta;
    memcpy(grad, grads + (size_t)step_now * N, N * sizeof *grad);
    return 1.0;
}

static void optimiser_case(const char *name, const float *theta0, const float *decay)
{
    ekn_optim o;
    ekn_err err = {0};
    if (ekn_optim_create(&o, name, N, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    const ekn_hyper h = {0.01, 0.9, 1e-3};
    float *theta = tu_alloc(N), *grad = tu_alloc(N), *got = tu_alloc(N);
    memcpy(theta, theta0, N * sizeof *theta);
    float *d_theta = ch_up(theta0, N * 4), *d_decay = ch_up(decay, N * 4), *d_grad = ch_up(NULL, N * 4);
    float *d_s0 = ch_up(NULL, N * 4), *d_s1 = ch_up(NULL, N * 4);
    float *zero = tu_alloc(N);
    ch_put(d_s0, zero, N * 4);
    ch_put(d_s1, zero, N * 4);
    fprintf(stderr, "-- %s, %d steps, n=%d, lr %g mu %g wd %g\n", name, STEPS, N, h.lr, h.momentum,
            h.weight_decay);
    double mean_dev = NAN;
    for (step_now = 0; step_now < STEPS; step_now++) {
        double loss;
        if (o.vt->step(&o, theta, grad, decay, &h, objective, NULL, &loss, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        ch_put(d_grad, grads + (size_t)step_now * N, N * 4);
        const float lr = (float)h.lr, mu = (float)h.momentum, wd = (float)h.weight_decay;
        if (!strcmp(name, "sgd") || !strcmp(name, "nesterov"))
            K.sgd(N, d_theta, d_grad, d_s0, d_decay, lr, mu, wd, !strcmp(name, "nesterov"));
        else if (!strcmp(name, "rprop"))
            K.rprop(N, d_theta, d_grad, d_s0, d_s1, d_decay, wd, ekn_optim_param_value(&o, "eta_plus"),
                    ekn_optim_param_value(&o, "eta_minus"), ekn_optim_param_value(&o, "delta_min"),
                    ekn_optim_param_value(&o, "delta_max"), ekn_optim_param_value(&o, "delta0"), &mean_dev);
        else
            K.adam(N, d_theta, d_grad, d_s0, d_s1, d_decay, lr, wd, ekn_optim_param_value(&o, "beta1"),
                   ekn_optim_param_value(&o, "beta2"), ekn_optim_param_value(&o, "eps"), step_now + 1.0,
                   !strcmp(name, "adamw"));
        ch_check(name);
    }
    char what[64];
    ch_down(got, d_theta, N * 4);
    snprintf(what, sizeof what, "  %s theta", name);
    tally(compare_bits(what, got, theta, N, 0));
    for (int s = 0; s < o.vt->nstate; s++) {
        ch_down(got, s ? d_s1 : d_s0, N * 4);
        snprintf(what, sizeof what, "  %s %s", name, o.vt->state_names[s]);
        tally(compare_bits(what, got, o.state[s], N, 0));
    }
    if (!strcmp(name, "rprop")) {
        double rel = fabs(mean_dev - o.diag.step_size) / fabs(o.diag.step_size);
        int bad = !(rel <= 1e-10);
        fprintf(stderr, "  rprop mean step cuda %.10g cpu %.10g rel %.3g %s\n", mean_dev, o.diag.step_size, rel,
                bad ? "FAIL" : "ok");
        tally(bad);
    }
    ch_free(d_theta), ch_free(d_decay), ch_free(d_grad), ch_free(d_s0), ch_free(d_s1);
    free(theta), free(grad), free(got), free(zero);
    ekn_optim_free(&o);
}

static void test_optimisers(uint64_t *st)
{
    float *theta0 = tu_alloc(N), *decay = tu_alloc(N), *base = tu_alloc(N), *noise = tu_alloc(N);
    tu_fill(st, theta0, N, -1, 1);
    for (size_t i = 0; i < N; i++) decay[i] = (float)(tu_next(st) % 3) * 0.5f;
    grads = tu_alloc((size_t)STEPS * N);
    tu_fill(st, base, N, -1, 1);
    for (int k = 0; k < STEPS; k++) { /* signs mostly persist, some flip, some are 0 */
        tu_fill(st, noise, N, -1.5f, 1.5f);
        for (size_t i = 0; i < N; i++) grads[(size_t)k * N + i] = i % 97 == 5 ? 0.0f : base[i] + noise[i];
    }
    static const char *const names[] = {"sgd", "nesterov", "rprop", "adam", "adamw"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) optimiser_case(names[i], theta0, decay);
    free(theta0), free(decay), free(base), free(noise), free(grads);
}

/* ---- whole optimisers, cpu table against cuda table ----------------------- */

#define QN 100003
#define QK 4
#define QSTEPS 10
#define QTOL 1e-4

/* f(x) = 1/2 sum h_i (x_i - c_i)^2 + 1/2 sum_k (u_k . (x - c))^2, in double */
static double *qh, *qc, *qu;

typedef struct qctx {
    const ekn_ops *ops;
    int device;             /* theta and grad are table memory to download and upload */
    float *theta_h, *grad_h; /* host copies for the device side */
} qctx;

static double quad_host(const float *x, float *g)
{
    double p[QK] = {0}, loss = 0;
    for (int k = 0; k < QK; k++)
        for (size_t i = 0; i < QN; i++) p[k] += qu[(size_t)k * QN + i] * ((double)x[i] - qc[i]);
    for (size_t i = 0; i < QN; i++) {
        double d = (double)x[i] - qc[i], gi = qh[i] * d;
        loss += 0.5 * qh[i] * d * d;
        for (int k = 0; k < QK; k++) gi += qu[(size_t)k * QN + i] * p[k];
        g[i] = (float)gi;
    }
    for (int k = 0; k < QK; k++) loss += 0.5 * p[k] * p[k];
    return loss;
}

static double quad_objective(void *vctx, const float *theta, float *grad)
{
    qctx *c = vctx;
    if (!c->device) return quad_host(theta, grad);
    c->ops->download(c->theta_h, theta, QN * sizeof(float));
    double loss = quad_host(c->theta_h, c->grad_h);
    c->ops->upload(grad, c->grad_h, QN * sizeof(float));
    return loss;
}

/* max |got - ref| <= QTOL max |ref| (both host arrays); prints the figures */
static int compare_scaled(const char *what, const float *got, const float *ref, size_t n)
{
    double worst = 0, scale = 0;
    size_t at = 0, differ = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= worst)) worst = d, at = i; /* NaN lands here too */
        if (fabs((double)ref[i]) > scale) scale = fabs((double)ref[i]);
        differ += memcmp(&got[i], &ref[i], 4) != 0;
    }
    double rel = scale > 0 ? worst / scale : worst;
    int bad = !(rel <= QTOL);
    fprintf(stderr, "  %-22s max|cpu| %.6g  max|diff| %.3g at %zu  rel %.3g  (%zu of %zu not bit-equal) %s\n", what,
            scale, worst, at, rel, differ, n, bad ? "FAIL" : "ok");
    return bad;
}

static void die_err(const char *what, const ekn_err *err)
{
    fprintf(stderr, "test_optim_cuda: %s: %s\n", what, err->msg);
    exit(1);
}

/* The state vector s of o, downloaded into a malloc'd host array. */
static float *state_on_host(const ekn_optim *o, int s)
{
    size_t count = o->state_rows[s] * o->n;
    float *h = tu_alloc(count);
    o->ops->download(h, o->state[s], count * sizeof *h);
    return h;
}

static void whole_case(const char *name, const char *params, const float *theta0, const float *decay)
{
    const ekn_ops *cpu = ekn_ops_cpu(), *dev = ch_ops();
    const ekn_hyper h = {strncmp(name, "adam", 4) ? 0.005 : 0.01, 0.9, 0.01}; /* lr 0.005: 0.5 / max curvature */
    ekn_optim oc, od;
    ekn_err err = {0};
    if (ekn_optim_create_on(&oc, name, QN, params, cpu, &err)) die_err("create on cpu", &err);
    if (ekn_optim_create_on(&od, name, QN, params, dev, &err)) die_err("create on cuda", &err);
    ch_check("create");
    fprintf(stderr, "-- %s%s%s on %s and %s, %d steps, n=%d, lr %g mu %g wd %g\n", name, params ? " " : "",
            params ? params : "", cpu->name, dev->name, QSTEPS, QN, h.lr, h.momentum, h.weight_decay);

    float *theta = tu_alloc(QN), *grad = tu_alloc(QN), *got = tu_alloc(QN);
    memcpy(theta, theta0, QN * sizeof *theta);
    float *d_theta = dev->alloc(QN * 4), *d_grad = dev->alloc(QN * 4), *d_decay = dev->alloc(QN * 4);
    if (!d_theta || !d_grad || !d_decay) {
        fprintf(stderr, "test_optim_cuda: out of device memory\n");
        exit(1);
    }
    dev->upload(d_theta, theta0, QN * 4);
    dev->upload(d_decay, decay, QN * 4);
    qctx cc = {cpu, 0, NULL, NULL}, cd = {dev, 1, tu_alloc(QN), tu_alloc(QN)};
    double worst_loss = 0;
    for (int t = 0; t < QSTEPS; t++) {
        double lc, ld;
        if (oc.vt->step(&oc, theta, grad, decay, &h, quad_objective, &cc, &lc, &err)) die_err("cpu step", &err);
        if (od.vt->step(&od, d_theta, d_grad, d_decay, &h, quad_objective, &cd, &ld, &err)) die_err("cuda step", &err);
        ch_check(name);
        double rel = fabs(lc - ld) / fabs(lc);
        if (!(rel <= worst_loss)) worst_loss = rel;
        if (t == 0 || t == QSTEPS - 1)
            fprintf(stderr, "  step %2d loss cpu %.10g cuda %.10g evals %ld/%ld\n", t + 1, lc, ld, oc.diag.evals,
                    od.diag.evals);
    }
    fprintf(stderr, "  loss before each step: max rel diff %.3g %s\n", worst_loss, worst_loss <= QTOL ? "ok" : "FAIL");
    tally(!(worst_loss <= QTOL));

    dev->download(got, d_theta, QN * 4);
    tally(compare_scaled("theta", got, theta, QN));
    for (int s = 0; s < oc.vt->nstate; s++) {
        float *sd = state_on_host(&od, s);
        tally(compare_scaled(oc.vt->state_names[s], sd, oc.state[s], oc.state_rows[s] * QN));
        free(sd);
    }
    for (int k = 0; k < oc.vt->nscalar; k++) {
        int bad = oc.scalar[k] != od.scalar[k];
        fprintf(stderr, "  scalar %-15s cpu %g cuda %g %s\n", oc.vt->scalar_names[k], oc.scalar[k], od.scalar[k],
                bad ? "FAIL" : "ok");
        tally(bad);
    }

    /* checkpoint of the cuda optimiser: into a fresh cuda and a fresh cpu one */
    char path[64];
    snprintf(path, sizeof path, "test_optim_cuda_%ld.h5", (long)getpid());
    ekn_h5 f;
    if (ekn_h5_create(&f, path, &err) || ekn_optim_save(&od, &f, &err) || ekn_h5_commit(&f, &err))
        die_err("save", &err);
    ch_check("save");
    ekn_optim rd, rc;
    if (ekn_optim_create_on(&rd, name, QN, params, dev, &err) || ekn_optim_create_on(&rc, name, QN, params, cpu, &err))
        die_err("create for load", &err);
    if (ekn_h5_open(&f, path, &err) || ekn_optim_load(&rd, &f, &err) || ekn_optim_load(&rc, &f, &err))
        die_err("load", &err);
    ekn_h5_close(&f);
    unlink(path);
    ch_check("load");
    size_t differ = 0;
    for (int s = 0; s < od.vt->nstate; s++) {
        size_t bytes = od.state_rows[s] * QN * sizeof(float);
        float *a = state_on_host(&od, s), *b = state_on_host(&rd, s);
        differ += memcmp(a, b, bytes) != 0;
        differ += memcmp(a, rc.state[s], bytes) != 0;
        free(a), free(b);
    }
    for (int k = 0; k < od.vt->nscalar; k++) differ += (od.scalar[k] != rd.scalar[k]) + (od.scalar[k] != rc.scalar[k]);
    /* one more step of the original and the reloaded optimiser, from the same theta */
    float *d_theta2 = dev->alloc(QN * 4), *d_grad2 = dev->alloc(QN * 4), *got2 = tu_alloc(QN);
    if (!d_theta2 || !d_grad2) {
        fprintf(stderr, "test_optim_cuda: out of device memory\n");
        exit(1);
    }
    dev->copy(d_theta2, d_theta, QN * 4);
    double l1, l2;
    if (od.vt->step(&od, d_theta, d_grad, d_decay, &h, quad_objective, &cd, &l1, &err) ||
        rd.vt->step(&rd, d_theta2, d_grad2, d_decay, &h, quad_objective, &cd, &l2, &err))
        die_err("step after load", &err);
    ch_check("step after load");
    dev->download(got, d_theta, QN * 4);
    dev->download(got2, d_theta2, QN * 4);
    differ += memcmp(got, got2, QN * 4) != 0;
    fprintf(stderr, "  checkpoint on %s: reloaded on %s and %s bit-identical, next step identical: %s\n", dev->name,
            dev->name, cpu->name, differ ? "FAIL" : "ok");
    tally(differ);

    dev->free(d_theta), dev->free(d_grad), dev->free(d_decay), dev->free(d_theta2), dev->free(d_grad2);
    free(theta), free(grad), free(got), free(got2), free(cd.theta_h), free(cd.grad_h);
    ekn_optim_free(&oc), ekn_optim_free(&od), ekn_optim_free(&rd), ekn_optim_free(&rc);
}

static void test_whole_optimisers(uint64_t *st)
{
    qh = malloc(QN * sizeof *qh), qc = malloc(QN * sizeof *qc), qu = malloc((size_t)QK * QN * sizeof *qu);
    float *theta0 = tu_alloc(QN), *decay = tu_alloc(QN), *tmp = tu_alloc((size_t)QK * QN);
    if (!qh || !qc || !qu) exit(1);
    /* curvatures from 1e-2 to 1e2: 10 steps stay far from the minimum for
     * every optimiser, away from float noise where branches would be coin flips */
    tu_fill(st, tmp, QN, -2, 2);
    for (size_t i = 0; i < QN; i++) qh[i] = pow(10.0, tmp[i]);
    tu_fill(st, tmp, QN, -1, 1);
    for (size_t i = 0; i < QN; i++) qc[i] = tmp[i];
    /* rows of norm about 1: a dense part as strong as the diagonal */
    const float a = (float)sqrt(3.0 / QN);
    tu_fill(st, tmp, (size_t)QK * QN, -a, a);
    for (size_t i = 0; i < (size_t)QK * QN; i++) qu[i] = tmp[i];
    tu_fill(st, theta0, QN, -1, 1);
    for (size_t i = 0; i < QN; i++) decay[i] = (float)(i % 3) * 0.5f;
    static const char *const cases[][2] = {
        {"sgd", NULL}, {"nesterov", NULL}, {"rprop", NULL}, {"cg", NULL}, {"cg", "restart=0"},
        {"lbfgs", NULL}, {"lbfgs", "restart=0,m=5"}, {"adam", NULL}, {"adamw", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) whole_case(cases[k][0], cases[k][1], theta0, decay);
    free(qh), free(qc), free(qu), free(theta0), free(decay), free(tmp);
}

static void test_dot_axpy(uint64_t *st)
{
    static const size_t sizes[] = {1, 1000003};
    for (size_t si = 0; si < 2; si++) {
        size_t n = sizes[si];
        float *a = tu_alloc(n), *b = tu_alloc(n), *y = tu_alloc(n), *got = tu_alloc(n);
        tu_fill(st, a, n, -1, 1), tu_fill(st, b, n, -1, 1), tu_fill(st, y, n, -1, 1);
        float *d_a = ch_up(a, n * 4), *d_b = ch_up(b, n * 4), *d_y = ch_up(y, n * 4);
        double dot = K.dot(n, d_a, d_b), dot_ref = ekn_optim_dot(a, b, n);
        K.axpy(n, -0.375f, d_a, d_y);
        ch_check("dot, axpy");
        host_axpy(n, -0.375f, a, y);
        ch_down(got, d_y, n * 4);
        double rel = fabs(dot - dot_ref) / (fabs(dot_ref) + 1e-300);
        fprintf(stderr, "-- dot n=%zu cuda %.17g cpu %.17g rel %.3g %s\n", n, dot, dot_ref, rel,
                rel <= 1e-10 ? "ok" : "FAIL");
        tally(!(rel <= 1e-10));
        tally(compare_bits("  axpy", got, y, n, 0));
        ch_free(d_a), ch_free(d_b), ch_free(d_y);
        free(a), free(b), free(y), free(got);
    }
}

static void test_dropout_noise(uint64_t *st)
{
    const size_t m = 1000003;
    ekn_rng rng;
    ekn_rng_seed(&rng, tu_next(st), 1);
    float *y = tu_alloc(m), *mask = tu_alloc(m), *dy = tu_alloc(m), *normal = tu_alloc(m);
    float *want = tu_alloc(m), *got = tu_alloc(m);
    tu_fill(st, y, m, -2, 2), tu_fill(st, dy, m, -2, 2);
    /* lib/nn/net.c's draws: inverted dropout at rate 0.3, noise sigma 0.25 */
    const float keep = 1.0f - 0.3f, scale = 1.0f / keep, sigma = 0.25f;
    for (size_t k = 0; k < m; k++) mask[k] = ekn_rng_uniformf(&rng) < keep ? scale : 0.0f;
    for (size_t k = 0; k < m; k++) normal[k] = (float)ekn_rng_normal(&rng);
    float *d_y = ch_up(y, m * 4), *d_mask = ch_up(mask, m * 4), *d_dy = ch_up(dy, m * 4);
    float *d_n = ch_up(normal, m * 4), *d_out = ch_up(NULL, m * 4);

    fprintf(stderr, "-- dropout and noise, m=%zu (bit-identical required)\n", m);
    K.dropout_forward(m, d_y, d_mask);
    ch_check("dropout_forward");
    ch_down(got, d_y, m * 4);
    for (size_t k = 0; k < m; k++) want[k] = y[k] * mask[k]; /* net.c: L->y[k] *= L->mask[k] */
    tally(compare_bits("  dropout forward", got, want, m, 1));

    K.dropout_backward(m, d_dy, d_mask, d_dy); /* in place */
    ch_check("dropout_backward");
    ch_down(got, d_dy, m * 4);
    for (size_t k = 0; k < m; k++) want[k] = dy[k] * mask[k];
    tally(compare_bits("  dropout backward (in place)", got, want, m, 1));

    ch_put(d_y, y, m * 4);
    K.noise(m, d_y, d_n, sigma, d_out);
    ch_check("input_noise");
    ch_down(got, d_out, m * 4);
    for (size_t k = 0; k < m; k++) want[k] = y[k] + sigma * normal[k]; /* net.c: x + sigma * normal */
    tally(compare_bits("  input noise", got, want, m, 1));

    ch_free(d_y), ch_free(d_mask), ch_free(d_dy), ch_free(d_n), ch_free(d_out);
    free(y), free(mask), free(dy), free(normal), free(want), free(got);
}

int main(void)
{
    ch_start("test_optim_cuda");
    if (ch_fake) { /* EKN_TEST_FAKE_DEVICE=cpu: the cpu tables stand in for the device */
        const ekn_ops *cpu = ekn_ops_cpu();
        K.sgd = ekn_vec_cpu.sgd, K.rprop = ekn_vec_cpu.rprop, K.adam = ekn_vec_cpu.adam, K.dot = ekn_vec_cpu.dot;
        K.axpy = ekn_vec_cpu.axpy, K.dropout_forward = cpu->dropout_forward;
        K.dropout_backward = cpu->dropout_backward, K.noise = cpu->input_noise;
    }
    uint64_t st = tu_seed_for("test_optim_cuda");
    fprintf(stderr, "tolerance |cuda-cpu| <= %g + %g*|cpu|\n", ATOL, RTOL);
    test_optimisers(&st);
    test_whole_optimisers(&st);
    test_dot_axpy(&st);
    test_dropout_noise(&st);
    fprintf(stderr, "test_optim_cuda: %zu checks, %zu failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
