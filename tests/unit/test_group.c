/* test_group: the record grammar (group.h) on streams written record by
 * record: how records group, which groups are refused and why, the checks
 * a reader asks for, the placement metadata; then examples in memory
 * (dataset.h): the patch cutter on a volume whose values encode their
 * coordinates, a batch written and read back, and the device mirror
 * (dataset_dev.h) on a host table (no copy) and on the staged one (one
 * upload, equal bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataset.h"
#include "dataset_dev.h"
#include "group.h"
#include "ops.h"
#include "testutil.h"

typedef struct rec {
    const char *name;
    ekn_dtype dt;
    int rank;
    uint64_t shape[4];
    const char *meta;
} rec;

/* Writes the records (data: the element index) to a temp file; its path into path. */
static void write_stream(char *path, const rec *r, int n)
{
    strcpy(path, "/tmp/test_group.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    ekn_writer w;
    ekn_err err = {0};
    assert_int_equal(ekn_writer_open(&w, path, 1, &err), 0);
    for (int i = 0; i < n; i++) {
        ekn_tensor t = EKN_TENSOR_INIT;
        assert_int_equal(ekn_tensor_reshape(&t, r[i].dt, r[i].rank, r[i].shape, &err), 0);
        size_t m = ekn_tensor_numel(&t), es = ekn_dtype_size(r[i].dt);
        for (size_t k = 0; k < m; k++) {
            if (r[i].dt == EKN_F32) ((float *)t.data)[k] = (float)k;
            else if (r[i].dt == EKN_I32) ((int32_t *)t.data)[k] = (int32_t)(k % 3);
            else memset((char *)t.data + k * es, (int)(k % 2), es);
        }
        ekn_tensor_set_name(&t, r[i].name);
        if (r[i].meta) assert_int_equal(ekn_tensor_meta_assign(&t, r[i].meta, strlen(r[i].meta), &err), 0);
        assert_int_equal(ekn_stream_write(&w, &t, &err), 0);
        ekn_tensor_free(&t);
    }
    assert_int_equal(ekn_writer_close(&w, &err), 0);
}

#define IMG(n) {EKN_REC_IMAGE, EKN_F32, 4, {n, 1, 3, 4}, NULL}
#define LAB(n) {EKN_REC_LABEL, EKN_I32, 3, {n, 3, 4}, "classes=3\n"}
#define MASK(n) {EKN_REC_MASK, EKN_U8, 3, {n, 3, 4}, NULL}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(ekn_rec_kind_of("image"), EKN_KIND_IMAGE);
    assert_int_equal(ekn_rec_kind_of("vector"), EKN_KIND_VECTOR);
    assert_int_equal(ekn_rec_kind_of("label"), EKN_KIND_LABEL);
    assert_int_equal(ekn_rec_kind_of("target"), EKN_KIND_TARGET);
    assert_int_equal(ekn_rec_kind_of("mask"), EKN_KIND_MASK);
    assert_int_equal(ekn_rec_kind_of("labelled"), EKN_KIND_LABELLED);
    assert_int_equal(ekn_rec_kind_of("absent"), EKN_KIND_ABSENT);
    assert_int_equal(ekn_rec_kind_of("prob"), EKN_KIND_PROB);
    assert_int_equal(ekn_rec_kind_of("class"), EKN_KIND_CLASS);
    assert_int_equal(ekn_rec_kind_of("output"), EKN_KIND_OUTPUT);
    assert_int_equal(ekn_rec_kind_of("weight"), EKN_KIND_WEIGHT);
    assert_int_equal(ekn_rec_kind_of("images"), EKN_KIND_OTHER);
    assert_int_equal(ekn_rec_kind_of(""), EKN_KIND_OTHER);
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_tensor_set_name(&t, EKN_REC_VECTOR);
    assert_true(ekn_rec_is_input(&t) && !ekn_rec_is_labels(&t));
    ekn_tensor_set_name(&t, EKN_REC_TARGET);
    assert_true(!ekn_rec_is_input(&t) && ekn_rec_is_labels(&t));
}

/* Groups of a good stream: their records, the index of each kind, the stream index of their first record. */
static void test_groups(void **state)
{
    (void)state;
    const rec r[] = {
        IMG(2), LAB(2), MASK(2), {EKN_REC_LABELLED, EKN_U8, 2, {2, 3}, NULL}, {EKN_REC_ABSENT, EKN_U8, 2, {2, 3}, NULL},
        IMG(1),                                       /* alone */
        IMG(3), {"mean", EKN_F32, 1, {3}, NULL}, LAB(3), /* labels after another record: refused */
    };
    char path[64];
    write_stream(path, r, 5 + 1 + 3);
    ekn_group_reader gr;
    ekn_group g = {0};
    ekn_err err = {0};
    assert_int_equal(ekn_group_reader_open(&gr, path, &err), 0);
    assert_int_equal(ekn_group_read(&gr, &g, &err), 1);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.first, 0);
    assert_int_equal(g.lab, 1);
    assert_int_equal(g.mask, 2);
    assert_int_equal(g.labelled, 3);
    assert_int_equal(g.absent, 4);
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_NEED_LABELS | EKN_GROUP_NO_OTHER, &err), 0);
    /* a reader that takes only inputs and labels names the first record it does not */
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_BARE, &err), -1);
    assert_non_null(strstr(err.msg, "record 2: expected an 'image' or 'vector' record, found 'mask'"));
    assert_int_equal(ekn_group_read(&gr, &g, &err), 1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.first, 5);
    assert_int_equal(g.lab, -1);
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_BARE, &err), 0);
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_NEED_LABELS, &err), -1);
    assert_non_null(strstr(err.msg, "record 5: 'image' record is not followed by its 'label' or 'target' record"));
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_group_read(&gr, &g, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_non_null(strstr(err.msg, "record 8: the 'label' record must come right after its 'image' record 6"));
    ekn_group_reader_close(&gr);
    ekn_group_free(&g);
    unlink(path);
    /* a weight record: its index, and a bare group may carry it (ekn-predict ignores it) */
    const rec w[] = {IMG(2), LAB(2), {EKN_REC_WEIGHT, EKN_F32, 1, {2}, NULL}};
    write_stream(path, w, 3);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_group_reader_open(&gr, path, &err), 0);
    assert_int_equal(ekn_group_read(&gr, &g, &err), 1);
    assert_int_equal(g.weight, 2);
    assert_int_equal(g.mask, -1);
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_BARE, &err), 0);
    assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_NEED_LABELS | EKN_GROUP_NO_OTHER, &err), 0);
    ekn_group_reader_close(&gr);
    ekn_group_free(&g);
    unlink(path);
}

/* Each stream breaks the grammar once; the error names the record. */
static void test_refused(void **state)
{
    (void)state;
    struct {
        rec r[20];
        int n;
        const char *msg;
    } cases[] = {
        {{LAB(2), IMG(2)}, 2, "record 0: expected an 'image' or 'vector' record, found 'label'"},
        {{IMG(2), LAB(2), {EKN_REC_TARGET, EKN_F32, 1, {2}, NULL}}, 3, "record 2: a second 'label' or 'target' record"},
        {{IMG(2), LAB(2), MASK(2), MASK(2)}, 4, "record 3: a second 'mask' record"},
        {{IMG(2), MASK(2), LAB(2)}, 3, "record 2: the 'label' record must come right after"},
        {{IMG(2), LAB(2), {EKN_REC_WEIGHT, EKN_F32, 1, {2}, NULL}, {EKN_REC_WEIGHT, EKN_F32, 1, {2}, NULL}}, 4,
         "record 3: a second 'weight' record"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char path[64];
        write_stream(path, cases[c].r, cases[c].n);
        ekn_group_reader gr;
        ekn_group g = {0};
        ekn_err err = {0};
        assert_int_equal(ekn_group_reader_open(&gr, path, &err), 0);
        assert_int_equal(ekn_group_read(&gr, &g, &err), -1);
        fprintf(stderr, "case %zu: %s\n", c, err.msg);
        assert_non_null(strstr(err.msg, cases[c].msg));
        ekn_group_reader_close(&gr);
        ekn_group_free(&g);
        unlink(path);
    }
    /* more than EKN_GROUP_MAX records */
    rec big[EKN_GROUP_MAX + 1] = {IMG(1)};
    for (int i = 1; i <= EKN_GROUP_MAX; i++) big[i] = (rec){"other", EKN_U8, 1, {1}, NULL};
    char path[64];
    write_stream(path, big, EKN_GROUP_MAX + 1);
    ekn_group_reader gr;
    ekn_group g = {0};
    ekn_err err = {0};
    assert_int_equal(ekn_group_reader_open(&gr, path, &err), 0);
    assert_int_equal(ekn_group_read(&gr, &g, &err), -1);
    assert_non_null(strstr(err.msg, "more than 16 records"));
    ekn_group_reader_close(&gr);
    ekn_group_free(&g);
    unlink(path);
}

/* A group written is read back record for record; other names pass; an empty stream has no group. */
static void test_write_read(void **state)
{
    (void)state;
    const rec r[] = {IMG(2), LAB(2), {"weights", EKN_F32, 1, {2}, "k=v\n"}, IMG(2), LAB(2)};
    char in[64], out[64];
    write_stream(in, r, 5);
    strcpy(out, "/tmp/test_group_out.XXXXXX");
    int fd = mkstemp(out);
    close(fd);
    ekn_group_reader gr;
    ekn_group g = {0};
    ekn_writer w;
    ekn_err err = {0};
    assert_int_equal(ekn_group_reader_open(&gr, in, &err), 0);
    assert_int_equal(ekn_writer_open(&w, out, 1, &err), 0);
    int got, groups = 0;
    while ((got = ekn_group_read(&gr, &g, &err)) == 1) {
        assert_int_equal(ekn_group_check(&gr, &g, EKN_GROUP_NEED_LABELS, &err), 0);
        assert_int_equal(ekn_group_write(&w, &g, &err), 0);
        groups++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(groups, 2);
    assert_int_equal(ekn_group_read(&gr, &g, &err), 0); /* the end stays the end */
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    ekn_group_reader_close(&gr);
    FILE *a = fopen(in, "rb"), *b = fopen(out, "rb");
    assert_non_null(a);
    assert_non_null(b);
    int ca, cb;
    size_t bytes = 0;
    do {
        ca = fgetc(a), cb = fgetc(b);
        assert_int_equal(ca, cb);
        bytes++;
    } while (ca != EOF);
    fprintf(stderr, "written group by group: %zu bytes, identical\n", bytes - 1);
    fclose(a), fclose(b);
    unlink(in);
    /* the empty file: no group, no error */
    assert_int_equal(ekn_group_reader_open(&gr, out, &err), 0);
    ekn_group_reader_close(&gr);
    FILE *e = fopen(out, "wb");
    fclose(e);
    assert_int_equal(ekn_group_reader_open(&gr, out, &err), 0);
    assert_int_equal(ekn_group_read(&gr, &g, &err), 0);
    ekn_group_reader_close(&gr);
    ekn_group_free(&g);
    unlink(out);
}

static void test_metadata(void **state)
{
    (void)state;
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    const char *meta = "offset=3,4\nstride=2,2\nclasses=5\nbad=1,x\n";
    assert_int_equal(ekn_tensor_meta_assign(&t, meta, strlen(meta), &err), 0);
    long v[3] = {7, 7, 7};
    assert_int_equal(ekn_meta_zyx(&t, "offset", 0, v, &err), 2);
    assert_true(v[0] == 7 && v[1] == 3 && v[2] == 4); /* right-aligned; Z keeps the caller's */
    assert_int_equal(ekn_meta_zyx(&t, "nothing", 0, v, &err), 0);
    assert_int_equal(ekn_meta_zyx(&t, "stride", 3, v, &err), -1); /* below the minimum */
    assert_int_equal(ekn_meta_zyx(&t, "bad", 0, v, &err), -1);
    assert_non_null(strstr(err.msg, "bad metadata bad=1,x"));
    assert_int_equal(ekn_meta_int(&t, "classes", 0), 5);
    assert_int_equal(ekn_meta_int(&t, "epoch", -1), -1);
    int c, nd, S[3];
    uint64_t shape[5] = {2, 3, 4, 5, 6};
    assert_int_equal(ekn_tensor_reshape(&t, EKN_U8, 5, shape, &err), 0);
    ekn_tensor_set_name(&t, EKN_REC_IMAGE);
    assert_int_equal(ekn_input_geometry(&t, &c, &nd, S), 0);
    assert_true(c == 3 && nd == 3 && S[0] == 4 && S[1] == 5 && S[2] == 6);
    ekn_tensor_set_name(&t, EKN_REC_VECTOR);
    assert_int_equal(ekn_input_geometry(&t, &c, &nd, S), -1); /* a vector is (N,F) */
    ekn_tensor_free(&t);
}

/* ---- examples in memory ------------------------------------------------- */

/* Two examples of C=2 channels on Z x Y x X: x = e*1e6 + c*1e5 + z*1e4 + y*100 + x,
 * labels (full resolution) = e*1e6 + z*1e4 + y*100 + x, lazy masks per example. */
static void coord_set(ekn_dataset *d, int Z, int Y, int X, ekn_err *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "coords");
    d->c = 2, d->ndim = 3, d->shape[0] = Z, d->shape[1] = Y, d->shape[2] = X;
    d->ex_size = (size_t)2 * Z * Y * X;
    d->has_labels = 1, d->lab_ndim = 3;
    memcpy(d->lab_shape, d->shape, sizeof d->shape);
    d->lab_size = (size_t)Z * Y * X;
    d->lazy_c = 3;
    assert_int_equal(ekn_dataset_reserve(d, 2, err), 0);
    for (int e = 0; e < 2; e++) {
        for (int c = 0; c < 2; c++)
            for (int z = 0; z < Z; z++)
                for (int y = 0; y < Y; y++)
                    for (int x = 0; x < X; x++) {
                        size_t i = (((size_t)c * Z + z) * Y + y) * X + x;
                        d->x[e * d->ex_size + i] = (float)(e * 1000000 + c * 100000 + z * 10000 + y * 100 + x);
                        if (!c) d->y[e * d->lab_size + i] = e * 1000000 + z * 10000 + y * 100 + x;
                    }
        for (int k = 0; k < 3; k++) d->labelled[e * 3 + k] = (uint8_t)((e + k) % 2), d->absent[e * 3 + k] = (uint8_t)(k == 1);
    }
    d->n = 2;
    d->classes = 3;
}

static void test_cut(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_dataset d;
    coord_set(&d, 5, 9, 11, &err);
    const int corner[3] = {1, 2, 3}, size[3] = {3, 6, 7};
    ekn_lattice lat = {{0, 1, 2}, {1, 2, 3}, {2, 3, 2}};
    float x[2 * 3 * 6 * 7];
    int32_t y[3 * 6 * 7];
    size_t bad = 0;
    ekn_dataset_cut(&d, 1, corner, size, &lat, x, y, NULL);
    for (int c = 0; c < 2; c++)
        for (int z = 0; z < size[0]; z++)
            for (int yy = 0; yy < size[1]; yy++)
                for (int xx = 0; xx < size[2]; xx++) {
                    float want = (float)(1000000 + c * 100000 + (corner[0] + z) * 10000 + (corner[1] + yy) * 100 + corner[2] + xx);
                    bad += x[(((size_t)c * size[0] + z) * size[1] + yy) * size[2] + xx] != want;
                }
    for (int z = 0; z < lat.out[0]; z++)
        for (int yy = 0; yy < lat.out[1]; yy++)
            for (int xx = 0; xx < lat.out[2]; xx++) {
                int32_t want = 1000000 + (corner[0] + lat.offset[0] + lat.stride[0] * z) * 10000 +
                               (corner[1] + lat.offset[1] + lat.stride[1] * yy) * 100 + corner[2] + lat.offset[2] +
                               lat.stride[2] * xx;
                bad += y[((size_t)z * lat.out[1] + yy) * lat.out[2] + xx] != want;
            }
    /* labels per example (no lattice): taken whole */
    int32_t *whole = malloc(d.lab_size * sizeof *whole);
    assert_non_null(whole);
    ekn_dataset_cut(&d, 1, corner, size, NULL, x, whole, NULL);
    for (size_t k = 0; k < d.lab_size; k++) bad += whole[k] != d.y[d.lab_size + k];
    free(whole);
    /* t without targets: no labels written */
    y[0] = -7;
    ekn_dataset_cut(&d, 0, corner, size, &lat, x, NULL, (float *)y);
    bad += y[0] != -7;
    fprintf(stderr, "cut: %zu wrong values\n", bad);
    assert_int_equal(bad, 0);
    ekn_dataset_free(&d);
}

/* A batch of the examples in another order, written as a group and read back. */
static void test_batch_roundtrip(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_dataset d, b, r;
    coord_set(&d, 1, 4, 6, &err);
    d.ndim = 2, d.lab_ndim = 2;
    d.lab_placed = 1, d.lab_offset[1] = 1, d.lab_offset[2] = 2, d.lab_stride[1] = 1, d.lab_stride[2] = 1;
    ekn_dataset_layout(&b, &d);
    assert_null(b.x);
    assert_int_equal(b.n, 0);
    assert_int_equal(ekn_dataset_reserve(&b, 2, &err), 0);
    ekn_dataset_copy_example(&b, 0, &d, 1);
    ekn_dataset_copy_example(&b, 1, &d, 0);
    char path[] = "/tmp/test_group_batch.XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ekn_writer w;
    assert_int_equal(ekn_writer_open(&w, path, 1, &err), 0);
    assert_int_equal(ekn_dataset_write(&b, 2, "batch=4\nepoch=1\n", &w, &err), 0);
    assert_int_equal(ekn_writer_close(&w, &err), 0);
    ekn_dataset_reader dr;
    assert_int_equal(ekn_dataset_reader_open(&dr, &r, path, &err), 0);
    assert_int_equal(ekn_dataset_read_group(&dr, &r, &err), 1);
    assert_int_equal(dr.batch, 4);
    assert_int_equal(dr.epoch, 1);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ex_size, d.ex_size);
    assert_int_equal(r.c, 2);
    assert_int_equal(r.ndim, 2);
    assert_int_equal(r.classes, 3);
    assert_int_equal(r.lazy_c, 3);
    assert_true(r.lab_placed && r.lab_offset[1] == 1 && r.lab_offset[2] == 2);
    assert_memory_equal(r.x, d.x + d.ex_size, d.ex_size * sizeof *d.x);
    assert_memory_equal(r.x + d.ex_size, d.x, d.ex_size * sizeof *d.x);
    assert_memory_equal(r.y, d.y + d.lab_size, d.lab_size * sizeof *d.y);
    assert_memory_equal(r.labelled, d.labelled + 3, 3);
    assert_memory_equal(r.absent + 3, d.absent, 3);
    assert_int_equal(ekn_dataset_read_group(&dr, &r, &err), 0);
    ekn_dataset_reader_close(&dr);
    ekn_dataset_free(&r);
    ekn_dataset_free(&b);
    ekn_dataset_free(&d);
    unlink(path);
}

/* The mirror: on a host table pointers into the examples (no copy), on a
 * device table (staged) its own buffers holding equal bytes. */
static void test_mirror(void **state)
{
    (void)state;
    ekn_err err = {0};
    ekn_dataset d;
    coord_set(&d, 2, 3, 4, &err);
    ekn_dataset_dev m;
    assert_int_equal(ekn_dataset_dev_alloc(&m, ekn_ops_cpu(), &d, 2, &err), 0);
    ekn_dataset_dev_put(&m, &d, 1, 1);
    assert_ptr_equal(m.x, d.x + d.ex_size);
    assert_ptr_equal(m.y, d.y + d.lab_size);
    assert_ptr_equal(m.labelled, d.labelled + 3);
    assert_null(m.t);
    ekn_dataset_dev_free(&m);
    const ekn_ops *st = ekn_ops_staged();
    assert_int_equal(st->host, 0);
    assert_int_equal(ekn_dataset_dev_alloc(&m, st, &d, 2, &err), 0);
    ekn_dataset_dev_put(&m, &d, 0, 2);
    assert_ptr_equal(m.x, m.buf_x);
    assert_true(m.x != d.x);
    float *hx = malloc(2 * d.ex_size * sizeof *hx);
    int32_t *hy = malloc(2 * d.lab_size * sizeof *hy);
    uint8_t ha[6];
    st->download(hx, m.x, 2 * d.ex_size * sizeof *hx);
    st->download(hy, m.y, 2 * d.lab_size * sizeof *hy);
    st->download(ha, m.absent, 6);
    assert_memory_equal(hx, d.x, 2 * d.ex_size * sizeof *hx);
    assert_memory_equal(hy, d.y, 2 * d.lab_size * sizeof *hy);
    assert_memory_equal(ha, d.absent, 6);
    /* examples with other lazy classes than the mirror's do not bring them */
    d.lazy_c = 2;
    ekn_dataset_dev_put(&m, &d, 0, 1);
    assert_null(m.labelled);
    assert_null(m.absent);
    d.lazy_c = 3;
    free(hx);
    free(hy);
    ekn_dataset_dev_free(&m);
    ekn_dataset_free(&d);
}

TU_MAIN(cmocka_unit_test(test_names),        cmocka_unit_test(test_groups), cmocka_unit_test(test_refused),
        cmocka_unit_test(test_write_read),   cmocka_unit_test(test_metadata), cmocka_unit_test(test_cut),
        cmocka_unit_test(test_batch_roundtrip), cmocka_unit_test(test_mirror))
