/* kernels/conv_gemm.h on the host: the im2col index function and the
 * column-major product mapping the CUDA weight gradient uses
 * (kernels/conv_gemm_cuda.cu), computed here with a plain emulation of
 * cuBLAS's gemm(T, N) and compared with the reference weight gradient over
 * 1D, 2D and 3D geometries, with and without zero padding and strides.  A
 * transposed index or a wrong leading dimension gives an O(1) error; the
 * negative controls swap two kernel offsets, or read the padding as x's
 * first element instead of 0, and must fail.  Set EKN_TEST_SEED to replay; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "conv_gemm.h"
#include "testutil.h"

/* column-major C (m x n, ld ldc) += A^T B with A (k x m, ld lda), B (k x n, ld ldb): cuBLAS's gemm(T, N) */
static void gemm_tn(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)a[(size_t)i * lda + p] * b[(size_t)j * ldb + p];
            c[(size_t)j * ldc + i] += (float)s;
        }
}

/* dw += the weight gradient as conv_gemm_cuda.cu computes it; swap breaks it on purpose:
 * 1 swaps two kernel offsets, 2 reads the padding as x's first element */
static void wgrad_gemm_host(const ekn_conv_geom *g, const float *x, const float *dy, float *dw, int swap)
{
    size_t O = (size_t)g->out[0] * g->out[1] * g->out[2];
    size_t K = (size_t)g->cin * g->k[0] * g->k[1] * g->k[2];
    size_t in_ex = (size_t)g->cin * g->in[0] * g->in[1] * g->in[2], out_ex = (size_t)g->cout * O;
    float *col = tu_alloc(K * O);
    for (int b = 0; b < g->n; b++) {
        for (size_t i = 0; i < K * O; i++) {
            size_t kk = i / O;
            if (swap == 1 && K > 1) kk = kk == 0 ? 1 : kk == 1 ? 0 : kk;
            size_t src = ekn_im2col_source(g, kk, i % O);
            col[i] = src != EKN_IM2COL_PAD ? x[b * in_ex + src] : swap == 2 ? x[b * in_ex] : 0.0f;
        }
        gemm_tn((int)K, g->cout, (int)O, col, (int)O, dy + b * out_ex, (int)O, dw, (int)K);
    }
    free(col);
}

static size_t check(const ekn_conv_geom *g, uint64_t *seed, int swap)
{
    size_t nx = (size_t)g->n * g->cin * g->in[0] * g->in[1] * g->in[2];
    size_t ny = (size_t)g->n * g->cout * g->out[0] * g->out[1] * g->out[2];
    size_t nw = (size_t)g->cout * g->cin * g->k[0] * g->k[1] * g->k[2];
    float *x = tu_alloc(nx), *w = tu_alloc(nw), *dy = tu_alloc(ny), *ref = tu_alloc(nw), *got = tu_alloc(nw);
    float *db = tu_alloc((size_t)g->cout);
    tu_fill(seed, x, nx, -1, 1);
    tu_fill(seed, dy, ny, -1, 1);
    tu_fill(seed, ref, nw, -1, 1);
    for (size_t i = 0; i < nw; i++) got[i] = ref[i]; /* both accumulate onto the same start */
    ekn_conv_backward_ref(g, x, w, dy, NULL, ref, db);
    wgrad_gemm_host(g, x, dy, got, swap);
    char what[128];
    snprintf(what, sizeof what, "dw n%d %d->%d in %dx%dx%d k %dx%dx%d s%d%d%d p%d%d%d%s", g->n, g->cin, g->cout,
             g->in[0], g->in[1], g->in[2], g->k[0], g->k[1], g->k[2], g->stride[0], g->stride[1], g->stride[2],
             g->pad[0], g->pad[1], g->pad[2], swap == 1 ? " (swapped)" : swap == 2 ? " (padding read)" : "");
    size_t bad = tu_compare(what, got, ref, nw, 1e-5, 1e-4);
    free(x), free(w), free(dy), free(ref), free(got), free(db);
    return bad;
}

static const int GEOMS[][9] = {
    /* n cin cout  in z,y,x    k z,y,x */
    {1, 1, 3, 1, 1, 17, 1, 1, 4},   {2, 2, 3, 1, 9, 11, 1, 3, 2},  {1, 1, 5, 7, 13, 13, 1, 4, 4},
    {3, 3, 2, 5, 6, 7, 3, 2, 3},    {1, 4, 4, 4, 8, 8, 3, 3, 3},   {2, 1, 1, 1, 5, 5, 1, 1, 1},
};

static const int PADDED[][15] = {
    /* n cin cout  in z,y,x    k z,y,x    stride z,y,x  pad z,y,x */
    {2, 2, 3, 1, 1, 16, 1, 1, 3, 1, 1, 2, 0, 0, 1},  /* 1D, pad 1, stride 2 */
    {2, 2, 3, 1, 9, 11, 1, 3, 3, 1, 1, 1, 0, 1, 1},  /* 2D same */
    {1, 1, 4, 1, 13, 12, 1, 5, 5, 1, 2, 2, 0, 2, 2}, /* 2D pad 2, stride 2, batch 1 */
    {2, 3, 2, 5, 6, 7, 3, 3, 3, 2, 2, 2, 1, 1, 1},   /* 3D, stride 2 everywhere */
    {1, 4, 3, 4, 8, 9, 1, 3, 3, 1, 2, 1, 0, 1, 1},   /* 1x3x3, stride 2 in y */
    {2, 1, 2, 3, 7, 8, 1, 2, 2, 2, 3, 3, 0, 1, 1},   /* stride > k: skipped inputs */
    {1, 2, 2, 1, 2, 3, 1, 5, 5, 1, 1, 1, 0, 2, 2},   /* kernel larger than the input */
};

static void padded_geom(ekn_conv_geom *g, const int *v)
{
    assert_int_equal(ekn_conv_geom_init_ex(g, v[0], v[1], v[2], v + 3, v + 6, v + 9, v + 12), 0);
}

static void test_matches_reference(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("test_conv_gemm");
    size_t bad = 0;
    for (size_t i = 0; i < sizeof GEOMS / sizeof GEOMS[0]; i++) {
        const int *v = GEOMS[i];
        ekn_conv_geom g;
        assert_int_equal(ekn_conv_geom_init(&g, v[0], v[1], v[2], v + 3, v + 6), 0);
        bad += check(&g, &seed, 0);
    }
    for (size_t i = 0; i < sizeof PADDED / sizeof PADDED[0]; i++) {
        ekn_conv_geom g;
        padded_geom(&g, PADDED[i]);
        bad += check(&g, &seed, 0);
    }
    assert_int_equal(bad, 0);
}

static void test_negative_control(void **state)
{
    (void)state;
    uint64_t seed = tu_seed();
    ekn_conv_geom g;
    const int in[3] = {2, 6, 7}, k[3] = {1, 2, 3};
    assert_int_equal(ekn_conv_geom_init(&g, 2, 2, 3, in, k), 0);
    assert_true(check(&g, &seed, 1) > 0);
    padded_geom(&g, PADDED[3]);
    assert_true(check(&g, &seed, 1) > 0);
    /* padding that is not zero */
    padded_geom(&g, PADDED[1]);
    assert_true(check(&g, &seed, 2) > 0);
}

static void test_workspace_bytes(void **state)
{
    (void)state;
    ekn_conv_geom g;
    const int in[3] = {23, 127, 127}, k[3] = {1, 4, 4};
    assert_int_equal(ekn_conv_geom_init(&g, 1, 1, 20, in, k), 0);
    /* the 3D example net's first layer: 16 taps x 23x124x124 outputs */
    assert_true(ekn_conv_wgrad_gemm_bytes(&g) == (size_t)16 * 23 * 124 * 124 * sizeof(float));
}

TU_MAIN(cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_negative_control),
        cmocka_unit_test(test_workspace_bytes))
