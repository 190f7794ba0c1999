/* augment_field: smooth random displacement fields (Simard et al. 2003).
 *
 * White noise blurred by a Gaussian of sigma voxels is what Simard's
 * elastic distortion uses; blurring at full resolution would cost
 * O(voxels * sigma) per example, so the noise lives on a coarse grid with a
 * spacing of about sigma/3 voxels (where the blurred field is nearly linear),
 * is blurred there with a separable kernel and is upsampled linearly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

#define MAX_RADIUS 64

static int reserve(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p) return -1;
    *buf = p, *cap = n;
    return 0;
}

/* Valid convolution along the middle axis: (A, L + 2r, B) -> (A, L, B). */
static void conv_axis(const float *in, float *out, size_t A, size_t L, size_t B, const float *k, int r)
{
    size_t Lin = L + 2 * (size_t)r;
    for (size_t a = 0; a < A; a++)
        for (size_t l = 0; l < L; l++) {
            float *o = out + (a * L + l) * B;
            const float *src = in + (a * Lin + l) * B;
            for (size_t b = 0; b < B; b++) o[b] = 0;
            for (int t = 0; t <= 2 * r; t++) {
                const float *s = src + (size_t)t * B;
                float kt = k[t];
                for (size_t b = 0; b < B; b++) o[b] += kt * s[b];
            }
        }
}

int ekn_aug_elastic_field(float *field, int ndisp, const int out[3], double strength, double sigma, uint64_t seed,
                          ekn_aug_work *w, ekn_err *err)
{
    int g = sigma >= 3 ? (int)(sigma / 3) : 1;
    double sc = sigma / g;
    int r = (int)ceil(3 * sc);
    if (r > MAX_RADIUS) r = MAX_RADIUS;
    if (r < 1) r = 1;
    float kernel[2 * MAX_RADIUS + 1];
    double ksum = 0, ksq = 0;
    for (int t = -r; t <= r; t++) ksum += kernel[t + r] = (float)exp(-0.5 * t * t / (sc * sc));
    for (int t = 0; t <= 2 * r; t++) {
        kernel[t] = (float)(kernel[t] / ksum);
        ksq += (double)kernel[t] * kernel[t];
    }
    /* coarse grid: m nodes cover 0..n-1 at spacing g; e with the blur's margin */
    size_t m[3], e[3];
    double var = 1;
    for (int k = 0; k < 3; k++) {
        int used = out[k] > 1;
        m[k] = used ? (size_t)(out[k] - 1) / g + 2 : 1;
        e[k] = used ? m[k] + 2 * (size_t)r : 1;
        if (used) var *= ksq;
    }
    size_t ne = e[0] * e[1] * e[2], n1 = e[0] * e[1] * m[2], n2 = e[0] * m[1] * m[2];
    if (reserve(&w->coarse, &w->coarse_cap, ne + m[0] * m[1] * m[2]) || reserve(&w->tmp, &w->tmp_cap, n1 + n2))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a displacement field");
    float *noise = w->coarse, *coarse = w->coarse + ne, *t1 = w->tmp, *t2 = w->tmp + n1;
    /* unit variance after the blur, then the requested amplitude */
    double gain = strength / sqrt(var);
    size_t vol = (size_t)out[0] * out[1] * out[2];
    float inv_g = 1.0f / (float)g;
    for (int d = 0; d < ndisp; d++) {
        ekn_rng rng;
        ekn_rng_seed(&rng, seed, (uint64_t)d);
        for (size_t i = 0; i < ne; i++) noise[i] = (float)(gain * ekn_rng_normal(&rng));
        const float *cur = noise;
        if (out[2] > 1) conv_axis(cur, t1, e[0] * e[1], m[2], 1, kernel, r), cur = t1;
        else memcpy(t1, cur, n1 * sizeof *t1), cur = t1;
        if (out[1] > 1) conv_axis(cur, t2, e[0], m[1], m[2], kernel, r), cur = t2;
        else memcpy(t2, cur, n2 * sizeof *t2), cur = t2;
        if (out[0] > 1) conv_axis(cur, coarse, 1, m[0], m[1] * m[2], kernel, r);
        else memcpy(coarse, cur, m[0] * m[1] * m[2] * sizeof *coarse);

        float *f = field + d * vol;
        for (int z = 0; z < out[0]; z++) {
            int iz = z / g;
            float fz = out[0] > 1 ? (float)(z - iz * g) * inv_g : 0;
            size_t z1 = out[0] > 1 ? 1 : 0;
            for (int y = 0; y < out[1]; y++) {
                int iy = y / g;
                float fy = out[1] > 1 ? (float)(y - iy * g) * inv_g : 0;
                size_t y1 = out[1] > 1 ? m[2] : 0;
                const float *c00 = coarse + ((size_t)iz * m[1] + iy) * m[2], *c01 = c00 + y1;
                const float *c10 = c00 + z1 * m[1] * m[2], *c11 = c10 + y1;
                float *row = f + ((size_t)z * out[1] + y) * out[2];
                /* per coarse cell: the nodes are blended in Z,Y once, then along X */
                for (int x = 0, ix = 0; x < out[2]; ix++) {
                    float a[2];
                    for (int j = 0; j < 2; j++) {
                        size_t i = (size_t)ix + (out[2] > 1 ? (size_t)j : 0);
                        float v0 = c00[i] + fy * (c01[i] - c00[i]), v1 = c10[i] + fy * (c11[i] - c10[i]);
                        a[j] = v0 + fz * (v1 - v0);
                    }
                    for (int j = 0; j < g && x < out[2]; j++, x++) row[x] = a[0] + (float)j * inv_g * (a[1] - a[0]);
                }
            }
        }
    }
    return 0;
}
