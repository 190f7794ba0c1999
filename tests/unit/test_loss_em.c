/* The losses of issue 14 section 5 (kernels/loss.h): sigmoid BCE, focal,
 * softmax and sigmoid Dice, and voxel weights in the NLL and the squared
 * error.  (a) finite-difference checks of each _ref w.r.t. the logits (a
 * softmax output differentiated through ekn_softmax_forward_ref), with a
 * negative control that the check fails on a wrong gradient; (b) closed
 * forms: voxel weight 2 = the voxel given twice, weight 0 = an ignored
 * voxel, focal with gamma 0 = the NLL, BCE at huge logits finite;
 * (c) _cpu against _ref on random problems of odd sizes, batch 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loss.h"
#include "softmax.h"
#include "testutil.h"

/* (a): step 1e-2 on the logits, O(h^2) truncation ~1e-4 relative; the
 * float rounding of p adds ~1e-7/h absolute to the numeric value */
#define FD_H 1e-2f
#define FD_ATOL 2e-5
#define FD_RTOL 1e-2
/* (c) |cpu - ref| <= CMP_ATOL + CMP_RTOL |ref| */
#define CMP_ATOL 1e-6
#define CMP_RTOL 1e-4
#define DICE_EPS 1.0f

enum { K_NLL, K_MSE, K_BCE, K_FOCAL, K_SDICE, K_BDICE, K_N };
static const char *const kname[K_N] = {"nll", "mse_w", "bce", "focal", "softmax_dice", "sigmoid_dice"};

typedef struct prob {
    int kind, n, c, impl; /* impl 0 ref, 1 cpu */
    size_t s;
    float gamma;
    float *z, *p, *t, *cw, *pw, *vw;
    int32_t *y;
    int use_cw, use_pw, use_vw;
} prob;

static void prob_init(prob *q, uint64_t *st, int kind, int n, int c, size_t s, float zr)
{
    size_t m = (size_t)n * c * s, nv = (size_t)n * s;
    *q = (prob){.kind = kind, .n = n, .c = c, .s = s, .gamma = 2.0f, .use_cw = 1, .use_pw = 1, .use_vw = 1};
    q->z = tu_alloc(m), q->p = tu_alloc(m), q->t = tu_alloc(m);
    q->cw = tu_alloc(c), q->pw = tu_alloc(c), q->vw = tu_alloc(nv);
    q->y = calloc(nv, sizeof *q->y);
    assert_non_null(q->y);
    tu_fill(st, q->z, m, -zr, zr);
    tu_fill(st, q->t, m, 0, 1);
    for (size_t i = 0; i < m; i++)
        if (tu_next(st) % 7 == 0) q->t[i] = NAN;
    if (kind == K_BCE || kind == K_BDICE) /* some hard targets */
        for (size_t i = 0; i < m; i += 3) q->t[i] = q->t[i] > 0.5f ? 1.0f : 0.0f;
    if (kind == K_MSE) tu_fill(st, q->t, m, -2, 2), q->t[m / 2] = NAN;
    for (size_t i = 0; i < nv; i++) q->y[i] = (int32_t)(tu_next(st) % (uint64_t)(c + 1)) - 1;
    q->y[0] = 0;
    tu_fill(st, q->cw, c, 0.25f, 2.0f);
    tu_fill(st, q->pw, c, 0.5f, 3.0f);
    tu_fill(st, q->vw, nv, 0.0f, 3.0f);
    q->vw[0] = 1.0f;
    if (nv > 2) q->vw[nv - 1] = 0.0f;
}

static void prob_free(prob *q) { free(q->z), free(q->p), free(q->t), free(q->cw), free(q->pw), free(q->vw), free(q->y); }

static int softmax_kind(int k) { return k == K_NLL || k == K_FOCAL || k == K_SDICE; }

/* the loss at q->z; g (N,C,S) gets the gradient w.r.t. the logits */
static double prob_eval(prob *q, float *g, double *count)
{
    int n = q->n, c = q->c;
    size_t s = q->s;
    ekn_nll_args na = {.labels = q->y, .class_w = q->use_cw ? q->cw : NULL, .voxel_w = q->use_vw ? q->vw : NULL};
    ekn_bce_args ba = {.t = q->t, .class_w = q->use_cw ? q->cw : NULL, .pos_w = q->use_pw ? q->pw : NULL,
                       .voxel_w = q->use_vw ? q->vw : NULL};
    if (softmax_kind(q->kind)) ekn_softmax_forward_ref(n, c, s, q->z, q->p);
    int cpu = q->impl;
    switch (q->kind) {
    case K_NLL: return (cpu ? ekn_softmax_nll_cpu : ekn_softmax_nll_ref)(n, c, s, q->p, &na, g, count);
    case K_MSE:
        if (count) *count = 0;
        return (cpu ? ekn_mse_w_cpu : ekn_mse_w_ref)(n, c, s, q->z, q->t, na.voxel_w, g);
    case K_BCE: return (cpu ? ekn_bce_cpu : ekn_bce_ref)(n, c, s, q->z, &ba, g, count);
    case K_FOCAL:
        return (cpu ? ekn_softmax_focal_cpu : ekn_softmax_focal_ref)(n, c, s, q->p, &na, q->gamma, g, count);
    case K_SDICE: return (cpu ? ekn_softmax_dice_cpu : ekn_softmax_dice_ref)(n, c, s, q->p, &na, DICE_EPS, g, count);
    default: return (cpu ? ekn_sigmoid_dice_cpu : ekn_sigmoid_dice_ref)(n, c, s, q->z, &ba, DICE_EPS, g, count);
    }
}

static float *g_scratch;
static double loss_at(void *ctx) { return prob_eval(ctx, g_scratch, NULL); }

/* (a) one FD check; with wrong = 1 the analytic gradient is spoiled at one
 * element and the check must fail (returns 1 when it behaved as it should) */
static size_t fd_case(uint64_t *st, int kind, int n, int c, size_t s, float gamma, int wrong)
{
    prob q;
    prob_init(&q, st, kind, n, c, s, 2.0f);
    q.gamma = gamma;
    size_t m = (size_t)n * c * s;
    float *g = tu_alloc(m);
    g_scratch = tu_alloc(m);
    tu_fill(st, g, m, -9, 9); /* garbage: must be overwritten */
    double cnt = 0;
    double l = prob_eval(&q, g, &cnt);
    fprintf(stderr, "-- fd %s n%d c%d s%zu gamma %g: loss %.6g count %.6g%s\n", kname[kind], n, c, s, gamma, l, cnt,
            wrong ? " (negative control)" : "");
    if (wrong) {
        size_t worst = 0;
        for (size_t i = 0; i < m; i++)
            if (fabsf(g[i]) > fabsf(g[worst])) worst = i;
        g[worst] *= 1.1f;
    }
    size_t bad = tu_fd_check(kname[kind], q.z, g, m, FD_H, FD_ATOL, FD_RTOL, loss_at, &q);
    free(g), free(g_scratch);
    prob_free(&q);
    if (wrong) {
        fprintf(stderr, "   negative control %s\n", bad ? "failed as it must: ok" : "PASSED: the check cannot fail");
        return bad ? 0 : 1;
    }
    return bad;
}

static void test_fd(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("loss_em fd");
    size_t bad = 0;
    for (int k = 0; k < K_N; k++) {
        bad += fd_case(&st, k, 2, 3, 5, 2.0f, 0);
        bad += fd_case(&st, k, 1, 2, 7, 2.0f, 0);
        bad += fd_case(&st, k, 3, 4, 1, 2.0f, 0);
        bad += fd_case(&st, k, 2, 3, 5, 2.0f, 1);
    }
    bad += fd_case(&st, K_FOCAL, 2, 3, 6, 0.5f, 0);
    bad += fd_case(&st, K_FOCAL, 2, 3, 6, 0.0f, 0);
    bad += fd_case(&st, K_FOCAL, 2, 2, 6, 5.0f, 0);
    bad += fd_case(&st, K_BCE, 1, 1, 9, 0, 0);
    assert_int_equal(bad, 0);
}

/* |a - b| <= 1e-9 + tol |b| */
static int near(const char *what, double a, double b, double tol)
{
    int ok = fabs(a - b) <= 1e-9 + tol * fabs(b);
    fprintf(stderr, "   %-44s %.10g vs %.10g %s\n", what, a, b, ok ? "ok" : "FAIL");
    return ok;
}

/* (b) weight 2 = the voxel twice, weight 0 = ignored; for every kind and both impls */
static void test_weights(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("loss_em weights");
    int bad = 0;
    for (int impl = 0; impl < 2; impl++)
        for (int k = 0; k < K_N; k++) {
            /* A: one example of S = 5 voxels, voxel 1 weighted 2, voxel 3 weighted 0 (its
             * label/targets garbage); B: the same voxels with voxel 1 twice and voxel 3 left
             * out (S = 5), no weights */
            int c = 3;
            prob a, b;
            prob_init(&a, &st, k, 1, c, 5, 2.0f);
            prob_init(&b, &st, k, 1, c, 5, 2.0f);
            a.impl = b.impl = impl;
            b.use_vw = 0;
            memcpy(b.cw, a.cw, c * sizeof *b.cw);
            memcpy(b.pw, a.pw, c * sizeof *b.pw);
            for (int v = 0; v < 5; v++) a.vw[v] = v == 1 ? 2.0f : v == 3 ? 0.0f : 1.0f;
            a.y[3] = 1; /* counted label, weight 0 */
            static const int from[5] = {0, 1, 1, 2, 4};
            for (int v = 0; v < 5; v++) {
                b.y[v] = a.y[from[v]];
                for (int j = 0; j < c; j++) {
                    b.z[j * 5 + v] = a.z[j * 5 + from[v]];
                    b.t[j * 5 + v] = a.t[j * 5 + from[v]];
                }
            }
            float ga[15], gb[15];
            double ca = 0, cb = 0, la = prob_eval(&a, ga, &ca), lb = prob_eval(&b, gb, &cb);
            char what[80];
            snprintf(what, sizeof what, "%s %s: weights 2,0 vs duplicated voxel", impl ? "cpu" : "ref", kname[k]);
            bad += !near(what, la, lb, 1e-6);
            if (k != K_MSE) bad += !near("   counts", ca, cb, 1e-12);
            /* the gradient of voxel 1 is the sum of its two copies', voxel 3's is 0 */
            for (int j = 0; j < c; j++) {
                bad += fabsf(ga[j * 5 + 1] - (gb[j * 5 + 1] + gb[j * 5 + 2])) > 1e-6f + 1e-5f * fabsf(ga[j * 5 + 1]);
                bad += ga[j * 5 + 3] != 0.0f;
                bad += fabsf(ga[j * 5 + 4] - gb[j * 5 + 4]) > 1e-6f + 1e-5f * fabsf(ga[j * 5 + 4]);
            }
            /* no weights = all weights 1, bit for bit */
            prob_free(&b);
            prob_init(&b, &st, k, 2, c, 3, 2.0f);
            b.impl = impl;
            float g1[18], g2[18];
            for (int v = 0; v < 6; v++) b.vw[v] = 1.0f;
            double l1 = prob_eval(&b, g1, NULL);
            b.use_vw = 0;
            double l2 = prob_eval(&b, g2, NULL);
            bad += l1 != l2 || memcmp(g1, g2, sizeof g1) != 0;
            if (l1 != l2 || memcmp(g1, g2, sizeof g1)) fprintf(stderr, "   FAIL: weights of 1 differ from none\n");
            prob_free(&a);
            prob_free(&b);
        }
    assert_int_equal(bad, 0);
}

static void test_closed(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("loss_em closed forms");
    int bad = 0;
    /* focal with gamma = 0 is the NLL */
    for (int impl = 0; impl < 2; impl++) {
        prob f, l;
        prob_init(&f, &st, K_FOCAL, 2, 4, 33, 3.0f);
        l = f;
        l.kind = K_NLL;
        f.gamma = 0;
        f.impl = l.impl = impl;
        float g1[264], g2[264];
        double lf = prob_eval(&f, g1, NULL), ln = prob_eval(&l, g2, NULL);
        bad += !near(impl ? "cpu focal gamma 0 = nll" : "ref focal gamma 0 = nll", lf, ln, 1e-6);
        bad += tu_compare("focal gamma 0 dlogits vs nll", g1, g2, 264, 1e-7, 1e-5) != 0;
        prob_free(&f);
    }
    /* BCE: one element z = 0, t = 1: log 2; z = +-100 with t = 0 / 1: 100 and 0, dz = p - t */
    for (int impl = 0; impl < 2; impl++) {
        float z[4] = {0, 100, -100, 100}, t[4] = {1, 0, 0, 1}, dz[4];
        ekn_bce_args a = {.t = t};
        double cnt = 0, l = (impl ? ekn_bce_cpu : ekn_bce_ref)(1, 1, 4, z, &a, dz, &cnt);
        bad += !near("bce [log 2, 100, 0, 0] / 4", l, (log(2.0) + 100.0) / 4, 1e-6);
        bad += !near("bce count", cnt, 4, 0);
        bad += !near("bce dz(0, t=1) = -1/8", dz[0], -0.125, 1e-6) + !near("bce dz(100, t=0) = 1/4", dz[1], 0.25, 1e-6);
        bad += !(fabsf(dz[2]) < 1e-30f && fabsf(dz[3]) < 1e-30f);
        /* pos_weight 3 on a positive: 3 log 2 */
        float pw = 3, cw = 0.5f;
        ekn_bce_args b = {.t = t, .pos_w = &pw, .class_w = &cw};
        l = (impl ? ekn_bce_cpu : ekn_bce_ref)(1, 1, 1, z, &b, dz, &cnt);
        bad += !near("bce pos_weight 3, class weight 0.5", l, 1.5 * log(2.0), 1e-6);
        bad += !near("   dz = 0.5 (p (3t + 1 - t) - 3t) = -0.75", dz[0], -0.75, 1e-6);
    }
    /* Dice: a perfect softmax-like prediction of two classes, eps small: loss ~ 0 */
    {
        float p[4] = {1, 0, 0, 1}, g[4];
        int32_t y[2] = {0, 1};
        ekn_nll_args a = {.labels = y};
        double l = ekn_softmax_dice_ref(1, 2, 2, p, &a, 1e-6f, g, NULL);
        bad += !near("dice of a perfect prediction", l, 1e-6 / (2 + 1e-6), 1e-3);
        /* p = .5 everywhere, classes 0 and 1 once each: I = .5, U = 2 + eps: 1 - 1/(2+eps) */
        float h[4] = {0.5f, 0.5f, 0.5f, 0.5f};
        l = ekn_softmax_dice_cpu(1, 2, 2, h, &a, 1.0f, g, NULL);
        bad += !near("dice at p = 1/2, eps 1", l, 1 - 1.0 / 3, 1e-6);
    }
    assert_int_equal(bad, 0);
}

/* (c) _cpu vs _ref */
static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("loss_em cpu vs ref");
    static const struct {
        int n, c;
        size_t s;
    } shapes[] = {{1, 1, 1}, {1, 2, 1}, {4, 3, 1}, {2, 3, 7}, {1, 5, 300}, {2, 4, 257}, {3, 2, 1001}, {1, 3, 9 * 11 * 13}};
    size_t bad = 0;
    for (int k = 0; k < K_N; k++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int opt = 0; opt < 2; opt++)
                for (int zr = 0; zr < 2; zr++) {
                    if (softmax_kind(k) && shapes[i].c < 2) continue;
                    prob q;
                    prob_init(&q, &st, k, shapes[i].n, shapes[i].c, shapes[i].s, zr ? 30.0f : 3.0f);
                    q.use_cw = q.use_pw = q.use_vw = opt;
                    size_t m = (size_t)q.n * q.c * q.s;
                    float *g1 = tu_alloc(m), *g2 = tu_alloc(m);
                    double c1 = 0, c2 = 0;
                    float l1 = (float)prob_eval(&q, g1, &c1);
                    q.impl = 1;
                    float l2 = (float)prob_eval(&q, g2, &c2);
                    fprintf(stderr, "-- %s n%d c%d s%zu weights %d logits +-%d\n", kname[k], q.n, q.c, q.s, opt,
                            zr ? 30 : 3);
                    bad += tu_compare("loss cpu vs ref", &l2, &l1, 1, CMP_ATOL, CMP_RTOL);
                    float fc1 = (float)c1, fc2 = (float)c2;
                    bad += tu_compare("count cpu vs ref", &fc2, &fc1, 1, 0, 1e-6);
                    /* gradients are O(1/count): scale atol with them */
                    bad += tu_compare("grad cpu vs ref", g2, g1, m, CMP_ATOL / (c1 > 1 ? c1 : 1), CMP_RTOL);
                    free(g1), free(g2);
                    prob_free(&q);
                }
    assert_int_equal(bad, 0);
}

static void test_score(void **state)
{
    (void)state;
    /* two channels, three voxels: p = [.9 .2 .6 | .4 .7 .5], t = [1 0 0 | NaN 1 0.5] */
    float p[6] = {0.9f, 0.2f, 0.6f, 0.4f, 0.7f, 0.5f}, t[6] = {1, 0, 0, NAN, 1, 0.5f};
    long ok[2] = {0}, cnt[2] = {0};
    double b[2] = {0};
    ekn_sigmoid_score(1, 2, 3, p, t, ok, cnt, b);
    int bad = !(cnt[0] == 3 && cnt[1] == 2 && ok[0] == 2 && ok[1] == 2);
    bad += !near("bce channel 0", b[0], -log(0.9) - log(0.8) - log(0.4), 1e-6);
    bad += !near("bce channel 1", b[1], -log(0.7) - log(0.5), 1e-6);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_fd), cmocka_unit_test(test_weights), cmocka_unit_test(test_closed),
        cmocka_unit_test(test_cpu_vs_ref), cmocka_unit_test(test_score))
