/* ekn-augment: random geometric and intensity transforms of a stream of
 * examples, applied jointly to images, labels and masks (ekn-augment(1)).
 * Thin: options -> lib/data/augment.h -> exit code. */
#include <inttypes.h>
#include <stdio.h>
#include <stdio_ext.h>

#include "augment.h"
#include "cmd.h"

static ekn_aug_run_cfg c = {
    .o = {.seed = 1, .warp_fraction = 1, .gamma = 1},
    .output = "-",
    .args = {.in_plane = "auto", .outside = "ignore"},
};

static const ekn_option options[] = {
    OPT_STRING('o', "output", &c.output, "FILE", "write to FILE (atomically) instead of stdout"),
    OPT_INT(0, "seed", &c.o.seed, "S", "seed of every draw (example k always gets the same draw)",
            0, 9007199254740991.0),
    OPT_STRING(0, "flip", &c.args.flip, "AXES", "axes that may be mirrored, each with p=0.5: letters of z,y,x"),
    OPT_FLAG(0, "transpose", &c.o.transpose, "swap Y and X with p=0.5"),
    OPT_FLAG(0, "rot90", &c.o.rot90, "rotate by 0, 90, 180 or 270 degrees in Y,X, each with p=0.25"),
    OPT_FLOAT(0, "rotate", &c.o.rotate, "DEG", "rotate in Y,X by an angle uniform in [-DEG,DEG] (a warp)", 0, 180),
    OPT_FLOAT(0, "rotate3d", &c.o.rotate3d, "DEG", "full 3D: rotate about a random axis by an angle uniform in [-DEG,DEG] (a warp)",
              0, 180),
    OPT_STRING(0, "scale", &c.args.scale, "A:B", "zoom log-uniform in [A,B] (a warp)"),
    OPT_FLOAT(0, "shear", &c.o.shear, "S", "Y,X shear factor uniform in [-S,S] (a warp)", 0, 2),
    OPT_FLOAT(0, "perspective", &c.o.perspective, "P", "projective coefficients uniform in [-P,P], P < 1 (a warp)",
              0, 0.9),
    OPT_ZYX_REAL(0, "translate", &c.args.translate, "T", "shift uniform in [-T,T] voxels; T or Y,X or Z,Y,X (a warp)"),
    OPT_STRING(0, "elastic", &c.args.elastic, "A,S",
               "elastic warp: displacement std A voxels, smoothness sigma S voxels"),
    OPT_FLOAT(0, "warp-fraction", &c.o.warp_fraction, "F", "warp only this fraction of the examples", 0, 1),
    OPT_ZYX(0, "crop", &c.args.crop, "DIMS", "centred output crop, Y,X or Z,Y,X (the network's input shape)",
            1, EKN_ZYX_MAX),
    OPT_STRING(0, "calc", &c.args.calc, "FILE",
               "crop to the input shape in 'ekn-calc --format shell' output (as ekn-batch --calc)"),
    OPT_CHOICE(0, "in-plane", &c.args.in_plane, "WHEN", "warp in Y,X only (for a coarse Z) [auto: spacing= or a thin Z]",
               "auto|yes|no", .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_CHOICE(0, "outside", &c.args.outside, "WHAT", "labels that sample outside the image: ignore (-1) or reject the example",
               "ignore|reject"),
    OPT_FLOAT(0, "brightness", &c.o.brightness, "B", "add an offset uniform in [-B,B]", 0, 1e30),
    OPT_FLOAT(0, "contrast", &c.o.contrast, "C", "scale about the mean by a factor uniform in [1-C,1+C]", 0, 1),
    OPT_FLOAT(0, "gamma", &c.o.gamma, "G", "gamma log-uniform in [1/G,G] on the example's value range", 1, 100),
    OPT_FLOAT(0, "noise", &c.o.noise, "SIGMA", "add Gaussian noise of this std", 0, 1e30),
    OPT_FLOAT(0, "blur", &c.o.blur, "SIGMA", "Gaussian blur of sigma uniform in [0,SIGMA] voxels", 0, 10),
    OPT_FLOAT(0, "dropout", &c.o.dropout, "P", "set each value to 0 with probability P", 0, 0.99),
    OPT_FLAG(0, "per-channel", &c.o.per_channel, "draw brightness, contrast and gamma per channel"),
    OPT_FORCE(&c.force),
    OPT_END(),
};

static const ekn_command cmd = {
    "ekn-augment",
    "[options] [INPUT]",
    "Randomly transform the examples of an ekn stream (stdin when INPUT is omitted): images, labels and masks jointly.",
    options,
};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "one INPUT expected, %d given", argc - first);
    ekn_err err = {0};
    if (ekn_aug_cfg_resolve(&c, &err)) {
        if (err.code == EKN_EXIT_USAGE) ekn_usage_die(&cmd, "%s", err.msg);
        ekn_die_err(&err);
    }
    c.input = first < argc ? argv[first] : "-";
    if (ekn_aug_run(&c, &err)) {
        /* what stdout still buffers is dropped, so a failed write is reported once */
        __fpurge(stdout);
        clearerr(stdout);
        ekn_die_err(&err);
    }
    ekn_info("%" PRIu64 " examples in, %" PRIu64 " out, %" PRIu64 " warped", c.examples_in, c.examples_out, c.warped);
    return EKN_EXIT_OK;
}
