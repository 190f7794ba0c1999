/* test_calc: the CNN calculator against hand-worked ELEKTRONN examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "calc.h"
#include "spec.h"

enum { Z, Y, X };

static void parse_ok(ekn_spec *s, const char *text)
{
    ekn_err err = {0};
    int rc = ekn_spec_parse(s, text, "t.spec", &err);
    if (rc) fprintf(stderr, "unexpected parse error: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* conv3, pool2, conv3, pool2 in 2D (img-scalar: the FOV of 10 is even, which
 * img-img would refuse). */
static const char *net_2d =
    "[input]\n"
    "mode = img-scalar\n"
    "channels = 1\n"
    "shape = 26,26\n"
    "[conv]\nfilters = 4\nsize = 3,3\n"
    "[pool]\nsize = 2,2\n"
    "[conv]\nfilters = 4\nsize = 3,3\n"
    "[pool]\nsize = 2,2\n"
    "[dense]\nunits = 3\nact = softmax\n";

static void test_2d(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_2d);
    ekn_calc c;
    ekn_err err = {0};
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), 0);
    const int outs[4] = {24, 12, 10, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.layers[i].out[X], outs[i]);
        assert_int_equal(c.layers[i].out[Y], outs[i]);
        assert_int_equal(c.layers[i].out[Z], 1);
    }
    assert_int_equal(c.layers[0].in[X], 26);
    assert_int_equal(c.layers[1].fov[X], 4);
    assert_int_equal(c.layers[1].stride[X], 2);
    assert_int_equal(c.layers[3].fov[X], 10);
    assert_int_equal(c.layers[3].stride[X], 4);
    assert_int_equal(c.layers[3].offset[X], 5);
    assert_int_equal(c.fov[X], 10);
    assert_int_equal(c.stride[Y], 4);
    assert_int_equal(c.fov[Z], 1);
    assert_int_equal(c.stride[Z], 1);
    /* dense: flattens 4*5*5 = 100 inputs into 3 */
    assert_int_equal(c.layers[4].params, 100 * 3 + 3);
    assert_int_equal(c.out[X], 1);
    assert_int_equal(c.out_channels, 3);
    assert_int_equal(c.layers[0].params, 1 * 9 * 4 + 4);
    assert_int_equal(c.layers[2].params, 4 * 9 * 4 + 4);
    assert_int_equal(c.params, 40 + 148 + 303);

    int v[6];
    assert_int_equal(ekn_calc_valid_sizes(&s, X, 0, v, 6, &err), 6);
    const int want[6] = {10, 14, 18, 22, 26, 30};
    for (int i = 0; i < 6; i++) assert_int_equal(v[i], want[i]);
    assert_int_equal(ekn_calc_nearest(&s, X, 0, 28, &err), 26);
    assert_int_equal(ekn_calc_nearest(&s, Y, 0, 26, &err), 26);
    assert_int_equal(ekn_calc_nearest(&s, Y, 0, 3, &err), 10);
    assert_int_equal(ekn_calc_is_valid(&s, X, 0, 22, &err), 1);
    assert_int_equal(ekn_calc_is_valid(&s, X, 0, 23, &err), 0);
    /* Z is unused in a 2D spec: only 1 fits */
    assert_int_equal(ekn_calc_valid_sizes(&s, Z, 0, v, 6, &err), 1);
    assert_int_equal(v[0], 1);
    assert_int_equal(ekn_calc_nearest(&s, Z, 0, 9, &err), 1);
    ekn_spec_free(&s);
}

static void test_2d_misfit(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_2d);
    ekn_calc c;
    ekn_err err = {0};
    /* 28 -> 26 -> 13 -> 11 -> 5.5: the second pool (line 13) fails */
    int shape[3] = {1, 28, 26};
    assert_int_equal(ekn_calc_run(&s, shape, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "t.spec:13:"));
    assert_non_null(strstr(err.msg, "'pool4'"));
    assert_non_null(strstr(err.msg, " in Y "));
    assert_non_null(strstr(err.msg, "26, 30"));
    /* smaller than the field of view: the last conv (line 10) gets 1 < 3 */
    shape[1] = 6;
    shape[2] = 26;
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_calc_run(&s, shape, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "t.spec:10:"));
    assert_non_null(strstr(err.msg, "smallest valid input size in Y is 10"));
    /* a Z size in a 2D spec */
    int bad_z[3] = {2, 26, 26};
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_calc_run(&s, bad_z, &c, &err), -1);
    assert_non_null(strstr(err.msg, "t.spec:1:"));
    ekn_spec_free(&s);
}

/* ELEKTRONN's anisotropic 3D example: in x and y filters 4,3,3,3,2 with pools
 * 2,2,1,1,1; in z filters 1,1,3,3,1, no pooling.  The first two pools are
 * marked for max fragment pooling. */
static const char *net_3d =
    "[input]\n"
    "mode = img-img\n"
    "channels = 1\n"
    "[conv]\nfilters = 8\nsize = 1,4,4\n"
    "[pool]\nsize = 1,2,2\nmfp = 1\n"
    "[conv]\nfilters = 8\nsize = 1,3,3\n"
    "[pool]\nsize = 1,2,2\nmfp = 1\n"
    "[conv]\nfilters = 8\nsize = 3,3,3\n"
    "[conv]\nfilters = 8\nsize = 3,3,3\n"
    "[conv]\nfilters = 2\nsize = 1,2,2\nact = softmax\n";

static void test_3d(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_3d);
    assert_int_equal(s.ndim, 3);
    assert_int_equal(s.has_shape, 0);
    ekn_calc c;
    ekn_err err = {0};
    int shape[3] = {7, 127, 127};
    assert_int_equal(ekn_calc_run(&s, shape, &c, &err), 0);
    const int outs_xy[7] = {124, 62, 60, 30, 28, 26, 25};
    const int outs_z[7] = {7, 7, 7, 7, 5, 3, 3};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(c.layers[i].out[X], outs_xy[i]);
        assert_int_equal(c.layers[i].out[Y], outs_xy[i]);
        assert_int_equal(c.layers[i].out[Z], outs_z[i]);
    }
    assert_int_equal(c.fov[X], 31);
    assert_int_equal(c.fov[Y], 31);
    assert_int_equal(c.stride[X], 4);
    assert_int_equal(c.offset[X], 15);
    assert_int_equal(c.fov[Z], 5);
    assert_int_equal(c.stride[Z], 1);
    assert_int_equal(c.offset[Z], 2);
    assert_int_equal(c.out[Z], 3);
    assert_int_equal(c.out[X], 25);
    assert_int_equal(c.dense_out[X], 25);
    assert_int_equal(c.frags[X], 1);
    assert_int_equal(c.out_channels, 2);
    assert_int_equal(c.layers[0].params, 1 * 16 * 8 + 8);
    assert_int_equal(c.layers[4].params, 8 * 27 * 8 + 8);

    int v[3];
    assert_int_equal(ekn_calc_valid_sizes(&s, X, 0, v, 3, &err), 3);
    assert_int_equal(v[0], 31);
    assert_int_equal(v[1], 35);
    assert_int_equal(v[2], 39);
    assert_int_equal(ekn_calc_valid_sizes(&s, Z, 0, v, 3, &err), 3);
    assert_int_equal(v[0], 5);
    assert_int_equal(v[1], 6);
    assert_int_equal(v[2], 7);

    /* with MFP on the first two pools: 127 -> 126, dense output 96 */
    assert_int_equal(ekn_calc_nearest(&s, X, 1, 127, &err), 126);
    assert_int_equal(ekn_calc_nearest(&s, Z, 1, 7, &err), 7);
    assert_int_equal(ekn_calc_valid_sizes(&s, Y, 1, v, 2, &err), 2);
    assert_int_equal(v[0], 34);
    assert_int_equal(v[1], 38);
    ekn_calc_dim di;
    assert_int_equal(ekn_calc_dim_info(&s, X, 1, &di, &err), 0);
    assert_int_equal(di.fov, 31);
    assert_int_equal(di.stride, 4);
    assert_int_equal(di.base, 34);
    assert_int_equal(di.frags, 4);
    int mshape[3] = {7, 126, 126};
    assert_int_equal(ekn_calc_run_mfp(&s, mshape, 1, &c, &err), 0);
    assert_int_equal(c.mfp, 1);
    assert_int_equal(c.out[X], 24);
    assert_int_equal(c.frags[X], 4);
    assert_int_equal(c.dense_out[X], 96);
    assert_int_equal(c.dense_out[X], 126 - 31 + 1);
    assert_int_equal(c.dense_out[Z], 3);
    assert_int_equal(c.layers[1].out[X], 61);
    assert_int_equal(c.layers[1].frags[X], 2);
    assert_int_equal(c.layers[3].out[X], 29);
    /* the layers after the MFP pools run on all 16 fragments */
    ekn_calc plain;
    assert_int_equal(ekn_calc_run(&s, (int[3]){7, 127, 127}, &plain, &err), 0);
    assert_true(c.layers[6].flops > 16 * 0.9 * plain.layers[6].flops);

    /* without MFP 126 does not fit, and 127 does not fit with MFP */
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_calc_run(&s, mshape, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "123, 127"));
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_calc_run_mfp(&s, shape, 1, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "t.spec:7:"));
    assert_non_null(strstr(err.msg, "126, 130"));
    ekn_spec_free(&s);
}

/* Fashion-MNIST CNN: params and FLOPs worked by hand. */
static void test_fmnist(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, "[input]\nmode = img-scalar\nchannels = 1\nshape = 28,28\n"
                 "[conv]\nfilters = 32\nsize = 5,5\n[pool]\nsize = 2,2\n"
                 "[conv]\nfilters = 64\nsize = 5,5\n[pool]\nsize = 2,2\n"
                 "[dense]\nunits = 256\ndropout = 0.5\n"
                 "[dense]\nunits = 10\nact = softmax\n");
    ekn_calc c;
    ekn_err err = {0};
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), 0);
    assert_int_equal(c.layers[3].out[X], 4);
    assert_int_equal(c.layers[0].params, 832);
    assert_int_equal(c.layers[2].params, 51264);
    assert_int_equal(c.layers[4].params, 1024 * 256 + 256);
    assert_int_equal(c.layers[5].params, 2570);
    assert_int_equal(c.params, 832 + 51264 + 262400 + 2570);
    assert_true(c.layers[0].flops == 2.0 * 24 * 24 * 32 * 25);
    assert_true(c.layers[4].flops == 2.0 * 1024 * 256);
    assert_true(c.layers[1].flops == 0);
    assert_true(c.layers[0].act_bytes == 8.0 * 24 * 24 * 32);
    /* the pool's output (linear: one copy) and its argmax */
    assert_true(c.layers[1].act_bytes == 8.0 * 12 * 12 * 32);
    /* relu with dropout: before and after the activation, and the mask */
    assert_true(c.layers[4].act_bytes == 12.0 * 256);
    /* the conv workspace: conv2 lowers 32*5*5 rows of 8*8 columns, plus its 64 x 8*8 output */
    assert_true(c.work_bytes == 4.0 * (32 * 25 + 64) * 64);
    assert_int_equal(c.layers[4].fov[X], 28);
    assert_int_equal(c.fov[X], 16);
    assert_int_equal(c.stride[X], 4);
    assert_int_equal(ekn_spec_classes(&s), 10);
    ekn_spec_free(&s);
}

static void test_vect(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, "[input]\nmode = vect-scalar\nshape = 784\n"
                 "[dense]\nunits = 512\n[dense]\nunits = 1\nact = linear\n");
    ekn_calc c;
    ekn_err err = {0};
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), 0);
    assert_int_equal(c.in[X], 784);
    assert_int_equal(c.in[Y], 1);
    assert_int_equal(c.params, 784 * 512 + 512 + 513);
    assert_int_equal(c.out_channels, 1);
    assert_int_equal(c.fov[X], 1);
    assert_int_equal(ekn_calc_nearest(&s, X, 0, 100, &err), 100);
    assert_int_equal(ekn_spec_classes(&s), 0);
    /* another feature count through shape */
    assert_int_equal(ekn_calc_run(&s, (int[3]){1, 1, 14}, &c, &err), 0);
    assert_int_equal(c.layers[0].params, 14 * 512 + 512);
    ekn_spec_free(&s);

    /* no shape in the spec and none given */
    parse_ok(&s, "[input]\nmode = vect-scalar\n[dense]\nunits = 2\nact = softmax\n");
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "t.spec:1:"));
    ekn_spec_free(&s);
}

/* A pool factor that does not divide the spec's own shape. */
static void test_pool_remainder(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, "[input]\nmode = img-scalar\nshape = 27,28\n"
                 "[conv]\nfilters = 4\nsize = 3,3\n"
                 "[pool]\nsize = 2,2\n"
                 "[dense]\nunits = 2\nact = softmax\n");
    ekn_calc c;
    ekn_err err = {0};
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "t.spec:7: layer 'pool2'"));
    assert_non_null(strstr(err.msg, "in Y"));
    assert_non_null(strstr(err.msg, "26, 28"));
    ekn_spec_free(&s);
}

/* A spec built by hand (not parsed) gets the same checks. */
static void test_handmade(void **state)
{
    (void)state;
    ekn_spec s;
    memset(&s, 0, sizeof s);
    s.mode = EKN_MODE_IMG_IMG;
    s.channels = 1;
    s.ndim = 1;
    s.nlayers = 1;
    s.layers[0] = (ekn_spec_layer){.kind = EKN_LAYER_CONV, .units = 2, .size = {1, 1, 4},
                                   .act = EKN_ACT_SOFTMAX, .line = 5};
    strcpy(s.layers[0].name, "out");
    ekn_calc c;
    ekn_err err = {0};
    assert_int_equal(ekn_calc_run(&s, (int[3]){1, 1, 9}, &c, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "<spec>:5:"));
    assert_non_null(strstr(err.msg, "even"));
    s.layers[0].size[2] = 5;
    assert_int_equal(ekn_calc_run(&s, (int[3]){1, 1, 9}, &c, &err), 0);
    assert_int_equal(c.out[X], 5);
    s.layers[0].size[2] = 0;
    assert_int_equal(ekn_calc_run(&s, (int[3]){1, 1, 9}, &c, &err), -1);
    s.nlayers = 0;
    assert_int_equal(ekn_calc_run(&s, (int[3]){1, 1, 9}, &c, &err), -1);
    assert_int_equal(ekn_calc_valid_sizes(&s, X, 0, (int[1]){0}, 1, &err), -1);
}

static void load(ekn_spec *s, const char *path)
{
    ekn_err err = {0};
    int rc = ekn_spec_load(s, path, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The U-Net paper's network (figure 1): 572 -> 388, valid inputs 188 + 16k,
 * the next smaller valid input 556 gives 372; output 0 is centred on input
 * pixel 92 = (572 - 388) / 2 at stride 1. */
static void test_unet_paper(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_calc c;
    ekn_err err = {0};
    load(&s, "examples/nets/unet-paper.spec");
    assert_true(s.graph);
    assert_int_equal(ekn_calc_run(&s, NULL, &c, &err), 0);
    assert_int_equal(c.out[1], 388);
    assert_int_equal(c.out[2], 388);
    assert_int_equal(c.out_channels, 2);
    assert_int_equal(c.stride[2], 1);
    assert_int_equal(c.offset[2], 92);
    assert_int_equal(ekn_calc_nearest(&s, 2, 0, 571, &err), 556);
    int v[3];
    assert_int_equal(ekn_calc_valid_sizes(&s, 2, 0, v, 3, &err), 3);
    assert_int_equal(v[0], 188);
    assert_int_equal(v[1], 204);
    assert_int_equal(v[2], 220);
    assert_int_equal(ekn_calc_is_valid(&s, 2, 0, 572, &err), 1);
    assert_int_equal(ekn_calc_is_valid(&s, 2, 0, 570, &err), 0);
    const int sh[3] = {1, 556, 556};
    assert_int_equal(ekn_calc_run(&s, sh, &c, &err), 0);
    assert_int_equal(c.out[2], 372);
    /* 31,030,658 weights and biases, summed by hand over the 23 convolutions and 4 up-convolutions */
    assert_int_equal(c.params, 31030658);
    const int bad[3] = {1, 570, 570};
    assert_int_equal(ekn_calc_run(&s, bad, &c, &err), -1);
    fprintf(stderr, "%s\n", err.msg);
    assert_non_null(strstr(err.msg, "nearest valid input sizes in Y: 556, 572"));
    ekn_spec_free(&s);
}

/* The 3D anisotropic U-Net: planar levels keep Z, the coarse ones pool it. */
static void test_unet_aniso(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_err err = {0};
    load(&s, "examples/nets/unet-aniso-3d.spec");
    ekn_calc_dim z, x;
    assert_int_equal(ekn_calc_dim_info(&s, 0, 0, &z, &err), 0);
    assert_int_equal(ekn_calc_dim_info(&s, 2, 0, &x, &err), 0);
    fprintf(stderr, "aniso U-Net: Z base %d step %d, X base %d step %d\n", z.base, z.step, x.base, x.step);
    assert_true(z.step > 0 && x.step > z.step); /* X is pooled more often than Z */
    const int sh[3] = {z.base + z.step, x.base + x.step, x.base + x.step};
    ekn_calc c;
    assert_int_equal(ekn_calc_run(&s, sh, &c, &err), 0);
    assert_int_equal(c.stride[0], 1);
    assert_true(c.out[0] >= 1 && c.out[2] >= 1);
    assert_int_equal((sh[0] - c.out[0]) % 2, 0);
    assert_int_equal(c.offset[2], (sh[2] - c.out[2]) / 2);
    assert_int_equal(c.offset[0], (sh[0] - c.out[0]) / 2);
    ekn_spec_free(&s);
}

/* Impossible graphs fail with FILE:LINE and the reason. */
static void test_graph_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *phrase;
        int parse_fails;
    } bad[] = {
        /* a layer may read only layers above it: no cycles */
        {"[input]\nmode = img-img\n[conv]\nname = a\ninput = b\nfilters = 2\nsize = 3,3\n"
         "[conv]\nname = b\nfilters = 2\nsize = 1,1\nact = softmax\n", "no layer 'b' before this one", 1},
        {"[input]\nmode = img-img\n[conv]\nfilters = 2\nsize = 3,3\n[concat]\ninput = conv1\n"
         "[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n", "at least two", 1},
        {"[input]\nmode = img-img\n[conv]\nfilters = 2\nsize = 3,3\n[conv]\nfilters = 2\nsize = 3,3\n"
         "[conv]\ninput = conv1\nfilters = 2\nsize = 1,1\nact = softmax\n", "its output is not used", 1},
        /* an odd size difference: no centred crop at any input size */
        {"[input]\nmode = img-img\nshape = 9,9\n[conv]\nname = a\nfilters = 2\nsize = 2,2\n"
         "[concat]\ninput = a, input\n[conv]\nfilters = 2\nsize = 2,2\nact = softmax\n",
         "cannot be centre-cropped", 0},
        /* add with different channels */
        {"[input]\nmode = img-img\nshape = 9,9\n[conv]\nname = a\nfilters = 2\nsize = 3,3\n"
         "[add]\ninput = a, input\n[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n", "equal channels", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ekn_spec s;
        ekn_err err = {0};
        int rc = ekn_spec_parse(&s, bad[i].text, "g.spec", &err);
        if (!bad[i].parse_fails) {
            assert_int_equal(rc, 0);
            ekn_calc c;
            rc = ekn_calc_run(&s, NULL, &c, &err);
            ekn_spec_free(&s);
        }
        fprintf(stderr, "case %zu: %s\n", i, err.msg);
        assert_int_equal(rc, -1);
        assert_int_equal(err.code, EKN_EXIT_SPEC);
        assert_non_null(strstr(err.msg, "g.spec:"));
        assert_non_null(strstr(err.msg, bad[i].phrase));
    }
}

TU_MAIN(cmocka_unit_test(test_2d),           cmocka_unit_test(test_2d_misfit),
        cmocka_unit_test(test_3d),           cmocka_unit_test(test_fmnist),
        cmocka_unit_test(test_vect),         cmocka_unit_test(test_pool_remainder),
        cmocka_unit_test(test_handmade),     cmocka_unit_test(test_unet_paper),
        cmocka_unit_test(test_unet_aniso),   cmocka_unit_test(test_graph_errors))
