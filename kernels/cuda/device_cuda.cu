// The CUDA devices (kernels/cuda/device_cuda.h): count, selection and
// description.  Every CUDA call is checked and its error string goes into
// the message; a missing driver or GPU is not an error here, it is
// "0 devices", so a CUDA build runs on any machine.
#include <cuda_runtime.h>
#include <stdio.h>

extern "C" {
#include "device_cuda.h"
}

static int count_devices(cudaError_t *why)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (why) *why = e;
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); // not sticky: leave no error behind for later calls
        return 0;
    }
    return n;
}

int ekn_cuda_device_count(void) { return count_devices(NULL); }

void ekn_cuda_describe(int device, char *buf, size_t cap)
{
    if (!cap) return;
    buf[0] = 0;
    if (device < 0) {
        cudaError_t e;
        if (count_devices(&e) == 0)
            snprintf(buf, cap, "cudaGetDeviceCount: %s",
                     e == cudaSuccess ? "no CUDA-capable device is detected" : cudaGetErrorString(e));
        return;
    }
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(buf, cap, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
        return;
    }
    snprintf(buf, cap, "%s, %.1f GiB, sm_%d%d", p.name, (double)p.totalGlobalMem / (1024.0 * 1024 * 1024),
             p.major, p.minor);
}

int ekn_cuda_select(int device, char *why, size_t cap)
{
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess) return 0;
    (void)cudaGetLastError();
    if (cap) snprintf(why, cap, "cuda: cudaSetDevice(%d) failed: %s", device, cudaGetErrorString(e));
    return -1;
}
