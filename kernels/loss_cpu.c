/* Fast losses.  Like softmax_cpu.c, a voxel's classes lie S floats apart, so
 * the NLL and the argmax walk a block of NLL_BLOCK voxels class by class with
 * per-voxel state in stack arrays; the inner loops are contiguous over s.
 * The per-voxel label lookups (a gather) are O(S), the class loops O(C*S).
 * Single precision except the loss sums, which are double as in _ref. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss.h"

#define NLL_BLOCK 256
#define LOG_CLAMPF 1e-12f /* same clamp as _ref (a normal float) */

static double nll_count_w(int n, int c, size_t s, const ekn_nll_args *a)
{
    double cnt = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const float *vw = a->voxel_w + (size_t)i * s;
        const uint8_t *lb = a->labelled ? a->labelled + (size_t)i * c : NULL;
        double wsum = 0;
        for (size_t v = 0; v < s; v++) {
            wsum += vw[v];
            if (lab[v] >= 0 && (!lb || lb[lab[v]])) cnt += vw[v];
        }
        if (a->absent)
            for (int k = 0; k < c; k++) cnt += a->absent[(size_t)i * c + k] ? wsum : 0;
    }
    return cnt;
}

static double nll_count(int n, int c, size_t s, const ekn_nll_args *a)
{
    if (a->voxel_w) return nll_count_w(n, c, s, a);
    size_t cnt = 0;
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const uint8_t *lb = a->labelled ? a->labelled + (size_t)i * c : NULL;
        for (size_t v = 0; v < s; v++) cnt += lab[v] >= 0 && (!lb || lb[lab[v]]);
        if (a->absent)
            for (int k = 0; k < c; k++) cnt += a->absent[(size_t)i * c + k] ? s : 0;
    }
    return (double)cnt;
}

double ekn_softmax_nll_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a,
                           float *dlogits, double *count)
{
    double cnt = nll_count(n, c, s, a);
    if (count) *count = cnt;
    if (cnt == 0) {
        memset(dlogits, 0, (size_t)n * c * s * sizeof *dlogits);
        return 0;
    }
    const float inv = (float)(1.0 / cnt);
    double loss = 0;
    float wv[NLL_BLOCK]; /* weight of each voxel's up term, 0 when it has none */
    /* sum of the down-term coefficients a_k = w_k p_k / (1 - p_k), in double so
     * that subtracting one huge a_j back out (see loss_ref.c) stays exact */
    double as[NLL_BLOCK];
    float cf[NLL_BLOCK]; /* the common factor of p_j for classes that are not absent */
    float vw[NLL_BLOCK]; /* the voxel weights (1 without them) */
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const uint8_t *lb = a->labelled ? a->labelled + (size_t)i * c : NULL;
        const uint8_t *ab = a->absent ? a->absent + (size_t)i * c : NULL;
        const float *pi = p + (size_t)i * c * s;
        const float *vwi = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
        float *di = dlogits + (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += NLL_BLOCK) {
            size_t nb = s - v0 < NLL_BLOCK ? s - v0 : NLL_BLOCK;
            for (size_t v = 0; v < nb; v++) vw[v] = vwi ? vwi[v0 + v] : 1.0f;
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                wv[v] = 0;
                as[v] = 0;
                if (y >= 0 && (!lb || lb[y])) {
                    wv[v] = (a->class_w ? a->class_w[y] : 1.0f) * vw[v];
                    loss -= wv[v] * (double)logf(fmaxf(pi[(size_t)y * s + v0 + v], LOG_CLAMPF));
                }
            }
            if (ab)
                for (int k = 0; k < c; k++) {
                    if (!ab[k]) continue;
                    const float wk = a->class_w ? a->class_w[k] : 1.0f;
                    const float *pk = pi + (size_t)k * s + v0;
                    double l = 0;
                    for (size_t v = 0; v < nb; v++) {
                        float q = fmaxf(1.0f - pk[v], LOG_CLAMPF);
                        l += vw[v] * logf(q);
                        as[v] += wk * vw[v] * pk[v] / q;
                    }
                    loss -= wk * l;
                }
            for (size_t v = 0; v < nb; v++) cf[v] = (float)(wv[v] - as[v]) * inv;
            for (int k = 0; k < c; k++) {
                const float *pk = pi + (size_t)k * s + v0;
                float *dk = di + (size_t)k * s + v0;
                if (ab && ab[k]) {
                    /* p_j (wy - sum_{k != j} a_k) + a_j (1 - p_j), as in loss_ref.c; a_j
                     * is the same float expression that went into as[] */
                    const float wk = a->class_w ? a->class_w[k] : 1.0f;
                    for (size_t v = 0; v < nb; v++) {
                        float pv = pk[v]; /* read before the (possibly aliased) write */
                        float q = fmaxf(1.0f - pv, LOG_CLAMPF), aj = wk * vw[v] * pv / q;
                        float rest = (float)(wv[v] - (as[v] - aj));
                        dk[v] = (pv * rest + wk * vw[v] * pv * (1.0f - pv) / q) * inv;
                    }
                } else {
                    for (size_t v = 0; v < nb; v++) dk[v] = pk[v] * cf[v];
                }
            }
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                if (y >= 0) di[(size_t)y * s + v0 + v] -= wv[v] * inv;
            }
        }
    }
    return loss / cnt;
}

double ekn_mse_cpu(size_t m, const float *y, const float *t, float *dy)
{
    size_t cnt = 0;
    for (size_t i = 0; i < m; i++) cnt += isfinite(t[i]) ? 1 : 0;
    if (cnt == 0) {
        if (dy) memset(dy, 0, m * sizeof *dy);
        return 0;
    }
    const float inv = 1.0f / (float)cnt;
    /* eight independent double accumulators: the order-preserving reduction
     * cannot vectorise without -ffast-math, eight lanes can */
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= m; i += 8)
        for (int j = 0; j < 8; j++) {
            float d = isfinite(t[i + j]) ? y[i + j] - t[i + j] : 0.0f;
            acc[j] += (double)d * d;
        }
    for (; i < m; i++) {
        float d = isfinite(t[i]) ? y[i] - t[i] : 0.0f;
        acc[0] += (double)d * d;
    }
    if (dy)
        for (size_t k = 0; k < m; k++) dy[k] = isfinite(t[k]) ? (y[k] - t[k]) * inv : 0.0f;
    double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    return sum / (2.0 * (double)cnt);
}

void ekn_argmax_count_cpu(int n, int c, size_t s, const float *p, const int32_t *labels,
                          long *correct, long *counted)
{
    long ok = 0, seen = 0;
    float bv[NLL_BLOCK];
    int32_t bi[NLL_BLOCK];
    for (int i = 0; i < n; i++) {
        const float *pi = p + (size_t)i * c * s;
        const int32_t *lab = labels + (size_t)i * s;
        for (size_t v0 = 0; v0 < s; v0 += NLL_BLOCK) {
            size_t nb = s - v0 < NLL_BLOCK ? s - v0 : NLL_BLOCK;
            for (size_t v = 0; v < nb; v++) {
                bv[v] = -INFINITY;
                bi[v] = -1; /* nothing above -inf (all NaN): never equals a label */
            }
            for (int k = 0; k < c; k++) {
                const float *pk = pi + (size_t)k * s + v0;
                for (size_t v = 0; v < nb; v++) { /* strict >: the first maximum wins */
                    int gt = pk[v] > bv[v];
                    bv[v] = gt ? pk[v] : bv[v];
                    bi[v] = gt ? k : bi[v];
                }
            }
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                seen += y >= 0;
                ok += y >= 0 && bi[v] == y;
            }
        }
    }
    *correct = ok;
    *counted = seen;
}

/* ---- voxel weights, BCE, focal, Dice (loss.h) ---------------------------- */

double ekn_mse_w_cpu(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy)
{
    if (!voxel_w) return ekn_mse_cpu((size_t)n * c * s, y, t, dy);
    double cnt = 0, sum = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *tk = t + ((size_t)i * c + k) * s, *w = voxel_w + (size_t)i * s;
            for (size_t v = 0; v < s; v++) cnt += isfinite(tk[v]) ? w[v] : 0.0f;
        }
    const float inv = cnt > 0 ? (float)(1.0 / cnt) : 0.0f;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            size_t o = ((size_t)i * c + k) * s;
            const float *w = voxel_w + (size_t)i * s;
            double acc = 0;
            for (size_t v = 0; v < s; v++) {
                float d = isfinite(t[o + v]) ? y[o + v] - t[o + v] : 0.0f;
                acc += (double)(w[v] * d) * d;
                if (dy) dy[o + v] = w[v] * d * inv;
            }
            sum += acc;
        }
    return cnt > 0 ? sum / (2.0 * cnt) : 0.0;
}

/* the weight of element v of a channel row: voxel weight or 1 */
static double elem_count(int n, int c, size_t s, const float *t, const float *voxel_w)
{
    double cnt = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float *tk = t + ((size_t)i * c + k) * s;
            if (voxel_w) {
                const float *w = voxel_w + (size_t)i * s;
                for (size_t v = 0; v < s; v++) cnt += isfinite(tk[v]) ? w[v] : 0.0f;
            } else {
                size_t m = 0;
                for (size_t v = 0; v < s; v++) m += isfinite(tk[v]) ? 1 : 0;
                cnt += (double)m;
            }
        }
    return cnt;
}

static inline float softplusf(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

static inline float sigmoidf(float x)
{
    float e = expf(-fabsf(x)); /* in (0, 1]: never overflows */
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

double ekn_bce_cpu(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count)
{
    double cnt = elem_count(n, c, s, a->t, a->voxel_w), loss = 0;
    if (count) *count = cnt;
    if (!(cnt > 0)) {
        memset(dz, 0, (size_t)n * c * s * sizeof *dz);
        return 0;
    }
    const float inv = (float)(1.0 / cnt);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < c; k++) {
            const float wk = a->class_w ? a->class_w[k] : 1.0f, q = a->pos_w ? a->pos_w[k] : 1.0f;
            size_t o = ((size_t)i * c + k) * s;
            const float *tk = a->t + o, *zk = z + o, *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
            float *dk = dz + o;
            double acc = 0;
            for (size_t v = 0; v < s; v++) {
                float t = tk[v], x = zk[v];
                if (!isfinite(t)) {
                    dk[v] = 0;
                    continue;
                }
                float w = vw ? wk * vw[v] : wk;
                acc += (double)(w * (q * t * softplusf(-x) + (1.0f - t) * softplusf(x)));
                dk[v] = w * (sigmoidf(x) * (q * t + 1.0f - t) - q * t) * inv;
            }
            loss += acc;
        }
    return loss / cnt;
}

static double label_count(int n, size_t s, const int32_t *labels, const float *voxel_w)
{
    double cnt = 0;
    for (size_t v = 0; v < (size_t)n * s; v++)
        if (labels[v] >= 0) cnt += voxel_w ? voxel_w[v] : 1.0f;
    return cnt;
}

double ekn_softmax_focal_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                             float *dlogits, double *count)
{
    double cnt = label_count(n, s, a->labels, a->voxel_w), loss = 0;
    if (count) *count = cnt;
    if (!(cnt > 0)) {
        memset(dlogits, 0, (size_t)n * c * s * sizeof *dlogits);
        return 0;
    }
    const float inv = (float)(1.0 / cnt);
    float cf[NLL_BLOCK]; /* w F / M of each voxel, 0 when ignored */
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const float *pi = p + (size_t)i * c * s, *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
        float *di = dlogits + (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += NLL_BLOCK) {
            size_t nb = s - v0 < NLL_BLOCK ? s - v0 : NLL_BLOCK;
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                cf[v] = 0;
                if (y < 0) continue;
                float w = (a->class_w ? a->class_w[y] : 1.0f) * (vw ? vw[v0 + v] : 1.0f);
                float q = pi[(size_t)y * s + v0 + v], r = 1.0f - q, rg = powf(fmaxf(r, 0.0f), gamma);
                float lq = logf(fmaxf(q, LOG_CLAMPF)), lr = r > 0 ? lq / r : -1.0f;
                loss -= (double)(w * rg * lq);
                cf[v] = w * rg * (gamma * q * lr - 1.0f) * inv;
            }
            for (int k = 0; k < c; k++) {
                const float *pk = pi + (size_t)k * s + v0;
                float *dk = di + (size_t)k * s + v0;
                for (size_t v = 0; v < nb; v++) dk[v] = -cf[v] * pk[v];
            }
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                if (y >= 0) di[(size_t)y * s + v0 + v] += cf[v];
            }
        }
    }
    return loss / cnt;
}

double ekn_softmax_dice_cpu(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps, float *dlogits,
                            double *count)
{
    double cnt = label_count(n, s, a->labels, a->voxel_w), csum = 0;
    if (count) *count = cnt;
    for (int k = 0; k < c; k++) csum += a->class_w ? a->class_w[k] : 1.0f;
    /* the per-class sums: on the stack for up to 64 classes, so a training
     * step allocates nothing; only more classes take the heap */
    double small[2 * 64] = {0}, *acc = NULL;
    if (cnt > 0 && csum > 0) acc = c <= 64 ? small : calloc((size_t)c * 2, sizeof *acc);
    if (!acc) {
        memset(dlogits, 0, (size_t)n * c * s * sizeof *dlogits);
        return 0;
    }
    double *inter = acc, *uni = acc + c;
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const float *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
        for (int k = 0; k < c; k++) {
            const float *pk = p + ((size_t)i * c + k) * s;
            double in = 0, un = 0;
            for (size_t v = 0; v < s; v++) {
                if (lab[v] < 0) continue;
                float w = vw ? vw[v] : 1.0f, hit = lab[v] == k ? 1.0f : 0.0f;
                in += w * pk[v] * hit;
                un += w * (pk[v] + hit);
            }
            inter[k] += in;
            uni[k] += un;
        }
    }
    double dsum = 0;
    for (int k = 0; k < c; k++) {
        uni[k] += eps;
        dsum += (a->class_w ? a->class_w[k] : 1.0f) * 2.0 * inter[k] / uni[k];
    }
    /* g_vk = A_k t_vk + B_k per unit weight: A_k = -2 c_k / (csum U_k), B_k = 2 c_k I_k / (csum U_k^2) */
    float pg[NLL_BLOCK];
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const float *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
        const float *pi = p + (size_t)i * c * s;
        float *di = dlogits + (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += NLL_BLOCK) {
            size_t nb = s - v0 < NLL_BLOCK ? s - v0 : NLL_BLOCK;
            for (size_t v = 0; v < nb; v++) pg[v] = 0;
            for (int k = 0; k < c; k++) {
                double ck = a->class_w ? a->class_w[k] : 1.0f;
                float A = (float)(-2.0 * ck / (csum * uni[k])), B = (float)(2.0 * ck * inter[k] / (csum * uni[k] * uni[k]));
                const float *pk = pi + (size_t)k * s + v0;
                for (size_t v = 0; v < nb; v++) {
                    int32_t y = lab[v0 + v];
                    float w = y < 0 ? 0.0f : vw ? vw[v0 + v] : 1.0f;
                    pg[v] += pk[v] * w * ((y == k ? A : 0.0f) + B);
                }
            }
            for (int k = 0; k < c; k++) {
                double ck = a->class_w ? a->class_w[k] : 1.0f;
                float A = (float)(-2.0 * ck / (csum * uni[k])), B = (float)(2.0 * ck * inter[k] / (csum * uni[k] * uni[k]));
                const float *pk = pi + (size_t)k * s + v0;
                float *dk = di + (size_t)k * s + v0;
                for (size_t v = 0; v < nb; v++) {
                    int32_t y = lab[v0 + v];
                    float w = y < 0 ? 0.0f : vw ? vw[v0 + v] : 1.0f;
                    dk[v] = pk[v] * (w * ((y == k ? A : 0.0f) + B) - pg[v]);
                }
            }
        }
    }
    if (acc != small) free(acc);
    return 1.0 - dsum / csum;
}

double ekn_sigmoid_dice_cpu(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                            double *count)
{
    double cnt = elem_count(n, c, s, a->t, a->voxel_w), csum = 0, dsum = 0;
    if (count) *count = cnt;
    for (int k = 0; k < c; k++) csum += a->class_w ? a->class_w[k] : 1.0f;
    if (!(cnt > 0) || !(csum > 0)) {
        memset(dz, 0, (size_t)n * c * s * sizeof *dz);
        return 0;
    }
    for (int k = 0; k < c; k++) {
        double in = 0, un = 0, ck = a->class_w ? a->class_w[k] : 1.0f;
        for (int i = 0; i < n; i++) {
            size_t o = ((size_t)i * c + k) * s;
            const float *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
            for (size_t v = 0; v < s; v++) {
                float t = a->t[o + v];
                if (!isfinite(t)) continue;
                float w = vw ? vw[v] : 1.0f, pk = sigmoidf(z[o + v]);
                in += w * pk * t;
                un += w * (pk + t);
            }
        }
        un += eps;
        dsum += ck * 2.0 * in / un;
        float A = (float)(-2.0 * ck / (csum * un)), B = (float)(2.0 * ck * in / (csum * un * un));
        for (int i = 0; i < n; i++) {
            size_t o = ((size_t)i * c + k) * s;
            const float *vw = a->voxel_w ? a->voxel_w + (size_t)i * s : NULL;
            for (size_t v = 0; v < s; v++) {
                float t = a->t[o + v];
                if (!isfinite(t)) {
                    dz[o + v] = 0;
                    continue;
                }
                float w = vw ? vw[v] : 1.0f, pk = sigmoidf(z[o + v]);
                dz[o + v] = w * (A * t + B) * pk * (1.0f - pk);
            }
        }
    }
    return 1.0 - dsum / csum;
}
