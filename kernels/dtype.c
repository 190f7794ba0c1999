/* dtype (kernels/dtype.h): the sizes and names of the dtype codes, and
 * their conversion to float. */
#include "dtype.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const struct { const char *name; size_t size; } dtypes[EKN_DT_COUNT] = {
    [EKN_U8] = {"u8", 1},   [EKN_I8] = {"i8", 1},     [EKN_U16] = {"u16", 2},
    [EKN_I16] = {"i16", 2}, [EKN_U32] = {"u32", 4},   [EKN_I32] = {"i32", 4},
    [EKN_U64] = {"u64", 8}, [EKN_I64] = {"i64", 8},   [EKN_F16] = {"f16", 2},
    [EKN_BF16] = {"bf16", 2}, [EKN_F32] = {"f32", 4}, [EKN_F64] = {"f64", 8},
};

size_t ekn_dtype_size(ekn_dtype dt)
{
    return (dt > 0 && dt < EKN_DT_COUNT) ? dtypes[dt].size : 0;
}

const char *ekn_dtype_name(ekn_dtype dt)
{
    return (dt > 0 && dt < EKN_DT_COUNT) ? dtypes[dt].name : "?";
}

ekn_dtype ekn_dtype_from_name(const char *s)
{
    for (int i = 1; i < EKN_DT_COUNT; i++)
        if (!strcmp(s, dtypes[i].name)) return (ekn_dtype)i;
    /* common spellings from numpy and friends */
    static const struct { const char *alias; ekn_dtype dt; } aliases[] = {
        {"uint8", EKN_U8}, {"int8", EKN_I8}, {"uint16", EKN_U16}, {"int16", EKN_I16},
        {"uint32", EKN_U32}, {"int32", EKN_I32}, {"uint64", EKN_U64}, {"int64", EKN_I64},
        {"float16", EKN_F16}, {"bfloat16", EKN_BF16}, {"float32", EKN_F32}, {"float", EKN_F32},
        {"float64", EKN_F64}, {"double", EKN_F64},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(s, aliases[i].alias)) return aliases[i].dt;
    return EKN_DT_INVALID;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
    float f;
    if (exp == 0) f = ldexpf((float)man, -24);
    else if (exp == 31) f = man ? NAN : INFINITY;
    else f = ldexpf((float)(man | 1024), (int)exp - 25);
    return sign ? -f : f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void ekn_convert_to_f32(ekn_dtype dt, const void *src, float *dst, size_t n)
{
    switch (dt) {
#define CONV(code, type) case code: { const type *s = src; for (size_t i = 0; i < n; i++) dst[i] = (float)s[i]; } break;
    CONV(EKN_U8, uint8_t) CONV(EKN_I8, int8_t) CONV(EKN_U16, uint16_t) CONV(EKN_I16, int16_t)
    CONV(EKN_U32, uint32_t) CONV(EKN_I32, int32_t) CONV(EKN_U64, uint64_t) CONV(EKN_I64, int64_t)
    CONV(EKN_F64, double)
#undef CONV
    case EKN_F32: memmove(dst, src, n * sizeof *dst); break;
    case EKN_F16: { const uint16_t *s = src; for (size_t i = 0; i < n; i++) dst[i] = half_to_float(s[i]); } break;
    case EKN_BF16: { const uint16_t *s = src; for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float(s[i]); } break;
    default: for (size_t i = 0; i < n; i++) dst[i] = NAN;
    }
}
