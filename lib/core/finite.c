/* finite: the checked conversion to float32 (finite.h). */
#include "finite.h"

#include <float.h>
#include <math.h>
#include <string.h>

int ekn_f32_fits(double v) { return isfinite((float)v) != 0; }

const char *ekn_f32_why(double v) { return isfinite(v) ? "is outside float32's range" : "is not a finite number"; }

size_t ekn_f32_first_bad(ekn_dtype dt, const void *src, size_t n, double *bad)
{
    switch (dt) { /* every integer type fits (u64's max is 1.8e19) */
    case EKN_U8: case EKN_I8: case EKN_U16: case EKN_I16: case EKN_U32: case EKN_I32: case EKN_U64: case EKN_I64:
        return n;
    default: break;
    }
    const size_t esz = ekn_dtype_size(dt);
    enum { BLOCK = 256 };
    float buf[BLOCK];
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t m = n - i < BLOCK ? n - i : BLOCK;
        const char *p = (const char *)src + i * esz;
        ekn_convert_to_f32(dt, p, buf, m);
        for (size_t k = 0; k < m; k++)
            if (!isfinite(buf[k])) {
                if (bad) {
                    if (dt == EKN_F64) memcpy(bad, p + k * esz, sizeof *bad);
                    else *bad = buf[k];
                }
                return i + k;
            }
    }
    return n;
}

int ekn_tensor_check_f32(const ekn_tensor *t, ekn_err *err)
{
    size_t n = (size_t)ekn_tensor_numel(t);
    double v = 0;
    size_t i = ekn_f32_first_bad(t->dtype, t->data, n, &v);
    if (i == n) return 0;
    size_t per = t->rank && t->shape[0] ? n / (size_t)t->shape[0] : 1;
    return ekn_err_set(err, EKN_EXIT_FAIL, "element %zu (example %zu): %g %s", i, i / (per ? per : 1), v,
                       ekn_f32_why(v));
}
