/* schedule: the learning rate and the momentum of every step (schedule.h). */
#include "schedule.h"

#include <math.h>
#include <string.h>

#include "train.h"

static const char *const NAMES[] = {"constant", "cosine", "onecycle"};

const char *ekn_shape_name(int shape) { return shape >= 0 && shape < 3 ? NAMES[shape] : "?"; }

int ekn_shape_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, NAMES[i])) return i;
    return -1;
}

/* torch's _annealing_cos: from u (q = 0) to v (q = 1) */
static double anneal(double u, double v, double q) { return v + (u - v) / 2.0 * (cos(M_PI * q) + 1); }

/* onecycle: the phase (0 rising, 1 annealing) and its fraction q in [0, 1] */
static int onecycle_phase(double pct, ekn_budget_pos b, double *q)
{
    double e1 = b.by_time ? pct : pct * b.total - 1, e2 = b.by_time ? 1 : b.total - 1, x = b.pos;
    if (x <= e1) {
        *q = e1 > 0 ? x / e1 : 1;
        return 0;
    }
    double u = e2 > e1 ? (x - e1) / (e2 - e1) : 1;
    *q = u < 1 ? u : 1;
    return 1;
}

double ekn_shape_lr(int kind, double lr, double floor, double pct, double div, ekn_budget_pos b)
{
    if (kind == EKN_SHAPE_COSINE) {
        double p = b.total > 0 ? b.pos / b.total : 1;
        if (p > 1) p = 1;
        if (p < 0) p = 0;
        return floor + (lr - floor) * (1 + cos(M_PI * p)) / 2;
    }
    if (kind == EKN_SHAPE_ONECYCLE) {
        double q;
        return onecycle_phase(pct, b, &q) ? anneal(lr, floor, q) : anneal(lr / div, lr, q);
    }
    return lr;
}

double ekn_shape_momentum(int kind, double top, double low, double pct, ekn_budget_pos b)
{
    if (kind != EKN_SHAPE_ONECYCLE) return top;
    double q;
    return onecycle_phase(pct, b, &q) ? anneal(low, top, q) : anneal(top, low, q);
}

double ekn_warmup_factor(int64_t n, int64_t step)
{
    if (n <= 0 || step + 1 >= n) return 1;
    return (double)(step + 1) / (double)n;
}

void ekn_train_hyper_at(const ekn_train_config *c, int64_t step, ekn_budget_pos b, double plateau, double *lr,
                        double *momentum)
{
    double base;
    if (c->lr_shape == EKN_SHAPE_CONSTANT) {
        base = ekn_schedule_at(&c->lr_schedule, step, c->lr);
        if (c->lr_decay != 1 && c->lr_decay_every > 0) base *= pow(c->lr_decay, (double)(step / c->lr_decay_every));
    } else base = ekn_shape_lr(c->lr_shape, c->lr, c->lr_floor, c->onecycle_pct, c->onecycle_div, b);
    *lr = base * ekn_warmup_factor(c->warmup, step) * plateau;
    *momentum = c->lr_shape == EKN_SHAPE_ONECYCLE
                    ? ekn_shape_momentum(c->lr_shape, c->momentum, c->onecycle_momentum, c->onecycle_pct, b)
                    : ekn_schedule_at(&c->momentum_schedule, step, c->momentum);
}
