/* device_cuda: the CUDA devices (kernels/cuda/device_cuda.cu, CUDA builds
 * only), behind the cuda ops table's device entries (lib/core/ops.h).  A
 * missing driver or GPU is not an error here, it is 0 devices, so a CUDA
 * build runs on any machine.  Memory is kernels/cuda/mem_cuda.h. */
#ifndef EKN_DEVICE_CUDA_H
#define EKN_DEVICE_CUDA_H
#include <stddef.h>

/* The number of CUDA devices; 0 when the driver or the GPU is missing. */
int ekn_cuda_device_count(void);
/* Later calls of this thread use `device`: 0, or -1 with the reason in why
 * (cap bytes): "cuda: cudaSetDevice(1) failed: invalid device ordinal". */
int ekn_cuda_select(int device, char *why, size_t cap);
/* device >= 0: a one-line description ("NVIDIA H100 80GB HBM3, 79.1 GiB,
 * sm_90"); device == -1: why ekn_cuda_device_count() is 0
 * ("cudaGetDeviceCount: no CUDA-capable device is detected"), or "" when it
 * is not. */
void ekn_cuda_describe(int device, char *buf, size_t cap);
#endif
