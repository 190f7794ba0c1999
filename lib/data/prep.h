/* prep: everything ekn-preprocess does, as a library: read an input (and
 * its labels) into memory, arrange the axes as (N, C, [Z,] Y, X) or (N, F),
 * select examples, fit or apply statistics, transform and write.
 *
 * Pipeline (ekn_prep_run):
 *   load      readers.h, then axes arranged (prep_load.c)
 *   select    --range, then --subset, then --split/--part, then --shuffle
 *   fit       statistics of the selected examples (after the dtype scaling)
 *   apply     per example: dtype scaling and min-max or standardisation in
 *             one affine map where possible (ekn_convert_affine_cpu), then
 *             ZCA whitening of the flattened example
 *   write     chunks of --chunk examples: image|vector, then label|target,
 *             then mask records (prep_write.c); or one npy/h5 file
 *
 * Granularity of statistics: global (one value), per-feature (one per
 * channel of an image, one per column of a vector), per-pixel (one per
 * element of an example).  Variances are population variances (divide by
 * N); a zero std or range is replaced by 1 so constant inputs stay finite.
 * CSV inputs: statistics and transforms touch the numeric features only;
 * one-hot features keep 0/1 (their entries hold mean 0, std 1, min 0,
 * max 1). */
#ifndef EKN_PREP_H
#define EKN_PREP_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "opt.h"
#include "readers.h"
#include "stream.h"
#include "tensor.h"

/* The command line, as given (strings are parsed and checked by
 * ekn_prep_check); NULL / 0 means "not given". */
typedef struct ekn_prep_opts {
    const char *input, *labels, *targets, *mask;
    const char *weights;       /* --weights: per-voxel example weights, shaped as the labels */
    const char *format;        /* idx|npy|h5|raw|csv, NULL: detect per file */
    const char *shape;         /* raw: "30,512,512" */
    const char *dtype;         /* raw: "u8" */
    const char *label_dtype;   /* raw labels/targets/mask; default: dtype */
    const char *axes;          /* zyx (default) | xyz */
    const char *channels;      /* first|last|none; default depends on the format */
    int slices;                /* volumes: first spatial axis becomes N */
    int affinities;            /* --affinities: the labels become affinity targets (prep_affinity.c) */
    double max_input_mib;      /* --max-input: the most bytes a file may decompress to, MiB; 0: half the
                                * available memory (an IDX or NPY header's own size bounds it too) */
    /* CSV */
    int header;
    const char *label_column, *categorical, *missing;
    /* transforms */
    int no_scale, normalise;
    const char *standardise;   /* global|per-feature|per-pixel|none */
    double whiten;             /* eps; used when whiten_given */
    int whiten_given;
    const char *fit, *apply;
    /* selection */
    const char *range, *split, *part;
    long subset;               /* 0: all */
    int shuffle;
    long seed;
    /* output */
    const char *output;        /* "-" */
    const char *output_format; /* stream|npy|h5 */
    long chunk;
    int force;
    ekn_zyx spacing;           /* z,y,x or y,x (reals); its text goes into the metadata */
} ekn_prep_opts;

typedef enum { EKN_NORM_NONE = 0, EKN_NORM_MINMAX, EKN_NORM_STANDARDISE } ekn_norm;
typedef enum { EKN_GRAN_GLOBAL = 0, EKN_GRAN_FEATURE, EKN_GRAN_PIXEL } ekn_gran;

/* The examples in memory. */
typedef struct ekn_prep_data {
    char source[4096];
    char label_source[4096];
    int vectors;          /* x is (N, F) */
    ekn_tensor x;         /* native dtype: (N, C, [Z,] Y, X) or (N, F) */
    int has_labels, has_targets, has_mask;
    ekn_tensor y;         /* labels i32 (N) or (N, [Z,] Y, X); targets f32 */
    ekn_tensor mask;      /* u8, shaped as the labels */
    int has_weights;
    ekn_tensor weights;   /* f32, finite and >= 0, shaped as the labels (a `weight` record) */
    int classes;          /* 0 if unknown */
    const ekn_csv_schema *csv; /* CSV inputs: the schema used (not owned) */
} ekn_prep_data;

/* What --fit computes and --apply reuses. */
typedef struct ekn_prep_stats {
    int scale;            /* integer inputs divided by their type's maximum */
    ekn_norm norm;
    ekn_gran gran;
    int vectors;
    int erank;            /* example shape (without N), for compatibility checks */
    uint64_t eshape[EKN_MAX_RANK];
    size_t nstat;         /* entries of mean/std/min/max (1, C, F or the example size) */
    double *mean, *std, *min, *max;
    int whiten;
    double eps;
    size_t nfeat;         /* whitening: features per example */
    float *zca_mean;      /* (nfeat) */
    float *zca;           /* (nfeat, nfeat), symmetric */
    int classes;
    ekn_csv_schema csv;   /* CSV inputs: the schema used */
    /* derived by fit and load for element-by-element maps (vectors, and
     * per-pixel images): y = (x * dtype scale - center[j]) * inv[j], j < nab,
     * in double; nab is 0 where whole blocks share one map (global, per
     * channel) */
    size_t nab;
    double *center, *inv;
} ekn_prep_stats;

/* Syntax and clash checks of the options (before any file is read);
 * errors have code EKN_EXIT_USAGE. */
int ekn_prep_check(const ekn_prep_opts *o, ekn_err *err);
/* The whole command.  Output files appear only on success. */
int ekn_prep_run(const ekn_prep_opts *o, ekn_err *err);

/* ---- steps (prep_load.c) ---- */
/* Reads the input and its labels/targets/mask.  A CSV input uses `schema`
 * if it is fitted (--apply), else learns it into `schema`; d->csv points to
 * it afterwards. */
int ekn_prep_load(const ekn_prep_opts *o, ekn_csv_schema *schema, ekn_prep_data *d, ekn_err *err);
void ekn_prep_data_free(ekn_prep_data *d);

/* ---- --affinities (prep_affinity.c) ----
 * ELEKTRONN's affinity targets from a label volume lab (Z,Y,X) of ndim
 * spatial axes (2: Y,X with Z = 1; 3): aff (ndim, Z,Y,X) f32, channel a for
 * axis z, y, x in order (y, x in 2D): 1 where the voxel and its predecessor
 * along the axis have the same nonzero label, 0 where they differ or the
 * label is 0 (background, boundary), NaN (ignored by the losses) on the
 * first slice along the axis, which has no predecessor, and where either
 * label is negative (ignored). */
void ekn_affinities(const int32_t *lab, int ndim, const int shape[3], float *aff);
/* d's labels (N,[Z,]Y,X) i32, with its mask folded in (masked voxels
 * ignored), become the affinity targets (N, ndim, [Z,]Y,X) f32: a `target`
 * record.  0 or -1 (not per-voxel labels of 2-D or 3-D images). */
int ekn_prep_affinities(ekn_prep_data *d, ekn_err *err);
/* Reorders the axes of src: dst's axis i is src's axis perm[i] (C order,
 * any element size).  dst must not be src. */
int ekn_permute(const ekn_tensor *src, const int *perm, ekn_tensor *dst, ekn_err *err);

/* ---- steps (prep.c) ---- */
/* Indices of the selected examples among n, in output order (malloc'd). */
int ekn_prep_select(const ekn_prep_opts *o, size_t n, uint32_t **idx, size_t *count, ekn_err *err);
/* Fits statistics on the selected examples.  gran/norm/whiten as chosen. */
int ekn_prep_fit(const ekn_prep_data *d, const uint32_t *idx, size_t n, int scale, ekn_norm norm, ekn_gran gran,
                 int whiten, double eps, ekn_prep_stats *st, ekn_err *err);
/* Checks that d can take statistics st (example shape, CSV schema). */
int ekn_prep_compatible(const ekn_prep_stats *st, const ekn_prep_data *d, const char *stats_name, ekn_err *err);
/* Transforms examples idx[0..n) into out (n * example size floats).
 * tmp: n * example size floats of scratch, used only when whitening. */
void ekn_prep_apply(const ekn_prep_stats *st, const ekn_prep_data *d, const uint32_t *idx, size_t n, float *out,
                    float *tmp);
/* A one-line description for the transform= metadata key. */
void ekn_prep_describe(const ekn_prep_stats *st, const ekn_prep_data *d, char *buf, size_t cap);
/* The scale of an integer dtype (1/255 for u8, 1/65535 for u16, ...), 1 for floats. */
double ekn_prep_dtype_scale(ekn_dtype dt);
/* Writes the statistics as records mean, std, min, max (f64, shaped as the
 * granularity) and, when whitening, zca_mean (f32, F) and zca (f32, F x F);
 * settings and the CSV schema are metadata of the first record. */
int ekn_prep_stats_write(const ekn_prep_stats *st, ekn_writer *w, ekn_err *err);
int ekn_prep_stats_load(ekn_prep_stats *st, const char *path, ekn_err *err);
void ekn_prep_stats_free(ekn_prep_stats *st);
#endif
