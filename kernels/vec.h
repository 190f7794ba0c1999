/* vec: the vector operations of the optimisers (lib/optim*.c) on a flat
 * parameter vector, for each ops table's memory (lib/ops.h): ekn_vec_cpu
 * works on host arrays, ekn_vec_cuda (kernels/vec_cuda.cu, CUDA builds
 * only) on device arrays.  Reductions return host doubles. */
#ifndef EKN_VEC_H
#define EKN_VEC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ekn_vec_ops {
    const char *name;
    /* sum a[i] b[i], accumulated in double */
    double (*dot)(size_t n, const float *a, const float *b);
} ekn_vec_ops;

extern const ekn_vec_ops ekn_vec_cpu;
extern const ekn_vec_ops ekn_vec_cuda;

#ifdef __cplusplus
}
#endif
#endif
