/* Dense layer: (a) gradient check of _ref by central differences,
 * (b) a hand-computed forward/backward, (c) _cpu against _ref.
 * The same for the tied layer (ekn_dense_t_*: x (N,Out) times the
 * encoder's W (Out,In)), with a negative control for its gradient check and
 * a cross-check against the untied kernels given W^T.  Set EKN_TEST_SEED to
 * replay; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dense.h"
#include "testutil.h"

/* (a) numeric vs analytic gradients: dense is linear in every input, so the
 * central difference has no truncation error and a large step keeps float
 * rounding small; what is left is rounding of y, hence: */
#define GRAD_ATOL 1e-3
#define GRAD_RTOL 1e-3
/* (c) _cpu vs _ref (llm.c style): |cpu - ref| <= CMP_ATOL + CMP_RTOL*|ref| */
#define CMP_ATOL 1e-5
#define CMP_RTOL 1e-4

struct dense_case {
    int n, in, out;
    float *x, *w, *b, *y, *r;
};

/* L = sum(y * r): dL/dy = r, so the backward with dy = r is the gradient of L */
static double dense_L(struct dense_case *d)
{
    ekn_dense_forward_ref(d->n, d->in, d->out, d->x, d->w, d->b, d->y);
    double L = 0;
    for (size_t i = 0; i < (size_t)d->n * d->out; i++) L += (double)d->y[i] * d->r[i];
    return L;
}

static void numgrad(struct dense_case *d, float *param, size_t m, float eps, float *g)
{
    for (size_t i = 0; i < m; i++) {
        float save = param[i];
        float up = save + eps, dn = save - eps;
        param[i] = up;
        double lp = dense_L(d);
        param[i] = dn;
        double lm = dense_L(d);
        param[i] = save;
        g[i] = (float)((lp - lm) / ((double)up - dn)); /* the step actually taken */
    }
}

static void grad_check(uint64_t *st, int n, int in, int out)
{
    fprintf(stderr, "-- gradcheck n=%d in=%d out=%d\n", n, in, out);
    struct dense_case d = {n, in, out, tu_alloc((size_t)n * in), tu_alloc((size_t)out * in),
                           tu_alloc(out), tu_alloc((size_t)n * out), tu_alloc((size_t)n * out)};
    size_t nx = (size_t)n * in, nw = (size_t)out * in;
    tu_fill(st, d.x, nx, -1, 1);
    tu_fill(st, d.w, nw, -1, 1);
    tu_fill(st, d.b, out, -1, 1);
    tu_fill(st, d.r, (size_t)n * out, -1, 1);

    float *dx = tu_alloc(nx), *dw = tu_alloc(nw), *db = tu_alloc(out);
    float *dw0 = tu_alloc(nw), *db0 = tu_alloc(out), *dw2 = tu_alloc(nw);
    float *gx = tu_alloc(nx), *gw = tu_alloc(nw), *gb = tu_alloc(out);
    /* start the parameter gradients from nonzero values: the check is on the
     * increment, which proves they accumulate */
    tu_fill(st, dw0, nw, -1, 1);
    tu_fill(st, db0, out, -1, 1);
    memcpy(dw, dw0, nw * sizeof *dw);
    memcpy(db, db0, out * sizeof *db);
    tu_fill(st, dx, nx, -5, 5); /* garbage: dx must be overwritten */
    ekn_dense_backward_ref(n, in, out, d.x, d.w, d.r, dx, dw, db);
    for (size_t i = 0; i < nw; i++) dw[i] -= dw0[i];
    for (int i = 0; i < out; i++) db[i] -= db0[i];

    numgrad(&d, d.x, nx, 0.25f, gx);
    numgrad(&d, d.w, nw, 0.25f, gw);
    numgrad(&d, d.b, out, 0.25f, gb);
    size_t bad = 0;
    bad += tu_compare("dense_ref dx vs numeric", dx, gx, nx, GRAD_ATOL, GRAD_RTOL);
    bad += tu_compare("dense_ref dw (increment) vs numeric", dw, gw, nw, GRAD_ATOL, GRAD_RTOL);
    bad += tu_compare("dense_ref db (increment) vs numeric", db, gb, out, GRAD_ATOL, GRAD_RTOL);

    /* dx = NULL (first layer) must still give the same dw */
    memset(dw2, 0, nw * sizeof *dw2);
    ekn_dense_backward_ref(n, in, out, d.x, d.w, d.r, NULL, dw2, NULL);
    bad += tu_compare("dense_ref dw with dx=NULL,db=NULL", dw2, dw, nw, 1e-6, 1e-6);
    assert_int_equal(bad, 0);

    free(d.x), free(d.w), free(d.b), free(d.y), free(d.r);
    free(dx), free(dw), free(db), free(dw0), free(db0), free(dw2), free(gx), free(gw), free(gb);
}

static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("dense gradcheck");
    grad_check(&st, 3, 5, 4);
    grad_check(&st, 1, 1, 1);
    grad_check(&st, 2, 7, 1);
    grad_check(&st, 4, 1, 6);
}

/* (b) by hand: x = [[1,2],[-1,0]], w = [[1,0],[0,1],[1,1]], b = [.5,0,-1] */
static void test_closed_form(void **state)
{
    (void)state;
    const float x[] = {1, 2, -1, 0}, w[] = {1, 0, 0, 1, 1, 1}, b[] = {0.5f, 0, -1};
    const float y_ref[] = {1.5f, 2, 2, -0.5f, 0, -2};
    /* dy = [[1,0,1],[0,2,0]]: dx = dy W = [[2,1],[0,2]];
     * dw = dy^T x = [[1,2],[-2,0],[1,2]]; db = [1,2,1]  (then += onto 1s) */
    const float dy[] = {1, 0, 1, 0, 2, 0};
    const float dx_ref[] = {2, 1, 0, 2}, dw_ref[] = {2, 3, -1, 1, 2, 3}, db_ref[] = {2, 3, 2};
    float y[6], dx[4], dw[6], db[3];
    size_t bad = 0;
    for (int impl = 0; impl < 2; impl++) {
        for (int i = 0; i < 6; i++) dw[i] = 1;
        for (int i = 0; i < 3; i++) db[i] = 1;
        if (impl == 0) {
            ekn_dense_forward_ref(2, 2, 3, x, w, b, y);
            ekn_dense_backward_ref(2, 2, 3, x, w, dy, dx, dw, db);
        } else {
            ekn_dense_forward_cpu(2, 2, 3, x, w, b, y);
            ekn_dense_backward_cpu(2, 2, 3, x, w, dy, dx, dw, db);
        }
        const char *nm = impl ? "cpu" : "ref";
        fprintf(stderr, "-- closed form %s\n", nm);
        bad += tu_compare("dense y (hand)", y, y_ref, 6, 1e-6, 1e-6);
        bad += tu_compare("dense dx (hand)", dx, dx_ref, 4, 1e-6, 1e-6);
        bad += tu_compare("dense dw (hand, += onto 1)", dw, dw_ref, 6, 1e-6, 1e-6);
        bad += tu_compare("dense db (hand, += onto 1)", db, db_ref, 3, 1e-6, 1e-6);
    }
    assert_int_equal(bad, 0);
}

static size_t cpu_vs_ref(uint64_t *st, int n, int in, int out, int with_bias, int with_dx)
{
    fprintf(stderr, "-- cpu vs ref n=%d in=%d out=%d bias=%d dx=%d\n", n, in, out, with_bias,
            with_dx);
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = tu_alloc(nx), *w = tu_alloc(nw), *b = tu_alloc(out), *dy = tu_alloc(ny);
    float *y1 = tu_alloc(ny), *y2 = tu_alloc(ny), *dx1 = tu_alloc(nx), *dx2 = tu_alloc(nx);
    float *dw1 = tu_alloc(nw), *dw2 = tu_alloc(nw), *db1 = tu_alloc(out), *db2 = tu_alloc(out);
    tu_fill(st, x, nx, -1, 1);
    tu_fill(st, w, nw, -1, 1);
    tu_fill(st, b, out, -1, 1);
    tu_fill(st, dy, ny, -1, 1);
    tu_fill(st, y1, ny, -9, 9); /* garbage outputs: must be overwritten */
    memcpy(y2, y1, ny * sizeof *y2);
    tu_fill(st, dx1, nx, -9, 9);
    memcpy(dx2, dx1, nx * sizeof *dx2);
    tu_fill(st, dw1, nw, -1, 1); /* nonzero start: += */
    memcpy(dw2, dw1, nw * sizeof *dw2);
    tu_fill(st, db1, out, -1, 1);
    memcpy(db2, db1, out * sizeof *db2);

    const float *bb = with_bias ? b : NULL;
    float *db_r = with_bias ? db1 : NULL, *db_c = with_bias ? db2 : NULL;
    ekn_dense_forward_ref(n, in, out, x, w, bb, y1);
    ekn_dense_forward_cpu(n, in, out, x, w, bb, y2);
    ekn_dense_backward_ref(n, in, out, x, w, dy, with_dx ? dx1 : NULL, dw1, db_r);
    ekn_dense_backward_cpu(n, in, out, x, w, dy, with_dx ? dx2 : NULL, dw2, db_c);
    size_t bad = 0;
    bad += tu_compare("dense y cpu vs ref", y2, y1, ny, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense dx cpu vs ref", dx2, dx1, nx, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense dw cpu vs ref", dw2, dw1, nw, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense db cpu vs ref", db2, db1, out, CMP_ATOL, CMP_RTOL);
    free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("dense cpu vs ref");
    static const int shapes[][3] = {{1, 1, 1},  {1, 7, 3},   {5, 13, 9},  {17, 33, 65},
                                    {64, 100, 10}, {3, 1, 5}, {2, 300, 7}, {33, 17, 1}};
    size_t bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        bad += cpu_vs_ref(&st, shapes[i][0], shapes[i][1], shapes[i][2], 1, 1);
    bad += cpu_vs_ref(&st, 7, 11, 5, 0, 1); /* no bias: b = NULL, db = NULL */
    bad += cpu_vs_ref(&st, 7, 11, 5, 1, 0); /* dx = NULL */
    assert_int_equal(bad, 0);
}

/* ---- tied weights ------------------------------------------------------ */

struct tied_case {
    int n, in, out;
    float *x, *w, *b, *y, *r; /* x (N,Out), w (Out,In), b (In), y and r (N,In) */
};

/* L = sum(y * r) with y = x W + b */
static double tied_L(struct tied_case *d)
{
    ekn_dense_t_forward_ref(d->n, d->in, d->out, d->x, d->w, d->b, d->y);
    double L = 0;
    for (size_t i = 0; i < (size_t)d->n * d->in; i++) L += (double)d->y[i] * d->r[i];
    return L;
}

static void tied_numgrad(struct tied_case *d, float *param, size_t m, float eps, float *g)
{
    for (size_t i = 0; i < m; i++) {
        float save = param[i];
        float up = save + eps, dn = save - eps;
        param[i] = up;
        double lp = tied_L(d);
        param[i] = dn;
        double lm = tied_L(d);
        param[i] = save;
        g[i] = (float)((lp - lm) / ((double)up - dn));
    }
}

/* Returns the number of gradient elements out of tolerance; broken != 0
 * hands backward another W than forward used (the negative control). */
static size_t tied_grad_check(uint64_t *st, int n, int in, int out, int broken)
{
    fprintf(stderr, "-- tied gradcheck n=%d in=%d out=%d%s\n", n, in, out,
            broken ? " (negative control: backward with another W, failure expected)" : "");
    size_t nx = (size_t)n * out, nw = (size_t)out * in, ny = (size_t)n * in;
    struct tied_case d = {n, in, out, tu_alloc(nx), tu_alloc(nw), tu_alloc(in), tu_alloc(ny), tu_alloc(ny)};
    tu_fill(st, d.x, nx, -1, 1);
    tu_fill(st, d.w, nw, -1, 1);
    tu_fill(st, d.b, in, -1, 1);
    tu_fill(st, d.r, ny, -1, 1);
    float *dx = tu_alloc(nx), *dw = tu_alloc(nw), *db = tu_alloc(in), *dw0 = tu_alloc(nw), *db0 = tu_alloc(in);
    float *gx = tu_alloc(nx), *gw = tu_alloc(nw), *gb = tu_alloc(in), *w2 = tu_alloc(nw), *dw2 = tu_alloc(nw);
    tu_fill(st, dw0, nw, -1, 1); /* nonzero start: the check is on the increment (+=) */
    tu_fill(st, db0, in, -1, 1);
    memcpy(dw, dw0, nw * sizeof *dw);
    memcpy(db, db0, in * sizeof *db);
    tu_fill(st, dx, nx, -5, 5); /* garbage: dx must be overwritten */
    tu_fill(st, w2, nw, -1, 1);
    ekn_dense_t_backward_ref(n, in, out, d.x, broken ? w2 : d.w, d.r, dx, dw, db);
    for (size_t i = 0; i < nw; i++) dw[i] -= dw0[i];
    for (int i = 0; i < in; i++) db[i] -= db0[i];

    tied_numgrad(&d, d.x, nx, 0.25f, gx);
    tied_numgrad(&d, d.w, nw, 0.25f, gw);
    tied_numgrad(&d, d.b, in, 0.25f, gb);
    size_t bad = 0;
    bad += tu_compare("dense_t_ref dx vs numeric", dx, gx, nx, GRAD_ATOL, GRAD_RTOL);
    if (!broken) {
        bad += tu_compare("dense_t_ref dw (increment) vs numeric", dw, gw, nw, GRAD_ATOL, GRAD_RTOL);
        bad += tu_compare("dense_t_ref db (increment) vs numeric", db, gb, in, GRAD_ATOL, GRAD_RTOL);
        /* dx = NULL, db = NULL (a decoder without bias): the same dw */
        ekn_dense_t_backward_ref(n, in, out, d.x, d.w, d.r, NULL, dw2, NULL);
        bad += tu_compare("dense_t_ref dw with dx=NULL,db=NULL", dw2, dw, nw, 1e-6, 1e-6);
    }
    free(d.x), free(d.w), free(d.b), free(d.y), free(d.r);
    free(dx), free(dw), free(db), free(dw0), free(db0), free(gx), free(gw), free(gb), free(w2), free(dw2);
    return bad;
}

static void test_tied_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("dense_t gradcheck");
    static const int shapes[][3] = {{3, 5, 4}, {1, 1, 1}, {2, 7, 1}, {4, 1, 6}, {1, 9, 3}};
    size_t bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        bad += tied_grad_check(&st, shapes[i][0], shapes[i][1], shapes[i][2], 0);
    assert_int_equal(bad, 0);
    /* the check can fail: a dx from the wrong W is caught */
    assert_true(tied_grad_check(&st, 3, 5, 4, 1) > 0);
}

/* The tied layer is the untied one given W^T (In, Out):
 * dense_t(n, in, out, x, W) == dense(n, in' = out, out' = in, x, W^T), and
 * its dw is the untied dw transposed.  Both _ref and _cpu. */
static void test_tied_is_untied_transposed(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("dense_t vs dense with W^T");
    const int n = 5, in = 7, out = 3;
    size_t nx = (size_t)n * out, nw = (size_t)out * in, ny = (size_t)n * in;
    float *x = tu_alloc(nx), *w = tu_alloc(nw), *wt = tu_alloc(nw), *b = tu_alloc(in), *dy = tu_alloc(ny);
    float *y1 = tu_alloc(ny), *y2 = tu_alloc(ny), *dx1 = tu_alloc(nx), *dx2 = tu_alloc(nx);
    float *dw1 = tu_alloc(nw), *dwt = tu_alloc(nw), *dw2 = tu_alloc(nw), *db1 = tu_alloc(in), *db2 = tu_alloc(in);
    tu_fill(&st, x, nx, -1, 1);
    tu_fill(&st, w, nw, -1, 1);
    tu_fill(&st, b, in, -1, 1);
    tu_fill(&st, dy, ny, -1, 1);
    for (int o = 0; o < out; o++)
        for (int k = 0; k < in; k++) wt[(size_t)k * out + o] = w[(size_t)o * in + k];
    size_t bad = 0;
    for (int impl = 0; impl < 2; impl++) {
        memset(dw1, 0, nw * sizeof *dw1), memset(dwt, 0, nw * sizeof *dwt);
        memset(db1, 0, in * sizeof *db1), memset(db2, 0, in * sizeof *db2);
        if (impl == 0) {
            ekn_dense_t_forward_ref(n, in, out, x, w, b, y1);
            ekn_dense_forward_ref(n, out, in, x, wt, b, y2);
            ekn_dense_t_backward_ref(n, in, out, x, w, dy, dx1, dw1, db1);
            ekn_dense_backward_ref(n, out, in, x, wt, dy, dx2, dwt, db2);
        } else {
            ekn_dense_t_forward_cpu(n, in, out, x, w, b, y1);
            ekn_dense_forward_cpu(n, out, in, x, wt, b, y2);
            ekn_dense_t_backward_cpu(n, in, out, x, w, dy, dx1, dw1, db1);
            ekn_dense_backward_cpu(n, out, in, x, wt, dy, dx2, dwt, db2);
        }
        for (int o = 0; o < out; o++) /* dwt (In, Out) back to (Out, In) */
            for (int k = 0; k < in; k++) dw2[(size_t)o * in + k] = dwt[(size_t)k * out + o];
        fprintf(stderr, "-- %s\n", impl ? "cpu" : "ref");
        bad += tu_compare("dense_t y vs dense with W^T", y1, y2, ny, 1e-6, 1e-5);
        bad += tu_compare("dense_t dx vs dense with W^T", dx1, dx2, nx, 1e-6, 1e-5);
        bad += tu_compare("dense_t dw vs dense's, transposed", dw1, dw2, nw, 1e-6, 1e-5);
        bad += tu_compare("dense_t db vs dense's", db1, db2, in, 1e-6, 1e-5);
    }
    assert_int_equal(bad, 0);
    free(x), free(w), free(wt), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dwt), free(dw2), free(db1), free(db2);
}

static size_t tied_cpu_vs_ref(uint64_t *st, int n, int in, int out, int with_bias, int with_dx)
{
    fprintf(stderr, "-- tied cpu vs ref n=%d in=%d out=%d bias=%d dx=%d\n", n, in, out, with_bias, with_dx);
    size_t nx = (size_t)n * out, nw = (size_t)out * in, ny = (size_t)n * in;
    float *x = tu_alloc(nx), *w = tu_alloc(nw), *b = tu_alloc(in), *dy = tu_alloc(ny);
    float *y1 = tu_alloc(ny), *y2 = tu_alloc(ny), *dx1 = tu_alloc(nx), *dx2 = tu_alloc(nx);
    float *dw1 = tu_alloc(nw), *dw2 = tu_alloc(nw), *db1 = tu_alloc(in), *db2 = tu_alloc(in);
    float *db0 = tu_alloc(in), *dx0 = tu_alloc(nx);
    tu_fill(st, x, nx, -1, 1);
    tu_fill(st, w, nw, -1, 1);
    tu_fill(st, b, in, -1, 1);
    tu_fill(st, dy, ny, -1, 1);
    tu_fill(st, y1, ny, -9, 9); /* garbage outputs: must be overwritten */
    memcpy(y2, y1, ny * sizeof *y2);
    tu_fill(st, dx0, nx, -9, 9);
    memcpy(dx1, dx0, nx * sizeof *dx1);
    memcpy(dx2, dx0, nx * sizeof *dx2);
    tu_fill(st, dw1, nw, -1, 1); /* nonzero start: += */
    memcpy(dw2, dw1, nw * sizeof *dw2);
    tu_fill(st, db0, in, -1, 1);
    memcpy(db1, db0, in * sizeof *db1);
    memcpy(db2, db0, in * sizeof *db2);

    const float *bb = with_bias ? b : NULL;
    float *db_r = with_bias ? db1 : NULL, *db_c = with_bias ? db2 : NULL;
    ekn_dense_t_forward_ref(n, in, out, x, w, bb, y1);
    ekn_dense_t_forward_cpu(n, in, out, x, w, bb, y2);
    ekn_dense_t_backward_ref(n, in, out, x, w, dy, with_dx ? dx1 : NULL, dw1, db_r);
    ekn_dense_t_backward_cpu(n, in, out, x, w, dy, with_dx ? dx2 : NULL, dw2, db_c);
    size_t bad = 0;
    bad += tu_compare("dense_t y cpu vs ref", y2, y1, ny, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense_t dx cpu vs ref", dx2, dx1, nx, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense_t dw (+=) cpu vs ref", dw2, dw1, nw, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense_t db (+=) cpu vs ref", db2, db1, in, CMP_ATOL, CMP_RTOL);
    if (!with_dx) bad += tu_compare("dense_t dx untouched (NULL)", dx2, dx0, nx, 0, 0);
    if (!with_bias) bad += tu_compare("dense_t db untouched (NULL)", db2, db0, in, 0, 0);
    /* a second backward accumulates onto the first */
    ekn_dense_t_backward_ref(n, in, out, x, w, dy, NULL, dw1, db_r);
    ekn_dense_t_backward_cpu(n, in, out, x, w, dy, NULL, dw2, db_c);
    bad += tu_compare("dense_t dw (+= twice) cpu vs ref", dw2, dw1, nw, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("dense_t db (+= twice) cpu vs ref", db2, db1, in, CMP_ATOL, CMP_RTOL);
    free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2);
    free(dw1), free(dw2), free(db1), free(db2), free(db0), free(dx0);
    return bad;
}

static void test_tied_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("dense_t cpu vs ref");
    static const int shapes[][3] = {{1, 1, 1},   {1, 7, 3},  {5, 13, 9}, {17, 65, 33},
                                    {64, 784, 100}, {3, 5, 1}, {2, 7, 300}, {33, 1, 17}};
    size_t bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        bad += tied_cpu_vs_ref(&st, shapes[i][0], shapes[i][1], shapes[i][2], 1, 1);
    bad += tied_cpu_vs_ref(&st, 7, 11, 5, 0, 1); /* no bias: b = NULL, db = NULL */
    bad += tied_cpu_vs_ref(&st, 7, 11, 5, 1, 0); /* dx = NULL */
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_cpu_vs_ref),
        cmocka_unit_test(test_tied_gradcheck),
        cmocka_unit_test(test_tied_is_untied_transposed),
        cmocka_unit_test(test_tied_cpu_vs_ref))
