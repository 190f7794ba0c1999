/* optim_ckpt: an optimiser's state in a checkpoint, under /optimizer:
 * name (string), params (the resolved key=value text, for the record), each
 * state vector as float32 (n, or rows x n), each scalar as a float64.
 * State vectors pass through one host buffer, so they may live on a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5.h"
#include "optim.h"

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
        rc = ekn_h5_put(h, name, EKN_F32, two ? 2 : 1, two ? dims : dims + 1, buf, err);
    }
    free(buf);
    if (rc) return -1;
    for (int k = 0; k < o->vt->nscalar; k++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->scalar_names[k]);
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
        o->ops->upload(o->state[s], buf, count * sizeof *buf);
    }
    free(buf);
    for (int k = 0; k < o->vt->nscalar; k++) {
        snprintf(name, sizeof name, "/optimizer/%s", o->vt->scalar_names[k]);
        if (ekn_h5_get_f64(h, name, &o->scalar[k], err)) return -1;
    }
    return 0;
}
