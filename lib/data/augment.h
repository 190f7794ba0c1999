/* augment: random geometric and intensity transforms of examples, as
 * ekn-augment(1) applies them to a stream.
 *
 * Per example, every parameter is drawn from an ekn_rng seeded with
 * (seed, example index), so a result depends only on the seed and the
 * example's position in the stream, not on how examples are grouped into
 * records.  All geometric transforms of one example are composed into one
 * sampling map from output voxel o (Z,Y,X) to a source position
 *
 *     s = T_lattice( P( M (o - c_out) ) + d(o) ) + c_src + t
 *
 * (M: a rotation about a random axis unless in-plane, then rotation *
 * scale * shear in the Y,X plane, and scale along Z unless in-plane; P: the perspective division; d: the elastic displacement field;
 * T_lattice: transpose and mirrors, exact on the voxel grid; c_out, c_src:
 * the output's and the source's centres; t: the translation), and the
 * source is resampled once: images (bi/trilinear), labels and masks
 * (nearest).  Axis order is always Z,Y,X; 2D examples have Z = 1.
 *
 * Buffers live in ekn_aug_work and grow once per shape, not per example. */
#ifndef EKN_AUGMENT_H
#define EKN_AUGMENT_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "opt.h"
#include "rng.h"

#define EKN_AUG_MAX_CHANNELS 64

/* The distributions, as given on the command line. */
typedef struct ekn_aug_opts {
    uint64_t seed;
    int flip[3];            /* axes Z,Y,X that may be mirrored, each with p = 0.5 */
    int transpose;          /* swap Y and X with p = 0.5 */
    int rot90;              /* rotate by k*90 degrees in Y,X, k uniform in 0..3 */
    double rotate;          /* angle uniform in [-rotate, rotate] degrees, in Y,X */
    double rotate3d;        /* full 3D only: about a uniformly random axis, angle uniform in [-r, r] degrees */
    double scale_lo, scale_hi; /* zoom log-uniform in [lo, hi]; 1,1: none */
    double shear;           /* Y,X shear factor uniform in [-shear, shear] */
    double perspective;     /* two projective coefficients uniform in [-p, p] (< 1) */
    double translate[3];    /* uniform in [-t, t] voxels per axis Z,Y,X */
    double elastic_strength;/* std of each displacement component, voxels (0: none) */
    double elastic_smooth;  /* Gaussian sigma of the field, voxels */
    double warp_fraction;   /* the fraction of examples that get the warps */
    int in_plane;           /* 1: geometric transforms act in Y,X only (and mirror Z) */
    double brightness;      /* added: uniform in [-b, b] */
    double contrast;        /* factor about the mean: uniform in [1-c, 1+c] */
    double gamma;           /* exponent log-uniform in [1/g, g] on the min..max range (g >= 1; 1: none) */
    double noise;           /* Gaussian noise of this std */
    double blur;            /* Gaussian blur, sigma uniform in [0, blur] voxels */
    double dropout;         /* each element set to 0 with this probability */
    int per_channel;        /* draw brightness, contrast, gamma per channel */
} ekn_aug_opts;

/* The warps: every transform that is not exact on the voxel grid. */
int ekn_aug_has_warp(const ekn_aug_opts *o);
/* Any geometric transform at all (warps, mirrors, transposes, rot90). */
int ekn_aug_has_geometry(const ekn_aug_opts *o);

/* One example's draw. */
typedef struct ekn_aug_params {
    int flip[3];            /* mirror Z, Y, X (after the transpose) */
    int transpose;          /* swap Y and X */
    int rot90;              /* 0..3 quarter turns, folded into flip/transpose */
    int flip_drawn[3], transpose_drawn; /* the raw draws, before folding in rot90 */
    int warp;               /* whether the warps below apply */
    double angle;           /* radians */
    double axis[3];         /* unit axis (Z,Y,X) of the 3D rotation by angle3d radians */
    double angle3d;
    double scale;
    double shear;
    double persp[2];        /* Y, X projective coefficients (per half patch size) */
    double translate[3];
    uint64_t field_seed;    /* of the elastic field */
    int channels;
    float brightness[EKN_AUG_MAX_CHANNELS], contrast[EKN_AUG_MAX_CHANNELS], gamma[EKN_AUG_MAX_CHANNELS];
    double blur;            /* sigma of this example's blur */
} ekn_aug_params;

/* Draws one example's parameters (channels: of the image, 1 for vectors).
 * Draws in a fixed order, whether or not an option is on, so turning one
 * transform on does not change another's draws. */
void ekn_aug_draw(const ekn_aug_opts *o, ekn_rng *rng, int channels, ekn_aug_params *p);

/* Spatial geometry of one example. */
typedef struct ekn_aug_geom {
    int src[3];             /* source shape Z,Y,X */
    int out[3];             /* output shape Z,Y,X (the crop; src when none) */
    int in_plane;           /* Z is never interpolated nor warped */
} ekn_aug_geom;

/* The sampling map of one example: coordinates are produced row by row. */
typedef struct ekn_aug_map {
    ekn_aug_geom g;
    double a[3][3];         /* s = a (o - c_out) + b, before the lattice part */
    double b[3];
    double c_out[3];
    int lattice_only;       /* no warp: sources are exact grid points */
    const ekn_aug_params *p;
    float *field;           /* displacement (ndisp, out Z,Y,X) or NULL */
    int ndisp;              /* 2 (Y,X) or 3 (Z,Y,X) */
} ekn_aug_map;

/* Work buffers, grown as needed; zero-initialise, free with ekn_aug_work_free. */
typedef struct ekn_aug_work {
    float *field; size_t field_cap;
    float *coarse; size_t coarse_cap;
    float *tmp; size_t tmp_cap;
    float *row; size_t row_cap;     /* per-row coordinate scratch */
    int32_t *idx; size_t idx_cap;   /* per-row source indices */
} ekn_aug_work;
void ekn_aug_work_free(ekn_aug_work *w);

/* Builds the map of one example (and its elastic field, in w).  -1 only
 * when memory runs out. */
int ekn_aug_map_build(ekn_aug_map *m, const ekn_aug_opts *o, const ekn_aug_params *p, const ekn_aug_geom *g,
                      ekn_aug_work *w, ekn_err *err);

/* The elastic displacement field (ndisp components over the out[3] grid):
 * white noise on a coarse grid (spacing about sigma/3), blurred with a
 * separable Gaussian, scaled so each component's std is `strength`, then
 * upsampled (multi-linear).  In-plane fields (ndisp = 2) vary in Y,X only. */
int ekn_aug_elastic_field(float *field, int ndisp, const int out[3], double strength, double sigma, uint64_t seed,
                          ekn_aug_work *w, ekn_err *err);

/* Resampling of C channels (C, src Z,Y,X) to (C, out Z,Y,X).
 * Images: multi-linear, positions outside clamped to the edge.  Returns the
 * number of output voxels whose source lies outside the volume. */
size_t ekn_aug_sample_f32(const ekn_aug_map *m, const float *src, float *dst, int channels, ekn_aug_work *w);
/* Labels: nearest; outside the volume -> `outside` (-1: ignored). */
size_t ekn_aug_sample_i32(const ekn_aug_map *m, const int32_t *src, int32_t *dst, int32_t outside,
                          ekn_aug_work *w);
/* Masks: nearest; outside -> 0. */
size_t ekn_aug_sample_u8(const ekn_aug_map *m, const uint8_t *src, uint8_t *dst, ekn_aug_work *w);

/* Lattice transforms of an array (channels, Z,Y,X) of elem-byte elements:
 * transpose Y,X first (needs Y == X), then mirror the flagged axes.  The
 * exact map applied to labels at the network's output grid. */
void ekn_aug_lattice(const void *src, void *dst, size_t elem, int channels, const int shape[3], int transpose,
                     const int flip[3]);

/* Intensity: gamma, contrast, brightness, blur, then noise and dropout, on
 * one example (channels, n voxels with spatial shape shape[3]; vectors:
 * channels 1, shape 1,1,F, no blur).  rng gives the noise. */
int ekn_aug_intensity(float *x, int channels, const int shape[3], const ekn_aug_opts *o, const ekn_aug_params *p,
                      ekn_rng *rng, ekn_aug_work *w, ekn_err *err);
int ekn_aug_has_intensity(const ekn_aug_opts *o);

/* ---- the stream: ekn-augment(1) -------------------------------------------
 * Reads record groups (an `image` or `vector` record, then `label` or
 * `target`, `mask`, `labelled`, `absent`, ...) one group at a time, applies
 * one draw per example to the image and jointly to its labels, targets and
 * mask, and writes the group in its order.  Records it does not transform
 * pass through unchanged; metadata is kept. */
typedef struct ekn_aug_run_cfg {
    ekn_aug_opts o;
    const char *input, *output;
    int force;
    int crop[3], crop_dims; /* crop_dims 0: no crop; 2: Y,X; 3: Z,Y,X */
    int in_plane_mode;      /* -1: automatic (spacing= or a thin Z); 0: no; 1: yes */
    int reject;             /* drop examples that sample outside instead of ignoring labels there */
    uint64_t examples_in, examples_out, warped; /* counts, filled by the run */
    /* the command line as given, which ekn_aug_cfg_resolve turns into the
     * fields above (the run reads none of it) */
    struct ekn_aug_args {
        const char *flip;       /* --flip: letters of z,y,x */
        const char *scale;      /* --scale A:B */
        ekn_zyx translate;      /* --translate T, Y,X or Z,Y,X (reals) */
        const char *elastic;    /* --elastic A,S */
        ekn_zyx crop;           /* --crop Y,X or Z,Y,X */
        const char *calc;       /* --calc FILE: the crop from ekn-calc's shell output */
        const char *in_plane;   /* auto|yes|no */
        const char *outside;    /* ignore|reject */
    } args;
} ekn_aug_run_cfg;

/* Checks cfg->args and fills the rest of cfg from them (augment_opts.c).
 * Errors: EKN_EXIT_USAGE for a bad option ("--flip takes letters of z,y,x,
 * you specified 'q'"), or the error of reading --calc's file. */
int ekn_aug_cfg_resolve(ekn_aug_run_cfg *cfg, ekn_err *err);

/* Errors: EKN_EXIT_FAIL for bad or inconsistent input (an empty stream,
 * mismatched shapes), EKN_EXIT_SPEC for a crop larger than the image,
 * EKN_EXIT_USAGE for transforms the data cannot take (warps of labels at
 * the network's output grid, geometry on vectors). */
int ekn_aug_run(ekn_aug_run_cfg *cfg, ekn_err *err);
#endif
