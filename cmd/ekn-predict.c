/* ekn-predict: apply a trained checkpoint to a stream of inputs. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "predict.h"

static ekn_predict_opts o = {.c = {.batch = 64, .boundary = 1, .threshold = 0.5, .channel = -1}, .write = "both", .pad = "none", .max_mib = 1024,
                             .dev = EKN_DEVICE_OPTS_INIT};
static ekn_predict_config *const c = &o.c;

static const ekn_option options[] = {
    OPT_STRING('m', "model", &o.c.model, "FILE", "checkpoint written by ekn-train"),
    OPT_STRING('o', "output", &o.c.output, "FILE", "output stream ('-': stdout), or FILE.h5:/DATASET for one HDF5 dataset "
               "(--dense) [stdout unless --eval]"),
    OPT_CHOICE(0, "write", &o.write, "WHAT", "records to write [both; HDF5: prob]", "prob|class|both",
               .given = &o.write_given, .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_FLAG(0, "eval", &o.c.eval,
             "compare with the labels in the stream: accuracy, confusion matrix, per-class scores, and for img-img the "
             "segmentation scores, on stdout"),
    OPT_INT(0, "boundary-class", &o.c.boundary, "K",
            "--eval, img-img: the class that marks membranes, for the segmentation scores", 0, 1 << 20),
    OPT_FLOAT(0, "threshold", &o.c.threshold, "P",
              "--eval, img-img: membrane where the boundary class's probability exceeds P", 0, 1),
    OPT_INT('b', "batch", &o.c.batch, "N", "examples per forward pass", 1, 1 << 20),
    EKN_DEVICE_OPTIONS(&o.dev),
    OPT_FLAG(0, "dense", &o.c.dense,
             "img-img: predict every position where the field of view fits, at stride 1, by tiling"),
    OPT_ZYX(0, "tile", &o.tile, "Z,Y,X", "--dense: tile input size (valid sizes, see ekn-calc) [largest within --max-memory]",
            1, EKN_ZYX_MAX),
    OPT_CHOICE(0, "pad", &o.pad, "MODE", "--dense: pad each side by the offset, so every voxel gets a prediction",
               "none|mirror|zero", .given = &o.pad_given),
    OPT_FLOAT(0, "max-memory", &o.max_mib, "MIB",
              "refuse a network that needs more [the available memory; a GPU: none]; --dense: tiles within it [1024]",
              1, 1e12, .given = &o.mem_given, .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_FLAG(0, "no-mfp", &o.c.no_mfp, "--dense: shift and stitch even when every pool sets mfp = 1"),
    OPT_STRING(0, "roi", &o.roi, "RANGES",
               "--dense: predict only the output voxels Z0:Z1,Y0:Y1,X0:X1 (2D: Y0:Y1,X0:X1), each range half-open"),
    OPT_STRING(0, "block", &o.block, "I/N",
               "--dense, HDF5 output: predict block I of N (0 <= I < N) into FILE.block-I-of-N.h5; a finished one is skipped"),
    OPT_FLAG(0, "join", &o.join, "join the block files given as operands into one virtual dataset -o FILE.h5:/DATASET"),
    OPT_STRING(0, "apply", &o.c.apply, "STATS",
               "HDF5 input: normalise with these ekn-preprocess statistics (--fit) [integers / their type's maximum]",
               .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_CHOICE(0, "quantize", &o.quantize, "TYPE", "HDF5 output: probabilities as uint8, round(255 p)", "none|u8"),
    OPT_INT(0, "channel", &o.c.channel, "K", "HDF5 output: only class K's probabilities [every class]", 0, 1 << 20,
            .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_INT(0, "deflate", &o.c.deflate, "LEVEL", "HDF5 output: gzip the chunks at this level [none]", 0, 9,
            .given = &o.deflate_given, .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_CHOICE(0, "tta", &o.c.tta, "SET",
               "test-time augmentation: average the probabilities over mirrored or rotated copies (and back)",
               "flips|d4|d8"),
    OPT_FORCE(&o.c.force),
    OPT_END(),
};

static const ekn_command cmd = {"ekn-predict", "[options] --model FILE [INPUT | FILE.h5:/DATASET] | --join -o FILE.h5:/DATASET BLOCK-FILE...",
                                "Apply a trained network to a stream of inputs (stdin when INPUT is omitted).", options};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    c->input = first < argc ? argv[first] : "-";
    if (c->eval && c->output && !strcmp(c->output, "-"))
        ekn_usage_die(&cmd, "--eval prints its report on stdout; write the stream to a file with -o FILE");
    ekn_err err = {0};
    if (ekn_predict_opts_resolve(&o, &err)) ekn_die_err(&err); /* one line: a bad region */
    if (o.join) {
        if (!c->h5_file) ekn_usage_die(&cmd, "--join writes an HDF5 dataset: give -o FILE.h5:/DATASET");
        if (first == argc) ekn_usage_die(&cmd, "--join needs the block files as operands");
        if (ekn_predict_join(c->h5_file, c->h5_dset, (const char *const *)argv + first, argc - first, &err))
            ekn_die_err(&err);
        return EKN_EXIT_OK;
    }
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!c->model) ekn_usage_die(&cmd, "--model is required");
    if (!c->dense && (o.tile.n || o.pad_given || c->no_mfp || o.roi || o.block))
        ekn_usage_die(&cmd, "--tile, --pad, --no-mfp, --roi and --block need --dense");
    if (!c->h5_file && (o.quantize || c->channel >= 0 || o.deflate_given))
        ekn_usage_die(&cmd, "--quantize, --channel and --deflate shape HDF5 output: give -o FILE.h5:/DATASET");
    if (o.roi && o.block) ekn_usage_die(&cmd, "--roi and --block are exclusive");
    if (ekn_device_opts_apply(&o.dev, &c->ops, &err)) ekn_die_err(&err);
    if (ekn_predict_run(c, stdout, &err)) ekn_die_err(&err);
    return EKN_EXIT_OK;
}
