/* convert: dtype conversion with an affine map, the first step of every
 * preprocessing (uint8 -> (0,1) is scale 1/255, shift 0; global
 * standardisation is scale 1/std, shift -mean/std).
 *
 *   src (n) of dtype dt, dst (n) f32 overwritten:  dst[i] = (float)src[i] * scale + shift
 *
 * The multiply-add is done in float for every dtype (f64 sources are
 * rounded to float first), so all three versions agree to one rounding. */
#ifndef EKN_KERNEL_CONVERT_H
#define EKN_KERNEL_CONVERT_H
#include <stddef.h>

#include "dtype.h"

void ekn_convert_affine_ref(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift);
void ekn_convert_affine_cpu(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift);
/* Device pointers; only in CUDA builds (kernels/convert_cuda.cu).  Like
 * the other _cuda kernels it returns once queued and records a failure (a
 * bad launch, an unknown dtype) for ekn_cuda_last_error (lib/core/ops.h). */
void ekn_convert_affine_cuda(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift);
#endif
