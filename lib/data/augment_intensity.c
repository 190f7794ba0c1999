/* augment_intensity: brightness, contrast, gamma, blur, noise, dropout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

#define MAX_BLUR_RADIUS 32

/* In-place Gaussian blur along one axis of a (A, L, B) array, edges clamped;
 * tmp holds L*B floats. */
static void blur_axis(float *x, size_t A, size_t L, size_t B, const float *k, int r, float *tmp)
{
    for (size_t a = 0; a < A; a++) {
        float *base = x + a * L * B;
        for (size_t l = 0; l < L; l++) {
            float *o = tmp + l * B;
            for (size_t b = 0; b < B; b++) o[b] = 0;
            for (int t = -r; t <= r; t++) {
                long li = (long)l + t;
                li = li < 0 ? 0 : li >= (long)L ? (long)L - 1 : li;
                const float *s = base + (size_t)li * B;
                float kt = k[t + r];
                for (size_t b = 0; b < B; b++) o[b] += kt * s[b];
            }
        }
        memcpy(base, tmp, L * B * sizeof *tmp);
    }
}

static int blur(float *x, int channels, const int shape[3], double sigma, int in_plane, ekn_aug_work *w,
                ekn_err *err)
{
    int r = (int)ceil(3 * sigma);
    if (r < 1) return 0;
    if (r > MAX_BLUR_RADIUS) r = MAX_BLUR_RADIUS;
    float k[2 * MAX_BLUR_RADIUS + 1];
    double sum = 0;
    for (int t = -r; t <= r; t++) sum += k[t + r] = (float)exp(-0.5 * t * t / (sigma * sigma));
    for (int t = 0; t <= 2 * r; t++) k[t] = (float)(k[t] / sum);
    size_t Z = (size_t)shape[0], Y = (size_t)shape[1], X = (size_t)shape[2], vol = Z * Y * X;
    if (vol > w->tmp_cap) {
        float *p = realloc(w->tmp, vol * sizeof *p);
        if (!p) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a blur");
        w->tmp = p, w->tmp_cap = vol;
    }
    for (int c = 0; c < channels; c++) {
        float *v = x + c * vol;
        if (X > 1) blur_axis(v, Z * Y, X, 1, k, r, w->tmp);
        if (Y > 1) blur_axis(v, Z, Y, X, k, r, w->tmp);
        if (Z > 1 && !in_plane) blur_axis(v, 1, Z, Y * X, k, r, w->tmp);
    }
    return 0;
}

int ekn_aug_intensity(float *x, int channels, const int shape[3], const ekn_aug_opts *o, const ekn_aug_params *p,
                      ekn_rng *rng, ekn_aug_work *w, ekn_err *err)
{
    size_t n = (size_t)shape[0] * shape[1] * shape[2];
    for (int c = 0; c < channels; c++) {
        float *v = x + c * n;
        int pc = c < EKN_AUG_MAX_CHANNELS ? c : EKN_AUG_MAX_CHANNELS - 1;
        if (o->gamma > 1 && p->gamma[pc] != 1) {
            /* on the example's own range, so any normalisation keeps its min and max */
            float lo = v[0], hi = v[0];
            for (size_t i = 1; i < n; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
            if (hi > lo) {
                float range = hi - lo, inv = 1 / range, g = p->gamma[pc];
                for (size_t i = 0; i < n; i++) {
                    float t = (v[i] - lo) * inv;
                    v[i] = lo + range * powf(t < 0 ? 0 : t > 1 ? 1 : t, g);
                }
            }
        }
        if (o->contrast > 0) {
            double mean = 0;
            for (size_t i = 0; i < n; i++) mean += v[i];
            float m = (float)(mean / (double)n), f = p->contrast[pc];
            for (size_t i = 0; i < n; i++) v[i] = m + f * (v[i] - m);
        }
        if (o->brightness > 0) {
            float b = p->brightness[pc];
            for (size_t i = 0; i < n; i++) v[i] += b;
        }
    }
    if (p->blur > 0 && n > 1 && blur(x, channels, shape, p->blur, o->in_plane, w, err)) return -1;
    size_t total = n * (size_t)channels;
    if (o->noise > 0)
        for (size_t i = 0; i < total; i++) x[i] += (float)(o->noise * ekn_rng_normal(rng));
    if (o->dropout > 0)
        for (size_t i = 0; i < total; i++)
            if (ekn_rng_uniform(rng) < o->dropout) x[i] = 0;
    return 0;
}
