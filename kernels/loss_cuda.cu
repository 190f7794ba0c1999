// ekn_softmax_nll_cuda, ekn_mse_cuda, ekn_argmax_count_cuda (kernels/loss.h):
// loss_ref.c's formulas, one thread per voxel (or element), in double.
//
// The mean needs the count before any gradient can be scaled, so the NLL
// and MSE take two passes: the count (reduced and copied to the host), then
// the terms and gradients.  Sums use the fixed-order reduction of
// cuda_check.h, so a loss is the same from run to run.  A failure gives 0
// and is recorded for ekn_cuda_last_error.
#include "cuda_check.h"
extern "C" {
#include "loss.h"
}

namespace {

const double LOG_CLAMP = 1e-12; // as loss_ref.c

__device__ double clamp_lo(double v) { return v < LOG_CLAMP ? LOG_CLAMP : v; }

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// N_up over the voxels, plus S per absent flag
__global__ void nll_count(int n, int c, size_t s, ekn_nll_args a, double *partials)
{
    double cnt = 0;
    size_t voxels = (size_t)n * s, flags = a.absent ? (size_t)n * c : 0, total = voxels > flags ? voxels : flags;
    GRID_STRIDE(i, total)
    {
        if (i < voxels) {
            int32_t y = a.labels[i];
            if (y >= 0 && (!a.labelled || a.labelled[i / s * c + y])) cnt += 1;
        }
        if (i < flags && a.absent[i]) cnt += (double)s;
    }
    ekn_block_sum2_store(cnt, 0, partials);
}

__global__ void nll_terms(int n, int c, size_t s, const float *p, ekn_nll_args a, double inv, float *dlogits,
                          double *partials)
{
    double loss = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        size_t i = t / s, o = i * c * s + t % s; // class k of this voxel at o + k*s
        const uint8_t *ab = a.absent ? a.absent + i * c : NULL;
        int32_t y = a.labels[t];
        double wy = 0;
        if (y >= 0 && (!a.labelled || a.labelled[i * c + y])) {
            wy = a.class_w ? a.class_w[y] : 1.0;
            loss -= wy * log(clamp_lo(p[o + (size_t)y * s]));
        }
        double asum = 0;
        if (ab)
            for (int k = 0; k < c; k++) {
                if (!ab[k]) continue;
                double wk = a.class_w ? a.class_w[k] : 1.0, pk = p[o + (size_t)k * s];
                double q = clamp_lo(1.0 - pk);
                loss -= wk * log(q);
                asum += wk * pk / q;
            }
        // the bounded form of loss_ref.c (see there); p_k is read before dlogits_k is written
        for (int k = 0; k < c; k++) {
            double pk = p[o + (size_t)k * s], ak = 0, self = 0;
            if (ab && ab[k]) {
                double wk = a.class_w ? a.class_w[k] : 1.0, q = clamp_lo(1.0 - pk);
                ak = wk * pk / q;
                self = wk * pk * (1.0 - pk) / q;
            }
            double g = pk * (wy - (asum - ak)) + self;
            if (k == y) g -= wy;
            dlogits[o + (size_t)k * s] = (float)(g * inv);
        }
    }
    ekn_block_sum2_store(loss, 0, partials);
}

__global__ void mse_count(size_t m, const float *t, double *partials)
{
    double cnt = 0;
    GRID_STRIDE(i, m) cnt += isfinite(t[i]) ? 1 : 0;
    ekn_block_sum2_store(cnt, 0, partials);
}

__global__ void mse_terms(size_t m, const float *y, const float *t, double cnt, float *dy, double *partials)
{
    double sum = 0;
    GRID_STRIDE(i, m)
    {
        double d = isfinite(t[i]) ? (double)y[i] - t[i] : 0.0;
        sum += d * d;
        if (dy) dy[i] = cnt ? (float)(d / cnt) : 0.0f;
    }
    ekn_block_sum2_store(sum, 0, partials);
}

__global__ void argmax_terms(int n, int c, size_t s, const float *p, const int32_t *labels, double *partials)
{
    double ok = 0, seen = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        int32_t y = labels[t];
        if (y < 0) continue;
        seen += 1;
        size_t o = t / s * c * s + t % s;
        int best = -1; // stays -1 if nothing beats -inf (all NaN): counted wrong
        float bv = -INFINITY;
        for (int k = 0; k < c; k++) {
            float pk = p[o + (size_t)k * s];
            if (pk > bv) {
                bv = pk;
                best = k;
            }
        }
        ok += best == y;
    }
    ekn_block_sum2_store(ok, seen, partials);
}

} // namespace

double ekn_softmax_nll_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float *dlogits,
                            double *count)
{
    if (count) *count = 0;
    size_t voxels = (size_t)n * s, all = voxels * (c > 0 ? c : 0);
    double *partials = ekn_reduce_partials();
    if (!partials || !voxels || c <= 0) return 0;
    size_t flags = a->absent ? (size_t)n * c : 0;
    unsigned blocks = ekn_reduce_blocks(voxels > flags ? voxels : flags);
    double cnt[2];
    nll_count<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, *a, partials);
    if (!ekn_launch_ok("softmax_nll count") || !ekn_reduce_finish(blocks, cnt, "softmax_nll count sum")) return 0;
    if (count) *count = cnt[0];
    if (cnt[0] == 0) {
        ekn_cuda_ok(cudaMemsetAsync(dlogits, 0, all * sizeof(float)), "cudaMemsetAsync (softmax_nll)");
        return 0;
    }
    blocks = ekn_reduce_blocks(voxels);
    double loss[2];
    nll_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, p, *a, 1.0 / cnt[0], dlogits, partials);
    if (!ekn_launch_ok("softmax_nll terms") || !ekn_reduce_finish(blocks, loss, "softmax_nll loss sum")) return 0;
    return loss[0] / cnt[0];
}

double ekn_mse_cuda(size_t m, const float *y, const float *t, float *dy)
{
    double *partials = ekn_reduce_partials();
    if (!partials || !m) return 0;
    unsigned blocks = ekn_reduce_blocks(m);
    double cnt[2], sum[2];
    mse_count<<<blocks, EKN_CUDA_THREADS>>>(m, t, partials);
    if (!ekn_launch_ok("mse count") || !ekn_reduce_finish(blocks, cnt, "mse count sum")) return 0;
    mse_terms<<<blocks, EKN_CUDA_THREADS>>>(m, y, t, cnt[0], dy, partials);
    if (!ekn_launch_ok("mse terms") || !ekn_reduce_finish(blocks, sum, "mse sum")) return 0;
    return cnt[0] ? sum[0] / (2.0 * cnt[0]) : 0.0;
}

void ekn_argmax_count_cuda(int n, int c, size_t s, const float *p, const int32_t *labels, long *correct,
                           long *counted)
{
    *correct = *counted = 0;
    double *partials = ekn_reduce_partials();
    size_t voxels = (size_t)n * s;
    if (!partials || !voxels) return;
    unsigned blocks = ekn_reduce_blocks(voxels);
    double r[2];
    argmax_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, p, labels, partials);
    if (!ekn_launch_ok("argmax_count") || !ekn_reduce_finish(blocks, r, "argmax_count sum")) return;
    *correct = (long)r[0];
    *counted = (long)r[1];
}
