/* cpu_threads: see cpu_threads.h for why the kernels own their threads. */
#include "cpu_threads.h"

#include <pthread.h>

static int threads_set; /* 0 until ekn_cpu_threads_set */

void ekn_cpu_threads_set(int n)
{
    if (n < 1) n = openblas_get_num_threads(); /* OPENBLAS_NUM_THREADS, else the cores */
    if (n < 1) n = 1;
    threads_set = n < EKN_CPU_MAX_THREADS ? n : EKN_CPU_MAX_THREADS;
    openblas_set_num_threads(1);
}

int ekn_cpu_threads(void)
{
    if (threads_set) return threads_set;
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : n < EKN_CPU_MAX_THREADS ? n : EKN_CPU_MAX_THREADS;
}

int ekn_cpu_threads_owned(void) { return threads_set > 0; }

typedef struct {
    void (*fn)(void *arg, int i);
    void *arg;
    int i;
} run_task;

static void *run_one(void *p)
{
    run_task *t = p;
    t->fn(t->arg, t->i);
    return NULL;
}

void ekn_cpu_run(int n, void (*fn)(void *arg, int i), void *arg)
{
    if (n > EKN_CPU_MAX_THREADS) n = EKN_CPU_MAX_THREADS;
    pthread_t tid[EKN_CPU_MAX_THREADS];
    run_task task[EKN_CPU_MAX_THREADS];
    int started[EKN_CPU_MAX_THREADS] = {0};
    for (int i = 1; i < n; i++) {
        task[i] = (run_task){fn, arg, i};
        started[i] = !pthread_create(&tid[i], NULL, run_one, &task[i]);
    }
    if (n > 0) fn(arg, 0);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            fn(arg, i);
    }
}

/* Below this many multiply-adds per extra thread, starting it costs more
 * than it saves (a thread start is some 20 us, 1-2 M multiply-adds). */
#define MIN_WORK_PER_THREAD (1 << 21)

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, by_rows, parts;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_slab(void *arg, int i)
{
    const gemm_job *j = arg;
    int len = j->by_rows ? j->M : j->N;
    int per = (len + j->parts - 1) / j->parts;
    per = (per + 15) / 16 * 16;
    int b = i * per, e = b + per < len ? b + per : len;
    if (b >= e) return;
    if (j->by_rows) { /* rows b..e of C: rows of op(A) */
        const float *A = j->A + (size_t)b * (j->ta == CblasNoTrans ? (size_t)j->lda : 1);
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, e - b, j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, j->beta,
                    j->C + (size_t)b * j->ldc, j->ldc);
    } else { /* columns b..e of C: columns of op(B) */
        const float *B = j->B + (size_t)b * (j->tb == CblasNoTrans ? 1 : (size_t)j->ldb);
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, j->M, e - b, j->K, j->alpha, j->A, j->lda, B, j->ldb, j->beta,
                    j->C + b, j->ldc);
    }
}

void ekn_sgemm_cpu(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int parts = threads_set;
    double work = (double)M * N * K;
    if (parts > 1 && work / parts < MIN_WORK_PER_THREAD) parts = (int)(work / MIN_WORK_PER_THREAD);
    int by_rows = M >= N, len = by_rows ? M : N;
    if (parts > (len + 15) / 16) parts = (len + 15) / 16;
    if (parts <= 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, by_rows, parts, alpha, beta, A, B, C};
    ekn_cpu_run(parts, gemm_slab, &j);
}
