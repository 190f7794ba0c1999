/* plot_filters: the first conv layer's weights of a checkpoint as a grid of pictures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "plot.h"
#include "spec.h"

enum { GAP = 1, GAP_COLOUR = 0xffffff };

static const ekn_spec_layer *find_layer(const ekn_spec *s, const char *name)
{
    for (int i = 0; i < s->nlayers; i++) {
        const ekn_spec_layer *l = &s->layers[i];
        if (name ? !strcmp(l->name, name) : l->kind == EKN_LAYER_CONV) return l;
    }
    return NULL;
}

/* The first dense layer, for the message when there is no conv layer. */
static const ekn_spec_layer *first_dense(const ekn_spec *s)
{
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].kind == EKN_LAYER_DENSE) return &s->layers[i];
    return NULL;
}

static int draw(const ekn_spec_layer *l, const ekn_tensor *w, long channel, long index, const ekn_plot_range *range,
                ekn_plot_raster *r, char *title, size_t cap, const char *ckpt, ekn_err *err)
{
    uint64_t units = w->shape[0];
    ekn_plot_view v = {w, 0, 0, 1, 0, 0};
    uint64_t per_unit = ekn_tensor_numel(w) / (units ? units : 1);
    /* (Cout, Cin, [kz,] ky, kx): the same slicing as an image's channels */
    if (ekn_plot_slice(&v, w, 1, 0, (uint64_t)channel, 'z', index, err))
        return ekn_err_prefix(err, "'%s': layer '%s'", ckpt, l->name);
    size_t base0 = v.base;
    int cols, rows;
    ekn_plot_grid_shape((int)units, &cols, &rows);
    if (ekn_plot_raster_init(r, cols * (v.w + GAP) - GAP, rows * (v.h + GAP) - GAP, GAP_COLOUR, err)) return -1;
    double lo = INFINITY, hi = -INFINITY; /* over all filters */
    for (uint64_t u = 0; u < units; u++) {
        v.base = base0 + (size_t)(u * per_unit);
        ekn_plot_view_minmax(&v, &lo, &hi);
    }
    for (uint64_t u = 0; u < units; u++) {
        v.base = base0 + (size_t)(u * per_unit);
        int x0 = (int)(u % (uint64_t)cols) * (v.w + GAP), y0 = (int)(u / (uint64_t)cols) * (v.h + GAP);
        if (range->mode == EKN_PLOT_RANGE_EACH) ekn_plot_draw_grey(r, &v, x0, y0, 1);
        else if (range->mode == EKN_PLOT_RANGE_ALL) ekn_plot_draw_grey_range(r, &v, x0, y0, 1, lo, hi);
        else ekn_plot_draw_grey_range(r, &v, x0, y0, 1, range->lo, range->hi);
    }
    if (units == 1) v.base = base0;
    ekn_plot_colour_bar(r, range, lo, hi, (int)units);
    const char *base = strrchr(ckpt, '/');
    snprintf(title, cap, "%s: %s, %llu filters of %dx%d%s", base ? base + 1 : ckpt, l->name, (unsigned long long)units,
             v.h, v.w, w->rank == 5 ? " (middle z slice unless --index)" : "");
    return 0;
}

int ekn_plot_filters_raster(const char *ckpt, const char *layer, long channel, long index,
                            const ekn_plot_range *range, ekn_plot_raster *r, char *title, size_t cap, ekn_err *err)
{
    r->rgb = NULL;
    ekn_ckpt c;
    if (ekn_ckpt_open(&c, ckpt, err)) return -1;
    ekn_spec s = {0};
    ekn_tensor w = EKN_TENSOR_INIT;
    char name[64];
    int rc = -1;
    if (ekn_ckpt_read_spec(&c, &s, err)) goto done;
    const ekn_spec_layer *l = find_layer(&s, layer);
    if (!l) {
        const ekn_spec_layer *d = first_dense(&s);
        if (layer) ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no layer '%s'", ckpt, layer);
        else if (d)
            ekn_err_set(err, EKN_EXIT_FAIL,
                        "'%s': no conv layer; the weights of dense layers ('%s') are not drawn as pictures", ckpt,
                        d->name);
        else ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no conv layer", ckpt);
        goto done;
    }
    if (l->kind != EKN_LAYER_CONV) {
        /* a dense layer's inputs are features, not pixels (its weights are a
         * picture only by accident of their number) */
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': layer '%s' is a %s layer: only conv filters are drawn", ckpt, l->name,
                    ekn_layer_kind_name(l->kind));
        goto done;
    }
    if (!layer)
        for (const ekn_spec_layer *d = s.layers; d < l; d++)
            if (d->kind == EKN_LAYER_DENSE) ekn_warn("'%s': skipping dense layer '%s': its weights are no picture", ckpt, d->name);
    snprintf(name, sizeof name, "%s.w", l->name);
    if (ekn_ckpt_read_tensor(&c, name, &w, err)) goto done;
    if (w.rank < 3) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' has rank %d", ckpt, name, w.rank);
        goto done;
    }
    rc = draw(l, &w, channel, index, range, r, title, cap, ckpt, err);
done:
    if (rc) ekn_plot_raster_free(r);
    ekn_tensor_free(&w);
    ekn_spec_free(&s);
    ekn_ckpt_close(&c);
    return rc;
}
