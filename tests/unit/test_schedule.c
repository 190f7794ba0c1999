/* test_schedule: the learning rate's and the momentum's shapes
 * (lib/nn/schedule.h) against their closed forms, written out again here,
 * at every step of several budgets (step 0, the warm-up's end, the peak,
 * the last step and steps beyond the budget), against PyTorch's
 * OneCycleLR and CosineAnnealingLR, and the composition ekn-train uses
 * (ekn_train_hyper_at) with --lr-schedule, --lr-decay, --warmup and a
 * plateau factor.  A negative control shows the comparison can fail.
 * Tolerance: |a - b| <= 1e-15 + 1e-12 |ref| (double arithmetic; torch's
 * CosineAnnealingLR is a recurrence, whose rounding differs from the closed form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "schedule.h"
#include "train.h"

#define ATOL 1e-15
#define RTOL 1e-12

/* Produced once with Debian's PyTorch (/usr/bin/python3, torch 1.13.0a0):
 *   OneCycleLR(SGD(momentum=0.9), max_lr, total_steps=T, pct_start, div_factor,
 *              final_div_factor=(max_lr/div)/floor, base_momentum=m, max_momentum=M,
 *              anneal_strategy='cos', three_phase=False)
 *   reading param_groups[0]['lr'] and ['momentum'] before each of the T
 *   optimizer.step() + scheduler.step(); and CosineAnnealingLR(SGD(lr=0.1),
 *   T_max=10, eta_min=0.001) likewise for 11 steps (printed with %.17g).
 * OC20: max_lr 0.05, T 20, pct 0.3, div 25, floor 1e-4, M 0.95, m 0.85.
 * OC7:  max_lr 0.2,  T 7,  pct 0.25, div 10, floor 1e-3, M 0.9,  m 0.8. */
static const double OC20_LR[20] = {
    0.0020000000000000018, 0.0065835921350012663, 0.018583592135001263, 0.033416407864998735,
    0.045416407864998738, 0.050000000000000003, 0.049374451408936502, 0.047529173254165356,
    0.044556695487577347, 0.040606070556375405, 0.035875399290983073, 0.030601897302210041,
    0.025049999999999999, 0.019498102697789958, 0.014224600709016925, 0.0094939294436245988,
    0.005543304512422657, 0.0025708267458346449, 0.00072554859106350078, 0.0001,
};
static const double OC20_MOM[20] = {
    0.94999999999999996, 0.94045084971874737, 0.91545084971874735, 0.88454915028125258,
    0.85954915028125256, 0.84999999999999998, 0.8512536043909088, 0.85495155660487898,
    0.86090842587659844, 0.86882550990706331, 0.87830581304412203, 0.88887395330218422,
    0.89999999999999991, 0.91112604669781572, 0.9216941869558779, 0.93117449009293662,
    0.9390915741234015, 0.94504844339512095, 0.94874639560909113, 0.94999999999999996,
};
static const double OC7_LR[7] = {
    0.01999999999999999, 0.19888866720940029, 0.17343866124706772, 0.12264083292865328,
    0.064148568075543699, 0.018289241955558529, 0.001,
};
static const double OC7_MOM[7] = {
    0.90000000000000002, 0.80055845868874365, 0.81334740640850878, 0.83887395330218428,
    0.86826705121831982, 0.89131193871579972, 0.90000000000000002,
};
static const double COS10[11] = {
    0.10000000000000001, 0.097577297556610113, 0.090546341221559898, 0.079595369988477424,
    0.065796341221559904, 0.050500000000000003, 0.03520365877844011, 0.021404630011522589,
    0.010453658778440109, 0.0034227024433899004, 0.001,
};

static double worst;     /* the largest |a - b| / (ATOL + RTOL |ref|) of a test */
static double worst_abs; /* and the largest |a - b| */

static int close_to(double got, double ref)
{
    double r = fabs(got - ref) / (ATOL + RTOL * fabs(ref));
    if (!(r <= worst)) worst = r; /* NaN too */
    if (!(fabs(got - ref) <= worst_abs)) worst_abs = fabs(got - ref);
    return fabs(got - ref) <= ATOL + RTOL * fabs(ref);
}

static ekn_budget_pos by_steps(int64_t s, int64_t T) { return (ekn_budget_pos){0, (double)s, (double)T}; }
static ekn_budget_pos by_time(double p) { return (ekn_budget_pos){1, p, 1}; }

/* the closed forms, written out again */
static double cosine_ref(double lr, double floor, double p)
{
    if (p > 1) p = 1;
    return floor + 0.5 * (lr - floor) * (1 + cos(M_PI * p));
}

static double cos_between(double from, double to, double q) { return to + 0.5 * (from - to) * (1 + cos(M_PI * q)); }

/* onecycle at position x of phases ending at e1 and e2; mom != 0: the momentum */
static double onecycle_ref(double lr, double floor, double div, double top, double low, double x, double e1, double e2,
                           int mom)
{
    if (x <= e1) {
        double q = e1 > 0 ? x / e1 : 1;
        return mom ? cos_between(top, low, q) : cos_between(lr / div, lr, q);
    }
    double q = (x - e1) / (e2 - e1);
    if (q > 1) q = 1;
    return mom ? cos_between(low, top, q) : cos_between(lr, floor, q);
}

static void test_cosine_closed_form(void **state)
{
    (void)state;
    static const int64_t T[] = {1, 2, 7, 100, 1000};
    const double lr = 0.3, floor = 0.002;
    int bad = 0;
    worst = worst_abs = 0;
    for (size_t k = 0; k < sizeof T / sizeof *T; k++) {
        for (int64_t s = 0; s <= T[k] + 5; s++) {
            double got = ekn_shape_lr(EKN_SHAPE_COSINE, lr, floor, 0.3, 25, by_steps(s, T[k]));
            bad += !close_to(got, cosine_ref(lr, floor, (double)s / (double)T[k]));
        }
        /* step 0 is the rate, the budget's end and beyond are the floor, exactly */
        assert_true(ekn_shape_lr(EKN_SHAPE_COSINE, lr, floor, 0.3, 25, by_steps(0, T[k])) == lr);
        assert_true(ekn_shape_lr(EKN_SHAPE_COSINE, lr, floor, 0.3, 25, by_steps(T[k], T[k])) == floor);
        assert_true(ekn_shape_lr(EKN_SHAPE_COSINE, lr, floor, 0.3, 25, by_steps(T[k] + 9, T[k])) == floor);
    }
    /* by time: the fraction is the position */
    for (int i = 0; i <= 130; i++) {
        double p = i / 100.0;
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_COSINE, lr, floor, 0.3, 25, by_time(p)), cosine_ref(lr, floor, p));
    }
    /* a constant shape is the rate at every step */
    for (int64_t s = 0; s < 50; s++)
        bad += ekn_shape_lr(EKN_SHAPE_CONSTANT, lr, floor, 0.3, 25, by_steps(s, 10)) != lr;
    fprintf(stderr, "cosine vs closed form: worst %.3g of the tolerance, |a-b| <= %.3g\n", worst, worst_abs);
    assert_int_equal(bad, 0);
}

static void test_onecycle_closed_form(void **state)
{
    (void)state;
    static const int64_t T[] = {1, 2, 3, 4, 10, 97, 1000};
    static const double PCT[] = {0.05, 0.25, 0.3, 0.5, 0.9};
    const double lr = 0.4, floor = 1e-5, div = 25, top = 0.95, low = 0.85;
    int bad = 0;
    worst = worst_abs = 0;
    for (size_t k = 0; k < sizeof T / sizeof *T; k++)
        for (size_t j = 0; j < sizeof PCT / sizeof *PCT; j++) {
            double e1 = PCT[j] * (double)T[k] - 1, e2 = (double)T[k] - 1;
            for (int64_t s = 0; s <= T[k] + 5; s++) {
                ekn_budget_pos b = by_steps(s, T[k]);
                double x = (double)s;
                bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, PCT[j], div, b),
                                 onecycle_ref(lr, floor, div, top, low, x, e1, e2, 0));
                bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, top, low, PCT[j], b),
                                 onecycle_ref(lr, floor, div, top, low, x, e1, e2, 1));
            }
            /* the last step and beyond: the floor and the top momentum */
            for (int64_t s = T[k] - 1; s <= T[k] + 3; s++) {
                bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, PCT[j], div, by_steps(s, T[k])), floor);
                bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, top, low, PCT[j], by_steps(s, T[k])), top);
            }
            /* step 0 starts at lr / div with the top momentum (when the rise has a step;
             * to rounding, as torch: lr + (lr / div - lr)) */
            if (e1 > 0) {
                bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, PCT[j], div, by_steps(0, T[k])), lr / div);
                bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, top, low, PCT[j], by_steps(0, T[k])), top);
            }
        }
    /* by time: lr / div at 0, the peak at pct, the floor at 1 and beyond */
    for (int i = 0; i <= 150; i++) {
        double p = i / 100.0;
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, 0.3, div, by_time(p)),
                         onecycle_ref(lr, floor, div, top, low, p, 0.3, 1, 0));
        bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, top, low, 0.3, by_time(p)),
                         onecycle_ref(lr, floor, div, top, low, p, 0.3, 1, 1));
    }
    bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, 0.3, div, by_time(0.3)), lr);
    bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, top, low, 0.3, by_time(0.3)), low);
    bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, lr, floor, 0.3, div, by_time(2)), floor);
    /* other shapes keep the momentum */
    bad += ekn_shape_momentum(EKN_SHAPE_COSINE, top, low, 0.3, by_time(0.3)) != top;
    fprintf(stderr, "onecycle vs closed form: worst %.3g of the tolerance, |a-b| <= %.3g\n", worst, worst_abs);
    assert_int_equal(bad, 0);
}

static void test_torch(void **state)
{
    (void)state;
    int bad = 0;
    double w_oc = 0, w_cos, a_oc, a_cos;
    worst = worst_abs = 0;
    for (int s = 0; s < 20; s++) {
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, 0.05, 1e-4, 0.3, 25, by_steps(s, 20)), OC20_LR[s]);
        bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, 0.95, 0.85, 0.3, by_steps(s, 20)), OC20_MOM[s]);
    }
    for (int s = 0; s < 7; s++) {
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, 0.2, 1e-3, 0.25, 10, by_steps(s, 7)), OC7_LR[s]);
        bad += !close_to(ekn_shape_momentum(EKN_SHAPE_ONECYCLE, 0.9, 0.8, 0.25, by_steps(s, 7)), OC7_MOM[s]);
    }
    w_oc = worst;
    a_oc = worst_abs;
    worst = worst_abs = 0;
    for (int s = 0; s < 11; s++)
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_COSINE, 0.1, 0.001, 0.3, 25, by_steps(s, 10)), COS10[s]);
    w_cos = worst;
    a_cos = worst_abs;
    fprintf(stderr,
            "vs torch OneCycleLR: worst %.3g of the tolerance (|a-b| <= %.3g), CosineAnnealingLR: %.3g (|a-b| <= %.3g)\n",
            w_oc, a_oc, w_cos, a_cos);
    assert_int_equal(bad, 0);
}

/* The check can fail: the cosine one step late is refused at most steps. */
static void test_negative_control(void **state)
{
    (void)state;
    int bad = 0;
    for (int s = 0; s < 11; s++)
        bad += !close_to(ekn_shape_lr(EKN_SHAPE_COSINE, 0.1, 0.001, 0.3, 25, by_steps(s + 1, 10)), COS10[s]);
    bad += !close_to(ekn_shape_lr(EKN_SHAPE_ONECYCLE, 0.05, 1e-4, 0.3, 25, by_steps(5, 21)), OC20_LR[5]);
    fprintf(stderr, "negative control: %d of 12 refused\n", bad);
    assert_true(bad >= 10);
}

static void test_warmup(void **state)
{
    (void)state;
    assert_true(ekn_warmup_factor(0, 0) == 1);
    assert_true(ekn_warmup_factor(1, 0) == 1);
    assert_true(ekn_warmup_factor(4, 0) == 0.25);
    assert_true(ekn_warmup_factor(4, 2) == 0.75);
    assert_true(ekn_warmup_factor(4, 3) == 1); /* the warm-up's last step is the full rate */
    assert_true(ekn_warmup_factor(4, 1000) == 1);
    for (int64_t n = 1; n < 40; n++)
        for (int64_t s = 0; s < n + 3; s++)
            assert_true(ekn_warmup_factor(n, s) == (s + 1 < n ? (double)(s + 1) / (double)n : 1.0));
}

static void test_names(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) assert_int_equal(ekn_shape_parse(ekn_shape_name(k)), k);
    assert_int_equal(ekn_shape_parse("cos"), -1);
    assert_int_equal(ekn_shape_parse(NULL), -1);
}

/* ekn_train_hyper_at: the composition of the pieces. */
static void test_hyper_at(void **state)
{
    (void)state;
    ekn_train_config c = {0};
    ekn_err e = {0};
    c.lr = 0.1;
    c.momentum = 0.9;
    c.lr_decay = 0.5;
    c.lr_decay_every = 7;
    c.onecycle_pct = 0.3;
    c.onecycle_div = 25;
    c.onecycle_momentum = 0.85;
    assert_int_equal(ekn_schedule_parse(&c.lr_schedule, "0:0.2,10:0.05", "s", &e), 0);
    assert_int_equal(ekn_schedule_parse(&c.momentum_schedule, "5:0.5", "s", &e), 0);
    double lr, mom;
    /* constant without warm-up: exactly the old piecewise * decay * plateau */
    for (int64_t s = 0; s < 40; s++) {
        ekn_train_hyper_at(&c, s, by_steps(s, 0), 0.25, &lr, &mom);
        double old = ekn_schedule_at(&c.lr_schedule, s, c.lr) * pow(0.5, (double)(s / 7)) * 0.25;
        assert_true(lr == old);
        assert_true(mom == (s >= 5 ? 0.5 : 0.9));
    }
    /* with warm-up: the factor on top */
    c.warmup = 8;
    for (int64_t s = 0; s < 20; s++) {
        ekn_train_hyper_at(&c, s, by_steps(s, 0), 1, &lr, &mom);
        double want = ekn_schedule_at(&c.lr_schedule, s, c.lr) * pow(0.5, (double)(s / 7)) * (s < 8 ? (s + 1) / 8.0 : 1);
        assert_true(close_to(lr, want));
    }
    /* cosine with warm-up and a plateau factor; the momentum schedule still applies */
    c.lr_schedule.n = 0;
    c.lr_decay = 1;
    c.lr_shape = EKN_SHAPE_COSINE;
    c.lr_floor = 0.01;
    for (int64_t s = 0; s < 60; s++) {
        ekn_train_hyper_at(&c, s, by_steps(s, 50), 0.5, &lr, &mom);
        double want = cosine_ref(0.1, 0.01, s / 50.0) * (s < 8 ? (s + 1) / 8.0 : 1) * 0.5;
        assert_true(close_to(lr, want));
        assert_true(mom == (s >= 5 ? 0.5 : 0.9));
    }
    /* onecycle: the momentum cycles from --momentum down to --onecycle-momentum */
    c.warmup = 0;
    c.momentum_schedule.n = 0;
    c.lr_shape = EKN_SHAPE_ONECYCLE;
    for (int64_t s = 0; s < 25; s++) {
        ekn_train_hyper_at(&c, s, by_steps(s, 20), 1, &lr, &mom);
        assert_true(close_to(lr, onecycle_ref(0.1, 0.01, 25, 0.9, 0.85, (double)s, 5, 19, 0)));
        assert_true(close_to(mom, onecycle_ref(0.1, 0.01, 25, 0.9, 0.85, (double)s, 5, 19, 1)));
    }
}

/* ekn_train_check_shape: contradictions and missing budgets are usage errors. */
static void test_check_shape(void **state)
{
    (void)state;
    ekn_train_config c = {0};
    ekn_err e = {0};
    c.lr = 0.1;
    c.momentum = 0.9;
    c.lr_decay = 1;
    c.onecycle_pct = 0.3;
    c.onecycle_div = 25;
    c.onecycle_momentum = 0.85;
    assert_int_equal(ekn_train_check_shape(&c, &e), 0); /* constant needs nothing */
    c.lr_shape = EKN_SHAPE_COSINE;
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_int_equal(e.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(e.msg, "needs a budget"));
    c.steps = 100;
    assert_int_equal(ekn_train_check_shape(&c, &e), 0);
    c.steps = 0;
    c.max_time = 10;
    assert_int_equal(ekn_train_check_shape(&c, &e), 0);
    c.lr_floor = 0.2;
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--lr-floor"));
    c.lr_floor = 0;
    assert_int_equal(ekn_schedule_parse(&c.lr_schedule, "0:0.2", "s", &e), 0);
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--lr-schedule"));
    c.lr_schedule.n = 0;
    c.lr_decay = 0.5;
    c.lr_decay_every = 10;
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--lr-decay"));
    c.lr_decay = 1;
    c.warmup = 5;
    assert_int_equal(ekn_train_check_shape(&c, &e), 0); /* cosine with a warm-up */
    c.lr_shape = EKN_SHAPE_ONECYCLE;
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--warmup"));
    c.warmup = 0;
    assert_int_equal(ekn_train_check_shape(&c, &e), 0);
    c.onecycle_momentum = 0.95;
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--onecycle-momentum"));
    c.onecycle_momentum = 0.85;
    assert_int_equal(ekn_schedule_parse(&c.momentum_schedule, "0:0.5", "s", &e), 0);
    assert_int_equal(ekn_train_check_shape(&c, &e), -1);
    assert_non_null(strstr(e.msg, "--momentum-schedule"));
}

TU_MAIN(cmocka_unit_test(test_cosine_closed_form), cmocka_unit_test(test_onecycle_closed_form),
        cmocka_unit_test(test_torch), cmocka_unit_test(test_negative_control), cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_names), cmocka_unit_test(test_hyper_at), cmocka_unit_test(test_check_shape))
