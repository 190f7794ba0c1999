/* ekn_affinities (lib/data/prep_affinity.c, ekn-preprocess --affinities)
 * against hand-computed cases: a 2-D image and a 3-D volume with ignored
 * labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prep.h"
#include "testutil.h"

#define N_ NAN

static int same(const float *got, const float *want, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = isnan(want[i]) ? isnan(got[i]) : got[i] == want[i];
        if (!ok) fprintf(stderr, "  [%zu] got %g want %g\n", i, got[i], want[i]);
        bad += !ok;
    }
    return bad;
}

static void test_2d(void **state)
{
    (void)state;
    /* 3x3 labels: row 0 = 1 1 0, row 1 = 2 2 2, row 2 = 2 3 3 */
    const int32_t lab[9] = {1, 1, 0, 2, 2, 2, 2, 3, 3};
    const int shape[3] = {1, 3, 3};
    const float want[18] = {/* y: the first row has no predecessor */
                            N_, N_, N_, 0, 0, 0, 1, 0, 0,
                            /* x: the first column has none */
                            N_, 1, 0, N_, 1, 1, N_, 0, 1};
    float aff[18];
    ekn_affinities(lab, 2, shape, aff);
    assert_int_equal(same(aff, want, 18), 0);
}

static void test_3d(void **state)
{
    (void)state;
    /* 2x2x2: z = 0 is [[5 5] [0 -1]], z = 1 is [[5 4] [0 4]] */
    const int32_t lab[8] = {5, 5, 0, -1, 5, 4, 0, 4};
    const int shape[3] = {2, 2, 2};
    const float want[24] = {/* z */ N_, N_, N_, N_, 1, 0, 0, N_,
                            /* y */ N_, N_, 0, N_, N_, N_, 0, 1,
                            /* x */ N_, 1, N_, N_, N_, 0, N_, 0};
    float aff[24];
    ekn_affinities(lab, 3, shape, aff);
    assert_int_equal(same(aff, want, 24), 0);
}

TU_MAIN(cmocka_unit_test(test_2d), cmocka_unit_test(test_3d))
