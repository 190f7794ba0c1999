/* batch: turn a dataset into an endless, well-mixed, reproducible supply of
 * batches for training (ekn-batch(1)).
 *
 * Two kinds of work, chosen by whether a patch geometry is known:
 *   - whole examples (img-scalar, vect-scalar, or images without --patch):
 *     batches of B examples, a full in-memory shuffle per epoch when the
 *     input is a file, a bounded shuffle buffer when it is a pipe read once;
 *   - img-img patches: random patches of the net's input shape cut out of
 *     one or more volumes (per-volume weights), the label patch being the
 *     net's output lattice (offset + stride * k) or, with full labels, the
 *     image patch's own region.
 * Every random choice comes from ekn_rng streams of one seed, so a seed
 * fixes the output byte for byte.
 *
 * Files: batch.c (driver), batch_geom.c (net geometry from an ekn-calc
 * shell file or options; regions; from a spec: nn/patch_spec.h), batch_patch.c (the patch
 * sampler; the patches are cut by ekn_dataset_cut), batch_scan.c (lattice
 * counts for class-aware sampling and the ignored-label threshold),
 * batch_examples.c (whole-example batches), batch_write.c (batch records). */
#ifndef EKN_BATCH_H
#define EKN_BATCH_H
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "diag.h"
#include "opt.h"
#include "rng.h"
#include "stream.h"

#define EKN_BATCH_MAX_INPUTS 64

/* ---- geometry (batch_geom.c) --------------------------------------------- */

/* Where a patch and its labels lie.  Axes are (Z,Y,X); a 2D dataset uses
 * Z = 1.  The label lattice is in the coordinates of the net's input patch:
 * label[k] sits at input position offset + stride * k, k < out. */
typedef struct ekn_patch_geom {
    int in[3];          /* the net's input patch */
    int offset[3], stride[3], out[3];
    int margin[3];      /* added on each side of the image patch (full labels only) */
    int full_labels;    /* label patch = image patch region, no lattice */
    int channels;       /* the net's input channels, 0 = not known */
    int ndim;           /* spatial dims the net uses (1..3), 0 = not known */
} ekn_patch_geom;

/* Image patch size: in + 2 * margin. */
void ekn_patch_size(const ekn_patch_geom *g, int size[3]);

/* From `ekn-calc --format shell` output: EKN_MODE, EKN_CHANNELS,
 * EKN_INPUT_SIZE (or EKN_INPUT_SHAPE, channels first), EKN_OFFSET,
 * EKN_STRIDE, EKN_LABEL_SIZE.  Unknown keys are skipped. */
int ekn_patch_geom_from_calc(ekn_patch_geom *g, int *img_img, const char *path, ekn_err *err);

/* A box of each volume that patches must lie in entirely: [lo, hi) per
 * axis; hi = 0 means the volume's end. */
typedef struct ekn_region {
    int lo[3], hi[3];
} ekn_region;

/* "z0:z1[,y0:y1[,x0:x1]]" for the leading `ndim` spatial axes of the data
 * (2D data: "y0:y1[,x0:x1]"); either end may be left out.  Returns 0 or -1
 * (EKN_EXIT_USAGE). */
int ekn_region_parse(ekn_region *r, const char *text, int ndim, ekn_err *err);

/* ---- lattice counts (batch_scan.c) ---------------------------------------- */

/* S[z,y,x] = sum over i,j,k >= 0 of ind[z - i*sz, y - j*sy, x - k*sx]: a
 * prefix sum along each residue class of the stride, so the count of
 * indicator voxels on any strided lattice is 8 lookups. */
void ekn_lattice_prefix(const uint8_t *ind, const int shape[3], const int stride[3], int32_t *S);
/* Number of set voxels at start + stride * k, 0 <= k < count (per axis);
 * the lattice must lie inside shape. */
int64_t ekn_lattice_count(const int32_t *S, const int shape[3], const int stride[3], const int start[3],
                          const int count[3]);

/* ---- the patch sampler (batch_patch.c) ------------------------------------ */

typedef struct ekn_volume {
    const ekn_dataset *d; /* owner of the data */
    size_t e;             /* example (volume) index in d */
    double weight;
    int lo[3], n[3];      /* valid patch corners: lo + [0, n) per axis */
    uint32_t *ok;         /* scanned corners that pass --max-ignored (NULL: all) */
    uint32_t *cls;        /* scanned corners whose labels contain the class */
    size_t n_ok, n_cls;
} ekn_volume;

typedef struct ekn_sampler_opts {
    ekn_patch_geom geom;
    ekn_region region;
    double max_ignored;   /* reject a patch with more ignored labels (< 0); >= 1: off */
    int class_k;          /* class for class-aware sampling, -1: off */
    double class_share;
    uint64_t seed;
} ekn_sampler_opts;

typedef struct ekn_sampler {
    ekn_sampler_opts o;
    ekn_volume *vol;
    int nvol;
    double *cum, *cum_cls; /* cumulative weights over volumes (all; with class corners) */
    int size[3];           /* image patch */
    int lab[3];            /* label patch: out, or size with full labels */
    int c;
    ekn_rng rng;
} ekn_sampler;

/* The datasets are volumes (N examples = N volumes of one shape per
 * dataset); weights[i] applies to every volume of sets[i].  Fails with
 * EKN_EXIT_SPEC when the patch does not fit a volume (or its region),
 * EKN_EXIT_FAIL when labels do not cover the image or no corner satisfies
 * --max-ignored / --class. */
int ekn_sampler_init(ekn_sampler *s, const ekn_sampler_opts *o, const ekn_dataset *sets, const double *weights,
                     const char *const *names, int nsets, ekn_err *err);
/* Draws one patch into x (C, size...) and its labels into y or t (lab...);
 * want_class draws among the corners whose labels contain the class.
 * Returns the volume's dataset example (for lazy labels). */
const ekn_volume *ekn_sampler_draw(ekn_sampler *s, int want_class, float *x, int32_t *y, float *t, float *w);
/* Default patches per epoch: as many as tile the sampling boxes without overlap (>= 1). */
uint64_t ekn_sampler_tiles(const ekn_sampler *s);
void ekn_sampler_free(ekn_sampler *s);

/* ---- batch records (batch_write.c) ---------------------------------------- */

/* A batch is examples in memory (an ekn_dataset of cap B) written as one
 * group (ekn_dataset_write): `image` (or `vector`), `label` or `target`,
 * and `labelled`/`absent` when the data has lazy labels; each record
 * carries batch=<index> and epoch=<e>. */
typedef struct ekn_batch_out {
    ekn_writer *w;
    uint64_t index;       /* of the next batch written */
    int shard, nshards;   /* --shard R/K: only slice R of K of each batch (dist.h's ekn_dist_slice); nshards 0: all */
} ekn_batch_out;

/* Writes the first n examples of b as one batch of epoch `epoch`; with
 * shards, only the shard's slice of them (nothing when it is empty; the
 * batch index counts the batch either way). */
int ekn_batch_write(ekn_batch_out *o, const ekn_dataset *b, size_t n, uint64_t epoch, ekn_err *err);

/* ---- the command's options and driver (batch.c, batch_examples.c) ---------- */

typedef struct ekn_batch_input {
    const char *path;
    double weight;
} ekn_batch_input;

typedef struct ekn_batch_opts {
    ekn_batch_input inputs[EKN_BATCH_MAX_INPUTS];
    int ninputs;
    const char *output;
    int force;
    long batch;
    int drop_last;
    uint64_t epochs;      /* 0: forever */
    uint64_t seed;
    long shuffle_buffer;  /* examples held by the shuffle buffer (pipe input) */
    int shuffle_buffer_given; /* read even a file once through the buffer */
    int no_shuffle;
    int img_img;          /* patch geometry known */
    ekn_patch_geom geom;
    const char *region;   /* --region text, NULL: whole volumes */
    double max_ignored;
    int class_k;
    double class_share;
    uint64_t patches_per_epoch; /* 0: ekn_sampler_tiles */
    int shard, nshards;   /* --shard R/K: write slice R of each batch (0 and 0: whole batches) */
    /* the command line as given, which ekn-batch resolves into inputs,
     * epochs and geom above (the run reads none of it) */
    struct ekn_batch_args {
        const char *inputs[EKN_BATCH_MAX_INPUTS + 1]; /* -i FILE[:W], NULL-terminated */
        const char *net, *calc;                        /* --net SPEC, --calc FILE */
        ekn_zyx patch, offset, stride, label_shape, margin;
        int full_labels, repeat, class_share_given;
    } args;
} ekn_batch_opts;

int ekn_batch_run(const ekn_batch_opts *o, ekn_err *err);
/* Whole examples: from a dataset in memory, or streamed through a shuffle buffer. */
int ekn_batch_examples_memory(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err);
int ekn_batch_examples_stream(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err);
#endif
