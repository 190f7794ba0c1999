#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optim.h"

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The next word of *s (blank-separated) into w (cap bytes); 0 at the end,
 * -1 when it does not fit. */
static int next_word(const char **s, char *w, size_t cap)
{
    const char *p = *s;
    while (is_blank(*p)) p++;
    if (!*p) {
        *s = p;
        return 0;
    }
    size_t n = 0;
    while (p[n] && !is_blank(p[n])) n++;
    if (n >= cap) return -1;
    memcpy(w, p, n);
    w[n] = 0;
    *s = p + n;
    return 1;
}

static int is_choice(const char *choices, const char *w)
{
    size_t n = strlen(w);
    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && !strncmp(c, w, n)) return 1;
        c = bar ? bar + 1 : c + len;
    }
    return 0;
}

int ekn_control_parse_line(const char *line, ekn_control_cmd *cmd, ekn_err *err)
{
    const char *p = line;
    while (is_blank(*p)) p++;
    if (!*p || *p == '#' || (*p == '\r' && !p[1])) return 0;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') len--;
    if (len > EKN_CONTROL_LINE_MAX)
        return ekn_err_set(err, EKN_EXIT_USAGE, "line longer than %d bytes", EKN_CONTROL_LINE_MAX);
    char buf[EKN_CONTROL_LINE_MAX + 1], word[EKN_CONTROL_LINE_MAX + 1], extra[EKN_CONTROL_LINE_MAX + 1];
    memcpy(buf, line, len);
    buf[len] = 0;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == 0)
            return ekn_err_set(err, EKN_EXIT_USAGE, "a control line holds no line breaks");
    p = buf;
    memset(cmd, 0, sizeof *cmd);
    next_word(&p, word, sizeof word); /* cannot fail: the line fits word */
    char verb[16];
    snprintf(verb, sizeof verb, "%s", word);
    if (!strcmp(word, "lr") || !strcmp(word, "momentum")) {
        int lr = word[0] == 'l';
        double v;
        const ekn_option row = lr ? (ekn_option)EKN_OPT_ROW_LR(&v) : (ekn_option)EKN_OPT_ROW_MOMENTUM(&v);
        if (next_word(&p, word, sizeof word) != 1)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'%s' needs a value", verb);
        if (next_word(&p, extra, sizeof extra) != 0)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'%s' takes one value, found '%s' after it", verb, extra);
        if (ekn_opt_set(&row, verb, word, err)) return -1;
        cmd->op = lr ? EKN_CTL_LR : EKN_CTL_MOMENTUM;
        cmd->value = v;
        return 1;
    }
    if (!strcmp(word, "optimizer")) {
        if (next_word(&p, word, sizeof word) != 1)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'optimizer' needs a name (%s)", ekn_optim_names());
        if (!is_choice(ekn_optim_names(), word))
            return ekn_err_set(err, EKN_EXIT_USAGE, "unknown optimiser '%.64s' (known: %s)", word, ekn_optim_names());
        snprintf(cmd->name, sizeof cmd->name, "%s", word);
        int k = next_word(&p, cmd->params, sizeof cmd->params);
        if (k == 1 && next_word(&p, extra, sizeof extra) != 0)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'optimizer' takes a name and KEY=VALUE,..., found '%.64s' after them",
                               extra);
        if (k != 1) cmd->params[0] = 0;
        cmd->op = EKN_CTL_OPTIMIZER;
        return 1;
    }
    if (!strcmp(word, "save") || !strcmp(word, "stop")) {
        if (next_word(&p, extra, sizeof extra) != 0)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'%s' takes no value, found '%.64s'", verb, extra);
        cmd->op = word[2] == 'v' ? EKN_CTL_SAVE : EKN_CTL_STOP;
        return 1;
    }
    return ekn_err_set(err, EKN_EXIT_USAGE, "unknown command '%.64s' (lr, momentum, optimizer, save, stop)", word);
}

void ekn_control_init(ekn_control *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
}

void ekn_control_close(ekn_control *c)
{
    if (c->fifo) close(c->fd);
    c->fifo = 0;
}

static void reset_line(ekn_control *c)
{
    c->lineno = 0;
    c->len = 0;
    c->too_long = c->nul = 0;
    c->first = 0;
}

/* One whole line has been assembled: parse and run it. */
static int take_line(ekn_control *c, ekn_control_fn fn, void *ctx)
{
    unsigned long no = ++c->lineno;
    int too_long = c->too_long, first = c->first, nul = c->nul;
    c->line[c->len] = 0;
    c->len = 0;
    c->too_long = c->nul = 0;
    c->first = 0;
    if (first == '#' || first == 0) return 0; /* a comment or a blank line, however long */
    ekn_control_cmd cmd;
    ekn_err e = {0};
    int k;
    if (too_long) k = ekn_err_set(&e, EKN_EXIT_USAGE, "line longer than %d bytes", EKN_CONTROL_LINE_MAX);
    else if (nul) k = ekn_err_set(&e, EKN_EXIT_USAGE, "line holds a NUL byte");
    else k = ekn_control_parse_line(c->line, &cmd, &e);
    if (k == 1 && fn(ctx, &cmd, c->line, &e) == 0) return 1;
    if (k != 0) ekn_warn("'%s':%lu: %s; not run", c->path, no, e.msg);
    return 0;
}

/* Feeds n bytes; whole lines run as they complete. */
static int feed(ekn_control *c, const char *b, size_t n, ekn_control_fn fn, void *ctx)
{
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (ch == '\n') {
            ran += take_line(c, fn, ctx);
            continue;
        }
        if (!ch) c->nul = 1;
        if (!c->first && !is_blank(ch) && ch != '\r') c->first = ch ? ch : '\1';
        if (c->len < sizeof c->line - 1) c->line[c->len++] = ch;
        else c->too_long = 1;
    }
    /* the buffer keeps LINE_MAX + 1 bytes: a trailing '\r' still fits, one more is too long */
    return ran;
}

static int read_all(ekn_control *c, int fd, ekn_control_fn fn, void *ctx, int *eof)
{
    char b[4096];
    int ran = 0;
    *eof = 0;
    for (;;) {
        ssize_t got = read(fd, b, sizeof b);
        if (got > 0) {
            ran += feed(c, b, (size_t)got, fn, ctx);
            continue;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break; /* a FIFO with nothing more now */
        if (got < 0) {
            ekn_warn("'%s': cannot read the control file:", c->path);
            break;
        }
        *eof = 1; /* a file's end, or a FIFO without writer */
        break;
    }
    return ran;
}

int ekn_control_poll(ekn_control *c, ekn_control_fn fn, void *ctx)
{
    if (!c->path) return 0;
    int ran = 0, eof;
    if (!c->fifo) {
        struct stat st;
        if (stat(c->path, &st) != 0) return 0; /* no file: no command */
        if (S_ISFIFO(st.st_mode)) {
            c->fd = open(c->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (c->fd < 0) {
                c->fd = 0;
                if (!c->warned) ekn_warn("'%s': cannot open the control FIFO:", c->path);
                c->warned = 1;
                return 0;
            }
            c->fifo = 1;
            reset_line(c);
        } else if (!S_ISREG(st.st_mode)) {
            if (!c->warned) ekn_warn("'%s': the control file is neither a regular file nor a FIFO; ignored", c->path);
            c->warned = 1;
            return 0;
        }
    }
    if (c->fifo) {
        ran = read_all(c, c->fd, fn, ctx, &eof);
        /* the writer has closed: a last line without its newline is whole */
        if (eof && (c->len || c->too_long)) ran += take_line(c, fn, ctx);
        return ran;
    }
    /* a regular file: taken away first, so a command written while we read lands in a new file */
    char taken[4200];
    if (snprintf(taken, sizeof taken, "%s.reading", c->path) >= (int)sizeof taken) {
        if (!c->warned) ekn_warn("'%.64s...': the control file's name is too long; ignored", c->path);
        c->warned = 1;
        return 0;
    }
    if (rename(c->path, taken) != 0) return 0;
    int fd = open(taken, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        ekn_warn("'%s': cannot open the control file:", taken);
        unlink(taken);
        return 0;
    }
    reset_line(c);
    ran = read_all(c, fd, fn, ctx, &eof);
    if (c->len || c->too_long) ran += take_line(c, fn, ctx);
    close(fd);
    unlink(taken);
    return ran;
}
