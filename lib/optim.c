#include "optim.h"

#include <stdlib.h>
#include <string.h>

static int sgd_step(ekn_optim *o, float *theta, float *grad, const float *decay, const ekn_hyper *h,
                    ekn_objective f, void *ctx, double *loss, ekn_err *err)
{
    (void)err;
    *loss = f(ctx, theta, grad);
    float *v = o->state[0];
    const float mu = (float)h->momentum, lr = (float)h->lr, wd = (float)h->weight_decay;
    for (size_t i = 0; i < o->n; i++) {
        v[i] = grad[i] + mu * v[i];
        theta[i] -= lr * (v[i] + wd * decay[i] * theta[i]);
    }
    return 0;
}

static const ekn_optim_vt sgd = {"sgd", 1, {"velocity"}, sgd_step};
static const ekn_optim_vt *const all[] = {&sgd};

const char *ekn_optim_names(void) { return "sgd"; }

int ekn_optim_create(ekn_optim *o, const char *name, size_t n, ekn_err *err)
{
    memset(o, 0, sizeof *o);
    for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
        if (strcmp(all[k]->name, name)) continue;
        o->vt = all[k];
        o->n = n;
        for (int s = 0; s < o->vt->nstate; s++) {
            if (!(o->state[s] = calloc(n ? n : 1, sizeof(float)))) {
                ekn_optim_free(o);
                return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the optimiser state");
            }
        }
        return 0;
    }
    return ekn_err_set(err, EKN_EXIT_USAGE, "unknown optimiser '%s' (known: %s)", name, ekn_optim_names());
}

void ekn_optim_free(ekn_optim *o)
{
    for (int s = 0; s < EKN_OPTIM_MAX_STATE; s++) free(o->state[s]);
    memset(o, 0, sizeof *o);
}
