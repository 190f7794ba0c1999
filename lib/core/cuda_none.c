/* Stand-in linked into CPU-only builds (CUDA=0 or no nvcc/cuDNN) instead
 * of lib/core/ops_cuda.c: reports that no CUDA ops table exists, so callers
 * fall back to the CPU.  The device-only entry points (kernels/optim_cuda.h,
 * kernels/dropout_cuda.h, kernels/convert.h) exist so that code mentioning
 * them links; called anyway, they do nothing and ekn_cuda_last_error
 * reports it. */
#include "convert.h"
#include "cuda_backend.h"
#include "diag.h"
#include "dropout_cuda.h"
#include "ops.h"
#include "optim_cuda.h"

static int called;

const ekn_ops *ekn_ops_cuda(void) { return NULL; }

void ekn_cuda_set_precision(int precision) { (void)precision; }
void ekn_cuda_set_deterministic(int on) { (void)on; }
void ekn_cuda_conv_wgrad(int mode) { (void)mode; }

int ekn_cuda_last_error(ekn_err *err)
{
    if (!called) return 0;
    called = 0;
    return ekn_err_set(err, EKN_EXIT_FAIL, "cuda: this ekn was built without CUDA (CUDA=0)");
}

void ekn_sgd_update_cuda(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr,
                         float mu, float wd, int nesterov)
{
    (void)n, (void)theta, (void)grad, (void)v, (void)decay, (void)lr, (void)mu, (void)wd, (void)nesterov;
    called = 1;
}

void ekn_rprop_update_cuda(size_t n, float *theta, const float *grad, float *prev, float *step,
                           const float *decay, float wd, double eta_plus, double eta_minus, double delta_min,
                           double delta_max, double delta0, double *mean_step)
{
    (void)n, (void)theta, (void)grad, (void)prev, (void)step, (void)decay, (void)wd, (void)eta_plus;
    (void)eta_minus, (void)delta_min, (void)delta_max, (void)delta0;
    if (mean_step) *mean_step = 0;
    called = 1;
}

void ekn_adam_update_cuda(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay,
                          float lr, float wd, double beta1, double beta2, double eps, double t, int decoupled)
{
    (void)n, (void)theta, (void)grad, (void)m, (void)v, (void)decay, (void)lr, (void)wd, (void)beta1;
    (void)beta2, (void)eps, (void)t, (void)decoupled;
    called = 1;
}

double ekn_dot_cuda(size_t n, const float *a, const float *b)
{
    (void)n, (void)a, (void)b;
    called = 1;
    return 0;
}

void ekn_axpy_cuda(size_t n, float alpha, const float *x, float *y)
{
    (void)n, (void)alpha, (void)x, (void)y;
    called = 1;
}

void ekn_dropout_forward_cuda(size_t m, float *y, const float *mask)
{
    (void)m, (void)y, (void)mask;
    called = 1;
}

void ekn_dropout_backward_cuda(size_t m, const float *dy, const float *mask, float *g)
{
    (void)m, (void)dy, (void)mask, (void)g;
    called = 1;
}

void ekn_input_noise_cuda(size_t m, const float *x, const float *normal, float sigma, float *out)
{
    (void)m, (void)x, (void)normal, (void)sigma, (void)out;
    called = 1;
}

void ekn_convert_affine_cuda(ekn_dtype dt, const void *src, float *dst, size_t n, float scale, float shift)
{
    (void)dt, (void)src, (void)dst, (void)n, (void)scale, (void)shift;
    called = 1;
}

const char *ekn_cuda_unavailable(void) { return "this ekn was built without CUDA (CUDA=0)"; }
