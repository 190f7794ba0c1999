/* ekn-preprocess: read images, volumes or tables into the ekn stream,
 * normalise them, fit or apply statistics (ekn-preprocess(1)).
 * Thin: options -> lib/data/prep.h -> exit code. */
#include <stdio.h>
#include <stdio_ext.h>

#include "cmd.h"
#include "prep.h"

static ekn_prep_opts o = {
    .output = "-",
    .output_format = "stream",
    .chunk = 1000,
    .seed = 1,
    .axes = "zyx",
};

static const ekn_option options[] = {
    {'o', "output", EKN_OPT_STRING, &o.output, "FILE", "write to FILE (atomically) instead of stdout", 0, 0, NULL, 0, NULL},
    {0, "labels", EKN_OPT_STRING, &o.labels, "FILE", "class labels: one per example, or one per pixel/voxel", 0, 0, NULL, 0, NULL},
    {0, "targets", EKN_OPT_STRING, &o.targets, "FILE", "float regression targets instead of labels", 0, 0, NULL, 0, NULL},
    {0, "mask", EKN_OPT_STRING, &o.mask, "FILE", "a mask (nonzero = use) shaped as the labels", 0, 0, NULL, 0, NULL},
    {0, "format", EKN_OPT_CHOICE, &o.format, "FMT", "input format [detected]", 0, 0, ekn_format_choices, 0, NULL},
    {0, "shape", EKN_OPT_STRING, &o.shape, "DIMS", "raw: the array's shape, slowest axis first (30,512,512)", 0, 0, NULL, 0, NULL},
    {0, "dtype", EKN_OPT_STRING, &o.dtype, "TYPE", "raw: element type (u8 i8 u16 i16 u32 i32 u64 i64 f32 f64) [u8]", 0, 0, NULL, 0, NULL},
    {0, "label-dtype", EKN_OPT_STRING, &o.label_dtype, "TYPE", "raw labels, targets, mask: element type [--dtype]", 0, 0, NULL, 0, NULL},
    {0, "axes", EKN_OPT_CHOICE, &o.axes, "ORDER", "raw/HDF5: spatial axis order in the file", 0, 0, "zyx|xyz", 0, NULL},
    {0, "channels", EKN_OPT_CHOICE, &o.channels, "WHERE", "where the channel axis is [first for 4-D/5-D NPY/IDX, else none]", 0, 0, "first|last|none", 0, NULL},
    {0, "slices", EKN_OPT_FLAG, &o.slices, NULL, "raw/HDF5: each z slice is an example (default: the volume is one)", 0, 0, NULL, 0, NULL},
    {0, "header", EKN_OPT_FLAG, &o.header, NULL, "CSV: the first line names the columns", 0, 0, NULL, 0, NULL},
    {0, "label-column", EKN_OPT_STRING, &o.label_column, "COL", "CSV: label column, 1-based number or name, or none [last]", 0, 0, NULL, 0, NULL},
    {0, "categorical", EKN_OPT_STRING, &o.categorical, "LIST", "CSV: auto, none, or the categorical columns (numbers/names) [auto]", 0, 0, NULL, 0, NULL},
    {0, "missing", EKN_OPT_CHOICE, &o.missing, "RULE", "CSV: '?' or empty fields [mean]", 0, 0, "mean|zero|drop|error", 0, NULL},
    {0, "no-scale", EKN_OPT_FLAG, &o.no_scale, NULL, "keep integer values (default: divide by the type's maximum, u8/255)", 0, 0, NULL, 0, NULL},
    {0, "normalise", EKN_OPT_FLAG, &o.normalise, NULL, "min-max to [0,1] (global for images, per feature for vectors)", 0, 0, NULL, 0, NULL},
    {0, "standardise", EKN_OPT_CHOICE, &o.standardise, "MODE", "subtract the mean, divide by the std [CSV: per-feature, else none]", 0, 0, "global|per-feature|per-pixel|none", 0, NULL},
    {0, "whiten", EKN_OPT_FLOAT, &o.whiten, "EPS", "ZCA whitening with eigenvalue floor EPS (0: none)", 0, 1e30, NULL, EKN_OPTF_GT_MIN, &o.whiten_given},
    {0, "fit", EKN_OPT_STRING, &o.fit, "STATS", "compute statistics on this input and write them to STATS", 0, 0, NULL, 0, NULL},
    {0, "apply", EKN_OPT_STRING, &o.apply, "STATS", "apply the statistics (and transform) in STATS unchanged", 0, 0, NULL, 0, NULL},
    {0, "range", EKN_OPT_STRING, &o.range, "A:B", "keep examples A..B-1 (either end may be left out)", 0, 0, NULL, 0, NULL},
    {0, "subset", EKN_OPT_INT, &o.subset, "N", "keep N examples chosen at random, in file order (0: all; see --seed)", 1, 4294967295.0, NULL, 0, NULL},
    {0, "split", EKN_OPT_STRING, &o.split, "val=F", "split off a fraction F as validation set (see --part, --seed)", 0, 0, NULL, 0, NULL},
    {0, "part", EKN_OPT_CHOICE, &o.part, "PART", "which part of --split to write [train]", 0, 0, "train|val", 0, NULL},
    {0, "shuffle", EKN_OPT_FLAG, &o.shuffle, NULL, "write the examples in a random order (see --seed)", 0, 0, NULL, 0, NULL},
    {0, "seed", EKN_OPT_INT, &o.seed, "S", "seed of --subset, --split and --shuffle", 0, 9007199254740991.0, NULL, 0, NULL},
    {0, "chunk", EKN_OPT_INT, &o.chunk, "N", "examples per record", 1, 2147483647.0, NULL, 0, NULL},
    {0, "output-format", EKN_OPT_CHOICE, &o.output_format, "FMT", "stream, or npy/h5 files (need -o)", 0, 0, "stream|npy|h5", 0, NULL},
    {0, "spacing", EKN_OPT_STRING, &o.spacing, "Z,Y,X", "voxel spacing recorded in the metadata", 0, 0, NULL, 0, NULL},
    {'f', "force", EKN_OPT_FLAG, &o.force, NULL, "write a binary stream to a terminal", 0, 0, NULL, 0, NULL},
    {0},
};

static const ekn_command cmd = {
    "ekn-preprocess",
    "[options] INPUT",
    "Read IDX, NPY, HDF5, raw or CSV data into an ekn stream; normalise; fit or apply statistics.",
    options,
};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first != 1) {
        if (argc == first) ekn_usage_die(&cmd, "no INPUT given");
        ekn_usage_die(&cmd, "one INPUT expected, %d given", argc - first);
    }
    o.input = argv[first];
    ekn_err err = {0};
    if (ekn_prep_check(&o, &err)) ekn_usage_die(&cmd, "%s", err.msg);
    if (ekn_prep_run(&o, &err)) {
        if (err.code == EKN_EXIT_USAGE) ekn_usage_die(&cmd, "%s", err.msg);
        /* what stdout still buffers is dropped, so a failed write is reported once */
        __fpurge(stdout);
        clearerr(stdout);
        ekn_die_err(&err);
    }
    return EKN_EXIT_OK;
}
