/* The reader table of ekn-preprocess's inputs, and detection and the
 * format names from it (readers.h).  Each row lives in its reader file. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "readers.h"

const ekn_file_reader *const ekn_file_readers[] = {
    &ekn_file_reader_idx, &ekn_file_reader_npy, &ekn_file_reader_h5, &ekn_file_reader_raw, &ekn_file_reader_csv, NULL,
};

char ekn_format_choices[128];

__attribute__((constructor)) static void join_names(void)
{
    size_t used = 0;
    for (int i = 0; ekn_file_readers[i] && used < sizeof ekn_format_choices; i++)
        used += (size_t)snprintf(ekn_format_choices + used, sizeof ekn_format_choices - used, "%s%s", i ? "|" : "",
                                 ekn_file_readers[i]->name);
}

const ekn_file_reader *ekn_file_reader_of(ekn_format f)
{
    for (int i = 0; ekn_file_readers[i]; i++)
        if (ekn_file_readers[i]->format == f) return ekn_file_readers[i];
    return NULL;
}

int ekn_format_from_name(const char *s)
{
    if (!s || !strcmp(s, "auto")) return EKN_FMT_AUTO;
    for (int i = 0; ekn_file_readers[i]; i++) {
        const ekn_file_reader *r = ekn_file_readers[i];
        if (!strcmp(s, r->name) || (r->alias && !strcmp(s, r->alias))) return r->format;
    }
    return -1;
}

const char *ekn_format_name(ekn_format f)
{
    if (f == EKN_FMT_AUTO) return "auto";
    const ekn_file_reader *r = ekn_file_reader_of(f);
    return r ? r->name : "?";
}

int ekn_is_hdf5(const unsigned char *p, size_t len)
{
    return len >= 8 && !memcmp(p, "\x89HDF\r\n\x1a\n", 8);
}

/* name ends with suffix (case-insensitive) */
static int ends_with(const char *name, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && !strncasecmp(name + len - n, suffix, n);
}

static int any_suffix(const char *const *list, const char *stem, size_t n)
{
    for (; list && *list; list++)
        if (ends_with(stem, n, *list)) return 1;
    return 0;
}

static int any_infix(const char *const *list, const char *stem)
{
    for (; list && *list; list++)
        if (strstr(stem, *list)) return 1;
    return 0;
}

const ekn_file_reader *ekn_file_reader_detect(const char *name, const unsigned char *p, size_t len, int have_shape)
{
    const ekn_file_reader *const *r;
    for (r = ekn_file_readers; *r; r++)
        if ((*r)->probe && (*r)->probe(p, len)) return *r;

    /* by name, without the directory and a compression suffix */
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strlen(base);
    static const char *zext[] = {".gz", ".bz2", ".xz", ".zst", ".lzma", ".lz4", ".z"};
    for (size_t i = 0; i < sizeof zext / sizeof *zext; i++)
        if (ends_with(base, n, zext[i])) { n -= strlen(zext[i]); break; }
    char stem[512];
    snprintf(stem, sizeof stem, "%.*s", (int)n, base);
    n = strlen(stem);
    for (r = ekn_file_readers; *r; r++)
        if (!((*r)->flags & EKN_READER_TEXT) && (any_suffix((*r)->suffixes, stem, n) || any_infix((*r)->infixes, stem)))
            return *r;
    if (have_shape)
        for (r = ekn_file_readers; *r; r++)
            if ((*r)->flags & EKN_READER_SHAPED) return *r;
    for (r = ekn_file_readers; *r; r++)
        if ((*r)->flags & EKN_READER_TEXT && (any_suffix((*r)->suffixes, stem, n) || any_infix((*r)->infixes, stem)))
            return *r;
    /* printable text (the first 4 KiB) is a table */
    size_t look = len < 4096 ? len : 4096;
    if (!look) return NULL;
    for (size_t i = 0; i < look; i++)
        if (!(isprint(p[i]) || p[i] == '\n' || p[i] == '\r' || p[i] == '\t' || p[i] >= 0x80)) return NULL;
    for (r = ekn_file_readers; *r; r++)
        if ((*r)->flags & EKN_READER_TEXT) return *r;
    return NULL;
}

ekn_format ekn_format_detect(const char *name, const unsigned char *p, size_t len, int have_shape)
{
    const ekn_file_reader *r = ekn_file_reader_detect(name, p, len, have_shape);
    return r ? r->format : EKN_FMT_AUTO;
}
