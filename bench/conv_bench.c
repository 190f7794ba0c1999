/* conv_bench: forward+backward GFLOP/s of the CPU conv kernel for the
 * layers of the example nets, beside OpenBLAS SGEMM GFLOP/s (1024^3) in
 * the same run.  Usage: conv_bench [threads] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "conv.h"
#include "conv_layers.h"
#include "progress.h"

static float *randv(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
    return p;
}

static double sgemm_gflops(void)
{
    int n = 1024, reps = 0;
    float *a = randv((size_t)n * n), *b = randv((size_t)n * n), *c = randv((size_t)n * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double t0 = ekn_now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        reps++;
    } while ((t = ekn_now() - t0) < 1.0);
    free(a), free(b), free(c);
    return 2.0 * n * n * n * reps / t / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    openblas_set_num_threads(threads);
    double peak = sgemm_gflops();
    printf("sgemm 1024x1024x1024, %d threads: %.1f GFLOP/s\n", threads, peak);
    printf("%-52s %10s %10s %8s\n", "layer", "ms/pass", "GFLOP/s", "of sgemm");
    for (size_t i = 0; i < BENCH_CONV_NLAYERS; i++) {
        const bench_conv_layer *L = &bench_conv_layers[i];
        ekn_conv_geom g;
        if (ekn_conv_geom_init(&g, L->n, L->cin, L->cout, L->in, L->k)) return 1;
        size_t nx = (size_t)g.n * g.cin * g.in[0] * g.in[1] * g.in[2];
        size_t ny = (size_t)g.n * g.cout * g.out[0] * g.out[1] * g.out[2];
        size_t nw = (size_t)g.cout * g.cin * g.k[0] * g.k[1] * g.k[2];
        float *x = randv(nx), *y = randv(ny), *dy = randv(ny), *dx = randv(nx), *w = randv(nw), *dw = randv(nw);
        float *b = randv((size_t)g.cout), *db = randv((size_t)g.cout);
        float *work = malloc(ekn_conv_workspace_floats(&g) * sizeof *work);
        double flops = 3.0 * 2.0 * (double)ny * g.cin * g.k[0] * g.k[1] * g.k[2];
        ekn_conv_forward_cpu(&g, x, w, b, y, work);
        ekn_conv_backward_cpu(&g, x, w, dy, dx, dw, db, work);
        int reps = 0;
        double t0 = ekn_now(), t;
        do {
            ekn_conv_forward_cpu(&g, x, w, b, y, work);
            ekn_conv_backward_cpu(&g, x, w, dy, dx, dw, db, work);
            reps++;
        } while ((t = ekn_now() - t0) < 0.5);
        double gf = flops * reps / t / 1e9;
        printf("%-52s %10.2f %10.1f %7.0f%%\n", L->desc, 1e3 * t / reps, gf, 100 * gf / peak);
        free(x), free(y), free(dy), free(dx), free(w), free(dw), free(b), free(db), free(work);
    }
    return 0;
}
