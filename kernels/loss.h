/* loss: softmax negative log-likelihood (classification, with class weights,
 * ignored voxels and lazy labels), squared error (regression) and the argmax
 * accuracy count.
 *
 * Layout (row-major): p and dlogits are (N, C, S) float32, element (n, c, s)
 * at (n*C + c)*S + s, as in softmax.h; labels are (N, S) int32; the lazy-label
 * masks are (N, C) uint8.  Losses and counts are accumulated in double and
 * returned as the MEAN over the counted terms (so the learning rate does not
 * depend on the batch or patch size).  dlogits and dy are OVERWRITTEN. */
#ifndef EKN_LOSS_H
#define EKN_LOSS_H
#include <stddef.h>
#include <stdint.h>

typedef struct ekn_nll_args {
    const int32_t *labels;   /* (N,S) class index in [0,C); < 0 means ignored */
    const float *class_w;    /* (C) weights multiplying each voxel's term, NOT
                                normalised (they do not enter the count); NULL = all 1 */
    const uint8_t *labelled; /* lazy labels: (N,C) or NULL; labelled[n*C+k]=1 when class k
                                is labelled in example n */
    const uint8_t *absent;   /* lazy labels: (N,C) or NULL; absent[n*C+k]=1 when class k
                                does not occur in example n */
} ekn_nll_args;

/* Softmax NLL from the probabilities p = softmax(logits), as the softmax
 * forward produced them.  With w_k = class_w[k] (1 if NULL) and v running
 * over the voxels (n, s):
 *
 *   loss = ( sum_{v: y_v >= 0, labelled[n,y_v]} -w_{y_v} log p_{v,y_v}          (up terms)
 *          + sum_{v, k: absent[n,k]}             -w_k     log(1 - p_{v,k}) )    (down terms)
 *          / (N_up + N_down)
 *
 *   N_up   = number of up terms (voxels with y_v >= 0 whose class is labelled)
 *   N_down = number of (voxel, absent class) pairs = S * (absent classes of n),
 *            summed over n.  Absence is known per example, so the down terms
 *            cover EVERY voxel of the example, including voxels with y_v < 0.
 *
 * labelled == NULL means every class is labelled; absent == NULL means no
 * class is known to be absent.  With both NULL (no lazy labels) this is the
 * plain weighted NLL: sum_{y_v >= 0} -w_{y_v} log p_{v,y_v} / #{v: y_v >= 0}.
 * The counts are unweighted (class weights scale terms, not the mean).
 *
 * dlogits (N,C,S) is overwritten with dloss/dlogits through the softmax (the
 * fused gradient, so the softmax backward is not needed):
 *   up term   (class y):  w_y (p_j - [j = y])
 *   down term (class k):  w_k p_k / (1 - p_k) * ([j = k] - p_j)
 * each divided by N_up + N_down; voxels without terms get 0.
 *
 * The log arguments p and 1 - p are clamped below at 1e-12 so p = 0 (or 1)
 * gives a large finite loss, never inf; the gradient uses the same clamped
 * 1 - p and otherwise ignores the clamp (it is the unclamped softmax
 * gradient, finite everywhere).  When N_up + N_down = 0 the loss is 0 and
 * dlogits all 0.  *count (may be NULL) receives N_up + N_down.  dlogits may
 * alias p (each element is read before it is written).
 *
 * _ref goes voxel by voxel in double; _cpu walks blocks of voxels class by
 * class so its inner loops are contiguous over s. */
double ekn_softmax_nll_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                           float *dlogits, double *count);
double ekn_softmax_nll_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                           float *dlogits, double *count);

/* Squared error for regression over m elements:
 *   loss = sum (y - t)^2 / (2 m')   over the m' elements whose target t is
 *                                   finite (NaN or inf targets are ignored)
 *   dy   = (y - t) / m'             overwritten, 0 where ignored; skipped if NULL
 * m' = 0 gives loss 0 and dy all 0. */
double ekn_mse_ref(size_t m, const float *y, const float *t, float *dy);
double ekn_mse_cpu(size_t m, const float *y, const float *t, float *dy);

/* Accuracy over p (N,C,S) and labels (N,S): *counted = number of voxels with
 * label >= 0, *correct = those among them whose argmax over C equals the
 * label (ties go to the lowest class index; NaN never wins, and a voxel
 * with no value above -inf, e.g. all NaN, counts as wrong).  Both are
 * OVERWRITTEN, not accumulated. */
void ekn_argmax_count_ref(int n, int c, size_t s, const float *p, const int32_t *labels,
                          long *correct, long *counted);
void ekn_argmax_count_cpu(int n, int c, size_t s, const float *p, const int32_t *labels,
                          long *correct, long *counted);

/* CUDA (kernels/loss_cuda.cu, CUDA builds only): arrays (also those in
 * ekn_nll_args) are device memory; the loss, *count, *correct and *counted
 * are host values, copied back when the call returns.  Errors are recorded
 * for ekn_cuda_last_error (ops.h) and give 0. */
double ekn_softmax_nll_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                            float *dlogits, double *count);
double ekn_mse_cuda(size_t m, const float *y, const float *t, float *dy);
void ekn_argmax_count_cuda(int n, int c, size_t s, const float *p, const int32_t *labels,
                           long *correct, long *counted);
#endif
