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

/* --dense --roi / --block: the part of the dense outputs to predict (tiling.h's regions). */
typedef struct ekn_predict_region {
    int n;             /* --roi: ranges given (2: Y,X or 3: Z,Y,X); 0: none */
    int lo[3], hi[3];  /* --roi: half-open ranges of output voxels, right-aligned onto Z,Y,X */
    int block, blocks; /* --block I/N: 0 <= block < blocks; blocks 0: none */
} ekn_predict_region;

/* "z0:z1,y0:y1,x0:x1" or "y0:y1,x0:x1" (integers >= 0, z0 < z1); "I/N"
 * (0 <= I < N).  0, or -1 with err (EKN_EXIT_USAGE, one line). */
int ekn_predict_parse_roi(ekn_predict_region *r, const char *s, ekn_err *err);
int ekn_predict_parse_block(ekn_predict_region *r, const char *s, ekn_err *err);

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
    ekn_predict_region region; /* dense: only this part of the outputs (n and blocks 0: all) */
    const char *h5_file, *h5_dset; /* dense, -o FILE.h5:/DATASET: one HDF5 dataset (with --block: FILE's
                                      per-block name, ekn_predict_block_path) instead of a stream */
    const char *h5_in_file, *h5_in_dset; /* dense, INPUT FILE.h5:/DATASET: the volume read box by box from HDF5 */
    const char *apply;   /* HDF5 input: ekn-preprocess statistics (--fit) to normalise it with; NULL: integers
                            divided by their type's maximum, as ekn-preprocess does by default */
    int quantize;        /* h5: probabilities as uint8, round(255 p) */
    int channel;         /* h5: only this class's probabilities; -1: every class */
    int deflate;         /* h5: gzip level 0..9; -1: none */
    const char *settings; /* h5: the options that shape the output (cmd's words): a block
                             file made with other settings is not skipped */
    const char *tta;     /* test-time augmentation: flips, d4 or d8 (tta.h); NULL: none */
    const struct ekn_ops *ops; /* where to compute: NULL = ekn_ops_default() (the CPU); ekn_ops_cuda() for a GPU
                                  (--dense then stitches shifts: max fragment pooling is CPU only) */
} ekn_predict_config;

/* The file a block writes: FILE with ".block-I-of-N" before its last
 * extension ("pred.h5" -> "pred.block-2-of-7.h5"), or at its end. */
void ekn_predict_block_path(const char *file, int block, int blocks, char *out, size_t cap);

/* ekn-predict --join: one HDF5 virtual dataset file:dset over the block
 * files parts (all blocks of one --block run, each exactly once, in any
 * order), written atomically.  0, or -1 with err (EKN_EXIT_FAIL). */
int ekn_predict_join(const char *file, const char *dset, const char *const *parts, int nparts, ekn_err *err);

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
    int pad_given, mem_given, write_given;
    const char *roi, *block;    /* --roi, --block as given */
    const char *quantize;       /* --quantize: none|u8 */
    int deflate_given, join;    /* --join: the operands are block files */
    char h5_file[4096];         /* -o FILE.h5:/DATASET split */
    char h5_in_file[4096];      /* INPUT FILE.h5:/DATASET split */
    char settings[1024];
    ekn_device_opts dev;        /* applied by the command (ekn_device_opts_apply) */
} ekn_predict_opts;

/* Fills o->c: the records to write, the output (stdout unless --eval; an
 * -o FILE:/DATASET, with ":/" in it, is HDF5 output), the padding, the
 * tile, the memory budget, the region.  0, or -1 with err (EKN_EXIT_USAGE)
 * for a malformed --roi or --block. */
int ekn_predict_opts_resolve(ekn_predict_opts *o, ekn_err *err);
#endif
