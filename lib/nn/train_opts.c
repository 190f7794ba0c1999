/* ekn-train's options: the texts of the command line into the config. */
#include <string.h>

#include "train.h"

int ekn_train_opts_resolve(ekn_train_opts *o, ekn_err *err)
{
    ekn_train_config *c = &o->c;
    c->given = ekn_opt_given; /* a resume restores the checkpoint's settings but these */
    /* NULL: a resumed run goes on with the checkpoint's optimiser */
    if (c->resume_path && !o->optimizer_given) c->optimizer = NULL;
    c->monitor = o->monitor && !strcmp(o->monitor, "val_error") ? EKN_MONITOR_ERROR : EKN_MONITOR_LOSS;
    if (c->early_stop && !c->val_path)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--early-stop needs a validation stream (--val)");
    if (o->ema_given && !(c->ema < 1))
        return ekn_err_set(err, EKN_EXIT_USAGE, "--ema must be at least 0 and below 1, you specified %g", c->ema);
    c->ema_on = o->ema_given;
    if (o->lr_shape) c->lr_shape = ekn_shape_parse(o->lr_shape); /* a choice: always one of them */
    const char *input = o->input ? o->input : "auto";
    c->input_mode = !strcmp(input, "stream") ? EKN_INPUT_STREAM : !strcmp(input, "memory") ? EKN_INPUT_MEMORY : EKN_INPUT_AUTO;
    ekn_optim probe; /* parameters are usage errors, found before the data is read */
    if (c->optimizer && ekn_optim_create(&probe, c->optimizer, 0, c->optimizer_params, err)) {
        ekn_err_prefix(err, "--opt-param");
        err->code = EKN_EXIT_USAGE;
        return -1;
    }
    if (c->optimizer) ekn_optim_free(&probe);
    c->max_memory = o->max_mib * 1048576.0;
    if (o->patch.n) {
        for (int k = 0; k < 3; k++) c->patch[k] = 1;
        ekn_zyx_place(&o->patch, c->patch);
    }
    if (o->lr_schedule && ekn_schedule_parse(&c->lr_schedule, o->lr_schedule, "--lr-schedule", err)) return -1;
    if (o->momentum_schedule && ekn_schedule_parse(&c->momentum_schedule, o->momentum_schedule, "--momentum-schedule", err))
        return -1;
    for (int i = 0; i < c->momentum_schedule.n; i++)
        if (c->momentum_schedule.value[i] >= 1)
            return ekn_err_set(err, EKN_EXIT_USAGE, "--momentum-schedule values must be below 1, you specified %g",
                               c->momentum_schedule.value[i]);
    if (o->class_weights) {
        double w[EKN_MAX_CLASSES];
        int n = ekn_parse_float_list(o->class_weights, w, EKN_MAX_CLASSES, "--class-weights", err);
        if (n < 0) return -1;
        for (int k = 0; k < n; k++) {
            if (w[k] < 0)
                return ekn_err_set(err, EKN_EXIT_USAGE, "--class-weights must not be negative, you specified %g", w[k]);
            c->class_weights[k] = (float)w[k];
        }
        c->nclass_weights = n;
    }
    return 0;
}
