/* augment_params: drawing one example's transform parameters. */
#include <math.h>
#include <string.h>

#include "augment.h"

int ekn_aug_has_warp(const ekn_aug_opts *o)
{
    return o->rotate > 0 || o->rotate3d > 0 || o->scale_lo != 1 || o->scale_hi != 1 || o->shear > 0 || o->perspective > 0 ||
           o->translate[0] > 0 || o->translate[1] > 0 || o->translate[2] > 0 || o->elastic_strength > 0;
}

int ekn_aug_has_geometry(const ekn_aug_opts *o)
{
    return ekn_aug_has_warp(o) || o->flip[0] || o->flip[1] || o->flip[2] || o->transpose || o->rot90;
}

int ekn_aug_has_intensity(const ekn_aug_opts *o)
{
    return o->brightness > 0 || o->contrast > 0 || o->gamma > 1 || o->noise > 0 || o->blur > 0 || o->dropout > 0;
}

static double uniform_pm(ekn_rng *r, double half) { return half * (2 * ekn_rng_uniform(r) - 1); }

/* Quarter turns in the Y,X plane folded into transpose + mirrors: with
 * s = F T o (T: swap, F: signs), a turn maps (y, x) to (-x, y). */
static void fold_rot90(int k, int *transpose, int *flip_y, int *flip_x)
{
    /* the current in-plane matrix rows: s_y = a*o_y + b*o_x, s_x = c*o_y + d*o_x */
    int a = *transpose ? 0 : (*flip_y ? -1 : 1), b = *transpose ? (*flip_y ? -1 : 1) : 0;
    int c = *transpose ? (*flip_x ? -1 : 1) : 0, d = *transpose ? 0 : (*flip_x ? -1 : 1);
    for (int i = 0; i < k; i++) {
        /* M <- M R with R = [[0,-1],[1,0]]: o' = R o rotates the output grid */
        int na = b, nb = -a, nc = d, nd = -c;
        a = na, b = nb, c = nc, d = nd;
    }
    *transpose = a == 0;
    *flip_y = (a ? a : b) < 0;
    *flip_x = (a ? d : c) < 0;
}

void ekn_aug_draw(const ekn_aug_opts *o, ekn_rng *r, int channels, ekn_aug_params *p)
{
    memset(p, 0, sizeof *p);
    for (int k = 0; k < 3; k++) {
        int coin = ekn_rng_uniform(r) < 0.5;
        p->flip_drawn[k] = o->flip[k] && coin;
    }
    int coin = ekn_rng_uniform(r) < 0.5, turns = (int)ekn_rng_below(r, 4);
    p->transpose_drawn = o->transpose && coin;
    p->rot90 = o->rot90 ? turns : 0;
    for (int k = 0; k < 3; k++) p->flip[k] = p->flip_drawn[k];
    p->transpose = p->transpose_drawn;
    fold_rot90(p->rot90, &p->transpose, &p->flip[1], &p->flip[2]);

    /* each warp is drawn even when the example is not warped, so the
     * warp-fraction coin does not shift the other draws */
    double warp_coin = ekn_rng_uniform(r);
    p->warp = ekn_aug_has_warp(o) && warp_coin < o->warp_fraction;
    double angle = uniform_pm(r, o->rotate) * (M_PI / 180);
    double lo = log(o->scale_lo), hi = log(o->scale_hi);
    double scale = exp(lo + (hi - lo) * ekn_rng_uniform(r));
    double shear = uniform_pm(r, o->shear);
    double persp[2], translate[3];
    for (int k = 0; k < 2; k++) persp[k] = uniform_pm(r, o->perspective);
    for (int k = 0; k < 3; k++) translate[k] = uniform_pm(r, o->translate[k]);
    uint64_t field_seed = ekn_rng_u64(r);
    p->scale = 1;
    if (p->warp) {
        p->angle = angle, p->scale = scale, p->shear = shear, p->field_seed = field_seed;
        memcpy(p->persp, persp, sizeof persp);
        memcpy(p->translate, translate, sizeof translate);
    }

    p->blur = o->blur * ekn_rng_uniform(r);
    p->channels = channels > EKN_AUG_MAX_CHANNELS ? EKN_AUG_MAX_CHANNELS : channels;
    double lg = o->gamma > 1 ? log(o->gamma) : 0;
    for (int c = 0; c < p->channels; c++) {
        if (c > 0 && !o->per_channel) {
            p->brightness[c] = p->brightness[0], p->contrast[c] = p->contrast[0], p->gamma[c] = p->gamma[0];
            continue;
        }
        p->brightness[c] = (float)uniform_pm(r, o->brightness);
        p->contrast[c] = (float)(1 + uniform_pm(r, o->contrast));
        p->gamma[c] = (float)exp(uniform_pm(r, lg));
    }

    /* drawn last, so the draws above are what they were before it existed:
     * an axis uniform on the sphere (a normalised Gaussian vector) */
    double axis[3], norm = 0;
    for (int k = 0; k < 3; k++) axis[k] = ekn_rng_normal(r), norm += axis[k] * axis[k];
    norm = sqrt(norm);
    double angle3d = uniform_pm(r, o->rotate3d) * (M_PI / 180);
    if (p->warp && norm > 0) {
        for (int k = 0; k < 3; k++) p->axis[k] = axis[k] / norm;
        p->angle3d = angle3d;
    }
}
