/* test_train_stream: how the trainer takes a streamed record group.  A
 * group of ekn-batch's (batch= metadata) of the net's layout is trained on
 * where the stream reader put it: the step's examples are the group itself
 * and, on a host table, the net reads the group's own array (no copy at
 * all after the read; before, every example was copied into a second
 * batch buffer); on a device table (staged) one upload of it.  A shorter
 * one is a short step, a longer one is refused; img-img patches of the
 * net's input are not cut again.  Groups without batch= are still cut into
 * batches of --batch (one copy each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "group.h"
#include "ops.h"
#include "testutil.h"
#include "train.h"
#include "train_internal.h"

static const char MLP[] = "[input]\nmode = vect-scalar\nshape = 10\n\n[dense]\nunits = 8\nact = relu\n\n"
                          "[dense]\nunits = 2\nact = softmax\n";
/* input 15x15, output 5x5 at offset 3, stride 2 */
static const char SEG[] = "[input]\nmode = img-img\nchannels = 1\nshape = 15,15\n\n[conv]\nfilters = 4\nsize = 2,2\n"
                          "act = relu\n\n[pool]\nsize = 2,2\n\n[conv]\nfilters = 4\nsize = 3,3\nact = tanh\n\n"
                          "[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n";

static void temp_path(char *path, const char *text)
{
    strcpy(path, "/tmp/test_train_stream.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    if (text) assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* One group: n vectors of 10 features and their labels, with batch=<b> unless b < 0. */
static void put_vectors(ekn_writer *w, uint64_t n, long b, uint64_t *seed)
{
    ekn_err err = {0};
    ekn_tensor x = EKN_TENSOR_INIT, y = EKN_TENSOR_INIT;
    uint64_t xs[2] = {n, 10}, ys[1] = {n};
    assert_int_equal(ekn_tensor_reshape(&x, EKN_F32, 2, xs, &err), 0);
    assert_int_equal(ekn_tensor_reshape(&y, EKN_I32, 1, ys, &err), 0);
    tu_fill(seed, x.data, n * 10, -1, 1);
    for (uint64_t i = 0; i < n; i++) ((int32_t *)y.data)[i] = ((float *)x.data)[i * 10] > 0;
    ekn_tensor_set_name(&x, EKN_REC_VECTOR);
    ekn_tensor_set_name(&y, EKN_REC_LABEL);
    char meta[64];
    snprintf(meta, sizeof meta, "batch=%ld\nepoch=0\n", b);
    if (b >= 0) assert_int_equal(ekn_tensor_meta_assign(&x, meta, strlen(meta), &err), 0);
    assert_int_equal(ekn_tensor_meta_assign(&y, "classes=2\n", 10, &err), 0);
    assert_int_equal(ekn_stream_write(w, &x, &err), 0);
    assert_int_equal(ekn_stream_write(w, &y, &err), 0);
    ekn_tensor_free(&x);
    ekn_tensor_free(&y);
}

static void init(ekn_trainer *tr, const char *spec, const char *data, long batch, const ekn_ops *ops)
{
    ekn_train_config c = {0};
    c.spec_path = spec;
    c.train_path = data;
    /* never saved; init checks it can be (a device such as /dev/null is refused) */
    c.save_path = "/tmp/test_train_stream.ckpt.h5";
    c.optimizer = "sgd";
    c.input_mode = EKN_INPUT_STREAM;
    c.batch = batch;
    c.lr = 0.01;
    c.lr_decay = 1;
    c.seed = 1;
    c.log_every = 1;
    c.ops = ops;
    ekn_err err = {0};
    int rc = ekn_trainer_init(tr, &c, &err);
    if (rc) fprintf(stderr, "init: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The step's examples: 1 and their count, checked against where they are. */
static void step(ekn_trainer *tr, int want_n, int as_is)
{
    ekn_err err = {0};
    int got = ekn_train_next_batch(tr, &err);
    if (got < 0) fprintf(stderr, "next_batch: %s\n", err.msg);
    assert_int_equal(got, 1);
    assert_int_equal(tr->cur_n, want_n);
    ekn_train_upload_batch(tr);
    fprintf(stderr, "step of %d: %s, mirror %s\n", want_n, tr->cur == &tr->train ? "the streamed group itself" : "the batch copy",
            tr->dev.x == tr->cur->x ? "= its array" : "= an upload of it");
    if (as_is) assert_ptr_equal(tr->cur, &tr->train);
    else assert_ptr_equal(tr->cur, &tr->batch);
    if (tr->net.ops->host) {
        assert_ptr_equal(tr->dev.x, tr->cur->x); /* the net reads the examples where they are */
        assert_ptr_equal(tr->dev.y, tr->cur->y);
    } else {
        assert_ptr_equal(tr->dev.x, tr->dev.buf_x);
        size_t m = (size_t)want_n * tr->cur->ex_size;
        float *h = tu_alloc(m);
        tr->net.ops->download(h, tr->dev.x, m * sizeof *h);
        assert_memory_equal(h, tr->cur->x, m * sizeof *h);
        free(h);
    }
}

static void run_vectors(const ekn_ops *ops)
{
    uint64_t seed = tu_seed_for("vectors");
    char spec[64], data[64];
    temp_path(spec, MLP);
    temp_path(data, NULL);
    ekn_writer w;
    ekn_err err = {0};
    assert_int_equal(ekn_writer_open(&w, data, 1, &err), 0);
    put_vectors(&w, 16, 0, &seed);
    put_vectors(&w, 16, 1, &seed);
    put_vectors(&w, 8, 2, &seed);  /* an epoch's short last batch */
    put_vectors(&w, 20, -1, &seed); /* not ekn-batch's: cut into batches of 16 */
    put_vectors(&w, 16, 3, &seed);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    ekn_trainer tr;
    init(&tr, spec, data, 16, ops);
    step(&tr, 16, 1);
    step(&tr, 16, 1);
    step(&tr, 8, 1);
    step(&tr, 16, 0);
    step(&tr, 4, 0); /* the rest of the cut group, short before the next batch */
    step(&tr, 16, 1);
    assert_int_equal(ekn_train_next_batch(&tr, &err), 0);
    ekn_trainer_free(&tr);
    unlink(spec);
    unlink(data);
}

static void test_vectors_cpu(void **state)
{
    (void)state;
    run_vectors(ekn_ops_cpu());
}

static void test_vectors_staged(void **state)
{
    (void)state;
    run_vectors(ekn_ops_staged());
}

static void test_larger_refused(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("larger");
    char spec[64], data[64];
    temp_path(spec, MLP);
    temp_path(data, NULL);
    ekn_writer w;
    ekn_err err = {0};
    assert_int_equal(ekn_writer_open(&w, data, 1, &err), 0);
    put_vectors(&w, 32, 0, &seed);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    ekn_trainer tr;
    init(&tr, spec, data, 16, ekn_ops_cpu());
    assert_int_equal(ekn_train_next_batch(&tr, &err), -1);
    fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "a batch of 32 examples (batch= metadata), more than --batch 16; give ekn-train --batch 32"));
    ekn_trainer_free(&tr);
    unlink(spec);
    unlink(data);
}

/* img-img: patches of the net's input with labels on its output lattice
 * are the step as they are; a larger patch (ekn-batch --margin) gets a
 * patch cut at random into the batch. */
static void put_patches(ekn_writer *w, uint64_t n, int size, int lab, long b, uint64_t *seed)
{
    ekn_err err = {0};
    ekn_tensor x = EKN_TENSOR_INIT, y = EKN_TENSOR_INIT;
    uint64_t xs[4] = {n, 1, (uint64_t)size, (uint64_t)size}, ys[3] = {n, (uint64_t)lab, (uint64_t)lab};
    assert_int_equal(ekn_tensor_reshape(&x, EKN_F32, 4, xs, &err), 0);
    assert_int_equal(ekn_tensor_reshape(&y, EKN_I32, 3, ys, &err), 0);
    tu_fill(seed, x.data, ekn_tensor_numel(&x), -1, 1);
    for (size_t i = 0; i < ekn_tensor_numel(&y); i++) ((int32_t *)y.data)[i] = (int32_t)(i % 2);
    ekn_tensor_set_name(&x, EKN_REC_IMAGE);
    ekn_tensor_set_name(&y, EKN_REC_LABEL);
    char meta[64];
    snprintf(meta, sizeof meta, "batch=%ld\nepoch=0\n", b);
    assert_int_equal(ekn_tensor_meta_assign(&x, meta, strlen(meta), &err), 0);
    const char *lm = lab == size ? "classes=2\n" : "classes=2\noffset=3,3\nstride=2,2\n";
    assert_int_equal(ekn_tensor_meta_assign(&y, lm, strlen(lm), &err), 0);
    assert_int_equal(ekn_stream_write(w, &x, &err), 0);
    assert_int_equal(ekn_stream_write(w, &y, &err), 0);
    ekn_tensor_free(&x);
    ekn_tensor_free(&y);
}

static void test_patches(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("patches");
    char spec[64], data[64];
    temp_path(spec, SEG);
    ekn_writer w;
    ekn_err err = {0};
    for (int margin = 0; margin < 2; margin++) {
        temp_path(data, NULL);
        assert_int_equal(ekn_writer_open(&w, data, 1, &err), 0);
        if (!margin) {
            put_patches(&w, 8, 15, 5, 0, &seed);
            put_patches(&w, 5, 15, 5, 1, &seed);
        } else {
            put_patches(&w, 8, 19, 19, 0, &seed); /* full-resolution labels of a patch with a margin of 2 */
        }
        assert_int_equal(ekn_writer_close(&w, &err), 0);
        ekn_trainer tr;
        init(&tr, spec, data, 8, ekn_ops_cpu());
        if (!margin) {
            step(&tr, 8, 1);
            step(&tr, 5, 1);
        } else {
            step(&tr, 8, 0);
            /* every patch is the net's input, its labels the output lattice of that patch */
            const ekn_dataset *b = &tr.batch, *d = &tr.train;
            size_t bad = 0;
            for (int e = 0; e < 8; e++) {
                const float *px = b->x + (size_t)e * b->ex_size, *vx = d->x + (size_t)e * d->ex_size;
                int found = 0;
                for (int oy = 0; oy <= 4 && !found; oy++)
                    for (int ox = 0; ox <= 4 && !found; ox++) {
                        int same = 1;
                        for (int yy = 0; yy < 15 && same; yy++)
                            same = !memcmp(px + yy * 15, vx + (size_t)(oy + yy) * 19 + ox, 15 * sizeof *px);
                        for (int k = 0; same && k < 25; k++)
                            same = b->y[(size_t)e * 25 + k] ==
                                   d->y[(size_t)e * 361 + (size_t)(oy + 3 + 2 * (k / 5)) * 19 + ox + 3 + 2 * (k % 5)];
                        found = same;
                    }
                bad += !found;
            }
            assert_int_equal(bad, 0);
        }
        assert_int_equal(ekn_train_next_batch(&tr, &err), 0);
        ekn_trainer_free(&tr);
        unlink(data);
    }
    unlink(spec);
}

TU_MAIN(cmocka_unit_test(test_vectors_cpu),
        cmocka_unit_test(test_vectors_staged),
        cmocka_unit_test(test_larger_refused),
        cmocka_unit_test(test_patches))
