// ekn_bn_*_cuda, ekn_gn_*_cuda (kernels/norm.h).  One block of
// EKN_CUDA_THREADS threads per statistic: a channel for batch norm, an
// (example, group) for group norm.  Each thread adds its elements (a fixed,
// thread-strided share) in double, the block adds the threads' sums in a
// fixed tree (ekn_block_sum2), and the same block then makes the outputs
// of its elements from the sums.  The grid and the order of every addition
// depend only on the shape, so results repeat bit for bit; no atomics, no
// scratch.  Two passes for the variance, as _ref: the mean, then the
// squared deviations; the elementwise work is in double as well.
//
// Batch norm's backward needs per-channel sums, and so do group norm's
// dgamma and dbeta (a second kernel, one block per channel); group norm's
// dx needs per-(example, group) sums (one block per group).
#include "cuda_check.h"
extern "C" {
#include "norm.h"
}

namespace {

// The block's sums of (a, b), in every thread.
__device__ void block_sum_all(double &a, double &b)
{
    __shared__ double ra, rb;
    ekn_block_sum2(a, b); // valid in thread 0; begins with a barrier
    if (threadIdx.x == 0) {
        ra = a;
        rb = b;
    }
    __syncthreads();
    a = ra;
    b = rb;
}

// The block's walk over an (outer, inner) grid of elements, thread t taking
// the flat indices t, t + THREADS, ... in order: (o, i) with flat = o*inner
// + i, advanced without a division per step.
struct walk {
    size_t o, i, inner, q, r;
    __device__ explicit walk(size_t inner_) : inner(inner_)
    {
        q = EKN_CUDA_THREADS / inner;
        r = EKN_CUDA_THREADS % inner;
        o = threadIdx.x / inner;
        i = threadIdx.x % inner;
    }
    __device__ void next()
    {
        i += r;
        o += q;
        if (i >= inner) {
            i -= inner;
            o++;
        }
    }
};

unsigned seg_blocks(size_t segs) { return (unsigned)(segs < 65535 ? segs : 65535); }

// ---- batch norm ------------------------------------------------------------

__global__ void bn_train(int n, int c, size_t s, const float *x, const float *gamma, const float *beta, float eps,
                         float momentum, float *run_mean, float *run_var, float *y, float *mean, float *invstd)
{
    const size_t C = (size_t)c, N = (size_t)n;
    const double ns = (double)N * (double)s;
    for (size_t ch = blockIdx.x; ch < C; ch += gridDim.x) {
        double sum = 0, unused = 0;
        for (walk w(s); w.o < N; w.next()) sum += x[(w.o * C + ch) * s + w.i];
        block_sum_all(sum, unused);
        const double mu = sum / ns;
        double sq = 0;
        for (walk w(s); w.o < N; w.next()) {
            double d = x[(w.o * C + ch) * s + w.i] - mu;
            sq += d * d;
        }
        block_sum_all(sq, unused);
        const double var = sq / ns, is = 1.0 / sqrt(var + (double)eps);
        const double scale = (double)gamma[ch] * is, shift = beta[ch];
        for (walk w(s); w.o < N; w.next()) {
            size_t at = (w.o * C + ch) * s + w.i;
            y[at] = (float)((x[at] - mu) * scale + shift);
        }
        if (threadIdx.x == 0) {
            mean[ch] = (float)mu;
            invstd[ch] = (float)is;
            double m = momentum;
            if (run_mean) run_mean[ch] = (float)((1.0 - m) * run_mean[ch] + m * mu);
            if (run_var) run_var[ch] = (float)((1.0 - m) * run_var[ch] + m * (ns > 1 ? var * ns / (ns - 1) : var));
        }
    }
}

__global__ void bn_infer(int c, size_t s, size_t total, const float *x, const float *gamma, const float *beta,
                         const float *run_mean, const float *run_var, float eps, float *y)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < total; k += stride) {
        size_t ch = k / s % (size_t)c;
        double is = 1.0 / sqrt((double)run_var[ch] + (double)eps);
        y[k] = (float)((x[k] - (double)run_mean[ch]) * ((double)gamma[ch] * is) + (double)beta[ch]);
    }
}

__global__ void bn_backward(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                            const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const size_t C = (size_t)c, N = (size_t)n;
    const double ns = (double)N * (double)s;
    for (size_t ch = blockIdx.x; ch < C; ch += gridDim.x) {
        const double mu = mean[ch], is = invstd[ch];
        double sdy = 0, sdyxm = 0;
        for (walk w(s); w.o < N; w.next()) {
            size_t at = (w.o * C + ch) * s + w.i;
            double g = dy[at];
            sdy += g;
            sdyxm += g * (x[at] - mu);
        }
        block_sum_all(sdy, sdyxm);
        const double sdyx = sdyxm * is;
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[ch] = (float)(dgamma[ch] + sdyx);
            if (dbeta) dbeta[ch] = (float)(dbeta[ch] + sdy);
        }
        if (!dx) continue;
        const double k = (double)gamma[ch] * is / ns;
        for (walk w(s); w.o < N; w.next()) {
            size_t at = (w.o * C + ch) * s + w.i;
            dx[at] = (float)(k * (ns * dy[at] - sdy - (x[at] - mu) * is * sdyx));
        }
    }
}

// ---- group norm ------------------------------------------------------------

// One block per (example i, group g): its cpg*s elements are contiguous.
__global__ void gn_forward(int n, int c, size_t s, int groups, const float *x, const float *gamma,
                           const float *beta, float eps, float *y, float *mean, float *invstd)
{
    const size_t G = (size_t)groups, cpg = (size_t)c / G, M = cpg * s, segs = (size_t)n * G;
    for (size_t seg = blockIdx.x; seg < segs; seg += gridDim.x) {
        const size_t g = seg % G, base = seg * M; // (i*C + g*cpg)*s == seg*M
        double sum = 0, unused = 0;
        for (size_t j = threadIdx.x; j < M; j += EKN_CUDA_THREADS) sum += x[base + j];
        block_sum_all(sum, unused);
        const double mu = sum / (double)M;
        double sq = 0;
        for (size_t j = threadIdx.x; j < M; j += EKN_CUDA_THREADS) {
            double d = x[base + j] - mu;
            sq += d * d;
        }
        block_sum_all(sq, unused);
        const double is = 1.0 / sqrt(sq / (double)M + (double)eps);
        for (walk w(s); w.o < cpg; w.next()) {
            size_t ch = g * cpg + w.o, at = base + w.o * s + w.i;
            y[at] = (float)((x[at] - mu) * ((double)gamma[ch] * is) + (double)beta[ch]);
        }
        if (threadIdx.x == 0) {
            mean[seg] = (float)mu;
            invstd[seg] = (float)is;
        }
    }
}

// dgamma and dbeta: one block per channel, over examples and positions.
__global__ void gn_param_grads(int n, int c, size_t s, int groups, const float *x, const float *mean,
                               const float *invstd, const float *dy, float *dgamma, float *dbeta)
{
    const size_t C = (size_t)c, N = (size_t)n, G = (size_t)groups, cpg = C / G;
    for (size_t ch = blockIdx.x; ch < C; ch += gridDim.x) {
        double sdy = 0, sdyx = 0;
        for (walk w(s); w.o < N; w.next()) {
            size_t at = (w.o * C + ch) * s + w.i, st = w.o * G + ch / cpg;
            double g = dy[at];
            sdy += g;
            sdyx += g * ((x[at] - (double)mean[st]) * (double)invstd[st]);
        }
        block_sum_all(sdy, sdyx);
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[ch] = (float)(dgamma[ch] + sdyx);
            if (dbeta) dbeta[ch] = (float)(dbeta[ch] + sdy);
        }
    }
}

// dx: one block per (example, group).
__global__ void gn_dx(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                      const float *invstd, const float *dy, float *dx)
{
    const size_t G = (size_t)groups, cpg = (size_t)c / G, M = cpg * s, segs = (size_t)n * G;
    const double m = (double)M;
    for (size_t seg = blockIdx.x; seg < segs; seg += gridDim.x) {
        const size_t g = seg % G, base = seg * M;
        const double mu = mean[seg], is = invstd[seg];
        double sg = 0, sgxm = 0;
        for (walk w(s); w.o < cpg; w.next()) {
            size_t at = base + w.o * s + w.i;
            double gd = (double)gamma[g * cpg + w.o] * dy[at];
            sg += gd;
            sgxm += gd * (x[at] - mu);
        }
        block_sum_all(sg, sgxm);
        const double sgx = sgxm * is;
        for (walk w(s); w.o < cpg; w.next()) {
            size_t at = base + w.o * s + w.i;
            double gd = (double)gamma[g * cpg + w.o] * dy[at];
            dx[at] = (float)(is / m * (m * gd - sg - (x[at] - mu) * is * sgx));
        }
    }
}

bool empty(int n, int c, size_t s) { return n < 1 || c < 1 || s < 1; }

} // namespace

void ekn_bn_forward_train_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                               float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                               float *invstd)
{
    if (empty(n, c, s)) return;
    bn_train<<<seg_blocks((size_t)c), EKN_CUDA_THREADS>>>(n, c, s, x, gamma, beta, eps, momentum, run_mean,
                                                            run_var, y, mean, invstd);
    ekn_launch_ok("bn_forward_train");
}

void ekn_bn_forward_infer_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                               const float *run_mean, const float *run_var, float eps, float *y)
{
    if (empty(n, c, s)) return;
    size_t total = (size_t)n * (size_t)c * s;
    bn_infer<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(c, s, total, x, gamma, beta, run_mean, run_var, eps, y);
    ekn_launch_ok("bn_forward_infer");
}

void ekn_bn_backward_cuda(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                          const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    if (empty(n, c, s) || (!dx && !dgamma && !dbeta)) return;
    bn_backward<<<seg_blocks((size_t)c), EKN_CUDA_THREADS>>>(n, c, s, x, gamma, mean, invstd, dy, dx, dgamma,
                                                               dbeta);
    ekn_launch_ok("bn_backward");
}

void ekn_gn_forward_cuda(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                         float eps, float *y, float *mean, float *invstd)
{
    if (empty(n, c, s) || groups < 1) return;
    gn_forward<<<seg_blocks((size_t)n * groups), EKN_CUDA_THREADS>>>(n, c, s, groups, x, gamma, beta, eps, y,
                                                                       mean, invstd);
    ekn_launch_ok("gn_forward");
}

void ekn_gn_backward_cuda(int n, int c, size_t s, int groups, const float *x, const float *gamma,
                          const float *mean, const float *invstd, const float *dy, float *dx, float *dgamma,
                          float *dbeta)
{
    if (empty(n, c, s) || groups < 1) return;
    if (dgamma || dbeta) {
        gn_param_grads<<<seg_blocks((size_t)c), EKN_CUDA_THREADS>>>(n, c, s, groups, x, mean, invstd, dy, dgamma,
                                                                      dbeta);
        if (!ekn_launch_ok("gn_backward dgamma, dbeta")) return;
    }
    if (dx) {
        gn_dx<<<seg_blocks((size_t)n * groups), EKN_CUDA_THREADS>>>(n, c, s, groups, x, gamma, mean, invstd, dy,
                                                                      dx);
        ekn_launch_ok("gn_backward dx");
    }
}
