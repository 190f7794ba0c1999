// ekn_ops_cuda (lib/ops.h): the dispatch table of the CUDA kernels.
extern "C" {
#include "ops.h"
}

static const ekn_ops cuda_ops = {
    "cuda", ekn_conv_workspace_cuda, ekn_conv_forward_cuda, ekn_conv_backward_cuda,
    ekn_maxpool_forward_cuda, ekn_maxpool_backward_cuda, ekn_dense_forward_cuda, ekn_dense_backward_cuda,
    ekn_act_forward_cuda, ekn_act_backward_cuda, ekn_softmax_forward_cuda, ekn_softmax_nll_cuda, ekn_mse_cuda,
    ekn_argmax_count_cuda,
};

extern "C" const ekn_ops *ekn_ops_cuda(void) { return &cuda_ops; }
