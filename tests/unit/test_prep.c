/* test_prep: the conversion kernel (convert_ref vs convert_cpu, bit-equal
 * for every dtype), and lib/prep's selection, statistics and transforms
 * against closed forms: standardisation (global, per channel, per pixel),
 * min-max, ZCA whitening (identity covariance), CSV one-hot features left
 * alone, the statistics file round trip. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "convert.h"
#include "prep.h"
#include "testutil.h"

/* ---- the kernel ---------------------------------------------------------- */

/* Random source bytes for dtype dt: integers over their whole range, floats
 * as values (not bit patterns) spread over many magnitudes and signs. */
static void fill_src(uint64_t *st, ekn_dtype dt, void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tu_next(st);
        double mag = ldexp((double)(r >> 11) / 9007199254740992.0, (int)(r % 41) - 20) * ((r >> 7) & 1 ? -1 : 1);
        switch (dt) {
        case EKN_F32: { float f = (float)mag; memcpy(b + 4 * i, &f, 4); break; }
        case EKN_F64: memcpy(b + 8 * i, &mag, 8); break;
        case EKN_F16: { uint16_t h = (uint16_t)(r & 0x7bff); memcpy(b + 2 * i, &h, 2); break; } /* finite halves */
        case EKN_BF16: { float f = (float)mag; uint32_t u; memcpy(&u, &f, 4); uint16_t h = (uint16_t)(u >> 16); memcpy(b + 2 * i, &h, 2); break; }
        default: memcpy(b + i * ekn_dtype_size(dt), &r, ekn_dtype_size(dt));
        }
    }
}

static void test_convert_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("convert cpu vs ref");
    const size_t sizes[] = {0, 1, 7, 64, 1001};
    const float scales[][2] = {{1.0f, 0.0f}, {1.0f / 255, 0.0f}, {2.8327f, -0.81025f}, {-1e-3f, 7.5f}};
    size_t bad = 0, checked = 0;
    for (int dt = EKN_U8; dt < EKN_DT_COUNT; dt++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (size_t k = 0; k < sizeof scales / sizeof *scales; k++) {
                size_t n = sizes[s];
                void *src = malloc(n * 8 + 8);
                float *a = malloc(n * 4 + 4), *b = malloc(n * 4 + 4);
                assert_true(src && a && b);
                fill_src(&st, (ekn_dtype)dt, src, n);
                ekn_convert_affine_ref((ekn_dtype)dt, src, a, n, scales[k][0], scales[k][1]);
                ekn_convert_affine_cpu((ekn_dtype)dt, src, b, n, scales[k][0], scales[k][1]);
                for (size_t i = 0; i < n; i++, checked++) {
                    /* exact: same rounding in both (NaN only equals NaN) */
                    int same = memcmp(&a[i], &b[i], 4) == 0 || (isnan(a[i]) && isnan(b[i]));
                    if (!same && bad++ < 5)
                        fprintf(stderr, "  %s n=%zu [%zu]: ref %.9g cpu %.9g\n", ekn_dtype_name((ekn_dtype)dt), n, i,
                                a[i], b[i]);
                }
                free(src), free(a), free(b);
            }
    fprintf(stderr, "convert cpu vs ref: %zu elements, %zu different\n", checked, bad);
    assert_int_equal(bad, 0);
}

static void test_convert_closed_form(void **state)
{
    (void)state;
    uint8_t u8[4] = {0, 1, 128, 255};
    int16_t i16[3] = {-32768, 0, 32767};
    double f64[3] = {0.1, -2.5, 1e300};
    float out[4];
    for (int impl = 0; impl < 2; impl++) {
        void (*conv)(ekn_dtype, const void *, float *, size_t, float, float) =
            impl ? ekn_convert_affine_cpu : ekn_convert_affine_ref;
        conv(EKN_U8, u8, out, 4, 1.0f / 255, 0.0f);
        assert_true(out[0] == 0.0f && out[3] == 1.0f);
        assert_true(out[1] == 1.0f * (1.0f / 255));
        conv(EKN_I16, i16, out, 3, 2.0f, 1.0f);
        assert_true(out[0] == -65535.0f && out[1] == 1.0f && out[2] == 65535.0f);
        conv(EKN_F64, f64, out, 3, 1.0f, 0.0f);
        assert_true(out[0] == (float)0.1 && out[1] == -2.5f && isinf(out[2])); /* rounded to float first */
        conv(EKN_DT_INVALID, u8, out, 2, 1.0f, 0.0f);
        assert_true(isnan(out[0]) && isnan(out[1]));
        /* in place on f32 */
        float inplace[3] = {1, 2, 3};
        conv(EKN_F32, inplace, inplace, 3, 2.0f, -1.0f);
        assert_true(inplace[0] == 1 && inplace[1] == 3 && inplace[2] == 5);
    }
}

/* ---- selection ------------------------------------------------------------ */

static ekn_prep_opts base_opts(void)
{
    ekn_prep_opts o;
    memset(&o, 0, sizeof o);
    o.input = "mem";
    o.seed = 1;
    return o;
}

static void test_select(void **state)
{
    (void)state;
    ekn_prep_opts o = base_opts();
    uint32_t *idx;
    size_t n;
    ekn_err err = {0};
    o.range = "10:20";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) assert_int_equal(idx[i], 10 + i);
    free(idx);
    o.range = ":5";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(idx[4], 4);
    free(idx);
    o.range = "95:";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(idx[0], 95);
    free(idx);
    o.range = "0:101";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    o.range = "7";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    o.range = "9:3";
    assert_int_equal(ekn_prep_select(&o, 100, &idx, &n, &err), -1);
    o.range = NULL;

    /* subset: N distinct indices in file order, the same for the same seed */
    o.subset = 30;
    o.seed = 5;
    uint32_t *a, *b;
    size_t na, nb;
    assert_int_equal(ekn_prep_select(&o, 100, &a, &na, &err), 0);
    assert_int_equal(ekn_prep_select(&o, 100, &b, &nb, &err), 0);
    assert_int_equal(na, 30);
    assert_memory_equal(a, b, 30 * sizeof *a);
    for (size_t i = 1; i < na; i++) assert_true(a[i - 1] < a[i]);
    o.seed = 6;
    free(b);
    assert_int_equal(ekn_prep_select(&o, 100, &b, &nb, &err), 0);
    assert_true(memcmp(a, b, 30 * sizeof *a) != 0);
    free(a), free(b);
    o.subset = 101;
    assert_int_equal(ekn_prep_select(&o, 100, &a, &na, &err), -1);
    o.subset = 0;

    /* split: train and val are disjoint and together are everything */
    const double fracs[] = {0.1, 0.5, 0.33};
    const char *specs[] = {"val=0.1", "0.5", "val=0.33"};
    for (int k = 0; k < 3; k++)
        for (long seed = 1; seed <= 3; seed++) {
            o.split = specs[k];
            o.seed = seed;
            o.part = "train";
            assert_int_equal(ekn_prep_select(&o, 1000, &a, &na, &err), 0);
            o.part = "val";
            assert_int_equal(ekn_prep_select(&o, 1000, &b, &nb, &err), 0);
            assert_int_equal(na + nb, 1000);
            assert_int_equal(nb, (size_t)llround(fracs[k] * 1000));
            unsigned char *seen = calloc(1000, 1);
            for (size_t i = 0; i < na; i++) seen[a[i]]++;
            for (size_t i = 0; i < nb; i++) seen[b[i]]++;
            for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
            free(seen), free(a), free(b);
        }
    o.split = "val=1.5";
    assert_int_equal(ekn_prep_select(&o, 1000, &a, &na, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    o.split = NULL;
    o.part = NULL;

    /* shuffle: a permutation */
    o.shuffle = 1;
    assert_int_equal(ekn_prep_select(&o, 50, &a, &na, &err), 0);
    unsigned char seen[50] = {0};
    int moved = 0;
    for (size_t i = 0; i < na; i++) seen[a[i]]++, moved += a[i] != i;
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 0);
    free(a);
}

/* ---- statistics and transforms ----------------------------------------------- */

/* images (n, c, h, w) of dtype dt with values from gen */
static void make_images(ekn_prep_data *d, ekn_dtype dt, uint64_t n, uint64_t c, uint64_t h, uint64_t w)
{
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "mem");
    uint64_t shape[4] = {n, c, h, w};
    ekn_err err = {0};
    assert_int_equal(ekn_tensor_reshape(&d->x, dt, 4, shape, &err), 0);
}

static uint32_t *iota(size_t n)
{
    uint32_t *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (uint32_t)i;
    return p;
}

static void moments(const float *x, size_t n, size_t stride, double *mean, double *var)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i * stride];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) ss += (x[i * stride] - *mean) * (x[i * stride] - *mean);
    *var = ss / (double)n;
}

static void test_standardise_global(void **state)
{
    (void)state;
    /* u8 values 0..9 in one 1x2x5 image: after /255, mean 4.5/255, std sqrt(8.25)/255 */
    ekn_prep_data d;
    make_images(&d, EKN_U8, 1, 1, 2, 5);
    for (int i = 0; i < 10; i++) ((uint8_t *)d.x.data)[i] = (uint8_t)i;
    uint32_t *idx = iota(1);
    ekn_prep_stats st = {0};
    ekn_err err = {0};
    assert_int_equal(ekn_prep_fit(&d, idx, 1, 1, EKN_NORM_STANDARDISE, EKN_GRAN_GLOBAL, 0, 0, &st, &err), 0);
    assert_int_equal(st.nstat, 1);
    /* the values are floats (u8/255 rounded), the sums doubles: relative 1e-6 */
    assert_true(fabs(st.mean[0] / (4.5 / 255) - 1) < 1e-6);
    assert_true(fabs(st.std[0] / (sqrt(8.25) / 255) - 1) < 1e-6);
    assert_true(st.min[0] == 0 && fabs(st.max[0] / (9.0 / 255) - 1) < 1e-6);
    float out[10];
    ekn_prep_apply(&st, &d, idx, 1, out, NULL);
    for (int i = 0; i < 10; i++) {
        double want = (i - 4.5) / sqrt(8.25);
        if (fabs(out[i] - want) > 1e-5) fail_msg("out[%d] = %.9g, want %.9g", i, out[i], want);
    }
    char desc[256];
    ekn_prep_describe(&st, &d, desc, sizeof desc);
    assert_non_null(strstr(desc, "u8/255 standardise-global mean=0.0176471 std=0.0112638"));
    ekn_prep_stats_free(&st);
    /* --no-scale: the raw values */
    assert_int_equal(ekn_prep_fit(&d, idx, 1, 0, EKN_NORM_NONE, EKN_GRAN_GLOBAL, 0, 0, &st, &err), 0);
    ekn_prep_apply(&st, &d, idx, 1, out, NULL);
    for (int i = 0; i < 10; i++) assert_true(out[i] == (float)i);
    ekn_prep_stats_free(&st);
    /* min-max: exactly 0 and 1 at the ends */
    assert_int_equal(ekn_prep_fit(&d, idx, 1, 1, EKN_NORM_MINMAX, EKN_GRAN_GLOBAL, 0, 0, &st, &err), 0);
    ekn_prep_apply(&st, &d, idx, 1, out, NULL);
    assert_true(out[0] == 0.0f);
    assert_true(fabsf(out[9] - 1.0f) < 1e-6f);
    assert_true(fabsf(out[3] - 3.0f / 9) < 1e-6f);
    ekn_prep_stats_free(&st);
    free(idx);
    ekn_prep_data_free(&d);
}

static void test_standardise_per_feature_and_pixel(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("standardise per feature/pixel");
    const size_t n = 200, c = 3, hw = 12;
    ekn_prep_data d;
    make_images(&d, EKN_F32, n, c, 3, 4);
    float *x = d.x.data;
    /* channel k: offset 10k, spread 1 + k */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c; k++) {
            tu_fill(&s, x + (i * c + k) * hw, hw, -1, 1);
            for (size_t j = 0; j < hw; j++) x[(i * c + k) * hw + j] = x[(i * c + k) * hw + j] * (float)(1 + k) + 10.0f * (float)k;
        }
    uint32_t *idx = iota(n);
    float *out = malloc(n * c * hw * sizeof *out);
    ekn_prep_stats st = {0};
    ekn_err err = {0};
    assert_int_equal(ekn_prep_fit(&d, idx, n, 1, EKN_NORM_STANDARDISE, EKN_GRAN_FEATURE, 0, 0, &st, &err), 0);
    assert_int_equal(st.nstat, c);
    ekn_prep_apply(&st, &d, idx, n, out, NULL);
    for (size_t k = 0; k < c; k++) {
        /* gather channel k */
        float *ch = malloc(n * hw * sizeof *ch);
        for (size_t i = 0; i < n; i++) memcpy(ch + i * hw, out + (i * c + k) * hw, hw * sizeof *ch);
        double m, v;
        moments(ch, n * hw, 1, &m, &v);
        /* channel 2 has |mean/std| ~ 12: centred in double, still float32-exact */
        if (fabs(m) > 1e-6 || fabs(v - 1) > 1e-5) fail_msg("channel %zu: mean %g var %g", k, m, v);
        free(ch);
    }
    ekn_prep_stats_free(&st);
    assert_int_equal(ekn_prep_fit(&d, idx, n, 1, EKN_NORM_STANDARDISE, EKN_GRAN_PIXEL, 0, 0, &st, &err), 0);
    assert_int_equal(st.nstat, c * hw);
    ekn_prep_apply(&st, &d, idx, n, out, NULL);
    for (size_t j = 0; j < c * hw; j++) {
        double m, v;
        moments(out + j, n, c * hw, &m, &v);
        if (fabs(m) > 1e-5 || fabs(v - 1) > 1e-4) fail_msg("pixel %zu: mean %g var %g", j, m, v);
    }
    ekn_prep_stats_free(&st);
    /* a NaN in the data is an error, not NaN statistics */
    x[5] = NAN;
    assert_int_equal(ekn_prep_fit(&d, idx, n, 1, EKN_NORM_STANDARDISE, EKN_GRAN_GLOBAL, 0, 0, &st, &err), -1);
    assert_non_null(strstr(err.msg, "NaN"));
    ekn_prep_stats_free(&st);
    free(out), free(idx);
    ekn_prep_data_free(&d);
}

/* ZCA: the covariance of the output is the identity up to eps and float rounding */
static void test_whiten(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("whiten");
    const size_t n = 3000, f = 6;
    ekn_prep_data d;
    memset(&d, 0, sizeof d);
    d.vectors = 1;
    uint64_t shape[2] = {n, f};
    ekn_err err = {0};
    assert_int_equal(ekn_tensor_reshape(&d.x, EKN_F32, 2, shape, &err), 0);
    float mix[36], z[6];
    tu_fill(&s, mix, 36, -1, 1);
    float *x = d.x.data;
    for (size_t i = 0; i < n; i++) {
        tu_fill(&s, z, f, -1, 1);
        for (size_t a = 0; a < f; a++) {
            double acc = 3.0 * (double)a; /* an offset that centring removes */
            for (size_t b = 0; b < f; b++) acc += mix[a * f + b] * z[b];
            x[i * f + a] = (float)acc;
        }
    }
    uint32_t *idx = iota(n);
    float *out = malloc(n * f * sizeof *out), *tmp = malloc(n * f * sizeof *tmp);
    ekn_prep_stats st = {0};
    assert_int_equal(ekn_prep_fit(&d, idx, n, 1, EKN_NORM_NONE, EKN_GRAN_FEATURE, 1, 1e-9, &st, &err), 0);
    ekn_prep_apply(&st, &d, idx, n, out, tmp);
    double worst = 0;
    for (size_t a = 0; a < f; a++)
        for (size_t b = 0; b < f; b++) {
            double ma = 0, mb = 0, c = 0;
            for (size_t i = 0; i < n; i++) ma += out[i * f + a], mb += out[i * f + b];
            ma /= (double)n, mb /= (double)n;
            for (size_t i = 0; i < n; i++) c += (out[i * f + a] - ma) * (out[i * f + b] - mb);
            c /= (double)n;
            double e = fabs(c - (a == b));
            if (e > worst) worst = e;
        }
    fprintf(stderr, "whiten: max |cov - I| = %.3g (tolerance 1e-3)\n", worst);
    assert_true(worst < 1e-3);
    /* W is symmetric (ZCA, not PCA whitening) */
    for (size_t a = 0; a < f; a++)
        for (size_t b = 0; b < f; b++) assert_true(st.zca[a * f + b] == st.zca[b * f + a]);
    ekn_prep_stats_free(&st);
    /* a large eps shrinks the output: cov = lambda / (lambda + eps) < 1 */
    assert_int_equal(ekn_prep_fit(&d, idx, n, 1, EKN_NORM_NONE, EKN_GRAN_FEATURE, 1, 100.0, &st, &err), 0);
    ekn_prep_apply(&st, &d, idx, n, out, tmp);
    double m, v;
    moments(out, n, f, &m, &v);
    assert_true(v < 0.1);
    ekn_prep_stats_free(&st);
    free(out), free(tmp), free(idx);
    ekn_prep_data_free(&d);
}

/* CSV vectors: one-hot features keep 0/1, numeric ones are standardised */
static void test_csv_onehot_untouched(void **state)
{
    (void)state;
    const char text[] = "1, a, x\n2, b, y\n3, a, x\n6, b, y\n";
    ekn_blob b = {malloc(sizeof text), sizeof text - 1};
    memcpy(b.data, text, sizeof text);
    ekn_prep_stats st = {0};
    ekn_prep_data d;
    memset(&d, 0, sizeof d);
    ekn_csv_opts co = {0, NULL, NULL, EKN_MISSING_MEAN, ','};
    size_t unseen;
    ekn_err err = {0};
    assert_int_equal(ekn_read_csv(&b, "t.csv", &co, &st.csv, &d.x, &d.y, &unseen, &err), 0);
    free(b.data);
    d.vectors = 1;
    d.csv = &st.csv;
    uint32_t *idx = iota(4);
    float out[12];
    for (int g = 0; g < 2; g++) {
        ekn_csv_schema keep = st.csv;
        memset(&st.csv, 0, sizeof st.csv);
        ekn_prep_stats_free(&st);
        st.csv = keep;
        assert_int_equal(ekn_prep_fit(&d, idx, 4, 1, EKN_NORM_STANDARDISE, g ? EKN_GRAN_GLOBAL : EKN_GRAN_FEATURE, 0, 0,
                                      &st, &err), 0);
        ekn_prep_apply(&st, &d, idx, 4, out, NULL);
        double m, v;
        moments(out, 4, 3, &m, &v);
        assert_true(fabs(m) < 1e-6 && fabs(v - 1) < 1e-5);
        for (int i = 0; i < 4; i++) {
            assert_true(out[i * 3 + 1] == (i % 2 == 0)); /* a */
            assert_true(out[i * 3 + 2] == (i % 2 == 1)); /* b */
        }
    }
    free(idx);
    ekn_prep_data_free(&d);
    ekn_prep_stats_free(&st);
}

/* --fit then --apply gives the same numbers, bit for bit */
static void test_stats_file_roundtrip(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("stats roundtrip");
    char path[256];
    snprintf(path, sizeof path, "/tmp/ekn-test-prep-%ld.ekn", (long)getpid());
    const size_t n = 64;
    ekn_prep_data d;
    make_images(&d, EKN_U16, n, 2, 2, 3);
    uint16_t *x = d.x.data;
    for (size_t i = 0; i < n * 12; i++) x[i] = (uint16_t)(tu_next(&s) & 0xffff);
    uint32_t *idx = iota(n);
    float *a = malloc(n * 12 * sizeof *a), *b = malloc(n * 12 * sizeof *b), *tmp = malloc(n * 12 * sizeof *tmp);
    const ekn_gran grans[3] = {EKN_GRAN_GLOBAL, EKN_GRAN_FEATURE, EKN_GRAN_PIXEL};
    for (int k = 0; k < 3; k++) {
        ekn_prep_stats st = {0}, st2 = {0};
        ekn_err err = {0};
        assert_int_equal(ekn_prep_fit(&d, idx, n, 1, k == 1 ? EKN_NORM_MINMAX : EKN_NORM_STANDARDISE, grans[k], k == 2,
                                      1e-3, &st, &err), 0);
        ekn_writer w;
        assert_int_equal(ekn_writer_open(&w, path, 1, &err), 0);
        assert_int_equal(ekn_prep_stats_write(&st, &w, &err), 0);
        assert_int_equal(ekn_writer_close(&w, &err), 0);
        if (ekn_prep_stats_load(&st2, path, &err)) fail_msg("%s", err.msg);
        assert_int_equal(ekn_prep_compatible(&st2, &d, path, &err), 0);
        ekn_prep_apply(&st, &d, idx, n, a, tmp);
        ekn_prep_apply(&st2, &d, idx, n, b, tmp);
        assert_memory_equal(a, b, n * 12 * sizeof *a);
        /* other image sizes fit global and per-channel statistics, not per-pixel ones */
        ekn_prep_data d2;
        make_images(&d2, EKN_U16, 2, 2, 3, 3);
        assert_int_equal(ekn_prep_compatible(&st2, &d2, path, &err), k == 2 ? -1 : 0);
        ekn_prep_data_free(&d2);
        make_images(&d2, EKN_U16, 2, 3, 2, 3); /* 3 channels */
        assert_int_equal(ekn_prep_compatible(&st2, &d2, path, &err), k == 0 ? 0 : -1);
        ekn_prep_data_free(&d2);
        ekn_prep_stats_free(&st);
        ekn_prep_stats_free(&st2);
    }
    /* not a statistics file */
    ekn_prep_stats st = {0};
    ekn_err err = {0};
    ekn_writer w;
    assert_int_equal(ekn_writer_open(&w, path, 1, &err), 0);
    assert_int_equal(ekn_stream_write_raw(&w, EKN_F32, 1, (uint64_t[]){1}, "image", NULL, a, &err), 0);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    assert_int_equal(ekn_prep_stats_load(&st, path, &err), -1);
    assert_non_null(strstr(err.msg, "not a statistics file"));
    unlink(path);
    free(a), free(b), free(tmp), free(idx);
    ekn_prep_data_free(&d);
}

TU_MAIN(cmocka_unit_test(test_convert_cpu_vs_ref),
        cmocka_unit_test(test_convert_closed_form),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_standardise_global),
        cmocka_unit_test(test_standardise_per_feature_and_pixel),
        cmocka_unit_test(test_whiten),
        cmocka_unit_test(test_csv_onehot_untouched),
        cmocka_unit_test(test_stats_file_roundtrip))
