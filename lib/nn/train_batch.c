/* train_batch: the trainer's batches: examples in permutation order,
 * img-img patches with their labels under the net's output, streamed
 * record groups, lazy-label masks, and their copy in the ops table's
 * memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

int ekn_train_img_img(const ekn_trainer *tr) { return tr->spec.mode == EKN_MODE_IMG_IMG; }

/* Copies the input patch at pos (Z,Y,X) of example e into dst (C, in...). */
static void copy_patch(const ekn_dataset *d, size_t e, const int pos[3], const int in[3], float *dst)
{
    const float *src = d->x + e * d->ex_size;
    const int *S = d->shape;
    for (int c = 0; c < d->c; c++)
        for (int z = 0; z < in[0]; z++)
            for (int y = 0; y < in[1]; y++) {
                const float *row = src + (((size_t)c * S[0] + pos[0] + z) * S[1] + pos[1] + y) * S[2] + pos[2];
                memcpy(dst, row, (size_t)in[2] * sizeof *dst);
                dst += in[2];
            }
}

/* Labels (or targets) under the output voxels: input position pos + offset + stride * o. */
static void copy_label_patch(const ekn_dataset *d, const ekn_net *net, size_t e, const int pos[3], int32_t *y,
                             float *t)
{
    const int *S = d->lab_shape, *off = net->calc.offset, *st = net->calc.stride, *out = net->out;
    size_t base = e * d->lab_size;
    for (int z = 0; z < out[0]; z++)
        for (int yy = 0; yy < out[1]; yy++)
            for (int x = 0; x < out[2]; x++) {
                size_t idx = base + ((size_t)(pos[0] + off[0] + st[0] * z) * S[1] + pos[1] + off[1] + st[1] * yy) * S[2] +
                             pos[2] + off[2] + st[2] * x;
                if (y) *y++ = d->y[idx];
                else *t++ = d->t[idx];
            }
}

/* Whether labels come at full resolution (cropped per patch) or already per output voxel. */
int ekn_train_labels_full_res(const ekn_dataset *d) { return !memcmp(d->lab_shape, d->shape, sizeof d->shape); }

/* A random input patch of example e (the whole example when it has the input's size). */
static void sample_patch_of(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, size_t e, float *x, int32_t *y,
                            float *t)
{
    const ekn_net *net = &tr->net;
    int pos[3];
    for (int k = 0; k < 3; k++) pos[k] = (int)ekn_rng_below(rng, (uint64_t)(d->shape[k] - net->in[k] + 1));
    copy_patch(d, e, pos, net->in, x);
    if (ekn_train_labels_full_res(d)) copy_label_patch(d, net, e, pos, y, t);
    else if (y) memcpy(y, d->y + e * d->lab_size, d->lab_size * sizeof *y);
    else memcpy(t, d->t + e * d->lab_size, d->lab_size * sizeof *t);
}

size_t ekn_train_sample_patch(ekn_trainer *tr, ekn_rng *rng, const ekn_dataset *d, float *x, int32_t *y, float *t)
{
    size_t e = (size_t)ekn_rng_below(rng, d->n);
    sample_patch_of(tr, rng, d, e, x, y, t);
    return e;
}

/* Streamed training: the next example of the stream, reading the next
 * record group when the current one is used up.  1, 0 at the end, -1. */
static int feed_next(ekn_trainer *tr, size_t *e, ekn_err *err)
{
    ekn_dataset *d = &tr->train;
    if (tr->feed_pos >= d->n) {
        ekn_dataset_clear(d);
        tr->feed_pos = 0;
        int got = ekn_dataset_read_group(&tr->feed, d, err);
        if (got <= 0) return got;
        if (tr->net.classes && tr->feed.max_label >= tr->net.classes)
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': label %d in record %llu, but the network has %d classes",
                               d->source, tr->feed.max_label, (unsigned long long)tr->feed.r.record - 1,
                               tr->net.classes);
        if (tr->feed.epoch >= 0) tr->epoch = tr->feed.epoch;
    }
    *e = tr->feed_pos++;
    return 1;
}

static void copy_lazy(ekn_trainer *tr, int b, size_t e)
{
    const ekn_dataset *d = &tr->train;
    if (!tr->blab) return;
    memcpy(tr->blab + (size_t)b * d->lazy_c, d->labelled + e * d->lazy_c, (size_t)d->lazy_c);
    memcpy(tr->babs + (size_t)b * d->lazy_c, d->absent + e * d->lazy_c, (size_t)d->lazy_c);
}

/* Fills the batch buffers: 1, or 0 when a stream has ended before the
 * batch's first example, or -1.  A stream that ends mid-batch gives a
 * short last batch. */
int ekn_train_next_batch(ekn_trainer *tr, ekn_err *err)
{
    ekn_dataset *d = &tr->train;
    int B = (int)tr->cfg.batch;
    size_t ex = tr->net.in_size, ls = ekn_train_img_img(tr) ? tr->net.out_spatial : d->lab_size;
    for (int b = 0; b < B; b++) {
        int32_t *y = d->has_labels ? tr->by + b * ls : NULL;
        float *t = d->has_targets ? tr->bt + b * ls : NULL;
        if (tr->streaming) {
            size_t e = 0;
            int got = feed_next(tr, &e, err);
            if (got < 0) return -1;
            if (got == 0) {
                if (b == 0) return 0;
                B = b;
                break;
            }
            copy_lazy(tr, b, e);
            if (ekn_train_img_img(tr)) {
                sample_patch_of(tr, &tr->rng_data, d, e, tr->bx + b * ex, y, t);
                continue;
            }
            memcpy(tr->bx + b * ex, d->x + e * d->ex_size, ex * sizeof(float));
            if (y) memcpy(y, d->y + e * ls, ls * sizeof *y);
            if (t) memcpy(t, d->t + e * ls, ls * sizeof *t);
            continue;
        }
        if (ekn_train_img_img(tr)) {
            copy_lazy(tr, b, ekn_train_sample_patch(tr, &tr->rng_data, d, tr->bx + b * ex, y, t));
            continue;
        }
        if (tr->perm_pos >= d->n) {
            tr->perm_pos = 0;
            tr->epoch++;
            ekn_rng_shuffle(&tr->rng_data, tr->perm, d->n);
        }
        size_t e = tr->perm[tr->perm_pos++];
        copy_lazy(tr, b, e);
        memcpy(tr->bx + b * ex, d->x + e * d->ex_size, ex * sizeof(float));
        if (y) memcpy(y, d->y + e * ls, ls * sizeof *y);
        if (t) memcpy(t, d->t + e * ls, ls * sizeof *t);
    }
    tr->cur_n = B;
    double sum = 0;
    size_t m = (size_t)B * ls, cnt = 0;
    for (size_t k = 0; k < m; k++) {
        if (d->has_labels && tr->by[k] >= 0) sum += tr->by[k], cnt++;
        if (d->has_targets && isfinite(tr->bt[k])) sum += tr->bt[k], cnt++;
    }
    tr->mean_label = cnt ? sum / cnt : NAN;
    return 1;
}

/* ---- the batch in the ops table's memory ---------------------------------- */

/* On the CPU the dev_ pointers are the host buffers; on a GPU they are
 * device buffers of the same size, allocated once, filled by upload_batch
 * (one copy per buffer and step, through the pinned staging buffer). */
int ekn_train_alloc_device_batch(ekn_trainer *tr, size_t B, size_t ls, ekn_err *err)
{
    const ekn_ops *ops = tr->net.ops;
    size_t C = (size_t)tr->net.classes;
    if (ops->host) {
        tr->dev_x = tr->bx, tr->dev_y = tr->by, tr->dev_t = tr->bt;
        tr->dev_lab = tr->blab, tr->dev_abs = tr->babs;
        tr->dev_cw = tr->cfg.class_weights;
        return 0;
    }
    int fail = !(tr->dev_x = ops->alloc(B * tr->net.in_size * sizeof(float))) ||
               (tr->by && !(tr->dev_y = ops->alloc(B * ls * sizeof(int32_t)))) ||
               (tr->bt && !(tr->dev_t = ops->alloc(B * ls * sizeof(float)))) ||
               (tr->blab && !(tr->dev_lab = ops->alloc(B * C))) || (tr->babs && !(tr->dev_abs = ops->alloc(B * C))) ||
               (tr->cfg.nclass_weights && !(tr->dev_cw = ops->alloc(C * sizeof(float)))) ||
               !(tr->host_out = malloc(B * tr->net.out_size * sizeof(float)));
    if (fail) {
        ekn_err why = {0};
        ekn_ops_check(ops, &why);
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of device memory for the buffers of batch %zu%s%s; try a smaller --batch",
                           B, why.msg[0] ? ": " : "", why.msg);
    }
    if (tr->dev_cw) ops->upload(tr->dev_cw, tr->cfg.class_weights, C * sizeof(float));
    return 0;
}

void ekn_train_free_device_batch(ekn_trainer *tr)
{
    const ekn_ops *ops = tr->net.ops;
    if (!ops) return;
    ops->free(tr->dout);
    ops->free(tr->gtmp);
    if (ops->host) return;
    ops->free(tr->dev_x);
    ops->free(tr->dev_y);
    ops->free(tr->dev_t);
    ops->free(tr->dev_lab);
    ops->free(tr->dev_abs);
    ops->free(tr->dev_cw);
    free(tr->host_out);
}

void ekn_train_upload_batch(ekn_trainer *tr)
{
    const ekn_ops *ops = tr->net.ops;
    if (ops->host) return;
    size_t n = (size_t)tr->cur_n, C = (size_t)tr->net.classes;
    size_t ls = ekn_train_img_img(tr) ? tr->net.out_spatial * (C ? 1 : (size_t)tr->net.out_c) : tr->train.lab_size;
    ops->upload(tr->dev_x, tr->bx, n * tr->net.in_size * sizeof(float));
    if (tr->by) ops->upload(tr->dev_y, tr->by, n * ls * sizeof(int32_t));
    if (tr->bt) ops->upload(tr->dev_t, tr->bt, n * ls * sizeof(float));
    if (tr->blab) ops->upload(tr->dev_lab, tr->blab, n * C);
    if (tr->babs) ops->upload(tr->dev_abs, tr->babs, n * C);
}

