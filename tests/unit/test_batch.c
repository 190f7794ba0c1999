/* test_batch: the strided lattice counts against brute force, the patch
 * sampler on a volume whose values encode their coordinates (alignment,
 * regions, class-aware corners, --max-ignored), region and ekn-calc file
 * parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch.h"
#include "testutil.h"

static int64_t brute_count(const uint8_t *ind, const int S[3], const int st[3], const int a[3], const int n[3])
{
    int64_t sum = 0;
    for (int z = 0; z < n[0]; z++)
        for (int y = 0; y < n[1]; y++)
            for (int x = 0; x < n[2]; x++)
                sum += ind[((size_t)(a[0] + st[0] * z) * S[1] + a[1] + st[1] * y) * S[2] + a[2] + st[2] * x];
    return sum;
}

static void test_lattice_counts(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("lattice_counts");
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        int S[3], st[3], a[3], n[3];
        for (int k = 0; k < 3; k++) {
            S[k] = 1 + (int)(tu_next(&seed) % 13);
            st[k] = 1 + (int)(tu_next(&seed) % 4);
            a[k] = (int)(tu_next(&seed) % (uint64_t)S[k]);
            int room = (S[k] - 1 - a[k]) / st[k] + 1; /* lattice points that fit */
            n[k] = 1 + (int)(tu_next(&seed) % (uint64_t)room);
        }
        size_t m = (size_t)S[0] * S[1] * S[2];
        uint8_t *ind = malloc(m);
        int32_t *P = malloc(m * sizeof *P);
        assert_non_null(ind);
        assert_non_null(P);
        for (size_t i = 0; i < m; i++) ind[i] = tu_next(&seed) % 3 == 0;
        ekn_lattice_prefix(ind, S, st, P);
        int64_t want = brute_count(ind, S, st, a, n), got = ekn_lattice_count(P, S, st, a, n);
        if (want != got) {
            fprintf(stderr, "trial %d: shape %dx%dx%d stride %d,%d,%d start %d,%d,%d count %d,%d,%d: %lld != %lld\n",
                    trial, S[0], S[1], S[2], st[0], st[1], st[2], a[0], a[1], a[2], n[0], n[1], n[2], (long long)got,
                    (long long)want);
            bad++;
        }
        free(ind);
        free(P);
    }
    assert_int_equal(bad, 0);
}

/* One volume Z x Y x X, image = label = z*65536 + y*256 + x. */
static void coord_volume(ekn_dataset *d, int Z, int Y, int X)
{
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "coords");
    d->n = 1, d->c = 1, d->ndim = 3;
    d->shape[0] = d->lab_shape[0] = Z, d->shape[1] = d->lab_shape[1] = Y, d->shape[2] = d->lab_shape[2] = X;
    d->ex_size = d->lab_size = (size_t)Z * Y * X;
    d->x = tu_alloc(d->ex_size);
    d->y = calloc(d->lab_size, sizeof *d->y);
    assert_non_null(d->y);
    d->has_labels = 1, d->lab_ndim = 3;
    for (int z = 0; z < Z; z++)
        for (int y = 0; y < Y; y++)
            for (int x = 0; x < X; x++) {
                size_t i = ((size_t)z * Y + y) * X + x;
                d->y[i] = z * 65536 + y * 256 + x;
                d->x[i] = (float)d->y[i];
            }
    d->classes = d->y[d->lab_size - 1] + 1;
}

static void test_sampler_alignment(void **state)
{
    (void)state;
    ekn_dataset d;
    coord_volume(&d, 9, 30, 28);
    ekn_sampler_opts o = {.geom = {.in = {3, 11, 9}, .offset = {1, 3, 2}, .stride = {1, 2, 3}, .out = {1, 4, 2}},
                          .max_ignored = 1, .class_k = -1, .seed = 5};
    o.region.lo[1] = 4, o.region.hi[1] = 20; /* Y in [4, 20) */
    ekn_err err = {0};
    ekn_sampler s;
    double w = 1;
    const char *name = "coords";
    assert_int_equal(ekn_sampler_init(&s, &o, &d, &w, &name, 1, &err), 0);
    float x[3 * 11 * 9];
    int32_t y[8];
    int corners_seen[30] = {0};
    for (int i = 0; i < 500; i++) {
        ekn_sampler_draw(&s, 0, x, y, NULL, NULL);
        int c = (int)x[0];
        int cz = c / 65536, cy = c / 256 % 256, cx = c % 256;
        assert_true(cy >= 4 && cy + 11 <= 20);
        assert_true(cz + 3 <= 9 && cx + 9 <= 28);
        corners_seen[cy]++;
        for (int k = 0; k < 8; k++) {
            int ky = k / 2, kx = k % 2;
            int32_t want = (cz + 1) * 65536 + (cy + 3 + 2 * ky) * 256 + cx + 2 + 3 * kx;
            assert_int_equal(y[k], want);
            /* the image at the label's place holds the same number */
            assert_int_equal((int32_t)x[(size_t)(1 * 11 + 3 + 2 * ky) * 9 + 2 + 3 * kx], want);
        }
    }
    for (int cy = 4; cy <= 9; cy++) assert_true(corners_seen[cy] > 0); /* every allowed row is reached */
    ekn_sampler_free(&s);

    /* a patch that does not fit the region */
    o.region.hi[1] = 14;
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_sampler_init(&s, &o, &d, &w, &name, 1, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    ekn_sampler_free(&s);
    ekn_dataset_free(&d);
}

static void test_sampler_class_and_ignored(void **state)
{
    (void)state;
    ekn_dataset d;
    coord_volume(&d, 1, 40, 40);
    for (size_t i = 0; i < d.lab_size; i++) d.y[i] = 0;
    d.y[20 * 40 + 31] = 1;               /* one voxel of class 1 */
    for (int y = 0; y < 40; y++) d.y[y * 40 + 5] = -1; /* an ignored column at x = 5 */
    d.classes = 2;
    ekn_sampler_opts o = {.geom = {.in = {1, 8, 8}, .offset = {0, 1, 1}, .stride = {1, 2, 2}, .out = {1, 3, 3}},
                          .max_ignored = 0, .class_k = 1, .class_share = 0.5, .seed = 3};
    ekn_err err = {0};
    ekn_sampler s;
    double w = 1;
    const char *name = "rare";
    assert_int_equal(ekn_sampler_init(&s, &o, &d, &w, &name, 1, &err), 0);
    float x[64];
    int32_t y[9];
    for (int i = 0; i < 300; i++) {
        int want = i % 2;
        ekn_sampler_draw(&s, want, x, y, NULL, NULL);
        int has = 0, ign = 0;
        for (int k = 0; k < 9; k++) has |= y[k] == 1, ign |= y[k] < 0;
        assert_false(ign);
        if (want) assert_true(has);
    }
    ekn_sampler_free(&s);
    /* at x = 0 the class lies on no lattice (offset 1), though inside patches */
    d.y[20 * 40 + 31] = 0;
    d.y[20 * 40 + 0] = 1;
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_sampler_init(&s, &o, &d, &w, &name, 1, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_non_null(strstr(err.msg, "impossible"));
    ekn_sampler_free(&s);
    ekn_dataset_free(&d);
}

static void test_region_parse(void **state)
{
    (void)state;
    ekn_region r;
    ekn_err err = {0};
    assert_int_equal(ekn_region_parse(&r, "2:10,:5", 3, &err), 0);
    assert_int_equal(r.lo[0], 2);
    assert_int_equal(r.hi[0], 10);
    assert_int_equal(r.lo[1], 0);
    assert_int_equal(r.hi[1], 5);
    assert_int_equal(r.hi[2], 0);
    assert_int_equal(ekn_region_parse(&r, "3:", 2, &err), 0); /* 2D data: the first range is Y */
    assert_int_equal(r.lo[1], 3);
    assert_int_equal(r.lo[0], 0);
    const char *bad[] = {"5:5", "7:3", "x:3", "1:2,3:4,5:6,7:8", "-1:3", "4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(ekn_region_parse(&r, bad[i], 3, &err), -1);
        assert_int_equal(err.code, EKN_EXIT_USAGE);
    }
}

static void test_calc_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_batch_calc.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs("EKN_MODE=img-img\nEKN_NDIM=2\nEKN_CHANNELS=1\nEKN_INPUT_SIZE=113,113\nEKN_INPUT_SHAPE=1,113,113\n"
          "EKN_STRIDE=4,4\nEKN_OFFSET=16,16\nEKN_LABEL_SIZE=21,21\nEKN_VALID_Y=33,37\n", fp);
    fclose(fp);
    ekn_patch_geom g = {0};
    int img_img = 0;
    ekn_err err = {0};
    assert_int_equal(ekn_patch_geom_from_calc(&g, &img_img, path, &err), 0);
    assert_true(img_img);
    int want_in[3] = {1, 113, 113}, want_off[3] = {0, 16, 16}, want_st[3] = {1, 4, 4}, want_out[3] = {1, 21, 21};
    assert_memory_equal(g.in, want_in, sizeof want_in);
    assert_memory_equal(g.offset, want_off, sizeof want_off);
    assert_memory_equal(g.stride, want_st, sizeof want_st);
    assert_memory_equal(g.out, want_out, sizeof want_out);
    /* a lattice that runs out of the patch */
    fp = fopen(path, "w");
    fputs("EKN_MODE=img-img\nEKN_NDIM=2\nEKN_INPUT_SIZE=33,33\nEKN_STRIDE=4,4\nEKN_OFFSET=16,16\nEKN_LABEL_SIZE=6,6\n", fp);
    fclose(fp);
    assert_int_equal(ekn_patch_geom_from_calc(&g, &img_img, path, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    unlink(path);
}

TU_MAIN(cmocka_unit_test(test_lattice_counts),
        cmocka_unit_test(test_sampler_alignment),
        cmocka_unit_test(test_sampler_class_and_ignored),
        cmocka_unit_test(test_region_parse),
        cmocka_unit_test(test_calc_file))
