/* predict_internal: what lib/nn/predict.c and lib/nn/predict_dense.c share; not
 * for callers of predict.h. */
#ifndef EKN_PREDICT_INTERNAL_H
#define EKN_PREDICT_INTERNAL_H
#include "ckpt.h"
#include "h5.h"
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
    /* HDF5 output (cfg->h5_file): built in memory, committed when every record went well */
    ekn_h5 h5;
    int h5_open;
    char h5_path[4096];      /* the file written: cfg->h5_file, or its block's name */
    char model_hash[40];     /* "fnv1a64:<hex>" of the checkpoint file's bytes */
    /* HDF5 input (cfg->h5_in_file): the file, the dataset's type and shape, the statistics */
    ekn_h5 in_h5;
    int in_open;
    ekn_dtype in_dt;
    int in_rank;
    uint64_t in_dims[3];
    struct ekn_prep_stats *in_st;
    void *in_buf;            /* one box in the dataset's dtype */
    size_t in_buf_cap;
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
/* --roi / --block: the region [lo, hi) of t's dense outputs that cfg asks
 * for (all of them without either); nd: the record's spatial axes.  A
 * region outside the outputs, or a block axis too short, is EKN_EXIT_USAGE. */
int ekn_predict_region_resolve(const predictor *p, const ekn_tiling *t, int nd, int lo[3], int hi[3], ekn_err *err);
/* HDF5 output of the dense outputs p->out / p->cls of one example over
 * the region [lo, hi) into p->h5 (created here, committed by the caller). */
int ekn_predict_h5_dense(predictor *p, const ekn_tiling *t, int nd, const int lo[3], const int hi[3], const ekn_tensor *in,
                         ekn_err *err);
/* Before any input is read: p->model_hash and p->h5_path; 1 when the
 * block's file is there and finished with these settings (the run is
 * skipped), 0 to predict, -1 with err. */
int ekn_predict_h5_prepare(predictor *p, ekn_err *err);
/* HDF5 input: opens cfg->h5_in_file's dataset (2 or 3 axes, Z,Y,X, any
 * integer or float type) and the statistics of cfg->apply; *hdr is its image
 * record, (1,1,[Z,]Y,X) of its dtype, without data. */
int ekn_predict_h5_input_open(predictor *p, ekn_tensor *hdr, ekn_err *err);
/* The box lo..lo+n (Z,Y,X; n[k] 1 in axes the dataset lacks) of the
 * volume, normalised as ekn-preprocess would, as floats into dst. */
int ekn_predict_h5_input_box(predictor *p, const int lo[3], const int n[3], float *dst, ekn_err *err);
void ekn_predict_h5_input_close(predictor *p);
#endif
