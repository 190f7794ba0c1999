/* ekn-plot: pictures of training logs, streams, checkpoints and confusion
 * matrices, drawn by gnuplot (ekn-plot(1)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "plot.h"

static const char *output, *format, *size, *what = "all", *xaxis = "step", *title, *axis = "z", *overlay, *layer;
static int terminal, follow, script;
static long window = 20, index_ = -1, channel, first, count = 1;
static double interval = 5, alpha = 0.45;

static const ekn_option options[] = {
    {'o', "output", EKN_OPT_STRING, &output, "FILE", "picture to write (format from the extension: .png .svg .pdf .txt)", 0, 0, NULL, 0, NULL},
    {'f', "format", EKN_OPT_CHOICE, &format, "FORMAT", "picture format [from the extension, else png]", 0, 0, "png|svg|pdf|text", 0, NULL},
    {'s', "size", EKN_OPT_STRING, &size, "W,H", "size in pixels (pdf: 1/100 inch; text: characters)", 0, 0, NULL, 0, NULL},
    {'t', "terminal", EKN_OPT_FLAG, &terminal, NULL, "draw as text on stdout (gnuplot's dumb terminal)", 0, 0, NULL, 0, NULL},
    {0, "script", EKN_OPT_FLAG, &script, NULL, "print the gnuplot script on stdout instead of running gnuplot", 0, 0, NULL, 0, NULL},
    {0, "title", EKN_OPT_STRING, &title, "TEXT", "title above the picture", 0, 0, NULL, 0, NULL},
    {'w', "what", EKN_OPT_CHOICE, &what, "PICTURE", "log: the picture to draw", 0, 0, "loss|error|gain|lr|label|cg|all", 0, NULL},
    {'x', "x", EKN_OPT_CHOICE, &xaxis, "AXIS", "log: the x axis of curves over time", 0, 0, "step|time|epoch", 0, NULL},
    {0, "window", EKN_OPT_INT, &window, "ROWS", "log: moving average window of the training error", 1, 1e9, NULL, 0, NULL},
    {'F', "follow", EKN_OPT_FLAG, &follow, NULL, "log: redraw every --interval seconds until interrupted", 0, 0, NULL, 0, NULL},
    {0, "interval", EKN_OPT_FLOAT, &interval, "SECONDS", "log: seconds between redraws with --follow", 0.1, 86400, NULL, 0, NULL},
    {0, "axis", EKN_OPT_CHOICE, &axis, "AXIS", "image: the axis a volume is sliced across", 0, 0, "z|y|x", 0, NULL},
    {0, "index", EKN_OPT_INT, &index_, "K", "image, filters: the slice along --axis (-1: the middle)", -1, 1e9, NULL, 0, NULL},
    {'c', "channel", EKN_OPT_INT, &channel, "C", "image, filters: the input channel", 0, 1e9, NULL, 0, NULL},
    {0, "first", EKN_OPT_INT, &first, "E", "image: the first example drawn (counted from 0)", 0, 1e15, NULL, 0, NULL},
    {'g', "grid", EKN_OPT_INT, &count, "N", "image: draw N examples as a grid", 1, 10000, NULL, 0, NULL},
    {0, "overlay", EKN_OPT_STRING, &overlay, "FILE", "image: stream of labels or predictions drawn in colour", 0, 0, NULL, 0, NULL},
    {0, "alpha", EKN_OPT_FLOAT, &alpha, "A", "image: opacity of the overlay", 0, 1, NULL, 0, NULL},
    {0, "layer", EKN_OPT_STRING, &layer, "NAME", "filters: the layer [the first with weights]", 0, 0, NULL, 0, NULL},
    {0},
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
        ekn_plot_log_opts o = {ekn_plot_what_parse(what), xaxis, (int)window, title};
        if (!rc) rc = ekn_plot_log_script(f, logs, nargs, &o, err);
        for (int i = 0; i < n; i++) ekn_plot_log_free(&logs[i]);
        free(logs);
        return rc;
    }
    if (k == KIND_CONFUSION) {
        ekn_plot_confusion c;
        if (ekn_plot_confusion_read(&c, args[0], err)) return -1;
        ekn_plot_confusion_script(f, &c, title);
        ekn_plot_confusion_free(&c);
        return 0;
    }
    ekn_plot_raster r;
    char auto_title[512];
    int rc;
    if (k == KIND_IMAGE) {
        ekn_plot_image_opts o = {args[0], overlay, (uint64_t)first, (int)count, channel, axis[0], index_, alpha};
        rc = ekn_plot_image_raster(&o, &r, auto_title, sizeof auto_title, err);
    } else {
        rc = ekn_plot_filters_raster(args[0], layer, channel, index_, &r, auto_title, sizeof auto_title, err);
    }
    if (rc) return -1;
    ekn_plot_raster_script(f, &r, title ? title : auto_title);
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
    ekn_plot_terminal(f, out, script ? out->path : out->path ? tmp : NULL);
    int rc = body(f, k, args, nargs, err);
    if (fclose(f) != 0 && !rc) rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (!rc && script) {
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
    if (follow && k != KIND_LOG) ekn_usage_die(&command, "--follow redraws logs only");
    if (terminal && output) ekn_usage_die(&command, "--terminal and --output cannot be combined");

    ekn_plot_out out = {EKN_PLOT_PNG, 0, 0, output};
    int fmt = format ? ekn_plot_format_parse(format) : output ? ekn_plot_format_from_path(output) : -1;
    if (terminal) fmt = EKN_PLOT_DUMB;
    if (fmt < 0) {
        if (output && !format) ekn_usage_die(&command, "'%s': unknown picture format; give --format", output);
        fmt = EKN_PLOT_PNG;
    }
    out.format = (ekn_plot_format)fmt;
    if (out.format == EKN_PLOT_DUMB && !output) out.path = NULL;
    else if (!output && !script) ekn_usage_die(&command, "--output FILE is required (or --terminal)");
    int multi = k == KIND_LOG && !strcmp(what, "all");
    out.width = out.format == EKN_PLOT_DUMB ? 100 : multi ? 1400 : 900;
    out.height = out.format == EKN_PLOT_DUMB ? 32 : multi ? 1000 : 600;
    if (k != KIND_LOG && out.format != EKN_PLOT_DUMB) out.height = out.width = 800;
    if (size) {
        long wh[2];
        ekn_err err = {0};
        if (ekn_parse_int_list(size, wh, 2, 1, "--size", &err) != 2)
            ekn_usage_die(&command, "--size wants W,H, you specified '%s'", size);
        if (wh[0] > 20000 || wh[1] > 20000) ekn_usage_die(&command, "--size %s is larger than 20000", size);
        out.width = (int)wh[0], out.height = (int)wh[1];
    }

    ekn_err err = {0};
    /* each text frame of --follow replaces the last on a terminal */
    int clear = follow && out.format == EKN_PLOT_DUMB && !script && isatty(1);
    do {
        if (clear) fputs("\033[H\033[2J", stdout);
        if (draw(&out, (kind)k, args, nargs, &err)) ekn_die_err(&err);
        if (follow) {
            fflush(stdout);
            struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
            nanosleep(&ts, NULL);
        }
    } while (follow);
    return EKN_EXIT_OK;
}
