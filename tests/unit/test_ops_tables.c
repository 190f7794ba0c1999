/* Every ops table (lib/core/ops.h) fills every entry: cpu, ref, staged and, in
 * a CUDA build, cuda, whose C++ table is positional and would silently
 * shift when a field is added in the wrong place.  Runs without a GPU: the
 * tables are static data.  Also the host flag each table's callers rely
 * on, and the vector table behind it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"

#include "ops.h"
#include "vec.h"

static void check_table(const ekn_ops *o, int host)
{
    assert_non_null(o);
    fprintf(stderr, "table %s\n", o->name);
#define FILLED(f) assert_non_null((const void *)o->f)
    FILLED(name), FILLED(conv_workspace), FILLED(conv_forward), FILLED(conv_backward);
    FILLED(pool_forward), FILLED(pool_backward), FILLED(dense_forward), FILLED(dense_backward);
    FILLED(act_forward), FILLED(act_backward), FILLED(softmax_forward), FILLED(softmax_nll), FILLED(mse);
    FILLED(argmax_count), FILLED(alloc), FILLED(free), FILLED(zero), FILLED(upload), FILLED(download);
    FILLED(copy), FILLED(dropout_forward), FILLED(dropout_backward), FILLED(input_noise), FILLED(vec);
    FILLED(mfp_crop), FILLED(mfp_interleave);
    FILLED(upconv_workspace), FILLED(upconv_forward), FILLED(upconv_backward); /* U-Net */
    FILLED(crop_forward), FILLED(crop_backward);
    /* normalisation, PReLU, maxout */
    FILLED(bn_forward_train), FILLED(bn_forward_infer), FILLED(bn_backward), FILLED(gn_forward);
    FILLED(gn_backward), FILLED(prelu_forward), FILLED(prelu_backward), FILLED(maxout_forward);
    FILLED(maxout_backward);
    FILLED(dense_t_forward), FILLED(dense_t_backward); /* dense with tied weights */
    FILLED(mse_w), FILLED(bce), FILLED(softmax_focal), FILLED(softmax_dice), FILLED(sigmoid_dice); /* BCE, focal, Dice */
    FILLED(ema_update);                                /* exponential moving average (--ema) */
    FILLED(vec->dot), FILLED(vec->axpy), FILLED(vec->scale), FILLED(vec->neg), FILLED(vec->lincomb);
    FILLED(vec->decay_penalty), FILLED(vec->sgd), FILLED(vec->rprop), FILLED(vec->adam), FILLED(vec->pr_numerator);
    FILLED(vec->cg_direction), FILLED(vec->lbfgs_pair);
#undef FILLED
    assert_int_equal(o->host, host);
    /* only a table that can fail asynchronously has a check */
    assert_true(host ? o->check == NULL : 1);
}

/* The devices: the GPU table has all three, the host tables none. */
static void check_devices(const ekn_ops *o, int gpu)
{
    assert_true((o->device_count != NULL) == gpu);
    assert_true((o->select != NULL) == gpu);
    assert_true((o->describe != NULL) == gpu);
}

static void test_host_tables(void **state)
{
    (void)state;
    check_table(ekn_ops_cpu(), 1);
    check_table(ekn_ops_ref(), 1);
    check_table(ekn_ops_staged(), 0);
    assert_null(ekn_ops_staged()->check);
    check_devices(ekn_ops_cpu(), 0);
    check_devices(ekn_ops_ref(), 0);
    check_devices(ekn_ops_staged(), 0);
}

static void test_cuda_table(void **state)
{
    (void)state;
    const ekn_ops *o = ekn_ops_cuda();
    if (!o) skip(); /* a build without CUDA */
    check_table(o, 0);
    check_devices(o, 1);
    assert_non_null(o->check);
    assert_string_equal(o->name, "cuda");
    assert_string_equal(o->vec->name, "cuda");
}

TU_MAIN(cmocka_unit_test(test_host_tables),
        cmocka_unit_test(test_cuda_table))
