/* ekn's CUDA kernel table against PyTorch: the cases of test_torch_ref.c
 * (a small U-Net with batch norm and a residual block, the tied
 * autoencoder; fixtures from tests/torch/make_refs.py) through
 * ekn_ops_cuda(), with the same tolerance |ekn - torch| <= atol + 1e-4
 * |torch| (torch_ref.h).  The CUDA table computes in FP32 (its default
 * precision).  Skips (exit 77) without a device; EKN_TEST_FAKE_DEVICE=cpu
 * runs the test's logic on the cpu table instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cuda_harness.h"
#include "torch_ref.h"

static void check_case(const char *cas)
{
    const ekn_ops *ops = ch_ops();
    size_t bad = tr_run_case(cas, ops, NULL);
    ch_check(cas);
    if (bad) fail_msg("%s on %s kernels: %zu elements disagree with PyTorch", cas, ops->name, bad);
}

static void test_unet_cuda(void **state) { (void)state, check_case("unet"); }
static void test_ae_cuda(void **state) { (void)state, check_case("ae"); }

int main(void)
{
    ch_start("test_torch_ref_cuda");
    (void)ch_up, (void)ch_down, (void)ch_free; /* the net allocates through the table itself */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unet_cuda),
        cmocka_unit_test(test_ae_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
