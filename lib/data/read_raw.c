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
