/* optim: the registry of optimisers, their key=value parameters and the
 * allocation of their state; the update rules live in optim_*.c. */
#include "optim.h"

#include <errno.h>
#include <math.h>
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

int ekn_optim_create(ekn_optim *o, const char *name, size_t n, const char *params, ekn_err *err)
{
    memset(o, 0, sizeof *o);
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
        if (strcmp(all[k]->name, name)) continue;
        o->vt = all[k];
        o->n = n;
        if (parse_params(o, params, err)) {
            o->vt = NULL;
            return -1;
        }
        for (int s = 0; s < o->vt->nstate; s++) {
            int rp = o->vt->state_rows_param[s];
            o->state_rows[s] = rp < 0 ? 1 : (size_t)o->p[rp];
            if (!(o->state[s] = calloc(n && o->state_rows[s] ? n * o->state_rows[s] : 1, sizeof(float)))) goto oom;
        }
        for (int w = 0; w < o->vt->nwork; w++)
            if (!(o->work[w] = calloc(n ? n : 1, sizeof(float)))) goto oom;
        o->diag.step_size = o->diag.beta = NAN;
        return 0;
    }
    return ekn_err_set(err, EKN_EXIT_USAGE, "unknown optimiser '%s' (known: %s)", name, ekn_optim_names());
oom:
    ekn_optim_free(o);
    return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the optimiser state");
}

void ekn_optim_free(ekn_optim *o)
{
    for (int s = 0; s < EKN_OPTIM_MAX_STATE; s++) free(o->state[s]);
    for (int w = 0; w < EKN_OPTIM_MAX_WORK; w++) free(o->work[w]);
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
    double pen = 0;
    const float lam = (float)lambda;
    for (size_t i = 0; i < o->n; i++) {
        float ld = lam * decay[i];
        pen += (double)ld * theta[i] * theta[i];
        grad[i] += ld * theta[i];
    }
    return loss + 0.5 * pen;
}
