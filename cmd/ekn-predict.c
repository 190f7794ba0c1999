/* ekn-predict: apply a trained checkpoint to a stream of inputs. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "device.h"
#include "predict.h"

/* "Y,X" or "Z,Y,X", right-aligned onto Z,Y,X (the axes a 2D net leaves are 1). */
static int parse_tile(const char *s, int tile[3], ekn_err *err)
{
    long v[3];
    int n = ekn_parse_int_list(s, v, 3, 1, "--tile", err);
    if (n < 0) return -1;
    for (int k = 0; k < 3; k++) tile[k] = k < 3 - n ? 0 : (int)v[k - (3 - n)];
    return 0;
}

int main(int argc, char **argv)
{
    const char *device = "auto", *precision = "fp32";
    int nondeterministic = 0;
    const char *model = NULL, *output = NULL, *what = "both", *pad = "none", *tile = NULL;
    long batch = 64, threads = 0;
    double max_mib = 1024;
    int eval = 0, force = 0, dense = 0, no_mfp = 0, pad_given = 0, mem_given = 0;
    const ekn_option options[] = {
        {'m', "model", EKN_OPT_STRING, &model, "FILE", "checkpoint written by ekn-train", 0, 0, NULL, 0, NULL},
        {'o', "output", EKN_OPT_STRING, &output, "FILE", "output stream ('-': stdout) [stdout unless --eval]", 0, 0, NULL, 0, NULL},
        {0, "write", EKN_OPT_CHOICE, &what, "WHAT", "records to write", 0, 0, "prob|class|both", 0, NULL},
        {0, "eval", EKN_OPT_FLAG, &eval, NULL, "compare with the labels in the stream: accuracy, confusion matrix, precision and recall on stdout", 0, 0, NULL, 0, NULL},
        {'b', "batch", EKN_OPT_INT, &batch, "N", "examples per forward pass", 1, 1 << 20, NULL, 0, NULL},
        {0, "device", EKN_OPT_STRING, &device, "DEV", "where to compute: cpu, cuda, cuda:N, or auto (a GPU when there is one) [auto]", 0, 0, NULL, 0, NULL},
        {0, "precision", EKN_OPT_CHOICE, &precision, "P", "GPU convolutions and matrix products: fp32, or tf32 on tensor cores (FP32 weights and sums)", 0, 0, "fp32|tf32", 0, NULL},
        {0, "nondeterministic", EKN_OPT_FLAG, &nondeterministic, NULL, "GPU: let cuDNN use faster algorithms whose sums vary from run to run", 0, 0, NULL, 0, NULL},
        {'j', "threads", EKN_OPT_INT, &threads, "N", "threads of the conv kernels and OpenBLAS (0: OpenBLAS's default)", 0, 1024, NULL, 0, NULL},
        {0, "dense", EKN_OPT_FLAG, &dense, NULL, "img-img: predict every position where the field of view fits, at stride 1, by tiling", 0, 0, NULL, 0, NULL},
        {0, "tile", EKN_OPT_STRING, &tile, "Z,Y,X", "--dense: tile input size (valid sizes, see ekn-calc) [largest within --max-memory]", 0, 0, NULL, 0, NULL},
        {0, "pad", EKN_OPT_CHOICE, &pad, "MODE", "--dense: pad each side by the offset, so every voxel gets a prediction", 0, 0, "none|mirror|zero", 0, &pad_given},
        {0, "max-memory", EKN_OPT_FLOAT, &max_mib, "MIB", "--dense: network memory for choosing the tile size", 1, 1e9, NULL, 0, &mem_given},
        {0, "no-mfp", EKN_OPT_FLAG, &no_mfp, NULL, "--dense: shift and stitch even when every pool sets mfp = 1", 0, 0, NULL, 0, NULL},
        {0, "force", EKN_OPT_FLAG, &force, NULL, "write a binary stream even to a terminal", 0, 0, NULL, 0, NULL},
        {0},
    };
    const ekn_command cmd = {"ekn-predict", "[options] --model FILE [INPUT]",
                             "Apply a trained network to a stream of inputs (stdin when INPUT is omitted).", options};
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!model) ekn_usage_die(&cmd, "--model is required");
    if (eval && output && !strcmp(output, "-"))
        ekn_usage_die(&cmd, "--eval prints its report on stdout; write the stream to a file with -o FILE");
    if (!dense && (tile || pad_given || mem_given || no_mfp))
        ekn_usage_die(&cmd, "--tile, --pad, --max-memory and --no-mfp need --dense");
    if (threads) openblas_set_num_threads((int)threads);
    ekn_predict_config c = {
        .model = model,
        .input = first < argc ? argv[first] : "-",
        .output = output ? output : (eval ? NULL : "-"),
        .want_prob = strcmp(what, "class") != 0,
        .want_class = strcmp(what, "prob") != 0,
        .eval = eval,
        .batch = batch,
        .force = force,
        .dense = dense,
        .pad = !strcmp(pad, "mirror") ? EKN_PAD_MIRROR : !strcmp(pad, "zero") ? EKN_PAD_ZERO : EKN_PAD_NONE,
        .max_bytes = max_mib * 1048576.0,
        .no_mfp = no_mfp,
    };
    ekn_err err = {0};
    if (ekn_device_ops(device, precision, !nondeterministic, &c.ops, &err)) ekn_die_err(&err);
    if (tile && parse_tile(tile, c.tile, &err)) ekn_usage_die(&cmd, "%s", err.msg);
    if (ekn_predict_run(&c, stdout, &err)) ekn_die_err(&err);
    return EKN_EXIT_OK;
}
