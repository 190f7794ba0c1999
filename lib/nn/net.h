/* net: a network built from a spec for one input shape and a maximum batch.
 *
 * The layers form a graph (spec.h), evaluated in spec order; each kind's
 * arithmetic lives in its layer module (layer.h), this file only wires
 * them: buffers, the inputs of each layer, activation, dropout and noise,
 * and in backward the gradient of each layer's output, which sums over
 * every layer that reads it.  Gradients of outputs live in a few shared
 * slots (a plain chain needs two) planned when the net is built.
 *
 * All parameters live in one flat vector `theta` (and their gradients in
 * `grad`), layer after layer: conv weights (Cout,Cin,kz,ky,kx) then biases
 * (Cout); dense weights (Out,In) then biases (Out).  Optimisers work on the
 * flat vectors; checkpoints name each layer's slices ("conv1.w").  Because
 * conv and pool layers do not depend on the spatial size, the same theta
 * fits the net rebuilt for any valid input shape (prediction on larger
 * images).
 *
 * Every buffer is allocated by ekn_net_build; forward and backward never
 * allocate, so a training step's hot loop is allocation-free.
 *
 * Gradient convention: grad accumulates +dL/dtheta (+=), as the kernels do;
 * call ekn_net_zero_grad before each evaluation. */
#ifndef EKN_NET_H
#define EKN_NET_H
#include <stddef.h>
#include <stdint.h>

#include "calc.h"
#include "conv.h"
#include "layer.h"
#include "ops.h"
#include "pool.h"
#include "rng.h"
#include "spec.h"

typedef struct ekn_net_layer {
    const ekn_spec_layer *spec;
    const ekn_layer_class *cls;
    int cin, cout;         /* cin: the first input's channels */
    int in[3], out[3];     /* spatial (Z,Y,X) of the first input and the output; dense: out = 1,1,1 */
    size_t in_size, out_size; /* floats per example (first input, output) */
    int nin;               /* inputs: spec->inputs[], with their channels, sizes and crops */
    int in_c[EKN_MAX_INPUTS], in_sz[EKN_MAX_INPUTS][3], crop[EKN_MAX_INPUTS][3];
    size_t w_off, nw, b_off, nb; /* slices of theta/grad (norm: gamma, beta) */
    size_t a_off, na;      /* act = prelu: the slopes, one per output channel, after the biases */
    size_t st_off, nst;    /* slice of the state vector (norm: running mean, running variance) */
    float *z;              /* (N, out_size) pre-activation (logits for the last layer) */
    float *y;              /* (N, out_size) activation; == z when the activation is linear */
    float *feed;           /* what readers of the layer see: y, or y plus noise (training) */
    float *noisy;          /* (N, out_size) y + noise; NULL without noise */
    float *mask;           /* dropout scale per element (0 or 1/(1-rate)); NULL without dropout */
    int32_t *arg;          /* max-pool argmax */
    float *stats;          /* norm: the last training forward's mean and 1/std */
    /* backward plan: the gradient slot of this layer's output (-1: the
     * caller's dout), a scratch slot for dL/dz (-1: none), and per input
     * whether this layer writes its gradient first (else a temporary slot
     * or, for merges, straight accumulation) */
    int gslot, dzslot;
    int first[EKN_MAX_INPUTS], tslot[EKN_MAX_INPUTS];
} ekn_net_layer;

/* A named tensor of the net, for checkpoints: a slice of theta (state = 0)
 * or of the non-trainable state vector (state = 1). */
typedef struct ekn_net_tensor {
    char name[80];      /* "conv1.w", "conv1.b", "bn1.gamma", "bn1.running_mean" */
    int rank;           /* 1..6 */
    uint64_t dims[6];   /* conv w (Cout, Cin, [kz,] [ky,] kx) by the spec's ndim, dense w (Out, In), b (Out) */
    size_t offset;      /* first float in theta or state */
    size_t count;       /* floats */
    int state;
} ekn_net_tensor;
#define EKN_NET_MAX_TENSORS (4 * EKN_MAX_LAYERS)

typedef struct ekn_net {
    const ekn_spec *spec;  /* borrowed: must outlive the net */
    const ekn_ops *ops;
    int max_batch;
    int nlayers;
    ekn_net_layer layers[EKN_MAX_LAYERS];
    int in_c, in[3];
    size_t in_size;        /* floats per input example */
    int out_c, out[3];
    size_t out_spatial;    /* output positions per example (1 for scalar outputs) */
    size_t out_size;       /* out_c * out_spatial */
    int classes;           /* softmax classes, 0 for regression */
    ekn_calc calc;
    size_t nparams;
    float *theta, *grad;
    float *decay;          /* per parameter: the layer's decay multiplier for weights, 0 for biases */
    float *x_noisy;        /* (N, in_size) the input plus training noise */
    const float *input;    /* what the last forward fed the first layer (for backward) */
    float *slot[2 * EKN_MAX_LAYERS + 2]; /* gradient slots, N * max_act floats each */
    int nslots;
    size_t max_act;        /* floats per example of the largest layer output (or input) */
    float *state;          /* non-trainable state (norm running statistics), nstate floats */
    size_t nstate;
    float *host_state;     /* device nets: host copy of state */
    float *work;           /* conv workspace */
    size_t work_floats;
    size_t alloc_bytes;  /* everything ekn_net_build allocated in the ops table's memory (ekn-calc's
                            training memory, minus the optimiser) */
    float *host_draw;    /* device nets: host buffer for dropout masks and input noise */
    float *host_theta;   /* device nets: host copy of theta (checkpoints), see ekn_net_params_host */
} ekn_net;

/* shape: input spatial size (Z,Y,X); NULL takes the spec's.  Every array
 * of the net (theta, grad, decay, activations, workspace) lives in the ops
 * table's memory: on the GPU for ekn_ops_cuda(), where forward, backward
 * and the optimiser run without the host touching them.  Fails with
 * EKN_EXIT_SPEC when the shape does not fit, EKN_EXIT_FAIL when out of
 * memory (naming ekn-calc's estimate of what training needs). */
int ekn_net_build(ekn_net *net, const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops,
                  ekn_err *err);
void ekn_net_free(ekn_net *net);
/* What ekn_net_build(spec, shape, max_batch, ops) would allocate in ops's
 * memory (its alloc_bytes), found by running the same code without
 * allocating, so a caller can compare it with a limit first (memlimit.h):
 * 0 with *out, or -1 with ekn_net_build's errors. */
typedef struct ekn_net_size {
    size_t bytes;             /* alloc_bytes */
    size_t nparams, in_size, out_size; /* as the built net's fields */
} ekn_net_size;
int ekn_net_measure(const ekn_spec *spec, const int shape[3], int max_batch, const ekn_ops *ops, ekn_net_size *out,
                    ekn_err *err);

/* theta on the host: the net's own for host memory, else a copy
 * downloaded into host_theta.  After changing it, ekn_net_params_commit
 * uploads it (nothing to do for host memory). */
float *ekn_net_params_host(ekn_net *net);
void ekn_net_params_commit(ekn_net *net);
/* theta = host_src (nparams floats). */
void ekn_net_params_set(ekn_net *net, const float *host_src);

/* state on the host (as ekn_net_params_host), and back */
float *ekn_net_state_host(ekn_net *net);
void ekn_net_state_commit(ekn_net *net);

/* The net's named tensors in a fixed order; returns how many (<= max), or -1 when max is too small. */
int ekn_net_tensors(const ekn_net *net, ekn_net_tensor *out, int max);

/* The backward plan for a spec (which slot holds each gradient): fills the
 * plan fields of layers[] (spec order) and returns the number of slots.
 * ekn-calc's memory figure and ekn_net_build both use it. */
int ekn_net_plan(const ekn_spec *spec, ekn_net_layer *layers);

/* He (normal, std sqrt(2/fan_in)) or Glorot (uniform, +-sqrt(6/(fan_in+fan_out))) weights, zero biases. */
void ekn_net_init_params(ekn_net *net, ekn_rng *rng);

/* x (n, in_size) in the ops table's memory.  train: input noise and dropout on, drawn from rng.
 * Returns the output (n, out_c, out_spatial), in the table's memory:
 * probabilities after a softmax output, otherwise the last activation. */
const float *ekn_net_forward(ekn_net *net, const float *x, int n, int train, ekn_rng *rng);
/* Prediction for callers whose data is on the host: x (n, in_size) and out
 * (n, out_size) are host memory.  A device net uploads x into its
 * x_noisy buffer (unused without training) and downloads the output.
 * Returns 0, or -1 with the device's error. */
int ekn_net_forward_host(ekn_net *net, const float *x, int n, float *out, ekn_err *err);
/* Accumulates grad (+=) for the last forward.  dout: dL/dlogits for a
 * softmax output (the fused softmax+NLL gradient) and for a sigmoid last
 * layer (the losses of a sigmoid output take its logits, the last layer's
 * z), else dL/d(output). */
void ekn_net_backward(ekn_net *net, int n, const float *dout);
void ekn_net_zero_grad(ekn_net *net);

/* Index of the layer named `name`, or -1. */
int ekn_net_find_layer(const ekn_net *net, const char *name);
/* One-line description of the layers for -v ("conv1 conv 32x5x5 relu [1,28,28]->[32,24,24]"). */
void ekn_net_describe(const ekn_net *net, int i, char *buf, size_t cap);
#endif
