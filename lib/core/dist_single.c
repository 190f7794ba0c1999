/* dist_single: dist.h in a build without MPI (MPI=0, or none found): a
 * world of one rank, whose reductions leave their buffers as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

int ekn_dist_built(void) { return 0; }
const char *ekn_dist_library(void) { return "none"; }

/* The process count a launcher gave, 0 when none did. */
static long launched_size(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v) v = getenv("PMI_SIZE");
    return v ? strtol(v, NULL, 10) : 0;
}

int ekn_dist_init(int *argc, char ***argv, ekn_err *err)
{
    (void)argc;
    (void)argv;
    const char *off = getenv("EKN_MPI");
    long k = off && !strcmp(off, "0") ? 0 : launched_size();
    if (k > 1)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "started as one of %ld processes (mpirun), but this %s was built without MPI (MPI=0 or "
                           "no libopenmpi-dev); each would train alone",
                           k, ekn_progname());
    return 0;
}

int ekn_dist_rank(void) { return 0; }
int ekn_dist_size(void) { return 1; }
void ekn_dist_finalize(void) {}

void ekn_dist_abort(int code, const char *msg)
{
    fprintf(stderr, "%s: %s\n", ekn_progname(), msg);
    exit(code);
}

int ekn_dist_sum_f32(float *buf, size_t n, ekn_err *err)
{
    (void)buf, (void)n, (void)err;
    return 0;
}

int ekn_dist_sum_f64(double *buf, size_t n, ekn_err *err)
{
    (void)buf, (void)n, (void)err;
    return 0;
}

int ekn_dist_bcast(void *buf, size_t bytes, int root, ekn_err *err)
{
    (void)buf, (void)bytes, (void)root, (void)err;
    return 0;
}

int ekn_dist_allgather(const void *mine, void *all, size_t bytes, ekn_err *err)
{
    (void)err;
    if (all != mine) memmove(all, mine, bytes);
    return 0;
}
