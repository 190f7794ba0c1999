#include "h5.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* The rules of lib/core/outfile.c for path, resolved into target (cap
 * bytes): what a checkpoint's rename replaces; -1 with err for a device,
 * FIFO or directory. */
static int resolve_target(const char *path, char *target, size_t cap, int *in_place, ekn_err *err)
{
    *in_place = 0;
    /* a symlink is written through (the temp file goes beside its target,
     * and the rename replaces the target, not the link); a device, FIFO or
     * directory is refused, since a rename over it would replace the node
     * with a file */
    snprintf(target, cap, "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (real) {
            if (strlen(real) >= cap) {
                free(real);
                return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': the symlink's target path is too long", path);
            }
            snprintf(target, cap, "%s", real);
            free(real);
        } else {
            /* a link to a file not made yet: its target, relative to the link's directory */
            char link[4096];
            ssize_t len = readlink(path, link, sizeof link - 1);
            if (len < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot follow the symlink:", path);
            link[len] = 0;
            const char *slash = strrchr(path, '/');
            if (link[0] == '/' || !slash) snprintf(target, cap, "%s", link);
            else snprintf(target, cap, "%.*s/%s", (int)(slash - path), path, link);
        }
    }
    if (stat(target, &st) == 0 && S_ISCHR(st.st_mode)) {
        *in_place = 1; /* /dev/null discards it, /dev/full is ENOSPC */
        return 0;
    }
    if (stat(target, &st) == 0 && !S_ISREG(st.st_mode))
        return ekn_err_set(err, EKN_EXIT_FAIL,
                           "'%s': not a regular file (a checkpoint is written to a temp file and renamed into "
                           "place, which would replace this %s)",
                           path, S_ISDIR(st.st_mode) ? "directory" : S_ISFIFO(st.st_mode) ? "FIFO" : "special file");
    return 0;
}

/* Removes "<target>.tmp.<pid>" files left by processes that no longer
 * exist (a kill -9 while saving): only those of pids that kill(pid, 0)
 * reports gone (ESRCH), never our own or a live one's.  A pid on another
 * machine sharing the directory looks gone here; such setups must not
 * write one checkpoint path from two machines anyway. */
static void remove_stale_temps(const char *target)
{
    char dir[4096];
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - target) ? (int)(slash - target) : 1, target);
    else snprintf(dir, sizeof dir, ".");
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) || strncmp(n + blen, ".tmp.", 5)) continue;
        const char *digits = n + blen + 5;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end || *digits < '1' || *digits > '9' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8300];
        snprintf(full, sizeof full, "%s/%s", dir, n);
        unlink(full);
    }
    closedir(d);
}

int ekn_h5_check_writable(const char *path, ekn_err *err)
{
    char target[4096], probe_path[4200];
    int in_place;
    if (resolve_target(path, target, sizeof target, &in_place, err)) return -1;
    if (in_place) {
        int fd = open(target, O_WRONLY);
        if (fd < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open the checkpoint device:", path);
        close(fd);
        return 0;
    }
    remove_stale_temps(target);
    snprintf(probe_path, sizeof probe_path, "%s.tmp.%ld", target, (long)getpid());
    int slot = ekn_temp_register(probe_path);
    int fd = open(probe_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    int saved = errno;
    if (fd >= 0) {
        close(fd);
        unlink(probe_path);
    }
    ekn_temp_forget(slot);
    if (fd < 0) {
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create the checkpoint:", path);
    }
    return 0;
}

static int create(ekn_h5 *h, const char *path, int large, ekn_err *err);

int ekn_h5_create(ekn_h5 *h, const char *path, ekn_err *err) { return create(h, path, 0, err); }

int ekn_h5_create_large(ekn_h5 *h, const char *path, ekn_err *err) { return create(h, path, 1, err); }

static int create(ekn_h5 *h, const char *path, int large, ekn_err *err)
{
    quiet();
    memset(h, 0, sizeof *h);
    h->temp_slot = -1;
    h->fd = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    char target[4096];
    int in_place;
    if (resolve_target(path, target, sizeof target, &in_place, err)) return -1;
    if (in_place) {
        /* a character device: written in place, no temp file, no rename */
        snprintf(h->target, sizeof h->target, "%s", target);
        h->fd = open(target, O_WRONLY);
        if (h->fd < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    } else remove_stale_temps(target);
    snprintf(h->target, sizeof h->target, "%s", target);
    snprintf(h->tmp, sizeof h->tmp, "%s.tmp.%ld", target, (long)getpid());
    if (in_place) h->tmp[0] = 0;
    /* registered before it exists, so a signal during the create removes it too */
    if (!in_place) h->temp_slot = ekn_temp_register(h->tmp);
    if (!in_place) h->fd = open(h->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (h->fd < 0) {
        int saved = errno;
        ekn_temp_forget(h->temp_slot);
        h->temp_slot = -1;
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create:", path);
    }
    /* The file is built in memory (the core driver, no backing store) and
     * written by ekn_h5_commit with plain write(2)s: a full disk is then an
     * errno we can report, never a half-closed HDF5 file that libhdf5 trips
     * over at exit. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    h->direct = large && !in_place;
    if (fapl >= 0 && !h->direct) H5Pset_fapl_core(fapl, 1 << 20, 0);
    h->file = fapl < 0 ? -1 : H5Fcreate(in_place ? "ekn-in-memory.h5" : h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (h->file < 0) {
        h->file = 0;
        ekn_h5_abort(h);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot create an HDF5 file", path);
    }
    return 0;
}

/* fsync of the directory holding path, so a rename survives a crash. */
static int fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* some file systems refuse fsync on a directory; the rename still stands */
    if (rc != 0 && (errno == EINVAL || errno == ENOTSUP)) rc = 0;
    close(fd);
    return rc;
}

int ekn_h5_commit(ekn_h5 *h, ekn_err *err)
{
    int saved = 0;
    const char *what = "write failed";
    char *image = NULL;
    ssize_t size = -1;
    if (h->direct) {
        /* libhdf5 wrote the temp file: close it, then as below from the fsync on */
        int bad = H5Fclose((hid_t)h->file) < 0;
        h->file = 0;
        if (!bad && fsync(h->fd) != 0) bad = 1, saved = errno;
        if (close(h->fd) != 0 && !bad) bad = 1, saved = errno;
        h->fd = -1;
        if (!bad && rename(h->tmp, h->target) != 0) bad = 1, saved = errno, what = "cannot rename the temp file into place";
        if (bad) unlink(h->tmp);
        ekn_temp_forget(h->temp_slot);
        h->temp_slot = -1;
        if (!bad && fsync_dir(h->target) != 0) bad = 1, saved = errno, what = "cannot sync the directory";
        if (!bad) return 0;
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, saved ? "'%s': %s:" : "'%s': %s (disk full?)", h->path, what);
    }
    if (H5Fflush((hid_t)h->file, H5F_SCOPE_GLOBAL) >= 0) size = H5Fget_file_image((hid_t)h->file, NULL, 0);
    if (size > 0 && !(image = malloc((size_t)size))) saved = ENOMEM;
    if (image && H5Fget_file_image((hid_t)h->file, image, (size_t)size) != size) {
        free(image);
        image = NULL;
    }
    int bad = !image;
    if (bad && !saved) what = "cannot build the HDF5 file";
    H5Fclose((hid_t)h->file); /* in memory: nothing can fail on disk */
    h->file = 0;
    for (size_t done = 0; !bad && done < (size_t)size;) {
        ssize_t w = write(h->fd, image + done, (size_t)size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) bad = 1, saved = w < 0 ? errno : ENOSPC;
        else done += (size_t)w;
    }
    free(image);
    int in_place = !h->tmp[0];
    if (!bad && !in_place && fsync(h->fd) != 0) bad = 1, saved = errno;
    if (close(h->fd) != 0 && !bad) bad = 1, saved = errno;
    h->fd = -1;
    if (in_place) {
        if (!bad) return 0;
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, saved ? "'%s': %s:" : "'%s': %s", h->path, what);
    }
    if (!bad && rename(h->tmp, h->target) != 0) bad = 1, saved = errno, what = "cannot rename the temp file into place";
    if (bad) unlink(h->tmp);
    ekn_temp_forget(h->temp_slot);
    h->temp_slot = -1;
    if (!bad && fsync_dir(h->target) != 0) bad = 1, saved = errno, what = "cannot sync the directory";
    if (bad) {
        errno = saved;
        return ekn_err_set(err, EKN_EXIT_FAIL, saved ? "'%s': %s:" : "'%s': %s", h->path, what);
    }
    return 0;
}

void ekn_h5_abort(ekn_h5 *h)
{
    if (h->file > 0) H5Fclose((hid_t)h->file);
    h->file = 0;
    if (h->fd >= 0) close(h->fd);
    h->fd = -1;
    if (h->tmp[0]) unlink(h->tmp);
    ekn_temp_forget(h->temp_slot);
    h->temp_slot = -1;
}

static hid_t open_checked(ekn_h5 *h, const char *name, H5T_class_t cls, uint64_t *n, size_t *size, ekn_err *err);

/* The child's walk: every dataset opened through open_checked and, when
 * its checks pass, read in full. */
static herr_t probe_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g, (void)info;
    ekn_h5 *h = data;
    char full[1024];
    snprintf(full, sizeof full, "/%s", name);
    H5O_info_t oi;
    if (H5Oget_info_by_name((hid_t)h->file, full, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2((hid_t)h->file, full, H5P_DEFAULT);
    if (ds < 0) return 0;
    hid_t t = H5Dget_type(ds);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    if (t >= 0) H5Tclose(t);
    H5Dclose(ds);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER && cls != H5T_STRING) return 0;
    uint64_t n;
    size_t size;
    ekn_err err = {0};
    ds = open_checked(h, full, cls, &n, &size, &err);
    if (ds < 0) return 0;
    hid_t mt = cls == H5T_FLOAT ? H5Tcopy(H5T_NATIVE_DOUBLE) : cls == H5T_INTEGER ? H5Tcopy(H5T_NATIVE_INT64)
                                                                                  : H5Dget_type(ds);
    size_t bytes = cls == H5T_STRING ? size * n : 8 * n;
    void *buf = malloc(bytes ? bytes : 1);
    if (buf && mt >= 0) H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    free(buf);
    if (mt >= 0) H5Tclose(mt);
    H5Dclose(ds);
    return 0;
}

/* libhdf5 1.10 can crash on a hostile file (a failed huge allocation, a
 * corrupted B-tree), where no check of ours runs first.  So a file is
 * first opened, walked and read in a child with a bounded address space
 * and time: when the child dies of a signal, the file is refused (returns
 * -1).  Any other outcome of the child (errors included) leaves the
 * reporting to the checked reads in this process. */
static int probe(const char *path, uint64_t file_size)
{
    pid_t pid = fork();
    if (pid < 0) return 0; /* no child: the checked reads still stand */
    if (pid == 0) {
        alarm(120);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        /* what the process maps now, plus room to read the file a few times */
        long pages = 0;
        FILE *fp = fopen("/proc/self/statm", "r");
        if (fp) {
            if (fscanf(fp, "%ld", &pages) != 1) pages = 0;
            fclose(fp);
        }
        long psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0) {
            uint64_t limit = (uint64_t)pages * (uint64_t)psz + 16 * file_size + (512u << 20);
            struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
            setrlimit(RLIMIT_AS, &rl);
        }
#endif
        ekn_h5 h;
        memset(&h, 0, sizeof h);
        snprintf(h.path, sizeof h.path, "%s", path);
        h.file_size = file_size;
        h.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (h.file >= 0) H5Lvisit((hid_t)h.file, H5_INDEX_NAME, H5_ITER_NATIVE, probe_one, &h);
        _exit(0); /* no atexit handlers, no H5 shutdown: the parent owns those */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 0;
    return WIFSIGNALED(status) ? -1 : 0;
}

static int open_file(ekn_h5 *h, const char *path, int test_read, ekn_err *err);

int ekn_h5_open(ekn_h5 *h, const char *path, ekn_err *err) { return open_file(h, path, 1, err); }

int ekn_h5_open_unprobed(ekn_h5 *h, const char *path, ekn_err *err) { return open_file(h, path, 0, err); }

static int open_file(ekn_h5 *h, const char *path, int test_read, ekn_err *err)
{
    quiet();
    memset(h, 0, sizeof *h);
    h->temp_slot = -1;
    h->fd = -1;
    snprintf(h->path, sizeof h->path, "%s", path);
    if (access(path, R_OK) != 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    struct stat st;
    if (stat(path, &st) != 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    if (!S_ISREG(st.st_mode)) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not a regular file", path);
    h->file_size = (uint64_t)st.st_size;
    if (H5Fis_hdf5(path) <= 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': not an HDF5 file", path);
    if (test_read && probe(path, h->file_size) != 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': a corrupted HDF5 file (libhdf5 crashed reading it in a test read)",
                           path);
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

/* The checks every read makes before H5Dread: an open dataset of a simple
 * or scalar dataspace, of class cls, whose element count (*n, overflow-
 * checked) and element size (*size) are known, and whose bytes fit in what
 * the file can hold: a hostile file's claims are refused here instead of
 * becoming a huge allocation or an overflow.  Returns the dataset, or -1
 * with err set (nothing left open). */
static hid_t open_checked(ekn_h5 *h, const char *name, H5T_class_t cls, uint64_t *n, size_t *size, ekn_err *err)
{
    if (!ekn_h5_exists(h, name)) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no dataset '%s'", h->path, name);
    H5O_info_t oi;
    if (H5Oget_info_by_name((hid_t)h->file, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' is not a dataset", h->path, name);
    hid_t ds = H5Dopen2((hid_t)h->file, name, H5P_DEFAULT);
    if (ds < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open dataset '%s'", h->path, name);
    const char *why = NULL;
    hid_t space = H5Dget_space(ds), t = H5Dget_type(ds);
    H5S_class_t sc = space < 0 ? H5S_NO_CLASS : H5Sget_simple_extent_type(space);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    hsize_t hd[H5S_MAX_RANK];
    uint64_t count = 1;
    if ((sc != H5S_SCALAR && sc != H5S_SIMPLE) || rank < 0 || rank > H5S_MAX_RANK ||
        H5Sget_simple_extent_dims(space, hd, NULL) < 0)
        why = "has no readable shape";
    for (int i = 0; !why && i < rank; i++) {
        if (hd[i] && count > UINT64_MAX / hd[i]) why = "claims more elements than can exist";
        else count *= hd[i];
    }
    if (!why && (t < 0 || H5Tget_class(t) != cls))
        why = cls == H5T_STRING ? "is not a string" : "is not numeric";
    size_t esize = why ? 0 : H5Tget_size(t);
    if (!why && (esize == 0 || (cls != H5T_STRING && esize > 8))) why = "has an element size this reader refuses";
    if (!why && cls == H5T_STRING && H5Tis_variable_str(t) != 0) why = "is not a fixed-length string";
    if (!why && (esize && count > UINT64_MAX / esize)) why = "claims more bytes than can exist";
    if (!why && h->file_size) {
        /* contiguous and compact data are stored as is; chunks may be
         * compressed, but not beyond 1024:1 here */
        hid_t dcpl = H5Dget_create_plist(ds);
        uint64_t cap = h->file_size;
        if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) cap = cap > UINT64_MAX / 1024 ? UINT64_MAX : cap * 1024;
        if (dcpl >= 0) H5Pclose(dcpl);
        if (count * esize > cap) why = "claims more bytes than the file holds";
    }
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    if (why) {
        H5Dclose(ds);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' %s", h->path, name, why);
    }
    *n = count;
    *size = esize;
    return ds;
}

int ekn_h5_get(ekn_h5 *h, const char *name, ekn_dtype dt, void *data, size_t count, ekn_err *err)
{
    hid_t mt = mem_type(dt);
    if (mt < 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dtype %s not supported in HDF5 input", h->path, ekn_dtype_name(dt));
    uint64_t n;
    size_t size;
    ekn_err why = {0};
    /* integers or floats, either converted by HDF5 to dt */
    hid_t ds = open_checked(h, name, H5T_FLOAT, &n, &size, &why);
    if (ds < 0) {
        ds = open_checked(h, name, H5T_INTEGER, &n, &size, err);
        if (ds < 0) {
            if (strstr(err->msg, "is not numeric") && why.msg[0]) *err = why;
            return -1;
        }
    }
    if (n != count) {
        H5Dclose(ds);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' has %llu elements, expected %zu", h->path, name,
                           (unsigned long long)n, count);
    }
    int bad = H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    H5Dclose(ds);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot read dataset '%s'", h->path, name);
    return 0;
}

int ekn_h5_get_string(ekn_h5 *h, const char *name, char **out, ekn_err *err)
{
    *out = NULL;
    uint64_t n;
    size_t size;
    hid_t ds = open_checked(h, name, H5T_STRING, &n, &size, err);
    if (ds < 0) return -1;
    if (n != 1) {
        H5Dclose(ds);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dataset '%s' holds %llu strings, expected one", h->path, name,
                           (unsigned long long)n);
    }
    char *s = calloc(size + 1, 1);
    int bad = !s;
    if (s) {
        hid_t ft = H5Dget_type(ds);
        hid_t mt = ft < 0 ? -1 : H5Tcopy(ft); /* same size and character set: no conversion */
        bad = mt < 0 || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0;
        if (mt >= 0) H5Tclose(mt);
        if (ft >= 0) H5Tclose(ft);
    }
    H5Dclose(ds);
    if (bad) {
        free(s);
        return ekn_err_set(err, EKN_EXIT_FAIL, s ? "'%s': cannot read dataset '%s'" : "'%s': out of memory reading '%s'",
                           h->path, name);
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

/* ---- chunked datasets, attributes, virtual datasets ------------------------------ */

int ekn_h5_put_chunked(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims,
                       const uint64_t *chunk, int deflate, const void *data, ekn_err *err)
{
    hid_t t = mem_type(dt);
    if (t < 0 || rank < 1 || rank > 8)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write dataset '%s' as %s of rank %d", h->path, name,
                           ekn_dtype_name(dt), rank);
    hsize_t hd[8], hc[8];
    for (int i = 0; i < rank; i++) hd[i] = dims[i], hc[i] = chunk[i];
    hid_t space = H5Screate_simple(rank, hd, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    int bad = H5Pset_chunk(dcpl, rank, hc) < 0 || (deflate >= 0 && H5Pset_deflate(dcpl, (unsigned)deflate) < 0);
    hid_t ds = bad ? -1 : H5Dcreate2((hid_t)h->file, name, t, space, lcpl, dcpl, H5P_DEFAULT);
    bad = ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write dataset '%s'", h->path, name);
    return 0;
}

static int attr_put_raw(ekn_h5 *h, const char *obj, const char *name, hid_t type, hid_t space, const void *v, ekn_err *err)
{
    hid_t a = H5Acreate_by_name((hid_t)h->file, obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, type, v) < 0;
    if (a >= 0) H5Aclose(a);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write attribute '%s' of '%s'", h->path, name, obj);
    return 0;
}

int ekn_h5_attr_put_string(ekn_h5 *h, const char *obj, const char *name, const char *s, ekn_err *err)
{
    hid_t t = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(s) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = attr_put_raw(h, obj, name, t, space, s, err);
    H5Sclose(space);
    H5Tclose(t);
    return rc;
}

int ekn_h5_attr_put(ekn_h5 *h, const char *obj, const char *name, ekn_dtype dt, int n, const void *v, ekn_err *err)
{
    hid_t t = mem_type(dt);
    if (t < 0 || n < 1) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write attribute '%s'", h->path, name);
    hsize_t d = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &d, NULL);
    int rc = attr_put_raw(h, obj, name, t, space, v, err);
    H5Sclose(space);
    return rc;
}

int ekn_h5_attr_exists(ekn_h5 *h, const char *obj, const char *name)
{
    if (strcmp(obj, "/") && !ekn_h5_exists(h, obj)) return 0;
    return H5Aexists_by_name((hid_t)h->file, obj, name, H5P_DEFAULT) > 0;
}

int ekn_h5_attr_len(ekn_h5 *h, const char *obj, const char *name)
{
    if (!ekn_h5_attr_exists(h, obj, name)) return -1;
    hid_t a = H5Aopen_by_name((hid_t)h->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = a < 0 ? -1 : H5Aget_space(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (space >= 0) H5Sclose(space);
    if (a >= 0) H5Aclose(a);
    return n < 0 || n > 1 << 30 ? -1 : (int)n;
}

/* The attribute opened, or -1 with err. */
static hid_t attr_open(ekn_h5 *h, const char *obj, const char *name, ekn_err *err)
{
    if (!ekn_h5_attr_exists(h, obj, name))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': '%s' has no attribute '%s'", h->path, obj, name);
    hid_t a = H5Aopen_by_name((hid_t)h->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open attribute '%s' of '%s'", h->path, name, obj);
    return a;
}

int ekn_h5_attr_get_string(ekn_h5 *h, const char *obj, const char *name, char **out, ekn_err *err)
{
    *out = NULL;
    hid_t a = attr_open(h, obj, name, err);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    int bad = t < 0 || H5Tget_class(t) != H5T_STRING || space < 0 || H5Sget_simple_extent_npoints(space) != 1;
    if (!bad && H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        hid_t mt = H5Tcopy(t);
        bad = H5Aread(a, mt, &v) < 0 || !v || !(*out = strdup(v));
        if (v) H5free_memory(v);
        H5Tclose(mt);
    } else if (!bad) {
        size_t size = H5Tget_size(t);
        char *s = size < (1u << 20) ? calloc(size + 1, 1) : NULL;
        hid_t mt = H5Tcopy(t);
        bad = !s || H5Aread(a, mt, s) < 0;
        H5Tclose(mt);
        if (bad) free(s);
        else *out = s;
    }
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': attribute '%s' of '%s' is not one string", h->path, name, obj);
    return 0;
}

int ekn_h5_attr_get(ekn_h5 *h, const char *obj, const char *name, ekn_dtype dt, int n, void *v, ekn_err *err)
{
    hid_t mt = mem_type(dt);
    if (mt < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot read attribute '%s'", h->path, name);
    hid_t a = attr_open(h, obj, name, err);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    H5T_class_t cls = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
    int bad = (cls != H5T_INTEGER && cls != H5T_FLOAT) || space < 0 || H5Sget_simple_extent_npoints(space) != n ||
              H5Aread(a, mt, v) < 0;
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (bad)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': attribute '%s' of '%s' is not %d number%s", h->path, name, obj, n,
                           n == 1 ? "" : "s");
    return 0;
}

int ekn_h5_put_virtual(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *dims,
                       const ekn_h5_source *src, int nsrc, ekn_err *err)
{
    hid_t t = mem_type(dt);
    if (t < 0 || rank < 1 || rank > 8)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write virtual dataset '%s'", h->path, name);
    hsize_t hd[8];
    for (int i = 0; i < rank; i++) hd[i] = dims[i];
    hid_t space = H5Screate_simple(rank, hd, NULL), lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    int bad = 0;
    if (dt == EKN_F32 || dt == EKN_F64) {
        double nan = NAN;
        float nanf = NAN;
        bad = H5Pset_fill_value(dcpl, t, dt == EKN_F32 ? (const void *)&nanf : (const void *)&nan) < 0;
    }
    for (int i = 0; !bad && i < nsrc; i++) {
        hsize_t start[8], count[8];
        for (int k = 0; k < rank; k++) start[k] = src[i].start[k], count[k] = src[i].count[k];
        hid_t s_src = H5Screate_simple(rank, count, NULL);
        bad = s_src < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
              H5Pset_virtual(dcpl, space, src[i].file, src[i].dset, s_src) < 0;
        if (s_src >= 0) H5Sclose(s_src);
    }
    if (!bad) H5Sselect_all(space);
    hid_t ds = bad ? -1 : H5Dcreate2((hid_t)h->file, name, t, space, lcpl, dcpl, H5P_DEFAULT);
    bad = ds < 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write virtual dataset '%s'", h->path, name);
    return 0;
}

int ekn_h5_read_box(ekn_h5 *h, const char *name, ekn_dtype dt, int rank, const uint64_t *start, const uint64_t *count,
                    void *buf, ekn_err *err)
{
    hid_t mt;
    switch (dt) {
    case EKN_I8: mt = H5T_NATIVE_INT8; break;
    case EKN_U8: mt = H5T_NATIVE_UINT8; break;
    case EKN_I16: mt = H5T_NATIVE_INT16; break;
    case EKN_U16: mt = H5T_NATIVE_UINT16; break;
    case EKN_I32: mt = H5T_NATIVE_INT32; break;
    case EKN_U32: mt = H5T_NATIVE_UINT32; break;
    case EKN_I64: mt = H5T_NATIVE_INT64; break;
    case EKN_U64: mt = H5T_NATIVE_UINT64; break;
    case EKN_F32: mt = H5T_NATIVE_FLOAT; break;
    case EKN_F64: mt = H5T_NATIVE_DOUBLE; break;
    default: return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': dtype %s not supported in HDF5 input", h->path, ekn_dtype_name(dt));
    }
    if (rank < 1 || rank > 8) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot read a box of rank %d", h->path, rank);
    uint64_t n;
    size_t size;
    ekn_err why = {0};
    hid_t ds = open_checked(h, name, H5T_INTEGER, &n, &size, &why);
    if (ds < 0 && (ds = open_checked(h, name, H5T_FLOAT, &n, &size, err)) < 0) {
        if (strstr(err->msg, "is not numeric") && why.msg[0]) *err = why;
        return -1;
    }
    hsize_t hs[8], hc[8], dims[8];
    hid_t space = H5Dget_space(ds);
    int bad = space < 0 || H5Sget_simple_extent_ndims(space) != rank || H5Sget_simple_extent_dims(space, dims, NULL) < 0;
    for (int k = 0; !bad && k < rank; k++) {
        hs[k] = start[k], hc[k] = count[k];
        bad = start[k] > dims[k] || count[k] > dims[k] - start[k];
    }
    hid_t mem = bad ? -1 : H5Screate_simple(rank, hc, NULL);
    bad = bad || mem < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, hs, NULL, hc, NULL) < 0 ||
          H5Dread(ds, mt, mem, space, H5P_DEFAULT, buf) < 0;
    if (mem >= 0) H5Sclose(mem);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    if (bad) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot read a box of dataset '%s'", h->path, name);
    return 0;
}
