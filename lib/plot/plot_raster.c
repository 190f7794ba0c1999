/* plot_raster: RGB rasters from tensor slices, and the script that shows one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

int ekn_plot_raster_init(ekn_plot_raster *r, int width, int height, uint32_t fill, ekn_err *err)
{
    r->width = width;
    r->height = height;
    r->rgb = NULL;
    r->pixel_aspect = 1;
    if (width < 1 || height < 1 || (size_t)width * (size_t)height > ((size_t)1 << 28))
        return ekn_err_set(err, EKN_EXIT_FAIL, "picture of %dx%d pixels is empty or too large", width, height);
    r->rgb = malloc((size_t)width * (size_t)height * sizeof *r->rgb);
    if (!r->rgb) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a %dx%d picture", width, height);
    for (size_t i = 0; i < (size_t)width * (size_t)height; i++) r->rgb[i] = fill;
    return 0;
}

void ekn_plot_raster_free(ekn_plot_raster *r)
{
    free(r->rgb);
    r->rgb = NULL;
    r->width = r->height = 0;
}

uint32_t ekn_plot_class_colour(int k)
{
    static const uint32_t colours[] = {0xff3030, 0x30c030, 0x3060ff, 0xffc000, 0xc040ff,
                                       0x00d0d0, 0xff8000, 0xff60c0, 0x80ff00};
    return colours[(k - 1) % (int)(sizeof colours / sizeof colours[0])];
}

void ekn_plot_grid_shape(int count, int *cols, int *rows)
{
    int c = 1;
    while (c * c < count) c++;
    *cols = c;
    *rows = (count + c - 1) / c;
}

int ekn_plot_slice(ekn_plot_view *v, const ekn_tensor *t, int has_channel, uint64_t n, uint64_t c, char axis,
                   long index, ekn_err *err)
{
    int lead = has_channel ? 2 : 1, nd = t->rank - lead;
    if (nd < 1 || nd > 3)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s' record of rank %d is not an image (%s)", t->name, t->rank,
                           has_channel ? "N,C,[Z,]Y,X" : "N,[Z,]Y,X");
    uint64_t C = has_channel ? t->shape[1] : 1;
    if (n >= t->shape[0]) return ekn_err_set(err, EKN_EXIT_FAIL, "example %llu of %llu", (unsigned long long)n,
                                             (unsigned long long)t->shape[0]);
    if (c >= C)
        return ekn_err_set(err, EKN_EXIT_FAIL, "channel %llu out of range: the '%s' record has %llu",
                           (unsigned long long)c, t->name, (unsigned long long)C);
    uint64_t Z = nd == 3 ? t->shape[lead] : 1, Y = nd >= 2 ? t->shape[t->rank - 2] : 1, X = t->shape[t->rank - 1];
    size_t vol = (size_t)(Z * Y * X);
    v->t = t;
    v->base = (size_t)(n * C + c) * vol;
    if (nd < 3 || axis == 'z') {
        uint64_t len = Z;
        if (index >= (long)len) return ekn_err_set(err, EKN_EXIT_FAIL, "--index %ld out of range: z has %llu slices",
                                                   index, (unsigned long long)len);
        uint64_t k = index < 0 ? len / 2 : (uint64_t)index;
        v->base += (size_t)(k * Y * X);
        v->h = (int)Y, v->w = (int)X, v->sy = (size_t)X, v->sx = 1;
    } else if (axis == 'y') {
        if (index >= (long)Y) return ekn_err_set(err, EKN_EXIT_FAIL, "--index %ld out of range: y has %llu slices",
                                                 index, (unsigned long long)Y);
        uint64_t k = index < 0 ? Y / 2 : (uint64_t)index;
        v->base += (size_t)(k * X);
        v->h = (int)Z, v->w = (int)X, v->sy = (size_t)(Y * X), v->sx = 1;
    } else {
        if (index >= (long)X) return ekn_err_set(err, EKN_EXIT_FAIL, "--index %ld out of range: x has %llu slices",
                                                 index, (unsigned long long)X);
        uint64_t k = index < 0 ? X / 2 : (uint64_t)index;
        v->base += (size_t)k;
        v->h = (int)Z, v->w = (int)Y, v->sy = (size_t)(Y * X), v->sx = (size_t)X;
    }
    return 0;
}

static double at(const ekn_plot_view *v, int y, int x)
{
    return ekn_tensor_get(v->t, v->base + (size_t)y * v->sy + (size_t)x * v->sx);
}

void ekn_plot_draw_grey(ekn_plot_raster *r, const ekn_plot_view *v, int x0, int y0, int zoom)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int y = 0; y < v->h; y++)
        for (int x = 0; x < v->w; x++) {
            double a = at(v, y, x);
            if (!isfinite(a)) continue;
            lo = fmin(lo, a);
            hi = fmax(hi, a);
        }
    for (int y = 0; y < v->h * zoom; y++)
        for (int x = 0; x < v->w * zoom; x++) {
            int ry = y0 + y, rx = x0 + x;
            if (ry < 0 || rx < 0 || ry >= r->height || rx >= r->width) continue;
            double a = at(v, y / zoom, x / zoom);
            uint32_t g;
            if (!isfinite(a)) g = 0;
            else g = hi > lo ? (uint32_t)lround(255 * (a - lo) / (hi - lo)) : 128;
            r->rgb[(size_t)ry * (size_t)r->width + (size_t)rx] = g << 16 | g << 8 | g;
        }
}

static uint32_t blend(uint32_t under, uint32_t over, double alpha)
{
    uint32_t out = 0;
    for (int s = 0; s <= 16; s += 8) {
        double a = (under >> s) & 255, b = (over >> s) & 255;
        out |= (uint32_t)lround((1 - alpha) * a + alpha * b) << s;
    }
    return out;
}

void ekn_plot_draw_classes(ekn_plot_raster *r, const ekn_plot_view *v, int x0, int y0, int zoom, int off_y,
                           int off_x, int stride_y, int stride_x, double alpha)
{
    for (int i = 0; i < v->h; i++)
        for (int j = 0; j < v->w; j++) {
            double a = at(v, i, j);
            if (!isfinite(a) || a < 0.5) continue; /* class 0 and ignored labels stay grey */
            uint32_t colour = ekn_plot_class_colour((int)lround(a));
            /* a prediction of a strided net stands for stride x stride pixels */
            for (int y = (off_y + i * stride_y) * zoom; y < (off_y + (i + 1) * stride_y) * zoom; y++)
                for (int x = (off_x + j * stride_x) * zoom; x < (off_x + (j + 1) * stride_x) * zoom; x++) {
                    int ry = y0 + y, rx = x0 + x;
                    if (ry < 0 || rx < 0 || ry >= r->height || rx >= r->width) continue;
                    uint32_t *p = &r->rgb[(size_t)ry * (size_t)r->width + (size_t)rx];
                    *p = blend(*p, colour, alpha);
                }
        }
}

void ekn_plot_raster_script(FILE *f, const ekn_plot_raster *r, const char *title, int binary)
{
    double a = r->pixel_aspect > 0 ? r->pixel_aspect : 1;
    if (!binary) {
        fprintf(f, "$raster << EOD\n");
        for (int y = 0; y < r->height; y++) {
            const uint32_t *row = r->rgb + (size_t)y * (size_t)r->width;
            for (int x = 0; x < r->width; x++) fprintf(f, x ? " %u" : "%u", (unsigned)row[x]);
            fputc('\n', f);
        }
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set size ratio -1\nunset key; unset tics; unset border; unset colorbox\n"
               "set margins 0.5, 0.5, 0.5, 2\n"
               "set xrange [-0.5:%d.5]; set yrange [%.9g:%.9g]\nset title ", r->width - 1, (r->height - 0.5) * a,
            -0.5 * a);
    ekn_plot_quote(f, title ? title : "");
    if (!binary) {
        fprintf(f, "\nplot $raster matrix using 1:($2*%.9g):(int($3)/65536):(int($3)/256%%256):(int($3)%%256) with rgbimage\n",
                a);
        return;
    }
    /* gnuplot parses a text matrix and evaluates the colour expressions per
     * pixel: a grid of nine 512x512 slices took 25 s that way, the same
     * picture from inline bytes takes under a second */
    fprintf(f, "\nplot '-' binary array=(%d,%d) dy=%.9g format='%%uchar%%uchar%%uchar' with rgbimage\n", r->width,
            r->height, a);
    for (size_t i = 0; i < (size_t)r->width * (size_t)r->height; i++) {
        uint32_t c = r->rgb[i];
        fputc((int)(c >> 16 & 0xff), f);
        fputc((int)(c >> 8 & 0xff), f);
        fputc((int)(c & 0xff), f);
    }
    fputc('\n', f);
}
