/* dist_mpi: dist.h over MPI (a build that found OpenMPI; MPI=0 builds
 * dist_single.c instead).  The reductions' order and algorithm: dist.h. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

static int joined, rank, size = 1;
static void *work;        /* the reduce-scatter's receive buffer */
static size_t work_bytes;
static int *counts;       /* its 4 x size counts and displacements, made once: a step allocates nothing */
static char tag[32];

int ekn_dist_built(void) { return 1; }

const char *ekn_dist_library(void)
{
    static char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!v[0] && MPI_Get_library_version(v, &len) == MPI_SUCCESS) v[strcspn(v, "\n")] = 0;
    return v[0] ? v : "MPI";
}

static int mpi_err(ekn_err *err, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return ekn_err_set(err, EKN_EXIT_FAIL, "%s failed: %s", what, msg);
}

static void die_hook(int code)
{
    fflush(NULL);
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code);
}

int ekn_dist_init(int *argc, char ***argv, ekn_err *err)
{
    const char *off = getenv("EKN_MPI");
    if (off && !strcmp(off, "0")) return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK")) return 0;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return mpi_err(err, rc, "MPI_Init");
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) {
        snprintf(tag, sizeof tag, "rank %d", rank);
        ekn_diag_set_rank(tag, rank != 0, die_hook);
    }
    return 0;
}

int ekn_dist_rank(void) { return rank; }
int ekn_dist_size(void) { return size; }

void ekn_dist_finalize(void)
{
    free(work);
    work = NULL;
    work_bytes = 0;
    free(counts);
    counts = NULL;
    if (joined) MPI_Finalize();
    joined = 0;
}

void ekn_dist_abort(int code, const char *msg)
{
    if (size > 1) fprintf(stderr, "%s: rank %d: %s\n", ekn_progname(), rank, msg);
    else fprintf(stderr, "%s: %s\n", ekn_progname(), msg);
    if (joined) die_hook(code);
    exit(code);
}

/* values per round: MPI's counts are ints */
#define ROUND ((size_t)1 << 26)
/* at most this many values go by one all-gather (latency over bandwidth) */
#define SMALL ((size_t)256)

static int sum_any(void *buf, size_t n, size_t es, MPI_Datatype type, ekn_err *err)
{
    if (size == 1 || n == 0) return 0;
    int K = size;
    if (n <= SMALL) {
        /* a few values (losses, counts): one all-gather, and every rank sums
         * all of them in rank order; the same bits as the slices below */
        if ((size_t)K * n * es > work_bytes) {
            void *w = realloc(work, (size_t)K * n * es);
            if (!w) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the all-reduce");
            work = w;
            work_bytes = (size_t)K * n * es;
        }
        int rc = MPI_Allgather(buf, (int)n, type, work, (int)n, type, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_err(err, rc, "all-reduce");
        if (es == sizeof(float)) ekn_dist_sum_slices_f32(work, K, n, buf);
        else ekn_dist_sum_slices_f64(work, K, n, buf);
        return 0;
    }
    if (!counts && !(counts = malloc(4 * (size_t)K * sizeof *counts)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the all-reduce");
    int *scount = counts, *sdispl = scount + K, *rcount = sdispl + K, *rdispl = rcount + K;
    int rc = MPI_SUCCESS;
    for (size_t at = 0; at < n && rc == MPI_SUCCESS; at += ROUND) {
        size_t m = n - at < ROUND ? n - at : ROUND, lo, hi;
        char *b = (char *)buf + at * es;
        ekn_dist_slice(m, rank, K, &lo, &hi);
        size_t mine = hi - lo;
        if ((size_t)K * mine * es > work_bytes) {
            void *w = realloc(work, (size_t)K * mine * es);
            if (!w) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the all-reduce");
            work = w;
            work_bytes = (size_t)K * mine * es;
        }
        for (int r = 0; r < K; r++) {
            size_t l, h;
            ekn_dist_slice(m, r, K, &l, &h);
            scount[r] = (int)(h - l); /* rank r sums slice r */
            sdispl[r] = (int)l;
            rcount[r] = (int)mine;    /* each rank's copy of my slice */
            rdispl[r] = (int)(mine * (size_t)r);
        }
        rc = MPI_Alltoallv(b, scount, sdispl, type, work, rcount, rdispl, type, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) break;
        if (es == sizeof(float)) ekn_dist_sum_slices_f32(work, K, mine, (float *)b + lo);
        else ekn_dist_sum_slices_f64(work, K, mine, (double *)b + lo);
        /* every rank's summed slice to all: scount and sdispl are the slices */
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, type, b, scount, sdispl, type, MPI_COMM_WORLD);
    }
    return rc == MPI_SUCCESS ? 0 : mpi_err(err, rc, "all-reduce");
}

int ekn_dist_sum_f32(float *buf, size_t n, ekn_err *err) { return sum_any(buf, n, sizeof *buf, MPI_FLOAT, err); }
int ekn_dist_sum_f64(double *buf, size_t n, ekn_err *err) { return sum_any(buf, n, sizeof *buf, MPI_DOUBLE, err); }

int ekn_dist_bcast(void *buf, size_t bytes, int root, ekn_err *err)
{
    if (size == 1) return 0;
    for (size_t at = 0; at < bytes; at += ROUND) {
        size_t m = bytes - at < ROUND ? bytes - at : ROUND;
        int rc = MPI_Bcast((char *)buf + at, (int)m, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_err(err, rc, "MPI_Bcast");
    }
    return 0;
}

int ekn_dist_allgather(const void *mine, void *all, size_t bytes, ekn_err *err)
{
    if (size == 1) {
        if (all != mine) memmove(all, mine, bytes);
        return 0;
    }
    if (bytes > ROUND) return ekn_err_set(err, EKN_EXIT_FAIL, "MPI_Allgather of %zu bytes: too large", bytes);
    int rc = MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_err(err, rc, "MPI_Allgather");
}
