/* Fast dtype conversion (kernels/convert.h): the dtype switch is outside the
 * loops and each loop is a plain convert-multiply-add that GCC vectorises
 * at -O3.  Same arithmetic as convert_ref, so the results are bit-equal:
 * the element becomes a float, then one float multiply and one float add
 * (ISO C mode: no contraction into fma).  In place (dst == src, f32) is
 * allowed: element i is read before it is written.  f16/bf16 are widened
 * block by block with ekn_convert_to_f32 into dst, then scaled there. */
#include <math.h>
#include <stdint.h>

#include "convert.h"

#define AFFINE_LOOP(type)                                    \
    do {                                                     \
        const type *s = src;                                 \
        for (size_t i = 0; i < n; i++) {                     \
            float prod = (float)s[i] * scale;                \
            dst[i] = prod + shift;                           \
        }                                                    \
    } while (0)

void ekn_convert_affine_cpu(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift)
{
    switch (dt) {
    case EKN_U8: AFFINE_LOOP(uint8_t); return;
    case EKN_I8: AFFINE_LOOP(int8_t); return;
    case EKN_U16: AFFINE_LOOP(uint16_t); return;
    case EKN_I16: AFFINE_LOOP(int16_t); return;
    case EKN_U32: AFFINE_LOOP(uint32_t); return;
    case EKN_I32: AFFINE_LOOP(int32_t); return;
    case EKN_U64: AFFINE_LOOP(uint64_t); return;
    case EKN_I64: AFFINE_LOOP(int64_t); return;
    case EKN_F32: AFFINE_LOOP(float); return;
    case EKN_F64: AFFINE_LOOP(double); return;
    case EKN_F16:
    case EKN_BF16: {
        /* widen into dst (the 2-byte source is read ahead of the 4-byte
         * writes only when they do not overlap, which convert.h implies) */
        ekn_convert_to_f32(dt, src, dst, n);
        for (size_t i = 0; i < n; i++) {
            float prod = dst[i] * scale;
            dst[i] = prod + shift;
        }
        return;
    }
    default:
        for (size_t i = 0; i < n; i++) dst[i] = NAN;
        return;
    }
}
