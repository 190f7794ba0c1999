/* test_plot: the plot library without gnuplot: log reading by column name,
 * the gain share and moving average against direct computation, the
 * scripts' series and errors, tensor slicing, rasters and the confusion
 * report parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plot.h"
#include "testutil.h"

static char tmp_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/ekn-test-plot-%ld.tsv", (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(tmp_path);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen(tmp_path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The script as a string (caller frees); -1 from the generator gives NULL. */
static char *log_script(const ekn_plot_log *logs, int n, int what, ekn_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ekn_plot_log_opts o = {what, "step", 3, NULL};
    int rc = ekn_plot_log_script(f, logs, n, &o, err);
    fclose(f);
    if (rc) {
        free(text);
        return NULL;
    }
    return text;
}

static size_t count_substr(const char *s, const char *sub)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static void test_log_columns_by_name(void **state)
{
    (void)state;
    /* columns in another order than ekn-train's, an extra one, nan, an empty field */
    write_file("loss\textra\tstep\tgain\n"
               "0.5\t7\t10\tnan\n"
               "0.25\t8\t20\t-0.125\n"
               "\t9\t30\t0.5\n");
    ekn_plot_log log;
    ekn_err err = {0};
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), 0);
    assert_int_equal(log.ncols, 4);
    assert_int_equal(log.nrows, 3);
    int step = ekn_plot_log_find(&log, "step"), loss = ekn_plot_log_find(&log, "loss");
    int gain = ekn_plot_log_find(&log, "gain");
    assert_int_equal(step, 2);
    assert_int_equal(loss, 0);
    assert_int_equal(ekn_plot_log_find(&log, "val_loss"), -1);
    assert_true(log.col[step][1] == 20 && log.col[loss][1] == 0.25 && log.col[gain][1] == -0.125);
    assert_true(isnan(log.col[gain][0]));
    assert_true(isnan(log.col[loss][2])); /* empty field */
    ekn_plot_log_free(&log);
}

static void test_log_partial_and_bad_rows(void **state)
{
    (void)state;
    ekn_plot_log log;
    ekn_err err = {0};
    /* a row being written (no newline, too few fields) is left out */
    write_file("step\tloss\tgain\n1\t0.5\t0.1\n2\t0.4");
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), 0);
    assert_int_equal(log.nrows, 1);
    ekn_plot_log_free(&log);
    /* a complete row of the wrong width is an error with its line number */
    write_file("step\tloss\n1\t0.5\n2\t0.4\t9\n");
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_FAIL);
    assert_non_null(strstr(err.msg, ":3: 3 fields, the header has 2"));
    /* numbers in the first line: no header */
    write_file("1\t0.5\n");
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), -1);
    assert_non_null(strstr(err.msg, "not a column name"));
    write_file("");
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), -1);
    assert_non_null(strstr(err.msg, "empty log"));
}

static void test_gain_share_and_moving_average(void **state)
{
    (void)state;
    uint64_t seed = tu_seed_for("gain_share_and_moving_average");
    enum { N = 1000 };
    double x[N], avg[N];
    size_t up = 0, finite = 0;
    for (int i = 0; i < N; i++) {
        uint64_t r = tu_next(&seed);
        x[i] = r % 7 == 0 ? NAN : (double)(int64_t)(r >> 40) / (1 << 23) - 1.0;
        if (!isnan(x[i])) finite++, up += x[i] > 0;
    }
    size_t n;
    double share = ekn_plot_gain_up_share(x, N, &n);
    assert_int_equal(n, finite);
    assert_true(share == (double)up / (double)finite);
    assert_true(up > 0 && up < finite); /* the data has both signs, so the check means something */

    for (int window = 1; window <= 50; window += 7) {
        ekn_plot_moving_average(x, N, window, avg);
        size_t bad = 0;
        for (int i = 0; i < N; i++) {
            double sum = 0;
            int cnt = 0;
            for (int j = i - window + 1; j <= i; j++)
                if (j >= 0 && !isnan(x[j])) sum += x[j], cnt++;
            double want = cnt ? sum / cnt : NAN;
            if (isnan(want) ? !isnan(avg[i]) : fabs(avg[i] - want) > 1e-12 * (1 + fabs(want))) bad++;
        }
        if (bad) fprintf(stderr, "window %d: %zu of %d averages wrong\n", window, bad, N);
        assert_int_equal(bad, 0);
    }
    double none[3] = {NAN, NAN, NAN};
    assert_true(isnan(ekn_plot_gain_up_share(none, 3, &n)) && n == 0);
}

static void test_log_script_series(void **state)
{
    (void)state;
    write_file("step\tepoch\ttime\texamples_per_s\tloss\tloss_smooth\tloss_after\tgain\tlr\tmomentum\t"
               "mean_label\ttrain_err\tval_loss\tval_err\n"
               "1\t0.1\t0.1\t100\t1.0\t1.0\tnan\tnan\t0.01\t0.9\t0.5\t0.5\tnan\tnan\n"
               "2\t0.2\t0.2\t100\t0.9\t0.99\t0.8\t-0.1\t0.01\t0.9\t0.5\t0.4\tnan\tnan\n"
               "3\t0.3\t0.3\t100\t0.8\t0.98\t0.9\t0.2\t0.01\t0.9\t0.4\t0.3\tnan\tnan\n"
               "4\t0.4\t0.4\t100\t0.7\t0.97\t0.5\t-0.3\t0.01\t0.9\t0.6\t0.3\t0.75\t0.25\n"
               "5\t0.5\t0.5\t100\t0.6\t0.96\t0.6\t0.1\t0.005\t0.9\t0.5\t0.2\tnan\tnan\n");
    ekn_plot_log log;
    ekn_err err = {0};
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), 0);

    char *s = log_script(&log, 1, EKN_PLOT_LOSS, &err);
    assert_non_null(s);
    assert_int_equal(count_substr(s, "\nplot "), 1);
    assert_non_null(strstr(s, "title 'loss per step'"));
    assert_non_null(strstr(s, "title 'smoothed'"));
    assert_non_null(strstr(s, "title 'validation'"));
    /* the validation series holds its one finite row only */
    assert_non_null(strstr(s, "<< EOD\n4 0.75\nEOD\n"));
    free(s);

    s = log_script(&log, 1, EKN_PLOT_GAIN, &err);
    assert_non_null(s);
    /* 2 of the 4 measured gains are > 0 */
    assert_non_null(strstr(s, "50.0% of 4 updates increased the loss"));
    assert_non_null(strstr(s, "title 'zero'"));
    assert_non_null(strstr(s, "axes x1y2"));
    assert_non_null(strstr(s, "title 'learning rate (y2)'"));
    free(s);

    /* all: the pictures with data; no cg columns, so no cg picture */
    s = log_script(&log, 1, EKN_PLOT_ALL, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "set multiplot layout 3,2"));
    assert_int_equal(count_substr(s, "\nplot "), 5);
    assert_null(strstr(s, "conjugate"));
    free(s);

    /* two logs: every series title names its log */
    ekn_plot_log two[2] = {log, log};
    snprintf(two[1].label, sizeof two[1].label, "other");
    s = log_script(two, 2, EKN_PLOT_LOSS, &err);
    assert_non_null(s);
    assert_int_equal(count_substr(s, "title 'other: "), 3);
    free(s);

    /* a missing column the picture needs is an error naming it */
    assert_null(log_script(&log, 1, EKN_PLOT_CG, &err));
    assert_non_null(strstr(err.msg, "no column 'step_size'"));
    ekn_plot_log_free(&log);
}

static void test_log_script_no_data(void **state)
{
    (void)state;
    write_file("step\tloss\tgain\tlr\n1\tnan\tnan\t0.1\n2\tnan\tnan\t0.1\n");
    ekn_plot_log log;
    ekn_err err = {0};
    assert_int_equal(ekn_plot_log_read(&log, tmp_path, &err), 0);
    char *s = log_script(&log, 1, EKN_PLOT_LOSS, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "'no data'"));
    assert_non_null(strstr(s, "plot NaN"));
    free(s);
    s = log_script(&log, 1, EKN_PLOT_GAIN, &err);
    assert_non_null(s);
    assert_non_null(strstr(s, "no gain measured"));
    free(s);
    ekn_plot_log_free(&log);
}

static void test_slices(void **state)
{
    (void)state;
    /* image (N=2, C=2, Z=3, Y=4, X=5) holding its own flat index */
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    uint64_t shape[5] = {2, 2, 3, 4, 5};
    assert_int_equal(ekn_tensor_reshape(&t, EKN_F32, 5, shape, &err), 0);
    float *d = t.data;
    for (size_t i = 0; i < ekn_tensor_numel(&t); i++) d[i] = (float)i;
    const char axes[3] = {'z', 'y', 'x'};
    for (int a = 0; a < 3; a++) {
        ekn_plot_view v;
        assert_int_equal(ekn_plot_slice(&v, &t, 1, 1, 1, axes[a], 2, &err), 0);
        size_t bad = 0;
        for (int i = 0; i < v.h; i++)
            for (int j = 0; j < v.w; j++) {
                int z = a == 0 ? 2 : i, y = a == 0 ? i : a == 1 ? 2 : j, x = a == 2 ? 2 : j;
                double want = (double)((((1 * 2 + 1) * 3 + z) * 4 + y) * 5 + x);
                bad += ekn_tensor_get(&t, v.base + (size_t)i * v.sy + (size_t)j * v.sx) != want;
            }
        assert_int_equal(bad, 0);
        assert_int_equal(v.h, a == 0 ? 4 : 3);
        assert_int_equal(v.w, a == 2 ? 4 : 5);
    }
    ekn_plot_view v;
    assert_int_equal(ekn_plot_slice(&v, &t, 1, 0, 0, 'z', -1, &err), 0); /* the middle */
    assert_true(ekn_tensor_get(&t, v.base) == 1 * 4 * 5);
    assert_int_equal(ekn_plot_slice(&v, &t, 1, 0, 0, 'z', 3, &err), -1);
    assert_non_null(strstr(err.msg, "--index 3 out of range"));
    assert_int_equal(ekn_plot_slice(&v, &t, 1, 0, 2, 'z', 0, &err), -1);
    assert_non_null(strstr(err.msg, "channel 2"));
    assert_int_equal(ekn_plot_slice(&v, &t, 1, 2, 0, 'z', 0, &err), -1);
    ekn_tensor_free(&t);
}

static void test_raster(void **state)
{
    (void)state;
    ekn_tensor t = EKN_TENSOR_INIT, lab = EKN_TENSOR_INIT;
    ekn_err err = {0};
    uint64_t shape[4] = {1, 1, 2, 3}, lshape[3] = {1, 1, 1};
    assert_int_equal(ekn_tensor_reshape(&t, EKN_F32, 4, shape, &err), 0);
    float *d = t.data;
    for (int i = 0; i < 6; i++) d[i] = (float)(10 + 2 * i); /* 10..20: grey 0..255 */
    ekn_plot_raster r;
    assert_int_equal(ekn_plot_raster_init(&r, 4, 3, 0x123456, &err), 0);
    ekn_plot_view v;
    assert_int_equal(ekn_plot_slice(&v, &t, 1, 0, 0, 'z', -1, &err), 0);
    ekn_plot_draw_grey(&r, &v, 1, 1, 1);
    assert_int_equal(r.rgb[0], 0x123456);          /* outside the picture */
    assert_int_equal(r.rgb[1 * 4 + 1], 0x000000);  /* the minimum */
    assert_int_equal(r.rgb[2 * 4 + 3], 0xffffff);  /* the maximum, at (y 1, x 2) */
    assert_int_equal(r.rgb[1 * 4 + 2], 0x333333);  /* 12: 255 * 2/10 = 51 */
    /* class 1 at offset (1, 2) with stride 1, fully opaque */
    assert_int_equal(ekn_tensor_reshape(&lab, EKN_I32, 3, lshape, &err), 0);
    *(int32_t *)lab.data = 1;
    assert_int_equal(ekn_plot_slice(&v, &lab, 0, 0, 0, 'z', -1, &err), 0);
    ekn_plot_draw_classes(&r, &v, 1, 1, 1, 1, 2, 1, 1, 1.0);
    assert_int_equal(r.rgb[2 * 4 + 3], ekn_plot_class_colour(1));
    assert_int_equal(r.rgb[1 * 4 + 1], 0x000000); /* untouched */

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ekn_plot_raster_script(f, &r, "x", 0);
    fclose(f);
    /* three rows of four numbers between the EOD lines */
    const char *rows = strstr(text, "$raster << EOD\n");
    assert_non_null(rows);
    unsigned a[4];
    int n = sscanf(rows + 15, "%u %u %u %u", &a[0], &a[1], &a[2], &a[3]);
    assert_int_equal(n, 4);
    assert_int_equal(a[0], 0x123456);
    assert_non_null(strstr(text, "with rgbimage"));
    free(text);
    /* binary: the 4x3 pixels as R, G, B bytes right after the plot line, then a newline */
    f = open_memstream(&text, &len);
    assert_non_null(f);
    ekn_plot_raster_script(f, &r, "x", 1);
    fclose(f);
    assert_null(strstr(text, "$raster"));
    const char *plot = strstr(text, "plot '-' binary array=(4,3) dy=1 format='%uchar%uchar%uchar' with rgbimage\n");
    assert_non_null(plot);
    const unsigned char *px = (const unsigned char *)strchr(plot, '\n') + 1;
    assert_int_equal(len, (size_t)(px - (const unsigned char *)text) + 4 * 3 * 3 + 1);
    assert_true(px[0] == 0x12 && px[1] == 0x34 && px[2] == 0x56);
    const unsigned char *max = px + (2 * 4 + 3) * 3; /* the class colour drawn above */
    assert_int_equal((unsigned)(max[0] << 16 | max[1] << 8 | max[2]), ekn_plot_class_colour(1));
    assert_int_equal(px[4 * 3 * 3], '\n');
    free(text);
    ekn_plot_raster_free(&r);
    ekn_tensor_free(&t);
    ekn_tensor_free(&lab);

    int cols, nrows;
    ekn_plot_grid_shape(10, &cols, &nrows);
    assert_true(cols == 4 && nrows == 3);
    ekn_plot_grid_shape(1, &cols, &nrows);
    assert_true(cols == 1 && nrows == 1);
}

static void test_confusion(void **state)
{
    (void)state;
    write_file("accuracy\t0.7500\t(6 of 8)\n"
               "confusion (rows: label, columns: predicted)\n"
               "0\t3\t1\n1\t1\t3\n"
               "class\tprecision\trecall\tsupport\n0\t0.75\t0.75\t4\n");
    ekn_plot_confusion c;
    ekn_err err = {0};
    assert_int_equal(ekn_plot_confusion_read(&c, tmp_path, &err), 0);
    assert_int_equal(c.classes, 2);
    assert_true(c.count[0] == 3 && c.count[1] == 1 && c.count[2] == 1 && c.count[3] == 3);
    assert_true(c.accuracy == 0.75);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ekn_plot_confusion_script(f, &c, NULL);
    fclose(f);
    assert_non_null(strstr(text, "$share << EOD\n0.75 0.25\n0.25 0.75\nEOD\n"));
    assert_non_null(strstr(text, "accuracy 0.7500"));
    free(text);
    ekn_plot_confusion_free(&c);

    write_file("accuracy\t1\nconfusion (rows: label, columns: predicted)\n0\t3\t1\n1\t1\n");
    assert_int_equal(ekn_plot_confusion_read(&c, tmp_path, &err), -1);
    assert_non_null(strstr(err.msg, ":4: not row 1"));
    write_file("mse\t0.5\nexamples\t10\n");
    assert_int_equal(ekn_plot_confusion_read(&c, tmp_path, &err), -1);
    assert_non_null(strstr(err.msg, "no confusion matrix"));
}

static void test_formats(void **state)
{
    (void)state;
    assert_int_equal(ekn_plot_format_from_path("a/b.png"), EKN_PLOT_PNG);
    assert_int_equal(ekn_plot_format_from_path("b.svg"), EKN_PLOT_SVG);
    assert_int_equal(ekn_plot_format_from_path("b.pdf"), EKN_PLOT_PDF);
    assert_int_equal(ekn_plot_format_from_path("b.txt"), EKN_PLOT_DUMB);
    assert_int_equal(ekn_plot_format_from_path("b.jpg"), -1);
    assert_int_equal(ekn_plot_format_from_path("dir.png/b"), -1);
    assert_int_equal(ekn_plot_what_parse("gain"), EKN_PLOT_GAIN);
    assert_int_equal(ekn_plot_what_parse("all"), EKN_PLOT_ALL);
    assert_int_equal(ekn_plot_what_parse("loss2"), -1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ekn_plot_quote(f, "it's");
    fclose(f);
    assert_string_equal(text, "'it''s'");
    free(text);
}

TU_MAIN(cmocka_unit_test_setup_teardown(test_log_columns_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_partial_and_bad_rows, setup, teardown),
        cmocka_unit_test(test_gain_share_and_moving_average),
        cmocka_unit_test_setup_teardown(test_log_script_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_script_no_data, setup, teardown),
        cmocka_unit_test(test_slices),
        cmocka_unit_test(test_raster),
        cmocka_unit_test_setup_teardown(test_confusion, setup, teardown),
        cmocka_unit_test(test_formats))
