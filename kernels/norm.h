/* norm: batch normalisation and group normalisation.
 *
 * Layout (N, C, S), f32, C order: S = Z*Y*X spatial positions of one
 * channel plane (S = 1 after a dense layer).  Parameters gamma, beta and
 * the running statistics are per channel (C floats).  Statistics are the
 * mean and the BIASED variance (divide by the element count), accumulated
 * in double by every implementation (two passes: the mean, then the
 * squared deviations), and invstd = 1/sqrt(var + eps).
 *
 * Batch norm normalises each channel c over n and s (NS = N*S elements);
 * group norm normalises each example n and group g of C/groups consecutive
 * channels over those channels and s (M = C/groups * S elements), and is
 * the same in training and prediction.  groups == C is instance norm,
 * groups == 1 normalises each example as a whole (layer norm with a
 * per-channel affine).
 *
 * Backward, with xhat = (x - mean)*invstd, over the elements of one
 * statistic (K of them: NS for batch norm, M for group norm):
 *     dbeta_c  += sum dy             dgamma_c += sum dy*xhat
 *     dx = invstd/K * (K*g - sum g - xhat*sum g*xhat),   g = gamma_c*dy
 * the gradient of the training-mode forward (the statistics depend on x).
 * dx is OVERWRITTEN and may be NULL (skipped); dgamma and dbeta ACCUMULATE
 * (+=) and each may be NULL (skipped).  Gradients are +dL/dtheta.  No
 * output may alias an input.  Sizes n, c, s (and groups) are >= 1; gamma
 * and beta are required (pass ones and zeros for no affine).
 *
 * _ref is plain loops in double (the oracle); _cpu streams each channel
 * plane contiguously, also in double; _cuda runs one block per channel
 * (batch norm) or per (example, group) (group norm), each reducing in
 * double in a fixed order (thread-strided sums, then a fixed tree), so its
 * results repeat bit for bit; no atomics. */
#ifndef EKN_NORM_H
#define EKN_NORM_H
#include <stddef.h>

/* Batch norm, training.  mean, invstd (C) OVERWRITTEN with the batch
 * statistics (kept for backward).  run_mean and run_var, when not NULL
 * (each on its own), are updated in place as PyTorch does:
 *     run = (1 - momentum)*run + momentum*stat
 * with the UNBIASED variance var*NS/(NS-1) for run_var (NS == 1: var, 0). */
void ekn_bn_forward_train_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                              float *invstd);
/* Batch norm, prediction: y = gamma*(x - run_mean)/sqrt(run_var + eps) + beta. */
void ekn_bn_forward_infer_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              const float *run_mean, const float *run_var, float eps, float *y);
/* Batch norm backward of the training forward, from its mean and invstd. */
void ekn_bn_backward_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
/* Group norm: c % groups == 0; mean, invstd (N*groups, index n*groups + g)
 * OVERWRITTEN. */
void ekn_gn_forward_ref(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                        float eps, float *y, float *mean, float *invstd);
void ekn_gn_backward_ref(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);

void ekn_bn_forward_train_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                              float *invstd);
void ekn_bn_forward_infer_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              const float *run_mean, const float *run_var, float eps, float *y);
void ekn_bn_backward_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
void ekn_gn_forward_cpu(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                        float eps, float *y, float *mean, float *invstd);
void ekn_gn_backward_cpu(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);

/* CUDA (kernels/norm_cuda.cu, CUDA builds only): the same on device memory
 * (every array, the running statistics included); errors are recorded for
 * ekn_cuda_last_error (ops.h). */
void ekn_bn_forward_train_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                               float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                               float *invstd);
void ekn_bn_forward_infer_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                               const float *run_mean, const float *run_var, float eps, float *y);
void ekn_bn_backward_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                          const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
void ekn_gn_forward_cuda(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                         float eps, float *y, float *mean, float *invstd);
void ekn_gn_backward_cuda(int n, int c, size_t s, int groups, const float *x, const float *gamma,
                          const float *mean, const float *invstd, const float *dy, float *dx, float *dgamma,
                          float *dbeta);
#endif
