/* Crop tests (kernels/crop.h): the data movement of U-Net skips.
 *   - geometry validation;
 *   - a known answer for forward (copy and accumulate) and backward, with
 *     y's other channels and dx outside the window left untouched;
 *   - a concatenation from two crops filling every channel of y;
 *   - _cpu against _ref over 1D, 2D and 3D, odd sizes, batch 1, windows at
 *     either end, the whole input and a single voxel, c0 at the start, in
 *     the middle and at the end of y's channels; forward with accumulate 0
 *     and 1 onto random y, backward onto random dx.
 * Copies and one float add per element: _cpu must match _ref exactly
 * (tolerance 0), and both must leave everything outside the window as it
 * was.  Set EKN_TEST_SEED to replay a run; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crop.h"
#include "testutil.h"

typedef struct {
    int n, c, in[3], off[3], out[3], cy, c0;
} case_t;

static size_t vol(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }
static size_t x_size(const ekn_crop_geom *g) { return (size_t)g->n * g->c * vol(g->in); }
static size_t y_size(const ekn_crop_geom *g) { return (size_t)g->n * g->cy * vol(g->out); }

static float *alloc_f(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static void describe(char *buf, size_t len, const ekn_crop_geom *g, const char *what)
{
    snprintf(buf, len, "%s n%d c%d %dx%dx%d @%d,%d,%d %dx%dx%d -> c%d..%d of %d", what, g->n, g->c, g->in[0],
             g->in[1], g->in[2], g->off[0], g->off[1], g->off[2], g->out[0], g->out[1], g->out[2], g->c0,
             g->c0 + g->c - 1, g->cy);
}

static void test_geom_init(void **state)
{
    (void)state;
    ekn_crop_geom g;
    const int in[3] = {5, 7, 9}, off[3] = {1, 0, 2}, out[3] = {3, 7, 5};
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, 8, 4), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.c, 3);
    assert_int_equal(g.cy, 8);
    assert_int_equal(g.c0, 4);
    for (int d = 0; d < 3; d++) {
        assert_int_equal(g.in[d], in[d]);
        assert_int_equal(g.off[d], off[d]);
        assert_int_equal(g.out[d], out[d]);
    }
    /* edges that are allowed: the whole input, c0 + c == cy, c == cy */
    assert_int_equal(ekn_crop_geom_init(&g, 1, 2, in, (int[]){0, 0, 0}, in, 2, 0), 0);
    assert_int_equal(ekn_crop_geom_init(&g, 1, 2, in, (int[]){4, 6, 8}, (int[]){1, 1, 1}, 5, 3), 0);

    assert_int_equal(ekn_crop_geom_init(&g, 0, 3, in, off, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 0, in, off, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, -3, in, off, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, 0, 0), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, 8, -1), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, 8, 6), -1); /* c0 + c > cy */
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, 2, 0), -1); /* c > cy */
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, INT_MAX, INT_MAX - 2), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, out, INT_MAX, INT_MAX - 3), 0);
    for (int d = 0; d < 3; d++) {
        int i2[3] = {5, 7, 9}, o2[3] = {1, 0, 2}, w2[3] = {3, 7, 5};
        i2[d] = 0;
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, i2, off, out, 8, 4), -1);
        i2[d] = in[d];
        w2[d] = 0;
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, w2, 8, 4), -1);
        w2[d] = in[d] - off[d] + 1; /* one past the end */
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, w2, 8, 4), -1);
        w2[d] = in[d] - off[d]; /* to the end */
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, w2, 8, 4), 0);
        w2[d] = out[d];
        o2[d] = -1;
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, o2, out, 8, 4), -1);
        o2[d] = in[d] - out[d] + 1;
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, o2, out, 8, 4), -1);
        o2[d] = INT_MAX; /* off + out would overflow int */
        assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, o2, out, 8, 4), -1);
    }
    /* x of more floats than size_t counts */
    const int huge[3] = {INT_MAX, INT_MAX, INT_MAX}, one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    assert_int_equal(ekn_crop_geom_init(&g, INT_MAX, INT_MAX, huge, zero, one, 1, 0), -1);
    assert_int_equal(ekn_crop_geom_init(NULL, 2, 3, in, off, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, NULL, off, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, NULL, out, 8, 4), -1);
    assert_int_equal(ekn_crop_geom_init(&g, 2, 3, in, off, NULL, 8, 4), -1);
}

typedef void (*fwd_fn)(const ekn_crop_geom *, const float *, float *, int);
typedef void (*bwd_fn)(const ekn_crop_geom *, const float *, float *);
static const fwd_fn fwd[2] = {ekn_crop_forward_ref, ekn_crop_forward_cpu};
static const bwd_fn bwd[2] = {ekn_crop_backward_ref, ekn_crop_backward_cpu};

static void test_known_answer(void **state)
{
    (void)state;
    /* x (1, 2, 1, 3, 4) = 0..23; the 2x2 window at (0, 1, 1) of both
     * channels goes to channels 1, 2 of y (1, 4, 1, 2, 2) */
    ekn_crop_geom g;
    assert_int_equal(ekn_crop_geom_init(&g, 1, 2, (int[]){1, 3, 4}, (int[]){0, 1, 1}, (int[]){1, 2, 2}, 4, 1), 0);
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    const float copied[16] = {-1, -1, -1, -1, 5, 6, 9, 10, 17, 18, 21, 22, -1, -1, -1, -1};
    const float added[16] = {100, 100, 100, 100, 105, 106, 109, 110, 117, 118, 121, 122, 100, 100, 100, 100};
    for (int k = 0; k < 2; k++) {
        size_t bad = 0;
        float y[16], dx[24], dy[16];
        for (int i = 0; i < 16; i++) y[i] = -1;
        fwd[k](&g, x, y, 0);
        for (int i = 0; i < 16; i++) bad += y[i] != copied[i];
        for (int i = 0; i < 16; i++) y[i] = 100;
        fwd[k](&g, x, y, 1);
        for (int i = 0; i < 16; i++) bad += y[i] != added[i];
        /* backward: dy's channels 1, 2 add onto dx's window; nothing else moves */
        for (int i = 0; i < 16; i++) dy[i] = (float)(i + 1);
        for (int i = 0; i < 24; i++) dx[i] = 1000;
        bwd[k](&g, dy, dx);
        for (int i = 0; i < 24; i++) {
            int c = i / 12, yy = i / 4 % 3, xx = i % 4;
            float want = 1000;
            if (yy >= 1 && yy < 3 && xx >= 1 && xx < 3) want += dy[(1 + c) * 4 + (yy - 1) * 2 + (xx - 1)];
            bad += dx[i] != want;
        }
        /* twice: it accumulates */
        bwd[k](&g, dy, dx);
        for (int i = 0; i < 24; i++) {
            int c = i / 12, yy = i / 4 % 3, xx = i % 4;
            float want = 1000;
            if (yy >= 1 && yy < 3 && xx >= 1 && xx < 3) want += 2 * dy[(1 + c) * 4 + (yy - 1) * 2 + (xx - 1)];
            bad += dx[i] != want;
        }
        fprintf(stderr, "known answer (%s): %zu wrong\n", k ? "cpu" : "ref", bad);
        assert_int_equal(bad, 0);
    }
}

/* A U-Net skip: y (2, 5, 2, 3, 3) = concat(crop of a (2, 2, 4, 5, 7) at
 * (1, 1, 2), b (2, 3, 2, 3, 3) whole), by two calls; y starts as NaN, so
 * every element must be written once. */
static void test_concat(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("concat");
    ekn_crop_geom ga, gb;
    assert_int_equal(ekn_crop_geom_init(&ga, 2, 2, (int[]){4, 5, 7}, (int[]){1, 1, 2}, (int[]){2, 3, 3}, 5, 0), 0);
    assert_int_equal(ekn_crop_geom_init(&gb, 2, 3, (int[]){2, 3, 3}, (int[]){0, 0, 0}, (int[]){2, 3, 3}, 5, 2), 0);
    size_t na = x_size(&ga), nb = x_size(&gb), ny = y_size(&ga);
    float *a = alloc_f(na), *b = alloc_f(nb), *y = alloc_f(ny), *want = alloc_f(ny);
    tu_fill(&seed, a, na, -1, 1);
    tu_fill(&seed, b, nb, -1, 1);
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 5; c++)
            for (int z = 0; z < 2; z++)
                for (int yy = 0; yy < 3; yy++)
                    for (int xx = 0; xx < 3; xx++)
                        want[(((n * 5 + c) * 2 + z) * 3 + yy) * 3 + xx] =
                            c < 2 ? a[(((n * 2 + c) * 4 + z + 1) * 5 + yy + 1) * 7 + xx + 2]
                                  : b[(((n * 3 + c - 2) * 2 + z) * 3 + yy) * 3 + xx];
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < ny; i++) y[i] = NAN;
        fwd[k](&ga, a, y, 0);
        fwd[k](&gb, b, y, 0);
        assert_int_equal(tu_compare(k ? "concat (cpu)" : "concat (ref)", y, want, ny, 0, 0), 0);
    }
    free(a), free(b), free(y), free(want);
}

/* Elements of y outside channels [c0, c0+C), of dx outside the window,
 * that differ from before: must be none. */
static size_t y_outside_changed(const ekn_crop_geom *g, const float *y, const float *before)
{
    size_t bad = 0, plane = vol(g->out);
    for (size_t i = 0; i < y_size(g); i++) {
        int c = (int)(i / plane % (size_t)g->cy);
        if ((c < g->c0 || c >= g->c0 + g->c) && memcmp(&y[i], &before[i], sizeof *y)) bad++;
    }
    return bad;
}

static size_t x_outside_changed(const ekn_crop_geom *g, const float *dx, const float *before)
{
    size_t bad = 0;
    for (size_t i = 0; i < x_size(g); i++) {
        int xx = (int)(i % (size_t)g->in[2]), yy = (int)(i / g->in[2] % (size_t)g->in[1]);
        int z = (int)(i / ((size_t)g->in[2] * g->in[1]) % (size_t)g->in[0]);
        int inside = z >= g->off[0] && z < g->off[0] + g->out[0] && yy >= g->off[1] &&
                     yy < g->off[1] + g->out[1] && xx >= g->off[2] && xx < g->off[2] + g->out[2];
        if (!inside && memcmp(&dx[i], &before[i], sizeof *dx)) bad++;
    }
    return bad;
}

static size_t cpu_vs_ref(const case_t *cs, uint64_t *seed)
{
    ekn_crop_geom g;
    assert_int_equal(ekn_crop_geom_init(&g, cs->n, cs->c, cs->in, cs->off, cs->out, cs->cy, cs->c0), 0);
    size_t nx = x_size(&g), ny = y_size(&g), bad = 0;
    float *x = alloc_f(nx), *y0 = alloc_f(ny), *y_ref = alloc_f(ny), *y_cpu = alloc_f(ny);
    float *dy = alloc_f(ny), *dx0 = alloc_f(nx), *dx_ref = alloc_f(nx), *dx_cpu = alloc_f(nx);
    tu_fill(seed, x, nx, -1, 1);
    tu_fill(seed, y0, ny, -1, 1);
    tu_fill(seed, dy, ny, -1, 1);
    tu_fill(seed, dx0, nx, -1, 1);
    char name[192];
    for (int acc = 0; acc < 2; acc++) {
        memcpy(y_ref, y0, ny * sizeof *y0);
        memcpy(y_cpu, y0, ny * sizeof *y0);
        ekn_crop_forward_ref(&g, x, y_ref, acc);
        ekn_crop_forward_cpu(&g, x, y_cpu, acc);
        describe(name, sizeof name, &g, acc ? "y +=" : "y =");
        bad += tu_compare(name, y_cpu, y_ref, ny, 0, 0);
        size_t moved = y_outside_changed(&g, y_ref, y0) + y_outside_changed(&g, y_cpu, y0);
        if (moved) fprintf(stderr, "  %zu elements of other channels changed FAIL\n", moved);
        bad += moved;
    }
    memcpy(dx_ref, dx0, nx * sizeof *dx0);
    memcpy(dx_cpu, dx0, nx * sizeof *dx0);
    ekn_crop_backward_ref(&g, dy, dx_ref);
    ekn_crop_backward_cpu(&g, dy, dx_cpu);
    describe(name, sizeof name, &g, "dx +=");
    bad += tu_compare(name, dx_cpu, dx_ref, nx, 0, 0);
    size_t moved = x_outside_changed(&g, dx_ref, dx0) + x_outside_changed(&g, dx_cpu, dx0);
    if (moved) fprintf(stderr, "  %zu elements outside the window changed FAIL\n", moved);
    bad += moved;
    free(x), free(y0), free(y_ref), free(y_cpu), free(dy), free(dx0), free(dx_ref), free(dx_cpu);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("cpu_vs_ref");
    fprintf(stderr, "exact match required\n");
    const case_t cases[] = {
        {2, 3, {1, 1, 17}, {0, 0, 5}, {1, 1, 9}, 4, 1},      /* 1D */
        {1, 1, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 1, 0},       /* smallest */
        {2, 3, {1, 13, 11}, {0, 2, 3}, {1, 9, 5}, 7, 4},     /* 2D, odd, at the last channels */
        {1, 2, {1, 12, 12}, {0, 0, 0}, {1, 8, 8}, 2, 0},     /* 2D, top-left corner, batch 1 */
        {3, 2, {1, 12, 12}, {0, 4, 4}, {1, 8, 8}, 5, 1},     /* bottom-right corner */
        {2, 4, {1, 6, 7}, {0, 0, 0}, {1, 6, 7}, 4, 0},       /* the whole input: a copy */
        {2, 2, {1, 9, 9}, {0, 4, 4}, {1, 1, 1}, 3, 1},       /* one voxel */
        {2, 3, {5, 7, 9}, {1, 2, 3}, {3, 3, 5}, 6, 3},       /* 3D */
        {1, 4, {6, 17, 16}, {1, 4, 4}, {4, 9, 8}, 8, 2},     /* 3D, anisotropic margins */
        {3, 1, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, 1, 0},       /* 3D, last voxel */
        {2, 5, {4, 20, 21}, {0, 6, 6}, {4, 8, 9}, 10, 5},    /* U-Net skip-like */
    };
    size_t bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) bad += cpu_vs_ref(&cases[c], &seed);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_geom_init),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_cpu_vs_ref))
