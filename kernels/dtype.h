/* dtype: the element types of tensors, shared by lib/ (lib/core/tensor.h
 * includes this header) and the kernels that convert between them
 * (kernels/convert.h), which include nothing from lib/.
 *
 * The codes are those of the stream format (ekn-stream(5)): on disk, so
 * never renumber, only append. */
#ifndef EKN_DTYPE_H
#define EKN_DTYPE_H
#include <stddef.h>

typedef enum ekn_dtype {
    EKN_DT_INVALID = 0,
    EKN_U8 = 1, EKN_I8 = 2, EKN_U16 = 3, EKN_I16 = 4, EKN_U32 = 5, EKN_I32 = 6,
    EKN_U64 = 7, EKN_I64 = 8, EKN_F16 = 9, EKN_BF16 = 10, EKN_F32 = 11, EKN_F64 = 12,
    EKN_DT_COUNT
} ekn_dtype;

size_t ekn_dtype_size(ekn_dtype dt);          /* 0 for an unknown code */
const char *ekn_dtype_name(ekn_dtype dt);     /* "u8", "f32", ...; "?" if unknown */
ekn_dtype ekn_dtype_from_name(const char *s); /* EKN_DT_INVALID if unknown; also "uint8", "float", ... */

/* src (n) of dtype dt, dst (n) f32 overwritten: dst[i] = (float)src[i]
 * (f64 rounds to float, f16 and bf16 are exact); NaN for an unknown dtype.
 * For f32, dst may overlap src. */
void ekn_convert_to_f32(ekn_dtype dt, const void *src, float *dst, size_t n);
#endif
