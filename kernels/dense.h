/* dense: the fully connected layer, y = x W^T + b.
 *
 * Layout (row-major, float32):
 *   x  (N, In)    one example per row
 *   w  (Out, In)  one output unit per row, so W^T is never materialised
 *   b  (Out)      may be NULL in the forward pass (no bias)
 *   y  (N, Out)   overwritten
 *
 * Backward, given dy = dL/dy (N, Out):
 *   dx (N, In)    overwritten; skipped if NULL (the first layer needs no dx)
 *   dw (Out, In)  ACCUMULATED (+=), so several mini-batches or several uses of
 *                 one weight can share a gradient buffer; the caller zeroes it
 *   db (Out)      ACCUMULATED (+=); skipped if NULL (layer without bias)
 * Gradients are +dL/dtheta (descent subtracts them).
 *
 * _ref is the plain triple loop (double accumulators, the yardstick for the
 * tests); _cpu calls cblas_sgemm.  No buffer may alias another.
 *
 * Tied (transposed) weights, for tied autoencoders: a decoder that uses an
 * encoder layer's weight W (Out, In) transposed, so the decoder maps Out
 * features back to In:
 *   x  (N, Out)   the decoder's input
 *   w  (Out, In)  the ENCODER's weight, as it is stored (not transposed)
 *   b  (In)       the decoder's own bias; may be NULL
 *   y  (N, In)    = x W + b, overwritten
 * Backward, given dy (N, In):
 *   dx (N, Out)   = dy W^T, overwritten; skipped if NULL
 *   dw (Out, In)  += x^T dy  ACCUMULATED, so the encoder's and the
 *                 decoder's contributions to the shared W sum in one buffer
 *   db (In)       += sum_n dy; skipped if NULL
 * ekn_dense_t_*(n, in, out, ...) computes what ekn_dense_*(n, out, in, ...)
 * would with the weight W^T (In, Out), with dw transposed back. */
#ifndef EKN_DENSE_H
#define EKN_DENSE_H

void ekn_dense_forward_ref(int n, int in, int out, const float *x, const float *w,
                           const float *b, float *y);
void ekn_dense_backward_ref(int n, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db);

void ekn_dense_forward_cpu(int n, int in, int out, const float *x, const float *w,
                           const float *b, float *y);
void ekn_dense_backward_cpu(int n, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *db);

void ekn_dense_t_forward_ref(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y);
void ekn_dense_t_backward_ref(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db);

void ekn_dense_t_forward_cpu(int n, int in, int out, const float *x, const float *w,
                             const float *b, float *y);
void ekn_dense_t_backward_cpu(int n, int in, int out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db);

/* CUDA (kernels/dense_cuda.cu, CUDA builds only): the same on device memory;
 * errors are recorded for ekn_cuda_last_error (ops.h). */
void ekn_dense_forward_cuda(int n, int in, int out, const float *x, const float *w,
                            const float *b, float *y);
void ekn_dense_backward_cuda(int n, int in, int out, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db);
void ekn_dense_t_forward_cuda(int n, int in, int out, const float *x, const float *w,
                              const float *b, float *y);
void ekn_dense_t_backward_cuda(int n, int in, int out, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *db);
#endif
