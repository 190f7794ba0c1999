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

static const char *shard_text;
static ekn_batch_opts o = {.output = "-", .batch = 64, .epochs = 1, .seed = 1, .shuffle_buffer = 10000, .class_k = -1,
                          .max_ignored = 1};
static struct ekn_batch_args *const a = &o.args;

static const ekn_option options[] = {
    OPT_STRING('o', "output", &o.output, "FILE", "write to FILE (atomically) instead of stdout"),
    OPT_LIST('i', "input", o.args.inputs, "FILE[:W]", "an input stream; W weighs its volumes (repeatable)",
             EKN_BATCH_MAX_INPUTS),
    OPT_INT('b', "batch", &o.batch, "N", "examples or patches per batch", 1, 1 << 20),
    OPT_FLAG(0, "drop-last", &o.drop_last, "drop the last batch of an epoch when it is short"),
    OPT_INT(0, "epochs", &o.epochs, "N", "passes over the data (0: forever)", 0, 1e15),
    OPT_FLAG(0, "repeat", &o.args.repeat, "repeat forever (--epochs 0)"),
    OPT_INT(0, "seed", &o.seed, "S", "seed of every random choice", 0, 9007199254740991.0),
    OPT_INT(0, "shuffle-buffer", &o.shuffle_buffer, "N", "examples held to shuffle a pipe read once", 1, 1e9,
            .given = &o.shuffle_buffer_given),
    OPT_FLAG(0, "no-shuffle", &o.no_shuffle, "keep the input order (whole examples)"),
    OPT_ZYX(0, "patch", &o.args.patch, "Z,Y,X", "img-img: the net's input patch [the spec's]", 1, EKN_ZYX_MAX),
    OPT_STRING(0, "net", &o.args.net, "SPEC", "take the patch geometry from this spec (ekn-spec(5))"),
    OPT_STRING(0, "calc", &o.args.calc, "FILE", "take it from 'ekn-calc --format shell' output"),
    OPT_ZYX(0, "offset", &o.args.offset, "Z,Y,X", "with --patch: first label's position in the patch [0]",
            0, EKN_ZYX_MAX),
    OPT_ZYX(0, "stride", &o.args.stride, "Z,Y,X", "with --patch: distance between labels [1]", 1, EKN_ZYX_MAX),
    OPT_ZYX(0, "label-shape", &o.args.label_shape, "Z,Y,X", "with --patch: labels per axis [as many as fit]",
            1, EKN_ZYX_MAX),
    OPT_FLAG(0, "full-labels", &o.args.full_labels, "labels for the whole image patch, no offset or stride"),
    OPT_ZYX(0, "margin", &o.args.margin, "M|Z,Y,X", "enlarge the image patch by M on each side (implies --full-labels)",
            0, EKN_ZYX_MAX),
    OPT_FLOAT(0, "max-ignored", &o.max_ignored, "F", "reject patches with more than this fraction of labels < 0", 0, 1),
    OPT_INT(0, "class", &o.class_k, "K", "class that --class-share guarantees", 0, 2147483647.0),
    OPT_FLOAT(0, "class-share", &o.class_share, "F", "at least this fraction of each batch's patches contains --class", 0, 1,
              .given = &o.args.class_share_given),
    OPT_STRING(0, "region", &o.region, "A:B,...", "patches lie entirely in this box (Z first; ends optional)"),
    OPT_INT(0, "patches-per-epoch", &o.patches_per_epoch, "N",
            "img-img: patches per epoch [as many as tile the volumes]", 1, 1e15),
    OPT_STRING(0, "shard", &shard_text, "R/K",
               "write only slice R (0..K-1) of each batch, for rank R of mpirun -n K ekn-train"),
    OPT_FORCE(&o.force),
    OPT_END(),
};

static const ekn_command cmd = {
    "ekn-batch",
    "[options] [INPUT[@W]...]",
    "Group examples into shuffled batches, or sample img-img patches, for training (stdin when no INPUT).",
    options,
};

/* FILE, FILE@W or FILE:W (sep): a trailing number after sep is the weight. */
static void add_input(char *arg, char sep)
{
    if (o.ninputs == EKN_BATCH_MAX_INPUTS) ekn_usage_die(&cmd, "more than %d inputs", EKN_BATCH_MAX_INPUTS);
    ekn_batch_input *in = &o.inputs[o.ninputs++];
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

static void geometry(void)
{
    ekn_err err = {0};
    ekn_patch_geom *g = &o.geom;
    int in[3] = {1, 1, 1};
    ekn_zyx_place(&a->patch, in);
    int patch = a->patch.n > 0, offset = a->offset.n > 0, stride = a->stride.n > 0, label_shape = a->label_shape.n > 0;
    if (a->net && a->calc) ekn_usage_die(&cmd, "--net and --calc both give the geometry; say one");
    if ((a->net || a->calc) && (offset || stride || label_shape))
        ekn_usage_die(&cmd, "--offset, --stride and --label-shape go with --patch, not with --net or --calc");
    if (a->net && ekn_patch_geom_from_spec(g, &o.img_img, a->net, patch ? in : NULL, &err)) ekn_die_err(&err);
    if (a->calc && ekn_patch_geom_from_calc(g, &o.img_img, a->calc, &err)) ekn_die_err(&err);
    if (a->calc && patch) ekn_usage_die(&cmd, "--calc fixes the patch; leave out --patch");
    if (!a->net && !a->calc && patch) {
        o.img_img = 1;
        memcpy(g->in, in, sizeof in);
        for (int k = 0; k < 3; k++) g->stride[k] = 1;
        ekn_zyx_place(&a->offset, g->offset);
        ekn_zyx_place(&a->stride, g->stride);
        for (int k = 0; k < 3; k++) g->out[k] = in[k] > 2 * g->offset[k] ? (in[k] - 2 * g->offset[k] - 1) / g->stride[k] + 1 : 0;
        ekn_zyx_place(&a->label_shape, g->out);
        for (int k = 0; k < 3; k++)
            if (g->out[k] < 1 || g->offset[k] + g->stride[k] * (g->out[k] - 1) >= in[k])
                ekn_usage_die(&cmd, "labels at offset %d, stride %d, %d of them, do not fit in a patch of %d (axis %c)",
                              g->offset[k], g->stride[k], g->out[k], in[k], "ZYX"[k]);
    } else if (!o.img_img && (offset || stride || label_shape)) {
        ekn_usage_die(&cmd, "--offset, --stride and --label-shape need --patch");
    }
    const ekn_zyx *m = &a->margin;
    if (m->n) {
        /* one value applies to the axes the patch spans (a 2D patch keeps Z = 1) */
        for (int k = 0; k < 3; k++) {
            int used = g->ndim ? k >= 3 - g->ndim : g->in[k] > 1;
            g->margin[k] = (int)(m->n == 1 ? (used ? m->v[0] : 0) : k >= 3 - m->n ? m->v[k - 3 + m->n] : 0);
        }
        a->full_labels = 1;
    }
    g->full_labels = a->full_labels;
    if (!o.img_img && (m->n || a->full_labels || o.region || o.class_k >= 0 || a->class_share_given || o.max_ignored < 1 ||
                       o.patches_per_epoch))
        ekn_usage_die(&cmd, "--margin, --full-labels, --region, --class, --class-share, --max-ignored and "
                            "--patches-per-epoch need img-img patches (--patch, or an img-img --net or --calc)");
}

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&cmd, argc, argv);
    for (int i = 0; a->inputs[i]; i++) add_input((char *)a->inputs[i], ':');
    for (int i = first; i < argc; i++) add_input(argv[i], '@');
    if (!o.ninputs) add_input("-", '@');
    if ((o.class_k >= 0) != a->class_share_given) ekn_usage_die(&cmd, "--class and --class-share go together");
    if (a->class_share_given && o.class_share <= 0)
        ekn_usage_die(&cmd, "--class-share must be > 0, you specified %g", o.class_share);
    geometry();
    if (shard_text) {
        char *end;
        errno = 0;
        long r = strtol(shard_text, &end, 10), k = -1;
        if (end != shard_text && *end == '/') {
            const char *kp = end + 1;
            k = strtol(kp, &end, 10);
            if (end == kp || *end) k = -1;
        }
        if (errno || k < 1 || k > 1 << 20 || r < 0 || r >= k)
            ekn_usage_die(&cmd, "--shard must be R/K with 0 <= R < K (e.g. 1/4), you specified '%s'", shard_text);
        o.shard = (int)r;
        o.nshards = (int)k;
    }
    if (a->repeat && o.epochs != 1) ekn_usage_die(&cmd, "--repeat and --epochs clash; say one");
    if (a->repeat) o.epochs = 0;
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
