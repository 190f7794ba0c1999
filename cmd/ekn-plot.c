/* ekn-plot: pictures of training logs, streams, checkpoints and confusion
 * matrices, drawn by gnuplot (ekn-plot(1)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "plot.h"

static ekn_plot_opts o = {.what = "all", .x = "step", .axis = "z", .window = 20, .index = -1, .count = 1,
                         .interval = 5, .alpha = 0.45};

static const ekn_option options[] = {
    OPT_STRING('o', "output", &o.output, "FILE", "picture to write (format from the extension: .png .svg .pdf .txt)"),
    OPT_CHOICE('f', "format", &o.format, "FORMAT", "picture format [from the extension, else png]", "png|svg|pdf|text"),
    OPT_STRING('s', "size", &o.size, "W,H", "size in pixels (pdf: 1/100 inch; text: characters)"),
    OPT_FLAG('t', "terminal", &o.terminal, "draw as text on stdout (gnuplot's dumb terminal)"),
    OPT_FLAG(0, "script", &o.script, "print the gnuplot script on stdout instead of running gnuplot"),
    OPT_STRING(0, "title", &o.title, "TEXT", "title above the picture"),
    OPT_CHOICE('w', "what", &o.what, "PICTURE", "log: the picture to draw", "loss|error|gain|lr|label|cg|all"),
    OPT_CHOICE('x', "x", &o.x, "AXIS", "log: the x axis of curves over time", "step|time|epoch"),
    OPT_INT(0, "window", &o.window, "ROWS", "log: moving average window of the training error", 1, 1e9),
    OPT_FLAG('F', "follow", &o.follow, "log: redraw every --interval seconds until interrupted"),
    OPT_FLOAT(0, "interval", &o.interval, "SECONDS", "log: seconds between redraws with --follow", 0.1, 86400),
    OPT_CHOICE(0, "axis", &o.axis, "AXIS", "image: the axis a volume is sliced across", "z|y|x"),
    OPT_INT(0, "index", &o.index, "K", "image, filters: the slice along --axis (-1: the middle)", -1, 1e9),
    OPT_INT('c', "channel", &o.channel, "C", "image, filters: the input channel", 0, 1e9),
    OPT_INT(0, "first", &o.first, "E", "image: the first example drawn (counted from 0)", 0, 1e15),
    OPT_INT('g', "grid", &o.count, "N", "image: draw N examples as a grid", 1, 10000),
    OPT_STRING(0, "overlay", &o.overlay, "FILE", "image: stream of labels or predictions drawn in colour"),
    OPT_FLOAT(0, "alpha", &o.alpha, "A", "image: opacity of the overlay", 0, 1),
    OPT_STRING(0, "layer", &o.layer, "NAME", "filters: the layer [the first with weights]"),
    OPT_END(),
};

static const ekn_command command = {
    "ekn-plot", "[options] log LOG... | image STREAM | filters CHECKPOINT | confusion REPORT",
    "Draw training logs, tensors, filters and confusion matrices with gnuplot.", options,
};

typedef enum { KIND_LOG, KIND_IMAGE, KIND_FILTERS, KIND_CONFUSION } kind;

/* Writes the body of the script (everything after the terminal lines). */
static int body(FILE *f, kind k, char **args, int nargs, ekn_err *err)
{
    if (k == KIND_LOG) {
        ekn_plot_log *logs = calloc((size_t)nargs, sizeof *logs);
        if (!logs) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        int rc = 0, n = 0;
        for (; n < nargs && !rc; n++) rc = ekn_plot_log_read(&logs[n], args[n], err);
        if (rc) n--; /* the failed read freed its own log */
        ekn_plot_log_opts lo = {ekn_plot_what_parse(o.what), o.x, (int)o.window, o.title};
        if (!rc) rc = ekn_plot_log_script(f, logs, nargs, &lo, err);
        for (int i = 0; i < n; i++) ekn_plot_log_free(&logs[i]);
        free(logs);
        return rc;
    }
    if (k == KIND_CONFUSION) {
        ekn_plot_confusion c;
        if (ekn_plot_confusion_read(&c, args[0], err)) return -1;
        ekn_plot_confusion_script(f, &c, o.title);
        ekn_plot_confusion_free(&c);
        return 0;
    }
    ekn_plot_raster r;
    char auto_title[512];
    int rc;
    if (k == KIND_IMAGE) {
        ekn_plot_image_opts io = {args[0], o.overlay, (uint64_t)o.first, (int)o.count, o.channel, o.axis[0], o.index, o.alpha};
        rc = ekn_plot_image_raster(&io, &r, auto_title, sizeof auto_title, err);
    } else {
        rc = ekn_plot_filters_raster(args[0], o.layer, o.channel, o.index, &r, auto_title, sizeof auto_title, err);
    }
    if (rc) return -1;
    ekn_plot_raster_script(f, &r, o.title ? o.title : auto_title, !o.script);
    ekn_plot_raster_free(&r);
    return 0;
}

/* One picture: the script, then gnuplot (or the script on stdout). */
static int draw(const ekn_plot_out *out, kind k, char **args, int nargs, ekn_err *err)
{
    char *text = NULL, tmp[4200] = "";
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (out->path) snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out->path, (long)getpid());
    ekn_plot_terminal(f, out, o.script ? out->path : out->path ? tmp : NULL);
    int rc = body(f, k, args, nargs, err);
    if (fclose(f) != 0 && !rc) rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (!rc && o.script) {
        fwrite(text, 1, len, stdout);
    } else if (!rc) {
        int slot = out->path ? ekn_temp_register(tmp) : -1;
        rc = ekn_plot_run(text, len, out, tmp, err);
        if (slot >= 0) ekn_temp_forget(slot);
    }
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    int firstarg = ekn_cmd_start(&command, argc, argv);
    if (firstarg >= argc) ekn_usage_die(&command, "no picture given: log, image, filters or confusion");
    static const char *const kinds[] = {"log", "image", "filters", "confusion"};
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(argv[firstarg], kinds[i])) k = i;
    if (k < 0) ekn_usage_die(&command, "unknown picture '%s': log, image, filters or confusion", argv[firstarg]);
    char **args = argv + firstarg + 1;
    int nargs = argc - firstarg - 1;
    if (nargs < 1) ekn_usage_die(&command, "%s: no input file given", kinds[k]);
    if (k != KIND_LOG && nargs > 1) ekn_usage_die(&command, "%s: one input file, got %d", kinds[k], nargs);
    if (o.follow && k != KIND_LOG) ekn_usage_die(&command, "--follow redraws logs only");
    if (o.terminal && o.output) ekn_usage_die(&command, "--terminal and --output cannot be combined");

    ekn_plot_out out = {EKN_PLOT_PNG, 0, 0, o.output};
    int fmt = o.format ? ekn_plot_format_parse(o.format) : o.output ? ekn_plot_format_from_path(o.output) : -1;
    if (o.terminal) fmt = EKN_PLOT_DUMB;
    if (fmt < 0) {
        if (o.output && !o.format) ekn_usage_die(&command, "'%s': unknown picture format; give --format", o.output);
        fmt = EKN_PLOT_PNG;
    }
    out.format = (ekn_plot_format)fmt;
    if (out.format == EKN_PLOT_DUMB && !o.output) out.path = NULL;
    else if (!o.output && !o.script) ekn_usage_die(&command, "--output FILE is required (or --terminal)");
    int multi = k == KIND_LOG && !strcmp(o.what, "all");
    out.width = out.format == EKN_PLOT_DUMB ? 100 : multi ? 1400 : 900;
    out.height = out.format == EKN_PLOT_DUMB ? 32 : multi ? 1000 : 600;
    if (k != KIND_LOG && out.format != EKN_PLOT_DUMB) out.height = out.width = 800;
    if (o.size) {
        long wh[2];
        ekn_err err = {0};
        if (ekn_parse_int_list(o.size, wh, 2, 1, "--size", &err) != 2)
            ekn_usage_die(&command, "--size wants W,H, you specified '%s'", o.size);
        if (wh[0] > 20000 || wh[1] > 20000) ekn_usage_die(&command, "--size %s is larger than 20000", o.size);
        out.width = (int)wh[0], out.height = (int)wh[1];
    }

    ekn_err err = {0};
    /* each text frame of --follow replaces the last on a terminal */
    int clear = o.follow && out.format == EKN_PLOT_DUMB && !o.script && isatty(1);
    do {
        if (clear) fputs("\033[H\033[2J", stdout);
        if (draw(&out, (kind)k, args, nargs, &err)) ekn_die_err(&err);
        if (o.follow) {
            fflush(stdout);
            struct timespec ts = {(time_t)o.interval, (long)((o.interval - (double)(time_t)o.interval) * 1e9)};
            nanosleep(&ts, NULL);
        }
    } while (o.follow);
    return EKN_EXIT_OK;
}
