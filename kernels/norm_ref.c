/* Reference batch and group normalisation: the definitions of norm.h as
 * plain loops in double; the oracle the cpu and cuda versions are tested
 * against.  Element (n, c, s) is x[(n*C + c)*S + s]. */
#include <math.h>
#include <stddef.h>

#include "norm.h"

#define AT(n_, c_, s_) (((size_t)(n_) * (size_t)C + (size_t)(c_)) * S + (s_))

void ekn_bn_forward_train_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              float eps, float momentum, float *run_mean, float *run_var, float *y, float *mean,
                              float *invstd)
{
    const int N = n, C = c;
    const size_t S = s;
    const double ns = (double)N * (double)S;
    for (int ch = 0; ch < C; ch++) {
        double sum = 0;
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++) sum += x[AT(i, ch, j)];
        double mu = sum / ns, sq = 0;
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++) {
                double d = x[AT(i, ch, j)] - mu;
                sq += d * d;
            }
        double var = sq / ns, is = 1.0 / sqrt(var + (double)eps);
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++)
                y[AT(i, ch, j)] = (float)((double)gamma[ch] * ((x[AT(i, ch, j)] - mu) * is) + (double)beta[ch]);
        mean[ch] = (float)mu;
        invstd[ch] = (float)is;
        double m = momentum;
        if (run_mean) run_mean[ch] = (float)((1.0 - m) * run_mean[ch] + m * mu);
        if (run_var) run_var[ch] = (float)((1.0 - m) * run_var[ch] + m * (ns > 1 ? var * ns / (ns - 1) : var));
    }
}

void ekn_bn_forward_infer_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *beta,
                              const float *run_mean, const float *run_var, float eps, float *y)
{
    const int N = n, C = c;
    const size_t S = s;
    for (int ch = 0; ch < C; ch++) {
        double is = 1.0 / sqrt((double)run_var[ch] + (double)eps);
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++)
                y[AT(i, ch, j)] =
                    (float)((double)gamma[ch] * ((x[AT(i, ch, j)] - (double)run_mean[ch]) * is) + (double)beta[ch]);
    }
}

void ekn_bn_backward_ref(int n, int c, size_t s, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const int N = n, C = c;
    const size_t S = s;
    const double ns = (double)N * (double)S;
    for (int ch = 0; ch < C; ch++) {
        double mu = mean[ch], is = invstd[ch], sdy = 0, sdyx = 0;
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++) {
                double g = dy[AT(i, ch, j)];
                sdy += g;
                sdyx += g * ((x[AT(i, ch, j)] - mu) * is);
            }
        if (dgamma) dgamma[ch] = (float)(dgamma[ch] + sdyx);
        if (dbeta) dbeta[ch] = (float)(dbeta[ch] + sdy);
        if (!dx) continue;
        double k = (double)gamma[ch] * is / ns;
        for (int i = 0; i < N; i++)
            for (size_t j = 0; j < S; j++) {
                double xhat = (x[AT(i, ch, j)] - mu) * is;
                dx[AT(i, ch, j)] = (float)(k * (ns * dy[AT(i, ch, j)] - sdy - xhat * sdyx));
            }
    }
}

void ekn_gn_forward_ref(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *beta,
                        float eps, float *y, float *mean, float *invstd)
{
    const int N = n, C = c, G = groups, cpg = c / groups;
    const size_t S = s;
    const double m = (double)cpg * (double)S;
    for (int i = 0; i < N; i++)
        for (int g = 0; g < G; g++) {
            double sum = 0, sq = 0;
            for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < S; j++) sum += x[AT(i, ch, j)];
            double mu = sum / m;
            for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < S; j++) {
                    double d = x[AT(i, ch, j)] - mu;
                    sq += d * d;
                }
            double is = 1.0 / sqrt(sq / m + (double)eps);
            for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < S; j++)
                    y[AT(i, ch, j)] =
                        (float)((double)gamma[ch] * ((x[AT(i, ch, j)] - mu) * is) + (double)beta[ch]);
            mean[(size_t)i * G + g] = (float)mu;
            invstd[(size_t)i * G + g] = (float)is;
        }
}

void ekn_gn_backward_ref(int n, int c, size_t s, int groups, const float *x, const float *gamma, const float *mean,
                         const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const int N = n, C = c, G = groups, cpg = c / groups;
    const size_t S = s;
    const double m = (double)cpg * (double)S;
    /* the affine parameters' gradients: per channel, over n and s */
    for (int ch = 0; ch < C; ch++) {
        double sdy = 0, sdyx = 0;
        for (int i = 0; i < N; i++) {
            double mu = mean[(size_t)i * G + ch / cpg], is = invstd[(size_t)i * G + ch / cpg];
            for (size_t j = 0; j < S; j++) {
                double g = dy[AT(i, ch, j)];
                sdy += g;
                sdyx += g * ((x[AT(i, ch, j)] - mu) * is);
            }
        }
        if (dgamma) dgamma[ch] = (float)(dgamma[ch] + sdyx);
        if (dbeta) dbeta[ch] = (float)(dbeta[ch] + sdy);
    }
    if (!dx) return;
    /* the input's: per example and group, with g = gamma*dy */
    for (int i = 0; i < N; i++)
        for (int g = 0; g < G; g++) {
            double mu = mean[(size_t)i * G + g], is = invstd[(size_t)i * G + g], sg = 0, sgx = 0;
            for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < S; j++) {
                    double gd = (double)gamma[ch] * dy[AT(i, ch, j)];
                    sg += gd;
                    sgx += gd * ((x[AT(i, ch, j)] - mu) * is);
                }
            for (int ch = g * cpg; ch < (g + 1) * cpg; ch++)
                for (size_t j = 0; j < S; j++) {
                    double gd = (double)gamma[ch] * dy[AT(i, ch, j)];
                    double xhat = (x[AT(i, ch, j)] - mu) * is;
                    dx[AT(i, ch, j)] = (float)(is / m * (m * gd - sg - xhat * sgx));
                }
        }
}
