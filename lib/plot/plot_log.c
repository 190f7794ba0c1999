/* plot_log: reading ekn-train's TSV log into columns selected by name. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

/* Splits line (no newline) at tabs in place; returns the field count or -1 past max. */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max) return -1;
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

static double parse_value(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end) return NAN;
    return v;
}

static void set_label(ekn_plot_log *log, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && (!strcmp(base + n - 4, ".tsv") || !strcmp(base + n - 4, ".log"))) n -= 4;
    if (n >= sizeof log->label) n = sizeof log->label - 1;
    memcpy(log->label, base, n);
    log->label[n] = '\0';
}

static int add_row(ekn_plot_log *log, char **fields, size_t *cap)
{
    if (log->nrows == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        for (int c = 0; c < log->ncols; c++) {
            double *p = realloc(log->col[c], ncap * sizeof *p);
            if (!p) return -1;
            log->col[c] = p;
        }
        *cap = ncap;
    }
    for (int c = 0; c < log->ncols; c++) log->col[c][log->nrows] = parse_value(fields[c]);
    log->nrows++;
    return 0;
}

enum { MAX_COLS = 256 };

int ekn_plot_log_read(ekn_plot_log *log, const char *path, ekn_err *err)
{
    memset(log, 0, sizeof *log);
    snprintf(log->path, sizeof log->path, "%s", path);
    set_label(log, path);
    FILE *f = fopen(path, "r");
    if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    char *line = NULL, *fields[MAX_COLS];
    size_t linecap = 0, cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &linecap, f)) > 0) {
        lineno++;
        int complete = line[len - 1] == '\n';
        if (complete) line[--len] = '\0';
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        int n = split_tabs(line, fields, MAX_COLS);
        if (lineno == 1) {
            if (n < 0) {
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':1: more than %d columns", path, MAX_COLS);
                break;
            }
            log->names = calloc((size_t)n, sizeof *log->names);
            log->col = calloc((size_t)n, sizeof *log->col);
            if (!log->names || !log->col) {
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
                break;
            }
            log->ncols = n;
            for (int c = 0; c < n && rc == 0; c++) {
                if (!*fields[c] || parse_value(fields[c]) == parse_value(fields[c]))
                    rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':1: column %d: '%s' is not a column name (no header line?)",
                                     path, c + 1, fields[c]);
                else if (!(log->names[c] = strdup(fields[c])))
                    rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            }
            if (rc) break;
            continue;
        }
        if (n != log->ncols) {
            if (!complete && n >= 0 && n < log->ncols) break; /* a row being written */
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%ld: %d fields, the header has %d", path, lineno,
                             n < 0 ? MAX_COLS : n, log->ncols);
            break;
        }
        if (add_row(log, fields, &cap)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            break;
        }
    }
    if (!rc && ferror(f)) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': read error:", path);
    if (!rc && lineno == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty log (no header line)", path);
    free(line);
    fclose(f);
    if (rc) ekn_plot_log_free(log);
    return rc;
}

void ekn_plot_log_free(ekn_plot_log *log)
{
    for (int c = 0; c < log->ncols; c++) {
        if (log->names) free(log->names[c]);
        if (log->col) free(log->col[c]);
    }
    free(log->names);
    free(log->col);
    log->names = NULL;
    log->col = NULL;
    log->ncols = 0;
    log->nrows = 0;
}

int ekn_plot_log_find(const ekn_plot_log *log, const char *name)
{
    for (int c = 0; c < log->ncols; c++)
        if (!strcmp(log->names[c], name)) return c;
    return -1;
}

double ekn_plot_gain_up_share(const double *gain, size_t nrows, size_t *n)
{
    size_t finite = 0, up = 0;
    for (size_t i = 0; gain && i < nrows; i++) {
        if (!isfinite(gain[i])) continue;
        finite++;
        up += gain[i] > 0;
    }
    *n = finite;
    return finite ? (double)up / (double)finite : NAN;
}

void ekn_plot_moving_average(const double *x, size_t n, int window, double *out)
{
    if (window < 1) window = 1;
    double sum = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i])) sum += x[i], count++;
        if (i >= (size_t)window && isfinite(x[i - (size_t)window])) sum -= x[i - (size_t)window], count--;
        out[i] = count ? sum / (double)count : NAN;
    }
}
