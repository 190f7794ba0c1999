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
/* a rank of a data-parallel run (ekn_diag_set_rank) */
static char rank_tag[32];
static int rank_quiet;
static void (*rank_die)(int code);

void ekn_diag_set_rank(const char *tag, int quiet, void (*die)(int code))
{
    snprintf(rank_tag, sizeof rank_tag, "%s", tag ? tag : "");
    rank_quiet = quiet;
    rank_die = die;
}

/* ends the process: exit, or the whole job of a data-parallel run */
static _Noreturn void die_exit(int code)
{
    if (rank_die) rank_die(code);
    exit(code);
}

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

static const char *escape(const char *s, size_t len, char *out, size_t cap, int keep_newlines)
{
    size_t o = 0;
    for (size_t i = 0; i < len && s[i]; i++) {
        unsigned char c = (unsigned char)s[i], next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
        char piece[16];
        size_t n;
        if (c == '\n' && keep_newlines) piece[0] = (char)c, n = 1;
        else if (c < 0x20 || c == 0x7f) n = (size_t)snprintf(piece, sizeof piece, "\\x%02x", c);
        else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) /* U+0080..U+009F */
            n = (size_t)snprintf(piece, sizeof piece, "\\xc2\\x%02x", next), i++;
        else piece[0] = (char)c, n = 1;
        if (o + n >= cap) break;
        memcpy(out + o, piece, n);
        o += n;
    }
    out[o] = '\0';
    return out;
}

const char *ekn_escape(const char *s, size_t len, char *out, size_t cap) { return escape(s, len, out, cap, 0); }

void ekn_fputs_escaped(const char *s, size_t len, FILE *f)
{
    char out[4 * 256 + 1]; /* a byte takes at most 4 characters (\xHH) */
    while (len && *s) {
        size_t n = len < 256 ? len : 256;
        if (n < len && (unsigned char)s[n - 1] == 0xc2) n--; /* keep a C1 pair in one piece */
        fputs(escape(s, n, out, sizeof out, 0), f);
        s += n;
        len -= n;
    }
}

/* Formats into buf, escaped (ekn_escape); a trailing ':' in fmt appends
 * strerror(errno). */
static void format_msg(char *buf, size_t cap, const char *fmt, va_list ap)
{
    int saved = errno;
    char raw[2048];
    vsnprintf(raw, sizeof raw, fmt, ap);
    size_t len = strlen(fmt);
    if (len && fmt[len - 1] == ':') {
        size_t used = strlen(raw);
        snprintf(raw + used, sizeof raw - used, " %s", strerror(saved));
    }
    escape(raw, sizeof raw, buf, cap, 1); /* usage messages have a second line */
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

int ekn_err_prefix(ekn_err *err, const char *fmt, ...)
{
    if (!err) return -1;
    char raw[512], prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    ekn_escape(raw, sizeof raw, prefix, sizeof prefix);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    if (!err->code) err->code = EKN_EXIT_FAIL;
    return -1;
}

static void vprint(const char *fmt, va_list ap)
{
    char buf[2048];
    format_msg(buf, sizeof buf, fmt, ap);
    ekn_progress_hide();
    fprintf(stderr, "%s: %s%s%s\n", progname, rank_tag, rank_tag[0] ? ": " : "", buf);
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
    die_exit(code);
}

void ekn_die_err(const ekn_err *err)
{
    ekn_progress_hide();
    fprintf(stderr, "%s: %s%s%s\n", progname, rank_tag, rank_tag[0] ? ": " : "",
            err->msg[0] ? err->msg : "unknown error");
    dying = 1;
    ekn_run_cleanups();
    die_exit(err->code ? err->code : EKN_EXIT_FAIL);
}

void ekn_warn(const char *fmt, ...)
{
    if (rank_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void ekn_info(const char *fmt, ...)
{
    if (ekn_verbose <= 0 || rank_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}
