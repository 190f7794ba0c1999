/* device_opts: the options that say where and on how many threads a
 * command computes, as ekn-train and ekn-predict share them: one struct,
 * one set of option rows (EKN_DEVICE_OPTIONS), one function that applies
 * them.  A module of its own so that device.h stays free of the option
 * engine. */
#ifndef EKN_DEVICE_OPTS_H
#define EKN_DEVICE_OPTS_H
#include "device.h"
#include "opt.h"

typedef struct ekn_device_opts {
    const char *device;    /* --device: auto|cpu|cuda|cuda:N (ekn_device_parse) */
    const char *precision; /* --precision: fp32|tf32 */
    int nondeterministic;  /* --nondeterministic: cuDNN may pick algorithms whose sums vary */
    long threads;          /* -j/--threads: the CPU kernels' threads (cpu_threads.h); 0: OpenBLAS's default count */
} ekn_device_opts;

#define EKN_DEVICE_OPTS_INIT {.device = "auto", .precision = "fp32"}

/* The rows of the sub-table, for the command's table: EKN_DEVICE_OPTIONS(&o.dev), */
#define EKN_DEVICE_OPTIONS(d)                                                                                   \
    OPT_STRING(0, "device", &(d)->device, "DEV", "where to compute: cpu, cuda, cuda:N, or auto (a GPU when there is one)"), \
    OPT_CHOICE(0, "precision", &(d)->precision, "P",                                                            \
               "GPU convolutions and matrix products: fp32, or tf32 on tensor cores (FP32 weights and sums)",    \
               "fp32|tf32"),                                                                                    \
    OPT_FLAG(0, "nondeterministic", &(d)->nondeterministic,                                                     \
             "GPU: let cuDNN use faster algorithms whose sums vary from run to run"),                           \
    OPT_INT('j', "threads", &(d)->threads, "N", "threads of the CPU kernels (0: OpenBLAS's default)", \
            0, 1024)

/* Sets the threads (ekn_set_threads), then resolves the device into the
 * ops table that computes there (ekn_device_ops, whose errors it returns). */
int ekn_device_opts_apply(const ekn_device_opts *d, const struct ekn_ops **ops, ekn_err *err);

/* The threads the CPU kernels use in this process (kernels/cpu_threads.h:
 * OpenBLAS itself then runs one); n <= 0: OpenBLAS's default
 * count (OPENBLAS_NUM_THREADS, else the cores). */
void ekn_set_threads(long n);
#endif
