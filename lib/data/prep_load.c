/* prep_load: reading ekn-preprocess's inputs and arranging their axes.
 *
 * Every array read from a file gets one letter per axis, then is permuted
 * into the toolkit's order (N, C, [Z,] Y, X) (images), (N, F) (vectors) or
 * (N, [Z,] Y, X) (labels), inserting N and C of size 1 where missing:
 *
 *   IDX, NPY (first axis N)      rank 2: NF    rank 3: NYX
 *                                rank 4: NCYX  rank 5: NCZYX (--channels first, the default)
 *                                --channels last: NYXC, NZYXC; none: NYX, NZYX
 *   raw, HDF5 (one volume)       YX or ZYX; --channels first: C..., last: ...C
 *                                --axes xyz: spatial axes reversed (XY, XYZ)
 *                                --slices: the Z axis becomes N
 *   labels, targets, mask        as the input, without channels; an axis
 *                                where the input has C must have size 1 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_io.h"
#include "memlimit.h"
#include "finite.h"
#include "group.h"
#include "opt.h"
#include "prep.h"

enum { CH_DEFAULT = -1, CH_NONE = 0, CH_FIRST = 1, CH_LAST = 2 };

int ekn_permute(const ekn_tensor *src, const int *perm, ekn_tensor *dst, ekn_err *err)
{
    int r = src->rank;
    uint64_t shape[EKN_MAX_RANK], sstride[EKN_MAX_RANK], step[EKN_MAX_RANK], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        sstride[i] = acc;
        acc *= src->shape[i];
    }
    for (int i = 0; i < r; i++) {
        shape[i] = src->shape[perm[i]];
        step[i] = sstride[perm[i]];
    }
    if (ekn_tensor_reshape(dst, src->dtype, r, shape, err)) return -1;
    uint64_t numel = ekn_tensor_numel(dst);
    if (!numel) return 0;
    size_t es = ekn_dtype_size(src->dtype);
    if (r == 0) {
        memcpy(dst->data, src->data, es);
        return 0;
    }
    const unsigned char *s = src->data;
    unsigned char *o = dst->data;
    uint64_t ctr[EKN_MAX_RANK] = {0}, base = 0, inner = shape[r - 1], istep = step[r - 1];
    for (uint64_t done = 0; done < numel; done += inner) {
        switch (es) {
#define COPY(n) for (uint64_t k = 0; k < inner; k++) memcpy(o + k * n, s + (base + k * istep) * n, n); break;
        case 1: COPY(1)
        case 2: COPY(2)
        case 4: COPY(4)
        case 8: COPY(8)
        default: for (uint64_t k = 0; k < inner; k++) memcpy(o + k * es, s + (base + k * istep) * es, es);
#undef COPY
        }
        o += inner * es;
        /* next outer index */
        for (int i = r - 2; i >= 0; i--) {
            base += step[i];
            if (++ctr[i] < shape[i]) break;
            base -= step[i] * shape[i];
            ctr[i] = 0;
        }
    }
    return 0;
}

/* Letters for the axes of an array of `rank` read from a file. */
static int label_axes(int rank, int dataset, int chan, int xyz, int slices, int is_label, char *ax,
                      const char *name, ekn_err *err)
{
    int k = dataset ? rank - 1 : rank, pos = 0;
    if (k < 0 || (dataset && k == 0 && !is_label))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': a 1-D array is neither images nor feature vectors", name);
    if (dataset) ax[pos++] = 'N';
    if (dataset && is_label && k == 0) {
        ax[pos] = 0;
        return 0;
    }
    if (dataset && chan == CH_DEFAULT && !is_label) chan = k == 1 ? CH_NONE : k == 2 ? CH_NONE : CH_FIRST;
    if (chan == CH_DEFAULT) chan = CH_NONE;
    int ns = chan == CH_NONE ? k : k - 1;
    if (ns == 1 && dataset && chan == CH_NONE) {
        ax[pos++] = 'F';
        ax[pos] = 0;
        return 0;
    }
    if (ns < 2 || ns > 3) {
        if (!dataset && chan == CH_NONE && k == 4)
            return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': 4 axes: say where the channels are (--channels first|last)", name);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %d %s axes (with --channels %s); 2 or 3 are needed", name, ns,
                           is_label ? "label" : "spatial", chan == CH_FIRST ? "first" : chan == CH_LAST ? "last" : "none");
    }
    const char *sp = ns == 2 ? (xyz ? "XY" : "YX") : (xyz ? "XYZ" : "ZYX");
    if (chan == CH_FIRST) ax[pos++] = 'C';
    for (const char *c = sp; *c; c++) ax[pos++] = (slices && *c == 'Z') ? 'N' : *c;
    if (chan == CH_LAST) ax[pos++] = 'C';
    ax[pos] = 0;
    if (slices && !strchr(ax, 'N'))
        return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': --slices needs a 3-D volume, this one has %d spatial axes", name, ns);
    return 0;
}

/* Moves `in` into `out` in the axis order `want` ("NCZYX", "NF", "NZYX");
 * axes of `in` whose letter is not wanted must have size 1; wanted N and C
 * that `in` lacks get size 1 (Z is left out when missing). */
static int arrange(ekn_tensor *in, const char *ax, const char *want, ekn_tensor *out, const char *name, ekn_err *err)
{
    int r = in->rank, keep[EKN_MAX_RANK], nk = 0;
    for (int i = 0; i < r; i++) {
        if (strchr(want, ax[i])) keep[nk++] = i;
        else if (in->shape[i] != 1)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': axis %d (%c) has size %llu, 1 expected", name, i, ax[i],
                               (unsigned long long)in->shape[i]);
    }
    /* drop the size-1 axes */
    char ax2[EKN_MAX_RANK + 1];
    for (int i = 0; i < nk; i++) {
        ax2[i] = ax[keep[i]];
        in->shape[i] = in->shape[keep[i]];
    }
    ax2[nk] = 0;
    in->rank = nk;
    int perm[EKN_MAX_RANK], np = 0, identity = 1;
    for (const char *w = want; *w; w++) {
        const char *hit = strchr(ax2, *w);
        if (!hit) continue;
        perm[np] = (int)(hit - ax2);
        if (perm[np] != np) identity = 0;
        np++;
    }
    if (identity) {
        ekn_tensor_free(out);
        *out = *in;
        memset(in, 0, sizeof *in);
    } else if (ekn_permute(in, perm, out, err)) {
        return ekn_err_prefix(err, "'%s'", name);
    }
    /* insert the missing N and C */
    uint64_t shape[EKN_MAX_RANK];
    int rank = 0, j = 0;
    for (const char *w = want; *w; w++) {
        if (strchr(ax2, *w)) shape[rank++] = out->shape[j++];
        else if (*w == 'N' || *w == 'C') shape[rank++] = 1;
    }
    if (rank > EKN_MAX_RANK) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': too many axes", name);
    out->rank = rank;
    memcpy(out->shape, shape, sizeof shape[0] * (size_t)rank);
    return 0;
}

static int is_dataset(const ekn_file_reader *r) { return (r->flags & EKN_READER_DATASET) != 0; }

typedef struct raw_spec { int have; int rank; uint64_t shape[EKN_MAX_RANK]; ekn_dtype dt; } raw_spec;

/* The size an IDX or NPY header at p claims (ekn_input_limits' claim), or
 * that --shape and --dtype give a raw file: of the format forced, else of
 * the one the first bytes and the name show (ekn_file_reader_detect). */
typedef struct claim_ctx {
    const char *spec;
    const ekn_file_reader *forced;
    const raw_spec *raw;
} claim_ctx;

static int claim_size(void *ctx, const unsigned char *p, size_t len, uint64_t *total, const char **what)
{
    const claim_ctx *c = ctx;
    const ekn_file_reader *r = c->forced ? c->forced : ekn_file_reader_detect(c->spec, p, len, c->raw->have);
    if (!r) return 0;
    if (r->format == EKN_FMT_IDX) {
        ekn_idx_header h;
        ekn_idx_parse_header(p, len, &h, NULL);
        if (!h.header_ok) return 0;
        *total = h.header_len + h.data_len;
        return 1;
    }
    if (r->format == EKN_FMT_NPY) {
        ekn_npy_header h;
        ekn_npy_parse_header(p, len, &h, NULL);
        if (!h.header_ok) return 0;
        *total = h.header_len + h.data_len;
        return 1;
    }
    if (r->format == EKN_FMT_RAW && c->raw->have) {
        size_t size = ekn_dtype_size(c->raw->dt);
        uint64_t numel = 0;
        if (!size || ekn_shape_numel(c->raw->rank, c->raw->shape, (UINT64_MAX >> 4) / size, &numel, NULL)) return 0;
        *total = numel * size;
        *what = "--shape and --dtype give";
        return 1;
    }
    return 0;
}

/* Reads one input file with its row of the reader table: forced (--format),
 * else the one detected (readers.h).  A table (CSV) is left in *blob.
 * max_input: --max-input in bytes (0: half the available memory). */
static int read_any(const char *spec, const ekn_file_reader *forced, const raw_spec *raw, double max_input,
                    ekn_tensor *t, ekn_blob *blob, const ekn_file_reader **fmt, ekn_err *err)
{
    char file[4096], member[4096];
    if (ekn_input_split(spec, file, member, err)) return -1;
    ekn_read_src src = {spec, file, member, NULL, raw->have, raw->rank, raw->shape, raw->dt, 0, NULL};
    const ekn_file_reader *r = forced;
    if ((!r || r->flags & EKN_READER_BY_PATH) && strcmp(file, "-")) {
        /* a format read by path is told from the file's first 8 bytes */
        unsigned char head[8];
        FILE *fp = fopen(file, "rb");
        if (!fp) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", file);
        size_t got = fread(head, 1, sizeof head, fp);
        fclose(fp);
        for (const ekn_file_reader *const *p = ekn_file_readers; !r && *p; p++)
            if ((*p)->flags & EKN_READER_BY_PATH && (*p)->probe && (*p)->probe(head, got)) r = *p;
    }
    *fmt = r;
    claim_ctx cc = {spec, r, raw};
    ekn_input_limits lim = {.max_text = "--max-input", .claim = claim_size, .ctx = &cc};
    if (max_input <= 0) {
        max_input = ekn_mem_available() / 2;
        lim.max_text = "half the available memory; --max-input sets the cap";
    }
    lim.max = max_input >= (double)SIZE_MAX ? 0 : (size_t)max_input;
    src.max_bytes = lim.max;
    src.max_text = lim.max_text;
    if (r && r->flags & EKN_READER_BY_PATH) return r->read(&src, t, err);
    if (ekn_input_load_limited(spec, blob, &lim, err)) return -1;
    if (blob->len == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty file", spec);
    if (!r) r = ekn_file_reader_detect(spec, blob->data, blob->len, raw->have);
    *fmt = r;
    src.blob = blob;
    if (r) return r->read ? r->read(&src, t, err) : 0;
    if (blob->len > 262 && !memcmp(blob->data + 257, "ustar", 5))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': a tar archive: name a member as '%s:MEMBER'", spec, spec);
    if (blob->len > 4 && !memcmp(blob->data, "PK\3\4", 4))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': a zip archive: name a member as '%s:MEMBER'", spec, spec);
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot tell the format (use --format %s)", spec, ekn_format_choices);
}

/* Labels become i32 class indices >= -1. */
static int to_labels(ekn_tensor *t, const char *name, int *maxlab, ekn_err *err)
{
    size_t n = (size_t)ekn_tensor_numel(t);
    ekn_tensor out = EKN_TENSOR_INIT;
    if (ekn_tensor_reshape(&out, EKN_I32, t->rank, t->shape, err)) return ekn_err_prefix(err, "'%s'", name);
    int32_t *o = out.data, mx = -1;
    for (size_t i = 0; i < n; i++) {
        double v = ekn_tensor_get(t, i);
        if (!(v >= -1 && v <= INT32_MAX) || v != floor(v)) {
            ekn_tensor_free(&out);
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': element %zu is %g, not a class index (an integer >= -1)",
                               name, i, v);
        }
        o[i] = (int32_t)v;
        if (o[i] > mx) mx = o[i];
    }
    ekn_tensor_set_name(&out, t->name);
    ekn_tensor_free(t);
    *t = out;
    *maxlab = mx;
    return 0;
}

static int to_dtype(ekn_tensor *t, ekn_dtype dt, const char *name, ekn_err *err)
{
    if (t->dtype == dt) return 0;
    size_t n = (size_t)ekn_tensor_numel(t);
    ekn_tensor out = EKN_TENSOR_INIT;
    if (ekn_tensor_reshape(&out, dt, t->rank, t->shape, err)) return ekn_err_prefix(err, "'%s'", name);
    if (dt == EKN_F32) {
        ekn_convert_to_f32(t->dtype, t->data, out.data, n);
    } else { /* mask: nonzero -> 1 */
        unsigned char *o = out.data;
        for (size_t i = 0; i < n; i++) o[i] = ekn_tensor_get(t, i) != 0;
    }
    ekn_tensor_free(t);
    *t = out;
    return 0;
}

static int parse_chan(const char *s)
{
    if (!s) return CH_DEFAULT;
    return !strcmp(s, "first") ? CH_FIRST : !strcmp(s, "last") ? CH_LAST : CH_NONE;
}

/* Reads a labels/targets/mask file and arranges it to match the input. */
static int load_side(const ekn_prep_opts *o, const char *spec, int what, const raw_spec *raw,
                     const ekn_file_reader *forced, int in_rank, ekn_prep_data *d, ekn_tensor *dst, ekn_err *err)
{
    static const char *kind[] = {"labels", "targets", "mask", "weights"};
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_blob blob = {0};
    const ekn_file_reader *f;
    int rc = -1;
    if (read_any(spec, forced, raw, o->max_input_mib * 1048576.0, &t, &blob, &f, err)) goto out;
    if (!f->read) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s from a CSV file are not supported (CSV inputs have --label-column)",
                    spec, kind[what]);
        goto out;
    }
    int xyz = o->axes && !strcmp(o->axes, "xyz"), chan = parse_chan(o->channels);
    /* a label array with as many axes as the input file's keeps its channel axis (of size 1) */
    int label_chan = (chan == CH_FIRST || chan == CH_LAST) && t.rank == in_rank + 1 ? chan : CH_NONE;
    char ax[EKN_MAX_RANK + 1];
    const char *want = "NZYX";
    if (is_dataset(f) && what == 1 && t.rank >= 1) {
        /* targets of a dataset: (N, anything) */
        for (int i = 0; i < t.rank; i++) ax[i] = i ? 'a' + (char)i : 'N';
        ax[t.rank] = 0;
        want = ax;
    } else if (label_axes(t.rank, is_dataset(f), label_chan, xyz, o->slices, 1, ax, spec, err)) {
        goto out;
    }
    if (strchr(ax, 'F')) {
        char a[256], b[256];
        ekn_shape_str(t.rank, t.shape, a, sizeof a);
        ekn_shape_str(d->x.rank, d->x.shape, b, sizeof b);
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s of shape %s fit neither one per example nor one per pixel of the %s %s of '%s'",
                    spec, kind[what], a, d->vectors ? "vectors" : "images", b, o->input);
        goto out;
    }
    if (arrange(&t, ax, want, dst, spec, err)) goto out;
    /* the same examples, and per voxel the same spatial shape */
    if (dst->shape[0] != d->x.shape[0]) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %llu %s for %llu examples in '%s'", spec,
                    (unsigned long long)dst->shape[0], kind[what], (unsigned long long)d->x.shape[0], o->input);
        goto out;
    }
    if (dst->rank > 1 && !(is_dataset(f) && what == 1)) {
        int sp = d->vectors ? 0 : d->x.rank - 2;
        int same = dst->rank - 1 == sp;
        for (int i = 0; same && i < sp; i++) same = dst->shape[1 + i] == d->x.shape[2 + i];
        if (!same) {
            char a[256], b[256];
            ekn_shape_str(dst->rank, dst->shape, a, sizeof a);
            ekn_shape_str(d->x.rank, d->x.shape, b, sizeof b);
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s of shape %s do not match the images %s of '%s'", spec, kind[what],
                        a, b, o->input);
            goto out;
        }
    }
    int mx = -1;
    if (what == 0) {
        if (to_labels(dst, spec, &mx, err)) goto out;
        d->classes = mx + 1 > 1 ? mx + 1 : 1;
    } else if (what == 1 && ekn_tensor_check_f32(dst, err)) {
        ekn_err_prefix(err, "'%s'", spec);
        goto out;
    } else if (to_dtype(dst, what == 1 || what == 3 ? EKN_F32 : EKN_U8, spec, err)) {
        goto out;
    }
    if (what == 3) {
        const float *v = dst->data;
        for (size_t i = 0; i < ekn_tensor_numel(dst); i++)
            if (!(isfinite(v[i]) && v[i] >= 0)) {
                ekn_err_set(err, EKN_EXIT_FAIL, "'%s': weight %g at element %zu (weights must be finite and >= 0)",
                            spec, v[i], i);
                goto out;
            }
        ekn_tensor_set_name(dst, EKN_REC_WEIGHT);
    }
    rc = 0;
out:
    ekn_tensor_free(&t);
    ekn_blob_free(&blob);
    return rc;
}

static int parse_raw(const ekn_prep_opts *o, raw_spec *main, raw_spec *side, ekn_err *err)
{
    memset(main, 0, sizeof *main);
    memset(side, 0, sizeof *side);
    main->dt = side->dt = EKN_U8;
    if (o->dtype) main->dt = side->dt = ekn_dtype_from_name(o->dtype);
    if (o->label_dtype) side->dt = ekn_dtype_from_name(o->label_dtype);
    if (!main->dt || !side->dt)
        return ekn_err_set(err, EKN_EXIT_USAGE, "unknown dtype '%s'", !main->dt ? o->dtype : o->label_dtype);
    if (!o->shape) return 0;
    long v[EKN_MAX_RANK];
    int n = ekn_parse_int_list(o->shape, v, EKN_MAX_RANK, 1, "--shape", err);
    if (n < 0) return -1;
    main->have = side->have = 1;
    main->rank = n;
    for (int i = 0; i < n; i++) main->shape[i] = (uint64_t)v[i];
    /* labels of a volume with channels: the same shape without the C axis */
    int chan = parse_chan(o->channels), skip = chan == CH_FIRST ? 0 : chan == CH_LAST ? n - 1 : -1;
    for (int i = 0; i < n; i++)
        if (i != skip) side->shape[side->rank++] = main->shape[i];
    return 0;
}

int ekn_prep_load(const ekn_prep_opts *o, ekn_csv_schema *schema, ekn_prep_data *d, ekn_err *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "%s", o->input);
    raw_spec raw, side;
    if (parse_raw(o, &raw, &side, err)) return -1;
    const ekn_file_reader *forced = ekn_file_reader_of((ekn_format)ekn_format_from_name(o->format)), *f; /* NULL: detect */
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_blob blob = {0};
    int rc = -1;
    if (read_any(o->input, forced, &raw, o->max_input_mib * 1048576.0, &t, &blob, &f, err)) goto out;
    int in_rank = t.rank;
    /* at read time: a value float32 cannot hold (NaN, Inf, f64 1e300) would become NaN or Inf unnoticed */
    if (f->read && ekn_tensor_check_f32(&t, err)) {
        ekn_err_prefix(err, "'%s'", o->input);
        goto out;
    }
    if (!f->read) { /* a table: CSV */
        ekn_missing miss = EKN_MISSING_MEAN;
        if (o->missing) miss = !strcmp(o->missing, "zero") ? EKN_MISSING_ZERO : !strcmp(o->missing, "drop")
                               ? EKN_MISSING_DROP : !strcmp(o->missing, "error") ? EKN_MISSING_ERROR : EKN_MISSING_MEAN;
        ekn_csv_opts co = {o->header, o->label_column, o->categorical, miss, ','};
        size_t unseen = 0;
        if (ekn_read_csv(&blob, o->input, &co, schema, &d->x, &d->y, &unseen, err)) goto out;
        if (unseen) ekn_warn("'%s': %zu labels not seen when fitting became -1", o->input, unseen);
        d->csv = schema;
        d->vectors = 1;
        d->has_labels = schema->label_col >= 0;
        d->classes = schema->nlabels;
        if (d->has_labels) {
            snprintf(d->label_source, sizeof d->label_source, "%s", o->input);
            ekn_tensor_set_name(&d->y, EKN_REC_LABEL);
        }
    } else {
        char ax[EKN_MAX_RANK + 1];
        int xyz = o->axes && !strcmp(o->axes, "xyz");
        if (label_axes(t.rank, is_dataset(f), parse_chan(o->channels), xyz, o->slices, 0, ax, o->input, err)) goto out;
        d->vectors = strchr(ax, 'F') != NULL;
        if (arrange(&t, ax, d->vectors ? "NF" : "NCZYX", &d->x, o->input, err)) goto out;
        if (d->x.shape[0] == 0) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no examples", o->input);
            goto out;
        }
    }
    ekn_blob_free(&blob);
    const char *side_spec[4] = {o->labels, o->targets, o->mask, o->weights};
    for (int w = 0; w < 4; w++) {
        if (!side_spec[w]) continue;
        ekn_tensor *dst = w == 3 ? &d->weights : w == 2 ? &d->mask : &d->y;
        if (load_side(o, side_spec[w], w, &side, forced, in_rank, d, dst, err)) goto out;
        if (w < 2) snprintf(d->label_source, sizeof d->label_source, "%s", side_spec[w]);
        if (w == 0) d->has_labels = 1;
        if (w == 1) d->has_targets = 1;
        if (w == 2) d->has_mask = 1;
        if (w == 3) d->has_weights = 1;
    }
    if (o->affinities && ekn_prep_affinities(d, err)) goto out;
    rc = 0;
out:
    ekn_tensor_free(&t);
    ekn_blob_free(&blob);
    if (rc) ekn_prep_data_free(d);
    return rc;
}

void ekn_prep_data_free(ekn_prep_data *d)
{
    ekn_tensor_free(&d->x);
    ekn_tensor_free(&d->y);
    ekn_tensor_free(&d->mask);
    ekn_tensor_free(&d->weights);
    d->csv = NULL;
}
