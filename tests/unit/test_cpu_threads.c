/* cpu_threads: the threaded SGEMM against a plain double-precision product
 * for every transpose pair, sizes that split into uneven slabs along rows
 * and along columns, padded leading dimensions, alpha and beta; ekn_cpu_run
 * runs every task once, over 10^4 pool calls of varying counts, nested
 * calls run serially on the task's thread, callers on several threads at
 * once; the dense kernels agree with their reference while
 * the kernels own the threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "cpu_threads.h"
#include "act.h"
#include "crop.h"
#include "dense.h"
#include "norm.h"
#include "pool.h"
#include "upconv.h"
#include "vec.h"
#include "testutil.h"

static void gemm_double(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A,
                        int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta == CblasNoTrans ? A[(size_t)i * lda + k] : A[(size_t)k * lda + i];
                double b = tb == CblasNoTrans ? B[(size_t)k * ldb + j] : B[(size_t)j * ldb + k];
                acc += a * b;
            }
            C[(size_t)i * ldc + j] = (float)(alpha * acc + beta * C[(size_t)i * ldc + j]);
        }
}

static void test_sgemm_split(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("cpu_threads sgemm");
    /* M*N*K per thread >= 2^21 for the first two, so they split (columns,
     * then rows) into 2 or 3 slabs whose last is shorter; the last is too
     * small to split and takes the plain call */
    static const int sizes[][3] = {{33, 2000, 100}, {700, 160, 64}, {5, 7, 3}};
    static const int threads[] = {2, 3, 7};
    size_t bad = 0;
    for (size_t ti = 0; ti < sizeof threads / sizeof *threads; ti++) {
        ekn_cpu_threads_set(threads[ti]);
        assert_int_equal(ekn_cpu_threads(), threads[ti]);
        assert_true(ekn_cpu_threads_owned());
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
            for (int t = 0; t < 4; t++) {
                CBLAS_TRANSPOSE ta = t & 1 ? CblasTrans : CblasNoTrans, tb = t & 2 ? CblasTrans : CblasNoTrans;
                int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                int arows = ta == CblasNoTrans ? M : K, acols = ta == CblasNoTrans ? K : M;
                int brows = tb == CblasNoTrans ? K : N, bcols = tb == CblasNoTrans ? N : K;
                int lda = acols + 3, ldb = bcols + 1, ldc = N + 5;
                float *A = tu_alloc((size_t)arows * lda), *B = tu_alloc((size_t)brows * ldb);
                float *C = tu_alloc((size_t)M * ldc), *R = tu_alloc((size_t)M * ldc);
                tu_fill(&st, A, (size_t)arows * lda, -1, 1);
                tu_fill(&st, B, (size_t)brows * ldb, -1, 1);
                tu_fill(&st, C, (size_t)M * ldc, -1, 1);
                memcpy(R, C, (size_t)M * ldc * sizeof *R);
                ekn_sgemm_cpu(ta, tb, M, N, K, 1.25f, A, lda, B, ldb, 0.5f, C, ldc);
                gemm_double(ta, tb, M, N, K, 1.25f, A, lda, B, ldb, 0.5f, R, ldc);
                char what[96];
                snprintf(what, sizeof what, "sgemm %c%c %dx%dx%d on %d threads", t & 1 ? 'T' : 'N',
                         t & 2 ? 'T' : 'N', M, N, K, threads[ti]);
                /* the padding between rows must be left alone, so compare it too */
                bad += tu_compare(what, C, R, (size_t)M * ldc, 1e-5 * K, 1e-5);
                free(A), free(B), free(C), free(R);
            }
    }
    assert_int_equal(bad, 0);
}

static void count_task(void *arg, int i)
{
    int *hits = arg;
    __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
}

static void test_run_every_task_once(void **state)
{
    (void)state;
    for (int n = 1; n <= 9; n += 4) {
        int hits[EKN_CPU_MAX_THREADS] = {0};
        ekn_cpu_run(n, count_task, hits);
        for (int i = 0; i < EKN_CPU_MAX_THREADS; i++) assert_int_equal(hits[i], i < n);
    }
}

/* the pool: 10^4 calls with n cycling through 1..EKN_CPU_MAX_THREADS+2
 * (over the limit it is capped), each task index run exactly once per
 * call; a generation stamp catches a task run for a stale call */
typedef struct {
    int hits[EKN_CPU_MAX_THREADS];
    int stamp[EKN_CPU_MAX_THREADS];
    int call;
} many_job;

static void many_task(void *arg, int i)
{
    many_job *j = arg;
    __atomic_fetch_add(&j->hits[i], 1, __ATOMIC_RELAXED);
    j->stamp[i] = j->call;
}

static void test_run_many_calls(void **state)
{
    (void)state;
    ekn_cpu_threads_set(4);
    many_job j;
    memset(&j, 0, sizeof j);
    size_t bad = 0;
    for (int call = 1; call <= 10000; call++) {
        int n = 1 + call % (EKN_CPU_MAX_THREADS + 2), m = n < EKN_CPU_MAX_THREADS ? n : EKN_CPU_MAX_THREADS;
        if (call % 3) n = m = 1 + call % 5; /* mostly the small counts kernels use */
        j.call = call;
        ekn_cpu_run(n, many_task, &j);
        for (int i = 0; i < EKN_CPU_MAX_THREADS; i++) {
            int want = i < m;
            if (j.hits[i] != want || (want && j.stamp[i] != call)) {
                if (bad++ < 5) print_error("call %d n %d: task %d ran %d times\n", call, n, i, j.hits[i]);
            }
            j.hits[i] = 0;
        }
    }
    assert_int_equal(bad, 0);
}

/* a task that calls ekn_cpu_run: the inner call runs its tasks in order on
 * the task's own thread, and the outer call still completes */
typedef struct {
    pthread_t self[EKN_CPU_MAX_THREADS];
    int order[EKN_CPU_MAX_THREADS][8];
    int count[EKN_CPU_MAX_THREADS];
    int same_thread[EKN_CPU_MAX_THREADS][8];
} nest_job;

typedef struct {
    nest_job *j;
    int outer;
} nest_inner;

static void inner_task(void *arg, int i)
{
    nest_inner *in = arg;
    nest_job *j = in->j;
    int k = j->count[in->outer]++;
    j->order[in->outer][k] = i;
    j->same_thread[in->outer][k] = pthread_equal(pthread_self(), j->self[in->outer]);
}

static void outer_task(void *arg, int i)
{
    nest_job *j = arg;
    j->self[i] = pthread_self();
    nest_inner in = {j, i};
    ekn_cpu_run(8, inner_task, &in);
}

static void test_run_nested(void **state)
{
    (void)state;
    ekn_cpu_threads_set(3);
    for (int rep = 0; rep < 100; rep++) {
        nest_job j;
        memset(&j, 0, sizeof j);
        ekn_cpu_run(3, outer_task, &j);
        for (int o = 0; o < 3; o++) {
            assert_int_equal(j.count[o], 8);
            for (int k = 0; k < 8; k++) {
                assert_int_equal(j.order[o][k], k);
                assert_true(j.same_thread[o][k]);
            }
        }
    }
}

/* callers on several threads at once: one owns the pool, the others run
 * their tasks serially; every task still runs once */
static void *racing_caller(void *arg)
{
    int *bad = arg;
    for (int call = 0; call < 2000; call++) {
        int hits[EKN_CPU_MAX_THREADS] = {0}, n = 1 + call % 4;
        ekn_cpu_run(n, count_task, hits);
        for (int i = 0; i < EKN_CPU_MAX_THREADS; i++) *bad += hits[i] != (i < n);
    }
    return NULL;
}

static void test_run_concurrent_callers(void **state)
{
    (void)state;
    ekn_cpu_threads_set(4);
    pthread_t t[3];
    int bad[3] = {0};
    for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, racing_caller, &bad[i]), 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) assert_int_equal(bad[i], 0);
}

/* ekn_cpu_for: the ranges cover [0, n) once, are cut at multiples of the
 * grain, one per thread once n >= min_split, one range below it */
typedef struct {
    int hits[5000];
    size_t b[EKN_CPU_MAX_THREADS], e[EKN_CPU_MAX_THREADS];
    int ranges;
} for_record;

static void for_mark(void *arg, size_t b, size_t e)
{
    for_record *r = arg;
    int k = __atomic_fetch_add(&r->ranges, 1, __ATOMIC_RELAXED);
    r->b[k] = b, r->e[k] = e;
    for (size_t i = b; i < e; i++) r->hits[i]++;
}

static void test_for_ranges(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 7, 100, 999, 5000};
    static const size_t grains[] = {1, 16, 33};
    for (int t = 1; t <= 5; t++) {
        ekn_cpu_threads_set(t);
        for (size_t ni = 0; ni < 5; ni++)
            for (size_t gi = 0; gi < 3; gi++)
                for (size_t min = 1; min <= 1000; min *= 1000) {
                    size_t n = ns[ni], grain = grains[gi];
                    static for_record r;
                    memset(&r, 0, sizeof r);
                    ekn_cpu_for(n, grain, min, for_mark, &r);
                    for (size_t i = 0; i < n; i++) assert_int_equal(r.hits[i], 1);
                    size_t grains_n = (n + grain - 1) / grain;
                    int want = n < min ? 1 : (size_t)t < grains_n ? t : (int)grains_n;
                    assert_int_equal(r.ranges, want);
                    for (int k = 0; k < r.ranges; k++) {
                        assert_true(r.b[k] % grain == 0);
                        assert_true(r.e[k] % grain == 0 || r.e[k] == n);
                    }
                }
    }
}

/* The threaded kernels give, bit for bit, what they give on one thread
 * (which test_pool, test_act, test_norm and test_optim check against
 * _ref): each is run with 1, 2 and 3 kernel threads on sizes above
 * EKN_CPU_SPLIT_MIN (and one below), and the outputs compared with memcmp. */
static int same(const char *what, int threads, const void *a, const void *b, size_t bytes)
{
    if (!memcmp(a, b, bytes)) return 0;
    print_error("%s: %d threads differ from 1 thread\n", what, threads);
    return 1;
}

static void test_kernels_thread_count_free(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("cpu_threads kernels");
    int bad = 0;
    /* pooling: (5, 7, 3, 40, 62) by (1, 2, 2), and a small one */
    static const int shapes[][5] = {{5, 7, 3, 40, 62}, {1, 3, 1, 8, 8}};
    for (int si = 0; si < 2; si++) {
        const int *sh = shapes[si], in[3] = {sh[2], sh[3], sh[4]}, p[3] = {1, 2, 2};
        for (int mode = 0; mode < 2; mode++) {
            ekn_pool_geom g;
            assert_int_equal(ekn_pool_geom_init(&g, sh[0], sh[1], in, p), 0);
            g.mode = mode ? EKN_POOL_MAXABS : EKN_POOL_MAX;
            size_t nx = (size_t)g.n * g.c * in[0] * in[1] * in[2], ny = (size_t)g.n * g.c * g.out[0] * g.out[1] * g.out[2];
            float *x = tu_alloc(nx), *dy = tu_alloc(ny), *y[2], *dx[2];
            int32_t *arg[2];
            tu_fill(&st, x, nx, -1, 1);
            tu_fill(&st, dy, ny, -1, 1);
            for (int k = 0; k < 2; k++) {
                y[k] = tu_alloc(ny), dx[k] = tu_alloc(nx);
                arg[k] = malloc(ny * sizeof *arg[k]);
            }
            for (int t = 1; t <= 3; t++) {
                int k = t > 1;
                ekn_cpu_threads_set(t);
                ekn_maxpool_forward_cpu(&g, x, y[k], arg[k]);
                ekn_maxpool_backward_cpu(&g, dy, arg[k], dx[k]);
                if (!k) continue;
                bad += same("maxpool y", t, y[0], y[1], ny * sizeof(float));
                bad += same("maxpool arg", t, arg[0], arg[1], ny * sizeof(int32_t));
                bad += same("maxpool dx", t, dx[0], dx[1], nx * sizeof(float));
            }
            for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(arg[k]);
            free(x), free(dy);
        }
    }
    /* activations, apart and in place, 300001 and 1000 floats */
    static const ekn_act acts[] = {EKN_ACT_RELU, EKN_ACT_TANH, EKN_ACT_ELU, EKN_ACT_SILU};
    static const size_t sizes[] = {300001, 1000};
    for (size_t ai = 0; ai < 4; ai++)
        for (size_t zi = 0; zi < 2; zi++) {
            size_t n = sizes[zi];
            float *x = tu_alloc(n), *dy = tu_alloc(n), *y[2], *dx[2], *yi[2], *dxi[2];
            tu_fill(&st, x, n, -2, 2);
            tu_fill(&st, dy, n, -1, 1);
            for (int k = 0; k < 2; k++) y[k] = tu_alloc(n), dx[k] = tu_alloc(n), yi[k] = tu_alloc(n), dxi[k] = tu_alloc(n);
            for (int t = 1; t <= 3; t++) {
                int k = t > 1;
                ekn_cpu_threads_set(t);
                ekn_act_forward_cpu(acts[ai], 0.7f, n, x, y[k]);
                ekn_act_backward_cpu(acts[ai], 0.7f, n, x, y[k], dy, dx[k]);
                memcpy(yi[k], x, n * sizeof(float));
                ekn_act_forward_cpu(acts[ai], 0.7f, n, yi[k], yi[k]);
                memcpy(dxi[k], dy, n * sizeof(float));
                ekn_act_backward_cpu(acts[ai], 0.7f, n, x, y[k], dxi[k], dxi[k]);
                if (!k) continue;
                bad += same("act y", t, y[0], y[1], n * sizeof(float));
                bad += same("act dx", t, dx[0], dx[1], n * sizeof(float));
                bad += same("act y in place", t, yi[0], yi[1], n * sizeof(float));
                bad += same("act dx in place", t, dxi[0], dxi[1], n * sizeof(float));
            }
            for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(yi[k]), free(dxi[k]);
            free(x), free(dy);
        }
    /* batch norm: (3, 17, 2000) and (2, 5, 7) */
    static const int bshapes[][3] = {{3, 17, 2000}, {2, 5, 7}};
    for (int si = 0; si < 2; si++) {
        int n = bshapes[si][0], c = bshapes[si][1];
        size_t s = (size_t)bshapes[si][2], nx = (size_t)n * c * s;
        float *x = tu_alloc(nx), *dy = tu_alloc(nx), *gamma = tu_alloc(c), *beta = tu_alloc(c);
        tu_fill(&st, x, nx, -1, 3);
        tu_fill(&st, dy, nx, -1, 1);
        tu_fill(&st, gamma, c, 0.5f, 2);
        tu_fill(&st, beta, c, -1, 1);
        float *out[2][7];
        for (int k = 0; k < 2; k++) {
            out[k][0] = tu_alloc(nx), out[k][1] = tu_alloc(nx);
            for (int q = 2; q < 7; q++) out[k][q] = tu_alloc(c);
        }
        for (int t = 1; t <= 3; t++) {
            int k = t > 1;
            ekn_cpu_threads_set(t);
            float **o = out[k]; /* y, dx, mean, invstd, run_mean, dgamma, dbeta */
            for (int q = 4; q < 7; q++) memset(o[q], 0, c * sizeof(float));
            ekn_bn_forward_train_cpu(n, c, s, x, gamma, beta, 1e-5f, 0.1f, o[4], NULL, o[0], o[2], o[3]);
            ekn_bn_backward_cpu(n, c, s, x, gamma, o[2], o[3], dy, o[1], o[5], o[6]);
            if (!k) continue;
            bad += same("bn y", t, out[0][0], o[0], nx * sizeof(float));
            bad += same("bn dx", t, out[0][1], o[1], nx * sizeof(float));
            for (int q = 2; q < 7; q++) bad += same("bn statistics and dgamma, dbeta", t, out[0][q], o[q], c * sizeof(float));
        }
        for (int k = 0; k < 2; k++)
            for (int q = 0; q < 7; q++) free(out[k][q]);
        free(x), free(dy), free(gamma), free(beta);
    }
    /* sgd, nesterov, adam, adamw over 200003 and 999 parameters, 3 steps */
    for (size_t zi = 0; zi < 2; zi++) {
        size_t n = zi ? 999 : 200003;
        float *grad = tu_alloc(n), *decay = tu_alloc(n), *th0 = tu_alloc(n), *st0 = tu_alloc(n);
        tu_fill(&st, grad, n, -1, 1);
        tu_fill(&st, decay, n, 0, 1);
        tu_fill(&st, th0, n, -1, 1);
        tu_fill(&st, st0, n, 0, 0.5f);
        for (int rule = 0; rule < 4; rule++) {
            float *th[2], *m[2], *v[2];
            for (int t = 1; t <= 3; t++) {
                int k = t > 1;
                ekn_cpu_threads_set(t);
                if (t <= 2) th[k] = tu_alloc(n), m[k] = tu_alloc(n), v[k] = tu_alloc(n);
                memcpy(th[k], th0, n * sizeof(float));
                memcpy(m[k], st0, n * sizeof(float));
                memcpy(v[k], st0, n * sizeof(float));
                for (int step = 1; step <= 3; step++) {
                    if (rule < 2)
                        ekn_vec_cpu.sgd(n, th[k], grad, v[k], decay, 0.01f, 0.9f, 1e-3f, rule);
                    else
                        ekn_vec_cpu.adam(n, th[k], grad, m[k], v[k], decay, 0.001f, 1e-2f, 0.9, 0.999, 1e-8, step, rule - 2);
                }
                if (!k) continue;
                bad += same("optimiser theta", t, th[0], th[1], n * sizeof(float));
                bad += same("optimiser m", t, m[0], m[1], n * sizeof(float));
                bad += same("optimiser v", t, v[0], v[1], n * sizeof(float));
            }
            for (int k = 0; k < 2; k++) free(th[k]), free(m[k]), free(v[k]);
        }
        free(grad), free(decay), free(th0), free(st0);
    }
    /* up-convolution copies and db: (2, 2 -> 20) by 2x2 over 24x40 (76800
     * outputs per example; the SGEMMs, 154 k multiply-adds, do not split) */
    {
        ekn_upconv_geom g;
        const int in[3] = {1, 24, 40}, f[3] = {1, 2, 2};
        assert_int_equal(ekn_upconv_geom_init(&g, 2, 2, 20, in, f), 0);
        size_t nx = (size_t)g.n * g.cin * 24 * 40, ny = (size_t)g.n * g.cout * 48 * 80, nw = (size_t)g.cin * g.cout * 4;
        float *x = tu_alloc(nx), *w = tu_alloc(nw), *b = tu_alloc(g.cout), *dy = tu_alloc(ny);
        float *work = tu_alloc(ekn_upconv_workspace_floats(&g));
        tu_fill(&st, x, nx, -1, 1);
        tu_fill(&st, w, nw, -1, 1);
        tu_fill(&st, b, g.cout, -1, 1);
        tu_fill(&st, dy, ny, -1, 1);
        float *y[2], *dx[2], *dw[2], *db[2];
        for (int k = 0; k < 2; k++) y[k] = tu_alloc(ny), dx[k] = tu_alloc(nx), dw[k] = tu_alloc(nw), db[k] = tu_alloc(g.cout);
        for (int t = 1; t <= 3; t++) {
            int k = t > 1;
            ekn_cpu_threads_set(t);
            memset(dw[k], 0, nw * sizeof(float));
            memset(db[k], 0, g.cout * sizeof(float));
            ekn_upconv_forward_cpu(&g, x, w, b, y[k], work);
            ekn_upconv_backward_cpu(&g, x, w, dy, dx[k], dw[k], db[k], work);
            if (!k) continue;
            bad += same("upconv y", t, y[0], y[1], ny * sizeof(float));
            bad += same("upconv dx", t, dx[0], dx[1], nx * sizeof(float));
            bad += same("upconv dw", t, dw[0], dw[1], nw * sizeof(float));
            bad += same("upconv db", t, db[0], db[1], g.cout * sizeof(float));
        }
        for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dw[k]), free(db[k]);
        free(x), free(w), free(b), free(dy), free(work);
    }
    /* crop: (3, 6) planes 1x50x60 windowed to 1x40x44 into channels 2..7 of
     * 9 (forward copy and add, backward add), and axpy over 300001 floats */
    {
        ekn_crop_geom g;
        const int in[3] = {1, 50, 60}, off[3] = {0, 4, 7}, out[3] = {1, 40, 44};
        assert_int_equal(ekn_crop_geom_init(&g, 3, 6, in, off, out, 9, 2), 0);
        size_t nx = (size_t)3 * 6 * 50 * 60, ny = (size_t)3 * 9 * 40 * 44;
        float *x = tu_alloc(nx), *y0 = tu_alloc(ny), *y[2], *ya[2], *dx[2];
        tu_fill(&st, x, nx, -1, 1);
        tu_fill(&st, y0, ny, -1, 1);
        for (int k = 0; k < 2; k++) y[k] = tu_alloc(ny), ya[k] = tu_alloc(ny), dx[k] = tu_alloc(nx);
        for (int t = 1; t <= 3; t++) {
            int k = t > 1;
            ekn_cpu_threads_set(t);
            memcpy(y[k], y0, ny * sizeof(float));
            memcpy(ya[k], y0, ny * sizeof(float));
            memcpy(dx[k], x, nx * sizeof(float));
            ekn_crop_forward_cpu(&g, x, y[k], 0);
            ekn_crop_forward_cpu(&g, x, ya[k], 1);
            ekn_crop_backward_cpu(&g, y0, dx[k]);
            if (!k) continue;
            bad += same("crop y", t, y[0], y[1], ny * sizeof(float));
            bad += same("crop y accumulated", t, ya[0], ya[1], ny * sizeof(float));
            bad += same("crop dx", t, dx[0], dx[1], nx * sizeof(float));
        }
        for (int k = 0; k < 2; k++) free(y[k]), free(ya[k]), free(dx[k]);
        free(x), free(y0);
        size_t n = 300001;
        float *a = tu_alloc(n), *b0 = tu_alloc(n), *b[2];
        tu_fill(&st, a, n, -1, 1);
        tu_fill(&st, b0, n, -1, 1);
        for (int k = 0; k < 2; k++) b[k] = tu_alloc(n);
        for (int t = 1; t <= 3; t++) {
            int k = t > 1;
            ekn_cpu_threads_set(t);
            memcpy(b[k], b0, n * sizeof(float));
            ekn_vec_cpu.axpy(n, 0.37f, a, b[k]);
            if (k) bad += same("axpy", t, b[0], b[1], n * sizeof(float));
        }
        free(a), free(b0), free(b[0]), free(b[1]);
    }
    assert_int_equal(bad, 0);
}

static void test_dense_owned(void **state)
{
    (void)state;
    uint64_t st = tu_seed_for("cpu_threads dense");
    ekn_cpu_threads_set(3);
    const int n = 64, in = 784, out = 100; /* 5 M multiply-adds: split in two */
    float *x = tu_alloc((size_t)n * in), *w = tu_alloc((size_t)out * in), *b = tu_alloc(out);
    float *y = tu_alloc((size_t)n * out), *yr = tu_alloc((size_t)n * out), *dy = tu_alloc((size_t)n * out);
    float *dx = tu_alloc((size_t)n * in), *dxr = tu_alloc((size_t)n * in);
    float *dw = tu_alloc((size_t)out * in), *dwr = tu_alloc((size_t)out * in), *db = tu_alloc(out),
          *dbr = tu_alloc(out);
    tu_fill(&st, x, (size_t)n * in, -1, 1);
    tu_fill(&st, w, (size_t)out * in, -0.1f, 0.1f);
    tu_fill(&st, b, out, -1, 1);
    tu_fill(&st, dy, (size_t)n * out, -1, 1);
    ekn_dense_forward_cpu(n, in, out, x, w, b, y);
    ekn_dense_forward_ref(n, in, out, x, w, b, yr);
    ekn_dense_backward_cpu(n, in, out, x, w, dy, dx, dw, db);
    ekn_dense_backward_ref(n, in, out, x, w, dy, dxr, dwr, dbr);
    size_t bad = tu_compare("dense y, 3 threads", y, yr, (size_t)n * out, 1e-5, 1e-4);
    bad += tu_compare("dense dx, 3 threads", dx, dxr, (size_t)n * in, 1e-5, 1e-4);
    bad += tu_compare("dense dw, 3 threads", dw, dwr, (size_t)out * in, 1e-5, 1e-4);
    bad += tu_compare("dense db, 3 threads", db, dbr, out, 1e-5, 1e-4);
    free(x), free(w), free(b), free(y), free(yr), free(dy), free(dx), free(dxr), free(dw), free(dwr), free(db),
        free(dbr);
    assert_int_equal(bad, 0);
}

TU_MAIN(cmocka_unit_test(test_sgemm_split),
        cmocka_unit_test(test_run_every_task_once),
        cmocka_unit_test(test_run_many_calls),
        cmocka_unit_test(test_run_nested),
        cmocka_unit_test(test_run_concurrent_callers),
        cmocka_unit_test(test_for_ranges),
        cmocka_unit_test(test_kernels_thread_count_free),
        cmocka_unit_test(test_dense_owned))
