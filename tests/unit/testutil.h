/* Shared helpers for the unit tests: seeded random fills and the
 * llm.c-style comparison |a-b| <= atol + rtol*|ref|.  Header-only so each
 * test binary stays one file; every helper returns a failure count that the
 * test turns into a cmocka failure (a check that cannot fail is a defect). */
#ifndef EKN_TESTUTIL_H
#define EKN_TESTUTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define EKN_TEST_SKIP 77 /* exit code meaning "skipped", as automake */

/* The main() of a cmocka test binary: TU_MAIN(cmocka_unit_test(a), ...)
 * runs the listed tests as one group (no setup or teardown) and exits with
 * the number that failed. */
#define TU_MAIN(...)                                              \
    int main(void)                                                \
    {                                                             \
        const struct CMUnitTest tests[] = {__VA_ARGS__};          \
        return cmocka_run_group_tests(tests, NULL, NULL);         \
    }

/* The seed is printed by each test so a failure can be replayed. */
static inline uint64_t tu_seed(void)
{
    const char *s = getenv("EKN_TEST_SEED");
    return s ? strtoull(s, NULL, 10) : 20261126u;
}

static inline uint64_t tu_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Prints the seed a test uses, so its failure can be replayed. */
static inline uint64_t tu_seed_for(const char *test)
{
    uint64_t s = tu_seed();
    fprintf(stderr, "%s: seed %llu (EKN_TEST_SEED)\n", test, (unsigned long long)s);
    return s;
}

/* Zeroed floats; a test cannot go on without them. */
static inline float *tu_alloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory for %zu floats\n", n);
        abort();
    }
    return p;
}

/* uniform in [lo, hi) */
static inline void tu_fill(uint64_t *s, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((tu_next(s) >> 40) * (1.0 / 16777216.0));
}

/* Compare `got` with `ref`; prints the worst element and the max relative
 * error and returns the number of elements out of tolerance. */
static inline size_t tu_compare(const char *what, const float *got, const float *ref,
                                size_t n, double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double max_rel = 0, worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double tol = atol + rtol * fabs((double)ref[i]);
        double rel = d / (fabs((double)ref[i]) + 1e-30);
        if (fabs((double)ref[i]) > atol && rel > max_rel) max_rel = rel;
        if (!(d <= tol)) bad++;
        if (d - tol > worst_excess) { worst_excess = d - tol; worst = i; }
    }
    fprintf(stderr, "%-40s n=%zu max_rel=%.3g worst[%zu] got=%.8g ref=%.8g %s\n",
            what, n, max_rel, worst, n ? got[worst] : 0.0, n ? ref[worst] : 0.0,
            bad ? "FAIL" : "ok");
    return bad;
}

/* Central-difference gradient check: perturbs p[i] (n elements) by +-h in
 * place (restored after), evaluates loss(ctx) at both points and compares
 * (lp - lm) / (the step actually taken after float rounding) with ana[i]
 * under |num - ana| <= atol + rtol*|num|.  Prints the worst relative and
 * absolute errors and returns the number of elements out of tolerance. */
static inline size_t tu_fd_check(const char *what, float *p, const float *ana, size_t n, float h, double atol,
                                 double rtol, double (*loss)(void *ctx), void *ctx)
{
    size_t bad = 0;
    double max_rel = 0, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        float save = p[i];
        p[i] = save + h;
        double lp = loss(ctx);
        p[i] = save - h;
        double lm = loss(ctx);
        p[i] = save;
        double num = (lp - lm) / ((double)(save + h) - (double)(save - h));
        double err = fabs(num - ana[i]);
        double rel = err / fmax(fabs(num), 1e-30);
        if (fabs(num) > atol && rel > max_rel) max_rel = rel;
        if (err > max_abs) max_abs = err;
        if (!(err <= atol + rtol * fabs(num))) bad++;
    }
    fprintf(stderr, "  fd %-6s n=%zu max_rel=%.3g max_abs=%.3g %s\n", what, n, max_rel, max_abs, bad ? "FAIL" : "ok");
    return bad;
}
#endif
