/* mem_cuda: device memory for the cuda ops table (lib/core/ops.h's memory
 * functions; kernels/mem_cuda.cu, CUDA builds only).  Failures are recorded
 * for ekn_cuda_last_error; alloc then returns NULL.
 *
 * Uploads from host memory go through a pinned staging buffer (grown to the
 * largest upload, kept), so the copy runs at the link's full rate and the
 * host buffer is free to reuse when the call returns. */
#ifndef EKN_MEM_CUDA_H
#define EKN_MEM_CUDA_H
#include <stddef.h>

void *ekn_mem_alloc_cuda(size_t bytes);
void ekn_mem_free_cuda(void *p);
void ekn_mem_zero_cuda(void *p, size_t bytes);
void ekn_mem_upload_cuda(void *dst, const void *host_src, size_t bytes);
void ekn_mem_download_cuda(void *host_dst, const void *src, size_t bytes);
void ekn_mem_copy_cuda(void *dst, const void *src, size_t bytes);
#endif
