/* ema: one step of an exponential moving average of a flat float vector
 * (ekn-train --ema, lib/nn/train.c): for i < n,
 *
 *     avg[i] = decay * avg[i] + (1 - decay) * x[i]
 *
 * x and avg hold n floats each in the calling table's memory; avg is
 * overwritten in place, x is read only (they must not overlap).  decay is
 * in [0, 1].  No accumulation over elements: each result is one expression.
 *
 * _ref computes the expression in double and rounds once (the oracle).
 * _cpu and _cuda compute it in float with w = 1 - decay rounded to float
 * first and each product and the sum rounded separately (no fused
 * multiply-add), so they agree with each other bit for bit, and with _ref to
 * a few float ulps; decay 0 gives avg == x and decay 1 keeps avg, exactly,
 * in all three (for finite values). */
#ifndef EKN_EMA_H
#define EKN_EMA_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void ekn_ema_update_ref(size_t n, float decay, const float *x, float *avg);
void ekn_ema_update_cpu(size_t n, float decay, const float *x, float *avg);
/* CUDA (kernels/ema_cuda.cu, CUDA builds only): device memory; errors are
 * recorded for ekn_cuda_last_error (ops.h). */
void ekn_ema_update_cuda(size_t n, float decay, const float *x, float *avg);

#ifdef __cplusplus
}
#endif
#endif
