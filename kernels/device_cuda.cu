// The CUDA backend (lib/core/device.h): device count and selection, memory and
// copies, and the kernels' entry points.  Every CUDA call is checked and its
// error string goes into the ekn_err message; a missing driver or GPU is not
// an error here, it is "0 devices", so a CUDA build runs on any machine.
#include <cuda_runtime.h>
#include <stdio.h>

#include "device.h"
extern "C" {
#include "convert.h"
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

static int cuda_device_count(void) { return count_devices(NULL); }

static void cuda_describe(int device, char *buf, size_t cap)
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

static int cuda_select(int device, ekn_err *err)
{
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess)
        return ekn_err_set(err, EKN_EXIT_FAIL, "cuda: cudaSetDevice(%d) failed: %s", device, cudaGetErrorString(e));
    return 0;
}

static void *cuda_alloc(size_t bytes, ekn_err *err)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1); // 0 bytes still gives a pointer
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ekn_err_set(err, EKN_EXIT_FAIL, "cuda: cudaMalloc of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void cuda_free(void *p)
{
    if (p) (void)cudaFree(p); // nothing a caller could do about a failure here
}

static int copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *dir, ekn_err *err)
{
    if (!bytes) return 0;
    cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
    if (e != cudaSuccess)
        return ekn_err_set(err, EKN_EXIT_FAIL, "cuda: cudaMemcpy of %zu bytes %s failed: %s", bytes, dir,
                           cudaGetErrorString(e));
    return 0;
}

static int cuda_to_device(void *dst, const void *src, size_t bytes, ekn_err *err)
{
    return copy(dst, src, bytes, cudaMemcpyHostToDevice, "to the device", err);
}

static int cuda_to_host(void *dst, const void *src, size_t bytes, ekn_err *err)
{
    return copy(dst, src, bytes, cudaMemcpyDeviceToHost, "to the host", err);
}

static const ekn_backend cuda_backend = {
    "cuda",      cuda_device_count, cuda_select,  cuda_alloc, cuda_free, cuda_to_device,
    cuda_to_host, ekn_convert_affine_cuda, cuda_describe,
};

extern "C" const ekn_backend *ekn_cuda_backend(void) { return &cuda_backend; }
