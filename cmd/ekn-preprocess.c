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
    OPT_STRING('o', "output", &o.output, "FILE", "write to FILE (atomically) instead of stdout"),
    OPT_STRING(0, "labels", &o.labels, "FILE", "class labels: one per example, or one per pixel/voxel"),
    OPT_STRING(0, "targets", &o.targets, "FILE", "float regression targets instead of labels"),
    OPT_STRING(0, "mask", &o.mask, "FILE", "a mask (nonzero = use) shaped as the labels"),
    OPT_STRING(0, "weights", &o.weights, "FILE", "per-voxel example weights (>= 0) shaped as the labels"),
    OPT_FLAG(0, "affinities", &o.affinities,
             "turn the --labels volume into affinity targets, one channel per axis (z,y,x)"),
    OPT_CHOICE(0, "format", &o.format, "FMT", "input format [detected]", ekn_format_choices),
    OPT_STRING(0, "shape", &o.shape, "DIMS", "raw: the array's shape, slowest axis first (30,512,512)"),
    OPT_STRING(0, "dtype", &o.dtype, "TYPE", "raw: element type (u8 i8 u16 i16 u32 i32 u64 i64 f32 f64) [u8]"),
    OPT_STRING(0, "label-dtype", &o.label_dtype, "TYPE", "raw labels, targets, mask: element type [--dtype]"),
    OPT_CHOICE(0, "axes", &o.axes, "ORDER", "raw/HDF5: spatial axis order in the file", "zyx|xyz"),
    OPT_CHOICE(0, "channels", &o.channels, "WHERE", "where the channel axis is [first for 4-D/5-D NPY/IDX, else none]",
               "first|last|none"),
    OPT_FLOAT(0, "max-input", &o.max_input_mib, "MIB",
              "the most a compressed or archived input may expand to [half the available memory]", 1, 1e12,
              .flags = EKN_OPTF_OWN_DEFAULT),
    OPT_FLAG(0, "slices", &o.slices, "raw/HDF5: each z slice is an example (default: the volume is one)"),
    OPT_FLAG(0, "header", &o.header, "CSV: the first line names the columns"),
    OPT_STRING(0, "label-column", &o.label_column, "COL", "CSV: label column, 1-based number or name, or none [last]"),
    OPT_STRING(0, "categorical", &o.categorical, "LIST",
               "CSV: auto, none, or the categorical columns (numbers/names) [auto]"),
    OPT_CHOICE(0, "missing", &o.missing, "RULE", "CSV: '?' or empty fields [mean]", "mean|zero|drop|error"),
    OPT_FLAG(0, "no-scale", &o.no_scale, "keep integer values (default: divide by the type's maximum, u8/255)"),
    OPT_FLAG(0, "normalise", &o.normalise, "min-max to [0,1] (global for images, per feature for vectors)"),
    OPT_CHOICE(0, "standardise", &o.standardise, "MODE",
               "subtract the mean, divide by the std [CSV: per-feature, else none]",
               "global|per-feature|per-pixel|none"),
    OPT_FLOAT(0, "whiten", &o.whiten, "EPS", "ZCA whitening with eigenvalue floor EPS (0: none)", 0, 1e30,
              .flags = EKN_OPTF_GT_MIN, .given = &o.whiten_given),
    OPT_STRING(0, "fit", &o.fit, "STATS", "compute statistics on this input and write them to STATS"),
    OPT_STRING(0, "apply", &o.apply, "STATS", "apply the statistics (and transform) in STATS unchanged"),
    OPT_STRING(0, "range", &o.range, "A:B", "keep examples A..B-1 (either end may be left out)"),
    OPT_INT(0, "subset", &o.subset, "N", "keep N examples chosen at random, in file order (0: all; see --seed)", 1,
            4294967295.0),
    OPT_STRING(0, "split", &o.split, "val=F", "split off a fraction F as validation set (see --part, --seed)"),
    OPT_CHOICE(0, "part", &o.part, "PART", "which part of --split to write [train]", "train|val"),
    OPT_FLAG(0, "shuffle", &o.shuffle, "write the examples in a random order (see --seed)"),
    OPT_INT(0, "seed", &o.seed, "S", "seed of --subset, --split and --shuffle", 0, 9007199254740991.0),
    OPT_INT(0, "chunk", &o.chunk, "N", "examples per record", 1, 2147483647.0),
    OPT_CHOICE(0, "output-format", &o.output_format, "FMT", "stream, or npy/h5 files (need -o)", "stream|npy|h5"),
    OPT_ZYX_REAL(0, "spacing", &o.spacing, "Z,Y,X", "voxel spacing recorded in the metadata"),
    OPT_FORCE(&o.force),
    OPT_END(),
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
