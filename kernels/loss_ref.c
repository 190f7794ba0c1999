/* Reference losses: voxel by voxel, double throughout, following the
 * formulas in loss.h term by term. */
#include <math.h>

#include "loss.h"

#define LOG_CLAMP 1e-12 /* smallest log argument, so p = 0 gives 27.6, not inf */

static double clamp_lo(double v)
{
    return v < LOG_CLAMP ? LOG_CLAMP : v;
}

/* N_up + N_down; needed before any gradient can be scaled */
static double nll_count(int n, int c, size_t s, const ekn_nll_args *a)
{
    double cnt = 0;
    for (int i = 0; i < n; i++) {
        for (size_t v = 0; v < s; v++) {
            int32_t y = a->labels[(size_t)i * s + v];
            if (y >= 0 && (!a->labelled || a->labelled[(size_t)i * c + y])) cnt += 1;
        }
        if (a->absent)
            for (int k = 0; k < c; k++) cnt += a->absent[(size_t)i * c + k] ? (double)s : 0.0;
    }
    return cnt;
}

double ekn_softmax_nll_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                           float *dlogits, double *count)
{
    double cnt = nll_count(n, c, s, a);
    if (count) *count = cnt;
    if (cnt == 0) {
        for (size_t i = 0; i < (size_t)n * c * s; i++) dlogits[i] = 0;
        return 0;
    }
    double inv = 1.0 / cnt, loss = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *ab = a->absent ? a->absent + (size_t)i * c : NULL;
        for (size_t v = 0; v < s; v++) {
            size_t o = (size_t)i * c * s + v; /* class k of this voxel at o + k*s */
            int32_t y = a->labels[(size_t)i * s + v];
            double wy = 0; /* weight of the up term, 0 if there is none */
            if (y >= 0 && (!a->labelled || a->labelled[(size_t)i * c + y])) {
                wy = a->class_w ? a->class_w[y] : 1.0;
                loss -= wy * log(clamp_lo(p[o + (size_t)y * s]));
            }
            /* down terms: sum_k a_k (e_k - p) with a_k = w_k p_k / (1 - p_k) */
            double asum = 0;
            if (ab)
                for (int k = 0; k < c; k++) {
                    if (!ab[k]) continue;
                    double wk = a->class_w ? a->class_w[k] : 1.0, pk = p[o + (size_t)k * s];
                    double q = clamp_lo(1.0 - pk);
                    loss -= wk * log(q);
                    asum += wk * pk / q;
                }
            /* dlogits_j = p_j (wy - sum_{k != j} a_k) + a_j (1 - p_j) - wy [j = y].
             * Written so, not as p_j (wy - asum) + a_j, because a_j blows up as an
             * absent class's p_j -> 1 while a_j (1 - p_j) = w_j p_j stays bounded:
             * the short form would cancel two huge numbers.  Each p_j is read just
             * before dlogits_j is written, so the two may alias. */
            for (int k = 0; k < c; k++) {
                double pk = p[o + (size_t)k * s], ak = 0, self = 0;
                if (ab && ab[k]) {
                    double wk = a->class_w ? a->class_w[k] : 1.0, q = clamp_lo(1.0 - pk);
                    ak = wk * pk / q;
                    self = wk * pk * (1.0 - pk) / q;
                }
                double g = pk * (wy - (asum - ak)) + self;
                if (k == y) g -= wy;
                dlogits[o + (size_t)k * s] = (float)(g * inv);
            }
        }
    }
    return loss * inv;
}

double ekn_mse_ref(size_t m, const float *y, const float *t, float *dy)
{
    size_t cnt = 0;
    for (size_t i = 0; i < m; i++) cnt += isfinite(t[i]) ? 1 : 0;
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        double d = isfinite(t[i]) ? (double)y[i] - t[i] : 0.0;
        sum += d * d;
        if (dy) dy[i] = cnt ? (float)(d / cnt) : 0.0f;
    }
    return cnt ? sum / (2.0 * cnt) : 0.0;
}

void ekn_argmax_count_ref(int n, int c, size_t s, const float *p, const int32_t *labels,
                          long *correct, long *counted)
{
    long ok = 0, seen = 0;
    for (int i = 0; i < n; i++)
        for (size_t v = 0; v < s; v++) {
            int32_t y = labels[(size_t)i * s + v];
            if (y < 0) continue;
            seen++;
            int best = -1; /* stays -1 if nothing beats -inf (all NaN): counted wrong */
            float bv = -INFINITY;
            for (int k = 0; k < c; k++) {
                float pk = p[((size_t)i * c + k) * s + v];
                if (pk > bv) {
                    bv = pk;
                    best = k;
                }
            }
            ok += best == y;
        }
    *correct = ok;
    *counted = seen;
}
