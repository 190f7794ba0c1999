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
    double **x;       /* x[log]: the x column of time series (fractional epochs derived) */
    int time_series;  /* the panel being built has x on its x axis */
    double xmin, xmax;/* its finite x values so far */
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

/* The x values of log i's time series. */
static const double *xdata(const ctx *c, int i) { return c->x[i]; }

void ekn_plot_fractional_epochs(const double *step, const double *epoch, size_t n, double *out)
{
    size_t nfin = 0;
    int integral = 1;
    double prev = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        out[i] = epoch[i];
        if (!isfinite(epoch[i])) continue;
        if (!isfinite(step[i]) || epoch[i] != floor(epoch[i]) || epoch[i] < prev) integral = 0;
        prev = epoch[i];
        nfin++;
    }
    if (!integral || !nfin) return;
    /* start[k]: where the k-th epoch value seen began */
    double *start = malloc(n * sizeof *start), *value = malloc(n * sizeof *value);
    size_t ne = 0;
    if (!start || !value) goto done;
    double last = 0; /* the last step logged so far */
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(epoch[i])) continue;
        if (!ne || epoch[i] != value[ne - 1]) {
            value[ne] = epoch[i];
            /* the epoch began between the last row of the one before and its first row */
            start[ne] = ne ? (last + step[i]) / 2 : step[i];
            ne++;
        }
        last = step[i];
    }
    if (value[0] == 0) start[0] = 0; /* epoch 0 began at step 0 */
    double total = 0;
    size_t full = 0; /* epochs with a known end: the next one's start */
    for (size_t k = 0; k + 1 < ne; k++)
        if (value[k + 1] == value[k] + 1 && start[k + 1] > start[k]) total += start[k + 1] - start[k], full++;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(epoch[i])) continue;
        while (value[k] != epoch[i]) k++;
        double len = k + 1 < ne && value[k + 1] == value[k] + 1 ? start[k + 1] - start[k] : full ? total / (double)full : 0;
        if (len > 0) out[i] = epoch[i] + fmin((step[i] - start[k]) / len, 1);
    }
done:
    free(start);
    free(value);
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
                  "set autoscale; set key default; set format x '%% h'; set format y '%% h'; set format y2 '%% h'\n"
                  "set key outside right top vertical Left reverse; set grid\nset title ");
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
    c->time_series = 0;
    c->xmin = INFINITY;
    c->xmax = -INFINITY;
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
        if (isfinite(x[i]) && isfinite(y[i])) {
            fprintf(c->f, "%.9g %.9g\n", x[i], y[i]);
            c->xmin = fmin(c->xmin, x[i]);
            c->xmax = fmax(c->xmax, x[i]);
        }
    fprintf(c->f, "EOD\n");
    const char *colour = colours[(c->nlogs == 1 ? index : log) % NCOLOURS];
    char faint[16];
    if (!strncmp(style, "faint ", 6)) { /* raw points under the curves of several logs: mostly transparent */
        snprintf(faint, sizeof faint, "#a0%s", colour + 1);
        colour = faint;
        style += 6;
    }
    int dash = 1; /* several logs: one colour each, solid */
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
    /* curves over time end where the data ends, not at the next tic */
    if (c->nseries && c->time_series && c->xmax > c->xmin) fprintf(c->f, "set xrange [%.9g:%.9g]\n", c->xmin, c->xmax);
    if (c->nseries) fprintf(c->f, "plot %s\n", c->plot);
    else /* a frame that says why it is empty, rather than a gnuplot error */
        fprintf(c->f, "set xrange [0:1]; set yrange [0:1]; unset key\n"
                      "set label 'no data' at graph 0.5, 0.5 center\nplot NaN notitle\n");
    free(c->plot);
    c->plot = NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The range of the bulk of a curve: the 1% and 99% quantiles of the values
 * of series after the first 5% of each log's rows (the first steps of a
 * training are far above the rest), widened by 10% of their distance on
 * each side, and not below 0 when no value is.  0 when there are fewer
 * than 10 values or their quantiles coincide (gnuplot then autoscales). */
static int bulk_range(const ctx *c, const char *const *names, int nnames, double *lo, double *hi)
{
    size_t total = 0, k = 0;
    for (int i = 0; i < c->nlogs; i++) total += c->logs[i].nrows * (size_t)nnames;
    double *a = malloc((total ? total : 1) * sizeof *a);
    if (!a) return 0;
    double min = INFINITY;
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = xdata(c, i);
        size_t skip = (L->nrows + 19) / 20;
        for (int s = 0; s < nnames; s++) {
            const double *y = column(L, names[s]);
            for (size_t r = 0; y && x && r < L->nrows; r++) {
                if (!isfinite(y[r]) || !isfinite(x[r])) continue;
                min = fmin(min, y[r]);
                if (r >= skip) a[k++] = y[r];
            }
        }
    }
    int ok = 0;
    if (k >= 10) {
        qsort(a, k, sizeof *a, cmp_double);
        double q1 = a[(size_t)(0.01 * (double)(k - 1))], q99 = a[(size_t)ceil(0.99 * (double)(k - 1))];
        if (q99 > q1) {
            double m = 0.1 * (q99 - q1);
            *lo = q1 - m;
            *hi = q99 + m;
            if (*lo < 0 && min >= 0) *lo = 0;
            ok = 1;
        }
    }
    free(a);
    return ok;
}

static void set_bulk_yrange(ctx *c, const char *const *names, int nnames)
{
    double lo, hi;
    if (bulk_range(c, names, nnames, &lo, &hi)) fprintf(c->f, "set yrange [%.6g:%.6g]\n", lo, hi);
}

static void draw_loss(ctx *c)
{
    panel_begin(c, "loss");
    c->time_series = 1;
    fprintf(c->f, "set xlabel '%s'; set ylabel 'loss'\n", xlabel(c));
    static const char *const names[] = {"loss", "loss_smooth", "val_loss"};
    set_bulk_yrange(c, names, 3);
    /* several logs: each kind of series for all logs before the next, so
     * the smoothed curves lie over every log's raw points, and the
     * validation points over both */
    int many = c->nlogs > 1;
    for (int i = 0; i < c->nlogs; i++)
        series(c, i, 0, xdata(c, i), column(&c->logs[i], "loss"), many ? "faint with points pt 7 ps 0.4" : "with lines lw 0.5",
               0, "loss per step");
    for (int i = 0; i < c->nlogs; i++)
        series(c, i, 1, xdata(c, i), column(&c->logs[i], "loss_smooth"), "with lines lw 2", 0, "smoothed");
    for (int i = 0; i < c->nlogs; i++)
        series(c, i, 2, xdata(c, i), column(&c->logs[i], "val_loss"),
               many ? "with linespoints lw 1.5 pt 7 ps 1" : "with linespoints lw 2 pt 7 ps 0.6", 0, "validation");
    panel_end(c);
}

static void draw_error(ctx *c)
{
    char title[96];
    snprintf(title, sizeof title, "error rate (1 - accuracy), moving average of %d rows", c->o->window);
    panel_begin(c, title);
    c->time_series = 1;
    fprintf(c->f, "set xlabel '%s'; set ylabel 'error rate'\n", xlabel(c));
    static const char *const names[] = {"train_err", "val_err"};
    set_bulk_yrange(c, names, 2);
    int many = c->nlogs > 1;
    double **avg = calloc((size_t)c->nlogs, sizeof *avg);
    for (int i = 0; i < c->nlogs; i++)
        series(c, i, 0, xdata(c, i), column(&c->logs[i], "train_err"),
               many ? "faint with points pt 7 ps 0.4" : "with lines lw 0.5", 0, "training batch");
    for (int i = 0; avg && i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *terr = column(L, "train_err");
        avg[i] = terr ? malloc((L->nrows ? L->nrows : 1) * sizeof **avg) : NULL;
        if (avg[i]) ekn_plot_moving_average(terr, L->nrows, c->o->window, avg[i]);
        series(c, i, 1, xdata(c, i), avg[i], "with lines lw 2", 0, "training, moving average");
    }
    for (int i = 0; i < c->nlogs; i++)
        series(c, i, 2, xdata(c, i), column(&c->logs[i], "val_err"),
               many ? "with linespoints lw 1.5 pt 7 ps 1" : "with linespoints lw 2 pt 7 ps 0.6", 0, "validation");
    for (int i = 0; avg && i < c->nlogs; i++) free(avg[i]);
    free(avg);
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
                  "set y2label 'learning rate, momentum'; set y2tics; set ytics nomirror; set logscale y2\n"
                  "set format y2 '%%.0te%%T'\n",
            xlabel(c));
    c->time_series = 1;
    double clip = gain_clip(c);
    if (clip > 0)
        fprintf(c->f, "set yrange [%.6g:%.6g]\n"
                      "set label 'y range clipped to the bulk of the gains' at graph 0.01, graph 0.03 left\n",
                -clip, clip);
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = xdata(c, i);
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
    fprintf(c->f, "set xlabel '%s'; set ylabel 'learning rate'; set logscale y; set format y '%%.0te%%T'\n"
                  "set y2label 'momentum'; set y2tics; set ytics nomirror\n", xlabel(c));
    c->time_series = 1;
    for (int i = 0; i < c->nlogs; i++) {
        const ekn_plot_log *L = &c->logs[i];
        const double *x = xdata(c, i);
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

static int cmp_pair(const void *a, const void *b)
{
    const double *p = a, *q = b;
    int r = cmp_double(&p[0], &q[0]);
    return r ? r : cmp_double(&p[1], &q[1]);
}

/* Labels with the number of rows at each (beta, step size) that more than
 * one row shares (restarts at beta 0, rejected steps at 0): points drawn
 * over each other would otherwise look like one.  The 20 largest counts. */
static void cg_counts(ctx *c)
{
    size_t total = 0, k = 0;
    for (int i = 0; i < c->nlogs; i++) total += c->logs[i].nrows;
    double *p = malloc((total ? total : 1) * 2 * sizeof *p);
    if (!p) return;
    for (int i = 0; i < c->nlogs; i++) {
        const double *b = column(&c->logs[i], "beta"), *st = column(&c->logs[i], "step_size");
        for (size_t r = 0; b && st && r < c->logs[i].nrows; r++)
            if (isfinite(b[r]) && isfinite(st[r])) p[2 * k] = b[r], p[2 * k + 1] = st[r], k++;
    }
    qsort(p, k, 2 * sizeof *p, cmp_pair);
    /* groups as (count, beta, step) triples, largest counts first */
    double *g = malloc((k ? k : 1) * 3 * sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; g && i < k;) {
        size_t j = i;
        while (j < k && p[2 * j] == p[2 * i] && p[2 * j + 1] == p[2 * i + 1]) j++;
        if (j - i > 1) g[3 * ng] = -(double)(j - i), g[3 * ng + 1] = p[2 * i], g[3 * ng + 2] = p[2 * i + 1], ng++;
        i = j;
    }
    if (g) qsort(g, ng, 3 * sizeof *g, cmp_double);
    for (size_t i = 0; g && i < ng && i < 20; i++)
        fprintf(c->f, "set label '%.0f rows' at %.9g, %.9g left offset 1, 0.5 front\n", -g[3 * i], g[3 * i + 1],
                g[3 * i + 2]);
    free(g);
    free(p);
}

static void draw_cg(ctx *c)
{
    panel_begin(c, "conjugate gradient: accepted step size against beta");
    fprintf(c->f, "set xlabel 'conjugacy coefficient beta'; set ylabel 'accepted step size'\n");
    cg_counts(c);
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

/* A classification log (finite train_err) whose mean label exceeds 1: more
 * than two classes, where the mean of the class indices says nothing about
 * the balance of the batch.  Regression logs and two classes draw. */
static int many_classes(const ekn_plot_log *log)
{
    const double *ml = column(log, "mean_label"), *te = column(log, "train_err");
    int classify = 0, above = 0;
    for (size_t r = 0; te && r < log->nrows; r++) classify |= isfinite(te[r]);
    for (size_t r = 0; ml && r < log->nrows; r++) above |= ml[r] > 1;
    return classify && above;
}

/* For --what all: some log has every column and a finite value in each. */
static int has_data(const picture *p, const ekn_plot_log *logs, int nlogs, const char *x)
{
    for (int i = 0; i < nlogs; i++) {
        if (missing_column(p, &logs[i], x)) continue;
        if (p->what == EKN_PLOT_LABEL && many_classes(&logs[i])) continue;
        const double *a = column(&logs[i], p->needs[0]);
        const double *b = p->needs[1] ? column(&logs[i], p->needs[1]) : a;
        if (finite_pairs(a, b, logs[i].nrows)) return 1;
    }
    return 0;
}

int ekn_plot_log_script(FILE *f, const ekn_plot_log *logs, int nlogs, const ekn_plot_log_opts *o, ekn_err *err)
{
    ctx c = {f, logs, nlogs, o, 0, NULL, 0, NULL, 0, 0, NULL, 0, 0, 0};
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
            if (p->what == EKN_PLOT_LABEL && o->what == EKN_PLOT_LABEL && many_classes(&logs[i]))
                return ekn_err_set(err, EKN_EXIT_FAIL,
                                   "'%s': mean labels above 1 (more than two classes): the mean label does not "
                                   "measure the class balance",
                                   logs[i].path);
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
    /* the x columns; with -x epoch, fractional epochs where a stream's
     * producer numbered them (see ekn_plot_fractional_epochs) */
    double **xs = calloc((size_t)nlogs, sizeof *xs);
    if (!xs) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (int i = 0; i < nlogs; i++) {
        const double *xc = column(&logs[i], x), *step = column(&logs[i], "step");
        if (!xc) continue;
        xs[i] = malloc((logs[i].nrows ? logs[i].nrows : 1) * sizeof **xs);
        if (!xs[i]) {
            for (int j = 0; j < i; j++) free(xs[j]);
            free(xs);
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        }
        if (!strcmp(x, "epoch") && step) ekn_plot_fractional_epochs(step, xc, logs[i].nrows, xs[i]);
        else memcpy(xs[i], xc, logs[i].nrows * sizeof **xs);
    }
    c.x = xs;
    for (int k = 0; k < n; k++) chosen[k]->draw(&c);
    if (n > 1) fprintf(f, "unset multiplot\n");
    for (int i = 0; i < nlogs; i++) free(xs[i]);
    free(xs);
    return 0;
}
