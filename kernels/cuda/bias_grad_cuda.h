// The bias-gradient kernels conv_cuda.cu and upconv_cuda.cu share (one
// copy, included by both; static, so each file gets its own instance).
#ifndef EKN_BIAS_GRAD_CUDA_H
#define EKN_BIAS_GRAD_CUDA_H
#include "cuda_check.h"
// The bias gradient of conv and upconv, db[co] += sum over n and o of
// dy[n, co, o] (dy is N x C x ovol), deterministic in double and in two
// passes.  First pass, grid (parts, cout) of EKN_CUDA_THREADS threads: block
// (part, co) sums its part of channel co's n*ovol elements, the samples' runs
// of ovol contiguous outputs one after another (a division per run, not per
// element), into partials[co * parts + part].  The grid depends only on the
// shape, so the sum is the same from run to run.
static __global__ void ekn_bias_partial_sums(const float *dy, double *partials, int cout, size_t ovol,
                                             size_t per_channel)
{
    unsigned parts = gridDim.x, part = blockIdx.x;
    int co = blockIdx.y;
    size_t chunk = (per_channel + parts - 1) / parts, start = part * chunk, end = start + chunk;
    if (end > per_channel) end = per_channel;
    double acc = 0, unused = 0;
    for (size_t j = start; j < end;) {
        size_t n = j / ovol, o0 = j % ovol, run = ovol - o0;
        if (run > end - j) run = end - j;
        const float *d = dy + (n * cout + co) * ovol + o0;
        for (size_t o = threadIdx.x; o < run; o += blockDim.x) acc += d[o];
        j += run;
    }
    ekn_block_sum2(acc, unused);
    if (threadIdx.x == 0) partials[(size_t)co * parts + part] = acc;
}

// Second pass, cout blocks of EKN_CUDA_THREADS: one block per channel adds
// its parts in a fixed order, db[co] += the sum.
static __global__ void ekn_bias_finish(const double *partials, unsigned parts, float *db)
{
    int co = blockIdx.x;
    double acc = 0, unused = 0;
    for (unsigned i = threadIdx.x; i < parts; i += blockDim.x) acc += partials[(size_t)co * parts + i];
    ekn_block_sum2(acc, unused);
    if (threadIdx.x == 0) db[co] += (float)acc;
}
#endif
