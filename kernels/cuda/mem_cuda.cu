// kernels/mem_cuda.h: device memory behind the cuda ops table.
#include <stdio.h>
#include <string.h>

#include "cuda_check.h"
extern "C" {
#include "mem_cuda.h"
}

namespace {

// The pinned staging buffer of uploads and the event of the last copy out of it.
void *staging;
size_t staging_bytes;
cudaEvent_t staging_free;
bool have_event;

bool ensure_staging(size_t bytes)
{
    if (!have_event) {
        if (!ekn_cuda_ok(cudaEventCreateWithFlags(&staging_free, cudaEventDisableTiming), "cudaEventCreate"))
            return false;
        have_event = true;
    }
    // the previous upload must have left the buffer before it is refilled or freed
    if (!ekn_cuda_ok(cudaEventSynchronize(staging_free), "cudaEventSynchronize")) return false;
    if (bytes <= staging_bytes) return true;
    if (staging) cudaFreeHost(staging);
    staging = NULL;
    staging_bytes = 0;
    size_t want = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes;
    if (!ekn_cuda_ok(cudaMallocHost(&staging, want), "cudaMallocHost")) return false;
    staging_bytes = want;
    return true;
}

} // namespace

void *ekn_mem_alloc_cuda(size_t bytes)
{
    void *p = NULL;
    size_t rounded = ((bytes ? bytes : 1) + 255) & ~(size_t)255;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        char why[160];
        snprintf(why, sizeof why, "%zu bytes: %s", rounded, cudaGetErrorString(e));
        ekn_cuda_record("cudaMalloc", why);
        return NULL;
    }
    if (!ekn_cuda_ok(cudaMemset(p, 0, rounded), "cudaMemset")) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

void ekn_mem_free_cuda(void *p)
{
    if (p) (void)cudaFree(p); // nothing a caller could do about a failure here
}

void ekn_mem_zero_cuda(void *p, size_t bytes)
{
    if (bytes) ekn_cuda_ok(cudaMemsetAsync(p, 0, bytes, 0), "cudaMemsetAsync");
}

void ekn_mem_upload_cuda(void *dst, const void *host_src, size_t bytes)
{
    if (!bytes) return;
    if (!ensure_staging(bytes)) {
        ekn_cuda_ok(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
        return;
    }
    memcpy(staging, host_src, bytes);
    if (ekn_cuda_ok(cudaMemcpyAsync(dst, staging, bytes, cudaMemcpyHostToDevice, 0), "cudaMemcpyAsync to the device"))
        ekn_cuda_ok(cudaEventRecord(staging_free, 0), "cudaEventRecord");
}

void ekn_mem_download_cuda(void *host_dst, const void *src, size_t bytes)
{
    if (bytes) ekn_cuda_ok(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
}

void ekn_mem_copy_cuda(void *dst, const void *src, size_t bytes)
{
    if (bytes && dst != src)
        ekn_cuda_ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0), "cudaMemcpyAsync on the device");
}
