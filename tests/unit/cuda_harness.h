/* cuda_harness: what the *_cuda tests share: device buffers through the
 * backend of lib/core/device.h, failure counting, the skip without a device.
 *
 * EKN_TEST_FAKE_DEVICE=cpu swaps the CUDA backend for host memory and
 * ch_ops() returns ekn_ops_cpu() instead of ekn_ops_cuda() (tests that call
 * the CUDA kernels directly swap those themselves), so the test's own logic
 * (geometries, inputs, comparisons) can be exercised on a machine without a
 * GPU; it proves nothing about the CUDA code. */
#ifndef EKN_CUDA_HARNESS_H
#define EKN_CUDA_HARNESS_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "ops.h"
#include "testutil.h"

static const ekn_backend *ch_be;
static int ch_fake;
static const char *ch_test;

static int fake_count(void) { return 1; }
static int fake_select(int d, ekn_err *e) { (void)d, (void)e; return 0; }
static void *fake_alloc(size_t b, ekn_err *e) { (void)e; return malloc(b ? b : 1); }
static int fake_copy(void *d, const void *s, size_t b, ekn_err *e) { (void)e; memcpy(d, s, b); return 0; }
static const ekn_backend ch_fake_backend = {"fake", fake_count, fake_select, fake_alloc, free,
                                            fake_copy, fake_copy, NULL, NULL};

/* Selects device 0 and prints it; exits 77 (skip) when there is none. */
static void ch_start(const char *test)
{
    ch_test = test;
    const char *f = getenv("EKN_TEST_FAKE_DEVICE");
    ch_fake = f && !strcmp(f, "cpu");
    ch_be = ch_fake ? &ch_fake_backend : ekn_cuda_backend();
    int count = ch_be ? ch_be->device_count() : 0;
    if (count <= 0) {
        char why[256] = "this ekn was built without CUDA";
        if (ch_be && ch_be->describe) ch_be->describe(-1, why, sizeof why);
        printf("skip: no CUDA device (%s)\n", why);
        exit(EKN_TEST_SKIP);
    }
    ekn_err err = {0};
    if (ch_be->select(0, &err) < 0) {
        fprintf(stderr, "%s: %s\n", test, err.msg);
        exit(1);
    }
    char name[256] = "host memory (EKN_TEST_FAKE_DEVICE=cpu: the CUDA code is NOT tested)";
    if (!ch_fake && ch_be->describe) ch_be->describe(0, name, sizeof name);
    fprintf(stderr, "%s: device 0: %s\n", test, name);
}

static void *ch_up(const void *host, size_t bytes)
{
    ekn_err err = {0};
    void *d = ch_be->alloc(bytes, &err);
    if (!d || (host && ch_be->to_device(d, host, bytes, &err) < 0)) {
        fprintf(stderr, "%s: %s\n", ch_test, err.msg);
        exit(1);
    }
    return d;
}

static void ch_down(void *host, const void *dev, size_t bytes)
{
    ekn_err err = {0};
    if (ch_be->to_host(host, dev, bytes, &err) < 0) {
        fprintf(stderr, "%s: %s\n", ch_test, err.msg);
        exit(1);
    }
}

static void ch_free(void *d) { ch_be->free(d); }

/* The ops table under test: cuda, or cpu with EKN_TEST_FAKE_DEVICE=cpu. */
static inline const ekn_ops *ch_ops(void)
{
    const ekn_ops *ops = ch_fake ? ekn_ops_cpu() : ekn_ops_cuda();
    if (!ops) {
        fprintf(stderr, "%s: a CUDA backend without the cuda ops table\n", ch_test);
        exit(1);
    }
    return ops;
}

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
