/* diag: one error style for the whole toolkit.
 *
 * Library functions never exit: they fill an ekn_err and return -1 (or NULL).
 *     if (x < 0) return ekn_err_set(err, EKN_EXIT_SPEC, "'%s':%d: filters must be > 0", file, line);
 * Only cmd/ decides to exit, usually through ekn_die_err(&err).
 *
 * Message style (git): lowercase, no final period, subject in single quotes,
 * the file and record/line first.  The program name is prepended when printed.
 * A format ending in ':' appends strerror(errno) (sbase). */
#ifndef EKN_DIAG_H
#define EKN_DIAG_H
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum {
    EKN_EXIT_OK = 0,    /* success */
    EKN_EXIT_FAIL = 1,  /* runtime failure: bad or corrupt input, I/O, NaN */
    EKN_EXIT_USAGE = 2, /* usage error */
    EKN_EXIT_SPEC = 3,  /* invalid network spec, or a shape that does not fit */
};

typedef struct ekn_err {
    int code;       /* one of EKN_EXIT_*, 0 while no error is set */
    char msg[1024]; /* one line, no program name, no newline */
} ekn_err;

/* Sets the error (code and formatted message) and returns -1. */
int ekn_err_set(ekn_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "prefix: old message".  Returns -1. */
int ekn_err_prefix(ekn_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The program name used in every message ("ekn-train"); set once by main. */
void ekn_set_progname(const char *argv0);
const char *ekn_progname(void);

/* Print "prog: message" to stderr and exit with `code`. */
_Noreturn void ekn_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void ekn_die_err(const ekn_err *err);
void ekn_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Verbosity given by -v; messages through ekn_info appear only when > 0. */
extern int ekn_verbose;
void ekn_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Registers a function that ekn_die runs before exiting (e.g. removing
 * half-written temp files); up to 8, run in reverse order of registration. */
void ekn_atexit_cleanup(void (*fn)(void));
void ekn_run_cleanups(void);
/* Nonzero once ekn_die has started: the exit path then reports nothing
 * more (one error, one line), e.g. a stdout that also fails to flush. */
int ekn_dying(void);
/* A rank of a data-parallel run (set by lib/core/dist.c's ekn_dist_init):
 * tag ("rank 1", "" for none) follows the program name in every message;
 * quiet silences ekn_warn and ekn_info (errors always print); die, when
 * not NULL, ends the process instead of exit (MPI_Abort: the whole job)
 * after ekn_die and ekn_die_err have printed and run the cleanups. */
void ekn_diag_set_rank(const char *tag, int quiet, void (*die)(int code));
/* The len bytes at s with control bytes (C0, DEL and UTF-8's C1 range) as
 * \xHH, so that names and text from a file can
 * neither drive a terminal nor break a line or a TSV field; cut to fit cap
 * (at least 1).  Returns out.  Every message goes through it (keeping the
 * line breaks a usage message has). */
const char *ekn_escape(const char *s, size_t len, char *out, size_t cap);
/* The same escaping of the len bytes at s, written to f whatever their length. */
void ekn_fputs_escaped(const char *s, size_t len, FILE *f);
#endif
