/* convert_affine on CUDA against ekn_convert_affine_cpu, for every dtype,
 * sizes 1, 7 and 1000003 (odd: the grid-stride loop's tail), two affine
 * maps each (u8-style 1/255 and a random standardisation).  Inputs are random
 * bit patterns (integers, f16, bf16 without Inf/NaN) or random values
 * (f32, f64, with zeros, a subnormal and large values mixed in).
 *
 * Tolerance (stated): |cuda - cpu| <= 1e-6*|cpu| + 1e-7.  Both do the same
 * roundings (convert.h), so they should in fact agree bit for bit; the
 * number of elements that differ at all is printed too.
 * Also checked: the kernel writes nothing past dst[n-1] (a NaN guard band
 * of 64 floats), n = 0 is a no-op, an unknown dtype is an error (recorded
 * for ekn_cuda_last_error, as the kernels' errors are).  Memory and the
 * device come from ekn_ops_cuda().
 *
 * Plain C (no cmocka): exit 0 all agree, 1 a mismatch or a CUDA error,
 * 77 no CUDA in this build or no device on this machine. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "diag.h"
#include "ops.h"
#include "testutil.h"

#define ATOL 1e-7
#define RTOL 1e-6
#define GUARD 64 /* floats after dst[n-1] that must stay untouched */
static const uint32_t guard_bits = 0x7fc0dead;

static const ekn_ops *ops; /* ekn_ops_cuda(): its memory and devices */
static size_t n_cases, n_failed;
static double worst_rel;

static void fail_cuda(const char *what, const ekn_err *err)
{
    fprintf(stderr, "test_convert_cuda: %s: %s\n", what, err->msg);
    exit(1);
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "test_convert_cuda: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* Random source elements of dtype dt; only finite values for the float types. */
static void fill(uint64_t *st, ekn_dtype dt, void *src, size_t n)
{
    size_t size = ekn_dtype_size(dt);
    unsigned char *b = src;
    for (size_t i = 0; i < n * size; i += 8) {
        uint64_t r = tu_next(st);
        memcpy(b + i, &r, n * size - i < 8 ? n * size - i : 8);
    }
    if (dt == EKN_F16 || dt == EKN_BF16) {
        uint16_t *h = src, expmask = dt == EKN_F16 ? 0x7c00 : 0x7f80;
        for (size_t i = 0; i < n; i++)
            if ((h[i] & expmask) == expmask) h[i] ^= 0x4000; /* Inf/NaN -> a finite exponent */
    } else if (dt == EKN_F32) {
        float *f = src;
        tu_fill(st, f, n, -1000, 1000);
        static const float special[] = {0.0f, -0.0f, 1e-40f, 3e38f, -1.5f, 255.0f};
        for (size_t i = 0; i < n && i < sizeof special / sizeof *special; i++) f[i] = special[i];
    } else if (dt == EKN_F64) {
        double *d = src;
        for (size_t i = 0; i < n; i++) d[i] = ((double)(tu_next(st) >> 11) / 9007199254740992.0 - 0.5) * 2e6;
        static const double special[] = {0.0, -0.0, 1e-300, 1e30, 0.1, 1.0 + 1e-12};
        for (size_t i = 0; i < n && i < sizeof special / sizeof *special; i++) d[i] = special[i];
    }
}

static void one_case(uint64_t *st, ekn_dtype dt, size_t n, float scale, float shift)
{
    ekn_err err = {0};
    size_t in_bytes = n * ekn_dtype_size(dt), out_bytes = (n + GUARD) * sizeof(float);
    void *src = xmalloc(in_bytes);
    float *ref = xmalloc(n * sizeof(float)), *got = xmalloc(out_bytes);
    fill(st, dt, src, n);
    ekn_convert_affine_cpu(dt, src, ref, n, scale, shift);

    for (size_t i = 0; i < n + GUARD; i++) memcpy(&got[i], &guard_bits, 4); /* dst garbage: overwritten */
    void *d_src = ops->alloc(in_bytes), *d_dst = NULL;
    if (!d_src || !(d_dst = ops->alloc(out_bytes))) ekn_cuda_last_error(&err), fail_cuda("alloc", &err);
    ops->upload(d_src, src, in_bytes);
    ops->upload(d_dst, got, out_bytes);
    if (ekn_cuda_last_error(&err) < 0) fail_cuda("upload", &err);
    ekn_convert_affine_cuda(dt, d_src, d_dst, n, scale, shift);
    if (ekn_cuda_last_error(&err) < 0) fail_cuda("convert_affine", &err);
    memset(got, 0, out_bytes);
    ops->download(got, d_dst, out_bytes);
    if (ekn_cuda_last_error(&err) < 0) fail_cuda("download", &err);
    ops->free(d_src);
    ops->free(d_dst);

    char what[96];
    snprintf(what, sizeof what, "convert_cuda %-4s scale=%-10.4g shift=%-8.4g", ekn_dtype_name(dt), (double)scale,
             (double)shift);
    size_t bad = tu_compare(what, got, ref, n, ATOL, RTOL), differ = 0, guard_hit = 0;
    for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &ref[i], 4) != 0;
    for (size_t i = n; i < n + GUARD; i++) guard_hit += memcmp(&got[i], &guard_bits, 4) != 0;
    if (differ) fprintf(stderr, "  %zu of %zu elements not bit-equal (within tolerance unless FAIL)\n", differ, n);
    if (guard_hit) fprintf(stderr, "  FAIL: %zu floats written past dst[n-1]\n", guard_hit);
    for (size_t i = 0; i < n; i++) { /* the same max_rel as tu_compare, for the summary */
        double r = fabs((double)ref[i]), rel = fabs((double)got[i] - ref[i]) / (r + 1e-30);
        if (r > ATOL && rel > worst_rel) worst_rel = rel;
    }
    n_cases++;
    n_failed += bad || guard_hit;
    free(src), free(ref), free(got);
}

static float uniform(uint64_t *st, float lo, float hi)
{
    float x;
    tu_fill(st, &x, 1, lo, hi);
    return x;
}

int main(void)
{
    ops = ekn_ops_cuda();
    int count = ops ? ops->device_count() : 0;
    if (count <= 0) {
        char why[256] = "this ekn was built without CUDA";
        if (ops) ops->describe(-1, why, sizeof why);
        printf("skip: no CUDA device (%s)\n", why);
        return EKN_TEST_SKIP;
    }
    ekn_err err = {0};
    if (ops->select(0, &err) < 0) fail_cuda("select", &err);
    char name[256] = "";
    ops->describe(0, name, sizeof name);
    uint64_t st = tu_seed();
    fprintf(stderr, "test_convert_cuda: seed %llu (EKN_TEST_SEED), device 0: %s\n", (unsigned long long)st, name);
    fprintf(stderr, "tolerance |cuda-cpu| <= %g*|cpu| + %g\n", RTOL, ATOL);

    static const size_t sizes[] = {1, 7, 1000003};
    for (int dt = EKN_U8; dt < EKN_DT_COUNT; dt++)
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            one_case(&st, (ekn_dtype)dt, sizes[k], 1.0f / 255.0f, 0.0f);
            /* standardisation: scale 1/std, shift -mean/std; |scale| < 1 keeps bf16's range finite */
            one_case(&st, (ekn_dtype)dt, sizes[k], uniform(&st, 1e-3f, 1.0f), uniform(&st, -1.0f, 1.0f));
        }

    /* n = 0 launches nothing; an unknown dtype is an error, not a crash */
    ekn_convert_affine_cuda(EKN_F32, NULL, NULL, 0, 1, 0);
    if (ekn_cuda_last_error(&err) < 0) fail_cuda("convert_affine n=0", &err);
    void *d = ops->alloc(64);
    if (!d) ekn_cuda_last_error(&err), fail_cuda("alloc", &err);
    ekn_err bad = {0};
    ekn_convert_affine_cuda(EKN_DT_INVALID, d, d, 4, 1, 0);
    int rc_bad = ekn_cuda_last_error(&bad);
    ops->free(d);
    fprintf(stderr, "unknown dtype -> %d: %s\n", rc_bad, bad.msg);
    if (rc_bad != -1 || !bad.msg[0]) {
        fprintf(stderr, "FAIL: an unknown dtype was not an error\n");
        n_failed++;
    }

    fprintf(stderr, "test_convert_cuda: %zu cases, %zu failed, max_rel=%.3g\n", n_cases, n_failed, worst_rel);
    return n_failed ? 1 : 0;
}
