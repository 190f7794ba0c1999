// ekn_conv_*_cuda (kernels/conv.h): the convolution through cuDNN, the bias
// in own kernels.
//
// One plan per geometry: the descriptors, the algorithm of each pass, their
// common workspace size and the bias gradient's scratch, made on the first
// use of that geometry and kept in a small table (the least recently used
// plan gives way when it is full).  Geometries with Z = kz = 1 (1D and 2D
// layers) get 4-d descriptors, where cuDNN has its fastest kernels; the
// rest 5-d.  Stride and padding go to the convolution descriptor as they are
// (cuDNN pads with zeros on both sides, as conv.h defines), and they are part
// of the geometry a plan is kept for.
//
// Algorithms are chosen by measuring (cudnnFind*AlgorithmEx on scratch
// buffers made and freed with the plan): the fastest one that is
// deterministic (unless ekn_cuda_set_deterministic(0)), runs under
// CUDNN_FMA_MATH at the default FP32 precision (TF32 tensor cores would cost
// the 1e-4 agreement with the reference; --precision tf32 admits them)
// and is not FFT or non-fused Winograd: their
// rounding error grows with the whole signal rather than with each output's
// own terms, which breaks that agreement wherever an output is a
// near-cancellation.  cuDNN's heuristic ranking picked algorithm 1 for every
// pass of the example nets, up to 6x slower than the fastest.  Measuring
// costs tens of milliseconds per plan, paid when the net is built.
//
// Workspace: at most 1 GiB and a quarter of the free memory.  The net sizes
// its buffer from the plans of its largest batch, and a short last batch
// makes a plan of its own later, so a plan whose geometry differs from an
// existing one only in a smaller n is held to that plan's workspace.
#include <stdio.h>
#include <string.h>

#include "bias_grad_cuda.h"
#include "cuda_check.h"
extern "C" {
#include "conv.h"
#include "conv_gemm.h"
#include "cuda_common.h"
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
    bool wgrad_gemm;      // the weight gradient by kernels/conv_gemm.h instead of bwd_filter
    float fwd_ms, bwd_data_ms, bwd_filter_ms; // as measured when chosen; < 0: not measured
    size_t work_bytes;
    int precision;        // ekn_cuda_precision() when made
    bool deterministic;   // deterministic_only when made
    int wgrad_mode;       // wgrad_mode when made
    unsigned bias_blocks; // blocks per channel of the bias gradient's first pass
    double *bias_partials; // device, cout * bias_blocks
};

const int MAX_PLANS = 32;
conv_plan plans[MAX_PLANS];
unsigned long use_clock;
bool deterministic_only = true;
int wgrad_mode = EKN_CONV_WGRAD_AUTO;

const size_t WORKSPACE_CAP = (size_t)1 << 30;
// The bias gradient's first pass: about this many elements per block, and
// at most this many blocks per channel (which bounds the scratch).
const size_t BIAS_ELEMS_PER_BLOCK = 4096;
const unsigned BIAS_MAX_BLOCKS = 256;

// The plan cache's key: everything of the geometry (stride and pad
// included: two layers that differ only in them need different descriptors).
bool same_geometry_but_n(const ekn_conv_geom *a, const ekn_conv_geom *b)
{
    return a->cin == b->cin && a->cout == b->cout && !memcmp(a->in, b->in, sizeof a->in) &&
           !memcmp(a->k, b->k, sizeof a->k) && !memcmp(a->stride, b->stride, sizeof a->stride) &&
           !memcmp(a->pad, b->pad, sizeof a->pad);
}

bool same_geometry(const ekn_conv_geom *a, const ekn_conv_geom *b)
{
    return a->n == b->n && same_geometry_but_n(a, b);
}

void destroy(conv_plan *p)
{
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    if (p->bias_partials) ekn_cuda_ok(cudaFree(p->bias_partials), "cudaFree (conv bias partials)");
    memset(p, 0, sizeof *p);
}

// The descriptor's math type for a precision (kernels/cuda/cuda_common.h): FMA keeps FP32
// exact in the 1e-4 sense above; the tensor-op types let cuDNN round the
// inputs to TF32, with FP32 accumulation.
cudnnMathType_t math_type(int precision)
{
    return precision == EKN_PRECISION_FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

// Whether a measured result's math type is allowed at this precision.
bool math_allowed(cudnnMathType_t m, int precision)
{
    if (m == CUDNN_DEFAULT_MATH || m == CUDNN_FMA_MATH) return true;
    if (precision == EKN_PRECISION_FP32) return false;
    return m == CUDNN_TENSOR_OP_MATH;
}

void packed_strides(int nd, const int *dims, int *strides)
{
    strides[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1];
}

bool describe(conv_plan *p, const ekn_conv_geom *g)
{
    // Z = kz = 1 forces pad 0 and out 1 along z (conv.h: pad < k), so the
    // stride there is moot and the axis can go
    int sp = g->in[0] == 1 && g->k[0] == 1 ? 2 : 3; // spatial dims given to cuDNN
    int first = 3 - sp;                             // skip Z for 2D
    int nd = sp + 2, xd[5], yd[5], wd[5], xs[5], ys[5];
    int pad[3], stride[3], one[3] = {1, 1, 1}, got[5];
    xd[0] = yd[0] = g->n;
    xd[1] = wd[1] = g->cin;
    yd[1] = wd[0] = g->cout;
    for (int d = 0; d < sp; d++) {
        xd[2 + d] = g->in[first + d];
        yd[2 + d] = g->out[first + d];
        wd[2 + d] = g->k[first + d];
        pad[d] = g->pad[first + d];
        stride[d] = g->stride[first + d];
    }
    packed_strides(nd, xd, xs);
    packed_strides(nd, yd, ys);
    return ekn_cudnn_ok(cudnnCreateTensorDescriptor(&p->x), "cudnnCreateTensorDescriptor") &&
           ekn_cudnn_ok(cudnnCreateTensorDescriptor(&p->y), "cudnnCreateTensorDescriptor") &&
           ekn_cudnn_ok(cudnnCreateFilterDescriptor(&p->w), "cudnnCreateFilterDescriptor") &&
           ekn_cudnn_ok(cudnnCreateConvolutionDescriptor(&p->conv), "cudnnCreateConvolutionDescriptor") &&
           ekn_cudnn_ok(cudnnSetTensorNdDescriptor(p->x, CUDNN_DATA_FLOAT, nd, xd, xs), "cudnnSetTensorNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetTensorNdDescriptor(p->y, CUDNN_DATA_FLOAT, nd, yd, ys), "cudnnSetTensorNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetFilterNdDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, nd, wd),
                        "cudnnSetFilterNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetConvolutionNdDescriptor(p->conv, sp, pad, stride, one, CUDNN_CROSS_CORRELATION,
                                                        CUDNN_DATA_FLOAT),
                        "cudnnSetConvolutionNdDescriptor") &&
           ekn_cudnn_ok(cudnnSetConvolutionMathType(p->conv, math_type(p->precision)), "cudnnSetConvolutionMathType") &&
           ekn_cudnn_ok(cudnnGetConvolutionNdForwardOutputDim(p->conv, p->x, p->w, nd, got),
                        "cudnnGetConvolutionNdForwardOutputDim") &&
           (memcmp(got, yd, nd * sizeof(int)) == 0 ||
            (ekn_cuda_record("cudnnGetConvolutionNdForwardOutputDim", "output shape differs from conv.h's"), false));
}

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

// The fastest acceptable measured algorithm (cuDNN sorts the results by
// time), else the fallback (an implicit GEMM: deterministic, general, small
// workspace) if cuDNN accepts it within the cap.
template <typename Perf, typename Algo, typename Query>
bool choose(const Perf *perf, int count, size_t cap, int precision, Algo fallback, Algo *algo, size_t *bytes,
            float *ms, Query workspace_of, const char *pass)
{
    for (int i = 0; i < count; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > cap ||
            (deterministic_only && perf[i].determinism != CUDNN_DETERMINISTIC) ||
            !math_allowed(perf[i].mathType, precision) ||
            transform_based(perf[i].algo))
            continue;
        if (workspace_of(perf[i].algo, bytes) != CUDNN_STATUS_SUCCESS || *bytes > cap) continue;
        *algo = perf[i].algo;
        *ms = perf[i].time;
        return true;
    }
    *ms = -1;
    if (workspace_of(fallback, bytes) == CUDNN_STATUS_SUCCESS && *bytes <= cap) {
        *algo = fallback;
        return true;
    }
    ekn_cuda_record(pass, "no direct FP32 algorithm for this geometry within the workspace limit");
    return false;
}

// Scratch for measuring: x, y, w (zeroed: timing needs no data, but
// uninitialised memory could hold NaNs or denormals that some kernels treat
// slowly) and the largest workspace allowed.
struct find_buffers {
    void *x = nullptr, *y = nullptr, *w = nullptr, *work = nullptr;
    size_t work_bytes = 0;
    ~find_buffers()
    {
        for (void *p : {x, y, w, work}) ekn_cuda_ok(cudaFree(p), "cudaFree (conv plan scratch)");
    }
};

size_t volume(const int v[3]) { return (size_t)v[0] * v[1] * v[2]; }

// Allocations that fail leave the buffers NULL; cudaMalloc's error is not
// sticky, so it is cleared, and the plan falls back to unmeasured choices.
bool make_find_buffers(find_buffers *b, const ekn_conv_geom *g, size_t cap)
{
    size_t xb = (size_t)g->n * g->cin * volume(g->in) * sizeof(float);
    size_t yb = (size_t)g->n * g->cout * volume(g->out) * sizeof(float);
    size_t wb = (size_t)g->cout * g->cin * volume(g->k) * sizeof(float);
    bool ok = cudaMalloc(&b->x, xb) == cudaSuccess && cudaMalloc(&b->y, yb) == cudaSuccess &&
              cudaMalloc(&b->w, wb) == cudaSuccess && cudaMemset(b->x, 0, xb) == cudaSuccess &&
              cudaMemset(b->y, 0, yb) == cudaSuccess && cudaMemset(b->w, 0, wb) == cudaSuccess;
    // halve the workspace until it fits (fragmentation can refuse the cap)
    for (size_t want = cap; ok && want > 0; want = want >= ((size_t)2 << 20) ? want / 2 : 0)
        if (cudaMalloc(&b->work, want) == cudaSuccess) {
            b->work_bytes = want;
            break;
        }
    (void)cudaGetLastError();
    return ok;
}

// Whether plan p was made under the settings new plans get now (a plan for
// another precision or determinism never serves, nor limits, this one).
bool same_settings(const conv_plan *p)
{
    return p->precision == ekn_cuda_precision() && p->deterministic == deterministic_only &&
           p->wgrad_mode == wgrad_mode;
}

// The workspace limit of a new plan for g (see the top of the file).
size_t workspace_cap(const ekn_conv_geom *g)
{
    size_t cap = WORKSPACE_CAP, free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess && free_bytes / 4 < cap) cap = free_bytes / 4;
    (void)cudaGetLastError();
    for (int i = 0; i < MAX_PLANS; i++)
        if (plans[i].made && plans[i].g.n > g->n && same_geometry_but_n(&plans[i].g, g) &&
            same_settings(&plans[i]) && plans[i].work_bytes < cap)
            cap = plans[i].work_bytes;
    return cap;
}

// Milliseconds of one weight gradient by im2col + GEMM on the scratch
// buffers (the mean of three after a warm-up), or -1 when it does not fit.
float time_wgrad_gemm(const ekn_conv_geom *g, const find_buffers *b)
{
    if (ekn_conv_wgrad_gemm_bytes(g) > b->work_bytes) return -1;
    cudaEvent_t t0, t1;
    if (!ekn_cuda_ok(cudaEventCreate(&t0), "cudaEventCreate")) return -1;
    if (!ekn_cuda_ok(cudaEventCreate(&t1), "cudaEventCreate")) {
        cudaEventDestroy(t0);
        return -1;
    }
    float ms = -1;
    const float *x = (const float *)b->x, *dy = (const float *)b->y;
    float *dw = (float *)b->w, *work = (float *)b->work;
    if (ekn_conv_wgrad_gemm_cuda(g, x, dy, dw, work) && ekn_cuda_ok(cudaEventRecord(t0, 0), "cudaEventRecord")) {
        bool ok = true;
        for (int r = 0; r < 3 && ok; r++) ok = ekn_conv_wgrad_gemm_cuda(g, x, dy, dw, work);
        if (ok && ekn_cuda_ok(cudaEventRecord(t1, 0), "cudaEventRecord") &&
            ekn_cuda_ok(cudaEventSynchronize(t1), "cudaEventSynchronize") &&
            ekn_cuda_ok(cudaEventElapsedTime(&ms, t0, t1), "cudaEventElapsedTime"))
            ms /= 3;
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return ms;
}

bool choose_algorithms(conv_plan *p, const ekn_conv_geom *g, cudnnHandle_t h)
{
    cudnnConvolutionFwdAlgoPerf_t fp[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t dp[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t wp[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int nf = 0, nd = 0, nw = 0;
    size_t cap = workspace_cap(g), bf = 0, bd = 0, bw = 0;
    float gemm_ms = -1;
    {
        find_buffers b;
        bool measurable = make_find_buffers(&b, g, cap);
        if (measurable &&
            (!ekn_cudnn_ok(cudnnFindConvolutionForwardAlgorithmEx(h, p->x, b.x, p->w, b.w, p->conv, p->y, b.y,
                                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, fp,
                                                                  b.work, b.work_bytes),
                           "cudnnFindConvolutionForwardAlgorithmEx") ||
             !ekn_cudnn_ok(cudnnFindConvolutionBackwardDataAlgorithmEx(h, p->w, b.w, p->y, b.y, p->conv, p->x, b.x,
                                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd,
                                                                       dp, b.work, b.work_bytes),
                           "cudnnFindConvolutionBackwardDataAlgorithmEx") ||
             !ekn_cudnn_ok(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p->x, b.x, p->y, b.y, p->conv, p->w,
                                                                         b.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                         &nw, wp, b.work, b.work_bytes),
                           "cudnnFindConvolutionBackwardFilterAlgorithmEx")))
            return false;
        if (measurable && b.work_bytes < cap) cap = b.work_bytes; // only what was measured may be chosen
        if (measurable && wgrad_mode != EKN_CONV_WGRAD_CUDNN) gemm_ms = time_wgrad_gemm(g, &b);
    }
    auto fwd_ws = [&](cudnnConvolutionFwdAlgo_t a, size_t *n) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y, a, n);
    };
    auto data_ws = [&](cudnnConvolutionBwdDataAlgo_t a, size_t *n) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x, a, n);
    };
    auto filt_ws = [&](cudnnConvolutionBwdFilterAlgo_t a, size_t *n) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w, a, n);
    };
    if (!choose(fp, nf, cap, p->precision, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &p->fwd, &bf, &p->fwd_ms, fwd_ws,
                "cudnnFindConvolutionForwardAlgorithmEx") ||
        !choose(dp, nd, cap, p->precision, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &p->bwd_data, &bd, &p->bwd_data_ms, data_ws,
                "cudnnFindConvolutionBackwardDataAlgorithmEx") ||
        !choose(wp, nw, cap, p->precision, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &p->bwd_filter, &bw, &p->bwd_filter_ms, filt_ws,
                "cudnnFindConvolutionBackwardFilterAlgorithmEx"))
        return false;
    if (gemm_ms >= 0 && (p->bwd_filter_ms < 0 || gemm_ms < p->bwd_filter_ms || wgrad_mode == EKN_CONV_WGRAD_GEMM)) {
        p->wgrad_gemm = true;
        p->bwd_filter_ms = gemm_ms;
        bw = ekn_conv_wgrad_gemm_bytes(g);
    }
    p->work_bytes = bf > bd ? bf : bd;
    if (bw > p->work_bytes) p->work_bytes = bw;
    return true;
}

bool make_bias_scratch(conv_plan *p, const ekn_conv_geom *g)
{
    size_t per_channel = (size_t)g->n * volume(g->out);
    size_t blocks = (per_channel + BIAS_ELEMS_PER_BLOCK - 1) / BIAS_ELEMS_PER_BLOCK;
    p->bias_blocks = (unsigned)(blocks < 1 ? 1 : blocks > BIAS_MAX_BLOCKS ? BIAS_MAX_BLOCKS : blocks);
    return ekn_cuda_ok(cudaMalloc(&p->bias_partials, (size_t)g->cout * p->bias_blocks * sizeof(double)),
                       "cudaMalloc (conv bias partials)");
}

// The plan of g, made if need be; NULL after a recorded failure.
conv_plan *plan_for(const ekn_conv_geom *g)
{
    conv_plan *victim = &plans[0];
    for (int i = 0; i < MAX_PLANS; i++) {
        conv_plan *p = &plans[i];
        if (p->made && same_geometry(&p->g, g) && same_settings(p)) {
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
    victim->precision = ekn_cuda_precision();
    victim->deterministic = deterministic_only;
    victim->wgrad_mode = wgrad_mode;
    if (!describe(victim, g) || !choose_algorithms(victim, g, h) || !make_bias_scratch(victim, g)) {
        destroy(victim);
        return NULL;
    }
    // in the log (-v): which algorithms serve which shape and how fast cuDNN measured
    // them (the first thing to look at when a shape is slow); -1 ms: not measured
    char filter[32];
    snprintf(filter, sizeof filter, victim->wgrad_gemm ? "im2col+gemm" : "algo %d", (int)victim->bwd_filter);
    ekn_cuda_log("cuda: conv plan n%d %d->%d in %dx%dx%d k %dx%dx%d stride %dx%dx%d pad %dx%dx%d: fwd algo %d "
                 "(%.3f ms), bwd data algo %d (%.3f ms), bwd filter %s (%.3f ms), workspace %zu bytes%s",
                 g->n, g->cin, g->cout, g->in[0], g->in[1], g->in[2], g->k[0], g->k[1], g->k[2], g->stride[0],
                 g->stride[1], g->stride[2], g->pad[0], g->pad[1], g->pad[2], (int)victim->fwd,
                 victim->fwd_ms, (int)victim->bwd_data, victim->bwd_data_ms, filter, victim->bwd_filter_ms,
                 victim->work_bytes, deterministic_only ? "" : ", non-deterministic allowed");
    victim->g = *g;
    victim->made = true;
    victim->last_use = ++use_clock;
    return victim;
}

// y[plane, o] += b[plane % cout] over planes (n, co) of ovol outputs: blockIdx.y
// walks the planes, so no thread divides to find its channel.
__global__ void add_bias_planes(float *y, const float *b, int cout, size_t ovol, size_t planes)
{
    for (size_t p = blockIdx.y; p < planes; p += gridDim.y) {
        float bias = b[p % cout];
        float *yp = y + p * ovol;
        for (size_t o = (size_t)blockIdx.x * blockDim.x + threadIdx.x; o < ovol; o += (size_t)gridDim.x * blockDim.x)
            yp[o] += bias;
    }
}

// The same for planes smaller than a block, where whole planes share a block
// and the division is the cheaper way.
__global__ void add_bias_flat(float *y, const float *b, int cout, unsigned ovol, size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        y[i] += b[(i / ovol) % cout];
}

size_t out_volume(const ekn_conv_geom *g) { return volume(g->out); }

} // namespace

extern "C" void ekn_cuda_set_deterministic(int on) { deterministic_only = on != 0; }
extern "C" void ekn_cuda_conv_wgrad(int mode) { wgrad_mode = mode; }

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
    size_t ovol = out_volume(g), planes = (size_t)g->n * g->cout;
    if (ovol >= (size_t)EKN_CUDA_THREADS) {
        unsigned along = ekn_cuda_blocks(ovol), across = (unsigned)(planes < 65535 ? planes : 65535);
        // about as many blocks as ekn_cuda_blocks would give the whole tensor
        if ((size_t)along * across > 65535) along = (unsigned)(65535 / across > 0 ? 65535 / across : 1);
        add_bias_planes<<<dim3(along, across), EKN_CUDA_THREADS>>>(y, b, g->cout, ovol, planes);
    } else {
        add_bias_flat<<<ekn_cuda_blocks(planes * ovol), EKN_CUDA_THREADS>>>(y, b, g->cout, (unsigned)ovol,
                                                                           planes * ovol);
    }
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
        size_t ovol = out_volume(g);
        ekn_bias_partial_sums<<<dim3(p->bias_blocks, g->cout), EKN_CUDA_THREADS>>>(dy, p->bias_partials, g->cout, ovol,
                                                                               (size_t)g->n * ovol);
        if (!ekn_launch_ok("conv bias_partial_sums")) return;
        ekn_bias_finish<<<g->cout, EKN_CUDA_THREADS>>>(p->bias_partials, p->bias_blocks, db);
        if (!ekn_launch_ok("conv bias_finish")) return;
    }
    // beta = 1: dw accumulates, as conv.h promises
    bool ok = p->wgrad_gemm ? ekn_conv_wgrad_gemm_cuda(g, x, dy, dw, work)
                            : ekn_cudnn_ok(cudnnConvolutionBackwardFilter(h, &one, p->x, x, p->y, dy, p->conv,
                                                                          p->bwd_filter, work, p->work_bytes, &one,
                                                                          p->w, dw),
                                           "cudnnConvolutionBackwardFilter");
    if (!ok || !dx) return;
    ekn_cudnn_ok(cudnnConvolutionBackwardData(h, &one, p->w, w, p->y, dy, p->conv, p->bwd_data, work,
                                              p->work_bytes, &zero, p->x, dx),
                 "cudnnConvolutionBackwardData");
}
