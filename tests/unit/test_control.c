/* test_control: ekn-train's control file (lib/nn/control.h).  Lines are
 * parsed whole with --lr's and --momentum's ranges, trailing words and
 * over-long lines are refused (a long comment's tail never runs), a regular
 * file is consumed, and a FIFO is read without blocking, with or without a
 * writer, a line cut short waiting for its end.  Warnings are captured from
 * stderr to check their "'FILE':LINE:" prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "control.h"

/* ---- parsing one line ------------------------------------------------------ */

static int parse(const char *line, ekn_control_cmd *cmd, ekn_err *e)
{
    memset(e, 0, sizeof *e);
    return ekn_control_parse_line(line, cmd, e);
}

static void test_parse_commands(void **state)
{
    (void)state;
    ekn_control_cmd c;
    ekn_err e;
    assert_int_equal(parse("lr 0.1", &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_LR);
    assert_true(c.value == 0.1);
    assert_int_equal(parse("  \tlr\t1e6 \r", &c, &e), 1); /* --lr's maximum, blanks and a CR around */
    assert_true(c.value == 1e6);
    assert_int_equal(parse("momentum 0", &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_MOMENTUM);
    assert_true(c.value == 0);
    assert_int_equal(parse("momentum 0.95", &c, &e), 1);
    assert_true(c.value == 0.95);
    assert_int_equal(parse("save", &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_SAVE);
    assert_int_equal(parse("stop ", &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_STOP);
    assert_int_equal(parse("optimizer adam", &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_OPTIMIZER);
    assert_string_equal(c.name, "adam");
    assert_string_equal(c.params, "");
    assert_int_equal(parse("optimizer cg max_step=0.1", &c, &e), 1);
    assert_string_equal(c.name, "cg");
    assert_string_equal(c.params, "max_step=0.1");
    /* ignored */
    assert_int_equal(parse("", &c, &e), 0);
    assert_int_equal(parse("   \t", &c, &e), 0);
    assert_int_equal(parse("\r", &c, &e), 0);
    assert_int_equal(parse("# stop", &c, &e), 0);
    assert_int_equal(parse("   #lr 5", &c, &e), 0);
}

/* Each is refused with a message that contains `want`. */
static void refused(const char *line, const char *want)
{
    ekn_control_cmd c;
    ekn_err e;
    int k = parse(line, &c, &e);
    if (k != -1 || !strstr(e.msg, want))
        fail_msg("'%.60s': got %d '%s', expected -1 with '%s'", line, k, e.msg, want);
    assert_int_equal(e.code, EKN_EXIT_USAGE);
}

static void test_parse_refused(void **state)
{
    (void)state;
    /* the ranges of the option rows, with their message */
    refused("lr 1e308", "lr must be a number > 0 and <= 1e+06, you specified 1e308");
    refused("lr 0", "lr must be a number > 0");
    refused("lr -1", "lr must be");
    refused("lr nan", "lr needs a finite number, you specified 'nan'");
    refused("lr inf", "needs a finite number");
    refused("lr 1e400", "needs a finite number");
    refused("lr 0.1x", "needs a finite number");
    refused("momentum 1", "momentum must be a number from 0 to 0.999999, you specified 1");
    refused("momentum -0.1", "momentum must be");
    /* words too many or too few */
    refused("lr 0.1 0.2", "'lr' takes one value, found '0.2' after it");
    refused("lr", "'lr' needs a value");
    refused("momentum", "'momentum' needs a value");
    refused("stop now", "'stop' takes no value, found 'now'");
    refused("save later", "'save' takes no value");
    refused("optimizer", "'optimizer' needs a name");
    refused("optimizer adagrad", "unknown optimiser 'adagrad'");
    refused("optimizer adam beta1=0.8 extra", "found 'extra' after them");
    refused("stopp", "unknown command 'stopp'");
    refused("STOP", "unknown command");
    refused("lr=0.1", "unknown command 'lr=0.1'");
    /* a line longer than the limit, whatever it ends with */
    char *line = malloc(EKN_CONTROL_LINE_MAX + 16);
    memset(line, ' ', EKN_CONTROL_LINE_MAX + 10);
    memcpy(line, "lr", 2);
    strcpy(line + EKN_CONTROL_LINE_MAX + 6, "0.1");
    refused(line, "line longer than");
    /* the limit itself is accepted, with a CR beyond it */
    memset(line, ' ', EKN_CONTROL_LINE_MAX);
    memcpy(line, "stop", 4);
    line[EKN_CONTROL_LINE_MAX] = '\r';
    line[EKN_CONTROL_LINE_MAX + 1] = 0;
    ekn_control_cmd c;
    ekn_err e;
    assert_int_equal(parse(line, &c, &e), 1);
    assert_int_equal(c.op, EKN_CTL_STOP);
    line[EKN_CONTROL_LINE_MAX] = ' ';
    refused(line, "line longer than");
    free(line);
}

/* ---- polling ---------------------------------------------------------------- */

typedef struct seen {
    int n;
    ekn_control_op op[32];
    double value[32];
    char line[32][64];
    int refuse_op; /* the callback refuses this op */
} seen;

static int record(void *ctx, const ekn_control_cmd *cmd, const char *line, ekn_err *err)
{
    seen *s = ctx;
    if (cmd->op == (ekn_control_op)s->refuse_op) return ekn_err_set(err, EKN_EXIT_USAGE, "refused by the caller");
    if (s->n < 32) {
        s->op[s->n] = cmd->op;
        s->value[s->n] = cmd->value;
        snprintf(s->line[s->n], sizeof s->line[0], "%s", line);
    }
    s->n++;
    return 0;
}

static char dir[64], path[128], errpath[128];
static int saved_stderr = -1;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_control.XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/ctl", dir);
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[160];
    snprintf(p, sizeof p, "%s.reading", path);
    unlink(p);
    unlink(path);
    unlink(errpath);
    rmdir(dir);
    return 0;
}

/* stderr into errpath while a poll runs */
static void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(void)
{
    static char buf[8192];
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void write_file(const char *p, const char *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_poll_file(void **state)
{
    (void)state;
    ekn_control c;
    ekn_control_init(&c, path);
    seen s = {0};
    assert_int_equal(ekn_control_poll(&c, record, &s), 0); /* no file yet */
    /* a comment longer than any buffer that ends in "stop", a 300-byte one
     * (past the old fgets(256)), a long command line, good lines around bad ones */
    size_t cap = 20000, n = 0;
    char *d = malloc(cap);
    n += (size_t)sprintf(d + n, "lr 0.002\n");
    d[n++] = '#';
    memset(d + n, 'x', 9000), n += 9000;
    n += (size_t)sprintf(d + n, " stop\n");
    d[n++] = '#';
    memset(d + n, ' ', 290), n += 290;
    n += (size_t)sprintf(d + n, "stop\n");
    n += (size_t)sprintf(d + n, "lr");
    memset(d + n, ' ', 2000), n += 2000;
    n += (size_t)sprintf(d + n, "0.5\n");
    n += (size_t)sprintf(d + n, "lr 1e308\nstop now\nmomentum 0.5 \r\nsave\nlr 0.1 0.2\n");
    n += (size_t)sprintf(d + n, "lr 0.3");
    d[n++] = 0;
    n += (size_t)sprintf(d + n, " junk\nmomentum 0.25"); /* a NUL inside; the last line has no newline */
    write_file(path, d, n);
    free(d);
    capture_begin();
    int ran = ekn_control_poll(&c, record, &s);
    char *err = capture_end();
    assert_int_equal(ran, 4);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.op[0], EKN_CTL_LR);
    assert_true(s.value[0] == 0.002);
    assert_int_equal(s.op[1], EKN_CTL_MOMENTUM);
    assert_true(s.value[1] == 0.5);
    assert_string_equal(s.line[1], "momentum 0.5 \r");
    assert_int_equal(s.op[2], EKN_CTL_SAVE);
    assert_int_equal(s.op[3], EKN_CTL_MOMENTUM);
    assert_true(s.value[3] == 0.25);
    for (int i = 0; i < s.n; i++) assert_int_not_equal(s.op[i], EKN_CTL_STOP);
    assert_non_null(strstr(err, "ctl':4: line longer than"));
    assert_non_null(strstr(err, "ctl':5: lr must be a number > 0 and <= 1e+06, you specified 1e308; not run"));
    assert_non_null(strstr(err, "ctl':6: 'stop' takes no value, found 'now'; not run"));
    assert_non_null(strstr(err, "ctl':9: 'lr' takes one value"));
    assert_non_null(strstr(err, "ctl':10: line holds a NUL byte; not run"));
    assert_null(strstr(err, "ctl':2:"));
    assert_null(strstr(err, "ctl':3:"));
    /* consumed: neither the file nor its .reading copy is left */
    struct stat st;
    char p[160];
    snprintf(p, sizeof p, "%s.reading", path);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_not_equal(stat(p, &st), 0);
    /* a new file is numbered from 1; a command the caller refuses is reported */
    write_file(path, "save\nstop\n", 10);
    seen t = {.refuse_op = EKN_CTL_SAVE};
    capture_begin();
    ran = ekn_control_poll(&c, record, &t);
    err = capture_end();
    assert_int_equal(ran, 1);
    assert_int_equal(t.op[0], EKN_CTL_STOP);
    assert_non_null(strstr(err, "ctl':1: refused by the caller; not run"));
    ekn_control_close(&c);
    /* zeroed (no path) polls nothing; closing it twice is harmless */
    ekn_control z = {0};
    assert_int_equal(ekn_control_poll(&z, record, &t), 0);
    ekn_control_close(&z);
    ekn_control_close(&z);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_control: a poll blocked\n";
    ssize_t k = write(2, msg, sizeof msg - 1);
    (void)k;
    _exit(1);
}

static void put(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_poll_fifo(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(path, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(10); /* a poll that blocks fails the test instead of hanging it */
    ekn_control c;
    ekn_control_init(&c, path);
    seen s = {0};
    /* no writer: nothing, at once, again and again */
    for (int i = 0; i < 3; i++) assert_int_equal(ekn_control_poll(&c, record, &s), 0);
    int w = open(path, O_WRONLY | O_NONBLOCK); /* succeeds: the poll holds the read end */
    assert_true(w >= 0);
    assert_int_equal(ekn_control_poll(&c, record, &s), 0); /* a writer with nothing written */
    put(w, "lr 0.2\nsto");
    assert_int_equal(ekn_control_poll(&c, record, &s), 1);
    assert_int_equal(s.op[0], EKN_CTL_LR);
    assert_true(s.value[0] == 0.2);
    assert_int_equal(ekn_control_poll(&c, record, &s), 0); /* "sto" waits for its end */
    put(w, "p now\nlr 2e6\n# ");
    capture_begin();
    assert_int_equal(ekn_control_poll(&c, record, &s), 0);
    char *err = capture_end();
    assert_non_null(strstr(err, "ctl':2: 'stop' takes no value, found 'now'; not run"));
    assert_non_null(strstr(err, "ctl':3: lr must be"));
    /* a long comment written in pieces, then a command, then the writer closes mid-line */
    char chunk[1000];
    memset(chunk, 'y', sizeof chunk - 1);
    chunk[sizeof chunk - 1] = 0;
    for (int i = 0; i < 5; i++) {
        put(w, chunk);
        assert_int_equal(ekn_control_poll(&c, record, &s), 0);
    }
    put(w, " stop\nsave\nmomentum 0.5");
    assert_int_equal(ekn_control_poll(&c, record, &s), 1);
    assert_int_equal(s.op[1], EKN_CTL_SAVE);
    close(w);
    assert_int_equal(ekn_control_poll(&c, record, &s), 1); /* the writer closed: the last line is whole */
    assert_int_equal(s.op[2], EKN_CTL_MOMENTUM);
    assert_int_equal(s.n, 3);
    /* a new writer later goes on, line numbers counting on */
    w = open(path, O_WRONLY | O_NONBLOCK);
    assert_true(w >= 0);
    put(w, "bogus\nstop\n");
    capture_begin();
    assert_int_equal(ekn_control_poll(&c, record, &s), 1);
    err = capture_end();
    assert_non_null(strstr(err, "ctl':7: unknown command 'bogus'"));
    assert_int_equal(s.op[3], EKN_CTL_STOP);
    close(w);
    /* the FIFO itself is never renamed nor removed */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    ekn_control_close(&c);
    alarm(0);
}

static void test_poll_other(void **state)
{
    (void)state;
    assert_int_equal(mkdir(path, 0700), 0);
    ekn_control c;
    ekn_control_init(&c, path);
    seen s = {0};
    capture_begin();
    assert_int_equal(ekn_control_poll(&c, record, &s), 0);
    assert_int_equal(ekn_control_poll(&c, record, &s), 0);
    char *err = capture_end();
    char *first = strstr(err, "neither a regular file nor a FIFO");
    assert_non_null(first);
    assert_null(strstr(first + 1, "neither")); /* reported once */
    ekn_control_close(&c);
    rmdir(path);
}

TU_MAIN(cmocka_unit_test(test_parse_commands),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test_setup_teardown(test_poll_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_other, setup, teardown))
