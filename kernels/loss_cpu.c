/* Fast losses.  Like softmax_cpu.c, a voxel's classes lie S floats apart, so
 * the NLL and the argmax walk a block of NLL_BLOCK voxels class by class with
 * per-voxel state in stack arrays; the inner loops are contiguous over s.
 * The per-voxel label lookups (a gather) are O(S), the class loops O(C*S).
 * Single precision except the loss sums, which are double as in _ref. */
#include <math.h>
#include <string.h>

#include "loss.h"

#define NLL_BLOCK 256
#define LOG_CLAMPF 1e-12f /* same clamp as _ref (a normal float) */

static double nll_count(int n, int c, size_t s, const ekn_nll_args *a)
{
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
    for (int i = 0; i < n; i++) {
        const int32_t *lab = a->labels + (size_t)i * s;
        const uint8_t *lb = a->labelled ? a->labelled + (size_t)i * c : NULL;
        const uint8_t *ab = a->absent ? a->absent + (size_t)i * c : NULL;
        const float *pi = p + (size_t)i * c * s;
        float *di = dlogits + (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += NLL_BLOCK) {
            size_t nb = s - v0 < NLL_BLOCK ? s - v0 : NLL_BLOCK;
            for (size_t v = 0; v < nb; v++) {
                int32_t y = lab[v0 + v];
                wv[v] = 0;
                as[v] = 0;
                if (y >= 0 && (!lb || lb[y])) {
                    wv[v] = a->class_w ? a->class_w[y] : 1.0f;
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
                        l += logf(q);
                        as[v] += wk * pk[v] / q;
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
                        float q = fmaxf(1.0f - pv, LOG_CLAMPF), aj = wk * pv / q;
                        float rest = (float)(wv[v] - (as[v] - aj));
                        dk[v] = (pv * rest + wk * pv * (1.0f - pv) / q) * inv;
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
