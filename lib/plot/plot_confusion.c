/* plot_confusion: the confusion matrix of an `ekn-predict --eval` report as a heat map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

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
    c->classes = 0;
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
               "set xrange [-0.5:%d.5]; set yrange [%d.5:-0.5]\nset xtics 1 out nomirror; set ytics 1 out nomirror\n"
               "set cbrange [0:1]; set cblabel 'share of the label''s examples'\n"
               "set palette defined (0 '#ffffff', 0.1 '#c6dbef', 0.5 '#4292c6', 1 '#08306b')\nset title ",
            C - 1, C - 1);
    char t[512];
    if (isnan(c->accuracy)) snprintf(t, sizeof t, "%s", title ? title : "confusion matrix");
    else snprintf(t, sizeof t, "%s: accuracy %.4f", title ? title : "confusion matrix", c->accuracy);
    ekn_plot_quote(f, t);
    fprintf(f, "\nplot $share matrix with image, \\\n"
               "     $counts using 1:2:(sprintf('%%d', $3)):($4 > 0.5 ? 0xffffff : 0x000000) with labels %s "
               "tc rgb variable\n",
            C > 20 ? "font ',6'" : "");
}
