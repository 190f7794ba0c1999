/* cpu_threads: how many threads the CPU kernels use, a way to run work on
 * them, and an SGEMM that splits its output over them.
 *
 * Why the kernels thread themselves instead of leaving it to OpenBLAS:
 * after every call it threads, an OpenBLAS worker busy-waits (sched_yield)
 * for about 2^28 cycles before it sleeps.  The conv kernels run their own
 * threads, each with single-threaded GEMMs, and on a 2-core machine the
 * spinning worker took a core from them: a U-Net step on -j 2 took longer
 * than on -j 1 (8.0 s against 6.5 s for 60 steps).  So once the count is
 * set here, OpenBLAS itself runs one thread, and every GEMM of the kernels
 * goes through ekn_sgemm_cpu, which cuts C into one slab per thread.
 *
 * Until ekn_cpu_threads_set is called, nothing changes: the count is
 * OpenBLAS's and ekn_sgemm_cpu is cblas_sgemm (as for a program that links
 * the library and never sets threads). */
#ifndef EKN_CPU_THREADS_H
#define EKN_CPU_THREADS_H
#include <cblas.h>

/* n >= 1 threads for the kernels (at most EKN_CPU_MAX_THREADS); OpenBLAS
 * is set to one thread.  n < 1: OpenBLAS's own count, which is
 * OPENBLAS_NUM_THREADS or else the cores. */
void ekn_cpu_threads_set(int n);
/* The count set above, else OpenBLAS's own count. */
int ekn_cpu_threads(void);
/* 1 once ekn_cpu_threads_set was called: the kernels own the threading. */
int ekn_cpu_threads_owned(void);

enum { EKN_CPU_MAX_THREADS = 64 };

/* Calls fn(arg, i) for i = 0..n-1 (n capped at EKN_CPU_MAX_THREADS), each
 * exactly once, and returns when all are done; everything the tasks wrote
 * is visible to the caller then.  i = 0 runs on the calling thread, the
 * others on a persistent pool of workers (created at the first call that
 * needs them, asleep on a futex between calls, joined at exit; a call
 * allocates nothing and creates no thread once they exist).  A worker that
 * cannot be created has its task run on the caller, which is merely slower.
 * Thread safety: any thread may call it.  A call made from inside a task
 * (nested), or while another thread's call holds the pool, runs its tasks
 * serially on the calling thread, in order 0..n-1, so it cannot deadlock;
 * a task must therefore not wait for another task of the same call.
 * n == 1 is fn(arg, 0) on the caller, which may itself use the pool. */
void ekn_cpu_run(int n, void (*fn)(void *arg, int i), void *arg);

/* Parallel loop for the element-wise and per-channel kernels: calls
 * fn(arg, b, e) on contiguous ranges [b, e) that cover [0, n) once, cut at
 * multiples of `grain` (so a range boundary never falls inside a grain:
 * a grain may be a plane or a row), at most one range per thread, of
 * nearly equal numbers of grains.  Serial (one call fn(arg, 0, n)) unless
 * the kernels own more than one thread (ekn_cpu_threads_owned) and
 * n >= min_split.  The ranges must be independent (no
 * range reads what another writes); results then do not depend on the
 * thread count.  Calls made inside a task run serially (ekn_cpu_run). */
void ekn_cpu_for(size_t n, size_t grain, size_t min_split, void (*fn)(void *arg, size_t b, size_t e),
                 void *arg);
/* The size from which the element-wise kernels split (ekn_cpu_for's
 * min_split): 2^16 floats, some 20-60 us of one pass, against some 5 us
 * to wake a worker. */
enum { EKN_CPU_SPLIT_MIN = 1 << 16 };

/* Row-major cblas_sgemm: C (M x N) = alpha op(A) op(B) + beta C.  When the
 * kernels own the threads and the product is large enough, the larger of M
 * and N is cut into slabs (multiples of 16), one single-threaded SGEMM per
 * thread; every element of C is still one SGEMM's sum over K. */
void ekn_sgemm_cpu(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);
#endif
