/* calc: the CNN calculator (ELEKTRONN's CNNCalculator arithmetic), per
 * spatial dimension, for a parsed spec.
 *
 * Along one axis (Z, Y or X) a conv layer with filter f maps n -> n - f + 1,
 * and a pool layer with factor p maps n -> n / p (p must divide n).  With
 * S_i the product of the pool factors up to and including layer i (S_0 = 1):
 *
 *     stride        S_i
 *     field of view FOV_i = 1 + sum_{j<=i} (k_j - 1) * S_{j-1}
 *                         = S_i + sum_{conv j<=i} (f_j - 1) * S_{j-1}
 *                   (k_j: conv filter f_j or pool factor p_j)
 *     offset        floor(FOV_i / 2)
 *     valid inputs  n = S * (o - 1) + FOV for outputs o = 1, 2, ...
 *
 * Max fragment pooling (MFP), used for dense prediction in img-img: a pool
 * layer with mfp = 1 pools its input n at all p offsets instead of one, which
 * needs (n - p + 1) % p == 0; it keeps p fragments of (n - p + 1) / p each,
 * and the following layers process every fragment (as more batch items).
 * Valid inputs become
 *
 *     n = S * (o - 1) + FOV + sum_{MFP layers i} (p_i - 1) * S_{i-1}
 *
 * (o: the output size per fragment).  The fragments together give F * o
 * outputs per axis (F: the product of the MFP factors), at stride S / F; when
 * every pool is MFP that is n - FOV + 1, one output per input position.
 *
 * Dense layers (img-scalar, vect-scalar) flatten whatever reaches them, so
 * only the conv/pool layers constrain the input size.  Axes a spec does not
 * use (Z of a 2D spec, Z and Y of a 1D one) have size 1 and only 1 is valid.
 * vect-scalar: the input is (1, 1, features).
 *
 * Every error is EKN_EXIT_SPEC with "FILE:LINE: layer 'NAME': ..." and, for a
 * shape that does not fit, the nearest valid input sizes in that axis. */
#ifndef EKN_CALC_H
#define EKN_CALC_H
#include "diag.h"
#include "spec.h"

/* One axis of the conv/pool part of a network (dense layers excluded). */
typedef struct ekn_calc_dim {
    int fov, stride, offset; /* after the last conv/pool layer (1, 1, 0 if none) */
    int base;    /* smallest valid input: FOV (+ the MFP term when with_mfp) */
    int step;    /* distance between valid inputs: the stride; 0 for an unused axis (only 1 fits) */
    int frags;   /* fragments: product of the MFP pool factors (1 without MFP) */
} ekn_calc_dim;

typedef struct ekn_calc_layer {
    int in[3], out[3];        /* spatial size (Z,Y,X) per fragment; dense: out = 1,1,1 */
    int channels_out;
    int fov[3], stride[3], offset[3]; /* dense: the whole input is its field of view */
    long params;              /* weights + biases */
    double flops;             /* forward FLOPs per example (2 * MACs; pool 0), all fragments */
    double act_bytes;         /* per example: output + its gradient, float32 (8 bytes per
                               * element), + 4 per element of max-pool argmax; all fragments */
    double work_bytes;        /* per example: the conv workspace (lowered input + GEMM output) */
    int channels_in;
    int frags[3];             /* MFP fragments per axis after this layer (1 without MFP) */
    /* every input (graphs): channels, size, and the crop offset where a
     * merge centre-crops it to the output */
    int nin;
    int in_c[EKN_MAX_INPUTS], in_sz[EKN_MAX_INPUTS][3], crop[EKN_MAX_INPUTS][3];
    double centre[3], step[3]; /* graphs: output 0's centre and the output step, in input pixels */
    long state;               /* non-trainable floats (norm running statistics) */
} ekn_calc_layer;

typedef struct ekn_calc {
    int nlayers;
    ekn_calc_layer layers[EKN_MAX_LAYERS];
    int in[3];                /* input spatial size (Z,Y,X) */
    int out[3];               /* output spatial size per fragment */
    int out_channels;         /* outputs per position: last layer's filters/units */
    int fov[3], stride[3], offset[3]; /* of the conv/pool part (1, 1, 0 where there is none) */
    long params;
    double flops;             /* forward, per example */
    double act_bytes;         /* per example: input (4 bytes per element) + every layer's act_bytes */
    double work_bytes;        /* per example: the largest layer's workspace, shared by all layers */
    int in_channels;
    int mfp;                  /* computed with max fragment pooling */
    int frags[3];             /* fragments per axis at the output (1 without MFP) */
    int dense_out[3];         /* outputs per axis of all fragments together: frags * out */
    int graph;                /* computed by the graph path (spec->graph) */
    int grad_slots;           /* gradient buffers backward needs (ekn_net_plan) */
    double batch_bytes;       /* per batch, whatever its size: norm statistics and state */
} ekn_calc;

/* What ekn-train allocates for the net with SGD: a batch's activations and
 * the CPU conv workspace, and four parameter-sized vectors (theta, gradient,
 * decay, velocity).  On a GPU cuDNN's workspace takes the CPU one's place. */
double ekn_calc_train_bytes(const ekn_calc *c, long batch);

/* Graphs (spec->graph): the valid sizes along an axis are found by running
 * the per-axis shape rules of every layer (layer.h) on each candidate size,
 * so up-convolutions, crops of merges, strides and padding all count; a
 * merge whose inputs differ by an odd number (no centred crop) or are not
 * aligned rejects the size.  base and step describe the first two valid
 * sizes found.  An img-img graph needs an integer output step and an
 * integer offset of output 0 (its centre pixel).
 *
 * Per-axis analysis; dim 0=Z, 1=Y, 2=X.  with_mfp applies the spec's mfp = 1
 * pools.  Fails for an invalid dim, or an even field of view in img-img. */
int ekn_calc_dim_info(const ekn_spec *spec, int dim, int with_mfp, ekn_calc_dim *out, ekn_err *err);

/* shape: input spatial size (Z,Y,X), NULL for the spec's own shape.  Fails
 * (EKN_EXIT_SPEC) with a message that names the layer, the dimension, and the
 * nearest valid input sizes when the shape does not fit (pool remainder,
 * output < 1).  Equivalent to ekn_calc_run_mfp(..., 0, ...). */
int ekn_calc_run(const ekn_spec *spec, const int shape[3], ekn_calc *out, ekn_err *err);
/* As ekn_calc_run; with_mfp pools the spec's mfp = 1 layers as fragments. */
int ekn_calc_run_mfp(const ekn_spec *spec, const int shape[3], int with_mfp, ekn_calc *out,
                     ekn_err *err);

/* A graph spec's geometry before any data is read: every used axis has a
 * valid input size and the net's channels and merges agree at the smallest
 * one (what ekn_calc_run would refuse for every input).  Chains, whose
 * errors depend only on the input's size, pass.  0, or -1 (EKN_EXIT_SPEC)
 * naming FILE:LINE and the layer. */
int ekn_calc_check(const ekn_spec *spec, ekn_err *err);

/* The first `max` valid sizes in dimension dim (0=Z,1=Y,2=X) into sizes[];
 * returns how many were written (an unused axis has just 1), or -1. */
int ekn_calc_valid_sizes(const ekn_spec *spec, int dim, int with_mfp, int *sizes, int max,
                         ekn_err *err);
/* The nearest valid input to `desired` (>= 1): the largest valid size not
 * above it, or the smallest valid size when none is.  Returns it or -1. */
int ekn_calc_nearest(const ekn_spec *spec, int dim, int with_mfp, int desired, ekn_err *err);
/* 1 if n is a valid input size in dimension dim, 0 if not, -1 on error. */
int ekn_calc_is_valid(const ekn_spec *spec, int dim, int with_mfp, int n, ekn_err *err);
#endif
