#include "vec.h"

static double dot_cpu(size_t n, const float *a, const float *b)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

const ekn_vec_ops ekn_vec_cpu = {
    .name = "cpu",
    .dot = dot_cpu,
};
