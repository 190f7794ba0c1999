/* prep: selection, statistics (fit, apply, save, load) for ekn-preprocess.
 * See prep.h for the pipeline and the conventions. */
#include "prep.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "opt.h"
#include "rng.h"

/* LAPACK (OpenBLAS): symmetric eigendecomposition, divide and conquer.  The
 * trailing lengths are gfortran's hidden CHARACTER arguments. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t uplo_len);

/* At most this many features per example for --whiten (the covariance is F x F doubles). */
#define WHITEN_MAX_FEATURES 4096
/* Examples per block when streaming over the data for whitening. */
#define BLOCK 256

static const char *norm_names[] = {"none", "minmax", "standardise"};
static const char *gran_names[] = {"global", "per-feature", "per-pixel"};

/* ---- selection ----------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* "A:B", "A:", ":B" */
static int parse_range(const char *s, size_t n, size_t *lo, size_t *hi, ekn_err *err)
{
    const char *colon = strchr(s, ':');
    char *end;
    *lo = 0;
    *hi = n;
    if (!colon) goto bad;
    if (colon != s) {
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (end != colon || errno || *s == '-') goto bad;
        *lo = (size_t)v;
    }
    if (colon[1]) {
        errno = 0;
        unsigned long long v = strtoull(colon + 1, &end, 10);
        if (*end || errno || colon[1] == '-') goto bad;
        *hi = (size_t)v;
    }
    if (*lo > *hi) goto bad;
    return 0;
bad:
    return ekn_err_set(err, EKN_EXIT_USAGE, "--range must be A:B with 0 <= A <= B (A or B may be left out), you specified '%s'", s);
}

/* "val=0.1" or "0.1" */
static int parse_split(const char *s, double *frac, ekn_err *err)
{
    const char *v = strncmp(s, "val=", 4) ? s : s + 4;
    char *end;
    errno = 0;
    *frac = strtod(v, &end);
    if (end == v || *end || errno || !(*frac > 0 && *frac < 1))
        return ekn_err_set(err, EKN_EXIT_USAGE, "--split must be val=F with 0 < F < 1, you specified '%s'", s);
    return 0;
}

int ekn_prep_select(const ekn_prep_opts *o, size_t n, uint32_t **out, size_t *count, ekn_err *err)
{
    size_t lo = 0, hi = n;
    *out = NULL;
    if (n > UINT32_MAX) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': more than 2^32 examples", o->input);
    if (o->range) {
        if (parse_range(o->range, n, &lo, &hi, err)) return -1;
        if (hi > n)
            return ekn_err_set(err, EKN_EXIT_FAIL, "--range %s: '%s' has only %zu examples", o->range, o->input, n);
    }
    size_t m = hi - lo;
    uint32_t *idx = malloc((m ? m : 1) * sizeof *idx);
    if (!idx) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (size_t i = 0; i < m; i++) idx[i] = (uint32_t)(lo + i);
    ekn_rng rng;
    if (o->subset) {
        if ((size_t)o->subset > m) {
            free(idx);
            return ekn_err_set(err, EKN_EXIT_FAIL, "--subset %ld: '%s' has only %zu examples to choose from",
                               o->subset, o->input, m);
        }
        ekn_rng_seed(&rng, (uint64_t)o->seed, 1);
        ekn_rng_shuffle(&rng, idx, m);
        m = (size_t)o->subset;
        qsort(idx, m, sizeof *idx, cmp_u32);
    }
    if (o->split) {
        double frac;
        if (parse_split(o->split, &frac, err)) {
            free(idx);
            return -1;
        }
        /* one permutation gives both parts: disjoint and complementary */
        size_t nval = (size_t)llround(frac * (double)m);
        ekn_rng_seed(&rng, (uint64_t)o->seed, 2);
        ekn_rng_shuffle(&rng, idx, m);
        int val = o->part && !strcmp(o->part, "val");
        if (val) {
            m = nval;
        } else {
            memmove(idx, idx + nval, (m - nval) * sizeof *idx);
            m -= nval;
        }
        qsort(idx, m, sizeof *idx, cmp_u32);
        if (m == 0) {
            free(idx);
            return ekn_err_set(err, EKN_EXIT_FAIL, "--split %s --part %s leaves no examples of '%s'", o->split,
                               val ? "val" : "train", o->input);
        }
    }
    if (o->shuffle) {
        ekn_rng_seed(&rng, (uint64_t)o->seed, 3);
        ekn_rng_shuffle(&rng, idx, m);
    }
    if (m == 0) {
        free(idx);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples selected", o->input);
    }
    *out = idx;
    *count = m;
    return 0;
}

/* ---- statistics ---------------------------------------------------------- */

double ekn_prep_dtype_scale(ekn_dtype dt)
{
    switch (dt) {
    case EKN_U8: return 1.0 / 255;
    case EKN_I8: return 1.0 / 127;
    case EKN_U16: return 1.0 / 65535;
    case EKN_I16: return 1.0 / 32767;
    case EKN_U32: return 1.0 / 4294967295.0;
    case EKN_I32: return 1.0 / 2147483647.0;
    case EKN_U64: return 1.0 / 18446744073709551615.0;
    case EKN_I64: return 1.0 / 9223372036854775807.0;
    default: return 1.0;
    }
}

static size_t example_size(const ekn_tensor *x)
{
    size_t e = 1;
    for (int i = 1; i < x->rank; i++) e *= (size_t)x->shape[i];
    return e;
}

/* Features of a CSV schema that come from one-hot columns. */
static unsigned char *onehot_mask(const ekn_csv_schema *s, size_t nf)
{
    unsigned char *m = calloc(nf ? nf : 1, 1);
    if (!m || !s || !s->fitted) return m;
    for (int c = 0; c < s->ncols; c++)
        if (c != s->label_col && s->cols[c].categorical)
            for (int k = 0; k < s->cols[c].ncat; k++)
                if ((size_t)(s->cols[c].feature + k) < nf) m[s->cols[c].feature + k] = 1;
    return m;
}

/* Centre and divisor of statistics entry g. */
static void coef(const ekn_prep_stats *st, size_t g, double *c, double *d)
{
    if (st->norm == EKN_NORM_STANDARDISE) {
        *c = st->mean[g];
        *d = st->std[g];
    } else {
        *c = st->min[g];
        *d = st->max[g] - st->min[g];
    }
    if (!(*d > 0) || !isfinite(*d)) *d = 1;
}

/* Fills center/inv for element-by-element maps. */
static int prepare(ekn_prep_stats *st, size_t esize, ekn_err *err)
{
    free(st->center);
    free(st->inv);
    st->center = st->inv = NULL;
    st->nab = 0;
    if (st->norm == EKN_NORM_NONE || (!st->vectors && st->gran != EKN_GRAN_PIXEL)) return 0;
    st->center = malloc(esize * sizeof *st->center);
    st->inv = malloc(esize * sizeof *st->inv);
    unsigned char *onehot = onehot_mask(st->vectors ? &st->csv : NULL, esize);
    if (!st->center || !st->inv || !onehot) {
        free(onehot);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    for (size_t j = 0; j < esize; j++) {
        double c, d;
        coef(st, st->gran == EKN_GRAN_GLOBAL ? 0 : j, &c, &d);
        if (onehot[j]) c = 0, d = 1;
        st->center[j] = c;
        st->inv[j] = 1 / d;
    }
    free(onehot);
    st->nab = esize;
    return 0;
}

/* A block sharing one map: y = (x * s0 - c) / d.  In one affine kernel call
 * (x * s0/d + (-c/d), what the CUDA path does) while |c/d| is small; the
 * float rounding of that form grows with |c/d|, so beyond FUSED_MAX the
 * centring is done in double after the conversion. */
#define FUSED_MAX 4.0
static void affine_block(ekn_dtype dt, const void *src, float *dst, size_t n, double s0, double c, double d)
{
    if (fabs(c / d) <= FUSED_MAX) {
        ekn_convert_affine_cpu(dt, src, dst, n, (float)(s0 / d), (float)(-c / d));
        return;
    }
    ekn_convert_affine_cpu(dt, src, dst, n, (float)s0, 0.0f);
    double inv = 1 / d;
    for (size_t i = 0; i < n; i++) dst[i] = (float)((dst[i] - c) * inv);
}

void ekn_prep_apply(const ekn_prep_stats *st, const ekn_prep_data *d, const uint32_t *idx, size_t n, float *out,
                    float *tmp)
{
    const ekn_tensor *x = &d->x;
    size_t e = example_size(x), es = ekn_dtype_size(x->dtype);
    double s0 = st->scale ? ekn_prep_dtype_scale(x->dtype) : 1.0;
    size_t nch = d->vectors ? 1 : (size_t)x->shape[1];
    for (size_t k = 0; k < n; k++) {
        const unsigned char *src = (const unsigned char *)x->data + (size_t)idx[k] * e * es;
        float *dst = out + k * e;
        if (st->nab) {
            ekn_convert_affine_cpu(x->dtype, src, dst, e, (float)s0, 0.0f);
            for (size_t j = 0; j < e; j++) dst[j] = (float)((dst[j] - st->center[j]) * st->inv[j]);
        } else if (st->norm == EKN_NORM_NONE) {
            ekn_convert_affine_cpu(x->dtype, src, dst, e, (float)s0, 0.0f);
        } else { /* images: one block, or one per channel */
            size_t blocks = st->gran == EKN_GRAN_GLOBAL ? 1 : nch, len = e / blocks;
            for (size_t b = 0; b < blocks; b++) {
                double c, dv;
                coef(st, b, &c, &dv);
                affine_block(x->dtype, src + b * len * es, dst + b * len, len, s0, c, dv);
            }
        }
    }
    if (st->whiten && st->zca) {
        size_t f = st->nfeat;
        for (size_t k = 0; k < n; k++)
            for (size_t j = 0; j < f; j++) tmp[k * f + j] = out[k * f + j] - st->zca_mean[j];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)f, (int)f, 1.0f, tmp, (int)f, st->zca,
                    (int)f, 0.0f, out, (int)f);
    }
}

/* ZCA: W = U diag(1/sqrt(lambda + eps)) U^T of the covariance of the
 * (normalised) examples, centred by their per-feature mean. */
static int fit_zca(ekn_prep_stats *st, const ekn_prep_data *d, const uint32_t *idx, size_t n, ekn_err *err)
{
    size_t f = example_size(&d->x);
    if (f > WHITEN_MAX_FEATURES)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': --whiten needs at most %d features per example, this has %zu",
                           d->source, WHITEN_MAX_FEATURES, f);
    int fi = (int)f, rc = -1;
    float *buf = malloc(BLOCK * f * sizeof *buf), *c32 = malloc(f * f * sizeof *c32);
    double *sum = calloc(f, sizeof *sum), *cov = calloc(f * f, sizeof *cov), *w = malloc(f * sizeof *w);
    double *u = malloc(f * f * sizeof *u), *c64 = malloc(f * f * sizeof *c64);
    st->zca_mean = malloc(f * sizeof *st->zca_mean);
    st->zca = malloc(f * f * sizeof *st->zca);
    st->nfeat = f;
    double *work = NULL;
    int *iwork = NULL;
    if (!buf || !c32 || !sum || !cov || !w || !u || !c64 || !st->zca_mean || !st->zca) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for whitening %zu features", f);
        goto out;
    }
    st->whiten = 0; /* apply without whitening while fitting it */
    for (size_t k = 0; k < n; k += BLOCK) {
        size_t m = n - k < BLOCK ? n - k : BLOCK;
        ekn_prep_apply(st, d, idx + k, m, buf, NULL);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < f; j++) sum[j] += buf[i * f + j];
    }
    for (size_t j = 0; j < f; j++) st->zca_mean[j] = (float)(sum[j] / (double)n);
    for (size_t k = 0; k < n; k += BLOCK) {
        size_t m = n - k < BLOCK ? n - k : BLOCK;
        ekn_prep_apply(st, d, idx + k, m, buf, NULL);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < f; j++) buf[i * f + j] -= st->zca_mean[j];
        /* float within a block, double across blocks */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, fi, (int)m, 1.0f, buf, fi, 0.0f, c32, fi);
        for (size_t a = 0; a < f; a++)
            for (size_t b = a; b < f; b++) cov[a * f + b] += c32[a * f + b];
    }
    for (size_t a = 0; a < f; a++)
        for (size_t b = a; b < f; b++) cov[b * f + a] = cov[a * f + b] = cov[a * f + b] / (double)n;
    /* eigen decomposition (symmetric, so row/column major do not matter) */
    int lwork = -1, liwork = -1, info = 0, iw = 0;
    double wq = 0;
    memcpy(u, cov, f * f * sizeof *u);
    dsyevd_("V", "U", &fi, u, &fi, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
    lwork = (int)wq;
    liwork = iw;
    work = malloc((size_t)lwork * sizeof *work);
    iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for whitening %zu features", f);
        goto out;
    }
    dsyevd_("V", "U", &fi, u, &fi, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': the eigendecomposition for --whiten failed (info %d)", d->source, info);
        goto out;
    }
    /* column k of u (column-major) is eigenvector k: W = (U diag(s)) U^T, s_k = 1/sqrt(w_k + eps) */
    for (size_t k = 0; k < f; k++) {
        double s = 1 / sqrt((w[k] > 0 ? w[k] : 0) + st->eps);
        for (size_t a = 0; a < f; a++) cov[k * f + a] = u[k * f + a] * s;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, fi, fi, fi, 1.0, cov, fi, u, fi, 0.0, c64, fi);
    for (size_t a = 0; a < f; a++) /* exactly symmetric */
        for (size_t b = a; b < f; b++)
            st->zca[a * f + b] = st->zca[b * f + a] = (float)((c64[a * f + b] + c64[b * f + a]) / 2);
    rc = 0;
out:
    st->whiten = 1;
    free(buf), free(c32), free(sum), free(cov), free(w), free(u), free(c64), free(work), free(iwork);
    return rc;
}

int ekn_prep_fit(const ekn_prep_data *d, const uint32_t *idx, size_t n, int scale, ekn_norm norm, ekn_gran gran,
                 int whiten, double eps, ekn_prep_stats *st, ekn_err *err)
{
    const ekn_tensor *x = &d->x;
    memset(st->eshape, 0, sizeof st->eshape);
    st->scale = scale;
    st->norm = norm;
    st->gran = gran;
    st->vectors = d->vectors;
    st->erank = x->rank - 1;
    for (int i = 1; i < x->rank; i++) st->eshape[i - 1] = x->shape[i];
    st->classes = d->classes;
    size_t e = example_size(x), nch = d->vectors ? e : (size_t)x->shape[1], plane = d->vectors ? 1 : e / nch;
    size_t ns = gran == EKN_GRAN_GLOBAL ? 1 : gran == EKN_GRAN_FEATURE ? nch : e;
    st->nstat = ns;
    st->mean = calloc(ns, sizeof(double));
    st->std = calloc(ns, sizeof(double));
    st->min = malloc(ns * sizeof(double));
    st->max = malloc(ns * sizeof(double));
    double *cnt = calloc(ns, sizeof(double));
    float *buf = malloc(e * sizeof *buf);
    unsigned char *onehot = onehot_mask(d->vectors ? d->csv : NULL, e);
    int rc = -1;
    if (!st->mean || !st->std || !st->min || !st->max || !cnt || !buf || !onehot) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for statistics");
        goto out;
    }
    for (size_t g = 0; g < ns; g++) st->min[g] = INFINITY, st->max[g] = -INFINITY;
    /* group of element j of an example */
#define GROUP(j) (gran == EKN_GRAN_GLOBAL ? 0 : gran == EKN_GRAN_PIXEL ? (j) : (j) / plane)
    double s0 = scale ? ekn_prep_dtype_scale(x->dtype) : 1.0;
    size_t es = ekn_dtype_size(x->dtype);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < n; k++) {
            ekn_convert_affine_cpu(x->dtype, (const unsigned char *)x->data + (size_t)idx[k] * e * es, buf, e,
                                   (float)s0, 0.0f);
            if (gran == EKN_GRAN_GLOBAL && !d->vectors) {
                /* the common case, without the per-element group */
                double s = 0, mn = st->min[0], mx = st->max[0];
                if (pass == 0) {
                    for (size_t j = 0; j < e; j++) {
                        s += buf[j];
                        if (buf[j] < mn) mn = buf[j];
                        if (buf[j] > mx) mx = buf[j];
                    }
                    st->min[0] = mn, st->max[0] = mx;
                    st->mean[0] += s;
                    cnt[0] += (double)e;
                } else {
                    double m = st->mean[0];
                    for (size_t j = 0; j < e; j++) s += (buf[j] - m) * (buf[j] - m);
                    st->std[0] += s;
                }
                continue;
            }
            for (size_t j = 0; j < e; j++) {
                if (onehot[j]) continue;
                size_t g = GROUP(j);
                double v = buf[j];
                if (pass == 0) {
                    st->mean[g] += v;
                    cnt[g] += 1;
                    if (v < st->min[g]) st->min[g] = v;
                    if (v > st->max[g]) st->max[g] = v;
                } else {
                    st->std[g] += (v - st->mean[g]) * (v - st->mean[g]);
                }
            }
        }
        for (size_t g = 0; g < ns; g++) {
            if (cnt[g] == 0) { /* one-hot features only */
                st->mean[g] = 0, st->std[g] = 1, st->min[g] = 0, st->max[g] = 1;
                continue;
            }
            if (pass == 0) st->mean[g] /= cnt[g];
            else st->std[g] = sqrt(st->std[g] / cnt[g]);
        }
    }
#undef GROUP
    for (size_t g = 0; g < ns; g++)
        if (!isfinite(st->mean[g]) || !isfinite(st->std[g]) || !isfinite(st->min[g]) || !isfinite(st->max[g])) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': NaN or infinite values in the data: no statistics", d->source);
            goto out;
        }
    if (prepare(st, e, err)) goto out;
    st->eps = eps;
    st->whiten = whiten;
    if (whiten && fit_zca(st, d, idx, n, err)) goto out;
    rc = 0;
out:
    free(cnt);
    free(buf);
    free(onehot);
    return rc;
}

int ekn_prep_compatible(const ekn_prep_stats *st, const ekn_prep_data *d, const char *stats_name, ekn_err *err)
{
    const ekn_tensor *x = &d->x;
    char a[256], b[256];
    ekn_shape_str(x->rank - 1, x->shape + 1, a, sizeof a);
    ekn_shape_str(st->erank, st->eshape, b, sizeof b);
    if (st->vectors != d->vectors)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s' holds %s, but the statistics in '%s' are for %s", d->source,
                           d->vectors ? "feature vectors" : "images", stats_name,
                           st->vectors ? "feature vectors" : "images");
    int same = st->erank == x->rank - 1;
    for (int i = 0; same && i < st->erank; i++) same = st->eshape[i] == x->shape[i + 1];
    int need_same = st->whiten || st->gran == EKN_GRAN_PIXEL || (st->gran == EKN_GRAN_FEATURE && d->vectors);
    int chan_ok = st->gran != EKN_GRAN_FEATURE || d->vectors || (st->erank > 0 && st->eshape[0] == x->shape[1]);
    if ((need_same && !same) || !chan_ok)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': examples of shape %s do not fit the statistics in '%s' (%s)",
                           d->source, a, stats_name, b);
    return 0;
}

void ekn_prep_describe(const ekn_prep_stats *st, const ekn_prep_data *d, char *buf, size_t cap)
{
    ekn_dtype dt = d->x.dtype;
    double s0 = ekn_prep_dtype_scale(dt);
    int n = 0;
    if (st->scale && s0 != 1.0) n = snprintf(buf, cap, "%s/%.0f", ekn_dtype_name(dt), 1 / s0);
    else n = snprintf(buf, cap, "%s", ekn_dtype_name(dt));
    if (n < 0 || (size_t)n >= cap) return;
    if (st->norm != EKN_NORM_NONE) {
        const char *what = st->norm == EKN_NORM_STANDARDISE ? "standardise" : "minmax";
        if (st->nstat == 1)
            n += snprintf(buf + n, cap - (size_t)n, " %s-global %s=%.6g %s=%.6g", what,
                          st->norm == EKN_NORM_STANDARDISE ? "mean" : "min",
                          st->norm == EKN_NORM_STANDARDISE ? st->mean[0] : st->min[0],
                          st->norm == EKN_NORM_STANDARDISE ? "std" : "max",
                          st->norm == EKN_NORM_STANDARDISE ? st->std[0] : st->max[0]);
        else
            n += snprintf(buf + n, cap - (size_t)n, " %s-%s (%zu values)", what, gran_names[st->gran], st->nstat);
    }
    if (n >= 0 && (size_t)n < cap && st->whiten) snprintf(buf + n, cap - (size_t)n, " zca eps=%g", st->eps);
}

/* ---- statistics file --------------------------------------------------------- */

int ekn_prep_stats_write(const ekn_prep_stats *st, ekn_writer *w, ekn_err *err)
{
    ekn_tensor t = EKN_TENSOR_INIT;
    char val[512];
    int rc = -1;
    uint64_t shape[EKN_MAX_RANK];
    int rank = 1;
    shape[0] = st->nstat;
    if (st->gran == EKN_GRAN_PIXEL) {
        rank = st->erank;
        memcpy(shape, st->eshape, sizeof shape);
    }
    ekn_shape_str(st->erank, st->eshape, val, sizeof val);
    if (ekn_tensor_meta_set(&t, "kind", "ekn-preprocess-stats", err) ||
        ekn_tensor_meta_set(&t, "scale", st->scale ? "1" : "0", err) ||
        ekn_tensor_meta_set(&t, "transform", norm_names[st->norm], err) ||
        ekn_tensor_meta_set(&t, "granularity", gran_names[st->gran], err) ||
        ekn_tensor_meta_set(&t, "input", st->vectors ? "vectors" : "images", err) ||
        ekn_tensor_meta_set(&t, "example_shape", val, err))
        goto out;
    snprintf(val, sizeof val, "%d", st->classes);
    if (ekn_tensor_meta_set(&t, "classes", val, err)) goto out;
    if (st->whiten) {
        snprintf(val, sizeof val, "%.17g", st->eps);
        if (ekn_tensor_meta_set(&t, "whiten", val, err)) goto out;
    }
    if (st->vectors && st->csv.fitted && ekn_csv_schema_save(&st->csv, &t, err)) goto out;
    const char *names[4] = {"mean", "std", "min", "max"};
    const double *vals[4] = {st->mean, st->std, st->min, st->max};
    for (int i = 0; i < 4; i++)
        if (ekn_stream_write_raw(w, EKN_F64, rank, shape, names[i], i ? NULL : t.meta, vals[i], err)) goto out;
    if (st->whiten) {
        uint64_t f[2] = {st->nfeat, st->nfeat};
        if (ekn_stream_write_raw(w, EKN_F32, 1, f, "zca_mean", NULL, st->zca_mean, err) ||
            ekn_stream_write_raw(w, EKN_F32, 2, f, "zca", NULL, st->zca, err))
            goto out;
    }
    rc = 0;
out:
    ekn_tensor_free(&t);
    return rc;
}

static int pick(const char *s, const char **names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

/* Copies a record's payload into a new array of `count` elements of dtype dt. */
static int take(const ekn_tensor *t, ekn_dtype dt, size_t count, void **dst, const char *path, ekn_err *err)
{
    if (t->dtype != dt || ekn_tensor_numel(t) != count)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record '%s' has the wrong type or size for these statistics", path,
                           t->name);
    free(*dst);
    if (!(*dst = malloc(count ? count * ekn_dtype_size(dt) : 1))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    memcpy(*dst, t->data, count * ekn_dtype_size(dt));
    return 0;
}

int ekn_prep_stats_load(ekn_prep_stats *st, const char *path, ekn_err *err)
{
    memset(st, 0, sizeof *st);
    ekn_reader r;
    if (ekn_reader_open(&r, path, err)) return -1;
    ekn_tensor t = EKN_TENSOR_INIT;
    int rc = -1, got, seen = 0;
    char val[512];
    while ((got = ekn_stream_read(&r, &t, err)) == 1) {
        if (seen == 0) {
            if (strcmp(t.name, "mean") || !ekn_tensor_meta_get(&t, "kind", val, sizeof val) ||
                strcmp(val, "ekn-preprocess-stats")) {
                ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not a statistics file of ekn-preprocess --fit", path);
                goto out;
            }
            char sc[16] = "1", tr[32] = "", gr[32] = "", in[32] = "", es[512] = "", cl[32] = "0", wh[64];
            ekn_tensor_meta_get(&t, "scale", sc, sizeof sc);
            ekn_tensor_meta_get(&t, "transform", tr, sizeof tr);
            ekn_tensor_meta_get(&t, "granularity", gr, sizeof gr);
            ekn_tensor_meta_get(&t, "input", in, sizeof in);
            ekn_tensor_meta_get(&t, "example_shape", es, sizeof es);
            ekn_tensor_meta_get(&t, "classes", cl, sizeof cl);
            int nm = pick(tr, norm_names, 3), gm = pick(gr, gran_names, 3);
            st->scale = strcmp(sc, "0") != 0;
            st->vectors = !strcmp(in, "vectors");
            st->classes = atoi(cl);
            if (ekn_tensor_meta_get(&t, "whiten", wh, sizeof wh)) {
                st->whiten = 1;
                st->eps = strtod(wh, NULL);
            }
            /* example shape "[1,28,28]" */
            size_t len = strlen(es);
            long dims[EKN_MAX_RANK];
            ekn_err e2 = {0};
            if (len > 2 && es[0] == '[' && es[len - 1] == ']') {
                es[len - 1] = 0;
                st->erank = ekn_parse_int_list(es + 1, dims, EKN_MAX_RANK, 1, "example_shape", &e2);
                for (int i = 0; i < st->erank; i++) st->eshape[i] = (uint64_t)dims[i];
            }
            if (st->erank < 1) es[0] = 0;
            if (nm < 0 || gm < 0 || !es[0]) {
                ekn_err_set(err, EKN_EXIT_FAIL, "'%s': malformed statistics (transform '%s', granularity '%s')", path, tr,
                            gr);
                goto out;
            }
            st->norm = (ekn_norm)nm;
            st->gran = (ekn_gran)gm;
            st->nstat = (size_t)ekn_tensor_numel(&t);
            if (ekn_csv_schema_load(&st->csv, &t, err) < 0) {
                ekn_err_prefix(err, "'%s'", path);
                goto out;
            }
        }
        seen++;
        void **dst = !strcmp(t.name, "mean") ? (void **)&st->mean : !strcmp(t.name, "std") ? (void **)&st->std
                   : !strcmp(t.name, "min") ? (void **)&st->min : !strcmp(t.name, "max") ? (void **)&st->max
                   : !strcmp(t.name, "zca_mean") ? (void **)&st->zca_mean : !strcmp(t.name, "zca") ? (void **)&st->zca
                   : NULL;
        if (!dst) continue;
        int is_zca = dst == (void **)&st->zca_mean || dst == (void **)&st->zca;
        if (is_zca && !st->nfeat) {
            st->nfeat = 1;
            for (int i = 0; i < st->erank; i++) st->nfeat *= (size_t)st->eshape[i];
        }
        size_t count = !is_zca ? st->nstat : dst == (void **)&st->zca ? st->nfeat * st->nfeat : st->nfeat;
        if (take(&t, is_zca ? EKN_F32 : EKN_F64, count, dst, path, err)) goto out;
    }
    if (got < 0) goto out;
    if (!st->mean || !st->std || !st->min || !st->max || (st->whiten && (!st->zca || !st->zca_mean))) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': incomplete statistics (records mean, std, min, max%s needed)", path,
                    st->whiten ? ", zca_mean, zca" : "");
        goto out;
    }
    size_t e = 1;
    for (int i = 0; i < st->erank; i++) e *= (size_t)st->eshape[i];
    if (prepare(st, e, err)) goto out;
    rc = 0;
out:
    ekn_tensor_free(&t);
    ekn_reader_close(&r);
    if (rc) ekn_prep_stats_free(st);
    return rc;
}

void ekn_prep_stats_free(ekn_prep_stats *st)
{
    free(st->mean), free(st->std), free(st->min), free(st->max);
    free(st->zca_mean), free(st->zca), free(st->center), free(st->inv);
    ekn_csv_schema_free(&st->csv);
    memset(st, 0, sizeof *st);
}
