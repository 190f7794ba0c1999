/* seg_score: the definitions are in seg_score.h. */
#include "seg_score.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

enum { BACKGROUND = INT32_MIN };

static int32_t find(int32_t *parent, int32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]]; /* path halving */
        i = parent[i];
    }
    return i;
}

/* Joins the sets of a and b; the root is always the smaller index, so a
 * region's root is its first pixel in raster order. */
static void join(int32_t *parent, int32_t a, int32_t b)
{
    a = find(parent, a);
    b = find(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

int32_t ekn_seg_regions(const uint8_t *fg, int H, int W, int32_t *label)
{
    const int32_t n = H * W;
    for (int32_t i = 0; i < n; i++) {
        if (!fg[i]) {
            label[i] = BACKGROUND;
            continue;
        }
        label[i] = i;
        int x = i % W;
        if (x > 0 && fg[i - 1]) join(label, i, i - 1);
        if (i >= W && fg[i - W]) join(label, i, i - W);
    }
    for (int32_t i = 0; i < n; i++)
        if (label[i] != BACKGROUND) label[i] = find(label, i);
    /* every pixel points at its root, which comes first: number the roots
     * in raster order, as negative ids so the pointers stay readable */
    int32_t regions = 0;
    for (int32_t i = 0; i < n; i++) {
        if (label[i] == BACKGROUND) continue;
        label[i] = label[i] == i ? -++regions : label[label[i]];
    }
    for (int32_t i = 0; i < n; i++) label[i] = label[i] == BACKGROUND ? 0 : -label[i];
    return regions;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double xlogx(double c) { return c > 0 ? c * log2(c) : 0; }

/* Over sorted keys: sum of squared run lengths of the whole key and of its
 * high half, and the sums of c log c of both (for the entropies). */
static void runs(const uint64_t *k, size_t m, double *sq_pair, double *sq_high, double *xl_pair, double *xl_high)
{
    *sq_pair = *sq_high = *xl_pair = *xl_high = 0;
    for (size_t i = 0, hi_start = 0; i < m;) {
        size_t j = i;
        while (j < m && k[j] == k[i]) j++;
        double c = (double)(j - i);
        *sq_pair += c * c;
        *xl_pair += xlogx(c);
        if (j == m || k[j] >> 32 != k[i] >> 32) {
            double h = (double)(j - hi_start);
            *sq_high += h * h;
            *xl_high += xlogx(h);
            hi_start = j;
        }
        i = j;
    }
}

static double ratio_or_one(double num, double den) { return den > 0 ? num / den : 1.0; }

int ekn_seg_compare(const int32_t *truth, const int32_t *test, size_t n, uint64_t *scratch, ekn_seg_metrics *m)
{
    size_t N = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] < 0 || test[i] < 0) return -1;
        if (truth[i]) scratch[N++] = (uint64_t)(uint32_t)truth[i] << 32 | (uint32_t)test[i];
    }
    double sq_ij, sq_a, xl_ij, xl_a, sq_ji, sq_b, xl_ji, xl_b;
    qsort(scratch, N, sizeof *scratch, cmp_u64);
    runs(scratch, N, &sq_ij, &sq_a, &xl_ij, &xl_a);
    for (size_t i = 0; i < N; i++) scratch[i] = scratch[i] << 32 | scratch[i] >> 32; /* (test, truth) */
    qsort(scratch, N, sizeof *scratch, cmp_u64);
    runs(scratch, N, &sq_ji, &sq_b, &xl_ji, &xl_b);
    (void)sq_ji, (void)xl_ji;
    const double dn = (double)N;
    m->pixels = N;
    m->rand_split = ratio_or_one(sq_ij - dn, sq_a - dn);
    m->rand_merge = ratio_or_one(sq_ij - dn, sq_b - dn);
    m->v_rand = ratio_or_one(2 * (sq_ij - dn), (sq_a - dn) + (sq_b - dn));
    /* H(X) = log N - sum c log c / N for counts c summing to N, in bits */
    double logn = N ? log2(dn) : 0, inv = N ? 1 / dn : 0;
    double h_ij = logn - xl_ij * inv, h_t = logn - xl_a * inv, h_p = logn - xl_b * inv;
    m->vi_split = fmax(0, h_ij - h_t); /* H(pred | truth) */
    m->vi_merge = fmax(0, h_ij - h_p); /* H(truth | pred) */
    m->v_info = ratio_or_one(2 * (h_t + h_p - h_ij), h_t + h_p);
    return 0;
}

static int grow(ekn_seg_score *s, size_t n)
{
    if (n <= s->cap) return 0;
    int32_t *lt = realloc(s->lt, n * sizeof *lt);
    if (lt) s->lt = lt;
    int32_t *lp = realloc(s->lp, n * sizeof *lp);
    if (lp) s->lp = lp;
    uint8_t *ft = realloc(s->ft, n), *fp = ft ? realloc(s->fp, n) : NULL;
    if (ft) s->ft = ft;
    if (fp) s->fp = fp;
    uint64_t *keys = realloc(s->keys, n * sizeof *keys);
    if (keys) s->keys = keys;
    if (!lt || !lp || !ft || !fp || !keys) return -1;
    s->cap = n;
    return 0;
}

int ekn_seg_score_slice(ekn_seg_score *s, const int32_t *lab, const float *prob, int H, int W)
{
    size_t n = (size_t)H * W;
    if (n == 0 || n > INT32_MAX) return 0;
    if (grow(s, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        s->ft[i] = lab[i] >= 0 && lab[i] != s->boundary;
        s->fp[i] = !(prob[i] > s->threshold); /* NaN counts as inside, like 0 */
    }
    ekn_seg_regions(s->ft, H, W, s->lt);
    ekn_seg_regions(s->fp, H, W, s->lp);
    ekn_seg_metrics m;
    ekn_seg_compare(s->lt, s->lp, n, s->keys, &m);
    if (!m.pixels) return 0; /* all membrane: nothing to score */
    s->slices++;
    s->sum.rand_split += m.rand_split;
    s->sum.rand_merge += m.rand_merge;
    s->sum.v_rand += m.v_rand;
    s->sum.vi_split += m.vi_split;
    s->sum.vi_merge += m.vi_merge;
    s->sum.v_info += m.v_info;
    s->sum.pixels += m.pixels;
    return 0;
}

void ekn_seg_score_print(const ekn_seg_score *s, FILE *f)
{
    if (!s->slices) return;
    double k = 1.0 / (double)s->slices;
    fprintf(f, "segmentation\t%zu slices\t(class %d is membrane above probability %g; 4-connected regions; "
               "means over slices)\n",
            s->slices, s->boundary, s->threshold);
    fprintf(f, "v_rand\t%.4f\nv_rand_split\t%.4f\nv_rand_merge\t%.4f\nrand_error\t%.4f\n", s->sum.v_rand * k,
            s->sum.rand_split * k, s->sum.rand_merge * k, 1 - s->sum.v_rand * k);
    fprintf(f, "v_info\t%.4f\nvi_split\t%.4f\nvi_merge\t%.4f\n", s->sum.v_info * k, s->sum.vi_split * k,
            s->sum.vi_merge * k);
}

void ekn_seg_score_free(ekn_seg_score *s)
{
    free(s->lt);
    free(s->lp);
    free(s->ft);
    free(s->fp);
    free(s->keys);
    s->lt = s->lp = NULL;
    s->ft = s->fp = NULL;
    s->keys = NULL;
    s->cap = 0;
}
