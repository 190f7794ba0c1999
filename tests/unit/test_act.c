/* Activations: (a) gradient check of _ref by central differences (with a
 * negative control), (b) hand values, values far out (saturation,
 * softplus's tail) and the name table, (c) _cpu against _ref, and the
 * in-place (aliasing) forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "act.h"
#include "testutil.h"

/* (a) numeric vs analytic: step 1e-2, inputs kept >= 0.05 away from the kinks
 * so the difference never straddles one; truncation (tanh, sigmoid) is
 * O(1e-4 * f''') relative and rounding of y is ~3e-6 absolute, hence: */
#define GRAD_EPS 1e-2f
#define GRAD_ATOL 1e-4
#define GRAD_RTOL 1e-3
/* (c) _cpu vs _ref (llm.c style): |cpu - ref| <= CMP_ATOL + CMP_RTOL*|ref| */
#define CMP_ATOL 1e-5
#define CMP_RTOL 1e-4

static const ekn_act all_acts[] = {EKN_ACT_LINEAR, EKN_ACT_RELU, EKN_ACT_LEAKY, EKN_ACT_TANH,    EKN_ACT_SIGMOID,
                                   EKN_ACT_ABS,    EKN_ACT_ELU,  EKN_ACT_SILU,  EKN_ACT_SOFTPLUS};
#define N_ACTS (sizeof all_acts / sizeof all_acts[0])

static void grad_check_one(uint64_t *st, ekn_act a, float alpha, size_t n, size_t *bad)
{
    float *x = tu_alloc(n), *y = tu_alloc(n), *r = tu_alloc(n), *dx = tu_alloc(n), *g = tu_alloc(n);
    tu_fill(st, x, n, -2, 2);
    for (size_t i = 0; i < n; i++) /* away from the kink at 0 */
        if (fabsf(x[i]) < 0.05f) x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
    tu_fill(st, r, n, -1, 1);
    ekn_act_forward_ref(a, alpha, n, x, y);
    tu_fill(st, dx, n, -9, 9); /* garbage: must be overwritten */
    ekn_act_backward_ref(a, alpha, n, x, y, r, dx);
    for (size_t i = 0; i < n; i++) {
        /* L = sum(f(x) r); only term i moves, so difference that term alone */
        float save = x[i], up = save + GRAD_EPS, dn = save - GRAD_EPS, fu, fd;
        ekn_act_forward_ref(a, alpha, 1, &up, &fu);
        ekn_act_forward_ref(a, alpha, 1, &dn, &fd);
        g[i] = (float)(((double)fu - fd) * r[i] / ((double)up - dn));
    }
    char what[64];
    snprintf(what, sizeof what, "act_ref %s(alpha=%g) dx vs numeric", ekn_act_name(a),
             (double)alpha);
    *bad += tu_compare(what, dx, g, n, GRAD_ATOL, GRAD_RTOL);
    free(x), free(y), free(r), free(dx), free(g);
}

static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("act gradcheck");
    size_t bad = 0;
    for (size_t k = 0; k < N_ACTS; k++) grad_check_one(&st, all_acts[k], 0.1f, 97, &bad);
    grad_check_one(&st, EKN_ACT_LEAKY, 0.3f, 33, &bad);
    grad_check_one(&st, EKN_ACT_LEAKY, -0.5f, 33, &bad);
    grad_check_one(&st, EKN_ACT_ELU, 1.0f, 33, &bad);
    grad_check_one(&st, EKN_ACT_ELU, 2.5f, 33, &bad);
    assert_int_equal(bad, 0);

    /* negative control: the check must catch a wrong derivative.  elu's
     * derivative taken as y + alpha (right) for x <= 0 but with alpha
     * doubled there (wrong) */
    float x[32], y[32], r[32], dx[32], num[32];
    tu_fill(&st, x, 32, -2, -0.1f);
    tu_fill(&st, r, 32, -1, 1);
    ekn_act_forward_ref(EKN_ACT_ELU, 0.5f, 32, x, y);
    for (int i = 0; i < 32; i++) {
        float up = x[i] + GRAD_EPS, dn = x[i] - GRAD_EPS, fu, fd;
        ekn_act_forward_ref(EKN_ACT_ELU, 0.5f, 1, &up, &fu);
        ekn_act_forward_ref(EKN_ACT_ELU, 0.5f, 1, &dn, &fd);
        num[i] = (float)(((double)fu - fd) * r[i] / ((double)up - dn));
        dx[i] = (y[i] + 2 * 0.5f) * r[i];
    }
    fprintf(stderr, "negative control (wrong elu derivative), failure expected:\n");
    assert_true(tu_compare("  elu dx vs numeric", dx, num, 32, GRAD_ATOL, GRAD_RTOL) > 0);
}

/* (b) hand values, for both implementations */
static void test_closed_form(void **state)
{
    (void)state;
    const float x[] = {-2, -0.5f, 0, 1.5f};
    const float e2 = 7.38905609893065f; /* e^2 */
    struct {
        ekn_act a;
        float y[4], d[4]; /* f(x) and f'(x) */
    } cases[] = {
        {EKN_ACT_LINEAR, {-2, -0.5f, 0, 1.5f}, {1, 1, 1, 1}},
        {EKN_ACT_RELU, {0, 0, 0, 1.5f}, {0, 0, 0, 1}},
        {EKN_ACT_LEAKY, {-0.2f, -0.05f, 0, 1.5f}, {0.1f, 0.1f, 0.1f, 1}},
        /* tanh(-2) = (1 - e^4)/(1 + e^4); tanh'(x) = 1 - tanh^2 */
        {EKN_ACT_TANH,
         {-0.9640275800758169f, -0.46211715726000974f, 0, 0.9051482536448664f},
         {0.07065082485316443f, 0.7864477329659274f, 1, 0.18070663892364855f}},
        /* sigmoid(-2) = 1/(1 + e^2); sigmoid' = s (1 - s) */
        {EKN_ACT_SIGMOID,
         {1 / (1 + e2), 0.3775406687981454f, 0.5f, 0.8175744761936437f},
         {0.10499358540350652f, 0.2350037122015945f, 0.25f, 0.14914645207033284f}},
        {EKN_ACT_ABS, {2, 0.5f, 0, 1.5f}, {-1, -1, 0, 1}},
        /* elu (alpha 0.1) = alpha (e^x - 1) for x <= 0, f' = alpha e^x there
         * (alpha at the kink) */
        {EKN_ACT_ELU,
         {-0.08646647167633874f, -0.03934693402873666f, 0, 1.5f},
         {0.013533528323661271f, 0.06065306597126335f, 0.1f, 1}},
        /* silu = x s(x), f' = s (1 + x (1 - s)) */
        {EKN_ACT_SILU,
         {-0.2384058440442351f, -0.1887703343990727f, 0, 1.2263617142904655f},
         {-0.09078424878489547f, 0.2600388126973482f, 0.5f, 1.041294154299143f}},
        /* softplus = log(1 + e^x), f' = s(x) */
        {EKN_ACT_SOFTPLUS,
         {0.1269280110429725f, 0.4740769841801067f, 0.6931471805599453f, 1.7014132779827524f},
         {0.11920292202211755f, 0.3775406687981454f, 0.5f, 0.8175744761936437f}},
    };
    const float ones[4] = {1, 1, 1, 1};
    size_t bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int impl = 0; impl < 2; impl++) {
            float y[4], d[4];
            char what[64];
            if (impl == 0) {
                ekn_act_forward_ref(cases[k].a, 0.1f, 4, x, y);
                ekn_act_backward_ref(cases[k].a, 0.1f, 4, x, y, ones, d);
            } else {
                ekn_act_forward_cpu(cases[k].a, 0.1f, 4, x, y);
                ekn_act_backward_cpu(cases[k].a, 0.1f, 4, x, y, ones, d);
            }
            snprintf(what, sizeof what, "%s %s y (hand)", impl ? "cpu" : "ref",
                     ekn_act_name(cases[k].a));
            bad += tu_compare(what, y, cases[k].y, 4, 1e-6, 1e-6);
            snprintf(what, sizeof what, "%s %s f' (hand)", impl ? "cpu" : "ref",
                     ekn_act_name(cases[k].a));
            bad += tu_compare(what, d, cases[k].d, 4, 1e-6, 1e-6);
        }
    /* saturation must not give NaN or inf */
    const float big[] = {-100, 100, -1e30f, 1e30f};
    float yb[4], yr[4];
    for (int i = 0; i < 2; i++) {
        (i ? ekn_act_forward_cpu : ekn_act_forward_ref)(EKN_ACT_SIGMOID, 0, 4, big, yb);
        (i ? ekn_act_forward_cpu : ekn_act_forward_ref)(EKN_ACT_TANH, 0, 4, big, yr);
        const float sig_ref[] = {0, 1, 0, 1}, tanh_ref[] = {-1, 1, -1, 1};
        bad += tu_compare("sigmoid saturation", yb, sig_ref, 4, 1e-7, 0);
        bad += tu_compare("tanh saturation", yr, tanh_ref, 4, 1e-7, 0);
    }
    /* elu, silu, softplus far out: finite values, finite derivatives, and
     * softplus's small tail accurate where log(1 + e^x) in float would be 0 */
    const float far[] = {-100, 100, -1e30f, 1e30f, -20, 20};
    const float far_ref[3][6] = {
        {-0.1f, 100, -0.1f, 1e30f, -0.099999999794f, 20},        /* elu, alpha 0.1 */
        {0, 100, 0, 1e30f, -4.1223072e-08f, 20},                  /* silu */
        {0, 100, 0, 1e30f, 2.0611536e-09f, 20},                   /* softplus */
    };
    const float dfar_ref[3][6] = {
        {0, 1, 0, 1, 2.0611536e-10f, 1},                          /* elu */
        {0, 1, 0, 1, -3.9161919e-08f, 1},                         /* silu */
        {0, 1, 0, 1, 2.0611536e-09f, 1},                          /* softplus */
    };
    const float ones6[6] = {1, 1, 1, 1, 1, 1};
    const ekn_act smooth[3] = {EKN_ACT_ELU, EKN_ACT_SILU, EKN_ACT_SOFTPLUS};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            float yf[6], df[6];
            (i ? ekn_act_forward_cpu : ekn_act_forward_ref)(smooth[k], 0.1f, 6, far, yf);
            (i ? ekn_act_backward_cpu : ekn_act_backward_ref)(smooth[k], 0.1f, 6, far, yf, ones6, df);
            char what[64];
            snprintf(what, sizeof what, "%s %s far out", i ? "cpu" : "ref", ekn_act_name(smooth[k]));
            bad += tu_compare(what, yf, far_ref[k], 6, 1e-30, 1e-5);
            snprintf(what, sizeof what, "%s %s' far out", i ? "cpu" : "ref", ekn_act_name(smooth[k]));
            bad += tu_compare(what, df, dfar_ref[k], 6, 1e-30, 1e-4);
        }
    assert_int_equal(bad, 0);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const names[] = {"linear", "relu",    "leaky", "tanh",    "sigmoid",
                                        "abs",    "elu",     "silu",  "softplus"};
    /* the enum's values are stable (appended, never renumbered) */
    assert_int_equal(EKN_ACT_ABS, 5);
    assert_int_equal(EKN_ACT_ELU, 6);
    assert_int_equal(EKN_ACT_SILU, 7);
    assert_int_equal(EKN_ACT_SOFTPLUS, 8);
    assert_string_equal(ekn_act_name((ekn_act)9), "?");
    for (size_t k = 0; k < N_ACTS; k++) {
        assert_int_equal(ekn_act_from_name(names[k]), (int)all_acts[k]);
        assert_string_equal(ekn_act_name(all_acts[k]), names[k]);
    }
    assert_int_equal(ekn_act_from_name("Relu"), -1);
    assert_int_equal(ekn_act_from_name("softmax"), -1);
    assert_int_equal(ekn_act_from_name(""), -1);
    assert_int_equal(ekn_act_from_name(NULL), -1);
    assert_string_equal(ekn_act_name((ekn_act)42), "?");
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("act cpu vs ref");
    static const size_t sizes[] = {1, 7, 64, 1001, 4099};
    size_t bad = 0;
    for (size_t k = 0; k < N_ACTS; k++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            float alpha = 0.01f + 0.1f * (float)si;
            float *x = tu_alloc(n), *dy = tu_alloc(n), *y1 = tu_alloc(n), *y2 = tu_alloc(n);
            float *d1 = tu_alloc(n), *d2 = tu_alloc(n), *t = tu_alloc(n);
            tu_fill(&st, x, n, -6, 6);
            for (size_t i = 0; i < n; i += 5) x[i] = 0; /* the kink convention must match */
            if (n > 3) x[1] = 90, x[2] = -90;           /* saturation */
            tu_fill(&st, dy, n, -1, 1);
            tu_fill(&st, y1, n, -9, 9); /* garbage: outputs must be overwritten */
            tu_fill(&st, d1, n, -9, 9);
            memcpy(y2, y1, n * sizeof *y2);
            memcpy(d2, d1, n * sizeof *d2);
            ekn_act_forward_ref(all_acts[k], alpha, n, x, y1);
            ekn_act_forward_cpu(all_acts[k], alpha, n, x, y2);
            ekn_act_backward_ref(all_acts[k], alpha, n, x, y1, dy, d1);
            ekn_act_backward_cpu(all_acts[k], alpha, n, x, y1, dy, d2);
            char what[64];
            fprintf(stderr, "-- %s n=%zu alpha=%g\n", ekn_act_name(all_acts[k]), n,
                    (double)alpha);
            snprintf(what, sizeof what, "act y cpu vs ref");
            bad += tu_compare(what, y2, y1, n, CMP_ATOL, CMP_RTOL);
            snprintf(what, sizeof what, "act dx cpu vs ref");
            bad += tu_compare(what, d2, d1, n, CMP_ATOL, CMP_RTOL);

            /* in place: y aliasing x, dx aliasing dy, must equal the out-of-place
             * results exactly (same arithmetic) */
            for (int impl = 0; impl < 2; impl++) {
                void (*fw)(ekn_act, float, size_t, const float *, float *) =
                    impl ? ekn_act_forward_cpu : ekn_act_forward_ref;
                void (*bw)(ekn_act, float, size_t, const float *, const float *, const float *,
                           float *) = impl ? ekn_act_backward_cpu : ekn_act_backward_ref;
                memcpy(t, x, n * sizeof *t);
                fw(all_acts[k], alpha, n, t, t);
                bad += tu_compare(impl ? "cpu forward in place" : "ref forward in place", t,
                                  impl ? y2 : y1, n, 0, 0);
                memcpy(t, dy, n * sizeof *t);
                bw(all_acts[k], alpha, n, x, y1, t, t);
                bad += tu_compare(impl ? "cpu backward in place" : "ref backward in place", t,
                                  impl ? d2 : d1, n, 0, 0);
            }
            free(x), free(dy), free(y1), free(y2), free(d1), free(d2), free(t);
        }
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cpu_vs_ref))
