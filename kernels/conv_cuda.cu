// ekn_conv_*_cuda (kernels/conv.h): the convolution through cuDNN, the bias
// in own kernels.
//
// One plan per geometry: the descriptors, the algorithm of each pass and
// their common workspace size, made on the first use of that geometry and
// kept in a small table (the least recently used plan gives way when it is
// full), so training pays the heuristics once per layer shape.  Geometries
// with Z = kz = 1 (1D and 2D layers) get 4-d descriptors, where cuDNN has
// its fastest kernels; the rest 5-d.  Algorithms: cuDNN's heuristic
// ranking (cudnnGet*Algorithm_v7), first one that is deterministic and
// supported, under CUDNN_FMA_MATH (plain FP32: TF32 tensor cores would cost
// the 1e-4 agreement with the reference).  The FFT and non-fused Winograd
// algorithms are passed over too: their rounding error grows with the
// whole signal rather than with each output's own terms, which breaks that
// agreement wherever an output is a near-cancellation.
#include <string.h>

#include "cuda_check.h"
#include "device.h" // diag.h's ekn_info, with C linkage
extern "C" {
#include "conv.h"
}

namespace {

struct conv_plan {
    bool made;
    ekn_conv_geom g;
    unsigned long last_use;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t work_bytes;
};

const int MAX_PLANS = 32;
conv_plan plans[MAX_PLANS];
unsigned long use_clock;

bool same_geometry(const ekn_conv_geom *a, const ekn_conv_geom *b)
{
    return a->n == b->n && a->cin == b->cin && a->cout == b->cout && !memcmp(a->in, b->in, sizeof a->in) &&
           !memcmp(a->k, b->k, sizeof a->k);
}

void destroy(conv_plan *p)
{
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    memset(p, 0, sizeof *p);
}

void packed_strides(int nd, const int *dims, int *strides)
{
    strides[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1];
}

bool describe(conv_plan *p, const ekn_conv_geom *g)
{
    int sp = g->in[0] == 1 && g->k[0] == 1 ? 2 : 3; // spatial dims given to cuDNN
    int first = 3 - sp;                             // skip Z for 2D
    int nd = sp + 2, xd[5], yd[5], wd[5], xs[5], ys[5];
    xd[0] = yd[0] = g->n;
    xd[1] = wd[1] = g->cin;
    yd[1] = wd[0] = g->cout;
    for (int d = 0; d < sp; d++) {
        xd[2 + d] = g->in[first + d];
        yd[2 + d] = g->out[first + d];
        wd[2 + d] = g->k[first + d];
    }
    packed_strides(nd, xd, xs);
    packed_strides(nd, yd, ys);
    int pad[3] = {0, 0, 0}, one[3] = {1, 1, 1}, got[5];
    return ekn_cudnn_ok(cudnnCreateTensorDescriptor(&p->x), "cudnnCreateTensorDescriptor") &&
           ekn_cudnn_ok(cudnnCreateTensorDescriptor(&p->y), "cudnnCreateTensorDescriptor") &&
           ekn_cudnn_ok(cudnnCreateFilterDescriptor(&p->w), "cudnnCreateFilterDescriptor") &&
           ekn_cudnn_ok(cudnnCreateConvolutionDescriptor(&p->conv), "cudnnCreateConvolutionDescriptor") &&
           ekn_cudnn_ok(cudnnSetTensorNdDescriptor(p->x, CUDNN_DATA_FLOAT, nd, xd, xs), "cudnnSetTensorNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetTensorNdDescriptor(p->y, CUDNN_DATA_FLOAT, nd, yd, ys), "cudnnSetTensorNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetFilterNdDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, nd, wd),
                        "cudnnSetFilterNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetConvolutionNdDescriptor(p->conv, sp, pad, one, one, CUDNN_CROSS_CORRELATION,
                                                        CUDNN_DATA_FLOAT),
                        "cudnnSetConvolutionNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType") &&
           ekn_cudnn_ok(cudnnGetConvolutionNdForwardOutputDim(p->conv, p->x, p->w, nd, got),
                        "cudnnGetConvolutionNdForwardOutputDim") &&
           (memcmp(got, yd, nd * sizeof(int)) == 0 ||
            (ekn_cuda_record("cudnnGetConvolutionNdForwardOutputDim", "output shape differs from conv.h's"), false));
}

bool fp32_math(cudnnMathType_t m) { return m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH; }

bool transform_based(cudnnConvolutionFwdAlgo_t a)
{
    return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transform_based(cudnnConvolutionBwdDataAlgo_t a)
{
    return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transform_based(cudnnConvolutionBwdFilterAlgo_t a)
{
    return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
           a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

// The first deterministic, supported, direct (not transform-based) FP32
// algorithm of cuDNN's ranking whose workspace query succeeds, else the
// fallback (an implicit GEMM, deterministic and general) if cuDNN accepts
// it; its workspace size goes into *bytes.
template <typename Perf, typename Algo, typename Query>
bool choose(const Perf *perf, int count, Algo fallback, Algo *algo, size_t *bytes, Query workspace_of,
            const char *pass)
{
    for (int i = 0; i < count; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC ||
            !fp32_math(perf[i].mathType) || transform_based(perf[i].algo))
            continue;
        if (workspace_of(perf[i].algo, bytes) != CUDNN_STATUS_SUCCESS) continue;
        *algo = perf[i].algo;
        return true;
    }
    if (workspace_of(fallback, bytes) == CUDNN_STATUS_SUCCESS) {
        *algo = fallback;
        return true;
    }
    ekn_cuda_record(pass, "no deterministic direct FP32 algorithm for this geometry");
    return false;
}

bool choose_algorithms(conv_plan *p, cudnnHandle_t h)
{
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int nf = 0, nd = 0, nw = 0;
    size_t bf = 0, bd = 0, bw = 0;
    if (!ekn_cudnn_ok(cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->conv, p->y,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, fp),
                      "cudnnGetConvolutionForwardAlgorithm_v7") ||
        !ekn_cudnn_ok(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->conv, p->x,
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd, dp),
                      "cudnnGetConvolutionBackwardDataAlgorithm_v7") ||
        !ekn_cudnn_ok(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->conv, p->w,
                                                                    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &nw, wp),
                      "cudnnGetConvolutionBackwardFilterAlgorithm_v7"))
        return false;
    auto fwd_ws = [&](cudnnConvolutionFwdAlgo_t a, size_t *b) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y, a, b);
    };
    auto data_ws = [&](cudnnConvolutionBwdDataAlgo_t a, size_t *b) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x, a, b);
    };
    auto filt_ws = [&](cudnnConvolutionBwdFilterAlgo_t a, size_t *b) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w, a, b);
    };
    if (!choose(fp, nf, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &p->fwd, &bf, fwd_ws,
                "cudnnGetConvolutionForwardAlgorithm_v7") ||
        !choose(dp, nd, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &p->bwd_data, &bd, data_ws,
                "cudnnGetConvolutionBackwardDataAlgorithm_v7") ||
        !choose(wp, nw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &p->bwd_filter, &bw, filt_ws,
                "cudnnGetConvolutionBackwardFilterAlgorithm_v7"))
        return false;
    p->work_bytes = bf > bd ? bf : bd;
    if (bw > p->work_bytes) p->work_bytes = bw;
    return true;
}

// The plan of g, made if need be; NULL after a recorded failure.
conv_plan *plan_for(const ekn_conv_geom *g)
{
    conv_plan *victim = &plans[0];
    for (int i = 0; i < MAX_PLANS; i++) {
        conv_plan *p = &plans[i];
        if (p->made && same_geometry(&p->g, g)) {
            p->last_use = ++use_clock;
            return p;
        }
        if (!p->made) {
            if (victim->made) victim = p;
        } else if (victim->made && p->last_use < victim->last_use)
            victim = p;
    }
    cudnnHandle_t h = ekn_cudnn_handle();
    if (!h) return NULL;
    destroy(victim);
    if (!describe(victim, g) || !choose_algorithms(victim, h)) {
        destroy(victim);
        return NULL;
    }
    // with -v: which algorithms serve which shape (the first thing to look at when a shape is slow)
    ekn_info("cuda: conv plan n%d %d->%d in %dx%dx%d k %dx%dx%d: fwd algo %d, bwd data algo %d, "
             "bwd filter algo %d, workspace %zu bytes",
             g->n, g->cin, g->cout, g->in[0], g->in[1], g->in[2], g->k[0], g->k[1], g->k[2], (int)victim->fwd,
             (int)victim->bwd_data, (int)victim->bwd_filter, victim->work_bytes);
    victim->g = *g;
    victim->made = true;
    victim->last_use = ++use_clock;
    return victim;
}

// y[n, co, o] += b[co]
__global__ void add_bias(float *y, const float *b, int cout, size_t ovol, size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        y[i] += b[(i / ovol) % cout];
}

// db[co] += sum over n and o of dy[n, co, o]: one block per channel, in double as the reference
__global__ void bias_grad(const float *dy, float *db, int n, int cout, size_t ovol)
{
    int co = blockIdx.x;
    double acc = 0, unused = 0;
    for (size_t j = threadIdx.x; j < (size_t)n * ovol; j += blockDim.x)
        acc += dy[((j / ovol) * cout + co) * ovol + j % ovol];
    ekn_block_sum2(acc, unused);
    if (threadIdx.x == 0) db[co] += (float)acc;
}

size_t out_volume(const ekn_conv_geom *g) { return (size_t)g->out[0] * g->out[1] * g->out[2]; }

} // namespace

size_t ekn_conv_workspace_cuda(const ekn_conv_geom *g)
{
    conv_plan *p = plan_for(g);
    size_t floats = p ? (p->work_bytes + sizeof(float) - 1) / sizeof(float) : 0;
    return floats ? floats : 1;
}

void ekn_conv_forward_cuda(const ekn_conv_geom *g, const float *x, const float *w, const float *b, float *y,
                           float *work)
{
    conv_plan *p = plan_for(g);
    if (!p) return;
    const float one = 1, zero = 0;
    if (!ekn_cudnn_ok(cudnnConvolutionForward(ekn_cudnn_handle(), &one, p->x, x, p->w, w, p->conv, p->fwd, work,
                                              p->work_bytes, &zero, p->y, y),
                      "cudnnConvolutionForward") ||
        !b)
        return;
    size_t total = (size_t)g->n * g->cout * out_volume(g);
    add_bias<<<ekn_cuda_blocks(total), EKN_CUDA_THREADS>>>(y, b, g->cout, out_volume(g), total);
    ekn_launch_ok("conv add_bias");
}

void ekn_conv_backward_cuda(const ekn_conv_geom *g, const float *x, const float *w, const float *dy, float *dx,
                            float *dw, float *db, float *work)
{
    conv_plan *p = plan_for(g);
    if (!p) return;
    cudnnHandle_t h = ekn_cudnn_handle();
    const float one = 1, zero = 0;
    if (db) {
        bias_grad<<<g->cout, EKN_CUDA_THREADS>>>(dy, db, g->n, g->cout, out_volume(g));
        if (!ekn_launch_ok("conv bias_grad")) return;
    }
    // beta = 1: dw accumulates, as conv.h promises
    if (!ekn_cudnn_ok(cudnnConvolutionBackwardFilter(h, &one, p->x, x, p->y, dy, p->conv, p->bwd_filter, work,
                                                     p->work_bytes, &one, p->w, dw),
                      "cudnnConvolutionBackwardFilter") ||
        !dx)
        return;
    ekn_cudnn_ok(cudnnConvolutionBackwardData(h, &one, p->w, w, p->y, dy, p->conv, p->bwd_data, work,
                                              p->work_bytes, &zero, p->x, dx),
                 "cudnnConvolutionBackwardData");
}
