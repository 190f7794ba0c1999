/* ekn-calc: shapes, field of view, valid input sizes, parameters, FLOPs and
 * memory of a network spec, before any training (ekn-calc(1)).
 * Thin: options -> lib/nn/calc_print.h -> exit code. */
#include <stdio.h>
#include <string.h>

#include "calc_print.h"
#include "cmd.h"

static ekn_calc_opts o = {.batch = 1, .format = "table"};

static const ekn_option options[] = {
    OPT_ZYX(0, "shape", &o.shape, "Z,Y,X", "input size per spatial axis (features for vect-scalar) instead of the spec's",
            1, EKN_ZYX_MAX),
    OPT_ZYX(0, "desired", &o.desired, "N[,N..]", "print the nearest valid input size per axis", 1, EKN_ZYX_MAX),
    OPT_FLAG(0, "mfp", &o.mfp, "max fragment pooling on the pools with mfp = 1"),
    OPT_INT(0, "batch", &o.batch, "N", "examples per batch, for the activation memory", 1, 1 << 30),
    OPT_CHOICE(0, "format", &o.format, "FORMAT", "output format", "table|shell|json"),
    OPT_END(),
};

static const ekn_command command = {
    "ekn-calc", "[options] SPEC",
    "Print per-layer shapes, field of view, valid input sizes, parameters, FLOPs and memory of a network spec.",
    options,
};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&command, argc, argv);
    if (argc - first == 0) ekn_usage_die(&command, "missing SPEC");
    if (argc - first > 1) ekn_usage_die(&command, "expected one SPEC, got %d operands", argc - first);
    static ekn_spec spec;
    static ekn_calc_report r;
    ekn_err err = {0};
    const char *path = argv[first];
    if (ekn_spec_load(&spec, path, &err)) ekn_die_err(&err);
    if (ekn_calc_report_build(&r, &spec, path, &o, &err)) {
        if (err.code == EKN_EXIT_USAGE) ekn_usage_die(&command, "%s", err.msg);
        ekn_die_err(&err);
    }
    if (!strcmp(o.format, "shell")) ekn_calc_print_shell(&r);
    else if (!strcmp(o.format, "json")) ekn_calc_print_json(&r);
    else ekn_calc_print_table(&r);
    ekn_spec_free(&spec);
    return EKN_EXIT_OK;
}
