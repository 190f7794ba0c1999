/* train_ckpt: checkpoints (HDF5): the spec, the parameters by layer, the
 * optimiser's state and everything that decides the next step, written
 * atomically and read back for --resume and by ekn-predict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5.h"
#include "progress.h"
#include "train_internal.h"

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

static int save_params(ekn_h5 *h, ekn_net *net, ekn_err *err)
{
    char name[128];
    ekn_net_tensor t[EKN_NET_MAX_TENSORS];
    int n = ekn_net_tensors(net, t, EKN_NET_MAX_TENSORS);
    const float *theta = ekn_net_params_host(net), *state = ekn_net_state_host(net);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "/params/%s", t[i].name);
        const float *src = (t[i].state ? state : theta) + t[i].offset;
        if (ekn_h5_put(h, name, EKN_F32, t[i].rank, t[i].dims, src, err)) return -1;
    }
    return 0;
}

int ekn_trainer_save(ekn_trainer *tr, ekn_err *err)
{
    ekn_h5 h;
    if (ekn_h5_create(&h, tr->cfg.save_path, err)) return -1;
    uint64_t rd[6], rt[6];
    rng_pack(&tr->rng_data, rd);
    rng_pack(&tr->rng_train, rt);
    uint64_t six = 6;
    int rc = ekn_h5_put_string(&h, "/format", "ekn-checkpoint 1", err) ||
             ekn_h5_put_string(&h, "/spec", tr->spec.text, err) || save_params(&h, &tr->net, err) ||
             ekn_optim_save(&tr->opt, &h, err) ||
             ekn_h5_put_i64(&h, "/state/step", tr->step, err) || ekn_h5_put_i64(&h, "/state/epoch", tr->epoch, err) ||
             ekn_h5_put_i64(&h, "/state/perm_pos", (int64_t)tr->perm_pos, err) ||
             ekn_h5_put_i64(&h, "/state/plateau_count", tr->plateau_count, err) ||
             ekn_h5_put_f64(&h, "/state/lr", tr->lr, err) || ekn_h5_put_f64(&h, "/state/momentum", tr->momentum, err) ||
             ekn_h5_put_f64(&h, "/state/lr_scale", tr->lr_scale, err) ||
             ekn_h5_put_f64(&h, "/state/control_lr", tr->control_lr, err) ||
             ekn_h5_put_f64(&h, "/state/control_momentum", tr->control_momentum, err) ||
             ekn_h5_put_f64(&h, "/state/best_val", tr->best_val, err) ||
             ekn_h5_put_f64(&h, "/state/loss_smooth", tr->loss_smooth, err) ||
             ekn_h5_put_f64(&h, "/state/elapsed", tr->elapsed_before + (tr->run_start > 0 ? ekn_now() - tr->run_start : 0), err) ||
             ekn_h5_put(&h, "/state/rng_data", EKN_U64, 1, &six, rd, err) ||
             ekn_h5_put(&h, "/state/rng_train", EKN_U64, 1, &six, rt, err);
    if (!rc && tr->perm) {
        uint64_t pn = tr->train.n;
        rc = ekn_h5_put(&h, "/state/perm", EKN_U32, 1, &pn, tr->perm, err);
    }
    if (rc) {
        ekn_h5_abort(&h);
        return -1;
    }
    return ekn_h5_commit(&h, err);
}

int ekn_checkpoint_load_spec(const char *path, ekn_spec *spec, ekn_err *err)
{
    ekn_h5 h;
    char *text = NULL, *fmt = NULL;
    if (ekn_h5_open(&h, path, err)) return -1;
    int rc = ekn_h5_get_string(&h, "/format", &fmt, err);
    if (!rc && strncmp(fmt, "ekn-checkpoint 1", 16))
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an ekn checkpoint (format '%s')", path, fmt);
    if (!rc) rc = ekn_h5_get_string(&h, "/spec", &text, err);
    ekn_h5_close(&h);
    free(fmt);
    if (!rc) {
        char label[4200];
        snprintf(label, sizeof label, "%s:/spec", path);
        rc = ekn_spec_parse(spec, text, label, err);
    }
    free(text);
    return rc;
}

int ekn_checkpoint_load_params(const char *path, ekn_net *net, ekn_err *err)
{
    ekn_h5 h;
    if (ekn_h5_open(&h, path, err)) return -1;
    char name[128];
    int rc = 0;
    ekn_net_tensor t[EKN_NET_MAX_TENSORS];
    int n = ekn_net_tensors(net, t, EKN_NET_MAX_TENSORS);
    float *theta = ekn_net_params_host(net), *state = ekn_net_state_host(net);
    for (int i = 0; i < n && !rc; i++) {
        snprintf(name, sizeof name, "/params/%s", t[i].name);
        rc = ekn_h5_get(&h, name, EKN_F32, (t[i].state ? state : theta) + t[i].offset, t[i].count, err);
    }
    ekn_h5_close(&h);
    if (!rc) {
        ekn_net_params_commit(net);
        ekn_net_state_commit(net);
    }
    return rc;
}

int ekn_train_load_state(ekn_trainer *tr, const char *path, ekn_err *err)
{
    ekn_h5 h;
    if (ekn_h5_open(&h, path, err)) return -1;
    uint64_t rd[6], rt[6];
    int64_t perm_pos = 0, plateau = 0;
    int rc = ekn_h5_get_i64(&h, "/state/step", &tr->step, err) || ekn_h5_get_i64(&h, "/state/epoch", &tr->epoch, err) ||
             ekn_h5_get_i64(&h, "/state/perm_pos", &perm_pos, err) ||
             ekn_h5_get_i64(&h, "/state/plateau_count", &plateau, err) ||
             ekn_h5_get_f64(&h, "/state/lr", &tr->lr, err) || ekn_h5_get_f64(&h, "/state/momentum", &tr->momentum, err) ||
             ekn_h5_get_f64(&h, "/state/lr_scale", &tr->lr_scale, err) ||
             ekn_h5_get_f64(&h, "/state/best_val", &tr->best_val, err) ||
             ekn_h5_get_f64(&h, "/state/loss_smooth", &tr->loss_smooth, err) ||
             ekn_h5_get_f64(&h, "/state/elapsed", &tr->elapsed_before, err) ||
             ekn_h5_get(&h, "/state/rng_data", EKN_U64, rd, 6, err) ||
             ekn_h5_get(&h, "/state/rng_train", EKN_U64, rt, 6, err) ||
             ekn_optim_load(&tr->opt, &h, err);
    /* checkpoints from before 0.1.0's control persistence lack these */
    double clr = NAN, cmom = NAN;
    if (!rc && ekn_h5_exists(&h, "/state/control_lr"))
        rc = ekn_h5_get_f64(&h, "/state/control_lr", &clr, err) ||
             ekn_h5_get_f64(&h, "/state/control_momentum", &cmom, err);
    if (!rc) {
        double scale = tr->lr_scale;
        if (isfinite(clr)) {
            ekn_train_set_control_lr(tr, clr);
            ekn_warn("'%s': keeping the learning rate %g set through the control file", path, clr);
        }
        tr->lr_scale = scale;
        if (isfinite(cmom)) {
            ekn_train_set_control_momentum(tr, cmom);
            ekn_warn("'%s': keeping the momentum %g set through the control file", path, cmom);
        }
        tr->perm_pos = (uint64_t)perm_pos;
        tr->plateau_count = (int)plateau;
        rng_unpack(&tr->rng_data, rd);
        rng_unpack(&tr->rng_train, rt);
    }
    if (!rc && tr->perm) {
        if (!ekn_h5_exists(&h, "/state/perm"))
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no data order saved (was it trained in img-img mode?)", path);
        else if (ekn_h5_get(&h, "/state/perm", EKN_U32, tr->perm, tr->train.n, err))
            rc = ekn_err_prefix(err, "the training data differs from the run being resumed");
    }
    ekn_h5_close(&h);
    return rc;
}

