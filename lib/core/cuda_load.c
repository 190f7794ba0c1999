/* The CUDA backend, loaded at run time (CUDA builds): the kernels, cuDNN and
 * cuBLAS live in libekn-cuda.so (lib/core/ops_cuda.c and kernels' _cuda
 * objects), so a CUDA build's commands start, and compute on the CPU, on a
 * machine without the CUDA libraries.  The backend is looked for in
 * $EKN_CUDA_BACKEND, then in ../lib/ekn/ beside the running program (the
 * build tree and `make install` both put it there).  A program that links
 * the backend's objects itself (the CUDA unit tests) gets those instead:
 * ekn_cuda_backend_get is then defined, and this file is not linked. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_backend.h"
#include "diag.h"
#include "ops.h"

static const ekn_cuda_backend *backend;
static int tried;
static char why[PATH_MAX + 600];

/* ../lib/ekn/libekn-cuda.so relative to the running program, or "" */
static void beside_program(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    buf[0] = '\0';
    if (n <= 0) return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    snprintf(buf, cap, "%s/../lib/ekn/" EKN_CUDA_BACKEND_FILE, exe);
}

static const ekn_cuda_backend *load(void)
{
    if (tried) return backend;
    tried = 1;
    char path[PATH_MAX + 32];
    const char *env = getenv("EKN_CUDA_BACKEND");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        beside_program(path, sizeof path);
    if (!*path) {
        snprintf(why, sizeof why, "cannot find the CUDA backend " EKN_CUDA_BACKEND_FILE " (set EKN_CUDA_BACKEND)");
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* dlerror names the file and the library that is missing */
        const char *e = dlerror();
        snprintf(why, sizeof why, "the CUDA backend did not load: %s", e ? e : path);
        return NULL;
    }
    const ekn_cuda_backend *(*get)(void);
    *(void **)&get = dlsym(h, "ekn_cuda_backend_get");
    const ekn_cuda_backend *b = get ? get() : NULL;
    if (!b || b->version != EKN_CUDA_BACKEND_VERSION) {
        snprintf(why, sizeof why, "'%s' is not this ekn's CUDA backend (%s)", path,
                 !b ? "no ekn_cuda_backend_get" : "another version");
        dlclose(h);
        return NULL;
    }
    backend = b;
    return backend;
}

const ekn_ops *ekn_ops_cuda(void)
{
    const ekn_cuda_backend *b = load();
    return b ? b->ops() : NULL;
}

const char *ekn_cuda_unavailable(void)
{
    return load() ? NULL : why;
}

int ekn_cuda_last_error(ekn_err *err)
{
    const ekn_cuda_backend *b = load();
    return b ? b->last_error(err) : 0;
}

void ekn_cuda_set_precision(int precision)
{
    const ekn_cuda_backend *b = load();
    if (b) b->set_precision(precision);
}

void ekn_cuda_set_deterministic(int on)
{
    const ekn_cuda_backend *b = load();
    if (b) b->set_deterministic(on);
}
