/* test_readers: the input formats of ekn-preprocess (lib/data/readers.h) and
 * whole-file input (lib/core/archive_io.h): IDX and NPY header edge cases,
 * byte order, raw sizes, CSV typing/one-hot/labels/missing values and the
 * schema round trip, format detection, the axis permutation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "archive_io.h"
#include "prep.h"
#include "readers.h"
#include "testutil.h"

static ekn_blob blob_of(const void *p, size_t n)
{
    ekn_blob b = {malloc(n + 1), n};
    assert_non_null(b.data);
    memcpy(b.data, p, n);
    b.data[n] = 0;
    return b;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* an IDX header for `rank` dims, followed by `extra` data bytes (zeros) */
static size_t make_idx(unsigned char *buf, unsigned type, int rank, const uint32_t *dims, size_t data)
{
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++) put_be32(buf + 4 + 4 * i, dims[i]);
    memset(buf + 4 + 4 * rank, 0, data);
    return 4 + 4 * (size_t)rank + data;
}

static void expect_idx_error(const unsigned char *p, size_t n, const char *needle)
{
    ekn_idx_header h;
    ekn_err err = {0};
    assert_int_equal(ekn_idx_parse_header(p, n, &h, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_idx_header(void **state)
{
    (void)state;
    unsigned char buf[256];
    ekn_idx_header h;
    ekn_err err = {0};
    uint32_t d3[3] = {2, 3, 4};
    size_t n = make_idx(buf, 0x08, 3, d3, 24);
    assert_int_equal(ekn_idx_parse_header(buf, n, &h, &err), 0);
    assert_int_equal(h.dtype, EKN_U8);
    assert_int_equal(h.rank, 3);
    assert_int_equal(h.shape[0], 2);
    assert_int_equal(h.shape[2], 4);
    assert_int_equal(h.header_len, 16);
    assert_int_equal(h.data_len, 24);

    expect_idx_error(buf, 0, "empty");
    expect_idx_error(buf, 3, "truncated IDX header");
    expect_idx_error(buf, 10, "truncated IDX header");   /* inside the dims */
    expect_idx_error(buf, n - 1, "truncated IDX data");
    unsigned char more[256];
    memcpy(more, buf, n);
    more[n] = 7;
    expect_idx_error(more, n + 1, "unexpected bytes");
    buf[1] = 1;
    expect_idx_error(buf, n, "bad IDX magic");
    buf[1] = 0;
    buf[2] = 0x07;
    expect_idx_error(buf, n, "type code 0x07");
    buf[2] = 0x08;
    buf[3] = 0;
    expect_idx_error(buf, n, "rank 0");
    buf[3] = 9;
    expect_idx_error(buf, 256, "rank 9");
    /* absurd dimensions: overflow, not an allocation */
    uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    n = make_idx(buf, 0x08, 3, huge, 4);
    expect_idx_error(buf, n, "too many elements");
    uint32_t big2[2] = {0x80000000u, 0x80000000u};
    n = make_idx(buf, 0x0D, 2, big2, 4);
    expect_idx_error(buf, n, "too many elements");
    uint32_t big1[2] = {0x80000000u, 2};
    n = make_idx(buf, 0x08, 2, big1, 4);
    expect_idx_error(buf, n, "truncated IDX data");
    /* a zero dimension is an empty array, not an error */
    uint32_t zero[2] = {0, 28};
    n = make_idx(buf, 0x08, 2, zero, 0);
    assert_int_equal(ekn_idx_parse_header(buf, n, &h, &err), 0);
    assert_int_equal(h.data_len, 0);
    /* every type code */
    const struct { unsigned code; ekn_dtype dt; } types[] = {
        {0x08, EKN_U8}, {0x09, EKN_I8}, {0x0B, EKN_I16}, {0x0C, EKN_I32}, {0x0D, EKN_F32}, {0x0E, EKN_F64}};
    for (size_t i = 0; i < 6; i++) {
        uint32_t one[1] = {3};
        n = make_idx(buf, types[i].code, 1, one, 3 * ekn_dtype_size(types[i].dt));
        assert_int_equal(ekn_idx_parse_header(buf, n, &h, &err), 0);
        assert_int_equal(h.dtype, types[i].dt);
    }
}

/* IDX data are big-endian: the reader returns host order */
static void test_idx_byte_order(void **state)
{
    (void)state;
    unsigned char buf[64];
    uint32_t dims[1] = {2};
    size_t n = make_idx(buf, 0x0B, 1, dims, 4);
    buf[8] = 0x01, buf[9] = 0x02, buf[10] = 0xff, buf[11] = 0xfe; /* 258, -2 */
    ekn_blob b = blob_of(buf, n);
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    assert_int_equal(ekn_read_idx(&b, "x", &t, &err), 0);
    assert_int_equal(t.dtype, EKN_I16);
    assert_int_equal(((int16_t *)t.data)[0], 258);
    assert_int_equal(((int16_t *)t.data)[1], -2);
    ekn_blob_free(&b);
    n = make_idx(buf, 0x0E, 1, dims, 16);
    const unsigned char one_be[8] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0}; /* 1.0 */
    const unsigned char m2_be[8] = {0xc0, 0, 0, 0, 0, 0, 0, 0};     /* -2.0 */
    memcpy(buf + 8, one_be, 8);
    memcpy(buf + 16, m2_be, 8);
    b = blob_of(buf, n);
    assert_int_equal(ekn_read_idx(&b, "x", &t, &err), 0);
    assert_true(((double *)t.data)[0] == 1.0);
    assert_true(((double *)t.data)[1] == -2.0);
    /* the file name leads the message */
    b.len -= 1;
    assert_int_equal(ekn_read_idx(&b, "short.idx", &t, &err), -1);
    assert_non_null(strstr(err.msg, "'short.idx': truncated"));
    ekn_blob_free(&b);
    ekn_tensor_free(&t);
}

/* an NPY file: version, dict text, data bytes */
static size_t make_npy(unsigned char *buf, int major, const char *dict, size_t data)
{
    size_t dl = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (major == 1) buf[8] = (unsigned char)hl, buf[9] = (unsigned char)(hl >> 8);
    else buf[8] = (unsigned char)hl, buf[9] = (unsigned char)(hl >> 8), buf[10] = 0, buf[11] = 0;
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hl - dl - 1);
    buf[total - 1] = '\n';
    memset(buf + total, 0, data);
    return total + data;
}

static void expect_npy_error(const char *dict, size_t data, const char *needle)
{
    unsigned char buf[512];
    size_t n = make_npy(buf, 1, dict, data);
    ekn_npy_header h;
    ekn_err err = {0};
    assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), -1);
    if (!strstr(err.msg, needle)) fail_msg("npy '%s': message '%s' lacks '%s'", dict, err.msg, needle);
}

static void test_npy_header(void **state)
{
    (void)state;
    unsigned char buf[512];
    ekn_npy_header h;
    ekn_err err = {0};
    for (int major = 1; major <= 3; major++) {
        size_t n = make_npy(buf, major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
        assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), 0);
        assert_int_equal(h.major, major);
        assert_int_equal(h.dtype, EKN_F32);
        assert_int_equal(h.rank, 2);
        assert_int_equal(h.shape[1], 3);
        assert_int_equal(h.header_len % 64, 0);
        assert_int_equal(h.data_len, 24);
    }
    size_t n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", 5);
    assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), 0);
    assert_int_equal(h.rank, 1);
    assert_int_equal(h.dtype, EKN_U8);
    n = make_npy(buf, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", 8);
    assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), 0);
    assert_int_equal(h.rank, 0);
    const struct { const char *d; ekn_dtype dt; } dts[] = {
        {"|i1", EKN_I8}, {"<u2", EKN_U16}, {"<i2", EKN_I16}, {"<i4", EKN_I32}, {"<u4", EKN_U32},
        {"<i8", EKN_I64}, {"<f8", EKN_F64}, {"|b1", EKN_U8}};
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }", dts[i].d);
        n = make_npy(buf, 1, dict, 2 * ekn_dtype_size(dts[i].dt));
        assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), 0);
        assert_int_equal(h.dtype, dts[i].dt);
    }
    expect_npy_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran_order");
    expect_npy_error("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "big-endian");
    expect_npy_error("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype '<c8'");
    expect_npy_error("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype");
    expect_npy_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, "structured");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, "truncated NPY data");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, "unexpected bytes");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967295, 4294967295, 4294967295), }", 4,
                     "too many elements");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, }", 4, "shape");
    expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4,
                     "more than 8 axes");
    memcpy(buf, "\x93NUMPZ", 6);
    assert_int_equal(ekn_npy_parse_header(buf, 200, &h, &err), -1);
    assert_non_null(strstr(err.msg, "bad magic"));
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    buf[6] = 4;
    assert_int_equal(ekn_npy_parse_header(buf, n, &h, &err), -1);
    assert_non_null(strstr(err.msg, "version 4.0"));
    /* a header cut short */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0);
    assert_int_equal(ekn_npy_parse_header(buf, 40, &h, &err), -1);
    assert_non_null(strstr(err.msg, "truncated NPY header"));
}

/* the writer's header is what the reader parses */
static void test_npy_encode_roundtrip(void **state)
{
    (void)state;
    unsigned char buf[1024];
    uint64_t shape[4] = {60000, 1, 28, 28};
    ekn_dtype dts[] = {EKN_U8, EKN_I32, EKN_F32, EKN_F64, EKN_U16};
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++)
        for (int rank = 0; rank <= 4; rank++) {
            size_t hl = ekn_npy_encode_header(buf, sizeof buf, dts[i], rank, shape);
            assert_true(hl > 0 && hl % 64 == 0);
            uint64_t numel = 1;
            for (int k = 0; k < rank; k++) numel *= shape[k];
            size_t data = rank == 4 ? 0 : (size_t)numel * ekn_dtype_size(dts[i]);
            if (rank == 4) continue; /* too big to materialise */
            unsigned char *f = calloc(1, hl + data);
            assert_non_null(f);
            memcpy(f, buf, hl);
            ekn_npy_header h;
            ekn_err err = {0};
            assert_int_equal(ekn_npy_parse_header(f, hl + data, &h, &err), 0);
            assert_int_equal(h.dtype, dts[i]);
            assert_int_equal(h.rank, rank);
            for (int k = 0; k < rank; k++) assert_int_equal(h.shape[k], shape[k]);
            free(f);
        }
    assert_int_equal(ekn_npy_encode_header(buf, 16, EKN_F32, 1, shape), 0);
}

static void test_raw(void **state)
{
    (void)state;
    uint16_t v[6] = {1, 2, 3, 4, 5, 65535};
    ekn_blob b = blob_of(v, sizeof v);
    uint64_t shape[2] = {2, 3}, wrong[2] = {3, 3};
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    assert_int_equal(ekn_read_raw(&b, "v.raw", EKN_U16, 2, shape, &t, &err), 0);
    assert_int_equal(((uint16_t *)t.data)[5], 65535);
    assert_int_equal(ekn_read_raw(&b, "v.raw", EKN_U16, 2, wrong, &t, &err), -1);
    assert_non_null(strstr(err.msg, "'v.raw': 12 bytes, but shape [3,3] of u16 needs 18"));
    b.len = 0;
    assert_int_equal(ekn_read_raw(&b, "v.raw", EKN_U16, 2, shape, &t, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    ekn_blob_free(&b);
    ekn_tensor_free(&t);
}

static void test_detect(void **state)
{
    (void)state;
    unsigned char idx[32];
    uint32_t d[1] = {4};
    size_t n = make_idx(idx, 0x08, 1, d, 4);
    assert_int_equal(ekn_format_detect("anything", idx, n, 0), EKN_FMT_IDX);
    /* a truncated IDX is still IDX by its name */
    assert_int_equal(ekn_format_detect("t10k-labels-idx1-ubyte", idx, n - 1, 0), EKN_FMT_IDX);
    assert_int_equal(ekn_format_detect("x/train.idx.gz", idx, n - 1, 0), EKN_FMT_IDX);
    assert_int_equal(ekn_format_detect("x.npy", (const unsigned char *)"\x93NUMPY\x01", 7, 0), EKN_FMT_NPY);
    assert_int_equal(ekn_format_detect("x", (const unsigned char *)"\x89HDF\r\n\x1a\n", 8, 0), EKN_FMT_H5);
    assert_int_equal(ekn_format_detect("vol.u8", (const unsigned char *)"\x01\x02\x00", 3, 1), EKN_FMT_RAW);
    assert_int_equal(ekn_format_detect("vol.u8", (const unsigned char *)"\x01\x02\x00", 3, 0), EKN_FMT_AUTO);
    assert_int_equal(ekn_format_detect("adult.data", (const unsigned char *)"39, State-gov\n", 14, 0), EKN_FMT_CSV);
    assert_int_equal(ekn_format_detect("table", (const unsigned char *)"a,b\n1,2\n", 8, 0), EKN_FMT_CSV);
    assert_int_equal(ekn_format_from_name("h5"), EKN_FMT_H5);
    assert_int_equal(ekn_format_from_name("hdf5"), EKN_FMT_H5);
    assert_int_equal(ekn_format_from_name("tiff"), -1);
    assert_string_equal(ekn_format_name(EKN_FMT_CSV), "csv");
}

/* The reader table: every row reachable by its code and its name, the
 * choices are its names in order, and detection ranks the evidence as
 * readers.h says (magic, then strong names, then --shape, then text). */
static void test_reader_table(void **state)
{
    (void)state;
    char joined[256] = "";
    int shaped = 0, text = 0, n = 0;
    for (const ekn_file_reader *const *r = ekn_file_readers; *r; r++, n++) {
        assert_ptr_equal(ekn_file_reader_of((*r)->format), *r);
        assert_int_equal(ekn_format_from_name((*r)->name), (*r)->format);
        if ((*r)->alias) assert_int_equal(ekn_format_from_name((*r)->alias), (*r)->format);
        assert_string_equal(ekn_format_name((*r)->format), (*r)->name);
        assert_true((*r)->read != NULL || !((*r)->flags & EKN_READER_BY_PATH));
        assert_true((*r)->probe != NULL || !((*r)->flags & EKN_READER_BY_PATH));
        shaped += ((*r)->flags & EKN_READER_SHAPED) != 0;
        text += ((*r)->flags & EKN_READER_TEXT) != 0;
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%s", n ? "|" : "", (*r)->name);
    }
    assert_int_equal(n, 5);
    assert_int_equal(shaped, 1);
    assert_int_equal(text, 1);
    assert_string_equal(ekn_format_choices, joined);
    assert_string_equal(ekn_format_choices, "idx|npy|h5|raw|csv");
    assert_null(ekn_file_reader_of(EKN_FMT_AUTO));
    assert_null(ekn_file_reader_of((ekn_format)-1));
    assert_int_equal(ekn_format_from_name("auto"), EKN_FMT_AUTO);
    assert_int_equal(ekn_format_from_name(NULL), EKN_FMT_AUTO);
    assert_string_equal(ekn_format_name(EKN_FMT_AUTO), "auto");
    assert_string_equal(ekn_format_name((ekn_format)99), "?");

    const unsigned char *bin = (const unsigned char *)"\x01\x02\x00";
    /* suffixes in any case, infixes in this case only */
    assert_int_equal(ekn_format_detect("A/TRAIN.IDX", bin, 3, 0), EKN_FMT_IDX);
    assert_int_equal(ekn_format_detect("t10k-images-IDX3-UBYTE", bin, 3, 0), EKN_FMT_IDX);
    assert_int_equal(ekn_format_detect("train-idx3.bin", bin, 3, 0), EKN_FMT_IDX);
    assert_int_equal(ekn_format_detect("train-IDX3.bin", bin, 3, 0), EKN_FMT_AUTO);
    assert_int_equal(ekn_format_detect("x.NPY.bz2", bin, 3, 0), EKN_FMT_NPY);
    assert_int_equal(ekn_format_detect("vol.hdf.xz", bin, 3, 1), EKN_FMT_H5); /* a strong name beats --shape */
    /* a text name yields to --shape, and names to magic */
    assert_int_equal(ekn_format_detect("vol.data", bin, 3, 1), EKN_FMT_RAW);
    assert_int_equal(ekn_format_detect("vol.data", bin, 3, 0), EKN_FMT_CSV);
    assert_int_equal(ekn_format_detect("t.csv", (const unsigned char *)"\x93NUMPY\x01", 7, 0), EKN_FMT_NPY);
    assert_int_equal(ekn_format_detect("a,b", (const unsigned char *)"1,2\n", 4, 1), EKN_FMT_RAW);
    assert_int_equal(ekn_format_detect("empty", bin, 0, 0), EKN_FMT_AUTO);
    assert_ptr_equal(ekn_file_reader_detect("x.tsv", bin, 3, 0), &ekn_file_reader_csv);
    assert_null(ekn_file_reader_detect("noise", bin, 3, 0));
}

static void test_parse_number(void **state)
{
    (void)state;
    double v;
    assert_int_equal(ekn_parse_number("38", &v), 1);
    assert_true(v == 38);
    assert_int_equal(ekn_parse_number("-1.5e3", &v), 1);
    assert_true(v == -1500);
    assert_int_equal(ekn_parse_number("nan", &v), 1); /* a number, but not finite */
    assert_true(v != v);
    assert_int_equal(ekn_parse_number("", &v), 0);
    assert_int_equal(ekn_parse_number("Private", &v), 0);
    assert_int_equal(ekn_parse_number("12abc", &v), 0);
}

static const char adult_like[] =
    "|1x3 Cross validator\n"
    "39, State-gov, 77516, <=50K\n"
    "50, Self-emp, 83311, >50K.\n"
    "\n"
    "38, ?, ?, <=50K\n"
    "53, Private, 234721, >50K\n";

static int read_csv_text(const char *text, const ekn_csv_opts *o, ekn_csv_schema *s, ekn_tensor *x, ekn_tensor *y,
                         size_t *unseen, ekn_err *err)
{
    ekn_blob b = blob_of(text, strlen(text));
    int rc = ekn_read_csv(&b, "t.csv", o, s, x, y, unseen, err);
    ekn_blob_free(&b);
    return rc;
}

static void test_csv(void **state)
{
    (void)state;
    ekn_csv_opts o = {0, NULL, NULL, EKN_MISSING_MEAN, ','};
    ekn_csv_schema s = {0};
    ekn_tensor x = EKN_TENSOR_INIT, y = EKN_TENSOR_INIT;
    ekn_err err = {0};
    size_t unseen = 0;
    assert_int_equal(read_csv_text(adult_like, &o, &s, &x, &y, &unseen, &err), 0);
    /* columns: age (num), workclass (3 categories), fnlwgt (num), label */
    assert_int_equal(s.ncols, 4);
    assert_int_equal(s.label_col, 3);
    assert_int_equal(s.nfeatures, 1 + 3 + 1);
    assert_int_equal(s.cols[1].categorical, 1);
    assert_string_equal(s.cols[1].cats[0], "Private");
    assert_string_equal(s.cols[1].cats[1], "Self-emp");
    assert_string_equal(s.cols[1].cats[2], "State-gov");
    assert_int_equal(s.nlabels, 2);
    assert_string_equal(s.labels[0], "<=50K");
    assert_string_equal(s.labels[1], ">50K"); /* the trailing '.' is gone */
    assert_int_equal(x.shape[0], 4);
    assert_int_equal(x.shape[1], 5);
    const float *xd = x.data;
    const int32_t *yd = y.data;
    /* row 0: 39, State-gov, 77516 */
    float row0[5] = {39, 0, 0, 1, 77516};
    for (int j = 0; j < 5; j++) assert_true(xd[j] == row0[j]);
    /* row 2: missing workclass is all-zero, missing fnlwgt is the mean of the others */
    float mean = (float)((77516.0 + 83311.0 + 234721.0) / 3);
    assert_true(xd[2 * 5 + 1] == 0 && xd[2 * 5 + 2] == 0 && xd[2 * 5 + 3] == 0);
    assert_true(xd[2 * 5 + 4] == mean);
    int32_t labels[4] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) assert_int_equal(yd[i], labels[i]);

    /* the schema survives metadata, and a test file uses it */
    ekn_tensor meta = EKN_TENSOR_INIT;
    assert_int_equal(ekn_csv_schema_save(&s, &meta, &err), 0);
    ekn_csv_schema s2;
    assert_int_equal(ekn_csv_schema_load(&s2, &meta, &err), 1);
    assert_int_equal(s2.nfeatures, 5);
    assert_true(s2.cols[2].impute == s.cols[2].impute);
    assert_string_equal(s2.labels[1], ">50K");
    const char test_text[] = "40, Never-worked, 1000, >50K.\n41, Private, ?, =50K.\n";
    assert_int_equal(read_csv_text(test_text, &o, &s2, &x, &y, &unseen, &err), 0);
    assert_int_equal(x.shape[1], 5);
    xd = x.data;
    yd = y.data;
    assert_true(xd[1] == 0 && xd[2] == 0 && xd[3] == 0); /* unseen category: all zero */
    assert_true(xd[5 + 1] == 1);                          /* Private */
    assert_true(xd[5 + 4] == (float)s.cols[2].impute);
    assert_int_equal(yd[0], 1);
    assert_int_equal(yd[1], -1); /* unseen label */
    assert_int_equal(unseen, 1);
    /* text in a column the schema says is numeric: file:line:column */
    assert_int_equal(read_csv_text("40, Private, lots, >50K\n", &o, &s2, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "'t.csv':1:3: 'lots' is not a number"));
    assert_int_equal(read_csv_text("40, Private\n", &o, &s2, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "2 columns, but the statistics are for 4"));
    ekn_csv_schema_free(&s2);
    ekn_csv_schema_free(&s);

    /* NaN in a numeric column while fitting */
    ekn_csv_schema s3 = {0};
    assert_int_equal(read_csv_text("1, a\n2, b\nnan, a\n", &o, &s3, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "'t.csv':3:1: 'nan' is not a finite number"));
    ekn_csv_schema_free(&s3);
    /* ragged rows */
    assert_int_equal(read_csv_text("1, a\n2, b, c\n", &o, &s3, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "'t.csv':2: 3 fields, expected 2"));
    ekn_csv_schema_free(&s3);
    /* integer labels sort by value; quoted fields; header names */
    ekn_csv_opts oh = {1, "cls", NULL, EKN_MISSING_MEAN, ','};
    assert_int_equal(read_csv_text("v,cls,name\n1,10,\"a, b\"\n2,2,c\n3,10,c\n", &oh, &s3, &x, &y, &unseen, &err), 0);
    assert_string_equal(s3.labels[0], "2");
    assert_string_equal(s3.labels[1], "10");
    assert_string_equal(s3.cols[2].cats[0], "a, b");
    yd = y.data;
    assert_int_equal(yd[0], 1);
    assert_int_equal(yd[1], 0);
    char *names = ekn_csv_feature_names(&s3);
    assert_string_equal(names, "v,name=a%2C%20b,name=c");
    free(names);
    ekn_csv_schema_free(&s3);
    /* --missing drop and error */
    ekn_csv_opts od = {0, NULL, NULL, EKN_MISSING_DROP, ','};
    assert_int_equal(read_csv_text("1, a, x\n?, b, y\n3, c, x\n", &od, &s3, &x, &y, &unseen, &err), 0);
    assert_int_equal(x.shape[0], 2);
    ekn_csv_schema_free(&s3);
    od.missing = EKN_MISSING_ERROR;
    assert_int_equal(read_csv_text("1, a, x\n?, b, y\n", &od, &s3, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "'t.csv':2:1: missing value"));
    ekn_csv_schema_free(&s3);
    assert_int_equal(read_csv_text("", &o, &s3, &x, &y, &unseen, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    ekn_tensor_free(&x);
    ekn_tensor_free(&y);
    ekn_tensor_free(&meta);
}

/* ekn_permute against a direct index computation */
static void test_permute(void **state)
{
    (void)state;
    uint64_t shape[4] = {3, 4, 5, 2};
    ekn_tensor t = EKN_TENSOR_INIT, p = EKN_TENSOR_INIT;
    ekn_err err = {0};
    assert_int_equal(ekn_tensor_reshape(&t, EKN_I32, 4, shape, &err), 0);
    int32_t *v = t.data;
    for (int i = 0; i < 120; i++) v[i] = i;
    const int perms[3][4] = {{3, 0, 1, 2}, {2, 1, 0, 3}, {0, 3, 2, 1}};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(ekn_permute(&t, perms[k], &p, &err), 0);
        const int32_t *q = p.data;
        size_t bad = 0, o = 0;
        uint64_t idx[4];
        for (idx[0] = 0; idx[0] < p.shape[0]; idx[0]++)
            for (idx[1] = 0; idx[1] < p.shape[1]; idx[1]++)
                for (idx[2] = 0; idx[2] < p.shape[2]; idx[2]++)
                    for (idx[3] = 0; idx[3] < p.shape[3]; idx[3]++, o++) {
                        uint64_t src[4];
                        for (int a = 0; a < 4; a++) src[perms[k][a]] = idx[a];
                        int32_t want = (int32_t)(((src[0] * 4 + src[1]) * 5 + src[2]) * 2 + src[3]);
                        bad += q[o] != want;
                    }
        assert_int_equal(bad, 0);
        for (int a = 0; a < 4; a++) assert_int_equal(p.shape[a], shape[perms[k][a]]);
    }
    ekn_tensor_free(&t);
    ekn_tensor_free(&p);
}

static void test_input_files(void **state)
{
    (void)state;
    char path[256], spec[300], file[4096], member[4096];
    snprintf(path, sizeof path, "/tmp/ekn-test-readers-%ld.bin", (long)getpid());
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("hello", fp);
    fclose(fp);
    ekn_blob b;
    ekn_err err = {0};
    assert_int_equal(ekn_input_load(path, &b, 0, &err), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 6); /* NUL-terminated */
    ekn_blob_free(&b);
    assert_int_equal(ekn_input_load(path, &b, 4, &err), -1);
    assert_non_null(strstr(err.msg, "more than 4 bytes"));
    /* "file:member" when the whole name does not exist */
    snprintf(spec, sizeof spec, "%s:/group/data", path);
    assert_int_equal(ekn_input_split(spec, file, member, &err), 0);
    assert_string_equal(file, path);
    assert_string_equal(member, "/group/data");
    assert_int_equal(ekn_input_split(path, file, member, &err), 0);
    assert_string_equal(member, "");
    assert_int_equal(ekn_input_split("/nonexistent/x.idx:y", file, member, &err), -1);
    assert_non_null(strstr(err.msg, "'/nonexistent/x.idx:y': cannot open: No such file"));
    /* a plain file has no members */
    assert_int_equal(ekn_input_load(spec, &b, 0, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(ekn_input_load("/tmp", &b, 0, &err), -1);
    assert_non_null(strstr(err.msg, "is a directory"));
    unlink(path);
    assert_int_equal(ekn_is_compressed((const unsigned char *)"\x1f\x8b\x08", 3), 1);
    assert_int_equal(ekn_is_compressed((const unsigned char *)"\x28\xb5\x2f\xfd", 4), 1);
    assert_int_equal(ekn_is_compressed((const unsigned char *)"\x00\x00\x08\x01", 4), 0);
}

TU_MAIN(cmocka_unit_test(test_idx_header),
        cmocka_unit_test(test_idx_byte_order),
        cmocka_unit_test(test_npy_header),
        cmocka_unit_test(test_npy_encode_roundtrip),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_reader_table),
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_permute),
        cmocka_unit_test(test_input_files))
