/* ekn against PyTorch: one training step of two graph nets, with the
 * references tests/torch/make_refs.py computed once with torch.nn (in
 * float64) and committed as .npy under tests/fixtures/torch/:
 *   unet  tests/fixtures/torch/unet.spec: conv -> BN -> relu, pool, conv ->
 *         BN -> relu, a residual add of two same-padded convs, a 2x2
 *         up-convolution, crop-and-concat with the first BN's output, 1x1
 *         conv, softmax; per-pixel NLL with ignored (-1) pixels;
 *   ae    tests/fixtures/torch/ae.spec: ELEKTRONN's tied autoencoder,
 *         16-8-4 and back with transposed encoder weights, tanh, linear
 *         output, squared error onto the input.
 * For each kernel table (ref, cpu, and staged: the cpu kernels behind the
 * device-memory interface) the net is built from the spec, every tensor
 * ekn_net_tensors names is loaded from init/NAME.npy into theta or state,
 * and one step of the trainer's optimiser (lib/nn/optim.h, "sgd" with
 * momentum 0 and no weight decay) runs forward in training mode, ekn's own
 * loss kernel (ops->softmax_nll, the mean over counted pixels = torch's
 * NLLLoss(ignore_index=-1); ops->mse, sum/(2m) = torch's 0.5*MSELoss),
 * backward and the update.  Compared with torch: the output, the loss,
 * every parameter's gradient, and every tensor after the step (BN running
 * statistics included: PyTorch's conventions, kernels/norm.h).
 *
 * Tolerance |ekn - torch| <= atol + rtol*|torch|, rtol = 1e-4 (the issue's
 * bar) and atol = 1e-6 * max|torch|, the max over the tensor for outputs
 * and tensors after the step, over all the step's gradients for a
 * gradient: some gradients are zero in exact arithmetic (a conv bias in
 * front of a batch norm: torch's float64 gives 1e-17, ekn's float32 sums
 * 3e-9) and a gradient element far smaller than the terms it sums loses
 * relative accuracy in float32 however it is computed.  The worst element
 * of each comparison is printed.  A negative control shows the comparison
 * has teeth: one weight changed by 0.1% makes the gradients fail it.  (A
 * batch variance taken biased into the running variance would be off by
 * 4e-4 (bn1) and 2e-3 (bn2) relative, also far outside.)
 *
 * The fixtures are found in tests/fixtures/torch (make check runs from the
 * top of the tree) or in $EKN_TORCH_FIXTURES. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include "torch_ref.h"

static void check_case(const char *cas, const ekn_ops *ops)
{
    size_t bad = tr_run_case(cas, ops, NULL);
    if (bad) fail_msg("%s on %s kernels: %zu elements disagree with PyTorch", cas, ops->name, bad);
}

static void test_unet_ref(void **state) { (void)state, check_case("unet", ekn_ops_ref()); }
static void test_unet_cpu(void **state) { (void)state, check_case("unet", ekn_ops_cpu()); }
static void test_unet_staged(void **state) { (void)state, check_case("unet", ekn_ops_staged()); }
static void test_ae_ref(void **state) { (void)state, check_case("ae", ekn_ops_ref()); }
static void test_ae_cpu(void **state) { (void)state, check_case("ae", ekn_ops_cpu()); }
static void test_ae_staged(void **state) { (void)state, check_case("ae", ekn_ops_staged()); }

/* Teeth: a 0.1% change of one weight must show in the comparison. */
static void test_negative_control(void **state)
{
    (void)state;
    size_t bad = tr_run_case("unet", ekn_ops_ref(), "c2.w");
    fprintf(stderr, "negative control (unet, c2.w[0] * 1.001): %zu elements out of tolerance\n", bad);
    assert_true(bad > 0);
    bad = tr_run_case("ae", ekn_ops_ref(), "e2.w");
    fprintf(stderr, "negative control (ae, e2.w[0] * 1.001): %zu elements out of tolerance\n", bad);
    assert_true(bad > 0);
}

TU_MAIN(cmocka_unit_test(test_unet_ref),    cmocka_unit_test(test_unet_cpu), cmocka_unit_test(test_unet_staged),
        cmocka_unit_test(test_ae_ref),      cmocka_unit_test(test_ae_cpu),   cmocka_unit_test(test_ae_staged),
        cmocka_unit_test(test_negative_control))
