/* device: which backend computes, and device memory for tensors.
 *
 * The CPU backend is always there.  The CUDA backend is compiled into
 * libekn.a only when nvcc and cuDNN were found (kernels/*_cuda.cu); in
 * CPU-only builds lib/cuda_none.c makes ekn_cuda_backend() return NULL.
 * A CUDA build on a machine without a GPU reports zero devices and the
 * commands use the CPU. */
#ifndef EKN_DEVICE_H
#define EKN_DEVICE_H
#include <stddef.h>

#include "diag.h"
#include "tensor.h"

typedef struct ekn_backend {
    const char *name;
    int (*device_count)(void); /* 0 when the driver or GPU is missing */
    int (*select)(int device, ekn_err *err);
    void *(*alloc)(size_t bytes, ekn_err *err);
    void (*free)(void *p);
    int (*to_device)(void *dst, const void *src, size_t bytes, ekn_err *err);
    int (*to_host)(void *dst, const void *src, size_t bytes, ekn_err *err);
    /* dst[i] = (float)src[i] * scale + shift, on device memory */
    int (*convert_affine)(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift,
                          ekn_err *err);
} ekn_backend;

const ekn_backend *ekn_cuda_backend(void);
#endif
