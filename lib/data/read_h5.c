/* HDF5 reader: one integer or float dataset, read whole in its native
 * type.  HDF5's own error stack printing is switched off: every problem
 * becomes one message naming file and dataset. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "readers.h"

typedef struct { char path[1024]; int count; } find_ctx;

static herr_t find_dataset(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj;
    find_ctx *c = data;
    if (info->type == H5O_TYPE_DATASET) {
        if (!c->count) snprintf(c->path, sizeof c->path, "/%s", name);
        c->count++;
    }
    return 0;
}

static ekn_dtype h5_dtype(hid_t type, hid_t *mem)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_INTEGER) {
        int sign = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: *mem = sign ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8; return sign ? EKN_I8 : EKN_U8;
        case 2: *mem = sign ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16; return sign ? EKN_I16 : EKN_U16;
        case 4: *mem = sign ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32; return sign ? EKN_I32 : EKN_U32;
        case 8: *mem = sign ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64; return sign ? EKN_I64 : EKN_U64;
        default: return EKN_DT_INVALID;
        }
    }
    if (cls == H5T_FLOAT) {
        if (size == 4) { *mem = H5T_NATIVE_FLOAT; return EKN_F32; }
        if (size == 8) { *mem = H5T_NATIVE_DOUBLE; return EKN_F64; }
    }
    return EKN_DT_INVALID;
}

int ekn_read_h5(const char *file, const char *dset, size_t max_bytes, const char *max_text, ekn_tensor *t,
                ekn_err *err)
{
    FILE *fp = fopen(file, "rb");
    if (!fp) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", file);
    fclose(fp);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(file) <= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an HDF5 file", file);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open as HDF5", file);
    int rc = -1;
    hid_t d = -1, space = -1, type = -1;
    find_ctx c = {{0}, 0};
    if (!dset || !*dset) {
        H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, find_dataset, &c, H5O_INFO_BASIC);
        if (c.count != 1) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s; name one as '%s:/path/to/dataset'", file,
                        c.count ? "holds several datasets" : "holds no dataset", file);
            goto out;
        }
        dset = c.path;
    }
    if (H5Lexists(f, dset, H5P_DEFAULT) <= 0 || (d = H5Dopen2(f, dset, H5P_DEFAULT)) < 0) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no dataset '%s'", file, dset);
        goto out;
    }
    space = H5Dget_space(d);
    type = H5Dget_type(d);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank < 0 || rank > EKN_MAX_RANK) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s:%s': rank %d is not supported (1 to %d)", file, dset, rank, EKN_MAX_RANK);
        goto out;
    }
    hsize_t dims[EKN_MAX_RANK];
    uint64_t shape[EKN_MAX_RANK];
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < rank; i++) shape[i] = dims[i];
    hid_t mem = -1;
    ekn_dtype dt = type >= 0 ? h5_dtype(type, &mem) : EKN_DT_INVALID;
    if (!dt) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s:%s': unsupported HDF5 type (integers and floats only)", file, dset);
        goto out;
    }
    if (max_bytes) {
        uint64_t numel = 0;
        ekn_err e;
        if (ekn_shape_numel(rank, shape, (UINT64_MAX >> 4) / ekn_dtype_size(dt), &numel, &e)) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s:%s': %s", file, dset, e.msg);
            goto out;
        }
        uint64_t need = numel * ekn_dtype_size(dt);
        if (need > max_bytes) {
            char s[256];
            ekn_shape_str(rank, shape, s, sizeof s);
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s:%s': shape %s of %s needs %llu bytes, more than %zu bytes of input%s%s%s",
                        file, dset, s, ekn_dtype_name(dt), (unsigned long long)need, max_bytes,
                        max_text ? " (" : "", max_text ? max_text : "", max_text ? ")" : "");
            goto out;
        }
    }
    if (ekn_tensor_reshape(t, dt, rank, shape, err)) {
        ekn_err_prefix(err, "'%s:%s'", file, dset);
        goto out;
    }
    if (ekn_tensor_numel(t) && H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s:%s': read error", file, dset);
        goto out;
    }
    rc = 0;
out:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

/* ---- its row of the reader table (readers.h) ---- */
static int row_read(const ekn_read_src *s, ekn_tensor *t, ekn_err *err)
{
    if (s->blob) /* found in loaded bytes: HDF5 needs the file itself */
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': a compressed or archived HDF5 file (extract it first)", s->spec);
    return ekn_read_h5(s->file, s->member, s->max_bytes, s->max_text, t, err);
}

const ekn_file_reader ekn_file_reader_h5 = {
    .format = EKN_FMT_H5,
    .name = "h5",
    .alias = "hdf5",
    .probe = ekn_is_hdf5,
    .suffixes = (const char *const[]){".h5", ".hdf5", ".hdf", NULL},
    .flags = EKN_READER_BY_PATH | EKN_READER_VOLUME,
    .read = row_read,
};
