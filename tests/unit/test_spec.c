/* test_spec: the spec parser, its defaults and every class of error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "spec.h"

static const char *fmnist =
    "# Fashion-MNIST CNN\n"
    "[input]\n"
    "mode = img-scalar        # img-img | img-scalar | vect-scalar\n"
    "channels = 1\n"
    "shape = 28,28\n"
    "noise = 0.1\n"
    "\n"
    "[conv]\n"
    "filters = 32\n"
    "size = 5,5\n"
    "act = relu\n"
    "dropout = 0\n"
    "decay = 1\n"
    "[pool]\n"
    "size = 2,2\n"
    "[conv]\n"
    "name = features\n"
    "size=5, 5\n"
    "filters=64\n"
    "act = leaky\n"
    "alpha = 0.2\n"
    "init = glorot\n"
    "[pool]\n"
    "input = features\n"
    "size = 2,2\n"
    "\t[dense]   \n"
    "units = 256\n"
    "act = tanh\n"
    "dropout = 0.5\n"
    "decay = 0\n"
    "[dense]\n"
    "units = 10\n"
    "act = softmax\n";

static void test_parse_ok(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_err err = {0};
    int rc = ekn_spec_parse(&s, fmnist, "f.spec", &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s.mode, EKN_MODE_IMG_SCALAR);
    assert_int_equal(s.channels, 1);
    assert_int_equal(s.ndim, 2);
    assert_int_equal(s.has_shape, 1);
    assert_int_equal(s.shape[0], 1);
    assert_int_equal(s.shape[1], 28);
    assert_int_equal(s.shape[2], 28);
    assert_true(s.noise == 0.1f);
    assert_int_equal(s.nlayers, 6);
    assert_string_equal(s.file, "f.spec");
    assert_string_equal(s.text, fmnist);
    assert_int_equal(s.input_line, 2);

    const ekn_spec_layer *L = s.layers;
    assert_int_equal(L[0].kind, EKN_LAYER_CONV);
    assert_string_equal(L[0].name, "conv1");
    assert_int_equal(L[0].line, 8);
    assert_int_equal(L[0].units, 32);
    assert_int_equal(L[0].size[0], 1);
    assert_int_equal(L[0].size[1], 5);
    assert_int_equal(L[0].size[2], 5);
    assert_int_equal(L[0].act, EKN_ACT_RELU);
    assert_int_equal(L[0].init, EKN_INIT_HE);
    assert_true(L[0].decay_mult == 1.0f);
    assert_true(L[0].dropout == 0.0f);

    assert_int_equal(L[1].kind, EKN_LAYER_POOL);
    assert_string_equal(L[1].name, "pool2");
    assert_int_equal(L[1].units, 0);
    assert_int_equal(L[1].size[2], 2);
    assert_int_equal(L[1].mfp, 0);

    assert_string_equal(L[2].name, "features");
    assert_int_equal(L[2].act, EKN_ACT_LEAKY);
    assert_true(L[2].alpha == 0.2f);
    assert_int_equal(L[2].init, EKN_INIT_GLOROT);
    assert_int_equal(L[2].units, 64);

    assert_string_equal(L[3].name, "pool4");
    assert_int_equal(L[4].kind, EKN_LAYER_DENSE);
    assert_string_equal(L[4].name, "dense5");
    assert_int_equal(L[4].line, 26);
    assert_int_equal(L[4].act, EKN_ACT_TANH);
    assert_int_equal(L[4].init, EKN_INIT_GLOROT); /* default for tanh */
    assert_true(L[4].dropout == 0.5f);
    assert_true(L[4].decay_mult == 0.0f);
    assert_int_equal(L[5].act, EKN_ACT_SOFTMAX);
    assert_string_equal(L[5].name, "dense6");
    assert_int_equal(ekn_spec_classes(&s), 10);
    assert_int_equal(ekn_spec_outputs(&s), 10);
    assert_string_equal(ekn_spec_act_name(L[5].act), "softmax");
    assert_string_equal(ekn_spec_act_name(L[4].act), "tanh");
    assert_string_equal(ekn_mode_name(s.mode), "img-scalar");
    assert_string_equal(ekn_layer_kind_name(L[1].kind), "pool");
    assert_int_equal(ekn_spec_has_mfp(&s), 0);
    ekn_spec_free(&s);
    assert_null(s.text);
    ekn_spec_free(&s); /* twice is fine */
}

static void test_defaults_and_variants(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_err err = {0};
    /* img-img without shape: ndim from the first layer; CRLF line ends */
    const char *t = "[input]\r\nmode = img-img\r\n[conv]\r\nfilters = 2\r\nsize = 1,3,3\r\n"
                    "act = linear\r\n";
    assert_int_equal(ekn_spec_parse(&s, t, "a.spec", &err), 0);
    assert_int_equal(s.ndim, 3);
    assert_int_equal(s.has_shape, 0);
    assert_int_equal(s.shape[2], 0);
    assert_int_equal(s.channels, 1);
    assert_int_equal(ekn_spec_classes(&s), 0);
    assert_int_equal(s.layers[0].init, EKN_INIT_GLOROT);
    ekn_spec_free(&s);

    /* vect-scalar without shape (the trainer takes it from the data) */
    t = "[input]\nmode = vect-scalar\n[dense]\nunits = 16\nact = abs\n[dense]\nunits = 3\n"
        "act = softmax\n";
    assert_int_equal(ekn_spec_parse(&s, t, "v.spec", &err), 0);
    assert_int_equal(s.ndim, 1);
    assert_int_equal(s.has_shape, 0);
    assert_int_equal(s.layers[0].init, EKN_INIT_HE);
    assert_int_equal(s.layers[0].act, EKN_ACT_ABS);
    ekn_spec_free(&s);

    /* vect-scalar with features; 'input' naming [input] on the first layer */
    t = "[input]\nmode = vect-scalar\nshape = 14\n[dense]\ninput = input\nunits = 1\n"
        "act = linear\n";
    assert_int_equal(ekn_spec_parse(&s, t, "v.spec", &err), 0);
    assert_int_equal(s.shape[2], 14);
    assert_int_equal(s.shape[1], 1);
    ekn_spec_free(&s);

    /* mfp flag */
    t = "[input]\nmode = img-img\nshape = 20,20\n[conv]\nfilters = 4\nsize = 2,2\n[pool]\n"
        "size = 2,2\nmfp = 1\n[conv]\nfilters = 2\nsize = 2,2\nact = softmax\n";
    assert_int_equal(ekn_spec_parse(&s, t, "m.spec", &err), 0);
    assert_int_equal(s.layers[1].mfp, 1);
    assert_int_equal(ekn_spec_has_mfp(&s), 1);
    ekn_spec_free(&s);

    ekn_spec z;
    memset(&z, 0, sizeof z);
    ekn_spec_free(&z);
    ekn_spec_free(NULL);
}

/* Each bad spec must fail with code 3 and a message holding FILE:LINE and a
 * distinguishing phrase. */
typedef struct bad_case {
    const char *what, *text, *where, *phrase;
} bad_case;

#define IN2 "[input]\nmode = img-scalar\nshape = 28,28\n" /* lines 1-3 */
#define LAST "[dense]\nunits = 10\nact = softmax\n"

static const bad_case bad[] = {
    {"unknown section", IN2 "[convolution]\nfilters = 3\n", "b.spec:4:", "unknown section [convolution]"},
    {"unknown key", IN2 "[conv]\nfilters = 3\nsize = 3,3\nstrides = 2\n" LAST, "b.spec:7:",
     "unknown key 'strides' in [conv]"},
    {"key of another section", IN2 "[pool]\nsize = 2,2\nfilters = 3\n" LAST, "b.spec:6:",
     "unknown key 'filters' in [pool]"},
    {"bad number", IN2 "[conv]\nfilters = 3x\nsize = 3,3\n" LAST, "b.spec:5:", "'3x' is not an integer"},
    {"bad float", IN2 "[dense]\nunits = 10\ndropout = half\n" LAST, "b.spec:6:", "not a number"},
    {"zero filters", IN2 "[conv]\nfilters = 0\nsize = 3,3\n" LAST, "b.spec:5:", "must be in 1.."},
    {"bad list", IN2 "[conv]\nfilters = 2\nsize = 3,,3\n" LAST, "b.spec:6:", "empty item"},
    {"dropout 1", IN2 "[dense]\nunits = 10\ndropout = 1\n" LAST, "b.spec:6:", "[0, 1)"},
    {"duplicate key", IN2 "[conv]\nfilters = 3\nsize = 3,3\nfilters = 4\n" LAST, "b.spec:7:",
     "duplicate key 'filters' (first at line 5)"},
    {"missing key", IN2 "[conv]\nsize = 3,3\n" LAST, "b.spec:4:", "missing required key 'filters'"},
    {"missing mode", "[input]\nshape = 28,28\n" LAST, "b.spec:1:", "missing required key 'mode'"},
    {"bad mode", "[input]\nmode = img-vect\n" LAST, "b.spec:2:", "unknown mode 'img-vect'"},
    {"img-scalar without shape", "[input]\nmode = img-scalar\n" LAST, "b.spec:1:",
     "missing required key 'shape'"},
    {"softmax not last", IN2 "[dense]\nunits = 10\nact = softmax\n[dense]\nunits = 10\nact = linear\n",
     "b.spec:4:", "softmax is only allowed on the last layer"},
    {"last not linear", IN2 "[dense]\nunits = 10\n", "b.spec:4:", "act = softmax (classification)"},
    {"last not dense", IN2 "[conv]\nfilters = 2\nsize = 3,3\nact = linear\n", "b.spec:4:",
     "must be [dense] with mode = img-scalar"},
    /* the last layer's loss (issue 14 section 5) */
    {"unknown loss", IN2 "[dense]\nunits = 10\nact = softmax\nloss = hinge\n", "b.spec:7:", "unknown loss 'hinge'"},
    {"loss not last", IN2 "[dense]\nunits = 10\nloss = focal\n" LAST, "b.spec:6:",
     "belong to the last layer ('dense2')"},
    {"bce on softmax", IN2 "[dense]\nunits = 10\nact = softmax\nloss = bce\n", "b.spec:7:",
     "loss = bce does not go with act = softmax"},
    {"focal on sigmoid", IN2 "[dense]\nunits = 3\nact = sigmoid\nloss = focal\n", "b.spec:7:",
     "loss = focal does not go with act = sigmoid"},
    {"dice on linear", IN2 "[dense]\nunits = 3\nact = linear\nloss = dice\n", "b.spec:7:",
     "loss = dice does not go with act = linear"},
    {"gamma without focal", IN2 "[dense]\nunits = 10\nact = softmax\ngamma = 2\n", "b.spec:7:",
     "'gamma' is only used with loss = focal"},
    {"pos_weight without bce", IN2 "[dense]\nunits = 3\nact = sigmoid\nloss = dice\npos_weight = 2\n", "b.spec:7:",
     "'pos_weight' is only used with loss = bce"},
    {"pos_weight 0", IN2 "[dense]\nunits = 3\nact = sigmoid\npos_weight = 0\n", "b.spec:7:",
     "'pos_weight' must be > 0"},
    {"negative gamma", IN2 "[dense]\nunits = 3\nact = softmax\nloss = focal\ngamma = -1\n", "b.spec:8:",
     "'gamma' must be in [0, 100]"},
    {"softmax of one", IN2 "[dense]\nunits = 1\nact = softmax\n", "b.spec:4:", "at least 2 classes"},
    {"dropout last", IN2 "[dense]\nunits = 2\nact = softmax\ndropout = 0.1\n", "b.spec:4:",
     "cannot have dropout"},
    {"conv in vect-scalar", "[input]\nmode = vect-scalar\nshape = 10\n[conv]\nfilters = 2\nsize = 3\n" LAST,
     "b.spec:4:", "[conv] is not allowed with mode = vect-scalar"},
    {"dense in img-img", "[input]\nmode = img-img\n[conv]\nfilters = 2\nsize = 3,3\n" LAST, "b.spec:6:",
     "[dense] is not allowed with mode = img-img"},
    {"conv after dense", IN2 "[dense]\nunits = 10\n[conv]\nfilters = 2\nsize = 3,3\n" LAST, "b.spec:6:",
     "dense flattens its input"},
    {"filter dims count", IN2 "[conv]\nfilters = 2\nsize = 3,3,3\n" LAST, "b.spec:6:",
     "'size' has 3 values but the input has 2 spatial dimensions"},
    {"pool dims count", "[input]\nmode = img-img\n[conv]\nfilters = 2\nsize = 1,3,3\n[pool]\nsize = 2,2\n",
     "b.spec:7:", "'size' has 2 values but the input has 3"},
    {"vect shape count", "[input]\nmode = vect-scalar\nshape = 10,10\n" LAST, "b.spec:3:", "one number"},
    {"too many dims", "[input]\nmode = img-img\nshape = 1,2,3,4\n", "b.spec:3:", "more than 3 values"},
    {"even fov", "[input]\nmode = img-img\n[conv]\nfilters = 2\nsize = 4,5\n[pool]\nsize = 2,2\n"
                 "[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n",
     "b.spec:8:", "field of view is 6 in X"},
    {"input not previous", IN2 "[conv]\nfilters = 2\nsize = 3,3\n[conv]\nfilters = 2\nsize = 3,3\n"
                           "[dense]\nunits = 10\nact = softmax\ninput = conv1\n",
     "b.spec:7:", "layer 'conv2': its output is not used"},
    {"input unknown", IN2 "[conv]\nfilters = 2\nsize = 3,3\ninput = nothing\n" LAST, "b.spec:7:",
     "no layer 'nothing' before this one"},
    {"duplicate name", IN2 "[conv]\nname = a\nfilters = 2\nsize = 3,3\n[dense]\nname = a\nunits = 2\n"
                       "act = softmax\n",
     "b.spec:9:", "already used by the layer at line 4"},
    {"bad name", IN2 "[conv]\nname = a b\nfilters = 2\nsize = 3,3\n" LAST, "b.spec:5:", "not a valid name"},
    {"alpha without leaky", IN2 "[dense]\nunits = 3\nalpha = 0.1\n" LAST, "b.spec:6:",
     "only used with act = leaky"},
    {"unknown act", IN2 "[dense]\nunits = 3\nact = gelu\n" LAST, "b.spec:6:", "unknown activation 'gelu'"},
    {"unknown init", IN2 "[dense]\nunits = 3\ninit = xavier\n" LAST, "b.spec:6:", "'xavier'"},
    {"mfp img-scalar", IN2 "[pool]\nsize = 2,2\nmfp = 1\n" LAST, "b.spec:6:", "needs mode = img-img"},
    {"mfp value", "[input]\nmode = img-img\n[pool]\nsize = 2,2\nmfp = yes\n", "b.spec:5:", "0 or 1"},
    {"key before section", "mode = img-img\n[input]\n", "b.spec:1:", "before the first section"},
    {"layer before input", "# c\n[conv]\nfilters = 2\n", "b.spec:2:", "[conv] before [input]"},
    {"duplicate input", IN2 "[input]\nmode = img-img\n", "b.spec:4:", "duplicate section [input]"},
    {"no input", "# nothing\n\n", "b.spec:2:", "no [input] section"},
    {"empty", "", "b.spec:1:", "no [input] section"},
    {"no layers", IN2, "b.spec:3:", "no layers"},
    {"no equals", IN2 "[conv]\nfilters 3\n", "b.spec:5:", "expected 'key = value'"},
    {"empty value", IN2 "[conv]\nfilters =\n", "b.spec:5:", "'filters' has no value"},
    {"bad header", IN2 "[conv\n", "b.spec:4:", "malformed section header"},
    {"vect channels", "[input]\nmode = vect-scalar\nchannels = 3\n" LAST, "b.spec:3:", "must be 1"},
    {"negative noise", "[input]\nmode = vect-scalar\nnoise = -1\n" LAST, "b.spec:3:", "'noise' must be in"},
};

static void test_errors(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ekn_spec s;
        ekn_err err = {0};
        int rc = ekn_spec_parse(&s, bad[i].text, "b.spec", &err);
        int ok = rc == -1 && err.code == EKN_EXIT_SPEC && strstr(err.msg, bad[i].where) &&
                 strstr(err.msg, bad[i].phrase) && s.text == NULL && s.nlayers == 0 &&
                 !strchr(err.msg, '\n');
        if (!ok) {
            fprintf(stderr, "case '%s': rc=%d code=%d msg='%s' (want '%s' ... '%s')\n", bad[i].what,
                    rc, err.code, err.msg, bad[i].where, bad[i].phrase);
            failed++;
        }
        if (rc == 0) ekn_spec_free(&s);
    }
    assert_int_equal(failed, 0);
}

/* What used to be refused as "not supported yet" is a graph now: a layer
 * reads any layer above it, and merges take several. */
/* the loss keys' defaults and what they resolve to */
static void test_loss_keys(void **state)
{
    (void)state;
    static const struct {
        const char *last;
        int loss;
        float gamma, pos_weight;
        int classes, sigmoid;
    } ok[] = {
        {"units = 10\nact = softmax\n", EKN_LOSS_NLL, 0, 0, 10, 0},
        {"units = 10\nact = softmax\nloss = nll\n", EKN_LOSS_NLL, 0, 0, 10, 0},
        {"units = 10\nact = softmax\nloss = focal\n", EKN_LOSS_FOCAL, 2, 0, 10, 0},
        {"units = 10\nact = softmax\nloss = focal\ngamma = 0\n", EKN_LOSS_FOCAL, 0, 0, 10, 0},
        {"units = 10\nact = softmax\nloss = dice\n", EKN_LOSS_DICE, 0, 0, 10, 0},
        {"units = 3\nact = sigmoid\n", EKN_LOSS_BCE, 0, 1, 0, 1},
        {"units = 1\nact = sigmoid\npos_weight = 2.5\n", EKN_LOSS_BCE, 0, 2.5f, 0, 1},
        {"units = 3\nact = sigmoid\nloss = dice\n", EKN_LOSS_DICE, 0, 0, 0, 1},
        {"units = 3\nact = linear\n", EKN_LOSS_MSE, 0, 0, 0, 0},
        {"units = 3\nact = linear\nloss = mse\n", EKN_LOSS_MSE, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char text[256];
        snprintf(text, sizeof text, IN2 "[dense]\n%s", ok[i].last);
        ekn_spec sp = {0};
        ekn_err err = {0};
        int rc = ekn_spec_parse(&sp, text, "l.spec", &err);
        if (rc) fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(sp.loss, ok[i].loss);
        assert_true(sp.gamma == ok[i].gamma && sp.pos_weight == ok[i].pos_weight);
        assert_int_equal(ekn_spec_classes(&sp), ok[i].classes);
        assert_int_equal(ekn_spec_sigmoid(&sp), ok[i].sigmoid);
        ekn_spec_free(&sp);
    }
    assert_string_equal(ekn_spec_loss_name(EKN_LOSS_FOCAL), "focal");
}

static void test_graph(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_err err = {0};
    const char *t = IN2 "[conv]\nfilters = 2\nsize = 3,3\npad = same\n[conv]\nfilters = 2\nsize = 3,3\n"
                        "pad = same\n[add]\ninput = conv1, conv2\n[dense]\nunits = 10\nact = softmax\n";
    int rc = ekn_spec_parse(&s, t, "g.spec", &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(s.graph);
    assert_int_equal(s.layers[2].kind, EKN_LAYER_ADD);
    assert_int_equal(s.layers[2].ninputs, 2);
    assert_int_equal(s.layers[2].inputs[0], 0);
    assert_int_equal(s.layers[2].inputs[1], 1);
    assert_int_equal(s.layers[0].pad, EKN_PAD_SAME);
    ekn_spec_free(&s);
}

static void test_long_line(void **state)
{
    (void)state;
    size_t n = 5000;
    char *t = malloc(n + 64);
    assert_non_null(t);
    strcpy(t, "[input]\nmode = img-img\n# ");
    size_t used = strlen(t);
    memset(t + used, 'x', n);
    strcpy(t + used + n, "\n");
    ekn_spec s;
    ekn_err err = {0};
    assert_int_equal(ekn_spec_parse(&s, t, "l.spec", &err), -1);
    assert_non_null(strstr(err.msg, "l.spec:3: line too long"));
    free(t);
}

static void test_load(void **state)
{
    (void)state;
    ekn_spec s;
    ekn_err err = {0};
    assert_int_equal(ekn_spec_load(&s, "/nonexistent/dir/x.spec", &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.spec"));

    char path[] = "/tmp/ekn-test-spec-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(fmnist, f);
    fclose(f);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_spec_load(&s, path, &err), 0);
    assert_string_equal(s.file, path);
    assert_int_equal(s.nlayers, 6);
    ekn_spec_free(&s);

    /* a binary file */
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("[input]\0\0\n", 1, 10, f);
    fclose(f);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_spec_load(&s, path, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "NUL"));

    /* a parse error through load names the path */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[input]\nmode = img-img\n[bad]\n", f);
    fclose(f);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_spec_load(&s, path, &err), -1);
    char want[64];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(err.msg, want));
    unlink(path);
}

TU_MAIN(cmocka_unit_test(test_parse_ok),      cmocka_unit_test(test_defaults_and_variants),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_graph),
        cmocka_unit_test(test_long_line),     cmocka_unit_test(test_load), cmocka_unit_test(test_loss_keys))
