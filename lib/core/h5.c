#include "h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"

/* HDF5 prints its own error stacks by default; we report one line instead. */
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static hid_t mem_type(ekn_dtype dt)
{
    switch (dt) {
    case EKN_F32: return H5T_NATIVE_FLOAT;
    case EKN_F64: return H5T_NATIVE_DOUBLE;
    case EKN_I64: return H5T_NATIVE_INT64;
    case EKN_U64: return H5T_NATIVE_UINT64;
    case EKN_I32: return H5T_NATIVE_INT32;
    case EKN_U32: return H5T_NATIVE_UINT32;
    case EKN_U8: return H5T_NATIVE_UINT8;
    default: return -1;
    }
}

int ekn_h5_create(ekn_h5 *h, const char *path, ekn_err *err)
{
    quiet();
    memset(h, 0, sizeof *h);
    h->temp_slot = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->tmp, sizeof h->tmp, "%s.tmp.%ld", path, (long)getpid());
    /* registered before it exists, so a signal during H5Fcreate removes it too */
    h->temp_slot = ekn_temp_register(h->tmp);
    h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) {
        ekn_temp_forget(h->temp_slot);
        h->temp_slot = -1;
        /* HDF5 hides errno; a plain open tells the user why */
        int fd = open(h->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            close(fd);
            unlink(h->tmp);
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create an HDF5 file", path);
        }
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create:", path);
    }
    return 0;
}

int ekn_h5_commit(ekn_h5 *h, ekn_err *err)
{
    int bad = H5Fclose((hid_t)h->file) < 0;
    h->file = 0;
    int saved = 0;
    if (!bad) {
        int fd = open(h->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) bad = 1, saved = errno;
        if (fd >= 0) close(fd);
    }
    if (!bad && rename(h->tmp, h->path) != 0) bad = 1, saved = errno;
    if (bad) unlink(h->tmp);
    ekn_temp_forget(h->temp_slot);
    h->temp_slot = -1;
    if (bad) {
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, saved ? "'%s': write failed:" : "'%s': write failed", h->path);
    }
    return 0;
}

void ekn_h5_abort(ekn_h5 *h)
{
    if (h->file > 0) H5Fclose((hid_t)h->file);
    h->file = 0;
    unlink(h->tmp);
    ekn_temp_forget(h->temp_slot);
    h->temp_slot = -1;
}

int ekn_h5_open(ekn_h5 *h, const char *path, ekn_err *err)
{
    quiet();
    memset(h, 0, sizeof *h);
    h->temp_slot = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    if (access(path, R_OK) != 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    if (H5Fis_hdf5(path) <= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an HDF5 file", path);
    h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->file < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open as HDF5", path);
    return 0;
}

void ekn_h5_close(ekn_h5 *h)
{
    if (h->file > 0) H5Fclose((hid_t)h->file);
    h->file = 0;
}

static int put_raw(ekn_h5 *h, const char *name, hid_t type_file, hid_t type_mem, int rank, const uint64_t *dims,
                   const void *data, ekn_err *err)
{
    hsize_t hd[8];
    for (int i = 0; i < rank; i++) hd[i] = dims[i];
    hid_t space = rank ? H5Screate_simple(rank, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2((hid_t)h->file, name, type_file, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int bad = ds < 0 || H5Dwrite(ds, type_mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write dataset '%s'", h->path, name);
    return 0;
}

int ekn_h5_put(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims, const void *data,
               ekn_err *err)
{
    hid_t t = mem_type(dt);
    if (t < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dtype %s not supported in HDF5 output", h->path,
                                  ekn_dtype_name(dt));
    return put_raw(h, name, t, t, rank, dims, data, err);
}

int ekn_h5_put_string(ekn_h5 *h, const char *name, const char *s, ekn_err *err)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = put_raw(h, name, t, t, 0, NULL, s, err);
    H5Tclose(t);
    return rc;
}

int ekn_h5_put_f64(ekn_h5 *h, const char *name, double v, ekn_err *err)
{
    return ekn_h5_put(h, name, EKN_F64, 0, NULL, &v, err);
}

int ekn_h5_put_i64(ekn_h5 *h, const char *name, int64_t v, ekn_err *err)
{
    return ekn_h5_put(h, name, EKN_I64, 0, NULL, &v, err);
}

int ekn_h5_exists(ekn_h5 *h, const char *name)
{
    /* H5Lexists fails on a missing intermediate group, so walk the path */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == 0) {
            *p = 0;
            if (H5Lexists((hid_t)h->file, buf, H5P_DEFAULT) <= 0) return 0;
            *p = c;
            if (!c) return 1;
        }
    }
}

int ekn_h5_shape(ekn_h5 *h, const char *name, uint64_t *dims, int max_rank, ekn_err *err)
{
    if (!ekn_h5_exists(h, name)) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no dataset '%s'", h->path, name);
    hid_t ds = H5Dopen2((hid_t)h->file, name, H5P_DEFAULT);
    if (ds < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open dataset '%s'", h->path, name);
    hid_t space = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t hd[32];
    if (rank < 0 || rank > max_rank || rank > 32) rank = -1;
    else {
        H5Sget_simple_extent_dims(space, hd, NULL);
        for (int i = 0; i < rank; i++) dims[i] = hd[i];
    }
    H5Sclose(space);
    H5Dclose(ds);
    if (rank < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has an unexpected rank", h->path, name);
    return rank;
}

int ekn_h5_info(ekn_h5 *h, const char *name, ekn_dtype *dt, uint64_t *dims, int max_rank, ekn_err *err)
{
    int rank = ekn_h5_shape(h, name, dims, max_rank, err);
    if (rank < 0) return -1;
    hid_t ds = H5Dopen2((hid_t)h->file, name, H5P_DEFAULT);
    hid_t t = ds < 0 ? -1 : H5Dget_type(ds);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    *dt = EKN_DT_INVALID;
    if (cls == H5T_FLOAT) *dt = size == 4 ? EKN_F32 : size == 8 ? EKN_F64 : size == 2 ? EKN_F16 : EKN_DT_INVALID;
    else if (cls == H5T_INTEGER) {
        int sig = H5Tget_sign(t) == H5T_SGN_2;
        switch (size) {
        case 1: *dt = sig ? EKN_I8 : EKN_U8; break;
        case 2: *dt = sig ? EKN_I16 : EKN_U16; break;
        case 4: *dt = sig ? EKN_I32 : EKN_U32; break;
        case 8: *dt = sig ? EKN_I64 : EKN_U64; break;
        default: break;
        }
    }
    if (t >= 0) H5Tclose(t);
    if (ds >= 0) H5Dclose(ds);
    return rank;
}

typedef struct name_list {
    char **names;
    int n, cap, oom;
} name_list;

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group, (void)info;
    name_list *l = data;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **p = realloc(l->names, (size_t)cap * sizeof *p);
        if (!p) return l->oom = 1, -1;
        l->names = p, l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(name))) return l->oom = 1, -1;
    l->n++;
    return 0;
}

int ekn_h5_list(ekn_h5 *h, const char *group, char ***names, int *n, ekn_err *err)
{
    *names = NULL, *n = 0;
    if (!ekn_h5_exists(h, group)) return 0;
    hid_t g = H5Gopen2((hid_t)h->file, group, H5P_DEFAULT);
    if (g < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' is not a group", h->path, group);
    name_list l = {0};
    hsize_t idx = 0;
    herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, add_name, &l);
    H5Gclose(g);
    if (rc < 0) {
        ekn_h5_names_free(l.names, l.n);
        return ekn_err_set(err, EKN_EXIT_FAIL, l.oom ? "'%s': out of memory listing '%s'" : "'%s': cannot list '%s'",
                           h->path, group);
    }
    *names = l.names, *n = l.n;
    return 0;
}

void ekn_h5_names_free(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int ekn_h5_get(ekn_h5 *h, const char *name, ekn_dtype dt, void *data, size_t count, ekn_err *err)
{
    uint64_t dims[32];
    int rank = ekn_h5_shape(h, name, dims, 32, err);
    if (rank < 0) return -1;
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    if (n != count)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has %llu elements, expected %zu", h->path, name,
                           (unsigned long long)n, count);
    hid_t ds = H5Dopen2((hid_t)h->file, name, H5P_DEFAULT);
    int bad = ds < 0 || H5Dread(ds, mem_type(dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (ds >= 0) H5Dclose(ds);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot read dataset '%s'", h->path, name);
    return 0;
}

int ekn_h5_get_string(ekn_h5 *h, const char *name, char **out, ekn_err *err)
{
    *out = NULL;
    if (!ekn_h5_exists(h, name)) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no dataset '%s'", h->path, name);
    hid_t ds = H5Dopen2((hid_t)h->file, name, H5P_DEFAULT);
    if (ds < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open dataset '%s'", h->path, name);
    hid_t ft = H5Dget_type(ds);
    int bad = H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) > 0;
    size_t size = bad ? 0 : H5Tget_size(ft);
    char *s = bad ? NULL : calloc(size + 1, 1);
    if (s) {
        hid_t mt = H5Tcopy(ft); /* same size and character set: no conversion */
        bad = H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0;
        H5Tclose(mt);
    } else bad = 1;
    H5Tclose(ft);
    H5Dclose(ds);
    if (bad) {
        free(s);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' is not a fixed-length string", h->path, name);
    }
    *out = s;
    return 0;
}

int ekn_h5_get_f64(ekn_h5 *h, const char *name, double *v, ekn_err *err)
{
    return ekn_h5_get(h, name, EKN_F64, v, 1, err);
}

int ekn_h5_get_i64(ekn_h5 *h, const char *name, int64_t *v, ekn_err *err)
{
    return ekn_h5_get(h, name, EKN_I64, v, 1, err);
}
