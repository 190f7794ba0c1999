/* PReLU (kernels/prelu.h):
 *   - a known answer, shared and per-channel slopes, the kink at 0;
 *   - gradient check of _ref (dx and da) by central differences, inputs
 *     kept 0.05 from the kink, with negative controls that must fail;
 *   - _cpu against _ref over N = 1, 2, 5, C = 1, 3, 8, S = 1, 7, 143 (a
 *     13x11 plane), 315 (a 5x7x9 volume), shared and per-channel slopes,
 *     zeros sprinkled in; the in-place forms (y on x, dx on dy) and the
 *     dx = NULL and da = NULL skips.
 * y and dx are one select and one product each, so _cpu must match _ref
 * exactly; da (double sums in another order) to 1e-6 + 1e-5*|ref|.
 * EKN_TEST_SEED replays a run; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prelu.h"
#include "testutil.h"

/* piecewise linear: the central difference is exact up to float rounding
 * of the loss (~1e-6, /2h) */
#define FD_H 1e-2f
#define FD_ATOL 2e-4
#define FD_RTOL 1e-3
#define DA_ATOL 1e-6
#define DA_RTOL 1e-5

typedef void (*fwd_fn)(int, int, size_t, int, const float *, const float *, float *);
typedef void (*bwd_fn)(int, int, size_t, int, const float *, const float *, const float *, float *, float *);
static const fwd_fn fwd[2] = {ekn_prelu_forward_ref, ekn_prelu_forward_cpu};
static const bwd_fn bwd[2] = {ekn_prelu_backward_ref, ekn_prelu_backward_cpu};
static const char *const impl[2] = {"ref", "cpu"};

static void test_known_answer(void **state)
{
    (void)state;
    /* (n, c, s) = (2, 2, 3) */
    const float x[12] = {-2, 0, 3, 1, -1, -4, /* n0: c0, c1 */ 5, -0.5f, -1, 0, 2, -3 /* n1 */};
    const float dy[12] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    const float a_ch[2] = {0.25f, -0.5f}, a_sh[1] = {0.1f};
    const float y_ch[12] = {-0.5f, 0, 3, 1, 0.5f, 2, 5, -0.125f, -0.25f, 0, 2, 1.5f};
    const float dx_ch[12] = {0.25f, 0.5f, 3, 4, -2.5f, -3, -1, -0.5f, -0.75f, 2, -5, 3};
    /* da[c] = sum over x <= 0 of x*dy: c0: -2*1 + 0*2 + -0.5*-2 + -1*-3 = 2; c1: -1*5 + -4*6 + 0*-4 + -3*-6 = -11 */
    const float da_ch[2] = {2 + 0.5f, -11 - 1}; /* += onto {0.5, -1} */
    size_t bad = 0;
    for (int f = 0; f < 2; f++) {
        float y[12], dx[12], da[2] = {0.5f, -1}, ds[1] = {0};
        fwd[f](2, 2, 3, 2, x, a_ch, y);
        bwd[f](2, 2, 3, 2, x, a_ch, dy, dx, da);
        char what[64];
        snprintf(what, sizeof what, "%s per channel y", impl[f]);
        bad += tu_compare(what, y, y_ch, 12, 0, 0);
        snprintf(what, sizeof what, "%s per channel dx", impl[f]);
        bad += tu_compare(what, dx, dx_ch, 12, 0, 0);
        snprintf(what, sizeof what, "%s per channel da (+=)", impl[f]);
        bad += tu_compare(what, da, da_ch, 2, 0, 0);
        float y_sh[12], dx_sh[12];
        for (int k = 0; k < 12; k++) {
            y_sh[k] = x[k] > 0 ? x[k] : 0.1f * x[k];
            dx_sh[k] = x[k] > 0 ? dy[k] : 0.1f * dy[k];
        }
        const float ds_want[1] = {2 - 11};
        fwd[f](2, 2, 3, 1, x, a_sh, y);
        bwd[f](2, 2, 3, 1, x, a_sh, dy, dx, ds);
        snprintf(what, sizeof what, "%s shared y", impl[f]);
        bad += tu_compare(what, y, y_sh, 12, 0, 0);
        snprintf(what, sizeof what, "%s shared dx", impl[f]);
        bad += tu_compare(what, dx, dx_sh, 12, 0, 0);
        snprintf(what, sizeof what, "%s shared da", impl[f]);
        bad += tu_compare(what, ds, ds_want, 1, 0, 0);
    }
    assert_int_equal(bad, 0);
}

static double loss(int n, int c, size_t s, int ns, const float *x, const float *a, const float *r, float *y)
{
    ekn_prelu_forward_ref(n, c, s, ns, x, a, y);
    double l = 0;
    for (size_t k = 0; k < (size_t)n * c * s; k++) l += (double)y[k] * r[k];
    return l;
}

struct fd_ctx { int n, c; size_t s; int ns; float *x, *a; const float *r; float *y; };

static double fd_loss(void *ctx)
{
    struct fd_ctx *c = ctx;
    return loss(c->n, c->c, c->s, c->ns, c->x, c->a, c->r, c->y);
}

static size_t fd(const char *what, int n, int c, size_t s, int ns, float *p, size_t np, const float *g, float *x,
                 float *a, const float *r, float *y)
{
    struct fd_ctx ctx = {n, c, s, ns, x, a, r, y};
    return tu_fd_check(what, p, g, np, FD_H, FD_ATOL, FD_RTOL, fd_loss, &ctx);
}

static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("prelu gradcheck");
    static const struct {
        int n, c;
        size_t s;
        int ns;
    } cases[] = {{2, 3, 5, 3}, {2, 3, 5, 1}, {1, 1, 9, 1}, {3, 2, 1, 2}};
    size_t bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int n = cases[k].n, c = cases[k].c, ns = cases[k].ns;
        size_t s = cases[k].s, m = (size_t)n * c * s;
        fprintf(stderr, "prelu n%d c%d s%zu slopes %d\n", n, c, s, ns);
        float *x = tu_alloc(m), *r = tu_alloc(m), *y = tu_alloc(m), *dx = tu_alloc(m), a[8], da[8] = {0};
        tu_fill(&st, x, m, -2, 2);
        for (size_t i = 0; i < m; i++)
            if (fabsf(x[i]) < 0.05f) x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
        tu_fill(&st, r, m, -1, 1);
        tu_fill(&st, a, (size_t)ns, -0.5f, 0.5f);
        ekn_prelu_backward_ref(n, c, s, ns, x, a, r, dx, da);
        bad += fd("dx", n, c, s, ns, x, m, dx, x, a, r, y);
        bad += fd("da", n, c, s, ns, a, (size_t)ns, da, x, a, r, y);
        /* negative controls: dx with the slope on the wrong side, da summed
         * over x > 0 instead of x <= 0 */
        for (size_t i = 0; i < m; i++) dx[i] = x[i] > 0 ? a[ns == 1 ? 0 : i / s % c] * r[i] : r[i];
        for (int q = 0; q < ns; q++) da[q] = 0;
        for (size_t i = 0; i < m; i++)
            if (x[i] > 0) da[ns == 1 ? 0 : i / s % c] += x[i] * r[i];
        fprintf(stderr, "  negative controls, failures expected:\n");
        size_t nb = fd("dx", n, c, s, ns, x, m, dx, x, a, r, y);
        bad += nb == 0;
        nb = fd("da", n, c, s, ns, a, (size_t)ns, da, x, a, r, y);
        bad += nb == 0;
        free(x), free(r), free(y), free(dx);
    }
    assert_int_equal(bad, 0);
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("prelu cpu vs ref");
    fprintf(stderr, "y, dx exact; da |cpu - ref| <= %g + %g*|ref|\n", DA_ATOL, DA_RTOL);
    static const int ns_[] = {1, 2, 5}, cs[] = {1, 3, 8};
    static const size_t ss[] = {1, 7, 13 * 11, 5 * 7 * 9};
    size_t bad = 0;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t k = 0; k < sizeof ss / sizeof *ss; k++)
                for (int shared = 0; shared < 2; shared++) {
                    int n = ns_[i], c = cs[j], nsl = shared ? 1 : c;
                    size_t s = ss[k], m = (size_t)n * c * s;
                    float *x = tu_alloc(m), *dy = tu_alloc(m), *y1 = tu_alloc(m), *y2 = tu_alloc(m);
                    float *d1 = tu_alloc(m), *d2 = tu_alloc(m), *t = tu_alloc(m), a[8] = {0}, da0[8] = {0}, da1[8], da2[8];
                    tu_fill(&st, x, m, -2, 2);
                    for (size_t e = 0; e < m; e += 7) x[e] = 0;
                    tu_fill(&st, dy, m, -1, 1);
                    tu_fill(&st, a, (size_t)nsl, -0.5f, 0.5f);
                    tu_fill(&st, da0, (size_t)nsl, -1, 1);
                    memcpy(da1, da0, sizeof da0), memcpy(da2, da0, sizeof da0);
                    tu_fill(&st, y1, m, -9, 9), memcpy(y2, y1, m * 4);
                    tu_fill(&st, d1, m, -9, 9), memcpy(d2, d1, m * 4);
                    fprintf(stderr, "-- prelu n%d c%d s%zu slopes %d\n", n, c, s, nsl);
                    ekn_prelu_forward_ref(n, c, s, nsl, x, a, y1);
                    ekn_prelu_forward_cpu(n, c, s, nsl, x, a, y2);
                    bad += tu_compare("  y", y2, y1, m, 0, 0);
                    ekn_prelu_backward_ref(n, c, s, nsl, x, a, dy, d1, da1);
                    ekn_prelu_backward_cpu(n, c, s, nsl, x, a, dy, d2, da2);
                    bad += tu_compare("  dx", d2, d1, m, 0, 0);
                    bad += tu_compare("  da (+= onto random)", da2, da1, (size_t)nsl, DA_ATOL, DA_RTOL);
                    /* in place (y on x, dx on dy) with da NULL, then dx NULL: da
                     * grows by its sum a second time */
                    float want[8];
                    for (int q = 0; q < nsl; q++) want[q] = (float)(2.0 * da1[q] - da0[q]);
                    for (int f = 0; f < 2; f++) {
                        char what[64];
                        memcpy(t, x, m * 4);
                        fwd[f](n, c, s, nsl, t, a, t);
                        snprintf(what, sizeof what, "  %s y in place", impl[f]);
                        bad += tu_compare(what, t, y1, m, 0, 0);
                        memcpy(t, dy, m * 4);
                        bwd[f](n, c, s, nsl, x, a, t, t, NULL);
                        snprintf(what, sizeof what, "  %s dx in place, da NULL", impl[f]);
                        bad += tu_compare(what, t, d1, m, 0, 0);
                        float *dak = f ? da2 : da1;
                        bwd[f](n, c, s, nsl, x, a, dy, NULL, dak);
                        snprintf(what, sizeof what, "  %s da += again, dx NULL", impl[f]);
                        bad += tu_compare(what, dak, want, (size_t)nsl, DA_ATOL, DA_RTOL);
                    }
                    free(x), free(dy), free(y1), free(y2), free(d1), free(d2), free(t);
                }
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_cpu_vs_ref))
