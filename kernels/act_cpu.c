/* Fast activations: the switch is outside the loops, and each loop body is a
 * branch-free select, so GCC vectorises the piecewise-linear ones at -O3.
 *
 * The loops are written on restrict pointers.  In-place use (y == x,
 * dx == dy) is allowed by the contract, but without restrict GCC guards its
 * vector loop with an overlap test that in-place calls fail, and then runs a
 * scalar loop with a branch per element: relu's backward alone took 15% of
 * a U-Net training step that way.  Aliased calls therefore go through a
 * small stack block that holds the inputs dx (or y) would overwrite. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "act.h"
#include "cpu_threads.h"

enum { BLOCK = 1024 };

static int overlap(const float *a, const float *b, size_t n)
{
    if (!a || !b) return 0;
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b, len = n * sizeof(float);
    return pa < pb + len && pb < pa + len;
}

static void forward_apart(ekn_act a, float alpha, size_t n, const float *restrict x, float *restrict y)
{
    switch (a) {
    case EKN_ACT_LINEAR:
        if (y != x)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    case EKN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    case EKN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
        return;
    case EKN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        return;
    case EKN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        return;
    case EKN_ACT_ABS:
        for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        return;
    case EKN_ACT_ELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * expm1f(x[i]);
        return;
    case EKN_ACT_SILU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
        return;
    case EKN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
        return;
    }
}

static void backward_apart(ekn_act a, float alpha, size_t n, const float *restrict x, const float *restrict y,
                           const float *restrict dy, float *restrict dx)
{
    switch (a) {
    case EKN_ACT_LINEAR:
        if (dx != dy)
            for (size_t i = 0; i < n; i++) dx[i] = dy[i];
        return;
    case EKN_ACT_RELU:
        /* dy is loaded whatever the sign: a load under the condition is not if-converted */
        for (size_t i = 0; i < n; i++) {
            float g = dy[i];
            dx[i] = x[i] > 0 ? g : 0.0f;
        }
        return;
    case EKN_ACT_LEAKY:
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i];
        return;
    case EKN_ACT_TANH:
        for (size_t i = 0; i < n; i++) dx[i] = (1.0f - y[i] * y[i]) * dy[i];
        return;
    case EKN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) dx[i] = y[i] * (1.0f - y[i]) * dy[i];
        return;
    case EKN_ACT_ABS:
        /* sign(x) as a difference of two masks: 0 at x = 0, like _ref */
        for (size_t i = 0; i < n; i++)
            dx[i] = ((float)(x[i] > 0) - (float)(x[i] < 0)) * dy[i];
        return;
    case EKN_ACT_ELU:
        for (size_t i = 0; i < n; i++) dx[i] = (x[i] > 0 ? 1.0f : alpha * expf(x[i])) * dy[i];
        return;
    case EKN_ACT_SILU:
        for (size_t i = 0; i < n; i++) {
            float s = 1.0f / (1.0f + expf(-x[i]));
            dx[i] = s * (1.0f + x[i] * (1.0f - s)) * dy[i];
        }
        return;
    case EKN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) dx[i] = (1.0f / (1.0f + expf(-x[i]))) * dy[i];
        return;
    }
}

static void forward_serial(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    if (a == EKN_ACT_LINEAR && x == y) return;
    if (!overlap(x, y, n)) {
        forward_apart(a, alpha, n, x, y);
        return;
    }
    float tx[BLOCK];
    for (size_t o = 0; o < n; o += BLOCK) {
        size_t m = n - o < BLOCK ? n - o : BLOCK;
        memcpy(tx, x + o, m * sizeof *tx);
        forward_apart(a, alpha, m, tx, y + o);
    }
}

static void backward_serial(ekn_act a, float alpha, size_t n, const float *x, const float *y, const float *dy,
                            float *dx)
{
    if (a == EKN_ACT_LINEAR && dy == dx) return;
    int ax = overlap(x, dx, n), ay = overlap(y, dx, n), ady = overlap(dy, dx, n);
    if (!ax && !ay && !ady) {
        backward_apart(a, alpha, n, x, y, dy, dx);
        return;
    }
    float tx[BLOCK], ty[BLOCK], tdy[BLOCK];
    for (size_t o = 0; o < n; o += BLOCK) {
        size_t m = n - o < BLOCK ? n - o : BLOCK;
        const float *bx = x ? x + o : NULL, *by = y ? y + o : NULL, *bdy = dy + o;
        if (ax) bx = memcpy(tx, bx, m * sizeof *tx);
        if (ay) by = memcpy(ty, by, m * sizeof *ty);
        if (ady) bdy = memcpy(tdy, bdy, m * sizeof *tdy);
        backward_apart(a, alpha, m, bx, by, bdy, dx + o);
    }
}

/* Threads (cpu_threads.h): arrays of at least EKN_CPU_SPLIT_MIN floats are
 * cut into contiguous ranges, each done as above, when every input either
 * is the output or does not overlap it (so no range reads what another
 * writes); the results are those of one thread. */
typedef struct {
    ekn_act a;
    float alpha;
    const float *x, *y, *dy;
    float *out;
} act_job;

static int splittable(const float *in, const float *out, size_t n) { return in == out || !overlap(in, out, n); }

static void forward_range(void *p, size_t b, size_t e)
{
    const act_job *j = p;
    forward_serial(j->a, j->alpha, e - b, j->x + b, j->out + b);
}

void ekn_act_forward_cpu(ekn_act a, float alpha, size_t n, const float *x, float *y)
{
    if (a == EKN_ACT_LINEAR && x == y) return;
    if (n < EKN_CPU_SPLIT_MIN || !splittable(x, y, n)) {
        forward_serial(a, alpha, n, x, y);
        return;
    }
    act_job j = {a, alpha, x, NULL, NULL, y};
    ekn_cpu_for(n, 16, EKN_CPU_SPLIT_MIN, forward_range, &j);
}

static void backward_range(void *p, size_t b, size_t e)
{
    const act_job *j = p;
    backward_serial(j->a, j->alpha, e - b, j->x ? j->x + b : NULL, j->y ? j->y + b : NULL, j->dy + b, j->out + b);
}

void ekn_act_backward_cpu(ekn_act a, float alpha, size_t n, const float *x, const float *y, const float *dy,
                          float *dx)
{
    if (a == EKN_ACT_LINEAR && dy == dx) return;
    if (n < EKN_CPU_SPLIT_MIN || !splittable(x, dx, n) || !splittable(y, dx, n) || !splittable(dy, dx, n)) {
        backward_serial(a, alpha, n, x, y, dy, dx);
        return;
    }
    act_job j = {a, alpha, x, y, dy, dx};
    ekn_cpu_for(n, 16, EKN_CPU_SPLIT_MIN, backward_range, &j);
}
