/* ekn-augment's options: the texts of the command line into the run's config. */
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "batch.h"

int ekn_aug_cfg_resolve(ekn_aug_run_cfg *c, ekn_err *err)
{
    const int U = EKN_EXIT_USAGE;
    const struct ekn_aug_args *a = &c->args;
    ekn_aug_opts *o = &c->o;
    if (a->flip) {
        for (const char *p = a->flip; *p; p++) {
            if (*p == ',') continue;
            const char *axis = strchr("zyx", *p);
            if (!axis) return ekn_err_set(err, U, "--flip takes letters of z,y,x, you specified '%s'", a->flip);
            o->flip[axis - "zyx"] = 1;
        }
    }
    o->scale_lo = o->scale_hi = 1;
    if (a->scale) {
        char *end;
        o->scale_lo = strtod(a->scale, &end);
        if (*end == ':') o->scale_hi = strtod(end + 1, &end);
        else o->scale_hi = o->scale_lo;
        if (*end || !(o->scale_lo > 0) || !(o->scale_hi >= o->scale_lo) || o->scale_hi > 100)
            return ekn_err_set(err, U, "--scale needs A:B with 0 < A <= B <= 100, you specified '%s'", a->scale);
    }
    const ekn_zyx *t = &a->translate;
    for (int k = 0; t->n && k < 3; k++) {
        double v = t->n == 1 ? (k ? t->v[0] : 0) : k >= 3 - t->n ? t->v[k - (3 - t->n)] : 0;
        if (!(v >= 0) || v > 1e6) return ekn_err_set(err, U, "--translate must not be negative, you specified '%s'", t->text);
        o->translate[k] = v;
    }
    if (a->elastic) {
        double v[2];
        ekn_err e = {0};
        if (ekn_parse_float_list(a->elastic, v, 2, "--elastic", &e) != 2 || !(v[0] >= 0) || !(v[1] >= 0.5) || v[0] > 1e4 ||
            v[1] > 1e4)
            return ekn_err_set(err, U, "--elastic needs STRENGTH,SMOOTHNESS with STRENGTH >= 0 and SMOOTHNESS >= 0.5, "
                                       "you specified '%s'", a->elastic);
        o->elastic_strength = v[0];
        o->elastic_smooth = v[1];
    }
    if (a->crop.n) {
        if (a->crop.n < 2) return ekn_err_set(err, U, "--crop needs Y,X or Z,Y,X, you specified '%s'", a->crop.text);
        c->crop_dims = a->crop.n;
        for (int k = 0; k < 3; k++) c->crop[k] = 1;
        ekn_zyx_place(&a->crop, c->crop);
    }
    if (a->calc) {
        if (a->crop.n) return ekn_err_set(err, U, "--crop and --calc both give the crop; say one");
        ekn_patch_geom g;
        int img_img = 0;
        if (ekn_patch_geom_from_calc(&g, &img_img, a->calc, err)) return -1;
        if (!img_img) return ekn_err_set(err, U, "--calc: '%s' is not an img-img net's; give --crop", a->calc);
        c->crop_dims = g.ndim >= 3 ? 3 : 2;
        memcpy(c->crop, g.in, sizeof c->crop);
    }
    const char *in_plane = a->in_plane ? a->in_plane : "auto";
    c->in_plane_mode = !strcmp(in_plane, "auto") ? -1 : !strcmp(in_plane, "yes");
    c->reject = a->outside && !strcmp(a->outside, "reject");
    return 0;
}
