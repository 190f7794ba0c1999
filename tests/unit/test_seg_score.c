/* seg_score: regions and the ISBI metrics against cases worked by hand
 * (the arithmetic is in the comments); scikit-image on real predictions is
 * tests/70-predict.bats's job. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "seg_score.h"

#define TOL 1e-12

static void test_regions(void **state)
{
    (void)state;
    /* 4-connected: the diagonal pair at (0,3)/(1,4)... is two regions;
     * raster order numbers them 1 (top left), 2 (top right), 3, 4 */
    static const uint8_t fg[] = {
        1, 1, 0, 1, 0,
        0, 1, 0, 0, 1,
        1, 0, 0, 1, 1,
    };
    static const int32_t want[] = {
        1, 1, 0, 2, 0,
        0, 1, 0, 0, 3,
        4, 0, 0, 3, 3,
    };
    int32_t got[15];
    assert_int_equal(ekn_seg_regions(fg, 3, 5, got), 4);
    assert_memory_equal(got, want, sizeof want);
    /* a U whose arms meet only at the bottom row: one region, numbered at its first pixel */
    static const uint8_t u[] = {1, 0, 1, 1, 0, 1, 1, 1, 1};
    int32_t lu[9];
    assert_int_equal(ekn_seg_regions(u, 3, 3, lu), 1);
    for (int i = 0; i < 9; i++) assert_int_equal(lu[i], u[i]);
    uint8_t none[4] = {0};
    int32_t ln[4];
    assert_int_equal(ekn_seg_regions(none, 2, 2, ln), 0);
}

static void test_identical(void **state)
{
    (void)state;
    const int32_t t[] = {1, 1, 2, 2, 0, 3, 3, 3};
    uint64_t scratch[8];
    ekn_seg_metrics m;
    assert_int_equal(ekn_seg_compare(t, t, 8, scratch, &m), 0);
    assert_int_equal(m.pixels, 7);
    assert_true(fabs(m.v_rand - 1) < TOL && fabs(m.rand_split - 1) < TOL && fabs(m.rand_merge - 1) < TOL);
    assert_true(fabs(m.vi_split) < TOL && fabs(m.vi_merge) < TOL && fabs(m.v_info - 1) < TOL);
}

static void test_split(void **state)
{
    (void)state;
    /* one truth region of 4 split 2 + 2: n = {2, 2}, a = {4}, b = {2, 2}, N = 4;
     * pairs: sum n^2 - N = 4, sum a^2 - N = 12, sum b^2 - N = 4, so
     * split = 4/12, merge = 4/4, v_rand = 8/16; H(t) = 0, H(p) = H(t,p) = 1 bit,
     * vi_split = H(p|t) = 1, vi_merge = 0, I = 0 so v_info = 0 */
    const int32_t t[] = {5, 5, 5, 5}, p[] = {1, 1, 2, 2};
    uint64_t scratch[4];
    ekn_seg_metrics m;
    assert_int_equal(ekn_seg_compare(t, p, 4, scratch, &m), 0);
    assert_true(fabs(m.rand_split - 1.0 / 3) < TOL);
    assert_true(fabs(m.rand_merge - 1) < TOL);
    assert_true(fabs(m.v_rand - 0.5) < TOL);
    assert_true(fabs(m.vi_split - 1) < TOL);
    assert_true(fabs(m.vi_merge) < TOL);
    assert_true(fabs(m.v_info) < TOL);
    /* the mirror image, a merge: the roles swap */
    assert_int_equal(ekn_seg_compare(p, t, 4, scratch, &m), 0);
    assert_true(fabs(m.rand_split - 1) < TOL && fabs(m.rand_merge - 1.0 / 3) < TOL);
    assert_true(fabs(m.vi_merge - 1) < TOL && fabs(m.vi_split) < TOL);
}

static void test_mixed(void **state)
{
    (void)state;
    /* truth regions A (3 pixels) and B (3), the truth's membrane (0) left
     * out; the prediction puts 2 of A in region 1, 1 of A and 2 of B in
     * region 2 and 1 of B on its own membrane (0, a region of its own):
     *   n = {2, 1, 2, 1}, a = {3, 3}, b = {2, 3, 1}, N = 6
     *   sum n^2 - N = 10 - 6 = 4, sum a^2 - N = 12, sum b^2 - N = 14 - 6 = 8
     *   split = 4/12, merge = 4/8, v_rand = 8/20
     * entropies (bits): H(t) = 1, H(p) = lg 6 - (2 lg 2 + 3 lg 3)/6,
     *   H(t,p) = lg 6 - (2 lg 2 + 2 lg 2)/6 */
    const int32_t t[] = {1, 1, 1, 2, 2, 2, 0, 0}, p[] = {1, 1, 2, 2, 2, 0, 1, 2};
    uint64_t scratch[8];
    ekn_seg_metrics m;
    assert_int_equal(ekn_seg_compare(t, p, 8, scratch, &m), 0);
    assert_int_equal(m.pixels, 6);
    assert_true(fabs(m.rand_split - 4.0 / 12) < TOL);
    assert_true(fabs(m.rand_merge - 4.0 / 8) < TOL);
    assert_true(fabs(m.v_rand - 8.0 / 20) < TOL);
    double ht = 1, hp = log2(6) - (2 + 3 * log2(3)) / 6, htp = log2(6) - 4.0 / 6;
    assert_true(fabs(m.vi_split - (htp - ht)) < TOL);
    assert_true(fabs(m.vi_merge - (htp - hp)) < TOL);
    assert_true(fabs(m.v_info - 2 * (ht + hp - htp) / (ht + hp)) < TOL);
    const int32_t neg[] = {1, -1};
    assert_int_equal(ekn_seg_compare(neg, neg, 2, scratch, &m), -1);
}

static void test_slice(void **state)
{
    (void)state;
    /* 3 x 4: a membrane column (class 1) parts two cells; the prediction
     * misses the membrane in the top row and so merges them */
    const int32_t lab[] = {
        0, 0, 1, 0,
        0, 0, 1, 0,
        0, 0, 1, 0,
    };
    const float prob[] = {
        0.1f, 0.2f, 0.4f, 0.1f,
        0.1f, 0.2f, 0.9f, 0.1f,
        0.1f, 0.2f, 0.8f, 0.1f,
    };
    /* truth: A = 6 pixels (columns 0-1), B = 3 (column 3); membrane column
     * left out.  prediction: pixel 2 (0.4) is inside, so columns 0-3 of row
     * 0 join A and B into one region: n = {6, 3}, a = {6, 3}, b = {9}, N = 9;
     * pairs: sum n^2 - N = 36, sum a^2 - N = 36, sum b^2 - N = 72:
     * split 1, merge 0.5, v_rand = 72/108 */
    ekn_seg_score s = {.threshold = 0.5, .boundary = 1};
    assert_int_equal(ekn_seg_score_slice(&s, lab, prob, 3, 4), 0);
    assert_int_equal(s.slices, 1);
    assert_true(fabs(s.sum.rand_split - 1) < TOL);
    assert_true(fabs(s.sum.rand_merge - 0.5) < TOL);
    assert_true(fabs(s.sum.v_rand - 72.0 / 108) < TOL);
    /* a slice that is all membrane has nothing to score */
    const int32_t all[] = {1, 1, 1, 1};
    assert_int_equal(ekn_seg_score_slice(&s, all, prob, 2, 2), 0);
    assert_int_equal(s.slices, 1);
    ekn_seg_score_free(&s);
}

TU_MAIN(cmocka_unit_test(test_regions),  cmocka_unit_test(test_identical), cmocka_unit_test(test_split),
        cmocka_unit_test(test_mixed),    cmocka_unit_test(test_slice))
