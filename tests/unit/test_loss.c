/* Losses: (a) gradient checks of _ref by central differences (the NLL
 * differentiated w.r.t. the logits through ekn_softmax_forward_ref),
 * (b) hand-computed cases, (c) _cpu against _ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loss.h"
#include "softmax.h"
#include "testutil.h"

/* (a) numeric vs analytic: step 1e-2 on the logits gives O(1e-4) relative
 * truncation; float rounding of the perturbed voxel's probabilities adds
 * ~1e-6 absolute (gradients here are O(1/count) ~ 1e-2), hence: */
#define GRAD_EPS 1e-2f
#define GRAD_ATOL 1e-5
#define GRAD_RTOL 1e-2
/* (c) _cpu vs _ref (llm.c style): |cpu - ref| <= CMP_ATOL + CMP_RTOL*|ref| */
#define CMP_ATOL 1e-5
#define CMP_RTOL 1e-4

/* ---- random NLL problems ----------------------------------------------- */

enum { LAZY_NONE, LAZY_BOTH, LAZY_LABELLED, LAZY_ABSENT };
static const char *const lazy_name[] = {"none", "labelled+absent", "labelled only", "absent only"};

struct nll_case {
    int n, c;
    size_t s;
    float *z, *p; /* logits and their softmax, (N,C,S) */
    int32_t *labels;
    float *w;
    uint8_t *lb, *ab;
    ekn_nll_args args;
};

static void nll_case_init(struct nll_case *k, uint64_t *st, int n, int c, size_t s,
                          int weighted, int lazy, float zrange)
{
    size_t m = (size_t)n * c * s;
    *k = (struct nll_case){.n = n, .c = c, .s = s};
    k->z = tu_alloc(m);
    k->p = tu_alloc(m);
    k->labels = calloc((size_t)n * s, sizeof *k->labels);
    k->w = tu_alloc(c);
    k->lb = calloc((size_t)n * c, 1);
    k->ab = calloc((size_t)n * c, 1);
    assert_non_null(k->labels);
    assert_non_null(k->lb);
    assert_non_null(k->ab);
    tu_fill(st, k->z, m, -zrange, zrange);
    ekn_softmax_forward_ref(n, c, s, k->z, k->p);
    for (size_t i = 0; i < (size_t)n * s; i++) /* about 1 in C+1 ignored */
        k->labels[i] = (int32_t)(tu_next(st) % (uint64_t)(c + 1)) - 1;
    tu_fill(st, k->w, c, 0.25f, 2.0f);
    for (size_t i = 0; i < (size_t)n * c; i++) {
        uint64_t r = tu_next(st) % 3; /* a class is labelled, absent, or neither */
        k->lb[i] = r == 0;
        k->ab[i] = r == 1;
    }
    /* every example gets one labelled class k0, carried by its first voxel,
     * and (C > 1) one absent class, so that no lazy mode can count nothing */
    for (int i = 0; i < n; i++) {
        int k0 = (int)(tu_next(st) % (uint64_t)c);
        k->lb[(size_t)i * c + k0] = 1;
        k->ab[(size_t)i * c + k0] = 0;
        k->labels[(size_t)i * s] = k0;
        if (c > 1) {
            int k1 = (k0 + 1 + (int)(tu_next(st) % (uint64_t)(c - 1))) % c;
            k->ab[(size_t)i * c + k1] = 1;
            k->lb[(size_t)i * c + k1] = 0;
        }
    }
    k->args = (ekn_nll_args){
        .labels = k->labels,
        .class_w = weighted ? k->w : NULL,
        .labelled = lazy == LAZY_BOTH || lazy == LAZY_LABELLED ? k->lb : NULL,
        .absent = lazy == LAZY_BOTH || lazy == LAZY_ABSENT ? k->ab : NULL,
    };
}

static void nll_case_free(struct nll_case *k)
{
    free(k->z), free(k->p), free(k->labels), free(k->w), free(k->lb), free(k->ab);
}

/* the loss as a function of the logits */
static double nll_of_logits(struct nll_case *k, float *scratch)
{
    ekn_softmax_forward_ref(k->n, k->c, k->s, k->z, k->p);
    return ekn_softmax_nll_ref(k->n, k->c, k->s, k->p, &k->args, scratch, NULL);
}

static size_t nll_grad_check(uint64_t *st, int n, int c, size_t s, int weighted, int lazy)
{
    fprintf(stderr, "-- nll gradcheck n=%d c=%d s=%zu weights=%d lazy=%s\n", n, c, s, weighted,
            lazy_name[lazy]);
    struct nll_case k;
    nll_case_init(&k, st, n, c, s, weighted, lazy, 2.0f);
    size_t m = (size_t)n * c * s;
    float *dl = tu_alloc(m), *g = tu_alloc(m), *scratch = tu_alloc(m);
    double cnt = -1;
    tu_fill(st, dl, m, -9, 9); /* garbage: must be overwritten */
    ekn_softmax_nll_ref(n, c, s, k.p, &k.args, dl, &cnt);
    fprintf(stderr, "   count %g\n", cnt);
    assert_true(cnt > 0); /* else this case checks nothing */
    for (size_t i = 0; i < m; i++) {
        float save = k.z[i], up = save + GRAD_EPS, dn = save - GRAD_EPS;
        k.z[i] = up;
        double lp = nll_of_logits(&k, scratch);
        k.z[i] = dn;
        double lm = nll_of_logits(&k, scratch);
        k.z[i] = save;
        g[i] = (float)((lp - lm) / ((double)up - dn));
    }
    size_t bad = tu_compare("nll_ref dlogits vs numeric", dl, g, m, GRAD_ATOL, GRAD_RTOL);
    free(dl), free(g), free(scratch);
    nll_case_free(&k);
    return bad;
}

static void test_nll_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("nll gradcheck");
    size_t bad = 0;
    bad += nll_grad_check(&st, 2, 3, 5, 1, LAZY_NONE); /* weights, ignored labels, S>1, C>2 */
    bad += nll_grad_check(&st, 4, 2, 1, 0, LAZY_NONE); /* C=2, S=1 */
    bad += nll_grad_check(&st, 3, 4, 1, 1, LAZY_NONE); /* C>2, S=1 */
    bad += nll_grad_check(&st, 2, 2, 6, 1, LAZY_NONE); /* C=2, S>1 */
    bad += nll_grad_check(&st, 3, 4, 3, 1, LAZY_BOTH); /* lazy, C>2, S>1 */
    bad += nll_grad_check(&st, 4, 2, 3, 1, LAZY_BOTH); /* lazy, C=2 */
    bad += nll_grad_check(&st, 5, 5, 1, 0, LAZY_BOTH); /* lazy, S=1 */
    bad += nll_grad_check(&st, 3, 2, 1, 1, LAZY_BOTH); /* lazy, C=2, S=1 */
    bad += nll_grad_check(&st, 2, 4, 4, 1, LAZY_LABELLED);
    bad += nll_grad_check(&st, 2, 4, 4, 1, LAZY_ABSENT);
    assert_int_equal(bad, 0);
}

static void test_mse_gradcheck(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("mse gradcheck");
    enum { M = 37 };
    float y[M], t[M], dy[M], g[M];
    tu_fill(&st, y, M, -2, 2);
    tu_fill(&st, t, M, -2, 2);
    t[3] = t[17] = NAN; /* ignored */
    t[20] = INFINITY;
    tu_fill(&st, dy, M, -9, 9);
    ekn_mse_ref(M, y, t, dy);
    for (int i = 0; i < M; i++) {
        /* quadratic: the central difference is exact up to rounding */
        float save = y[i], up = save + 0.25f, dn = save - 0.25f;
        y[i] = up;
        double lp = ekn_mse_ref(M, y, t, NULL);
        y[i] = dn;
        double lm = ekn_mse_ref(M, y, t, NULL);
        y[i] = save;
        g[i] = (float)((lp - lm) / ((double)up - dn));
    }
    assert_int_equal(tu_compare("mse_ref dy vs numeric", dy, g, M, 1e-6, 1e-4), 0);
    assert_true(dy[3] == 0 && dy[17] == 0 && dy[20] == 0);
}

/* ---- (b) hand-computed cases ------------------------------------------- */

typedef double (*nll_fn)(int, int, size_t, const float *, const ekn_nll_args *, float *,
                         double *);
static const nll_fn nll_impl[2] = {ekn_softmax_nll_ref, ekn_softmax_nll_cpu};
static const char *const impl_name[2] = {"ref", "cpu"};

/* |got - want| <= 1e-6 |want| (+1e-9) for scalars */
static int close_d(double got, double want)
{
    int ok = fabs(got - want) <= 1e-9 + 1e-6 * fabs(want);
    fprintf(stderr, "   got %.10g want %.10g %s\n", got, want, ok ? "ok" : "FAIL");
    return ok;
}

/* Three voxels (N=1, C=3, S=3), layout (C,S): voxel v's probabilities are
 * column v.  p(v0) = [.7 .2 .1], p(v1) = [.1 .6 .3], p(v2) = [.3 .3 .4] */
static const float P3[9] = {0.7f, 0.1f, 0.3f, 0.2f, 0.6f, 0.3f, 0.1f, 0.3f, 0.4f};

static void test_nll_closed_form(void **state)
{
    (void)state;
    float dl[9], t[9];
    double cnt;
    for (int im = 0; im < 2; im++) {
        nll_fn f = nll_impl[im];
        fprintf(stderr, "-- nll closed forms (%s)\n", impl_name[im]);

        /* plain: labels [0, 1, ignored]: loss = -(ln .7 + ln .6)/2, count 2,
         * dlogits = (p - onehot)/2, 0 for the ignored voxel */
        const int32_t y1[3] = {0, 1, -1};
        ekn_nll_args a = {.labels = y1};
        const float dl1[9] = {-0.15f, 0.05f, 0, 0.1f, -0.2f, 0, 0.05f, 0.15f, 0};
        assert_true(close_d(f(1, 3, 3, P3, &a, dl, &cnt), 0.4337502838523616));
        assert_true(cnt == 2);
        assert_int_equal(tu_compare("nll plain dlogits (hand)", dl, dl1, 9, 1e-7, 1e-6), 0);

        /* class weights [2, 1, .5]: loss = (-2 ln .7 - ln .6)/2 (count stays 2:
         * weights are not normalised), dlogits = w_y (p - onehot)/2 */
        const float w[3] = {2, 1, 0.5f};
        a.class_w = w;
        const float dl2[9] = {-0.3f, 0.05f, 0, 0.2f, -0.2f, 0, 0.1f, 0.15f, 0};
        assert_true(close_d(f(1, 3, 3, P3, &a, dl, &cnt), 0.6120877558217278));
        assert_true(cnt == 2);
        assert_int_equal(tu_compare("nll weighted dlogits (hand)", dl, dl2, 9, 1e-7, 1e-6), 0);

        /* lazy: class 0 labelled, class 2 absent, class 1 neither.
         * up terms: v0 (y=0, labelled): -ln .7; v1 (y=1, unlabelled): none;
         * v2 (ignored): none.  down terms (class 2, every voxel, ignored
         * included): -ln .9 - ln .7 - ln .6.  N_up = 1, N_down = 3:
         * loss = (-2 ln .7 - ln .9 - ln .6)/4 = 0.33238400682532050.
         * dlogits: up (p - e_0) on v0; down a (e_2 - p) with a = p_2/(1-p_2)
         * = 1/9, 3/7, 2/3 on v0, v1, v2; all /4:
         *   v0: ([-.3 .2 .1] + [-.7 -.2 .9]/9)/4 = [-3.4, 1.6, 1.8]/36
         *   v1: [-.1 -.6 .7] (3/7)/4           = [-.3, -1.8, 2.1]/28
         *   v2: [-.3 -.3 .6] (2/3)/4           = [-.05, -.05, .1] */
        const uint8_t lb[3] = {1, 0, 0}, ab[3] = {0, 0, 1};
        ekn_nll_args al = {.labels = y1, .labelled = lb, .absent = ab};
        const float dl3[9] = {-3.4f / 36, -0.3f / 28, -0.05f, 1.6f / 36, -1.8f / 28,
                              -0.05f,     1.8f / 36,  2.1f / 28, 0.1f};
        assert_true(close_d(f(1, 3, 3, P3, &al, dl, &cnt), 0.3323840068253205));
        assert_true(cnt == 4);
        assert_int_equal(tu_compare("nll lazy dlogits (hand)", dl, dl3, 9, 1e-7, 1e-6), 0);
        /* in place: dlogits aliasing p */
        memcpy(t, P3, sizeof t);
        f(1, 3, 3, t, &al, t, NULL);
        assert_int_equal(tu_compare("nll lazy in place", t, dl, 9, 0, 0), 0);

        /* lazy with weights [2, 1, .5]:
         * (2 (-ln .7) + .5 (-ln .9 - ln .7 - ln .6))/4 */
        al.class_w = w;
        assert_true(close_d(f(1, 3, 3, P3, &al, dl, &cnt), 0.29994510738968494));
        assert_true(cnt == 4);

        /* clamp: p_y = 0 gives -ln(1e-12) = 27.631..., finite, and the
         * gradient p - onehot = [-1, 1] */
        const float p0[2] = {0, 1}, dl4[2] = {-1, 1};
        const int32_t y0[1] = {0};
        ekn_nll_args ac = {.labels = y0};
        assert_true(close_d(f(1, 2, 1, p0, &ac, dl, &cnt), 27.631021115928547));
        assert_int_equal(tu_compare("nll clamped dlogits", dl, dl4, 2, 1e-7, 1e-6), 0);
        /* absent class with p = 1: -ln(1e-12) again, gradient finite */
        const uint8_t ab1[2] = {0, 1};
        const int32_t yn[1] = {-1};
        ekn_nll_args ad = {.labels = yn, .absent = ab1};
        assert_true(close_d(f(1, 2, 1, p0, &ad, dl, &cnt), 27.631021115928547));
        assert_true(cnt == 1 && isfinite(dl[0]) && isfinite(dl[1]));

        /* an absent class predicted with p_2 = 1 - 2^-20 (the others 2^-21
         * each): a_2 = p_2/(1-p_2) ~ 1e6, yet the exact gradient is
         * [-p_2/2, -p_2/2, p_2] (= p_j (e_2 - p) a_2); evaluating it as
         * p_j (0 - a_2) + a_2 in float would lose it to cancellation */
        const float h = 0x1p-21f, p2 = 1.0f - 0x1p-20f;
        const float pc[3] = {h, h, p2}, dl5[3] = {-p2 / 2, -p2 / 2, p2};
        const uint8_t ab2[3] = {0, 0, 1};
        ekn_nll_args af = {.labels = yn, .absent = ab2};
        assert_true(close_d(f(1, 3, 1, pc, &af, dl, &cnt), 20 * 0.69314718055994531));
        assert_int_equal(tu_compare("nll absent p->1 dlogits", dl, dl5, 3, 1e-7, 1e-5), 0);

        /* nothing to count: loss 0, count 0, dlogits all 0 */
        const int32_t yi[3] = {-1, -1, -1};
        const uint8_t none[3] = {0, 0, 0};
        ekn_nll_args ae = {.labels = yi, .absent = none};
        for (int i = 0; i < 9; i++) dl[i] = 5;
        assert_true(f(1, 3, 3, P3, &ae, dl, &cnt) == 0 && cnt == 0);
        for (int i = 0; i < 9; i++) assert_true(dl[i] == 0);
        assert_true(f(1, 3, 3, P3, &ae, dl, NULL) == 0); /* count may be NULL */
    }
}

static void test_mse_closed_form(void **state)
{
    (void)state;
    /* t = [0, 2, NaN, 6, inf]: 3 finite targets, differences 1, 0, -2:
     * loss = (1 + 0 + 4)/(2*3) = 5/6, dy = [1, 0, 0, -2, 0]/3 */
    const float y[5] = {1, 2, 3, 4, 5}, t[5] = {0, 2, NAN, 6, INFINITY};
    const float dy_ref[5] = {1 / 3.f, 0, 0, -2 / 3.f, 0};
    float dy[5];
    for (int im = 0; im < 2; im++) {
        fprintf(stderr, "-- mse closed form (%s)\n", impl_name[im]);
        double (*f)(size_t, const float *, const float *, float *) = im ? ekn_mse_cpu : ekn_mse_ref;
        assert_true(close_d(f(5, y, t, dy), 5.0 / 6.0));
        assert_int_equal(tu_compare("mse dy (hand)", dy, dy_ref, 5, 1e-7, 1e-6), 0);
        assert_true(close_d(f(5, y, t, NULL), 5.0 / 6.0)); /* dy may be NULL */
        const float tn[2] = {NAN, NAN};
        dy[0] = dy[1] = 7;
        assert_true(f(2, y, tn, dy) == 0 && dy[0] == 0 && dy[1] == 0); /* nothing counted */
    }
}

static void test_argmax_closed_form(void **state)
{
    (void)state;
    /* N=1, C=3, S=5, layout (C,S); per voxel: [.2 .5 .3] y=1 right;
     * [.6 .2 .2] y=2 wrong; [.4 .4 .2] y=0 right (tie: lowest index);
     * [.1 .1 .8] ignored; [NaN NaN NaN] y=0 wrong.  correct 2 of 4 */
    const float p[15] = {0.2f, 0.6f, 0.4f, 0.1f, NAN,  0.5f, 0.2f, 0.4f,
                         0.1f, NAN,  0.3f, 0.2f, 0.2f, 0.8f, NAN};
    const int32_t y[5] = {1, 2, 0, -1, 0};
    for (int im = 0; im < 2; im++) {
        long correct = -1, counted = -1;
        (im ? ekn_argmax_count_cpu : ekn_argmax_count_ref)(1, 3, 5, p, y, &correct, &counted);
        fprintf(stderr, "-- argmax (%s): %ld of %ld\n", impl_name[im], correct, counted);
        assert_int_equal(correct, 2);
        assert_int_equal(counted, 4);
    }
}

/* ---- (c) _cpu vs _ref -------------------------------------------------- */

static size_t nll_cpu_vs_ref(uint64_t *st, int n, int c, size_t s, int weighted, int lazy,
                             float zrange)
{
    fprintf(stderr, "-- nll cpu vs ref n=%d c=%d s=%zu weights=%d lazy=%s logits=+-%g\n", n, c,
            s, weighted, lazy_name[lazy], (double)zrange);
    struct nll_case k;
    nll_case_init(&k, st, n, c, s, weighted, lazy, zrange);
    size_t m = (size_t)n * c * s, bad = 0;
    float *d1 = tu_alloc(m), *d2 = tu_alloc(m), *t = tu_alloc(m);
    tu_fill(st, d1, m, -9, 9); /* garbage: must be overwritten */
    memcpy(d2, d1, m * sizeof *d2);
    double c1 = -1, c2 = -2;
    float l1 = (float)ekn_softmax_nll_ref(n, c, s, k.p, &k.args, d1, &c1);
    float l2 = (float)ekn_softmax_nll_cpu(n, c, s, k.p, &k.args, d2, &c2);
    if (c1 != c2) {
        fprintf(stderr, "count cpu %g != ref %g FAIL\n", c2, c1);
        bad++;
    }
    bad += tu_compare("nll loss cpu vs ref", &l2, &l1, 1, CMP_ATOL, CMP_RTOL);
    bad += tu_compare("nll dlogits cpu vs ref", d2, d1, m, CMP_ATOL, CMP_RTOL);
    /* in place (dlogits aliasing p) equals out of place */
    memcpy(t, k.p, m * sizeof *t);
    ekn_softmax_nll_cpu(n, c, s, t, &k.args, t, NULL);
    bad += tu_compare("nll cpu in place", t, d2, m, 0, 0);
    memcpy(t, k.p, m * sizeof *t);
    ekn_softmax_nll_ref(n, c, s, t, &k.args, t, NULL);
    bad += tu_compare("nll ref in place", t, d1, m, 0, 0);
    free(d1), free(d2), free(t);
    nll_case_free(&k);
    return bad;
}

static void test_nll_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("nll cpu vs ref");
    static const struct {
        int n, c;
        size_t s;
    } shapes[] = {{1, 2, 1},   {4, 3, 1},   {7, 10, 1},  {2, 3, 7},   {1, 5, 300},
                  {2, 4, 257}, {3, 2, 1000}, {2, 7, 513}, {2, 1, 4}};
    size_t bad = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int lazy = LAZY_NONE; lazy <= LAZY_ABSENT; lazy++)
            for (int weighted = 0; weighted < 2; weighted++)
                bad += nll_cpu_vs_ref(&st, shapes[i].n, shapes[i].c, shapes[i].s, weighted, lazy,
                                      3.0f);
    /* confident predictions: p within float rounding of 0 and 1, clamps hit */
    for (int lazy = LAZY_NONE; lazy <= LAZY_ABSENT; lazy++) {
        bad += nll_cpu_vs_ref(&st, 3, 4, 300, 1, lazy, 30.0f);
        bad += nll_cpu_vs_ref(&st, 9, 3, 1, 1, lazy, 30.0f);
    }
    assert_int_equal(bad, 0);
}

static void test_mse_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("mse cpu vs ref");
    static const size_t sizes[] = {1, 7, 8, 9, 1000, 1003};
    size_t bad = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t m = sizes[si];
        float *y = tu_alloc(m), *t = tu_alloc(m), *d1 = tu_alloc(m), *d2 = tu_alloc(m);
        tu_fill(&st, y, m, -3, 3);
        tu_fill(&st, t, m, -3, 3);
        for (size_t i = 3; i < m; i += 7) t[i] = NAN;
        if (m > 5) t[5] = -INFINITY;
        tu_fill(&st, d1, m, -9, 9);
        memcpy(d2, d1, m * sizeof *d2);
        fprintf(stderr, "-- mse cpu vs ref m=%zu\n", m);
        float l1 = (float)ekn_mse_ref(m, y, t, d1), l2 = (float)ekn_mse_cpu(m, y, t, d2);
        bad += tu_compare("mse loss cpu vs ref", &l2, &l1, 1, CMP_ATOL, CMP_RTOL);
        bad += tu_compare("mse dy cpu vs ref", d2, d1, m, CMP_ATOL, CMP_RTOL);
        free(y), free(t), free(d1), free(d2);
    }
    assert_int_equal(bad, 0);
}

static void test_argmax_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("argmax cpu vs ref");
    static const struct {
        int n, c;
        size_t s;
    } shapes[] = {{1, 2, 1}, {5, 3, 1}, {3, 4, 7}, {2, 5, 300}, {2, 3, 513}, {4, 1, 9}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int n = shapes[i].n, c = shapes[i].c;
        size_t s = shapes[i].s, m = (size_t)n * c * s;
        float *p = tu_alloc(m);
        int32_t *y = calloc((size_t)n * s, sizeof *y);
        assert_non_null(y);
        tu_fill(&st, p, m, 0, 1);
        for (size_t j = 0; j < m; j++) p[j] = floorf(p[j] * 4) / 4; /* many ties */
        for (size_t j = 11; j < m; j += 17) p[j] = NAN;
        for (size_t j = 0; j < (size_t)n * s; j++)
            y[j] = (int32_t)(tu_next(&st) % (uint64_t)(c + 1)) - 1;
        long r1, n1, r2, n2;
        ekn_argmax_count_ref(n, c, s, p, y, &r1, &n1);
        ekn_argmax_count_cpu(n, c, s, p, y, &r2, &n2);
        fprintf(stderr, "-- argmax n=%d c=%d s=%zu: ref %ld/%ld cpu %ld/%ld\n", n, c, s, r1, n1,
                r2, n2);
        assert_int_equal(r1, r2);
        assert_int_equal(n1, n2);
        free(p), free(y);
    }
}

TU_MAIN(cmocka_unit_test(test_nll_gradcheck),     cmocka_unit_test(test_mse_gradcheck),
        cmocka_unit_test(test_nll_closed_form),   cmocka_unit_test(test_mse_closed_form),
        cmocka_unit_test(test_argmax_closed_form), cmocka_unit_test(test_nll_cpu_vs_ref),
        cmocka_unit_test(test_mse_cpu_vs_ref),    cmocka_unit_test(test_argmax_cpu_vs_ref))
