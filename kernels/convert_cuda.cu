// ekn_convert_affine_cuda (kernels/convert.h): dst[i] = (float)src[i] * scale + shift
// on device pointers, one grid-stride kernel per source dtype.
//
// The multiply and the add are rounded separately (__fmul_rn, __fadd_rn: nvcc
// would otherwise fuse them into an FMA), so the result is the one the float
// reference computes; every dtype's conversion to float is exact or rounds to
// nearest, as C's casts do.  f16 and bf16 come in as their 16-bit patterns.
// The launch is checked and a failure recorded (cuda_check.h); a failure
// while the kernel runs shows at the next synchronising call (the copy back
// to the host).  For f32, src may be dst.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#include "cuda_check.h"
extern "C" {
#include "convert.h"
}

namespace {

template <typename T> struct to_float {
    __device__ static float get(T v) { return (float)v; }
};
template <> struct to_float<__half> {
    __device__ static float get(__half v) { return __half2float(v); }
};
struct bf16_bits {
    uint16_t u;
};
template <> struct to_float<bf16_bits> {
    __device__ static float get(bf16_bits v) { return __uint_as_float((unsigned)v.u << 16); }
};

template <typename T>
__global__ void convert_affine_kernel(const T *src, float *dst, size_t n,
                                      float scale, float shift)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] = __fadd_rn(__fmul_rn(to_float<T>::get(src[i]), scale), shift);
}

const int THREADS = 256;
const size_t MAX_BLOCKS = 65535; // enough to fill any GPU; the loop strides over the rest

template <typename T> void launch(const void *src, float *dst, size_t n, float scale, float shift, ekn_dtype dt)
{
    size_t blocks = (n + THREADS - 1) / THREADS;
    if (blocks > MAX_BLOCKS) blocks = MAX_BLOCKS;
    convert_affine_kernel<T><<<(unsigned)blocks, THREADS>>>((const T *)src, dst, n, scale, shift);
    char what[96];
    snprintf(what, sizeof what, "convert_affine (%s, %zu elements)", ekn_dtype_name(dt), n);
    ekn_launch_ok(what);
}

} // namespace

void ekn_convert_affine_cuda(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift)
{
    if (n == 0) return;
    switch (dt) {
    case EKN_U8: return launch<uint8_t>(src, dst, n, scale, shift, dt);
    case EKN_I8: return launch<int8_t>(src, dst, n, scale, shift, dt);
    case EKN_U16: return launch<uint16_t>(src, dst, n, scale, shift, dt);
    case EKN_I16: return launch<int16_t>(src, dst, n, scale, shift, dt);
    case EKN_U32: return launch<uint32_t>(src, dst, n, scale, shift, dt);
    case EKN_I32: return launch<int32_t>(src, dst, n, scale, shift, dt);
    case EKN_U64: return launch<uint64_t>(src, dst, n, scale, shift, dt);
    case EKN_I64: return launch<int64_t>(src, dst, n, scale, shift, dt);
    case EKN_F16: return launch<__half>(src, dst, n, scale, shift, dt);
    case EKN_BF16: return launch<bf16_bits>(src, dst, n, scale, shift, dt);
    case EKN_F32: return launch<float>(src, dst, n, scale, shift, dt);
    case EKN_F64: return launch<double>(src, dst, n, scale, shift, dt);
    default: break;
    }
    char why[64];
    snprintf(why, sizeof why, "unsupported dtype code %d", (int)dt);
    ekn_cuda_record("convert_affine", why);
}
