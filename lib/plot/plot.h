/* plot: pictures of training logs and tensors, drawn by gnuplot (ekn-plot(1)).
 *
 * The library writes a self-contained gnuplot script (the data inline in
 * $name << EOD blocks) to a FILE, then runs gnuplot on it.  Nothing here
 * depends on image libraries: tensors become RGB rasters that gnuplot draws
 * `with rgbimage`.
 *
 *   ekn_plot_log_read      a training log (TSV, columns chosen by header name)
 *   ekn_plot_log_script    loss, error, gain, rate, label and CG pictures of logs
 *   ekn_plot_raster_*      an RGB raster: tensor slices, overlays, grids, filters
 *   ekn_plot_raster_script the script that draws a raster
 *   ekn_plot_confusion_*   the confusion matrix of an `ekn-predict --eval` report
 *   ekn_plot_terminal      the script's prologue: terminal, size, output file
 *   ekn_plot_run           gnuplot as a child, the picture renamed into place */
#ifndef EKN_PLOT_H
#define EKN_PLOT_H
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "tensor.h"

/* ---- output ------------------------------------------------------------ */

typedef enum { EKN_PLOT_PNG, EKN_PLOT_SVG, EKN_PLOT_PDF, EKN_PLOT_DUMB } ekn_plot_format;

typedef struct ekn_plot_out {
    ekn_plot_format format;
    int width, height; /* pixels (PDF: 1/100 inch; dumb: characters) */
    const char *path;  /* final picture; NULL for the dumb terminal on stdout */
} ekn_plot_out;

/* "png", "svg", "pdf", "dumb" -> format; -1 if unknown. */
int ekn_plot_format_parse(const char *name);
/* The format implied by a file name's extension; -1 if it implies none. */
int ekn_plot_format_from_path(const char *path);

/* Writes the terminal and output lines; output goes to `file` (the temp
 * name, or NULL for stdout).  PNG uses pngcairo where gnuplot has it, else
 * the libgd png terminal. */
void ekn_plot_terminal(FILE *f, const ekn_plot_out *out, const char *file);
/* Writes s as a gnuplot single-quoted string literal ('' for '). */
void ekn_plot_quote(FILE *f, const char *s);

/* Runs gnuplot (or $EKN_GNUPLOT) with script on its standard input; the
 * dumb terminal's text goes to our stdout.  With out->path the script must
 * have been written with `tmp` as its output file: on success the picture is
 * renamed from tmp to out->path, on failure tmp is removed.  A gnuplot that
 * is missing, fails, or writes no picture is an error (EKN_EXIT_FAIL) whose
 * message quotes gnuplot's first error line. */
int ekn_plot_run(const char *script, size_t len, const ekn_plot_out *out, const char *tmp, ekn_err *err);

/* ---- training logs ------------------------------------------------------ */

typedef struct ekn_plot_log {
    char path[4096];
    char label[64];   /* for legends: the file name without directory and .tsv */
    int ncols;
    char **names;     /* header names */
    size_t nrows;
    double **col;     /* col[c][row]; NaN where "nan", empty or unparsable */
} ekn_plot_log;

/* Reads a log: a header line of tab-separated names, then rows.  A last line
 * without a newline and with too few fields (a row being written) is left
 * out.  An empty file, a header-only file is fine (nrows 0); a row with
 * another number of fields than the header is an error "'FILE':LINE: ...". */
int ekn_plot_log_read(ekn_plot_log *log, const char *path, ekn_err *err);
void ekn_plot_log_free(ekn_plot_log *log);
/* Index of the column with this header name, or -1. */
int ekn_plot_log_find(const ekn_plot_log *log, const char *name);

typedef enum {
    EKN_PLOT_LOSS = 1,  /* loss: raw, smoothed and validation */
    EKN_PLOT_ERROR = 2, /* train_err with a moving average, val_err */
    EKN_PLOT_GAIN = 4,  /* gain per update, zero line; lr and momentum on y2 */
    EKN_PLOT_LR = 8,    /* learning rate and momentum over time */
    EKN_PLOT_LABEL = 16,/* loss against the batch's mean label */
    EKN_PLOT_CG = 32,   /* accepted step size against the conjugacy coefficient */
    EKN_PLOT_ALL = 64,  /* every picture the logs have columns and values for */
} ekn_plot_what;

/* "loss|error|gain|lr|label|cg|all" -> one EKN_PLOT_* value; -1 if unknown. */
int ekn_plot_what_parse(const char *name);

typedef struct ekn_plot_log_opts {
    int what;          /* one EKN_PLOT_* value */
    const char *x;     /* x axis of time series: "step", "time" (seconds) or "epoch" */
    int window;        /* moving average window (rows) of train_err */
    const char *title; /* NULL: none beyond each picture's own */
} ekn_plot_log_opts;

/* Writes the plot commands for the logs (after ekn_plot_terminal).  A
 * column the chosen picture needs that a log lacks is an error naming the
 * column and the log (EKN_EXIT_FAIL).  Columns present but without a finite
 * value give an empty picture with "no data" in it.  EKN_PLOT_ALL draws the
 * loss picture, which every log must allow, and each other picture that
 * some log has data for, from the logs that have its columns. */
int ekn_plot_log_script(FILE *f, const ekn_plot_log *logs, int nlogs, const ekn_plot_log_opts *o, ekn_err *err);

/* Share of finite gains > 0 (updates that increased the loss); *n gets the
 * number of finite gains.  NaN when there are none (or gain is NULL). */
double ekn_plot_gain_up_share(const double *gain, size_t nrows, size_t *n);
/* Trailing moving average over the finite values of the last `window` rows
 * (NaN where the window holds none). */
void ekn_plot_moving_average(const double *x, size_t n, int window, double *out);

/* ---- rasters ------------------------------------------------------------ */

typedef struct ekn_plot_raster {
    int width, height;
    uint32_t *rgb;       /* 0xRRGGBB, row 0 at the top */
    double pixel_aspect; /* height of a pixel over its width (anisotropic volumes); 1 from init */
} ekn_plot_raster;

int ekn_plot_raster_init(ekn_plot_raster *r, int width, int height, uint32_t fill, ekn_err *err);
void ekn_plot_raster_free(ekn_plot_raster *r);

/* Colour of class k >= 1 in overlays (class 0 and negative labels stay grey). */
uint32_t ekn_plot_class_colour(int k);

/* A 2D view into a tensor: element (y, x) is data[base + y*sy + x*sx]. */
typedef struct ekn_plot_view {
    const ekn_tensor *t;
    size_t base;
    size_t sy, sx;
    int h, w;
} ekn_plot_view;

/* The view of example n, channel c of an image (N,C,[Z,]Y,X) or label
 * (N,[Z,]Y,X) tensor, through slice `index` of `axis` ('z', 'y' or 'x',
 * only for volumes; index < 0: the middle).  channel is ignored for labels
 * (has_channel 0).  Errors name what is out of range. */
int ekn_plot_slice(ekn_plot_view *v, const ekn_tensor *t, int has_channel, uint64_t n, uint64_t c, char axis,
                   long index, ekn_err *err);

/* Draws the view as grey (min..max of the view to black..white; a constant
 * view is mid grey) at (x0, y0) of the raster, scaled by `zoom`. */
void ekn_plot_draw_grey(ekn_plot_raster *r, const ekn_plot_view *v, int x0, int y0, int zoom);
/* Blends class colours over the raster: the view's classes (rounded) sit at
 * image position offset + stride * i per axis (y, x), alpha in [0,1]. */
void ekn_plot_draw_classes(ekn_plot_raster *r, const ekn_plot_view *v, int x0, int y0, int zoom, int off_y,
                           int off_x, int stride_y, int stride_x, double alpha);

/* Writes the script that shows the raster pixel for pixel (after the
 * terminal): with binary, the pixels follow the plot command as inline RGB
 * bytes (fast; gnuplot reads them from its script); otherwise as a $raster
 * text datablock a user can read and edit (--script).  Both draw the same. */
void ekn_plot_raster_script(FILE *f, const ekn_plot_raster *r, const char *title, int binary);

/* Cells of a grid of `count` equal pictures, nearly square, one pixel apart. */
void ekn_plot_grid_shape(int count, int *cols, int *rows);

typedef struct ekn_plot_image_opts {
    const char *path;    /* stream with image or output records (N,C,[Z,]Y,X), drawn alike in stream order */
    const char *overlay; /* NULL, or a stream with label, class or prob records (may be path) */
    uint64_t first;      /* first example, counted over all image and output records */
    int count;           /* examples in the grid */
    long channel;
    char axis;           /* 'z', 'y' or 'x' */
    long index;          /* slice along axis; < 0: the middle */
    double alpha;        /* overlay opacity */
} ekn_plot_image_opts;

/* Slices of examples first..first+count-1 as a grid of grey pictures, with
 * the overlay's classes in colour: labels of the image's spatial shape sit on
 * it pixel for pixel; predictions sit at the offset= and stride= of their
 * metadata (ekn-predict's output grid), else centred.  The first image
 * record's spacing= metadata (Z,Y,X) sets the pixel aspect of the slice.
 * title gets a summary. */
int ekn_plot_image_raster(const ekn_plot_image_opts *o, ekn_plot_raster *r, char *title, size_t cap, ekn_err *err);

/* The weights of a checkpoint's first conv or dense layer (or of `layer`)
 * as a grid, one picture per output: input channel `channel`, for 3D kernels
 * slice `index` along z (< 0: the middle).  Dense weights are drawn as
 * pictures of the spec's input shape, or as squares when the input size is a
 * square number. */
int ekn_plot_filters_raster(const char *ckpt, const char *layer, long channel, long index, ekn_plot_raster *r,
                            char *title, size_t cap, ekn_err *err);

/* ---- confusion matrix --------------------------------------------------- */

typedef struct ekn_plot_confusion {
    int classes;
    long *count;     /* count[label * classes + predicted] */
    double accuracy; /* from the report's accuracy line; NaN if absent */
} ekn_plot_confusion;

/* Parses the "confusion (rows: label, columns: predicted)" block of an
 * `ekn-predict --eval` report. */
int ekn_plot_confusion_read(ekn_plot_confusion *c, const char *path, ekn_err *err);
void ekn_plot_confusion_free(ekn_plot_confusion *c);
/* A heat map of the row-normalised matrix (recall per label), counts in the cells. */
void ekn_plot_confusion_script(FILE *f, const ekn_plot_confusion *c, const char *title);
/* ---- ekn-plot's command line ------------------------------------------ */

typedef struct ekn_plot_opts {
    const char *output, *format; /* picture file; png|svg|pdf|text (NULL: from the extension) */
    const char *size;            /* "W,H" */
    int terminal, script, follow;
    const char *title;
    const char *what, *x;        /* log: the picture (ekn_plot_what_parse), the x axis */
    long window;                 /* log: moving average rows */
    double interval;             /* log: seconds between redraws with follow */
    const char *axis;            /* image: "z", "y" or "x" */
    long index, channel, first, count; /* image, filters: slice, channel; image: first example, grid size */
    const char *overlay;         /* image: labels or predictions drawn in colour */
    double alpha;
    const char *layer;           /* filters: NULL: the first with weights */
} ekn_plot_opts;

#endif
