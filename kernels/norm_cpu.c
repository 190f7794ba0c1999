/* Fast CPU batch and group normalisation.  Every statistic is a sum over
 * contiguous channel planes (S floats), taken in double with four
 * independent accumulators (so the additions pipeline instead of waiting
 * on each other), two passes as in _ref: the mean, then the squared
 * deviations.  The elementwise passes compute in double too, converted
 * once per element; they stream each plane once. */
#include <math.h>
#include <stddef.h>

#include "cpu_threads.h"
#include "norm.h"

static double plane_sum(const float *restrict p, size_t n)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        a0 += p[j];
        a1 += p[j + 1];
        a2 += p[j + 2];
        a3 += p[j + 3];
    }
    for (; j < n; j++) a0 += p[j];
    return (a0 + a1) + (a2 + a3);
}

static double plane_sqdev(const float *restrict p, size_t n, double mu)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        double d0 = p[j] - mu, d1 = p[j + 1] - mu, d2 = p[j + 2] - mu, d3 = p[j + 3] - mu;
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    for (; j < n; j++) {
        double d = p[j] - mu;
        a0 += d * d;
    }
    return (a0 + a1) + (a2 + a3);
}

/* *sdy += sum dy, *sdyx += sum dy*(x - mu) */
static void plane_dsums(const float *restrict x, const float *restrict dy, size_t n, double mu, double *sdy,
                        double *sdyx)
{
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        a0 += dy[j];
        a1 += dy[j + 1];
        b0 += dy[j] * (x[j] - mu);
        b1 += dy[j + 1] * (x[j + 1] - mu);
    }
    for (; j < n; j++) {
        a0 += dy[j];
        b0 += dy[j] * (x[j] - mu);
    }
    *sdy += a0 + a1;
    *sdyx += b0 + b1;
}

/* y = (x - mu)*scale + shift */
static void plane_affine(const float *restrict x, float *restrict y, size_t n, double mu, double scale, double shift)
{
    for (size_t j = 0; j < n; j++) y[j] = (float)((x[j] - mu) * scale + shift);
}

/* dx = k*(K*g*dy - sg - xhat*sgx), xhat = (x - mu)*is */
static void plane_dx(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n, double mu,
                     double is, double k, double kg, double sg, double sgx)
{
    for (size_t j = 0; j < n; j++) dx[j] = (float)(k * (kg * dy[j] - sg - (x[j] - mu) * is * sgx));
}

/* Threads (cpu_threads.h): batch norm's channels are independent, so the
 * training forward and the backward split the channels into contiguous
 * ranges when x holds at least EKN_CPU_SPLIT_MIN floats; each channel's
 * sums run as on one thread, so results do not depend on the count. */
typedef struct {
    int n;
    size_t C, S;
    const float *x, *gamma, *beta, *mean, *invstd, *dy;
    float eps, momentum;
    float *run_mean, *run_var, *y, *mean_out, *invstd_out, *dx, *dgamma, *dbeta;
} bn_job;

static size_t channels_min(int n, size_t s)
{
    size_t plane = (size_t)n * s;
    return plane ? (EKN_CPU_SPLIT_MIN + plane - 1) / plane : 1;
}

static void bn_forward_channels(void *p, size_t ch0, size_t ch1)
{
    const bn_job *j = p;
    const int n = j->n;
    const size_t C = j->C, S = j->S;
    const float *x = j->x;
    const double ns = (double)n * (double)S;
    for (size_t ch = ch0; ch < ch1; ch++) {
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) sum += plane_sum(x + ((size_t)i * C + ch) * S, S);
        double mu = sum / ns;
        for (int i = 0; i < n; i++) sq += plane_sqdev(x + ((size_t)i * C + ch) * S, S, mu);
        double var = sq / ns, is = 1.0 / sqrt(var + (double)j->eps);
        for (int i = 0; i < n; i++) {
            size_t o = ((size_t)i * C + ch) * S;
            plane_affine(x + o, j->y + o, S, mu, (double)j->gamma[ch] * is, j->beta[ch]);
        }
        j->mean_out[ch] = (float)mu;
        j->invstd_out[ch] = (float)is;
        double m = j->momentum;
        if (j->run_mean) j->run_mean[ch] = (float)((1.0 - m) * j->run_mean[ch] + m * mu);
        if (j->run_var)
            j->run_var[ch] = (float)((1.0 - m) * j->run_var[ch] + m * (ns > 1 ? var * ns / (ns - 1) : var));
    }
}

void ekn_bn_forward_train_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                              float *invstd)
{
    bn_job j = {.n = n, .C = (size_t)c, .S = s, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
                .momentum = momentum, .run_mean = run_mean, .run_var = run_var, .y = y, .mean_out = mean,
                .invstd_out = invstd};
    ekn_cpu_for((size_t)c, 1, channels_min(n, s), bn_forward_channels, &j);
}

void ekn_bn_forward_infer_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              const float *run_mean, const float *run_var, float eps, float *y)
{
    const size_t C = (size_t)c, S = s;
    for (int i = 0; i < n; i++)
        for (size_t ch = 0; ch < C; ch++) {
            double is = 1.0 / sqrt((double)run_var[ch] + (double)eps);
            size_t o = ((size_t)i * C + ch) * S;
            plane_affine(x + o, y + o, S, run_mean[ch], (double)gamma[ch] * is, beta[ch]);
        }
}

static void bn_backward_channels(void *p, size_t ch0, size_t ch1)
{
    const bn_job *j = p;
    const int n = j->n;
    const size_t C = j->C, S = j->S;
    const float *x = j->x, *dy = j->dy;
    const double ns = (double)n * (double)S;
    for (size_t ch = ch0; ch < ch1; ch++) {
        double mu = j->mean[ch], is = j->invstd[ch], sdy = 0, sdyxm = 0;
        for (int i = 0; i < n; i++) {
            size_t o = ((size_t)i * C + ch) * S;
            plane_dsums(x + o, dy + o, S, mu, &sdy, &sdyxm);
        }
        double sdyx = sdyxm * is;
        if (j->dgamma) j->dgamma[ch] = (float)(j->dgamma[ch] + sdyx);
        if (j->dbeta) j->dbeta[ch] = (float)(j->dbeta[ch] + sdy);
        if (!j->dx) continue;
        double k = (double)j->gamma[ch] * is / ns;
        for (int i = 0; i < n; i++) {
            size_t o = ((size_t)i * C + ch) * S;
            plane_dx(x + o, dy + o, j->dx + o, S, mu, is, k, ns, sdy, sdyx);
        }
    }
}

void ekn_bn_backward_cpu(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    bn_job j = {.n = n, .C = (size_t)c, .S = s, .x = x, .gamma = gamma, .mean = mean, .invstd = invstd, .dy = dy,
                .dx = dx, .dgamma = dgamma, .dbeta = dbeta};
    ekn_cpu_for((size_t)c, 1, channels_min(n, s), bn_backward_channels, &j);
}

void ekn_gn_forward_cpu(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                        float eps, float *y, float *mean, float *invstd)
{
    const size_t C = (size_t)c, S = s, G = (size_t)groups, cpg = C / G, M = cpg * S;
    for (size_t i = 0; i < (size_t)n; i++)
        for (size_t g = 0; g < G; g++) {
            size_t o = (i * C + g * cpg) * S; /* the group is contiguous */
            double mu = plane_sum(x + o, M) / (double)M;
            double is = 1.0 / sqrt(plane_sqdev(x + o, M, mu) / (double)M + (double)eps);
            for (size_t k = 0; k < cpg; k++) {
                size_t ch = g * cpg + k;
                plane_affine(x + o + k * S, y + o + k * S, S, mu, (double)gamma[ch] * is, beta[ch]);
            }
            mean[i * G + g] = (float)mu;
            invstd[i * G + g] = (float)is;
        }
}

void ekn_gn_backward_cpu(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const size_t C = (size_t)c, S = s, G = (size_t)groups, cpg = C / G;
    const double m = (double)cpg * (double)S;
    if (dgamma || dbeta)
        for (size_t ch = 0; ch < C; ch++) {
            double sdy = 0, sdyx = 0;
            for (size_t i = 0; i < (size_t)n; i++) {
                size_t st = i * G + ch / cpg, o = (i * C + ch) * S;
                double a = 0, b = 0;
                plane_dsums(x + o, dy + o, S, mean[st], &a, &b);
                sdy += a;
                sdyx += b * invstd[st];
            }
            if (dgamma) dgamma[ch] = (float)(dgamma[ch] + sdyx);
            if (dbeta) dbeta[ch] = (float)(dbeta[ch] + sdy);
        }
    if (!dx) return;
    for (size_t i = 0; i < (size_t)n; i++)
        for (size_t g = 0; g < G; g++) {
            double mu = mean[i * G + g], is = invstd[i * G + g], sg = 0, sgx = 0;
            for (size_t k = 0; k < cpg; k++) {
                size_t ch = g * cpg + k, o = (i * C + ch) * S;
                double a = 0, b = 0;
                plane_dsums(x + o, dy + o, S, mu, &a, &b);
                sg += gamma[ch] * a;
                sgx += gamma[ch] * b * is;
            }
            for (size_t k = 0; k < cpg; k++) {
                size_t ch = g * cpg + k, o = (i * C + ch) * S;
                /* g = gamma*dy: k*(m*gamma*dy - sg - xhat*sgx) */
                plane_dx(x + o, dy + o, dx + o, S, mu, is, is / m, m * gamma[ch], sg, sgx);
            }
        }
}
