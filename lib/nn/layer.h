/* layer: the contract every layer kind fulfils, one file per kind
 * (layer_conv.c, layer_pool.c, layer_dense.c, layer_upconv.c,
 * layer_merge.c for concat and add, layer_norm.c).
 *
 * A kind owns its spec section: its name, the keys it accepts and how
 * they are read and checked (the parse and check hooks, spec_keys.h).
 *
 * A network is a graph of layers (spec.h): each reads one or more earlier
 * layers' outputs (or the input) and writes one output.  The calculator
 * (calc.c) asks a kind for its shapes, geometry, parameters, FLOPs and
 * memory from the spec alone; the net (net.c) asks it to size, initialise,
 * run forward and backward on a built layer.  Activation, dropout and
 * output noise are applied by net.c around every kind alike.
 *
 * Geometry along one axis is kept in net-input pixels: `centre` is where
 * the centre of output element 0's field of view lies, `step` the distance
 * between neighbouring outputs (below 1 after up-convolution), `fov` the
 * extent of the field of view.  A valid conv of size k maps (c, s, f) to
 * (c + (k-1)/2 s, s, f + (k-1) s); a pool of p to (c + (p-1)/2 s, p s,
 * f + (p-1) s); an up-convolution by u to (c - (u-1)/(2u) s, s/u, f).
 *
 * Gradients are +dL/d(theta); parameter gradients ACCUMULATE (+=) into the
 * net's grad vector; input gradients are overwritten unless the kind says
 * it accumulates (merges, whose crops add into their inputs' gradients). */
#ifndef EKN_LAYER_H
#define EKN_LAYER_H
#include <stddef.h>

#include "calc.h"
#include "ops.h"
#include "spec.h"
#include "spec_keys.h"

struct ekn_net;
struct ekn_rng;
struct ekn_net_layer;
struct ekn_net_tensor;

typedef struct ekn_geo {
    double centre, step, fov;
} ekn_geo;

typedef struct ekn_layer_class {
    const char *name;
    /* 1 if backward adds into its inputs' gradients instead of writing them */
    int accumulates_dx;

    /* ---- the spec section [name] (spec.c, spec_keys.h) ----
     * keys: the EKN_KEY_BIT()s the section accepts besides EKN_KEYS_LAYER
     * (name, input, noise); spec.c reads the shared ones among them
     * (EKN_KEYS_ACT, decay, init).  default_act: act unless given (an
     * ekn_act or EKN_ACT_SOFTMAX/PRELU); no_decay: 1 if decay is 0 unless
     * given (else 1).  parse (NULL: nothing) reads the kind's own keys into
     * L before spec.c reads the shared keys; check (NULL: nothing) those read
     * after them (keys that refer to the shared ones or to earlier layers).
     * Each returns 0 or -1 with the error set (spec_keys.h helpers). */
    unsigned keys;
    int default_act;
    int no_decay;
    int (*parse)(ekn_spec_ctx *c, ekn_spec_layer *L);
    int (*check)(ekn_spec_ctx *c, ekn_spec_layer *L);

    /* ---- from the spec: one axis d (0=Z, 1=Y, 2=X) ----
     * in[k]: the size of input k along d, gin[k] its geometry.  Writes the
     * output size, each input's crop offset (merges; 0 otherwise) and the
     * output geometry.  Returns 0, or -1 with a reason in why (no layer name:
     * the caller adds it). */
    int (*dim)(const ekn_spec_layer *L, int d, const int *in, const ekn_geo *gin, int nin, int *out, int *crop,
               ekn_geo *gout, char *why, size_t cap);
    /* Output channels from the inputs' (cin[k]); flat: the first input's
     * elements per example (dense flattens them).  0 or -1 with why. */
    int (*channels)(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat, int *cout,
                    char *why, size_t cap);
    /* Trainable floats (weights, biases) and non-trainable state floats. */
    void (*params)(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb, double *nstate);
    /* Forward FLOPs per example; out: output elements per example. */
    double (*flops)(const ekn_spec_layer *L, int cin, int cout, double flat, double out);

    /* Floats of the shared workspace forward and backward need for a batch
     * of n with the table's kernels (NULL: none); cl: the calculator's layer. */
    size_t (*workspace)(const ekn_ops *ops, const ekn_spec_layer *L, const ekn_calc_layer *cl, int n);

    /* ---- on a built net ---- */
    /* extra per-example buffers the kind keeps from forward to backward, in
     * floats per example and floats per batch (norm statistics) */
    void (*scratch)(const ekn_spec_layer *L, int cout, double out, double *per_example, double *per_batch);
    /* weights and state to their initial values (host vectors) */
    void (*init)(const struct ekn_net *net, const struct ekn_net_layer *L, float *theta, float *state,
                 struct ekn_rng *rng);
    /* z = the kind's output for a batch of n; x[k] the inputs */
    void (*forward)(struct ekn_net *net, struct ekn_net_layer *L, const float *const *x, int n, int train);
    /* from dz (dL/dz, n examples): parameter gradients (+=) and, where
     * dx[k] is not NULL, input gradients */
    void (*backward)(struct ekn_net *net, struct ekn_net_layer *L, const float *const *x, const float *dz,
                     float *const *dx, int n);
    /* the named tensors of the layer (checkpoints), appended at out;
     * returns how many */
    int (*tensors)(const struct ekn_net *net, const struct ekn_net_layer *L, struct ekn_net_tensor *out);
} ekn_layer_class;

const ekn_layer_class *ekn_layer_class_of(ekn_layer_kind kind);

extern const ekn_layer_class ekn_layer_conv, ekn_layer_pool, ekn_layer_dense, ekn_layer_upconv,
    ekn_layer_concat, ekn_layer_add, ekn_layer_norm;

/* Helpers the kinds share. */
double ekn_layer_prod3(const int v[3]);
/* dims of a weight tensor: lead dims then the spec's used spatial axes */
int ekn_layer_weight_dims(const ekn_spec *s, int a, int b, const int size[3], unsigned long long *dims);
/* He or Glorot (L->init) weights */
void ekn_layer_init_weights(const ekn_spec_layer *L, float *w, size_t nw, double fan_in, double fan_out,
                            struct ekn_rng *rng);
/* Entries for kinds without channels of their own, parameters, FLOPs or tensors. */
int ekn_layer_same_channels(const ekn_spec *s, const ekn_spec_layer *L, const int *cin, int nin, double flat,
                            int *cout, char *why, size_t cap);
void ekn_layer_no_params(const ekn_spec_layer *L, int cin, int cout, double flat, double *nw, double *nb,
                         double *nstate);
double ekn_layer_no_flops(const ekn_spec_layer *L, int cin, int cout, double flat, double out);
int ekn_layer_no_tensors(const struct ekn_net *net, const struct ekn_net_layer *L, struct ekn_net_tensor *out);
/* A weight tensor NAME.wname of the given dims and a bias NAME.bname (each only if the layer has it). */
int ekn_layer_wb_tensors(const struct ekn_net *net, const struct ekn_net_layer *L, struct ekn_net_tensor *out,
                         const char *wname, int rank, const unsigned long long *dims, const char *bname);
#endif
