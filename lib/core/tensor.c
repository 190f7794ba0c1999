#include "tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ekn_shape_numel(int rank, const uint64_t *shape, uint64_t limit, uint64_t *numel, ekn_err *err)
{
    uint64_t n = 1;
    int zero = 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] == 0) zero = 1;
        else if (n > limit / shape[i]) {
            char s[256];
            ekn_shape_str(rank, shape, s, sizeof s);
            return ekn_err_set(err, EKN_EXIT_FAIL, "shape %s has too many elements (limit %llu)", s,
                               (unsigned long long)limit);
        } else n *= shape[i];
    }
    *numel = zero ? 0 : n;
    return 0;
}

uint64_t ekn_tensor_numel(const ekn_tensor *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

size_t ekn_tensor_bytes(const ekn_tensor *t)
{
    return (size_t)ekn_tensor_numel(t) * ekn_dtype_size(t->dtype);
}

int ekn_tensor_reshape(ekn_tensor *t, ekn_dtype dt, int rank, const uint64_t *shape, ekn_err *err)
{
    if (!ekn_dtype_size(dt)) return ekn_err_set(err, EKN_EXIT_FAIL, "unknown dtype code %d", (int)dt);
    if (rank < 0 || rank > EKN_MAX_RANK)
        return ekn_err_set(err, EKN_EXIT_FAIL, "rank %d is over the limit of %d", rank, EKN_MAX_RANK);
    uint64_t numel = 0;
    if (ekn_shape_numel(rank, shape, (uint64_t)SIZE_MAX / 16, &numel, err)) return -1;
    size_t bytes = (size_t)numel * ekn_dtype_size(dt);
    if (bytes > t->cap || !t->data) {
        size_t cap = (bytes + 63) & ~(size_t)63;
        if (cap == 0) cap = 64;
        void *p = aligned_alloc(64, cap);
        if (!p) {
            char s[256];
            ekn_shape_str(rank, shape, s, sizeof s);
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a %s tensor of shape %s (%zu bytes)",
                               ekn_dtype_name(dt), s, bytes);
        }
        free(t->data);
        t->data = p;
        t->cap = cap;
    }
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
    return 0;
}

void ekn_tensor_free(ekn_tensor *t)
{
    free(t->data);
    free(t->meta);
    memset(t, 0, sizeof *t);
}

void ekn_tensor_set_name(ekn_tensor *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}

int ekn_tensor_meta_assign(ekn_tensor *t, const char *text, size_t len, ekn_err *err)
{
    if (!len) {
        if (t->meta) t->meta[0] = 0;
        return 0;
    }
    if (len + 1 > t->meta_cap) {
        char *m = realloc(t->meta, len + 1);
        if (!m) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for %zu bytes of metadata", len);
        t->meta = m;
        t->meta_cap = len + 1;
    }
    memmove(t->meta, text, len);
    t->meta[len] = 0;
    return 0;
}

int ekn_tensor_copy(ekn_tensor *dst, const ekn_tensor *src, ekn_err *err)
{
    if (ekn_tensor_reshape(dst, src->dtype, src->rank, src->shape, err)) return -1;
    memcpy(dst->data, src->data, ekn_tensor_bytes(src));
    ekn_tensor_set_name(dst, src->name);
    return ekn_tensor_meta_assign(dst, src->meta, src->meta ? strlen(src->meta) : 0, err);
}

/* Finds "key=" at a line start; returns the line start or NULL. */
static const char *meta_find(const char *meta, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = meta; p && *p;) {
        if (!strncmp(p, key, klen) && p[klen] == '=') return p;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NULL;
}

int ekn_tensor_meta_set(ekn_tensor *t, const char *key, const char *value, ekn_err *err)
{
    if (!*key || strpbrk(key, "=\n") || strchr(value, '\n'))
        return ekn_err_set(err, EKN_EXIT_FAIL, "metadata key '%s' or its value is malformed", key);
    const char *old = t->meta ? t->meta : "";
    const char *hit = meta_find(old, key);
    size_t pre = hit ? (size_t)(hit - old) : strlen(old);
    const char *rest = hit ? strchr(hit, '\n') : NULL;
    rest = rest ? rest + 1 : "";
    if (!hit) rest = "";
    size_t n = pre + strlen(key) + strlen(value) + strlen(rest) + 3;
    char *m = malloc(n);
    if (!m) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    snprintf(m, n, "%.*s%s=%s\n%s", (int)pre, old, key, value, rest);
    free(t->meta);
    t->meta = m;
    t->meta_cap = n;
    return 0;
}

int ekn_tensor_meta_get(const ekn_tensor *t, const char *key, char *buf, size_t cap)
{
    const char *hit = t->meta ? meta_find(t->meta, key) : NULL;
    if (!hit) return 0;
    hit += strlen(key) + 1;
    const char *end = strchr(hit, '\n');
    size_t len = end ? (size_t)(end - hit) : strlen(hit);
    if (cap) snprintf(buf, cap, "%.*s", (int)len, hit);
    return 1;
}

void ekn_shape_str(int rank, const uint64_t *shape, char *buf, size_t cap)
{
    size_t used = 0;
    used += snprintf(buf, cap, "[");
    for (int i = 0; i < rank && used < cap; i++)
        used += snprintf(buf + used, cap - used, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

double ekn_tensor_get(const ekn_tensor *t, size_t i)
{
    const char *p = (const char *)t->data + i * ekn_dtype_size(t->dtype);
    switch (t->dtype) {
#define GET(code, type) case code: { type v; memcpy(&v, p, sizeof v); return (double)v; }
    GET(EKN_U8, uint8_t) GET(EKN_I8, int8_t) GET(EKN_U16, uint16_t) GET(EKN_I16, int16_t)
    GET(EKN_U32, uint32_t) GET(EKN_I32, int32_t) GET(EKN_U64, uint64_t) GET(EKN_I64, int64_t)
    GET(EKN_F32, float) GET(EKN_F64, double)
#undef GET
    default: { float f; ekn_convert_to_f32(t->dtype, p, &f, 1); return f; }
    }
}
