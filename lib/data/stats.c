#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ekn_stats_init(ekn_stats *s)
{
    s->n = s->nan = 0;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->mean = s->m2 = 0;
}

void ekn_stats_merge(ekn_stats *into, const ekn_stats *s)
{
    into->nan += s->nan;
    if (!s->n) return;
    if (!into->n) {
        uint64_t nan = into->nan;
        *into = *s;
        into->nan = nan;
        return;
    }
    double na = (double)into->n, nb = (double)s->n, n = na + nb, delta = s->mean - into->mean;
    into->mean += delta * (nb / n);
    into->m2 += s->m2 + delta * delta * (na * nb / n);
    into->n += s->n;
    if (s->min < into->min) into->min = s->min;
    if (s->max > into->max) into->max = s->max;
}

double ekn_stats_std(const ekn_stats *s)
{
    if (!s->n) return NAN;
    double var = s->m2 / (double)s->n;
    return var > 0 ? sqrt(var) : (var == 0 ? 0.0 : var); /* var < 0 cannot happen; NaN stays NaN */
}

/* Two passes over one contiguous array: min, max and the sum, then the
 * corrected sum of squared deviations (Σd² - (Σd)²/n).  The common case
 * (no NaN) runs without a branch and with four partial sums, which breaks
 * the dependency chain of the additions; a NaN in the first pass's sum
 * sends float arrays to the careful loop that counts and skips NaNs. */
#define STATS_FN(fname, type, isfloat)                                        \
    static void fname##_nan(ekn_stats *s, const type *x, size_t n)           \
    {                                                                         \
        double lo = INFINITY, hi = -INFINITY, sum = 0;                        \
        uint64_t cnt = 0, nan = 0;                                            \
        for (size_t i = 0; i < n; i++) {                                      \
            double v = (double)x[i];                                          \
            if (v != v) { nan++; continue; }                                  \
            lo = v < lo ? v : lo;                                             \
            hi = v > hi ? v : hi;                                             \
            sum += v;                                                         \
            cnt++;                                                            \
        }                                                                     \
        ekn_stats_init(s);                                                    \
        s->nan = nan;                                                         \
        if (!cnt) return;                                                     \
        double mean = sum / (double)cnt, d1 = 0, d2 = 0;                      \
        for (size_t i = 0; i < n; i++) {                                      \
            double v = (double)x[i];                                          \
            if (v != v) continue;                                             \
            double d = v - mean;                                              \
            d1 += d;                                                          \
            d2 += d * d;                                                      \
        }                                                                     \
        s->n = cnt;                                                           \
        s->min = lo;                                                          \
        s->max = hi;                                                          \
        s->mean = mean + d1 / (double)cnt;                                    \
        s->m2 = d2 - d1 * d1 / (double)cnt;                                   \
        if (s->m2 < 0) s->m2 = 0;                                             \
    }                                                                         \
    static void fname(ekn_stats *s, const void *data, size_t n)              \
    {                                                                         \
        const type *x = data;                                                 \
        double lo = INFINITY, hi = -INFINITY, a[4] = {0, 0, 0, 0};            \
        size_t i = 0;                                                         \
        for (; i + 4 <= n; i += 4)                                            \
            for (int k = 0; k < 4; k++) {                                     \
                double v = (double)x[i + k];                                  \
                lo = v < lo ? v : lo;                                         \
                hi = v > hi ? v : hi;                                         \
                a[k] += v;                                                    \
            }                                                                 \
        for (; i < n; i++) {                                                  \
            double v = (double)x[i];                                          \
            lo = v < lo ? v : lo;                                             \
            hi = v > hi ? v : hi;                                             \
            a[0] += v;                                                        \
        }                                                                     \
        double sum = (a[0] + a[1]) + (a[2] + a[3]);                           \
        if (isfloat && sum != sum) { fname##_nan(s, x, n); return; }          \
        ekn_stats_init(s);                                                    \
        if (!n) return;                                                       \
        double mean = sum / (double)n, d1[4] = {0, 0, 0, 0}, d2[4] = {0, 0, 0, 0}; \
        for (i = 0; i + 4 <= n; i += 4)                                       \
            for (int k = 0; k < 4; k++) {                                     \
                double d = (double)x[i + k] - mean;                           \
                d1[k] += d;                                                   \
                d2[k] += d * d;                                               \
            }                                                                 \
        for (; i < n; i++) {                                                  \
            double d = (double)x[i] - mean;                                   \
            d1[0] += d;                                                       \
            d2[0] += d * d;                                                   \
        }                                                                     \
        double e1 = (d1[0] + d1[1]) + (d1[2] + d1[3]), e2 = (d2[0] + d2[1]) + (d2[2] + d2[3]); \
        s->n = n;                                                             \
        s->min = lo;                                                          \
        s->max = hi;                                                          \
        s->mean = mean + e1 / (double)n;                                      \
        s->m2 = e2 - e1 * e1 / (double)n;                                     \
        if (s->m2 < 0) s->m2 = 0;                                             \
    }

STATS_FN(stats_u8, uint8_t, 0)
STATS_FN(stats_i8, int8_t, 0)
STATS_FN(stats_u16, uint16_t, 0)
STATS_FN(stats_i16, int16_t, 0)
STATS_FN(stats_u32, uint32_t, 0)
STATS_FN(stats_i32, int32_t, 0)
STATS_FN(stats_u64, uint64_t, 0)
STATS_FN(stats_i64, int64_t, 0)
STATS_FN(stats_f32, float, 1)
STATS_FN(stats_f64, double, 1)

enum { CHUNK = 4096 };

void ekn_stats_tensor(ekn_stats *s, const ekn_tensor *t)
{
    size_t n = (size_t)ekn_tensor_numel(t);
    switch (t->dtype) {
    case EKN_U8: stats_u8(s, t->data, n); return;
    case EKN_I8: stats_i8(s, t->data, n); return;
    case EKN_U16: stats_u16(s, t->data, n); return;
    case EKN_I16: stats_i16(s, t->data, n); return;
    case EKN_U32: stats_u32(s, t->data, n); return;
    case EKN_I32: stats_i32(s, t->data, n); return;
    case EKN_U64: stats_u64(s, t->data, n); return;
    case EKN_I64: stats_i64(s, t->data, n); return;
    case EKN_F32: stats_f32(s, t->data, n); return;
    case EKN_F64: stats_f64(s, t->data, n); return;
    case EKN_F16:
    case EKN_BF16: {
        /* half floats: convert a chunk at a time and merge the chunks */
        float buf[CHUNK];
        ekn_stats part;
        ekn_stats_init(s);
        for (size_t i = 0; i < n; i += CHUNK) {
            size_t k = n - i < CHUNK ? n - i : CHUNK;
            ekn_convert_to_f32(t->dtype, (const uint16_t *)t->data + i, buf, k);
            stats_f32(&part, buf, k);
            ekn_stats_merge(s, &part);
        }
        return;
    }
    default: ekn_stats_init(s); return;
    }
}

/* ---- label histograms ----------------------------------------------------- */

static int hist_alloc(ekn_hist *h, ekn_err *err)
{
    if (h->count) return 0;
    h->count = calloc(EKN_HIST_MAX + 2, sizeof *h->count);
    if (!h->count) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a label histogram");
    return 0;
}

static inline void hist_value(ekn_hist *h, double v)
{
    if (v >= -1 && v <= EKN_HIST_MAX && v == floor(v)) h->count[(long)v + 1]++;
    else h->other++;
}

#define HIST_FN(fname, type)                                                  \
    static void fname(ekn_hist *h, const void *data, size_t n)               \
    {                                                                         \
        const type *x = data;                                                 \
        for (size_t i = 0; i < n; i++) hist_value(h, (double)x[i]);           \
    }

static void hist_u8(ekn_hist *h, const void *data, size_t n)
{
    const uint8_t *x = data;
    for (size_t i = 0; i < n; i++) h->count[x[i] + 1]++;
}
HIST_FN(hist_i8, int8_t)
HIST_FN(hist_u16, uint16_t)
HIST_FN(hist_i16, int16_t)
HIST_FN(hist_u32, uint32_t)
HIST_FN(hist_i32, int32_t)
HIST_FN(hist_u64, uint64_t)
HIST_FN(hist_i64, int64_t)
HIST_FN(hist_f32, float)
HIST_FN(hist_f64, double)

int ekn_hist_add(ekn_hist *h, const ekn_tensor *t, ekn_err *err)
{
    if (hist_alloc(h, err)) return -1;
    size_t n = (size_t)ekn_tensor_numel(t);
    switch (t->dtype) {
    case EKN_U8: hist_u8(h, t->data, n); break;
    case EKN_I8: hist_i8(h, t->data, n); break;
    case EKN_U16: hist_u16(h, t->data, n); break;
    case EKN_I16: hist_i16(h, t->data, n); break;
    case EKN_U32: hist_u32(h, t->data, n); break;
    case EKN_I32: hist_i32(h, t->data, n); break;
    case EKN_U64: hist_u64(h, t->data, n); break;
    case EKN_I64: hist_i64(h, t->data, n); break;
    case EKN_F32: hist_f32(h, t->data, n); break;
    case EKN_F64: hist_f64(h, t->data, n); break;
    case EKN_F16:
    case EKN_BF16: {
        float buf[CHUNK];
        for (size_t i = 0; i < n; i += CHUNK) {
            size_t k = n - i < CHUNK ? n - i : CHUNK;
            ekn_convert_to_f32(t->dtype, (const uint16_t *)t->data + i, buf, k);
            hist_f32(h, buf, k);
        }
        break;
    }
    default: h->other += n; break;
    }
    h->total += n;
    return 0;
}

int ekn_hist_merge(ekn_hist *into, const ekn_hist *h, ekn_err *err)
{
    if (hist_alloc(into, err)) return -1;
    if (h->count)
        for (long i = 0; i < EKN_HIST_MAX + 2; i++) into->count[i] += h->count[i];
    into->other += h->other;
    into->total += h->total;
    return 0;
}

uint64_t ekn_hist_get(const ekn_hist *h, long v)
{
    if (!h->count || v < -1 || v > EKN_HIST_MAX) return 0;
    return h->count[v + 1];
}

void ekn_hist_free(ekn_hist *h)
{
    free(h->count);
    memset(h, 0, sizeof *h);
}
