/* ekn-batch: group a dataset into shuffled batches, or sample img-img
 * patches out of volumes, for as many epochs as asked (ekn-batch(1)).
 * Thin: options -> lib/data/batch.h -> exit code. */
#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cmd.h"
#include "patch_spec.h"

static const char *output = "-", *patch, *net, *calc, *offset, *stride, *label_shape, *margin, *region;
static const char *inputs[EKN_BATCH_MAX_INPUTS + 1];
static long batch = 64, epochs = 1, seed = 1, shuffle_buffer = 10000, class_k = -1, per_epoch;
static double max_ignored = 1, class_share;
static int drop_last, repeat, no_shuffle, full_labels, force, buffer_given, share_given;

static const ekn_option options[] = {
    {'o', "output", EKN_OPT_STRING, &output, "FILE", "write to FILE (atomically) instead of stdout", 0, 0, NULL, 0, NULL},
    {'i', "input", EKN_OPT_LIST, inputs, "FILE[:W]", "an input stream; W weighs its volumes (repeatable)", 0, EKN_BATCH_MAX_INPUTS, NULL, 0, NULL},
    {'b', "batch", EKN_OPT_INT, &batch, "N", "examples or patches per batch", 1, 1 << 20, NULL, 0, NULL},
    {0, "drop-last", EKN_OPT_FLAG, &drop_last, NULL, "drop the last batch of an epoch when it is short", 0, 0, NULL, 0, NULL},
    {0, "epochs", EKN_OPT_INT, &epochs, "N", "passes over the data (0: forever)", 0, 1e15, NULL, 0, NULL},
    {0, "repeat", EKN_OPT_FLAG, &repeat, NULL, "repeat forever (--epochs 0)", 0, 0, NULL, 0, NULL},
    {0, "seed", EKN_OPT_INT, &seed, "S", "seed of every random choice", 0, 9007199254740991.0, NULL, 0, NULL},
    {0, "shuffle-buffer", EKN_OPT_INT, &shuffle_buffer, "N", "examples held to shuffle a pipe read once", 1, 1e9, NULL, 0, &buffer_given},
    {0, "no-shuffle", EKN_OPT_FLAG, &no_shuffle, NULL, "keep the input order (whole examples)", 0, 0, NULL, 0, NULL},
    {0, "patch", EKN_OPT_STRING, &patch, "Z,Y,X", "img-img: the net's input patch [the spec's]", 0, 0, NULL, 0, NULL},
    {0, "net", EKN_OPT_STRING, &net, "SPEC", "take the patch geometry from this spec (ekn-spec(5))", 0, 0, NULL, 0, NULL},
    {0, "calc", EKN_OPT_STRING, &calc, "FILE", "take it from 'ekn-calc --format shell' output", 0, 0, NULL, 0, NULL},
    {0, "offset", EKN_OPT_STRING, &offset, "Z,Y,X", "with --patch: first label's position in the patch [0]", 0, 0, NULL, 0, NULL},
    {0, "stride", EKN_OPT_STRING, &stride, "Z,Y,X", "with --patch: distance between labels [1]", 0, 0, NULL, 0, NULL},
    {0, "label-shape", EKN_OPT_STRING, &label_shape, "Z,Y,X", "with --patch: labels per axis [as many as fit]", 0, 0, NULL, 0, NULL},
    {0, "full-labels", EKN_OPT_FLAG, &full_labels, NULL, "labels for the whole image patch, no offset or stride", 0, 0, NULL, 0, NULL},
    {0, "margin", EKN_OPT_STRING, &margin, "M|Z,Y,X", "enlarge the image patch by M on each side (implies --full-labels)", 0, 0, NULL, 0, NULL},
    {0, "max-ignored", EKN_OPT_FLOAT, &max_ignored, "F", "reject patches with more than this fraction of labels < 0", 0, 1, NULL, 0, NULL},
    {0, "class", EKN_OPT_INT, &class_k, "K", "class that --class-share guarantees", 0, 2147483647.0, NULL, 0, NULL},
    {0, "class-share", EKN_OPT_FLOAT, &class_share, "F", "at least this fraction of each batch's patches contains --class", 0, 1, NULL, 0, &share_given},
    {0, "region", EKN_OPT_STRING, &region, "A:B,...", "patches lie entirely in this box (Z first; ends optional)", 0, 0, NULL, 0, NULL},
    {0, "patches-per-epoch", EKN_OPT_INT, &per_epoch, "N", "img-img: patches per epoch [as many as tile the volumes]", 1, 1e15, NULL, 0, NULL},
    {'f', "force", EKN_OPT_FLAG, &force, NULL, "write a binary stream to a terminal", 0, 0, NULL, 0, NULL},
    {0},
};

static const ekn_command cmd = {
    "ekn-batch",
    "[options] [INPUT[@W]...]",
    "Group examples into shuffled batches, or sample img-img patches, for training (stdin when no INPUT).",
    options,
};

/* "1,2,3" right-aligned into v (leading axes keep their value). */
static void axes(const char *text, const char *what, long min, int v[3])
{
    ekn_err err = {0};
    long l[3];
    int n = ekn_parse_int_list(text, l, 3, min, what, &err);
    if (n < 0) ekn_usage_die(&cmd, "%s", err.msg);
    for (int k = 0; k < n; k++) v[3 - n + k] = (int)l[k];
}

/* FILE, FILE@W or FILE:W (sep): a trailing number after sep is the weight. */
static void add_input(ekn_batch_opts *o, char *arg, char sep)
{
    if (o->ninputs == EKN_BATCH_MAX_INPUTS) ekn_usage_die(&cmd, "more than %d inputs", EKN_BATCH_MAX_INPUTS);
    ekn_batch_input *in = &o->inputs[o->ninputs++];
    in->path = arg;
    in->weight = 1;
    char *at = strrchr(arg, sep), *end;
    if (!at || at == arg) return;
    errno = 0;
    double w = strtod(at + 1, &end);
    if (*end || end == at + 1) return; /* not a weight: part of the name */
    if (errno || !(w > 0) || w > 1e30) ekn_usage_die(&cmd, "weight of '%s' must be a number > 0", arg);
    *at = 0;
    in->weight = w;
}

static void geometry(ekn_batch_opts *o)
{
    ekn_err err = {0};
    ekn_patch_geom *g = &o->geom;
    int in[3] = {1, 1, 1};
    if (patch) axes(patch, "--patch", 1, in);
    if (net && calc) ekn_usage_die(&cmd, "--net and --calc both give the geometry; say one");
    if ((net || calc) && (offset || stride || label_shape))
        ekn_usage_die(&cmd, "--offset, --stride and --label-shape go with --patch, not with --net or --calc");
    if (net && ekn_patch_geom_from_spec(g, &o->img_img, net, patch ? in : NULL, &err)) ekn_die_err(&err);
    if (calc && ekn_patch_geom_from_calc(g, &o->img_img, calc, &err)) ekn_die_err(&err);
    if (calc && patch) ekn_usage_die(&cmd, "--calc fixes the patch; leave out --patch");
    if (!net && !calc && patch) {
        o->img_img = 1;
        memcpy(g->in, in, sizeof in);
        for (int k = 0; k < 3; k++) g->stride[k] = 1;
        if (offset) axes(offset, "--offset", 0, g->offset);
        if (stride) axes(stride, "--stride", 1, g->stride);
        for (int k = 0; k < 3; k++) g->out[k] = in[k] > 2 * g->offset[k] ? (in[k] - 2 * g->offset[k] - 1) / g->stride[k] + 1 : 0;
        if (label_shape) axes(label_shape, "--label-shape", 1, g->out);
        for (int k = 0; k < 3; k++)
            if (g->out[k] < 1 || g->offset[k] + g->stride[k] * (g->out[k] - 1) >= in[k])
                ekn_usage_die(&cmd, "labels at offset %d, stride %d, %d of them, do not fit in a patch of %d (axis %c)",
                              g->offset[k], g->stride[k], g->out[k], in[k], "ZYX"[k]);
    } else if (!o->img_img && (offset || stride || label_shape)) {
        ekn_usage_die(&cmd, "--offset, --stride and --label-shape need --patch");
    }
    if (margin) {
        long m[3];
        int n = ekn_parse_int_list(margin, m, 3, 0, "--margin", &err);
        if (n < 0) ekn_usage_die(&cmd, "%s", err.msg);
        /* one value applies to the axes the patch spans (a 2D patch keeps Z = 1) */
        for (int k = 0; k < 3; k++) {
            int used = g->ndim ? k >= 3 - g->ndim : g->in[k] > 1;
            g->margin[k] = (int)(n == 1 ? (used ? m[0] : 0) : k >= 3 - n ? m[k - 3 + n] : 0);
        }
        full_labels = 1;
    }
    g->full_labels = full_labels;
    if (!o->img_img && (margin || full_labels || region || class_k >= 0 || share_given || max_ignored < 1 || per_epoch))
        ekn_usage_die(&cmd, "--margin, --full-labels, --region, --class, --class-share, --max-ignored and "
                            "--patches-per-epoch need img-img patches (--patch, or an img-img --net or --calc)");
}

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    static ekn_batch_opts o;
    for (int i = 0; inputs[i]; i++) add_input(&o, (char *)inputs[i], ':');
    for (int i = first; i < argc; i++) add_input(&o, argv[i], '@');
    if (!o.ninputs) add_input(&o, "-", '@');
    if ((class_k >= 0) != share_given) ekn_usage_die(&cmd, "--class and --class-share go together");
    if (share_given && class_share <= 0) ekn_usage_die(&cmd, "--class-share must be > 0, you specified %g", class_share);
    geometry(&o);
    o.output = output;
    o.force = force;
    o.batch = batch;
    o.drop_last = drop_last;
    o.epochs = repeat ? 0 : (uint64_t)epochs;
    if (repeat && epochs != 1) ekn_usage_die(&cmd, "--repeat and --epochs clash; say one");
    o.seed = (uint64_t)seed;
    o.shuffle_buffer = shuffle_buffer;
    o.shuffle_buffer_given = buffer_given;
    o.no_shuffle = no_shuffle;
    o.region = region;
    o.max_ignored = max_ignored;
    o.class_k = (int)class_k;
    o.class_share = class_share;
    o.patches_per_epoch = (uint64_t)per_epoch;
    ekn_err err = {0};
    if (ekn_batch_run(&o, &err)) {
        if (err.code == EKN_EXIT_USAGE) ekn_usage_die(&cmd, "%s", err.msg);
        /* what stdout still buffers is dropped, so a failed write is reported once */
        __fpurge(stdout);
        clearerr(stdout);
        ekn_die_err(&err);
    }
    return EKN_EXIT_OK;
}
