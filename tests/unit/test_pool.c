/* Max-pooling tests, both modes (EKN_POOL_MAX and EKN_POOL_MAXABS).
 *   - geometry validation (init leaves the mode at EKN_POOL_MAX);
 *   - a known answer with ties and infinities (first in scan order wins),
 *     and one for maxabs (signed output; ties in |x|, -3 against 3; NaN);
 *   - gradient check of _ref by central differences on inputs with distinct,
 *     well separated values (so the max never switches within +-h), with a
 *     negative control proving the check can fail;
 *   - _cpu against _ref over pools 1x2x2, 2x2x2, 3x1x2, 1x1x1, 1D and
 *     whole-plane, on random inputs and on inputs full of ties (for maxabs,
 *     ties in |x| between opposite signs).
 * Pooling selects and copies values, it computes nothing, so _cpu must match
 * _ref exactly (tolerance 0), arg included.
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

#include "pool.h"
#include "testutil.h"

/* Finite differences: inputs are spaced 0.05 apart and h = 0.01, so the
 * loss is linear on [x-h, x+h]; only float32 rounding remains. */
#define FD_SPACING 0.05f
#define FD_H 1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

typedef struct {
    int n, c, in[3], p[3];
} case_t;

static void *alloc(size_t n, size_t size)
{
    void *p = malloc((n ? n : 1) * size);
    assert_non_null(p);
    return p;
}

static size_t in_size(const ekn_pool_geom *g)
{
    return (size_t)g->n * g->c * g->in[0] * g->in[1] * g->in[2];
}
static size_t out_size(const ekn_pool_geom *g)
{
    return (size_t)g->n * g->c * g->out[0] * g->out[1] * g->out[2];
}

static void describe(char *buf, size_t len, const ekn_pool_geom *g, const char *what)
{
    snprintf(buf, len, "%s n%d c%d %dx%dx%d p%dx%dx%d", what, g->n, g->c, g->in[0], g->in[1],
             g->in[2], g->p[0], g->p[1], g->p[2]);
}

/* Fisher-Yates: a random order of the values spacing*(1..n), centred */
static void fill_distinct(uint64_t *seed, float *x, size_t n, float spacing)
{
    for (size_t i = 0; i < n; i++) x[i] = spacing * (float)((double)i - (double)n / 2);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(tu_next(seed) % i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static void test_geom_init(void **state)
{
    (void)state;
    ekn_pool_geom g;
    memset(&g, 0xff, sizeof g); /* init sets every field, the mode included */
    assert_int_equal(ekn_pool_geom_init(&g, 2, 3, (int[]){6, 4, 9}, (int[]){3, 1, 3}), 0);
    assert_int_equal(g.mode, EKN_POOL_MAX);
    assert_int_equal(EKN_POOL_MAX, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.c, 3);
    assert_int_equal(g.out[0], 2);
    assert_int_equal(g.out[1], 4);
    assert_int_equal(g.out[2], 3);

    assert_int_equal(ekn_pool_geom_init(&g, 0, 3, (int[]){6, 4, 9}, (int[]){3, 1, 3}), -1);
    assert_int_equal(ekn_pool_geom_init(&g, 2, 0, (int[]){6, 4, 9}, (int[]){3, 1, 3}), -1);
    assert_int_equal(ekn_pool_geom_init(&g, 2, -3, (int[]){6, 4, 9}, (int[]){3, 1, 3}), -1);
    for (int d = 0; d < 3; d++) {
        int in[3] = {6, 4, 9}, p[3] = {3, 1, 3};
        in[d] = 0;
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
        in[d] = -6;
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
        in[d] = 6;
        p[d] = 0;
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
        p[d] = -2;
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
        p[d] = 4; /* 6 % 4 != 0 */
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
        p[d] = 12; /* larger than the input */
        assert_int_equal(ekn_pool_geom_init(&g, 2, 3, in, p), -1);
    }
    /* a plane beyond int32 indices */
    assert_int_equal(ekn_pool_geom_init(&g, 1, 1, (int[]){1 << 11, 1 << 11, 1 << 10}, (int[]){1, 1, 1}), -1);
    assert_int_equal(ekn_pool_geom_init(NULL, 2, 3, (int[]){6, 4, 9}, (int[]){3, 1, 3}), -1);
}

typedef void (*fwd_fn)(const ekn_pool_geom *, const float *, float *, int32_t *);
typedef void (*bwd_fn)(const ekn_pool_geom *, const float *, const int32_t *, float *);

static void test_known_answer(void **state)
{
    (void)state;
    const fwd_fn fwd[2] = {ekn_maxpool_forward_ref, ekn_maxpool_forward_cpu};
    const bwd_fn bwd[2] = {ekn_maxpool_backward_ref, ekn_maxpool_backward_cpu};
    /* 2 channels of 2x4x4, pooled 2x2x2 into 1x2x2 */
    const float I = INFINITY;
    const float x[2 * 32] = {
        /* c0 z0 */ 1, 5, 2, 2,   0, 5, 2, 2,   -I, -I, 7, 1,   -I, -I, 1, 1,
        /* c0 z1 */ 3, 5, 2, 2,   5, 0, 2, 2,   -I, -I, 0, 7,   -I, -I, 7, 9,
        /* c1 z0 */ -1, -1, 0, 0,   -1, -1, 0, 0,   4, 4, 8, 8,   4, 4, 8, 8,
        /* c1 z1 */ -1, -1, 0, 0,   -1, 1, 0, I,    4, 4, 8, 8,   4, 4, 8, 8,
    };
    /* ties keep the first in (z,y,x) scan order; an all -inf window yields
     * -inf at its first element */
    const float y_want[8] = {5, 2, -I, 9, 1, I, 4, 8};
    const int32_t arg_want[8] = {1, 2, 8, 31, 21, 23, 8, 10};
    const float dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ekn_pool_geom g;
    assert_int_equal(ekn_pool_geom_init(&g, 1, 2, (int[]){2, 4, 4}, (int[]){2, 2, 2}), 0);
    for (int f = 0; f < 2; f++) {
        float y[8], dx[64];
        int32_t arg[8];
        fwd[f](&g, x, y, arg);
        size_t bad = 0;
        for (int i = 0; i < 8; i++) bad += y[i] != y_want[i] || arg[i] != arg_want[i];
        for (int i = 0; i < 64; i++) dx[i] = NAN;
        bwd[f](&g, dy, arg, dx);
        for (int i = 0; i < 64; i++) {
            int c = i / 32, j = i % 32;
            float want = 0;
            for (int o = 0; o < 4; o++)
                if (arg_want[c * 4 + o] == j) want = dy[c * 4 + o];
            bad += dx[i] != want;
        }
        fprintf(stderr, "known answer (%s): %zu wrong\n", f ? "cpu" : "ref", bad);
        assert_int_equal(bad, 0);
    }
}

static void test_known_answer_maxabs(void **state)
{
    (void)state;
    const fwd_fn fwd[2] = {ekn_maxpool_forward_ref, ekn_maxpool_forward_cpu};
    const bwd_fn bwd[2] = {ekn_maxpool_backward_ref, ekn_maxpool_backward_cpu};
    const float I = INFINITY, Q = NAN;
    /* 2 channels of 1x2x4, pooled 1x2x2 into 1x1x2 */
    const float x[16] = {
        /* c0 */ -3, 3, 1, -5,   2, -1, 5, 0,
        /* c1 */ Q, 9, 1, Q,     1, 1, -I, 2,
    };
    /* the largest |x| wins with its sign; |-3| = |3| and |-5| = |5| go to
     * the first in scan order; a NaN first wins, a NaN later never does */
    const float y_want[4] = {-3, -5, Q, -I};
    const int32_t arg_want[4] = {0, 3, 0, 6};
    const float dy[4] = {1, 2, 3, 4};
    ekn_pool_geom g;
    assert_int_equal(ekn_pool_geom_init(&g, 1, 2, (int[]){1, 2, 4}, (int[]){1, 2, 2}), 0);
    g.mode = EKN_POOL_MAXABS;
    for (int f = 0; f < 2; f++) {
        float y[4], dx[16];
        int32_t arg[4];
        fwd[f](&g, x, y, arg);
        size_t bad = 0;
        for (int i = 0; i < 4; i++)
            bad += !(y[i] == y_want[i] || (isnan(y[i]) && isnan(y_want[i]))) || arg[i] != arg_want[i];
        for (int i = 0; i < 16; i++) dx[i] = NAN;
        bwd[f](&g, dy, arg, dx);
        for (int i = 0; i < 16; i++) {
            int c = i / 8, j = i % 8;
            float want = 0;
            for (int o = 0; o < 2; o++)
                if (arg_want[c * 2 + o] == j) want = dy[c * 2 + o];
            bad += dx[i] != want;
        }
        fprintf(stderr, "known answer maxabs (%s): %zu wrong\n", f ? "cpu" : "ref", bad);
        assert_int_equal(bad, 0);
    }
    /* the same input in max mode: the plain maxima */
    g.mode = EKN_POOL_MAX;
    float y[4];
    int32_t arg[4];
    ekn_maxpool_forward_cpu(&g, x, y, arg);
    assert_true(y[0] == 3 && arg[0] == 1 && y[1] == 5 && arg[1] == 6);
}

/* L = sum(y * r), accumulated in double */
static double loss(const ekn_pool_geom *g, const float *x, const float *r, float *y, int32_t *arg)
{
    ekn_maxpool_forward_ref(g, x, y, arg);
    double l = 0;
    for (size_t i = 0; i < out_size(g); i++) l += (double)y[i] * r[i];
    return l;
}

struct fd_ctx { const ekn_pool_geom *g; float *x; const float *r; float *y; int32_t *arg; };

static double fd_loss(void *ctx)
{
    struct fd_ctx *c = ctx;
    return loss(c->g, c->x, c->r, c->y, c->arg);
}

static size_t fd_check(const char *what, const ekn_pool_geom *g, float *x, const float *r, float *y,
                       int32_t *arg, const float *dx)
{
    struct fd_ctx ctx = {g, x, r, y, arg};
    return tu_fd_check(what, x, dx, in_size(g), FD_H, FD_ATOL, FD_RTOL, fd_loss, &ctx);
}

static void test_gradcheck_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED)\n", (unsigned long long)seed);
    const case_t cases[] = {
        {2, 2, {1, 1, 8}, {1, 1, 2}},
        {1, 3, {1, 4, 6}, {1, 2, 2}},
        {2, 2, {4, 4, 2}, {2, 2, 2}},
        {1, 2, {6, 3, 4}, {3, 1, 2}},
    };
    for (int mode = EKN_POOL_MAX; mode <= EKN_POOL_MAXABS; mode++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            ekn_pool_geom g;
            assert_int_equal(ekn_pool_geom_init(&g, cases[c].n, cases[c].c, cases[c].in, cases[c].p), 0);
            g.mode = mode;
            char name[128];
            describe(name, sizeof name, &g, mode ? "gradcheck maxabs" : "gradcheck");
            fprintf(stderr, "%s\n", name);
            size_t nx = in_size(&g), ny = out_size(&g);
            float *x = alloc(nx, sizeof(float)), *dx = alloc(nx, sizeof(float));
            float *y = alloc(ny, sizeof(float)), *r = alloc(ny, sizeof(float));
            int32_t *arg = alloc(ny, sizeof(int32_t));
            fill_distinct(&seed, x, nx, FD_SPACING);
            if (mode == EKN_POOL_MAXABS) /* off the grid by a third: |x| distinct and at least 0.0167 apart */
                for (size_t i = 0; i < nx; i++) x[i] += FD_SPACING / 3;
            tu_fill(&seed, r, ny, 0.5f, 1.5f); /* away from 0 so every max has a visible gradient */
            ekn_maxpool_forward_ref(&g, x, y, arg);
            ekn_maxpool_backward_ref(&g, r, arg, dx);
            assert_int_equal(fd_check("dx", &g, x, r, y, arg, dx), 0);

            /* negative control: routing each gradient to another element of its
             * window (the first, or its x neighbour when the first is the max;
             * every case here has px >= 2) must be caught */
            ekn_maxpool_forward_ref(&g, x, y, arg);
            for (size_t nc = 0, o = 0; nc < (size_t)g.n * g.c; nc++)
                for (int oz = 0; oz < g.out[0]; oz++)
                    for (int oy = 0; oy < g.out[1]; oy++)
                        for (int ox = 0; ox < g.out[2]; ox++, o++) {
                            int32_t f = (int32_t)(((oz * g.p[0]) * g.in[1] + oy * g.p[1]) * g.in[2] + ox * g.p[2]);
                            arg[o] = arg[o] == f ? f + 1 : f;
                        }
            ekn_maxpool_backward_ref(&g, r, arg, dx);
            fprintf(stderr, "  negative control (wrong argmax), failure expected:\n");
            assert_true(fd_check("dx", &g, x, r, y, arg, dx) > 0);
            free(x), free(dx), free(y), free(r), free(arg);
        }
}

static size_t cpu_vs_ref(const case_t *cs, uint64_t *seed, int ties, int mode)
{
    ekn_pool_geom g;
    assert_int_equal(ekn_pool_geom_init(&g, cs->n, cs->c, cs->in, cs->p), 0);
    g.mode = mode;
    char name[160];
    size_t nx = in_size(&g), ny = out_size(&g);
    float *x = alloc(nx, sizeof(float)), *dy = alloc(ny, sizeof(float));
    float *y_ref = alloc(ny, sizeof(float)), *y_cpu = alloc(ny, sizeof(float));
    float *dx_ref = alloc(nx, sizeof(float)), *dx_cpu = alloc(nx, sizeof(float));
    int32_t *a_ref = alloc(ny, sizeof(int32_t)), *a_cpu = alloc(ny, sizeof(int32_t));
    tu_fill(seed, x, nx, -1, 1);
    if (ties) /* four levels only: most windows hold ties */
        for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 1.5f);
    tu_fill(seed, dy, ny, -1, 1);
    /* outputs prefilled with garbage: every element must be written */
    for (size_t i = 0; i < ny; i++) y_cpu[i] = NAN, a_cpu[i] = -1;
    for (size_t i = 0; i < nx; i++) dx_cpu[i] = dx_ref[i] = NAN;

    size_t bad = 0;
    ekn_maxpool_forward_ref(&g, x, y_ref, a_ref);
    ekn_maxpool_forward_cpu(&g, x, y_cpu, a_cpu);
    describe(name, sizeof name, &g, ties ? "y (ties)" : "y");
    bad += tu_compare(name, y_cpu, y_ref, ny, 0, 0);
    size_t amis = 0, first = 0;
    for (size_t i = 0; i < ny; i++)
        if (a_cpu[i] != a_ref[i] && amis++ == 0) first = i;
    describe(name, sizeof name, &g, ties ? "arg (ties)" : "arg");
    fprintf(stderr, "%-40s n=%zu mismatches=%zu", name, ny, amis);
    if (amis) fprintf(stderr, " first[%zu] got=%d ref=%d", first, (int)a_cpu[first], (int)a_ref[first]);
    fprintf(stderr, " %s\n", amis ? "FAIL" : "ok");
    bad += amis;

    ekn_maxpool_backward_ref(&g, dy, a_ref, dx_ref);
    ekn_maxpool_backward_cpu(&g, dy, a_ref, dx_cpu);
    describe(name, sizeof name, &g, ties ? "dx (ties)" : "dx");
    bad += tu_compare(name, dx_cpu, dx_ref, nx, 0, 0);
    free(x), free(dy), free(y_ref), free(y_cpu), free(dx_ref), free(dx_cpu), free(a_ref), free(a_cpu);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED), exact match required\n", (unsigned long long)seed);
    const case_t cases[] = {
        {2, 3, {1, 8, 10}, {1, 2, 2}},    /* 1x2x2 */
        {64, 32, {1, 24, 24}, {1, 2, 2}}, /* Fashion-MNIST pool1 */
        {2, 2, {4, 6, 8}, {2, 2, 2}},     /* 2x2x2 */
        {1, 3, {6, 5, 8}, {3, 1, 2}},     /* 3x1x2 */
        {2, 2, {2, 3, 4}, {1, 1, 1}},     /* 1x1x1: identity */
        {3, 1, {1, 1, 10}, {1, 1, 2}},    /* 1D */
        {1, 2, {1, 1, 9}, {1, 1, 3}},     /* 1D, odd */
        {2, 2, {2, 3, 4}, {2, 3, 4}},     /* whole plane */
        {1, 1, {9, 9, 9}, {3, 3, 3}},
        {1, 1, {1, 1, 1}, {1, 1, 1}},     /* smallest */
    };
    size_t bad = 0;
    for (int mode = EKN_POOL_MAX; mode <= EKN_POOL_MAXABS; mode++) {
        fprintf(stderr, "mode %s\n", mode ? "maxabs" : "max");
        for (int ties = 0; ties < 2; ties++)
            for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
                bad += cpu_vs_ref(&cases[c], &seed, ties, mode);
    }
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_geom_init),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_known_answer_maxabs),
        cmocka_unit_test(test_gradcheck_ref),
        cmocka_unit_test(test_cpu_vs_ref))
