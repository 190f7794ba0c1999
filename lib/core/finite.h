/* finite: the one checked conversion of numbers to float32.
 *
 * Every array that becomes network input goes through float32.  A value
 * that is NaN or infinite, or finite but beyond float32's range (an f64
 * 1e300, a CSV "1e39"), would turn silently into NaN or Inf there.  These
 * functions find such values, using the very conversion that the data goes
 * through (ekn_convert_to_f32), so what they accept converts to a finite
 * float and what they refuse is exactly what would not. */
#ifndef EKN_FINITE_H
#define EKN_FINITE_H
#include <stddef.h>

#include "diag.h"
#include "tensor.h"

/* The index of the first of src's n elements (dtype dt) that is not a
 * finite float32 after conversion: NaN, +-Inf, or a finite value that
 * rounds beyond FLT_MAX.  n when there is none.  *bad (may be NULL) gets
 * that element's value as in the source (double). Integers always pass. */
size_t ekn_f32_first_bad(ekn_dtype dt, const void *src, size_t n, double *bad);

/* 1 if the double v converts to a finite float32. */
int ekn_f32_fits(double v);

/* Why v is refused: "is not a finite number" (NaN, Inf) or "is outside
 * float32's range" (finite but too large). */
const char *ekn_f32_why(double v);

/* Checks every element of t (any numeric dtype).  0, or -1 with
 * EKN_EXIT_FAIL and "element I (example E): V WHY" in err, the
 * example counted along axis 0; the caller prefixes file and record. */
int ekn_tensor_check_f32(const ekn_tensor *t, ekn_err *err);
#endif
