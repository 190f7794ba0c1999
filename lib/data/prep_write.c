/* prep_write: ekn-preprocess's option checks, its outputs (ekn stream, npy,
 * HDF5) and the run that ties the steps together (prep.h). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "group.h"
#include "opt.h"
#include "outfile.h"
#include "prep.h"
#include "progress.h"
#include "stream.h"

/* ---- option checks --------------------------------------------------------- */

int ekn_prep_check(const ekn_prep_opts *o, ekn_err *err)
{
    const int U = EKN_EXIT_USAGE;
    int std_on = o->standardise && strcmp(o->standardise, "none");
    if (o->fit && o->apply) return ekn_err_set(err, U, "--fit and --apply exclude each other");
    if (o->apply && (o->normalise || o->standardise || o->whiten_given || o->no_scale))
        return ekn_err_set(err, U, "--apply takes the transform from '%s'; leave out %s", o->apply,
                           o->normalise ? "--normalise" : o->standardise ? "--standardise"
                           : o->whiten_given ? "--whiten" : "--no-scale");
    if (o->normalise && std_on) return ekn_err_set(err, U, "--normalise and --standardise exclude each other");
    if (o->labels && o->targets) return ekn_err_set(err, U, "--labels and --targets exclude each other");
    if (o->affinities && !o->labels) return ekn_err_set(err, U, "--affinities needs --labels (a label volume)");
    if (o->weights && !o->labels && !o->targets) return ekn_err_set(err, U, "--weights needs --labels or --targets");
    if (o->part && !o->split) return ekn_err_set(err, U, "--part needs --split");
    const ekn_file_reader *forced = ekn_file_reader_of((ekn_format)ekn_format_from_name(o->format)); /* NULL: detect */
    if (o->slices && forced && !(forced->flags & EKN_READER_VOLUME))
        return ekn_err_set(err, U, "--slices applies to raw and HDF5 volumes, not --format %s", o->format);
    if (o->dtype && !ekn_dtype_from_name(o->dtype)) return ekn_err_set(err, U, "--dtype: unknown dtype '%s'", o->dtype);
    if (o->label_dtype && !ekn_dtype_from_name(o->label_dtype))
        return ekn_err_set(err, U, "--label-dtype: unknown dtype '%s'", o->label_dtype);
    long dims[EKN_MAX_RANK];
    if (o->shape && ekn_parse_int_list(o->shape, dims, EKN_MAX_RANK, 1, "--shape", err) < 0) return -1;
    for (int i = 0; i < o->spacing.n; i++)
        if (!(o->spacing.v[i] > 0))
            return ekn_err_set(err, U, "--spacing values must be > 0, you specified '%s'", o->spacing.text);
    if (o->spacing.n == 1) return ekn_err_set(err, U, "--spacing needs 2 or 3 values (y,x or z,y,x)");
    const char *of = o->output_format ? o->output_format : "stream";
    if (o->fit && !strcmp(o->fit, "-") && (!o->output || !strcmp(o->output, "-")))
        return ekn_err_set(err, U, "--fit - and the data cannot both go to stdout (use -o FILE)");
    if (strcmp(of, "stream") && (!o->output || !strcmp(o->output, "-")))
        return ekn_err_set(err, U, "--output-format %s needs -o FILE", of);
    /* --range and --split syntax, checked again with the real counts later */
    ekn_prep_opts probe = *o;
    probe.subset = 0;
    probe.shuffle = 0;
    probe.input = "input";
    uint32_t *idx = NULL;
    size_t n = 0;
    if (o->range || o->split) {
        ekn_err e = {0};
        if (ekn_prep_select(&probe, 0, &idx, &n, &e) && e.code == U) {
            *err = e;
            return -1;
        }
        free(idx);
    }
    return 0;
}

/* ---- outputs ----------------------------------------------------------------- */

enum { OUT_STREAM, OUT_NPY, OUT_H5 };

typedef struct sink {
    int kind;
    ekn_writer w;             /* stream */
    ekn_outfile f[3];         /* npy: image, label/target, mask; h5: f[0] */
    int open[3];
    hid_t h5, ds[3];
    uint64_t done;            /* examples written */
} sink;

typedef struct part {
    const char *name;         /* record / dataset name */
    ekn_dtype dt;
    int rank;
    uint64_t shape[EKN_MAX_RANK]; /* whole output: N first */
    const char *meta;
} part;

/* "out.npy" -> "out.labels.npy" */
static void side_name(const char *path, const char *what, char *buf, size_t cap)
{
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".npy")) n -= 4;
    snprintf(buf, cap, "%.*s.%s.npy", (int)n, path, what);
}

static int h5_attrs(hid_t obj, const char *meta, ekn_err *err, const char *path)
{
    if (!meta) return 0;
    char line[4096];
    for (const char *p = meta; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (nl ? 1 : 0);
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
        H5Tset_size(type, strlen(eq + 1) + 1);
        hid_t a = H5Acreate2(obj, line, type, space, H5P_DEFAULT, H5P_DEFAULT);
        int bad = a < 0 || H5Awrite(a, type, eq + 1) < 0;
        if (a >= 0) H5Aclose(a);
        H5Sclose(space);
        H5Tclose(type);
        if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write attribute '%s'", path, line);
    }
    return 0;
}

static hid_t h5_type(ekn_dtype dt)
{
    return dt == EKN_F32 ? H5T_NATIVE_FLOAT : dt == EKN_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT8;
}

static int sink_open(sink *s, const char *kind, const char *path, int force, const part *parts, int np, ekn_err *err)
{
    memset(s, 0, sizeof *s);
    s->h5 = -1;
    s->kind = !strcmp(kind, "npy") ? OUT_NPY : !strcmp(kind, "h5") ? OUT_H5 : OUT_STREAM;
    if (s->kind == OUT_STREAM) return ekn_writer_open(&s->w, path, force, err);
    if (s->kind == OUT_NPY) {
        for (int i = 0; i < np; i++) {
            char name[4200];
            ekn_rec_kind k = ekn_rec_kind_of(parts[i].name);
            const char *what = k == EKN_KIND_LABEL ? "labels" : k == EKN_KIND_TARGET ? "targets" : parts[i].name;
            if (i == 0) snprintf(name, sizeof name, "%s", path);
            else side_name(path, what, name, sizeof name);
            if (ekn_outfile_open(&s->f[i], name, 0, force, err)) return -1;
            s->open[i] = 1;
            unsigned char hdr[1024];
            size_t hl = ekn_npy_encode_header(hdr, sizeof hdr, parts[i].dt, parts[i].rank, parts[i].shape);
            if (!hl || fwrite(hdr, 1, hl, s->f[i].fp) != hl)
                return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write error:", name);
        }
        return 0;
    }
    /* HDF5: written under the outfile's temp name, renamed on commit */
    if (ekn_outfile_open(&s->f[0], path, 0, force, err)) return -1;
    s->open[0] = 1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    s->h5 = H5Fcreate(s->f[0].tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (s->h5 < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create an HDF5 file", path);
    for (int i = 0; i < np; i++) {
        hsize_t dims[EKN_MAX_RANK];
        for (int k = 0; k < parts[i].rank; k++) dims[k] = parts[i].shape[k];
        hid_t space = H5Screate_simple(parts[i].rank, dims, NULL);
        s->ds[i] = H5Dcreate2(s->h5, parts[i].name, h5_type(parts[i].dt), space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Sclose(space);
        if (s->ds[i] < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create dataset '%s'", path, parts[i].name);
        if (h5_attrs(s->ds[i], parts[i].meta, err, path)) return -1;
    }
    return 0;
}

/* Writes m examples of each part (data[i]: m examples, contiguous). */
static int sink_write(sink *s, const part *parts, int np, const void *const *data, uint64_t m, ekn_err *err)
{
    for (int i = 0; i < np; i++) {
        uint64_t per = 1;
        for (int k = 1; k < parts[i].rank; k++) per *= parts[i].shape[k];
        size_t bytes = (size_t)(m * per) * ekn_dtype_size(parts[i].dt);
        if (s->kind == OUT_STREAM) {
            uint64_t shape[EKN_MAX_RANK];
            memcpy(shape, parts[i].shape, sizeof shape);
            shape[0] = m;
            if (ekn_stream_write_raw(&s->w, parts[i].dt, parts[i].rank, shape, parts[i].name, parts[i].meta, data[i], err))
                return -1;
        } else if (s->kind == OUT_NPY) {
            if (fwrite(data[i], 1, bytes, s->f[i].fp) != bytes)
                return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write error:", s->f[i].path);
        } else {
            hsize_t start[EKN_MAX_RANK] = {0}, count[EKN_MAX_RANK];
            for (int k = 0; k < parts[i].rank; k++) count[k] = parts[i].shape[k];
            start[0] = s->done;
            count[0] = m;
            hid_t fs = H5Dget_space(s->ds[i]), ms = H5Screate_simple(parts[i].rank, count, NULL);
            int bad = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                      H5Dwrite(s->ds[i], h5_type(parts[i].dt), ms, fs, H5P_DEFAULT, data[i]) < 0;
            H5Sclose(ms);
            H5Sclose(fs);
            if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': HDF5 write error", s->f[0].path);
        }
    }
    s->done += m;
    return 0;
}

static void h5_close(sink *s)
{
    for (int i = 0; i < 3; i++)
        if (s->ds[i] > 0) H5Dclose(s->ds[i]), s->ds[i] = 0;
    if (s->h5 >= 0) H5Fclose(s->h5);
    s->h5 = -1;
}

static int sink_commit(sink *s, ekn_err *err)
{
    if (s->kind == OUT_STREAM) return ekn_writer_close(&s->w, err);
    if (s->kind == OUT_H5) {
        for (int i = 0; i < 3; i++)
            if (s->ds[i] > 0 && H5Dclose(s->ds[i]) < 0) s->h5 = -2;
        memset(s->ds, 0, sizeof s->ds);
        if (s->h5 == -2 || H5Fclose(s->h5) < 0)
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': HDF5 write error", s->f[0].path);
        s->h5 = -1;
    }
    for (int i = 0; i < 3; i++)
        if (s->open[i]) {
            s->open[i] = 0;
            if (ekn_outfile_commit(&s->f[i], err)) return -1;
        }
    return 0;
}

static void sink_abort(sink *s)
{
    if (s->kind == OUT_STREAM) {
        ekn_writer_abort(&s->w);
        return;
    }
    if (s->kind == OUT_H5) h5_close(s);
    for (int i = 0; i < 3; i++)
        if (s->open[i]) ekn_outfile_abort(&s->f[i]), s->open[i] = 0;
}

/* ---- the run ------------------------------------------------------------------- */

static ekn_gran parse_gran(const char *s)
{
    return !strcmp(s, "per-feature") ? EKN_GRAN_FEATURE : !strcmp(s, "per-pixel") ? EKN_GRAN_PIXEL : EKN_GRAN_GLOBAL;
}

/* metadata text of the image/vector record */
static int image_meta(const ekn_prep_opts *o, const ekn_prep_stats *st, const ekn_prep_data *d, ekn_tensor *t,
                      ekn_err *err)
{
    static const char *axes[] = {"", "", "NF", "", "NCYX", "NCZYX"};
    char buf[1024];
    int r = d->x.rank;
    if (ekn_tensor_meta_set(t, "axes", d->vectors ? "NF" : (r == 4 || r == 5) ? axes[r] : "?", err) ||
        ekn_tensor_meta_set(t, "source", d->source, err))
        return -1;
    ekn_prep_describe(st, d, buf, sizeof buf);
    if (ekn_tensor_meta_set(t, "transform", buf, err)) return -1;
    if (o->fit && ekn_tensor_meta_set(t, "stats", o->fit, err)) return -1;
    if (o->apply && ekn_tensor_meta_set(t, "stats", o->apply, err)) return -1;
    if (o->spacing.n && ekn_tensor_meta_set(t, "spacing", o->spacing.text, err)) return -1;
    if (d->csv && d->csv->fitted) {
        char *names = ekn_csv_feature_names(d->csv);
        int rc = names && strlen(names) < 65536 ? ekn_tensor_meta_set(t, "features", names, err) : 0;
        free(names);
        if (rc) return -1;
    }
    return 0;
}

static int label_meta(const ekn_prep_data *d, ekn_tensor *t, ekn_err *err)
{
    char buf[64];
    if (d->label_source[0] && ekn_tensor_meta_set(t, "source", d->label_source, err)) return -1;
    if (d->has_targets) return 0;
    snprintf(buf, sizeof buf, "%d", d->classes);
    if (ekn_tensor_meta_set(t, "classes", buf, err)) return -1;
    if (d->csv && d->csv->nlabels) {
        size_t len = 1;
        for (int k = 0; k < d->csv->nlabels; k++) len += strlen(d->csv->labels[k]) + 1;
        char *names = malloc(len), *p = names;
        if (!names) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        for (int k = 0; k < d->csv->nlabels; k++) p += sprintf(p, "%s%s", k ? "|" : "", d->csv->labels[k]);
        int rc = ekn_tensor_meta_set(t, "class_names", names, err);
        free(names);
        if (rc) return -1;
    }
    return 0;
}

static void gather(const ekn_tensor *t, const uint32_t *idx, size_t m, void *dst)
{
    size_t per = 1;
    for (int k = 1; k < t->rank; k++) per *= (size_t)t->shape[k];
    size_t bytes = per * ekn_dtype_size(t->dtype);
    for (size_t i = 0; i < m; i++)
        memcpy((char *)dst + i * bytes, (const char *)t->data + (size_t)idx[i] * bytes, bytes);
}

int ekn_prep_run(const ekn_prep_opts *o, ekn_err *err)
{
    ekn_prep_stats st = {0};
    ekn_prep_data d = {0};
    uint32_t *idx = NULL;
    size_t n = 0;
    sink out;
    ekn_writer sw;
    int out_open = 0, stats_open = 0, rc = -1;
    ekn_tensor im = EKN_TENSOR_INIT, lm = EKN_TENSOR_INIT;
    void *bufs[4] = {NULL, NULL, NULL, NULL};
    float *tmp = NULL;
    memset(&out, 0, sizeof out);

    if (o->apply && ekn_prep_stats_load(&st, o->apply, err)) return -1;
    if (ekn_prep_load(o, &st.csv, &d, err)) goto done;
    char shape[256];
    ekn_shape_str(d.x.rank, d.x.shape, shape, sizeof shape);
    ekn_info("'%s': %s %s of %s%s%s", o->input, d.vectors ? "vectors" : "images", shape, ekn_dtype_name(d.x.dtype),
             d.label_source[0] ? ", labels from " : "", d.label_source);
    if (ekn_prep_select(o, (size_t)d.x.shape[0], &idx, &n, err)) goto done;
    ekn_info("%zu of %llu examples selected", n, (unsigned long long)d.x.shape[0]);
    if (o->apply) {
        if (ekn_prep_compatible(&st, &d, o->apply, err)) goto done;
        if (st.classes > d.classes && d.has_labels) d.classes = st.classes;
    } else {
        ekn_norm norm = o->normalise ? EKN_NORM_MINMAX : EKN_NORM_NONE;
        ekn_gran gran = d.vectors ? EKN_GRAN_FEATURE : EKN_GRAN_GLOBAL;
        if (o->standardise && strcmp(o->standardise, "none")) {
            norm = EKN_NORM_STANDARDISE;
            gran = parse_gran(o->standardise);
        } else if (!o->standardise && !o->normalise && d.csv) {
            norm = EKN_NORM_STANDARDISE; /* CSV default: numeric columns standardised */
        }
        st.scale = !o->no_scale;
        if (o->fit || norm != EKN_NORM_NONE || o->whiten_given) {
            if (ekn_prep_fit(&d, idx, n, !o->no_scale, norm, gran, o->whiten_given, o->whiten, &st, err)) goto done;
        }
    }

    /* outputs: opened only now, so a bad input never creates a file */
    size_t e = 1;
    for (int k = 1; k < d.x.rank; k++) e *= (size_t)d.x.shape[k];
    if (image_meta(o, &st, &d, &im, err) || label_meta(&d, &lm, err)) goto done;
    char desc[1024];
    ekn_tensor_meta_get(&im, "transform", desc, sizeof desc);
    ekn_info("transform: %s", desc);
    part parts[4];
    int np = 0;
    parts[np] = (part){d.vectors ? EKN_REC_VECTOR : EKN_REC_IMAGE, EKN_F32, d.x.rank, {0}, im.meta};
    memcpy(parts[np].shape, d.x.shape, sizeof d.x.shape);
    parts[np++].shape[0] = n;
    if (d.has_labels || d.has_targets) {
        parts[np] = (part){d.has_targets ? EKN_REC_TARGET : EKN_REC_LABEL, d.y.dtype, d.y.rank, {0}, lm.meta};
        memcpy(parts[np].shape, d.y.shape, sizeof d.y.shape);
        parts[np++].shape[0] = n;
    }
    if (d.has_mask) {
        parts[np] = (part){EKN_REC_MASK, EKN_U8, d.mask.rank, {0}, NULL};
        memcpy(parts[np].shape, d.mask.shape, sizeof d.mask.shape);
        parts[np++].shape[0] = n;
    }
    if (d.has_weights) {
        parts[np] = (part){EKN_REC_WEIGHT, EKN_F32, d.weights.rank, {0}, NULL};
        memcpy(parts[np].shape, d.weights.shape, sizeof d.weights.shape);
        parts[np++].shape[0] = n;
    }
    size_t chunk = o->chunk > 0 ? (size_t)o->chunk : 1000;
    if (chunk > n) chunk = n;
    int short_buf = 0;
    for (int i = 0; i < np; i++) {
        size_t per = ekn_dtype_size(parts[i].dt);
        for (int k = 1; k < parts[i].rank; k++) per *= (size_t)parts[i].shape[k];
        if (!(bufs[i] = malloc(chunk * per + 1))) short_buf = 1;
    }
    if (st.whiten) tmp = malloc(chunk * e * sizeof *tmp);
    if (short_buf || (st.whiten && !tmp)) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for chunks of %zu examples", chunk);
        goto done;
    }
    if (sink_open(&out, o->output_format ? o->output_format : "stream", o->output ? o->output : "-", o->force, parts,
                  np, err)) {
        sink_abort(&out);
        goto done;
    }
    out_open = 1;
    if (o->fit) {
        if (ekn_writer_open(&sw, o->fit, 1, err)) goto done;
        stats_open = 1;
        if (ekn_prep_stats_write(&st, &sw, err)) goto done;
    }
    ekn_progress prog;
    ekn_progress_begin(&prog, "examples", n);
    int bad = 0;
    for (size_t k = 0; k < n && !bad; k += chunk) {
        size_t m = n - k < chunk ? n - k : chunk;
        ekn_prep_apply(&st, &d, idx + k, m, bufs[0], tmp);
        int i = 1;
        if (d.has_labels || d.has_targets) gather(&d.y, idx + k, m, bufs[i++]);
        if (d.has_mask) gather(&d.mask, idx + k, m, bufs[i++]);
        if (d.has_weights) gather(&d.weights, idx + k, m, bufs[i++]);
        bad = sink_write(&out, parts, np, (const void *const *)bufs, m, err);
        ekn_progress_update(&prog, k + m, NULL);
    }
    ekn_progress_end(&prog); /* also on an error, so its message starts a line */
    if (bad) goto done;
    out_open = 0;
    if (sink_commit(&out, err)) {
        sink_abort(&out);
        goto done;
    }
    stats_open = 0;
    if (o->fit && ekn_writer_close(&sw, err)) goto done;
    rc = 0;
done:
    if (out_open) sink_abort(&out);
    if (stats_open) ekn_writer_abort(&sw);
    for (int i = 0; i < 4; i++) free(bufs[i]);
    free(tmp);
    free(idx);
    ekn_tensor_free(&im);
    ekn_tensor_free(&lm);
    ekn_prep_data_free(&d);
    ekn_prep_stats_free(&st);
    return rc;
}
