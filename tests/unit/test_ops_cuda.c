/* ekn_ops_cuda() against ekn_ops_ref() on fresh random inputs, op by op:
 * conv (1D, 2D, 3D, anisotropic, odd sizes, batch and channels 1 and > 1;
 * dx, dw += and db +=, and the dx = NULL pass; more geometries than the
 * plan cache holds; zero padding and strides, geometries that differ only
 * in them one after another, and both weight-gradient paths), max pooling (ties on
 * purpose: the argmax indices must agree exactly), dense and dense with tied
 * weights (with and without bias, dx and db), every activation forward and backward (kinks
 * included), softmax, softmax NLL (class weights, ignored labels, each lazy
 * label mode, confident predictions that hit the log clamp, in place), MSE
 * (NaN and inf targets ignored, dy = NULL), argmax_count (ties, NaN) and
 * the losses of issue 14 section 5 (voxel-weighted NLL and MSE, sigmoid
 * BCE with class and positive weights, focal, softmax and sigmoid Dice), and
 * max fragment pooling's crop and interleave (2D and 3D, several pool
 * sizes, shifts in random order; the cpu ops also against their definition),
 * and the U-Net ops: the up-convolution (2D, 3D, factors 1x2x2, 2x2x2,
 * 1x1x3, ...; dx overwritten, dw and db +=, dx = NULL, a rerun bit for bit)
 * and crop (copy, accumulate, backward +=); maxabs pooling (ties in |x| between signs), batch norm (training with
 * running statistics, prediction, backward with dx, dgamma +=, dbeta +=
 * and the NULL skips), group norm (groups 1, 2, 8, C), PReLU (shared and
 * per-channel slopes, dx in place on dy) and maxout (ties, NaN).  The
 * reductions of norm and PReLU run twice on the device and must repeat bit
 * for bit.
 *
 * Tolerance (stated): |cuda - ref| <= 1e-5 + 1e-4*|ref| for float results,
 * the same for the losses (atol growing like sqrt(terms) for long sums,
 * sum_atol) and for norm and PReLU (whose sums are in double on every
 * side); pooling and maxout outputs, argmax indices, counts, the MFP copies
 * and crop exactly.
 *
 * WRITTEN WITHOUT A GPU: this file and the kernels it tests have been
 * compiled but never run on a device.  Without one it exits 77 (skip).
 * EKN_TEST_FAKE_DEVICE=cpu runs the same checks on ekn_ops_cpu() in host
 * memory, which tests this file's logic but not the CUDA code.
 *
 * Plain C (no cmocka): exit 0 all agree, 1 a mismatch or a CUDA error. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_harness.h"

#define ATOL 1e-5
#define RTOL 1e-4

/* The absolute tolerance of a float32 sum of `terms` products of values in
 * [-1, 1]: its rounding error grows like sqrt(terms) (a random walk of
 * roundings), so ATOL holds at 100 terms and grows from there.  Fixed ATOL
 * failed 1 seed in 2 on 800-term sums computed by correct kernels. */
static double sum_atol(double terms) { return ATOL * fmax(1.0, sqrt(terms / 100.0)); }

static const ekn_ops *dev, *ref;
static size_t n_checks, n_failed;

static void tally(size_t bad)
{
    n_checks++;
    n_failed += bad != 0;
}

static float *rnd(uint64_t *st, size_t n, float lo, float hi)
{
    float *p = tu_alloc(n);
    tu_fill(st, p, n, lo, hi);
    return p;
}

static float *dev_floats(const float *host, size_t n) { return ch_up(host, n * sizeof(float)); }

static void get_floats(float *host, const float *d, size_t n) { ch_down(host, d, n * sizeof(float)); }

/* ---- conv ------------------------------------------------------------- */

/* stride and pad NULL: ekn_conv_geom_init (stride 1, pad 0) */
static void conv_case_ex(uint64_t *st, int n, int cin, int cout, const int in[3], const int k[3], const int *stride,
                         const int *pad)
{
    ekn_conv_geom g;
    if (stride ? ekn_conv_geom_init_ex(&g, n, cin, cout, in, k, stride, pad) : ekn_conv_geom_init(&g, n, cin, cout, in, k)) {
        fprintf(stderr, "bad test geometry\n");
        exit(1);
    }
    size_t nx = (size_t)n * cin * in[0] * in[1] * in[2], nw = (size_t)cout * cin * k[0] * k[1] * k[2];
    size_t ny = (size_t)n * cout * g.out[0] * g.out[1] * g.out[2];
    float *x = rnd(st, nx, -1, 1), *w = rnd(st, nw, -1, 1), *b = rnd(st, cout, -1, 1), *dy = rnd(st, ny, -1, 1);
    float *dw0 = rnd(st, nw, -1, 1), *db0 = rnd(st, cout, -1, 1), *garbage = rnd(st, nx, -9, 9);
    float *y_ref = tu_alloc(ny), *dx_ref = tu_alloc(nx), *dw_ref = tu_alloc(nw), *db_ref = tu_alloc(cout);
    float *y = tu_alloc(ny), *dx = tu_alloc(nx), *dw = tu_alloc(nw), *db = tu_alloc(cout);
    memcpy(dw_ref, dw0, nw * sizeof(float));
    memcpy(db_ref, db0, cout * sizeof(float));
    ref->conv_forward(&g, x, w, b, y_ref, NULL);
    ref->conv_backward(&g, x, w, dy, dx_ref, dw_ref, db_ref, NULL);

    size_t ws = dev->conv_workspace(&g);
    ch_check("conv_workspace");
    float *d_x = dev_floats(x, nx), *d_w = dev_floats(w, nw), *d_b = dev_floats(b, cout);
    float *d_dy = dev_floats(dy, ny), *d_y = dev_floats(y_ref, ny) /* overwritten */;
    float *d_dx = dev_floats(garbage, nx), *d_dw = dev_floats(dw0, nw), *d_db = dev_floats(db0, cout);
    float *d_work = ch_up(NULL, ws * sizeof(float));
    dev->conv_forward(&g, d_x, d_w, d_b, d_y, d_work);
    dev->conv_backward(&g, d_x, d_w, d_dy, d_dx, d_dw, d_db, d_work);
    ch_check("conv");
    get_floats(y, d_y, ny), get_floats(dx, d_dx, nx), get_floats(dw, d_dw, nw), get_floats(db, d_db, cout);
    char what[128];
    snprintf(what, sizeof what, "conv n%d %d->%d %dx%dx%d k%dx%dx%d s%dx%dx%d p%dx%dx%d", n, cin, cout, in[0], in[1],
             in[2], k[0], k[1], k[2], g.stride[0], g.stride[1], g.stride[2], g.pad[0], g.pad[1], g.pad[2]);
    fprintf(stderr, "-- %s, workspace %zu floats\n", what, ws);
    double kvol = (double)k[0] * k[1] * k[2], positions = (double)n * g.out[0] * g.out[1] * g.out[2];
    tally(tu_compare("  y", y, y_ref, ny, sum_atol(cin * kvol), RTOL));
    tally(tu_compare("  dx", dx, dx_ref, nx, sum_atol(cout * kvol), RTOL));
    tally(tu_compare("  dw (+= onto random)", dw, dw_ref, nw, sum_atol(positions), RTOL));
    tally(tu_compare("  db (+= onto random)", db, db_ref, cout, sum_atol(positions), RTOL));

    /* again without dx: dw and db accumulate a second time */
    ref->conv_backward(&g, x, w, dy, NULL, dw_ref, db_ref, NULL);
    dev->conv_backward(&g, d_x, d_w, d_dy, NULL, d_dw, d_db, d_work);
    ch_check("conv backward dx=NULL");
    get_floats(dw, d_dw, nw), get_floats(db, d_db, cout);
    tally(tu_compare("  dw again, dx=NULL", dw, dw_ref, nw, sum_atol(positions), RTOL));
    tally(tu_compare("  db again, dx=NULL", db, db_ref, cout, sum_atol(positions), RTOL));

    ch_free(d_x), ch_free(d_w), ch_free(d_b), ch_free(d_dy), ch_free(d_y), ch_free(d_dx), ch_free(d_dw);
    ch_free(d_db), ch_free(d_work);
    free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(garbage), free(y_ref), free(dx_ref);
    free(dw_ref), free(db_ref), free(y), free(dx), free(dw), free(db);
}

static void conv_case(uint64_t *st, int n, int cin, int cout, const int in[3], const int k[3])
{
    conv_case_ex(st, n, cin, cout, in, k, NULL, NULL);
}

/* padding and strides (cuDNN's descriptor; the im2col + GEMM weight gradient) */
static const struct {
    int n, cin, cout, in[3], k[3], stride[3], pad[3];
} conv_padded[] = {
    {2, 3, 4, {1, 1, 17}, {1, 1, 5}, {1, 1, 1}, {0, 0, 2}},   /* 1D same, k 5 */
    {1, 2, 3, {1, 1, 16}, {1, 1, 3}, {1, 1, 2}, {0, 0, 1}},   /* 1D pad 1, stride 2, batch 1 */
    {2, 3, 5, {1, 13, 11}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}},  /* 2D same, k 3, odd sizes */
    {1, 1, 8, {1, 28, 28}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}},  /* 2D same, k 5, batch 1 */
    {2, 4, 6, {1, 15, 13}, {1, 5, 5}, {1, 2, 2}, {0, 2, 2}},  /* pad 2, stride 2 */
    {2, 2, 3, {1, 9, 12}, {1, 3, 3}, {1, 1, 2}, {0, 1, 1}},   /* stride 2 in x only */
    {2, 3, 4, {1, 12, 12}, {1, 3, 3}, {1, 2, 2}, {0, 0, 0}},  /* stride, no pad */
    {1, 2, 2, {1, 7, 8}, {1, 2, 2}, {1, 3, 3}, {0, 1, 1}},    /* stride > k: skipped inputs */
    {2, 1, 3, {1, 2, 3}, {1, 5, 5}, {1, 1, 1}, {0, 2, 2}},    /* kernel larger than the input */
    {2, 3, 2, {5, 7, 9}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}},    /* 3D same, k 3 */
    {1, 2, 3, {7, 9, 8}, {5, 5, 5}, {1, 1, 1}, {2, 2, 2}},    /* 3D same, k 5, batch 1 */
    {2, 2, 2, {7, 9, 10}, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}},   /* stride 2 on all axes */
    {2, 3, 4, {6, 9, 11}, {3, 3, 3}, {2, 1, 1}, {1, 1, 1}},   /* stride 2 in z only */
    {1, 4, 3, {5, 11, 10}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}},  /* anisotropic 1x3x3, same */
    {2, 3, 4, {4, 13, 12}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},  /* 1x3x3, stride (1,2,2) */
    {3, 2, 3, {1, 61, 67}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}},  /* bias over several blocks per channel */
};

static void conv_padded_cases(uint64_t *st, int n)
{
    for (size_t i = 0; i < sizeof conv_padded / sizeof *conv_padded; i++)
        conv_case_ex(st, n ? n : conv_padded[i].n, conv_padded[i].cin, conv_padded[i].cout, conv_padded[i].in,
                     conv_padded[i].k, conv_padded[i].stride, conv_padded[i].pad);
}

static void test_conv(uint64_t *st)
{
    static const struct {
        int n, cin, cout, in[3], k[3];
    } cases[] = {
        {2, 2, 3, {1, 1, 9}, {1, 1, 4}},    /* 1D */
        {2, 3, 4, {1, 1, 17}, {1, 1, 5}},   /* 1D */
        {1, 1, 1, {1, 1, 7}, {1, 1, 7}},    /* one output */
        {2, 2, 2, {1, 6, 7}, {1, 3, 2}},    /* 2D, anisotropic */
        {3, 2, 5, {1, 13, 11}, {1, 4, 4}},  /* odd sizes */
        {1, 1, 8, {1, 28, 28}, {1, 5, 5}},  /* Fashion-MNIST conv1, batch 1 */
        {4, 32, 64, {1, 12, 12}, {1, 5, 5}}, /* Fashion-MNIST conv2, batch 4 */
        {2, 3, 1, {1, 9, 7}, {1, 3, 1}},    /* kx = 1, cout 1 */
        {2, 2, 3, {4, 5, 5}, {2, 3, 2}},    /* 3D, anisotropic */
        {2, 3, 2, {5, 7, 9}, {3, 1, 1}},    /* 3x1x1 */
        {2, 4, 3, {6, 8, 7}, {2, 3, 5}},    /* 2x3x5 */
        {3, 5, 6, {3, 4, 5}, {1, 1, 1}},    /* 1x1x1 */
        {1, 2, 1, {4, 5, 6}, {4, 5, 6}},    /* one output */
        {5, 1, 3, {4, 6, 5}, {2, 2, 2}},    /* batch 5, cin 1 */
        {1, 4, 4, {5, 9, 10}, {3, 3, 3}},
        {1, 6, 8, {3, 14, 16}, {1, 3, 3}},  /* aniso3d-like, 1x3x3 on a volume */
        {1, 1, 1, {1, 1, 1}, {1, 1, 1}},    /* smallest */
        /* the bias gradient's first pass over several blocks per channel,
         * whose parts cross from one sample to the next; bias planes of more
         * than a block (add_bias_planes) */
        {3, 2, 3, {1, 61, 67}, {1, 2, 2}},
        {2, 1, 4, {3, 30, 31}, {1, 4, 4}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_case(st, cases[i].n, cases[i].cin, cases[i].cout, cases[i].in, cases[i].k);
    /* more geometries than conv_cuda.cu keeps plans for (32), then the first
     * ones again: plans are evicted and remade, never mixed up */
    for (int i = 0; i < 40; i++) conv_case(st, 1, 2, 2, (int[3]){1, 1, 8 + i}, (int[3]){1, 1, 3});
    for (size_t i = 0; i < 3; i++)
        conv_case(st, cases[i].n, cases[i].cin, cases[i].cout, cases[i].in, cases[i].k);
    /* padding and strides; then geometries equal but for them, one after
     * another and back: a plan cache keyed without them would hand each the
     * previous one's plan (wrong output shape or values) */
    fprintf(stderr, "-- conv with padding and strides\n");
    /* their own stream, as below, so the later tests see the data they always saw */
    uint64_t padded_st = *st ^ 0xd1b54a32d192ed03u;
    conv_padded_cases(&padded_st, 0);
    {
        static const int in[3] = {3, 10, 11}, k[3] = {3, 3, 3};
        static const int variants[][2][3] = {
            {{1, 1, 1}, {0, 0, 0}}, {{1, 1, 1}, {1, 1, 1}}, {{1, 2, 2}, {1, 1, 1}}, {{2, 1, 1}, {1, 1, 1}},
            {{1, 1, 1}, {0, 1, 0}}, {{1, 1, 2}, {0, 0, 0}}, {{1, 1, 1}, {0, 0, 0}}, {{1, 1, 1}, {1, 1, 1}},
        };
        for (size_t i = 0; i < sizeof variants / sizeof *variants; i++)
            conv_case_ex(&padded_st, 2, 2, 3, in, k, variants[i][0], variants[i][1]);
    }
    /* non-deterministic algorithms admitted: new plans (batch 7 is used
     * nowhere above), the same tolerance */
    fprintf(stderr, "-- conv with ekn_cuda_set_deterministic(0)\n");
    ekn_cuda_set_deterministic(0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_case(st, 7, cases[i].cin, cases[i].cout, cases[i].in, cases[i].k);
    conv_padded_cases(&padded_st, 7);
    ekn_cuda_set_deterministic(1);
    /* the weight gradient by im2col + GEMM everywhere (timing picks it only
     * where it is faster, which the small cases above may never be); batch 6
     * is used nowhere else */
    fprintf(stderr, "-- conv with ekn_cuda_conv_wgrad(EKN_CONV_WGRAD_GEMM)\n");
    ekn_cuda_conv_wgrad(EKN_CONV_WGRAD_GEMM);
    uint64_t own = *st ^ 0x9e3779b97f4a7c15u; /* its own stream: the later tests see the data they always saw */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        conv_case(&own, 6, cases[i].cin, cases[i].cout, cases[i].in, cases[i].k);
    conv_case(&own, 1, 1, 20, (int[3]){5, 16, 16}, (int[3]){1, 4, 4}); /* aniso3d conv1's kind of layer */
    conv_padded_cases(&own, 6); /* im2col with zeros for the padding */
    ekn_cuda_conv_wgrad(EKN_CONV_WGRAD_AUTO);
}

/* ---- pool ------------------------------------------------------------- */

/* mode EKN_POOL_MAXABS: inputs of both signs, so |x| ties between
 * opposite signs are common */
static void test_pool(uint64_t *st, int mode)
{
    static const struct {
        int n, c, in[3], p[3];
    } cases[] = {
        {2, 2, {1, 1, 8}, {1, 1, 2}},   {1, 3, {1, 4, 6}, {1, 2, 2}},   {2, 2, {4, 4, 2}, {2, 2, 2}},
        {1, 2, {6, 3, 4}, {3, 1, 2}},   {2, 3, {1, 8, 10}, {1, 2, 2}},  {64, 32, {1, 24, 24}, {1, 2, 2}},
        {2, 2, {4, 6, 8}, {2, 2, 2}},   {1, 1, {3, 9, 5}, {3, 3, 5}},   {1, 1, {1, 1, 1}, {1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ekn_pool_geom g;
        if (ekn_pool_geom_init(&g, cases[i].n, cases[i].c, cases[i].in, cases[i].p)) exit(1);
        g.mode = mode;
        size_t nx = (size_t)g.n * g.c * g.in[0] * g.in[1] * g.in[2];
        size_t ny = (size_t)g.n * g.c * g.out[0] * g.out[1] * g.out[2];
        float *x = rnd(st, nx, mode == EKN_POOL_MAXABS ? -1 : 0, 1), *dy = rnd(st, ny, -1, 1);
        for (size_t j = 0; j < nx; j++) x[j] = floorf(x[j] * 4) / 4; /* many ties */
        for (size_t j = 13; j < nx; j += 29) x[j] = NAN;              /* NaN never wins, as in _ref */
        float *y_ref = tu_alloc(ny), *dx_ref = tu_alloc(nx), *y = tu_alloc(ny), *dx = tu_alloc(nx);
        int32_t *a_ref = calloc(ny, 4), *a = calloc(ny, 4);
        if (!a_ref || !a) exit(1);
        ref->pool_forward(&g, x, y_ref, a_ref);
        ref->pool_backward(&g, dy, a_ref, dx_ref);
        float *d_x = dev_floats(x, nx), *d_y = ch_up(NULL, ny * 4), *d_dy = dev_floats(dy, ny);
        float *d_dx = dev_floats(x, nx); /* garbage: overwritten */
        int32_t *d_a = ch_up(NULL, ny * 4);
        dev->pool_forward(&g, d_x, d_y, d_a);
        dev->pool_backward(&g, d_dy, d_a, d_dx);
        ch_check("pool");
        get_floats(y, d_y, ny), get_floats(dx, d_dx, nx), ch_down(a, d_a, ny * 4);
        fprintf(stderr, "-- maxpool%s n%d c%d %dx%dx%d by %dx%dx%d\n", mode == EKN_POOL_MAXABS ? " maxabs" : "", g.n,
                g.c, g.in[0], g.in[1], g.in[2], g.p[0], g.p[1], g.p[2]);
        size_t bad_arg = 0;
        for (size_t j = 0; j < ny; j++) bad_arg += a[j] != a_ref[j];
        fprintf(stderr, "  argmax: %zu of %zu differ %s\n", bad_arg, ny, bad_arg ? "FAIL" : "ok");
        tally(bad_arg);
        /* NaN == NaN for this purpose: compare bit patterns where the reference is NaN */
        size_t bad_nan = 0;
        for (size_t j = 0; j < ny; j++)
            if (isnan(y_ref[j])) {
                bad_nan += !isnan(y[j]);
                y[j] = y_ref[j] = 0;
            }
        tally(bad_nan);
        tally(tu_compare("  y (exact)", y, y_ref, ny, 0, 0));
        tally(tu_compare("  dx (exact)", dx, dx_ref, nx, 0, 0));
        ch_free(d_x), ch_free(d_y), ch_free(d_dy), ch_free(d_dx), ch_free(d_a);
        free(x), free(dy), free(y_ref), free(dx_ref), free(y), free(dx), free(a_ref), free(a);
    }
}

/* ---- dense ------------------------------------------------------------ */

static void test_dense(uint64_t *st)
{
    static const struct {
        int n, in, out;
    } cases[] = {{1, 1, 1}, {2, 5, 3}, {3, 7, 5}, {17, 33, 10}, {64, 1024, 256}, {64, 256, 10}, {5, 1, 9}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int variant = 0; variant < 2; variant++) { /* 1: no bias, no dx, no db */
            int n = cases[i].n, in = cases[i].in, out = cases[i].out;
            size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
            float *x = rnd(st, nx, -1, 1), *w = rnd(st, nw, -1, 1), *b = rnd(st, out, -1, 1);
            float *dy = rnd(st, ny, -1, 1), *dw0 = rnd(st, nw, -1, 1), *db0 = rnd(st, out, -1, 1);
            float *y_ref = tu_alloc(ny), *dx_ref = tu_alloc(nx), *y = tu_alloc(ny), *dx = tu_alloc(nx);
            float *dw_ref = tu_alloc(nw), *db_ref = tu_alloc(out), *dw = tu_alloc(nw), *db = tu_alloc(out);
            memcpy(dw_ref, dw0, nw * 4), memcpy(db_ref, db0, out * 4);
            const float *bb = variant ? NULL : b;
            ref->dense_forward(n, in, out, x, w, bb, y_ref);
            ref->dense_backward(n, in, out, x, w, dy, variant ? NULL : dx_ref, dw_ref, variant ? NULL : db_ref);
            float *d_x = dev_floats(x, nx), *d_w = dev_floats(w, nw), *d_b = dev_floats(b, out);
            float *d_dy = dev_floats(dy, ny), *d_y = dev_floats(dy, ny), *d_dx = dev_floats(x, nx);
            float *d_dw = dev_floats(dw0, nw), *d_db = dev_floats(db0, out);
            dev->dense_forward(n, in, out, d_x, d_w, variant ? NULL : d_b, d_y);
            dev->dense_backward(n, in, out, d_x, d_w, d_dy, variant ? NULL : d_dx, d_dw, variant ? NULL : d_db);
            ch_check("dense");
            get_floats(y, d_y, ny), get_floats(dx, d_dx, nx), get_floats(dw, d_dw, nw), get_floats(db, d_db, out);
            fprintf(stderr, "-- dense n%d %d->%d%s\n", n, in, out, variant ? " (no bias, dx=NULL, db=NULL)" : "");
            tally(tu_compare("  y", y, y_ref, ny, sum_atol(in), RTOL));
            tally(tu_compare("  dw (+= onto random)", dw, dw_ref, nw, sum_atol(n), RTOL));
            if (!variant) {
                tally(tu_compare("  dx", dx, dx_ref, nx, sum_atol(out), RTOL));
                tally(tu_compare("  db (+= onto random)", db, db_ref, out, sum_atol(n), RTOL));
            } else {
                tally(tu_compare("  db untouched", db, db0, out, 0, 0));
                tally(tu_compare("  dx untouched", dx, x, nx, 0, 0));
            }
            ch_free(d_x), ch_free(d_w), ch_free(d_b), ch_free(d_dy), ch_free(d_y), ch_free(d_dx);
            ch_free(d_dw), ch_free(d_db);
            free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(y_ref), free(dx_ref), free(y);
            free(dx), free(dw_ref), free(db_ref), free(dw), free(db);
        }
}

/* dense_t: x (N,Out) times the encoder's W (Out,In), y (N,In) */
static void test_dense_t(uint64_t *st)
{
    static const struct {
        int n, in, out;
    } cases[] = {{1, 1, 1}, {2, 5, 3}, {3, 7, 5}, {17, 33, 10}, {64, 1024, 256}, {64, 784, 100}, {5, 9, 1}, {4, 1, 6}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int variant = 0; variant < 2; variant++) { /* 1: no bias, no dx, no db */
            int n = cases[i].n, in = cases[i].in, out = cases[i].out;
            size_t nx = (size_t)n * out, nw = (size_t)out * in, ny = (size_t)n * in;
            float *x = rnd(st, nx, -1, 1), *w = rnd(st, nw, -1, 1), *b = rnd(st, in, -1, 1);
            float *dy = rnd(st, ny, -1, 1), *dw0 = rnd(st, nw, -1, 1), *db0 = rnd(st, in, -1, 1);
            float *y_ref = tu_alloc(ny), *dx_ref = tu_alloc(nx), *y = tu_alloc(ny), *dx = tu_alloc(nx);
            float *dw_ref = tu_alloc(nw), *db_ref = tu_alloc(in), *dw = tu_alloc(nw), *db = tu_alloc(in);
            memcpy(dw_ref, dw0, nw * 4), memcpy(db_ref, db0, in * 4);
            const float *bb = variant ? NULL : b;
            ref->dense_t_forward(n, in, out, x, w, bb, y_ref);
            ref->dense_t_backward(n, in, out, x, w, dy, variant ? NULL : dx_ref, dw_ref, variant ? NULL : db_ref);
            float *d_x = dev_floats(x, nx), *d_w = dev_floats(w, nw), *d_b = dev_floats(b, in);
            float *d_dy = dev_floats(dy, ny), *d_y = dev_floats(dy, ny), *d_dx = dev_floats(x, nx);
            float *d_dw = dev_floats(dw0, nw), *d_db = dev_floats(db0, in);
            dev->dense_t_forward(n, in, out, d_x, d_w, variant ? NULL : d_b, d_y);
            dev->dense_t_backward(n, in, out, d_x, d_w, d_dy, variant ? NULL : d_dx, d_dw, variant ? NULL : d_db);
            ch_check("dense_t");
            get_floats(y, d_y, ny), get_floats(dx, d_dx, nx), get_floats(dw, d_dw, nw), get_floats(db, d_db, in);
            fprintf(stderr, "-- dense_t n%d out %d -> in %d%s\n", n, out, in,
                    variant ? " (no bias, dx=NULL, db=NULL)" : "");
            tally(tu_compare("  y", y, y_ref, ny, sum_atol(out), RTOL));
            tally(tu_compare("  dw (+= onto random)", dw, dw_ref, nw, sum_atol(n), RTOL));
            if (!variant) {
                tally(tu_compare("  dx", dx, dx_ref, nx, sum_atol(in), RTOL));
                tally(tu_compare("  db (+= onto random)", db, db_ref, in, sum_atol(n), RTOL));
            } else {
                tally(tu_compare("  db untouched", db, db0, in, 0, 0));
                tally(tu_compare("  dx untouched", dx, x, nx, 0, 0));
            }
            ch_free(d_x), ch_free(d_w), ch_free(d_b), ch_free(d_dy), ch_free(d_y), ch_free(d_dx);
            ch_free(d_dw), ch_free(d_db);
            free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(y_ref), free(dx_ref), free(y);
            free(dx), free(dw_ref), free(db_ref), free(dw), free(db);
        }
}

/* ---- activations -------------------------------------------------------- */

static void test_act(uint64_t *st)
{
    static const size_t sizes[] = {1, 1000003};
    for (int a = EKN_ACT_LINEAR; a <= EKN_ACT_SOFTPLUS; a++)
        for (size_t si = 0; si < 2; si++) {
            size_t n = sizes[si];
            float *x = rnd(st, n, -6, 6), *dy = rnd(st, n, -1, 1);
            for (size_t j = 0; j < n; j += 101) x[j] = 0; /* the kinks */
            float *y_ref = tu_alloc(n), *dx_ref = tu_alloc(n), *y = tu_alloc(n), *dx = tu_alloc(n);
            const float alpha = 0.1f;
            ref->act_forward((ekn_act)a, alpha, n, x, y_ref);
            ref->act_backward((ekn_act)a, alpha, n, x, y_ref, dy, dx_ref);
            float *d_x = dev_floats(x, n), *d_y = dev_floats(NULL, n), *d_yr = dev_floats(y_ref, n);
            float *d_dy = dev_floats(dy, n), *d_dx = dev_floats(x, n);
            dev->act_forward((ekn_act)a, alpha, n, d_x, d_y);
            /* backward from the reference's y, so forward differences do not enter */
            dev->act_backward((ekn_act)a, alpha, n, d_x, d_yr, d_dy, d_dx);
            ch_check("act");
            get_floats(y, d_y, n), get_floats(dx, d_dx, n);
            fprintf(stderr, "-- act %s n=%zu\n", ekn_act_name((ekn_act)a), n);
            tally(tu_compare("  forward", y, y_ref, n, ATOL, RTOL));
            tally(tu_compare("  backward", dx, dx_ref, n, ATOL, RTOL));
            /* in place, as act.h allows: dx aliases dy, then y aliases x */
            dev->act_backward((ekn_act)a, alpha, n, d_x, d_yr, d_dy, d_dy);
            dev->act_forward((ekn_act)a, alpha, n, d_x, d_x);
            ch_check("act in place");
            get_floats(dx, d_dy, n), get_floats(y, d_x, n);
            tally(tu_compare("  backward in place", dx, dx_ref, n, ATOL, RTOL));
            tally(tu_compare("  forward in place", y, y_ref, n, ATOL, RTOL));
            ch_free(d_x), ch_free(d_y), ch_free(d_yr), ch_free(d_dy), ch_free(d_dx);
            free(x), free(dy), free(y_ref), free(dx_ref), free(y), free(dx);
        }
}

/* ---- softmax and losses -------------------------------------------------- */

static const struct {
    int n, c;
    size_t s;
} loss_shapes[] = {{1, 2, 1}, {4, 3, 1}, {7, 10, 1}, {2, 3, 7}, {1, 5, 300}, {2, 4, 257}, {3, 2, 1000},
                   {2, 7, 513}, {2, 1, 4}, {64, 10, 1}};
#define N_LOSS_SHAPES (sizeof loss_shapes / sizeof *loss_shapes)

static void test_softmax(uint64_t *st)
{
    for (size_t i = 0; i < N_LOSS_SHAPES; i++)
        for (int wide = 0; wide < 2; wide++) {
            int n = loss_shapes[i].n, c = loss_shapes[i].c;
            size_t s = loss_shapes[i].s, m = (size_t)n * c * s;
            float r = wide ? 30.0f : 3.0f;
            float *x = rnd(st, m, -r, r), *p_ref = tu_alloc(m), *p = tu_alloc(m);
            ref->softmax_forward(n, c, s, x, p_ref);
            float *d_x = dev_floats(x, m), *d_p = dev_floats(NULL, m);
            dev->softmax_forward(n, c, s, d_x, d_p);
            ch_check("softmax");
            get_floats(p, d_p, m);
            fprintf(stderr, "-- softmax n%d c%d s%zu logits +-%g\n", n, c, s, (double)r);
            tally(tu_compare("  p", p, p_ref, m, ATOL, RTOL));
            dev->softmax_forward(n, c, s, d_x, d_x); /* in place */
            ch_check("softmax in place");
            get_floats(p, d_x, m);
            tally(tu_compare("  p in place", p, p_ref, m, ATOL, RTOL));
            ch_free(d_x), ch_free(d_p);
            free(x), free(p_ref), free(p);
        }
}

enum { LAZY_NONE, LAZY_BOTH, LAZY_LABELLED, LAZY_ABSENT };

static void nll_case(uint64_t *st, int n, int c, size_t s, int weighted, int lazy, float zrange)
{
    size_t m = (size_t)n * c * s, ns = (size_t)n * s, nc = (size_t)n * c;
    float *z = rnd(st, m, -zrange, zrange), *p = tu_alloc(m), *w = rnd(st, c, 0.25f, 2.0f);
    int32_t *labels = calloc(ns, 4);
    uint8_t *lb = calloc(nc, 1), *ab = calloc(nc, 1);
    if (!labels || !lb || !ab) exit(1);
    ref->softmax_forward(n, c, s, z, p);
    for (size_t i = 0; i < ns; i++) labels[i] = (int32_t)(tu_next(st) % (uint64_t)(c + 1)) - 1;
    for (size_t i = 0; i < nc; i++) {
        uint64_t r = tu_next(st) % 3;
        lb[i] = r == 0;
        ab[i] = r == 1;
    }
    for (int i = 0; i < n; i++) { /* something to count in every mode */
        int k0 = (int)(tu_next(st) % (uint64_t)c);
        lb[(size_t)i * c + k0] = 1, ab[(size_t)i * c + k0] = 0;
        labels[(size_t)i * s] = k0;
    }
    ekn_nll_args a = {labels, weighted ? w : NULL, lazy == LAZY_BOTH || lazy == LAZY_LABELLED ? lb : NULL,
                      lazy == LAZY_BOTH || lazy == LAZY_ABSENT ? ab : NULL, NULL};
    float *g_ref = tu_alloc(m), *g = tu_alloc(m);
    double cnt_ref = -1, cnt = -2;
    double l_ref = ref->softmax_nll(n, c, s, p, &a, g_ref, &cnt_ref);

    float *d_p = dev_floats(p, m), *d_w = dev_floats(w, c), *d_g = dev_floats(z, m);
    int32_t *d_labels = ch_up(labels, ns * 4);
    uint8_t *d_lb = ch_up(lb, nc), *d_ab = ch_up(ab, nc);
    ekn_nll_args da = {d_labels, a.class_w ? d_w : NULL, a.labelled ? d_lb : NULL, a.absent ? d_ab : NULL, NULL};
    double l = dev->softmax_nll(n, c, s, d_p, &da, d_g, &cnt);
    ch_check("softmax_nll");
    get_floats(g, d_g, m);
    static const char *const lazy_name[] = {"none", "labelled+absent", "labelled only", "absent only"};
    fprintf(stderr, "-- nll n%d c%d s%zu weights=%d lazy=%s logits +-%g\n", n, c, s, weighted, lazy_name[lazy],
            (double)zrange);
    fprintf(stderr, "  count cuda %g ref %g %s\n", cnt, cnt_ref, cnt == cnt_ref ? "ok" : "FAIL");
    tally(cnt != cnt_ref);
    float lf = (float)l, lf_ref = (float)l_ref;
    tally(tu_compare("  loss", &lf, &lf_ref, 1, ATOL, RTOL));
    tally(tu_compare("  dlogits", g, g_ref, m, ATOL, RTOL));
    /* in place: dlogits aliases p */
    double l2 = dev->softmax_nll(n, c, s, d_p, &da, d_p, NULL);
    ch_check("softmax_nll in place");
    get_floats(g, d_p, m);
    lf = (float)l2;
    tally(tu_compare("  loss in place", &lf, &lf_ref, 1, ATOL, RTOL));
    tally(tu_compare("  dlogits in place", g, g_ref, m, ATOL, RTOL));
    ch_free(d_p), ch_free(d_w), ch_free(d_g), ch_free(d_labels), ch_free(d_lb), ch_free(d_ab);
    free(z), free(p), free(w), free(labels), free(lb), free(ab), free(g_ref), free(g);
}

static void test_nll(uint64_t *st)
{
    for (size_t i = 0; i < N_LOSS_SHAPES; i++)
        for (int lazy = LAZY_NONE; lazy <= LAZY_ABSENT; lazy++)
            for (int weighted = 0; weighted < 2; weighted++)
                nll_case(st, loss_shapes[i].n, loss_shapes[i].c, loss_shapes[i].s, weighted, lazy, 3.0f);
    for (int lazy = LAZY_NONE; lazy <= LAZY_ABSENT; lazy++) { /* p within rounding of 0 and 1: the clamps */
        nll_case(st, 3, 4, 300, 1, lazy, 30.0f);
        nll_case(st, 9, 3, 1, 1, lazy, 30.0f);
    }
    /* nothing to count: every label ignored, no lazy masks -> loss 0, dlogits 0 */
    int32_t none[6] = {-1, -1, -1, -1, -1, -1};
    float p[12], g[12];
    for (int i = 0; i < 12; i++) p[i] = 0.5f;
    float *d_p = dev_floats(p, 12), *d_g = dev_floats(p, 12);
    int32_t *d_l = ch_up(none, sizeof none);
    ekn_nll_args da = {d_l, NULL, NULL, NULL, NULL};
    double cnt = -1, l = dev->softmax_nll(2, 2, 3, d_p, &da, d_g, &cnt);
    ch_check("softmax_nll nothing counted");
    get_floats(g, d_g, 12);
    size_t nonzero = 0;
    for (int i = 0; i < 12; i++) nonzero += g[i] != 0;
    fprintf(stderr, "-- nll all ignored: loss %g count %g, %zu nonzero dlogits %s\n", l, cnt, nonzero,
            l == 0 && cnt == 0 && !nonzero ? "ok" : "FAIL");
    tally(l != 0 || cnt != 0 || nonzero);
    ch_free(d_p), ch_free(d_g), ch_free(d_l);
}

static void test_mse(uint64_t *st)
{
    static const size_t sizes[] = {1, 7, 1000, 1003, 1000003};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t m = sizes[si];
        float *y = rnd(st, m, -3, 3), *t = rnd(st, m, -3, 3), *d_ref = tu_alloc(m), *d = tu_alloc(m);
        for (size_t i = 3; i < m; i += 7) t[i] = NAN;
        if (m > 5) t[5] = -INFINITY;
        float l_ref = (float)ref->mse(m, y, t, d_ref);
        float *d_y = dev_floats(y, m), *d_t = dev_floats(t, m), *d_d = dev_floats(y, m);
        float l = (float)dev->mse(m, d_y, d_t, d_d);
        float l_nodx = (float)dev->mse(m, d_y, d_t, NULL);
        ch_check("mse");
        get_floats(d, d_d, m);
        fprintf(stderr, "-- mse m=%zu\n", m);
        tally(tu_compare("  loss", &l, &l_ref, 1, ATOL, RTOL));
        tally(tu_compare("  loss, dy=NULL", &l_nodx, &l_ref, 1, ATOL, RTOL));
        tally(tu_compare("  dy", d, d_ref, m, ATOL, RTOL));
        ch_free(d_y), ch_free(d_t), ch_free(d_d);
        free(y), free(t), free(d_ref), free(d);
    }
}

static void test_argmax(uint64_t *st)
{
    for (size_t i = 0; i < N_LOSS_SHAPES; i++) {
        int n = loss_shapes[i].n, c = loss_shapes[i].c;
        size_t s = loss_shapes[i].s, m = (size_t)n * c * s, ns = (size_t)n * s;
        float *p = rnd(st, m, 0, 1);
        for (size_t j = 0; j < m; j++) p[j] = floorf(p[j] * 4) / 4; /* many ties */
        for (size_t j = 11; j < m; j += 17) p[j] = NAN;
        int32_t *y = calloc(ns, 4);
        if (!y) exit(1);
        for (size_t j = 0; j < ns; j++) y[j] = (int32_t)(tu_next(st) % (uint64_t)(c + 1)) - 1;
        long ok_ref, seen_ref, ok = -1, seen = -1;
        ref->argmax_count(n, c, s, p, y, &ok_ref, &seen_ref);
        float *d_p = dev_floats(p, m);
        int32_t *d_y = ch_up(y, ns * 4);
        dev->argmax_count(n, c, s, d_p, d_y, &ok, &seen);
        ch_check("argmax_count");
        int bad = ok != ok_ref || seen != seen_ref;
        fprintf(stderr, "-- argmax_count n%d c%d s%zu: cuda %ld/%ld ref %ld/%ld %s\n", n, c, s, ok, seen, ok_ref,
                seen_ref, bad ? "FAIL" : "ok");
        tally(bad);
        ch_free(d_p), ch_free(d_y);
        free(p), free(y);
    }
}

/* ---- max fragment pooling's data movement (kernels/mfp.h) ---------------
 * Both ops only copy, so everything is exact.  The cpu result is first
 * checked against the definition in kernels/mfp.h, evaluated here the other
 * way round (crop: per output; interleave: per output, as a gather through
 * the inverse of the shifts), then the device's against the cpu's.  Outputs
 * start as NaN, so an element no thread writes fails the exact comparison. */

static float *nan_floats(size_t n)
{
    float *p = tu_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static size_t vol3(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

static void mfp_crop_case(uint64_t *st, int n, int c, const int in[3], const int p[3], const int out[3])
{
    ekn_mfp_crop_geom g = {.n = n, .c = c};
    memcpy(g.in, in, sizeof g.in), memcpy(g.p, p, sizeof g.p), memcpy(g.out, out, sizeof g.out);
    int span[3] = {out[0] * p[0], out[1] * p[1], out[2] * p[2]}, P = (int)vol3(p);
    size_t nx = (size_t)n * c * vol3(in), ny = (size_t)n * P * c * vol3(span);
    float *x = rnd(st, nx, -1, 1), *want = tu_alloc(ny), *y_cpu = nan_floats(ny), *y = nan_floats(ny);
    for (size_t o = 0; o < ny; o++) {
        size_t r = o % vol3(span), item = o / vol3(span);
        int ch = (int)(item % c), d = (int)(item / c % P), b = (int)(item / c / P);
        int z = (int)(r / ((size_t)span[1] * span[2])), yy = (int)(r / span[2] % span[1]), xx = (int)(r % span[2]);
        int dz = d / (p[1] * p[2]), dy = d / p[2] % p[1], dx = d % p[2];
        want[o] = x[((size_t)b * c + ch) * vol3(in) + ((size_t)(dz + z) * in[1] + dy + yy) * in[2] + dx + xx];
    }
    ekn_ops_cpu()->mfp_crop(&g, x, y_cpu);
    float *d_x = dev_floats(x, nx), *d_y = dev_floats(y, ny); /* y: NaN too, below */
    dev->mfp_crop(&g, d_x, d_y);
    ch_check("mfp_crop");
    get_floats(y, d_y, ny);
    fprintf(stderr, "-- mfp_crop n%d c%d %dx%dx%d by %dx%dx%d, %dx%dx%d per fragment\n", n, c, in[0], in[1], in[2],
            p[0], p[1], p[2], out[0], out[1], out[2]);
    tally(tu_compare("  cpu vs definition (exact)", y_cpu, want, ny, 0, 0));
    tally(tu_compare("  device vs cpu (exact)", y, y_cpu, ny, 0, 0));
    ch_free(d_x), ch_free(d_y);
    free(x), free(want), free(y_cpu), free(y);
}

/* shift: a random order of the points of [0, S) per axis, as MFP's
 * fragments cover them; out = S * frag_out. */
static void mfp_interleave_case(uint64_t *st, int n, int c, const int fo[3], const int S[3])
{
    ekn_mfp_interleave_geom g = {.n = n, .c = c, .frags = (int)vol3(S)};
    memcpy(g.frag_out, fo, sizeof g.frag_out), memcpy(g.stride, S, sizeof g.stride);
    for (int k = 0; k < 3; k++) g.out[k] = S[k] * fo[k];
    int F = g.frags;
    int32_t *shift = calloc((size_t)F * 3, sizeof *shift);
    int *order = calloc((size_t)F, sizeof *order), *frag_at = calloc((size_t)F, sizeof *frag_at);
    if (!shift || !order || !frag_at) exit(1);
    for (int f = 0; f < F; f++) order[f] = f;
    for (int f = F - 1; f > 0; f--) { /* Fisher-Yates */
        int j = (int)(tu_next(st) % (uint64_t)(f + 1)), t = order[f];
        order[f] = order[j], order[j] = t;
    }
    for (int f = 0; f < F; f++) { /* point order[f] = (rz*S1 + ry)*S2 + rx */
        shift[3 * f] = order[f] / (S[1] * S[2]), shift[3 * f + 1] = order[f] / S[2] % S[1];
        shift[3 * f + 2] = order[f] % S[2];
        frag_at[order[f]] = f;
    }
    size_t nx = (size_t)n * F * c * vol3(fo), ny = (size_t)n * c * vol3(g.out);
    float *x = rnd(st, nx, -1, 1), *want = tu_alloc(ny), *y_cpu = nan_floats(ny), *y = nan_floats(ny);
    for (size_t o = 0; o < ny; o++) { /* gather: the fragment and position each output comes from */
        size_t q = o % vol3(g.out), item = o / vol3(g.out);
        int ch = (int)(item % c), e = (int)(item / c);
        int qz = (int)(q / ((size_t)g.out[1] * g.out[2])), qy = (int)(q / g.out[2] % g.out[1]),
            qx = (int)(q % g.out[2]);
        int f = frag_at[(qz % S[0] * S[1] + qy % S[1]) * S[2] + qx % S[2]];
        size_t j = ((size_t)(qz / S[0]) * fo[1] + qy / S[1]) * fo[2] + qx / S[2];
        want[o] = x[(((size_t)e * F + f) * c + ch) * vol3(fo) + j];
    }
    ekn_ops_cpu()->mfp_interleave(&g, shift, x, y_cpu);
    float *d_x = dev_floats(x, nx), *d_y = dev_floats(y, ny);
    int32_t *d_shift = ch_up(shift, (size_t)F * 3 * sizeof *shift);
    dev->mfp_interleave(&g, d_shift, d_x, d_y);
    ch_check("mfp_interleave");
    get_floats(y, d_y, ny);
    fprintf(stderr, "-- mfp_interleave n%d c%d %d fragments of %dx%dx%d, stride %dx%dx%d\n", n, c, F, fo[0], fo[1],
            fo[2], S[0], S[1], S[2]);
    tally(tu_compare("  cpu vs definition (exact)", y_cpu, want, ny, 0, 0));
    tally(tu_compare("  device vs cpu (exact)", y, y_cpu, ny, 0, 0));
    ch_free(d_x), ch_free(d_y), ch_free(d_shift);
    free(shift), free(order), free(frag_at), free(x), free(want), free(y_cpu), free(y);
}

static void test_mfp(uint64_t *st)
{
    static const struct {
        int n, c, in[3], p[3], out[3];
    } crops[] = {
        {2, 3, {1, 11, 13}, {1, 2, 2}, {1, 5, 6}},   /* 2D, windows to the last voxel */
        {1, 2, {1, 17, 16}, {1, 3, 3}, {1, 5, 4}},   /* 2D 3x3, slack in x */
        {3, 1, {1, 1, 9}, {1, 1, 2}, {1, 1, 4}},     /* 1D */
        {2, 2, {7, 9, 8}, {2, 2, 2}, {3, 4, 3}},     /* 3D */
        {1, 3, {5, 10, 11}, {1, 3, 2}, {5, 2, 5}},   /* 3D, anisotropic */
        {2, 2, {6, 5, 7}, {3, 1, 2}, {1, 5, 3}},     /* pool in z only and x */
        {1, 1, {2, 3, 4}, {1, 1, 1}, {2, 3, 4}},     /* p = 1: a copy */
        {4, 8, {1, 64, 64}, {1, 2, 2}, {1, 31, 31}}, /* several blocks */
    };
    for (size_t i = 0; i < sizeof crops / sizeof *crops; i++)
        mfp_crop_case(st, crops[i].n, crops[i].c, crops[i].in, crops[i].p, crops[i].out);
    static const struct {
        int n, c, fo[3], S[3];
    } inter[] = {
        {2, 2, {1, 4, 5}, {1, 2, 2}},   /* 2D, one 2x2 pool */
        {1, 3, {1, 3, 3}, {1, 4, 6}},   /* 2D, pools 2x2 and 2x3 */
        {3, 2, {1, 1, 7}, {1, 1, 3}},   /* 1D */
        {2, 2, {2, 3, 2}, {2, 2, 2}},   /* 3D */
        {3, 1, {3, 2, 4}, {1, 3, 2}},   /* 3D, anisotropic */
        {1, 4, {2, 2, 2}, {4, 4, 4}},   /* 3D, two 2x2x2 pools: 64 fragments */
        {2, 1, {1, 1, 1}, {1, 2, 2}},   /* one output per fragment */
        {4, 2, {1, 30, 30}, {1, 4, 4}}, /* several blocks */
    };
    for (size_t i = 0; i < sizeof inter / sizeof *inter; i++)
        mfp_interleave_case(st, inter[i].n, inter[i].c, inter[i].fo, inter[i].S);
}

/* ---- U-Net: up-convolution and the skips' crop (kernels/upconv.h, kernels/crop.h) ----
 * upconv as conv: dx over garbage (overwritten), dw and db += onto random,
 * then dx = NULL accumulating again; and the device's backward run twice
 * from the same start must agree bit for bit (no atomics).  crop is copies
 * and single adds: exact, y's other channels and dx outside the window
 * (random, the same on both sides) included. */

static void upconv_case(uint64_t *st, int n, int cin, int cout, const int in[3], const int f[3])
{
    ekn_upconv_geom g;
    if (ekn_upconv_geom_init(&g, n, cin, cout, in, f)) {
        fprintf(stderr, "bad test geometry\n");
        exit(1);
    }
    const size_t S = vol3(g.in), fvol = vol3(g.f);
    size_t nx = (size_t)n * cin * S, nw = (size_t)cin * cout * fvol, ny = (size_t)n * cout * vol3(g.out);
    float *x = rnd(st, nx, -1, 1), *w = rnd(st, nw, -1, 1), *b = rnd(st, cout, -1, 1), *dy = rnd(st, ny, -1, 1);
    float *dw0 = rnd(st, nw, -1, 1), *db0 = rnd(st, cout, -1, 1), *garbage = rnd(st, nx, -9, 9);
    float *y_ref = tu_alloc(ny), *dx_ref = tu_alloc(nx), *dw_ref = tu_alloc(nw), *db_ref = tu_alloc(cout);
    float *y = tu_alloc(ny), *dx = tu_alloc(nx), *dw = tu_alloc(nw), *db = tu_alloc(cout);
    float *dw1 = tu_alloc(nw), *db1 = tu_alloc(cout), *dx1 = tu_alloc(nx);
    memcpy(dw_ref, dw0, nw * sizeof(float));
    memcpy(db_ref, db0, cout * sizeof(float));
    ref->upconv_forward(&g, x, w, b, y_ref, NULL);
    ref->upconv_backward(&g, x, w, dy, dx_ref, dw_ref, db_ref, NULL);

    size_t ws = dev->upconv_workspace(&g);
    float *d_x = dev_floats(x, nx), *d_w = dev_floats(w, nw), *d_b = dev_floats(b, cout);
    float *d_dy = dev_floats(dy, ny), *d_y = dev_floats(y_ref, ny) /* overwritten */;
    float *d_dx = dev_floats(garbage, nx), *d_dw = dev_floats(dw0, nw), *d_db = dev_floats(db0, cout);
    float *d_work = ch_up(NULL, ws * sizeof(float));
    dev->upconv_forward(&g, d_x, d_w, d_b, d_y, d_work);
    dev->upconv_backward(&g, d_x, d_w, d_dy, d_dx, d_dw, d_db, d_work);
    ch_check("upconv");
    get_floats(y, d_y, ny), get_floats(dx, d_dx, nx), get_floats(dw, d_dw, nw), get_floats(db, d_db, cout);
    fprintf(stderr, "-- upconv n%d %d->%d %dx%dx%d f%dx%dx%d, workspace %zu floats\n", n, cin, cout, in[0], in[1],
            in[2], f[0], f[1], f[2], ws);
    tally(tu_compare("  y", y, y_ref, ny, sum_atol(cin), RTOL));
    tally(tu_compare("  dx", dx, dx_ref, nx, sum_atol((double)cout * fvol), RTOL));
    tally(tu_compare("  dw (+= onto random)", dw, dw_ref, nw, sum_atol((double)n * S + 1), RTOL));
    tally(tu_compare("  db (+= onto random)", db, db_ref, cout, sum_atol((double)n * S * fvol + 1), RTOL));

    /* the same backward again from the same start: bit for bit */
    ch_free(d_dx), ch_free(d_dw), ch_free(d_db);
    d_dx = dev_floats(garbage, nx), d_dw = dev_floats(dw0, nw), d_db = dev_floats(db0, cout);
    dev->upconv_backward(&g, d_x, d_w, d_dy, d_dx, d_dw, d_db, d_work);
    ch_check("upconv backward again");
    get_floats(dx1, d_dx, nx), get_floats(dw1, d_dw, nw), get_floats(db1, d_db, cout);
    tally(tu_compare("  dx repeats (exact)", dx1, dx, nx, 0, 0));
    tally(tu_compare("  dw repeats (exact)", dw1, dw, nw, 0, 0));
    tally(tu_compare("  db repeats (exact)", db1, db, cout, 0, 0));

    /* without dx: dw and db accumulate a second time */
    ref->upconv_backward(&g, x, w, dy, NULL, dw_ref, db_ref, NULL);
    dev->upconv_backward(&g, d_x, d_w, d_dy, NULL, d_dw, d_db, d_work);
    ch_check("upconv backward dx=NULL");
    get_floats(dw, d_dw, nw), get_floats(db, d_db, cout);
    tally(tu_compare("  dw again, dx=NULL", dw, dw_ref, nw, sum_atol(2.0 * n * S + 1), RTOL));
    tally(tu_compare("  db again, dx=NULL", db, db_ref, cout, sum_atol(2.0 * n * S * fvol + 1), RTOL));

    ch_free(d_x), ch_free(d_w), ch_free(d_b), ch_free(d_dy), ch_free(d_y), ch_free(d_dx), ch_free(d_dw);
    ch_free(d_db), ch_free(d_work);
    free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(garbage), free(y_ref), free(dx_ref);
    free(dw_ref), free(db_ref), free(y), free(dx), free(dw), free(db), free(dw1), free(db1), free(dx1);
}

static void test_upconv(uint64_t *st)
{
    static const struct {
        int n, cin, cout, in[3], f[3];
    } cases[] = {
        {2, 3, 4, {1, 5, 7}, {1, 2, 2}},      /* 2D, odd sizes */
        {1, 1, 1, {1, 1, 1}, {1, 2, 2}},      /* smallest, batch 1 */
        {1, 1, 3, {1, 4, 5}, {1, 2, 2}},      /* Cin 1 */
        {3, 4, 1, {1, 3, 9}, {1, 2, 2}},      /* Cout 1 */
        {2, 2, 3, {1, 5, 3}, {1, 1, 3}},      /* anisotropic 1x1x3 */
        {2, 3, 2, {1, 7, 1}, {1, 3, 1}},      /* along y only */
        {2, 3, 4, {1, 6, 5}, {1, 1, 1}},      /* f = 1 */
        {4, 32, 16, {1, 16, 16}, {1, 2, 2}},  /* U-Net-like, 2D */
        {2, 3, 2, {3, 4, 5}, {2, 2, 2}},      /* 3D 2x2x2 */
        {1, 2, 3, {3, 5, 4}, {1, 2, 2}},      /* 3D anisotropic */
        {3, 1, 2, {3, 2, 3}, {2, 1, 1}},      /* z only */
        {1, 4, 3, {2, 2, 2}, {2, 3, 2}},
        {2, 24, 12, {4, 8, 8}, {1, 2, 2}},    /* aniso U-Net-like */
        {2, 8, 4, {2, 40, 40}, {1, 2, 2}},    /* the bias gradient over several blocks per channel */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        upconv_case(st, cases[i].n, cases[i].cin, cases[i].cout, cases[i].in, cases[i].f);
}

static void crop_case(uint64_t *st, int n, int c, const int in[3], const int off[3], const int out[3], int cy,
                      int c0)
{
    ekn_crop_geom g;
    if (ekn_crop_geom_init(&g, n, c, in, off, out, cy, c0)) {
        fprintf(stderr, "bad test geometry\n");
        exit(1);
    }
    size_t nx = (size_t)n * c * vol3(in), ny = (size_t)n * cy * vol3(out);
    float *x = rnd(st, nx, -1, 1), *y0 = rnd(st, ny, -1, 1), *dy = rnd(st, ny, -1, 1), *dx0 = rnd(st, nx, -1, 1);
    float *y_ref = tu_alloc(ny), *y = tu_alloc(ny), *dx_ref = tu_alloc(nx), *dx = tu_alloc(nx);
    fprintf(stderr, "-- crop n%d c%d %dx%dx%d at %d,%d,%d window %dx%dx%d into channels %d.. of %d\n", n, c, in[0],
            in[1], in[2], off[0], off[1], off[2], out[0], out[1], out[2], c0, cy);
    float *d_x = dev_floats(x, nx), *d_dy = dev_floats(dy, ny);
    for (int acc = 0; acc < 2; acc++) {
        memcpy(y_ref, y0, ny * sizeof(float));
        ref->crop_forward(&g, x, y_ref, acc);
        float *d_y = dev_floats(y0, ny);
        dev->crop_forward(&g, d_x, d_y, acc);
        ch_check("crop_forward");
        get_floats(y, d_y, ny);
        tally(tu_compare(acc ? "  y += (exact)" : "  y = (exact)", y, y_ref, ny, 0, 0));
        ch_free(d_y);
    }
    memcpy(dx_ref, dx0, nx * sizeof(float));
    ref->crop_backward(&g, dy, dx_ref);
    float *d_dx = dev_floats(dx0, nx);
    dev->crop_backward(&g, d_dy, d_dx);
    ch_check("crop_backward");
    get_floats(dx, d_dx, nx);
    tally(tu_compare("  dx += (exact)", dx, dx_ref, nx, 0, 0));
    ch_free(d_x), ch_free(d_dy), ch_free(d_dx);
    free(x), free(y0), free(dy), free(dx0), free(y_ref), free(y), free(dx_ref), free(dx);
}

static void test_crop(uint64_t *st)
{
    static const struct {
        int n, c, in[3], off[3], out[3], cy, c0;
    } cases[] = {
        {2, 3, {1, 1, 17}, {0, 0, 5}, {1, 1, 9}, 4, 1},   /* 1D */
        {1, 1, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, 1, 0},    /* smallest */
        {2, 3, {1, 13, 11}, {0, 2, 3}, {1, 9, 5}, 7, 4},  /* 2D, odd, last channels */
        {3, 2, {1, 12, 12}, {0, 4, 4}, {1, 8, 8}, 5, 1},  /* corner */
        {2, 4, {1, 6, 7}, {0, 0, 0}, {1, 6, 7}, 4, 0},    /* the whole input */
        {2, 3, {5, 7, 9}, {1, 2, 3}, {3, 3, 5}, 6, 3},    /* 3D */
        {1, 4, {6, 17, 16}, {1, 4, 4}, {4, 9, 8}, 8, 2},  /* 3D, anisotropic margins */
        {4, 16, {1, 68, 68}, {0, 4, 4}, {1, 60, 60}, 32, 16}, /* several blocks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        crop_case(st, cases[i].n, cases[i].c, cases[i].in, cases[i].off, cases[i].out, cases[i].cy, cases[i].c0);
}

/* ---- normalisation, PReLU, maxout ------------------------------------------ */

/* a second device run must repeat the first bit for bit */
static void same_bits(const char *what, const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&a[i], &b[i], sizeof *a) != 0;
    fprintf(stderr, "  %-38s n=%zu differ=%zu %s\n", what, n, bad, bad ? "FAIL" : "ok");
    tally(bad);
}

/* x with a per-channel offset in [-3, 3] and spread [-1, 1) */
static float *norm_input(uint64_t *st, int n, int c, size_t s)
{
    size_t m = (size_t)n * c * s;
    float *off = rnd(st, (size_t)c, -3, 3), *x = rnd(st, m, -1, 1);
    for (size_t k = 0; k < m; k++) x[k] += off[k / s % (size_t)c];
    free(off);
    return x;
}

static void bn_case(uint64_t *st, int n, int c, size_t s)
{
    size_t m = (size_t)n * c * s, C = (size_t)c;
    const float eps = 1e-5f, mom = 0.1f;
    float *x = norm_input(st, n, c, s), *gamma = rnd(st, C, 0.5f, 1.5f), *beta = rnd(st, C, -1, 1);
    float *dy = rnd(st, m, -1, 1), *rm0 = rnd(st, C, -1, 1), *rv0 = rnd(st, C, 0.5f, 2);
    float *dg0 = rnd(st, C, -1, 1), *db0 = rnd(st, C, -1, 1), *garbage = rnd(st, m, -9, 9);
    float *y_ref = tu_alloc(m), *mean_ref = tu_alloc(C), *is_ref = tu_alloc(C), *rm_ref = tu_alloc(C);
    float *rv_ref = tu_alloc(C), *yi_ref = tu_alloc(m), *dx_ref = tu_alloc(m), *dg_ref = tu_alloc(C);
    float *db_ref = tu_alloc(C);
    memcpy(rm_ref, rm0, C * 4), memcpy(rv_ref, rv0, C * 4), memcpy(dg_ref, dg0, C * 4), memcpy(db_ref, db0, C * 4);
    ref->bn_forward_train(n, c, s, x, gamma, beta, eps, mom, rm_ref, rv_ref, y_ref, mean_ref, is_ref);
    ref->bn_forward_infer(n, c, s, x, gamma, beta, rm_ref, rv_ref, eps, yi_ref);
    ref->bn_backward(n, c, s, x, gamma, mean_ref, is_ref, dy, dx_ref, dg_ref, db_ref);

    float *d_x = dev_floats(x, m), *d_g = dev_floats(gamma, C), *d_b = dev_floats(beta, C);
    float *d_dy = dev_floats(dy, m), *d_rm = dev_floats(rm0, C), *d_rv = dev_floats(rv0, C);
    float *d_y = dev_floats(garbage, m), *d_mean = dev_floats(NULL, C), *d_is = dev_floats(NULL, C);
    float *d_yi = dev_floats(garbage, m), *d_dx = dev_floats(garbage, m), *d_dg = dev_floats(dg0, C);
    float *d_db = dev_floats(db0, C);
    dev->bn_forward_train(n, c, s, d_x, d_g, d_b, eps, mom, d_rm, d_rv, d_y, d_mean, d_is);
    dev->bn_forward_infer(n, c, s, d_x, d_g, d_b, d_rm, d_rv, eps, d_yi);
    /* backward from the reference's statistics, so forward differences do not enter */
    float *d_mr = dev_floats(mean_ref, C), *d_ir = dev_floats(is_ref, C);
    dev->bn_backward(n, c, s, d_x, d_g, d_mr, d_ir, d_dy, d_dx, d_dg, d_db);
    ch_check("batch norm");
    float *y = tu_alloc(m), *mean = tu_alloc(C), *is = tu_alloc(C), *rm = tu_alloc(C), *rv = tu_alloc(C);
    float *yi = tu_alloc(m), *dx = tu_alloc(m), *dg = tu_alloc(C), *db = tu_alloc(C);
    get_floats(y, d_y, m), get_floats(mean, d_mean, C), get_floats(is, d_is, C), get_floats(rm, d_rm, C);
    get_floats(rv, d_rv, C), get_floats(yi, d_yi, m), get_floats(dx, d_dx, m), get_floats(dg, d_dg, C);
    get_floats(db, d_db, C);
    fprintf(stderr, "-- batch norm n%d c%d s%zu\n", n, c, s);
    tally(tu_compare("  y (training)", y, y_ref, m, ATOL, RTOL));
    tally(tu_compare("  mean", mean, mean_ref, C, ATOL, RTOL));
    tally(tu_compare("  invstd", is, is_ref, C, ATOL, RTOL));
    tally(tu_compare("  run_mean", rm, rm_ref, C, ATOL, RTOL));
    tally(tu_compare("  run_var", rv, rv_ref, C, ATOL, RTOL));
    tally(tu_compare("  y (prediction)", yi, yi_ref, m, ATOL, RTOL));
    tally(tu_compare("  dx", dx, dx_ref, m, ATOL, RTOL));
    tally(tu_compare("  dgamma (+= onto random)", dg, dg_ref, C, ATOL, RTOL));
    tally(tu_compare("  dbeta (+= onto random)", db, db_ref, C, ATOL, RTOL));

    /* again: the same bits; dx NULL accumulates the parameters once more */
    float *y2 = tu_alloc(m), *dx2 = tu_alloc(m);
    dev->bn_forward_train(n, c, s, d_x, d_g, d_b, eps, mom, NULL, NULL, d_y, d_mean, d_is);
    dev->bn_backward(n, c, s, d_x, d_g, d_mr, d_ir, d_dy, d_dx, NULL, NULL);
    ref->bn_backward(n, c, s, x, gamma, mean_ref, is_ref, dy, NULL, dg_ref, db_ref);
    dev->bn_backward(n, c, s, d_x, d_g, d_mr, d_ir, d_dy, NULL, d_dg, d_db);
    ch_check("batch norm again");
    get_floats(y2, d_y, m), get_floats(dx2, d_dx, m), get_floats(dg, d_dg, C), get_floats(db, d_db, C);
    same_bits("y repeats", y2, y, m);
    same_bits("dx repeats (dgamma, dbeta NULL)", dx2, dx, m);
    tally(tu_compare("  dgamma again, dx NULL", dg, dg_ref, C, ATOL, RTOL));
    tally(tu_compare("  dbeta again, dx NULL", db, db_ref, C, ATOL, RTOL));

    ch_free(d_x), ch_free(d_g), ch_free(d_b), ch_free(d_dy), ch_free(d_rm), ch_free(d_rv), ch_free(d_y);
    ch_free(d_mean), ch_free(d_is), ch_free(d_yi), ch_free(d_dx), ch_free(d_dg), ch_free(d_db), ch_free(d_mr);
    ch_free(d_ir);
    free(x), free(gamma), free(beta), free(dy), free(rm0), free(rv0), free(dg0), free(db0), free(garbage);
    free(y_ref), free(mean_ref), free(is_ref), free(rm_ref), free(rv_ref), free(yi_ref), free(dx_ref);
    free(dg_ref), free(db_ref), free(y), free(mean), free(is), free(rm), free(rv), free(yi), free(dx), free(dg);
    free(db), free(y2), free(dx2);
}

static void gn_case(uint64_t *st, int n, int c, size_t s, int groups)
{
    size_t m = (size_t)n * c * s, C = (size_t)c, K = (size_t)n * groups;
    const float eps = 1e-5f;
    float *x = norm_input(st, n, c, s), *gamma = rnd(st, C, 0.5f, 1.5f), *beta = rnd(st, C, -1, 1);
    float *dy = rnd(st, m, -1, 1), *dg0 = rnd(st, C, -1, 1), *db0 = rnd(st, C, -1, 1), *garbage = rnd(st, m, -9, 9);
    float *y_ref = tu_alloc(m), *mean_ref = tu_alloc(K), *is_ref = tu_alloc(K), *dx_ref = tu_alloc(m);
    float *dg_ref = tu_alloc(C), *db_ref = tu_alloc(C);
    memcpy(dg_ref, dg0, C * 4), memcpy(db_ref, db0, C * 4);
    ref->gn_forward(n, c, s, groups, x, gamma, beta, eps, y_ref, mean_ref, is_ref);
    ref->gn_backward(n, c, s, groups, x, gamma, mean_ref, is_ref, dy, dx_ref, dg_ref, db_ref);

    float *d_x = dev_floats(x, m), *d_g = dev_floats(gamma, C), *d_b = dev_floats(beta, C);
    float *d_dy = dev_floats(dy, m), *d_y = dev_floats(garbage, m), *d_mean = dev_floats(NULL, K);
    float *d_is = dev_floats(NULL, K), *d_dx = dev_floats(garbage, m), *d_dg = dev_floats(dg0, C);
    float *d_db = dev_floats(db0, C), *d_mr = dev_floats(mean_ref, K), *d_ir = dev_floats(is_ref, K);
    dev->gn_forward(n, c, s, groups, d_x, d_g, d_b, eps, d_y, d_mean, d_is);
    dev->gn_backward(n, c, s, groups, d_x, d_g, d_mr, d_ir, d_dy, d_dx, d_dg, d_db);
    ch_check("group norm");
    float *y = tu_alloc(m), *mean = tu_alloc(K), *is = tu_alloc(K), *dx = tu_alloc(m), *dg = tu_alloc(C);
    float *db = tu_alloc(C), *y2 = tu_alloc(m), *dx2 = tu_alloc(m);
    get_floats(y, d_y, m), get_floats(mean, d_mean, K), get_floats(is, d_is, K), get_floats(dx, d_dx, m);
    get_floats(dg, d_dg, C), get_floats(db, d_db, C);
    fprintf(stderr, "-- group norm n%d c%d s%zu groups %d\n", n, c, s, groups);
    tally(tu_compare("  y", y, y_ref, m, ATOL, RTOL));
    tally(tu_compare("  mean", mean, mean_ref, K, ATOL, RTOL));
    tally(tu_compare("  invstd", is, is_ref, K, ATOL, RTOL));
    tally(tu_compare("  dx", dx, dx_ref, m, ATOL, RTOL));
    tally(tu_compare("  dgamma (+= onto random)", dg, dg_ref, C, ATOL, RTOL));
    tally(tu_compare("  dbeta (+= onto random)", db, db_ref, C, ATOL, RTOL));
    /* again: the same bits; then dx NULL, dgamma and dbeta once more */
    dev->gn_forward(n, c, s, groups, d_x, d_g, d_b, eps, d_y, d_mean, d_is);
    dev->gn_backward(n, c, s, groups, d_x, d_g, d_mr, d_ir, d_dy, d_dx, NULL, NULL);
    ref->gn_backward(n, c, s, groups, x, gamma, mean_ref, is_ref, dy, NULL, dg_ref, db_ref);
    dev->gn_backward(n, c, s, groups, d_x, d_g, d_mr, d_ir, d_dy, NULL, d_dg, d_db);
    ch_check("group norm again");
    get_floats(y2, d_y, m), get_floats(dx2, d_dx, m), get_floats(dg, d_dg, C), get_floats(db, d_db, C);
    same_bits("y repeats", y2, y, m);
    same_bits("dx repeats (dgamma, dbeta NULL)", dx2, dx, m);
    tally(tu_compare("  dgamma again, dx NULL", dg, dg_ref, C, ATOL, RTOL));
    tally(tu_compare("  dbeta again, dx NULL", db, db_ref, C, ATOL, RTOL));
    ch_free(d_x), ch_free(d_g), ch_free(d_b), ch_free(d_dy), ch_free(d_y), ch_free(d_mean), ch_free(d_is);
    ch_free(d_dx), ch_free(d_dg), ch_free(d_db), ch_free(d_mr), ch_free(d_ir);
    free(x), free(gamma), free(beta), free(dy), free(dg0), free(db0), free(garbage), free(y_ref), free(mean_ref);
    free(is_ref), free(dx_ref), free(dg_ref), free(db_ref), free(y), free(mean), free(is), free(dx), free(dg);
    free(db), free(y2), free(dx2);
}

static void test_norm(uint64_t *st)
{
    /* s 1 (after a dense layer), s below, at and above a block's 256
     * threads, s not dividing 256, volumes; many elements per channel */
    static const struct {
        int n, c;
        size_t s;
    } cases[] = {{1, 1, 1},  {64, 10, 1},   {2, 3, 7},        {1, 5, 256},     {3, 4, 257},   {2, 8, 143},
                 {5, 3, 315}, {4, 32, 144}, {2, 3, 40000},    {1, 2, 5 * 7 * 9}, {7, 1, 100}, {64, 32, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) bn_case(st, cases[i].n, cases[i].c, cases[i].s);
    static const struct {
        int n, c;
        size_t s;
        int groups;
    } gcases[] = {{1, 1, 1, 1},  {2, 4, 7, 2},   {2, 4, 7, 4},    {3, 6, 33, 1},  {2, 32, 144, 8},
                  {1, 8, 315, 2}, {4, 3, 257, 3}, {2, 16, 1, 16},  {2, 6, 5000, 3}, {64, 10, 1, 1}};
    for (size_t i = 0; i < sizeof gcases / sizeof *gcases; i++)
        gn_case(st, gcases[i].n, gcases[i].c, gcases[i].s, gcases[i].groups);
}

static void test_prelu(uint64_t *st)
{
    static const struct {
        int n, c;
        size_t s;
    } cases[] = {{1, 1, 1}, {2, 3, 7}, {64, 10, 1}, {3, 4, 257}, {2, 8, 143}, {2, 3, 100003}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int shared = 0; shared < 2; shared++) {
            int n = cases[i].n, c = cases[i].c, ns = shared ? 1 : c;
            size_t s = cases[i].s, m = (size_t)n * c * s;
            float *x = rnd(st, m, -2, 2), *dy = rnd(st, m, -1, 1), *a = rnd(st, (size_t)ns, -0.5f, 0.5f);
            float *da0 = rnd(st, (size_t)ns, -1, 1), *garbage = rnd(st, m, -9, 9);
            for (size_t j = 0; j < m; j += 11) x[j] = 0; /* the kink */
            float *y_ref = tu_alloc(m), *dx_ref = tu_alloc(m), *da_ref = tu_alloc((size_t)ns);
            memcpy(da_ref, da0, (size_t)ns * 4);
            ref->prelu_forward(n, c, s, ns, x, a, y_ref);
            ref->prelu_backward(n, c, s, ns, x, a, dy, dx_ref, da_ref);
            float *d_x = dev_floats(x, m), *d_dy = dev_floats(dy, m), *d_a = dev_floats(a, (size_t)ns);
            float *d_da = dev_floats(da0, (size_t)ns), *d_y = dev_floats(garbage, m), *d_dx = dev_floats(garbage, m);
            dev->prelu_forward(n, c, s, ns, d_x, d_a, d_y);
            dev->prelu_backward(n, c, s, ns, d_x, d_a, d_dy, d_dx, d_da);
            ch_check("prelu");
            float *y = tu_alloc(m), *dx = tu_alloc(m), *da = tu_alloc((size_t)ns), *da1 = tu_alloc((size_t)ns);
            get_floats(y, d_y, m), get_floats(dx, d_dx, m), get_floats(da, d_da, (size_t)ns);
            fprintf(stderr, "-- prelu n%d c%d s%zu slopes %d\n", n, c, s, ns);
            tally(tu_compare("  y", y, y_ref, m, ATOL, RTOL));
            tally(tu_compare("  dx", dx, dx_ref, m, ATOL, RTOL));
            tally(tu_compare("  da (+= onto random)", da, da_ref, (size_t)ns, sum_atol((double)m / ns), RTOL));
            /* the sum alone, twice from zero: the same bits; then dx in place on dy, da NULL */
            float *zero = tu_alloc((size_t)ns);
            ch_free(d_da);
            d_da = dev_floats(zero, (size_t)ns);
            dev->prelu_backward(n, c, s, ns, d_x, d_a, d_dy, NULL, d_da);
            ch_check("prelu da");
            get_floats(da, d_da, (size_t)ns);
            ch_free(d_da);
            d_da = dev_floats(zero, (size_t)ns);
            dev->prelu_backward(n, c, s, ns, d_x, d_a, d_dy, NULL, d_da);
            dev->prelu_backward(n, c, s, ns, d_x, d_a, d_dy, d_dy, NULL);
            ch_check("prelu in place");
            get_floats(da1, d_da, (size_t)ns), get_floats(dx, d_dy, m);
            same_bits("da repeats", da1, da, (size_t)ns);
            tally(tu_compare("  dx in place on dy, da NULL", dx, dx_ref, m, ATOL, RTOL));
            ch_free(d_x), ch_free(d_dy), ch_free(d_a), ch_free(d_da), ch_free(d_y), ch_free(d_dx);
            free(x), free(dy), free(a), free(da0), free(garbage), free(y_ref), free(dx_ref), free(da_ref), free(y);
            free(dx), free(da), free(da1), free(zero);
        }
}

static void test_maxout(uint64_t *st)
{
    static const struct {
        int n, c;
        size_t s;
        int k;
    } cases[] = {{1, 1, 1, 1}, {2, 6, 7, 2}, {2, 6, 7, 3}, {64, 20, 1, 4}, {3, 8, 257, 2}, {2, 9, 143, 3},
                 {1, 4, 315, 4}, {2, 4, 10000, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int n = cases[i].n, c = cases[i].c, k = cases[i].k;
        size_t s = cases[i].s, m = (size_t)n * c * s, my = (size_t)n * (c / k) * s;
        float *x = rnd(st, m, -1, 1), *dy = rnd(st, my, -1, 1), *garbage = rnd(st, m, -9, 9);
        for (size_t j = 0; j < m; j++) x[j] = floorf(x[j] * 2) / 2; /* many ties */
        for (size_t j = 13; j < m; j += 29) x[j] = NAN;             /* NaN wins only first */
        float *y_ref = tu_alloc(my), *dx_ref = tu_alloc(m), *y = tu_alloc(my), *dx = tu_alloc(m);
        int32_t *a_ref = calloc(my, 4), *a = calloc(my, 4);
        if (!a_ref || !a) exit(1);
        ref->maxout_forward(n, c, s, k, x, y_ref, a_ref);
        ref->maxout_backward(n, c, s, k, dy, a_ref, dx_ref);
        float *d_x = dev_floats(x, m), *d_y = dev_floats(garbage, my), *d_dy = dev_floats(dy, my);
        float *d_dx = dev_floats(garbage, m);
        int32_t *d_a = ch_up(NULL, my * 4);
        dev->maxout_forward(n, c, s, k, d_x, d_y, d_a);
        dev->maxout_backward(n, c, s, k, d_dy, d_a, d_dx);
        ch_check("maxout");
        get_floats(y, d_y, my), get_floats(dx, d_dx, m), ch_down(a, d_a, my * 4);
        fprintf(stderr, "-- maxout n%d c%d s%zu k%d\n", n, c, s, k);
        size_t bad_arg = 0, bad_nan = 0;
        for (size_t j = 0; j < my; j++) bad_arg += a[j] != a_ref[j];
        fprintf(stderr, "  arg: %zu of %zu differ %s\n", bad_arg, my, bad_arg ? "FAIL" : "ok");
        tally(bad_arg);
        for (size_t j = 0; j < my; j++)
            if (isnan(y_ref[j])) {
                bad_nan += !isnan(y[j]);
                y[j] = y_ref[j] = 0;
            }
        tally(bad_nan);
        tally(tu_compare("  y (exact)", y, y_ref, my, 0, 0));
        tally(tu_compare("  dx (exact)", dx, dx_ref, m, 0, 0));
        ch_free(d_x), ch_free(d_y), ch_free(d_dy), ch_free(d_dx), ch_free(d_a);
        free(x), free(dy), free(garbage), free(y_ref), free(dx_ref), free(y), free(dx), free(a_ref), free(a);
    }
}

/* ---- issue 14 section 5: voxel-weighted NLL and MSE, BCE, focal, Dice ---- */

enum { EM_NLL, EM_MSE_W, EM_BCE, EM_FOCAL, EM_SDICE, EM_BDICE, EM_KINDS };
static const char *const em_name[EM_KINDS] = {"nll voxel_w", "mse_w", "bce", "focal", "softmax_dice", "sigmoid_dice"};

/* the loss of kind k on one table; z the logits (y for mse_w), p the softmax, all in that table's memory */
static double em_eval(const ekn_ops *o, int k, int n, int c, size_t s, const float *z, const float *p,
                      const ekn_nll_args *na, const ekn_bce_args *ba, float gamma, float *g, double *cnt)
{
    *cnt = 0;
    switch (k) {
    case EM_NLL: return o->softmax_nll(n, c, s, p, na, g, cnt);
    case EM_MSE_W: return o->mse_w(n, c, s, z, ba->t, ba->voxel_w, g);
    case EM_BCE: return o->bce(n, c, s, z, ba, g, cnt);
    case EM_FOCAL: return o->softmax_focal(n, c, s, p, na, gamma, g, cnt);
    case EM_SDICE: return o->softmax_dice(n, c, s, p, na, 1.0f, g, cnt);
    default: return o->sigmoid_dice(n, c, s, z, ba, 1.0f, g, cnt);
    }
}

static void em_case(uint64_t *st, int k, int n, int c, size_t s, int weighted, float zrange)
{
    size_t m = (size_t)n * c * s, ns = (size_t)n * s;
    float *z = rnd(st, m, -zrange, zrange), *p = tu_alloc(m), *t = rnd(st, m, 0, 1);
    float *cw = rnd(st, c, 0.25f, 2.0f), *pw = rnd(st, c, 0.5f, 3.0f), *vw = rnd(st, ns, 0, 3);
    int32_t *labels = calloc(ns, 4);
    if (!labels) exit(1);
    ref->softmax_forward(n, c, s, z, p);
    for (size_t i = 0; i < ns; i++) labels[i] = (int32_t)(tu_next(st) % (uint64_t)(c + 1)) - 1;
    labels[0] = 0;
    for (size_t i = 0; i < m; i += 5) t[i] = i % 2 ? NAN : t[i] > 0.5f ? 1.0f : 0.0f;
    vw[ns - 1] = 0;
    float gamma = 0.5f + 2.0f * (float)(tu_next(st) % 3);
    ekn_nll_args na = {.labels = labels, .class_w = weighted ? cw : NULL, .voxel_w = weighted ? vw : NULL};
    ekn_bce_args ba = {.t = t, .class_w = weighted ? cw : NULL, .pos_w = weighted ? pw : NULL,
                       .voxel_w = weighted ? vw : NULL};
    float *g_ref = tu_alloc(m), *g = tu_alloc(m);
    double cnt_ref, cnt;
    double l_ref = em_eval(ref, k, n, c, s, z, p, &na, &ba, gamma, g_ref, &cnt_ref);
    float *d_z = dev_floats(z, m), *d_p = dev_floats(p, m), *d_t = dev_floats(t, m), *d_cw = dev_floats(cw, c);
    float *d_pw = dev_floats(pw, c), *d_vw = dev_floats(vw, ns), *d_g = dev_floats(z, m);
    int32_t *d_labels = ch_up(labels, ns * 4);
    ekn_nll_args dna = {.labels = d_labels, .class_w = weighted ? d_cw : NULL, .voxel_w = weighted ? d_vw : NULL};
    ekn_bce_args dba = {.t = d_t, .class_w = weighted ? d_cw : NULL, .pos_w = weighted ? d_pw : NULL,
                        .voxel_w = weighted ? d_vw : NULL};
    double l = em_eval(dev, k, n, c, s, d_z, d_p, &dna, &dba, gamma, d_g, &cnt);
    ch_check(em_name[k]);
    get_floats(g, d_g, m);
    fprintf(stderr, "-- %s n%d c%d s%zu weights=%d logits +-%g gamma %g\n", em_name[k], n, c, s, weighted,
            (double)zrange, (double)gamma);
    float lf = (float)l, lf_ref = (float)l_ref, cf = (float)cnt, cf_ref = (float)cnt_ref;
    tally(tu_compare("  count", &cf, &cf_ref, 1, 0, 1e-6));
    tally(tu_compare("  loss", &lf, &lf_ref, 1, sum_atol((double)m), RTOL));
    tally(tu_compare("  grad", g, g_ref, m, ATOL, RTOL));
    ch_free(d_z), ch_free(d_p), ch_free(d_t), ch_free(d_cw), ch_free(d_pw), ch_free(d_vw), ch_free(d_g);
    ch_free(d_labels);
    free(z), free(p), free(t), free(cw), free(pw), free(vw), free(labels), free(g_ref), free(g);
}

static void test_losses_em(uint64_t *st)
{
    for (int k = 0; k < EM_KINDS; k++) {
        for (size_t i = 0; i < N_LOSS_SHAPES; i++)
            for (int weighted = 0; weighted < 2; weighted++) {
                if (loss_shapes[i].c < 2 && k != EM_BCE && k != EM_MSE_W && k != EM_BDICE) continue;
                em_case(st, k, loss_shapes[i].n, loss_shapes[i].c, loss_shapes[i].s, weighted, 3.0f);
            }
        if (k != EM_MSE_W) em_case(st, k, 3, 4, 300, 1, 30.0f); /* saturated */
        em_case(st, k, 2, 3, 100003, 1, 3.0f);                   /* many blocks */
    }
}

/* ---- exponential moving average (--ema, kernels/ema.h) ---------------------- */

/* dev's step against ref's (ATOL/RTOL) and against the cpu's float
 * arithmetic, which it repeats bit for bit; decay 0 copies x exactly */
static void test_ema(uint64_t *st)
{
    static const size_t sizes[] = {1, 7, 1003, 1000003};
    static const float decays[] = {0.999f, 0.5f, 0.0f, 1.0f};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t di = 0; di < sizeof decays / sizeof *decays; di++) {
            size_t n = sizes[si];
            float d = decays[di];
            float *x = rnd(st, n, -3, 3), *a_ref = rnd(st, n, -3, 3), *a_cpu = tu_alloc(n), *a = tu_alloc(n);
            memcpy(a_cpu, a_ref, n * sizeof *a);
            float *d_x = dev_floats(x, n), *d_a = dev_floats(a_ref, n);
            for (int rep = 0; rep < 3; rep++) { /* three steps, as three training steps */
                ref->ema_update(n, d, x, a_ref);
                ekn_ema_update_cpu(n, d, x, a_cpu);
                dev->ema_update(n, d, d_x, d_a);
            }
            ch_check("ema_update");
            get_floats(a, d_a, n);
            fprintf(stderr, "-- ema_update n=%zu decay=%g\n", n, (double)d);
            tally(tu_compare("  avg vs ref", a, a_ref, n, ATOL, RTOL));
            tally(tu_compare("  avg vs cpu (exact)", a, a_cpu, n, 0, 0));
            if (d == 0.0f) tally(tu_compare("  decay 0: avg is x (exact)", a, x, n, 0, 0));
            ch_free(d_x), ch_free(d_a);
            free(x), free(a_ref), free(a_cpu), free(a);
        }
}

int main(void)
{
    ch_start("test_ops_cuda");
    ref = ekn_ops_ref();
    dev = ch_fake ? ekn_ops_cpu() : ekn_ops_cuda();
    if (!dev) {
        printf("skip: ekn_ops_cuda() is NULL (a build without CUDA)\n");
        return EKN_TEST_SKIP;
    }
    uint64_t st = tu_seed_for("test_ops_cuda");
    fprintf(stderr, "ops '%s' vs '%s', tolerance |a-ref| <= %g + %g*|ref|\n", dev->name, ref->name, ATOL, RTOL);
    test_conv(&st);
    test_pool(&st, EKN_POOL_MAX);
    test_dense(&st);
    test_act(&st);
    test_softmax(&st);
    test_nll(&st);
    test_mse(&st);
    test_argmax(&st);
    test_mfp(&st);
    test_upconv(&st);
    test_crop(&st);
    /* appended, so the tests above keep the data they always drew */
    test_pool(&st, EKN_POOL_MAXABS);
    test_norm(&st);
    test_prelu(&st);
    test_maxout(&st);
    test_dense_t(&st); /* the earlier tests keep the data they always saw */
    test_ema(&st);     /* appended last for the same reason */
    test_losses_em(&st); /* issue 14 section 5, after the others for the same reason */
    fprintf(stderr, "test_ops_cuda: %zu checks, %zu failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
