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
#include "ops.h"
#include "progress.h"

/* waits for the queued work and reports a recorded CUDA error */
static void sync_or_die(const char *what)
{
    ekn_err err = {0};
    if (ekn_cuda_last_error(&err) < 0) {
        fprintf(stderr, "conv_bench_cuda: %s: %s\n", what, err.msg);
        exit(1);
    }
}

static void *dev_random(const ekn_ops *ops, size_t n)
{
    float *h = malloc(n * sizeof *h);
    void *d = ops->alloc(n * sizeof *h);
    if (!d) sync_or_die("alloc");
    if (!h || !d) {
        fprintf(stderr, "conv_bench_cuda: out of %s memory\n", d ? "host" : "device");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) h[i] = (float)rand() / RAND_MAX - 0.5f;
    ops->upload(d, h, n * sizeof *h);
    sync_or_die("upload");
    free(h);
    return d;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    ekn_set_progname("conv_bench_cuda");
    ekn_verbose = 1; /* the conv plans' algorithms, on stderr */
    const ekn_ops *ops = ekn_ops_cuda();
    ekn_err err = {0};
    if (!ops || ops->device_count() <= 0 || ops->select(0, &err) < 0) {
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
        float *x = dev_random(ops, nx), *y = dev_random(ops, ny), *dy = dev_random(ops, ny), *dx = dev_random(ops, nx);
        float *w = dev_random(ops, nw), *dw = dev_random(ops, nw), *b = dev_random(ops, (size_t)g.cout);
        float *db = dev_random(ops, (size_t)g.cout), *work = dev_random(ops, ws);
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
        ops->free(x), ops->free(y), ops->free(dy), ops->free(dx), ops->free(w), ops->free(dw), ops->free(b);
        ops->free(db), ops->free(work);
    }
    return 0;
}
