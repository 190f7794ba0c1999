/* test_memlimit: --max-memory's check (lib/core/memlimit.h) and the
 * measurements it compares: ekn_optim_bytes is what ekn_optim_create_on
 * allocates for every optimiser (counted through a wrapping ops table),
 * the limit's messages, and the default from MemAvailable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "memlimit.h"
#include "ops.h"
#include "optim.h"

static size_t counted;
static void *(*real_alloc)(size_t);
static void *counting_alloc(size_t bytes)
{
    counted += bytes;
    return real_alloc(bytes);
}

static void test_optim_bytes(void **state)
{
    (void)state;
    ekn_ops ops = *ekn_ops_cpu();
    real_alloc = ops.alloc;
    ops.alloc = counting_alloc;
    const char *names = ekn_optim_names();
    char buf[128];
    snprintf(buf, sizeof buf, "%s", names);
    int tried = 0;
    for (char *name = strtok(buf, "|"); name; name = strtok(NULL, "|")) {
        for (int withp = 0; withp < 2; withp++) {
            const char *params = withp && !strcmp(name, "lbfgs") ? "m=7" : NULL;
            ekn_err err = {0};
            double want = -1;
            assert_int_equal(ekn_optim_bytes(name, 1001, params, &want, &err), 0);
            ekn_optim o;
            counted = 0;
            assert_int_equal(ekn_optim_create_on(&o, name, 1001, params, &ops, &err), 0);
            printf("%-8s %-10s: measured %.0f bytes, create allocates %zu\n", name, params ? params : "", want,
                   counted);
            assert_true(want == (double)counted);
            ekn_optim_free(&o);
            tried++;
        }
    }
    assert_true(tried >= 10);
    /* the same usage errors as create */
    ekn_err err = {0};
    double b;
    assert_int_equal(ekn_optim_bytes("adagrad", 10, NULL, &b, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_int_equal(ekn_optim_bytes("adam", 10, "beta3=1", &b, &err), -1);
}

static void test_check(void **state)
{
    (void)state;
    ekn_err err = {0};
    assert_int_equal(ekn_mem_check(10 << 20, NULL, 10 << 20, 1, "x", NULL, &err), 0); /* equal fits */
    assert_int_equal(ekn_mem_check(1e15, NULL, 0, 0, "x", NULL, &err), 0);           /* device: no default */
    assert_int_equal(ekn_mem_check(42.5 * 1048576, "network 40 MiB", 10 * 1048576.0, 1, "training with batch 8",
                                   "try a smaller --batch", &err),
                     -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_string_equal(err.msg, "training with batch 8 needs 42.5 MiB (network 40 MiB), more than --max-memory 10 MiB; "
                                 "try a smaller --batch");
    /* the default: the available memory, as read now */
    double avail = ekn_mem_available();
    printf("MemAvailable: %.0f bytes\n", avail);
    assert_true(avail > 0);
    assert_int_equal(ekn_mem_check(avail / 4, NULL, 0, 1, "x", NULL, &err), 0);
    assert_int_equal(ekn_mem_check(avail * 4 + 1e12, NULL, 0, 1, "training", "try a smaller --batch", &err), -1);
    assert_non_null(strstr(err.msg, "training needs "));
    assert_non_null(strstr(err.msg, "of memory available; try a smaller --batch, or set --max-memory"));
    char t[32];
    assert_string_equal(ekn_mem_text(512, t, sizeof t), "512 B");
    assert_string_equal(ekn_mem_text(1.5 * 1024 * 1024 * 1024 * 1024, t, sizeof t), "1.5 TiB");
}

TU_MAIN(cmocka_unit_test(test_optim_bytes),
        cmocka_unit_test(test_check))
