/* predict_block: ekn-predict --dense by regions (--roi, --block), its
 * HDF5 output with the done marker of a block, and --join, the virtual
 * dataset over the blocks.
 *
 * A block file's root holds two attributes: ekn_job, the words that must
 * agree between the blocks of one job (input path, model hash, the options
 * that shape the output, N), and ekn_done, ekn_job with the block's index;
 * the file is written to a temp file and renamed (h5.h), so it exists only
 * whole.  A rerun skips a block whose file has the ekn_done it would write. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "predict_internal.h"
#include "group.h"
#include "prep.h"

void ekn_predict_block_path(const char *file, int block, int blocks, char *out, size_t cap)
{
    const char *slash = strrchr(file, '/'), *dot = strrchr(file, '.');
    if (dot && (dot == file || (slash && dot <= slash + 1))) dot = NULL; /* ".h5", "dir/.h5": no extension */
    if (dot && slash && dot < slash) dot = NULL;
    size_t stem = dot ? (size_t)(dot - file) : strlen(file);
    snprintf(out, cap, "%.*s.block-%d-of-%d%s", (int)stem, file, block, blocks, dot ? dot : "");
}

int ekn_predict_region_resolve(const predictor *p, const ekn_tiling *t, int nd, int lo[3], int hi[3], ekn_err *err)
{
    const ekn_predict_region *r = &p->cfg->region;
    for (int k = 0; k < 3; k++) lo[k] = 0, hi[k] = t->ax[k].out;
    if (r->n) {
        if (r->n != nd)
            return ekn_err_set(err, EKN_EXIT_USAGE, "--roi gives %d ranges, the image has %d axes (%s)", r->n, nd,
                               nd == 3 ? "Z0:Z1,Y0:Y1,X0:X1" : "Y0:Y1,X0:X1");
        for (int k = 3 - nd; k < 3; k++) {
            if (r->hi[k] > t->ax[k].out)
                return ekn_err_set(err, EKN_EXIT_USAGE, "--roi: the range %d:%d of axis %c lies outside the %d outputs (0:%d)",
                                   r->lo[k], r->hi[k], "ZYX"[k], t->ax[k].out, t->ax[k].out);
            lo[k] = r->lo[k], hi[k] = r->hi[k];
        }
    } else if (r->blocks) {
        int k = 3 - nd;
        while (k < 3 && t->ax[k].out < r->blocks) k++;
        if (k == 3)
            return ekn_err_set(err, EKN_EXIT_USAGE, "--block %d/%d: no axis of the %dx%dx%d outputs has %d voxels to split",
                               r->block, r->blocks, t->ax[0].out, t->ax[1].out, t->ax[2].out, r->blocks);
        ekn_tiling_block(t, k, r->block, r->blocks, &lo[k], &hi[k]);
    }
    return 0;
}

/* FNV-1a, 64 bits, of the file's bytes. */
static int hash_file(const char *path, char *out, size_t cap, ekn_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    uint64_t h = 1469598103934665603ull;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
    int bad = ferror(f);
    fclose(f);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': read error:", path);
    snprintf(out, cap, "fnv1a64:%016llx", (unsigned long long)h);
    return 0;
}

/* The words of ekn_job and ekn_done: the input by its path, and for a
 * file its size and modification time (a volume made again is new input). */
static void job_words(const predictor *p, char *job, size_t cap)
{
    const ekn_predict_config *c = p->cfg;
    struct stat st;
    char when[96] = "";
    const char *file = c->h5_in_file ? c->h5_in_file : c->input;
    if (strcmp(file, "-") && !stat(file, &st) && S_ISREG(st.st_mode))
        snprintf(when, sizeof when, " size=%lld mtime=%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 (long)st.st_mtim.tv_nsec);
    snprintf(job, cap, "ekn-predict --dense input=%s%s model=%s %s blocks=%d", c->input, when, p->model_hash,
             c->settings ? c->settings : "", c->region.blocks);
}

static void done_words(const predictor *p, char *done, size_t cap)
{
    char job[2048];
    job_words(p, job, sizeof job);
    snprintf(done, cap, "%s block=%d", job, p->cfg->region.block);
}

int ekn_predict_h5_prepare(predictor *p, ekn_err *err)
{
    const ekn_predict_config *c = p->cfg;
    if (hash_file(c->model, p->model_hash, sizeof p->model_hash, err)) return -1;
    if (c->region.blocks) ekn_predict_block_path(c->h5_file, c->region.block, c->region.blocks, p->h5_path, sizeof p->h5_path);
    else snprintf(p->h5_path, sizeof p->h5_path, "%s", c->h5_file);
    if (c->region.blocks && !access(p->h5_path, F_OK)) {
        ekn_h5 h;
        ekn_err e = {0};
        char *have = NULL, want[2200];
        done_words(p, want, sizeof want);
        int done = !ekn_h5_open_unprobed(&h, p->h5_path, &e);
        done = done && !ekn_h5_attr_get_string(&h, "/", "ekn_done", &have, &e) && !strcmp(have, want) &&
               ekn_h5_exists(&h, c->h5_dset);
        free(have);
        if (h.file > 0) ekn_h5_close(&h);
        if (done) {
            ekn_info("'%s': block %d of %d is done: skipped", p->h5_path, c->region.block, c->region.blocks);
            return 1;
        }
        ekn_warn("'%s': not a finished block of this job (%s); predicting it again", p->h5_path,
                 e.msg[0] ? e.msg : "other input, model or options");
    }
    /* before the work: the place takes a file (and stale temp files of killed runs go) */
    if (ekn_h5_check_writable(p->h5_path, err)) return -1;
    return 0;
}

/* The input record's spacing= (2 or 3 numbers): how many, into v. */
static int spacing_of(const ekn_tensor *in, double v[3])
{
    char buf[256];
    if (ekn_tensor_meta_get(in, "spacing", buf, sizeof buf) <= 0) return 0;
    int n = 0;
    char *s = buf, *end;
    while (n < 3) {
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno || !(x > 0)) return 0;
        v[n++] = x;
        if (*end != ',') break;
        s = end + 1;
    }
    return *end ? 0 : n;
}

int ekn_predict_h5_dense(predictor *p, const ekn_tiling *t, int nd, const int lo[3], const int hi[3], const ekn_tensor *in,
                         ekn_err *err)
{
    const ekn_predict_config *c = p->cfg;
    const char *ds = c->h5_dset, *what;
    size_t spatial = 1;
    uint64_t dims[4], chunk[4];
    int rank = 0, C = p->net.out_c;
    for (int k = 3 - nd; k < 3; k++) spatial *= (size_t)(hi[k] - lo[k]);
    const void *data;
    ekn_dtype dt;
    void *buf = NULL;
    if (p->classes && !c->want_prob) { /* argmax classes */
        what = "argmax classes";
        dt = p->classes <= 256 ? EKN_U8 : EKN_I32;
        data = p->cls;
        if (dt == EKN_U8) {
            uint8_t *u = buf = malloc(spatial ? spatial : 1);
            if (!u) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            for (size_t i = 0; i < spatial; i++) u[i] = (uint8_t)p->cls[i];
            data = u;
        }
    } else {
        what = p->classes ? "class probabilities" : "network outputs";
        size_t chans = c->channel >= 0 ? 1 : (size_t)C;
        const float *src = p->out + (c->channel >= 0 ? (size_t)c->channel * spatial : 0);
        if (c->channel < 0) dims[rank] = (uint64_t)C, chunk[rank++] = 1;
        dt = EKN_F32;
        data = src;
        if (c->quantize) {
            what = "class probabilities, round(255 p)";
            uint8_t *u = buf = malloc(chans * spatial + 1);
            if (!u) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            for (size_t i = 0; i < chans * spatial; i++) {
                float v = src[i] * 255.0f + 0.5f;
                u[i] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : v);
            }
            data = u;
            dt = EKN_U8;
        }
    }
    for (int k = 3 - nd; k < 3; k++) {
        uint64_t e = (uint64_t)(hi[k] - lo[k]), most = nd == 3 ? 64 : 256;
        dims[rank] = e;
        chunk[rank++] = e < most ? e : most;
    }
    int64_t offset[3], start[3], stop[3], volume[3], block[2] = {c->region.block, c->region.blocks};
    for (int k = 0; k < 3; k++) offset[k] = t->ax[k].offset - t->ax[k].pad + lo[k];
    for (int k = 0; k < nd; k++) {
        int a = 3 - nd + k;
        start[k] = lo[a], stop[k] = hi[a], volume[k] = t->ax[a].out;
    }
    double spacing[3];
    int ns = spacing_of(in, spacing);
    char job[2048], done[2200];
    job_words(p, job, sizeof job);
    done_words(p, done, sizeof done);
    int rc = ekn_h5_create_large(&p->h5, p->h5_path, err);
    if (!rc) p->h5_open = 1;
    rc = rc || ekn_h5_put_chunked(&p->h5, ds, dt, rank, dims, chunk, c->deflate, data, err) ||
         ekn_h5_attr_put_string(&p->h5, ds, "content", what, err) ||
         ekn_h5_attr_put_string(&p->h5, ds, "axes", rank > nd ? (nd == 3 ? "czyx" : "cyx") : nd == 3 ? "zyx" : "yx", err) ||
         ekn_h5_attr_put(&p->h5, ds, "offset", EKN_I64, 3, offset, err) ||
         ekn_h5_attr_put(&p->h5, ds, "start", EKN_I64, nd, start, err) ||
         ekn_h5_attr_put(&p->h5, ds, "stop", EKN_I64, nd, stop, err) ||
         ekn_h5_attr_put(&p->h5, ds, "volume", EKN_I64, nd, volume, err) ||
         (ns && ekn_h5_attr_put(&p->h5, ds, "spacing", EKN_F64, ns, spacing, err)) ||
         ekn_h5_attr_put_string(&p->h5, ds, "model", c->model, err) ||
         ekn_h5_attr_put_string(&p->h5, ds, "model_hash", p->model_hash, err) ||
         (c->region.blocks && ekn_h5_attr_put(&p->h5, ds, "block", EKN_I64, 2, block, err)) ||
         ekn_h5_attr_put_string(&p->h5, "/", "ekn_job", job, err) ||
         ekn_h5_attr_put_string(&p->h5, "/", "ekn_done", done, err);
    free(buf);
    return rc ? -1 : 0;
}

/* ---- --join ------------------------------------------------------------------ */

typedef struct part {
    const char *path;
    char *job;
    ekn_dtype dt;
    int rank, nd;
    uint64_t dims[4];
    int64_t block[2], start[3], stop[3], volume[3], offset[3];
} part;

/* The directory of path, resolved (for relative source names). */
static char *dir_of(const char *path)
{
    char d[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(d, sizeof d, ".");
    else snprintf(d, sizeof d, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return realpath(d, NULL);
}

static int read_part(part *q, const char *dset, ekn_h5 *h, ekn_err *err)
{
    char *done = NULL;
    if (ekn_h5_attr_get_string(h, "/", "ekn_done", &done, err) || ekn_h5_attr_get_string(h, "/", "ekn_job", &q->job, err))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not a finished block of ekn-predict --block", q->path);
    free(done);
    q->rank = ekn_h5_info(h, dset, &q->dt, q->dims, 4, err);
    if (q->rank < 0) return -1;
    if (ekn_h5_attr_get(h, dset, "block", EKN_I64, 2, q->block, err)) return -1;
    int n = ekn_h5_attr_len(h, dset, "start");
    if (n != 2 && n != 3) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has no region (start)", q->path, dset);
    q->nd = (int)n;
    if (ekn_h5_attr_get(h, dset, "start", EKN_I64, q->nd, q->start, err) ||
        ekn_h5_attr_get(h, dset, "stop", EKN_I64, q->nd, q->stop, err) ||
        ekn_h5_attr_get(h, dset, "volume", EKN_I64, q->nd, q->volume, err) ||
        ekn_h5_attr_get(h, dset, "offset", EKN_I64, 3, q->offset, err))
        return -1;
    if (q->rank < q->nd || q->rank > q->nd + 1)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has rank %d for a %dD region", q->path, dset, q->rank, q->nd);
    for (int k = 0; k < q->nd; k++)
        if (q->start[k] < 0 || q->stop[k] > q->volume[k] || q->start[k] >= q->stop[k] ||
            q->dims[q->rank - q->nd + k] != (uint64_t)(q->stop[k] - q->start[k]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s': its shape does not match its region", q->path, dset);
    return 0;
}

int ekn_predict_join(const char *file, const char *dset, const char *const *parts, int nparts, ekn_err *err)
{
    if (nparts < 1) return ekn_err_set(err, EKN_EXIT_USAGE, "--join needs the block files as operands");
    part *q = calloc((size_t)nparts, sizeof *q);
    if (!q) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    ekn_h5_source *src = calloc((size_t)nparts, sizeof *src);
    char **names = calloc((size_t)nparts, sizeof *names), *outdir = dir_of(file);
    int rc = -1, *seen = NULL;
    char model[4096] = "", hash[64] = "", content[256] = "";
    double spacing[3];
    int ns = 0;
    if (!src || !names || !outdir) {
        ekn_err_set(err, EKN_EXIT_FAIL, outdir ? "out of memory" : "'%s': cannot resolve its directory:", file);
        goto done;
    }
    for (int i = 0; i < nparts; i++) {
        ekn_h5 h;
        q[i].path = parts[i];
        if (ekn_h5_open_unprobed(&h, parts[i], err)) goto done;
        int bad = read_part(&q[i], dset, &h, err);
        if (!bad && i == 0) {
            char *s = NULL;
            if (!ekn_h5_attr_get_string(&h, dset, "model", &s, err)) snprintf(model, sizeof model, "%s", s);
            free(s);
            s = NULL;
            if (!ekn_h5_attr_get_string(&h, dset, "model_hash", &s, err)) snprintf(hash, sizeof hash, "%s", s);
            free(s);
            s = NULL;
            if (!ekn_h5_attr_get_string(&h, dset, "content", &s, err)) snprintf(content, sizeof content, "%s", s);
            free(s);
            int n = ekn_h5_attr_len(&h, dset, "spacing");
            if (n >= 1 && n <= 3 && !ekn_h5_attr_get(&h, dset, "spacing", EKN_F64, n, spacing, err)) ns = n;
            err->msg[0] = 0, err->code = 0;
        }
        ekn_h5_close(&h);
        if (bad) goto done;
    }
    const part *a = &q[0];
    int N = (int)a->block[1];
    if (N != nparts) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s' is block %lld of %d, but %d block file%s given", a->path, (long long)a->block[0],
                    N, nparts, nparts == 1 ? " is" : "s are");
        goto done;
    }
    if (!(seen = calloc((size_t)N, sizeof *seen))) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        goto done;
    }
    for (int i = 0; i < nparts; i++) {
        const part *b = &q[i];
        int same = b->rank == a->rank && b->nd == a->nd && b->dt == a->dt && b->block[1] == N && !strcmp(b->job, a->job);
        for (int k = 0; same && k < a->nd; k++) same = b->volume[k] == a->volume[k];
        for (int k = 0; same && k < a->rank - a->nd; k++) same = b->dims[k] == a->dims[k];
        if (!same) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s' and '%s' are not blocks of one job (other input, model, options or shape)",
                        a->path, b->path);
            goto done;
        }
        if (b->block[0] < 0 || b->block[0] >= N || seen[b->block[0]]++) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': block %lld of %d is given twice", b->path, (long long)b->block[0], N);
            goto done;
        }
    }
    /* the blocks tile the volume: their voxels add up and none overlap two (checked by counting: a
     * block region lies inside the volume, so equal sums and pairwise disjoint regions cover it) */
    uint64_t total = 1, sum = 0;
    for (int k = 0; k < a->nd; k++) total *= (uint64_t)a->volume[k];
    for (int i = 0; i < nparts; i++) {
        uint64_t v = 1;
        for (int k = 0; k < a->nd; k++) v *= (uint64_t)(q[i].stop[k] - q[i].start[k]);
        sum += v;
        for (int j = 0; j < i; j++) {
            int meet = 1;
            for (int k = 0; k < a->nd; k++) meet &= q[i].start[k] < q[j].stop[k] && q[j].start[k] < q[i].stop[k];
            if (meet) {
                ekn_err_set(err, EKN_EXIT_FAIL, "'%s' and '%s' overlap", q[j].path, q[i].path);
                goto done;
            }
        }
    }
    if (sum != total) {
        ekn_err_set(err, EKN_EXIT_FAIL, "the %d blocks cover %llu of the %llu output voxels", N, (unsigned long long)sum,
                    (unsigned long long)total);
        goto done;
    }
    uint64_t dims[4];
    int lead = a->rank - a->nd;
    for (int k = 0; k < lead; k++) dims[k] = a->dims[k];
    for (int k = 0; k < a->nd; k++) dims[lead + k] = (uint64_t)a->volume[k];
    for (int i = 0; i < nparts; i++) {
        /* a part beside the joined file is named relatively, so the directory can move whole */
        char *pdir = dir_of(parts[i]), *real = realpath(parts[i], NULL);
        const char *base = strrchr(parts[i], '/');
        base = base ? base + 1 : parts[i];
        if (!pdir || !real) {
            free(pdir);
            free(real);
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot resolve its path:", parts[i]);
            goto done;
        }
        names[i] = !strcmp(pdir, outdir) ? strdup(base) : strdup(real);
        free(pdir);
        free(real);
        if (!names[i]) {
            ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            goto done;
        }
        src[i].file = names[i];
        src[i].dset = dset;
        for (int k = 0; k < lead; k++) src[i].start[k] = 0, src[i].count[k] = dims[k];
        for (int k = 0; k < a->nd; k++)
            src[i].start[lead + k] = (uint64_t)q[i].start[k], src[i].count[lead + k] = (uint64_t)(q[i].stop[k] - q[i].start[k]);
    }
    int64_t offset[3] = {a->offset[0], a->offset[1], a->offset[2]}, zero[3] = {0, 0, 0};
    for (int k = 0; k < a->nd; k++) offset[3 - a->nd + k] -= a->start[k];
    ekn_h5 h;
    if (ekn_h5_create(&h, file, err)) goto done;
    const char *axes = lead ? (a->nd == 3 ? "czyx" : "cyx") : a->nd == 3 ? "zyx" : "yx";
    int64_t nblocks = N;
    if (ekn_h5_put_virtual(&h, dset, a->dt, a->rank, dims, src, nparts, err) ||
        ekn_h5_attr_put_string(&h, dset, "content", content, err) ||
        ekn_h5_attr_put_string(&h, dset, "axes", axes, err) ||
        ekn_h5_attr_put(&h, dset, "offset", EKN_I64, 3, offset, err) ||
        ekn_h5_attr_put(&h, dset, "start", EKN_I64, a->nd, zero, err) ||
        ekn_h5_attr_put(&h, dset, "stop", EKN_I64, a->nd, a->volume, err) ||
        ekn_h5_attr_put(&h, dset, "volume", EKN_I64, a->nd, a->volume, err) ||
        (ns && ekn_h5_attr_put(&h, dset, "spacing", EKN_F64, ns, spacing, err)) ||
        ekn_h5_attr_put_string(&h, dset, "model", model, err) ||
        ekn_h5_attr_put_string(&h, dset, "model_hash", hash, err) ||
        ekn_h5_attr_put(&h, dset, "blocks", EKN_I64, 1, &nblocks, err) ||
        ekn_h5_attr_put_string(&h, "/", "ekn_job", a->job, err)) {
        ekn_h5_abort(&h);
        goto done;
    }
    rc = ekn_h5_commit(&h, err);
done:
    for (int i = 0; i < nparts; i++) {
        free(q[i].job);
        if (names) free(names[i]);
    }
    free(q);
    free(src);
    free(names);
    free(seen);
    free(outdir);
    return rc;
}

/* ---- HDF5 input, box by box -------------------------------------------------- */

int ekn_predict_h5_input_open(predictor *p, ekn_tensor *hdr, ekn_err *err)
{
    const ekn_predict_config *c = p->cfg;
    const char *f = c->h5_in_file, *ds = c->h5_in_dset;
    if (ekn_h5_open_unprobed(&p->in_h5, f, err)) return -1;
    p->in_open = 1;
    uint64_t dims[8];
    int rank = ekn_h5_info(&p->in_h5, ds, &p->in_dt, dims, 8, err);
    if (rank < 0) return -1;
    if (rank < 2 || rank > 3)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has %d axes; HDF5 input is one volume, Y,X or Z,Y,X",
                           f, ds, rank);
    if (p->in_dt == EKN_DT_INVALID || p->in_dt == EKN_F16)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' is not of an integer or float32/64 type", f, ds);
    for (int k = 0; k < rank; k++)
        if (dims[k] < 1 || dims[k] > EKN_ZYX_MAX)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has an axis of %llu voxels", f, ds,
                               (unsigned long long)dims[k]);
    p->in_rank = rank;
    for (int k = 0; k < 3; k++) p->in_dims[k] = 1;
    for (int k = 0; k < rank; k++) p->in_dims[3 - rank + k] = dims[k];
    if (c->apply) {
        if (!(p->in_st = calloc(1, sizeof *p->in_st))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        if (ekn_prep_stats_load(p->in_st, c->apply, err)) return -1;
        const ekn_prep_stats *st = p->in_st;
        if (st->vectors || st->gran == EKN_GRAN_PIXEL || st->whiten || st->nab || st->nstat != 1)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': HDF5 input takes global (or one channel's) statistics, "
                               "not per-pixel ones, whitening or vector features", c->apply);
    }
    *hdr = (ekn_tensor)EKN_TENSOR_INIT;
    hdr->dtype = p->in_dt;
    hdr->rank = 2 + rank;
    hdr->shape[0] = hdr->shape[1] = 1;
    for (int k = 0; k < rank; k++) hdr->shape[2 + k] = dims[k];
    ekn_tensor_set_name(hdr, EKN_REC_IMAGE);
    return 0;
}

int ekn_predict_h5_input_box(predictor *p, const int lo[3], const int n[3], float *dst, ekn_err *err)
{
    const int rank = p->in_rank;
    uint64_t start[3], count[3];
    size_t vox = 1;
    for (int k = 0; k < rank; k++) {
        start[k] = (uint64_t)lo[3 - rank + k], count[k] = (uint64_t)n[3 - rank + k];
        vox *= (size_t)count[k];
    }
    size_t bytes = vox * ekn_dtype_size(p->in_dt);
    if (ekn_predict_grow(&p->in_buf, &p->in_buf_cap, bytes ? bytes : 1, err) ||
        ekn_h5_read_box(&p->in_h5, p->cfg->h5_in_dset, p->in_dt, rank, start, count, p->in_buf, err))
        return -1;
    /* ekn-preprocess's own transform, on a one-example tensor of the box: elementwise, so a box's
     * values are those of the whole volume's */
    ekn_prep_stats plain = {0};
    plain.scale = 1;
    ekn_prep_data d;
    memset(&d, 0, sizeof d);
    d.x.dtype = p->in_dt;
    d.x.rank = 2 + rank;
    d.x.shape[0] = d.x.shape[1] = 1;
    for (int k = 0; k < rank; k++) d.x.shape[2 + k] = count[k];
    d.x.data = p->in_buf;
    uint32_t idx = 0;
    ekn_prep_apply(p->in_st ? p->in_st : &plain, &d, &idx, 1, dst, NULL);
    for (size_t i = 0; i < vox; i++)
        if (!isfinite(dst[i]))
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s': voxel %zu of the box at %d,%d,%d is %g",
                               p->cfg->h5_in_file, p->cfg->h5_in_dset, i, lo[0], lo[1], lo[2], (double)dst[i]);
    return 0;
}

void ekn_predict_h5_input_close(predictor *p)
{
    if (p->in_open) ekn_h5_close(&p->in_h5);
    p->in_open = 0;
    if (p->in_st) ekn_prep_stats_free(p->in_st);
    free(p->in_st);
    p->in_st = NULL;
    free(p->in_buf);
    p->in_buf = NULL;
}
