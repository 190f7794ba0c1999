/* plot_run: the script's terminal prologue, and gnuplot run as a child. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"
#include "plot.h"

extern char **environ;

static const char *const format_names[] = {"png", "svg", "pdf", "dumb"};

int ekn_plot_format_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, format_names[i])) return i;
    if (!strcmp(name, "text")) return EKN_PLOT_DUMB;
    return -1;
}

int ekn_plot_format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return -1;
    if (!strcmp(dot, ".txt")) return EKN_PLOT_DUMB;
    return strcmp(dot + 1, "dumb") ? ekn_plot_format_parse(dot + 1) : -1;
}

void ekn_plot_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        if (*s != '\n') fputc(*s, f);
    }
    fputc('\'', f);
}

void ekn_plot_terminal(FILE *f, const ekn_plot_out *out, const char *file)
{
    int w = out->width, h = out->height;
    switch (out->format) {
    case EKN_PLOT_PNG:
        /* Debian's gnuplot-nox has pngcairo; a build without cairo still has libgd's png */
        fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "    set terminal pngcairo size %d,%d noenhanced font ',9'\n"
                   "} else {\n"
                   "    set terminal png size %d,%d noenhanced\n"
                   "}\n", w, h, w, h);
        break;
    case EKN_PLOT_SVG: fprintf(f, "set terminal svg size %d,%d noenhanced font ',10' background '#ffffff'\n", w, h); break;
    case EKN_PLOT_PDF:
        fprintf(f, "set terminal pdfcairo size %.2fin,%.2fin noenhanced font ',7'\n", w / 100.0, h / 100.0);
        break;
    case EKN_PLOT_DUMB: fprintf(f, "set terminal dumb size %d,%d noenhanced\n", w, h); break;
    }
    if (file) {
        fprintf(f, "set output ");
        ekn_plot_quote(f, file);
        fputc('\n', f);
    }
    /* data files hold "nan" for unmeasured values; inline blocks never do, but be safe */
    fprintf(f, "set datafile missing 'nan'\nset encoding utf8\n");
}

/* The first line of gnuplot's stderr that says what went wrong. */
static void first_error_line(FILE *log, char *buf, size_t cap)
{
    buf[0] = '\0';
    rewind(log);
    char line[512], last[512] = "";
    while (fgets(line, sizeof line, log)) {
        line[strcspn(line, "\n")] = '\0';
        const char *p = line + strspn(line, " \t^");
        if (!*p) continue;
        if (strstr(p, "rror") || strstr(p, "annot") || strstr(p, "not ")) {
            snprintf(buf, cap, "%s", p);
            return;
        }
        snprintf(last, sizeof last, "%s", p);
    }
    snprintf(buf, cap, "%s", last);
}

int ekn_plot_run(const char *script, size_t len, const ekn_plot_out *out, const char *tmp, ekn_err *err)
{
    const char *prog = getenv("EKN_GNUPLOT");
    if (!prog || !*prog) prog = "gnuplot";
    FILE *in = tmpfile(), *log = tmpfile();
    if (!in || !log) {
        if (in) fclose(in);
        if (log) fclose(log);
        return ekn_err_set(err, EKN_EXIT_FAIL, "cannot create a temporary file:");
    }
    /* the script goes through a file, not a pipe: no deadlock against a
     * gnuplot that fills its stderr before reading all of its input */
    int rc = 0;
    if (fwrite(script, 1, len, in) != len || fflush(in) != 0) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "cannot write the gnuplot script to a temporary file:");
        goto done;
    }
    rewind(in);
    if (out->path) {
        /* create the temp file here: gnuplot, when it cannot open its
         * output, says so but draws on its stdout and exits 0 */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create:", out->path);
            goto done;
        }
        close(fd);
    }
    fflush(stdout);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(in), 0);
    posix_spawn_file_actions_adddup2(&fa, fileno(log), 2);
    if (out->path) posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)prog, NULL};
    pid_t pid;
    int e = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) {
        errno = e;
        rc = e == ENOENT ? ekn_err_set(err, EKN_EXIT_FAIL, "'%s' not found: install gnuplot (Debian: gnuplot-nox)", prog)
                         : ekn_err_set(err, EKN_EXIT_FAIL, "cannot run '%s':", prog);
        goto done;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "waiting for '%s':", prog);
            goto done;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char why[400];
        first_error_line(log, why, sizeof why);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*why)
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s' not found: install gnuplot (Debian: gnuplot-nox)", prog);
        else if (WIFSIGNALED(status))
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s' killed by signal %d", prog, WTERMSIG(status));
        else
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s' failed (exit %d): %s", prog, WEXITSTATUS(status),
                             *why ? why : "no message");
        goto done;
    }
    if (ekn_verbose) {
        char line[512];
        rewind(log);
        while (fgets(line, sizeof line, log)) fprintf(stderr, "%s: gnuplot: %s", ekn_progname(), line);
    }
    if (out->path) {
        struct stat st;
        if (stat(tmp, &st) != 0 || st.st_size == 0) {
            char why[400];
            first_error_line(log, why, sizeof why);
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': gnuplot wrote no picture%s%s", out->path, *why ? ": " : "",
                             why);
            goto done;
        }
        if (rename(tmp, out->path) != 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot rename into place:", out->path);
    }
done:
    if (rc && out->path && tmp) unlink(tmp);
    fclose(in);
    fclose(log);
    return rc;
}
