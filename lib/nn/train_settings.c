/* train_settings: the run's settings in the checkpoint (/settings, ckpt.h),
 * restored by --resume unless the command line gives the option. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "opt.h"
#include "train_internal.h"

enum { T_LONG, T_I64, T_INT, T_F64, T_U64, T_SCHED, T_WEIGHTS, T_PATCH, T_MONITOR, T_SHAPE, T_EMA };

static const char *monitor_name(int m) { return m == EKN_MONITOR_ERROR ? "val_error" : "val_loss"; }

/* setting (ckpt.h) -> the option that sets it and the config's field */
static const struct {
    int key;
    const char *option;
    int type;
    size_t off;
} ROWS[] = {
#define ROW(K, opt, type, field) {EKN_SET_##K, opt, type, offsetof(ekn_train_config, field)}
    ROW(BATCH, "batch", T_LONG, batch),
    ROW(STEPS, "steps", T_I64, steps),
    ROW(EPOCHS, "epochs", T_I64, epochs),
    ROW(LR, "lr", T_F64, lr),
    ROW(LR_SCHEDULE, "lr-schedule", T_SCHED, lr_schedule),
    ROW(LR_DECAY, "lr-decay", T_F64, lr_decay),
    ROW(LR_DECAY_EVERY, "lr-decay-every", T_I64, lr_decay_every),
    ROW(PLATEAU, "plateau", T_INT, plateau_patience),
    ROW(PLATEAU_FACTOR, "plateau-factor", T_F64, plateau_factor),
    ROW(MOMENTUM, "momentum", T_F64, momentum),
    ROW(MOMENTUM_SCHEDULE, "momentum-schedule", T_SCHED, momentum_schedule),
    ROW(WEIGHT_DECAY, "weight-decay", T_F64, weight_decay),
    ROW(CLASS_WEIGHTS, "class-weights", T_WEIGHTS, nclass_weights),
    ROW(SEED, "seed", T_U64, seed),
    ROW(PATCH, "patch", T_PATCH, patch),
    ROW(VAL_EVERY, "val-every", T_I64, val_every),
    ROW(VAL_EXAMPLES, "val-examples", T_LONG, val_examples),
    ROW(EARLY_STOP, "early-stop", T_I64, early_stop),
    ROW(MONITOR, "monitor", T_MONITOR, monitor),
    ROW(LR_SHAPE, "lr-shape", T_SHAPE, lr_shape),
    ROW(WARMUP, "warmup", T_I64, warmup),
    ROW(LR_FLOOR, "lr-floor", T_F64, lr_floor),
    ROW(ONECYCLE_PCT, "onecycle-pct", T_F64, onecycle_pct),
    ROW(ONECYCLE_DIV, "onecycle-div", T_F64, onecycle_div),
    ROW(ONECYCLE_MOMENTUM, "onecycle-momentum", T_F64, onecycle_momentum),
    ROW(EMA, "ema", T_EMA, ema), /* and ema_on */
    ROW(AVERAGE, "average", T_I64, average),
#undef ROW
};
#define NROWS (int)(sizeof ROWS / sizeof ROWS[0])

/* The settings' texts: "S:V,..." of a schedule, "W,..." of class weights
 * (digits enough to read back the same value; prec 6 for messages). */
static char *schedule_text(const ekn_schedule *s, int prec)
{
    size_t cap = (size_t)s->n * 48 + 1, len = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    t[0] = 0;
    for (int i = 0; i < s->n; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s%lld:%.*g", i ? "," : "", (long long)s->step[i], prec,
                                s->value[i]);
    return t;
}

static char *weights_text(const ekn_train_config *c, int prec)
{
    size_t cap = (size_t)c->nclass_weights * 24 + 1, len = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    t[0] = 0;
    for (int i = 0; i < c->nclass_weights; i++)
        len += (size_t)snprintf(t + len, cap - len, "%s%.*g", i ? "," : "", prec, (double)c->class_weights[i]);
    return t;
}

int ekn_train_settings_write(const ekn_trainer *tr, struct ekn_ckpt *ck, ekn_err *err)
{
    const ekn_train_config *c = &tr->cfg;
    ekn_ckpt_settings s = {
        .batch = c->batch,
        .steps = c->steps,
        .epochs = c->epochs,
        .lr_decay_every = c->lr_decay_every,
        .plateau = c->plateau_patience,
        .val_every = c->val_every,
        .val_examples = c->val_examples,
        .early_stop = c->early_stop,
        .monitor = (char *)monitor_name(c->monitor), /* written, not freed */
        .lr_shape = (char *)ekn_shape_name(c->lr_shape), /* ditto */
        .warmup = c->warmup,
        .lr_floor = c->lr_floor,
        .onecycle_pct = c->onecycle_pct,
        .onecycle_div = c->onecycle_div,
        .onecycle_momentum = c->onecycle_momentum,
        .ema = c->ema_on ? c->ema : -1,
        .average = c->average,
        .patch = {c->patch[0], c->patch[1], c->patch[2]},
        .lr = c->lr,
        .lr_decay = c->lr_decay,
        .plateau_factor = c->plateau_factor,
        .momentum = c->momentum,
        .weight_decay = c->weight_decay,
        .seed = c->seed,
        .lr_schedule = schedule_text(&c->lr_schedule, 17),
        .momentum_schedule = schedule_text(&c->momentum_schedule, 17),
        .class_weights = weights_text(c, 9),
    };
    int rc = !s.lr_schedule || !s.momentum_schedule || !s.class_weights
                 ? ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the checkpoint's settings")
                 : ekn_ckpt_write_settings(ck, &s, err);
    free(s.lr_schedule);
    free(s.momentum_schedule);
    free(s.class_weights);
    return rc;
}

/* A number as a message shows it: %g, or all digits where %g would hide a difference. */
static void num_text(char *buf, size_t cap, double v, double other)
{
    char a[40], b[40];
    snprintf(a, sizeof a, "%g", v);
    snprintf(b, sizeof b, "%g", other);
    if (!strcmp(a, b) && v != other) snprintf(buf, cap, "%.17g", v);
    else snprintf(buf, cap, "%s", a);
}

static void patch_text(char *buf, size_t cap, const int p[3])
{
    if (!p[0] && !p[1] && !p[2]) snprintf(buf, cap, "(the spec's)");
    else snprintf(buf, cap, "%d,%d,%d", p[0], p[1], p[2]);
}

/* One setting from the file into mine (the config's type), as the option would parse it. */
static int from_file(int type, const ekn_ckpt_settings *s, int key, ekn_train_config *mine, void *dst, ekn_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "/settings/%s", ekn_ckpt_setting_name(key));
    int64_t i64 = 0;
    double f64 = 0;
    switch (key) {
    case EKN_SET_BATCH: i64 = s->batch; break;
    case EKN_SET_STEPS: i64 = s->steps; break;
    case EKN_SET_EPOCHS: i64 = s->epochs; break;
    case EKN_SET_LR_DECAY_EVERY: i64 = s->lr_decay_every; break;
    case EKN_SET_PLATEAU: i64 = s->plateau; break;
    case EKN_SET_VAL_EVERY: i64 = s->val_every; break;
    case EKN_SET_VAL_EXAMPLES: i64 = s->val_examples; break;
    case EKN_SET_EARLY_STOP: i64 = s->early_stop; break;
    case EKN_SET_WARMUP: i64 = s->warmup; break;
    case EKN_SET_AVERAGE: i64 = s->average; break;
    case EKN_SET_LR_FLOOR: f64 = s->lr_floor; break;
    case EKN_SET_ONECYCLE_PCT: f64 = s->onecycle_pct; break;
    case EKN_SET_ONECYCLE_DIV: f64 = s->onecycle_div; break;
    case EKN_SET_ONECYCLE_MOMENTUM: f64 = s->onecycle_momentum; break;
    case EKN_SET_LR: f64 = s->lr; break;
    case EKN_SET_LR_DECAY: f64 = s->lr_decay; break;
    case EKN_SET_PLATEAU_FACTOR: f64 = s->plateau_factor; break;
    case EKN_SET_MOMENTUM: f64 = s->momentum; break;
    case EKN_SET_WEIGHT_DECAY: f64 = s->weight_decay; break;
    default: break;
    }
    /* the ranges of ekn-train's option rows: a file is checked as the command line is */
    static const struct { int key; double lo, hi; int gt; } RANGE[] = {
        {EKN_SET_BATCH, 1, 1 << 20, 0}, {EKN_SET_STEPS, 0, 1e15, 0}, {EKN_SET_EPOCHS, 0, 1e9, 0},
        {EKN_SET_LR, 0, 1e6, 1}, {EKN_SET_LR_DECAY, 0, 1, 1}, {EKN_SET_LR_DECAY_EVERY, 0, 1e15, 0},
        {EKN_SET_PLATEAU, 0, 1e9, 0}, {EKN_SET_PLATEAU_FACTOR, 0, 1, 1}, {EKN_SET_WEIGHT_DECAY, 0, 1e3, 0},
        {EKN_SET_VAL_EVERY, 1, 1e15, 0}, {EKN_SET_VAL_EXAMPLES, 0, 1e12, 0}, {EKN_SET_EARLY_STOP, 0, 1e15, 0},
        {EKN_SET_MOMENTUM, 0, 1, 0}, {EKN_SET_WARMUP, 0, 1e15, 0}, {EKN_SET_LR_FLOOR, 0, 1e6, 0},
        {EKN_SET_ONECYCLE_PCT, 0, 1, 1}, {EKN_SET_ONECYCLE_DIV, 1, 1e9, 0}, {EKN_SET_ONECYCLE_MOMENTUM, 0, 1, 0},
        {EKN_SET_AVERAGE, 0, 1e6, 0},
    };
    for (size_t r = 0; r < sizeof RANGE / sizeof *RANGE; r++) {
        if (RANGE[r].key != key) continue;
        double v = type == T_F64 ? f64 : (double)i64;
        int ok = isfinite(v) && (RANGE[r].gt ? v > RANGE[r].lo : v >= RANGE[r].lo) && v <= RANGE[r].hi;
        if (key == EKN_SET_MOMENTUM || key == EKN_SET_ONECYCLE_MOMENTUM) ok = ok && v < 1;
        if (!ok) return ekn_err_set(err, EKN_EXIT_FAIL, "%s is %.17g, out of the option's range", what, v);
    }
    if (key == EKN_SET_PATCH)
        for (int k = 0; k < 3; k++)
            if (s->patch[k] < 0 || s->patch[k] > EKN_ZYX_MAX)
                return ekn_err_set(err, EKN_EXIT_FAIL, "%s holds %lld, not a size", what, (long long)s->patch[k]);
    switch (type) {
    case T_LONG: *(long *)dst = (long)i64; return 0;
    case T_I64: *(int64_t *)dst = i64; return 0;
    case T_INT: *(int *)dst = (int)i64; return 0;
    case T_F64: *(double *)dst = f64; return 0;
    case T_U64: *(uint64_t *)dst = s->seed; return 0;
    case T_PATCH:
        for (int k = 0; k < 3; k++) ((int *)dst)[k] = (int)s->patch[k];
        return 0;
    case T_MONITOR:
        if (strcmp(s->monitor, "val_loss") && strcmp(s->monitor, "val_error"))
            return ekn_err_set(err, EKN_EXIT_FAIL, "%s: '%s' is neither val_loss nor val_error", what, s->monitor);
        *(int *)dst = !strcmp(s->monitor, "val_error") ? EKN_MONITOR_ERROR : EKN_MONITOR_LOSS;
        return 0;
    case T_EMA:
        if (!(s->ema == -1 || (s->ema >= 0 && s->ema < 1)))
            return ekn_err_set(err, EKN_EXIT_FAIL, "%s is %.17g, neither -1 (off) nor a decay in [0, 1)", what, s->ema);
        mine->ema_on = s->ema >= 0;
        *(double *)dst = s->ema >= 0 ? s->ema : 0;
        return 0;
    case T_SHAPE:
        if (ekn_shape_parse(s->lr_shape) < 0)
            return ekn_err_set(err, EKN_EXIT_FAIL, "%s: '%s' is not constant, cosine nor onecycle", what, s->lr_shape);
        *(int *)dst = ekn_shape_parse(s->lr_shape);
        return 0;
    case T_SCHED: {
        ekn_schedule *sc = dst;
        if (ekn_schedule_parse(sc, key == EKN_SET_LR_SCHEDULE ? s->lr_schedule : s->momentum_schedule, what, err))
            return -1;
        for (int i = 0; i < sc->n; i++)
            if (key == EKN_SET_MOMENTUM_SCHEDULE ? sc->value[i] >= 1 : sc->value[i] > 1e6)
                return ekn_err_set(err, EKN_EXIT_FAIL, "%s holds %g, out of the option's range", what, sc->value[i]);
        return 0;
    }
    case T_WEIGHTS: {
        double w[EKN_MAX_CLASSES];
        int n = *s->class_weights ? ekn_parse_float_list(s->class_weights, w, EKN_MAX_CLASSES, what, err) : 0;
        if (n < 0) return -1;
        mine->nclass_weights = n;
        for (int k = 0; k < n; k++) {
            if (!(w[k] >= 0) || !isfinite(w[k]))
                return ekn_err_set(err, EKN_EXIT_FAIL, "%s holds %g, not a weight >= 0", what, w[k]);
            mine->class_weights[k] = (float)w[k];
        }
        return 0;
    }
    }
    return 0;
}

/* Whether two configs agree on one setting; *a and *b get the texts a message shows. */
static int same(int type, const ekn_train_config *x, const ekn_train_config *y, size_t off, char *a, char *b,
                size_t cap)
{
    const void *p = (const char *)x + off, *q = (const char *)y + off;
    switch (type) {
    case T_LONG:
        snprintf(a, cap, "%ld", *(const long *)p);
        snprintf(b, cap, "%ld", *(const long *)q);
        return *(const long *)p == *(const long *)q;
    case T_I64:
        snprintf(a, cap, "%lld", (long long)*(const int64_t *)p);
        snprintf(b, cap, "%lld", (long long)*(const int64_t *)q);
        return *(const int64_t *)p == *(const int64_t *)q;
    case T_INT:
        snprintf(a, cap, "%d", *(const int *)p);
        snprintf(b, cap, "%d", *(const int *)q);
        return *(const int *)p == *(const int *)q;
    case T_U64:
        snprintf(a, cap, "%llu", (unsigned long long)*(const uint64_t *)p);
        snprintf(b, cap, "%llu", (unsigned long long)*(const uint64_t *)q);
        return *(const uint64_t *)p == *(const uint64_t *)q;
    case T_F64: {
        double u = *(const double *)p, v = *(const double *)q;
        num_text(a, cap, u, v);
        num_text(b, cap, v, u);
        return u == v;
    }
    case T_MONITOR:
        snprintf(a, cap, "%s", monitor_name(*(const int *)p));
        snprintf(b, cap, "%s", monitor_name(*(const int *)q));
        return *(const int *)p == *(const int *)q;
    case T_EMA:
        if (x->ema_on) snprintf(a, cap, "%g", x->ema);
        else snprintf(a, cap, "(off)");
        if (y->ema_on) snprintf(b, cap, "%g", y->ema);
        else snprintf(b, cap, "(off)");
        return x->ema_on == y->ema_on && (!x->ema_on || x->ema == y->ema);
    case T_SHAPE:
        snprintf(a, cap, "%s", ekn_shape_name(*(const int *)p));
        snprintf(b, cap, "%s", ekn_shape_name(*(const int *)q));
        return *(const int *)p == *(const int *)q;
    case T_PATCH:
        patch_text(a, cap, p);
        patch_text(b, cap, q);
        return !memcmp(p, q, 3 * sizeof(int));
    case T_SCHED: {
        const ekn_schedule *s = p, *t = q;
        int eq = s->n == t->n;
        for (int i = 0; eq && i < s->n; i++) eq = s->step[i] == t->step[i] && s->value[i] == t->value[i];
        char *u = schedule_text(s, 6), *v = schedule_text(t, 6);
        if (!eq && u && v && !strcmp(u, v)) { /* all digits where 6 would hide the difference */
            free(u);
            free(v);
            u = schedule_text(s, 17);
            v = schedule_text(t, 17);
        }
        snprintf(a, cap, "%s", u && *u ? u : "(none)");
        snprintf(b, cap, "%s", v && *v ? v : "(none)");
        free(u);
        free(v);
        return eq;
    }
    case T_WEIGHTS: {
        int eq = x->nclass_weights == y->nclass_weights &&
                 !memcmp(x->class_weights, y->class_weights, (size_t)x->nclass_weights * sizeof(float));
        char *u = weights_text(x, 6), *v = weights_text(y, 6);
        snprintf(a, cap, "%s", u && *u ? u : "(none)");
        snprintf(b, cap, "%s", v && *v ? v : "(none)");
        free(u);
        free(v);
        return eq;
    }
    }
    return 1;
}

int ekn_train_settings_restore(ekn_trainer *tr, struct ekn_ckpt *from, ekn_err *err)
{
    ekn_ckpt_settings s;
    int got = ekn_ckpt_read_settings(from, &s, err);
    if (got < 0) return -1;
    const char *path = ekn_ckpt_path(from);
    if (!got) {
        ekn_info("'%s' records no settings (an older checkpoint): the command line's and the defaults apply", path);
        return 0;
    }
    /* a rate or momentum set through the control file wins over both (resume_from says so) */
    ekn_ckpt_state st;
    if (ekn_ckpt_read_state(from, &st, err)) {
        ekn_ckpt_settings_free(&s);
        return -1;
    }
    ekn_train_config *c = &tr->cfg;
    ekn_train_config saved = *c; /* with the checkpoint's settings */
    int rc = 0;
    for (int i = 0; i < NROWS && !rc; i++) {
        if (!(s.have & 1ul << ROWS[i].key)) continue;
        rc = from_file(ROWS[i].type, &s, ROWS[i].key, &saved, (char *)&saved + ROWS[i].off, err);
    }
    unsigned long have = s.have; /* _free zeroes s */
    ekn_ckpt_settings_free(&s);
    if (rc) {
        err->code = EKN_EXIT_FAIL; /* a bad file, not a bad command line (the parsers say usage) */
        return ekn_err_prefix(err, "'%s'", path);
    }
    for (int i = 0; i < NROWS; i++) {
        int key = ROWS[i].key;
        if (!(have & 1ul << key)) continue;
        int given = !c->given || c->given(ROWS[i].option);
        char mine[256], theirs[256];
        if (same(ROWS[i].type, c, &saved, ROWS[i].off, mine, theirs, sizeof mine)) continue;
        int lr_part = key == EKN_SET_LR || key == EKN_SET_LR_SCHEDULE || key == EKN_SET_LR_DECAY ||
                      key == EKN_SET_LR_DECAY_EVERY || key == EKN_SET_LR_SHAPE || key == EKN_SET_WARMUP;
        int mom_part = key == EKN_SET_MOMENTUM || key == EKN_SET_MOMENTUM_SCHEDULE || key == EKN_SET_ONECYCLE_MOMENTUM;
        int by_control = (lr_part && isfinite(st.control_lr)) || (mom_part && isfinite(st.control_momentum));
        /* a given --lr (--momentum) without a schedule: the checkpoint's
         * schedule would hide it from the schedule's first step on */
        const char *plain = key == EKN_SET_LR_SCHEDULE ? "lr" : key == EKN_SET_MOMENTUM_SCHEDULE ? "momentum" : NULL;
        if (!given && plain && c->given && c->given(plain)) {
            if (!by_control)
                ekn_warn("--%s %g replaces the checkpoint's --%s %s", plain,
                         key == EKN_SET_LR_SCHEDULE ? c->lr : c->momentum, ROWS[i].option, theirs);
            continue;
        }
        if (!given) {
            /* restored: the checkpoint's value into the config */
            if (ROWS[i].type == T_WEIGHTS) {
                c->nclass_weights = saved.nclass_weights;
                memcpy(c->class_weights, saved.class_weights, sizeof c->class_weights);
            } else if (ROWS[i].type == T_EMA) {
                c->ema_on = saved.ema_on;
                c->ema = saved.ema;
            } else {
                size_t size = ROWS[i].type == T_SCHED     ? sizeof(ekn_schedule)
                              : ROWS[i].type == T_PATCH   ? 3 * sizeof(int)
                              : ROWS[i].type == T_LONG    ? sizeof(long)
                              : ROWS[i].type == T_I64     ? sizeof(int64_t)
                              : ROWS[i].type == T_INT     ? sizeof(int)
                              : ROWS[i].type == T_MONITOR ? sizeof(int)
                              : ROWS[i].type == T_SHAPE   ? sizeof(int)
                              : ROWS[i].type == T_U64     ? sizeof(uint64_t)
                                                          : sizeof(double);
                memcpy((char *)c + ROWS[i].off, (char *)&saved + ROWS[i].off, size);
            }
            tr->restored |= 1ul << key;
            ekn_info("'%s': --%s %s", path, ROWS[i].option, theirs);
            continue;
        }
        if (by_control) continue;
        /* the run's length: giving more is how a run goes on, not an override */
        if (key == EKN_SET_STEPS || key == EKN_SET_EPOCHS) continue;
        ekn_warn("--%s %s overrides the checkpoint's %s", ROWS[i].option, mine, theirs);
    }
    return 0;
}
