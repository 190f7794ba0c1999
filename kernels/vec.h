/* vec: the vector operations of the optimisers (lib/optim*.c) on a flat
 * parameter vector, for each ops table's memory (lib/core/ops.h): ekn_vec_cpu
 * works on host arrays, ekn_vec_cuda (kernels/vec_cuda.cu, CUDA builds
 * only) on device arrays.  Every float array holds n floats in the table's
 * memory; scalars and reductions are host values.
 *
 * ekn_vec_cpu IS the optimisers' arithmetic: each entry is the loop the
 * optimiser ran before it moved here, operation for operation, so CPU runs
 * and checkpoints stay bit-identical.  ekn_vec_cuda rounds each float
 * product and sum separately as C does (no fused multiply-add), so its
 * element-wise results match bit for bit; its reductions add in double in
 * another (fixed) order, so they agree to about 1e-15 relative and are the
 * same from run to run.  Errors on the device are recorded for
 * ekn_cuda_last_error (lib/core/ops.h); a failed reduction returns 0. */
#ifndef EKN_VEC_H
#define EKN_VEC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ekn_vec_ops {
    const char *name;
    /* sum a[i] b[i], accumulated in double */
    double (*dot)(size_t n, const float *a, const float *b);
    /* y[i] += alpha x[i] (so alpha = -a is y[i] -= a x[i], exactly) */
    void (*axpy)(size_t n, float alpha, const float *x, float *y);
    /* x[i] *= a */
    void (*scale)(size_t n, float *x, float a);
    /* dst[i] = -src[i] */
    void (*neg)(size_t n, float *dst, const float *src);
    /* dst[i] = x0[i] + t dir[i]: a trial point of a line search */
    void (*lincomb)(size_t n, float *dst, const float *x0, float t, const float *dir);

    /* The L2 penalty of the decayed objective, with l = lam * decay[i] in
     * float: grad[i] += l theta[i]; returns sum l theta[i]^2 in double. */
    double (*decay_penalty)(size_t n, const float *theta, float *grad, const float *decay, float lam);

    /* sgd (nesterov = 0) and nesterov (lib/nn/optim_sgd.c), v the velocity:
     *   v <- g + mu v;  theta <- theta - lr (dir + wd d theta),
     *   dir = v (sgd) or g + mu v (nesterov) */
    void (*sgd)(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr, float mu,
                float wd, int nesterov);
    /* iRPROP- (lib/nn/optim_rprop.c): prev and step the state; *mean_step (may
     * be NULL) receives the mean step size, NaN for n = 0. */
    void (*rprop)(size_t n, float *theta, const float *grad, float *prev, float *step, const float *decay,
                  float wd, double eta_plus, double eta_minus, double delta_min, double delta_max, double delta0,
                  double *mean_step);
    /* adam (decoupled = 0) and adamw (lib/nn/optim_adam.c); t the step count
     * after this step's increment. */
    void (*adam)(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay, float lr,
                 float wd, double beta1, double beta2, double eps, double t, int decoupled);

    /* Polak-Ribiere's numerator sum g[i] (g[i] - gp[i]), in double */
    double (*pr_numerator)(size_t n, const float *g, const float *gp);
    /* CG's direction update dir[i] = -g[i] + beta dir[i] */
    void (*cg_direction)(size_t n, float *dir, const float *g, float beta);
    /* l-BFGS's new pair: s = theta - x0, y = g - g0; ys_yy receives y.s and y.y */
    void (*lbfgs_pair)(size_t n, float *s, float *y, const float *theta, const float *x0, const float *g,
                       const float *g0, double ys_yy[2]);
} ekn_vec_ops;

extern const ekn_vec_ops ekn_vec_cpu;
extern const ekn_vec_ops ekn_vec_cuda;

#ifdef __cplusplus
}
#endif
#endif
