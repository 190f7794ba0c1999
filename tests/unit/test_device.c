/* Device selection (the --device option), on the CPU: fake CUDA tables with
 * 0, 1 and 2 devices stand in for the GPU, so every branch of
 * ekn_device_parse_backend runs in both build modes; then the real
 * ekn_device_parse, whose answer depends on this build and this machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "cuda_backend.h"
#include "device.h"
#include "ops.h"

/* ---- a fake CUDA table: only its devices ---- */
static int print_errors = 1; /* each message once in the log */
static int fake_count, fake_selected, fake_select_fails;

static int fake_device_count(void) { return fake_count; }
static int fake_select(int device, ekn_err *err)
{
    if (fake_select_fails) return ekn_err_set(err, EKN_EXIT_FAIL, "cuda: cudaSetDevice(%d) failed: busy", device);
    fake_selected = device;
    return 0;
}
static void fake_describe(int device, char *buf, size_t cap)
{
    if (device < 0) snprintf(buf, cap, "%s", fake_count ? "" : "cudaGetDeviceCount: no CUDA-capable device is detected");
    else snprintf(buf, cap, "Fake GPU %d", device);
}
static const ekn_ops fake = {
    .name = "fake", .device_count = fake_device_count, .select = fake_select, .describe = fake_describe};

static int setup(void **state)
{
    (void)state;
    fake_count = fake_selected = -1;
    fake_select_fails = 0;
    return 0;
}

static void expect_cpu(const char *word, const ekn_ops *cuda)
{
    ekn_device d = {.is_cuda = 7, .index = 7, .ops = &fake};
    ekn_err err = {0};
    assert_int_equal(ekn_device_parse_backend(word, cuda, &d, &err), 0);
    assert_int_equal(d.is_cuda, 0);
    assert_int_equal(d.index, 0);
    assert_null(d.ops);
    assert_int_equal(err.code, 0);
}

static void expect_cuda(const char *word, int index)
{
    ekn_device d = {0};
    ekn_err err = {0};
    fake_selected = -1;
    assert_int_equal(ekn_device_parse_backend(word, &fake, &d, &err), 0);
    assert_int_equal(d.is_cuda, 1);
    assert_int_equal(d.index, index);
    assert_ptr_equal(d.ops, &fake);
    assert_int_equal(fake_selected, index); /* and it was selected */
}

/* The error's code and message; with a fake table no select() may happen. */
static void expect_error(const char *word, const ekn_ops *cuda, int code, const char *msg)
{
    ekn_device d = {.is_cuda = 1, .index = 3, .ops = &fake};
    ekn_err err = {0};
    fake_selected = -1;
    assert_int_equal(ekn_device_parse_backend(word, cuda, &d, &err), -1);
    if (print_errors) fprintf(stderr, "'%s' -> %s\n", word ? word : "(null)", err.msg);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(d.is_cuda, 0); /* never left half set */
    assert_int_equal(fake_selected, -1);
}

static void test_cpu_always(void **state)
{
    (void)state;
    for (int n = 0; n <= 2; n++) {
        fake_count = n;
        expect_cpu("cpu", &fake);
    }
    expect_cpu("cpu", NULL);
}

static void test_auto(void **state)
{
    (void)state;
    expect_cpu("auto", NULL); /* built without CUDA */
    expect_cpu(NULL, NULL);   /* NULL is auto */
    fake_count = 0;           /* CUDA build, no GPU */
    expect_cpu("auto", &fake);
    expect_cpu(NULL, &fake);
    fake_count = 2; /* GPUs: the first */
    expect_cuda("auto", 0);
    expect_cuda(NULL, 0);
}

static void test_cuda_present(void **state)
{
    (void)state;
    fake_count = 2;
    expect_cuda("cuda", 0);
    expect_cuda("cuda:0", 0);
    expect_cuda("cuda:1", 1);
    fake_count = 1;
    expect_cuda("cuda", 0);
}

static void test_cuda_missing(void **state)
{
    (void)state;
    /* no table: the reason the build gives (a CPU-only build's words; a
     * program with the backend linked in, as this test in a CUDA build, has none) */
    const char *why = ekn_cuda_unavailable();
    char msg[512];
    snprintf(msg, sizeof msg, "device 'cuda': %s", why ? why : "no CUDA backend");
    expect_error("cuda", NULL, EKN_EXIT_FAIL, msg);
    snprintf(msg, sizeof msg, "device 'cuda:1': %s", why ? why : "no CUDA backend");
    expect_error("cuda:1", NULL, EKN_EXIT_FAIL, msg);
    if (why) assert_string_equal(why, "this ekn was built without CUDA (CUDA=0)");
    fake_count = 0;
    expect_error("cuda", &fake, EKN_EXIT_FAIL,
                 "device 'cuda': no CUDA device found (cudaGetDeviceCount: no CUDA-capable device is detected)");
    fake_count = 1;
    expect_error("cuda:1", &fake, EKN_EXIT_FAIL, "device 'cuda:1': no CUDA device 1: found 1 device");
    fake_count = 2;
    expect_error("cuda:2", &fake, EKN_EXIT_FAIL, "device 'cuda:2': no CUDA device 2: found 2 devices");
    expect_error("cuda:1048575", &fake, EKN_EXIT_FAIL,
                 "device 'cuda:1048575': no CUDA device 1048575: found 2 devices");
}

static void test_select_fails(void **state)
{
    (void)state;
    fake_count = 2;
    fake_select_fails = 1;
    ekn_device d = {0};
    ekn_err err = {0};
    assert_int_equal(ekn_device_parse_backend("cuda:1", &fake, &d, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_string_equal(err.msg, "device 'cuda:1': cuda: cudaSetDevice(1) failed: busy");
    assert_int_equal(d.is_cuda, 0);
    ekn_device a = {0};
    assert_int_equal(ekn_device_parse_backend("auto", &fake, &a, &err), -1); /* a GPU that fails is not hidden */
}

static void test_unknown_words(void **state)
{
    (void)state;
    static const char *bad[] = {"",        "gpu",     "CPU",     "Cuda",   "cuda:",  "cuda:x",
                                "cuda:-1", "cuda:+1", "cuda: 1", "cuda:1x", "cuda:1048576",
                                "cuda:99999999999999999999999", " cpu", "cpu ", "cuda0", "cuda:0:1"};
    for (int n = 0; n <= 2; n += 2) {
        fake_count = n;
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            char want[256];
            snprintf(want, sizeof want, "unknown device '%s' (expected auto, cpu, cuda or cuda:N)", bad[i]);
            print_errors = n == 0;
            expect_error(bad[i], &fake, EKN_EXIT_USAGE, want);
            print_errors = 0;
            expect_error(bad[i], NULL, EKN_EXIT_USAGE, want); /* usage first, whatever the build */
        }
    }
    print_errors = 1;
}

static void test_describe(void **state)
{
    (void)state;
    char buf[128];
    ekn_device cpu = {0}, gpu = {.is_cuda = 1, .index = 1, .ops = &fake};
    assert_string_equal(ekn_device_describe(&cpu, buf, sizeof buf), "cpu");
    assert_string_equal(ekn_device_describe(&gpu, buf, sizeof buf), "cuda:1 (Fake GPU 1)");
    assert_string_equal(ekn_device_describe(&gpu, buf, 5), "cuda"); /* truncated, terminated */
    ekn_ops quiet = fake;
    quiet.describe = NULL;
    gpu.ops = &quiet;
    assert_string_equal(ekn_device_describe(&gpu, buf, sizeof buf), "cuda:1");
}

/* The real thing: "auto" is CUDA exactly when this build has CUDA and this
 * machine a GPU; "cuda" without one is an error that says why. */
static void test_this_machine(void **state)
{
    (void)state;
    const ekn_ops *cuda = ekn_ops_cuda();
    int count = cuda ? cuda->device_count() : 0;
    fprintf(stderr, "this build: %s, %d CUDA device%s\n", cuda ? "CUDA" : "CPU only", count, count == 1 ? "" : "s");
    ekn_device d;
    ekn_err err = {0};
    char buf[256];
    assert_int_equal(ekn_device_parse("auto", &d, &err), 0);
    fprintf(stderr, "auto -> %s\n", ekn_device_describe(&d, buf, sizeof buf));
    assert_int_equal(d.is_cuda, count > 0);
    assert_int_equal(ekn_device_parse("cpu", &d, &err), 0);
    assert_int_equal(d.is_cuda, 0);
    int rc = ekn_device_parse("cuda", &d, &err);
    if (count > 0) {
        assert_int_equal(rc, 0);
        assert_int_equal(d.is_cuda, 1);
        return;
    }
    fprintf(stderr, "cuda -> %s\n", err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_non_null(strstr(err.msg, cuda ? "device 'cuda': no CUDA device found" : "built without CUDA (CUDA=0)"));
    assert_int_equal(ekn_device_parse("cuda:x", &d, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
}

TU_MAIN(cmocka_unit_test_setup(test_cpu_always, setup),   cmocka_unit_test_setup(test_auto, setup),
        cmocka_unit_test_setup(test_cuda_present, setup), cmocka_unit_test_setup(test_cuda_missing, setup),
        cmocka_unit_test_setup(test_select_fails, setup), cmocka_unit_test_setup(test_unknown_words, setup),
        cmocka_unit_test_setup(test_describe, setup),     cmocka_unit_test(test_this_machine))
