#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "payloads are little-endian and read in place: big-endian hosts need byte swapping");

static const unsigned char magic[4] = {0x89, 'E', 'K', 'N'};

static void put_u16(unsigned char *p, uint16_t v) { p[0] = v & 255; p[1] = v >> 8; }
static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 255;
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (v >> (8 * i)) & 255;
}
static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static size_t align_up(size_t n) { return (n + EKN_STREAM_ALIGN - 1) & ~(size_t)(EKN_STREAM_ALIGN - 1); }

size_t ekn_stream_header_size(int rank, const char *name, const char *meta)
{
    size_t name_len = name ? strlen(name) : 0, meta_len = meta ? strlen(meta) : 0;
    if (name_len > EKN_NAME_MAX) name_len = EKN_NAME_MAX;
    return align_up(24 + 8 * (size_t)rank + 2 + name_len + 4 + meta_len);
}

size_t ekn_stream_encode_header(unsigned char *buf, ekn_dtype dt, int rank, const uint64_t *shape,
                                const char *name, const char *meta)
{
    size_t name_len = name ? strlen(name) : 0, meta_len = meta ? strlen(meta) : 0;
    if (name_len > EKN_NAME_MAX) name_len = EKN_NAME_MAX;
    size_t len = ekn_stream_header_size(rank, name, meta);
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= shape[i];
    memset(buf, 0, len);
    memcpy(buf, magic, 4);
    buf[4] = EKN_STREAM_MAJOR;
    buf[5] = EKN_STREAM_MINOR;
    buf[6] = (unsigned char)dt;
    buf[7] = (unsigned char)rank;
    put_u32(buf + 8, (uint32_t)len);
    put_u32(buf + 12, 0);
    put_u64(buf + 16, numel * ekn_dtype_size(dt));
    unsigned char *p = buf + 24;
    for (int i = 0; i < rank; i++, p += 8) put_u64(p, shape[i]);
    put_u16(p, (uint16_t)name_len);
    if (name_len) memcpy(p + 2, name, name_len);
    p += 2 + name_len;
    put_u32(p, (uint32_t)meta_len);
    if (meta_len) memcpy(p + 4, meta, meta_len);
    return len;
}

/* ---- reading ------------------------------------------------------------ */

const char *ekn_reader_name(const ekn_reader *r) { return strcmp(r->path, "-") ? r->path : "stdin"; }

/* "123", "64K", "2G": -1 unless a positive count that fits 64 bits. */
static int parse_bytes(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*text == '-' || *text == '+') return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno) return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end || v == 0 || v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int ekn_reader_open(ekn_reader *r, const char *path, ekn_err *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->max_payload = EKN_STREAM_MAX_PAYLOAD;
    const char *env = getenv("EKN_MAX_PAYLOAD");
    if (env && *env && parse_bytes(env, &r->max_payload))
        return ekn_err_set(err, EKN_EXIT_USAGE,
                           "EKN_MAX_PAYLOAD must be a positive byte count, optionally with K, M or G, you specified '%s'",
                           env);
    if (!strcmp(path, "-")) {
        r->fp = stdin;
        return 0;
    }
    r->fp = fopen(path, "rb");
    if (!r->fp) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", path);
    return 0;
}

void ekn_reader_close(ekn_reader *r)
{
    if (r->fp && r->fp != stdin) fclose(r->fp);
    free(r->hdr);
    memset(r, 0, sizeof *r);
}

/* Reads exactly n bytes; returns the count actually read. */
static size_t read_full(ekn_reader *r, void *buf, size_t n)
{
    size_t got = fread(buf, 1, n, r->fp);
    r->offset += got;
    return got;
}

#define RERR(r, start, ...) \
    rec_error(r, err, start, __VA_ARGS__)

__attribute__((format(printf, 4, 5)))
static int rec_error(const ekn_reader *r, ekn_err *err, uint64_t start, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': record %llu (byte %llu): %s", ekn_reader_name(r),
                       (unsigned long long)r->record, (unsigned long long)start, msg);
}

/* A short read is an I/O error when the stream says so, else the end came early. */
static int short_read(ekn_reader *r, ekn_err *err, uint64_t start, const char *what, size_t got, uint64_t want)
{
    if (ferror(r->fp))
        return RERR(r, start, "read error in the %s after %zu of %llu bytes: %s", what, got, (unsigned long long)want,
                    strerror(errno ? errno : EIO));
    return RERR(r, start, "truncated %s (got %zu of %llu bytes)", what, got, (unsigned long long)want);
}

/* Bytes left in a regular file (UINT64_MAX for pipes and the like). */
static uint64_t bytes_left(ekn_reader *r)
{
    struct stat st;
    if (fstat(fileno(r->fp), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < r->offset) return UINT64_MAX;
    return (uint64_t)st.st_size - r->offset;
}

static int skip_bytes(ekn_reader *r, uint64_t n)
{
    unsigned char buf[EKN_STREAM_ALIGN];
    while (n) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        if (read_full(r, buf, k) != k) return -1;
        n -= k;
    }
    return 0;
}

int ekn_stream_read(ekn_reader *r, ekn_tensor *t, ekn_err *err)
{
    const uint64_t start = r->offset;
    unsigned char fixed[24];
    size_t got = read_full(r, fixed, sizeof fixed);
    if (got == 0) {
        if (ferror(r->fp)) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': read error:", ekn_reader_name(r));
        return 0;
    }
    if (got >= 4 ? memcmp(fixed, magic, 4) != 0 : memcmp(fixed, magic, got) != 0)
        return RERR(r, start, "bad magic (not an ekn stream, or misaligned after a corrupt record)");
    if (got < sizeof fixed) return short_read(r, err, start, "header", got, sizeof fixed);
    if (fixed[4] != EKN_STREAM_MAJOR)
        return RERR(r, start, "stream version %d.%d is not supported (this reader knows %d.x)", fixed[4],
                    fixed[5], EKN_STREAM_MAJOR);
    ekn_dtype dt = (ekn_dtype)fixed[6];
    int rank = fixed[7];
    uint32_t header_len = get_u32(fixed + 8);
    uint64_t payload_len = get_u64(fixed + 16);
    if (!ekn_dtype_size(dt)) return RERR(r, start, "unknown dtype code %d", fixed[6]);
    if (rank > EKN_MAX_RANK) return RERR(r, start, "rank %d is over the limit of %d", rank, EKN_MAX_RANK);
    if (header_len % EKN_STREAM_ALIGN || header_len < 24u + 8u * rank + 6u || header_len > EKN_STREAM_MAX_HEADER)
        return RERR(r, start, "invalid header length %u", header_len);
    if (header_len > r->hdr_cap) {
        unsigned char *p = realloc(r->hdr, header_len);
        if (!p) return RERR(r, start, "out of memory for the header");
        r->hdr = p;
        r->hdr_cap = header_len;
    }
    memcpy(r->hdr, fixed, sizeof fixed);
    got = read_full(r, r->hdr + sizeof fixed, header_len - sizeof fixed);
    if (got != header_len - sizeof fixed) return short_read(r, err, start, "header", got + sizeof fixed, header_len);

    uint64_t shape[EKN_MAX_RANK];
    const unsigned char *p = r->hdr + 24, *end = r->hdr + header_len;
    for (int i = 0; i < rank; i++, p += 8) shape[i] = get_u64(p);
    uint16_t name_len = get_u16(p);
    p += 2;
    if (name_len > EKN_NAME_MAX || p + name_len + 4 > end)
        return RERR(r, start, "name length %u does not fit the header", name_len);
    const unsigned char *name = p;
    p += name_len;
    uint32_t meta_len = get_u32(p);
    p += 4;
    if (meta_len > (uint64_t)(end - p)) return RERR(r, start, "metadata length %u does not fit the header", meta_len);
    const unsigned char *meta = p;
    if (memchr(meta, 0, meta_len)) return RERR(r, start, "metadata contains a NUL byte");

    uint64_t numel = 0, limit = r->max_payload / ekn_dtype_size(dt);
    ekn_err shape_err = {0};
    if (ekn_shape_numel(rank, shape, limit, &numel, &shape_err))
        return RERR(r, start, "%s", shape_err.msg);
    if (numel * ekn_dtype_size(dt) != payload_len) {
        char s[256];
        ekn_shape_str(rank, shape, s, sizeof s);
        return RERR(r, start, "payload length %llu does not match shape %s of %s (%llu bytes)",
                    (unsigned long long)payload_len, s, ekn_dtype_name(dt),
                    (unsigned long long)(numel * ekn_dtype_size(dt)));
    }
    /* a file too short for the payload is truncated, whatever memory it would take */
    uint64_t left = bytes_left(r);
    if (payload_len > left)
        return RERR(r, start, "truncated payload (the file has %llu of its %llu bytes)", (unsigned long long)left,
                    (unsigned long long)payload_len);
    if (ekn_tensor_reshape(t, dt, rank, shape, err))
        return ekn_err_prefix(err, "'%s': record %llu (a corrupt shape? EKN_MAX_PAYLOAD bounds what a record may claim)",
                              ekn_reader_name(r), (unsigned long long)r->record);
    snprintf(t->name, sizeof t->name, "%.*s", (int)name_len, (const char *)name);
    if (ekn_tensor_meta_assign(t, (const char *)meta, meta_len, err))
        return ekn_err_prefix(err, "'%s': record %llu", ekn_reader_name(r), (unsigned long long)r->record);
    got = read_full(r, t->data, (size_t)payload_len);
    if (got != payload_len) return short_read(r, err, start, "payload", got, payload_len);
    uint64_t pad = align_up((size_t)payload_len) - payload_len;
    if (pad && skip_bytes(r, pad)) return short_read(r, err, start, "padding after the payload", 0, pad);
    r->record++;
    return 1;
}

/* ---- writing ------------------------------------------------------------ */

int ekn_writer_open(ekn_writer *w, const char *path, int force, ekn_err *err)
{
    memset(w, 0, sizeof *w);
    return ekn_outfile_open(&w->out, path, 1, force, err);
}

int ekn_stream_write_raw(ekn_writer *w, ekn_dtype dt, int rank, const uint64_t *shape, const char *name,
                         const char *meta, const void *data, ekn_err *err)
{
    static const unsigned char zeros[EKN_STREAM_ALIGN];
    if (rank < 0 || rank > EKN_MAX_RANK || !ekn_dtype_size(dt))
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot write a record of rank %d and dtype %d",
                           ekn_outfile_name(&w->out), rank, (int)dt);
    if (meta && strlen(meta) > EKN_STREAM_MAX_META)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': metadata of %zu bytes is over the limit",
                           ekn_outfile_name(&w->out), strlen(meta));
    unsigned char stackbuf[1024];
    size_t hlen = ekn_stream_header_size(rank, name, meta);
    unsigned char *hdr = hlen <= sizeof stackbuf ? stackbuf : malloc(hlen);
    if (!hdr) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    ekn_stream_encode_header(hdr, dt, rank, shape, name, meta);
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) numel *= shape[i];
    size_t plen = (size_t)numel * ekn_dtype_size(dt), pad = align_up(plen) - plen;
    FILE *fp = w->out.fp;
    int bad = fwrite(hdr, 1, hlen, fp) != hlen || (plen && fwrite(data, 1, plen, fp) != plen) ||
              (pad && fwrite(zeros, 1, pad, fp) != pad);
    if (hdr != stackbuf) free(hdr);
    if (bad) {
        ekn_check_pipe();
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': write error:", ekn_outfile_name(&w->out));
    }
    w->record++;
    w->offset += hlen + plen + pad;
    return 0;
}

int ekn_stream_write(ekn_writer *w, const ekn_tensor *t, ekn_err *err)
{
    return ekn_stream_write_raw(w, t->dtype, t->rank, t->shape, t->name, t->meta, t->data, err);
}

int ekn_writer_close(ekn_writer *w, ekn_err *err) { return ekn_outfile_commit(&w->out, err); }

void ekn_writer_abort(ekn_writer *w) { ekn_outfile_abort(&w->out); }
