/* Softmax over channels: (a) gradient check of _ref by central differences,
 * (b) hand values, (c) _cpu against _ref, and the in-place forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "softmax.h"
#include "testutil.h"

/* (a) numeric vs analytic: step 1e-2 gives O(1e-4) relative truncation;
 * float rounding of the C probabilities of the perturbed voxel adds ~1e-5
 * absolute, hence: */
#define GRAD_EPS 1e-2f
#define GRAD_ATOL 1e-4
#define GRAD_RTOL 1e-2
/* (c) _cpu vs _ref (llm.c style): |cpu - ref| <= CMP_ATOL + CMP_RTOL*|ref| */
#define CMP_ATOL 1e-5
#define CMP_RTOL 1e-4

/* L = sum(softmax(x) * r) */
static double sm_L(int n, int c, size_t s, const float *x, const float *r, float *p)
{
    ekn_softmax_forward_ref(n, c, s, x, p);
    double L = 0;
    for (size_t i = 0; i < (size_t)n * c * s; i++) L += (double)p[i] * r[i];
    return L;
}

static size_t grad_check(uint64_t *st, int n, int c, size_t s)
{
    fprintf(stderr, "-- gradcheck n=%d c=%d s=%zu\n", n, c, s);
    size_t m = (size_t)n * c * s;
    float *x = tu_alloc(m), *r = tu_alloc(m), *p = tu_alloc(m), *dx = tu_alloc(m), *g = tu_alloc(m);
    tu_fill(st, x, m, -3, 3);
    tu_fill(st, r, m, -1, 1);
    ekn_softmax_forward_ref(n, c, s, x, p);
    tu_fill(st, dx, m, -9, 9); /* garbage: must be overwritten */
    ekn_softmax_backward_ref(n, c, s, p, r, dx);
    for (size_t i = 0; i < m; i++) {
        float save = x[i], up = save + GRAD_EPS, dn = save - GRAD_EPS;
        x[i] = up;
        double lp = sm_L(n, c, s, x, r, p);
        x[i] = dn;
        double lm = sm_L(n, c, s, x, r, p);
        x[i] = save;
        g[i] = (float)((lp - lm) / ((double)up - dn));
    }
    size_t bad = tu_compare("softmax_ref dx vs numeric", dx, g, m, GRAD_ATOL, GRAD_RTOL);
    free(x), free(r), free(p), free(dx), free(g);
    return bad;
}

static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("softmax gradcheck");
    size_t bad = 0;
    bad += grad_check(&st, 2, 3, 5); /* C > 2, S > 1 */
    bad += grad_check(&st, 3, 2, 1); /* C = 2, S = 1 */
    bad += grad_check(&st, 1, 5, 1); /* C > 2, S = 1 */
    bad += grad_check(&st, 2, 2, 3); /* C = 2, S > 1 */
    bad += grad_check(&st, 2, 1, 2); /* C = 1: p = 1, gradient 0 */
    assert_int_equal(bad, 0);
}

/* (b) softmax([0, ln2, ln3]) = [1, 2, 3]/6, in every layout and shift */
static void test_closed_form(void **state)
{
    (void)state;
    const float l2 = 0.69314718055994531f, l3 = 1.0986122886681098f;
    /* S = 1, two examples */
    const float x1[] = {0, l2, l3, 3, 3 + l2, 3 + l3};
    const float p1_ref[] = {1 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 6.f, 2 / 6.f, 3 / 6.f};
    /* shifted by 100: exp(100) overflows a float without the max subtraction;
     * 100 + ln2 rounds by up to 3.8e-6 in float, hence the looser rtol below */
    const float xb[] = {100, 100 + l2, 100 + l3};
    /* S = 2: voxel 0 gets [0, ln2, ln3], voxel 1 [ln3, ln2, 0]; layout (C, S) */
    const float x2[] = {0, l3, l2, l2, l3, 0};
    const float p2_ref[] = {1 / 6.f, 3 / 6.f, 2 / 6.f, 2 / 6.f, 3 / 6.f, 1 / 6.f};
    /* a -inf logit (masked class) gets probability 0 */
    const float x3[] = {-INFINITY, 0, 0};
    const float p3_ref[] = {0, 0.5f, 0.5f};
    /* backward with dp = e_0 at p = [1,2,3]/6: dx = p (e_0 - p_0) = [5,-2,-3]/36 */
    const float dp[] = {1, 0, 0}, dx_ref[] = {5 / 36.f, -2 / 36.f, -3 / 36.f};
    size_t bad = 0;
    for (int impl = 0; impl < 2; impl++) {
        void (*fw)(int, int, size_t, const float *, float *) =
            impl ? ekn_softmax_forward_cpu : ekn_softmax_forward_ref;
        void (*bw)(int, int, size_t, const float *, const float *, float *) =
            impl ? ekn_softmax_backward_cpu : ekn_softmax_backward_ref;
        float p[6], dx[3];
        fprintf(stderr, "-- closed form %s\n", impl ? "cpu" : "ref");
        fw(2, 3, 1, x1, p);
        bad += tu_compare("softmax [0,ln2,ln3] (+3), S=1", p, p1_ref, 6, 1e-7, 1e-6);
        fw(1, 3, 1, xb, p);
        bad += tu_compare("softmax [0,ln2,ln3]+100, S=1", p, p1_ref, 3, 1e-7, 2e-5);
        fw(1, 3, 2, x2, p);
        bad += tu_compare("softmax [0,ln2,ln3], S=2", p, p2_ref, 6, 1e-7, 1e-6);
        fw(1, 3, 1, x3, p);
        bad += tu_compare("softmax [-inf,0,0]", p, p3_ref, 3, 1e-7, 1e-6);
        bw(1, 3, 1, p1_ref, dp, dx);
        bad += tu_compare("softmax backward (hand)", dx, dx_ref, 3, 1e-7, 1e-6);
    }
    assert_int_equal(bad, 0);
}

static size_t cpu_vs_ref(uint64_t *st, int n, int c, size_t s)
{
    fprintf(stderr, "-- cpu vs ref n=%d c=%d s=%zu\n", n, c, s);
    size_t m = (size_t)n * c * s, bad = 0;
    float *x = tu_alloc(m), *dp = tu_alloc(m), *p1 = tu_alloc(m), *p2 = tu_alloc(m);
    float *d1 = tu_alloc(m), *d2 = tu_alloc(m), *t = tu_alloc(m);
    tu_fill(st, x, m, -10, 10);
    tu_fill(st, dp, m, -1, 1);
    tu_fill(st, p1, m, -9, 9); /* garbage: outputs must be overwritten */
    memcpy(p2, p1, m * sizeof *p2);
    tu_fill(st, d1, m, -9, 9);
    memcpy(d2, d1, m * sizeof *d2);
    ekn_softmax_forward_ref(n, c, s, x, p1);
    ekn_softmax_forward_cpu(n, c, s, x, p2);
    bad += tu_compare("softmax p cpu vs ref", p2, p1, m, CMP_ATOL, CMP_RTOL);
    ekn_softmax_backward_ref(n, c, s, p1, dp, d1);
    ekn_softmax_backward_cpu(n, c, s, p1, dp, d2);
    bad += tu_compare("softmax dx cpu vs ref", d2, d1, m, CMP_ATOL, CMP_RTOL);
    /* in place (p aliasing x, dx aliasing dp): identical to out of place */
    for (int impl = 0; impl < 2; impl++) {
        memcpy(t, x, m * sizeof *t);
        (impl ? ekn_softmax_forward_cpu : ekn_softmax_forward_ref)(n, c, s, t, t);
        bad += tu_compare("softmax forward in place", t, impl ? p2 : p1, m, 0, 0);
        memcpy(t, dp, m * sizeof *t);
        (impl ? ekn_softmax_backward_cpu : ekn_softmax_backward_ref)(n, c, s, p1, t, t);
        bad += tu_compare("softmax backward in place", t, impl ? d2 : d1, m, 0, 0);
    }
    free(x), free(dp), free(p1), free(p2), free(d1), free(d2), free(t);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("softmax cpu vs ref");
    static const struct {
        int n, c;
        size_t s;
    } shapes[] = {{1, 2, 1},    {3, 5, 1},   {5, 17, 1},  {2, 3, 7},  {1, 10, 300},
                  {2, 4, 257},  {4, 2, 1000}, {1, 1, 5},  {2, 3, 513}, {3, 1000, 1}};
    size_t bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        bad += cpu_vs_ref(&st, shapes[i].n, shapes[i].c, shapes[i].s);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_cpu_vs_ref))
