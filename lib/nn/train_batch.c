/* train_batch: the trainer's batches: examples in permutation order,
 * img-img patches with their labels under the net's output, streamed
 * record groups (ekn-batch's trained on as they come), lazy-label masks,
 * and their mirror in the ops table's memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

int ekn_train_img_img(const ekn_trainer *tr) { return tr->spec.mode == EKN_MODE_IMG_IMG; }

int ekn_train_loss_channels(const ekn_trainer *tr)
{
    return tr->net.classes ? tr->net.classes : ekn_spec_sigmoid(&tr->spec) ? tr->net.out_c : 0;
}

/* Whether labels come at full resolution (cropped per patch) or already per output voxel. */
int ekn_train_labels_full_res(const ekn_dataset *d) { return !memcmp(d->lab_shape, d->shape, sizeof d->shape); }

void ekn_train_batch_layout(const ekn_trainer *tr, const ekn_dataset *src, ekn_dataset *dst)
{
    const ekn_net *net = &tr->net;
    ekn_dataset_layout(dst, src);
    if (!ekn_train_img_img(tr)) return;
    /* the net's input patch, its labels per output voxel */
    dst->c = net->in_c;
    memcpy(dst->shape, net->in, sizeof dst->shape);
    dst->ex_size = net->in_size;
    dst->lab_ndim = src->ndim;
    memcpy(dst->lab_shape, net->out, sizeof dst->lab_shape);
    dst->lab_size = net->out_spatial * (net->classes ? 1 : (size_t)net->out_c);
    dst->lab_placed = 1;
    if (dst->has_weights) { /* one weight per output voxel */
        dst->w_size = net->out_spatial;
        dst->w_ndim = src->ndim;
        memcpy(dst->w_shape, net->out, sizeof dst->w_shape);
    }
    memcpy(dst->lab_offset, net->calc.offset, sizeof dst->lab_offset);
    memcpy(dst->lab_stride, net->calc.stride, sizeof dst->lab_stride);
}

/* A random input patch of example e (the whole example when it has the
 * input's size); labels at full resolution are taken under the net's
 * output, at input position pos + offset + stride * o. */
static void sample_patch_of(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, size_t e, float *x, int32_t *y,
                            float *t, float *w)
{
    const ekn_net *net = &tr->net;
    int pos[3];
    for (int k = 0; k < 3; k++) pos[k] = (int)ekn_rng_below(rng, (uint64_t)(d->shape[k] - net->in[k] + 1));
    ekn_lattice out;
    memcpy(out.offset, net->calc.offset, sizeof out.offset);
    memcpy(out.stride, net->calc.stride, sizeof out.stride);
    memcpy(out.out, net->out, sizeof out.out);
    ekn_dataset_cut(d, e, pos, net->in, ekn_train_labels_full_res(d) ? &out : NULL, x, y, t);
    if (w && d->has_weights) ekn_dataset_cut_weights(d, e, pos, ekn_train_labels_full_res(d) ? &out : NULL, w);
}

size_t ekn_train_sample_patch(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, float *x, int32_t *y, float *t,
                              float *w)
{
    size_t e = (size_t)ekn_rng_below(rng, d->n);
    sample_patch_of(tr, rng, d, e, x, y, t, w);
    return e;
}

/* The draws of ekn_train_sample_patch without the cut: another rank's
 * patch of the global batch. */
static void skip_patch(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d)
{
    (void)ekn_rng_below(rng, d->n);
    for (int k = 0; k < 3; k++) (void)ekn_rng_below(rng, (uint64_t)(d->shape[k] - tr->net.in[k] + 1));
}

/* Example e of d into slot k of the batch: as it is, or (img-img) a patch of it. */
static void put_example(ekn_trainer *tr, size_t k, const ekn_dataset *d, size_t e)
{
    ekn_dataset *b = &tr->batch;
    if (!ekn_train_img_img(tr)) {
        ekn_dataset_copy_example(b, k, d, e);
        return;
    }
    ekn_dataset_copy_lazy(b, k, d, e);
    sample_patch_of(tr, &tr->rng_data, d, e, b->x + k * b->ex_size, b->y ? b->y + k * b->lab_size : NULL,
                    b->t ? b->t + k * b->lab_size : NULL, b->w ? b->w + k * b->w_size : NULL);
}

/* Streamed training: the next record group into tr->train.  1, 0 at the end, -1. */
static int read_group(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *d = &tr->train;
    ekn_dataset_clear(d);
    tr->feed_pos = 0;
    int got = ekn_dataset_read_group(&tr->feed, d, err);
    if (got <= 0) return got;
    if (tr->net.classes && tr->feed.max_label >= tr->net.classes)
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': label %d in record %llu, but the network has %d classes",
                           d->source, tr->feed.max_label, (unsigned long long)(tr->feed.g.first + 1), tr->net.classes);
    if (tr->feed.epoch >= 0) tr->epoch = tr->feed.epoch;
    return 1;
}

/* A group of ekn-batch's is one step, as it is: the group itself when it
 * has the net's layout (no copy), else a patch of each of its examples
 * (examples larger than the net's input, full-resolution labels). */
static int take_group(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *d = &tr->train;
    const ekn_net *net = &tr->net;
    if (d->n > (size_t)tr->cfg.batch)
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "'%s': record %llu: a batch of %zu examples (batch= metadata), more than --batch %ld; give "
                           "ekn-train --batch %zu or more",
                           d->source, (unsigned long long)tr->feed.g.first, d->n, tr->cfg.batch, d->n);
    tr->feed_pos = d->n;
    tr->cur_n = (int)d->n;
    int as_is = !ekn_train_img_img(tr) || (!memcmp(d->shape, net->in, sizeof d->shape) && !ekn_train_labels_full_res(d));
    if (as_is) {
        tr->cur = d;
        return 1;
    }
    for (size_t k = 0; k < d->n; k++) put_example(tr, k, d, k);
    tr->batch.n = d->n;
    tr->cur = &tr->batch;
    return 1;
}

/* A stream's next batch: 1, 0 at its end, -1. */
static int next_streamed(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *d = &tr->train;
    /* several ranks: each its own stream, and its slice's share of --batch */
    size_t B = tr->nranks > 1 ? tr->slice_hi - tr->slice_lo : (size_t)tr->cfg.batch, n = 0;
    for (;;) {
        if (tr->feed_pos >= d->n) {
            int got = read_group(tr, err);
            if (got < 0) return -1;
            if (got == 0) break;
        }
        if (tr->feed_pos == 0 && tr->feed.batch >= 0) {
            if (n) break; /* after examples of other groups: they make a short batch first */
            return take_group(tr, err);
        }
        for (; n < B && tr->feed_pos < d->n; n++) put_example(tr, n, d, tr->feed_pos++);
        if (n == B) break;
    }
    if (!n) return 0;
    tr->batch.n = n;
    tr->cur = &tr->batch;
    tr->cur_n = (int)n;
    return 1;
}

int ekn_train_next_batch(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *d = &tr->train, *b = &tr->batch;
    size_t B = (size_t)tr->cfg.batch;
    if (tr->streaming) {
        int got = next_streamed(tr, err);
        if (got <= 0) return got;
    } else {
        /* every rank walks the whole global batch (the same RNG draws and
         * permutation), and keeps its slice [lo, hi) of it; one rank keeps all */
        size_t lo = tr->nranks > 1 ? tr->slice_lo : 0, hi = tr->nranks > 1 ? tr->slice_hi : B;
        for (size_t k = 0; k < B; k++) {
            int mine = k >= lo && k < hi;
            size_t j = k - lo;
            if (ekn_train_img_img(tr)) {
                if (!mine) {
                    skip_patch(tr, &tr->rng_data, d);
                    continue;
                }
                ekn_dataset_copy_lazy(b, j, d,
                                      ekn_train_sample_patch(tr, &tr->rng_data, d, b->x + j * b->ex_size,
                                                             b->y ? b->y + j * b->lab_size : NULL,
                                                             b->t ? b->t + j * b->lab_size : NULL,
                                                             b->w ? b->w + j * b->w_size : NULL));
                continue;
            }
            if (tr->perm_pos >= d->n) {
                tr->perm_pos = 0;
                tr->epoch++;
                ekn_rng_shuffle(&tr->rng_data, tr->perm, d->n);
            }
            size_t e = tr->perm[tr->perm_pos++];
            if (mine) ekn_dataset_copy_example(b, j, d, e);
        }
        b->n = hi - lo;
        tr->cur = b;
        tr->cur_n = (int)(hi - lo);
    }
    const ekn_dataset *c = tr->cur;
    double sum = 0;
    size_t m = (size_t)tr->cur_n * c->lab_size, cnt = 0;
    for (size_t k = 0; k < m; k++) {
        if (c->has_labels && c->y[k] >= 0) sum += c->y[k], cnt++;
        if (c->has_targets && isfinite(c->t[k])) sum += c->t[k], cnt++;
    }
    tr->mean_label = cnt ? sum / cnt : NAN;
    tr->label_sum = sum;
    tr->label_cnt = (double)cnt;
    return 1;
}

/* ---- the batch and its mirror in the ops table's memory ------------------- */

int ekn_train_alloc_batch(ekn_trainer *tr, ekn_err *err)
{
    const ekn_ops *ops = tr->net.ops;
    size_t B = (size_t)tr->cfg.batch, C = (size_t)ekn_train_loss_channels(tr);
    ekn_train_batch_layout(tr, &tr->train, &tr->batch);
    if (ekn_dataset_reserve(&tr->batch, B, err)) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for batch %zu", B);
    tr->cur = &tr->batch;
    if (ekn_dataset_dev_alloc(&tr->dev, ops, &tr->batch, B, err)) {
        ekn_err why = *err;
        return ekn_err_set(err, EKN_EXIT_FAIL, "%s; try a smaller --batch", why.msg);
    }
    /* bce's pos_weight, one per channel (NULL when it is 1: the plain loss) */
    float pw = tr->spec.pos_weight;
    if (tr->spec.loss == EKN_LOSS_BCE && pw != 1.0f && C) {
        if (!(tr->host_pw = malloc(C * sizeof(float)))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        for (size_t k = 0; k < C; k++) tr->host_pw[k] = pw;
    }
    if (ops->host) {
        tr->dev_cw = tr->cfg.class_weights;
        tr->dev_pw = tr->host_pw;
        return 0;
    }
    int fail = (tr->cfg.nclass_weights && !(tr->dev_cw = ops->alloc(C * sizeof(float)))) ||
               (tr->host_pw && !(tr->dev_pw = ops->alloc(C * sizeof(float)))) ||
               !(tr->host_out = malloc(B * tr->net.out_size * sizeof(float)));
    if (fail) {
        ekn_err why = {0};
        ekn_ops_check(ops, &why);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of device memory for the buffers of batch %zu%s%s; try a smaller --batch",
                           B, why.msg[0] ? ": " : "", why.msg);
    }
    if (tr->dev_cw) ops->upload(tr->dev_cw, tr->cfg.class_weights, C * sizeof(float));
    if (tr->dev_pw) ops->upload(tr->dev_pw, tr->host_pw, C * sizeof(float));
    return 0;
}

void ekn_train_free_batch(ekn_trainer *tr)
{
    const ekn_ops *ops = tr->net.ops;
    ekn_dataset_free(&tr->batch);
    if (!ops) return;
    ops->free(tr->dout);
    ops->free(tr->gtmp);
    ekn_dataset_dev_free(&tr->dev);
    free(tr->host_pw);
    if (ops->host) return;
    ops->free(tr->dev_cw);
    ops->free(tr->dev_pw);
    free(tr->host_out);
}

void ekn_train_upload_batch(ekn_trainer *tr) { ekn_dataset_dev_put(&tr->dev, tr->cur, 0, (size_t)tr->cur_n); }
