/* ekn-train: train a network given by a spec on a stream of examples. */
#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "device.h"
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

int main(int argc, char **argv)
{
    ekn_train_config c = {0};
    const char *spec = NULL, *val = NULL, *save = "model.h5", *resume = NULL, *log = NULL, *control = NULL;
    const char *device = "auto", *precision = "fp32";
    int nondeterministic = 0;
    const char *optimizer = "sgd", *opt_params = NULL, *input = "auto", *patch = NULL, *lr_sched = NULL, *mom_sched = NULL, *cw = NULL;
    int optimizer_given = 0;
    long batch = 64, steps = 0, epochs = 0, threads = 0, seed = 1, log_every = 10, val_every = 500;
    long save_every = 0, gain_every = 10, val_examples = 0, plateau = 0, lr_decay_every = 0;
    double lr = 0.01, momentum = 0.9, wd = 0, max_time = 0, lr_decay = 1, plateau_factor = 0.5;
    const ekn_option options[] = {
        {'s', "spec", EKN_OPT_STRING, &spec, "FILE", "network spec (ekn-spec(5)); with --resume the checkpoint's", 0, 0, NULL, 0, NULL},
        {0, "val", EKN_OPT_STRING, &val, "FILE", "validation stream", 0, 0, NULL, 0, NULL},
        {'o', "save", EKN_OPT_STRING, &save, "FILE", "checkpoint file (HDF5), written atomically", 0, 0, NULL, 0, NULL},
        {0, "resume", EKN_OPT_STRING, &resume, "FILE", "continue the run saved in this checkpoint", 0, 0, NULL, 0, NULL},
        {0, "log", EKN_OPT_STRING, &log, "FILE", "training log (TSV)", 0, 0, NULL, 0, NULL},
        {0, "control", EKN_OPT_STRING, &control, "FILE", "live control file: lr X, momentum X, optimizer NAME, save, stop", 0, 0, NULL, 0, NULL},
        {0, "optimizer", EKN_OPT_CHOICE, &optimizer, "NAME", "optimiser [sgd; with --resume the checkpoint's]", 0, 0, ekn_optim_names(), 0, &optimizer_given},
        {0, "opt-param", EKN_OPT_STRING, &opt_params, "KEY=V,...", "the optimiser's own parameters (ekn-train(1))", 0, 0, NULL, 0, NULL},
        {'b', "batch", EKN_OPT_INT, &batch, "N", "examples (img-img: patches) per step", 1, 1 << 20, NULL, 0, NULL},
        {0, "input", EKN_OPT_CHOICE, &input, "MODE", "auto: stream a pipe, hold a file in memory; memory; stream", 0, 0, "auto|memory|stream", 0, NULL},
        {0, "patch", EKN_OPT_STRING, &patch, "Z,Y,X", "img-img input patch size [the spec's]", 0, 0, NULL, 0, NULL},
        {'n', "steps", EKN_OPT_INT, &steps, "N", "stop after N steps in all (0: no limit)", 0, 1e15, NULL, 0, NULL},
        {0, "epochs", EKN_OPT_INT, &epochs, "N", "stop after N passes over the data (0: no limit)", 0, 1e9, NULL, 0, NULL},
        {0, "time", EKN_OPT_FLOAT, &max_time, "SECONDS", "stop after this much training time (0: no limit)", 0, 1e12, NULL, 0, NULL},
        {0, "lr", EKN_OPT_FLOAT, &lr, "RATE", "learning rate", 0, 1e6, NULL, EKN_OPTF_GT_MIN, NULL},
        {0, "lr-schedule", EKN_OPT_STRING, &lr_sched, "S:V,...", "learning rate from step S on", 0, 0, NULL, 0, NULL},
        {0, "lr-decay", EKN_OPT_FLOAT, &lr_decay, "F", "multiply the rate by F every --lr-decay-every steps", 0, 1, NULL, EKN_OPTF_GT_MIN, NULL},
        {0, "lr-decay-every", EKN_OPT_INT, &lr_decay_every, "K", "steps between decays (0: off)", 0, 1e15, NULL, 0, NULL},
        {0, "plateau", EKN_OPT_INT, &plateau, "N", "scale the rate by --plateau-factor after N validations without improvement (0: off)", 0, 1e9, NULL, 0, NULL},
        {0, "plateau-factor", EKN_OPT_FLOAT, &plateau_factor, "F", "reduction on a plateau", 0, 1, NULL, EKN_OPTF_GT_MIN, NULL},
        {'m', "momentum", EKN_OPT_FLOAT, &momentum, "MU", "momentum", 0, 0.999999, NULL, 0, NULL},
        {0, "momentum-schedule", EKN_OPT_STRING, &mom_sched, "S:V,...", "momentum from step S on", 0, 0, NULL, 0, NULL},
        {0, "weight-decay", EKN_OPT_FLOAT, &wd, "LAMBDA", "L2 weight decay (times each layer's decay)", 0, 1e3, NULL, 0, NULL},
        {0, "class-weights", EKN_OPT_STRING, &cw, "W,...", "weight of each class in the loss (not normalised)", 0, 0, NULL, 0, NULL},
        {0, "seed", EKN_OPT_INT, &seed, "N", "seed of every random choice", 0, 9e18, NULL, 0, NULL},
        {0, "device", EKN_OPT_STRING, &device, "DEV", "where to compute: cpu, cuda, cuda:N, or auto (a GPU when there is one) [auto]", 0, 0, NULL, 0, NULL},
        {0, "precision", EKN_OPT_CHOICE, &precision, "P", "GPU convolutions and matrix products: fp32, or tf32 on tensor cores (FP32 weights and sums)", 0, 0, "fp32|tf32", 0, NULL},
        {0, "nondeterministic", EKN_OPT_FLAG, &nondeterministic, NULL, "GPU: let cuDNN use faster algorithms whose sums vary from run to run", 0, 0, NULL, 0, NULL},
        {'j', "threads", EKN_OPT_INT, &threads, "N", "threads of the conv kernels and OpenBLAS (0: OpenBLAS's default)", 0, 1024, NULL, 0, NULL},
        {0, "log-every", EKN_OPT_INT, &log_every, "N", "log a row every N steps", 1, 1e15, NULL, 0, NULL},
        {0, "gain-every", EKN_OPT_INT, &gain_every, "N", "measure the loss on the same batch after the update every N steps (0: never)", 0, 1e15, NULL, 0, NULL},
        {0, "val-every", EKN_OPT_INT, &val_every, "N", "validate every N steps", 1, 1e15, NULL, 0, NULL},
        {0, "val-examples", EKN_OPT_INT, &val_examples, "M", "validate on M examples (img-img: patches; 0: all, or 64 patches)", 0, 1e12, NULL, 0, NULL},
        {0, "save-every", EKN_OPT_INT, &save_every, "N", "checkpoint every N steps (0: only at the end)", 0, 1e15, NULL, 0, NULL},
        {0},
    };
    const ekn_command cmd = {"ekn-train", "[options] --spec SPEC [TRAIN]",
                             "Train a network on a stream of examples (stdin when TRAIN is omitted).", options};
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!spec && !resume) ekn_usage_die(&cmd, "--spec is required (or --resume)");
    ekn_err err = {0};
    c.spec_path = spec;
    c.train_path = first < argc ? argv[first] : "-";
    c.val_path = val;
    c.save_path = save;
    c.resume_path = resume;
    c.log_path = log;
    c.control_path = control;
    /* NULL: a resumed run goes on with the checkpoint's optimiser */
    c.optimizer = optimizer_given || !resume ? optimizer : NULL;
    c.input_mode = !strcmp(input, "stream") ? EKN_INPUT_STREAM : !strcmp(input, "memory") ? EKN_INPUT_MEMORY : EKN_INPUT_AUTO;
    c.optimizer_params = opt_params;
    ekn_optim probe; /* parameters are usage errors, found before the data is read */
    if (c.optimizer && ekn_optim_create(&probe, optimizer, 0, opt_params, &err))
        ekn_usage_die(&cmd, "--opt-param: %s", err.msg);
    if (c.optimizer) ekn_optim_free(&probe);
    c.batch = batch;
    c.steps = steps;
    c.epochs = epochs;
    c.max_time = max_time;
    c.lr = lr;
    c.momentum = momentum;
    c.weight_decay = wd;
    c.lr_decay = lr_decay;
    c.lr_decay_every = lr_decay_every;
    c.plateau_patience = (int)plateau;
    c.plateau_factor = plateau_factor;
    c.seed = (uint64_t)seed;
    c.log_every = log_every;
    c.val_every = val_every;
    c.gain_every = gain_every;
    c.save_every = save_every;
    c.val_examples = val_examples;
    if (patch) {
        long p[3];
        int n = ekn_parse_int_list(patch, p, 3, 1, "--patch", &err);
        if (n < 0) ekn_die_err(&err);
        for (int k = 0; k < n; k++) c.patch[3 - n + k] = (int)p[k];
        for (int k = 0; k < 3 - n; k++) c.patch[k] = 1;
    }
    if (lr_sched && ekn_schedule_parse(&c.lr_schedule, lr_sched, "--lr-schedule", &err)) ekn_die_err(&err);
    if (mom_sched && ekn_schedule_parse(&c.momentum_schedule, mom_sched, "--momentum-schedule", &err)) ekn_die_err(&err);
    for (int i = 0; i < c.momentum_schedule.n; i++)
        if (c.momentum_schedule.value[i] >= 1)
            ekn_usage_die(&cmd, "--momentum-schedule values must be below 1, you specified %g", c.momentum_schedule.value[i]);
    if (cw) {
        double w[EKN_MAX_CLASSES];
        int n = ekn_parse_float_list(cw, w, EKN_MAX_CLASSES, "--class-weights", &err);
        if (n < 0) ekn_die_err(&err);
        for (int k = 0; k < n; k++) {
            if (w[k] < 0) ekn_usage_die(&cmd, "--class-weights must not be negative, you specified %g", w[k]);
            c.class_weights[k] = (float)w[k];
        }
        c.nclass_weights = n;
    }
    if (threads) openblas_set_num_threads((int)threads);
    if (ekn_device_ops(device, precision, !nondeterministic, &c.ops, &err)) ekn_die_err(&err);

    ekn_trainer tr;
    if (ekn_trainer_init(&tr, &c, &err)) {
        ekn_trainer_free(&tr);
        ekn_die_err(&err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_save;
    sigaction(SIGUSR1, &sa, NULL);
    tr.stop_flag = &stop_flag;
    tr.save_flag = &save_flag;
    int rc = ekn_trainer_run(&tr, &err);
    ekn_trainer_free(&tr);
    if (rc) ekn_die_err(&err);
    if (stop_signal) {
        ekn_warn("stopped by signal %d; checkpoint '%s' saved", (int)stop_signal, save);
        return 128 + stop_signal;
    }
    return EKN_EXIT_OK;
}
