/* ekn-predict: apply a trained checkpoint to a stream of inputs. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "predict.h"

static ekn_predict_opts o = {.c = {.batch = 64, .boundary = 1, .threshold = 0.5}, .write = "both", .pad = "none", .max_mib = 1024,
                             .dev = EKN_DEVICE_OPTS_INIT};
static ekn_predict_config *const c = &o.c;

static const ekn_option options[] = {
    OPT_STRING('m', "model", &o.c.model, "FILE", "checkpoint written by ekn-train"),
    OPT_STRING('o', "output", &o.c.output, "FILE", "output stream ('-': stdout) [stdout unless --eval]"),
    OPT_CHOICE(0, "write", &o.write, "WHAT", "records to write", "prob|class|both"),
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
    OPT_CHOICE(0, "tta", &o.c.tta, "SET",
               "test-time augmentation: average the probabilities over mirrored or rotated copies (and back)",
               "flips|d4|d8"),
    OPT_FORCE(&o.c.force),
    OPT_END(),
};

static const ekn_command cmd = {"ekn-predict", "[options] --model FILE [INPUT]",
                                "Apply a trained network to a stream of inputs (stdin when INPUT is omitted).", options};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!c->model) ekn_usage_die(&cmd, "--model is required");
    if (c->eval && c->output && !strcmp(c->output, "-"))
        ekn_usage_die(&cmd, "--eval prints its report on stdout; write the stream to a file with -o FILE");
    if (!c->dense && (o.tile.n || o.pad_given || c->no_mfp))
        ekn_usage_die(&cmd, "--tile, --pad and --no-mfp need --dense");
    c->input = first < argc ? argv[first] : "-";
    ekn_predict_opts_resolve(&o);
    ekn_err err = {0};
    if (ekn_device_opts_apply(&o.dev, &c->ops, &err)) ekn_die_err(&err);
    if (ekn_predict_run(c, stdout, &err)) ekn_die_err(&err);
    return EKN_EXIT_OK;
}
