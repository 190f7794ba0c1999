/* plot_image: a grid of image slices from a stream, with classes overlaid. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "plot.h"
#include "stream.h"

enum { GAP = 1, GAP_COLOUR = 0xffffff };

typedef struct grid {
    const ekn_plot_image_opts *o;
    int cols, rows, cell_w, cell_h, drawn;
    int spatial[3];  /* Z, Y, X of the first image drawn */
    int nd;
    double lo, hi;   /* the values of all pictures drawn */
    double *vals;    /* --range all: the values, painted once all are known (NaN: none; gap: -inf) */
} grid;

static void cell_origin(const grid *g, int k, int *x0, int *y0)
{
    *x0 = (k % g->cols) * (g->cell_w + GAP);
    *y0 = (k / g->cols) * (g->cell_h + GAP);
}

/* Which spatial axes (0 z, 1 y, 2 x) the slice's rows and columns run along. */
static void view_axes(const grid *g, int *ay, int *ax)
{
    int axis_k = g->o->axis == 'z' ? 0 : g->o->axis == 'y' ? 1 : 2;
    if (g->nd < 3) axis_k = 0;
    *ay = axis_k == 0 ? 1 : 0;
    *ax = axis_k == 2 ? 1 : 2;
}

/* Height over width of a slice's pixel from "spacing=z,y,x" (or "y,x"); 1 without it. */
static double pixel_aspect(const grid *g, const ekn_tensor *t)
{
    char buf[128];
    double sp[3] = {1, 1, 1};
    if (!ekn_tensor_meta_get(t, "spacing", buf, sizeof buf)) return 1;
    int n = sscanf(buf, "%lf,%lf,%lf", &sp[0], &sp[1], &sp[2]);
    if (n == 2) sp[2] = sp[1], sp[1] = sp[0], sp[0] = 1;
    else if (n != 3) return 1;
    int ay, ax;
    view_axes(g, &ay, &ax);
    double a = sp[ay] / sp[ax];
    return isfinite(a) && a > 0 ? a : 1;
}

/* Draws the examples of one image record that fall into the grid. */
static int draw_images(grid *g, ekn_plot_raster *r, const ekn_tensor *t, uint64_t seen, const char *src, ekn_err *err)
{
    const ekn_plot_image_opts *o = g->o;
    for (uint64_t n = 0; n < t->shape[0]; n++) {
        uint64_t e = seen + n;
        if (e < o->first || e >= o->first + (uint64_t)o->count) continue;
        ekn_plot_view v;
        if (ekn_plot_slice(&v, t, 1, n, (uint64_t)o->channel, o->axis, o->index, err))
            return ekn_err_prefix(err, "'%s': image example %llu", src, (unsigned long long)e);
        if (!r->rgb) {
            g->cell_w = v.w, g->cell_h = v.h;
            g->nd = t->rank - 2;
            for (int k = 0; k < 3; k++) g->spatial[k] = k < 3 - g->nd ? 1 : (int)t->shape[2 + k - (3 - g->nd)];
            if (ekn_plot_raster_init(r, g->cols * (v.w + GAP) - GAP, g->rows * (v.h + GAP) - GAP, GAP_COLOUR, err))
                return -1;
            r->pixel_aspect = pixel_aspect(g, t);
            if (o->range.mode == EKN_PLOT_RANGE_ALL) {
                size_t npx = (size_t)r->width * (size_t)r->height;
                if (!(g->vals = malloc(npx * sizeof *g->vals))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
                for (size_t i = 0; i < npx; i++) g->vals[i] = -INFINITY;
            }
        } else if (v.w != g->cell_w || v.h != g->cell_h) {
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': image example %llu is %dx%d, the first was %dx%d", src,
                               (unsigned long long)e, v.w, v.h, g->cell_w, g->cell_h);
        }
        int x0, y0;
        cell_origin(g, (int)(e - o->first), &x0, &y0);
        ekn_plot_view_minmax(&v, &g->lo, &g->hi);
        if (o->range.mode == EKN_PLOT_RANGE_EACH) {
            ekn_plot_draw_grey(r, &v, x0, y0, 1);
        } else if (o->range.mode == EKN_PLOT_RANGE_FIXED) {
            ekn_plot_draw_grey_range(r, &v, x0, y0, 1, o->range.lo, o->range.hi);
        } else {
            for (int y = 0; y < v.h; y++)
                for (int x = 0; x < v.w; x++) {
                    double a = ekn_tensor_get(v.t, v.base + (size_t)y * v.sy + (size_t)x * v.sx);
                    g->vals[(size_t)(y0 + y) * (size_t)r->width + (size_t)(x0 + x)] = isfinite(a) ? a : NAN;
                }
        }
        g->drawn++;
    }
    return 0;
}

/* offset and stride of axis k (0 z, 1 y, 2 x) from "offset=a,b,c" metadata, else centred. */
static void placement(const grid *g, const ekn_tensor *t, int lab_nd, int *off, int *stride)
{
    char buf[128];
    int o[3] = {0, 0, 0}, s[3] = {1, 1, 1};
    int have = ekn_tensor_meta_get(t, "offset", buf, sizeof buf) && sscanf(buf, "%d,%d,%d", &o[0], &o[1], &o[2]) == 3;
    if (have && ekn_tensor_meta_get(t, "stride", buf, sizeof buf)) sscanf(buf, "%d,%d,%d", &s[0], &s[1], &s[2]);
    for (int k = 0; k < 3; k++) {
        int size = k < 3 - lab_nd ? 1 : (int)t->shape[t->rank - 3 + k];
        if (!have) o[k] = (g->spatial[k] - size) / 2; /* same shape: 0; a valid net's output: centred */
        off[k] = o[k];
        stride[k] = s[k] > 0 ? s[k] : 1;
    }
}

/* The slice of the overlay that lies in the image slice; -1 when none does. */
static long overlay_index(const grid *g, int axis_k, int off, int stride, long size)
{
    long k = g->o->index < 0 ? g->spatial[axis_k] / 2 : g->o->index;
    if (k < off || (k - off) / stride >= size) return -1;
    return (k - off) / stride;
}

static int draw_overlay_record(grid *g, ekn_plot_raster *r, ekn_tensor *t, uint64_t seen, const char *src, ekn_err *err)
{
    const ekn_plot_image_opts *o = g->o;
    int has_channel = ekn_rec_kind_of(t->name) == EKN_KIND_PROB;
    int lab_nd = t->rank - 1 - has_channel;
    if (lab_nd < 1 || lab_nd > 3 || lab_nd > g->nd)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' record of rank %d does not fit images of %d spatial axes",
                           src, t->name, t->rank, g->nd);
    int off[3], stride[3];
    placement(g, t, lab_nd, off, stride);
    int axis_k = g->nd < 3 ? 0 : o->axis == 'z' ? 0 : o->axis == 'y' ? 1 : 2;
    long size = axis_k < 3 - lab_nd ? 1 : (long)t->shape[t->rank - 3 + axis_k];
    long k = g->nd < 3 ? 0 : overlay_index(g, axis_k, off[axis_k], stride[axis_k], size);
    if (k < 0) return 0;
    ekn_tensor cls = EKN_TENSOR_INIT;
    const ekn_tensor *src_t = t;
    int soft = has_channel && o->prob; /* probability maps: each class's colour as opaque as it is likely */
    if (has_channel && !soft) { /* probabilities: draw the most likely class */
        uint64_t shp[4] = {t->shape[0]};
        for (int a = 2; a < t->rank; a++) shp[a - 1] = t->shape[a];
        if (ekn_tensor_reshape(&cls, EKN_F32, t->rank - 1, shp, err)) return -1;
        ekn_tensor_set_name(&cls, EKN_REC_CLASS);
        uint64_t C = t->shape[1], S = ekn_tensor_numel(&cls) / (t->shape[0] ? t->shape[0] : 1);
        float *out = cls.data;
        for (uint64_t n = 0; n < t->shape[0]; n++)
            for (uint64_t s = 0; s < S; s++) {
                uint64_t best = 0;
                for (uint64_t c = 1; c < C; c++)
                    if (ekn_tensor_get(t, (n * C + c) * S + s) > ekn_tensor_get(t, (n * C + best) * S + s)) best = c;
                out[n * S + s] = (float)best;
            }
        src_t = &cls;
    }
    int rc = 0;
    for (uint64_t n = 0; n < t->shape[0] && !rc; n++) {
        uint64_t e = seen + n;
        if (e < o->first || e >= o->first + (uint64_t)o->count) continue;
        ekn_plot_view v;
        if (ekn_plot_slice(&v, src_t, soft, n, 0, o->axis, lab_nd < 3 ? -1 : k, err)) {
            rc = ekn_err_prefix(err, "'%s': overlay example %llu", src, (unsigned long long)e);
            break;
        }
        int x0, y0;
        cell_origin(g, (int)(e - o->first), &x0, &y0);
        /* the two axes the view spans: (y, x) for a z slice, (z, x) for y, (z, y) for x */
        int ay, ax;
        view_axes(g, &ay, &ax);
        /* clip to the cell: a centred overlay never spills into a neighbour */
        ekn_plot_raster cell = {.width = g->cell_w, .height = g->cell_h,
                                .rgb = malloc((size_t)g->cell_w * (size_t)g->cell_h * 4), .pixel_aspect = 1};
        if (!cell.rgb) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            break;
        }
        for (int y = 0; y < g->cell_h; y++)
            memcpy(cell.rgb + (size_t)y * (size_t)g->cell_w, r->rgb + (size_t)(y0 + y) * (size_t)r->width + x0,
                   (size_t)g->cell_w * 4);
        if (!soft) {
            ekn_plot_draw_classes(&cell, &v, 0, 0, 1, off[ay], off[ax], stride[ay], stride[ax], o->alpha);
        } else {
            /* class 0 (the background) stays grey; one channel is class 1's probability */
            uint64_t C = t->shape[1];
            for (uint64_t c = C > 1 ? 1 : 0; c < C; c++) {
                if (ekn_plot_slice(&v, t, 1, n, c, o->axis, lab_nd < 3 ? -1 : k, err)) {
                    rc = ekn_err_prefix(err, "'%s': overlay example %llu", src, (unsigned long long)e);
                    break;
                }
                ekn_plot_draw_prob(&cell, &v, ekn_plot_class_colour(C > 1 ? (int)c : 1), 0, 0, 1, off[ay], off[ax],
                                   stride[ay], stride[ax], o->alpha);
            }
        }
        for (int y = 0; y < g->cell_h; y++)
            memcpy(r->rgb + (size_t)(y0 + y) * (size_t)r->width + x0, cell.rgb + (size_t)y * (size_t)g->cell_w,
                   (size_t)g->cell_w * 4);
        free(cell.rgb);
    }
    ekn_tensor_free(&cls);
    return rc;
}

/* Reads path and hands each record of the wanted kind to fn. */
static int each_record(grid *g, ekn_plot_raster *r, const char *path, int overlay, ekn_err *err)
{
    ekn_reader rd;
    if (ekn_reader_open(&rd, path, err)) return -1;
    ekn_tensor t = EKN_TENSOR_INIT;
    uint64_t seen = 0;
    int rc, found = 0;
    const char *kind = NULL; /* the overlay takes one record name: class, else label, else prob */
    while ((rc = ekn_stream_read(&rd, &t, err)) == 1) {
        if (!t.rank) continue;
        if (!overlay) {
            /* an autoencoder's (or img-img regression's) outputs are pictures too */
            ekn_rec_kind k = ekn_rec_kind_of(t.name);
            if (k != EKN_KIND_IMAGE && k != EKN_KIND_OUTPUT) continue;
            if (draw_images(g, r, &t, seen, ekn_reader_name(&rd), err)) {
                rc = -1;
                break;
            }
        } else {
            ekn_rec_kind k = ekn_rec_kind_of(t.name);
            int is = g->o->prob ? k == EKN_KIND_PROB : k == EKN_KIND_CLASS || k == EKN_KIND_LABEL || k == EKN_KIND_PROB;
            if (!is || (kind && strcmp(kind, t.name))) continue;
            if (!kind) kind = k == EKN_KIND_CLASS ? EKN_REC_CLASS : k == EKN_KIND_LABEL ? EKN_REC_LABEL : EKN_REC_PROB;
            if (draw_overlay_record(g, r, &t, seen, ekn_reader_name(&rd), err)) {
                rc = -1;
                break;
            }
        }
        found = 1;
        seen += t.shape[0];
        if (seen >= g->o->first + (uint64_t)g->o->count) break;
    }
    if (rc == 0 && !found)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no %s records", ekn_reader_name(&rd),
                         overlay ? g->o->prob ? EKN_REC_PROB : EKN_REC_LABEL ", " EKN_REC_CLASS " or " EKN_REC_PROB
                                 : EKN_REC_IMAGE " records or " EKN_REC_OUTPUT);
    else if (rc == 0 && !overlay && !g->drawn)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %llu examples, none from example %llu on", ekn_reader_name(&rd),
                         (unsigned long long)seen, (unsigned long long)g->o->first);
    else if (rc == 1)
        rc = 0;
    ekn_tensor_free(&t);
    ekn_reader_close(&rd);
    return rc < 0 ? -1 : 0;
}

int ekn_plot_image_raster(const ekn_plot_image_opts *o, ekn_plot_raster *r, char *title, size_t cap, ekn_err *err)
{
    grid g = {o, 0, 0, 0, 0, 0, {1, 1, 1}, 0, INFINITY, -INFINITY, NULL};
    ekn_plot_grid_shape(o->count, &g.cols, &g.rows);
    r->rgb = NULL;
    if (each_record(&g, r, o->path, 0, err)) goto fail;
    if (g.vals) { /* --range all: one scale from the least to the largest value drawn */
        for (size_t i = 0; i < (size_t)r->width * (size_t)r->height; i++) {
            double a = g.vals[i];
            if (a == -INFINITY) continue; /* a gap */
            uint32_t grey = isnan(a) ? 0 : g.hi > g.lo ? (uint32_t)lround(255 * (a - g.lo) / (g.hi - g.lo)) : 128;
            r->rgb[i] = grey << 16 | grey << 8 | grey;
        }
        free(g.vals);
        g.vals = NULL;
    }
    ekn_plot_colour_bar(r, &o->range, g.lo, g.hi, g.drawn);
    if (o->overlay && each_record(&g, r, o->overlay, 1, err)) goto fail;
    const char *base = strrchr(o->path, '/');
    int n = snprintf(title, cap, "%s: example%s %llu", base ? base + 1 : o->path, g.drawn > 1 ? "s" : "",
                     (unsigned long long)o->first);
    if (g.drawn > 1 && n > 0 && (size_t)n < cap)
        n += snprintf(title + n, cap - (size_t)n, "-%llu", (unsigned long long)(o->first + (uint64_t)g.drawn - 1));
    if (g.nd == 3 && n > 0 && (size_t)n < cap) {
        int axis_k = o->axis == 'z' ? 0 : o->axis == 'y' ? 1 : 2;
        snprintf(title + n, cap - (size_t)n, ", %c = %ld", o->axis, o->index < 0 ? g.spatial[axis_k] / 2 : o->index);
    }
    return 0;
fail:
    free(g.vals);
    ekn_plot_raster_free(r);
    return -1;
}
