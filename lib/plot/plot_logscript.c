/* plot_logscript: gnuplot scripts for the pictures of training logs.
 *
 * Every series becomes its own inline data block holding only its finite
 * (x, y) pairs: validation rows come every few hundred steps and gain rows
 * every few steps, so drawing them from the full table would break their
 * lines at each "nan" row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
enum { NCOLOURS = sizeof colours / sizeof colours[0] };

typedef struct ctx {
    FILE *f;
    const ekn_plot_log *logs;
    int nlogs;
    const ekn_plot_log_opts *o;
    int nblocks;      /* data blocks so far, for unique names */
    char *plot;       /* the plot command being built */
    size_t plot_len;
    FILE *pf;
    int nseries;
    int single;       /* one picture: the caller's title goes into it */
} ctx;

typedef struct picture {
    int what;
    const char *needs[2]; /* columns without which the picture cannot be drawn */
    int time_series;      /* needs the x column too */
    void (*draw)(ctx *c);
} picture;

static const char *xcol(const ctx *c) { return c->o->x ? c->o->x : "step"; }

static const char *xlabel(const ctx *c)
{
    if (!strcmp(xcol(c), "time")) return "wall time (s)";
    return xcol(c);
}

static const double *column(const ekn_plot_log *log, const char *name)
{
    int k = ekn_plot_log_find(log, name);
    return k < 0 ? NULL : log->col[k];
}

static size_t finite_pairs(const double *x, const double *y, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += isfinite(x[i]) && isfinite(y[i]);
    return count;
}

static void panel_begin(ctx *c, const char *title)
{
    fprintf(c->f, "\n# ---- %s\n", title);
    fprintf(c->f, "unset label; unset arrow; unset logscale; unset y2tics; unset y2label; set ytics mirror\n"
                  "set autoscale; set key default; set key top right box opaque; set grid\nset title ");
    if (c->single && c->o->title) {
        char both[1200];
        snprintf(both, sizeof both, "%s: %s", c->o->title, title);
        ekn_plot_quote(c->f, both);
    } else {
        ekn_plot_quote(c->f, title);
    }
    fputc('\n', c->f);
    c->plot = NULL;
    c->plot_len = 0;
    c->pf = open_memstream(&c->plot, &c->plot_len);
    c->nseries = 0;
}

/* Adds one series: its finite (x, y) pairs as a data block, and a plot clause. */
static void series(ctx *c, int log, int index, const double *x, const double *y, const char *style, int y2,
                   const char *name)
{
    const ekn_plot_log *L = &c->logs[log];
    if (!x || !y || !finite_pairs(x, y, L->nrows) || !c->pf) return;
    int b = c->nblocks++;
    fprintf(c->f, "$d%d << EOD\n", b);
    for (size_t i = 0; i < L->nrows; i++)
        if (isfinite(x[i]) && isfinite(y[i])) fprintf(c->f, "%.9g %.9g\n", x[i], y[i]);
    fprintf(c->f, "EOD\n");
    const char *colour = colours[(c->nlogs == 1 ? index : log) % NCOLOURS];
    int dash = c->nlogs == 1 ? 1 : index % 5 + 1;
    char title[160];
    if (c->nlogs == 1) snprintf(title, sizeof title, "%s", name);
    else snprintf(title, sizeof title, "%s: %s", L->label, name);
    fprintf(c->pf, "%s$d%d using 1:2 axes x1y%d %s lc rgb '%s' dt %d title ", c->nseries ? ", \\\n     " : "", b,
            y2 ? 2 : 1, style, colour, dash);
    ekn_plot_quote(c->pf, title);
    c->nseries++;
}

static void panel_end(ctx *c)
{
    if (c->pf) fclose(c->pf);
    c->pf = NULL;
    if (c->nseries) fprintf(c->f, "plot %s\n", c->plot);
    else /* a frame that says why it is empty, rather than a gnuplot error */
        fprintf(c->f, "set xrange [0:1]; set yrange [0:1]; unset key\n"
                      "set label 'no data' at graph 0.5, 0.5 center\nplot NaN notitle\n");
    free(c->plot);
    c->plot = NULL;
}

static void draw_loss(ctx *c)
{
    panel_begin(c, "loss");
    fprintf(c->f, "set xlabel '%s'; set ylabel 'loss'\n", xlabel(c));
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = column(L, xcol(c));
        series(c, i, 0, x, column(L, "loss"), "with lines lw 0.5", 0, "loss per step");
        series(c, i, 1, x, column(L, "loss_smooth"), "with lines lw 2", 0, "smoothed");
        series(c, i, 2, x, column(L, "val_loss"), "with linespoints lw 2 pt 7 ps 0.6", 0, "validation");
    }
    panel_end(c);
}

static void draw_error(ctx *c)
{
    char title[96];
    snprintf(title, sizeof title, "error rate (1 - accuracy), moving average of %d rows", c->o->window);
    panel_begin(c, title);
    fprintf(c->f, "set xlabel '%s'; set ylabel 'error rate'\n", xlabel(c));
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = column(L, xcol(c)), *terr = column(L, "train_err");
        double *avg = terr ? malloc((L->nrows ? L->nrows : 1) * sizeof *avg) : NULL;
        if (avg) ekn_plot_moving_average(terr, L->nrows, c->o->window, avg);
        series(c, i, 0, x, terr, "with lines lw 0.5", 0, "training batch");
        series(c, i, 1, x, avg, "with lines lw 2", 0, "training, moving average");
        series(c, i, 2, x, column(L, "val_err"), "with linespoints lw 2 pt 7 ps 0.6", 0, "validation");
        free(avg);
    }
    panel_end(c);
}

/* Values > 0 only: the rate and momentum share a logarithmic y2 axis. */
static double *positive_only(const double *v, size_t n)
{
    if (!v) return NULL;
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) p[i] = v[i] > 0 ? v[i] : NAN;
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The y range of the gain picture: a few large gains of the first steps
 * would squash the rest, whose sign is what the picture is for; so the
 * range spans 1.5 times the 95th percentile of |gain| when the largest
 * gain is more than three times that.  0 when no clipping is needed. */
static double gain_clip(const ctx *c)
{
    size_t total = 0, k = 0;
    for (int i = 0; i < c->nlogs; i++) total += c->logs[i].nrows;
    double *a = malloc((total ? total : 1) * sizeof *a);
    if (!a) return 0;
    for (int i = 0; i < c->nlogs; i++) {
        const double *g = column(&c->logs[i], "gain");
        for (size_t r = 0; g && r < c->logs[i].nrows; r++)
            if (isfinite(g[r])) a[k++] = fabs(g[r]);
    }
    double clip = 0;
    if (k >= 20) {
        qsort(a, k, sizeof *a, cmp_double);
        double q = a[(size_t)(0.95 * (double)(k - 1))];
        if (q > 0 && a[k - 1] > 3 * q) clip = 1.5 * q;
    }
    free(a);
    return clip;
}

static void draw_gain(ctx *c)
{
    char title[1024];
    size_t len = (size_t)snprintf(title, sizeof title, c->nlogs > 1 ? "gain: updates that increased the loss:" : "gain:");
    for (int i = 0; i < c->nlogs && len < sizeof title; i++) {
        size_t n;
        double share = ekn_plot_gain_up_share(column(&c->logs[i], "gain"), c->logs[i].nrows, &n);
        if (c->nlogs > 1)
            len += (size_t)snprintf(title + len, sizeof title - len, "%s %s ", i ? "," : "", c->logs[i].label);
        if (len >= sizeof title) break;
        if (!n) len += (size_t)snprintf(title + len, sizeof title - len, "%sno gain measured", c->nlogs > 1 ? "" : " ");
        else if (c->nlogs > 1) len += (size_t)snprintf(title + len, sizeof title - len, "%.1f%% of %zu", 100 * share, n);
        else len += (size_t)snprintf(title + len, sizeof title - len, " %.1f%% of %zu updates increased the loss",
                                     100 * share, n);
    }
    panel_begin(c, title);
    fprintf(c->f, "set xlabel '%s'; set ylabel 'gain (negative: the update helped)'\n"
                  "set y2label 'learning rate, momentum'; set y2tics; set ytics nomirror; set logscale y2\n",
            xlabel(c));
    double clip = gain_clip(c);
    if (clip > 0)
        fprintf(c->f, "set yrange [%.6g:%.6g]\n"
                      "set label 'y range clipped to the bulk of the gains' at graph 0.01, graph 0.03 left\n",
                -clip, clip);
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = column(L, xcol(c));
        double *lr = positive_only(column(L, "lr"), L->nrows), *mom = positive_only(column(L, "momentum"), L->nrows);
        series(c, i, 0, x, column(L, "gain"), "with points pt 7 ps 0.4", 0, "gain");
        series(c, i, 1, x, lr, "with lines lw 2", 1, "learning rate (y2)");
        series(c, i, 2, x, mom, "with lines lw 1", 1, "momentum (y2)");
        free(lr);
        free(mom);
    }
    if (c->nseries && c->pf) fprintf(c->pf, ", \\\n     0 axes x1y1 with lines lc rgb 'black' dt 2 title 'zero'");
    panel_end(c);
}

static void draw_lr(ctx *c)
{
    panel_begin(c, "learning rate and momentum");
    fprintf(c->f, "set xlabel '%s'; set ylabel 'learning rate'; set logscale y\n"
                  "set y2label 'momentum'; set y2tics; set ytics nomirror\n", xlabel(c));
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = column(L, xcol(c));
        double *lr = positive_only(column(L, "lr"), L->nrows);
        series(c, i, 0, x, lr, "with lines lw 2", 0, "learning rate");
        series(c, i, 1, x, column(L, "momentum"), "with lines lw 1", 1, "momentum (y2)");
        free(lr);
    }
    panel_end(c);
}

static void draw_label(ctx *c)
{
    panel_begin(c, "loss against the mean label of the batch");
    fprintf(c->f, "set xlabel 'mean label of the batch'; set ylabel 'loss'\n");
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        series(c, i, 0, column(L, "mean_label"), column(L, "loss"), "with points pt 7 ps 0.4", 0, "loss");
    }
    panel_end(c);
}

static void draw_cg(ctx *c)
{
    panel_begin(c, "conjugate gradient: accepted step size against beta");
    fprintf(c->f, "set xlabel 'conjugacy coefficient beta'; set ylabel 'accepted step size'\n");
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        series(c, i, 0, column(L, "beta"), column(L, "step_size"), "with points pt 7 ps 0.5", 0, "step");
    }
    panel_end(c);
}

static const picture pictures[] = {
    {EKN_PLOT_LOSS, {"loss", NULL}, 1, draw_loss},
    {EKN_PLOT_ERROR, {"train_err", NULL}, 1, draw_error},
    {EKN_PLOT_GAIN, {"gain", "lr"}, 1, draw_gain},
    {EKN_PLOT_LR, {"lr", NULL}, 1, draw_lr},
    {EKN_PLOT_LABEL, {"mean_label", "loss"}, 0, draw_label},
    {EKN_PLOT_CG, {"step_size", "beta"}, 0, draw_cg},
};
enum { NPICTURES = sizeof pictures / sizeof pictures[0] };

int ekn_plot_what_parse(const char *name)
{
    static const char *const names[] = {"loss", "error", "gain", "lr", "label", "cg", "all"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(name, names[i])) return 1 << i;
    return -1;
}

/* The first column the picture needs that log lacks, or NULL. */
static const char *missing_column(const picture *p, const ekn_plot_log *log, const char *x)
{
    for (int k = 0; k < 2; k++)
        if (p->needs[k] && ekn_plot_log_find(log, p->needs[k]) < 0) return p->needs[k];
    if (p->time_series && ekn_plot_log_find(log, x) < 0) return x;
    return NULL;
}

/* For --what all: some log has every column and a finite value in each. */
static int has_data(const picture *p, const ekn_plot_log *logs, int nlogs, const char *x)
{
    for (int i = 0; i < nlogs; i++) {
        if (missing_column(p, &logs[i], x)) continue;
        const double *a = column(&logs[i], p->needs[0]);
        const double *b = p->needs[1] ? column(&logs[i], p->needs[1]) : a;
        if (finite_pairs(a, b, logs[i].nrows)) return 1;
    }
    return 0;
}

int ekn_plot_log_script(FILE *f, const ekn_plot_log *logs, int nlogs, const ekn_plot_log_opts *o, ekn_err *err)
{
    ctx c = {f, logs, nlogs, o, 0, NULL, 0, NULL, 0, 0};
    const char *x = xcol(&c);
    const picture *chosen[NPICTURES];
    int n = 0;
    for (int k = 0; k < NPICTURES; k++) {
        const picture *p = &pictures[k];
        if (o->what == EKN_PLOT_ALL) {
            /* the loss picture is the one every log must be able to draw */
            if (p->what != EKN_PLOT_LOSS && !has_data(p, logs, nlogs, x)) continue;
        } else if (o->what != p->what) {
            continue;
        }
        /* --what all compares runs of different optimisers: a picture
         * another log has data for leaves out the logs without its columns */
        for (int i = 0; i < nlogs && (o->what != EKN_PLOT_ALL || p->what == EKN_PLOT_LOSS); i++) {
            const char *miss = missing_column(p, &logs[i], x);
            if (miss) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no column '%s'", logs[i].path, miss);
        }
        chosen[n++] = p;
    }
    if (!n) return ekn_err_set(err, EKN_EXIT_USAGE, "unknown picture");
    int cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
    if (n > 1) {
        fprintf(f, "set multiplot layout %d,%d", rows, cols);
        if (o->title) {
            fprintf(f, " title ");
            ekn_plot_quote(f, o->title);
        }
        fputc('\n', f);
    }
    c.single = n == 1;
    for (int k = 0; k < n; k++) chosen[k]->draw(&c);
    if (n > 1) fprintf(f, "unset multiplot\n");
    return 0;
}
