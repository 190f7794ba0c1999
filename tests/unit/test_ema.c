/* test_ema: one step of the parameters' exponential moving average
 * (kernels/ema.h, ekn-train --ema).  It has no gradient, so no
 * finite-difference check: _ref is checked against the closed form of k
 * steps towards a constant x, avg_k = d^k a_0 + (1 - d^k) x (to float
 * rounding, atol 1e-6 + rtol 1e-5 over up to 50 steps), decay 0 and 1 are
 * exact in _ref and _cpu, _cpu matches _ref on fresh random inputs of odd
 * sizes (1 to 1000003, |a - b| <= 1e-6 + 1e-5 |ref|, i.e. a few ulps), and
 * a negative control shows the comparison fails for the wrong decay.
 * _cuda against _ref: tests/unit/test_ops_cuda.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "ema.h"
#include "ops.h"

#define ATOL 1e-6
#define RTOL 1e-5

static void test_closed_form(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("test_closed_form");
    const size_t n = 101;
    float *x = tu_alloc(n), *a = tu_alloc(n), *a0 = tu_alloc(n), *want = tu_alloc(n);
    tu_fill(&s, x, n, -2, 2);
    tu_fill(&s, a0, n, -2, 2);
    static const float decays[] = {0.9f, 0.5f, 0.99f, 0.1f};
    size_t bad = 0;
    for (size_t di = 0; di < sizeof decays / sizeof *decays; di++) {
        float d = decays[di];
        memcpy(a, a0, n * sizeof *a);
        for (int k = 1; k <= 50; k++) {
            ekn_ema_update_ref(n, d, x, a);
            double dk = pow(d, k);
            for (size_t i = 0; i < n; i++) want[i] = (float)(dk * a0[i] + (1 - dk) * x[i]);
            if (k == 1 || k == 50) {
                char what[64];
                snprintf(what, sizeof what, "ref, decay %g, %d steps", (double)d, k);
                bad += tu_compare(what, a, want, n, ATOL, RTOL);
            }
        }
    }
    free(x), free(a), free(a0), free(want);
    assert_int_equal(bad, 0);
}

static void test_exact_ends(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("test_exact_ends");
    const size_t n = 1003;
    float *x = tu_alloc(n), *a = tu_alloc(n), *a0 = tu_alloc(n);
    tu_fill(&s, x, n, -5, 5);
    tu_fill(&s, a0, n, -5, 5);
    void (*const fns[])(size_t, float, const float *, float *) = {ekn_ema_update_ref, ekn_ema_update_cpu};
    for (int f = 0; f < 2; f++) {
        memcpy(a, a0, n * sizeof *a);
        fns[f](n, 0.0f, x, a);
        assert_memory_equal(a, x, n * sizeof *a); /* decay 0: the parameters themselves */
        fns[f](n, 1.0f, a0, a);
        assert_memory_equal(a, x, n * sizeof *a); /* decay 1: kept */
    }
    free(x), free(a), free(a0);
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("test_cpu_vs_ref");
    static const size_t sizes[] = {1, 2, 7, 33, 1000, 1000003};
    static const float decays[] = {0.999f, 0.9999f, 0.9f, 0.5f, 0.25f};
    size_t bad = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (size_t di = 0; di < sizeof decays / sizeof *decays; di++) {
            size_t n = sizes[si];
            float *x = tu_alloc(n), *r = tu_alloc(n), *c = tu_alloc(n);
            tu_fill(&s, r, n, -3, 3);
            memcpy(c, r, n * sizeof *c);
            for (int k = 0; k < 5; k++) { /* five steps with fresh x each */
                tu_fill(&s, x, n, -3, 3);
                ekn_ema_update_ref(n, decays[di], x, r);
                ekn_ema_update_cpu(n, decays[di], x, c);
            }
            char what[64];
            snprintf(what, sizeof what, "cpu vs ref n=%zu decay %g", n, (double)decays[di]);
            bad += tu_compare(what, c, r, n, ATOL, RTOL);
            free(x), free(r), free(c);
        }
    /* the ops tables point at them */
    assert_true(ekn_ops_cpu()->ema_update == ekn_ema_update_cpu);
    assert_true(ekn_ops_ref()->ema_update == ekn_ema_update_ref);
    assert_int_equal(bad, 0);
}

/* The comparison can fail: a step with 0.99 is not one with 0.999. */
static void test_negative_control(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("test_negative_control");
    const size_t n = 257;
    float *x = tu_alloc(n), *r = tu_alloc(n), *c = tu_alloc(n);
    tu_fill(&s, x, n, -3, 3);
    tu_fill(&s, r, n, -3, 3);
    memcpy(c, r, n * sizeof *c);
    ekn_ema_update_ref(n, 0.999f, x, r);
    ekn_ema_update_cpu(n, 0.99f, x, c);
    size_t bad = tu_compare("negative control (expected to fail)", c, r, n, ATOL, RTOL);
    free(x), free(r), free(c);
    assert_true(bad > n / 2);
}

TU_MAIN(cmocka_unit_test(test_closed_form), cmocka_unit_test(test_exact_ends), cmocka_unit_test(test_cpu_vs_ref),
        cmocka_unit_test(test_negative_control))
