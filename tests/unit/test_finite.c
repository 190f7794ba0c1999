/* test_finite: the checked conversion to float32 (lib/core/finite.h): NaN,
 * Inf and values beyond float32's range are found in every float dtype, at
 * the right index and with the source's value; integers and the largest
 * float32 pass; the tensor check's message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "finite.h"

static void test_f64(void **state)
{
    (void)state;
    double a[600] = {0};
    double bad = 0;
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a, 600, &bad), 600);
    a[3] = FLT_MAX;
    a[4] = -FLT_MAX;
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a, 600, &bad), 600);
    a[517] = 1e300; /* in the third block of 256 */
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a, 600, &bad), 517);
    assert_true(bad == 1e300);
    a[300] = -1e39;
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a, 600, &bad), 300);
    assert_true(bad == -1e39);
    a[0] = NAN;
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a, 600, NULL), 0);
    assert_int_equal(ekn_f32_first_bad(EKN_F64, a + 1, 2, NULL), 2); /* the first two are fine */
}

static void test_f32_f16(void **state)
{
    (void)state;
    float f[5] = {1, -2, FLT_MAX, 0, INFINITY};
    double bad = 0;
    assert_int_equal(ekn_f32_first_bad(EKN_F32, f, 4, &bad), 4);
    assert_int_equal(ekn_f32_first_bad(EKN_F32, f, 5, &bad), 4);
    assert_true(isinf(bad) && bad > 0);
    uint16_t h[3] = {0x3c00, 0x7bff, 0x7e00}; /* 1, 65504, NaN */
    assert_int_equal(ekn_f32_first_bad(EKN_F16, h, 2, NULL), 2);
    assert_int_equal(ekn_f32_first_bad(EKN_F16, h, 3, &bad), 2);
    assert_true(isnan(bad));
    uint16_t b[2] = {0x3f80, 0xff80}; /* bf16 1, -Inf */
    assert_int_equal(ekn_f32_first_bad(EKN_BF16, b, 2, NULL), 1);
    uint64_t u[2] = {UINT64_MAX, 0};
    assert_int_equal(ekn_f32_first_bad(EKN_U64, u, 2, NULL), 2);
}

static void test_fits(void **state)
{
    (void)state;
    assert_true(ekn_f32_fits(0) && ekn_f32_fits(-FLT_MAX) && ekn_f32_fits(1e-300));
    assert_false(ekn_f32_fits(1e39) || ekn_f32_fits(NAN) || ekn_f32_fits(-INFINITY));
    assert_string_equal(ekn_f32_why(1e39), "is outside float32's range");
    assert_string_equal(ekn_f32_why(NAN), "is not a finite number");
}

static void test_tensor(void **state)
{
    (void)state;
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    uint64_t shape[2] = {3, 4};
    assert_int_equal(ekn_tensor_reshape(&t, EKN_F64, 2, shape, &err), 0);
    memset(t.data, 0, 12 * sizeof(double));
    assert_int_equal(ekn_tensor_check_f32(&t, &err), 0);
    ((double *)t.data)[9] = 1e300;
    assert_int_equal(ekn_tensor_check_f32(&t, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_string_equal(err.msg, "element 9 (example 2): 1e+300 is outside float32's range");
    ekn_tensor_free(&t);
}

TU_MAIN(cmocka_unit_test(test_f64), cmocka_unit_test(test_f32_f16), cmocka_unit_test(test_fits),
        cmocka_unit_test(test_tensor))
