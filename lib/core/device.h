/* device: which backend computes, and device memory for tensors.
 *
 * The CPU backend is always there.  The CUDA backend is compiled into
 * libekn.a only when nvcc and cuDNN were found (kernels/<op>_cuda.cu); in
 * CPU-only builds lib/core/cuda_none.c makes ekn_cuda_backend() return NULL.
 * A CUDA build on a machine without a GPU reports zero devices and the
 * commands use the CPU.  Nothing outside the kernels/ .cu files tests for CUDA at
 * compile time: callers ask ekn_cuda_backend() or hold an ekn_device.
 *
 * This header is also included by the CUDA (C++) translation units, so it
 * declares everything, and the lib/ headers it includes, with C linkage. */
#ifndef EKN_DEVICE_H
#define EKN_DEVICE_H
#ifdef __cplusplus
#ifndef _Noreturn /* diag.h is C11; C++ spells it [[noreturn]] */
#define _Noreturn [[noreturn]]
#endif
extern "C" {
#endif

#include <stddef.h>

#include "diag.h"
#include "tensor.h"

/* A backend's functions.  Errors fill err and return -1 (NULL for alloc);
 * CUDA messages name the call and the driver's reason:
 *   "cuda: cudaMalloc of 1073741824 bytes failed: out of memory" */
typedef struct ekn_backend {
    const char *name;
    int (*device_count)(void); /* 0 when the driver or GPU is missing, never an error */
    int (*select)(int device, ekn_err *err); /* later calls of this thread use `device` */
    void *(*alloc)(size_t bytes, ekn_err *err); /* device memory; 0 bytes gives a valid pointer */
    void (*free)(void *p);                      /* NULL is fine */
    int (*to_device)(void *dst, const void *src, size_t bytes, ekn_err *err);
    int (*to_host)(void *dst, const void *src, size_t bytes, ekn_err *err);
    /* dst[i] = (float)src[i] * scale + shift, on device memory (kernels/convert.h) */
    int (*convert_affine)(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift,
                          ekn_err *err);
    /* device >= 0: a one-line description ("NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90");
     * device == -1: why device_count() is 0 ("cudaGetDeviceCount: no CUDA-capable
     * device is detected"), or "" when it is not.  May be NULL. */
    void (*describe)(int device, char *buf, size_t cap);
} ekn_backend;

/* The CUDA backend, or NULL in a build without CUDA (CUDA=0). */
const ekn_backend *ekn_cuda_backend(void);

/* Where a command computes.  be is NULL for the CPU. */
typedef struct ekn_device {
    int is_cuda;
    int index; /* CUDA device number; 0 for the CPU */
    const ekn_backend *be;
} ekn_device;

/* Resolves the --device option:
 *   "cpu"
 *   "cuda", "cuda:N"   CUDA device 0 or N (an error when it is not there)
 *   "auto" or NULL     CUDA device 0 when one is present, else the CPU
 * A CUDA choice is also selected (backend select()), so later allocations
 * of this thread land on it.  Errors:
 *   EKN_EXIT_USAGE  unknown word: "unknown device 'gpu' (expected auto, cpu, cuda or cuda:N)"
 *   EKN_EXIT_FAIL   "device 'cuda': this ekn was built without CUDA (CUDA=0)"
 *                   "device 'cuda:1': no CUDA device 1: found 1 device"
 *                   "device 'cuda': no CUDA device found (cudaGetDeviceCount: ...)"
 *                   or the backend's select() error. */
int ekn_device_parse(const char *s, ekn_device *dev, ekn_err *err);
/* The same with an explicit CUDA backend (NULL: a build without CUDA);
 * ekn_device_parse passes ekn_cuda_backend().  Tests pass a fake one. */
int ekn_device_parse_backend(const char *s, const ekn_backend *cuda, ekn_device *dev, ekn_err *err);

/* --device, --precision and --nondeterministic of ekn-train and
 * ekn-predict: ekn_device_parse, then the ops table that computes there
 * (ekn_ops_cuda(), or ekn_ops_default() for the CPU); precision "fp32"
 * or "tf32" and deterministic (0: cuDNN may pick non-deterministic
 * algorithms) are set for a GPU (ekn_cuda_set_precision,
 * ekn_cuda_set_deterministic); a lower precision is warned about on the
 * CPU.  Says which with -v. */
struct ekn_ops;
int ekn_device_ops(const char *s, const char *precision, int deterministic, const struct ekn_ops **ops,
                   ekn_err *err);

/* "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90)"; returns buf. */
const char *ekn_device_describe(const ekn_device *dev, char *buf, size_t cap);

/* Mirrors a host tensor's data on the device:  *dev_ptr (device memory of
 * *cap bytes, both 0/NULL at first) is reused when it is large enough and
 * replaced by a larger one otherwise, so a loop of uploads allocates only
 * when the tensor grows.  On the CPU nothing is copied: *dev_ptr becomes
 * host->data (read it only) and *cap is left alone.  On an error *dev_ptr
 * may have been freed (then NULL, *cap 0).  Release with ekn_device_release. */
int ekn_device_upload(const ekn_device *dev, const ekn_tensor *host, void **dev_ptr, size_t *cap,
                      ekn_err *err);
/* Frees a buffer of ekn_device_upload (nothing on the CPU); sets *dev_ptr = NULL, *cap = 0. */
void ekn_device_release(const ekn_device *dev, void **dev_ptr, size_t *cap);

#ifdef __cplusplus
}
#endif
#endif
