/* predict: apply a checkpoint to a stream of inputs (ekn-predict).
 *
 * Input records are read one at a time (`image` or `vector`, each followed
 * optionally by its `label`/`target` record), so a stream of any length
 * flows through in constant memory.  img-img inputs larger than the net's
 * smallest input are cut to the largest valid size that fits (from the
 * origin); the output then covers input positions offset + stride * o per
 * axis, written as `offset=` and `stride=` metadata.
 *
 * With `dense` (img-img only), each example volume is cut into valid tiles
 * (tiling.h), run at every shift of the stride or with max fragment pooling
 * (net_mfp.h); the outputs cover every position where
 * the field of view fits, at stride 1, or every voxel with padding.  Labels
 * for --eval then have the image's spatial shape.
 *
 * Output records per input record: `prob` f32 (N, C, out...) with the
 * class probabilities (regression: `output`), and/or `class` i32
 * (N, out...) with the argmax.
 *
 * An autoencoder ('target = input') writes its `output` in the shape of the
 * input record it came from ((N,C,[Z,]Y,X) or (N,F)), and --eval scores it
 * against that input: label records are ignored and not required. */
#ifndef EKN_PREDICT_H
#define EKN_PREDICT_H
#include <stdio.h>

#include "device_opts.h"
#include "diag.h"
#include "tiling.h"

typedef struct ekn_predict_config {
    const char *model;
    const char *input;   /* "-" for stdin */
    const char *output;  /* NULL: no stream output; "-" for stdout */
    int want_prob, want_class;
    int eval;            /* compare with the labels in the stream */
    int boundary;        /* eval, img-img: the membrane class of the segmentation scores (seg_score.h) */
    double threshold;    /* eval, img-img: membrane where its probability exceeds this */
    long batch;
    int force;           /* write a binary stream to a terminal */
    int dense;           /* img-img: every position at stride 1 (tiling.h) */
    ekn_pad_mode pad;    /* dense: padding by the offset on each side */
    int tile[3];         /* dense: tile input size per axis, 0: chosen */
    double max_bytes;    /* dense: network memory budget for choosing tiles */
    double max_memory;   /* --max-memory in bytes: the most a net may take; 0: the host's available memory (memlimit.h) */
    int no_mfp;          /* dense: shift and stitch even when every pool sets mfp = 1 */
    const char *tta;     /* test-time augmentation: flips, d4 or d8 (tta.h); NULL: none */
    const struct ekn_ops *ops; /* where to compute: NULL = ekn_ops_default() (the CPU); ekn_ops_cuda() for a GPU
                                  (--dense then stitches shifts: max fragment pooling is CPU only) */
} ekn_predict_config;

/* report: where --eval prints its accuracy, confusion matrix and per-class precision/recall. */
int ekn_predict_run(const ekn_predict_config *cfg, FILE *report, ekn_err *err);

/* ---- ekn-predict's command line (predict_opts.c) ---------------------------
 * The option table fills c directly and the rest as given;
 * ekn_predict_opts_resolve turns the rest into c. */
typedef struct ekn_predict_opts {
    ekn_predict_config c;
    const char *write;          /* --write: prob|class|both */
    const char *pad;            /* --pad: none|mirror|zero */
    ekn_zyx tile;               /* --tile: right-aligned, the leading axes 0 (chosen) */
    double max_mib;             /* --max-memory, MiB */
    int pad_given, mem_given;
    ekn_device_opts dev;        /* applied by the command (ekn_device_opts_apply) */
} ekn_predict_opts;

/* Fills o->c: the records to write, the output (stdout unless --eval),
 * the padding, the tile and the memory budget. */
void ekn_predict_opts_resolve(ekn_predict_opts *o);
#endif
