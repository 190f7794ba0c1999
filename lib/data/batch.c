/* ekn-batch's driver: picks whole-example or patch batches, opens the
 * output, and for patches runs the epochs of the sampler. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"

static int is_regular_file(const char *path)
{
    struct stat st;
    return strcmp(path, "-") && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Batch layout of patches: image (B,C,size), labels (B,lab) placed on the net's lattice. */
static int patch_layout(ekn_dataset *b, const ekn_sampler *s, const ekn_dataset *sets, int nsets, long batch,
                        ekn_err *err)
{
    const ekn_dataset *d = &sets[0];
    const ekn_patch_geom *g = &s->o.geom;
    ekn_dataset_layout(b, d);
    memcpy(b->shape, s->size, sizeof b->shape);
    b->is_vector = 0;
    b->ex_size = (size_t)d->c * s->size[0] * s->size[1] * s->size[2];
    b->lab_ndim = d->ndim;
    memcpy(b->lab_shape, s->lab, sizeof b->lab_shape);
    b->lab_size = (size_t)s->lab[0] * s->lab[1] * s->lab[2] * (size_t)(d->lab_c ? d->lab_c : 1);
    if (b->has_weights) { /* cut as the labels are */
        b->w_size = (size_t)s->lab[0] * s->lab[1] * s->lab[2];
        b->w_ndim = d->ndim;
        memcpy(b->w_shape, s->lab, sizeof b->w_shape);
    }
    b->classes = 0;
    for (int i = 0; i < nsets; i++)
        if (sets[i].has_labels && sets[i].classes > b->classes) b->classes = sets[i].classes;
    b->lab_placed = !g->full_labels;
    memcpy(b->lab_offset, g->offset, sizeof b->lab_offset);
    memcpy(b->lab_stride, g->stride, sizeof b->lab_stride);
    return ekn_dataset_reserve(b, (size_t)batch, err);
}

/* One batch of n patches; ceil(share * n) of them, at random places in the
 * batch, come from corners whose labels contain the class. */
static void draw_batch(ekn_sampler *s, ekn_dataset *b, int n, uint32_t *order)
{
    int ncls = s->o.class_k >= 0 ? (int)ceil(s->o.class_share * n - 1e-9) : 0;
    for (int i = 0; i < n; i++) order[i] = (uint32_t)i;
    if (ncls > 0 && ncls < n) ekn_rng_shuffle(&s->rng, order, (size_t)n);
    for (int i = 0; i < n; i++) {
        size_t k = order[i];
        const ekn_volume *v = ekn_sampler_draw(s, i < ncls, b->x + k * b->ex_size, b->y ? b->y + k * b->lab_size : NULL,
                                               b->t ? b->t + k * b->lab_size : NULL, b->w ? b->w + k * b->w_size : NULL);
        ekn_dataset_copy_lazy(b, k, v->d, v->e);
    }
}

static int run_patches(const ekn_batch_opts *o, ekn_sampler *s, ekn_dataset *b, ekn_writer *w, ekn_err *err)
{
    uint64_t ppe = o->patches_per_epoch ? o->patches_per_epoch : ekn_sampler_tiles(s);
    if (o->drop_last && ppe < (uint64_t)o->batch)
        return ekn_err_set(err, EKN_EXIT_FAIL, "%llu patches per epoch make no full batch of %ld (--drop-last)",
                           (unsigned long long)ppe, o->batch);
    ekn_info("%llu patches per epoch", (unsigned long long)ppe);
    uint32_t *order = malloc((size_t)o->batch * sizeof *order);
    if (!order) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    ekn_batch_out out = {w, 0, o->shard, o->nshards};
    int rc = 0;
    for (uint64_t epoch = 0; !rc && (!o->epochs || epoch < o->epochs); epoch++)
        for (uint64_t i = 0; !rc && i < ppe; i += (uint64_t)o->batch) {
            int n = (int)(ppe - i < (uint64_t)o->batch ? ppe - i : (uint64_t)o->batch);
            if (n < o->batch && o->drop_last) break;
            draw_batch(s, b, n, order);
            rc = ekn_batch_write(&out, b, (size_t)n, epoch, err);
        }
    free(order);
    return rc;
}

static int patches(const ekn_batch_opts *o, ekn_writer *w, ekn_err *err)
{
    int n = o->ninputs, rc = 0;
    ekn_dataset *sets = calloc((size_t)n, sizeof *sets);
    double weights[EKN_BATCH_MAX_INPUTS];
    const char *names[EKN_BATCH_MAX_INPUTS];
    if (!sets) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        rc = ekn_dataset_load(&sets[i], o->inputs[i].path, err);
        weights[i] = o->inputs[i].weight;
        names[i] = sets[i].source;
    }
    ekn_sampler_opts so = {.geom = o->geom, .max_ignored = o->max_ignored, .class_k = o->class_k,
                           .class_share = o->class_share, .seed = o->seed};
    if (!rc && o->geom.ndim > sets[0].ndim)
        rc = ekn_err_set(err, EKN_EXIT_SPEC, "'%s': the net is %dD, the volumes %dD", names[0], o->geom.ndim,
                         sets[0].ndim);
    if (!rc && o->region) rc = ekn_region_parse(&so.region, o->region, sets[0].ndim, err);
    ekn_sampler s = {0};
    ekn_dataset b = {0};
    if (!rc) rc = ekn_sampler_init(&s, &so, sets, weights, names, n, err);
    if (!rc) rc = patch_layout(&b, &s, sets, n, o->batch, err);
    if (!rc) rc = run_patches(o, &s, &b, w, err);
    ekn_dataset_free(&b);
    ekn_sampler_free(&s);
    for (int i = 0; i < n; i++) ekn_dataset_free(&sets[i]);
    free(sets);
    return rc;
}

int ekn_batch_run(const ekn_batch_opts *o, ekn_err *err)
{
    if (!o->img_img && o->ninputs > 1)
        return ekn_err_set(err, EKN_EXIT_USAGE, "several inputs need patches (--patch, --net or --calc); "
                                                "concatenate example streams with cat");
    const char *in = o->inputs[0].path;
    /* a pipe is read once; repeating it means holding it in memory */
    int streamed = !o->img_img && (o->shuffle_buffer_given || (!is_regular_file(in) && o->epochs == 1));
    if (streamed && o->epochs != 1)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--shuffle-buffer reads the input once: it needs --epochs 1");
    ekn_writer w;
    if (ekn_writer_open(&w, o->output, o->force, err)) return -1;
    int rc = o->img_img ? patches(o, &w, err)
           : streamed   ? ekn_batch_examples_stream(o, &w, err)
                        : ekn_batch_examples_memory(o, &w, err);
    if (rc) {
        ekn_writer_abort(&w);
        return -1;
    }
    return ekn_writer_close(&w, err);
}
