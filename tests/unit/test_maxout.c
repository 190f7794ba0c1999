/* Maxout over channels (kernels/maxout.h):
 *   - a known answer with ties, infinities and a NaN (first channel wins
 *     ties; a NaN only as a group's first element);
 *   - gradient check of _ref by central differences on distinct, well
 *     separated inputs (the max never switches within +-h), with a negative
 *     control (a wrong arg) that must fail;
 *   - _cpu against _ref over k = 1, 2, 3, 4, N = 1, 2, 3, S = 1, 7, 143 (a
 *     13x11 plane), 315 (a 5x7x9 volume), random inputs and inputs full of
 *     ties.  Maxout selects and copies, so _cpu must match _ref exactly,
 *     arg included (tolerance 0).
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

#include "maxout.h"
#include "testutil.h"

#define FD_SPACING 0.05f
#define FD_H 1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

typedef void (*fwd_fn)(int, int, size_t, int, const float *, float *, int32_t *);
typedef void (*bwd_fn)(int, int, size_t, int, const float *, const int32_t *, float *);
static const fwd_fn fwd[2] = {ekn_maxout_forward_ref, ekn_maxout_forward_cpu};
static const bwd_fn bwd[2] = {ekn_maxout_backward_ref, ekn_maxout_backward_cpu};
static const char *const impl[2] = {"ref", "cpu"};

static int32_t *alloc_i32(size_t n)
{
    int32_t *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

static size_t count_arg_mismatch(const char *what, const int32_t *got, const int32_t *want, size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ == 0) first = i;
    fprintf(stderr, "%-40s n=%zu mismatches=%zu", what, n, bad);
    if (bad) fprintf(stderr, " first[%zu] got=%d want=%d", first, (int)got[first], (int)want[first]);
    fprintf(stderr, " %s\n", bad ? "FAIL" : "ok");
    return bad;
}

static void test_known_answer(void **state)
{
    (void)state;
    const float I = INFINITY, Q = NAN;
    /* (n, c, s) = (1, 6, 4), k = 3: two output channels */
    const float x[24] = {
        1, 5, -I, Q,  /* c0 */
        3, 5, -I, 2,  /* c1 */
        3, 4, -I, 9,  /* c2 */
        -1, 0, 2, I,  /* c3 */
        -1, 1, Q, 7,  /* c4 */
        -2, 1, 2, -I, /* c5 */
    };
    /* ties keep the first channel; all -inf gives -inf at channel 0; a NaN
     * first wins, a NaN later never does */
    const float y_want[8] = {3, 5, -I, Q, -1, 1, 2, I};
    const int32_t arg_want[8] = {1, 0, 0, 0, 0, 1, 0, 0};
    const float dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t bad = 0;
    for (int f = 0; f < 2; f++) {
        float y[8], dx[24];
        int32_t arg[8];
        fwd[f](1, 6, 4, 3, x, y, arg);
        for (int i = 0; i < 8; i++)
            bad += !(y[i] == y_want[i] || (isnan(y[i]) && isnan(y_want[i]))) || arg[i] != arg_want[i];
        for (int i = 0; i < 24; i++) dx[i] = NAN;
        bwd[f](1, 6, 4, 3, dy, arg_want, dx);
        for (int i = 0; i < 24; i++) {
            int ch = i / 4, j = i % 4, o = ch / 3 * 4 + j;
            bad += dx[i] != (arg_want[o] == ch % 3 ? dy[o] : 0);
        }
        fprintf(stderr, "known answer (%s): %zu wrong so far\n", impl[f], bad);
    }
    assert_int_equal(bad, 0);
}

/* a random order of the values spacing*(1..n), centred */
static void fill_distinct(uint64_t *st, float *x, size_t n, float spacing)
{
    for (size_t i = 0; i < n; i++) x[i] = spacing * (float)((double)i - (double)n / 2);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(tu_next(st) % i);
        float t = x[i - 1];
        x[i - 1] = x[j], x[j] = t;
    }
}

static double loss(int n, int c, size_t s, int k, const float *x, const float *r, float *y, int32_t *arg)
{
    ekn_maxout_forward_ref(n, c, s, k, x, y, arg);
    double l = 0;
    for (size_t i = 0; i < (size_t)n * (c / k) * s; i++) l += (double)y[i] * r[i];
    return l;
}

struct fd_ctx { int n, c; size_t s; int k; float *x; const float *r; float *y; int32_t *arg; };

static double fd_loss(void *ctx)
{
    struct fd_ctx *c = ctx;
    return loss(c->n, c->c, c->s, c->k, c->x, c->r, c->y, c->arg);
}

static size_t fd(int n, int c, size_t s, int k, float *x, const float *r, float *y, int32_t *arg, const float *dx)
{
    struct fd_ctx ctx = {n, c, s, k, x, r, y, arg};
    return tu_fd_check("dx", x, dx, (size_t)n * c * s, FD_H, FD_ATOL, FD_RTOL, fd_loss, &ctx);
}

static void test_gradcheck_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("maxout gradcheck");
    static const struct {
        int n, c;
        size_t s;
        int k;
    } cases[] = {{2, 6, 5, 2}, {1, 6, 7, 3}, {3, 4, 1, 4}, {2, 2, 9, 2}};
    size_t bad = 0;
    for (size_t q = 0; q < sizeof cases / sizeof *cases; q++) {
        int n = cases[q].n, c = cases[q].c, k = cases[q].k;
        size_t s = cases[q].s, m = (size_t)n * c * s, my = (size_t)n * (c / k) * s;
        fprintf(stderr, "maxout n%d c%d s%zu k%d\n", n, c, s, k);
        float *x = tu_alloc(m), *dx = tu_alloc(m), *y = tu_alloc(my), *r = tu_alloc(my);
        int32_t *arg = alloc_i32(my);
        fill_distinct(&st, x, m, FD_SPACING);
        tu_fill(&st, r, my, 0.5f, 1.5f); /* away from 0: every max has a visible gradient */
        ekn_maxout_forward_ref(n, c, s, k, x, y, arg);
        ekn_maxout_backward_ref(n, c, s, k, r, arg, dx);
        bad += fd(n, c, s, k, x, r, y, arg, dx);
        /* negative control: each gradient routed to the next channel of its group */
        ekn_maxout_forward_ref(n, c, s, k, x, y, arg);
        for (size_t o = 0; o < my; o++) arg[o] = (arg[o] + 1) % k;
        ekn_maxout_backward_ref(n, c, s, k, r, arg, dx);
        fprintf(stderr, "  negative control (wrong arg), failure expected:\n");
        bad += fd(n, c, s, k, x, r, y, arg, dx) == 0;
        free(x), free(dx), free(y), free(r), free(arg);
    }
    assert_int_equal(bad, 0);
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("maxout cpu vs ref");
    fprintf(stderr, "exact match required\n");
    static const int ks[] = {1, 2, 3, 4}, ns[] = {1, 2, 3};
    static const size_t ss[] = {1, 7, 13 * 11, 5 * 7 * 9};
    size_t bad = 0;
    for (int ties = 0; ties < 2; ties++)
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t d = 0; d < sizeof ss / sizeof *ss; d++)
                    for (int groups = 1; groups <= 3; groups += 2) {
                        int k = ks[a], n = ns[b], c = k * groups;
                        size_t s = ss[d], m = (size_t)n * c * s, my = (size_t)n * groups * s;
                        float *x = tu_alloc(m), *dy = tu_alloc(my), *y1 = tu_alloc(my), *y2 = tu_alloc(my);
                        float *d1 = tu_alloc(m), *d2 = tu_alloc(m);
                        int32_t *a1 = alloc_i32(my), *a2 = alloc_i32(my);
                        tu_fill(&st, x, m, -1, 1);
                        if (ties)
                            for (size_t i = 0; i < m; i++) x[i] = floorf(x[i] * 1.5f);
                        tu_fill(&st, dy, my, -1, 1);
                        for (size_t i = 0; i < my; i++) y2[i] = NAN, a2[i] = -1;
                        for (size_t i = 0; i < m; i++) d1[i] = d2[i] = NAN;
                        char what[96];
                        snprintf(what, sizeof what, "n%d c%d s%zu k%d%s", n, c, s, k, ties ? " (ties)" : "");
                        fprintf(stderr, "-- maxout %s\n", what);
                        ekn_maxout_forward_ref(n, c, s, k, x, y1, a1);
                        ekn_maxout_forward_cpu(n, c, s, k, x, y2, a2);
                        bad += tu_compare("  y", y2, y1, my, 0, 0);
                        bad += count_arg_mismatch("  arg", a2, a1, my);
                        ekn_maxout_backward_ref(n, c, s, k, dy, a1, d1);
                        ekn_maxout_backward_cpu(n, c, s, k, dy, a1, d2);
                        bad += tu_compare("  dx", d2, d1, m, 0, 0);
                        free(x), free(dy), free(y1), free(y2), free(d1), free(d2), free(a1), free(a2);
                    }
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_gradcheck_ref),
        cmocka_unit_test(test_cpu_vs_ref))
