/* predict_internal: what lib/nn/predict.c and lib/nn/predict_dense.c share; not
 * for callers of predict.h. */
#ifndef EKN_PREDICT_INTERNAL_H
#define EKN_PREDICT_INTERNAL_H
#include "ckpt.h"
#include "dataset.h"
#include "net.h"
#include "net_mfp.h"
#include "predict.h"
#include "seg_score.h"
#include "tta.h"
#include "stream.h"
#include "tiling.h"

typedef struct predictor {
    const ekn_predict_config *cfg;
    const ekn_ops *ops;      /* where the net computes */
    ekn_ckpt ckpt;           /* the model: open until its parameters are read (closing twice is safe) */
    ekn_spec spec;
    ekn_net net;
    int built;
    ekn_mfp_net mfp;         /* --dense with max fragment pooling */
    int mfp_built;
    float *theta;            /* the checkpoint's parameters, kept across rebuilds */
    size_t nparams;
    float *state;            /* its non-trainable state (norm running statistics), likewise */
    float *x;                /* one batch of (cut) inputs */
    float *out;              /* the whole record's outputs */
    float *tile_out;         /* --dense: one batch of tile outputs on the host */
    size_t tile_out_cap;
    int32_t *cls;
    size_t out_cap, x_cap;
    long *confusion;
    int classes;
    ekn_tta_map tta[EKN_TTA_MAX]; /* --tta: the maps, the identity first */
    int ntta;                /* 0 without --tta */
    float *tta_x, *tta_out;  /* transformed inputs, and their outputs */
    size_t tta_x_cap, tta_out_cap;
    ekn_seg_score seg;       /* img-img classifiers: the ISBI segmentation scores of each slice */
    int32_t *slice_lab;      /* one output slice's labels */
    size_t slice_cap;
    double se_sum;           /* regression: squared error */
    size_t se_n;             /* its terms */
    size_t se_examples;      /* the examples with at least one */
    int sg_c;                /* a sigmoid output's channels (--eval), 0 otherwise */
    long *sg_ok, *sg_n;      /* per channel: outputs on the target's side of 1/2, targets counted */
    double *sg_bce;          /* per channel: the summed binary cross-entropy */
} predictor;

/* --eval of a regression or sigmoid net: output y of channel c against target t (ignored unless finite). */
void ekn_predict_target_term(predictor *p, int c, double y, double t);

/* Builds the net for this input shape and batch (the checkpoint's
 * parameters, read once at the first build, when the file is closed);
 * nothing when the one built fits. */
int ekn_predict_rebuild(predictor *p, const int shape[3], int batch, ekn_err *err);
/* Grows *buf to at least bytes. */
int ekn_predict_grow(void **buf, size_t *cap, size_t bytes, ekn_err *err);
/* p->cls = the argmax class of each of n examples' spatial positions (classifiers only). */
void ekn_predict_argmax(predictor *p, size_t n, size_t spatial);
/* --eval of an img-img classifier: scores the 2D slices of example e,
 * its outputs (Z, Y, X) = out[0..2] in p->out with `spatial` positions per
 * channel; label_at(ctx, s) gives the label of output position s. */
int ekn_predict_score_slices(predictor *p, size_t e, const int out[3], size_t spatial,
                             int (*label_at)(const void *ctx, size_t s), const void *ctx, ekn_err *err);
/* --tta: outputs (C, out) of inputs `in` (the output grid starts `left`
 * voxels in, `step` apart) must map onto themselves under every map;
 * NULL out: a classifier of whole images.  0, or -1 naming what does not. */
int ekn_predict_tta_check(const predictor *p, const int in[3], const int out[3], const int left[3], const int step[3],
                          const char *src, unsigned long long rec, ekn_err *err);
/* --tta: dst = the mean over the maps g of g^-1(predict(g(x))) for m
 * examples, x holding (in_c, in) values each and dst (out_c, out); predict
 * (ctx, x, m, y, err) is the prediction without augmentation, called
 * directly without --tta. */
typedef int (*ekn_predict_fn)(void *ctx, const float *x, int m, float *y, ekn_err *err);
int ekn_predict_tta(predictor *p, const float *x, int m, float *dst, int in_c, const int in[3], int out_c,
                    const int out[3], ekn_predict_fn predict, void *ctx, ekn_err *err);
/* --dense: one input record (and its labels with --eval) through the tiles. */
int ekn_predict_process_dense(predictor *p, const ekn_tensor *in, const ekn_tensor *lab, ekn_writer *w,
                              const char *src, unsigned long long rec, ekn_err *err);
#endif
