/* raw reader: a headerless little-endian C-order array whose shape and
 * dtype the user states (--shape, --dtype), e.g. an EM volume z,y,x. */
#include <stdio.h>
#include <string.h>

#include "readers.h"

int ekn_read_raw(const ekn_blob *b, const char *name, ekn_dtype dt, int rank, const uint64_t *shape,
                 ekn_tensor *t, ekn_err *err)
{
    size_t size = ekn_dtype_size(dt);
    if (!size) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': unknown dtype for a raw file", name);
    if (b->len == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty file", name);
    uint64_t numel = 0;
    if (ekn_shape_numel(rank, shape, (UINT64_MAX >> 4) / size, &numel, err)) return ekn_err_prefix(err, "'%s'", name);
    if (numel * size != b->len) {
        char s[256];
        ekn_shape_str(rank, shape, s, sizeof s);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %zu bytes, but shape %s of %s needs %llu", name, b->len, s,
                           ekn_dtype_name(dt), (unsigned long long)(numel * size));
    }
    if (ekn_tensor_reshape(t, dt, rank, shape, err)) return ekn_err_prefix(err, "'%s'", name);
    memcpy(t->data, b->data, b->len);
    return 0;
}

/* ---- its row of the reader table (readers.h) ---- */
static int row_read(const ekn_read_src *s, ekn_tensor *t, ekn_err *err)
{
    if (!s->have_shape) return ekn_err_set(err, EKN_EXIT_USAGE, "'%s': a raw file needs --shape (and --dtype)", s->spec);
    return ekn_read_raw(s->blob, s->spec, s->dtype, s->rank, s->shape, t, err);
}

const ekn_file_reader ekn_file_reader_raw = {
    .format = EKN_FMT_RAW,
    .name = "raw",
    .flags = EKN_READER_SHAPED | EKN_READER_VOLUME,
    .read = row_read,
};
