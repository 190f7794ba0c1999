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
#include "dense.h"
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
        cmocka_unit_test(test_dense_owned))
