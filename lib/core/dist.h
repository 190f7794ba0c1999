/* dist: the processes of a data-parallel run (MPI), one world per process.
 *
 * Built two ways, with the same API: dist_mpi.c when the build finds MPI
 * (OpenMPI: mpicc or pkg-config ompi-c; `make MPI=0` builds without), and
 * dist_single.c otherwise, a world of one rank.  Either way a process that
 * was not started by mpirun (srun, ...) is a world of one: MPI is not even
 * initialised, so a lone ekn-train behaves as in a build without MPI.
 *
 * Reductions are deterministic: rank r's values enter every sum in rank
 * order 0, 1, ..., K-1, accumulated in double and rounded once, and every
 * rank gets the same bits.  (MPI_Allreduce itself promises neither: its
 * algorithms pick orders by message size and topology.)  They are a
 * reduce-scatter (MPI_Alltoall of K slices, each rank sums its slice in
 * rank order) followed by an MPI_Allgather: 2 (K-1)/K n values sent per
 * rank, as in a ring all-reduce; up to 256 values (losses, counts) go by
 * one MPI_Allgather instead, each rank summing them all in the same order.
 * With one rank they return the buffer as it is (floats: the same bits).
 *
 * Errors of MPI calls are returned (MPI_ERRORS_RETURN) as ekn_err with
 * MPI's message; the caller then ends the whole job with ekn_dist_abort.
 * While the world has more than one rank, ekn_dist_init makes diag's
 * messages name the rank ("ekn-train: rank 1: ...") and quiets the
 * warnings and information of every rank but 0, and an ekn_die on any rank
 * ends the whole job (MPI_Abort with its exit code) after printing its
 * error: no rank is left waiting in a collective. */
#ifndef EKN_DIST_H
#define EKN_DIST_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* 1 in a build with MPI, 0 in one without (MPI=0 or no MPI found). */
int ekn_dist_built(void);
/* "Open MPI v4.1.4, ..." (the library's own line, cut to fit) or "none". */
const char *ekn_dist_library(void);

/* Joins the world when started by an MPI launcher (mpirun: the
 * environment has OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK; EKN_MPI=0
 * never joins): MPI_Init, then the rank and size.  Without a launcher a
 * world of one.  A build without MPI started by a launcher with more than
 * one process refuses (EKN_EXIT_USAGE), or each process would train alone.
 * Returns 0 or -1. */
int ekn_dist_init(int *argc, char ***argv, ekn_err *err);
int ekn_dist_rank(void); /* 0 before init */
int ekn_dist_size(void); /* 1 before init */
/* MPI_Finalize when init joined a world; harmless otherwise. */
void ekn_dist_finalize(void);
/* Prints "PROG: rank R: msg" (no rank with one process) and ends every
 * process of the job with `code` (MPI_Abort); with one rank exits. */
_Noreturn void ekn_dist_abort(int code, const char *msg);

/* In place on every rank: buf[i] = sum over ranks r = 0..K-1, in that
 * order, of rank r's buf[i] (double accumulator, one rounding).  n must be
 * the same on every rank.  0, or -1 with err. */
int ekn_dist_sum_f32(float *buf, size_t n, ekn_err *err);
int ekn_dist_sum_f64(double *buf, size_t n, ekn_err *err);
/* rank root's bytes into buf on every rank. */
int ekn_dist_bcast(void *buf, size_t bytes, int root, ekn_err *err);
/* all[r * bytes ...] = rank r's mine (bytes the same on every rank). */
int ekn_dist_allgather(const void *mine, void *all, size_t bytes, ekn_err *err);

/* The slice [lo, hi) of n items that rank `rank` of `size` takes: as even
 * as can be, in rank order, their union 0..n-1 (lo = n rank / size). */
void ekn_dist_slice(size_t n, int rank, int size, size_t *lo, size_t *hi);

/* The rank-order sum of K rank-buffers of n values: out[i] = sum_r
 * in[r * n + i], r = 0..K-1, accumulated in double; what each rank does to
 * its slice (exposed for the unit test). */
void ekn_dist_sum_slices_f32(const float *in, int K, size_t n, float *out);
void ekn_dist_sum_slices_f64(const double *in, int K, size_t n, double *out);
#endif
