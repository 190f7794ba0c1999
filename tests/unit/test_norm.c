/* Batch and group normalisation (kernels/norm.h):
 *   (a) central-difference gradient checks of the _ref backward for dx,
 *       dgamma and dbeta, batch norm in training mode and group norm
 *       (groups 1, 2, C), each with negative controls that must fail (the
 *       frozen-statistics dx, a dgamma from a wrong invstd);
 *   (b) closed forms: each channel of a batch-norm output has mean beta and
 *       variance gamma^2 var/(var+eps); group norm with groups == C is
 *       batch norm of each example alone; the running statistics against a
 *       hand computation (unbiased variance, NS == 1, momentum 0 and 1,
 *       NULL running statistics); prediction mode against its formula;
 *   (c) _cpu against _ref on fresh random inputs with channel offsets over
 *       N = 1, 2, 5, C = 1, 3, 8, S = 1, 7, 33, 143 (a 2D 13x11 plane) and
 *       315 (a 3D 5x7x9 volume), groups 1, 2, 4, C; the dx = NULL,
 *       dgamma = NULL and dbeta = NULL paths.
 * Tolerances are stated with each check.  EKN_TEST_SEED replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "testutil.h"

/* (a) step 2^-7 on inputs of spread ~0.6, five-point stencil: truncation
 * O(h^4 f^(5)) and the float rounding of y (~1e-6 in the loss, times
 * 1.5/h) stay near 1e-4 even for statistics over 4 elements */
#define FD_H 0.0078125f
#define FD_ATOL 2e-4
#define FD_RTOL 2e-3
/* (c) both in double: |cpu - ref| <= CMP_ATOL + CMP_RTOL*|ref| */
#define CMP_ATOL 1e-6
#define CMP_RTOL 1e-5

#define EPS 1e-5f

typedef struct {
    int n, c;
    size_t s;
    int groups; /* 0: batch norm */
} shape;

static size_t count(const shape *sh) { return (size_t)sh->n * sh->c * sh->s; }
static size_t nstats(const shape *sh) { return sh->groups ? (size_t)sh->n * sh->groups : (size_t)sh->c; }

/* x with a per-channel offset in [-3, 3] and spread [-1, 1) */
static void fill_x(uint64_t *st, const shape *sh, float *x)
{
    float off[64];
    tu_fill(st, off, (size_t)sh->c, -3, 3);
    tu_fill(st, x, count(sh), -1, 1);
    for (size_t k = 0; k < count(sh); k++) x[k] += off[k / sh->s % (size_t)sh->c];
}

static void forward(const shape *sh, const float *x, const float *gamma, const float *beta, float *y, float *mean,
                    float *invstd)
{
    if (sh->groups)
        ekn_gn_forward_ref(sh->n, sh->c, sh->s, sh->groups, x, gamma, beta, EPS, y, mean, invstd);
    else
        ekn_bn_forward_train_ref(sh->n, sh->c, sh->s, x, gamma, beta, EPS, 0.1f, NULL, NULL, y, mean, invstd);
}

/* L = sum(y r) in double, from the training forward */
static double loss(const shape *sh, const float *x, const float *gamma, const float *beta, const float *r,
                   float *y, float *mean, float *invstd)
{
    forward(sh, x, gamma, beta, y, mean, invstd);
    double l = 0;
    for (size_t k = 0; k < count(sh); k++) l += (double)y[k] * r[k];
    return l;
}

/* central differences of L in each element of p (n of them) against g */
static size_t fd_one(const char *what, const shape *sh, float *p, size_t n, const float *g, float *x, float *gamma,
                     float *beta, const float *r, float *y, float *mean, float *invstd)
{
    size_t bad = 0, worst = 0;
    double max_rel = 0, max_err = 0;
    for (size_t i = 0; i < n; i++) {
        /* the five-point stencil: truncation O(h^4), so a statistic of few
         * elements (high curvature) needs no smaller, noisier step */
        float save = p[i];
        double l[4];
        static const float step[4] = {FD_H, -FD_H, 2 * FD_H, -2 * FD_H};
        for (int k = 0; k < 4; k++) {
            p[i] = save + step[k];
            l[k] = loss(sh, x, gamma, beta, r, y, mean, invstd);
        }
        p[i] = save;
        double num = (8 * (l[0] - l[1]) - (l[2] - l[3])) / (12 * (double)FD_H);
        double err = fabs(num - g[i]);
        if (fabs(num) > FD_ATOL && err / fabs(num) > max_rel) max_rel = err / fabs(num);
        if (err > max_err) max_err = err, worst = i;
        if (!(err <= FD_ATOL + FD_RTOL * fabs(num))) bad++;
    }
    fprintf(stderr, "  fd %-7s n=%-4zu max_rel=%.3g max_abs=%.3g (at %zu) %s\n", what, n, max_rel, max_err, worst,
            bad ? "FAIL" : "ok");
    return bad;
}

typedef struct {
    float *x, *gamma, *beta, *r, *y, *mean, *invstd, *dx, *dgamma, *dbeta;
} bufs;

static bufs make(uint64_t *st, const shape *sh)
{
    bufs b;
    size_t m = count(sh), C = (size_t)sh->c;
    b.x = tu_alloc(m), b.r = tu_alloc(m), b.y = tu_alloc(m), b.dx = tu_alloc(m);
    b.gamma = tu_alloc(C), b.beta = tu_alloc(C), b.dgamma = tu_alloc(C), b.dbeta = tu_alloc(C);
    b.mean = tu_alloc(nstats(sh)), b.invstd = tu_alloc(nstats(sh));
    fill_x(st, sh, b.x);
    tu_fill(st, b.r, m, -1, 1);
    tu_fill(st, b.gamma, C, 0.5f, 1.5f);
    tu_fill(st, b.beta, C, -1, 1);
    return b;
}

static void release(bufs *b)
{
    free(b->x), free(b->r), free(b->y), free(b->dx), free(b->gamma), free(b->beta), free(b->dgamma);
    free(b->dbeta), free(b->mean), free(b->invstd);
}

static void backward(const shape *sh, const bufs *b, const float *invstd, float *dx)
{
    memset(b->dgamma, 0, (size_t)sh->c * sizeof(float));
    memset(b->dbeta, 0, (size_t)sh->c * sizeof(float));
    if (sh->groups)
        ekn_gn_backward_ref(sh->n, sh->c, sh->s, sh->groups, b->x, b->gamma, b->mean, invstd, b->r, dx, b->dgamma,
                            b->dbeta);
    else
        ekn_bn_backward_ref(sh->n, sh->c, sh->s, b->x, b->gamma, b->mean, invstd, b->r, dx, b->dgamma, b->dbeta);
}

static void describe(const shape *sh)
{
    if (sh->groups)
        fprintf(stderr, "group norm n%d c%d s%zu groups %d\n", sh->n, sh->c, sh->s, sh->groups);
    else
        fprintf(stderr, "batch norm n%d c%d s%zu\n", sh->n, sh->c, sh->s);
}

static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("norm gradcheck");
    fprintf(stderr, "tolerance |fd - analytic| <= %g + %g*|fd|, step %g\n", FD_ATOL, FD_RTOL, (double)FD_H);
    static const shape cases[] = {
        {2, 3, 5, 0}, {1, 2, 7, 0}, {3, 1, 4, 0}, {4, 2, 1, 0}, /* batch norm; s 1: a dense layer's */
        {2, 4, 3, 2}, {1, 3, 5, 3}, {2, 3, 4, 1}, {1, 6, 2, 3}, /* group norm: 2, instance, layer, 3 */
    };
    size_t bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const shape *sh = &cases[k];
        describe(sh);
        bufs b = make(&st, sh);
        size_t m = count(sh), C = (size_t)sh->c;
        float *dx = tu_alloc(m), *dg = tu_alloc(C), *db = tu_alloc(C);
        forward(sh, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd);
        tu_fill(&st, dx, m, -9, 9); /* garbage: overwritten */
        backward(sh, &b, b.invstd, dx);
        memcpy(dg, b.dgamma, C * sizeof *dg), memcpy(db, b.dbeta, C * sizeof *db);
        bad += fd_one("dx", sh, b.x, m, dx, b.x, b.gamma, b.beta, b.r, b.y, b.mean, b.invstd);
        bad += fd_one("dgamma", sh, b.gamma, C, dg, b.x, b.gamma, b.beta, b.r, b.y, b.mean, b.invstd);
        bad += fd_one("dbeta", sh, b.beta, C, db, b.x, b.gamma, b.beta, b.r, b.y, b.mean, b.invstd);

        /* negative controls: the gradient with the statistics held fixed
         * (gamma*invstd*dy, what prediction mode would give), and dgamma
         * from an invstd 10% off, must both be caught */
        forward(sh, b.x, b.gamma, b.beta, b.y, b.mean, b.invstd);
        int G = sh->groups ? sh->groups : 1;
        for (size_t e = 0; e < m; e++) {
            size_t ch = e / sh->s % C, n = e / (sh->s * C);
            float is = sh->groups ? b.invstd[n * G + ch / (C / G)] : b.invstd[ch];
            dx[e] = b.gamma[ch] * is * b.r[e];
        }
        fprintf(stderr, "  negative controls, failures expected:\n");
        size_t nb = fd_one("dx", sh, b.x, m, dx, b.x, b.gamma, b.beta, b.r, b.y, b.mean, b.invstd);
        if (!nb) fprintf(stderr, "  the frozen-statistics dx passed: the check is blind\n");
        bad += nb == 0;
        float *wrong = tu_alloc(nstats(sh));
        for (size_t i = 0; i < nstats(sh); i++) wrong[i] = 1.1f * b.invstd[i];
        backward(sh, &b, wrong, NULL);
        nb = fd_one("dgamma", sh, b.gamma, C, b.dgamma, b.x, b.gamma, b.beta, b.r, b.y, b.mean, b.invstd);
        if (!nb) fprintf(stderr, "  dgamma from a wrong invstd passed: the check is blind\n");
        bad += nb == 0;
        free(wrong), free(dx), free(dg), free(db);
        release(&b);
    }
    assert_int_equal(bad, 0);
}

/* ---- (b) closed forms ---------------------------------------------------- */

typedef void (*bn_train_fn)(int, int, size_t, const float *, const float *, const float *, float, float, float *,
                            float *, float *, float *, float *);
typedef void (*bn_infer_fn)(int, int, size_t, const float *, const float *, const float *, const float *,
                            const float *, float, float *);
typedef void (*gn_fwd_fn)(int, int, size_t, int, const float *, const float *, const float *, float, float *,
                          float *, float *);
static const bn_train_fn bn_train[2] = {ekn_bn_forward_train_ref, ekn_bn_forward_train_cpu};
static const bn_infer_fn bn_infer[2] = {ekn_bn_forward_infer_ref, ekn_bn_forward_infer_cpu};
static const gn_fwd_fn gn_fwd[2] = {ekn_gn_forward_ref, ekn_gn_forward_cpu};
static const char *const impl_name[2] = {"ref", "cpu"};

static void test_output_moments(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("norm output moments");
    const shape sh = {3, 4, 50, 0};
    bufs b = make(&st, &sh);
    for (size_t k = 0; k < count(&sh); k++) b.x[k] = 5 + 3 * b.x[k]; /* far from standard */
    size_t bad = 0;
    for (int f = 0; f < 2; f++) {
        bn_train[f](sh.n, sh.c, sh.s, b.x, b.gamma, b.beta, EPS, 0.1f, NULL, NULL, b.y, b.mean, b.invstd);
        float got[8], want[8];
        for (int ch = 0; ch < sh.c; ch++) {
            double s1 = 0, s2 = 0, x1 = 0, x2 = 0, ns = (double)sh.n * sh.s;
            for (int i = 0; i < sh.n; i++)
                for (size_t j = 0; j < sh.s; j++) {
                    size_t e = ((size_t)i * sh.c + ch) * sh.s + j;
                    s1 += b.y[e], x1 += b.x[e];
                }
            for (int i = 0; i < sh.n; i++)
                for (size_t j = 0; j < sh.s; j++) {
                    size_t e = ((size_t)i * sh.c + ch) * sh.s + j;
                    s2 += (b.y[e] - s1 / ns) * (b.y[e] - s1 / ns), x2 += (b.x[e] - x1 / ns) * (b.x[e] - x1 / ns);
                }
            double var = x2 / ns;
            got[ch] = (float)(s1 / ns), want[ch] = b.beta[ch];
            got[4 + ch] = (float)(s2 / ns), want[4 + ch] = (float)(b.gamma[ch] * b.gamma[ch] * var / (var + EPS));
        }
        char what[64];
        snprintf(what, sizeof what, "bn %s: channel means = beta", impl_name[f]);
        bad += tu_compare(what, got, want, 4, 1e-6, 0);
        snprintf(what, sizeof what, "bn %s: channel vars = gamma^2 v/(v+eps)", impl_name[f]);
        bad += tu_compare(what, got + 4, want + 4, 4, 0, 1e-5);
    }
    release(&b);
    assert_int_equal(bad, 0);
}

/* group norm with groups == C on example i is batch norm of that example
 * alone; with gamma 1 and beta 0 each group of the output has mean 0 and
 * variance v/(v+eps) */
static void test_gn_closed_form(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("gn closed form");
    size_t bad = 0;
    const shape sh = {3, 4, 9, 4};
    bufs b = make(&st, &sh);
    for (int f = 0; f < 2; f++) {
        float *y1 = tu_alloc(count(&sh)), mean1[4], is1[4], mean_all[12], is_all[12];
        gn_fwd[f](sh.n, sh.c, sh.s, sh.c, b.x, b.gamma, b.beta, EPS, b.y, mean_all, is_all);
        for (int i = 0; i < sh.n; i++) {
            size_t off = (size_t)i * sh.c * sh.s;
            bn_train[f](1, sh.c, sh.s, b.x + off, b.gamma, b.beta, EPS, 0.1f, NULL, NULL, y1 + off, mean1, is1);
            char what[64];
            snprintf(what, sizeof what, "gn(C) %s = bn of example %d: mean", impl_name[f], i);
            bad += tu_compare(what, mean_all + i * sh.c, mean1, 4, 1e-6, 1e-6);
            snprintf(what, sizeof what, "gn(C) %s = bn of example %d: invstd", impl_name[f], i);
            bad += tu_compare(what, is_all + i * sh.c, is1, 4, 1e-6, 1e-6);
        }
        char what[64];
        snprintf(what, sizeof what, "gn(C) %s = bn per example: y", impl_name[f]);
        bad += tu_compare(what, b.y, y1, count(&sh), 1e-6, 1e-6);
        free(y1);
    }
    const int groups[] = {1, 2};
    for (int f = 0; f < 2; f++)
        for (int gi = 0; gi < 2; gi++) {
            int G = groups[gi];
            float one[4] = {1, 1, 1, 1}, zero[4] = {0}, mean[6], is[6], got[12], want[12];
            gn_fwd[f](sh.n, sh.c, sh.s, G, b.x, one, zero, EPS, b.y, mean, is);
            size_t M = (size_t)(sh.c / G) * sh.s;
            for (int q = 0; q < sh.n * G; q++) { /* groups are contiguous */
                double s1 = 0, s2 = 0, x1 = 0, x2 = 0;
                for (size_t j = 0; j < M; j++) s1 += b.y[q * M + j], x1 += b.x[q * M + j];
                for (size_t j = 0; j < M; j++) {
                    double dy = b.y[q * M + j] - s1 / M, dx = b.x[q * M + j] - x1 / M;
                    s2 += dy * dy, x2 += dx * dx;
                }
                got[2 * q] = (float)(s1 / M), want[2 * q] = 0;
                got[2 * q + 1] = (float)(s2 / M), want[2 * q + 1] = (float)((x2 / M) / (x2 / M + EPS));
            }
            char what[64];
            snprintf(what, sizeof what, "gn %s groups %d: group mean 0, var v/(v+eps)", impl_name[f], G);
            bad += tu_compare(what, got, want, (size_t)(2 * sh.n * G), 1e-6, 1e-5);
        }
    release(&b);
    assert_int_equal(bad, 0);
}

static void test_running_stats(void **state)
{
    (void)state;
    size_t bad = 0;
    for (int f = 0; f < 2; f++) {
        /* (n, c, s) = (2, 2, 2): channel 0 holds 1, 2 | 3, 6 (mean 3, biased
         * variance 3.5, unbiased 14/3); channel 1 is constant -1 */
        const float x[8] = {1, 2, -1, -1, 3, 6, -1, -1};
        const float gamma[2] = {2, 0.5f}, beta[2] = {0.25f, -1};
        float rm[2] = {0.5f, 2}, rv[2] = {2, 0.25f}, y[8], mean[2], is[2];
        bn_train[f](2, 2, 2, x, gamma, beta, EPS, 0.1f, rm, rv, y, mean, is);
        const float rm_want[2] = {0.9f * 0.5f + 0.1f * 3, 0.9f * 2 - 0.1f};
        const float rv_want[2] = {(float)(0.9 * 2 + 0.1 * 14.0 / 3), 0.9f * 0.25f};
        const float mean_want[2] = {3, -1};
        const float is_want[2] = {(float)(1 / sqrt(3.5 + EPS)), (float)(1 / sqrt((double)EPS))};
        float y_want[8];
        for (int k = 0; k < 8; k++) {
            int ch = k / 2 % 2;
            y_want[k] = (float)(gamma[ch] * (x[k] - mean_want[ch]) * (double)is_want[ch] + beta[ch]);
        }
        char what[64];
        snprintf(what, sizeof what, "%s running mean (hand)", impl_name[f]);
        bad += tu_compare(what, rm, rm_want, 2, 0, 1e-6);
        snprintf(what, sizeof what, "%s running var, unbiased (hand)", impl_name[f]);
        bad += tu_compare(what, rv, rv_want, 2, 0, 1e-6);
        snprintf(what, sizeof what, "%s batch mean (hand)", impl_name[f]);
        bad += tu_compare(what, mean, mean_want, 2, 0, 1e-6);
        snprintf(what, sizeof what, "%s batch invstd, biased (hand)", impl_name[f]);
        bad += tu_compare(what, is, is_want, 2, 0, 1e-6);
        snprintf(what, sizeof what, "%s y (hand)", impl_name[f]);
        bad += tu_compare(what, y, y_want, 8, 1e-6, 1e-6);

        /* NS == 1: the running variance takes var (0) */
        const float x1[1] = {4}, g1[1] = {3}, b1[1] = {0.5f};
        float rm1[1] = {0}, rv1[1] = {1}, y1[1], m1[1], is1[1];
        bn_train[f](1, 1, 1, x1, g1, b1, EPS, 0.1f, rm1, rv1, y1, m1, is1);
        const float w1[4] = {0.4f, 0.9f, 0.5f, 4};
        float g4[4] = {rm1[0], rv1[0], y1[0], m1[0]};
        snprintf(what, sizeof what, "%s NS == 1: run_mean, run_var, y, mean", impl_name[f]);
        bad += tu_compare(what, g4, w1, 4, 0, 1e-6);

        /* momentum 1 replaces, momentum 0 keeps; NULL running stats are skipped */
        float rmA[2] = {7, 7}, rvA[2] = {7, 7}, rmB[2] = {7, 7}, rvB[2] = {7, 7}, yN[8], mN[2], iN[2];
        bn_train[f](2, 2, 2, x, gamma, beta, EPS, 1.0f, rmA, rvA, y, mean, is);
        bn_train[f](2, 2, 2, x, gamma, beta, EPS, 0.0f, rmB, rvB, y, mean, is);
        bn_train[f](2, 2, 2, x, gamma, beta, EPS, 0.1f, NULL, NULL, yN, mN, iN);
        const float full[4] = {3, -1, (float)(14.0 / 3), 0}, kept[4] = {7, 7, 7, 7};
        float gotA[4] = {rmA[0], rmA[1], rvA[0], rvA[1]}, gotB[4] = {rmB[0], rmB[1], rvB[0], rvB[1]};
        snprintf(what, sizeof what, "%s momentum 1", impl_name[f]);
        bad += tu_compare(what, gotA, full, 4, 0, 1e-6);
        snprintf(what, sizeof what, "%s momentum 0", impl_name[f]);
        bad += tu_compare(what, gotB, kept, 4, 0, 0);
        snprintf(what, sizeof what, "%s no running stats: y", impl_name[f]);
        bad += tu_compare(what, yN, y, 8, 0, 0);

        /* prediction: the formula with the running statistics */
        const float prm[2] = {1.5f, -0.5f}, prv[2] = {4, 0.09f};
        float yp[8], yw[8];
        bn_infer[f](2, 2, 2, x, gamma, beta, prm, prv, EPS, yp);
        for (int k = 0; k < 8; k++) {
            int ch = k / 2 % 2;
            yw[k] = (float)(gamma[ch] * (x[k] - prm[ch]) / sqrt(prv[ch] + (double)EPS) + beta[ch]);
        }
        snprintf(what, sizeof what, "%s prediction y (formula)", impl_name[f]);
        bad += tu_compare(what, yp, yw, 8, 1e-6, 1e-6);
    }
    assert_int_equal(bad, 0);
}

/* ---- (c) _cpu against _ref --------------------------------------------------- */

static size_t cpu_vs_ref(uint64_t *st, const shape *sh)
{
    bufs b = make(st, sh);
    size_t m = count(sh), C = (size_t)sh->c, ns = nstats(sh), bad = 0;
    float *y2 = tu_alloc(m), *mean2 = tu_alloc(ns), *is2 = tu_alloc(ns), *dx2 = tu_alloc(m);
    float *dg2 = tu_alloc(C), *db2 = tu_alloc(C), *rm = tu_alloc(C), *rv = tu_alloc(C), *rm2 = tu_alloc(C);
    float *rv2 = tu_alloc(C), *keep = tu_alloc(m);
    tu_fill(st, rm, C, -1, 1), tu_fill(st, rv, C, 0.5f, 2);
    memcpy(rm2, rm, C * 4), memcpy(rv2, rv, C * 4);
    tu_fill(st, b.dgamma, C, -1, 1), tu_fill(st, b.dbeta, C, -1, 1); /* += onto random */
    memcpy(dg2, b.dgamma, C * 4), memcpy(db2, b.dbeta, C * 4);
    tu_fill(st, b.y, m, -9, 9), tu_fill(st, b.dx, m, -9, 9); /* garbage: overwritten */
    memcpy(y2, b.y, m * 4), memcpy(dx2, b.dx, m * 4);
    const float mom = 0.3f;
    char what[96];
#define CMP(label, got, ref, len)                                                                                \
    do {                                                                                                       \
        snprintf(what, sizeof what, "  %s", label);                                                            \
        bad += tu_compare(what, got, ref, len, CMP_ATOL, CMP_RTOL);                                            \
    } while (0)
    describe(sh);
    if (!sh->groups) {
        ekn_bn_forward_train_ref(sh->n, sh->c, sh->s, b.x, b.gamma, b.beta, EPS, mom, rm, rv, b.y, b.mean, b.invstd);
        ekn_bn_forward_train_cpu(sh->n, sh->c, sh->s, b.x, b.gamma, b.beta, EPS, mom, rm2, rv2, y2, mean2, is2);
        CMP("y", y2, b.y, m); CMP("mean", mean2, b.mean, C); CMP("invstd", is2, b.invstd, C);
        CMP("run_mean", rm2, rm, C); CMP("run_var", rv2, rv, C);
        ekn_bn_forward_infer_ref(sh->n, sh->c, sh->s, b.x, b.gamma, b.beta, rm, rv, EPS, b.y);
        ekn_bn_forward_infer_cpu(sh->n, sh->c, sh->s, b.x, b.gamma, b.beta, rm, rv, EPS, y2);
        CMP("y (prediction)", y2, b.y, m);
        ekn_bn_backward_ref(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, b.dx, b.dgamma, b.dbeta);
        ekn_bn_backward_cpu(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, dx2, dg2, db2);
        CMP("dx", dx2, b.dx, m); CMP("dgamma (+=)", dg2, b.dgamma, C); CMP("dbeta (+=)", db2, b.dbeta, C);
        /* the skips: dx = NULL accumulates the parameters again; dgamma or
         * dbeta NULL leave the other alone and dx as before */
        memcpy(keep, dx2, m * 4);
        ekn_bn_backward_ref(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, NULL, b.dgamma, b.dbeta);
        ekn_bn_backward_cpu(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, NULL, dg2, db2);
        CMP("dgamma, dx NULL", dg2, b.dgamma, C); CMP("dbeta, dx NULL", db2, b.dbeta, C);
        ekn_bn_backward_cpu(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, dx2, NULL, db2);
        ekn_bn_backward_ref(sh->n, sh->c, sh->s, b.x, b.gamma, b.mean, b.invstd, b.r, b.dx, b.dgamma, NULL);
        CMP("dx, dgamma NULL", dx2, keep, m); CMP("dx, dbeta NULL (ref)", b.dx, keep, m);
    } else {
        ekn_gn_forward_ref(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.beta, EPS, b.y, b.mean, b.invstd);
        ekn_gn_forward_cpu(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.beta, EPS, y2, mean2, is2);
        CMP("y", y2, b.y, m); CMP("mean", mean2, b.mean, ns); CMP("invstd", is2, b.invstd, ns);
        ekn_gn_backward_ref(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.mean, b.invstd, b.r, b.dx, b.dgamma,
                            b.dbeta);
        ekn_gn_backward_cpu(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.mean, b.invstd, b.r, dx2, dg2, db2);
        CMP("dx", dx2, b.dx, m); CMP("dgamma (+=)", dg2, b.dgamma, C); CMP("dbeta (+=)", db2, b.dbeta, C);
        memcpy(keep, dx2, m * 4);
        ekn_gn_backward_ref(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.mean, b.invstd, b.r, NULL, b.dgamma,
                            b.dbeta);
        ekn_gn_backward_cpu(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.mean, b.invstd, b.r, NULL, dg2, db2);
        CMP("dgamma, dx NULL", dg2, b.dgamma, C); CMP("dbeta, dx NULL", db2, b.dbeta, C);
        ekn_gn_backward_cpu(sh->n, sh->c, sh->s, sh->groups, b.x, b.gamma, b.mean, b.invstd, b.r, dx2, NULL, NULL);
        CMP("dx, dgamma dbeta NULL", dx2, keep, m);
        CMP("dgamma untouched", dg2, b.dgamma, C);
    }
#undef CMP
    free(y2), free(mean2), free(is2), free(dx2), free(dg2), free(db2), free(rm), free(rv), free(rm2), free(rv2);
    free(keep);
    release(&b);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("norm cpu vs ref");
    fprintf(stderr, "tolerance |cpu - ref| <= %g + %g*|ref|\n", CMP_ATOL, CMP_RTOL);
    static const int ns[] = {1, 2, 5}, cs[] = {1, 3, 8};
    static const size_t ss[] = {1, 7, 33, 13 * 11, 5 * 7 * 9};
    size_t bad = 0;
    for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
            for (size_t k = 0; k < sizeof ss / sizeof *ss; k++) {
                shape sh = {ns[a], cs[b], ss[k], 0};
                bad += cpu_vs_ref(&st, &sh);
                const int groups[] = {1, 2, 4, cs[b]};
                for (int g = 0; g < 4; g++) {
                    int dup = 0;
                    for (int h = 0; h < g; h++) dup |= groups[h] == groups[g];
                    if (cs[b] % groups[g] || dup) continue;
                    sh.groups = groups[g];
                    bad += cpu_vs_ref(&st, &sh);
                }
            }
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_gradcheck),      cmocka_unit_test(test_output_moments),
        cmocka_unit_test(test_gn_closed_form), cmocka_unit_test(test_running_stats),
        cmocka_unit_test(test_cpu_vs_ref))
