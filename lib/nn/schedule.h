/* schedule: the learning rate and the momentum of every step, in closed form.
 *
 * The rate of a step is a pure function of the run's settings, the step,
 * where the run stands in its budget and the plateau factor so far; nothing
 * else (no recurrence over earlier steps), so a resumed run computes the
 * same rates as an uninterrupted one.  ekn_train_hyper_at is the one place
 * ekn-train gets them from; its shapes (ekn-train(1), "Learning-rate
 * shapes"), with lr = --lr, F = --lr-floor, p the fraction of the budget:
 *
 *   constant  lr(s) = w(s) * piecewise(s) * decay(s) * plateau
 *             piecewise: --lr-schedule (else --lr); decay: --lr-decay^floor(s / --lr-decay-every)
 *   cosine    lr(s) = w(s) * (F + (lr - F) (1 + cos(pi min(p, 1))) / 2) * plateau
 *             (torch.optim.lr_scheduler.CosineAnnealingLR with T_max = the budget, eta_min = F)
 *   onecycle  torch.optim.lr_scheduler.OneCycleLR (anneal_strategy 'cos',
 *             three_phase False, max_lr = lr, div_factor = D, min_lr = F):
 *             two phases ending at e1 = P T - 1 and e2 = T - 1 (steps; by time
 *             e1 = P, e2 = 1 and x = p), a(u, v, q) = v + (u - v) (1 + cos(pi q)) / 2,
 *             x <= e1:  lr = a(lr / D, lr, x / e1),        mu = a(M, m, x / e1)
 *             else:     lr = a(lr, F, min((x - e1) / (e2 - e1), 1)), mu = a(m, M, ...)
 *             times plateau; M = --momentum (the top), m = --onecycle-momentum
 *             (at the peak rate); x / e1 is 1 when e1 <= 0 (where torch divides by zero).
 *   warm-up   w(s) = min(1, (s + 1) / N) for --warmup N (1 without): a factor on
 *             the shape, by steps whatever the budget.
 *
 * The budget: by steps p = s / T (T = --steps, or --epochs in steps,
 * whichever is smaller); by time, without a step budget, p = this run's
 * training time / --time, measured as each step begins. */
#ifndef EKN_SCHEDULE_H
#define EKN_SCHEDULE_H
#include <stdint.h>

enum { EKN_SHAPE_CONSTANT = 0, EKN_SHAPE_COSINE = 1, EKN_SHAPE_ONECYCLE = 2 };

/* "constant" ... by EKN_SHAPE_X, and back (-1: no such shape) */
const char *ekn_shape_name(int shape);
int ekn_shape_parse(const char *name);

/* Where a step stands in the run's budget. */
typedef struct ekn_budget_pos {
    int by_time;  /* 0: by steps; 1: by time */
    double pos;   /* steps: the 0-based step; time: elapsed / --time (may pass 1) */
    double total; /* steps: the budget T >= 1; time: 1 */
} ekn_budget_pos;

/* The shape's rate: kind EKN_SHAPE_X, peak lr, floor F, onecycle's
 * P = pct and D = div; no warm-up, no plateau.  constant: lr. */
double ekn_shape_lr(int kind, double lr, double floor, double pct, double div, ekn_budget_pos b);
/* onecycle's momentum between top M and m (above); other shapes: M. */
double ekn_shape_momentum(int kind, double top, double low, double pct, ekn_budget_pos b);
/* The warm-up factor min(1, (step + 1) / n); 1 for n <= 0. */
double ekn_warmup_factor(int64_t n, int64_t step);

struct ekn_train_config;
/* Step's rate and momentum under config c (above): budget b (ignored by
 * the constant shape), plateau = the product of the plateau reductions. */
void ekn_train_hyper_at(const struct ekn_train_config *c, int64_t step, ekn_budget_pos b, double plateau,
                        double *lr, double *momentum);
#endif
