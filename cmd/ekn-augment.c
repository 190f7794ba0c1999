/* ekn-augment: random geometric and intensity transforms of a stream of
 * examples, applied jointly to images, labels and masks (ekn-augment(1)).
 * Thin: options -> lib/data/augment.h -> exit code. */
#include <inttypes.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>

#include "augment.h"
#include "batch.h"
#include "cmd.h"

static const char *output = "-", *flip, *scale, *translate, *elastic, *crop, *calc, *in_plane = "auto",
                  *outside = "ignore";
static long seed = 1;
static int transpose, rot90, per_channel, force;
static double rotate, rotate3d, shear, perspective, warp_fraction = 1, brightness, contrast, gamma_max = 1, noise, blur,
              dropout;

static const ekn_option options[] = {
    {'o', "output", EKN_OPT_STRING, &output, "FILE", "write to FILE (atomically) instead of stdout", 0, 0, NULL, 0, NULL},
    {0, "seed", EKN_OPT_INT, &seed, "S", "seed of every draw (example k always gets the same draw)", 0, 9007199254740991.0, NULL, 0, NULL},
    {0, "flip", EKN_OPT_STRING, &flip, "AXES", "axes that may be mirrored, each with p=0.5: letters of z,y,x", 0, 0, NULL, 0, NULL},
    {0, "transpose", EKN_OPT_FLAG, &transpose, NULL, "swap Y and X with p=0.5", 0, 0, NULL, 0, NULL},
    {0, "rot90", EKN_OPT_FLAG, &rot90, NULL, "rotate by 0, 90, 180 or 270 degrees in Y,X, each with p=0.25", 0, 0, NULL, 0, NULL},
    {0, "rotate", EKN_OPT_FLOAT, &rotate, "DEG", "rotate in Y,X by an angle uniform in [-DEG,DEG] (a warp)", 0, 180, NULL, 0, NULL},
    {0, "rotate3d", EKN_OPT_FLOAT, &rotate3d, "DEG", "full 3D: rotate about a random axis by an angle uniform in [-DEG,DEG] (a warp)", 0, 180, NULL, 0, NULL},
    {0, "scale", EKN_OPT_STRING, &scale, "A:B", "zoom log-uniform in [A,B] (a warp)", 0, 0, NULL, 0, NULL},
    {0, "shear", EKN_OPT_FLOAT, &shear, "S", "Y,X shear factor uniform in [-S,S] (a warp)", 0, 2, NULL, 0, NULL},
    {0, "perspective", EKN_OPT_FLOAT, &perspective, "P", "projective coefficients uniform in [-P,P], P < 1 (a warp)", 0, 0.9, NULL, 0, NULL},
    {0, "translate", EKN_OPT_STRING, &translate, "T", "shift uniform in [-T,T] voxels; T or Y,X or Z,Y,X (a warp)", 0, 0, NULL, 0, NULL},
    {0, "elastic", EKN_OPT_STRING, &elastic, "A,S", "elastic warp: displacement std A voxels, smoothness sigma S voxels", 0, 0, NULL, 0, NULL},
    {0, "warp-fraction", EKN_OPT_FLOAT, &warp_fraction, "F", "warp only this fraction of the examples", 0, 1, NULL, 0, NULL},
    {0, "crop", EKN_OPT_STRING, &crop, "DIMS", "centred output crop, Y,X or Z,Y,X (the network's input shape)", 0, 0, NULL, 0, NULL},
    {0, "calc", EKN_OPT_STRING, &calc, "FILE", "crop to the input shape in 'ekn-calc --format shell' output (as ekn-batch --calc)", 0, 0, NULL, 0, NULL},
    {0, "in-plane", EKN_OPT_CHOICE, &in_plane, "WHEN", "warp in Y,X only (for a coarse Z) [auto: spacing= or a thin Z]", 0, 0, "auto|yes|no", 0, NULL},
    {0, "outside", EKN_OPT_CHOICE, &outside, "WHAT", "labels that sample outside the image: ignore (-1) or reject the example", 0, 0, "ignore|reject", 0, NULL},
    {0, "brightness", EKN_OPT_FLOAT, &brightness, "B", "add an offset uniform in [-B,B]", 0, 1e30, NULL, 0, NULL},
    {0, "contrast", EKN_OPT_FLOAT, &contrast, "C", "scale about the mean by a factor uniform in [1-C,1+C]", 0, 1, NULL, 0, NULL},
    {0, "gamma", EKN_OPT_FLOAT, &gamma_max, "G", "gamma log-uniform in [1/G,G] on the example's value range", 1, 100, NULL, 0, NULL},
    {0, "noise", EKN_OPT_FLOAT, &noise, "SIGMA", "add Gaussian noise of this std", 0, 1e30, NULL, 0, NULL},
    {0, "blur", EKN_OPT_FLOAT, &blur, "SIGMA", "Gaussian blur of sigma uniform in [0,SIGMA] voxels", 0, 10, NULL, 0, NULL},
    {0, "dropout", EKN_OPT_FLOAT, &dropout, "P", "set each value to 0 with probability P", 0, 0.99, NULL, 0, NULL},
    {0, "per-channel", EKN_OPT_FLAG, &per_channel, NULL, "draw brightness, contrast and gamma per channel", 0, 0, NULL, 0, NULL},
    {'f', "force", EKN_OPT_FLAG, &force, NULL, "write a binary stream to a terminal", 0, 0, NULL, 0, NULL},
    {0},
};

static const ekn_command cmd = {
    "ekn-augment",
    "[options] [INPUT]",
    "Randomly transform the examples of an ekn stream (stdin when INPUT is omitted): images, labels and masks jointly.",
    options,
};

static void parse_lists(ekn_aug_run_cfg *c)
{
    ekn_err err = {0};
    ekn_aug_opts *o = &c->o;
    if (flip) {
        for (const char *p = flip; *p; p++) {
            if (*p == ',') continue;
            const char *axis = strchr("zyx", *p);
            if (!axis) ekn_usage_die(&cmd, "--flip takes letters of z,y,x, you specified '%s'", flip);
            o->flip[axis - "zyx"] = 1;
        }
    }
    o->scale_lo = o->scale_hi = 1;
    if (scale) {
        char *end;
        o->scale_lo = strtod(scale, &end);
        if (*end == ':') o->scale_hi = strtod(end + 1, &end);
        else o->scale_hi = o->scale_lo;
        if (*end || !(o->scale_lo > 0) || !(o->scale_hi >= o->scale_lo) || o->scale_hi > 100)
            ekn_usage_die(&cmd, "--scale needs A:B with 0 < A <= B <= 100, you specified '%s'", scale);
    }
    if (translate) {
        double t[3];
        int n = ekn_parse_float_list(translate, t, 3, "--translate", &err);
        if (n < 0) ekn_usage_die(&cmd, "%s", err.msg);
        for (int k = 0; k < 3; k++) {
            double v = n == 1 ? (k ? t[0] : 0) : k >= 3 - n ? t[k - (3 - n)] : 0;
            if (!(v >= 0) || v > 1e6) ekn_usage_die(&cmd, "--translate must not be negative, you specified '%s'", translate);
            o->translate[k] = v;
        }
    }
    if (elastic) {
        double v[2];
        if (ekn_parse_float_list(elastic, v, 2, "--elastic", &err) != 2 || !(v[0] >= 0) || !(v[1] >= 0.5) ||
            v[0] > 1e4 || v[1] > 1e4)
            ekn_usage_die(&cmd, "--elastic needs STRENGTH,SMOOTHNESS with STRENGTH >= 0 and SMOOTHNESS >= 0.5, "
                                "you specified '%s'", elastic);
        o->elastic_strength = v[0];
        o->elastic_smooth = v[1];
    }
    if (crop) {
        long v[3];
        int n = ekn_parse_int_list(crop, v, 3, 1, "--crop", &err);
        if (n < 2) ekn_usage_die(&cmd, "--crop needs Y,X or Z,Y,X, you specified '%s'", crop);
        c->crop_dims = n;
        for (int k = 0; k < 3; k++) c->crop[k] = k >= 3 - n ? (int)v[k - (3 - n)] : 1;
    }
    if (calc) {
        if (crop) ekn_usage_die(&cmd, "--crop and --calc both give the crop; say one");
        ekn_patch_geom g;
        int img_img = 0;
        if (ekn_patch_geom_from_calc(&g, &img_img, calc, &err)) ekn_die_err(&err);
        if (!img_img) ekn_usage_die(&cmd, "--calc: '%s' is not an img-img net's; give --crop", calc);
        c->crop_dims = g.ndim >= 3 ? 3 : 2;
        memcpy(c->crop, g.in, sizeof c->crop);
    }
}

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "one INPUT expected, %d given", argc - first);
    ekn_aug_run_cfg c = {0};
    ekn_aug_opts *o = &c.o;
    o->seed = (uint64_t)seed;
    o->transpose = transpose;
    o->rot90 = rot90;
    o->rotate = rotate;
    o->rotate3d = rotate3d;
    o->shear = shear;
    o->perspective = perspective;
    o->warp_fraction = warp_fraction;
    o->brightness = brightness;
    o->contrast = contrast;
    o->gamma = gamma_max;
    o->noise = noise;
    o->blur = blur;
    o->dropout = dropout;
    o->per_channel = per_channel;
    parse_lists(&c);
    c.input = first < argc ? argv[first] : "-";
    c.output = output;
    c.force = force;
    c.in_plane_mode = !strcmp(in_plane, "auto") ? -1 : !strcmp(in_plane, "yes");
    c.reject = !strcmp(outside, "reject");
    ekn_err err = {0};
    if (ekn_aug_run(&c, &err)) {
        /* what stdout still buffers is dropped, so a failed write is reported once */
        __fpurge(stdout);
        clearerr(stdout);
        ekn_die_err(&err);
    }
    ekn_info("%" PRIu64 " examples in, %" PRIu64 " out, %" PRIu64 " warped", c.examples_in, c.examples_out, c.warped);
    return EKN_EXIT_OK;
}
