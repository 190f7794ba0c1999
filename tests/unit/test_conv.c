/* Convolution tests.
 *   - geometry validation;
 *   - known answers, because a gradient check only proves that backward
 *     matches forward, not that forward is a cross-correlation with this
 *     layout;
 *   - gradient check of _ref by central differences, with a negative control
 *     (a flipped kernel) proving the check can fail;
 *   - _cpu against _ref over many geometries (1D/2D/3D, anisotropic and 1x1x1
 *     kernels, odd sizes, run lengths below and above the copy width, batch,
 *     Cin and Cout of 1 and more);
 *   - the same with the _cpu kernels' chunks shrunk to a few columns and
 *     spread over 2, 3 and 9 threads, so that chunk and thread boundaries fall
 *     inside rows, planes and examples;
 *   - all of that again with zero padding and strides (ekn_conv_geom_init_ex):
 *     pad 1 and 2 with k 3 and 5, stride 2 on one axis or all, "same"
 *     padding in 2D and 3D, anisotropic 1x3x3 kernels, strides larger than
 *     the kernel (skipped inputs), kernels larger than the input.
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

#include "conv.h"
#include "testutil.h"

/* _cpu vs _ref: float32 SGEMM sums of a few hundred terms against a
 * double-accumulated oracle stay well inside this. */
#define ATOL 1e-5
#define RTOL 1e-4
/* Finite differences: the loss is linear in each parameter, so the only
 * error is float32 rounding of the outputs, amplified by 1/(2h); a wrong
 * gradient is off by O(1). */
#define FD_H 1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

typedef struct {
    int n, cin, cout, in[3], k[3];
} case_t;
/* a case with stride and padding (ekn_conv_geom_init_ex) */
typedef struct {
    case_t c;
    int stride[3], pad[3];
} padded_t;

/* stride and pad NULL: ekn_conv_geom_init (stride 1, pad 0) */
static int geom_of(ekn_conv_geom *g, const case_t *c, const int *stride, const int *pad)
{
    if (!stride) return ekn_conv_geom_init(g, c->n, c->cin, c->cout, c->in, c->k);
    return ekn_conv_geom_init_ex(g, c->n, c->cin, c->cout, c->in, c->k, stride, pad);
}

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

static size_t x_size(const ekn_conv_geom *g)
{
    return (size_t)g->n * g->cin * g->in[0] * g->in[1] * g->in[2];
}
static size_t y_size(const ekn_conv_geom *g)
{
    return (size_t)g->n * g->cout * g->out[0] * g->out[1] * g->out[2];
}
static size_t w_size(const ekn_conv_geom *g)
{
    return (size_t)g->cout * g->cin * g->k[0] * g->k[1] * g->k[2];
}

static void describe(char *buf, size_t len, const ekn_conv_geom *g, const char *what)
{
    snprintf(buf, len, "%s n%d %d->%d %dx%dx%d k%dx%dx%d s%d%d%d p%d%d%d", what, g->n, g->cin, g->cout,
             g->in[0], g->in[1], g->in[2], g->k[0], g->k[1], g->k[2], g->stride[0], g->stride[1],
             g->stride[2], g->pad[0], g->pad[1], g->pad[2]);
}

static void test_geom_init(void **state)
{
    (void)state;
    ekn_conv_geom g;
    assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, (int[]){5, 7, 9}, (int[]){2, 3, 5}), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.cin, 3);
    assert_int_equal(g.cout, 4);
    assert_int_equal(g.out[0], 4);
    assert_int_equal(g.out[1], 5);
    assert_int_equal(g.out[2], 5);
    assert_int_equal(ekn_conv_workspace_floats(&g), (size_t)(3 * 30 + 4) * 2 * 4 * 5 * 5);
    /* kernel as large as the input: one output */
    assert_int_equal(ekn_conv_geom_init(&g, 1, 1, 1, (int[]){4, 5, 6}, (int[]){4, 5, 6}), 0);
    assert_int_equal(g.out[0] * g.out[1] * g.out[2], 1);

    const int ok[3] = {5, 7, 9}, kk[3] = {2, 3, 5};
    assert_int_equal(ekn_conv_geom_init(&g, 0, 3, 4, ok, kk), -1);
    assert_int_equal(ekn_conv_geom_init(&g, 2, 0, 4, ok, kk), -1);
    assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 0, ok, kk), -1);
    assert_int_equal(ekn_conv_geom_init(&g, -1, 3, 4, ok, kk), -1);
    for (int d = 0; d < 3; d++) {
        int in[3] = {5, 7, 9}, k[3] = {2, 3, 5};
        in[d] = 0;
        assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, in, kk), -1);
        in[d] = ok[d];
        k[d] = 0;
        assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, in, k), -1);
        k[d] = -2;
        assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, in, k), -1);
        k[d] = in[d] + 1; /* out would be 0 */
        assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, in, k), -1);
    }
    /* N*outvol beyond the int dimensions SGEMM takes */
    assert_int_equal(ekn_conv_geom_init(&g, 1 << 20, 1, 1, (int[]){1, 1 << 12, 1}, (int[]){1, 1, 1}), -1);
    assert_int_equal(ekn_conv_geom_init(NULL, 2, 3, 4, ok, kk), -1);
}

static void test_geom_init_ex(void **state)
{
    (void)state;
    ekn_conv_geom g, h;
    const int in[3] = {5, 7, 9}, k[3] = {3, 3, 5}, one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    /* ekn_conv_geom_init is init_ex with stride 1, pad 0 */
    memset(&g, 0x5a, sizeof g);
    memset(&h, 0x33, sizeof h);
    assert_int_equal(ekn_conv_geom_init(&g, 2, 3, 4, in, k), 0);
    assert_int_equal(ekn_conv_geom_init_ex(&h, 2, 3, 4, in, k, one, zero), 0);
    assert_memory_equal(&g, &h, sizeof g);
    for (int d = 0; d < 3; d++) assert_true(g.stride[d] == 1 && g.pad[d] == 0 && g.out[d] == in[d] - k[d] + 1);

    /* out = (in + 2 pad - k) / stride + 1, floor */
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, (int[]){2, 1, 3}, (int[]){1, 1, 2}), 0);
    assert_int_equal(g.out[0], 3); /* (5+2-3)/2+1 */
    assert_int_equal(g.out[1], 7); /* (7+2-3)/1+1: same */
    assert_int_equal(g.out[2], 3); /* (9+4-5)/3+1 = 2.67 -> 3 */
    assert_int_equal(g.stride[2], 3);
    assert_int_equal(g.pad[2], 2);
    assert_int_equal(ekn_conv_workspace_floats(&g), (size_t)(3 * 45 + 4) * 2 * 3 * 7 * 3);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 6, 7}, (int[]){1, 3, 3}, (int[]){1, 2, 2},
                                           zero), 0);
    assert_true(g.out[0] == 1 && g.out[1] == 2 && g.out[2] == 3); /* floor: the last inputs unused */
    /* a kernel larger than the input fits once padded */
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 2, 3}, (int[]){1, 5, 5}, one,
                                           (int[]){0, 2, 2}), 0);
    assert_true(g.out[0] == 1 && g.out[1] == 2 && g.out[2] == 3);

    const int s_ok[3] = {1, 2, 1}, p_ok[3] = {0, 1, 2};
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s_ok, p_ok), 0);
    for (int d = 0; d < 3; d++) {
        int s[3] = {1, 2, 1}, p[3] = {0, 1, 2};
        s[d] = 0;
        assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s, p_ok), -1);
        s[d] = -1;
        assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s, p_ok), -1);
        p[d] = -1;
        assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s_ok, p), -1);
        p[d] = k[d]; /* a window of padding only */
        assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s_ok, p), -1);
        p[d] = k[d] - 1;
        assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s_ok, p), 0);
    }
    /* in + 2 pad < k: no output, even where C's division would round -1/2 to 0 */
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 1, 1}, (int[]){1, 1, 4}, (int[]){1, 1, 2},
                                           (int[]){0, 0, 1}), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 1, 2}, (int[]){1, 1, 4}, (int[]){1, 1, 2},
                                           (int[]){0, 0, 1}), 0);
    assert_int_equal(g.out[2], 1);
    /* sizes < 1 are refused as by ekn_conv_geom_init */
    assert_int_equal(ekn_conv_geom_init_ex(&g, 0, 3, 4, in, k, s_ok, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 0, 4, in, k, s_ok, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 0, in, k, s_ok, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, (int[]){5, 0, 9}, k, s_ok, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, (int[]){3, 0, 5}, s_ok, p_ok), -1);
    /* padding that makes N*outvol overflow SGEMM's int, and sizes whose
     * sum in + 2 pad would overflow int */
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1 << 19, 1, 1, (int[]){1, 4094, 1}, (int[]){1, 3, 1}, one,
                                           zero), 0);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1 << 19, 1, 1, (int[]){1, 4094, 1}, (int[]){1, 3, 1}, one,
                                           (int[]){0, 2, 0}), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 1, 0x7fffffff}, (int[]){1, 1, 0x7fffffff},
                                           one, (int[]){0, 0, 0x7ffffffe}), -1);
    assert_int_equal(ekn_conv_geom_init_ex(NULL, 2, 3, 4, in, k, s_ok, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, NULL, p_ok), -1);
    assert_int_equal(ekn_conv_geom_init_ex(&g, 2, 3, 4, in, k, s_ok, NULL), -1);
}

/* Both implementations, so a wrong layout in either is caught directly. */
typedef void (*fwd_fn)(const ekn_conv_geom *, const float *, const float *, const float *, float *,
                       float *);
static void fwd_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *b, float *y,
                    float *work)
{
    (void)work;
    ekn_conv_forward_ref(g, x, w, b, y);
}

static void test_known_answer(void **state)
{
    (void)state;
    fwd_fn fns[2] = {fwd_ref, ekn_conv_forward_cpu};
    for (int f = 0; f < 2; f++) {
        /* 1D: y[i] = 1*x[i] + 10*x[i+1] + 0.5 (not flipped: cross-correlation) */
        ekn_conv_geom g;
        assert_int_equal(ekn_conv_geom_init(&g, 1, 1, 1, (int[]){1, 1, 4}, (int[]){1, 1, 2}), 0);
        float x[4] = {1, 2, 3, 4}, w[2] = {1, 10}, b[1] = {0.5f}, y[3];
        float *work = alloc_f(ekn_conv_workspace_floats(&g));
        fns[f](&g, x, w, b, y, work);
        free(work);
        assert_true(y[0] == 21.5f && y[1] == 32.5f && y[2] == 43.5f);

        /* 3D, 2 examples, 2->3 channels: w[co,ci] is a single tap of weight
         * a(co,ci) at offset d(co,ci), so
         * y[n,co,o] = b[co] + sum_ci a(co,ci) * x[n,ci,o+d(co,ci)] */
        enum { N = 2, CI = 2, CO = 3, Z = 4, Y = 5, X = 6, KZ = 2, KY = 3, KX = 4 };
        enum { OZ = Z - KZ + 1, OY = Y - KY + 1, OX = X - KX + 1 };
        assert_int_equal(ekn_conv_geom_init(&g, N, CI, CO, (int[]){Z, Y, X}, (int[]){KZ, KY, KX}), 0);
        static float x3[N * CI * Z * Y * X], w3[CO * CI * KZ * KY * KX], y3[N * CO * OZ * OY * OX];
        float b3[CO] = {0.25f, -1, 3};
        for (int i = 0; i < N * CI * Z * Y * X; i++) x3[i] = (float)(i % 97) - 40;
        memset(w3, 0, sizeof w3);
        int dz[CO][CI], dy[CO][CI], dx[CO][CI];
        float a[CO][CI];
        for (int co = 0; co < CO; co++)
            for (int ci = 0; ci < CI; ci++) {
                dz[co][ci] = (co + ci) % KZ;
                dy[co][ci] = (2 * co + ci) % KY;
                dx[co][ci] = (co + 3 * ci + 1) % KX;
                a[co][ci] = (float)(co * CI + ci + 1);
                w3[(((co * CI + ci) * KZ + dz[co][ci]) * KY + dy[co][ci]) * KX + dx[co][ci]] = a[co][ci];
            }
        work = alloc_f(ekn_conv_workspace_floats(&g));
        fns[f](&g, x3, w3, b3, y3, work);
        free(work);
        size_t bad = 0;
        for (int n = 0; n < N; n++)
            for (int co = 0; co < CO; co++)
                for (int oz = 0; oz < OZ; oz++)
                    for (int oy = 0; oy < OY; oy++)
                        for (int ox = 0; ox < OX; ox++) {
                            float e = b3[co];
                            for (int ci = 0; ci < CI; ci++)
                                e += a[co][ci] * x3[(((n * CI + ci) * Z + oz + dz[co][ci]) * Y + oy + dy[co][ci]) * X + ox + dx[co][ci]];
                            /* small integers: exact in float */
                            if (y3[(((n * CO + co) * OZ + oz) * OY + oy) * OX + ox] != e) bad++;
                        }
        fprintf(stderr, "known answer (%s): %zu wrong\n", f ? "cpu" : "ref", bad);
        assert_int_equal(bad, 0);
    }
}

/* Padding and stride by hand, both implementations. */
static void test_known_answer_padded(void **state)
{
    (void)state;
    fwd_fn fns[2] = {fwd_ref, ekn_conv_forward_cpu};
    for (int f = 0; f < 2; f++) {
        /* 1D, k 3, pad 1, stride 2: windows start at -1, 1, 3 */
        ekn_conv_geom g;
        assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 1, 5}, (int[]){1, 1, 3}, (int[]){1, 1, 2},
                                               (int[]){0, 0, 1}), 0);
        assert_int_equal(g.out[2], 3);
        float x[5] = {1, 2, 3, 4, 5}, w[3] = {1, 10, 100}, b[1] = {0.5f}, y[3];
        float *work = alloc_f(ekn_conv_workspace_floats(&g));
        fns[f](&g, x, w, b, y, work);
        free(work);
        fprintf(stderr, "known answer 1D pad 1 stride 2 (%s): %g %g %g\n", f ? "cpu" : "ref", y[0], y[1], y[2]);
        assert_true(y[0] == 210.5f && y[1] == 432.5f && y[2] == 54.5f);

        /* 2D "same": 3x3 of ones on 1..9 with pad 1 sums each neighbourhood;
         * with stride 2 too, only the corners remain */
        const float x2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, zero[1] = {0};
        const float same[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28}, corners[4] = {12, 16, 24, 28};
        float y2[9];
        for (int stride = 1; stride <= 2; stride++) {
            assert_int_equal(ekn_conv_geom_init_ex(&g, 1, 1, 1, (int[]){1, 3, 3}, (int[]){1, 3, 3},
                                                   (int[]){1, stride, stride}, (int[]){0, 1, 1}), 0);
            int m = g.out[1] * g.out[2];
            assert_int_equal(m, stride == 1 ? 9 : 4);
            work = alloc_f(ekn_conv_workspace_floats(&g));
            fns[f](&g, x2, ones, zero, y2, work);
            free(work);
            size_t bad = 0;
            for (int i = 0; i < m; i++) bad += y2[i] != (stride == 1 ? same : corners)[i];
            fprintf(stderr, "known answer 2D same, stride %d (%s): %zu wrong\n", stride, f ? "cpu" : "ref", bad);
            assert_int_equal(bad, 0);
        }
    }
}

/* L = sum(y * r), accumulated in double */
static double loss(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                   const float *r, float *y)
{
    ekn_conv_forward_ref(g, x, w, b, y);
    double l = 0;
    for (size_t i = 0; i < y_size(g); i++) l += (double)y[i] * r[i];
    return l;
}

/* Compares analytic gradients of `p` (n elements) with central differences
 * of L; p must be one of x, w, b (perturbed in place and restored). */
struct fd_ctx { const ekn_conv_geom *g; float *x, *w, *b; const float *r; float *y; };

static double fd_loss(void *ctx)
{
    struct fd_ctx *c = ctx;
    return loss(c->g, c->x, c->w, c->b, c->r, c->y);
}

static size_t fd_check(const char *what, const ekn_conv_geom *g, float *x, float *w, float *b,
                       const float *r, float *y, float *p, const float *ana, size_t n)
{
    struct fd_ctx ctx = {g, x, w, b, r, y};
    return tu_fd_check(what, p, ana, n, FD_H, FD_ATOL, FD_RTOL, fd_loss, &ctx);
}

/* Flips w along all three spatial axes: the classic convolution/correlation
 * mix-up, used as the negative control. */
static void flip_kernel(const ekn_conv_geom *g, const float *w, float *wf)
{
    const int KZ = g->k[0], KY = g->k[1], KX = g->k[2];
    for (int oc = 0; oc < g->cout * g->cin; oc++)
        for (int z = 0; z < KZ; z++)
            for (int y = 0; y < KY; y++)
                for (int x = 0; x < KX; x++)
                    wf[((oc * KZ + z) * KY + y) * KX + x] =
                        w[((oc * KZ + KZ - 1 - z) * KY + KY - 1 - y) * KX + KX - 1 - x];
}

static void test_gradcheck_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED)\n", (unsigned long long)seed);
    const case_t cases[] = {
        {2, 2, 3, {1, 1, 9}, {1, 1, 4}},  /* 1D */
        {2, 2, 2, {1, 6, 7}, {1, 3, 2}},  /* 2D, anisotropic */
        {2, 2, 3, {4, 5, 5}, {2, 3, 2}},  /* 3D, anisotropic */
        {1, 3, 2, {3, 3, 4}, {1, 1, 1}},  /* 1x1x1 */
    };
    const padded_t padded[] = {
        {{2, 2, 3, {1, 1, 9}, {1, 1, 3}}, {1, 1, 2}, {0, 0, 1}},   /* 1D, pad 1, stride 2 */
        {{1, 2, 2, {1, 7, 6}, {1, 5, 3}}, {1, 1, 2}, {0, 2, 1}},   /* 2D same in y, stride 2 in x */
        {{2, 2, 2, {5, 6, 5}, {3, 3, 3}}, {2, 2, 2}, {1, 1, 1}},   /* 3D, stride 2 and pad 1 everywhere */
        {{1, 2, 3, {3, 5, 6}, {1, 3, 3}}, {1, 1, 1}, {0, 1, 1}},   /* anisotropic 1x3x3, same */
        {{2, 1, 2, {2, 5, 7}, {2, 2, 1}}, {1, 3, 3}, {1, 0, 0}},   /* stride > k: skipped inputs */
        {{1, 1, 1, {1, 2, 3}, {1, 5, 5}}, {1, 1, 1}, {0, 2, 2}},   /* kernel larger than the input */
    };
    const size_t plain = sizeof cases / sizeof cases[0], all = plain + sizeof padded / sizeof padded[0];
    for (size_t c = 0; c < all; c++) {
        ekn_conv_geom g;
        if (c < plain)
            assert_int_equal(geom_of(&g, &cases[c], NULL, NULL), 0);
        else
            assert_int_equal(geom_of(&g, &padded[c - plain].c, padded[c - plain].stride, padded[c - plain].pad), 0);
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
        ekn_conv_backward_ref(&g, x, w, r, dx, dw, db); /* dL/dy = r */

        size_t bad = 0;
        bad += fd_check("dx", &g, x, w, b, r, y, x, dx, nx);
        bad += fd_check("dw", &g, x, w, b, r, y, w, dw, nw);
        bad += fd_check("db", &g, x, w, b, r, y, b, db, nb);
        assert_int_equal(bad, 0);

        /* negative control: dx computed with a flipped kernel must be caught
         * (the 1x1x1 kernel is its own flip) */
        if (nw / ((size_t)g.cout * g.cin) > 1) {
            flip_kernel(&g, w, wf);
            ekn_conv_backward_ref(&g, x, wf, r, dx, dw, db);
            fprintf(stderr, "  negative control (flipped kernel), failure expected:\n");
            size_t wrong = fd_check("dx", &g, x, w, b, r, y, x, dx, nx);
            assert_true(wrong > 0);
        }
        free(x), free(w), free(b), free(r), free(y), free(dx), free(dw), free(db), free(wf);
    }
}

static size_t cpu_vs_ref_ex(const case_t *cs, const int *stride, const int *pad, uint64_t *seed)
{
    ekn_conv_geom g;
    assert_int_equal(geom_of(&g, cs, stride, pad), 0);
    char name[160];
    size_t nx = x_size(&g), nw = w_size(&g), ny = y_size(&g), nb = (size_t)g.cout;
    size_t nwork = ekn_conv_workspace_floats(&g);
    float *x = alloc_f(nx), *w = alloc_f(nw), *b = alloc_f(nb), *dy = alloc_f(ny);
    float *y_ref = alloc_f(ny), *y_cpu = alloc_f(ny), *dx_ref = alloc_f(nx), *dx_cpu = alloc_f(nx);
    float *dw_ref = alloc_f(nw), *dw_cpu = alloc_f(nw), *db_ref = alloc_f(nb), *db_cpu = alloc_f(nb);
    float *work = alloc_f(nwork);
    tu_fill(seed, x, nx, -1, 1);
    tu_fill(seed, w, nw, -1, 1);
    tu_fill(seed, b, nb, -1, 1);
    tu_fill(seed, dy, ny, -1, 1);
    /* nonzero starting gradients prove dw, db accumulate (+=) */
    tu_fill(seed, dw_ref, nw, -1, 1);
    tu_fill(seed, db_ref, nb, -1, 1);
    memcpy(dw_cpu, dw_ref, nw * sizeof *dw_cpu);
    memcpy(db_cpu, db_ref, nb * sizeof *db_cpu);
    /* NaN in every output and in the workspace: any element left unwritten,
     * or any stale workspace value read, shows up as a mismatch */
    fill_nan(y_cpu, ny);
    fill_nan(dx_cpu, nx);
    fill_nan(dx_ref, nx);
    fill_nan(work, nwork);

    size_t bad = 0;
    ekn_conv_forward_ref(&g, x, w, b, y_ref);
    ekn_conv_forward_cpu(&g, x, w, b, y_cpu, work);
    describe(name, sizeof name, &g, "y");
    bad += tu_compare(name, y_cpu, y_ref, ny, ATOL, RTOL);

    /* backward must not depend on what forward left in the workspace */
    fill_nan(work, nwork);
    ekn_conv_backward_ref(&g, x, w, dy, dx_ref, dw_ref, db_ref);
    ekn_conv_backward_cpu(&g, x, w, dy, dx_cpu, dw_cpu, db_cpu, work);
    describe(name, sizeof name, &g, "dx");
    bad += tu_compare(name, dx_cpu, dx_ref, nx, ATOL, RTOL);
    describe(name, sizeof name, &g, "dw");
    bad += tu_compare(name, dw_cpu, dw_ref, nw, ATOL, RTOL);
    describe(name, sizeof name, &g, "db");
    bad += tu_compare(name, db_cpu, db_ref, nb, ATOL, RTOL);

    /* dx == NULL (first layer): dw, db still accumulate, a second time */
    fill_nan(work, nwork);
    ekn_conv_backward_ref(&g, x, w, dy, NULL, dw_ref, db_ref);
    ekn_conv_backward_cpu(&g, x, w, dy, NULL, dw_cpu, db_cpu, work);
    describe(name, sizeof name, &g, "dw (dx=NULL, 2nd)");
    bad += tu_compare(name, dw_cpu, dw_ref, nw, ATOL, RTOL);
    describe(name, sizeof name, &g, "db (dx=NULL, 2nd)");
    bad += tu_compare(name, db_cpu, db_ref, nb, ATOL, RTOL);

    free(x), free(w), free(b), free(dy), free(y_ref), free(y_cpu), free(dx_ref), free(dx_cpu);
    free(dw_ref), free(dw_cpu), free(db_ref), free(db_cpu), free(work);
    return bad;
}

static size_t cpu_vs_ref(const case_t *cs, uint64_t *seed) { return cpu_vs_ref_ex(cs, NULL, NULL, seed); }

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED), |cpu-ref| <= %g + %g*|ref|\n",
            (unsigned long long)seed, ATOL, RTOL);
    const case_t cases[] = {
        /* 1D */
        {2, 3, 4, {1, 1, 17}, {1, 1, 5}},
        {1, 1, 1, {1, 1, 7}, {1, 1, 7}},   /* one output */
        {3, 2, 5, {1, 1, 9}, {1, 1, 1}},   /* 1x1x1 */
        {2, 2, 3, {1, 1, 7}, {1, 1, 5}},   /* runs of 3 */
        /* 2D */
        {3, 2, 5, {1, 13, 11}, {1, 4, 4}}, /* 1x4x4, odd sizes */
        {1, 1, 8, {1, 28, 28}, {1, 5, 5}}, /* Fashion-MNIST conv1, batch 1 */
        {2, 8, 16, {1, 12, 12}, {1, 5, 5}}, /* conv2-like, smaller */
        {2, 3, 1, {1, 9, 7}, {1, 3, 1}},   /* kx = 1: merged runs */
        {2, 2, 2, {1, 6, 6}, {1, 2, 2}},   /* runs of 5 */
        {1, 2, 3, {1, 5, 6}, {1, 5, 1}},   /* kernel spans Y */
        /* 3D */
        {2, 3, 2, {5, 7, 9}, {3, 1, 1}},   /* 3x1x1: whole-plane runs */
        {2, 4, 3, {6, 8, 7}, {2, 3, 5}},   /* 2x3x5 */
        {3, 5, 6, {3, 4, 5}, {1, 1, 1}},   /* 1x1x1 */
        {1, 2, 1, {4, 5, 6}, {4, 5, 6}},   /* one output */
        {2, 3, 2, {3, 3, 9}, {3, 3, 1}},
        {5, 1, 3, {4, 6, 5}, {2, 2, 2}},   /* batch 5, cin 1 */
        {1, 4, 4, {5, 9, 10}, {3, 3, 3}},
        {1, 1, 1, {1, 1, 1}, {1, 1, 1}},   /* smallest */
        {3, 2, 3, {3, 18, 20}, {1, 3, 3}}, /* >= 256 outputs per example: y, dy in place */
        {1, 1, 6, {3, 20, 21}, {2, 3, 3}}, /* Cin 1, odd sizes, batch 1 */
    };
    size_t bad = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) bad += cpu_vs_ref(&cases[c], &seed);
    assert_int_equal(bad, 0);
}

/* Padding and stride: the general lowering (conv_lower.c) against _ref. */
static const padded_t padded_cases[] = {
    /* 1D */
    {{2, 3, 4, {1, 1, 17}, {1, 1, 5}}, {1, 1, 1}, {0, 0, 2}},     /* same, k 5 */
    {{1, 2, 3, {1, 1, 16}, {1, 1, 3}}, {1, 1, 2}, {0, 0, 1}},     /* pad 1, stride 2, batch 1 */
    {{3, 1, 2, {1, 1, 11}, {1, 1, 5}}, {1, 1, 3}, {0, 0, 2}},     /* stride 3, floor */
    /* 2D */
    {{2, 3, 5, {1, 13, 11}, {1, 3, 3}}, {1, 1, 1}, {0, 1, 1}},    /* same, k 3, odd sizes */
    {{1, 1, 8, {1, 28, 28}, {1, 5, 5}}, {1, 1, 1}, {0, 2, 2}},    /* same, k 5, batch 1 */
    {{2, 4, 6, {1, 15, 13}, {1, 5, 5}}, {1, 2, 2}, {0, 2, 2}},    /* pad 2, stride 2 */
    {{2, 2, 3, {1, 9, 12}, {1, 3, 3}}, {1, 1, 2}, {0, 1, 1}},     /* stride 2 in x only */
    {{3, 2, 2, {1, 10, 7}, {1, 3, 3}}, {1, 2, 1}, {0, 1, 0}},     /* stride 2, pad 1, in y only */
    {{2, 3, 4, {1, 12, 12}, {1, 3, 3}}, {1, 2, 2}, {0, 0, 0}},    /* stride, no pad */
    {{2, 2, 3, {1, 11, 9}, {1, 1, 1}}, {1, 2, 2}, {0, 0, 0}},     /* 1x1, stride 2: downsampling */
    {{1, 2, 2, {1, 7, 8}, {1, 2, 2}}, {1, 3, 3}, {0, 1, 1}},      /* stride > k: skipped inputs */
    {{2, 1, 3, {1, 2, 3}, {1, 5, 5}}, {1, 1, 1}, {0, 2, 2}},      /* kernel larger than the input */
    {{1, 2, 2, {1, 5, 1}, {1, 3, 3}}, {1, 2, 1}, {0, 1, 1}},      /* X = 1: one padded tap each side */
    /* 3D */
    {{2, 3, 2, {5, 7, 9}, {3, 3, 3}}, {1, 1, 1}, {1, 1, 1}},      /* same, k 3 */
    {{1, 2, 3, {7, 9, 8}, {5, 5, 5}}, {1, 1, 1}, {2, 2, 2}},      /* same, k 5, batch 1 */
    {{2, 2, 2, {7, 9, 10}, {3, 3, 3}}, {2, 2, 2}, {1, 1, 1}},     /* stride 2 on all axes */
    {{2, 3, 4, {6, 9, 11}, {3, 3, 3}}, {2, 1, 1}, {1, 1, 1}},     /* stride 2 in z only */
    {{1, 4, 3, {5, 11, 10}, {1, 3, 3}}, {1, 1, 1}, {0, 1, 1}},    /* anisotropic 1x3x3, same */
    {{2, 3, 4, {4, 13, 12}, {1, 3, 3}}, {1, 2, 2}, {0, 1, 1}},    /* 1x3x3, stride (1,2,2) */
    {{3, 2, 3, {3, 18, 20}, {1, 3, 3}}, {1, 1, 1}, {0, 1, 1}},    /* >= 256 outputs per example */
    {{1, 1, 6, {3, 21, 20}, {2, 3, 3}}, {1, 2, 2}, {1, 1, 1}},    /* Cin 1, odd sizes, batch 1 */
    {{2, 2, 2, {4, 6, 5}, {3, 1, 1}}, {2, 1, 1}, {2, 0, 0}},      /* pad 2 with k 3 in z */
};

static void test_cpu_vs_ref_padded(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED), |cpu-ref| <= %g + %g*|ref|\n",
            (unsigned long long)seed, ATOL, RTOL);
    size_t bad = 0;
    for (size_t c = 0; c < sizeof padded_cases / sizeof *padded_cases; c++)
        bad += cpu_vs_ref_ex(&padded_cases[c].c, padded_cases[c].stride, padded_cases[c].pad, &seed);
    assert_int_equal(bad, 0);
}

/* Chunks of one unit (a row of outputs, or a plane or volume when the
 * kernel spans x or y), of a few units not dividing the count, and over
 * threads: 2 threads on an even batch split at an example boundary, on a
 * batch of 1 or 3 inside an example (private dx summed at the end); the
 * padded and strided cases too (one output row per unit). */
static void test_cpu_chunked(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu (EKN_TEST_SEED), |cpu-ref| <= %g + %g*|ref|\n",
            (unsigned long long)seed, ATOL, RTOL);
    const case_t cases[] = {
        {2, 3, 4, {1, 1, 17}, {1, 1, 5}},    /* 1D: one unit per example */
        {3, 2, 5, {1, 13, 11}, {1, 4, 4}},   /* 2D, odd sizes, batch 3 */
        {1, 1, 8, {1, 28, 28}, {1, 5, 5}},   /* Cin 1, batch 1 */
        {4, 8, 6, {1, 12, 12}, {1, 5, 5}},   /* conv2-like, batch 4 */
        {2, 3, 1, {1, 9, 7}, {1, 3, 1}},     /* kx = 1: merged runs */
        {2, 3, 2, {5, 7, 9}, {3, 1, 1}},     /* whole-plane runs */
        {1, 4, 3, {6, 8, 7}, {2, 3, 5}},     /* 3D, batch 1 */
        {1, 3, 4, {7, 11, 10}, {1, 3, 3}},   /* aniso-3d conv2-like */
        {3, 2, 3, {4, 9, 10}, {3, 3, 3}},    /* 3D, batch 3 */
        {5, 1, 3, {4, 6, 5}, {2, 2, 2}},     /* batch 5, cin 1 */
        {3, 2, 3, {3, 18, 20}, {1, 3, 3}},   /* >= 256 outputs per example: y, dy in place */
        {2, 1, 4, {1, 28, 28}, {1, 5, 5}},   /* Fashion-MNIST conv1, batch 2 */
        {1, 1, 6, {3, 20, 21}, {2, 3, 3}},   /* Cin 1, Cout 6, odd sizes */
        {3, 1, 7, {2, 18, 20}, {1, 3, 3}},
    };
    const struct { size_t col_floats; int threads; } tunings[] = {
        {1, 1}, {1, 2}, {1, 3}, {1, 9}, {500, 1}, {500, 2}, {700, 3}, {3000, 2},
    };
    size_t bad = 0;
    for (size_t t = 0; t < sizeof tunings / sizeof *tunings; t++) {
        fprintf(stderr, "chunks of %zu col floats, %d threads\n", tunings[t].col_floats,
                tunings[t].threads);
        ekn_conv_cpu_tune(tunings[t].col_floats, tunings[t].threads);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) bad += cpu_vs_ref(&cases[c], &seed);
        for (size_t c = 0; c < sizeof padded_cases / sizeof *padded_cases; c++)
            bad += cpu_vs_ref_ex(&padded_cases[c].c, padded_cases[c].stride, padded_cases[c].pad, &seed);
    }
    ekn_conv_cpu_tune(0, 0);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_geom_init),
        cmocka_unit_test(test_geom_init_ex),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_known_answer_padded),
        cmocka_unit_test(test_gradcheck_ref),
        cmocka_unit_test(test_cpu_vs_ref),
        cmocka_unit_test(test_cpu_vs_ref_padded),
        cmocka_unit_test(test_cpu_chunked))
