/* archive_io: whole-file input through libarchive (see archive_io.h).
 * Plain files go through libarchive too (filter "none", format "raw"), so
 * there is one code path and compression is recognised by content. */
#include "archive_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ekn_is_compressed(const unsigned char *p, size_t len)
{
    static const struct { const char *magic; size_t len; } magics[] = {
        {"\x1f\x8b", 2},                 /* gzip */
        {"BZh", 3},                      /* bzip2 */
        {"\xfd" "7zXZ\0", 6},            /* xz */
        {"\x28\xb5\x2f\xfd", 4},         /* zstd */
        {"\x04\x22\x4d\x18", 4},         /* lz4 */
        {"\x1f\x9d", 2},                 /* compress (.Z) */
        {"\x5d\x00\x00", 3},             /* lzma (alone) */
    };
    for (size_t i = 0; i < sizeof magics / sizeof *magics; i++)
        if (len >= magics[i].len && !memcmp(p, magics[i].magic, magics[i].len)) return 1;
    return 0;
}

int ekn_input_split(const char *spec, char *file, char *member, ekn_err *err)
{
    struct stat st;
    member[0] = 0;
    if (strlen(spec) >= 4096) return ekn_err_set(err, EKN_EXIT_FAIL, "'%.64s...': file name too long", spec);
    if (!strcmp(spec, "-") || stat(spec, &st) == 0) {
        strcpy(file, spec);
        return 0;
    }
    int saved = errno;
    /* the longest existing prefix first, so a file name may contain a colon */
    for (size_t n = strlen(spec); n-- > 1;) {
        if (spec[n] != ':') continue;
        memcpy(file, spec, n);
        file[n] = 0;
        if (stat(file, &st) == 0 && !S_ISDIR(st.st_mode)) {
            strcpy(member, spec + n + 1);
            return 0;
        }
    }
    strcpy(file, spec);
    errno = saved;
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", spec);
}

void ekn_blob_free(ekn_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* by_claim: the limit was the size the contents claim (what: "its header claims", ...), not the cap */
static int too_large(const char *spec, const ekn_input_limits *lim, int by_claim, size_t claimed, const char *what,
                     ekn_err *err)
{
    if (by_claim)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': more than the %zu bytes %s (stopped decompressing there)", spec,
                           claimed, what ? what : "its header claims");
    if (lim->max_text)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': more than %zu bytes of input (%s)", spec, lim->max, lim->max_text);
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': more than %zu bytes of input", spec, lim->max);
}

/* Appends everything archive_read_data gives to b, stopping past lim->max
 * bytes, or past the size the contents' header claims (lim->claim). */
static int slurp(struct archive *a, const char *spec, ekn_blob *b, size_t hint, const ekn_input_limits *lim,
                 ekn_err *err)
{
    size_t limit = lim->max, claimed = 0;
    const char *what = NULL;
    int decided = !lim->claim, by_claim = 0;
    size_t cap = hint ? hint + 1 : (1u << 16);
    if (limit && cap > limit + 1) cap = limit + 1;
    unsigned char *buf = malloc(cap + 1);
    if (!buf) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
    size_t len = 0;
    for (;;) {
        if (limit && len > limit) {
            free(buf);
            return too_large(spec, lim, by_claim, claimed, what, err);
        }
        if (len == cap) {
            size_t ncap = cap < SIZE_MAX / 4 ? cap * 2 : SIZE_MAX / 2;
            if (limit && ncap > limit + 1) ncap = limit + 1; /* one byte past the limit shows it is passed */
            unsigned char *p = realloc(buf, ncap + 1);
            if (!p) {
                free(buf);
                return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory after %zu bytes", spec, len);
            }
            buf = p;
            cap = ncap;
        }
        la_ssize_t n = archive_read_data(a, buf + len, cap - len);
        if (n == 0) break;
        if (n < 0) {
            const char *why = archive_error_string(a);
            int e = archive_errno(a);
            free(buf);
            if (e == ENOMEM) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
            return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s", spec, why ? why : "read error");
        }
        len += (size_t)n;
        if (!decided) {
            uint64_t total = 0;
            int k = lim->claim(lim->ctx, buf, len, &total, &what);
            if (k == 1 && total < SIZE_MAX - 1 && (!limit || total < limit)) {
                limit = claimed = (size_t)total;
                by_claim = 1;
            }
            decided = k == 1 || len >= EKN_INPUT_CLAIM_HEAD;
        }
    }
    if (limit && len > limit) {
        free(buf);
        return too_large(spec, lim, by_claim, claimed, what, err);
    }
    buf[len] = 0;
    b->data = buf;
    b->len = len;
    return 0;
}

/* Lowercase libarchive messages keep the toolkit's style. */
static const char *why(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "cannot read";
}

static int same_member(const char *entry, const char *want)
{
    while (entry[0] == '.' && entry[1] == '/') entry += 2;
    while (want[0] == '.' && want[1] == '/') want += 2;
    while (*entry == '/') entry++;
    while (*want == '/') want++;
    return !strcmp(entry, want);
}

/* Decodes a compressed blob in memory (a compressed member of an archive). */
static int decompress_blob(const char *spec, ekn_blob *b, const ekn_input_limits *lim, ekn_err *err)
{
    struct archive *a = archive_read_new();
    if (!a) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    ekn_blob out = {0};
    int rc = 0;
    struct archive_entry *e;
    if (archive_read_open_memory(a, b->data, b->len) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK)
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s", spec, why(a));
    else
        rc = slurp(a, spec, &out, b->len * 4, lim, err);
    archive_read_free(a);
    if (rc) return -1;
    ekn_blob_free(b);
    *b = out;
    return 0;
}

int ekn_input_load(const char *spec, ekn_blob *b, size_t limit, ekn_err *err)
{
    ekn_input_limits lim = {.max = limit};
    return ekn_input_load_limited(spec, b, &lim, err);
}

int ekn_input_load_limited(const char *spec, ekn_blob *b, const ekn_input_limits *lim, ekn_err *err)
{
    char file[4096], member[4096];
    b->data = NULL;
    b->len = 0;
    if (ekn_input_split(spec, file, member, err)) return -1;
    int fd = 0;
    struct stat st;
    if (strcmp(file, "-")) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': cannot open:", file);
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (fd) close(fd);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': is a directory", file);
    }
    size_t hint = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    if (fd && hint == 0 && !member[0]) {
        /* libarchive's raw reader wants at least one byte; an empty file is empty */
        close(fd);
        b->data = calloc(1, 1);
        if (!b->data) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
        return 0;
    }
    struct archive *a = archive_read_new();
    if (!a) {
        if (fd) close(fd);
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
    }
    archive_read_support_filter_all(a);
    if (member[0]) {
        archive_read_support_format_all(a);
    } else {
        archive_read_support_format_raw(a);
        archive_read_support_format_empty(a); /* e.g. a gzip of nothing */
    }
    int rc = 0;
    struct archive_entry *e = NULL;
    if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
        rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s", file, why(a));
    } else if (!member[0]) {
        int h = archive_read_next_header(a, &e);
        if (h == ARCHIVE_EOF) {
            b->data = calloc(1, 1);
            if (!b->data) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': out of memory", spec);
        } else if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s", file, why(a));
        } else {
            /* plain files: the size is known, so one allocation suffices */
            int plain = archive_filter_count(a) <= 1;
            ekn_input_limits plain_lim = *lim; /* a plain file's size is known: no header to trust */
            plain_lim.claim = NULL;
            rc = slurp(a, spec, b, plain ? hint : hint * 4, plain ? &plain_lim : lim, err);
        }
    } else {
        int found = 0, h;
        while ((h = archive_read_next_header(a, &e)) == ARCHIVE_OK || h == ARCHIVE_WARN) {
            const char *name = archive_entry_pathname(e);
            if (name && same_member(name, member) && archive_entry_filetype(e) == AE_IFREG) {
                found = 1;
                int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
                rc = slurp(a, spec, b, size > 0 ? (size_t)size : 0, lim, err);
                break;
            }
            archive_read_data_skip(a);
        }
        if (!found && !rc) {
            if (h == ARCHIVE_EOF)
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no member '%s' in this archive", file, member);
            else
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %s", file, why(a));
        }
        if (!rc && ekn_is_compressed(b->data, b->len)) rc = decompress_blob(spec, b, lim, err);
    }
    archive_read_free(a);
    if (fd) close(fd);
    if (rc) ekn_blob_free(b);
    return rc;
}
