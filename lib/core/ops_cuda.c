// ekn_ops_cuda (lib/core/ops.h): the dispatch table of the CUDA kernels;
// CUDA builds only (lib/core/cuda_none.c stands in otherwise).
#include "cuda_backend.h"
#include "cuda_common.h"
#include "device_cuda.h"
#include "diag.h"
#include "dropout_cuda.h"
#include "mem_cuda.h"
#include "ops.h"
#include "vec.h"

int ekn_cuda_last_error(ekn_err *err)
{
    char msg[sizeof err->msg];
    return ekn_cuda_take_error(msg, sizeof msg) ? ekn_err_set(err, EKN_EXIT_FAIL, "%s", msg) : 0;
}

static int cuda_select(int device, ekn_err *err)
{
    char why[sizeof err->msg];
    return ekn_cuda_select(device, why, sizeof why) ? ekn_err_set(err, EKN_EXIT_FAIL, "%s", why) : 0;
}

static const ekn_ops cuda_ops = {
    "cuda", ekn_conv_workspace_cuda, ekn_conv_forward_cuda, ekn_conv_backward_cuda,
    ekn_maxpool_forward_cuda, ekn_maxpool_backward_cuda, ekn_dense_forward_cuda, ekn_dense_backward_cuda,
    ekn_act_forward_cuda, ekn_act_backward_cuda, ekn_softmax_forward_cuda, ekn_softmax_nll_cuda, ekn_mse_cuda,
    ekn_argmax_count_cuda,
    // memory (kernels/cuda/mem_cuda.cu)
    0, ekn_mem_alloc_cuda, ekn_mem_free_cuda, ekn_mem_zero_cuda, ekn_mem_upload_cuda, ekn_mem_download_cuda,
    ekn_mem_copy_cuda,
    // devices (kernels/cuda/device_cuda.cu)
    ekn_cuda_device_count, cuda_select, ekn_cuda_describe,
    // dropout and noise (kernels/dropout_cuda.cu)
    ekn_dropout_forward_cuda, ekn_dropout_backward_cuda, ekn_input_noise_cuda,
    &ekn_vec_cuda,
    ekn_cuda_last_error,
    // max fragment pooling (kernels/mfp_cuda.cu)
    ekn_mfp_crop_cuda, ekn_mfp_interleave_cuda,
    // U-Net: up-convolution and the skips' crop (kernels/upconv_cuda.cu, kernels/crop_cuda.cu)
    ekn_upconv_workspace_cuda, ekn_upconv_forward_cuda, ekn_upconv_backward_cuda,
    ekn_crop_forward_cuda, ekn_crop_backward_cuda,
    // normalisation, PReLU, maxout (kernels/norm_cuda.cu, prelu_cuda.cu, maxout_cuda.cu)
    ekn_bn_forward_train_cuda, ekn_bn_forward_infer_cuda, ekn_bn_backward_cuda, ekn_gn_forward_cuda,
    ekn_gn_backward_cuda, ekn_prelu_forward_cuda, ekn_prelu_backward_cuda, ekn_maxout_forward_cuda,
    ekn_maxout_backward_cuda,
    // dense with tied weights (kernels/dense_cuda.cu)
    ekn_dense_t_forward_cuda, ekn_dense_t_backward_cuda,
    // BCE, focal, Dice, voxel-weighted squared error (kernels/loss_cuda.cu)
    ekn_mse_w_cuda, ekn_bce_cuda, ekn_softmax_focal_cuda, ekn_softmax_dice_cuda, ekn_sigmoid_dice_cuda,
    // exponential moving average, --ema (kernels/ema_cuda.cu)
    ekn_ema_update_cuda,
};

static void log_line(const char *line) { ekn_info("%s", line); } // the conv plans, with -v

const ekn_ops *ekn_ops_cuda(void)
{
    ekn_cuda_set_log(log_line);
    return &cuda_ops;
}

static const ekn_cuda_backend backend = {
    EKN_CUDA_BACKEND_VERSION, ekn_ops_cuda, ekn_cuda_last_error, ekn_cuda_set_precision, ekn_cuda_set_deterministic,
};

const ekn_cuda_backend *ekn_cuda_backend_get(void) { return &backend; }

/* Linked into a program with the backend's objects (the CUDA unit tests),
 * the backend is there at once. */
const char *ekn_cuda_unavailable(void) { return NULL; }
