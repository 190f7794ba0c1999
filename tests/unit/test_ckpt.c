/* Checkpoint tests (lib/nn/ckpt.c and the net's side, ekn_net_tensors):
 *   (a) ekn_net_tensors names and shapes every parameter slice as stored
 *       (conv (Cout,Cin,[kz,][ky,]kx) by the spec's ndim, dense (Out,In),
 *       biases (Out)), in layer order, tiling theta without gaps; a max
 *       one too small gives -1;
 *   (b) parameters and net-state tensors (state = 1, which no net has yet:
 *       batch normalisation's running statistics will) round-trip
 *       bit-identically through a file, into /params and /buffers;
 *   (c) every way a file can disagree with the net is one error line that
 *       names the file and the tensor: a wrong shape, a missing tensor,
 *       float64 instead of float32, an extra tensor in /params or
 *       /buffers, a state tensor without a state vector;
 *   (d) /format: "ekn-checkpoint 1" and "1.N" open, a major 2, another
 *       string or none do not;
 *   (e) /state and /optimizer round-trip (RNG states with a spare normal,
 *       the data order, NaN control rates), a data order of another
 *       length is refused, and an aborted write leaves the old file and
 *       no temporary file.
 * Random fills are seeded; EKN_TEST_SEED replays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "h5.h"
#include "net.h"
#include "ops.h"
#include "optim.h"
#include "spec.h"
#include "testutil.h"

/* 3D img-scalar: conv (1,3,3), pool, two dense layers */
static const char spec_3d[] = "[input]\nmode = img-scalar\nchannels = 2\nshape = 4,8,8\n"
                              "[conv]\nfilters = 3\nsize = 1,3,3\nact = relu\n"
                              "[pool]\nsize = 1,2,2\n"
                              "[dense]\nunits = 5\nact = tanh\n"
                              "[dense]\nunits = 2\nact = softmax\n";
/* 2D img-img */
static const char spec_2d[] = "[input]\nmode = img-img\nchannels = 1\nshape = 15,15\n"
                              "[conv]\nname = first\nfilters = 6\nsize = 2,2\nact = relu\n"
                              "[pool]\nsize = 2,2\n"
                              "[conv]\nfilters = 2\nsize = 3,3\nact = softmax\n";
/* 1D vect-scalar */
static const char spec_mlp[] = "[input]\nmode = vect-scalar\nshape = 10\n"
                               "[dense]\nunits = 16\nact = relu\n"
                               "[dense]\nunits = 2\nact = linear\n";

typedef struct built {
    ekn_spec spec;
    ekn_net net;
    ekn_net_tensor *t;
    int n;
} built;

static void build(built *b, const char *text)
{
    ekn_err err = {0};
    memset(b, 0, sizeof *b);
    if (ekn_spec_parse(&b->spec, text, "test.spec", &err)) fail_msg("%s", err.msg);
    if (ekn_net_build(&b->net, &b->spec, NULL, 2, ekn_ops_cpu(), &err)) fail_msg("%s", err.msg);
    b->n = ekn_ckpt_net_tensors(&b->net, &b->t, &err);
    assert_true(b->n > 0);
}

static void unbuild(built *b)
{
    free(b->t);
    ekn_net_free(&b->net);
    ekn_spec_free(&b->spec);
}

static char dir[64];

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

/* (a) */
static void check_tensors(const char *text, int want_n, const char *const names[], const int ranks[],
                          const uint64_t dims[][6])
{
    built b;
    build(&b, text);
    assert_int_equal(b.n, want_n);
    size_t next = 0;
    for (int i = 0; i < b.n; i++) {
        const ekn_net_tensor *t = &b.t[i];
        assert_string_equal(t->name, names[i]);
        assert_int_equal(t->rank, ranks[i]);
        uint64_t numel = 1;
        for (int k = 0; k < t->rank; k++) {
            assert_int_equal(t->dims[k], dims[i][k]);
            numel *= t->dims[k];
        }
        assert_int_equal(t->count, numel);
        assert_int_equal(t->offset, next);
        assert_int_equal(t->state, 0);
        next += t->count;
    }
    assert_int_equal(next, b.net.nparams);
    ekn_net_tensor few[64];
    assert_int_equal(ekn_net_tensors(&b.net, few, want_n - 1), -1);
    assert_int_equal(ekn_net_tensors(&b.net, few, want_n), want_n);
    fprintf(stderr, "%s...: %d tensors, %zu floats\n", names[0], b.n, b.net.nparams);
    unbuild(&b);
}

static void test_net_tensors(void **state)
{
    (void)state;
    static const char *const n3[] = {"conv1.w", "conv1.b", "dense3.w", "dense3.b", "dense4.w", "dense4.b"};
    static const int r3[] = {5, 1, 2, 1, 2, 1};
    /* conv 8x8 -> 6x6, pool -> 3x3: 3 channels x 4 x 3 x 3 = 108 dense inputs */
    static const uint64_t d3[][6] = {{3, 2, 1, 3, 3}, {3}, {5, 108}, {5}, {2, 5}, {2}};
    check_tensors(spec_3d, 6, n3, r3, d3);
    static const char *const n2[] = {"first.w", "first.b", "conv3.w", "conv3.b"};
    static const int r2[] = {4, 1, 4, 1};
    static const uint64_t d2[][6] = {{6, 1, 2, 2}, {6}, {2, 6, 3, 3}, {2}};
    check_tensors(spec_2d, 4, n2, r2, d2);
    static const char *const nm[] = {"dense1.w", "dense1.b", "dense2.w", "dense2.b"};
    static const int rm[] = {2, 1, 2, 1};
    static const uint64_t dm[][6] = {{16, 10}, {16}, {2, 16}, {2}};
    check_tensors(spec_mlp, 4, nm, rm, dm);
}

/* The net's tensors plus two state tensors, as a net with batch
 * normalisation will list them. */
static int with_state(const built *b, ekn_net_tensor *t)
{
    memcpy(t, b->t, (size_t)b->n * sizeof *t);
    ekn_net_tensor s = {"bn1.running_mean", 1, {3}, 0, 3, 1};
    t[b->n] = s;
    snprintf(s.name, sizeof s.name, "bn1.running_var");
    s.offset = 3;
    t[b->n + 1] = s;
    return b->n + 2;
}

static void write_file(const char *path, const built *b, const ekn_net_tensor *t, int n, const float *theta,
                       const float *st)
{
    ekn_ckpt c;
    ekn_err err = {0};
    if (ekn_ckpt_create(&c, path, b->spec.text, &err) || ekn_ckpt_write_params(&c, t, n, theta, st, &err) ||
        ekn_ckpt_commit(&c, &err))
        fail_msg("%s", err.msg);
}

/* (b) */
static void test_params_roundtrip(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("params_roundtrip");
    built b;
    build(&b, spec_3d);
    ekn_net_tensor t[80];
    int n = with_state(&b, t);
    size_t np = b.net.nparams;
    float *theta = tu_alloc(np), *back = tu_alloc(np), st[6], st_back[6];
    tu_fill(&seed, theta, np, -1, 1);
    tu_fill(&seed, st, 6, 0, 2);
    char path[128];
    path_of(path, sizeof path, "rt.h5");
    write_file(path, &b, t, n, theta, st);

    ekn_ckpt c;
    ekn_err err = {0};
    ekn_spec spec = {0};
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_spec(&c, &spec, &err), 0);
    assert_string_equal(spec.text, b.spec.text);
    assert_int_equal(ekn_ckpt_read_params(&c, t, n, back, st_back, &err), 0);
    assert_memory_equal(theta, back, np * sizeof *theta);
    assert_memory_equal(st, st_back, sizeof st);
    /* one tensor by name, as ekn-plot filters reads it */
    ekn_tensor w = EKN_TENSOR_INIT;
    assert_int_equal(ekn_ckpt_read_tensor(&c, "conv1.w", &w, &err), 0);
    assert_int_equal(w.rank, 5);
    assert_int_equal(w.shape[3], 3);
    assert_memory_equal(w.data, theta + t[0].offset, t[0].count * sizeof(float));
    assert_int_equal(ekn_ckpt_read_tensor(&c, "nope.w", &w, &err), -1);
    assert_non_null(strstr(err.msg, "no tensor 'nope.w'"));
    ekn_ckpt_close(&c);
    ekn_ckpt_close(&c); /* twice is safe */
    ekn_tensor_free(&w);
    ekn_spec_free(&spec);
    /* the net's own list reads it only with the state tensors dropped... */
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_params(&c, b.t, b.n, back, NULL, &err), -1);
    fprintf(stderr, "extra buffers: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "tensor 'bn1.running_mean' in /buffers is not one of the spec's"));
    /* ...and a list with state tensors needs a state vector */
    assert_int_equal(ekn_ckpt_read_params(&c, t, n, back, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "'bn1.running_mean' is net state"));
    ekn_ckpt_close(&c);
    free(theta);
    free(back);
    unbuild(&b);
}

/* A file with the net's tensors where tensor `bad` is written by `how`. */
enum { AS_SHAPE, AS_MISSING, AS_F64, AS_EXTRA };

static void bad_file(const char *path, const built *b, const float *theta, int bad, int how)
{
    ekn_h5 h;
    ekn_err err = {0};
    assert_int_equal(ekn_h5_create(&h, path, &err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/format", EKN_CKPT_FORMAT, &err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/spec", b->spec.text, &err), 0);
    for (int i = 0; i < b->n; i++) {
        const ekn_net_tensor *t = &b->t[i];
        char name[128];
        snprintf(name, sizeof name, "/params/%s", t->name);
        uint64_t dims[6];
        memcpy(dims, t->dims, sizeof dims);
        if (i == bad && how == AS_MISSING) continue;
        if (i == bad && how == AS_SHAPE) {
            /* the same count in another shape: the old reader took it */
            uint64_t d = dims[0];
            dims[0] = dims[1], dims[1] = d;
        }
        if (i == bad && how == AS_F64) {
            double *v = malloc(t->count * sizeof *v);
            for (size_t k = 0; k < t->count; k++) v[k] = theta[t->offset + k];
            assert_int_equal(ekn_h5_put(&h, name, EKN_F64, t->rank, dims, v, &err), 0);
            free(v);
            continue;
        }
        assert_int_equal(ekn_h5_put(&h, name, EKN_F32, t->rank, dims, theta + t->offset, &err), 0);
    }
    if (how == AS_EXTRA) {
        uint64_t two = 2;
        assert_int_equal(ekn_h5_put(&h, "/params/extra.w", EKN_F32, 1, &two, theta, &err), 0);
    }
    assert_int_equal(ekn_h5_commit(&h, &err), 0);
}

static void expect_error(const char *path, const built *b, const char *want)
{
    ekn_ckpt c;
    ekn_err err = {0};
    float *theta = tu_alloc(b->net.nparams);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    int rc = ekn_ckpt_read_params(&c, b->t, b->n, theta, NULL, &err);
    ekn_ckpt_close(&c);
    free(theta);
    fprintf(stderr, "  %s\n", err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_null(strchr(err.msg, '\n'));
    char full[512];
    snprintf(full, sizeof full, "'%s': %s", path, want);
    assert_string_equal(err.msg, full);
}

/* (c) */
static void test_params_errors(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("params_errors");
    built b;
    build(&b, spec_3d);
    float *theta = tu_alloc(b.net.nparams);
    tu_fill(&seed, theta, b.net.nparams, -1, 1);
    char path[128];
    path_of(path, sizeof path, "bad.h5");
    bad_file(path, &b, theta, 2, AS_SHAPE);
    expect_error(path, &b, "tensor 'dense3.w' has shape [108,5], the spec needs [5,108]");
    bad_file(path, &b, theta, 0, AS_SHAPE);
    expect_error(path, &b, "tensor 'conv1.w' has shape [2,3,1,3,3], the spec needs [3,2,1,3,3]");
    bad_file(path, &b, theta, 5, AS_MISSING);
    expect_error(path, &b, "no tensor 'dense4.b' (the spec needs [2] in /params)");
    bad_file(path, &b, theta, 1, AS_F64);
    expect_error(path, &b, "tensor 'conv1.b' is float64, the spec needs float32");
    bad_file(path, &b, theta, -1, AS_EXTRA);
    expect_error(path, &b, "tensor 'extra.w' in /params is not one of the spec's");
    /* and the control: the same writer without a fault reads back */
    bad_file(path, &b, theta, -1, -1);
    ekn_ckpt c;
    ekn_err err = {0};
    float *back = tu_alloc(b.net.nparams);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_params(&c, b.t, b.n, back, NULL, &err), 0);
    assert_memory_equal(theta, back, b.net.nparams * sizeof *back);
    ekn_ckpt_close(&c);
    free(back);
    free(theta);
    unbuild(&b);
}

static int opens_with_format(const char *fmt, ekn_err *err)
{
    char path[128];
    path_of(path, sizeof path, "fmt.h5");
    ekn_h5 h;
    assert_int_equal(ekn_h5_create(&h, path, err), 0);
    if (fmt) assert_int_equal(ekn_h5_put_string(&h, "/format", fmt, err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/spec", spec_mlp, err), 0);
    assert_int_equal(ekn_h5_commit(&h, err), 0);
    ekn_ckpt c;
    int rc = ekn_ckpt_open(&c, path, err);
    ekn_ckpt_close(&c);
    return rc;
}

/* (d) */
static void test_format(void **state)
{
    (void)state;
    ekn_err err = {0};
    assert_int_equal(opens_with_format("ekn-checkpoint 1", &err), 0);
    assert_int_equal(opens_with_format("ekn-checkpoint 1.7", &err), 0);
    static const char *const bad[] = {NULL, "ekn-checkpoint 2", "ekn-checkpoint 10", "ekn-checkpoint", "ekn-checkpoint 1x",
                                      "ekn-checkpoint 1.", "something else"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        assert_int_equal(opens_with_format(bad[i], &err), -1);
        fprintf(stderr, "  %s: %s\n", bad[i] ? bad[i] : "(none)", err.msg);
        assert_non_null(strstr(err.msg, "fmt.h5"));
    }
}

static int temp_files_left(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* (e) */
static void test_state_optim(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("state_optim");
    built b;
    build(&b, spec_mlp);
    size_t np = b.net.nparams;
    float *theta = tu_alloc(np);
    tu_fill(&seed, theta, np, -1, 1);
    ekn_optim o, o2;
    ekn_err err = {0};
    assert_int_equal(ekn_optim_create(&o, "adam", np, "beta1=0.8", &err), 0);
    tu_fill(&seed, o.state[0], np, -1, 1);
    tu_fill(&seed, o.state[1], np, 0, 1);
    o.scalar[0] = 17;
    ekn_ckpt_state s = {.step = 42, .epoch = 3, .perm_pos = 5, .plateau_count = 2, .lr = 0.1, .momentum = 0.9,
                        .lr_scale = 0.5, .control_lr = NAN, .control_momentum = 0.7, .best_val = INFINITY,
                        .loss_smooth = 0.25, .elapsed = 12.5};
    ekn_rng_seed(&s.rng_data, 9, 2);
    ekn_rng_seed(&s.rng_train, 9, 3);
    (void)ekn_rng_normal(&s.rng_train); /* leaves a spare */
    uint32_t perm[7] = {6, 0, 5, 1, 4, 2, 3}, back[7];
    char path[128];
    path_of(path, sizeof path, "state.h5");
    ekn_ckpt c;
    assert_int_equal(ekn_ckpt_create(&c, path, b.spec.text, &err), 0);
    assert_int_equal(ekn_ckpt_write_params(&c, b.t, b.n, theta, NULL, &err), 0);
    assert_int_equal(ekn_ckpt_write_optim(&c, &o, &err), 0);
    assert_int_equal(ekn_ckpt_write_state(&c, &s, perm, 7, &err), 0);
    assert_int_equal(ekn_ckpt_commit(&c, &err), 0);

    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    ekn_ckpt_state r;
    assert_int_equal(ekn_ckpt_read_state(&c, &r, &err), 0);
    assert_true(r.step == 42 && r.epoch == 3 && r.perm_pos == 5 && r.plateau_count == 2);
    assert_true(r.lr == 0.1 && r.momentum == 0.9 && r.lr_scale == 0.5 && isnan(r.control_lr) &&
                r.control_momentum == 0.7 && isinf(r.best_val) && r.loss_smooth == 0.25 && r.elapsed == 12.5);
    assert_memory_equal(&r.rng_data, &s.rng_data, sizeof r.rng_data);
    assert_memory_equal(&r.rng_train, &s.rng_train, sizeof r.rng_train);
    assert_int_equal(r.rng_train.has_spare, 1);
    assert_int_equal(ekn_ckpt_read_perm(&c, back, 7, &err), 0);
    assert_memory_equal(perm, back, sizeof perm);
    assert_int_equal(ekn_ckpt_read_perm(&c, back, 6, &err), -1);
    fprintf(stderr, "  %s\n", err.msg);
    assert_non_null(strstr(err.msg, "the training data differs"));
    char *name, *params;
    assert_int_equal(ekn_ckpt_read_optim_name(&c, &name, &params, &err), 0);
    assert_string_equal(name, "adam");
    assert_non_null(strstr(params, "beta1=0.80000000000000004"));
    free(name);
    free(params);
    assert_int_equal(ekn_optim_create(&o2, "adam", np, "beta1=0.8", &err), 0);
    assert_int_equal(ekn_ckpt_read_optim(&c, &o2, &err), 0);
    assert_memory_equal(o.state[0], o2.state[0], np * sizeof(float));
    assert_memory_equal(o.state[1], o2.state[1], np * sizeof(float));
    assert_true(o2.scalar[0] == 17);
    ekn_ckpt_close(&c);

    /* an aborted write keeps the old file and leaves no temporary file */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char before[65536], after[65536];
    size_t nb = fread(before, 1, sizeof before, f);
    fclose(f);
    assert_int_equal(ekn_ckpt_create(&c, path, b.spec.text, &err), 0);
    assert_int_equal(temp_files_left(), 1);
    assert_int_equal(ekn_ckpt_write_params(&c, b.t, b.n, theta, NULL, &err), 0);
    ekn_ckpt_abort(&c);
    assert_int_equal(temp_files_left(), 0);
    f = fopen(path, "rb");
    assert_non_null(f);
    size_t na = fread(after, 1, sizeof after, f);
    fclose(f);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);

    /* img-img checkpoints have no data order */
    assert_int_equal(ekn_ckpt_create(&c, path, b.spec.text, &err), 0);
    assert_int_equal(ekn_ckpt_write_state(&c, &s, NULL, 0, &err), 0);
    assert_int_equal(ekn_ckpt_commit(&c, &err), 0);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_perm(&c, back, 7, &err), -1);
    assert_non_null(strstr(err.msg, "no data order saved"));
    ekn_ckpt_close(&c);
    ekn_optim_free(&o);
    ekn_optim_free(&o2);
    free(theta);
    unbuild(&b);
}

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ekn-test-ckpt.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

/* (f) /settings: every setting round-trips (have: all bits); a file
 * without the group reads 0 (an older checkpoint), one with part of it
 * only those bits; a wrong type is an error naming file and dataset. */
static void test_settings(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof path, "settings.h5");
    ekn_err err = {0};
    ekn_ckpt c;
    ekn_ckpt_settings s = {.batch = 16, .steps = 1000, .epochs = 3, .lr_decay_every = 7, .plateau = 2,
                           .val_every = 50, .val_examples = 200, .early_stop = 4, .patch = {1, 24, 32},
                           .lr = 0.0123, .lr_decay = 0.5, .plateau_factor = 0.25, .momentum = 0.7,
                           .weight_decay = 1e-4, .seed = 9000000000000000000ull, .lr_schedule = "0:0.1,100:0.01",
                           .momentum_schedule = "", .class_weights = "1,2.5", .monitor = "val_error"};
    assert_int_equal(ekn_ckpt_create(&c, path, "[input]\n", &err), 0);
    assert_int_equal(ekn_ckpt_write_settings(&c, &s, &err), 0);
    assert_int_equal(ekn_ckpt_commit(&c, &err), 0);
    ekn_ckpt_settings r;
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_settings(&c, &r, &err), 1);
    ekn_ckpt_close(&c);
    assert_true(r.have == (1ul << EKN_NSET) - 1);
    assert_int_equal(r.batch, 16);
    assert_int_equal(r.steps, 1000);
    assert_int_equal(r.epochs, 3);
    assert_int_equal(r.lr_decay_every, 7);
    assert_int_equal(r.plateau, 2);
    assert_int_equal(r.val_every, 50);
    assert_int_equal(r.val_examples, 200);
    assert_int_equal(r.early_stop, 4);
    assert_true(r.patch[0] == 1 && r.patch[1] == 24 && r.patch[2] == 32);
    assert_true(r.lr == 0.0123 && r.lr_decay == 0.5 && r.plateau_factor == 0.25 && r.momentum == 0.7);
    assert_true(r.weight_decay == 1e-4);
    assert_true(r.seed == 9000000000000000000ull);
    assert_string_equal(r.lr_schedule, "0:0.1,100:0.01");
    assert_string_equal(r.momentum_schedule, "");
    assert_string_equal(r.class_weights, "1,2.5");
    assert_string_equal(r.monitor, "val_error");
    for (int k = 0; k < EKN_NSET; k++) assert_non_null(ekn_ckpt_setting_name(k));
    assert_null(ekn_ckpt_setting_name(EKN_NSET));
    ekn_ckpt_settings_free(&r);
    assert_null(r.lr_schedule);
    /* no /settings: 0, nothing set */
    ekn_h5 h;
    assert_int_equal(ekn_h5_create(&h, path, &err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/format", EKN_CKPT_FORMAT, &err), 0);
    assert_int_equal(ekn_h5_commit(&h, &err), 0);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_settings(&c, &r, &err), 0);
    assert_true(r.have == 0 && r.lr_schedule == NULL);
    ekn_ckpt_close(&c);
    /* part of them, and one of the wrong kind */
    assert_int_equal(ekn_h5_create(&h, path, &err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/format", EKN_CKPT_FORMAT, &err), 0);
    assert_int_equal(ekn_h5_put_f64(&h, "/settings/lr", 0.5, &err), 0);
    assert_int_equal(ekn_h5_put_i64(&h, "/settings/batch", 8, &err), 0);
    assert_int_equal(ekn_h5_commit(&h, &err), 0);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_settings(&c, &r, &err), 1);
    assert_true(r.have == (1ul << EKN_SET_LR | 1ul << EKN_SET_BATCH));
    assert_true(r.lr == 0.5 && r.batch == 8);
    ekn_ckpt_settings_free(&r);
    ekn_ckpt_close(&c);
    assert_int_equal(ekn_h5_create(&h, path, &err), 0);
    assert_int_equal(ekn_h5_put_string(&h, "/format", EKN_CKPT_FORMAT, &err), 0);
    assert_int_equal(ekn_h5_put_f64(&h, "/settings/lr_schedule", 0.5, &err), 0);
    assert_int_equal(ekn_h5_commit(&h, &err), 0);
    assert_int_equal(ekn_ckpt_open(&c, path, &err), 0);
    assert_int_equal(ekn_ckpt_read_settings(&c, &r, &err), -1);
    fprintf(stderr, "  a number as a schedule: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "settings.h5"));
    assert_non_null(strstr(err.msg, "/settings/lr_schedule"));
    assert_null(r.lr_schedule);
    ekn_ckpt_close(&c);
}

static int remove_dir(void **state)
{
    (void)state;
    static const char *const names[] = {"rt.h5", "bad.h5", "fmt.h5", "state.h5", "settings.h5"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        path_of(path, sizeof path, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_tensors),
        cmocka_unit_test(test_params_roundtrip),
        cmocka_unit_test(test_params_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_state_optim),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
