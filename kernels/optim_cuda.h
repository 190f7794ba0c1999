/* optim_cuda: the element-wise parameter updates of lib/optim_*.c on device
 * memory (kernels/optim_cuda.cu, CUDA builds only), for a net whose
 * parameters, gradients and optimiser state live on the GPU.
 *
 * Each update is the loop of its CPU optimiser, operation for operation in
 * float, with the products and sums rounded separately (no fused
 * multiply-add) as the C code rounds them; the scalars derived from doubles
 * (Adam's bias corrections, RPROP's clamped first step) are computed on the
 * host exactly as the CPU code does.  The gradient passed in is the data
 * gradient (what the objective wrote); the weight-decay term lambda d[i]
 * theta[i] is added inside, as each CPU step does.  n is the number of
 * parameters; every array has n floats of device memory.
 *
 * Errors are recorded for ekn_cuda_last_error (lib/core/ops.h). */
#ifndef EKN_OPTIM_CUDA_H
#define EKN_OPTIM_CUDA_H
#include <stddef.h>

/* sgd (nesterov = 0) and nesterov (optim_sgd.c), v the velocity:
 *   v <- g + mu v;  theta <- theta - lr (dir + wd d theta),
 *   dir = v (sgd) or g + mu v (nesterov) */
void ekn_sgd_update_cuda(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr,
                         float mu, float wd, int nesterov);

/* iRPROP- (optim_rprop.c): prev the stored gradient, step the step sizes
 * (state "prev_grad" and "step"); eta_plus ... delta0 the optimiser's
 * parameters.  *mean_step (host, may be NULL) receives the mean step size,
 * as o->diag.step_size. */
void ekn_rprop_update_cuda(size_t n, float *theta, const float *grad, float *prev, float *step,
                           const float *decay, float wd, double eta_plus, double eta_minus, double delta_min,
                           double delta_max, double delta0, double *mean_step);

/* adam (decoupled = 0) and adamw (optim_adam.c): m, v the moments; t the
 * step count AFTER this step's increment (1 on the first step). */
void ekn_adam_update_cuda(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay,
                          float lr, float wd, double beta1, double beta2, double eps, double t, int decoupled);

/* For cg and l-BFGS: sum a[i] b[i] accumulated in double (as ekn_optim_dot,
 * which cuBLAS's float-accumulating Sdot would not match on long vectors;
 * a fixed-order reduction, so the same from run to run); y += alpha x
 * through cublasSaxpy. */
double ekn_dot_cuda(size_t n, const float *a, const float *b);
void ekn_axpy_cuda(size_t n, float alpha, const float *x, float *y);
#endif
