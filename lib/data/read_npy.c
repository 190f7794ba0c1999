/* NPY reader and header writer (numpy.lib.format, versions 1.0, 2.0, 3.0):
 *   "\x93NUMPY", major, minor, header_len (u16 LE in 1.x, u32 LE in 2.x/3.x),
 *   then a Python dict literal {'descr': '<f4', 'fortran_order': False,
 *   'shape': (2, 3), } padded with spaces and a '\n', then the data. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "readers.h"

/* Finds the value after 'key': in the dict text; NULL if absent. */
static const char *dict_value(const char *dict, const char *key)
{
    char pat[32];
    for (int q = 0; q < 2; q++) {
        snprintf(pat, sizeof pat, q ? "\"%s\"" : "'%s'", key);
        const char *k = strstr(dict, pat);
        if (!k) continue;
        k += strlen(pat);
        while (*k == ' ') k++;
        if (*k != ':') continue;
        k++;
        while (*k == ' ') k++;
        return k;
    }
    return NULL;
}

static int parse_descr(const char *v, ekn_dtype *dt, ekn_err *err)
{
    if (*v != '\'' && *v != '"')
        return ekn_err_set(err, EKN_EXIT_FAIL, "unsupported dtype (a structured or object array)");
    char q = *v++, d[16];
    const char *end = strchr(v, q);
    if (!end || end - v >= (long)sizeof d) return ekn_err_set(err, EKN_EXIT_FAIL, "malformed 'descr' in the header");
    snprintf(d, sizeof d, "%.*s", (int)(end - v), v);
    if (d[0] == '>' && strcmp(d + 1, "u1") && strcmp(d + 1, "i1") && strcmp(d + 1, "b1"))
        return ekn_err_set(err, EKN_EXIT_FAIL, "big-endian dtype '%s' is not supported (use astype('<%s'))", d, d + 1);
    if (d[0] != '<' && d[0] != '|' && d[0] != '>' && d[0] != '=')
        return ekn_err_set(err, EKN_EXIT_FAIL, "unsupported dtype '%s'", d);
    static const struct { const char *code; ekn_dtype dt; } map[] = {
        {"b1", EKN_U8}, {"u1", EKN_U8}, {"i1", EKN_I8}, {"u2", EKN_U16}, {"i2", EKN_I16}, {"u4", EKN_U32},
        {"i4", EKN_I32}, {"u8", EKN_U64}, {"i8", EKN_I64}, {"f2", EKN_F16}, {"f4", EKN_F32}, {"f8", EKN_F64},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(d + 1, map[i].code)) {
            *dt = map[i].dt;
            return 0;
        }
    return ekn_err_set(err, EKN_EXIT_FAIL, "unsupported dtype '%s'", d);
}

int ekn_npy_parse_header(const unsigned char *p, size_t len, ekn_npy_header *h, ekn_err *err)
{
    memset(h, 0, sizeof *h);
    if (len == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "empty file");
    if (len < 10 || memcmp(p, "\x93NUMPY", 6))
        return ekn_err_set(err, EKN_EXIT_FAIL, len < 10 ? "truncated NPY header" : "not an NPY file (bad magic)");
    h->major = p[6];
    h->minor = p[7];
    size_t hl, start;
    if (h->major == 1) {
        hl = (size_t)p[8] | (size_t)p[9] << 8;
        start = 10;
    } else if (h->major == 2 || h->major == 3) {
        if (len < 12) return ekn_err_set(err, EKN_EXIT_FAIL, "truncated NPY header");
        hl = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        start = 12;
    } else {
        return ekn_err_set(err, EKN_EXIT_FAIL, "NPY version %d.%d is not supported", h->major, h->minor);
    }
    if (hl > (1u << 24) || len - start < hl)
        return ekn_err_set(err, EKN_EXIT_FAIL, "truncated NPY header (%zu of %zu bytes)", len - start, hl);
    h->header_len = start + hl;
    char *dict = malloc(hl + 1);
    if (!dict) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    memcpy(dict, p + start, hl);
    dict[hl] = 0;
    int rc = 0;
    const char *v;
    if (!(v = dict_value(dict, "descr"))) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY header has no 'descr'");
        goto out;
    }
    if ((rc = parse_descr(v, &h->dtype, err))) goto out;
    if (!(v = dict_value(dict, "fortran_order"))) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY header has no 'fortran_order'");
        goto out;
    }
    if (!strncmp(v, "True", 4)) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL,
                         "fortran_order=True is not supported (save a C-order array: np.ascontiguousarray)");
        goto out;
    }
    if (strncmp(v, "False", 5)) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed 'fortran_order' in the NPY header");
        goto out;
    }
    if (!(v = dict_value(dict, "shape")) || *v != '(') {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY header has no 'shape' tuple");
        goto out;
    }
    for (v++;;) {
        while (*v == ' ') v++;
        if (*v == ')') break;
        if (!isdigit((unsigned char)*v)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed 'shape' in the NPY header");
            goto out;
        }
        if (h->rank >= EKN_MAX_RANK) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY array has more than %d axes", EKN_MAX_RANK);
            goto out;
        }
        char *end;
        errno = 0;
        unsigned long long d = strtoull(v, &end, 10);
        if (errno) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY shape dimension out of range");
            goto out;
        }
        h->shape[h->rank++] = d;
        v = end;
        while (*v == ' ') v++;
        if (*v == 'L') v++; /* Python 2 longs */
        if (*v == ',') v++;
        else if (*v != ')') {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed 'shape' in the NPY header");
            goto out;
        }
    }
    size_t size = ekn_dtype_size(h->dtype);
    uint64_t numel = 0;
    ekn_err e = {0};
    if (ekn_shape_numel(h->rank, h->shape, (UINT64_MAX >> 4) / size, &numel, &e)) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "NPY header: %s", e.msg);
        goto out;
    }
    h->data_len = numel * size;
    h->header_ok = 1;
    uint64_t have = len - h->header_len;
    if (have < h->data_len)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "truncated NPY data: %llu of %llu bytes", (unsigned long long)have,
                         (unsigned long long)h->data_len);
    else if (have > h->data_len)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "%llu unexpected bytes after the NPY data",
                         (unsigned long long)(have - h->data_len));
out:
    free(dict);
    return rc;
}

int ekn_read_npy(const ekn_blob *b, const char *name, ekn_tensor *t, ekn_err *err)
{
    ekn_npy_header h;
    if (ekn_npy_parse_header(b->data, b->len, &h, err)) return ekn_err_prefix(err, "'%s'", name);
    if (ekn_tensor_reshape(t, h.dtype, h.rank, h.shape, err)) return ekn_err_prefix(err, "'%s'", name);
    memcpy(t->data, b->data + h.header_len, (size_t)h.data_len);
    return 0;
}

size_t ekn_npy_encode_header(unsigned char *buf, size_t cap, ekn_dtype dt, int rank, const uint64_t *shape)
{
    static const char *descr[EKN_DT_COUNT] = {
        [EKN_U8] = "|u1", [EKN_I8] = "|i1", [EKN_U16] = "<u2", [EKN_I16] = "<i2", [EKN_U32] = "<u4",
        [EKN_I32] = "<i4", [EKN_U64] = "<u8", [EKN_I64] = "<i8", [EKN_F16] = "<f2", [EKN_F32] = "<f4",
        [EKN_F64] = "<f8",
    };
    if (dt <= 0 || dt >= EKN_DT_COUNT || !descr[dt]) return 0;
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[dt]);
    for (int i = 0; i < rank; i++)
        n += snprintf(dict + n, sizeof dict - n, "%llu,%s", (unsigned long long)shape[i],
                      i + 1 < rank ? " " : "");
    n += snprintf(dict + n, sizeof dict - n, "), }");
    size_t total = (10 + (size_t)n + 1 + 63) & ~(size_t)63;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((total - 10) & 255);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    return total;
}

/* ---- its row of the reader table (readers.h) ---- */
static int row_probe(const unsigned char *p, size_t len) { return len >= 6 && !memcmp(p, "\x93NUMPY", 6); }

static int row_read(const ekn_read_src *s, ekn_tensor *t, ekn_err *err)
{
    return ekn_read_npy(s->blob, s->spec, t, err);
}

const ekn_file_reader ekn_file_reader_npy = {
    .format = EKN_FMT_NPY,
    .name = "npy",
    .probe = row_probe,
    .suffixes = (const char *const[]){".npy", NULL},
    .flags = EKN_READER_DATASET,
    .read = row_read,
};
