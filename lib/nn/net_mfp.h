/* net_mfp: the inference forward pass with max fragment pooling (MFP), for
 * dense img-img prediction (ekn-predict --dense).
 *
 * A pool layer with mfp = 1 and factor p pools its input of n voxels at all
 * p offsets d (from voxel d, (n - p + 1) / p outputs each) instead of one;
 * the p fragments (p_z * p_y * p_x in 3D) become batch items, item b giving
 * items b * P + d, and every following layer sees the larger batch.  When
 * every pool is MFP, the fragments of one input tile of n voxels together
 * give its n - FOV + 1 outputs at stride 1: output q lies at
 * sum_i d_i * S_{i-1} + S * j (S_{i-1}: the stride before pool i), which
 * ekn_mfp_forward interleaves back.  It computes what the strided
 * ekn_net_forward computes at every shift of the stride, with the work of
 * the layers before each pool shared between the shifts.
 *
 * Training's ekn_net_forward is untouched; this pass borrows a built net's
 * parameters, kernels and spec, and allocates its own buffers from the
 * net's ops table: on a cuda net the whole pass, the cropping and the
 * interleave included (ops mfp_crop, mfp_interleave), runs on the GPU. */
#ifndef EKN_NET_MFP_H
#define EKN_NET_MFP_H
#include <stddef.h>
#include <stdint.h>

#include "calc.h"
#include "diag.h"
#include "net.h"

typedef struct ekn_mfp_net {
    const ekn_net *net;   /* borrowed: theta, ops and spec */
    const ekn_ops *ops;   /* net->ops, kept to free the buffers after the net */
    ekn_calc calc;        /* with MFP, for the tile shape */
    int max_batch;
    int in[3], out[3];    /* tile input; outputs per axis (in - FOV + 1) */
    size_t in_size, out_size; /* floats per example: in_c * in voxels; out_c * out voxels */
    /* in the net's ops table's memory (device memory for a device table) */
    float *buf[2], *crop, *work, *result;
    float *x;             /* ekn_mfp_forward_host's input; NULL for a host table */
    int32_t *arg;
    int32_t *shift;       /* (frags, 3): each final fragment's offset in the dense outputs */
    int frags;            /* final fragments per example */
} ekn_mfp_net;

/* 1 if the spec's pools all set mfp = 1 (and there is at least one). */
int ekn_mfp_usable(const ekn_spec *spec);

/* shape: the tile input (Z,Y,X), a valid input size with MFP.  net: built
 * from the same spec (any shape), with the parameters loaded.  Fails with
 * EKN_EXIT_SPEC for a shape that does not fit, EKN_EXIT_FAIL out of memory. */
int ekn_mfp_build(ekn_mfp_net *m, const ekn_net *net, const int shape[3], int max_batch, ekn_err *err);
void ekn_mfp_free(ekn_mfp_net *m);

/* x (n, in_size), n <= max_batch, in the net's ops table's memory.  Returns
 * (n, out_c, out Z, Y, X) in that memory: the output for every position of
 * each tile, at stride 1.  On a device table the work may still be queued
 * (errors through ekn_ops_check). */
const float *ekn_mfp_forward(ekn_mfp_net *m, const float *x, int n);

/* For callers whose data is on the host, as ekn_net_forward_host: uploads
 * x (n, in_size), runs ekn_mfp_forward, downloads the result into out
 * (n, out_size) and returns ekn_ops_check's verdict (0, or -1 with err). */
int ekn_mfp_forward_host(ekn_mfp_net *m, const float *x, int n, float *out, ekn_err *err);
#endif
