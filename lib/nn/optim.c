/* optim: the registry of optimisers, their key=value parameters and the
 * allocation of their state in the ops table's memory; the update rules
 * live in optim_*.c, their vector work in kernels/vec*. */
#include "optim.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ekn_optim_vt *const all[] = {&ekn_optim_sgd,   &ekn_optim_nesterov, &ekn_optim_rprop, &ekn_optim_cg,
                                          &ekn_optim_lbfgs, &ekn_optim_adam,     &ekn_optim_adamw};

const char *ekn_optim_names(void) { return "sgd|nesterov|rprop|cg|lbfgs|adam|adamw"; }

static const char *known_keys(const ekn_optim_vt *vt, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int k = 0; k < vt->nparam && len < cap; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", vt->params[k].key);
    if (!vt->nparam) snprintf(buf, cap, "none");
    return buf;
}

static int fail_create(ekn_optim *o, int rc)
{
    ekn_optim_free(o);
    return rc;
}

/* "key=value,key=value" into o->p, after the defaults. */
static int parse_params(ekn_optim *o, const char *text, ekn_err *err)
{
    const ekn_optim_vt *vt = o->vt;
    for (int k = 0; k < vt->nparam; k++) o->p[k] = vt->params[k].def;
    if (!text) return 0;
    const char *p = text;
    char keys[256];
    while (*p) {
        size_t klen = strcspn(p, "=,");
        if (p[klen] != '=')
            return ekn_err_set(err, EKN_EXIT_USAGE, "optimiser parameters must be KEY=VALUE pairs separated by commas, you specified '%s'",
                               text);
        int k = 0;
        while (k < vt->nparam && (strlen(vt->params[k].key) != klen || strncmp(vt->params[k].key, p, klen))) k++;
        if (k == vt->nparam)
            return ekn_err_set(err, EKN_EXIT_USAGE, "optimiser '%s' has no parameter '%.*s' (known: %s)", vt->name,
                               (int)klen, p, known_keys(vt, keys, sizeof keys));
        const ekn_optim_param *d = &vt->params[k];
        const char *v = p + klen + 1;
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        size_t vlen = strcspn(v, ",");
        if (end == v || end != v + vlen || errno || !isfinite(x) || x < d->min || x > d->max ||
            (d->integer && x != floor(x)))
            return ekn_err_set(err, EKN_EXIT_USAGE, "optimiser '%s': %s must be %s in [%g, %g], you specified '%.*s'",
                               vt->name, d->key, d->integer ? "an integer" : "a number", d->min, d->max, (int)vlen, v);
        o->p[k] = x;
        p = v + vlen;
        if (*p == ',') p++;
    }
    return 0;
}

/* One state or work vector of `floats` floats in ops memory; on failure the
 * error names the bytes (and, for a device, what the device said). */
static float *alloc_vector(const ekn_ops *ops, size_t floats, ekn_err *err)
{
    if (floats > SIZE_MAX / sizeof(float)) {
        ekn_err_set(err, EKN_EXIT_FAIL, "optimiser state of %zu floats is too large", floats);
        return NULL;
    }
    size_t bytes = (floats ? floats : 1) * sizeof(float);
    float *p = ops->alloc(bytes);
    if (p) return p;
    ekn_err why = {0};
    if (ops == ekn_ops_cuda() && ekn_cuda_last_error(&why) < 0)
        ekn_err_set(err, EKN_EXIT_FAIL, "out of %s memory for the optimiser state: %zu bytes (%s)", ops->name, bytes,
                    why.msg);
    else
        ekn_err_set(err, EKN_EXIT_FAIL, "out of %s memory for the optimiser state: %zu bytes", ops->name, bytes);
    return NULL;
}

/* count: NULL allocates; else nothing is allocated and *count gets the bytes it would take */
static int create(ekn_optim *o, const char *name, size_t n, const char *params, const ekn_ops *ops, double *count,
                  ekn_err *err)
{
    memset(o, 0, sizeof *o);
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
        if (strcmp(all[k]->name, name)) continue;
        o->vt = all[k];
        o->ops = ops;
        o->n = n;
        if (parse_params(o, params, err)) {
            o->vt = NULL;
            return -1;
        }
        for (int s = 0; s < o->vt->nstate; s++) {
            int rp = o->vt->state_rows_param[s];
            o->state_rows[s] = rp < 0 ? 1 : (size_t)o->p[rp];
            size_t rows = o->state_rows[s];
            if (n && rows > SIZE_MAX / n)
                return fail_create(o, ekn_err_set(err, EKN_EXIT_FAIL, "optimiser state of %zu x %zu floats is too large",
                                                  rows, n));
            if (count) *count += 4.0 * n * rows;
            else if (!(o->state[s] = alloc_vector(ops, n * rows, err))) return fail_create(o, -1);
        }
        for (int w = 0; w < o->vt->nwork; w++)
            if (count) *count += 4.0 * n;
            else if (!(o->work[w] = alloc_vector(ops, n, err))) return fail_create(o, -1);
        o->diag.step_size = o->diag.beta = NAN;
        return 0;
    }
    return ekn_err_set(err, EKN_EXIT_USAGE, "unknown optimiser '%s' (known: %s)", name, ekn_optim_names());
}

int ekn_optim_create_on(ekn_optim *o, const char *name, size_t n, const char *params, const ekn_ops *ops,
                        ekn_err *err)
{
    return create(o, name, n, params, ops, NULL, err);
}

int ekn_optim_bytes(const char *name, size_t n, const char *params, double *bytes, ekn_err *err)
{
    ekn_optim o;
    *bytes = 0;
    int rc = create(&o, name, n, params, ekn_ops_cpu(), bytes, err);
    memset(&o, 0, sizeof o); /* nothing was allocated */
    return rc;
}

int ekn_optim_create(ekn_optim *o, const char *name, size_t n, const char *params, ekn_err *err)
{
    return ekn_optim_create_on(o, name, n, params, ekn_ops_cpu(), err);
}

void ekn_optim_free(ekn_optim *o)
{
    if (o->ops) {
        for (int s = 0; s < EKN_OPTIM_MAX_STATE; s++) o->ops->free(o->state[s]);
        for (int w = 0; w < EKN_OPTIM_MAX_WORK; w++) o->ops->free(o->work[w]);
    }
    memset(o, 0, sizeof *o);
}

double ekn_optim_param_value(const ekn_optim *o, const char *key)
{
    for (int k = 0; o->vt && k < o->vt->nparam; k++)
        if (!strcmp(o->vt->params[k].key, key)) return o->p[k];
    return NAN;
}

double ekn_optim_dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

double ekn_optim_eval_decayed(ekn_optim *o, ekn_objective f, void *ctx, const float *theta, float *grad,
                              const float *decay, double lambda, double *data_loss)
{
    double loss = f(ctx, theta, grad);
    o->diag.evals++;
    if (data_loss) *data_loss = loss;
    if (lambda == 0) return loss;
    double pen = o->ops->vec->decay_penalty(o->n, theta, grad, decay, (float)lambda);
    return loss + 0.5 * pen;
}
