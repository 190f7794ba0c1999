/* Reference losses: voxel by voxel, double throughout, following the
 * formulas in loss.h term by term. */
#include <math.h>
#include <stdlib.h>

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
        double wsum = 0; /* sum of the example's voxel weights (s without them) */
        for (size_t v = 0; v < s; v++) {
            int32_t y = a->labels[(size_t)i * s + v];
            double w = a->voxel_w ? a->voxel_w[(size_t)i * s + v] : 1.0;
            wsum += w;
            if (y >= 0 && (!a->labelled || a->labelled[(size_t)i * c + y])) cnt += w;
        }
        if (!a->voxel_w) wsum = (double)s;
        if (a->absent)
            for (int k = 0; k < c; k++) cnt += a->absent[(size_t)i * c + k] ? wsum : 0.0;
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
            double vw = a->voxel_w ? a->voxel_w[(size_t)i * s + v] : 1.0;
            double wy = 0; /* weight of the up term, 0 if there is none */
            if (y >= 0 && (!a->labelled || a->labelled[(size_t)i * c + y])) {
                wy = (a->class_w ? a->class_w[y] : 1.0) * vw;
                loss -= wy * log(clamp_lo(p[o + (size_t)y * s]));
            }
            /* down terms: sum_k a_k (e_k - p) with a_k = w_k p_k / (1 - p_k) */
            double asum = 0;
            if (ab)
                for (int k = 0; k < c; k++) {
                    if (!ab[k]) continue;
                    double wk = (a->class_w ? a->class_w[k] : 1.0) * vw, pk = p[o + (size_t)k * s];
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
                    double wk = (a->class_w ? a->class_w[k] : 1.0) * vw, q = clamp_lo(1.0 - pk);
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

/* ---- voxel weights, BCE, focal, Dice (loss.h) ---------------------------- */

static double vox_w(const float *voxel_w, size_t i) { return voxel_w ? voxel_w[i] : 1.0; }

double ekn_mse_w_ref(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy)
{
    double cnt = 0, sum = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                if (isfinite(t[e])) cnt += vox_w(voxel_w, (size_t)i * s + v);
            }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                double w = vox_w(voxel_w, (size_t)i * s + v);
                double d = isfinite(t[e]) ? (double)y[e] - t[e] : 0.0;
                sum += w * d * d;
                if (dy) dy[e] = cnt > 0 ? (float)(w * d / cnt) : 0.0f;
            }
    return cnt > 0 ? sum / (2.0 * cnt) : 0.0;
}

/* log(1 + e^x) without overflow or log(0) */
static double softplus(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

static double sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double ekn_bce_ref(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count)
{
    double cnt = 0, loss = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (size_t v = 0; v < s; v++)
                if (isfinite(a->t[((size_t)i * c + k) * s + v])) cnt += vox_w(a->voxel_w, (size_t)i * s + v);
    if (count) *count = cnt;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            double wk = a->class_w ? a->class_w[k] : 1.0, q = a->pos_w ? a->pos_w[k] : 1.0;
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                double t = a->t[e], x = z[e];
                if (!isfinite(t) || cnt <= 0) {
                    dz[e] = 0;
                    continue;
                }
                double w = wk * vox_w(a->voxel_w, (size_t)i * s + v);
                loss += w * (q * t * softplus(-x) + (1 - t) * softplus(x));
                dz[e] = (float)(w * (sigmoid(x) * (q * t + 1 - t) - q * t) / cnt);
            }
        }
    return cnt > 0 ? loss / cnt : 0.0;
}

/* log(q) / (1 - q) for q in (0, 1], q clamped for the log; -1 at q = 1 */
static double log_over_r(double q)
{
    double r = 1.0 - q;
    return r > 0 ? log(clamp_lo(q)) / r : -1.0;
}

double ekn_softmax_focal_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                             float *dlogits, double *count)
{
    double cnt = 0, loss = 0;
    for (size_t v = 0; v < (size_t)n * s; v++)
        if (a->labels[v] >= 0) cnt += vox_w(a->voxel_w, v);
    if (count) *count = cnt;
    for (int i = 0; i < n; i++)
        for (size_t v = 0; v < s; v++) {
            size_t o = (size_t)i * c * s + v;
            int32_t y = a->labels[(size_t)i * s + v];
            if (y < 0 || cnt <= 0) {
                for (int k = 0; k < c; k++) dlogits[o + (size_t)k * s] = 0;
                continue;
            }
            double w = (a->class_w ? a->class_w[y] : 1.0) * vox_w(a->voxel_w, (size_t)i * s + v);
            double q = p[o + (size_t)y * s], r = 1.0 - q, rg = pow(r > 0 ? r : 0, gamma);
            loss -= w * rg * log(clamp_lo(q));
            double f = rg * (gamma * q * log_over_r(q) - 1.0);
            for (int k = 0; k < c; k++) {
                double pk = p[o + (size_t)k * s];
                dlogits[o + (size_t)k * s] = (float)(w * f * ((k == y) - pk) / cnt);
            }
        }
    return cnt > 0 ? loss / cnt : 0.0;
}

/* The Dice gradient wrt p of element (v, k): g as in loss.h */
static double dice_g(double ck, double csum, double w, double t, double inter, double uni)
{
    return -(ck / csum) * 2.0 * w * (t * uni - inter) / (uni * uni);
}

double ekn_softmax_dice_ref(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps, float *dlogits,
                            double *count)
{
    double cnt = 0, csum = 0, loss = 0;
    for (size_t v = 0; v < (size_t)n * s; v++)
        if (a->labels[v] >= 0) cnt += vox_w(a->voxel_w, v);
    if (count) *count = cnt;
    for (int k = 0; k < c; k++) csum += a->class_w ? a->class_w[k] : 1.0;
    double *inter = calloc((size_t)c * 2, sizeof *inter), *uni = inter ? inter + c : NULL;
    if (!inter || cnt <= 0 || csum <= 0) {
        for (size_t e = 0; e < (size_t)n * c * s; e++) dlogits[e] = 0;
        free(inter);
        return 0;
    }
    for (int k = 0; k < c; k++) {
        double in = 0, un = 0;
        for (int i = 0; i < n; i++)
            for (size_t v = 0; v < s; v++) {
                int32_t y = a->labels[(size_t)i * s + v];
                if (y < 0) continue;
                double w = vox_w(a->voxel_w, (size_t)i * s + v), pk = p[((size_t)i * c + k) * s + v];
                in += w * pk * (y == k);
                un += w * (pk + (y == k));
            }
        inter[k] = in;
        uni[k] = un + eps;
    }
    double dsum = 0;
    for (int k = 0; k < c; k++) dsum += (a->class_w ? a->class_w[k] : 1.0) * 2.0 * inter[k] / uni[k];
    loss = 1.0 - dsum / csum;
    for (int i = 0; i < n; i++)
        for (size_t v = 0; v < s; v++) {
            size_t o = (size_t)i * c * s + v;
            int32_t y = a->labels[(size_t)i * s + v];
            if (y < 0) {
                for (int k = 0; k < c; k++) dlogits[o + (size_t)k * s] = 0;
                continue;
            }
            double w = vox_w(a->voxel_w, (size_t)i * s + v), pg = 0;
            for (int k = 0; k < c; k++)
                pg += p[o + (size_t)k * s] *
                      dice_g(a->class_w ? a->class_w[k] : 1.0, csum, w, y == k, inter[k], uni[k]);
            for (int k = 0; k < c; k++) {
                double pk = p[o + (size_t)k * s];
                double g = dice_g(a->class_w ? a->class_w[k] : 1.0, csum, w, y == k, inter[k], uni[k]);
                dlogits[o + (size_t)k * s] = (float)(pk * (g - pg));
            }
        }
    free(inter);
    return loss;
}

double ekn_sigmoid_dice_ref(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                            double *count)
{
    double cnt = 0, csum = 0, dsum = 0;
    for (int k = 0; k < c; k++) csum += a->class_w ? a->class_w[k] : 1.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (size_t v = 0; v < s; v++)
                if (isfinite(a->t[((size_t)i * c + k) * s + v])) cnt += vox_w(a->voxel_w, (size_t)i * s + v);
    if (count) *count = cnt;
    if (cnt <= 0 || csum <= 0) {
        for (size_t e = 0; e < (size_t)n * c * s; e++) dz[e] = 0;
        return 0;
    }
    for (int k = 0; k < c; k++) {
        double in = 0, un = 0, ck = a->class_w ? a->class_w[k] : 1.0;
        for (int i = 0; i < n; i++)
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                double t = a->t[e];
                if (!isfinite(t)) continue;
                double w = vox_w(a->voxel_w, (size_t)i * s + v), pk = sigmoid(z[e]);
                in += w * pk * t;
                un += w * (pk + t);
            }
        un += eps;
        dsum += ck * 2.0 * in / un;
        for (int i = 0; i < n; i++)
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                double t = a->t[e];
                if (!isfinite(t)) {
                    dz[e] = 0;
                    continue;
                }
                double pk = sigmoid(z[e]);
                dz[e] = (float)(dice_g(ck, csum, vox_w(a->voxel_w, (size_t)i * s + v), t, in, un) * pk * (1 - pk));
            }
    }
    return 1.0 - dsum / csum;
}

void ekn_sigmoid_score(int n, int c, size_t s, const float *p, const float *t, long *correct, long *counted,
                       double *bce)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++)
            for (size_t v = 0; v < s; v++) {
                size_t e = ((size_t)i * c + k) * s + v;
                double tv = t[e], pv = p[e];
                if (!isfinite(tv)) continue;
                counted[k]++;
                correct[k] += (pv >= 0.5) == (tv >= 0.5);
                double pc = pv < LOG_CLAMP ? LOG_CLAMP : pv > 1 - LOG_CLAMP ? 1 - LOG_CLAMP : pv;
                bce[k] -= tv * log(pc) + (1 - tv) * log(1 - pc);
            }
}
