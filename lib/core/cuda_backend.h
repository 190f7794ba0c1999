/* cuda_backend: what the CUDA backend (libekn-cuda.so: lib/core/ops_cuda.c
 * and the _cuda kernels) gives the library that loads it
 * (lib/core/cuda_load.c).  One entry point, ekn_cuda_backend_get; the
 * backend's own references bind inside it (linked -Bsymbolic), and it takes
 * ekn_err_set and ekn_info from the program (which exports them). */
#ifndef EKN_CUDA_BACKEND_H
#define EKN_CUDA_BACKEND_H
#include "ops.h"

#define EKN_CUDA_BACKEND_FILE "libekn-cuda.so"
/* bumped whenever ekn_ops or this struct changes: a stale backend is refused */
#define EKN_CUDA_BACKEND_VERSION 1

typedef struct ekn_cuda_backend {
    int version;
    const ekn_ops *(*ops)(void);
    int (*last_error)(struct ekn_err *err);
    void (*set_precision)(int precision);
    void (*set_deterministic)(int on);
} ekn_cuda_backend;

const ekn_cuda_backend *ekn_cuda_backend_get(void);

/* NULL when the CUDA backend is there; else why not ("this ekn was built
 * without CUDA (CUDA=0)", "the CUDA backend did not load: libcudnn.so.9:
 * cannot open shared object file ..."), for messages. */
const char *ekn_cuda_unavailable(void);
#endif
