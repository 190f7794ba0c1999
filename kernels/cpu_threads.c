/* cpu_threads: see cpu_threads.h for why the kernels own their threads.
 *
 * The pool.  Worker w (1..EKN_CPU_MAX_THREADS-1) has a slot of its own:
 * the caller writes the job into it and bumps its sequence number (a
 * futex word); the worker sleeps on that word.  Only the workers a call
 * needs are woken.  The caller runs task 0, then sleeps (futex) until
 * `remaining` reaches 0.  A worker is given
 * a new job only once it has finished its last one (the caller waited for
 * it), so a slot is never written while its worker reads it.  Workers
 * start at the first call that needs them and are joined at exit. */
#include "cpu_threads.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* No spinning before a waiting thread sleeps: on the loaded 2-core build
 * machine, an empty 2-task call took 5.5 us with none, 8-12 us with a 2 us
 * spin and 20-36 us with a 20 us spin (the spinner takes the core the
 * other side needs); with 20 us of work per task, 24-38 us against 39-86
 * us.  Creating a thread per call, as before, took 60-100 us. */

static void futex_wait(atomic_uint *w, unsigned val)
{
    syscall(SYS_futex, (unsigned *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *w, int n) { syscall(SYS_futex, (unsigned *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0); }

typedef struct {
    atomic_uint seq;      /* bumped by the caller for every job (futex word) */
    atomic_int sleeping;  /* the worker is (about to be) in futex_wait on seq */
    void (*fn)(void *arg, int i);
    void *arg;
    int quit;
    pthread_t tid;
} slot;

static slot slots[EKN_CPU_MAX_THREADS];
static int workers;              /* slots 1..workers have a thread */
static atomic_int busy;          /* a call owns the pool */
static atomic_uint remaining;    /* tasks of the current call not yet done by workers (futex word) */
static atomic_int caller_waits;  /* the caller is (about to be) in futex_wait on remaining */
static _Thread_local int in_task; /* this thread runs a task of ekn_cpu_run */

static void *worker(void *p)
{
    slot *s = p;
    const int i = (int)(s - slots);
    unsigned seen = 0;
    in_task = 1;
    for (;;) {
        unsigned q;
        while ((q = atomic_load_explicit(&s->seq, memory_order_acquire)) == seen) {
            atomic_store(&s->sleeping, 1);
            /* seq_cst store, then load: the caller either sees sleeping or
             * has bumped seq, which futex_wait then finds changed */
            if (atomic_load(&s->seq) == seen) futex_wait(&s->seq, seen);
            atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
        }
        seen = q;
        if (s->quit) return NULL;
        s->fn(s->arg, i);
        if (atomic_fetch_sub(&remaining, 1) == 1 && atomic_load(&caller_waits)) futex_wake(&remaining, 1);
    }
}

static void give(slot *s)
{
    atomic_fetch_add(&s->seq, 1); /* seq_cst: before the load of sleeping */
    if (atomic_load(&s->sleeping)) futex_wake(&s->seq, 1);
}

static void shutdown_pool(void)
{
    int expect = 0;
    /* a call still running (exit from inside a task) keeps its workers */
    if (!atomic_compare_exchange_strong(&busy, &expect, 1)) return;
    for (int w = 1; w <= workers; w++) {
        slots[w].quit = 1;
        give(&slots[w]);
    }
    for (int w = 1; w <= workers; w++) pthread_join(slots[w].tid, NULL);
    workers = 0;
    atomic_store(&busy, 0);
}

/* A forked child has the calling thread only. */
static void forget_pool(void)
{
    workers = 0;
    atomic_store(&busy, 0);
    for (int w = 0; w < EKN_CPU_MAX_THREADS; w++) {
        atomic_store(&slots[w].seq, 0);
        atomic_store(&slots[w].sleeping, 0);
    }
}

/* Starts workers up to slot n-1; returns how many there are. */
static int grow(int n)
{
    static int registered;
    if (!registered) {
        registered = 1;
        atexit(shutdown_pool);
        pthread_atfork(NULL, NULL, forget_pool);
    }
    while (workers < n - 1) {
        slot *s = &slots[workers + 1];
        s->quit = 0;
        atomic_store(&s->seq, 0);
        atomic_store(&s->sleeping, 0);
        if (pthread_create(&s->tid, NULL, worker, s)) break;
        workers++;
    }
    return workers;
}

void ekn_cpu_run(int n, void (*fn)(void *arg, int i), void *arg)
{
    if (n > EKN_CPU_MAX_THREADS) n = EKN_CPU_MAX_THREADS;
    if (n <= 0) return;
    int expect = 0;
    if (n == 1 || in_task || !atomic_compare_exchange_strong(&busy, &expect, 1)) {
        /* one task, a nested call, or another thread's call owns the pool */
        for (int i = 0; i < n; i++) fn(arg, i);
        return;
    }
    int have = grow(n), given = n - 1 < have ? n - 1 : have;
    atomic_store_explicit(&remaining, (unsigned)given, memory_order_relaxed);
    atomic_store_explicit(&caller_waits, 0, memory_order_relaxed);
    for (int w = 1; w <= given; w++) {
        slots[w].fn = fn;
        slots[w].arg = arg;
        give(&slots[w]);
    }
    in_task = 1;
    fn(arg, 0);
    for (int i = given + 1; i < n; i++) fn(arg, i); /* tasks without a worker */
    in_task = 0;
    unsigned r;
    while ((r = atomic_load_explicit(&remaining, memory_order_acquire)) != 0) {
        atomic_store(&caller_waits, 1);
        if ((r = atomic_load(&remaining)) != 0) futex_wait(&remaining, r);
    }
    atomic_store(&busy, 0);
}

typedef struct {
    size_t n, grain;
    int parts;
    void (*fn)(void *arg, size_t b, size_t e);
    void *arg;
} for_job;

static void for_part(void *p, int i)
{
    const for_job *j = p;
    size_t grains = (j->n + j->grain - 1) / j->grain;
    size_t b = grains * (size_t)i / (size_t)j->parts * j->grain, e = grains * (size_t)(i + 1) / (size_t)j->parts * j->grain;
    if (e > j->n) e = j->n;
    if (b < e) j->fn(j->arg, b, e);
}

void ekn_cpu_for(size_t n, size_t grain, size_t min_split, void (*fn)(void *arg, size_t b, size_t e), void *arg)
{
    if (n == 0) return;
    if (grain < 1) grain = 1;
    size_t parts = threads_set, grains = (n + grain - 1) / grain;
    if (min_split < 1) min_split = 1;
    if (n < min_split) parts = 1;
    if (parts > grains) parts = grains;
    if (parts <= 1 || in_task) {
        fn(arg, 0, n);
        return;
    }
    for_job j = {n, grain, (int)parts, fn, arg};
    ekn_cpu_run((int)parts, for_part, &j);
}

/* Below this many multiply-adds per extra thread, splitting costs more
 * than it saves (measured when a call started threads, some 20 us or 1-2 M
 * multiply-adds; a pool wake is some 5 us, but a smaller slab also runs
 * OpenBLAS less efficiently, so the threshold stays). */
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
