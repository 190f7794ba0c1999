/* test_opt: the option rows of lib/core/opt.h (OPT_* macros), the spatial
 * list type (ekn_zyx: EKN_OPT_ZYX) and the device sub-table
 * (lib/core/device_opts.h).  The rest of the engine: test_stream.c. */
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

#include "device_opts.h"
#include "opt.h"

/* ---- ekn_zyx_parse ------------------------------------------------------------- */

static void expect_zyx(const char *s, int real, double lo, double hi, int n, double a, double b, double c)
{
    ekn_zyx z = {0};
    ekn_err err = {0};
    int rc = ekn_zyx_parse(&z, s, real, lo, hi, "--patch", &err);
    if (rc) fprintf(stderr, "'%s': %s\n", s, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(z.n, n);
    assert_ptr_equal(z.text, s);
    double want[3] = {a, b, c};
    for (int k = 0; k < n; k++) assert_true(z.v[k] == want[k]);
}

/* A bad list: -1, a usage error of one line that names the option and
 * contains `what`; z is left as it was. */
static void expect_bad(const char *s, int real, double lo, double hi, const char *what)
{
    ekn_zyx z = {2, {7, 8, 0}, "before"};
    ekn_err err = {0};
    int rc = ekn_zyx_parse(&z, s, real, lo, hi, "--patch", &err);
    if (rc != -1 || !strstr(err.msg, what)) fprintf(stderr, "'%s': rc %d: '%s'\n", s, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_non_null(strstr(err.msg, what));
    assert_true(strncmp(err.msg, "--patch", 7) == 0);
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(z.n, 2);
    assert_true(z.v[0] == 7 && z.v[1] == 8);
    assert_string_equal(z.text, "before");
}

static void test_zyx_good(void **state)
{
    (void)state;
    expect_zyx("30,512,512", 0, 1, EKN_ZYX_MAX, 3, 30, 512, 512);
    expect_zyx("64,64", 0, 1, EKN_ZYX_MAX, 2, 64, 64, 0);
    expect_zyx("64x32", 0, 1, EKN_ZYX_MAX, 2, 64, 32, 0); /* 'x' separates integers too */
    expect_zyx("5x17,15", 0, 1, EKN_ZYX_MAX, 3, 5, 17, 15);
    expect_zyx("9", 0, 1, EKN_ZYX_MAX, 1, 9, 0, 0);
    expect_zyx("0,0", 0, 0, EKN_ZYX_MAX, 2, 0, 0, 0);     /* min 0: offsets, margins */
    expect_zyx("1073741824", 0, 1, EKN_ZYX_MAX, 1, 1073741824.0, 0, 0);
    expect_zyx("3,4", 0, 0, 0, 2, 3, 4, 0);                /* unbounded means EKN_ZYX_MAX */
    expect_zyx("2.5,1,1e-3", 1, 0, 0, 3, 2.5, 1, 1e-3);
    expect_zyx("-1.5", 1, 0, 0, 1, -1.5, 0, 0);            /* reals: the command checks the range */
}

static void test_zyx_bad(void **state)
{
    (void)state;
    const char *ints = "must be up to 3 integers >= 1 separated by commas";
    expect_bad("", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad("a", 0, 1, EKN_ZYX_MAX, "you specified 'a'");
    expect_bad("1,2,3,4", 0, 1, EKN_ZYX_MAX, "--patch must be up to 3 integers >= 1 separated by commas, you specified '1,2,3,4'");
    expect_bad("0", 0, 1, EKN_ZYX_MAX, "you specified '0'");
    expect_bad("-1,4", 0, 0, EKN_ZYX_MAX, "integers >= 0");
    expect_bad("1,,2", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad("3,", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad(",3", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad("1.5", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad("4;4", 0, 1, EKN_ZYX_MAX, ints);
    expect_bad("99999999999999999999", 0, 1, EKN_ZYX_MAX, ints); /* out of long: ERANGE */
    expect_bad("5000000000", 0, 1, EKN_ZYX_MAX, "--patch: 5000000000 is too large");
    expect_bad("1073741825", 0, 1, 0, "1073741825 is too large");
    expect_bad("4,9", 0, 1, 8, "--patch: 9 is too large");
    const char *reals = "must be up to 3 numbers separated by commas";
    expect_bad("1,inf", 1, 0, 0, "--patch must be up to 3 numbers separated by commas, you specified '1,inf'");
    expect_bad("nan", 1, 0, 0, reals);
    expect_bad("1e999", 1, 0, 0, reals);
    expect_bad("1,2,3,4", 1, 0, 0, reals);
    expect_bad("2x2", 1, 0, 0, reals); /* 'x' only between integers */
    expect_bad("", 1, 0, 0, reals);
}

static void test_zyx_place(void **state)
{
    (void)state;
    ekn_zyx z = {0};
    ekn_err err = {0};
    int v[3] = {1, 1, 1};
    ekn_zyx_place(&z, v); /* not given: nothing changes */
    assert_int_equal(v[0] + v[1] + v[2], 3);
    assert_int_equal(ekn_zyx_parse(&z, "7,9", 0, 1, EKN_ZYX_MAX, "--tile", &err), 0);
    int w[3] = {5, 0, 0};
    ekn_zyx_place(&z, w); /* right-aligned: Y,X; Z keeps its value */
    assert_int_equal(w[0], 5);
    assert_int_equal(w[1], 7);
    assert_int_equal(w[2], 9);
    assert_int_equal(ekn_zyx_parse(&z, "3,7,9", 0, 1, EKN_ZYX_MAX, "--tile", &err), 0);
    ekn_zyx_place(&z, w);
    assert_int_equal(w[0], 3);
    assert_int_equal(ekn_zyx_parse(&z, "0.5", 1, 0, 0, "--spacing", &err), 0);
    double d[3] = {1, 1, 1};
    ekn_zyx_place_real(&z, d);
    assert_true(d[0] == 1 && d[1] == 1 && d[2] == 0.5);
}

/* ---- rows in a table -------------------------------------------------------------- */

typedef struct test_opts {
    ekn_zyx patch, spacing, tile;
    int flag, small;
    long big;
    uint64_t seed;
    const char *mode, *word;
    int mode_given;
    ekn_device_opts dev;
} test_opts;

static test_opts o;

static const ekn_option options[] = {
    OPT_ZYX('p', "patch", &o.patch, "Z,Y,X", "input patch", 1, EKN_ZYX_MAX),
    OPT_ZYX_REAL(0, "spacing", &o.spacing, "Z,Y,X", "voxel spacing"),
    OPT_ZYX(0, "tile", &o.tile, "Z,Y,X", "tile with a default", 1, 64),
    OPT_FLAG('f', "flag", &o.flag, "a flag"),
    OPT_INT('s', "small", &o.small, "N", "an int", -5, 5),
    OPT_INT(0, "big", &o.big, "N", "a long", 0, 1e15),
    OPT_INT(0, "seed", &o.seed, "S", "a uint64_t", 0, 9e18),
    OPT_CHOICE(0, "mode", &o.mode, "M", "a choice [auto: whatever fits]", "auto|on|off", .flags = EKN_OPTF_OWN_DEFAULT,
               .given = &o.mode_given),
    OPT_STRING(0, "word", &o.word, "W", "a string"),
    EKN_DEVICE_OPTIONS(&o.dev),
    OPT_END(),
};
static const ekn_command cmd = {"ekn-test", "[options]", "Test the option rows.", options};

static int parse(const char *line, ekn_err *err)
{
    static char storage[512];
    static char *argv[64];
    snprintf(storage, sizeof storage, "%s", line);
    int argc = 0;
    argv[argc++] = "ekn-test";
    for (char *tok = strtok(storage, " "); tok; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    memset(&o, 0, sizeof o);
    o.mode = "auto";
    o.small = 2;
    o.big = 3;
    o.seed = 4;
    o.tile = (ekn_zyx){2, {8, 16, 0}, "8,16"};
    o.dev = (ekn_device_opts)EKN_DEVICE_OPTS_INIT;
    memset(err, 0, sizeof *err);
    int first;
    return ekn_opt_parse(&cmd, argc, argv, &first, err);
}

static void test_rows_parse(void **state)
{
    (void)state;
    ekn_err err;
    assert_int_equal(parse("--patch 5,17,15 --spacing=2,0.5,0.5 -fs-3 --big=7 --seed 9000000000000000000 --mode on", &err),
                     EKN_OPT_CONTINUE);
    assert_int_equal(o.patch.n, 3);
    assert_true(o.patch.v[0] == 5 && o.patch.v[1] == 17 && o.patch.v[2] == 15);
    assert_string_equal(o.patch.text, "5,17,15");
    assert_int_equal(o.spacing.n, 3);
    assert_true(o.spacing.v[0] == 2 && o.spacing.v[2] == 0.5);
    assert_int_equal(o.flag, 1);
    assert_int_equal(o.small, -3);
    assert_int_equal(o.big, 7);
    assert_true(o.seed == 9000000000000000000ull);
    assert_string_equal(o.mode, "on");
    assert_int_equal(o.mode_given, 1);
    assert_int_equal(o.tile.n, 2); /* not given: the default stays */
    assert_int_equal(parse("-p8x8 --tile 4", &err), EKN_OPT_CONTINUE);
    assert_int_equal(o.patch.n, 2);
    assert_int_equal(o.tile.n, 1);
    /* the device sub-table */
    assert_int_equal(parse("--device cpu -j 3 --precision tf32 --nondeterministic", &err), EKN_OPT_CONTINUE);
    assert_string_equal(o.dev.device, "cpu");
    assert_int_equal(o.dev.threads, 3);
    assert_string_equal(o.dev.precision, "tf32");
    assert_int_equal(o.dev.nondeterministic, 1);
    assert_int_equal(parse("", &err), EKN_OPT_CONTINUE);
    assert_string_equal(o.dev.device, "auto");
    assert_string_equal(o.dev.precision, "fp32");
}

/* ekn_opt_given: the options of the last parse only, by long name, short
 * and bundled spellings included; defaults do not count. */
static void test_rows_given(void **state)
{
    (void)state;
    ekn_err err;
    assert_int_equal(parse("--big=7 -fs-3 --device cpu", &err), EKN_OPT_CONTINUE);
    assert_true(ekn_opt_given("big"));
    assert_true(ekn_opt_given("flag"));  /* -f, bundled */
    assert_true(ekn_opt_given("small")); /* -s-3 */
    assert_true(ekn_opt_given("device"));
    assert_false(ekn_opt_given("seed"));
    assert_false(ekn_opt_given("patch"));
    assert_false(ekn_opt_given("no-such-option"));
    assert_int_equal(parse("--seed 3", &err), EKN_OPT_CONTINUE);
    assert_true(ekn_opt_given("seed"));
    assert_false(ekn_opt_given("big")); /* forgotten with the next parse */
    /* a value set outside the command line (ekn_opt_set) is not "given" */
    ekn_option row = options[5]; /* --big */
    long v = 0;
    row.dest = &v;
    assert_int_equal(ekn_opt_set(&row, NULL, "12", &err), 0);
    assert_int_equal(v, 12);
    assert_false(ekn_opt_given("big"));
    assert_true(ekn_opt_given("seed"));
}

/* A usage error through the engine: the list's one-line message, then the hint. */
static void expect_usage(const char *line, const char *first_line)
{
    ekn_err err;
    int rc = parse(line, &err);
    char want[800];
    snprintf(want, sizeof want, "%s\nTry 'ekn-test --help' for more information.", first_line);
    if (rc != -1 || strcmp(err.msg, want)) fprintf(stderr, "'%s': rc %d: '%s'\n", line, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, EKN_EXIT_USAGE);
    assert_string_equal(err.msg, want);
}

static void test_rows_errors(void **state)
{
    (void)state;
    expect_usage("--patch 0,4", "--patch must be up to 3 integers >= 1 separated by commas, you specified '0,4'");
    expect_usage("-p 1,2,3,4", "--patch must be up to 3 integers >= 1 separated by commas, you specified '1,2,3,4'");
    expect_usage("--tile=65", "--tile: 65 is too large");
    expect_usage("--spacing 1,x", "--spacing must be up to 3 numbers separated by commas, you specified '1,x'");
    expect_usage("--patch", "option '--patch' needs a value");
    expect_usage("--small 6", "--small must be an integer from -5 to 5, you specified 6");
    expect_usage("-j 2000", "--threads must be an integer from 0 to 1024, you specified 2000");
    expect_usage("--precision fp16", "--precision must be one of fp32|tf32, you specified 'fp16'");
}

/* Runs ekn_opt_print_help with stdout sent to a file; returns what it printed. */
static char *help_text(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/ekn-test-opt-%ld.txt", (long)getpid());
    ekn_err err;
    parse("", &err);
    fflush(stdout);
    int saved = dup(1);
    FILE *fp = fopen(path, "w+");
    assert_non_null(fp);
    dup2(fileno(fp), 1);
    ekn_opt_print_help(&cmd);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    long len = ftell(fp);
    char *text = calloc((size_t)len + 1, 1);
    assert_non_null(text);
    rewind(fp);
    assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    unlink(path);
    return text;
}

static const char *line_of(const char *text, const char *opt, char *buf, size_t cap)
{
    const char *p = strstr(text, opt);
    assert_non_null(p);
    while (p > text && p[-1] != '\n') p--;
    size_t n = strcspn(p, "\n");
    snprintf(buf, cap, "%.*s", (int)n, p);
    return buf;
}

static void test_rows_help(void **state)
{
    (void)state;
    char *h = help_text(), buf[512];
    /* defaults in brackets, read through the row's type */
    assert_non_null(strstr(line_of(h, "--small N", buf, sizeof buf), "an int [2]"));
    assert_non_null(strstr(line_of(h, "--big N", buf, sizeof buf), "a long [3]"));
    assert_non_null(strstr(line_of(h, "--seed S", buf, sizeof buf), "a uint64_t [4]"));
    assert_non_null(strstr(line_of(h, "--tile Z,Y,X", buf, sizeof buf), "tile with a default [8,16]"));
    /* a list without a default has no brackets */
    line_of(h, "-p, --patch Z,Y,X", buf, sizeof buf);
    assert_null(strchr(buf, '['));
    /* a help text that states its default gets no second one */
    line_of(h, "--mode M", buf, sizeof buf);
    assert_non_null(strstr(buf, "a choice [auto: whatever fits] (auto|on|off)"));
    assert_null(strstr(buf, "[auto]"));
    /* the device rows: each default once */
    line_of(h, "--device DEV", buf, sizeof buf);
    assert_non_null(strstr(buf, "(a GPU when there is one) [auto]"));
    assert_null(strstr(buf, "[auto] [auto]"));
    assert_non_null(strstr(line_of(h, "-j, --threads N", buf, sizeof buf), "(0: OpenBLAS's default) [0]"));
    assert_non_null(strstr(line_of(h, "--precision P", buf, sizeof buf), "(fp32|tf32) [fp32]"));
    free(h);
}

static void test_rows_completion(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/ekn-test-opt-c-%ld.txt", (long)getpid());
    fflush(stdout);
    int saved = dup(1);
    FILE *fp = fopen(path, "w+");
    assert_non_null(fp);
    dup2(fileno(fp), 1);
    ekn_err err;
    int rc = parse("--completion-helper", &err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, EKN_OPT_DONE);
    char text[1024] = "";
    rewind(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = 0;
    fclose(fp);
    unlink(path);
    assert_string_equal(text, "--patch=\n--spacing=\n--tile=\n--flag\n--small=\n--big=\n--seed=\n--mode=\n--word=\n"
                              "--device=\n--precision=\n--nondeterministic\n--threads=\n"
                              "--help\n--version\n--verbose\n");
}

TU_MAIN(cmocka_unit_test(test_zyx_good),     cmocka_unit_test(test_zyx_bad),
        cmocka_unit_test(test_zyx_place),    cmocka_unit_test(test_rows_parse),
        cmocka_unit_test(test_rows_errors),  cmocka_unit_test(test_rows_help),
        cmocka_unit_test(test_rows_completion), cmocka_unit_test(test_rows_given))
