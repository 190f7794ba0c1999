/* spec: the network spec format (see ekn-spec(5)).
 *
 * A spec is a strict INI file: one [input] section first, then one section
 * per layer ([conv], [pool], [dense], [upconv], [concat], [add], [norm]).
 * A layer reads the layer above it unless it names its inputs
 * ('input = a, b'); it may only read layers above it, so every spec is a
 * graph without cycles, listed in an order data can flow in (the layer
 * order is the evaluation order).  The last layer is the net's output, and
 * every other layer must feed some layer.
 *
 *     [input]
 *     mode = img-scalar
 *     channels = 1
 *     shape = 28,28
 *     [conv]
 *     filters = 32
 *     size = 5,5
 *     ...
 *
 * Axis order for the whole toolkit is (N, C, Z, Y, X); spatial sizes are given
 * slowest-first, and a spec with fewer than 3 spatial dimensions leaves the
 * leading axes at 1 (a 2D spec uses Y,X; a 1D spec X).
 *
 * Every problem (unknown section or key, duplicate key, bad or missing value,
 * a layer sequence the mode does not allow, an even field of view for
 * img-img) is an error "FILE:LINE: message" with err->code = EKN_EXIT_SPEC.
 * The parser also checks what does not depend on the input size; whether a
 * given input shape fits (pool remainders) is for calc.h. */
#ifndef EKN_SPEC_H
#define EKN_SPEC_H
#include "act.h"
#include "diag.h"

#define EKN_MAX_LAYERS 64
#define EKN_ACT_SOFTMAX 100 /* beside the ekn_act values of act.h */
#define EKN_ACT_PRELU 101   /* a learnt slope per channel for x < 0 (NAME.prelu, initially 0.25) */
#define EKN_SPEC_NAME_MAX 32

enum { EKN_INIT_HE, EKN_INIT_GLOROT };

typedef enum { EKN_MODE_IMG_IMG, EKN_MODE_IMG_SCALAR, EKN_MODE_VECT_SCALAR } ekn_mode;
typedef enum {
    EKN_LAYER_CONV, EKN_LAYER_POOL, EKN_LAYER_DENSE, EKN_LAYER_UPCONV, EKN_LAYER_CONCAT, EKN_LAYER_ADD,
    EKN_LAYER_NORM, EKN_LAYER_KINDS
} ekn_layer_kind;
#define EKN_MAX_INPUTS 8
#define EKN_INPUT_NODE (-1) /* an input index meaning the [input] section */
enum { EKN_PAD_VALID, EKN_PAD_SAME };
enum { EKN_NORM_BATCH, EKN_NORM_GROUP, EKN_NORM_INSTANCE };
enum { EKN_POOLMODE_MAX, EKN_POOLMODE_MAXABS, EKN_POOLMODE_MAXOUT };
/* The training loss, the last layer's 'loss' key (ekn-spec(5)): with act =
 * softmax nll (the default), focal or dice; with act = sigmoid (independent
 * labels per channel, float targets) bce (the default) or dice; with act =
 * linear mse.  EKN_LOSS_DEFAULT only in a layer that does not give it. */
enum { EKN_LOSS_DEFAULT, EKN_LOSS_NLL, EKN_LOSS_MSE, EKN_LOSS_BCE, EKN_LOSS_FOCAL, EKN_LOSS_DICE };

typedef struct ekn_spec_layer {
    ekn_layer_kind kind;
    char name[32];
    int line;         /* line of its [section] header */
    int units;        /* conv: filters; dense: units; pool: 0 */
    int size[3];      /* conv filter / pool factor per spatial axis (Z,Y,X); axes the spec's ndim does not use are 1 */
    int act;          /* an ekn_act value from kernels/act.h, or EKN_ACT_SOFTMAX; pool: EKN_ACT_LINEAR */
    float alpha;      /* leaky slope (0.01 unless given; used only with EKN_ACT_LEAKY) */
    float dropout;    /* inverted dropout rate on the output */
    float decay_mult; /* weight-decay multiplier */
    int init;         /* EKN_INIT_HE or EKN_INIT_GLOROT */
    int mfp;          /* pool: max fragment pooling */
    int ninputs;      /* 1 (concat, add: 2..EKN_MAX_INPUTS) */
    int inputs[EKN_MAX_INPUTS]; /* earlier layer indices, or EKN_INPUT_NODE */
    int stride[3];    /* conv: step per axis (1 unless given) */
    int pad;          /* conv: EKN_PAD_VALID or EKN_PAD_SAME (zeros, (size-1)/2 per side) */
    float noise;      /* additive Gaussian noise on the output while training (0: none) */
    int tied;         /* dense: the layer whose weight it uses transposed, or -1 */
    int norm;         /* norm: EKN_NORM_BATCH, EKN_NORM_GROUP or EKN_NORM_INSTANCE */
    int groups;       /* norm: groups of channels (group norm; instance: = channels) */
    float momentum;   /* norm (batch): running statistics' update rate */
    float eps;        /* norm: added to the variance */
    int pool_mode;    /* pool: EKN_POOLMODE_MAX, _MAXABS or _MAXOUT (over channels) */
    int maxout;       /* pool, EKN_POOLMODE_MAXOUT: channels per group (the max of each k consecutive) */
    int loss;         /* the 'loss' key, EKN_LOSS_DEFAULT when not given (last layer only) */
    float gamma;      /* the 'gamma' key (focal), -1 when not given */
    float pos_weight; /* the 'pos_weight' key (bce), 0 when not given */
    int loss_line;    /* line of the first of loss, gamma, pos_weight given, 0 if none */
} ekn_spec_layer;

typedef struct ekn_spec {
    ekn_mode mode;
    int channels;     /* input channels (vect-scalar: 1) */
    int ndim;         /* spatial dims 1..3 (vect-scalar: 1, shape[2] = features) */
    int shape[3];     /* input spatial size (Z,Y,X), unused leading axes = 1; 0 where not given */
    int has_shape;
    float noise;
    int target_input; /* 'target = input': the net regresses onto its input (autoencoders) */
    int graph;        /* 1 when some layer is more than a link of a conv/pool/dense chain */
    int loss;         /* the training loss, resolved: EKN_LOSS_NLL, _MSE, _BCE, _FOCAL or _DICE */
    float gamma;      /* focal: the focusing exponent (default 2) */
    float pos_weight; /* bce: the weight of the positive part of each term (default 1) */
    int nlayers;
    ekn_spec_layer layers[EKN_MAX_LAYERS];
    char *text;       /* the whole spec text (owned; stored verbatim in checkpoints) */
    char file[256];   /* for messages */
    int input_line;   /* line of the [input] header (for messages about the input shape) */
} ekn_spec;

/* Parse spec text; `file` is used in messages "FILE:LINE: ...". Returns 0 or
 * -1 (err->code = EKN_EXIT_SPEC, or EKN_EXIT_FAIL for I/O).  On failure the
 * spec is left zeroed (nothing to free).  `spec` must not hold a parsed spec
 * (call ekn_spec_free first), its old text would leak. */
int ekn_spec_parse(ekn_spec *spec, const char *text, const char *file, ekn_err *err);
int ekn_spec_load(ekn_spec *spec, const char *path, ekn_err *err);   /* reads the file, then parses */
void ekn_spec_free(ekn_spec *spec);  /* frees text; safe on a zeroed struct */
int ekn_spec_classes(const ekn_spec *spec);  /* output classes (softmax) or 0 for regression and sigmoid */
/* 1 when the last layer is act = sigmoid: independent labels per channel,
 * trained on float targets in [0,1] (bce or dice), like a regression net's data */
int ekn_spec_sigmoid(const ekn_spec *spec);
const char *ekn_spec_loss_name(int loss); /* "nll", "mse", "bce", "focal", "dice" */

/* Outputs of the network per position: the last layer's filters or units. */
int ekn_spec_outputs(const ekn_spec *spec);
/* Names for messages and output: "img-img", "conv", "relu"/"softmax"... */
const char *ekn_mode_name(ekn_mode m);
const char *ekn_layer_kind_name(ekn_layer_kind k);
const char *ekn_spec_act_name(int act);
/* 1 if the layer reads anything but the layer above it, or is of a kind
 * or uses a key a plain conv/pool/dense chain does not have (stride, pad,
 * noise, tied, maxabs pooling): such specs go through the calculator's
 * graph path. */
int ekn_spec_layer_is_graph(const ekn_spec *spec, int i);
/* 1 if any pool layer sets mfp = 1. */
int ekn_spec_has_mfp(const ekn_spec *spec);
#endif
