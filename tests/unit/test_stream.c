/* test_stream: the record format (lib/stream), tensor metadata, the option
 * engine (lib/opt), the RNG (lib/rng) and the summary statistics (lib/stats). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opt.h"
#include "rng.h"
#include "stats.h"
#include "stream.h"
#include "testutil.h"

static char tmp_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/ekn-test-stream-%ld.ekn", (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(tmp_path);
    return 0;
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* ---- stream: every dtype x ranks 0..8 ------------------------------------- */

static const uint64_t dims[EKN_MAX_RANK] = {3, 1, 2, 1, 2, 1, 1, 3};

static void fill_record(ekn_tensor *t, ekn_dtype dt, int rank, ekn_rng *rng)
{
    ekn_err err = {0};
    assert_int_equal(ekn_tensor_reshape(t, dt, rank, dims, &err), 0);
    unsigned char *p = t->data;
    for (size_t i = 0; i < ekn_tensor_bytes(t); i++) p[i] = (unsigned char)ekn_rng_u64(rng);
    char name[64];
    snprintf(name, sizeof name, "r%d_%s", rank, ekn_dtype_name(dt));
    ekn_tensor_set_name(t, name);
    free(t->meta);
    t->meta = NULL;
    if (rank % 2) {
        assert_int_equal(ekn_tensor_meta_set(t, "source", name, &err), 0);
        assert_int_equal(ekn_tensor_meta_set(t, "spacing", "50,4,4", &err), 0);
    }
}

static void test_all_dtypes_and_ranks(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_writer w;
    ekn_rng rng;
    ekn_tensor t = EKN_TENSOR_INIT, u = EKN_TENSOR_INIT;
    uint64_t seed = tu_seed();
    fprintf(stderr, "seed %llu\n", (unsigned long long)seed);

    unlink(tmp_path);
    assert_int_equal(ekn_writer_open(&w, tmp_path, 0, &err), 0);
    ekn_rng_seed(&rng, seed, 1);
    int n = 0;
    for (int dt = 1; dt < EKN_DT_COUNT; dt++)
        for (int rank = 0; rank <= EKN_MAX_RANK; rank++, n++) {
            fill_record(&t, (ekn_dtype)dt, rank, &rng);
            assert_int_equal(ekn_stream_write(&w, &t, &err), 0);
        }
    /* a record with an empty axis and the raw writer */
    uint64_t empty[3] = {0, 1, 28};
    assert_int_equal(ekn_stream_write_raw(&w, EKN_F32, 3, empty, "image", NULL, NULL, &err), 0);
    n++;
    assert_int_equal(w.record, (uint64_t)n);
    assert_int_equal(access(tmp_path, F_OK), -1); /* not there before the commit */
    uint64_t written = w.offset;
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    assert_int_equal(access(tmp_path, F_OK), 0);

    /* read back: same order, bytes, names and metadata */
    ekn_reader r;
    assert_int_equal(ekn_reader_open(&r, tmp_path, &err), 0);
    ekn_rng_seed(&rng, seed, 1);
    for (int dt = 1; dt < EKN_DT_COUNT; dt++)
        for (int rank = 0; rank <= EKN_MAX_RANK; rank++) {
            fill_record(&t, (ekn_dtype)dt, rank, &rng);
            int rc = ekn_stream_read(&r, &u, &err);
            if (rc != 1) fprintf(stderr, "%s\n", err.msg);
            assert_int_equal(rc, 1);
            assert_int_equal(u.dtype, dt);
            assert_int_equal(u.rank, rank);
            for (int k = 0; k < rank; k++) assert_int_equal(u.shape[k], dims[k]);
            assert_string_equal(u.name, t.name);
            /* no metadata reads back as NULL or "" (a reused tensor keeps its buffer) */
            if (t.meta) assert_string_equal(u.meta, t.meta);
            else assert_true(!u.meta || !*u.meta);
            assert_memory_equal(u.data, t.data, ekn_tensor_bytes(&t));
            assert_true(((uintptr_t)u.data % 64) == 0);
        }
    assert_int_equal(ekn_stream_read(&r, &u, &err), 1);
    assert_string_equal(u.name, "image");
    assert_int_equal(u.rank, 3);
    assert_int_equal(ekn_tensor_numel(&u), 0);
    assert_int_equal(ekn_stream_read(&r, &u, &err), 0); /* clean end */
    assert_int_equal(ekn_stream_read(&r, &u, &err), 0); /* and it stays there */
    assert_int_equal(r.record, (uint64_t)n);
    assert_int_equal(r.offset, written);
    ekn_reader_close(&r);

    /* every header and payload starts at a multiple of 64 */
    size_t len;
    unsigned char *buf = slurp(tmp_path, &len);
    assert_int_equal(len, written);
    size_t off = 0;
    int records = 0;
    while (off < len) {
        assert_int_equal(off % 64, 0);
        assert_memory_equal(buf + off, "\x89" "EKN", 4);
        uint64_t hlen = get_le(buf + off + 8, 4), plen = get_le(buf + off + 16, 8);
        assert_int_equal(hlen % 64, 0);
        assert_int_equal((off + hlen) % 64, 0);
        off += hlen + (plen + 63) / 64 * 64;
        records++;
    }
    assert_int_equal(off, len);
    assert_int_equal(records, n);
    free(buf);
    ekn_tensor_free(&t);
    ekn_tensor_free(&u);
}

static void test_header_layout(void **state)
{
    (void)state;
    const uint64_t shape[3] = {2, 0x0102030405060708ull, 5};
    const char *meta = "axes=N,C,X\n";
    unsigned char buf[256];
    size_t len = ekn_stream_header_size(3, "image", meta);
    assert_int_equal(len, 128); /* 24 + 24 + 2 + 5 + 4 + 11 = 70 -> 128 */
    assert_int_equal(ekn_stream_encode_header(buf, EKN_I16, 3, shape, "image", meta), len);
    assert_memory_equal(buf, "\x89" "EKN", 4);
    assert_int_equal(buf[4], EKN_STREAM_MAJOR);
    assert_int_equal(buf[5], EKN_STREAM_MINOR);
    assert_int_equal(buf[6], 4);
    assert_int_equal(buf[7], 3);
    assert_int_equal(get_le(buf + 8, 4), 128);
    assert_int_equal(get_le(buf + 12, 4), 0);
    assert_int_equal(get_le(buf + 16, 8), 2 * 0x0102030405060708ull * 5 * 2);
    assert_int_equal(buf[32], 0x08); /* little-endian, slowest axis first */
    assert_int_equal(buf[39], 0x01);
    assert_int_equal(get_le(buf + 48, 2), 5);
    assert_memory_equal(buf + 50, "image", 5);
    assert_int_equal(get_le(buf + 55, 4), strlen(meta));
    assert_memory_equal(buf + 59, meta, strlen(meta));
    for (size_t i = 59 + strlen(meta); i < len; i++) assert_int_equal(buf[i], 0);
    /* rank 0, no name, no metadata: one 64-byte block */
    assert_int_equal(ekn_stream_header_size(0, NULL, NULL), 64);
    assert_int_equal(ekn_stream_header_size(0, "", ""), 64);
    /* a 255-byte name is the limit; longer names are cut */
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(ekn_stream_header_size(1, longname, NULL), ekn_stream_header_size(1, longname + 44, NULL));
    /* dtype codes never change */
    static const char *names[] = {"?", "u8", "i8", "u16", "i16", "u32", "i32",
                                  "u64", "i64", "f16", "bf16", "f32", "f64"};
    static const size_t sizes[] = {0, 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8};
    for (int dt = 0; dt <= 12; dt++) {
        assert_string_equal(ekn_dtype_name((ekn_dtype)dt), names[dt]);
        assert_int_equal(ekn_dtype_size((ekn_dtype)dt), sizes[dt]);
        if (dt) assert_int_equal(ekn_dtype_from_name(names[dt]), dt);
    }
    assert_int_equal(ekn_dtype_size((ekn_dtype)13), 0);
    assert_int_equal(ekn_dtype_from_name("float32"), EKN_F32);
    assert_int_equal(ekn_dtype_from_name("f128"), EKN_DT_INVALID);
}

/* ---- metadata ------------------------------------------------------------------ */

static void test_meta(void **state)
{
    (void)state;
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    char buf[64];
    assert_int_equal(ekn_tensor_meta_get(&t, "axes", buf, sizeof buf), 0);
    assert_int_equal(ekn_tensor_meta_set(&t, "axes", "N,C,Y,X", &err), 0);
    assert_int_equal(ekn_tensor_meta_set(&t, "source", "t10k-images-idx3-ubyte.gz", &err), 0);
    assert_int_equal(ekn_tensor_meta_set(&t, "classes", "10", &err), 0);
    assert_string_equal(t.meta, "axes=N,C,Y,X\nsource=t10k-images-idx3-ubyte.gz\nclasses=10\n");
    assert_int_equal(ekn_tensor_meta_get(&t, "source", buf, sizeof buf), 1);
    assert_string_equal(buf, "t10k-images-idx3-ubyte.gz");
    /* replacing keeps the order and the other keys */
    assert_int_equal(ekn_tensor_meta_set(&t, "source", "x.png", &err), 0);
    assert_string_equal(t.meta, "axes=N,C,Y,X\nsource=x.png\nclasses=10\n");
    assert_int_equal(ekn_tensor_meta_set(&t, "classes", "2", &err), 0);
    assert_string_equal(t.meta, "axes=N,C,Y,X\nsource=x.png\nclasses=2\n");
    assert_int_equal(ekn_tensor_meta_set(&t, "axes", "", &err), 0);
    assert_string_equal(t.meta, "axes=\nsource=x.png\nclasses=2\n");
    assert_int_equal(ekn_tensor_meta_get(&t, "axes", buf, sizeof buf), 1);
    assert_string_equal(buf, "");
    /* a key is matched whole, not as a prefix or suffix */
    assert_int_equal(ekn_tensor_meta_get(&t, "class", buf, sizeof buf), 0);
    assert_int_equal(ekn_tensor_meta_get(&t, "ource", buf, sizeof buf), 0);
    /* a small buffer gets a cut, terminated value */
    assert_int_equal(ekn_tensor_meta_get(&t, "source", buf, 3), 1);
    assert_string_equal(buf, "x.");
    /* malformed keys and values are refused and change nothing */
    assert_int_equal(ekn_tensor_meta_set(&t, "a=b", "1", &err), -1);
    assert_int_equal(ekn_tensor_meta_set(&t, "a\nb", "1", &err), -1);
    assert_int_equal(ekn_tensor_meta_set(&t, "", "1", &err), -1);
    assert_int_equal(ekn_tensor_meta_set(&t, "a", "1\n2", &err), -1);
    assert_string_equal(t.meta, "axes=\nsource=x.png\nclasses=2\n");

    /* metadata survives the copy */
    const uint64_t one = 1;
    assert_int_equal(ekn_tensor_reshape(&t, EKN_U8, 1, &one, &err), 0);
    ekn_tensor u = EKN_TENSOR_INIT;
    assert_int_equal(ekn_tensor_copy(&u, &t, &err), 0);
    assert_string_equal(u.meta, t.meta);
    ekn_tensor_free(&u);
    ekn_tensor_free(&t);
}

/* ---- truncation at every byte ------------------------------------------------- */

static void test_truncation(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_writer w;
    const uint64_t s1[4] = {1, 1, 3, 3}, s2[1] = {1};
    const unsigned char img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int32_t lab[1] = {7};
    assert_int_equal(ekn_writer_open(&w, tmp_path, 0, &err), 0);
    assert_int_equal(ekn_stream_write_raw(&w, EKN_U8, 4, s1, "image", "axes=N,C,Y,X\n", img, &err), 0);
    const uint64_t boundary = w.offset;
    assert_int_equal(ekn_stream_write_raw(&w, EKN_I32, 1, s2, "label", NULL, lab, &err), 0);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    size_t len;
    unsigned char *full = slurp(tmp_path, &len);
    assert_int_equal(len % 64, 0);
    char cut[300];
    snprintf(cut, sizeof cut, "%s.cut", tmp_path);
    ekn_tensor t = EKN_TENSOR_INIT;
    for (size_t n = 0; n < len; n++) {
        spit(cut, full, n);
        ekn_reader r;
        assert_int_equal(ekn_reader_open(&r, cut, &err), 0);
        int expect_records = n >= boundary ? 1 : 0, rc, got = 0;
        memset(&err, 0, sizeof err);
        while ((rc = ekn_stream_read(&r, &t, &err)) == 1) got++;
        if (n == 0 || n == boundary) {
            if (rc != 0) fprintf(stderr, "n=%zu: %s\n", n, err.msg);
            assert_int_equal(rc, 0);
        } else {
            if (rc != -1 || !(strstr(err.msg, "truncated") || strstr(err.msg, "bad magic")))
                fprintf(stderr, "n=%zu: rc %d: %s\n", n, rc, err.msg);
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, EKN_EXIT_FAIL);
            assert_true(strstr(err.msg, "truncated") || strstr(err.msg, "bad magic"));
            assert_non_null(strstr(err.msg, cut));
            assert_null(strchr(err.msg, '\n'));
            char where[64];
            snprintf(where, sizeof where, "record %d (byte %llu)", expect_records,
                     (unsigned long long)(expect_records ? boundary : 0));
            assert_non_null(strstr(err.msg, where));
        }
        assert_int_equal(got, expect_records);
        ekn_reader_close(&r);
    }
    unlink(cut);
    free(full);
    ekn_tensor_free(&t);
}

/* Corrupts one field of a valid record and expects `what` in the message. */
static void expect_corrupt(size_t off, const void *bytes, size_t n, const char *what)
{
    ekn_err err = {0};
    ekn_writer w;
    const uint64_t s[2] = {2, 3};
    const float x[6] = {0};
    assert_int_equal(ekn_writer_open(&w, tmp_path, 0, &err), 0);
    assert_int_equal(ekn_stream_write_raw(&w, EKN_F32, 2, s, "image", "a=b\n", x, &err), 0);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    size_t len;
    unsigned char *buf = slurp(tmp_path, &len);
    memcpy(buf + off, bytes, n);
    spit(tmp_path, buf, len);
    free(buf);
    ekn_reader r;
    ekn_tensor t = EKN_TENSOR_INIT;
    assert_int_equal(ekn_reader_open(&r, tmp_path, &err), 0);
    int rc = ekn_stream_read(&r, &t, &err);
    if (rc != -1 || !strstr(err.msg, what)) fprintf(stderr, "want '%s', got rc %d: %s\n", what, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, what));
    ekn_reader_close(&r);
    ekn_tensor_free(&t);
}

static void test_corrupt_headers(void **state)
{
    (void)state;
    const unsigned char v2 = 2, dt13 = 13, dt0 = 0, rank9 = 9, hl[4] = {100, 0, 0, 0};
    const unsigned char big[8] = {0, 0, 0, 0, 0, 0, 0, 0x40}; /* 2^62 */
    const unsigned char plen[8] = {25};
    const unsigned char name_len[2] = {0xff, 0};
    expect_corrupt(0, "\x88", 1, "bad magic");
    expect_corrupt(4, &v2, 1, "version 2.0 is not supported");
    expect_corrupt(6, &dt13, 1, "unknown dtype code 13");
    expect_corrupt(6, &dt0, 1, "unknown dtype code 0");
    expect_corrupt(7, &rank9, 1, "rank 9 is over the limit of 8");
    expect_corrupt(8, hl, 4, "invalid header length 100");
    expect_corrupt(24, big, 8, "too many elements");
    expect_corrupt(16, plen, 8, "payload length 25 does not match shape [2,3] of f32 (24 bytes)");
    expect_corrupt(40, name_len, 2, "name length 255 does not fit the header");
}

static void test_max_payload_env(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_writer w;
    const uint64_t s[1] = {100};
    const double x[100] = {0};
    assert_int_equal(ekn_writer_open(&w, tmp_path, 0, &err), 0);
    assert_int_equal(ekn_stream_write_raw(&w, EKN_F64, 1, s, "vector", NULL, x, &err), 0);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_reader r;
    setenv("EKN_MAX_PAYLOAD", "800", 1);
    assert_int_equal(ekn_reader_open(&r, tmp_path, &err), 0);
    assert_int_equal(r.max_payload, 800);
    assert_int_equal(ekn_stream_read(&r, &t, &err), 1);
    ekn_reader_close(&r);
    setenv("EKN_MAX_PAYLOAD", "799", 1);
    assert_int_equal(ekn_reader_open(&r, tmp_path, &err), 0);
    assert_int_equal(ekn_stream_read(&r, &t, &err), -1);
    assert_non_null(strstr(err.msg, "too many elements"));
    ekn_reader_close(&r);
    unsetenv("EKN_MAX_PAYLOAD");
    assert_int_equal(ekn_reader_open(&r, tmp_path, &err), 0);
    assert_int_equal(r.max_payload, EKN_STREAM_MAX_PAYLOAD);
    ekn_reader_close(&r);
    ekn_tensor_free(&t);
}

/* ---- option engine -------------------------------------------------------------- */

static int o_a, o_b;
static long o_n;
static double o_lr;
static const char *o_out, *o_fmt, *o_list[4];
static int o_lr_given;

static const ekn_option test_options[] = {
    {'a', "all", EKN_OPT_FLAG, &o_a, NULL, "flag a", 0, 0, NULL, 0, NULL},
    {'b', "bee", EKN_OPT_FLAG, &o_b, NULL, "flag b", 0, 0, NULL, 0, NULL},
    {'n', "count", EKN_OPT_INT, &o_n, "N", "a count", 1, 10, NULL, 0, NULL},
    {0, "lr", EKN_OPT_FLOAT, &o_lr, "RATE", "learning rate", 0, 10, NULL, EKN_OPTF_GT_MIN, &o_lr_given},
    {'o', "out", EKN_OPT_STRING, &o_out, "FILE", "output", 0, 0, NULL, 0, NULL},
    {0, "format", EKN_OPT_CHOICE, &o_fmt, "F", "format", 0, 0, "text|tsv", 0, NULL},
    {'I', "include", EKN_OPT_LIST, o_list, "DIR", "repeatable", 0, 4, NULL, 0, NULL},
    {0, "secret", EKN_OPT_FLAG, &o_b, NULL, "hidden", 0, 0, NULL, EKN_OPTF_HIDDEN, NULL},
    {0},
};
static const ekn_command test_cmd = {"ekn-test", "[options] FILE...", "Test the option engine.", test_options};

/* Parses a space-separated command line; returns the rc, the operands joined by ' '. */
static int parse(const char *line, int *first, char *operands, size_t cap, ekn_err *err)
{
    static char storage[512];
    static char *argv[64];
    snprintf(storage, sizeof storage, "%s", line);
    int argc = 0;
    argv[argc++] = "ekn-test";
    for (char *tok = strtok(storage, " "); tok; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    o_a = o_b = 0;
    o_n = 5;
    o_lr = 0.01;
    o_out = o_fmt = NULL;
    o_list[0] = NULL;
    o_lr_given = 0;
    memset(err, 0, sizeof *err);
    *first = -1;
    int rc = ekn_opt_parse(&test_cmd, argc, argv, first, err);
    operands[0] = 0;
    if (rc == EKN_OPT_CONTINUE)
        for (int i = *first; i < argc; i++) {
            strncat(operands, argv[i], cap - strlen(operands) - 1);
            if (i + 1 < argc) strncat(operands, " ", cap - strlen(operands) - 1);
        }
    return rc;
}

static void test_opt_parse(void **state)
{
    (void)state;
    ekn_err err;
    int first;
    char ops[256];

    assert_int_equal(parse("--lr=0.1 x", &first, ops, sizeof ops, &err), EKN_OPT_CONTINUE);
    assert_true(o_lr == 0.1);
    assert_int_equal(o_lr_given, 1);
    assert_string_equal(ops, "x");
    assert_int_equal(parse("--lr 0.1", &first, ops, sizeof ops, &err), 0);
    assert_true(o_lr == 0.1);
    assert_string_equal(ops, "");

    /* bundled short flags, an attached and a detached short value */
    assert_int_equal(parse("-ab -n3 -oout.ekn", &first, ops, sizeof ops, &err), 0);
    assert_int_equal(o_a, 1);
    assert_int_equal(o_b, 1);
    assert_int_equal(o_n, 3);
    assert_string_equal(o_out, "out.ekn");
    assert_int_equal(parse("-abn 7 f", &first, ops, sizeof ops, &err), 0);
    assert_int_equal(o_a + o_b, 2);
    assert_int_equal(o_n, 7);
    assert_string_equal(ops, "f");

    /* operands and options mixed; "-" is an operand; "--" ends the options */
    assert_int_equal(parse("a -a b - --count=2 c", &first, ops, sizeof ops, &err), 0);
    assert_string_equal(ops, "a b - c");
    assert_int_equal(o_n, 2);
    assert_int_equal(parse("x -- -a --lr=5 y", &first, ops, sizeof ops, &err), 0);
    assert_string_equal(ops, "x -a --lr=5 y");
    assert_int_equal(o_a, 0);
    assert_true(o_lr == 0.01);

    /* choices and lists */
    assert_int_equal(parse("--format tsv -I a --include=b", &first, ops, sizeof ops, &err), 0);
    assert_string_equal(o_fmt, "tsv");
    assert_string_equal(o_list[0], "a");
    assert_string_equal(o_list[1], "b");
    assert_null(o_list[2]);
    assert_int_equal(parse("-I a -I b -I c -I d", &first, ops, sizeof ops, &err), -1);
    assert_non_null(strstr(err.msg, "more than 3 times"));

    /* -v counts */
    ekn_verbose = 0;
    assert_int_equal(parse("-vv --verbose", &first, ops, sizeof ops, &err), 0);
    assert_int_equal(ekn_verbose, 3);
    ekn_verbose = 0;
}

static void expect_usage(const char *line, const char *what)
{
    ekn_err err;
    int first;
    char ops[256];
    int rc = parse(line, &first, ops, sizeof ops, &err);
    if (rc != -1 || !strstr(err.msg, what)) fprintf(stderr, "'%s': rc %d: %s\n", line, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, what));
    assert_non_null(strstr(err.msg, "\nTry 'ekn-test --help' for more information."));
}

static void test_opt_errors(void **state)
{
    (void)state;
    expect_usage("--bogus", "unknown option '--bogus'");
    expect_usage("--bogus=1", "unknown option '--bogus'");
    expect_usage("-aX", "unknown option '-X'");
    expect_usage("--lr", "option '--lr' needs a value");
    expect_usage("-n", "option '-n' needs a value");
    expect_usage("--all=1", "option '--all' takes no value");
    expect_usage("--lr -0.1", "--lr must be a number > 0 and <= 10, you specified -0.1");
    expect_usage("--lr 0", "you specified 0");
    expect_usage("--lr 11", "you specified 11");
    expect_usage("--lr nan", "--lr needs a finite number, you specified 'nan'");
    expect_usage("--lr 1e999", "you specified '1e999'");
    expect_usage("--lr 0.1x", "you specified '0.1x'");
    expect_usage("--count 0", "--count must be an integer from 1 to 10, you specified 0");
    expect_usage("-n 11", "you specified 11");
    expect_usage("--count 2.5", "--count needs an integer, you specified '2.5'");
    expect_usage("--count=", "you specified ''");
    expect_usage("--format json", "--format must be one of text|tsv, you specified 'json'");
    expect_usage("--format=", "you specified ''");
    expect_usage("--lr8", "unknown option '--lr8'");
}

/* Runs ekn_opt_parse with stdout sent to a file; returns what it printed. */
static char *captured(const char *line, int *rc)
{
    char path[300];
    snprintf(path, sizeof path, "%s.out", tmp_path);
    fflush(stdout);
    int saved = dup(1);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    dup2(fileno(fp), 1);
    ekn_err err;
    int first;
    char ops[256];
    *rc = parse(line, &first, ops, sizeof ops, &err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(fp);
    size_t len;
    char *text = (char *)slurp(path, &len);
    text[len] = 0;
    unlink(path);
    return text;
}

static void test_opt_help_version_completion(void **state)
{
    (void)state;
    int rc;
    char *out = captured("--completion-helper", &rc);
    assert_int_equal(rc, EKN_OPT_DONE);
    assert_string_equal(out, "--all\n--bee\n--count=\n--lr=\n--out=\n--format=\n--include=\n"
                             "--help\n--version\n--verbose\n");
    free(out);
    out = captured("x --help", &rc);
    assert_int_equal(rc, EKN_OPT_DONE);
    assert_non_null(strstr(out, "usage: ekn-test [options] FILE...\nTest the option engine.\n"));
    assert_non_null(strstr(out, "--lr RATE"));
    assert_non_null(strstr(out, "[0.01]")); /* the default in brackets */
    assert_non_null(strstr(out, "(text|tsv)"));
    assert_null(strstr(out, "secret"));
    free(out);
    out = captured("--version", &rc);
    assert_int_equal(rc, EKN_OPT_DONE);
    assert_true(strncmp(out, "ekn-test (ekn) ", 15) == 0);
    free(out);
}

static void test_int_lists(void **state)
{
    (void)state;
    ekn_err err = {0};
    long v[3];
    double d[3];
    assert_int_equal(ekn_parse_int_list("30,512,512", v, 3, 1, "--shape", &err), 3);
    assert_int_equal(v[0], 30);
    assert_int_equal(v[2], 512);
    assert_int_equal(ekn_parse_int_list("4x4", v, 3, 1, "--shape", &err), 2);
    assert_int_equal(ekn_parse_int_list("1,2,3,4", v, 3, 1, "--shape", &err), -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "you specified '1,2,3,4'"));
    assert_int_equal(ekn_parse_int_list("0", v, 3, 1, "--shape", &err), -1);
    assert_int_equal(ekn_parse_int_list("", v, 3, 1, "--shape", &err), -1);
    assert_int_equal(ekn_parse_float_list("0.5,1,2", d, 3, "--w", &err), 3);
    assert_true(d[0] == 0.5 && d[2] == 2);
    assert_int_equal(ekn_parse_float_list("1,inf", d, 3, "--w", &err), -1);
}

/* ---- rng ---------------------------------------------------------------------------- */

static void test_rng(void **state)
{
    (void)state;
    ekn_rng a, b, c;
    ekn_rng_seed(&a, 42, 0);
    ekn_rng_seed(&b, 42, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(ekn_rng_u64(&a), ekn_rng_u64(&b));
    /* another stream, another seed: other sequences */
    ekn_rng_seed(&a, 42, 0);
    ekn_rng_seed(&b, 42, 1);
    ekn_rng_seed(&c, 43, 0);
    int same_b = 0, same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = ekn_rng_u64(&a);
        same_b += x == ekn_rng_u64(&b);
        same_c += x == ekn_rng_u64(&c);
    }
    assert_int_equal(same_b, 0);
    assert_int_equal(same_c, 0);
    /* the struct is the whole state: a copy continues the sequence, spare normal included */
    ekn_rng_seed(&a, 7, 3);
    (void)ekn_rng_normal(&a);
    b = a;
    for (int i = 0; i < 100; i++) assert_true(ekn_rng_normal(&a) == ekn_rng_normal(&b));

    /* uniform, below, normal moments over 1e5 draws, within 4 sigma */
    const int n = 100000;
    ekn_rng_seed(&a, tu_seed(), 9);
    double sum = 0, sum2 = 0, usum = 0;
    for (int i = 0; i < n; i++) {
        double x = ekn_rng_normal(&a);
        sum += x;
        sum2 += x * x;
        double u = ekn_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        float uf = ekn_rng_uniformf(&a);
        assert_true(uf >= 0 && uf < 1);
        usum += u;
        assert_true(ekn_rng_below(&a, 7) < 7);
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    fprintf(stderr, "normal: mean %.5f (4 sigma %.5f), var %.5f (4 sigma %.5f); uniform mean %.5f\n", mean,
            4 / sqrt(n), var, 4 * sqrt(2.0 / n), usum / n);
    assert_true(fabs(mean) < 4 / sqrt(n));
    assert_true(fabs(var - 1) < 4 * sqrt(2.0 / n));
    assert_true(fabs(usum / n - 0.5) < 4 * sqrt(1.0 / 12 / n));
    assert_int_equal(ekn_rng_below(&a, 1), 0);
    assert_int_equal(ekn_rng_below(&a, 0), 0);

    /* shuffle is a permutation */
    uint32_t idx[100];
    int seen[100] = {0};
    for (uint32_t i = 0; i < 100; i++) idx[i] = i;
    ekn_rng_shuffle(&a, idx, 100);
    int moved = 0;
    for (uint32_t i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 50);
}

/* ---- stats -------------------------------------------------------------------------- */

static void test_stats(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_tensor t = EKN_TENSOR_INIT;
    const uint64_t n = 1001;
    assert_int_equal(ekn_tensor_reshape(&t, EKN_F32, 1, &n, &err), 0);
    float *x = t.data;
    for (uint64_t i = 0; i < n; i++) x[i] = 1e6f + (float)(i % 10); /* large mean, small spread */
    x[500] = NAN;
    ekn_stats whole, a, b;
    ekn_stats_tensor(&whole, &t);
    assert_int_equal(whole.n, 1000);
    assert_int_equal(whole.nan, 1);
    assert_true(whole.min == 1e6 && whole.max == 1e6 + 9);
    assert_true(fabs(whole.mean - (1e6 + 4.5)) < 1e-9);
    assert_true(fabs(ekn_stats_std(&whole) - sqrt(8.25)) < 1e-9);
    /* the two halves merged give the same figures */
    t.shape[0] = 400;
    ekn_stats_tensor(&a, &t);
    memmove(x, x + 400, (n - 400) * sizeof *x);
    t.shape[0] = n - 400;
    ekn_stats_tensor(&b, &t);
    ekn_stats_merge(&a, &b);
    assert_int_equal(a.n, whole.n);
    assert_int_equal(a.nan, 1);
    assert_true(fabs(a.mean - whole.mean) < 1e-9);
    assert_true(fabs(ekn_stats_std(&a) - ekn_stats_std(&whole)) < 1e-9);
    assert_true(a.min == whole.min && a.max == whole.max);

    /* f16 and labels */
    const uint64_t four = 4;
    assert_int_equal(ekn_tensor_reshape(&t, EKN_F16, 1, &four, &err), 0);
    const uint16_t h[4] = {0x3c00, 0xc000, 0x0000, 0x7e00}; /* 1, -2, 0, NaN */
    memcpy(t.data, h, sizeof h);
    ekn_stats_tensor(&a, &t);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.nan, 1);
    assert_true(a.min == -2 && a.max == 1 && fabs(a.mean + 1.0 / 3) < 1e-12);

    ekn_hist hist = EKN_HIST_INIT;
    assert_int_equal(ekn_tensor_reshape(&t, EKN_I32, 1, &four, &err), 0);
    const int32_t lab[4] = {-1, 3, 3, 70000};
    memcpy(t.data, lab, sizeof lab);
    assert_int_equal(ekn_hist_add(&hist, &t, &err), 0);
    assert_int_equal(ekn_hist_get(&hist, -1), 1);
    assert_int_equal(ekn_hist_get(&hist, 3), 2);
    assert_int_equal(hist.other, 1);
    assert_int_equal(hist.total, 4);
    ekn_hist sum = EKN_HIST_INIT;
    assert_int_equal(ekn_hist_merge(&sum, &hist, &err), 0);
    assert_int_equal(ekn_hist_merge(&sum, &hist, &err), 0);
    assert_int_equal(ekn_hist_get(&sum, 3), 4);
    assert_int_equal(sum.total, 8);
    ekn_hist_free(&hist);
    ekn_hist_free(&sum);
    ekn_tensor_free(&t);
}

TU_MAIN(cmocka_unit_test_setup_teardown(test_all_dtypes_and_ranks, setup, teardown),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_meta),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_payload_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opt_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opt_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opt_help_version_completion, setup, teardown),
        cmocka_unit_test(test_int_lists),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_stats))
