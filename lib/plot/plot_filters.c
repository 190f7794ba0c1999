/* plot_filters: the first layer's weights of a checkpoint as a grid of pictures. */
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
        if (name ? !strcmp(l->name, name) : l->kind != EKN_LAYER_POOL) return l;
    }
    return NULL;
}

/* Height, width and channels of one dense unit's weights drawn as a picture. */
static int dense_shape(const ekn_spec *s, uint64_t in, int *h, int *w, int *channels)
{
    if (s->mode != EKN_MODE_VECT_SCALAR && s->has_shape && s->shape[0] == 1 &&
        (uint64_t)s->channels * (uint64_t)s->shape[1] * (uint64_t)s->shape[2] == in) {
        *h = s->shape[1], *w = s->shape[2], *channels = s->channels;
        return 0;
    }
    uint64_t r = (uint64_t)llround(sqrt((double)in));
    if (r * r != in || r < 2) return -1;
    *h = *w = (int)r;
    *channels = 1;
    return 0;
}

static int draw(const ekn_spec *s, const ekn_spec_layer *l, const ekn_tensor *w, long channel, long index,
                ekn_plot_raster *r, char *title, size_t cap, const char *ckpt, ekn_err *err)
{
    uint64_t units = w->shape[0];
    ekn_plot_view v = {w, 0, 0, 1, 0, 0};
    uint64_t per_unit = ekn_tensor_numel(w) / (units ? units : 1);
    if (l->kind == EKN_LAYER_CONV) {
        /* (Cout, Cin, [kz,] ky, kx): the same slicing as an image's channels */
        if (ekn_plot_slice(&v, w, 1, 0, (uint64_t)channel, 'z', index, err))
            return ekn_err_prefix(err, "'%s': layer '%s'", ckpt, l->name);
    } else {
        int h, wd, channels;
        if (dense_shape(s, per_unit, &h, &wd, &channels))
            return ekn_err_set(err, EKN_EXIT_FAIL,
                               "'%s': dense layer '%s' has %llu inputs, which are not a picture of the spec's input",
                               ckpt, l->name, (unsigned long long)per_unit);
        if (channel >= channels)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': channel %ld out of range: the input of layer '%s' has %d", ckpt, channel,
                               l->name, channels);
        /* the inputs are the flattened (C, Y, X) picture */
        v.base = (size_t)channel * (size_t)h * (size_t)wd;
        v.h = h, v.w = wd, v.sy = (size_t)wd;
    }
    size_t base0 = v.base;
    int cols, rows;
    ekn_plot_grid_shape((int)units, &cols, &rows);
    if (ekn_plot_raster_init(r, cols * (v.w + GAP) - GAP, rows * (v.h + GAP) - GAP, GAP_COLOUR, err)) return -1;
    for (uint64_t u = 0; u < units; u++) {
        v.base = base0 + (size_t)(u * per_unit);
        ekn_plot_draw_grey(r, &v, (int)(u % (uint64_t)cols) * (v.w + GAP), (int)(u / (uint64_t)cols) * (v.h + GAP), 1);
    }
    const char *base = strrchr(ckpt, '/');
    snprintf(title, cap, "%s: %s, %llu %s of %dx%d%s", base ? base + 1 : ckpt, l->name, (unsigned long long)units,
             l->kind == EKN_LAYER_CONV ? "filters" : "units", v.h, v.w,
             l->kind == EKN_LAYER_CONV && w->rank == 5 ? " (middle z slice unless --index)" : "");
    return 0;
}

int ekn_plot_filters_raster(const char *ckpt, const char *layer, long channel, long index, ekn_plot_raster *r,
                            char *title, size_t cap, ekn_err *err)
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
        if (layer) ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no layer '%s'", ckpt, layer);
        else ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no layer with weights", ckpt);
        goto done;
    }
    if (l->kind == EKN_LAYER_POOL) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': layer '%s' is a pool layer: it has no weights", ckpt, l->name);
        goto done;
    }
    snprintf(name, sizeof name, "%s.w", l->name);
    if (ekn_ckpt_read_tensor(&c, name, &w, err)) goto done;
    if (w.rank < 2 || (l->kind == EKN_LAYER_CONV && w.rank < 3)) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' has rank %d", ckpt, name, w.rank);
        goto done;
    }
    rc = draw(&s, l, &w, channel, index, r, title, cap, ckpt, err);
done:
    if (rc) ekn_plot_raster_free(r);
    ekn_tensor_free(&w);
    ekn_spec_free(&s);
    ekn_ckpt_close(&c);
    return rc;
}
