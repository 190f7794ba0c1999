/* Training pieces that need no data: the step schedules of --lr-schedule
 * and --momentum-schedule, and the SGD optimiser against its closed-form
 * recurrence and on a quadratic it must minimise.
 * Set EKN_TEST_SEED to replay a run; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "testutil.h"
#include "train.h"

/* SGD against the recurrence computed in double: float32 state drifts by a
 * few ulps per step, so after SGD_STEPS steps |float - double| stays below
 * SGD_ATOL + SGD_RTOL * |double|. */
#define SGD_STEPS 50
#define SGD_ATOL 1e-6
#define SGD_RTOL 1e-4
/* Convergence: heavy ball with momentum 0.9 and rate 1 on curvatures a in
 * [0.01, 1] is underdamped for every a ((1 + mu - lr a)^2 < 4 mu) and
 * contracts by sqrt(0.9) ~ 0.949 per step, so from |x| <= 1 it is within
 * CONV_TOL of the minimum x* = 0 in about 200 steps; CONV_STEPS allowed. */
#define CONV_STEPS 400
#define CONV_LR 1.0
#define CONV_MU 0.9
#define CONV_TOL 1e-4

/* ---- schedules ----------------------------------------------------------- */

static void test_schedule_sorted(void **state)
{
    (void)state;
    ekn_schedule s;
    ekn_err err = {0};
    assert_int_equal(ekn_schedule_parse(&s, "1000:0.01,0:0.1,500:0.05,20000:0", "--lr-schedule", &err), 0);
    assert_int_equal(s.n, 4);
    const int64_t steps[] = {0, 500, 1000, 20000};
    const double vals[] = {0.1, 0.05, 0.01, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s.step[i], steps[i]);
        assert_true(s.value[i] == vals[i]);
    }
    /* already sorted input, and a single entry */
    assert_int_equal(ekn_schedule_parse(&s, "0:0.5,10:0.25", "--momentum-schedule", &err), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.step[1], 10);
    assert_int_equal(ekn_schedule_parse(&s, "7:1e-3", "--lr-schedule", &err), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.value[0] == 1e-3);
    /* reverse order */
    assert_int_equal(ekn_schedule_parse(&s, "30:3,20:2,10:1", "--lr-schedule", &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.step[i], 10 * (i + 1));
        assert_true(s.value[i] == i + 1);
    }
}

static void expect_bad(const char *text, const char *needle)
{
    ekn_schedule s;
    ekn_err err = {0};
    int rc = ekn_schedule_parse(&s, text, "--lr-schedule", &err);
    fprintf(stderr, "'%s': rc %d: %s\n", text, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "--lr-schedule"));
    assert_null(strchr(err.msg, '\n'));
    if (needle) assert_non_null(strstr(err.msg, needle));
}

static void test_schedule_errors(void **state)
{
    (void)state;
    expect_bad("0:0.1,0:0.2", "twice");
    expect_bad("500:0.1,100:0.3,500:0.2", "twice");
    expect_bad("abc", "you specified 'abc'");
    expect_bad("100", NULL);
    expect_bad("100:", NULL);
    expect_bad(":0.1", NULL);
    expect_bad("100:0.1;200:0.2", NULL);
    expect_bad("100:0.1,x", NULL);
    expect_bad("-5:0.1", NULL);
    expect_bad("5:-0.1", NULL);
    expect_bad("5:nan", NULL);
    expect_bad("5:inf", NULL);
    expect_bad("5:0.1x", NULL);
    expect_bad("99999999999999999999999:0.1", NULL);
    /* more entries than fit */
    char big[64 * (EKN_MAX_SCHEDULE + 2)];
    size_t used = 0;
    for (int i = 0; i <= EKN_MAX_SCHEDULE; i++)
        used += (size_t)snprintf(big + used, sizeof big - used, "%s%d:0.1", i ? "," : "", i);
    expect_bad(big, NULL);
    /* exactly the maximum is fine */
    *strrchr(big, ',') = '\0';
    ekn_schedule s;
    ekn_err err = {0};
    assert_int_equal(ekn_schedule_parse(&s, big, "--lr-schedule", &err), 0);
    assert_int_equal(s.n, EKN_MAX_SCHEDULE);
}

static void test_schedule_at(void **state)
{
    (void)state;
    ekn_schedule s;
    ekn_err err = {0};
    assert_int_equal(ekn_schedule_parse(&s, "2000:0.001,100:0.1,1000:0.01", "--lr-schedule", &err), 0);
    const double fb = 0.5;
    assert_true(ekn_schedule_at(&s, 0, fb) == fb);     /* before the first step */
    assert_true(ekn_schedule_at(&s, 99, fb) == fb);
    assert_true(ekn_schedule_at(&s, 100, fb) == 0.1);  /* at a step */
    assert_true(ekn_schedule_at(&s, 101, fb) == 0.1);  /* between steps */
    assert_true(ekn_schedule_at(&s, 999, fb) == 0.1);
    assert_true(ekn_schedule_at(&s, 1000, fb) == 0.01);
    assert_true(ekn_schedule_at(&s, 1999, fb) == 0.01);
    assert_true(ekn_schedule_at(&s, 2000, fb) == 0.001);
    assert_true(ekn_schedule_at(&s, INT64_MAX, fb) == 0.001); /* after the last */
    /* an empty schedule always gives the fallback */
    ekn_schedule empty;
    memset(&empty, 0, sizeof empty);
    assert_true(ekn_schedule_at(&empty, 12345, 0.25) == 0.25);
    /* a step 0 entry replaces the fallback from the start */
    assert_int_equal(ekn_schedule_parse(&s, "0:0.2", "--lr-schedule", &err), 0);
    assert_true(ekn_schedule_at(&s, 0, fb) == 0.2);
}

/* ---- SGD ----------------------------------------------------------------- */

/* f(x) = 0.5 sum a_i x_i^2; grad OVERWRITTEN with a_i x_i. */
typedef struct quad {
    size_t n;
    const double *a;
    int calls;
} quad;

static double quad_f(void *ctx, const float *theta, float *grad)
{
    quad *q = ctx;
    double f = 0;
    q->calls++;
    for (size_t i = 0; i < q->n; i++) {
        f += 0.5 * q->a[i] * (double)theta[i] * theta[i];
        grad[i] = (float)(q->a[i] * theta[i]);
    }
    return f;
}

static void test_optim_create(void **state)
{
    (void)state;
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "sgd", 10, NULL, &err), 0);
    assert_string_equal(o.vt->name, "sgd");
    assert_int_equal(o.vt->nstate, 1);
    assert_string_equal(o.vt->state_names[0], "velocity");
    assert_int_equal(o.n, 10);
    for (size_t i = 0; i < 10; i++) assert_true(o.state[0][i] == 0.0f); /* velocity starts at 0 */
    ekn_optim_free(&o);
    assert_non_null(strstr(ekn_optim_names(), "sgd"));

    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_optim_create(&o, "adagrad", 10, NULL, &err), -1);
    fprintf(stderr, "unknown optimiser: %s\n", err.msg);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "'adagrad'"));
    assert_non_null(strstr(err.msg, "sgd"));
}

/* k steps of "sgd" against v <- g + mu v; x <- x - lr (v + lambda d x), in double */
static void run_sgd_case(uint64_t *seed, double lr, double mu, double lambda)
{
    enum { N = 37 };
    double a[N], xd[N], vd[N];
    float x[N], grad[N], decay[N], tmp[N];
    tu_fill(seed, tmp, N, 0.5f, 2.0f);
    for (int i = 0; i < N; i++) a[i] = tmp[i];
    tu_fill(seed, x, N, -1, 1);
    for (int i = 0; i < N; i++) {
        decay[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : 0.5f; /* bias, weight, decay multiplier 0.5 */
        xd[i] = x[i];
        vd[i] = 0;
    }
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "sgd", N, NULL, &err), 0);
    quad q = {N, a, 0};
    ekn_hyper h = {lr, mu, lambda};
    double worst = 0;
    for (int k = 0; k < SGD_STEPS; k++) {
        double fd = 0;
        for (int i = 0; i < N; i++) {
            fd += 0.5 * a[i] * xd[i] * xd[i];
            double g = a[i] * xd[i];
            vd[i] = g + mu * vd[i];
            xd[i] -= lr * (vd[i] + lambda * decay[i] * xd[i]);
        }
        double loss = -1;
        assert_int_equal(o.vt->step(&o, x, grad, decay, &h, quad_f, &q, &loss, &err), 0);
        /* *loss is the loss before the update */
        assert_true(fabs(loss - fd) <= SGD_ATOL + SGD_RTOL * fabs(fd));
        for (int i = 0; i < N; i++) {
            double e = fabs((double)x[i] - xd[i]);
            assert_true(e <= SGD_ATOL + SGD_RTOL * fabs(xd[i]));
            assert_true(fabs((double)o.state[0][i] - vd[i]) <= SGD_ATOL + SGD_RTOL * fabs(vd[i]));
            if (e > worst) worst = e;
        }
    }
    assert_int_equal(q.calls, SGD_STEPS); /* SGD evaluates the objective once per step */
    fprintf(stderr, "sgd lr %g mu %g lambda %g: %d steps, max |float - double| %.3g\n", lr, mu, lambda, SGD_STEPS,
            worst);
    ekn_optim_free(&o);
}

static void test_sgd_closed_form(void **state)
{
    (void)state;
    uint64_t s = tu_seed();
    fprintf(stderr, "sgd_closed_form: seed %llu (EKN_TEST_SEED)\n", (unsigned long long)s);
    run_sgd_case(&s, 0.1, 0.0, 0.0);   /* plain gradient descent */
    run_sgd_case(&s, 0.05, 0.9, 0.0);  /* momentum */
    run_sgd_case(&s, 0.05, 0.9, 0.01); /* momentum and weight decay */
    run_sgd_case(&s, 0.2, 0.5, 0.3);

    /* one step by hand: x = 2, a = 3, v0 = 0, mu irrelevant on step one,
     * lr 0.1, lambda 0.5, decay 1: v = 6, x = 2 - 0.1 * (6 + 0.5 * 2) = 1.3;
     * step two: g = 3.9, v = 3.9 + 0.9 * 6 = 9.3, x = 1.3 - 0.1 * (9.3 + 0.65) = 0.305 */
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "sgd", 1, NULL, &err), 0);
    double a1 = 3;
    quad q = {1, &a1, 0};
    float x = 2, g = 0, d = 1;
    ekn_hyper h = {0.1, 0.9, 0.5};
    double loss;
    assert_int_equal(o.vt->step(&o, &x, &g, &d, &h, quad_f, &q, &loss, &err), 0);
    assert_float_equal(loss, 6.0, 1e-6);
    assert_float_equal(o.state[0][0], 6.0, 1e-6);
    assert_float_equal(x, 1.3, 1e-6);
    assert_int_equal(o.vt->step(&o, &x, &g, &d, &h, quad_f, &q, &loss, &err), 0);
    assert_float_equal(o.state[0][0], 9.3, 1e-5);
    assert_float_equal(x, 0.305, 1e-6);
    ekn_optim_free(&o);
}

/* Runs "sgd" on the quadratic from x0 for CONV_STEPS steps; returns the
 * final max |x - x*| and the first step within CONV_TOL (or -1). */
static double converge(const double *a, const float *x0, int n, double lr, double mu, int *reached)
{
    float *x = malloc((size_t)n * sizeof *x), *grad = malloc((size_t)n * sizeof *grad);
    float *decay = malloc((size_t)n * sizeof *decay);
    assert_non_null(x);
    assert_non_null(grad);
    assert_non_null(decay);
    memcpy(x, x0, (size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) decay[i] = 1;
    ekn_optim o;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "sgd", (size_t)n, NULL, &err), 0);
    quad q = {(size_t)n, a, 0};
    ekn_hyper h = {lr, mu, 0.0};
    double loss, m = 0;
    *reached = -1;
    for (int k = 0; k < CONV_STEPS; k++) {
        assert_int_equal(o.vt->step(&o, x, grad, decay, &h, quad_f, &q, &loss, &err), 0);
        m = 0;
        for (int i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
        if (m <= CONV_TOL && *reached < 0) *reached = k + 1;
    }
    ekn_optim_free(&o);
    free(x);
    free(grad);
    free(decay);
    return m;
}

static void test_sgd_converges(void **state)
{
    (void)state;
    uint64_t s = tu_seed() ^ 0x9e37u;
    fprintf(stderr, "sgd_converges: seed %llu (EKN_TEST_SEED)\n", (unsigned long long)s);
    enum { N = 100 };
    double a[N];
    float x0[N], u[N];
    /* curvatures log-uniform in [0.01, 1], both ends included */
    tu_fill(&s, u, N, 0, 1);
    for (int i = 0; i < N; i++) a[i] = pow(10.0, -2.0 * u[i]);
    a[0] = 0.01;
    a[1] = 1;
    tu_fill(&s, x0, N, -1, 1);
    x0[0] = 1;
    int reached, reached_gd;
    double m = converge(a, x0, N, CONV_LR, CONV_MU, &reached);
    double m_gd = converge(a, x0, N, CONV_LR, 0.0, &reached_gd);
    fprintf(stderr,
            "sgd lr %g momentum %g: max |x - x*| %.3g after %d steps (within %g from step %d); "
            "without momentum %.3g\n",
            CONV_LR, CONV_MU, m, CONV_STEPS, CONV_TOL, reached, m_gd);
    assert_true(m <= CONV_TOL);
    assert_true(reached > 0);
    /* plain gradient descent at the same rate contracts the flattest
     * direction by only 0.99 per step: momentum is what got there */
    assert_true(m_gd > 100 * CONV_TOL);
}

TU_MAIN(cmocka_unit_test(test_schedule_sorted),  cmocka_unit_test(test_schedule_errors),
        cmocka_unit_test(test_schedule_at),      cmocka_unit_test(test_optim_create),
        cmocka_unit_test(test_sgd_closed_form),  cmocka_unit_test(test_sgd_converges))
