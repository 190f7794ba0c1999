/* device: which backend computes, and on which device.
 *
 * A backend is an ops table (ops.h): its kernels, its memory and its
 * devices.  The CPU is always there.  The CUDA table is compiled into
 * libekn.a only when nvcc and cuDNN were found (lib/core/ops_cuda.c over
 * kernels/ and kernels/cuda/); in CPU-only builds lib/core/cuda_none.c
 * makes ekn_ops_cuda() return NULL.  A CUDA build on a machine without a
 * GPU reports zero devices and the commands use the CPU.  Nothing outside
 * the .cu files and ops_cuda.c tests for CUDA at compile time: callers ask
 * ekn_ops_cuda() or hold an ekn_device. */
#ifndef EKN_DEVICE_H
#define EKN_DEVICE_H
#include <stddef.h>

#include "diag.h"

struct ekn_ops;

/* Where a command computes.  ops is NULL for the CPU. */
typedef struct ekn_device {
    int is_cuda;
    int index;                 /* CUDA device number; 0 for the CPU */
    const struct ekn_ops *ops; /* the CUDA table, whose devices these are */
} ekn_device;

/* Resolves the --device option:
 *   "cpu"
 *   "cuda", "cuda:N"   CUDA device 0 or N (an error when it is not there)
 *   "auto" or NULL     CUDA device 0 when one is present, else the CPU
 * A CUDA choice is also selected (the table's select()), so later allocations
 * of this thread land on it.  Errors:
 *   EKN_EXIT_USAGE  unknown word: "unknown device 'gpu' (expected auto, cpu, cuda or cuda:N)"
 *   EKN_EXIT_FAIL   "device 'cuda': this ekn was built without CUDA (CUDA=0)"
 *                   "device 'cuda:1': no CUDA device 1: found 1 device"
 *                   "device 'cuda': no CUDA device found (cudaGetDeviceCount: ...)"
 *                   or the table's select() error. */
int ekn_device_parse(const char *s, ekn_device *dev, ekn_err *err);
/* The same with an explicit CUDA table (NULL: a build without CUDA), of
 * which only the devices are used; ekn_device_parse passes ekn_ops_cuda().
 * Tests pass a fake one. */
int ekn_device_parse_backend(const char *s, const struct ekn_ops *cuda, ekn_device *dev, ekn_err *err);

/* --device, --precision and --nondeterministic of ekn-train and
 * ekn-predict: ekn_device_parse, then the ops table that computes there
 * (the CUDA table, or ekn_ops_default() for the CPU); precision "fp32"
 * or "tf32" and deterministic (0: cuDNN may pick non-deterministic
 * algorithms) are set for a GPU (ekn_cuda_set_precision,
 * ekn_cuda_set_deterministic); a lower precision is warned about on the
 * CPU.  Says which with -v. */
int ekn_device_ops(const char *s, const char *precision, int deterministic, const struct ekn_ops **ops,
                   ekn_err *err);

/* "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90)"; returns buf. */
const char *ekn_device_describe(const ekn_device *dev, char *buf, size_t cap);
#endif
