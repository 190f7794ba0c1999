#include "outfile.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temp files alive right now; the signal handler may only call unlink(). */
#define MAX_TEMPS 16
static char temps[MAX_TEMPS][4128];
static volatile sig_atomic_t temp_used[MAX_TEMPS];

static void remove_temps(void)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_used[i]) {
            unlink(temps[i]);
            temp_used[i] = 0;
        }
}

static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temp_used[i]) unlink(temps[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

void ekn_check_pipe(void)
{
    if (errno == EPIPE) {
        remove_temps();
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
}

void ekn_close_stdout(void)
{
    /* Checked once: a second call (atexit after an explicit call) is a no-op. */
    static int done;
    if (done) return;
    done = 1;
    if (ekn_dying()) {
        /* the error that ends the run is already reported */
        fclose(stdout);
        return;
    }
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    if (bad) ekn_check_pipe();
    int saved = errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        saved = errno;
        ekn_check_pipe();
    }
    if (bad) {
        errno = saved;
        ekn_warn(saved ? "write error on stdout:" : "write error on stdout");
        remove_temps();
        _exit(EKN_EXIT_FAIL);
    }
}

void ekn_io_init(void)
{
    static char buf[1 << 20];
    signal(SIGPIPE, SIG_DFL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        /* keep a signal ignored if the parent asked so (nohup) */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    ekn_atexit_cleanup(remove_temps);
    atexit(ekn_close_stdout);
}

const char *ekn_outfile_name(const ekn_outfile *o)
{
    return strcmp(o->path, "-") ? o->path : "stdout";
}

int ekn_outfile_open(ekn_outfile *o, const char *path, int binary, int force, ekn_err *err)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    snprintf(o->path, sizeof o->path, "%s", path);
    if (!strcmp(path, "-")) {
        if (binary && !force && isatty(STDOUT_FILENO))
            return ekn_err_set(err, EKN_EXIT_USAGE,
                               "refusing to write a binary stream to a terminal (redirect it, or use --force)");
        o->fp = stdout;
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or FIFO (/dev/null, a named pipe): write to it in place,
         * a rename over it would replace the device with a file */
        o->fp = fopen(path, "wb");
        if (!o->fp) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
        return 0;
    }
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    o->fp = fopen(o->tmp, "wb");
    if (!o->fp) {
        /* name the file the user asked for, not our temp name */
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create:", path);
    }
    if ((o->slot = ekn_temp_register(o->tmp)) < 0) {
        ekn_outfile_abort(o);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': too many output files open", path);
    }
    return 0;
}

int ekn_temp_register(const char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (!temp_used[i]) {
            snprintf(temps[i], sizeof temps[i], "%s", path);
            temp_used[i] = 1;
            return i;
        }
    return -1;
}

void ekn_temp_forget(int slot)
{
    if (slot >= 0 && slot < MAX_TEMPS) temp_used[slot] = 0;
}

static void forget_temp(ekn_outfile *o)
{
    ekn_temp_forget(o->slot);
    o->slot = -1;
}

int ekn_outfile_commit(ekn_outfile *o, ekn_err *err)
{
    if (!o->fp) return 0;
    if (o->fp == stdout) {
        o->fp = NULL;
        if (fflush(stdout) != 0 || ferror(stdout)) {
            ekn_check_pipe();
            return ekn_err_set(err, EKN_EXIT_FAIL, "write error on stdout:");
        }
        return 0;
    }
    if (!o->tmp[0]) {
        int bad = fflush(o->fp) != 0 || ferror(o->fp);
        int saved = errno;
        if (fclose(o->fp) != 0 && !bad) bad = 1, saved = errno;
        o->fp = NULL;
        errno = saved;
        return bad ? ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write failed:", o->path) : 0;
    }
    int bad = fflush(o->fp) != 0 || ferror(o->fp);
    int saved = errno;
    if (!bad && fsync(fileno(o->fp)) != 0 && errno != EINVAL) bad = 1, saved = errno;
    if (fclose(o->fp) != 0 && !bad) bad = 1, saved = errno;
    o->fp = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) bad = 1, saved = errno;
    if (bad) {
        unlink(o->tmp);
        forget_temp(o);
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write failed:", o->path);
    }
    forget_temp(o);
    return 0;
}

void ekn_outfile_abort(ekn_outfile *o)
{
    if (o->fp && o->fp != stdout) {
        fclose(o->fp);
        if (o->tmp[0]) unlink(o->tmp);
    }
    o->fp = NULL;
    forget_temp(o);
}
