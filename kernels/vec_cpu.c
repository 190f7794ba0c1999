/* ekn_vec_cpu (kernels/vec.h): the optimisers' loops on host arrays.  Each
 * is written exactly as the optimiser wrote it inline, because checkpoints
 * and resumed runs depend on the same roundings. */
#include <math.h>

#include "cpu_threads.h"
#include "vec.h"

static double dot_cpu(size_t n, const float *a, const float *b)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* axpy (also the net's gradient-slot sums), sgd and adam are element-wise:
 * above EKN_CPU_SPLIT_MIN floats they run on contiguous ranges over the
 * kernels' threads (cpu_threads.h), each element's arithmetic unchanged,
 * so the results are bit-identical to one thread. */
typedef struct {
    size_t n;
    float alpha;
    const float *x;
    float *y;
} axpy_job;

static void axpy_range(void *p, size_t b, size_t e)
{
    const axpy_job *j = p;
    const float alpha = j->alpha;
    const float *x = j->x;
    float *y = j->y;
    for (size_t i = b; i < e; i++) y[i] += alpha * x[i];
}

static void axpy_cpu(size_t n, float alpha, const float *x, float *y)
{
    axpy_job j = {n, alpha, x, y};
    ekn_cpu_for(n, 16, EKN_CPU_SPLIT_MIN, axpy_range, &j);
}

static void scale_cpu(size_t n, float *x, float a)
{
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

static void neg_cpu(size_t n, float *dst, const float *src)
{
    for (size_t i = 0; i < n; i++) dst[i] = -src[i];
}

static void lincomb_cpu(size_t n, float *dst, const float *x0, float t, const float *dir)
{
    for (size_t i = 0; i < n; i++) dst[i] = x0[i] + t * dir[i];
}

static double decay_penalty_cpu(size_t n, const float *theta, float *grad, const float *decay, float lam)
{
    double pen = 0;
    for (size_t i = 0; i < n; i++) {
        float ld = lam * decay[i];
        pen += (double)ld * theta[i] * theta[i];
        grad[i] += ld * theta[i];
    }
    return pen;
}

typedef struct {
    float *theta, *v, *m;
    const float *grad, *decay;
    float lr, mu, wd;
    int flag; /* nesterov, or decoupled */
    float c1, c2, fb1, fb2, feps;
} update_job;

static void sgd_range(void *p, size_t b, size_t e)
{
    const update_job *j = p;
    float *restrict theta = j->theta, *restrict v = j->v;
    const float *restrict grad = j->grad, *restrict decay = j->decay;
    const float lr = j->lr, mu = j->mu, wd = j->wd;
    const int nesterov = j->flag;
    for (size_t i = b; i < e; i++) {
        v[i] = grad[i] + mu * v[i];
        float dir = nesterov ? grad[i] + mu * v[i] : v[i];
        theta[i] -= lr * (dir + wd * decay[i] * theta[i]);
    }
}

static void sgd_cpu(size_t n, float *theta, const float *grad, float *v, const float *decay, float lr, float mu,
                    float wd, int nesterov)
{
    update_job j = {theta, v, NULL, grad, decay, lr, mu, wd, nesterov, 0, 0, 0, 0, 0};
    ekn_cpu_for(n, 16, EKN_CPU_SPLIT_MIN, sgd_range, &j);
}

static void rprop_cpu(size_t n, float *theta, const float *grad, float *prev, float *step, const float *decay,
                      float wd, double eta_plus, double eta_minus, double delta_min, double delta_max, double delta0,
                      double *mean_step)
{
    const float up = (float)eta_plus, down = (float)eta_minus, lo = (float)delta_min, hi = (float)delta_max;
    const float first = fminf(fmaxf((float)delta0, lo), hi);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * decay[i] * theta[i];
        /* a zero step size is fresh state: sizes never fall below delta_min > 0 */
        float d = step[i] > 0 ? step[i] : first;
        float s = prev[i] * g;
        if (s > 0) d = fminf(d * up, hi);
        else if (s < 0) {
            d = fmaxf(d * down, lo);
            g = 0;
        }
        if (g > 0) theta[i] -= d;
        else if (g < 0) theta[i] += d;
        prev[i] = g;
        step[i] = d;
        sum += d;
    }
    if (mean_step) *mean_step = n ? sum / (double)n : NAN;
}

static void adam_range(void *p, size_t b, size_t e)
{
    const update_job *j = p;
    float *restrict theta = j->theta, *restrict m = j->m, *restrict v = j->v;
    const float *restrict grad = j->grad, *restrict decay = j->decay;
    const float lr = j->lr, wd = j->wd, c1 = j->c1, c2 = j->c2, fb1 = j->fb1, fb2 = j->fb2, feps = j->feps;
    const int decoupled = j->flag;
    for (size_t i = b; i < e; i++) {
        float wdi = wd * decay[i] * theta[i];
        float g = decoupled ? grad[i] : grad[i] + wdi;
        m[i] = fb1 * m[i] + (1 - fb1) * g;
        v[i] = fb2 * v[i] + (1 - fb2) * g * g;
        float upd = (m[i] * c1) / (sqrtf(v[i] * c2) + feps);
        theta[i] -= lr * (decoupled ? upd + wdi : upd);
    }
}

static void adam_cpu(size_t n, float *theta, const float *grad, float *m, float *v, const float *decay, float lr,
                     float wd, double beta1, double beta2, double eps, double t, int decoupled)
{
    const float c1 = (float)(1.0 / (1.0 - pow(beta1, t))), c2 = (float)(1.0 / (1.0 - pow(beta2, t)));
    update_job j = {theta, v, m, grad, decay, lr, 0, wd, decoupled, c1, c2, (float)beta1, (float)beta2, (float)eps};
    ekn_cpu_for(n, 16, EKN_CPU_SPLIT_MIN, adam_range, &j);
}

static double pr_numerator_cpu(size_t n, const float *g, const float *gp)
{
    double num = 0;
    for (size_t i = 0; i < n; i++) num += (double)g[i] * ((double)g[i] - gp[i]);
    return num;
}

static void cg_direction_cpu(size_t n, float *dir, const float *g, float beta)
{
    for (size_t i = 0; i < n; i++) dir[i] = -g[i] + beta * dir[i];
}

static void lbfgs_pair_cpu(size_t n, float *s, float *y, const float *theta, const float *x0, const float *g,
                           const float *g0, double ys_yy[2])
{
    double ys = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = theta[i] - x0[i];
        y[i] = g[i] - g0[i];
        ys += (double)y[i] * s[i];
        yy += (double)y[i] * y[i];
    }
    ys_yy[0] = ys;
    ys_yy[1] = yy;
}

const ekn_vec_ops ekn_vec_cpu = {
    .name = "cpu",
    .dot = dot_cpu,
    .axpy = axpy_cpu,
    .scale = scale_cpu,
    .neg = neg_cpu,
    .lincomb = lincomb_cpu,
    .decay_penalty = decay_penalty_cpu,
    .sgd = sgd_cpu,
    .rprop = rprop_cpu,
    .adam = adam_cpu,
    .pr_numerator = pr_numerator_cpu,
    .cg_direction = cg_direction_cpu,
    .lbfgs_pair = lbfgs_pair_cpu,
};
