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
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
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
