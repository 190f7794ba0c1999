#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* The reference conv needs no scratch; a one-float workspace keeps callers uniform. */
static size_t no_workspace(const ekn_conv_geom *g) { (void)g; return 1; }

static void conv_forward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *b, float *y,
                             float *work)
{
    (void)work;
    ekn_conv_forward_ref(g, x, w, b, y);
}

static void conv_backward_ref(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                              float *dx, float *dw, float *db, float *work)
{
    (void)work;
    ekn_conv_backward_ref(g, x, w, dy, dx, dw, db);
}

static const ekn_ops cpu = {
    "cpu", ekn_conv_workspace_floats, ekn_conv_forward_cpu, ekn_conv_backward_cpu,
    ekn_maxpool_forward_cpu, ekn_maxpool_backward_cpu, ekn_dense_forward_cpu, ekn_dense_backward_cpu,
    ekn_act_forward_cpu, ekn_act_backward_cpu, ekn_softmax_forward_cpu, ekn_softmax_nll_cpu, ekn_mse_cpu,
    ekn_argmax_count_cpu,
};

static const ekn_ops ref = {
    "ref", no_workspace, conv_forward_ref, conv_backward_ref,
    ekn_maxpool_forward_ref, ekn_maxpool_backward_ref, ekn_dense_forward_ref, ekn_dense_backward_ref,
    ekn_act_forward_ref, ekn_act_backward_ref, ekn_softmax_forward_ref, ekn_softmax_nll_ref, ekn_mse_ref,
    ekn_argmax_count_ref,
};

const ekn_ops *ekn_ops_cpu(void) { return &cpu; }
const ekn_ops *ekn_ops_ref(void) { return &ref; }

const ekn_ops *ekn_ops_default(void)
{
    const char *k = getenv("EKN_KERNELS");
    return k && !strcmp(k, "ref") ? &ref : &cpu;
}
