/* conv_bench_cuda: forward+backward TFLOP/s of ekn_ops_cuda()'s conv for the
 * layers of the example nets (the list of bench/conv_bench.c), one line per
 * layer: "conv <name> <ms per fwd+bwd> <TFLOP/s>".  FLOPs count the three
 * passes' multiply-adds (3 * 2 * outputs * Cin * kvol), as conv_bench does.
 * Each layer runs for about `seconds` (default 1) after two warm-up passes,
 * which also make cuDNN's plan (its algorithms are printed on stderr); the
 * clock stops after ekn_cuda_last_error, which waits for the queued work.
 * Exits 77 without a GPU.
 * Usage: conv_bench_cuda [seconds] */
#include <stdio.h>
#include <stdlib.h>

#include "conv.h"
#include "conv_layers.h"
#include "device.h"
#include "ops.h"
#include "progress.h"

static void *dev_random(const ekn_backend *be, size_t n)
{
    ekn_err err = {0};
    float *h = malloc(n * sizeof *h);
    void *d = be->alloc(n * sizeof *h, &err);
    if (!h || !d) {
        fprintf(stderr, "conv_bench_cuda: %s\n", d ? "out of host memory" : err.msg);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) h[i] = (float)rand() / RAND_MAX - 0.5f;
    if (be->to_device(d, h, n * sizeof *h, &err) < 0) {
        fprintf(stderr, "conv_bench_cuda: %s\n", err.msg);
        exit(1);
    }
    free(h);
    return d;
}

/* waits for the queued work and reports a recorded CUDA error */
static void sync_or_die(const char *what)
{
    ekn_err err = {0};
    if (ekn_cuda_last_error(&err) < 0) {
        fprintf(stderr, "conv_bench_cuda: %s: %s\n", what, err.msg);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    ekn_set_progname("conv_bench_cuda");
    ekn_verbose = 1; /* the conv plans' algorithms, on stderr */
    const ekn_backend *be = ekn_cuda_backend();
    const ekn_ops *ops = ekn_ops_cuda();
    ekn_err err = {0};
    if (!be || !ops || be->device_count() <= 0 || be->select(0, &err) < 0) {
        fprintf(stderr, "conv_bench_cuda: no CUDA device%s%s\n", err.msg[0] ? ": " : "", err.msg);
        return 77;
    }
    for (size_t i = 0; i < BENCH_CONV_NLAYERS; i++) {
        const bench_conv_layer *L = &bench_conv_layers[i];
        ekn_conv_geom g;
        if (ekn_conv_geom_init(&g, L->n, L->cin, L->cout, L->in, L->k)) return 1;
        size_t nx = (size_t)g.n * g.cin * g.in[0] * g.in[1] * g.in[2];
        size_t ny = (size_t)g.n * g.cout * g.out[0] * g.out[1] * g.out[2];
        size_t nw = (size_t)g.cout * g.cin * g.k[0] * g.k[1] * g.k[2];
        size_t ws = ops->conv_workspace(&g);
        float *x = dev_random(be, nx), *y = dev_random(be, ny), *dy = dev_random(be, ny), *dx = dev_random(be, nx);
        float *w = dev_random(be, nw), *dw = dev_random(be, nw), *b = dev_random(be, (size_t)g.cout);
        float *db = dev_random(be, (size_t)g.cout), *work = dev_random(be, ws);
        double flops = 3.0 * 2.0 * (double)ny * g.cin * g.k[0] * g.k[1] * g.k[2];
        for (int warm = 0; warm < 2; warm++) {
            ops->conv_forward(&g, x, w, b, y, work);
            ops->conv_backward(&g, x, w, dy, dx, dw, db, work);
        }
        sync_or_die(L->name);
        long reps = 0;
        double t0 = ekn_now(), t;
        do { /* batches of 10 passes between clock reads */
            for (int r = 0; r < 10; r++) {
                ops->conv_forward(&g, x, w, b, y, work);
                ops->conv_backward(&g, x, w, dy, dx, dw, db, work);
            }
            reps += 10;
            sync_or_die(L->name);
        } while ((t = ekn_now() - t0) < seconds);
        printf("conv %-14s %9.4f ms %8.2f TFLOP/s\n", L->name, 1e3 * t / reps, flops * reps / t / 1e12);
        fflush(stdout);
        be->free(x), be->free(y), be->free(dy), be->free(dx), be->free(w), be->free(dw), be->free(b);
        be->free(db), be->free(work);
    }
    return 0;
}
