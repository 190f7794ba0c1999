/* dist_common: what both builds of dist.h share (dist_mpi.c, dist_single.c). */
#include "dist.h"

void ekn_dist_slice(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
    if (size < 1) size = 1;
    /* n * rank / size without overflow for any n a size_t holds */
    size_t q = n / (size_t)size, r = n % (size_t)size;
    *lo = q * (size_t)rank + r * (size_t)rank / (size_t)size;
    *hi = q * (size_t)(rank + 1) + r * (size_t)(rank + 1) / (size_t)size;
}

void ekn_dist_sum_slices_f32(const float *in, int K, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int r = 0; r < K; r++) s += in[(size_t)r * n + i];
        out[i] = (float)s;
    }
}

void ekn_dist_sum_slices_f64(const double *in, int K, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int r = 0; r < K; r++) s += in[(size_t)r * n + i];
        out[i] = s;
    }
}
