/* test_dist: lib/core/dist.h.  Alone (make check-unit): the slices of n
 * items cover 0..n-1 in rank order; the rank-order sum of K buffers equals
 * a plain double loop bit for bit and differs from another order (so the
 * order is what the check sees); a world of one leaves a buffer's bits as
 * they are.  Under `mpirun -n K test_dist` (tests/69-dist.bats, K = 2, 3):
 * ekn_dist_sum_f32/_f64 give every rank the bits of ekn_dist_sum_slices
 * over all ranks' buffers (each rank regenerates the others' from their
 * seeds), for sizes below, at and above K, and bcast and allgather move
 * the right bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "dist.h"

static void test_slices(void **state)
{
    (void)state;
    const size_t ns[] = {0, 1, 2, 3, 7, 64, 1000003};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        for (int K = 1; K <= 9; K++) {
            size_t next = 0;
            for (int r = 0; r < K; r++) {
                size_t lo, hi;
                ekn_dist_slice(ns[i], r, K, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi >= lo && hi - lo <= ns[i] / K + 1);
                next = hi;
            }
            assert_int_equal(next, ns[i]);
        }
}

/* rank r's buffer: a fixed function of the seed, r and i */
static void fill_rank(uint64_t seed, int r, float *x, size_t n)
{
    uint64_t s = seed + 7919u * (uint64_t)r;
    tu_fill(&s, x, n, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i += 5) x[i] *= 1e4f; /* magnitudes that make the order matter */
}

static void test_sum_order(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("test_sum_order");
    const int K = 5;
    const size_t n = 4099;
    float *in = tu_alloc((size_t)K * n), *out = tu_alloc(n);
    for (int r = 0; r < K; r++) fill_rank(seed, r, in + (size_t)r * n, n);
    ekn_dist_sum_slices_f32(in, K, n, out);
    size_t reversed_differs = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0, rev = 0;
        for (int r = 0; r < K; r++) s += in[(size_t)r * n + i];
        for (int r = K - 1; r >= 0; r--) rev += in[(size_t)r * n + i];
        assert_true(out[i] == (float)s);
        /* float accumulation in reverse order: what a free order could give */
        float fr = 0;
        for (int r = K - 1; r >= 0; r--) fr += in[(size_t)r * n + i];
        reversed_differs += fr != out[i];
        (void)rev;
    }
    fprintf(stderr, "test_sum_order: %zu of %zu sums differ in another (float, reversed) order\n", reversed_differs, n);
    assert_true(reversed_differs > 0); /* the order is visible, so the check above can fail */
    double d[3 * 2] = {1e17, 1, 1, -1e17, 3, 4}, o[2];
    ekn_dist_sum_slices_f64(d, 3, 2, o);
    assert_true(o[0] == (1e17 + 1.0) + 3.0 && o[1] == (1.0 - 1e17) + 4.0);
    free(in);
    free(out);
}

/* Run alone: a world of one whose sum leaves the bits.  Under mpirun: the
 * real reduction against the rank-order oracle. */
static void test_world(void **state)
{
    (void)state;
    ekn_err err = {0};
    assert_int_equal(ekn_dist_init(NULL, NULL, &err), 0);
    int K = ekn_dist_size(), me = ekn_dist_rank();
    uint64_t seed = tu_seed();
    fprintf(stderr, "test_world: rank %d of %d (%s), seed %llu\n", me, K, ekn_dist_library(),
            (unsigned long long)seed);
    const size_t ns[] = {1, 2, 3, 17, 256, 257, 100003}; /* both sides of the all-gather's limit */
    for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
        size_t n = ns[t];
        float *all = tu_alloc((size_t)K * n), *want = tu_alloc(n), *mine = tu_alloc(n);
        for (int r = 0; r < K; r++) fill_rank(seed + t, r, all + (size_t)r * n, n);
        ekn_dist_sum_slices_f32(all, K, n, want);
        memcpy(mine, all + (size_t)me * n, n * sizeof *mine);
        assert_int_equal(ekn_dist_sum_f32(mine, n, &err), 0);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += memcmp(&mine[i], &want[i], sizeof *mine) != 0;
        if (bad) fprintf(stderr, "rank %d: %zu of %zu float sums differ from the rank-order oracle\n", me, bad, n);
        assert_int_equal(bad, 0);
        double *dm = malloc(n * sizeof *dm), *dw = malloc(n * sizeof *dw), *da = malloc((size_t)K * n * sizeof *da);
        assert_non_null(dm);
        assert_non_null(dw);
        assert_non_null(da);
        for (size_t i = 0; i < (size_t)K * n; i++) da[i] = (double)all[i] * 1.0000001;
        ekn_dist_sum_slices_f64(da, K, n, dw);
        memcpy(dm, da + (size_t)me * n, n * sizeof *dm);
        assert_int_equal(ekn_dist_sum_f64(dm, n, &err), 0);
        assert_memory_equal(dm, dw, n * sizeof *dm);
        free(dm), free(dw), free(da), free(all), free(want), free(mine);
    }
    uint64_t v = me == 0 ? 0x1234abcdull : 0, got[64];
    assert_int_equal(ekn_dist_bcast(&v, sizeof v, 0, &err), 0);
    assert_true(v == 0x1234abcdull);
    uint64_t id = 1000u + (uint64_t)me;
    assert_true(K <= 64);
    assert_int_equal(ekn_dist_allgather(&id, got, sizeof id, &err), 0);
    for (int r = 0; r < K; r++) assert_true(got[r] == 1000u + (uint64_t)r);
    ekn_dist_finalize();
}

TU_MAIN(cmocka_unit_test(test_slices), cmocka_unit_test(test_sum_order), cmocka_unit_test(test_world))
