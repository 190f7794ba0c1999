#include "diag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"

int ekn_verbose;
static const char *progname = "ekn";
static void (*cleanups[8])(void);
static int ncleanups;
static int dying;

int ekn_dying(void) { return dying; }

void ekn_set_progname(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    progname = slash ? slash + 1 : (argv0 ? argv0 : "ekn");
}

const char *ekn_progname(void) { return progname; }

void ekn_atexit_cleanup(void (*fn)(void))
{
    for (int i = 0; i < ncleanups; i++)
        if (cleanups[i] == fn) return;
    if (ncleanups < 8) cleanups[ncleanups++] = fn;
}

void ekn_run_cleanups(void)
{
    while (ncleanups > 0) cleanups[--ncleanups]();
}

char *ekn_escape(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (!cap) return buf;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[9];
        size_t n = 0;
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f) {
            unsigned char d = (unsigned char)s[++i];
            memcpy(e, "\\xc2\\x", 6);
            e[6] = hex[d >> 4], e[7] = hex[d & 15], n = 8;
        } else if (c >= 0x20 && c != 0x7f) {
            e[0] = (char)c, n = 1;
        } else {
            static const char named[] = "\tt\nn\rr\033e\aa\bb\ff\vv"; /* pairs: control, letter */
            const char *k = c ? strchr(named, c) : NULL; /* a control is never a letter: k is even */
            e[0] = '\\';
            if (k) e[1] = k[1], n = 2;
            else e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15], n = 4;
        }
        if (o + n >= cap) break;
        memcpy(buf + o, e, n);
        o += n;
    }
    buf[o] = 0;
    return buf;
}

/* The message in buf with its control characters escaped, in place. */
static void escape_in_place(char *buf, size_t cap)
{
    size_t len = strlen(buf), i = 0;
    while (i < len && (unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] != 0x7f && (unsigned char)buf[i] != 0xc2) i++;
    if (i == len) return; /* the usual case: nothing to escape */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", buf);
    ekn_escape(buf, cap, tmp, strlen(tmp));
}

/* Formats into buf; a trailing ':' in fmt appends strerror(errno). */
static void format_msg(char *buf, size_t cap, const char *fmt, va_list ap)
{
    int saved = errno;
    vsnprintf(buf, cap, fmt, ap);
    size_t len = strlen(fmt);
    if (len && fmt[len - 1] == ':') {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, " %s", strerror(saved));
    }
    escape_in_place(buf, cap);
}

int ekn_err_set(ekn_err *err, int code, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    format_msg(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code ? code : EKN_EXIT_FAIL;
    return -1;
}

int ekn_err_add_line(ekn_err *err, const char *line)
{
    if (!err) return -1;
    size_t used = strlen(err->msg);
    snprintf(err->msg + used, sizeof err->msg - used, "\n%s", line);
    return -1;
}

int ekn_err_prefix(ekn_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    escape_in_place(prefix, sizeof prefix); /* the old message is escaped already (and may hold a hint line) */
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    if (!err->code) err->code = EKN_EXIT_FAIL;
    return -1;
}

static void vprint(const char *fmt, va_list ap)
{
    char buf[2048];
    format_msg(buf, sizeof buf, fmt, ap);
    ekn_progress_hide();
    fprintf(stderr, "%s: %s\n", progname, buf);
    if (!dying) ekn_progress_show();
}

void ekn_die(int code, const char *fmt, ...)
{
    va_list ap;
    dying = 1;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
    dying = 1;
    ekn_run_cleanups();
    exit(code);
}

void ekn_die_err(const ekn_err *err)
{
    ekn_progress_hide();
    fprintf(stderr, "%s: %s\n", progname, err->msg[0] ? err->msg : "unknown error");
    dying = 1;
    ekn_run_cleanups();
    exit(err->code ? err->code : EKN_EXIT_FAIL);
}

void ekn_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void ekn_info(const char *fmt, ...)
{
    if (ekn_verbose <= 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}
