/* ekn-train: train a network given by a spec on a stream of examples. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "dist.h"
#include "train.h"

static volatile int stop_flag, save_flag;
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    /* a second signal ends the run at once; a checkpoint being written is
     * removed (ekn_run_cleanups only unlinks registered temp files) */
    if (stop_flag) {
        ekn_run_cleanups();
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_flag = 1;
    stop_signal = sig;
}

static void on_save(int sig)
{
    (void)sig;
    save_flag = 1;
}

static ekn_train_opts o = {
    .c = {.save_path = "model.h5", .optimizer = "sgd", .batch = 64, .lr = 0.01, .momentum = 0.9, .lr_decay = 1,
          .plateau_factor = 0.5, .onecycle_pct = 0.3,
          .onecycle_div = 25, .onecycle_momentum = 0.85, .seed = 1, .log_every = 10, .val_every = 500, .gain_every = 10},
    .input = "auto",
    .dev = EKN_DEVICE_OPTS_INIT,
};

int main(int argc, char **argv)
{
    ekn_train_config *c = &o.c;
    const ekn_option options[] = {
        OPT_STRING('s', "spec", &c->spec_path, "FILE",
                   "network spec (ekn-spec(5)); required unless --resume gives the one in the checkpoint"),
        OPT_STRING(0, "val", &c->val_path, "FILE", "validation stream"),
        OPT_STRING('o', "save", &c->save_path, "FILE", "checkpoint file (HDF5), written atomically"),
        OPT_STRING(0, "resume", &c->resume_path, "FILE", "continue the run saved in this checkpoint"),
        OPT_STRING(0, "log", &c->log_path, "FILE", "training log (TSV)"),
        OPT_STRING(0, "control", &c->control_path, "FILE",
                   "live control file: lr X, momentum X, optimizer NAME, save, stop"),
        OPT_CHOICE(0, "optimizer", &c->optimizer, "NAME", "optimiser [sgd; with --resume the checkpoint's]",
                   ekn_optim_names(), .flags = EKN_OPTF_OWN_DEFAULT, .given = &o.optimizer_given),
        OPT_STRING(0, "opt-param", &c->optimizer_params, "KEY=V,...", "the optimiser's own parameters (ekn-train(1))"),
        OPT_INT('b', "batch", &c->batch, "N", "examples (img-img: patches) per step", 1, 1 << 20),
        OPT_CHOICE(0, "input", &o.input, "MODE", "auto: stream a pipe, hold a file in memory; memory; stream",
                   "auto|memory|stream"),
        OPT_ZYX(0, "patch", &o.patch, "Z,Y,X", "img-img input patch size [the spec's]", 1, EKN_ZYX_MAX),
        OPT_INT('n', "steps", &c->steps, "N", "stop after N steps in all (0: no limit)", 0, 1e15),
        OPT_INT(0, "epochs", &c->epochs, "N", "stop after N passes over the data (0: no limit)", 0, 1e9),
        OPT_FLOAT(0, "time", &c->max_time, "SECONDS", "stop after this much training time (0: no limit)", 0, 1e12),
        EKN_OPT_ROW_LR(&c->lr), /* the control file's "lr" is checked by the same row */
        OPT_STRING(0, "lr-schedule", &o.lr_schedule, "S:V,...", "learning rate from step S on"),
        OPT_FLOAT(0, "lr-decay", &c->lr_decay, "F", "multiply the rate by F every --lr-decay-every steps", 0, 1,
                  .flags = EKN_OPTF_GT_MIN),
        OPT_INT(0, "lr-decay-every", &c->lr_decay_every, "K", "steps between decays (0: off)", 0, 1e15),
        OPT_CHOICE(0, "lr-shape", &o.lr_shape, "SHAPE",
                   "the rate's course over the budget: constant, cosine (to --lr-floor) or onecycle [constant]",
                   "constant|cosine|onecycle", .flags = EKN_OPTF_OWN_DEFAULT),
        OPT_INT(0, "warmup", &c->warmup, "N", "raise the rate linearly from --lr/N to --lr over the first N steps", 0,
                1e15),
        OPT_FLOAT(0, "lr-floor", &c->lr_floor, "RATE", "the rate cosine and onecycle end at", 0, 1e6),
        OPT_FLOAT(0, "onecycle-pct", &c->onecycle_pct, "P", "onecycle: the fraction of the budget the rate rises", 0,
                  1, .flags = EKN_OPTF_GT_MIN),
        OPT_FLOAT(0, "onecycle-div", &c->onecycle_div, "D", "onecycle: the rate starts at --lr/D", 1, 1e9),
        OPT_FLOAT(0, "onecycle-momentum", &c->onecycle_momentum, "M",
                  "onecycle: the momentum at the peak rate (--momentum is the top)", 0, 0.999999),
        OPT_INT(0, "plateau", &c->plateau_patience, "N",
                "scale the rate by --plateau-factor after N validations without improvement (0: off)", 0, 1e9),
        OPT_FLOAT(0, "plateau-factor", &c->plateau_factor, "F", "reduction on a plateau", 0, 1,
                  .flags = EKN_OPTF_GT_MIN),
        OPT_INT(0, "early-stop", &c->early_stop, "N",
                "stop after N validations without a better --monitor value (0: off); the best is kept as FILE-best.h5",
                0, 1e15),
        OPT_CHOICE(0, "monitor", &o.monitor, "WHAT", "what validation improves: val_loss or val_error",
                   "val_loss|val_error"),
        EKN_OPT_ROW_MOMENTUM(&c->momentum),
        OPT_STRING(0, "momentum-schedule", &o.momentum_schedule, "S:V,...", "momentum from step S on"),
        OPT_FLOAT(0, "weight-decay", &c->weight_decay, "LAMBDA", "L2 weight decay (times each layer's decay)", 0, 1e3),
        OPT_STRING(0, "class-weights", &o.class_weights, "W,...", "weight of each class in the loss (not normalised)"),
        OPT_INT(0, "seed", &c->seed, "N", "seed of every random choice", 0, 9e18),
        EKN_DEVICE_OPTIONS(&o.dev),
        OPT_FLOAT(0, "max-memory", &o.max_mib, "MIB",
                  "refuse a run whose network, optimiser and batch need more [the available memory; a GPU: none]", 1,
                  1e12, .flags = EKN_OPTF_OWN_DEFAULT),
        OPT_FLOAT(0, "ema", &c->ema, "DECAY",
                  "keep an exponential moving average of the parameters, 0 <= DECAY < 1, saved as FILE-ema.h5 [off]", 0,
                  1, .flags = EKN_OPTF_OWN_DEFAULT, .given = &o.ema_given),
        OPT_INT(0, "average", &c->average, "K",
                "save the mean of the last K --save-every checkpoints as FILE-avg.h5 (0: off)", 0, 1e6),
        OPT_INT(0, "log-every", &c->log_every, "N", "log a row every N steps", 1, 1e15),
        OPT_INT(0, "gain-every", &c->gain_every, "N",
                "measure the loss on the same batch after the update every N steps (0: never)", 0, 1e15),
        OPT_INT(0, "val-every", &c->val_every, "N", "validate every N steps", 1, 1e15),
        OPT_INT(0, "val-examples", &c->val_examples, "M",
                "validate on M examples (img-img: patches; 0: all, or 64 patches)", 0, 1e12),
        OPT_INT(0, "save-every", &c->save_every, "N", "checkpoint every N steps (0: only at the end)", 0, 1e15),
        OPT_END(),
    };
    const ekn_command cmd = {"ekn-train", "[options] --spec SPEC [TRAIN]",
                             "Train a network on a stream of examples (stdin when TRAIN is omitted).", options};
    int first = ekn_cmd_start(&cmd, argc, argv);
    /* SIGUSR1's default action ends the process: a "save now" sent while
     * the data loads must not kill the run, so it is caught from here on
     * (a checkpoint follows at the first step).  SIGTERM and SIGINT keep
     * ekn_cmd_start's handlers until training starts: there is nothing to
     * save before, and a load blocked on a pipe must still end at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_save;
    sigaction(SIGUSR1, &sa, NULL);
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!c->spec_path && !c->resume_path) ekn_usage_die(&cmd, "--spec is required (or --resume)");
    c->train_path = first < argc ? argv[first] : "-";
    ekn_err err = {0};
    /* under mpirun: one rank of a data-parallel run (dist.h); an error of
     * any rank from here on ends the whole job */
    if (ekn_dist_init(&argc, &argv, &err)) ekn_die_err(&err);
    if (ekn_train_opts_resolve(&o, &err)) ekn_usage_die(&cmd, "%s", err.msg);
    if (ekn_device_opts_apply(&o.dev, &c->ops, &err)) ekn_die_err(&err);

    ekn_trainer tr;
    if (ekn_trainer_init(&tr, c, &err)) {
        ekn_trainer_free(&tr);
        ekn_die_err(&err);
    }
    tr.stop_flag = &stop_flag;
    tr.save_flag = &save_flag;
    sa.sa_flags = 0;
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = ekn_trainer_run(&tr, &err);
    ekn_trainer_free(&tr);
    if (rc) ekn_die_err(&err);
    ekn_dist_finalize();
    if (stop_signal) {
        ekn_warn("stopped by signal %d; checkpoint '%s' saved", (int)stop_signal, c->save_path);
        return 128 + stop_signal;
    }
    return EKN_EXIT_OK;
}
