/* Up-convolution tests (kernels/upconv.h).
 *   - geometry validation (sizes, factors, int and size_t overflow);
 *   - known answers by hand (where each tap lands, w's (Cin, Cout, f)
 *     layout) and a 3D one on small integers against the definition, for
 *     _ref and _cpu, because a gradient check only proves that backward
 *     matches forward;
 *   - gradient check of _ref by central differences for dx, dw and db, with
 *     negative controls (dx from a spatially flipped kernel, dw read in
 *     conv's (Cout, Cin) layout) proving the check can fail;
 *   - _cpu against _ref over 2D and 3D, factors (1,2,2), (2,2,2), (1,1,3),
 *     (2,1,1), (1,1,1), odd sizes, batch 1, Cin and Cout 1 and > 1: outputs
 *     and workspace start as NaN (so dx must be overwritten, not added to),
 *     dw and db start random (so they must accumulate), then a second pass
 *     with dx = NULL accumulates again.
 * Tolerance |cpu-ref| <= atol + 1e-4*|ref|, atol = 1e-5 for sums of up to
 * 100 products of values in [-1, 1], growing like sqrt(terms) beyond (the
 * random walk of float32 roundings; as tests/unit/test_ops_cuda.c).
 * Set EKN_TEST_SEED to replay a run; the seed is printed. */
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

#include "testutil.h"
#include "upconv.h"

#define ATOL 1e-5
#define RTOL 1e-4
/* Finite differences: the loss is linear in each parameter, so the only
 * error is float32 rounding of the outputs, amplified by 1/(2h); a wrong
 * gradient is off by O(1). */
#define FD_H 1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

static double sum_atol(double terms) { return ATOL * fmax(1.0, sqrt(terms / 100.0)); }

typedef struct {
    int n, cin, cout, in[3], f[3];
} case_t;

static float *alloc_f(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static void fill_nan(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static size_t vol(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }
static size_t x_size(const ekn_upconv_geom *g) { return (size_t)g->n * g->cin * vol(g->in); }
static size_t y_size(const ekn_upconv_geom *g) { return (size_t)g->n * g->cout * vol(g->out); }
static size_t w_size(const ekn_upconv_geom *g) { return (size_t)g->cin * g->cout * vol(g->f); }

static void describe(char *buf, size_t len, const ekn_upconv_geom *g, const char *what)
{
    snprintf(buf, len, "%s n%d %d->%d %dx%dx%d f%dx%dx%d", what, g->n, g->cin, g->cout, g->in[0], g->in[1],
             g->in[2], g->f[0], g->f[1], g->f[2]);
}

static void test_geom_init(void **state)
{
    (void)state;
    ekn_upconv_geom g;
    assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, (int[]){5, 7, 9}, (int[]){1, 2, 3}), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.cin, 3);
    assert_int_equal(g.cout, 4);
    assert_int_equal(g.out[0], 5);
    assert_int_equal(g.out[1], 14);
    assert_int_equal(g.out[2], 27);
    assert_int_equal(ekn_upconv_workspace_floats(&g), (size_t)4 * 6 * 5 * 7 * 9);
    assert_true(ekn_upconv_workspace_floats(&g) >= 1);
    assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1, (int[]){1, 1, 1}, (int[]){1, 1, 1}), 0);

    const int ok[3] = {5, 7, 9}, ff[3] = {1, 2, 3};
    assert_int_equal(ekn_upconv_geom_init(&g, 0, 3, 4, ok, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, 2, 0, 4, ok, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 0, ok, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, -1, 3, 4, ok, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, 2, -3, 4, ok, ff), -1);
    for (int d = 0; d < 3; d++) {
        int in[3] = {5, 7, 9}, f[3] = {1, 2, 3};
        in[d] = 0;
        assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, in, ff), -1);
        in[d] = -5;
        assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, in, ff), -1);
        f[d] = 0;
        assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, ok, f), -1);
        f[d] = -2;
        assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, ok, f), -1);
        /* out = in * f beyond int */
        int big[3] = {1, 1, 1}, fb[3] = {1, 1, 1};
        big[d] = 1 << 16, fb[d] = 1 << 15;
        assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1, big, fb), -1);
        fb[d] = (1 << 15) - 1; /* just inside */
        assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1, big, fb), 0);
    }
    /* Cout * fvol (the GEMM's rows) beyond int */
    assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1 << 20, (int[]){1, 1, 1}, (int[]){1 << 4, 1 << 4, 1 << 4}), -1);
    /* S = Z*Y*X (the GEMM's columns) beyond int */
    assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1, (int[]){1 << 11, 1 << 11, 1 << 10}, (int[]){1, 1, 1}), -1);
    /* a y of more floats than size_t counts */
    assert_int_equal(ekn_upconv_geom_init(&g, INT_MAX, 1, 1, (int[]){1 << 15, 1 << 15, 1},
                                          (int[]){1, 1, 1 << 15}),
                     -1);
    assert_int_equal(ekn_upconv_geom_init(NULL, 2, 3, 4, ok, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, NULL, ff), -1);
    assert_int_equal(ekn_upconv_geom_init(&g, 2, 3, 4, ok, NULL), -1);
}

/* Both implementations, so a wrong layout in either is caught directly. */
typedef void (*fwd_fn)(const ekn_upconv_geom *, const float *, const float *, const float *, float *, float *);
static void fwd_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, float *y, float *work)
{
    (void)work;
    ekn_upconv_forward_ref(g, x, w, b, y);
}
typedef void (*bwd_fn)(const ekn_upconv_geom *, const float *, const float *, const float *, float *, float *,
                       float *, float *);
static void bwd_ref(const ekn_upconv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                    float *dw, float *db, float *work)
{
    (void)work;
    ekn_upconv_backward_ref(g, x, w, dy, dx, dw, db);
}

static size_t run_fwd(fwd_fn fn, int n, int cin, int cout, const int in[3], const int f[3], const float *x,
                      const float *w, const float *b, float *y)
{
    ekn_upconv_geom g;
    assert_int_equal(ekn_upconv_geom_init(&g, n, cin, cout, in, f), 0);
    float *work = alloc_f(ekn_upconv_workspace_floats(&g));
    fn(&g, x, w, b, y, work);
    free(work);
    return y_size(&g);
}

static size_t differ(const float *got, const float *want, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += got[i] != want[i];
    return bad;
}

static void test_known_answer(void **state)
{
    (void)state;
    const fwd_fn fwd[2] = {fwd_ref, ekn_upconv_forward_cpu};
    const bwd_fn bwd[2] = {bwd_ref, ekn_upconv_backward_cpu};
    for (int k = 0; k < 2; k++) {
        size_t bad = 0;
        float y[16];
        /* 1D, f = 2: each input becomes its pair of taps */
        float x1[2] = {1, 2}, w1[2] = {10, 100}, b1[1] = {0.5f};
        size_t m = run_fwd(fwd[k], 1, 1, 1, (int[]){1, 1, 2}, (int[]){1, 1, 2}, x1, w1, b1, y);
        bad += differ(y, (float[]){10.5f, 100.5f, 20.5f, 200.5f}, m);
        /* f along y, then along z: the same numbers, other axes */
        float w2[2] = {3, 5}, b0[2] = {0, 0};
        m = run_fwd(fwd[k], 1, 1, 1, (int[]){1, 2, 1}, (int[]){1, 2, 1}, x1, w2, b0, y);
        bad += differ(y, (float[]){3, 5, 6, 10}, m);
        m = run_fwd(fwd[k], 1, 1, 1, (int[]){2, 1, 1}, (int[]){2, 1, 1}, x1, w2, b0, y);
        bad += differ(y, (float[]){3, 5, 6, 10}, m);
        /* w is (Cin, Cout, f): Cin 2 -> Cout 2, one input voxel, f = 1,1,2 */
        float x3[2] = {1, 2}, w3[8] = {1, 2, 3, 4, /* ci 1 */ 10, 20, 30, 40}, b3[2] = {0.25f, -1};
        m = run_fwd(fwd[k], 1, 2, 2, (int[]){1, 1, 1}, (int[]){1, 1, 2}, x3, w3, b3, y);
        /* y[co, c] = b[co] + 1*w[0,co,c] + 2*w[1,co,c] */
        bad += differ(y, (float[]){21.25f, 42.25f, 62, 83}, m);
        /* a 2x2 input, f = 2x2 (2D): y is the 4x4 of blocks x[i,j] * w */
        float x4[4] = {1, 2, 3, 4}, w4[4] = {1, 10, 100, 1000}, b4[1] = {0};
        m = run_fwd(fwd[k], 1, 1, 1, (int[]){1, 2, 2}, (int[]){1, 2, 2}, x4, w4, b4, y);
        bad += differ(y, (float[]){1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000}, m);
        /* backward of the last: dx[i,j] = sum of its block's dy * w; dw, db += */
        {
            ekn_upconv_geom g;
            assert_int_equal(ekn_upconv_geom_init(&g, 1, 1, 1, (int[]){1, 2, 2}, (int[]){1, 2, 2}), 0);
            float dy[16], dx[4] = {NAN, NAN, NAN, NAN}, dw[4] = {1, 1, 1, 1}, db[1] = {2};
            for (int i = 0; i < 16; i++) dy[i] = (float)(i + 1);
            float *work = alloc_f(ekn_upconv_workspace_floats(&g));
            bwd[k](&g, x4, w4, dy, dx, dw, db, work);
            free(work);
            /* block (i,j) holds dy at rows 2i, 2i+1 and columns 2j, 2j+1 */
            float dx_want[4], dw_want[4] = {1, 1, 1, 1};
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) {
                    float s = 0;
                    for (int a = 0; a < 2; a++)
                        for (int c = 0; c < 2; c++) {
                            float d = dy[(2 * i + a) * 4 + 2 * j + c];
                            s += d * w4[a * 2 + c];
                            dw_want[a * 2 + c] += d * x4[i * 2 + j];
                        }
                    dx_want[i * 2 + j] = s;
                }
            bad += differ(dx, dx_want, 4) + differ(dw, dw_want, 4) + (db[0] != 2 + 136);
        }

        /* 3D on small integers (exact in float), 2 examples, 3 -> 2 channels,
         * f = 2x1x3, against the definition */
        enum { N = 2, CI = 3, CO = 2, Z = 2, Y = 3, X = 2, FZ = 2, FY = 1, FX = 3 };
        enum { OZ = Z * FZ, OY = Y * FY, OX = X * FX };
        static float x5[N * CI * Z * Y * X], w5[CI * CO * FZ * FY * FX], y5[N * CO * OZ * OY * OX];
        float b5[CO] = {0.5f, -3};
        for (int i = 0; i < N * CI * Z * Y * X; i++) x5[i] = (float)(i % 13) - 6;
        for (int i = 0; i < CI * CO * FZ * FY * FX; i++) w5[i] = (float)(i % 7) - 3;
        run_fwd(fwd[k], N, CI, CO, (int[]){Z, Y, X}, (int[]){FZ, FY, FX}, x5, w5, b5, y5);
        for (int n = 0; n < N; n++)
            for (int co = 0; co < CO; co++)
                for (int oz = 0; oz < OZ; oz++)
                    for (int oy = 0; oy < OY; oy++)
                        for (int ox = 0; ox < OX; ox++) {
                            float e = b5[co];
                            for (int ci = 0; ci < CI; ci++)
                                e += x5[(((n * CI + ci) * Z + oz / FZ) * Y + oy / FY) * X + ox / FX] *
                                     w5[(((ci * CO + co) * FZ + oz % FZ) * FY + oy % FY) * FX + ox % FX];
                            bad += y5[(((n * CO + co) * OZ + oz) * OY + oy) * OX + ox] != e;
                        }
        fprintf(stderr, "known answer (%s): %zu wrong\n", k ? "cpu" : "ref", bad);
        assert_int_equal(bad, 0);
    }
}

/* L = sum(y * r), accumulated in double */
static double loss(const ekn_upconv_geom *g, const float *x, const float *w, const float *b, const float *r,
                   float *y)
{
    ekn_upconv_forward_ref(g, x, w, b, y);
    double l = 0;
    for (size_t i = 0; i < y_size(g); i++) l += (double)y[i] * r[i];
    return l;
}

/* Analytic gradients of p (n elements, one of x, w, b: perturbed in place
 * and restored) against central differences of L. */
struct fd_ctx { const ekn_upconv_geom *g; float *x, *w, *b; const float *r; float *y; };

static double fd_loss(void *ctx)
{
    struct fd_ctx *c = ctx;
    return loss(c->g, c->x, c->w, c->b, c->r, c->y);
}

static size_t fd_check(const char *what, const ekn_upconv_geom *g, float *x, float *w, float *b, const float *r,
                       float *y, float *p, const float *ana, size_t n)
{
    struct fd_ctx ctx = {g, x, w, b, r, y};
    return tu_fd_check(what, p, ana, n, FD_H, FD_ATOL, FD_RTOL, fd_loss, &ctx);
}

/* w with each (ci, co) kernel flipped along all three axes */
static void flip_kernel(const ekn_upconv_geom *g, const float *w, float *wf)
{
    const int FZ = g->f[0], FY = g->f[1], FX = g->f[2];
    for (int k = 0; k < g->cin * g->cout; k++)
        for (int a = 0; a < FZ; a++)
            for (int b = 0; b < FY; b++)
                for (int c = 0; c < FX; c++)
                    wf[((k * FZ + a) * FY + b) * FX + c] = w[((k * FZ + FZ - 1 - a) * FY + FY - 1 - b) * FX + FX - 1 - c];
}

static void test_gradcheck_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("gradcheck");
    const case_t cases[] = {
        {2, 2, 3, {1, 3, 2}, {1, 2, 2}}, /* 2D, 1x2x2 */
        {1, 3, 2, {2, 2, 3}, {2, 2, 2}}, /* 3D, 2x2x2, batch 1 */
        {2, 1, 2, {2, 3, 2}, {1, 1, 3}}, /* anisotropic 1x1x3, Cin 1 */
        {2, 2, 1, {3, 1, 2}, {2, 1, 1}}, /* z only, Cout 1 */
        {1, 2, 2, {2, 2, 2}, {1, 1, 1}}, /* f = 1: a 1x1x1 convolution */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ekn_upconv_geom g;
        assert_int_equal(
            ekn_upconv_geom_init(&g, cases[c].n, cases[c].cin, cases[c].cout, cases[c].in, cases[c].f), 0);
        char name[128];
        describe(name, sizeof name, &g, "gradcheck");
        fprintf(stderr, "%s\n", name);
        size_t nx = x_size(&g), nw = w_size(&g), ny = y_size(&g), nb = (size_t)g.cout;
        float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(nb), *r = alloc_f(ny), *y = alloc_f(ny);
        float *dx = alloc_f(nx), *dw = alloc_f(nw), *db = alloc_f(nb), *wf = alloc_f(nw);
        tu_fill(&seed, x, nx, -1, 1);
        tu_fill(&seed, w, nw, -1, 1);
        tu_fill(&seed, b, nb, -1, 1);
        tu_fill(&seed, r, ny, -1, 1);
        memset(dw, 0, nw * sizeof *dw);
        memset(db, 0, nb * sizeof *db);
        fill_nan(dx, nx); /* overwritten */
        ekn_upconv_backward_ref(&g, x, w, r, dx, dw, db); /* dL/dy = r */
        size_t bad = fd_check("dx", &g, x, w, b, r, y, x, dx, nx);
        bad += fd_check("dw", &g, x, w, b, r, y, w, dw, nw);
        bad += fd_check("db", &g, x, w, b, r, y, b, db, nb);
        assert_int_equal(bad, 0);

        /* negative control: dx from the flipped kernel must be caught
         * (a 1x1x1 kernel is its own flip) */
        if (vol(g.f) > 1) {
            flip_kernel(&g, w, wf);
            ekn_upconv_backward_ref(&g, x, wf, r, dx, dw, db);
            fprintf(stderr, "  negative control (flipped kernel), failure expected:\n");
            assert_true(fd_check("dx", &g, x, w, b, r, y, x, dx, nx) > 0);
        }
        /* and dw read in conv's (Cout, Cin, k) layout instead of (Cin, Cout, f)
         * (the same array when Cin or Cout is 1) */
        if (g.cin > 1 && g.cout > 1) {
            memset(dw, 0, nw * sizeof *dw);
            ekn_upconv_backward_ref(&g, x, w, r, NULL, dw, db);
            const size_t fv = vol(g.f);
            for (int ci = 0; ci < g.cin; ci++)
                for (int co = 0; co < g.cout; co++)
                    for (size_t k = 0; k < fv; k++)
                        wf[((size_t)co * g.cin + ci) * fv + k] = dw[((size_t)ci * g.cout + co) * fv + k];
            fprintf(stderr, "  negative control (dw in the (Cout, Cin) layout), failure expected:\n");
            assert_true(fd_check("dw", &g, x, w, b, r, y, w, wf, nw) > 0);
        }
        free(x), free(w), free(b), free(r), free(y), free(dx), free(dw), free(db), free(wf);
    }
}

static size_t cpu_vs_ref(const case_t *cs, uint64_t *seed)
{
    ekn_upconv_geom g;
    assert_int_equal(ekn_upconv_geom_init(&g, cs->n, cs->cin, cs->cout, cs->in, cs->f), 0);
    char name[160];
    size_t nx = x_size(&g), nw = w_size(&g), ny = y_size(&g), nb = (size_t)g.cout;
    size_t nwork = ekn_upconv_workspace_floats(&g);
    float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(nb), *dy = alloc_f(ny);
    float *y_ref = alloc_f(ny), *y_cpu = alloc_f(ny), *dx_ref = alloc_f(nx), *dx_cpu = alloc_f(nx);
    float *dw_ref = alloc_f(nw), *dw_cpu = alloc_f(nw), *db_ref = alloc_f(nb), *db_cpu = alloc_f(nb);
    float *work = alloc_f(nwork);
    tu_fill(seed, x, nx, -1, 1);
    tu_fill(seed, w, nw, -1, 1);
    tu_fill(seed, b, nb, -1, 1);
    tu_fill(seed, dy, ny, -1, 1);
    /* nonzero starting gradients: dw, db must accumulate (+=) */
    tu_fill(seed, dw_ref, nw, -1, 1);
    tu_fill(seed, db_ref, nb, -1, 1);
    memcpy(dw_cpu, dw_ref, nw * sizeof *dw_cpu);
    memcpy(db_cpu, db_ref, nb * sizeof *db_cpu);
    /* NaN in every output and the workspace: an element left unwritten, a
     * dx added to rather than overwritten, or a stale workspace value read
     * all show as mismatches */
    fill_nan(y_cpu, ny);
    fill_nan(dx_cpu, nx);
    fill_nan(dx_ref, nx);
    fill_nan(work, nwork);

    const double S = (double)vol(g.in), fvol = (double)vol(g.f);
    const double a_y = sum_atol(g.cin), a_dx = sum_atol(g.cout * fvol), a_dw = sum_atol(g.n * S + 1);
    const double a_db = sum_atol(g.n * S * fvol + 1);
    size_t bad = 0;
    ekn_upconv_forward_ref(&g, x, w, b, y_ref);
    ekn_upconv_forward_cpu(&g, x, w, b, y_cpu, work);
    describe(name, sizeof name, &g, "y");
    bad += tu_compare(name, y_cpu, y_ref, ny, a_y, RTOL);

    fill_nan(work, nwork); /* backward must not need what forward left */
    ekn_upconv_backward_ref(&g, x, w, dy, dx_ref, dw_ref, db_ref);
    ekn_upconv_backward_cpu(&g, x, w, dy, dx_cpu, dw_cpu, db_cpu, work);
    describe(name, sizeof name, &g, "dx");
    bad += tu_compare(name, dx_cpu, dx_ref, nx, a_dx, RTOL);
    describe(name, sizeof name, &g, "dw (+= onto random)");
    bad += tu_compare(name, dw_cpu, dw_ref, nw, a_dw, RTOL);
    describe(name, sizeof name, &g, "db (+= onto random)");
    bad += tu_compare(name, db_cpu, db_ref, nb, a_db, RTOL);

    /* dx == NULL: skipped; dw, db accumulate a second time */
    fill_nan(work, nwork);
    ekn_upconv_backward_ref(&g, x, w, dy, NULL, dw_ref, db_ref);
    ekn_upconv_backward_cpu(&g, x, w, dy, NULL, dw_cpu, db_cpu, work);
    describe(name, sizeof name, &g, "dw (dx=NULL, 2nd)");
    bad += tu_compare(name, dw_cpu, dw_ref, nw, a_dw, RTOL);
    describe(name, sizeof name, &g, "db (dx=NULL, 2nd)");
    bad += tu_compare(name, db_cpu, db_ref, nb, a_db, RTOL);

    free(x), free(w), free(b), free(dy), free(y_ref), free(y_cpu), free(dx_ref), free(dx_cpu);
    free(dw_ref), free(dw_cpu), free(db_ref), free(db_cpu), free(work);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("cpu_vs_ref");
    fprintf(stderr, "|cpu-ref| <= atol(terms) + %g*|ref|, atol = %g*max(1, sqrt(terms/100))\n", RTOL, ATOL);
    const case_t cases[] = {
        /* 2D (Z = 1, fz = 1) */
        {2, 3, 4, {1, 5, 7}, {1, 2, 2}},     /* odd sizes */
        {1, 1, 1, {1, 1, 1}, {1, 2, 2}},     /* smallest, batch 1 */
        {1, 1, 3, {1, 4, 5}, {1, 2, 2}},     /* Cin 1 */
        {3, 4, 1, {1, 3, 9}, {1, 2, 2}},     /* Cout 1 */
        {2, 2, 3, {1, 5, 3}, {1, 1, 3}},     /* anisotropic 1x1x3 */
        {2, 3, 2, {1, 7, 1}, {1, 3, 1}},     /* along y only, X = 1 */
        {4, 16, 8, {1, 12, 12}, {1, 2, 2}},  /* U-Net-like */
        {1, 64, 32, {1, 9, 11}, {1, 2, 2}},  /* wide, batch 1 */
        {2, 3, 4, {1, 6, 5}, {1, 1, 1}},     /* f = 1: a 1x1 convolution */
        /* 3D */
        {2, 3, 2, {3, 4, 5}, {2, 2, 2}},     /* 2x2x2, odd sizes */
        {1, 2, 3, {3, 5, 4}, {1, 2, 2}},     /* anisotropic 1x2x2, batch 1 */
        {2, 2, 2, {2, 3, 3}, {1, 1, 3}},     /* 1x1x3 */
        {3, 1, 2, {3, 2, 3}, {2, 1, 1}},     /* z only, Cin 1 */
        {1, 5, 1, {5, 3, 7}, {3, 2, 1}},     /* 3x2x1, Cout 1 */
        {2, 24, 12, {4, 8, 8}, {1, 2, 2}},   /* aniso U-Net-like */
        {1, 4, 3, {2, 2, 2}, {2, 3, 2}},
        {1, 1, 1, {1, 1, 1}, {2, 2, 2}},     /* one voxel to one block */
    };
    size_t bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) bad += cpu_vs_ref(&cases[c], &seed);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_geom_init),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_gradcheck_ref),
        cmocka_unit_test(test_cpu_vs_ref))
