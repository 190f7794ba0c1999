/* IDX reader (the MNIST format, yann.lecun.com/exdb/mnist):
 *   bytes 0-1  zero
 *   byte  2    type: 08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64
 *   byte  3    rank
 *   then rank big-endian u32 dimensions, then the data, big-endian, C order. */
#include <stdio.h>
#include <string.h>

#include "readers.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static ekn_dtype idx_dtype(unsigned code)
{
    switch (code) {
    case 0x08: return EKN_U8;
    case 0x09: return EKN_I8;
    case 0x0B: return EKN_I16;
    case 0x0C: return EKN_I32;
    case 0x0D: return EKN_F32;
    case 0x0E: return EKN_F64;
    default: return EKN_DT_INVALID;
    }
}

int ekn_idx_parse_header(const unsigned char *p, size_t len, ekn_idx_header *h, ekn_err *err)
{
    memset(h, 0, sizeof *h);
    if (len == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "empty file");
    if (len < 4) return ekn_err_set(err, EKN_EXIT_FAIL, "truncated IDX header (%zu of 4 bytes)", len);
    if (p[0] != 0 || p[1] != 0)
        return ekn_err_set(err, EKN_EXIT_FAIL, "bad IDX magic %02x %02x %02x %02x (expected 00 00 TYPE RANK)",
                           p[0], p[1], p[2], p[3]);
    h->dtype = idx_dtype(p[2]);
    if (!h->dtype) return ekn_err_set(err, EKN_EXIT_FAIL, "bad IDX magic: unknown type code 0x%02x", p[2]);
    h->rank = p[3];
    if (h->rank < 1 || h->rank > EKN_MAX_RANK)
        return ekn_err_set(err, EKN_EXIT_FAIL, "bad IDX magic: rank %d (must be 1 to %d)", h->rank, EKN_MAX_RANK);
    h->header_len = 4 + 4 * (size_t)h->rank;
    if (len < h->header_len)
        return ekn_err_set(err, EKN_EXIT_FAIL, "truncated IDX header (%zu of %zu bytes)", len, h->header_len);
    for (int i = 0; i < h->rank; i++) h->shape[i] = be32(p + 4 + 4 * i);
    size_t size = ekn_dtype_size(h->dtype);
    uint64_t numel = 0;
    ekn_err e = {0};
    if (ekn_shape_numel(h->rank, h->shape, (UINT64_MAX >> 4) / size, &numel, &e))
        return ekn_err_set(err, EKN_EXIT_FAIL, "IDX header: %s", e.msg);
    h->data_len = numel * size;
    h->header_ok = 1;
    uint64_t have = len - h->header_len;
    if (have < h->data_len) {
        char s[256];
        ekn_shape_str(h->rank, h->shape, s, sizeof s);
        return ekn_err_set(err, EKN_EXIT_FAIL, "truncated IDX data: shape %s of %s needs %llu bytes, %llu present", s,
                           ekn_dtype_name(h->dtype), (unsigned long long)h->data_len, (unsigned long long)have);
    }
    if (have > h->data_len)
        return ekn_err_set(err, EKN_EXIT_FAIL, "%llu unexpected bytes after the IDX data",
                           (unsigned long long)(have - h->data_len));
    return 0;
}

int ekn_read_idx(const ekn_blob *b, const char *name, ekn_tensor *t, ekn_err *err)
{
    ekn_idx_header h;
    if (ekn_idx_parse_header(b->data, b->len, &h, err)) return ekn_err_prefix(err, "'%s'", name);
    if (ekn_tensor_reshape(t, h.dtype, h.rank, h.shape, err)) return ekn_err_prefix(err, "'%s'", name);
    const unsigned char *src = b->data + h.header_len;
    unsigned char *dst = t->data;
    size_t size = ekn_dtype_size(h.dtype), n = (size_t)(h.data_len / size);
    if (size == 1) {
        memcpy(dst, src, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < size; k++) dst[i * size + k] = src[i * size + size - 1 - k];
    return 0;
}

/* ---- its row of the reader table (readers.h) ---- */
static int row_probe(const unsigned char *p, size_t len)
{
    ekn_idx_header h;
    return ekn_idx_parse_header(p, len, &h, NULL) == 0;
}

static int row_read(const ekn_read_src *s, ekn_tensor *t, ekn_err *err)
{
    return ekn_read_idx(s->blob, s->spec, t, err);
}

const ekn_file_reader ekn_file_reader_idx = {
    .format = EKN_FMT_IDX,
    .name = "idx",
    .probe = row_probe,
    .suffixes = (const char *const[]){"-ubyte", ".idx", NULL}, /* t10k-images-idx3-ubyte */
    .infixes = (const char *const[]){"-idx", ".idx", NULL},    /* train.idx3.bin */
    .flags = EKN_READER_DATASET,
    .read = row_read,
};
