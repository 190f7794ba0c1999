/* Reference dense layer: plain loops, double accumulators so the _cpu
 * version is compared against something more accurate than itself. */
#include <stddef.h>

#include "dense.h"

void ekn_dense_forward_ref(int n, int in, int out, const float *x, const float *w,
                           const float *b, float *y)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        for (int o = 0; o < out; o++) {
            const float *wo = w + (size_t)o * in;
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < in; k++) acc += (double)xi[k] * wo[k];
            y[(size_t)i * out + o] = (float)acc;
        }
    }
}

void ekn_dense_backward_ref(int n, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db)
{
    if (dx) { /* dx = dy W */
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in; k++) {
                double acc = 0;
                for (int o = 0; o < out; o++)
                    acc += (double)dy[(size_t)i * out + o] * w[(size_t)o * in + k];
                dx[(size_t)i * in + k] = (float)acc;
            }
    }
    for (int o = 0; o < out; o++) { /* dw += dy^T x */
        for (int k = 0; k < in; k++) {
            double acc = 0;
            for (int i = 0; i < n; i++)
                acc += (double)dy[(size_t)i * out + o] * x[(size_t)i * in + k];
            dw[(size_t)o * in + k] += (float)acc;
        }
    }
    if (db) {
        for (int o = 0; o < out; o++) {
            double acc = 0;
            for (int i = 0; i < n; i++) acc += dy[(size_t)i * out + o];
            db[o] += (float)acc;
        }
    }
}

/* ---- tied: x (N,Out), w (Out,In), y (N,In) = x W + b ---- */

void ekn_dense_t_forward_ref(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * out;
        for (int k = 0; k < in; k++) {
            double acc = b ? b[k] : 0.0;
            for (int o = 0; o < out; o++) acc += (double)xi[o] * w[(size_t)o * in + k];
            y[(size_t)i * in + k] = (float)acc;
        }
    }
}

void ekn_dense_t_backward_ref(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
    if (dx) { /* dx (N,Out) = dy (N,In) W^T */
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                const float *wo = w + (size_t)o * in;
                double acc = 0;
                for (int k = 0; k < in; k++) acc += (double)dy[(size_t)i * in + k] * wo[k];
                dx[(size_t)i * out + o] = (float)acc;
            }
    }
    for (int o = 0; o < out; o++) { /* dw (Out,In) += x^T dy */
        for (int k = 0; k < in; k++) {
            double acc = 0;
            for (int i = 0; i < n; i++)
                acc += (double)x[(size_t)i * out + o] * dy[(size_t)i * in + k];
            dw[(size_t)o * in + k] += (float)acc;
        }
    }
    if (db) { /* db (In) += column sums of dy */
        for (int k = 0; k < in; k++) {
            double acc = 0;
            for (int i = 0; i < n; i++) acc += dy[(size_t)i * in + k];
            db[k] += (float)acc;
        }
    }
}
