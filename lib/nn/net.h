/* net: a network built from a spec for one input shape and a maximum batch.
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
#include "ops.h"
#include "pool.h"
#include "rng.h"
#include "spec.h"

typedef struct ekn_net_layer {
    const ekn_spec_layer *spec;
    int cin, cout;
    int in[3], out[3];     /* spatial (Z,Y,X); dense: out = 1,1,1 */
    size_t in_size, out_size; /* floats per example */
    size_t w_off, nw, b_off, nb; /* slices of theta/grad */
    float *z;              /* (N, out_size) pre-activation (logits for the last layer) */
    float *y;              /* (N, out_size) activation; == z when the activation is linear */
    float *mask;           /* dropout scale per element (0 or 1/(1-rate)); NULL without dropout */
    int32_t *arg;          /* max-pool argmax */
} ekn_net_layer;

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
    float *dbuf[2];        /* gradient ping-pong buffers */
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

/* theta on the host: the net's own for host memory, else a copy
 * downloaded into host_theta.  After changing it, ekn_net_params_commit
 * uploads it (nothing to do for host memory). */
float *ekn_net_params_host(ekn_net *net);
void ekn_net_params_commit(ekn_net *net);
/* theta = host_src (nparams floats). */
void ekn_net_params_set(ekn_net *net, const float *host_src);

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
 * softmax output (the fused softmax+NLL gradient), else dL/d(output). */
void ekn_net_backward(ekn_net *net, int n, const float *dout);
void ekn_net_zero_grad(ekn_net *net);

/* ---- the net's named tensors: its one boundary with checkpoints (ckpt.h) ----
 * Every tensor the net keeps between runs, named and shaped as checkpoints
 * store it.  A tensor is a contiguous slice of one of two host float
 * vectors: theta (the trainable parameters, ekn_net_params_host) or, with
 * state = 1, the net's non-trainable state (none today; later e.g. batch
 * normalisation's running statistics). */
typedef struct ekn_net_tensor {
    char name[80];      /* "conv1.w", "conv1.b", later also "bn1.gamma", "bn1.running_mean" */
    int rank;           /* 1..6 */
    uint64_t dims[6];   /* as stored: conv w (Cout, Cin, [kz,] [ky,] kx) by the spec's ndim, dense w (Out, In), b (Out) */
    size_t offset;      /* first float in the vector below */
    size_t count;       /* floats */
    int state;          /* 0: a slice of theta (trainable parameter), 1: a slice of the net's non-trainable state vector */
} ekn_net_tensor;
/* The net's named tensors in a fixed order (today: layer by layer, each
 * layer's w then b; together they tile theta from offset 0 without gaps);
 * returns how many (<= max), or -1 when max is too small. */
int ekn_net_tensors(const ekn_net *net, ekn_net_tensor *out, int max);

/* Index of the layer named `name`, or -1. */
int ekn_net_find_layer(const ekn_net *net, const char *name);
/* One-line description of the layers for -v ("conv1 conv 32x5x5 relu [1,28,28]->[32,24,24]"). */
void ekn_net_describe(const ekn_net *net, int i, char *buf, size_t cap);
#endif
