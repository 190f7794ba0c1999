/* Fast softmax.  For S > 1 a voxel's classes lie S floats apart, so walking
 * one voxel at a time would stride through memory; instead a block of
 * SM_BLOCK voxels is processed class by class with the per-voxel max and sum
 * kept in small stack arrays, so every inner loop is contiguous over s and
 * vectorises.  For S == 1 the classes are contiguous and the loops run over c. */
#include <math.h>

#include "softmax.h"

#define SM_BLOCK 256 /* voxels per block: 2 x 1 KiB of stack, stays in L1 */

static void forward_rows(int n, int c, const float *x, float *p)
{
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c;
        float *pi = p + (size_t)i * c;
        float mx = -INFINITY;
        for (int k = 0; k < c; k++) mx = xi[k] > mx ? xi[k] : mx;
        float sum = 0;
        for (int k = 0; k < c; k++) {
            pi[k] = expf(xi[k] - mx);
            sum += pi[k];
        }
        float inv = 1.0f / sum;
        for (int k = 0; k < c; k++) pi[k] *= inv;
    }
}

void ekn_softmax_forward_cpu(int n, int c, size_t s, const float *x, float *p)
{
    if (s == 1) {
        forward_rows(n, c, x, p);
        return;
    }
    float mx[SM_BLOCK], sum[SM_BLOCK];
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c * s;
        float *pi = p + (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += SM_BLOCK) {
            size_t nb = s - v0 < SM_BLOCK ? s - v0 : SM_BLOCK;
            for (size_t v = 0; v < nb; v++) {
                mx[v] = -INFINITY;
                sum[v] = 0;
            }
            for (int k = 0; k < c; k++) {
                const float *xk = xi + k * s + v0;
                for (size_t v = 0; v < nb; v++) mx[v] = xk[v] > mx[v] ? xk[v] : mx[v];
            }
            for (int k = 0; k < c; k++) {
                const float *xk = xi + k * s + v0;
                float *pk = pi + k * s + v0;
                for (size_t v = 0; v < nb; v++) {
                    pk[v] = expf(xk[v] - mx[v]);
                    sum[v] += pk[v];
                }
            }
            for (size_t v = 0; v < nb; v++) sum[v] = 1.0f / sum[v];
            for (int k = 0; k < c; k++) {
                float *pk = pi + k * s + v0;
                for (size_t v = 0; v < nb; v++) pk[v] *= sum[v];
            }
        }
    }
}

void ekn_softmax_backward_cpu(int n, int c, size_t s, const float *p, const float *dp,
                              float *dx)
{
    if (s == 1) {
        for (int i = 0; i < n; i++) {
            const float *pi = p + (size_t)i * c, *dpi = dp + (size_t)i * c;
            float *dxi = dx + (size_t)i * c;
            float dot = 0;
            for (int k = 0; k < c; k++) dot += pi[k] * dpi[k];
            for (int k = 0; k < c; k++) dxi[k] = pi[k] * (dpi[k] - dot);
        }
        return;
    }
    float dot[SM_BLOCK];
    for (int i = 0; i < n; i++) {
        size_t base = (size_t)i * c * s;
        for (size_t v0 = 0; v0 < s; v0 += SM_BLOCK) {
            size_t nb = s - v0 < SM_BLOCK ? s - v0 : SM_BLOCK;
            for (size_t v = 0; v < nb; v++) dot[v] = 0;
            for (int k = 0; k < c; k++) {
                const float *pk = p + base + k * s + v0, *dpk = dp + base + k * s + v0;
                for (size_t v = 0; v < nb; v++) dot[v] += pk[v] * dpk[v];
            }
            for (int k = 0; k < c; k++) {
                const float *pk = p + base + k * s + v0, *dpk = dp + base + k * s + v0;
                float *dxk = dx + base + k * s + v0;
                for (size_t v = 0; v < nb; v++) dxk[v] = pk[v] * (dpk[v] - dot[v]);
            }
        }
    }
}
