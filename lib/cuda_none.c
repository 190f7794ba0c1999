/* Stand-in linked into CPU-only builds (CUDA=0 or no nvcc/cuDNN): reports
 * that no CUDA backend exists, so callers fall back to the CPU. */
#include "device.h"

const ekn_backend *ekn_cuda_backend(void) { return NULL; }
