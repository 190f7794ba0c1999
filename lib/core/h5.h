/* h5: a small HDF5 layer for checkpoints and other named-tensor files.
 *
 * Files are written as "<path>.tmp.<pid>", fsync'd, then renamed into place
 * (ekn_h5_commit), so a checkpoint on disk is always complete: a run killed
 * while saving leaves the previous checkpoint untouched.  The file is built
 * in memory and written with write(2) by ekn_h5_commit, so a full disk is an
 * error with its reason (strerror), and the directory is fsync'd after the
 * rename.  ekn_h5_create follows lib/core/outfile.c's rules: a symlink is
 * written through (its target replaced, the link kept); a character device
 * is written in place (/dev/null discards, /dev/full is ENOSPC); a FIFO,
 * block device or directory at path is refused.  Names are HDF5
 * paths ("/params/conv1.w"); missing groups are created.  Everything is
 * readable with h5py and h5dump. */
#ifndef EKN_H5_H
#define EKN_H5_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "tensor.h"

typedef struct ekn_h5 {
    int64_t file;      /* hid_t */
    char path[4096];   /* as given (for messages) */
    char target[4096]; /* path with a symlink resolved: what the rename replaces */
    char tmp[4128];
    int temp_slot;
    int fd;            /* the temp file while writing, else -1 */
    uint64_t file_size; /* bytes of a file opened for reading: what no dataset may exceed */
    int direct;        /* ekn_h5_create_large: libhdf5 writes the temp file itself */
} ekn_h5;

/* Starts "<path>.tmp.<pid>" (path's symlink resolved), after removing the
 * temp files of that path left by dead processes. */
int ekn_h5_create(ekn_h5 *h, const char *path, ekn_err *err);
/* As ekn_h5_create for files too large to build in memory (predictions):
 * libhdf5 writes the temp file as datasets are put, and ekn_h5_commit
 * closes, fsyncs and renames it; a full disk is then an HDF5 write error
 * without errno's reason.  A character device is still written from memory. */
int ekn_h5_create_large(ekn_h5 *h, const char *path, ekn_err *err);
/* Before hours of work: path is a place ekn_h5_create can write (not a
 * device, FIFO or directory; its directory exists and takes a new file),
 * checked by creating and removing the temp file; stale temps removed. */
int ekn_h5_check_writable(const char *path, ekn_err *err);
int ekn_h5_commit(ekn_h5 *h, ekn_err *err);
void ekn_h5_abort(ekn_h5 *h);

int ekn_h5_open(ekn_h5 *h, const char *path, ekn_err *err);
/* As ekn_h5_open without its test read of every dataset in a child: for
 * files too large to read whole (input volumes, blocks of a prediction);
 * reads are still checked as below. */
int ekn_h5_open_unprobed(ekn_h5 *h, const char *path, ekn_err *err);
void ekn_h5_close(ekn_h5 *h);

/* dtype: EKN_F32, EKN_F64, EKN_I64, EKN_U64, EKN_U32, EKN_I32 or EKN_U8. rank 0 is a scalar. */
int ekn_h5_put(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims, const void *data,
               ekn_err *err);
int ekn_h5_put_string(ekn_h5 *h, const char *name, const char *s, ekn_err *err);
int ekn_h5_put_f64(ekn_h5 *h, const char *name, double v, ekn_err *err);
int ekn_h5_put_i64(ekn_h5 *h, const char *name, int64_t v, ekn_err *err);

int ekn_h5_exists(ekn_h5 *h, const char *name);
/* Reads a numeric dataset of exactly `count` elements, converting to dt.
 * Every read (this, the _f64/_i64 ones and ekn_h5_get_string) first checks
 * the dataset's dataspace, type class, element size and count, and that its
 * bytes fit in the file (1024 times the file for chunked data): a hostile
 * file is a one-line error, never an overflow or a huge allocation. */
int ekn_h5_get(ekn_h5 *h, const char *name, ekn_dtype dt, void *data, size_t count, ekn_err *err);
/* Shape of a dataset; returns its rank or -1. */
int ekn_h5_shape(ekn_h5 *h, const char *name, uint64_t *dims, int max_rank, ekn_err *err);
/* Stored element type and shape of a dataset: *dt is the ekn dtype of its
 * numeric type (either byte order), EKN_DT_INVALID for anything else
 * (strings, compounds); returns its rank, or -1 (missing, not a dataset,
 * rank above max_rank). */
int ekn_h5_info(ekn_h5 *h, const char *name, ekn_dtype *dt, uint64_t *dims, int max_rank, ekn_err *err);
/* The names of the links directly inside group `group` ("/params"), in
 * HDF5's name order: *names is a malloc'd array of *n malloc'd strings (free
 * with ekn_h5_names_free).  A missing group has no names. */
int ekn_h5_list(ekn_h5 *h, const char *group, char ***names, int *n, ekn_err *err);
void ekn_h5_names_free(char **names, int n);
/* One fixed-length string (a scalar dataset, or one of exactly one element), malloc'd. */
int ekn_h5_get_string(ekn_h5 *h, const char *name, char **out, ekn_err *err);
int ekn_h5_get_f64(ekn_h5 *h, const char *name, double *v, ekn_err *err);
int ekn_h5_get_i64(ekn_h5 *h, const char *name, int64_t *v, ekn_err *err);
/* ---- chunked datasets, attributes, virtual datasets (ekn-predict's HDF5 output) ----
 * chunk: per axis, each 1..dims; deflate: gzip level 0..9, or -1 for none. */
int ekn_h5_put_chunked(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims,
                       const uint64_t *chunk, int deflate, const void *data, ekn_err *err);
/* An attribute on object obj ("/" or a dataset's path): a string, or n
 * numbers of dtype dt (a 1-D array; n == 0 is refused). */
int ekn_h5_attr_put_string(ekn_h5 *h, const char *obj, const char *name, const char *s, ekn_err *err);
int ekn_h5_attr_put(ekn_h5 *h, const char *obj, const char *name, ekn_dtype dt, int n, const void *v, ekn_err *err);
/* 1 if obj exists and has the attribute, else 0. */
int ekn_h5_attr_exists(ekn_h5 *h, const char *obj, const char *name);
/* Elements of the attribute, -1 when obj has none of that name. */
int ekn_h5_attr_len(ekn_h5 *h, const char *obj, const char *name);
/* A string attribute (fixed or variable length), malloc'd into *out. */
int ekn_h5_attr_get_string(ekn_h5 *h, const char *obj, const char *name, char **out, ekn_err *err);
/* A numeric attribute of exactly n elements, converted to dt. */
int ekn_h5_attr_get(ekn_h5 *h, const char *obj, const char *name, ekn_dtype dt, int n, void *v, ekn_err *err);
/* A virtual dataset (HDF5 1.10's VDS) of dims over sources: each maps its
 * whole dataset `dset` of file `file` (a name relative to the directory of
 * h's file, or absolute) onto the hyperslab of dims at start with its
 * shape count.  Unmapped or unreadable parts read as the fill value: NaN
 * for floats, 0 for integers. */
/* Reads the box start..start+count of numeric dataset `name` (of exactly
 * `rank` axes) into buf, C order, converted to dt (any integer or float
 * dtype but f16). */
int ekn_h5_read_box(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *start, const uint64_t *count,
                    void *buf, ekn_err *err);
typedef struct ekn_h5_source {
    const char *file, *dset;
    uint64_t start[8], count[8];
} ekn_h5_source;
int ekn_h5_put_virtual(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims,
                       const ekn_h5_source *src, int nsrc, ekn_err *err);
#endif
