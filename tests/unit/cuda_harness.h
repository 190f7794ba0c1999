/* cuda_harness: what the *_cuda tests share: device buffers through the
 * memory functions of the ops table under test (lib/core/ops.h), failure
 * counting, the skip without a device.
 *
 * EKN_TEST_FAKE_DEVICE=cpu swaps the CUDA table for ekn_ops_cpu() (host
 * memory; tests that call the CUDA kernels directly swap those themselves),
 * so the test's own logic (geometries, inputs, comparisons) can be
 * exercised on a machine without a GPU; it proves nothing about the CUDA
 * code. */
#ifndef EKN_CUDA_HARNESS_H
#define EKN_CUDA_HARNESS_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "ops.h"
#include "testutil.h"

static const ekn_ops *ch_table;
static int ch_fake;
static const char *ch_test;

static void ch_check(const char *what);

/* Selects device 0 and prints it; exits 77 (skip) when there is none. */
static void ch_start(const char *test)
{
    ch_test = test;
    const char *f = getenv("EKN_TEST_FAKE_DEVICE");
    ch_fake = f && !strcmp(f, "cpu");
    if (ch_fake) {
        ch_table = ekn_ops_cpu();
        fprintf(stderr, "%s: device 0: host memory (EKN_TEST_FAKE_DEVICE=cpu: the CUDA code is NOT tested)\n",
                test);
        return;
    }
    ch_table = ekn_ops_cuda();
    int count = ch_table ? ch_table->device_count() : 0;
    if (count <= 0) {
        char why[256] = "this ekn was built without CUDA";
        if (ch_table) ch_table->describe(-1, why, sizeof why);
        printf("skip: no CUDA device (%s)\n", why);
        exit(EKN_TEST_SKIP);
    }
    ekn_err err = {0};
    if (ch_table->select(0, &err) < 0) {
        fprintf(stderr, "%s: %s\n", test, err.msg);
        exit(1);
    }
    char name[256] = "";
    ch_table->describe(0, name, sizeof name);
    fprintf(stderr, "%s: device 0: %s\n", test, name);
}

/* Device memory of bytes, a copy of host's unless host is NULL (then zeros). */
static void *ch_up(const void *host, size_t bytes)
{
    void *d = ch_table->alloc(bytes);
    if (!d) {
        ch_check("alloc");
        fprintf(stderr, "%s: out of device memory (%zu bytes)\n", ch_test, bytes);
        exit(1);
    }
    if (host) ch_table->upload(d, host, bytes);
    ch_check("upload");
    return d;
}

/* Copies bytes from host into device memory dev. */
static inline void ch_put(void *dev, const void *host, size_t bytes)
{
    ch_table->upload(dev, host, bytes);
    ch_check("upload");
}

static void ch_down(void *host, const void *dev, size_t bytes)
{
    ch_table->download(host, dev, bytes);
    ch_check("download");
}

static void ch_free(void *d) { ch_table->free(d); }

/* The ops table under test: cuda, or cpu with EKN_TEST_FAKE_DEVICE=cpu. */
static inline const ekn_ops *ch_ops(void) { return ch_table; }

/* After a device op: a recorded CUDA error ends the test. */
static void ch_check(const char *what)
{
    if (ch_fake) return;
    ekn_err err = {0};
    if (ekn_cuda_last_error(&err) < 0) {
        fprintf(stderr, "%s: %s: %s\n", ch_test, what, err.msg);
        exit(1);
    }
}
#endif
