/* test_augment: the transforms of lib/data/augment.h against exact inverses,
 * closed forms and the stated distributions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "augment.h"
#include "testutil.h"

static ekn_aug_opts no_opts(void)
{
    ekn_aug_opts o;
    memset(&o, 0, sizeof o);
    o.scale_lo = o.scale_hi = 1;
    o.gamma = 1;
    o.warp_fraction = 1;
    return o;
}

static ekn_aug_params identity_params(void)
{
    ekn_aug_params p;
    memset(&p, 0, sizeof p);
    p.scale = 1;
    return p;
}

/* Resamples src (C, S) to dst (C, O) with params p (no elastic field unless o says). */
static size_t resample(const ekn_aug_opts *o, const ekn_aug_params *p, const int S[3], const int O[3], int in_plane,
                       const float *src, float *dst, int C)
{
    ekn_aug_geom g = {{S[0], S[1], S[2]}, {O[0], O[1], O[2]}, in_plane};
    ekn_aug_work w = {0};
    ekn_aug_map m;
    ekn_err err = {0};
    assert_int_equal(ekn_aug_map_build(&m, o, p, &g, &w, &err), 0);
    size_t out = ekn_aug_sample_f32(&m, src, dst, C, &w);
    ekn_aug_work_free(&w);
    return out;
}

/* ---- exact lattice transforms -------------------------------------------------------- */

static void test_lattice_inverse(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("lattice_inverse");
    const int shape[3] = {3, 5, 5}, C = 2;
    size_t n = (size_t)C * 3 * 5 * 5;
    float *a = tu_alloc(n), *b = tu_alloc(n), *c = tu_alloc(n);
    tu_fill(&seed, a, n, -1, 1);
    int nonidentity = 0;
    for (int code = 0; code < 16; code++) {
        int t = code & 1, f[3] = {(code >> 1) & 1, (code >> 2) & 1, (code >> 3) & 1};
        ekn_aug_lattice(a, b, sizeof *a, C, shape, t, f);
        nonidentity += memcmp(a, b, n * sizeof *a) != 0;
        /* L = F T, so L^-1 = T F: with a transpose the Y and X mirrors trade places */
        int g[3] = {f[0], t ? f[2] : f[1], t ? f[1] : f[2]};
        ekn_aug_lattice(b, c, sizeof *a, C, shape, t, g);
        assert_memory_equal(a, c, n * sizeof *a);
    }
    assert_int_equal(nonidentity, 15);
    free(a), free(b), free(c);
}

/* The params the drawing gives for k quarter turns (and nothing else). */
static ekn_aug_params rot90_params(int k)
{
    ekn_aug_opts o = no_opts();
    o.rot90 = 1;
    ekn_aug_params p;
    for (uint64_t s = 0;; s++) {
        ekn_rng r;
        ekn_rng_seed(&r, s, 0);
        ekn_aug_draw(&o, &r, 1, &p);
        if (p.rot90 == k) return p;
    }
}

static void test_rot90(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("rot90");
    const int S[3] = {1, 7, 7}, n = 49;
    float *a = tu_alloc(n), *b = tu_alloc(n), *c = tu_alloc(n), *ref = tu_alloc(n);
    tu_fill(&seed, a, n, 0, 1);
    ekn_aug_opts o = no_opts();
    /* one quarter turn: dst[y][x] = src[n-1-x][y] */
    ekn_aug_params p1 = rot90_params(1), p3 = rot90_params(3), p0 = rot90_params(0);
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 7; x++) ref[y * 7 + x] = a[(6 - x) * 7 + y];
    assert_int_equal(resample(&o, &p1, S, S, 0, a, b, 1), 0);
    assert_memory_equal(b, ref, n * sizeof *b);
    /* the lattice copy agrees with the sampler */
    ekn_aug_lattice(a, c, sizeof *a, 1, S, p1.transpose, p1.flip);
    assert_memory_equal(c, ref, n * sizeof *c);
    /* four quarter turns, and one then three, give the input back exactly */
    memcpy(c, a, n * sizeof *c);
    for (int i = 0; i < 4; i++) {
        resample(&o, &p1, S, S, 0, c, b, 1);
        memcpy(c, b, n * sizeof *c);
    }
    assert_memory_equal(c, a, n * sizeof *c);
    resample(&o, &p1, S, S, 0, a, b, 1);
    resample(&o, &p3, S, S, 0, b, c, 1);
    assert_memory_equal(c, a, n * sizeof *c);
    resample(&o, &p0, S, S, 0, a, c, 1);
    assert_memory_equal(c, a, n * sizeof *c);
    /* an arbitrary-angle rotation by +90 degrees (bilinear path) matches */
    ekn_aug_params pa = identity_params();
    pa.warp = 1;
    pa.angle = M_PI / 2;
    resample(&o, &pa, S, S, 0, a, c, 1);
    assert_int_equal(tu_compare("rotate 90 vs rot90", c, ref, (size_t)n, 1e-5, 1e-5), 0);
    free(a), free(b), free(c), free(ref);
}

/* Mirrors and transposes through the sampler with a crop stay exact and invertible. */
static void test_flip_crop(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("flip_crop");
    const int S[3] = {4, 9, 9}, O[3] = {4, 5, 5};
    size_t ns = 4 * 81, no = 4 * 25;
    float *a = tu_alloc(ns), *crop = tu_alloc(no), *b = tu_alloc(no), *c = tu_alloc(no);
    tu_fill(&seed, a, ns, 0, 1);
    ekn_aug_opts o = no_opts();
    ekn_aug_params id = identity_params();
    assert_int_equal(resample(&o, &id, S, O, 0, a, crop, 1), 0);
    for (int z = 0; z < 4; z++) /* centred crop at offset 2 in Y,X */
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) assert_true(crop[(z * 5 + y) * 5 + x] == a[(z * 9 + y + 2) * 9 + x + 2]);
    for (int code = 1; code < 16; code++) {
        ekn_aug_params p = identity_params();
        p.transpose = code & 1;
        for (int k = 0; k < 3; k++) p.flip[k] = (code >> (k + 1)) & 1;
        assert_int_equal(resample(&o, &p, S, O, 0, a, b, 1), 0);
        ekn_aug_lattice(crop, c, sizeof *c, 1, O, p.transpose, p.flip);
        assert_memory_equal(b, c, no * sizeof *b);
    }
    free(a), free(crop), free(b), free(c);
}

/* ---- closed forms ----------------------------------------------------------------------- */

/* a[z][y][x] = g . (z, y, x) over a volume of shape S */
static void fill_ramp(float *a, const int S[3], const double g[3])
{
    for (int z = 0; z < S[0]; z++)
        for (int y = 0; y < S[1]; y++)
            for (int x = 0; x < S[2]; x++) a[((size_t)z * S[1] + y) * S[2] + x] = (float)(g[0] * z + g[1] * y + g[2] * x);
}

/* Multi-linear interpolation reproduces a linear ramp exactly, so any warp
 * of a ramp must equal the ramp at the mapped positions, computed here
 * independently: source = c_src + R(angle) H(shear) (o - c_out) / (scale w),
 * w the perspective divisor. */
static void test_affine_ramp(void **state)
{
    (void)state;
    const int S[3] = {9, 41, 37}, O[3] = {5, 21, 19};
    const double g[3] = {0.7, 0.3, -0.2};
    size_t ns = (size_t)S[0] * S[1] * S[2], no = (size_t)O[0] * O[1] * O[2];
    float *a = tu_alloc(ns), *b = tu_alloc(no), *ref = tu_alloc(no);
    fill_ramp(a, S, g);
    for (int variant = 0; variant < 3; variant++) {
        int in_plane = variant > 0, persp = variant == 2;
        ekn_aug_opts o = no_opts();
        ekn_aug_params p = identity_params();
        p.warp = 1;
        p.angle = 0.5;
        p.scale = 1.25;
        p.shear = 0.2;
        p.translate[0] = in_plane ? 0 : 0.4;
        p.translate[1] = 1.5;
        p.translate[2] = -0.75;
        p.flip[2] = 1;
        if (persp) p.persp[0] = 0.2, p.persp[1] = -0.15;
        for (int z = 0; z < O[0]; z++)
            for (int y = 0; y < O[1]; y++)
                for (int x = 0; x < O[2]; x++) {
                    double dz = z - (O[0] - 1) / 2.0, dy = y - (O[1] - 1) / 2.0, dx = x - (O[2] - 1) / 2.0;
                    double hy = dy + p.shear * dx, hx = dx; /* shear, then rotate, then zoom */
                    double ry = cos(p.angle) * hy - sin(p.angle) * hx, rx = sin(p.angle) * hy + cos(p.angle) * hx;
                    /* the projective divisor, per half patch size */
                    double w = 1 + p.persp[0] * dy / ((O[1] - 1) / 2.0) + p.persp[1] * dx / ((O[2] - 1) / 2.0);
                    double sz = (in_plane ? dz : dz / p.scale) + (S[0] - 1) / 2.0 + p.translate[0];
                    double sy = ry / p.scale / w + (S[1] - 1) / 2.0 + p.translate[1];
                    double sx = -rx / p.scale / w + (S[2] - 1) / 2.0 + p.translate[2]; /* mirrored in X */
                    ref[((size_t)z * O[1] + y) * O[2] + x] = (float)(g[0] * sz + g[1] * sy + g[2] * sx);
                }
        assert_int_equal(resample(&o, &p, S, O, in_plane, a, b, 1), 0);
        const char *what[3] = {"affine ramp, 3D", "affine ramp, in-plane", "projective ramp, in-plane"};
        assert_int_equal(tu_compare(what[variant], b, ref, no, 2e-5, 1e-5), 0);
    }
    free(a), free(b), free(ref);
}

/* --rotate3d: the ramp again, with v = M d rotated about a unit axis k by
 * t (v cos t + (k x v) sin t + k (k.v)(1 - cos t), Rodrigues' vector form,
 * independent of the matrix the code builds) before the mirror; in-plane
 * the rotation must be ignored. */
static void test_rotate3d_ramp(void **state)
{
    (void)state;
    const int S[3] = {31, 33, 29}, O[3] = {11, 13, 9};
    const double g[3] = {0.7, 0.3, -0.2};
    size_t ns = (size_t)S[0] * S[1] * S[2], no = (size_t)O[0] * O[1] * O[2];
    float *a = tu_alloc(ns), *b = tu_alloc(no), *ref = tu_alloc(no);
    fill_ramp(a, S, g);
    for (int in_plane = 0; in_plane < 2; in_plane++) {
        ekn_aug_opts o = no_opts();
        ekn_aug_params p = identity_params();
        p.warp = 1;
        p.angle = 0.3;
        p.scale = 1.1;
        double k[3] = {0.48, -0.6, 0.64}; /* unit */
        memcpy(p.axis, k, sizeof k);
        p.angle3d = 0.9;
        p.translate[1] = 0.5;
        p.flip[2] = 1;
        double t = in_plane ? 0 : p.angle3d;
        for (int z = 0; z < O[0]; z++)
            for (int y = 0; y < O[1]; y++)
                for (int x = 0; x < O[2]; x++) {
                    double dz = z - (O[0] - 1) / 2.0, dy = y - (O[1] - 1) / 2.0, dx = x - (O[2] - 1) / 2.0;
                    double v[3] = {in_plane ? dz : dz / p.scale,
                                   (cos(p.angle) * dy - sin(p.angle) * dx) / p.scale,
                                   (sin(p.angle) * dy + cos(p.angle) * dx) / p.scale};
                    double kv = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
                    double kx[3] = {k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2], k[0] * v[1] - k[1] * v[0]};
                    double r[3];
                    for (int i = 0; i < 3; i++) r[i] = v[i] * cos(t) + kx[i] * sin(t) + k[i] * kv * (1 - cos(t));
                    double sz = r[0] + (S[0] - 1) / 2.0, sy = r[1] + (S[1] - 1) / 2.0 + p.translate[1];
                    double sx = -r[2] + (S[2] - 1) / 2.0; /* mirrored in X */
                    ref[((size_t)z * O[1] + y) * O[2] + x] = (float)(g[0] * sz + g[1] * sy + g[2] * sx);
                }
        assert_int_equal(resample(&o, &p, S, O, in_plane, a, b, 1), 0);
        assert_int_equal(tu_compare(in_plane ? "rotate3d ramp, in-plane (ignored)" : "rotate3d ramp, 3D", b, ref,
                                    no, 2e-5, 1e-5),
                         0);
    }
    free(a), free(b), free(ref);
}

/* A whole-voxel translation moves the image and marks what comes from
 * outside: labels there are the ignore value, and they are counted. */
static void test_translate_outside(void **state)
{
    (void)state;
    const int S[3] = {1, 6, 10};
    int32_t lab[60], out[60];
    for (int i = 0; i < 60; i++) lab[i] = i;
    ekn_aug_opts o = no_opts();
    ekn_aug_params p = identity_params();
    p.warp = 1;
    p.translate[2] = 3;
    ekn_aug_geom g = {{1, 6, 10}, {1, 6, 10}, 1};
    ekn_aug_work w = {0};
    ekn_aug_map m;
    ekn_err err = {0};
    assert_int_equal(ekn_aug_map_build(&m, &o, &p, &g, &w, &err), 0);
    assert_int_equal(ekn_aug_sample_i32(&m, lab, out, -1, &w), 6 * 3);
    for (int y = 0; y < S[1]; y++)
        for (int x = 0; x < S[2]; x++) assert_int_equal(out[y * 10 + x], x + 3 < 10 ? lab[y * 10 + x + 3] : -1);
    ekn_aug_work_free(&w);
}

/* ---- elastic fields ---------------------------------------------------------------------- */

static void test_elastic_field(void **state)
{
    (void)state;
    const int shape[3] = {1, 96, 96};
    const double strength = 2, sigma = 6;
    size_t n = 96 * 96, fields = 40;
    float *f = tu_alloc(2 * n), *f2 = tu_alloc(2 * n);
    ekn_aug_work w = {0};
    ekn_err err = {0};
    double sum = 0, sq = 0, dsq = 0;
    size_t dn = 0;
    for (size_t s = 0; s < fields; s++) {
        assert_int_equal(ekn_aug_elastic_field(f, 2, shape, strength, sigma, 1000 + s, &w, &err), 0);
        for (size_t i = 0; i < 2 * n; i++) sum += f[i], sq += (double)f[i] * f[i];
        for (size_t i = 0; i < 2 * n; i++)
            if (i % 96 != 95) dsq += (double)(f[i + 1] - f[i]) * (f[i + 1] - f[i]), dn++;
    }
    double N = (double)(2 * n * fields), mean = sum / N, sd = sqrt(sq / N - mean * mean);
    /* a Gaussian-blurred white noise field has correlation exp(-d^2 / (4 sigma^2)), so
     * neighbours differ by 2 strength^2 (1 - exp(-1/(4 sigma^2))) in mean square;
     * about (96 / (2 sigma))^2 independent patches per field make the std estimate
     * good to a few percent (10% allowed; 5 sigma) */
    double want_dsq = 2 * strength * strength * (1 - exp(-1 / (4 * sigma * sigma)));
    fprintf(stderr, "elastic: mean %.4f std %.4f (want %.1f) neighbour msd %.5f (want %.5f)\n", mean, sd, strength,
            dsq / (double)dn, want_dsq);
    assert_true(fabs(mean) < 0.1 * strength);
    assert_true(fabs(sd - strength) < 0.1 * strength);
    assert_true(dsq / (double)dn > 0.5 * want_dsq && dsq / (double)dn < 1.5 * want_dsq);
    /* the same seed gives the same field, another seed another one */
    assert_int_equal(ekn_aug_elastic_field(f, 2, shape, strength, sigma, 7, &w, &err), 0);
    assert_int_equal(ekn_aug_elastic_field(f2, 2, shape, strength, sigma, 7, &w, &err), 0);
    assert_memory_equal(f, f2, 2 * n * sizeof *f);
    assert_int_equal(ekn_aug_elastic_field(f2, 2, shape, strength, sigma, 8, &w, &err), 0);
    assert_memory_not_equal(f, f2, 2 * n * sizeof *f);
    /* 3D fields of 3 components have the same amplitude */
    const int shape3[3] = {20, 30, 30};
    float *f3 = tu_alloc(3 * 20 * 30 * 30);
    assert_int_equal(ekn_aug_elastic_field(f3, 3, shape3, strength, 4, 3, &w, &err), 0);
    double s3 = 0;
    for (size_t i = 0; i < 3 * 20 * 30 * 30; i++) s3 += (double)f3[i] * f3[i];
    s3 = sqrt(s3 / (3 * 20 * 30 * 30));
    fprintf(stderr, "elastic 3D: rms %.3f (want about %.1f)\n", s3, strength);
    assert_true(s3 > 0.6 * strength && s3 < 1.4 * strength);
    ekn_aug_work_free(&w);
    free(f), free(f2), free(f3);
}

/* Labels defined as a threshold of a smooth image stay the threshold of the
 * warped image, except within interpolation distance of the edge: nearest
 * takes a grid point at most sqrt(2)/2 voxels from the sampled position, so
 * a mismatch needs |image - threshold| <= max gradient * sqrt(2)/2. */
static void test_threshold_consistency(void **state)
{
    (void)state;
    const int S[3] = {1, 80, 80}, O[3] = {1, 48, 48};
    size_t ns = 80 * 80, no = 48 * 48;
    float *img = tu_alloc(ns), *out = tu_alloc(no);
    int32_t *lab = calloc(ns, sizeof *lab), *olab = calloc(no, sizeof *olab);
    double gmax = 0;
    for (int y = 0; y < 80; y++)
        for (int x = 0; x < 80; x++) {
            double v = 0.5 + 0.25 * sin(0.21 * y) + 0.25 * cos(0.17 * x + 0.05 * y);
            img[y * 80 + x] = (float)v;
            lab[y * 80 + x] = v > 0.5;
        }
    gmax = 0.25 * 0.21 + 0.25 * sqrt(0.17 * 0.17 + 0.05 * 0.05); /* bound on |grad| */
    ekn_aug_opts o = no_opts();
    o.elastic_strength = 2;
    o.elastic_smooth = 5;
    o.rotate = 40;
    o.scale_lo = 0.8, o.scale_hi = 1.25;
    o.shear = 0.1;
    o.perspective = 0.1;
    o.flip[1] = o.flip[2] = 1;
    o.rot90 = o.transpose = 1;
    size_t mismatches = 0, near_edge = 0, far_bad = 0;
    ekn_aug_work w = {0};
    ekn_err err = {0};
    for (uint64_t e = 0; e < 20; e++) {
        ekn_rng r;
        ekn_rng_seed(&r, 5, e);
        ekn_aug_params p;
        ekn_aug_draw(&o, &r, 1, &p);
        ekn_aug_geom g = {{S[0], S[1], S[2]}, {O[0], O[1], O[2]}, 1};
        ekn_aug_map m;
        assert_int_equal(ekn_aug_map_build(&m, &o, &p, &g, &w, &err), 0);
        ekn_aug_sample_f32(&m, img, out, 1, &w);
        ekn_aug_sample_i32(&m, lab, olab, -1, &w);
        for (size_t i = 0; i < no; i++) {
            if (olab[i] < 0) continue;
            int want = out[i] > 0.5f;
            double band = gmax * sqrt(2) / 2 + 0.01; /* + bilinear error of a smooth image */
            if (fabs(out[i] - 0.5) <= band) near_edge++;
            if (olab[i] != want) {
                mismatches++;
                if (fabs(out[i] - 0.5) > band) far_bad++;
            }
        }
    }
    fprintf(stderr, "threshold: %zu mismatches, all within the band of %zu voxels; %zu outside it\n", mismatches,
            near_edge, far_bad);
    assert_int_equal(far_bad, 0);
    assert_true(mismatches < near_edge);
    ekn_aug_work_free(&w);
    free(img), free(out), free(lab), free(olab);
}

/* ---- the distributions --------------------------------------------------------------------- */

/* |observed - expected| within 5 standard errors */
static void near(const char *what, double got, double want, double se)
{
    fprintf(stderr, "%-28s %.5f (want %.5f +- %.5f)\n", what, got, want, 5 * se);
    assert_true(fabs(got - want) <= 5 * se);
}

static void test_distributions(void **state)
{
    (void)state;
    const int n = 10000;
    ekn_aug_opts o = no_opts();
    o.seed = 42;
    o.flip[0] = o.flip[2] = 1;
    o.transpose = o.rot90 = 1;
    o.rotate = 20;
    o.scale_lo = 0.8, o.scale_hi = 1.25;
    o.shear = 0.1;
    o.translate[2] = 4;
    o.warp_fraction = 0.3;
    o.brightness = 0.2;
    o.contrast = 0.5;
    o.gamma = 2;
    o.blur = 1.5;
    double flips[3] = {0}, tr = 0, k[4] = {0}, warped = 0, ang = 0, ang2 = 0, ls = 0, sh_in = 0, tx = 0;
    double br = 0, ct = 0, lg = 0, lg_lo = 0, bl = 0, amax = 0;
    double slo = log(0.8), shi = log(1.25);
    for (int i = 0; i < n; i++) {
        ekn_rng r;
        ekn_rng_seed(&r, o.seed, (uint64_t)i);
        ekn_aug_params p;
        ekn_aug_draw(&o, &r, 3, &p);
        for (int a = 0; a < 3; a++) flips[a] += p.flip_drawn[a];
        tr += p.transpose_drawn;
        k[p.rot90]++;
        br += p.brightness[0];
        ct += p.contrast[0];
        lg += log(p.gamma[0]);
        lg_lo += log(p.gamma[0]) < 0;
        bl += p.blur;
        assert_true(fabs(p.brightness[0]) <= 0.2 && fabs(p.contrast[0] - 1) <= 0.5 && p.blur <= 1.5);
        assert_true(p.brightness[1] == p.brightness[0] && p.gamma[2] == p.gamma[0]); /* not per channel */
        if (!p.warp) {
            assert_true(p.angle == 0 && p.scale == 1 && p.shear == 0 && p.translate[2] == 0);
            continue;
        }
        warped++;
        double deg = p.angle * 180 / M_PI;
        ang += deg, ang2 += deg * deg;
        amax = fmax(amax, fabs(deg));
        assert_true(log(p.scale) >= slo - 1e-12 && log(p.scale) <= shi + 1e-12);
        ls += (log(p.scale) - slo) / (shi - slo);
        sh_in += fabs(p.shear) <= 0.05;
        assert_true(fabs(p.translate[2]) <= 4 && p.translate[0] == 0 && p.translate[1] == 0);
        tx += p.translate[2];
    }
    double se_half = sqrt(0.25 / n);
    near("flip z", flips[0] / n, 0.5, se_half);
    assert_true(flips[1] == 0);
    near("flip x", flips[2] / n, 0.5, se_half);
    near("transpose", tr / n, 0.5, se_half);
    for (int q = 0; q < 4; q++) near("rot90 k", k[q] / n, 0.25, sqrt(0.25 * 0.75 / n));
    near("warp fraction", warped / n, 0.3, sqrt(0.3 * 0.7 / n));
    double nw = warped;
    /* uniform on [-a, a]: mean 0, variance a^2/3 (the variance of X^2 is 4a^4/45) */
    near("angle mean", ang / nw, 0, 20 / sqrt(3 * nw));
    near("angle variance", ang2 / nw, 400.0 / 3, sqrt(4 * 160000.0 / 45 / nw));
    assert_true(amax <= 20 && amax > 19);
    /* log-uniform zoom: log(scale) uniform on [log lo, log hi], normalised mean 1/2, sd 1/sqrt(12) */
    near("log scale position", ls / nw, 0.5, 1 / sqrt(12 * nw));
    near("|shear| <= S/2", sh_in / nw, 0.5, sqrt(0.25 / nw));
    near("translate mean", tx / nw, 0, 4 / sqrt(3 * nw));
    near("brightness mean", br / n, 0, 0.2 / sqrt(3.0 * n));
    near("contrast mean", ct / n, 1, 0.5 / sqrt(3.0 * n));
    near("log gamma mean", lg / n, 0, log(2) / sqrt(3.0 * n));
    near("gamma < 1", lg_lo / n, 0.5, se_half);
    near("blur mean", bl / n, 0.75, 1.5 / sqrt(12.0 * n));
}

static void test_draw_determinism(void **state)
{
    (void)state;
    ekn_aug_opts o = no_opts();
    o.rotate = 10, o.elastic_strength = 1, o.elastic_smooth = 3, o.brightness = 1, o.per_channel = 1;
    o.flip[1] = 1;
    ekn_aug_params a, b, c;
    ekn_rng r;
    ekn_rng_seed(&r, 9, 3);
    ekn_aug_draw(&o, &r, 4, &a);
    ekn_rng_seed(&r, 9, 3);
    ekn_aug_draw(&o, &r, 4, &b);
    ekn_rng_seed(&r, 10, 3);
    ekn_aug_draw(&o, &r, 4, &c);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.angle != c.angle && a.field_seed != c.field_seed);
    assert_true(a.brightness[0] != a.brightness[1]); /* per channel */
    /* turning another transform on does not change the angle drawn */
    o.contrast = 0.3;
    o.transpose = 1;
    ekn_rng_seed(&r, 9, 3);
    ekn_aug_draw(&o, &r, 4, &c);
    assert_true(c.angle == a.angle && c.field_seed == a.field_seed);
    /* nor does --rotate3d, drawn after everything else (earlier seeds keep their draws) */
    assert_true(a.angle3d == 0);
    o.rotate3d = 45;
    ekn_rng_seed(&r, 9, 3);
    ekn_aug_draw(&o, &r, 4, &b);
    assert_true(b.angle == c.angle && b.field_seed == c.field_seed && b.brightness[3] == c.brightness[3] &&
                b.blur == c.blur && b.angle3d != 0);
}

/* --rotate3d's draws: the axis uniform on the sphere (each component mean 0,
 * mean square 1/3), the angle uniform in [-r, r]. */
static void test_rotate3d_distribution(void **state)
{
    (void)state;
    const int n = 10000;
    ekn_aug_opts o = no_opts();
    o.seed = 7;
    o.rotate3d = 30;
    double m[3] = {0}, m2[3] = {0}, ang = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        ekn_rng r;
        ekn_rng_seed(&r, o.seed, (uint64_t)i);
        ekn_aug_params p;
        ekn_aug_draw(&o, &r, 1, &p);
        assert_true(p.warp);
        double norm = sqrt(p.axis[0] * p.axis[0] + p.axis[1] * p.axis[1] + p.axis[2] * p.axis[2]);
        assert_true(fabs(norm - 1) < 1e-12);
        for (int k = 0; k < 3; k++) m[k] += p.axis[k], m2[k] += p.axis[k] * p.axis[k];
        double deg = p.angle3d * 180 / M_PI;
        ang += deg;
        amax = fmax(amax, fabs(deg));
    }
    for (int k = 0; k < 3; k++) {
        near("axis component mean", m[k] / n, 0, sqrt(1.0 / 3 / n));
        /* the square of a uniform-sphere component has variance 4/45 */
        near("axis component mean square", m2[k] / n, 1.0 / 3, sqrt(4.0 / 45 / n));
    }
    near("rotate3d angle mean", ang / n, 0, 30 / sqrt(3.0 * n));
    assert_true(amax <= 30 && amax > 29);
}

/* ---- intensity ------------------------------------------------------------------------------ */

static void test_intensity(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("intensity");
    const int shape[3] = {1, 50, 40};
    const size_t n = 2000;
    float *x = tu_alloc(2 * n), *orig = tu_alloc(2 * n);
    tu_fill(&seed, orig, 2 * n, 0, 1);
    orig[0] = 0, orig[1] = 1, orig[n] = 0, orig[n + 1] = 1; /* exact ranges 0..1 */
    ekn_aug_work w = {0};
    ekn_err err = {0};
    ekn_rng r;
    ekn_rng_seed(&r, 1, 1);
    ekn_aug_opts o = no_opts();
    o.contrast = 0.5, o.brightness = 1, o.gamma = 3;
    ekn_aug_params p = identity_params();
    p.channels = 2;
    p.gamma[0] = 2, p.contrast[0] = 1.5f, p.brightness[0] = 0.25f;
    p.gamma[1] = 1, p.contrast[1] = 1, p.brightness[1] = -0.5f;
    memcpy(x, orig, 2 * n * sizeof *x);
    assert_int_equal(ekn_aug_intensity(x, 2, shape, &o, &p, &r, &w, &err), 0);
    /* channel 0: gamma 2 on [0,1], then contrast 1.5 about the mean, then +0.25 */
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += (double)orig[i] * orig[i];
    mean /= (double)n;
    float *ref = tu_alloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        ref[i] = (float)(mean + 1.5 * ((double)orig[i] * orig[i] - mean) + 0.25);
        ref[n + i] = orig[n + i] - 0.5f;
    }
    assert_int_equal(tu_compare("gamma+contrast+brightness", x, ref, 2 * n, 1e-5, 1e-5), 0);
    /* noise: the std of the difference is the given sigma (5 standard errors) */
    o = no_opts();
    o.noise = 0.1;
    p = identity_params();
    memcpy(x, orig, 2 * n * sizeof *x);
    assert_int_equal(ekn_aug_intensity(x, 2, shape, &o, &p, &r, &w, &err), 0);
    double s2 = 0;
    for (size_t i = 0; i < 2 * n; i++) s2 += (double)(x[i] - orig[i]) * (x[i] - orig[i]);
    near("noise variance", s2 / (2.0 * n), 0.01, 0.01 * sqrt(2.0 / (2.0 * n)));
    /* dropout: the fraction of zeros */
    o = no_opts();
    o.dropout = 0.2;
    for (size_t i = 0; i < 2 * n; i++) x[i] = 1;
    assert_int_equal(ekn_aug_intensity(x, 2, shape, &o, &p, &r, &w, &err), 0);
    double zeros = 0;
    for (size_t i = 0; i < 2 * n; i++) zeros += x[i] == 0;
    near("dropout fraction", zeros / (2.0 * n), 0.2, sqrt(0.16 / (2.0 * n)));
    /* blur keeps a constant image and the sum of an impulse far from the edges */
    o = no_opts();
    o.blur = 2;
    p.blur = 1.5;
    memset(x, 0, 2 * n * sizeof *x);
    x[25 * 40 + 20] = 1;
    for (size_t i = n; i < 2 * n; i++) x[i] = 3;
    assert_int_equal(ekn_aug_intensity(x, 2, shape, &o, &p, &r, &w, &err), 0);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += x[i];
    assert_true(fabs(total - 1) < 1e-5 && x[25 * 40 + 20] < 0.2f && x[25 * 40 + 21] > 0);
    for (size_t i = n; i < 2 * n; i++) assert_true(fabsf(x[i] - 3) < 1e-5f);
    ekn_aug_work_free(&w);
    free(x), free(orig), free(ref);
}

TU_MAIN(cmocka_unit_test(test_lattice_inverse),
        cmocka_unit_test(test_rot90),
        cmocka_unit_test(test_flip_crop),
        cmocka_unit_test(test_affine_ramp),
        cmocka_unit_test(test_rotate3d_ramp),
        cmocka_unit_test(test_translate_outside),
        cmocka_unit_test(test_elastic_field),
        cmocka_unit_test(test_threshold_consistency),
        cmocka_unit_test(test_distributions),
        cmocka_unit_test(test_draw_determinism),
        cmocka_unit_test(test_rotate3d_distribution),
        cmocka_unit_test(test_intensity))
