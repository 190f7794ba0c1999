#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "dist.h"
#include "memlimit.h"
#include "progress.h"
#include "train_internal.h"


/* ---- schedules ------------------------------------------------------------ */

int ekn_schedule_parse(ekn_schedule *s, const char *text, const char *what, ekn_err *err)
{
    memset(s, 0, sizeof *s);
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long step = strtoll(p, &end, 10);
        if (end == p || *end != ':' || step < 0 || errno) goto bad;
        p = end + 1;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0) goto bad;
        if (s->n >= EKN_MAX_SCHEDULE)
            return ekn_err_set(err, EKN_EXIT_USAGE, "%s has more than %d entries", what, EKN_MAX_SCHEDULE);
        /* insertion keeps the list sorted whatever order the user wrote */
        int i = s->n++;
        while (i > 0 && s->step[i - 1] > step) {
            s->step[i] = s->step[i - 1];
            s->value[i] = s->value[i - 1];
            i--;
        }
        if (i > 0 && s->step[i - 1] == step)
            return ekn_err_set(err, EKN_EXIT_USAGE, "%s gives step %lld twice", what, step);
        s->step[i] = step;
        s->value[i] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    return 0;
bad:
    return ekn_err_set(err, EKN_EXIT_USAGE,
                       "%s must be STEP:VALUE pairs separated by commas (e.g. 0:0.1,5000:0.01), you specified '%s'",
                       what, text);
}

double ekn_schedule_at(const ekn_schedule *s, int64_t step, double fallback)
{
    double v = fallback;
    for (int i = 0; i < s->n && s->step[i] <= step; i++) v = s->value[i];
    return v;
}

int ekn_train_check_shape(const ekn_train_config *c, ekn_err *err)
{
    if (c->lr_shape == EKN_SHAPE_CONSTANT) return 0;
    const char *name = ekn_shape_name(c->lr_shape);
    if (c->lr_schedule.n)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--lr-shape %s and --lr-schedule both set the rate's course; give one",
                           name);
    if (c->lr_decay != 1 && c->lr_decay_every > 0)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--lr-shape %s and --lr-decay both set the rate's course; give one",
                           name);
    if (!c->steps && !c->epochs && !(c->max_time > 0))
        return ekn_err_set(err, EKN_EXIT_USAGE, "--lr-shape %s needs a budget: --steps, --epochs or --time", name);
    if (c->lr_floor > c->lr)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--lr-floor must not be above --lr (%g), you specified %g", c->lr,
                           c->lr_floor);
    if (c->lr_shape != EKN_SHAPE_ONECYCLE) return 0;
    if (c->warmup)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "--lr-shape onecycle warms up by itself (--onecycle-pct); --warmup contradicts it");
    if (c->momentum_schedule.n)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "--lr-shape onecycle and --momentum-schedule both set the momentum's course; give one");
    if (!(c->onecycle_pct > 0 && c->onecycle_pct < 1))
        return ekn_err_set(err, EKN_EXIT_USAGE, "--onecycle-pct must be above 0 and below 1, you specified %g",
                           c->onecycle_pct);
    if (!(c->onecycle_div >= 1))
        return ekn_err_set(err, EKN_EXIT_USAGE, "--onecycle-div must be at least 1, you specified %g", c->onecycle_div);
    if (c->onecycle_momentum > c->momentum)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "--onecycle-momentum must not be above --momentum (%g, the cycle's top), you specified %g",
                           c->momentum, c->onecycle_momentum);
    return 0;
}

/* ---- loss ----------------------------------------------------------------- */

/* Loss of the net's last output for n examples x of labels y / targets t
 * (an autoencoder's, 'target = input', are x); writes dL/dout (fused
 * through a softmax output, and dL/dlogits for a sigmoid output, whose
 * losses read the last layer's logits) into dout.  The spec's loss picks
 * the kernel; nll and mse are the defaults. */
static double batch_loss(ekn_trainer *tr, const float *x, const float *out, int n, const int32_t *y, const float *t,
                         const float *vw, const uint8_t *labelled, const uint8_t *absent, float *dout, long *correct,
                         long *counted, double *count)
{
    ekn_net *net = &tr->net;
    const ekn_ops *ops = net->ops;
    const ekn_spec *sp = &tr->spec;
    const float *cw = tr->cfg.nclass_weights ? tr->dev_cw : NULL;
    if (sp->target_input) t = x;
    if (net->classes) {
        ekn_nll_args a = {.labels = y, .class_w = cw, .labelled = labelled, .absent = absent, .voxel_w = vw};
        double loss;
        if (sp->loss == EKN_LOSS_FOCAL)
            loss = ops->softmax_focal(n, net->classes, net->out_spatial, out, &a, sp->gamma, dout, count);
        else if (sp->loss == EKN_LOSS_DICE)
            loss = ops->softmax_dice(n, net->classes, net->out_spatial, out, &a, EKN_DICE_EPS, dout, count);
        else
            loss = ops->softmax_nll(n, net->classes, net->out_spatial, out, &a, dout, count);
        if (correct) ops->argmax_count(n, net->classes, net->out_spatial, out, y, correct, counted);
        return loss;
    }
    if (correct) *correct = *counted = 0;
    if (ekn_spec_sigmoid(sp)) {
        const float *z = net->layers[net->nlayers - 1].z;
        ekn_bce_args b = {.t = t, .class_w = cw, .pos_w = tr->dev_pw, .voxel_w = vw};
        if (sp->loss == EKN_LOSS_DICE)
            return ops->sigmoid_dice(n, net->out_c, net->out_spatial, z, &b, EKN_DICE_EPS, dout, count);
        return ops->bce(n, net->out_c, net->out_spatial, z, &b, dout, count);
    }
    if (vw) return ops->mse_w(n, net->out_c, net->out_spatial, out, t, vw, dout);
    return ops->mse((size_t)n * net->out_size, out, t, dout);
}

/* The MSE's count of the current batch (its finite targets; the inputs of
 * 'target = input'), from the host copy tr->cur. */
static double mse_count(const ekn_trainer *tr)
{
    const ekn_dataset *c = tr->cur;
    const float *t = tr->spec.target_input ? c->x : c->t;
    size_t m = (size_t)tr->cur_n * tr->net.out_size, cnt = 0;
    for (size_t i = 0; i < m; i++) cnt += isfinite(t[i]) ? 1 : 0;
    return (double)cnt;
}

/* What a rank's loss is the mean over: the loss kernel's count (classifiers and sigmoid
 * outputs: their terms, or the sums of their voxel weights), else the finite targets. */
static double step_count(const ekn_trainer *tr, double count)
{
    return tr->net.classes || ekn_spec_sigmoid(&tr->spec) ? count : mse_count(tr);
}

/* ---- data-parallel steps (lib/core/dist.h) ---------------------------------
 * Each rank's loss is the mean over its own count (labelled voxels, finite
 * targets) and its gradient that mean's.  The step's are the means over the
 * counts of all ranks, as one process with the whole batch computes them:
 * rank r contributes count_r * loss_r and count_r * grad_r to rank-order
 * sums, which are divided by the summed count. */

/* The global loss of this rank's (loss, count); on every rank. -1 on an MPI error. */
static int reduce_loss(double *loss, double count, ekn_err *err)
{
    double v[2] = {*loss * count, count};
    if (ekn_dist_sum_f64(v, 2, err)) return -1;
    *loss = v[1] > 0 ? v[0] / v[1] : 0;
    return 0;
}

/* The objective's reduction: the gradient in net->grad, the loss, and on a
 * step's first evaluation the counts the log shows (train_err, mean_label,
 * examples).  A failed reduction is kept in tr->dist_err, which the loop
 * reports after the step, and makes the loss NaN (later calls do nothing). */
static double reduce_step(ekn_trainer *tr, double loss, double count, int first)
{
    ekn_net *net = &tr->net;
    const ekn_ops *ops = net->ops;
    size_t n = net->nparams;
    if (tr->dist_err.code) return NAN;
    double t0 = ekn_now();
    float *g = ops->host ? net->grad : tr->host_grad;
    if (!ops->host) ops->download(g, net->grad, n * sizeof *g);
    float c = (float)count;
    for (size_t i = 0; i < n; i++) g[i] *= c;
    double v[7] = {loss * count, count, (double)tr->correct, (double)tr->counted, (double)tr->cur_n, tr->label_sum,
                   tr->label_cnt};
    if (ekn_dist_sum_f32(g, n, &tr->dist_err) || ekn_dist_sum_f64(v, first ? 7 : 2, &tr->dist_err)) return NAN;
    float inv = v[1] > 0 ? (float)(1.0 / v[1]) : 0.0f;
    for (size_t i = 0; i < n; i++) g[i] *= inv;
    if (!ops->host) ops->upload(net->grad, g, n * sizeof *g);
    tr->dist_seconds += ekn_now() - t0;
    if (first) {
        tr->correct = (long)v[2];
        tr->counted = (long)v[3];
        tr->step_n = v[4];
        tr->mean_label = v[6] > 0 ? v[5] / v[6] : NAN;
    }
    return v[1] > 0 ? v[0] / v[1] : 0;
}

static double objective(void *ctx, const float *theta, float *grad)
{
    ekn_trainer *tr = ctx;
    ekn_net *net = &tr->net;
    if (theta != net->theta) net->ops->copy(net->theta, theta, net->nparams * sizeof(float));
    ekn_net_zero_grad(net);
    /* One dropout mask and input noise per step, so the line searches of cg
     * and lbfgs see one function of theta; train_err is measured before the
     * update, at the step's first evaluation. */
    int first = tr->opt.diag.evals == 0;
    ekn_rng *rng = &tr->rng_train;
    if (tr->nranks > 1) {
        /* each rank its own masks and noise, from a stream seeded by one
         * draw of the common one per step (so checkpoints, which keep the
         * common one, stay rank-independent); every evaluation replays it */
        if (first) {
            uint64_t s = ekn_rng_u64(&tr->rng_train);
            ekn_rng_seed(&tr->rng_rank_step, s, (uint64_t)RNG_RANK + (uint64_t)tr->rank);
        }
        tr->rng_rank = tr->rng_rank_step;
        rng = &tr->rng_rank;
    } else if (first) {
        tr->rng_step = tr->rng_train;
    } else {
        tr->rng_train = tr->rng_step;
    }
    const ekn_dataset_dev *b = &tr->dev;
    const float *out = ekn_net_forward(net, b->x, tr->cur_n, 1, rng);
    double count = 0;
    double loss = batch_loss(tr, b->x, out, tr->cur_n, b->y, b->t, b->w, b->labelled, b->absent, tr->dout,
                             first ? &tr->correct : NULL, first ? &tr->counted : NULL, &count);
    ekn_net_backward(net, tr->cur_n, tr->dout);
    if (tr->nranks > 1) loss = reduce_step(tr, loss, step_count(tr, count), first);
    if (grad != net->grad) net->ops->copy(grad, net->grad, net->nparams * sizeof(float));
    return loss;
}

/* Deterministic loss (no dropout, no noise) of the current batch (over all ranks). */
static double batch_loss_eval(ekn_trainer *tr)
{
    const ekn_dataset_dev *b = &tr->dev;
    const float *out = ekn_net_forward(&tr->net, b->x, tr->cur_n, 0, NULL);
    double count = 0;
    double loss = batch_loss(tr, b->x, out, tr->cur_n, b->y, b->t, b->w, b->labelled, b->absent, tr->gtmp, NULL, NULL,
                             &count);
    if (tr->nranks > 1 && !tr->dist_err.code && reduce_loss(&loss, step_count(tr, count), &tr->dist_err))
        return NAN;
    return loss;
}

/* ---- validation ----------------------------------------------------------- */

typedef struct eval_result {
    double loss, err;
    long *confusion; /* classes x classes, [label][predicted] */
} eval_result;

/* Scores the first n examples of v (the net's layout), a batch at a time
 * through the step's mirror, which is free between steps.  With several
 * ranks each scores its slice of the n and the sums are reduced. */
static int evaluate(ekn_trainer *tr, const ekn_dataset *v, size_t n, eval_result *r, ekn_err *err)
{
    ekn_net *net = &tr->net;
    int B = (int)tr->cfg.batch, C = net->classes;
    size_t ls = v->lab_size;
    const int32_t *y = v->y;
    double loss_sum = 0, weight = 0;
    long correct = 0, counted = 0;
    const ekn_ops *ops = net->ops;
    ekn_dataset_dev *b = &tr->dev;
    size_t lo = 0, hi = n;
    if (tr->nranks > 1) ekn_dist_slice(n, tr->rank, tr->nranks, &lo, &hi);
    for (size_t i = lo; i < hi; i += B) {
        int m = (int)(hi - i < (size_t)B ? hi - i : (size_t)B);
        ekn_dataset_dev_put(b, v, i, (size_t)m);
        const float *out = ekn_net_forward(net, b->x, m, 0, NULL);
        long c = 0, k = 0;
        /* validation scores the dense labels; lazy masks only shape the training loss */
        double l = batch_loss(tr, b->x, out, m, b->y, b->t, b->w, NULL, NULL, tr->gtmp, &c, &k, NULL);
        if (C && r->confusion && !ops->host) {
            ops->download(tr->host_out, out, (size_t)m * net->out_size * sizeof *out);
            out = tr->host_out;
        }
        double w = C ? (double)k : (double)m;
        loss_sum += l * w;
        weight += w;
        correct += c;
        counted += k;
        if (C && r->confusion) {
            for (int e = 0; e < m; e++)
                for (size_t s = 0; s < net->out_spatial; s++) {
                    int lab = y[(i + e) * ls + s];
                    if (lab < 0 || lab >= C) continue;
                    int best = 0;
                    for (int cc = 1; cc < C; cc++)
                        if (out[((size_t)e * C + cc) * net->out_spatial + s] >
                            out[((size_t)e * C + best) * net->out_spatial + s])
                            best = cc;
                    r->confusion[lab * C + best]++;
                }
        }
    }
    if (tr->nranks > 1) {
        size_t nc = C && r->confusion ? (size_t)C * C : 0;
        double *sum = malloc((4 + nc) * sizeof *sum);
        if (!sum) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for validation");
        sum[0] = loss_sum, sum[1] = weight, sum[2] = (double)correct, sum[3] = (double)counted;
        for (size_t i = 0; i < nc; i++) sum[4 + i] = (double)r->confusion[i];
        int rc = ekn_dist_sum_f64(sum, 4 + nc, err);
        loss_sum = sum[0], weight = sum[1], correct = (long)sum[2], counted = (long)sum[3];
        for (size_t i = 0; i < nc; i++) r->confusion[i] = (long)sum[4 + i];
        free(sum);
        if (rc) return -1;
    }
    r->loss = weight ? loss_sum / weight : NAN;
    r->err = counted ? 1.0 - (double)correct / counted : NAN;
    return 0;
}

/* Rates set through the control file replace the command line's and its
 * schedules, and checkpoints keep them, so a resumed run goes on with them. */
void ekn_train_set_control_lr(ekn_trainer *tr, double v)
{
    tr->control_lr = v;
    tr->cfg.lr = v;
    tr->cfg.lr_schedule.n = 0;
    tr->cfg.lr_decay = 1;
    tr->cfg.lr_shape = EKN_SHAPE_CONSTANT; /* and no shape nor warm-up */
    tr->cfg.warmup = 0;
    tr->lr_scale = 1;
}

void ekn_train_set_control_momentum(ekn_trainer *tr, double v)
{
    tr->control_momentum = v;
    tr->cfg.momentum = v;
    tr->cfg.momentum_schedule.n = 0;
    tr->cfg.onecycle_momentum = v; /* a one-cycle's momentum stays at v */
}

/* ---- setup ---------------------------------------------------------------- */

/* img-img: the input patch is --patch, else the spec's shape, else the
 * largest valid size that fits the data. */
static int choose_input_shape(ekn_trainer *tr, int shape[3], ekn_err *err)
{
    const ekn_dataset *d = &tr->train;
    const ekn_spec *s = &tr->spec;
    if (s->mode == EKN_MODE_VECT_SCALAR) {
        /* an MLP sees each example as one flat feature vector */
        ekn_dataset *dm = &tr->train;
        dm->shape[2] = (int)dm->ex_size;
        dm->shape[0] = dm->shape[1] = dm->c = 1;
        dm->flat = 1;
        if (tr->cfg.val_path) {
            tr->val.shape[2] = (int)tr->val.ex_size;
            tr->val.shape[0] = tr->val.shape[1] = tr->val.c = 1;
        }
    }
    if (s->mode == EKN_MODE_IMG_SCALAR && s->has_shape && memcmp(s->shape, d->shape, sizeof s->shape))
        return ekn_err_set(err, EKN_EXIT_SPEC, "%s: the spec's input is %dx%dx%d, '%s' has examples of %dx%dx%d", s->file,
                           s->shape[0], s->shape[1], s->shape[2], d->source, d->shape[0], d->shape[1], d->shape[2]);
    if (s->mode != EKN_MODE_IMG_IMG) {
        memcpy(shape, d->shape, 3 * sizeof *shape);
        if (s->mode == EKN_MODE_VECT_SCALAR && s->has_shape && s->shape[2] != d->shape[2])
            return ekn_err_set(err, EKN_EXIT_SPEC, "%s: the spec expects %d features, '%s' has %d", s->file,
                               s->shape[2], d->source, d->shape[2]);
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        if (tr->cfg.patch[k]) shape[k] = tr->cfg.patch[k];
        else if (s->has_shape) shape[k] = s->shape[k];
        else {
            int v = ekn_calc_nearest(s, k, 0, d->shape[k], err);
            if (v < 0) return -1;
            shape[k] = v;
        }
        if (shape[k] > d->shape[k])
            return ekn_err_set(err, EKN_EXIT_SPEC, "input patch %d in axis %c is larger than the data (%d) in '%s'",
                               shape[k], "ZYX"[k], d->shape[k], d->source);
    }
    return 0;
}

static int check_labels(ekn_trainer *tr, const ekn_dataset *d, ekn_err *err)
{
    const ekn_net *net = &tr->net;
    if (net->classes && !d->has_labels)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': the network classifies (softmax) but the data has no 'label' records",
                           d->source);
    if (tr->spec.target_input) {
        if (net->out_size != net->in_size)
            return ekn_err_set(err, EKN_EXIT_SPEC, "%s: 'target = input' needs as many outputs as inputs, not %zu and %zu",
                               tr->spec.file, net->out_size, net->in_size);
        return 0;
    }
    if (!net->classes && !d->has_targets)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': the network %s but the data has no 'target' records", d->source,
                           ekn_spec_sigmoid(&tr->spec) ? "has sigmoid outputs (float targets in [0,1])"
                                                       : "regresses (linear output)");
    if (net->classes && d->classes > net->classes)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s' has %d classes but the network outputs %d", d->source, d->classes,
                           net->classes);
    if (d->c != net->in_c)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s' has %d channels but the spec expects %d", d->source, d->c, net->in_c);
    /* data-parallel steps average the ranks' losses by their counts: right for means over terms */
    if (tr->nranks > 1 && tr->spec.loss == EKN_LOSS_DICE)
        return ekn_err_set(err, EKN_EXIT_USAGE, "loss = dice is not a mean over voxels, so %d processes cannot share "
                           "its batch; train it in one", tr->nranks);
    if (tr->nranks > 1 && d->has_weights && !net->classes && !ekn_spec_sigmoid(&tr->spec))
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': 'weight' records of a regression net need one process, not %d",
                           d->source, tr->nranks);
    if (d->has_weights) {
        int fits = ekn_train_img_img(tr) ? !memcmp(d->w_shape, ekn_train_labels_full_res(d) ? d->shape : net->out,
                                                   sizeof d->w_shape)
                                         : d->w_size == net->out_spatial;
        if (!fits)
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': its '%s' records have %zu values per example, not one per "
                               "label position of the net's output (%dx%dx%d positions)",
                               d->source, EKN_REC_WEIGHT, d->w_size, net->out[0], net->out[1], net->out[2]);
    }
    size_t want = net->classes ? net->out_spatial : net->out_size;
    if (ekn_train_img_img(tr)) {
        if (d->has_targets && !tr->spec.target_input && (d->lab_c ? d->lab_c : 1) != net->out_c)
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': targets of %d channels, the net outputs %d", d->source,
                               d->lab_c ? d->lab_c : 1, net->out_c);
        if (ekn_train_labels_full_res(d)) return 0;
        if (d->lab_placed && (memcmp(d->lab_offset, net->calc.offset, sizeof d->lab_offset) ||
                              memcmp(d->lab_stride, net->calc.stride, sizeof d->lab_stride)))
            return ekn_err_set(err, EKN_EXIT_SPEC,
                               "'%s': labels sit at offset %d,%d,%d stride %d,%d,%d, the net's output at offset %d,%d,%d "
                               "stride %d,%d,%d (was the stream made for another spec?)",
                               d->source, d->lab_offset[0], d->lab_offset[1], d->lab_offset[2], d->lab_stride[0],
                               d->lab_stride[1], d->lab_stride[2], net->calc.offset[0], net->calc.offset[1],
                               net->calc.offset[2], net->calc.stride[0], net->calc.stride[1], net->calc.stride[2]);
        if (d->lab_size == want && !memcmp(d->shape, net->in, sizeof d->shape)) return 0;
        return ekn_err_set(err, EKN_EXIT_SPEC,
                           "'%s': labels of %dx%dx%d fit neither the image (%dx%dx%d) nor the net's output (%dx%dx%d)",
                           d->source, d->lab_shape[0], d->lab_shape[1], d->lab_shape[2], d->shape[0], d->shape[1],
                           d->shape[2], net->out[0], net->out[1], net->out[2]);
    }
    if (memcmp(d->shape, net->in, sizeof d->shape))
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': examples of %dx%dx%d do not match the net's input %dx%dx%d",
                           d->source, d->shape[0], d->shape[1], d->shape[2], net->in[0], net->in[1], net->in[2]);
    if (d->lab_size != want)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': %zu labels per example, the net outputs %zu", d->source,
                           d->lab_size, want);
    return 0;
}

static int prepare_validation(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *v = &tr->val;
    if (check_labels(tr, v, err)) return -1;
    if (!ekn_train_img_img(tr)) {
        tr->val_n = tr->cfg.val_examples && (size_t)tr->cfg.val_examples < v->n ? (size_t)tr->cfg.val_examples : v->n;
        tr->val_set = v;
        return 0;
    }
    for (int k = 0; k < 3; k++)
        if (v->shape[k] < tr->net.in[k])
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': validation images are smaller than the input patch", v->source);
    /* fixed patches, drawn once, so every validation measures the same thing */
    tr->val_n = tr->cfg.val_examples ? (size_t)tr->cfg.val_examples : 64;
    ekn_dataset *p = &tr->val_patches;
    ekn_train_batch_layout(tr, v, p);
    p->lazy_c = 0; /* validation scores the dense labels */
    if (ekn_dataset_reserve(p, tr->val_n, err))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for validation patches");
    ekn_rng rng;
    ekn_rng_seed(&rng, tr->cfg.seed, RNG_VAL);
    for (size_t i = 0; i < tr->val_n; i++)
        ekn_train_sample_patch(tr, &rng, v, p->x + i * p->ex_size, p->y ? p->y + i * p->lab_size : NULL,
                               p->t ? p->t + i * p->lab_size : NULL, p->w ? p->w + i * p->w_size : NULL);
    p->n = tr->val_n;
    tr->val_set = p;
    return 0;
}

static int is_streamable(const char *path)
{
    struct stat st;
    int ok = !strcmp(path, "-") ? fstat(STDIN_FILENO, &st) == 0 : stat(path, &st) == 0;
    return ok && !S_ISREG(st.st_mode);
}

/* A regular file is held in memory; a pipe is streamed, its first group
 * read to learn the geometry, unless --epochs asks for passes over it
 * (`ekn-preprocess | ekn-train --epochs 2`): only data in memory has them. */
static int open_training_data(ekn_trainer *tr, ekn_err *err)
{
    const ekn_train_config *cfg = &tr->cfg;
    struct stat st;
    if (tr->nranks > 1 && !strcmp(cfg->train_path, "-") && fstat(STDIN_FILENO, &st) == 0 && S_ISCHR(st.st_mode))
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "standard input is a device (mpirun gives stdin to rank 0 alone); give each rank a file or "
                           "its own pipeline: mpirun -n %d sh -c 'ekn-batch --shard $OMPI_COMM_WORLD_RANK/%d ... | "
                           "ekn-train ...'",
                           tr->nranks, tr->nranks);
    tr->streaming = cfg->input_mode == EKN_INPUT_STREAM ||
                    (cfg->input_mode == EKN_INPUT_AUTO && !cfg->epochs && is_streamable(cfg->train_path));
    if (!tr->streaming) return ekn_dataset_load(&tr->train, cfg->train_path, err);
    if (tr->restored & 1ul << EKN_SET_EPOCHS) {
        ekn_info("'%s' is streamed: the checkpoint's --epochs %lld do not apply", cfg->resume_path,
                 (long long)cfg->epochs);
        tr->cfg.epochs = 0;
    }
    if (cfg->epochs)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "'%s' is streamed: its producer decides the epochs (ekn-batch --epochs), not --epochs",
                           strcmp(cfg->train_path, "-") ? cfg->train_path : "stdin");
    if (ekn_dataset_reader_open(&tr->feed, &tr->train, cfg->train_path, err)) return -1;
    int got = ekn_dataset_read_group(&tr->feed, &tr->train, err);
    if (got < 0) return -1;
    if (got == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples in the stream", tr->train.source);
    if (tr->feed.epoch >= 0) tr->epoch = tr->feed.epoch;
    return ekn_dataset_check_classes(&tr->feed, &tr->train, err);
}

/* "--opt-param k=v overrides the checkpoint's k=w" for each key of given
 * whose value differs in saved ("key=value,..." both). */
static void report_params(const char *given, const char *saved)
{
    for (const char *p = given; p && *p;) {
        const char *comma = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (eq && (size_t)(eq - p) < len) {
            size_t klen = (size_t)(eq - p);
            for (const char *q = saved; q && *q;) {
                const char *qc = strchr(q, ',');
                size_t qlen = qc ? (size_t)(qc - q) : strlen(q);
                if (qlen > klen && !strncmp(q, p, klen) && q[klen] == '=') {
                    double mine = strtod(eq + 1, NULL), theirs = strtod(q + klen + 1, NULL);
                    if (mine != theirs)
                        ekn_warn("--opt-param %.*s overrides the checkpoint's %.*s=%g", (int)len, p, (int)klen, p,
                                 theirs);
                }
                q = qc ? qc + 1 : q + qlen;
            }
        }
        p = comma ? comma + 1 : p + len;
    }
}

/* The optimiser's name and parameters (malloc'd): the command line's, or
 * with --resume the checkpoint's (its parameters first, so the command
 * line's --opt-param win).  Without --optimizer (cfg->optimizer NULL), or
 * with the checkpoint's own, a resumed run goes on with the checkpoint's
 * optimiser and parameters, also one chosen through the control file;
 * --opt-param then overrides those parameters.  Another --optimizer than
 * the checkpoint's says so and takes the command line's parameters. */
static int optimizer_choice(const ekn_trainer *tr, ekn_ckpt *from, char **name, char **params, ekn_err *err)
{
    const ekn_train_config *cfg = &tr->cfg;
    *name = *params = NULL;
    if (from) {
        if (ekn_ckpt_read_optim_name(from, name, params, err)) return -1;
        if (cfg->optimizer && strcmp(cfg->optimizer, *name)) {
            ekn_warn("--optimizer %s overrides the checkpoint's %s", cfg->optimizer, *name);
            free(*name);
            free(*params);
            *name = *params = NULL;
        }
    }
    if (!*name) {
        *name = strdup(cfg->optimizer ? cfg->optimizer : "sgd");
        *params = cfg->optimizer_params ? strdup(cfg->optimizer_params) : NULL;
        if (!*name || (cfg->optimizer_params && !*params)) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        return 0;
    }
    if (cfg->optimizer_params) {
        report_params(cfg->optimizer_params, *params);
        size_t n = (*params ? strlen(*params) : 0) + strlen(cfg->optimizer_params) + 2;
        char *both = malloc(n);
        if (!both) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        snprintf(both, n, "%s%s%s", *params && **params ? *params : "", *params && **params ? "," : "",
                 cfg->optimizer_params);
        free(*params);
        *params = both;
    }
    return 0;
}

static int create_optimizer(ekn_trainer *tr, const char *name, const char *params, ekn_err *err)
{
    if (ekn_optim_create_on(&tr->opt, name, tr->net.nparams, params, tr->net.ops, err)) return -1;
    if (!tr->cfg.optimizer) ekn_info("'%s': going on with its optimiser %s", tr->cfg.resume_path, name);
    return 0;
}

/* What the run will allocate (the net, the optimiser, a batch's buffers),
 * measured by the code that allocates, against --max-memory (memlimit.h). */
static int check_memory(const ekn_trainer *tr, const int shape[3], const ekn_ops *ops, const char *optim,
                        const char *params, ekn_err *err)
{
    ekn_net_size ns;
    double opt_bytes;
    if (ekn_net_measure(&tr->spec, shape, (int)tr->cfg.batch, ops, &ns, err) ||
        ekn_optim_bytes(optim, ns.nparams, params, &opt_bytes, err))
        return -1;
    double B = (double)tr->cfg.batch;
    /* the batch (inputs and labels) on the host, its mirror on a device, and dout and gtmp */
    double batch = 4.0 * B * (ns.in_size + ns.out_size) * (ops->host ? 1 : 2) + 8.0 * B * ns.out_size;
    char a[32], b[32], c[32], detail[160], hint[96];
    snprintf(detail, sizeof detail, "network %s, optimiser '%s' %s, batch %s", ekn_mem_text((double)ns.bytes, a, sizeof a),
             optim, ekn_mem_text(opt_bytes, b, sizeof b), ekn_mem_text(batch, c, sizeof c));
    snprintf(hint, sizeof hint, "try a smaller --batch%s", ekn_train_img_img(tr) ? " or --patch" : "");
    char what[64];
    snprintf(what, sizeof what, "training with batch %ld", tr->cfg.batch);
    return ekn_mem_check((double)ns.bytes + opt_bytes + batch, detail, tr->cfg.max_memory, ops->host, what, hint,
                         err);
}

/* NULL while the parameters and the gradient are finite, else which is not
 * (on a device net, downloads theta; the gradient is checked in host memory only). */
/* 1 when every x[i] is finite: an exponent test on the bits, one
 * vectorised pass.  It replaces a scalar isfinite loop over theta and the
 * squared gradient norm summed in double (a chain of dependent additions;
 * the norm is finite exactly when every gradient is, as no sum of float
 * squares overflows a double), which took 3.5% of the main thread's time
 * in a Fashion-MNIST CNN step on -j 2 (perf). */
static int all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

static const char *diverged(ekn_trainer *tr)
{
    ekn_net *net = &tr->net;
    if (net->ops->host && !all_finite(net->grad, net->nparams)) return "the gradient norm is not finite";
    if (!all_finite(ekn_net_params_host(net), net->nparams)) return "the parameters are no longer finite";
    return NULL;
}

/* ---- checkpoints (the format: ckpt.h) -------------------------------------- */

/* save_path with "-TAG" before a final ".h5", else appended */
static void side_path(const char *save_path, const char *tag, char *buf, size_t cap)
{
    size_t n = strlen(save_path);
    if (n > 3 && !strcmp(save_path + n - 3, ".h5")) snprintf(buf, cap, "%.*s-%s.h5", (int)(n - 3), save_path, tag);
    else snprintf(buf, cap, "%s-%s", save_path, tag);
}

void ekn_train_best_path(const char *save_path, char *buf, size_t cap) { side_path(save_path, "best", buf, cap); }
void ekn_train_ema_path(const char *save_path, char *buf, size_t cap) { side_path(save_path, "ema", buf, cap); }
void ekn_train_avg_path(const char *save_path, char *buf, size_t cap) { side_path(save_path, "avg", buf, cap); }

static int save_to(ekn_trainer *tr, const char *path, ekn_err *err);

/* --average: the parameters and state as they are now become the newest
 * snapshot (the oldest drops out when all cfg.average are taken) */
static void avg_push(ekn_trainer *tr)
{
    size_t w = tr->avg_width, K = (size_t)tr->cfg.average, np = tr->net.nparams;
    if (tr->avg_n == K) {
        memmove(tr->avg_rows, tr->avg_rows + w, (K - 1) * w * sizeof(float));
        tr->avg_n--;
    }
    float *row = tr->avg_rows + tr->avg_n++ * w;
    memcpy(row, ekn_net_params_host(&tr->net), np * sizeof(float));
    if (tr->net.nstate) memcpy(row + np, ekn_net_state_host(&tr->net), tr->net.nstate * sizeof(float));
}

/* A model checkpoint at path: the spec, /params from theta, /buffers from state. */
static int save_model(ekn_trainer *tr, const char *path, const float *theta, const float *state, ekn_err *err)
{
    ekn_net_tensor *t;
    int n = ekn_ckpt_net_tensors(&tr->net, &t, err);
    if (n < 0) return -1;
    ekn_ckpt c;
    int rc = ekn_ckpt_create(&c, path, tr->spec.text, err);
    if (!rc) {
        rc = ekn_ckpt_write_params(&c, t, n, theta, state, err);
        if (rc) ekn_ckpt_abort(&c);
        else rc = ekn_ckpt_commit(&c, err);
    }
    free(t);
    return rc ? -1 : 0;
}

/* FILE-avg.h5: the mean of the snapshots, each value added in double
 * from the oldest to the newest and divided by their count */
static int save_avg(ekn_trainer *tr, ekn_err *err)
{
    size_t w = tr->avg_width, n = tr->avg_n;
    for (size_t i = 0; i < w; i++) {
        double sum = 0;
        for (size_t r = 0; r < n; r++) sum += tr->avg_rows[r * w + i];
        tr->avg_mean[i] = (float)(sum / (double)n);
    }
    char path[4096];
    ekn_train_avg_path(tr->cfg.save_path, path, sizeof path);
    return save_model(tr, path, tr->avg_mean, tr->net.nstate ? tr->avg_mean + tr->net.nparams : NULL, err);
}

/* --ema's average on the host (downloaded from a device) */
static void ema_to_host(ekn_trainer *tr)
{
    const ekn_net *net = &tr->net;
    if (net->ops->host) return; /* the host copies are the arrays */
    net->ops->download(tr->ema_host_theta, tr->ema_theta, net->nparams * sizeof(float));
    if (tr->ema_state) net->ops->download(tr->ema_host_state, tr->ema_state, net->nstate * sizeof(float));
}

/* FILE-ema.h5: a model checkpoint (the spec, /params and /buffers from
 * the average), which ekn-predict reads as any other */
static int save_ema(ekn_trainer *tr, ekn_err *err)
{
    char path[4096];
    ekn_train_ema_path(tr->cfg.save_path, path, sizeof path);
    ema_to_host(tr);
    return save_model(tr, path, tr->ema_host_theta, tr->ema_host_state, err);
}

int ekn_trainer_save(ekn_trainer *tr, ekn_err *err)
{
    if (save_to(tr, tr->cfg.save_path, err)) return -1;
    if (tr->ema_theta && save_ema(tr, err)) return -1;
    return tr->avg_n ? save_avg(tr, err) : 0;
}

static int save_to(ekn_trainer *tr, const char *path, ekn_err *err)
{
    if (tr->rank != 0) return 0; /* a data-parallel run's checkpoints are rank 0's */
    ekn_net_tensor *t;
    int n = ekn_ckpt_net_tensors(&tr->net, &t, err);
    if (n < 0) return -1;
    ekn_ckpt_state s = {
        .step = tr->step,
        .epoch = tr->epoch,
        .perm_pos = (int64_t)tr->perm_pos,
        .plateau_count = tr->plateau_count,
        .lr = tr->lr,
        .momentum = tr->momentum,
        .lr_scale = tr->lr_scale,
        .control_lr = tr->control_lr,
        .control_momentum = tr->control_momentum,
        .best_val = tr->best_val,
        .loss_smooth = tr->loss_smooth,
        .elapsed = tr->elapsed_before + (tr->run_start > 0 ? ekn_now() - tr->run_start : 0),
        .best_metric = tr->best_metric,
        .best_step = tr->best_step,
        .since_best = tr->since_best,
        .rng_data = tr->rng_data,
        .rng_train = tr->rng_train,
    };
    ekn_ckpt c;
    int rc = ekn_ckpt_create(&c, path, tr->spec.text, err);
    if (!rc) {
        rc = ekn_ckpt_write_params(&c, t, n, ekn_net_params_host(&tr->net), ekn_net_state_host(&tr->net), err) ||
             ekn_ckpt_write_optim(&c, &tr->opt, err) ||
             ekn_ckpt_write_state(&c, &s, tr->perm, tr->perm ? tr->train.n : 0, err) ||
             ekn_train_settings_write(tr, &c, err);
        if (!rc && tr->ema_theta) {
            ema_to_host(tr);
            rc = ekn_ckpt_write_ema(&c, tr->ema_host_theta, tr->net.nparams, tr->ema_host_state, tr->net.nstate,
                                    err);
        }
        if (!rc && tr->avg_rows) rc = ekn_ckpt_write_avg(&c, tr->avg_rows, tr->avg_n, tr->avg_width, err);
        if (rc) ekn_ckpt_abort(&c);
        else rc = ekn_ckpt_commit(&c, err);
    }
    free(t);
    return rc ? -1 : 0;
}

/* The parameters, the optimiser's state and the run's state of a checkpoint. */
static int resume_from(ekn_trainer *tr, ekn_ckpt *from, ekn_err *err)
{
    ekn_net *net = &tr->net;
    ekn_net_tensor *t;
    int n = ekn_ckpt_net_tensors(net, &t, err);
    if (n < 0) return -1;
    int rc = ekn_ckpt_read_params(from, t, n, ekn_net_params_host(net), ekn_net_state_host(net), err);
    free(t);
    if (rc) return -1;
    ekn_net_params_commit(net);
    ekn_net_state_commit(net);
    ekn_ckpt_state s;
    if (ekn_ckpt_read_state(from, &s, err) || ekn_ckpt_read_optim(from, &tr->opt, err)) return -1;
    if (tr->perm && ekn_ckpt_read_perm(from, tr->perm, tr->train.n, err)) return -1;
    const char *path = ekn_ckpt_path(from);
    if (tr->perm && (uint64_t)s.perm_pos > tr->train.n)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': /state/perm_pos is %lld, past the %zu examples", path,
                           (long long)s.perm_pos, tr->train.n);
    tr->step = s.step;
    tr->epoch = s.epoch;
    tr->lr = s.lr;
    tr->momentum = s.momentum;
    tr->best_val = s.best_val;
    tr->loss_smooth = s.loss_smooth;
    tr->elapsed_before = s.elapsed;
    tr->best_metric = s.best_metric;
    tr->best_step = s.best_step;
    tr->since_best = s.since_best;
    if (isfinite(s.control_lr)) {
        ekn_train_set_control_lr(tr, s.control_lr);
        ekn_warn("'%s': keeping the learning rate %g set through the control file", path, s.control_lr);
    }
    tr->lr_scale = s.lr_scale;
    if (isfinite(s.control_momentum)) {
        ekn_train_set_control_momentum(tr, s.control_momentum);
        ekn_warn("'%s': keeping the momentum %g set through the control file", path, s.control_momentum);
    }
    tr->perm_pos = (uint64_t)s.perm_pos;
    tr->plateau_count = (int)s.plateau_count;
    tr->rng_data = s.rng_data;
    tr->rng_train = s.rng_train;
    return 0;
}

/* --ema: the average's arrays, from the checkpoint's average, else from
 * the parameters as they are now (the initial ones, or the resumed ones
 * of a checkpoint without an average). */
static int setup_ema(ekn_trainer *tr, ekn_ckpt *from, ekn_err *err)
{
    ekn_net *net = &tr->net;
    const ekn_ops *ops = net->ops;
    size_t np = net->nparams, ns = net->nstate;
    tr->ema_theta = ops->alloc(np * sizeof(float));
    tr->ema_state = ns ? ops->alloc(ns * sizeof(float)) : NULL;
    if (ops->host) {
        tr->ema_host_theta = tr->ema_theta;
        tr->ema_host_state = tr->ema_state;
    } else {
        tr->ema_host_theta = malloc(np * sizeof(float));
        tr->ema_host_state = ns ? malloc(ns * sizeof(float)) : NULL;
    }
    if (!tr->ema_theta || !tr->ema_host_theta || (ns && (!tr->ema_state || !tr->ema_host_state)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the average of --ema (%zu parameters)", np);
    int got = from ? ekn_ckpt_read_ema(from, tr->ema_host_theta, np, tr->ema_host_state, ns, err) : 0;
    if (got < 0) return -1;
    if (got) {
        if (!ops->host) {
            ops->upload(tr->ema_theta, tr->ema_host_theta, np * sizeof(float));
            if (ns) ops->upload(tr->ema_state, tr->ema_host_state, ns * sizeof(float));
        }
        return 0;
    }
    if (from) ekn_info("'%s' holds no average: --ema starts from its parameters", ekn_ckpt_path(from));
    ops->copy(tr->ema_theta, net->theta, np * sizeof(float));
    if (ns) ops->copy(tr->ema_state, net->state, ns * sizeof(float));
    return 0;
}

/* --average: room for cfg.average snapshots, and the checkpoint's newest */
static int setup_avg(ekn_trainer *tr, ekn_ckpt *from, ekn_err *err)
{
    size_t K = (size_t)tr->cfg.average;
    tr->avg_width = tr->net.nparams + tr->net.nstate;
    tr->avg_rows = malloc(K * tr->avg_width * sizeof(float));
    tr->avg_mean = malloc(tr->avg_width * sizeof(float));
    if (!tr->avg_rows || !tr->avg_mean)
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for --average %zu (%zu values each)", K, tr->avg_width);
    return from ? ekn_ckpt_read_avg(from, tr->avg_rows, K, tr->avg_width, &tr->avg_n, err) : 0;
}

static void free_ema(ekn_trainer *tr)
{
    const ekn_ops *ops = tr->net.ops;
    if (!ops) return;
    if (!ops->host) {
        free(tr->ema_host_theta);
        free(tr->ema_host_state);
    }
    ops->free(tr->ema_theta);
    ops->free(tr->ema_state);
    tr->ema_theta = tr->ema_state = tr->ema_host_theta = tr->ema_host_state = NULL;
}

/* ---- a data-parallel run's setup ------------------------------------------- */

/* FNV-1a over 8-byte words (the tail byte by byte). */
static uint64_t hash_bytes(const void *p, size_t bytes, uint64_t h)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < bytes; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_dataset(const ekn_dataset *d)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (!d->x) return h;
    h = hash_bytes(d->x, d->n * d->ex_size * sizeof *d->x, h);
    if (d->has_labels && d->y) h = hash_bytes(d->y, d->n * d->lab_size * sizeof *d->y, h);
    if (d->has_targets && d->t) h = hash_bytes(d->t, d->n * d->lab_size * sizeof *d->t, h);
    return h;
}

/* What every rank must share with rank 0 before the first step. */
typedef struct dist_print {
    uint64_t batch, nparams, step, streaming, ex_size, lab_size;
    uint64_t train_n, train_hash, val_n, val_hash;
} dist_print;

/* Several ranks: this rank's slice of the batch; the same settings, net,
 * step and data (in memory: the same bytes) as rank 0, else an error
 * naming what differs; rank 0's parameters on every rank. */
static int dist_setup(ekn_trainer *tr, ekn_err *err)
{
    const ekn_train_config *c = &tr->cfg;
    int K = tr->nranks;
    if (c->batch < K)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--batch %ld is smaller than the %d processes; give --batch %d or more",
                           c->batch, K, K);
    ekn_dist_slice((size_t)c->batch, tr->rank, K, &tr->slice_lo, &tr->slice_hi);
    dist_print me = {(uint64_t)c->batch, tr->net.nparams, (uint64_t)tr->step, (uint64_t)tr->streaming,
                     tr->train.ex_size, tr->train.lab_size, 0, 0, 0, 0};
    if (!tr->streaming) me.train_n = tr->train.n, me.train_hash = hash_dataset(&tr->train);
    if (c->val_path) me.val_n = tr->val.n, me.val_hash = hash_dataset(&tr->val);
    dist_print *all = malloc((size_t)K * sizeof *all);
    if (!all) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    if (ekn_dist_allgather(&me, all, sizeof me, err)) {
        free(all);
        return -1;
    }
    dist_print r0 = all[0];
    free(all);
    const char *what = NULL;
    if (me.batch != r0.batch || me.nparams != r0.nparams || me.streaming != r0.streaming)
        what = "another command line (--batch, --spec, --input) than rank 0";
    else if (me.step != r0.step)
        what = "another checkpoint (--resume) than rank 0";
    else if (me.ex_size != r0.ex_size || me.lab_size != r0.lab_size)
        what = "training examples of another size than rank 0's";
    else if (me.train_n != r0.train_n || me.train_hash != r0.train_hash)
        what = "other training data than rank 0 (data in memory is the same file on every rank)";
    else if (me.val_n != r0.val_n || me.val_hash != r0.val_hash)
        what = "other validation data than rank 0";
    if (what) return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': %s", c->train_path, what);
    ekn_net *net = &tr->net;
    if (ekn_dist_bcast(ekn_net_params_host(net), net->nparams * sizeof(float), 0, err)) return -1;
    ekn_net_params_commit(net);
    if (!net->ops->host && !(tr->host_grad = malloc(net->nparams * sizeof *tr->host_grad)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for the gradient's reduction");
    ekn_info("%d processes, this one examples %zu..%zu of each batch of %ld (%s)", K, tr->slice_lo, tr->slice_hi - 1,
             c->batch, ekn_dist_library());
    return 0;
}

/* from: the checkpoint of --resume, open, or NULL. */
static int trainer_init(ekn_trainer *tr, const ekn_train_config *cfg, ekn_ckpt *from, ekn_err *err)
{
    tr->cfg = *cfg;
    if (from && ekn_train_settings_restore(tr, from, err)) return -1;
    cfg = &tr->cfg; /* with the checkpoint's settings */
    if (ekn_train_check_shape(cfg, err)) return -1;
    if (cfg->average && cfg->save_every <= 0) {
        if (!(tr->restored & 1ul << EKN_SET_AVERAGE))
            return ekn_err_set(err, EKN_EXIT_USAGE, "--average needs --save-every (the checkpoints it averages)");
        ekn_info("no --save-every: the checkpoint's --average %lld takes no more snapshots", (long long)cfg->average);
    }
    tr->lr = cfg->lr;
    tr->momentum = cfg->momentum;
    tr->lr_scale = 1;
    tr->control_lr = tr->control_momentum = NAN;
    tr->best_val = tr->best_metric = INFINITY;
    tr->loss_smooth = NAN;
    /* a read-only or missing directory is found now, not after training */
    if (cfg->save_path && tr->rank == 0 && ekn_h5_check_writable(cfg->save_path, err)) return -1;
    if (from && !cfg->spec_path) {
        if (ekn_ckpt_read_spec(from, &tr->spec, err)) return -1;
    } else if (ekn_spec_load(&tr->spec, cfg->spec_path, err)) return -1;
    if (ekn_calc_check(&tr->spec, err)) return -1; /* before any data is read */
    if (open_training_data(tr, err)) return -1;
    if (cfg->val_path && ekn_dataset_load(&tr->val, cfg->val_path, err)) return -1;
    int shape[3];
    if (choose_input_shape(tr, shape, err)) return -1;
    const ekn_ops *ops = cfg->ops ? cfg->ops : ekn_ops_default();
    char *optim = NULL, *params = NULL;
    int rc = optimizer_choice(tr, from, &optim, &params, err);
    if (!rc) rc = check_memory(tr, shape, ops, optim, params, err);
    if (!rc) rc = ekn_net_build(&tr->net, &tr->spec, shape, (int)cfg->batch, ops, err) || ekn_ops_check(ops, err);
    ekn_net *net = &tr->net;
    if (!rc && check_labels(tr, &tr->train, err)) rc = -1;
    if (!rc && cfg->nclass_weights && cfg->nclass_weights != ekn_train_loss_channels(tr))
        rc = ekn_err_set(err, EKN_EXIT_USAGE, "--class-weights gives %d weights for %d %s", cfg->nclass_weights,
                         ekn_train_loss_channels(tr), net->classes ? "classes" : "channels");
    if (!rc) rc = create_optimizer(tr, optim, params, err);
    free(optim);
    free(params);
    if (rc) return -1;
    size_t B = (size_t)cfg->batch;
    tr->dout = ops->alloc(B * net->out_size * sizeof(float));
    tr->gtmp = ops->alloc(B * net->out_size * sizeof(float));
    if (!ekn_train_img_img(tr) && !tr->streaming) tr->perm = malloc(tr->train.n * sizeof *tr->perm);
    if (tr->train.lazy_c && tr->spec.loss != EKN_LOSS_NLL)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': lazy labels need loss = nll, not %s", tr->train.source,
                           ekn_spec_loss_name(tr->spec.loss));
    if (tr->train.lazy_c && tr->train.lazy_c != net->classes)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': lazy labels for %d classes, the network has %d", tr->train.source,
                           tr->train.lazy_c, net->classes);
    if (!tr->dout || !tr->gtmp || (!ekn_train_img_img(tr) && !tr->streaming && !tr->perm))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for batch %zu", B);
    if (ekn_train_alloc_batch(tr, err)) return -1;
    ekn_rng_seed(&tr->rng_data, cfg->seed, RNG_DATA);
    ekn_rng_seed(&tr->rng_train, cfg->seed, RNG_TRAIN);
    if (tr->perm) {
        for (size_t i = 0; i < tr->train.n; i++) tr->perm[i] = (uint32_t)i;
        ekn_rng_shuffle(&tr->rng_data, tr->perm, tr->train.n);
    }
    if (from) {
        if (resume_from(tr, from, err)) return -1;
    } else {
        ekn_rng init;
        ekn_rng_seed(&init, cfg->seed, RNG_INIT);
        ekn_net_init_params(net, &init);
    }
    if (cfg->ema_on && setup_ema(tr, from, err)) return -1;
    if (cfg->average && setup_avg(tr, from, err)) return -1;
    if (cfg->val_path && prepare_validation(tr, err)) return -1;
    if (tr->nranks > 1 && dist_setup(tr, err)) return -1;
    if (cfg->log_path && tr->rank == 0) {
        int append = cfg->resume_path && access(cfg->log_path, F_OK) == 0;
        tr->log_best = 1;
        if (append) {
            /* rows as wide as the header of the log appended to: one from before 'best' gets none */
            char head[512] = "";
            FILE *old = fopen(cfg->log_path, "r");
            if (old && !fgets(head, sizeof head, old)) head[0] = 0;
            if (old) fclose(old);
            tr->log_best = strstr(head, "\tbest\n") != NULL;
        }
        tr->log = fopen(cfg->log_path, append ? "a" : "w");
        if (!tr->log) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open the log:", cfg->log_path);
        if (!append)
            fprintf(tr->log, "step\tepoch\ttime\texamples_per_s\tloss\tloss_smooth\tloss_after\tgain\tlr\tmomentum\t"
                             "mean_label\ttrain_err\tval_loss\tval_err\tstep_size\tbeta\tevals\tbest\n");
    }
    char buf[256];
    for (int i = 0; i < net->nlayers; i++) {
        ekn_net_describe(net, i, buf, sizeof buf);
        ekn_info("%s", buf);
    }
    ekn_info("%zu parameters, input %dx%dx%dx%d, batch %ld, kernels %s", net->nparams, net->in_c, net->in[0],
             net->in[1], net->in[2], cfg->batch, net->ops->name);
    return 0;
}

int ekn_trainer_init(ekn_trainer *tr, const ekn_train_config *cfg, ekn_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->rank = ekn_dist_rank();
    tr->nranks = ekn_dist_size();
    ekn_control_init(&tr->control, cfg->control_path);
    if (!cfg->resume_path) return trainer_init(tr, cfg, NULL, err);
    /* the checkpoint is opened once and read as init needs it */
    ekn_ckpt from;
    if (ekn_ckpt_open(&from, cfg->resume_path, err)) return -1;
    int rc = trainer_init(tr, cfg, &from, err);
    ekn_ckpt_close(&from);
    return rc;
}

void ekn_trainer_free(ekn_trainer *tr)
{
    if (tr->log) fclose(tr->log);
    ekn_dataset_free(&tr->val_patches);
    ekn_train_free_batch(tr);
    free_ema(tr);
    free(tr->avg_rows);
    free(tr->avg_mean);
    free(tr->perm);
    ekn_optim_free(&tr->opt);
    ekn_net_free(&tr->net);
    if (tr->streaming) ekn_dataset_reader_close(&tr->feed);
    ekn_dataset_free(&tr->train);
    ekn_dataset_free(&tr->val);
    ekn_spec_free(&tr->spec);
    ekn_control_close(&tr->control);
    free(tr->host_grad);
    memset(tr, 0, sizeof *tr);
}

/* ---- the loop ------------------------------------------------------------- */

/* The control file's commands (control.h).  "optimizer": the new optimiser
 * starts with fresh state; a bad parameter keeps the current one. */
typedef struct control_ctx {
    ekn_trainer *tr;
    int *stop, *save;
} control_ctx;

static int run_control(void *ctx, const ekn_control_cmd *cmd, const char *line, ekn_err *err)
{
    control_ctx *x = ctx;
    ekn_trainer *tr = x->tr;
    switch (cmd->op) {
    case EKN_CTL_LR: ekn_train_set_control_lr(tr, cmd->value); break;
    case EKN_CTL_MOMENTUM: ekn_train_set_control_momentum(tr, cmd->value); break;
    case EKN_CTL_OPTIMIZER: {
        ekn_optim o;
        if (ekn_optim_create_on(&o, cmd->name, tr->net.nparams, cmd->params[0] ? cmd->params : NULL, tr->net.ops,
                                err))
            return -1; /* the current one is kept */
        ekn_optim_free(&tr->opt);
        tr->opt = o;
        break;
    }
    case EKN_CTL_SAVE: *x->save = 1; break;
    case EKN_CTL_STOP: *x->stop = 1; break;
    }
    ekn_warn("control: %s", line);
    return 0;
}

static void apply_control(ekn_trainer *tr, int *stop, int *save)
{
    control_ctx x = {tr, stop, save};
    ekn_control_poll(&tr->control, run_control, &x);
}

static int64_t epoch_size(const ekn_trainer *tr);

/* Where the step stands in the budget (schedule.h): by steps when there
 * is a step budget, else by this run's time against --time. */
static ekn_budget_pos budget_pos(const ekn_trainer *tr)
{
    ekn_budget_pos b = {0, (double)tr->step, (double)ekn_trainer_max_steps(tr)};
    if (b.total <= 0 && tr->cfg.max_time > 0) {
        b.by_time = 1;
        b.pos = tr->run_start > 0 ? (ekn_now() - tr->run_start) / tr->cfg.max_time : 0;
        b.total = 1;
    }
    return b;
}

static void update_hyper(ekn_trainer *tr)
{
    ekn_train_hyper_at(&tr->cfg, tr->step, budget_pos(tr), tr->lr_scale, &tr->lr, &tr->momentum);
}

static void fmt_val(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "nan");
    else snprintf(buf, cap, "%.6g", v);
}

/* Evaluates the validation set and reports it on stderr: 0, or -1 (a
 * failed reduction of a data-parallel run). */
static int validation_report(ekn_trainer *tr, double *vloss, double *verr, ekn_err *err)
{
    int C = tr->net.classes;
    long *conf = C ? calloc((size_t)C * C, sizeof *conf) : NULL;
    eval_result r = {0, 0, conf};
    if (evaluate(tr, tr->val_set, tr->val_n, &r, err)) {
        free(conf);
        return -1;
    }
    *vloss = r.loss;
    *verr = r.err;
    ekn_warn("step %lld: validation loss %.5g error %.4g on %zu %s", (long long)tr->step, r.loss, r.err, tr->val_n,
             ekn_train_img_img(tr) ? "patches" : "examples");
    if (conf && ekn_train_img_img(tr))
        for (int k = 0; k < C; k++) {
            long tp = conf[k * C + k], pred = 0, lab = 0;
            for (int j = 0; j < C; j++) pred += conf[j * C + k], lab += conf[k * C + j];
            ekn_warn("step %lld: class %d precision %.4f recall %.4f", (long long)tr->step, k,
                     pred ? (double)tp / pred : NAN, lab ? (double)tp / lab : NAN);
        }
    free(conf);
    return 0;
}

/* A validation of the --val-every cadence: the plateau schedule and the
 * best checkpoint follow it.  Returns 1 when the monitored value
 * (cfg.monitor) is the best so far, 0, or -1 (a failed reduction). */
static int validate(ekn_trainer *tr, double *vloss, double *verr, ekn_err *err)
{
    if (validation_report(tr, vloss, verr, err)) return -1;
    if (tr->cfg.plateau_patience > 0) {
        if (*vloss < tr->best_val) {
            tr->best_val = *vloss;
            tr->plateau_count = 0;
        } else if (++tr->plateau_count >= tr->cfg.plateau_patience) {
            tr->lr_scale *= tr->cfg.plateau_factor;
            tr->plateau_count = 0;
            ekn_warn("step %lld: validation loss has not improved; learning rate scaled by %g", (long long)tr->step,
                     tr->cfg.plateau_factor);
        }
    }
    double m = tr->cfg.monitor == EKN_MONITOR_ERROR ? *verr : *vloss;
    if (m < tr->best_metric) { /* NaN never is */
        tr->best_metric = m;
        tr->best_step = tr->step;
        tr->since_best = 0;
        return 1;
    }
    tr->since_best++;
    return 0;
}

/* What one log row reports beside the trainer's own state. */
typedef struct log_point {
    double loss, after, before, terr, vloss, verr, rate, epoch, elapsed;
    int best;
} log_point;

static int log_row(ekn_trainer *tr, const log_point *p, ekn_err *err)
{
    char f[8][32];
    fmt_val(f[6], 32, tr->opt.diag.step_size);
    fmt_val(f[7], 32, tr->opt.diag.beta);
    fmt_val(f[0], 32, p->after);
    fmt_val(f[1], 32, p->after - p->before);
    fmt_val(f[2], 32, tr->mean_label);
    fmt_val(f[3], 32, p->terr);
    fmt_val(f[4], 32, p->vloss);
    fmt_val(f[5], 32, p->verr);
    fprintf(tr->log, "%lld\t%.4f\t%.3f\t%.1f\t%.6g\t%.6g\t%s\t%s\t%.6g\t%.6g\t%s\t%s\t%s\t%s\t%s\t%s\t%ld",
            (long long)tr->step, p->epoch, p->elapsed, p->rate, p->loss, tr->loss_smooth, f[0], f[1], tr->lr,
            tr->momentum, f[2], f[3], f[4], f[5], f[6], f[7], tr->opt.diag.evals);
    /* best: 1 on the row of a validation that is the best so far */
    fprintf(tr->log, tr->log_best ? "\t%d\n" : "\n", p->best);
    if (fflush(tr->log) != 0 || ferror(tr->log))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write error:", tr->cfg.log_path);
    return 0;
}

static int64_t epoch_size(const ekn_trainer *tr)
{
    if (!ekn_train_img_img(tr)) return (int64_t)tr->train.n;
    /* img-img: as many patches as cover the data's labelled voxels once */
    double data = (double)tr->train.n * tr->train.shape[0] * tr->train.shape[1] * tr->train.shape[2];
    double per = (double)tr->net.out_spatial * tr->net.calc.stride[0] * tr->net.calc.stride[1] * tr->net.calc.stride[2];
    int64_t n = (int64_t)(data / per);
    return n > 0 ? n : 1;
}

/* One line at the end of a run: what it did, how well, where it went. */
static void summary(const ekn_trainer *tr, const log_point *last, const char *best_path)
{
    char took[32], val[160] = "", best[4200] = "";
    ekn_fmt_duration(tr->elapsed_before, took, sizeof took);
    if (!isnan(last->vloss)) snprintf(val, sizeof val, "; validation loss %.5g error %.4g", last->vloss, last->verr);
    if (tr->best_step > 0 && access(best_path, F_OK) == 0)
        snprintf(best, sizeof best, " (best %s %.5g at step %lld: '%s')",
                 tr->cfg.monitor == EKN_MONITOR_ERROR ? "error" : "loss", tr->best_metric, (long long)tr->best_step,
                 best_path);
    ekn_warn("%lld steps, %.4g epochs in %s%s%s; saved '%s'", (long long)tr->step, last->epoch, took, val, best,
             tr->cfg.save_path);
}

int64_t ekn_trainer_max_steps(const ekn_trainer *tr)
{
    const ekn_train_config *c = &tr->cfg;
    int64_t max_steps = c->steps;
    if (c->epochs) {
        int64_t s = (c->epochs * epoch_size(tr) + c->batch - 1) / c->batch;
        if (!max_steps || s < max_steps) max_steps = s;
    }
    return max_steps;
}

/* Control commands rank 0 took from the file, to run on every rank. */
#define DIST_MAX_CMDS 8
typedef struct dist_cmds {
    int n;
    ekn_control_cmd cmd[DIST_MAX_CMDS];
    char line[DIST_MAX_CMDS][EKN_CONTROL_LINE_MAX + 1];
} dist_cmds;

static int collect_control(void *ctx, const ekn_control_cmd *cmd, const char *line, ekn_err *err)
{
    dist_cmds *q = ctx;
    if (q->n >= DIST_MAX_CMDS)
        return ekn_err_set(err, EKN_EXIT_USAGE, "more than %d commands at once in a data-parallel run; write it again",
                           DIST_MAX_CMDS);
    q->cmd[q->n] = *cmd;
    snprintf(q->line[q->n], sizeof q->line[q->n], "%s", line);
    q->n++;
    return 0;
}

/* Before each step of a data-parallel run: a stop when any rank's --time
 * is up or any rank got SIGINT or SIGTERM (*stop = -1), a save when any
 * got SIGUSR1; rank 0 reads the control file and every rank runs its
 * commands.  0, or -1 on an MPI error. */
static int dist_sync(ekn_trainer *tr, double start, int *stop, int *save, ekn_err *err)
{
    static dist_cmds q;
    q.n = 0;
    if (tr->rank == 0) ekn_control_poll(&tr->control, collect_control, &q);
    double f[4] = {tr->cfg.max_time > 0 && ekn_now() - start >= tr->cfg.max_time,
                   tr->stop_flag && *tr->stop_flag, tr->save_flag && *tr->save_flag, (double)q.n};
    if (ekn_dist_sum_f64(f, 4, err)) return -1;
    if (f[0] > 0 || f[1] > 0) {
        *stop = -1;
        return 0;
    }
    if (f[2] > 0) *save = 1;
    if (tr->save_flag) *tr->save_flag = 0;
    q.n = (int)f[3];
    if (q.n && ekn_dist_bcast(&q, sizeof q, 0, err)) return -1;
    control_ctx x = {tr, stop, save};
    for (int i = 0; i < q.n; i++) {
        ekn_err why = {0};
        if (run_control(&x, &q.cmd[i], q.line[i], &why)) ekn_warn("control: %s: %s; not run", q.line[i], why.msg);
    }
    return 0;
}

int ekn_trainer_run(ekn_trainer *tr, ekn_err *err)
{
    const ekn_train_config *c = &tr->cfg;
    double start = ekn_now(), last_log = start;
    tr->run_start = start;
    int64_t ep_size = epoch_size(tr);
    /* examples since the last log row: a stream's batches may be short */
    double since_log = 0;
    int64_t max_steps = ekn_trainer_max_steps(tr);
    if (c->lr_shape != EKN_SHAPE_CONSTANT && !max_steps && !(c->max_time > 0)) /* a stream's --epochs dropped */
        return ekn_err_set(err, EKN_EXIT_USAGE, "--lr-shape %s needs a budget: --steps or --time",
                           ekn_shape_name(c->lr_shape));
    if (c->resume_path && max_steps && tr->step >= max_steps)
        ekn_warn("step %lld: the run has reached its end at step %lld (--steps%s); give more to train on",
                 (long long)tr->step, (long long)max_steps, c->epochs ? ", --epochs" : "");
    ekn_progress prog;
    ekn_progress_begin(&prog, "steps", (uint64_t)max_steps);
    if (tr->rank != 0) prog.enabled = 0; /* rank 0 shows a data-parallel run's progress */
    int stop = 0, save = 0, rc = 0, early = 0;
    int64_t first_step = tr->step, last_log_step = tr->step, last_val_step = tr->step;
    log_point last = {0};
    char best_path[4096];
    ekn_train_best_path(c->save_path, best_path, sizeof best_path);
    while (!stop) {
        if (max_steps && tr->step >= max_steps) break;
        if (tr->nranks > 1) {
            /* the ranks agree on what their clocks, signals and the control file say */
            if (dist_sync(tr, start, &stop, &save, err)) return -1;
            if (stop < 0) break;
        } else {
            if (c->max_time > 0 && ekn_now() - start >= c->max_time) break;
            if (tr->stop_flag && *tr->stop_flag) break;
            apply_control(tr, &stop, &save);
        }
        if (tr->save_flag && *tr->save_flag) save = 1, *tr->save_flag = 0;
        if (save) {
            if (ekn_trainer_save(tr, err)) return -1;
            ekn_warn("step %lld: saved '%s'", (long long)tr->step, c->save_path);
            save = 0;
        }
        if (stop) break;
        update_hyper(tr);
        int got = ekn_train_next_batch(tr, err);
        if (got < 0) {
            /* a broken stream loses no training: keep what the complete steps learnt */
            ekn_progress_end(&prog);
            ekn_err serr = {0};
            if (tr->step > 0 && ekn_trainer_save(tr, &serr) == 0)
                ekn_warn("step %lld: checkpoint '%s' saved before stopping", (long long)tr->step, c->save_path);
            return -1;
        }
        if (tr->nranks > 1 && tr->streaming) {
            /* the run ends with the first rank's stream */
            double ended = got == 0;
            if (ekn_dist_sum_f64(&ended, 1, err)) return -1;
            if (ended > 0) got = 0;
        }
        if (got == 0) {
            ekn_info("step %lld: the training stream has ended", (long long)tr->step);
            break;
        }
        /* the host made this batch while the GPU finished the last step; a
         * failure there (or out of memory) shows here, before more is queued */
        if (ekn_ops_check(tr->net.ops, err)) return -1;
        ekn_train_upload_batch(tr);
        int gain_now = c->gain_every > 0 && (tr->step + 1) % c->gain_every == 0;
        double before_det = gain_now ? batch_loss_eval(tr) : NAN;
        if (tr->dist_err.code) {
            *err = tr->dist_err;
            return -1;
        }
        ekn_hyper h = {tr->lr, tr->momentum, c->weight_decay};
        double loss;
        if (tr->opt.vt->step(&tr->opt, tr->net.theta, tr->net.grad, tr->net.decay, &h, objective, tr, &loss, err))
            return -1;
        if (tr->dist_err.code) {
            *err = tr->dist_err;
            return -1;
        }
        if (!isfinite(loss) && ekn_ops_check(tr->net.ops, err)) return -1;
        if (!isfinite(loss)) {
            ekn_progress_end(&prog);
            return ekn_err_set(err, EKN_EXIT_FAIL,
                               "step %lld: the loss is %g; stopping (lower --lr?); the last checkpoint '%s' is kept",
                               (long long)tr->step, loss, c->save_path);
        }
        /* the loss is clamped, so a diverged run can report a finite one:
         * check the gradient and the parameters too (every step where they
         * are in host memory, at each log step on a device) */
        const char *what =
            tr->net.ops->host || (c->log_every > 0 && (tr->step + 1) % c->log_every == 0) ? diverged(tr) : NULL;
        if (what) {
            ekn_progress_end(&prog);
            int kept = access(c->save_path, F_OK) == 0;
            return ekn_err_set(err, EKN_EXIT_FAIL, "step %lld: %s (the loss is %g); stopping (lower --lr?); %s '%s'%s",
                               (long long)tr->step + 1, what, loss, kept ? "the last checkpoint" : "no checkpoint",
                               c->save_path, kept ? " is kept" : " is written");
        }
        if (tr->ema_theta) { /* the average follows every step, where the parameters live */
            float d = (float)c->ema;
            tr->net.ops->ema_update(tr->net.nparams, d, tr->net.theta, tr->ema_theta);
            if (tr->ema_state) tr->net.ops->ema_update(tr->net.nstate, d, tr->net.state, tr->ema_state);
        }
        double after = gain_now ? batch_loss_eval(tr) : NAN;
        double terr = tr->counted ? 1.0 - (double)tr->correct / tr->counted : NAN;
        tr->loss_smooth = isnan(tr->loss_smooth) ? loss : 0.98 * tr->loss_smooth + 0.02 * loss;
        tr->step++;
        since_log += tr->nranks > 1 ? tr->step_n : tr->cur_n;
        double vloss = NAN, verr = NAN;
        int best = 0;
        if (tr->val_n && c->val_every > 0 && tr->step % c->val_every == 0) {
            if ((best = validate(tr, &vloss, &verr, err)) < 0) return -1;
            last_val_step = tr->step;
        }
        /* a stream's producer numbers its epochs (epoch= metadata); otherwise passes over the data */
        last = (log_point){loss, after, before_det, terr, vloss, verr, NAN,
                           tr->streaming ? (double)tr->epoch : (double)tr->step * c->batch / ep_size, 0, best};
        int log_now = tr->log && (tr->step % c->log_every == 0 || !isnan(vloss) || gain_now);
        if (log_now) {
            double now = ekn_now();
            last.rate = now > last_log ? since_log / (now - last_log) : NAN;
            last.elapsed = tr->elapsed_before + now - start;
            if (log_row(tr, &last, err)) return -1;
            last_log = now;
            since_log = 0;
            last_log_step = tr->step;
        }
        if (c->save_every > 0 && tr->step % c->save_every == 0) {
            if (tr->avg_rows) avg_push(tr); /* the checkpoints --average averages */
            if (ekn_trainer_save(tr, err)) return -1;
        }
        if (best && save_to(tr, best_path, err)) return -1;
        if (c->early_stop > 0 && tr->since_best >= c->early_stop) {
            early = 1;
            break;
        }
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4g lr %.3g", tr->loss_smooth, tr->lr);
        ekn_progress_update(&prog, (uint64_t)tr->step, extra);
    }
    ekn_progress_end(&prog);
    if (early)
        ekn_warn("step %lld: %s has not improved in %lld validations; stopping (the best, %.5g at step %lld, is '%s')",
                 (long long)tr->step, c->monitor == EKN_MONITOR_ERROR ? "val_error" : "val_loss",
                 (long long)tr->since_best, tr->best_metric, (long long)tr->best_step, best_path);
    /* the last step gets its validation and its log row, unless a signal
     * asked to stop now; this validation is only reported (the plateau
     * schedule and the best checkpoint follow --val-every alone), so a run
     * resumed from here goes on as one that was never stopped */
    int signalled = tr->stop_flag && *tr->stop_flag;
    /* ranks validate together, so only at an end every rank reaches the
     * same way (--steps, --epochs), whatever signal one of them got */
    int final = tr->nranks > 1 ? max_steps && tr->step >= max_steps : !signalled;
    if (tr->step > first_step && final) {
        if (tr->val_n && c->val_every > 0 && last_val_step != tr->step) {
            if (validation_report(tr, &last.vloss, &last.verr, err)) return -1;
            last.best = 0;
        }
        if (tr->log && last_log_step != tr->step) {
            double now = ekn_now();
            last.rate = now > last_log ? since_log / (now - last_log) : NAN;
            last.elapsed = tr->elapsed_before + now - start;
            if (log_row(tr, &last, err)) return -1;
        }
    }
    rc = ekn_ops_check(tr->net.ops, err) || ekn_trainer_save(tr, err) ? -1 : 0;
    if (tr->nranks > 1 && ekn_now() > start)
        ekn_info("%d processes: the gradient's all-reduce took %.3f s of %.3f s (%.1f%%, waits for the slowest rank included)", tr->nranks,
                 tr->dist_seconds, ekn_now() - start, 100 * tr->dist_seconds / (ekn_now() - start));
    tr->elapsed_before += ekn_now() - start;
    tr->run_start = 0;
    /* on a terminal, where the progress line was, or with -v: scripts stay quiet */
    if (!rc && tr->step > first_step && (prog.enabled || ekn_verbose > 0)) summary(tr, &last, best_path);
    return rc;
}
