/* ckpt: the checkpoint format (ckpt.h, ekn-checkpoint(5)). */
#include "ckpt.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAMS "/params"

/* The index of the first non-finite of n floats, or -1. */
static long first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return (long)i;
    return -1;
}
#define BUFFERS "/buffers"

/* ---- the optimiser's state: /optimizer ------------------------------------ */

int ekn_optim_describe(const ekn_optim *o, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int k = 0; k < o->vt->nparam && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=%.17g", k ? "," : "", o->vt->params[k].key, o->p[k]);
    return (int)len;
}

/* The host copy of the state: floats of the largest state vector. */
static size_t largest_state(const ekn_optim *o)
{
    size_t most = 0;
    for (int s = 0; s < o->vt->nstate; s++)
        if (o->state_rows[s] * o->n > most) most = o->state_rows[s] * o->n;
    return most;
}

static float *host_buffer(const ekn_optim *o, ekn_err *err)
{
    size_t floats = largest_state(o);
    float *buf = malloc((floats ? floats : 1) * sizeof *buf);
    if (!buf)
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a host copy of the optimiser state (%zu bytes)",
                    floats * sizeof *buf);
    return buf;
}

int ekn_optim_save(const ekn_optim *o, struct ekn_h5 *h, ekn_err *err)
{
    char name[128], params[1024];
    ekn_optim_describe(o, params, sizeof params);
    if (ekn_h5_put_string(h, "/optimizer/name", o->vt->name, err) ||
        ekn_h5_put_string(h, "/optimizer/params", params, err))
        return -1;
    float *buf = host_buffer(o, err);
    if (!buf) return -1;
    int rc = 0;
    for (int s = 0; s < o->vt->nstate && !rc; s++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->state_names[s]);
        uint64_t dims[2] = {o->state_rows[s], o->n};
        int two = o->vt->state_rows_param[s] >= 0;
        o->ops->download(buf, o->state[s], o->state_rows[s] * o->n * sizeof *buf);
        long bad = first_nonfinite(buf, o->state_rows[s] * o->n);
        if (bad >= 0) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL,
                             "'%s': not saved: optimiser state '%s' holds a non-finite value (element %ld); the "
                             "last checkpoint is kept",
                             h->path, name, bad);
            break;
        }
        rc = ekn_h5_put(h, name, EKN_F32, two ? 2 : 1, two ? dims : dims + 1, buf, err);
    }
    free(buf);
    if (rc) return -1;
    for (int k = 0; k < o->vt->nscalar; k++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->scalar_names[k]);
        if (!isfinite(o->scalar[k]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not saved: optimiser scalar '%s' is %g; the last checkpoint is kept",
                               h->path, name, o->scalar[k]);
        if (ekn_h5_put_f64(h, name, o->scalar[k], err)) return -1;
    }
    return 0;
}

int ekn_optim_load(ekn_optim *o, struct ekn_h5 *h, ekn_err *err)
{
    char *saved = NULL, name[128];
    if (ekn_h5_get_string(h, "/optimizer/name", &saved, err)) return -1;
    int same = !strcmp(saved, o->vt->name);
    free(saved);
    if (!same) return 0; /* another optimiser: this one starts fresh */
    float *buf = host_buffer(o, err);
    if (!buf) return -1;
    for (int s = 0; s < o->vt->nstate; s++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->state_names[s]);
        size_t count = o->state_rows[s] * o->n;
        if (ekn_h5_get(h, name, EKN_F32, buf, count, err)) {
            free(buf);
            return ekn_err_prefix(err, "optimiser '%s' (were its parameters changed?)", o->vt->name);
        }
        long bad = first_nonfinite(buf, count);
        if (bad >= 0) {
            free(buf);
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': optimiser state '%s' holds a non-finite value (element %ld)",
                               h->path, name, bad);
        }
        o->ops->upload(o->state[s], buf, count * sizeof *buf);
    }
    free(buf);
    for (int k = 0; k < o->vt->nscalar; k++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->scalar_names[k]);
        if (ekn_h5_get_f64(h, name, &o->scalar[k], err)) return -1;
        if (!isfinite(o->scalar[k]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': optimiser scalar '%s' is %g", h->path, name, o->scalar[k]);
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------------- */

int ekn_ckpt_create(ekn_ckpt *c, const char *path, const char *spec_text, ekn_err *err)
{
    memset(c, 0, sizeof *c);
    if (ekn_h5_create(&c->h5, path, err)) return -1;
    if (ekn_h5_put_string(&c->h5, "/format", EKN_CKPT_FORMAT, err) || ekn_h5_put_string(&c->h5, "/spec", spec_text, err)) {
        ekn_h5_abort(&c->h5);
        return -1;
    }
    return 0;
}

static const char *group_of(const ekn_net_tensor *t) { return t->state ? BUFFERS : PARAMS; }

int ekn_ckpt_write_params(ekn_ckpt *c, const ekn_net_tensor *t, int n, const float *theta, const float *state,
                          ekn_err *err)
{
    char name[128];
    for (int i = 0; i < n; i++) {
        const float *v = t[i].state ? state : theta;
        if (!v)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' is net state, but no state vector was given",
                               c->h5.path, t[i].name);
        snprintf(name, sizeof name, "%s/%s", group_of(&t[i]), t[i].name);
        /* a checkpoint is never written with a NaN or Inf in it */
        long bad = first_nonfinite(v + t[i].offset, t[i].count);
        if (bad >= 0)
            return ekn_err_set(err, EKN_EXIT_FAIL,
                               "'%s': not saved: tensor '%s' holds a non-finite value (element %ld); the last "
                               "checkpoint is kept",
                               c->h5.path, t[i].name, bad);
        if (ekn_h5_put(&c->h5, name, EKN_F32, t[i].rank, t[i].dims, v + t[i].offset, err)) return -1;
    }
    return 0;
}

int ekn_ckpt_write_optim(ekn_ckpt *c, const ekn_optim *o, ekn_err *err) { return ekn_optim_save(o, &c->h5, err); }

static void rng_pack(const ekn_rng *r, uint64_t v[6])
{
    memcpy(v, r->s, 4 * sizeof *v);
    v[4] = (uint64_t)r->has_spare;
    memcpy(&v[5], &r->spare, sizeof v[5]);
}

static void rng_unpack(ekn_rng *r, const uint64_t v[6])
{
    memcpy(r->s, v, 4 * sizeof *v);
    r->has_spare = (int)v[4];
    memcpy(&r->spare, &v[5], sizeof r->spare);
}

int ekn_ckpt_write_state(ekn_ckpt *c, const ekn_ckpt_state *s, const uint32_t *perm, size_t perm_n, ekn_err *err)
{
    ekn_h5 *h = &c->h5;
    uint64_t rd[6], rt[6], six = 6;
    rng_pack(&s->rng_data, rd);
    rng_pack(&s->rng_train, rt);
    int rc = ekn_h5_put_i64(h, "/state/step", s->step, err) || ekn_h5_put_i64(h, "/state/epoch", s->epoch, err) ||
             ekn_h5_put_i64(h, "/state/perm_pos", s->perm_pos, err) ||
             ekn_h5_put_i64(h, "/state/plateau_count", s->plateau_count, err) ||
             ekn_h5_put_f64(h, "/state/lr", s->lr, err) || ekn_h5_put_f64(h, "/state/momentum", s->momentum, err) ||
             ekn_h5_put_f64(h, "/state/lr_scale", s->lr_scale, err) ||
             ekn_h5_put_f64(h, "/state/control_lr", s->control_lr, err) ||
             ekn_h5_put_f64(h, "/state/control_momentum", s->control_momentum, err) ||
             ekn_h5_put_f64(h, "/state/best_val", s->best_val, err) ||
             ekn_h5_put_f64(h, "/state/loss_smooth", s->loss_smooth, err) ||
             ekn_h5_put_f64(h, "/state/elapsed", s->elapsed, err) ||
             ekn_h5_put_f64(h, "/state/best_metric", s->best_metric, err) ||
             ekn_h5_put_i64(h, "/state/best_step", s->best_step, err) ||
             ekn_h5_put_i64(h, "/state/since_best", s->since_best, err) ||
             ekn_h5_put(h, "/state/rng_data", EKN_U64, 1, &six, rd, err) ||
             ekn_h5_put(h, "/state/rng_train", EKN_U64, 1, &six, rt, err);
    if (!rc && perm) {
        uint64_t pn = perm_n;
        rc = ekn_h5_put(h, "/state/perm", EKN_U32, 1, &pn, perm, err);
    }
    return rc ? -1 : 0;
}

/* ---- --ema's average: /state/ema_params, /state/ema_buffers ------------------ */

int ekn_ckpt_write_ema(ekn_ckpt *c, const float *theta, size_t n, const float *state, size_t nstate, ekn_err *err)
{
    uint64_t dn = n, ds = nstate;
    if (ekn_h5_put(&c->h5, "/state/ema_params", EKN_F32, 1, &dn, theta, err)) return -1;
    if (nstate && ekn_h5_put(&c->h5, "/state/ema_buffers", EKN_F32, 1, &ds, state, err)) return -1;
    return 0;
}

static int read_ema_vector(ekn_ckpt *c, const char *name, float *v, size_t n, ekn_err *err)
{
    if (ekn_h5_get(&c->h5, name, EKN_F32, v, n, err))
        return ekn_err_prefix(err, "the network differs from the run whose average it holds");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s[%zu] is not finite", c->h5.path, name, i);
    return 0;
}

int ekn_ckpt_read_ema(ekn_ckpt *c, float *theta, size_t n, float *state, size_t nstate, ekn_err *err)
{
    if (!ekn_h5_exists(&c->h5, "/state/ema_params")) return 0;
    if (read_ema_vector(c, "/state/ema_params", theta, n, err)) return -1;
    if (!nstate) return 1;
    if (!ekn_h5_exists(&c->h5, "/state/ema_buffers"))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': /state/ema_params without /state/ema_buffers", c->h5.path);
    return read_ema_vector(c, "/state/ema_buffers", state, nstate, err) ? -1 : 1;
}

/* ---- --average's snapshots: /state/avg_snapshots ----------------------------- */

int ekn_ckpt_write_avg(ekn_ckpt *c, const float *rows, size_t n, size_t width, ekn_err *err)
{
    uint64_t dims[2] = {n, width};
    return n ? ekn_h5_put(&c->h5, "/state/avg_snapshots", EKN_F32, 2, dims, rows, err) : 0;
}

int ekn_ckpt_read_avg(ekn_ckpt *c, float *rows, size_t max_rows, size_t width, size_t *n, ekn_err *err)
{
    *n = 0;
    const char *name = "/state/avg_snapshots";
    if (!ekn_h5_exists(&c->h5, name)) return 0;
    uint64_t dims[2];
    if (ekn_h5_shape(&c->h5, name, dims, 2, err) != 2 || dims[1] != width || dims[0] == 0 || dims[0] > (1u << 20))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s is not a list of snapshots of the net's %zu values",
                           c->h5.path, name, width);
    size_t stored = (size_t)dims[0], keep = stored < max_rows ? stored : max_rows;
    float *all = malloc(stored * width * sizeof *all);
    if (!all) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory reading %s of '%s'", name, c->h5.path);
    int rc = ekn_h5_get(&c->h5, name, EKN_F32, all, stored * width, err);
    for (size_t i = 0; !rc && i < stored * width; i++)
        if (!isfinite(all[i])) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s holds a non-finite value", c->h5.path, name);
    if (!rc) {
        memcpy(rows, all + (stored - keep) * width, keep * width * sizeof *rows); /* the newest */
        *n = keep;
    }
    free(all);
    return rc ? -1 : 0;
}

/* ---- the run's settings: /settings ----------------------------------------- */

enum { S_I64, S_F64, S_U64, S_TEXT, S_ZYX };
static const struct setting_row {
    const char *name;
    int type;
    size_t off;
} SETTING_ROWS[EKN_NSET] = {
#define ROW(K, name, type, field) [EKN_SET_##K] = {name, type, offsetof(ekn_ckpt_settings, field)}
    ROW(BATCH, "batch", S_I64, batch),
    ROW(STEPS, "steps", S_I64, steps),
    ROW(EPOCHS, "epochs", S_I64, epochs),
    ROW(LR, "lr", S_F64, lr),
    ROW(LR_SCHEDULE, "lr_schedule", S_TEXT, lr_schedule),
    ROW(LR_DECAY, "lr_decay", S_F64, lr_decay),
    ROW(LR_DECAY_EVERY, "lr_decay_every", S_I64, lr_decay_every),
    ROW(PLATEAU, "plateau", S_I64, plateau),
    ROW(PLATEAU_FACTOR, "plateau_factor", S_F64, plateau_factor),
    ROW(MOMENTUM, "momentum", S_F64, momentum),
    ROW(MOMENTUM_SCHEDULE, "momentum_schedule", S_TEXT, momentum_schedule),
    ROW(WEIGHT_DECAY, "weight_decay", S_F64, weight_decay),
    ROW(CLASS_WEIGHTS, "class_weights", S_TEXT, class_weights),
    ROW(SEED, "seed", S_U64, seed),
    ROW(PATCH, "patch", S_ZYX, patch),
    ROW(VAL_EVERY, "val_every", S_I64, val_every),
    ROW(VAL_EXAMPLES, "val_examples", S_I64, val_examples),
    ROW(EARLY_STOP, "early_stop", S_I64, early_stop),
    ROW(MONITOR, "monitor", S_TEXT, monitor),
    ROW(LR_SHAPE, "lr_shape", S_TEXT, lr_shape),
    ROW(WARMUP, "warmup", S_I64, warmup),
    ROW(LR_FLOOR, "lr_floor", S_F64, lr_floor),
    ROW(ONECYCLE_PCT, "onecycle_pct", S_F64, onecycle_pct),
    ROW(ONECYCLE_DIV, "onecycle_div", S_F64, onecycle_div),
    ROW(ONECYCLE_MOMENTUM, "onecycle_momentum", S_F64, onecycle_momentum),
    ROW(EMA, "ema", S_F64, ema),
    ROW(AVERAGE, "average", S_I64, average),
#undef ROW
};

const char *ekn_ckpt_setting_name(int k) { return k >= 0 && k < EKN_NSET ? SETTING_ROWS[k].name : NULL; }

int ekn_ckpt_write_settings(ekn_ckpt *c, const ekn_ckpt_settings *s, ekn_err *err)
{
    char name[96];
    uint64_t three = 3;
    for (int k = 0; k < EKN_NSET; k++) {
        const struct setting_row *r = &SETTING_ROWS[k];
        const void *v = (const char *)s + r->off;
        snprintf(name, sizeof name, "/settings/%s", r->name);
        int rc;
        switch (r->type) {
        case S_I64: rc = ekn_h5_put_i64(&c->h5, name, *(const int64_t *)v, err); break;
        case S_F64: rc = ekn_h5_put_f64(&c->h5, name, *(const double *)v, err); break;
        case S_U64: rc = ekn_h5_put(&c->h5, name, EKN_U64, 0, NULL, v, err); break;
        case S_ZYX: rc = ekn_h5_put(&c->h5, name, EKN_I64, 1, &three, v, err); break;
        default: {
            const char *t = *(char *const *)v;
            rc = ekn_h5_put_string(&c->h5, name, t ? t : "", err);
        }
        }
        if (rc) return -1;
    }
    return 0;
}

int ekn_ckpt_read_settings(ekn_ckpt *c, ekn_ckpt_settings *s, ekn_err *err)
{
    memset(s, 0, sizeof *s);
    if (!ekn_h5_exists(&c->h5, "/settings")) return 0;
    char name[96];
    for (int k = 0; k < EKN_NSET; k++) {
        const struct setting_row *r = &SETTING_ROWS[k];
        void *v = (char *)s + r->off;
        snprintf(name, sizeof name, "/settings/%s", r->name);
        if (!ekn_h5_exists(&c->h5, name)) continue;
        int rc;
        switch (r->type) {
        case S_I64: rc = ekn_h5_get_i64(&c->h5, name, v, err); break;
        case S_F64: rc = ekn_h5_get_f64(&c->h5, name, v, err); break;
        case S_U64: rc = ekn_h5_get(&c->h5, name, EKN_U64, v, 1, err); break;
        case S_ZYX: rc = ekn_h5_get(&c->h5, name, EKN_I64, v, 3, err); break;
        default: rc = ekn_h5_get_string(&c->h5, name, (char **)v, err);
        }
        if (rc) {
            ekn_ckpt_settings_free(s); /* the message names the file and the dataset */
            return -1;
        }
        s->have |= 1ul << k;
    }
    return 1;
}

void ekn_ckpt_settings_free(ekn_ckpt_settings *s)
{
    free(s->lr_schedule);
    free(s->momentum_schedule);
    free(s->class_weights);
    free(s->monitor);
    free(s->lr_shape);
    memset(s, 0, sizeof *s);
}

int ekn_ckpt_commit(ekn_ckpt *c, ekn_err *err) { return ekn_h5_commit(&c->h5, err); }

void ekn_ckpt_abort(ekn_ckpt *c) { ekn_h5_abort(&c->h5); }

/* ---- reading ---------------------------------------------------------------- */

/* "ekn-checkpoint 1" or "ekn-checkpoint 1.N": 1; another major: its number; not ours: -1. */
static long format_major(const char *fmt)
{
    static const char prefix[] = "ekn-checkpoint ";
    if (strncmp(fmt, prefix, sizeof prefix - 1)) return -1;
    const char *p = fmt + sizeof prefix - 1;
    if (*p < '0' || *p > '9') return -1;
    char *end;
    long major = strtol(p, &end, 10);
    if (*end == '.') {
        const char *q = end + 1;
        if (*q < '0' || *q > '9') return -1;
        strtol(q, &end, 10);
    }
    return *end ? -1 : major;
}

int ekn_ckpt_open(ekn_ckpt *c, const char *path, ekn_err *err)
{
    memset(c, 0, sizeof *c);
    if (ekn_h5_open(&c->h5, path, err)) return -1;
    char *fmt = NULL;
    int rc = 0;
    if (!ekn_h5_exists(&c->h5, "/format"))
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an ekn checkpoint (no /format)", path);
    else if (ekn_h5_get_string(&c->h5, "/format", &fmt, err))
        rc = -1;
    else {
        long major = format_major(fmt);
        if (major < 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an ekn checkpoint (format '%s')", path, fmt);
        else if (major != 1)
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': format '%s' is not one this ekn reads (%s)", path, fmt,
                             EKN_CKPT_FORMAT);
    }
    free(fmt);
    if (rc) ekn_ckpt_close(c);
    return rc;
}

void ekn_ckpt_close(ekn_ckpt *c) { ekn_h5_close(&c->h5); }

const char *ekn_ckpt_path(const ekn_ckpt *c) { return c->h5.path; }

int ekn_ckpt_read_spec(ekn_ckpt *c, ekn_spec *spec, ekn_err *err)
{
    char *text = NULL;
    if (ekn_h5_get_string(&c->h5, "/spec", &text, err)) return -1;
    char label[4200];
    snprintf(label, sizeof label, "%s:/spec", c->h5.path);
    int rc = ekn_spec_parse(spec, text, label, err);
    free(text);
    return rc;
}

/* The names h5py shows for a dataset's element type. */
static const char *type_name(ekn_dtype dt)
{
    switch (dt) {
    case EKN_F16: return "float16";
    case EKN_F32: return "float32";
    case EKN_F64: return "float64";
    case EKN_I8: return "int8";
    case EKN_U8: return "uint8";
    case EKN_I16: return "int16";
    case EKN_U16: return "uint16";
    case EKN_I32: return "int32";
    case EKN_U32: return "uint32";
    case EKN_I64: return "int64";
    case EKN_U64: return "uint64";
    default: return "not numeric";
    }
}

static int read_one(ekn_ckpt *c, const ekn_net_tensor *t, float *dst, ekn_err *err)
{
    const char *path = c->h5.path;
    char name[128], want[160], have[160];
    snprintf(name, sizeof name, "%s/%s", group_of(t), t->name);
    ekn_shape_str(t->rank, t->dims, want, sizeof want);
    if (!ekn_h5_exists(&c->h5, name))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no tensor '%s' (the spec needs %s in %s)", path, t->name, want,
                           group_of(t));
    uint64_t dims[EKN_MAX_RANK];
    ekn_dtype dt;
    ekn_err why = {0};
    int rank = ekn_h5_info(&c->h5, name, &dt, dims, EKN_MAX_RANK, &why);
    if (rank < 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' is not a tensor of at most %d axes (the spec needs %s)", path,
                           name, EKN_MAX_RANK, want);
    int same = rank == t->rank;
    for (int k = 0; same && k < rank; k++) same = dims[k] == t->dims[k];
    if (!same) {
        ekn_shape_str(rank, dims, have, sizeof have);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' has shape %s, the spec needs %s", path, t->name, have,
                           want);
    }
    if (dt != EKN_F32)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' is %s, the spec needs float32", path, t->name,
                           type_name(dt));
    if (ekn_h5_get(&c->h5, name, EKN_F32, dst + t->offset, t->count, err)) return -1;
    long bad = first_nonfinite(dst + t->offset, t->count);
    if (bad >= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' holds a non-finite value (element %ld)", path, t->name,
                           bad);
    return 0;
}

/* Every name in group must be one of t's tensors of that group. */
static int no_extras(ekn_ckpt *c, const char *group, int state, const ekn_net_tensor *t, int n, ekn_err *err)
{
    char **names;
    int k;
    if (ekn_h5_list(&c->h5, group, &names, &k, err)) return -1;
    int rc = 0;
    for (int i = 0; i < k && !rc; i++) {
        int known = 0;
        for (int j = 0; j < n && !known; j++) known = t[j].state == state && !strcmp(t[j].name, names[i]);
        if (!known)
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' in %s is not one of the spec's", c->h5.path,
                             names[i], group);
    }
    ekn_h5_names_free(names, k);
    return rc;
}

int ekn_ckpt_read_params(ekn_ckpt *c, const ekn_net_tensor *t, int n, float *theta, float *state, ekn_err *err)
{
    for (int i = 0; i < n; i++) {
        float *v = t[i].state ? state : theta;
        if (!v)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' is net state, but no state vector was given",
                               c->h5.path, t[i].name);
        if (read_one(c, &t[i], v, err)) return -1;
    }
    return no_extras(c, PARAMS, 0, t, n, err) || no_extras(c, BUFFERS, 1, t, n, err) ? -1 : 0;
}

int ekn_ckpt_read_tensor(ekn_ckpt *c, const char *name, ekn_tensor *out, ekn_err *err)
{
    char path[160];
    snprintf(path, sizeof path, PARAMS "/%s", name);
    if (!ekn_h5_exists(&c->h5, path))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no tensor '%s'", c->h5.path, name);
    uint64_t dims[EKN_MAX_RANK];
    ekn_dtype dt;
    int rank = ekn_h5_info(&c->h5, path, &dt, dims, EKN_MAX_RANK, err);
    if (rank < 0) return -1;
    if (dt != EKN_F32)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' is %s, not float32", c->h5.path, name, type_name(dt));
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) numel = dims[i] && numel > UINT64_MAX / dims[i] ? UINT64_MAX : numel * dims[i];
    if (c->h5.file_size && numel > c->h5.file_size / sizeof(float))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': tensor '%s' claims more bytes than the file holds", c->h5.path,
                           name);
    if (ekn_tensor_reshape(out, EKN_F32, rank, dims, err) ||
        ekn_h5_get(&c->h5, path, EKN_F32, out->data, (size_t)ekn_tensor_numel(out), err))
        return -1;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

int ekn_ckpt_read_optim_name(ekn_ckpt *c, char **name, char **params, ekn_err *err)
{
    *name = *params = NULL;
    if (ekn_h5_get_string(&c->h5, "/optimizer/name", name, err)) return -1;
    if (ekn_h5_exists(&c->h5, "/optimizer/params") && ekn_h5_get_string(&c->h5, "/optimizer/params", params, err)) {
        free(*name);
        *name = NULL;
        return -1;
    }
    return 0;
}

int ekn_ckpt_read_optim(ekn_ckpt *c, ekn_optim *o, ekn_err *err) { return ekn_optim_load(o, &c->h5, err); }

/* A field of /state out of its range: one line naming it. */
static int bad_field(const char *path, const char *field, const char *why, ekn_err *err)
{
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': /state/%s %s", path, field, why);
}

static int check_rng(const char *path, const char *field, const uint64_t v[6], const ekn_rng *r, ekn_err *err)
{
    if (!(v[0] | v[1] | v[2] | v[3])) return bad_field(path, field, "is all zero (not a generator's state)", err);
    if (v[4] > 1) return bad_field(path, field, "has a spare flag other than 0 or 1", err);
    if (r->has_spare && !isfinite(r->spare)) return bad_field(path, field, "has a non-finite spare deviate", err);
    return 0;
}

/* Every field in the range a trainer can have written. */
static int check_state(const char *path, const ekn_ckpt_state *s, const uint64_t rd[6], const uint64_t rt[6],
                       ekn_err *err)
{
    if (s->step < 0) return bad_field(path, "step", "is negative", err);
    if (s->epoch < 0) return bad_field(path, "epoch", "is negative", err);
    if (s->perm_pos < 0) return bad_field(path, "perm_pos", "is negative", err);
    if (s->plateau_count < 0 || s->plateau_count > INT32_MAX)
        return bad_field(path, "plateau_count", "is out of range", err);
    if (!isfinite(s->lr) || s->lr < 0) return bad_field(path, "lr", "is not a finite rate >= 0", err);
    if (!isfinite(s->momentum)) return bad_field(path, "momentum", "is not finite", err);
    if (!isfinite(s->lr_scale) || s->lr_scale <= 0) return bad_field(path, "lr_scale", "is not a finite scale > 0", err);
    /* NaN: never set */
    if (isinf(s->control_lr) || s->control_lr < 0) return bad_field(path, "control_lr", "is not a rate >= 0", err);
    if (isinf(s->control_momentum)) return bad_field(path, "control_momentum", "is infinite", err);
    if (isnan(s->best_val) || s->best_val == -INFINITY) return bad_field(path, "best_val", "is NaN or -inf", err);
    if (isinf(s->loss_smooth)) return bad_field(path, "loss_smooth", "is infinite", err); /* NaN: no step yet */
    if (!isfinite(s->elapsed) || s->elapsed < 0) return bad_field(path, "elapsed", "is not a finite time >= 0", err);
    if (isnan(s->best_metric) || s->best_metric == -INFINITY) return bad_field(path, "best_metric", "is NaN or -inf", err);
    if (s->best_step < 0 || s->best_step > s->step) return bad_field(path, "best_step", "is not a step so far", err);
    if (s->since_best < 0) return bad_field(path, "since_best", "is negative", err);
    return check_rng(path, "rng_data", rd, &s->rng_data, err) || check_rng(path, "rng_train", rt, &s->rng_train, err)
               ? -1
               : 0;
}

int ekn_ckpt_read_state(ekn_ckpt *c, ekn_ckpt_state *s, ekn_err *err)
{
    ekn_h5 *h = &c->h5;
    uint64_t rd[6], rt[6];
    memset(s, 0, sizeof *s);
    int rc = ekn_h5_get_i64(h, "/state/step", &s->step, err) || ekn_h5_get_i64(h, "/state/epoch", &s->epoch, err) ||
             ekn_h5_get_i64(h, "/state/perm_pos", &s->perm_pos, err) ||
             ekn_h5_get_i64(h, "/state/plateau_count", &s->plateau_count, err) ||
             ekn_h5_get_f64(h, "/state/lr", &s->lr, err) || ekn_h5_get_f64(h, "/state/momentum", &s->momentum, err) ||
             ekn_h5_get_f64(h, "/state/lr_scale", &s->lr_scale, err) ||
             ekn_h5_get_f64(h, "/state/best_val", &s->best_val, err) ||
             ekn_h5_get_f64(h, "/state/loss_smooth", &s->loss_smooth, err) ||
             ekn_h5_get_f64(h, "/state/elapsed", &s->elapsed, err) ||
             ekn_h5_get(h, "/state/rng_data", EKN_U64, rd, 6, err) ||
             ekn_h5_get(h, "/state/rng_train", EKN_U64, rt, 6, err);
    /* checkpoints from before 0.1.0's control persistence lack these */
    s->control_lr = s->control_momentum = NAN;
    if (!rc && ekn_h5_exists(h, "/state/control_lr"))
        rc = ekn_h5_get_f64(h, "/state/control_lr", &s->control_lr, err) ||
             ekn_h5_get_f64(h, "/state/control_momentum", &s->control_momentum, err);
    /* and those from before --early-stop these */
    s->best_metric = INFINITY;
    if (!rc && ekn_h5_exists(h, "/state/best_metric"))
        rc = ekn_h5_get_f64(h, "/state/best_metric", &s->best_metric, err) ||
             ekn_h5_get_i64(h, "/state/best_step", &s->best_step, err) ||
             ekn_h5_get_i64(h, "/state/since_best", &s->since_best, err);
    if (rc) return -1;
    rng_unpack(&s->rng_data, rd);
    rng_unpack(&s->rng_train, rt);
    return check_state(c->h5.path, s, rd, rt, err);
}

int ekn_ckpt_read_perm(ekn_ckpt *c, uint32_t *perm, size_t n, ekn_err *err)
{
    if (!ekn_h5_exists(&c->h5, "/state/perm"))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no data order saved (was it trained in img-img mode?)", c->h5.path);
    if (ekn_h5_get(&c->h5, "/state/perm", EKN_U32, perm, n, err))
        return ekn_err_prefix(err, "the training data differs from the run being resumed");
    /* a permutation of 0..n-1: each index once */
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory checking the data order of '%s'", c->h5.path);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (perm[i] >= n)
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': /state/perm[%zu] is %lu, not an index of the %zu examples",
                             c->h5.path, i, (unsigned long)perm[i], n);
        else if (seen[perm[i]]++)
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': /state/perm holds %lu twice (not a permutation)", c->h5.path,
                             (unsigned long)perm[i]);
    }
    free(seen);
    return rc;
}

int ekn_ckpt_net_tensors(const ekn_net *net, ekn_net_tensor **out, ekn_err *err)
{
    for (int max = 64;; max *= 2) {
        ekn_net_tensor *t = malloc((size_t)max * sizeof *t);
        if (!t) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory listing the net's tensors");
        int n = ekn_net_tensors(net, t, max);
        if (n >= 0) {
            *out = t;
            return n;
        }
        free(t);
    }
}
