/* memcpy_bench: the machine's memory-copy bandwidth, the ceiling for any
 * stream reader that copies a payload once (bench/stream_bench.sh).
 * Copies a 256 MiB buffer REPS times and prints the best GB/s, counting the
 * bytes copied (not read + written).
 *
 *   memcpy_bench [MiB [REPS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    size_t n = mib << 20;
    char *a = aligned_alloc(64, n), *b = aligned_alloc(64, n);
    if (!a || !b || reps < 1) {
        fprintf(stderr, "memcpy_bench: cannot allocate 2 x %zu MiB\n", mib);
        return 1;
    }
    memset(a, 1, n);
    memset(b, 2, n); /* fault the pages in before timing */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        memcpy(r % 2 ? a : b, r % 2 ? b : a, n);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    volatile char sink = a[n / 2] + b[n / 3];
    (void)sink;
    printf("%.2f\n", n / best / 1e9);
    free(a);
    free(b);
    return 0;
}
