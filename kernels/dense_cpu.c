/* Dense layer on the CPU through OpenBLAS (split over threads by cpu_threads.h).  Row-major throughout, so the
 * transposes below are the ones of the math in dense.h. */
#include <stddef.h>
#include <string.h>


#include "cpu_threads.h"
#include "dense.h"

void ekn_dense_forward_cpu(int n, int in, int out, const float *x, const float *w,
                           const float *b, float *y)
{
    if (n <= 0 || out <= 0) return;
    /* Seed y with the bias and let sgemm add x W^T on top (beta = 1): one pass
     * over y instead of a second one to add b. */
    if (b) {
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    } else {
        memset(y, 0, (size_t)n * out * sizeof *y);
    }
    if (in <= 0) return; /* y = b; and In = 0 would make lda = 0, which BLAS rejects */
    ekn_sgemm_cpu(CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f,
                y, out);
}

void ekn_dense_backward_cpu(int n, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db)
{
    if (n <= 0 || out <= 0) { /* no terms: dx is an empty sum, dw/db unchanged */
        if (dx && n > 0 && in > 0) memset(dx, 0, (size_t)n * in * sizeof *dx);
        return;
    }
    if (in > 0) {
        if (dx) /* dx (N,In) = dy (N,Out) W (Out,In) */
            ekn_sgemm_cpu(CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w,
                        in, 0.0f, dx, in);
        /* dw (Out,In) += dy^T (Out,N) x (N,In) */
        ekn_sgemm_cpu(CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in,
                    1.0f, dw, in);
    }
    if (db) { /* column sums of dy; the inner loop runs along a row so it vectorises */
        for (int i = 0; i < n; i++) {
            const float *dyi = dy + (size_t)i * out;
            for (int o = 0; o < out; o++) db[o] += dyi[o];
        }
    }
}

/* ---- tied: x (N,Out), w (Out,In) the encoder's, y (N,In) = x W + b ---- */

void ekn_dense_t_forward_cpu(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y)
{
    if (n <= 0 || in <= 0) return;
    if (b) { /* bias first, sgemm adds on top (beta = 1), as the untied forward */
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * in, b, (size_t)in * sizeof *y);
    } else {
        memset(y, 0, (size_t)n * in * sizeof *y);
    }
    if (out <= 0) return; /* y = b; Out = 0 would make lda = 0 */
    /* y (N,In) += x (N,Out) W (Out,In) */
    ekn_sgemm_cpu(CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, x, out, w, in, 1.0f,
                y, in);
}

void ekn_dense_t_backward_cpu(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
    if (n <= 0 || in <= 0) { /* no terms: dx is an empty sum, dw/db unchanged */
        if (dx && n > 0 && out > 0) memset(dx, 0, (size_t)n * out * sizeof *dx);
        return;
    }
    if (out > 0) {
        if (dx) /* dx (N,Out) = dy (N,In) W^T (In,Out) */
            ekn_sgemm_cpu(CblasNoTrans, CblasTrans, n, out, in, 1.0f, dy, in, w, in,
                        0.0f, dx, out);
        /* dw (Out,In) += x^T (Out,N) dy (N,In) */
        ekn_sgemm_cpu(CblasTrans, CblasNoTrans, out, in, n, 1.0f, x, out, dy, in,
                    1.0f, dw, in);
    }
    if (db) { /* column sums of dy, along rows so the inner loop vectorises */
        for (int i = 0; i < n; i++) {
            const float *dyi = dy + (size_t)i * in;
            for (int k = 0; k < in; k++) db[k] += dyi[k];
        }
    }
}
