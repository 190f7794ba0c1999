/* plot_confusion: the confusion matrix of an `ekn-predict --eval` report as a heat map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot.h"
#include "stream.h"

enum { MAX_CLASSES = 1000 };

/* Parses "i\tc0\tc1..." into row i of the matrix; returns the number of counts or -1. */
static int parse_row(const char *line, int expect_row, long *counts, int max)
{
    char *end;
    long row = strtol(line, &end, 10);
    if (end == line || row != expect_row) return -1;
    int n = 0;
    for (const char *p = end; *p && *p != '\n';) {
        if (*p != '\t') return -1;
        p++;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || n == max) return -1;
        counts[n++] = v;
        p = end;
    }
    return n;
}

int ekn_plot_confusion_read(ekn_plot_confusion *c, const char *path, ekn_err *err)
{
    memset(c, 0, sizeof *c);
    c->accuracy = NAN;
    FILE *f = fopen(path, "r");
    if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0, *row = malloc(MAX_CLASSES * sizeof *row);
    int in_block = 0, rows = 0, rc = 0;
    if (!row) rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    while (!rc && getline(&line, &cap, f) > 0) {
        lineno++;
        if (!in_block) {
            if (!strncmp(line, "accuracy\t", 9)) c->accuracy = strtod(line + 9, NULL);
            in_block = !strncmp(line, "confusion", 9);
            continue;
        }
        if (!(line[0] >= '0' && line[0] <= '9')) break;
        int n = parse_row(line, rows, row, MAX_CLASSES);
        if (n < 1 || (rows && n != c->classes)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%ld: not row %d of the confusion matrix", path, lineno, rows);
            break;
        }
        if (!rows) {
            c->classes = n;
            if (!(c->count = malloc((size_t)n * (size_t)n * sizeof *c->count)))
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        }
        if (!rc) memcpy(c->count + (size_t)rows * (size_t)n, row, (size_t)n * sizeof *row);
        rows++;
        if (rows == c->classes) break;
    }
    if (!rc && !in_block)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no confusion matrix (a report of 'ekn-predict --eval'?)", path);
    else if (!rc && rows != c->classes)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': confusion matrix with %d of %d rows", path, rows, c->classes);
    else if (!rc && !rows)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty confusion matrix", path);
    free(row);
    free(line);
    fclose(f);
    if (rc) ekn_plot_confusion_free(c);
    return rc;
}

void ekn_plot_confusion_free(ekn_plot_confusion *c)
{
    free(c->count);
    c->count = NULL;
    for (int i = 0; c->names && i < c->classes; i++) free(c->names[i]);
    free(c->names);
    c->names = NULL;
    c->classes = 0;
}

/* The class_names= of the first record of a stream that has them; 1 found, 0 none, -1 error. */
static int stream_names(const char *path, char *buf, size_t cap, ekn_err *err)
{
    ekn_reader rd;
    if (ekn_reader_open(&rd, path, err)) return -1;
    ekn_tensor t = EKN_TENSOR_INIT;
    int rc, found = 0;
    while (!found && (rc = ekn_stream_read(&rd, &t, err)) == 1) found = ekn_tensor_meta_get(&t, "class_names", buf, cap);
    ekn_tensor_free(&t);
    ekn_reader_close(&rd);
    return found ? 1 : rc < 0 ? -1 : 0;
}

int ekn_plot_confusion_names(ekn_plot_confusion *c, const char *names, ekn_err *err)
{
    char buf[16384];
    char sep = ',';
    if (access(names, F_OK) == 0) {
        int rc = stream_names(names, buf, sizeof buf, err);
        if (rc < 0) return -1;
        if (!rc) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no class_names= in its records", names);
        sep = '|';
    } else {
        snprintf(buf, sizeof buf, "%s", names);
    }
    int n = 1;
    for (const char *p = buf; *p; p++) n += *p == sep;
    if (n != c->classes)
        return ekn_err_set(err, EKN_EXIT_FAIL, "--names: %d class names for a matrix of %d classes", n, c->classes);
    char **v = calloc((size_t)n, sizeof *v);
    if (!v) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    const char *p = buf;
    for (int i = 0; i < n; i++) {
        size_t len = strcspn(p, (char[]){sep, 0});
        if (!(v[i] = strndup(p, len))) {
            for (int j = 0; j < i; j++) free(v[j]);
            free(v);
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        }
        p += len + (p[len] != 0);
    }
    c->names = v;
    return 0;
}

/* set xtics ('name' 0, ...): the class names, or numbers when unknown. */
static void name_tics(FILE *f, const ekn_plot_confusion *c, char axis, const char *extra)
{
    if (!c->names) {
        fprintf(f, "set %ctics 1 out nomirror\n", axis);
        return;
    }
    fprintf(f, "set %ctics (", axis);
    for (int i = 0; i < c->classes; i++) {
        if (i) fputs(", ", f);
        ekn_plot_quote(f, c->names[i]);
        fprintf(f, " %d", i);
    }
    fprintf(f, ") out nomirror%s\n", extra);
}

void ekn_plot_confusion_script(FILE *f, const ekn_plot_confusion *c, const char *title)
{
    int C = c->classes;
    /* colours show the share of each label's examples (recall), so rare
     * classes are as visible as common ones; the cells print the counts */
    fprintf(f, "$share << EOD\n");
    for (int i = 0; i < C; i++) {
        long total = 0;
        for (int j = 0; j < C; j++) total += c->count[i * C + j];
        for (int j = 0; j < C; j++) fprintf(f, j ? " %.6g" : "%.6g", total ? (double)c->count[i * C + j] / total : 0.0);
        fputc('\n', f);
    }
    fprintf(f, "EOD\n$counts << EOD\n");
    for (int i = 0; i < C; i++) {
        long total = 0;
        for (int j = 0; j < C; j++) total += c->count[i * C + j];
        for (int j = 0; j < C; j++)
            fprintf(f, "%d %d %ld %.4f\n", j, i, c->count[i * C + j], total ? (double)c->count[i * C + j] / total : 0.0);
    }
    fprintf(f, "EOD\n");
    fprintf(f, "set size ratio -1\nunset key\nset xlabel 'predicted class'; set ylabel 'label'\n"
               "set xrange [-0.5:%d.5]; set yrange [%d.5:-0.5]\n", C - 1, C - 1);
    name_tics(f, c, 'x', " rotate by 45 right");
    name_tics(f, c, 'y', "");
    fprintf(f, "set cbrange [0:1]; set cblabel 'share of the label''s examples'\n"
               "set palette defined (0 '#ffffff', 0.1 '#c6dbef', 0.5 '#4292c6', 1 '#08306b')\nset title ");
    char t[512];
    if (isnan(c->accuracy)) snprintf(t, sizeof t, "%s", title ? title : "confusion matrix");
    else snprintf(t, sizeof t, "%s: accuracy %.4f", title ? title : "confusion matrix", c->accuracy);
    ekn_plot_quote(f, t);
    fprintf(f, "\nplot $share matrix with image, \\\n"
               "     $counts using 1:2:(sprintf('%%d', $3)):($4 > 0.5 ? 0xffffff : 0x000000) with labels %s "
               "tc rgb variable\n",
            C > 20 ? "font ',6'" : "");
}
