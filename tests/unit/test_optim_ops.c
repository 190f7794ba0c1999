/* The optimisers on an ops table's memory (ekn_optim_create_on), without a
 * GPU: a "guarded" table stands in for a device.  Its memory is host pages
 * that are PROT_NONE except while one of the table's own functions (memory
 * or vec) or the test's objective runs, so an optimiser step or a
 * checkpoint that touched state, theta, grad or decay directly, as it may
 * not on a device, dies with SIGSEGV instead of passing.  On that table:
 *   - every optimiser gives the same theta, state and scalars as on the cpu
 *     table, bit for bit (the guarded vec is ekn_vec_cpu behind the guard);
 *   - a checkpoint written from it loads into a cpu optimiser bit-identical;
 *   - each allocation failing in turn gives EKN_EXIT_FAIL naming the bytes,
 *     and frees what was allocated before it;
 *   - ekn_optim_create is create_on the cpu table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "h5.h"
#include "optim.h"
#include "testutil.h"
#include "vec.h"

/* ---- the guarded table ----------------------------------------------------- */

#define MAX_REGIONS 64
static struct {
    void *p;
    size_t bytes;
} regions[MAX_REGIONS];
static int allocs, frees, fail_at = -1; /* fail_at: index of the allocation that fails */

static void protect_all(int prot)
{
    for (int k = 0; k < MAX_REGIONS; k++)
        if (regions[k].p && mprotect(regions[k].p, regions[k].bytes, prot)) {
            perror("mprotect");
            abort();
        }
}
static void open_all(void) { protect_all(PROT_READ | PROT_WRITE); }
static void close_all(void) { protect_all(PROT_NONE); }

static void *g_alloc(size_t bytes)
{
    if (allocs++ == fail_at) return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = ((bytes ? bytes : 1) + page - 1) / page * page;
    for (int k = 0; k < MAX_REGIONS; k++)
        if (!regions[k].p) {
            void *p = mmap(NULL, rounded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return NULL;
            regions[k].p = p, regions[k].bytes = rounded;
            return p; /* anonymous pages are zero, as alloc promises */
        }
    return NULL;
}

static void g_free(void *p)
{
    if (!p) return;
    frees++;
    for (int k = 0; k < MAX_REGIONS; k++)
        if (regions[k].p == p) {
            munmap(p, regions[k].bytes);
            regions[k].p = NULL;
            return;
        }
    fail_msg("free of memory this table did not allocate");
}

/* every function of the table opens the pages for its own call only */
#define GUARDED(call) (open_all(), call, close_all())

static void g_zero(void *p, size_t b) { GUARDED(ekn_ops_cpu()->zero(p, b)); }
static void g_upload(void *d, const void *s, size_t b) { GUARDED(ekn_ops_cpu()->upload(d, s, b)); }
static void g_download(void *d, const void *s, size_t b) { GUARDED(ekn_ops_cpu()->download(d, s, b)); }
static void g_copy(void *d, const void *s, size_t b) { GUARDED(ekn_ops_cpu()->copy(d, s, b)); }

static const ekn_vec_ops *C(void) { return &ekn_vec_cpu; }
static double g_dot(size_t n, const float *a, const float *b)
{
    double r;
    GUARDED(r = C()->dot(n, a, b));
    return r;
}
static void g_axpy(size_t n, float al, const float *x, float *y) { GUARDED(C()->axpy(n, al, x, y)); }
static void g_scale(size_t n, float *x, float a) { GUARDED(C()->scale(n, x, a)); }
static void g_neg(size_t n, float *d, const float *s) { GUARDED(C()->neg(n, d, s)); }
static void g_lincomb(size_t n, float *d, const float *x0, float t, const float *dir)
{
    GUARDED(C()->lincomb(n, d, x0, t, dir));
}
static double g_decay_penalty(size_t n, const float *th, float *g, const float *d, float lam)
{
    double r;
    GUARDED(r = C()->decay_penalty(n, th, g, d, lam));
    return r;
}
static void g_sgd(size_t n, float *th, const float *g, float *v, const float *d, float lr, float mu, float wd, int nes)
{
    GUARDED(C()->sgd(n, th, g, v, d, lr, mu, wd, nes));
}
static void g_rprop(size_t n, float *th, const float *g, float *prev, float *step, const float *d, float wd, double a,
                    double b, double c, double e, double f, double *mean)
{
    GUARDED(C()->rprop(n, th, g, prev, step, d, wd, a, b, c, e, f, mean));
}
static void g_adam(size_t n, float *th, const float *g, float *m, float *v, const float *d, float lr, float wd,
                   double b1, double b2, double eps, double t, int dec)
{
    GUARDED(C()->adam(n, th, g, m, v, d, lr, wd, b1, b2, eps, t, dec));
}
static double g_pr(size_t n, const float *g, const float *gp)
{
    double r;
    GUARDED(r = C()->pr_numerator(n, g, gp));
    return r;
}
static void g_cgdir(size_t n, float *dir, const float *g, float beta) { GUARDED(C()->cg_direction(n, dir, g, beta)); }
static void g_pair(size_t n, float *s, float *y, const float *th, const float *x0, const float *g, const float *g0,
                   double out[2])
{
    GUARDED(C()->lbfgs_pair(n, s, y, th, x0, g, g0, out));
}

static const ekn_vec_ops guarded_vec = {
    .name = "guarded",
    .dot = g_dot,
    .axpy = g_axpy,
    .scale = g_scale,
    .neg = g_neg,
    .lincomb = g_lincomb,
    .decay_penalty = g_decay_penalty,
    .sgd = g_sgd,
    .rprop = g_rprop,
    .adam = g_adam,
    .pr_numerator = g_pr,
    .cg_direction = g_cgdir,
    .lbfgs_pair = g_pair,
};

static ekn_ops guarded;

static int setup(void **state)
{
    (void)state;
    guarded = *ekn_ops_cpu();
    guarded.name = "guarded";
    guarded.host = 0;
    guarded.alloc = g_alloc, guarded.free = g_free, guarded.zero = g_zero;
    guarded.upload = g_upload, guarded.download = g_download, guarded.copy = g_copy;
    guarded.vec = &guarded_vec;
    return 0;
}

/* ---- the objective: a quadratic with a dense Hessian ------------------------ */

#define N 257
#define K 3
static double qh[N], qc[N], qu[K][N];

static double quad_host(const float *x, float *g)
{
    double p[K] = {0}, loss = 0;
    for (int k = 0; k < K; k++)
        for (int i = 0; i < N; i++) p[k] += qu[k][i] * ((double)x[i] - qc[i]);
    for (int i = 0; i < N; i++) {
        double d = (double)x[i] - qc[i], gi = qh[i] * d;
        loss += 0.5 * qh[i] * d * d;
        for (int k = 0; k < K; k++) gi += qu[k][i] * p[k];
        g[i] = (float)gi;
    }
    for (int k = 0; k < K; k++) loss += 0.5 * p[k] * p[k];
    return loss;
}

/* the "device side" objective: theta and grad are guarded pages */
static double quad_guarded(void *ctx, const float *theta, float *grad)
{
    (void)ctx;
    double loss;
    GUARDED(loss = quad_host(theta, grad));
    return loss;
}

static double quad_cpu(void *ctx, const float *theta, float *grad)
{
    (void)ctx;
    return quad_host(theta, grad);
}

static void make_problem(uint64_t *seed, float *theta0, float *decay)
{
    float tmp[N];
    tu_fill(seed, tmp, N, 0.2f, 5.0f);
    for (int i = 0; i < N; i++) qh[i] = tmp[i];
    tu_fill(seed, tmp, N, -1, 1);
    for (int i = 0; i < N; i++) qc[i] = tmp[i];
    for (int k = 0; k < K; k++) {
        tu_fill(seed, tmp, N, -0.1f, 0.1f);
        for (int i = 0; i < N; i++) qu[k][i] = tmp[i];
    }
    tu_fill(seed, theta0, N, -1, 1);
    for (int i = 0; i < N; i++) decay[i] = (float)(i % 3) * 0.5f; /* 0 for a third: biases */
}

/* ---- tests ----------------------------------------------------------------- */

static const char *const CASES[][2] = {
    {"sgd", NULL}, {"nesterov", NULL}, {"rprop", NULL}, {"cg", NULL}, {"cg", "restart=0"},
    {"lbfgs", NULL}, {"lbfgs", "restart=0,m=3"}, {"adam", NULL}, {"adamw", NULL},
};
#define NCASES (sizeof CASES / sizeof *CASES)

static void test_guarded_equals_cpu(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("guarded_equals_cpu");
    float theta0[N], decay[N];
    make_problem(&seed, theta0, decay);
    char path[64];
    snprintf(path, sizeof path, "test_optim_ops_%ld.h5", (long)getpid());
    for (size_t c = 0; c < NCASES; c++) {
        const char *name = CASES[c][0], *params = CASES[c][1];
        ekn_optim oc, og, back;
        ekn_err err = {0};
        allocs = frees = 0;
        assert_int_equal(ekn_optim_create(&oc, name, N, params, &err), 0);
        assert_int_equal(ekn_optim_create_on(&og, name, N, params, &guarded, &err), 0);
        assert_ptr_equal(oc.ops, ekn_ops_cpu());
        assert_ptr_equal(og.ops, &guarded);
        float theta[N], grad[N], got[N];
        memcpy(theta, theta0, sizeof theta);
        float *g_theta = g_alloc(sizeof theta), *g_grad = g_alloc(sizeof grad), *g_decay = g_alloc(sizeof decay);
        assert_non_null(g_theta), assert_non_null(g_grad), assert_non_null(g_decay);
        guarded.upload(g_theta, theta0, sizeof theta0);
        guarded.upload(g_decay, decay, sizeof decay);
        const ekn_hyper h = {0.02, 0.9, 0.05};
        long evals = 0;
        for (int t = 0; t < 8; t++) {
            double lc, lg;
            assert_int_equal(oc.vt->step(&oc, theta, grad, decay, &h, quad_cpu, NULL, &lc, &err), 0);
            assert_int_equal(og.vt->step(&og, g_theta, g_grad, g_decay, &h, quad_guarded, NULL, &lg, &err), 0);
            assert_memory_equal(&lc, &lg, sizeof lc);
            evals += og.diag.evals;
        }
        guarded.download(got, g_theta, sizeof got);
        assert_memory_equal(got, theta, sizeof got);
        assert_memory_equal(oc.scalar, og.scalar, sizeof oc.scalar);
        open_all();
        for (int s = 0; s < oc.vt->nstate; s++)
            assert_memory_equal(oc.state[s], og.state[s], oc.state_rows[s] * N * sizeof(float));
        close_all();

        /* checkpoint from the guarded table into a cpu optimiser */
        ekn_h5 f;
        assert_int_equal(ekn_h5_create(&f, path, &err), 0);
        assert_int_equal(ekn_optim_save(&og, &f, &err), 0);
        assert_int_equal(ekn_h5_commit(&f, &err), 0);
        assert_int_equal(ekn_optim_create(&back, name, N, params, &err), 0);
        assert_int_equal(ekn_h5_open(&f, path, &err), 0);
        assert_int_equal(ekn_optim_load(&back, &f, &err), 0);
        ekn_h5_close(&f);
        open_all();
        for (int s = 0; s < oc.vt->nstate; s++)
            assert_memory_equal(back.state[s], og.state[s], oc.state_rows[s] * N * sizeof(float));
        close_all();
        assert_memory_equal(back.scalar, og.scalar, sizeof back.scalar);
        fprintf(stderr, "%-6s %-14s 8 steps, %3ld evaluations: guarded table bit-identical to cpu, checkpoint too\n",
                name, params ? params : "", evals);

        g_free(g_theta), g_free(g_grad), g_free(g_decay);
        ekn_optim_free(&og);
        assert_int_equal(allocs, frees); /* state, work and the test's three vectors */
        ekn_optim_free(&oc);
        ekn_optim_free(&back);
    }
    unlink(path);
}

/* Each allocation of create failing in turn: an EKN_EXIT_FAIL naming the
 * bytes, nothing left allocated, the optimiser zeroed (free is harmless). */
static void test_out_of_memory(void **state)
{
    (void)state;
    for (size_t c = 0; c < NCASES; c++) {
        ekn_optim o;
        ekn_err err = {0};
        allocs = frees = 0;
        assert_int_equal(ekn_optim_create_on(&o, CASES[c][0], 1000, CASES[c][1], &guarded, &err), 0);
        int total = allocs;
        ekn_optim_free(&o);
        assert_int_equal(frees, total);
        for (int k = 0; k < total; k++) {
            allocs = frees = 0;
            fail_at = k;
            memset(&err, 0, sizeof err);
            assert_int_equal(ekn_optim_create_on(&o, CASES[c][0], 1000, CASES[c][1], &guarded, &err), -1);
            fail_at = -1;
            assert_int_equal(err.code, EKN_EXIT_FAIL);
            assert_non_null(strstr(err.msg, "out of guarded memory"));
            const char *at = strstr(err.msg, "state: ");
            unsigned long bytes = 0;
            assert_non_null(at);
            assert_int_equal(sscanf(at, "state: %lu bytes", &bytes), 1);
            assert_true(bytes >= 4000 && bytes % 4000 == 0); /* rows x 1000 floats */
            assert_int_equal(frees, k); /* the k that succeeded */
            assert_null(o.vt);
            ekn_optim_free(&o);
        }
        fprintf(stderr, "%-6s %-14s %d allocations, each failing in turn: '%s'\n", CASES[c][0],
                CASES[c][1] ? CASES[c][1] : "", total, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guarded_equals_cpu),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
