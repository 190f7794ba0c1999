/* Reference dtype conversion: one element at a time, plain loops, the
 * oracle for convert_cpu and convert_cuda (kernels/convert.h).
 *
 *   src (n) of dtype dt, dst (n) f32 overwritten:  dst[i] = (float)src[i] * scale + shift
 *
 * The element becomes a float first (f64 rounds to float), then one float
 * multiply and one float add, each rounded (no fused multiply-add: the
 * build is ISO C, where GCC does not contract).  f16 and bf16 go through
 * ekn_convert_to_f32.  An unknown dtype writes NaN. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "convert.h"

static float element(ekn_dtype dt, const unsigned char *p)
{
    switch (dt) {
#define ELEM(code, type) case code: { type v; memcpy(&v, p, sizeof v); return (float)v; }
    ELEM(EKN_U8, uint8_t) ELEM(EKN_I8, int8_t) ELEM(EKN_U16, uint16_t) ELEM(EKN_I16, int16_t)
    ELEM(EKN_U32, uint32_t) ELEM(EKN_I32, int32_t) ELEM(EKN_U64, uint64_t) ELEM(EKN_I64, int64_t)
    ELEM(EKN_F32, float) ELEM(EKN_F64, double)
#undef ELEM
    case EKN_F16:
    case EKN_BF16: {
        float f;
        ekn_convert_to_f32(dt, p, &f, 1);
        return f;
    }
    default: return NAN;
    }
}

void ekn_convert_affine_ref(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift)
{
    size_t size = ekn_dtype_size(dt);
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        float v = size ? element(dt, s + i * size) : NAN;
        float prod = v * scale;
        dst[i] = prod + shift;
    }
}
