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
    const float *voxel_w;    /* per-voxel example weights (N,S), finite and >= 0, or NULL =
                                all 1 (see "voxel weights" below) */
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

/* ---- issue 14 section 5: voxel weights, sigmoid BCE, focal and Dice ----
 *
 * Voxel weights (ELEKTRONN's recursive-training weights): voxel_w (N,S),
 * finite and >= 0, or NULL for all 1.  Every term of voxel v is multiplied
 * by w_v and the counts sum w_v instead of counting 1, so a weight of 2
 * equals the voxel given twice and a weight of 0 an ignored voxel.  In the
 * NLL above: the up term of v and each of its down terms get w_v, and
 * N_up, N_down become the sums of w_v over those terms.  With voxel_w NULL
 * every function computes exactly what it did without the field. */

/* Squared error with voxel weights, y and t (N,C,S), voxel_w (N,S) or NULL:
 *   loss = sum w_v (y - t)^2 / (2 m'),  m' = sum w_v over the elements
 *                                          whose target is finite
 *   dy   = w_v (y - t) / m'  overwritten (skipped if NULL); 0 where ignored
 * voxel_w NULL gives ekn_mse's loss and dy (its m = N*C*S). */
double ekn_mse_w_ref(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy);
double ekn_mse_w_cpu(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy);

typedef struct ekn_bce_args {
    const float *t;       /* (N,C,S) targets in [0,1]; a non-finite target (NaN) is ignored */
    const float *class_w; /* (C) weights of each channel's terms, not in the count; NULL = all 1 */
    const float *pos_w;   /* (C) weights of the positive part (pos_weight); NULL = all 1 */
    const float *voxel_w; /* (N,S) voxel weights or NULL */
} ekn_bce_args;

/* Sigmoid binary cross-entropy from the LOGITS z (N,C,S), every channel an
 * independent label.  With p = sigmoid(z), sp(x) = log(1 + e^x) computed as
 * max(x,0) + log1p(e^-|x|) (never log(0), never overflow), w_k = class_w,
 * q_k = pos_w, and e running over the elements (n,k,s) with a finite target:
 *
 *   loss   = sum_e w_k w_v [ q_k t sp(-z) + (1 - t) sp(z) ] / M,
 *            (= -q t log p - (1-t) log(1-p) per term)
 *   M      = sum_e w_v                  (*count, may be NULL)
 *   dz     = w_k w_v [ p (q_k t + 1 - t) - q_k t ] / M   overwritten; 0 where ignored
 *
 * (with q = 1 the familiar p - t).  M = 0 gives loss 0 and dz all 0.  dz
 * may alias z.  Double accumulation in _ref and _cpu. */
double ekn_bce_ref(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count);
double ekn_bce_cpu(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count);

/* Focal loss (Lin et al. 2017) on a softmax output p (N,C,S), labels as in
 * the NLL (class_w the alpha of the paper, voxel_w as above; labelled and
 * absent must be NULL).  With q = p_{v,y} clamped below at 1e-12 for the
 * log, r = 1 - q and gamma >= 0:
 *
 *   loss = sum_{v: y_v >= 0} -w_y w_v r^gamma log q / M,   M = sum w_v
 *   dlogits_j = w_y w_v F ([j = y] - p_j) / M,
 *   F = r^gamma (gamma q log(q)/r - 1)      (log(q)/r -> -1 as r -> 0)
 *
 * gamma = 0 is the NLL.  dlogits overwritten (0 for ignored voxels), must
 * not alias p.  M = 0 gives 0. */
double ekn_softmax_focal_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                             float *dlogits, double *count);
double ekn_softmax_focal_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                             float *dlogits, double *count);

/* Soft Dice loss over the whole batch, averaged over the classes.  For a
 * softmax output p (N,C,S) with labels (t_vk = [y_v = k], voxels with
 * y_v < 0 left out; labelled/absent must be NULL), and for a sigmoid output
 * from the logits z (p = sigmoid(z), t the float targets, elements with a
 * non-finite target left out; pos_w unused).  With w_v the voxel weights and
 * c_k = class_w (1 if NULL):
 *
 *   I_k = sum w_v p_vk t_vk,  U_k = sum w_v (p_vk + t_vk) + eps
 *   loss = 1 - sum_k c_k 2 I_k / U_k / sum_k c_k
 *   dL/dp_vk = g_vk = -(c_k / sum c) 2 w_v (t_vk U_k - I_k) / U_k^2
 *   softmax: dlogits_vj = p_vj (g_vj - sum_k p_vk g_vk);  sigmoid: dz = g p (1 - p)
 *
 * Overwritten; 0 where left out; must not alias the input.  *count = the
 * sum of w_v over the voxels (softmax) or elements (sigmoid) counted; when
 * it is 0 the loss is 0 and the gradient 0.  eps > 0. */
double ekn_softmax_dice_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps, float *dlogits,
                            double *count);
double ekn_softmax_dice_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps, float *dlogits,
                            double *count);
double ekn_sigmoid_dice_ref(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                            double *count);
double ekn_sigmoid_dice_cpu(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                            double *count);

/* Per-channel scores of a sigmoid output p (N,C,S) against targets t
 * (N,C,S): for each channel k, over the elements with a finite target,
 * counted[k] += 1, correct[k] += [(p >= 0.5) == (t >= 0.5)],
 * bce[k] += -t log p - (1-t) log(1-p) (p clamped to [1e-12, 1-1e-12]).
 * ACCUMULATES (+=) into the caller's arrays (C each).  Host memory only
 * (ekn-predict's --eval; not in the ops table). */
void ekn_sigmoid_score(int n, int c, size_t s, const float *p, const float *t, long *correct, long *counted,
                       double *bce);

/* CUDA (kernels/loss_cuda.cu, CUDA builds only): arrays (also those in
 * ekn_nll_args) are device memory; the loss, *count, *correct and *counted
 * are host values, copied back when the call returns.  Errors are recorded
 * for ekn_cuda_last_error (ops.h) and give 0. */
double ekn_softmax_nll_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                            float *dlogits, double *count);
double ekn_mse_cuda(size_t m, const float *y, const float *t, float *dy);
void ekn_argmax_count_cuda(int n, int c, size_t s, const float *p, const int32_t *labels,
                           long *correct, long *counted);
double ekn_mse_w_cuda(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy);
double ekn_bce_cuda(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count);
double ekn_softmax_focal_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                              float *dlogits, double *count);
double ekn_softmax_dice_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps,
                             float *dlogits, double *count);
double ekn_sigmoid_dice_cuda(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                             double *count);
#endif
