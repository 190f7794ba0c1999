// ekn_softmax_forward_cuda (kernels/softmax.h): one thread per voxel (n, s),
// softmax_ref.c's steps: the max over the classes, float exponentials, their
// sum in double, the quotient in double.  Neighbouring threads take
// neighbouring s, so the reads along each class are coalesced.  p may alias
// x: a thread reads each x before it writes that p.
#include "cuda_check.h"
extern "C" {
#include "softmax.h"
}

namespace {

__global__ void softmax_forward(int n, int c, size_t s, const float *x, float *p)
{
    size_t voxels = (size_t)n * s, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < voxels; t += stride) {
        size_t o = t / s * c * s + t % s; // class k at o + k*s
        float mx = -INFINITY;
        for (int k = 0; k < c; k++)
            if (x[o + k * s] > mx) mx = x[o + k * s];
        double sum = 0;
        for (int k = 0; k < c; k++) {
            float e = expf(x[o + k * s] - mx);
            p[o + k * s] = e;
            sum += e;
        }
        for (int k = 0; k < c; k++) p[o + k * s] = (float)(p[o + k * s] / sum);
    }
}

} // namespace

void ekn_softmax_forward_cuda(int n, int c, size_t s, const float *x, float *p)
{
    size_t voxels = (size_t)n * s;
    if (!voxels || c <= 0) return;
    softmax_forward<<<ekn_cuda_blocks(voxels), EKN_CUDA_THREADS>>>(n, c, s, x, p);
    ekn_launch_ok("softmax_forward");
}
