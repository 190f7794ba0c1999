/* stats: summary statistics of tensors (ekn-info(1)).
 *
 * ekn_stats holds count, NaN count, min, max, mean and the sum of squared
 * deviations (M2) of the finite-or-infinite elements, so per-record figures
 * merge exactly into per-stream figures (Chan et al.'s pairwise update).
 * One record is measured in two passes (mean, then deviations), which keeps
 * the variance accurate when the mean is large against the spread.
 * NaNs are counted and left out of every other figure; std is the population
 * standard deviation (numpy's default, ddof = 0).
 *
 * ekn_hist counts the integer values of label tensors from -1 (ignored) to
 * EKN_HIST_MAX; any other value (non-integral, NaN, out of range) is counted
 * in `other`. */
#ifndef EKN_STATS_H
#define EKN_STATS_H
#include <stdint.h>

#include "tensor.h"

typedef struct ekn_stats {
    uint64_t n;   /* elements counted (not NaN) */
    uint64_t nan; /* NaN elements */
    double min, max, mean, m2;
} ekn_stats;

void ekn_stats_init(ekn_stats *s);
/* Sets s to the statistics of t (any dtype). */
void ekn_stats_tensor(ekn_stats *s, const ekn_tensor *t);
/* into += s */
void ekn_stats_merge(ekn_stats *into, const ekn_stats *s);
double ekn_stats_std(const ekn_stats *s); /* NaN when n == 0 */

#define EKN_HIST_MAX 65535

typedef struct ekn_hist {
    uint64_t *count;  /* count[v + 1] for v in -1..EKN_HIST_MAX; NULL until the first add */
    uint64_t other;   /* values outside that range or not integral */
    uint64_t total;   /* all elements added */
} ekn_hist;

#define EKN_HIST_INIT {0}

int ekn_hist_add(ekn_hist *h, const ekn_tensor *t, ekn_err *err);
/* into += h */
int ekn_hist_merge(ekn_hist *into, const ekn_hist *h, ekn_err *err);
/* Count of value v (-1..EKN_HIST_MAX). */
uint64_t ekn_hist_get(const ekn_hist *h, long v);
void ekn_hist_free(ekn_hist *h);
#endif
