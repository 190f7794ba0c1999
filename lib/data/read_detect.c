/* Format names and detection for ekn-preprocess's inputs (readers.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "readers.h"

static const char *names[] = {"auto", "idx", "npy", "h5", "raw", "csv"};

int ekn_format_from_name(const char *s)
{
    if (!s) return EKN_FMT_AUTO;
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (!strcmp(s, names[i])) return i;
    if (!strcmp(s, "hdf5")) return EKN_FMT_H5;
    return -1;
}

const char *ekn_format_name(ekn_format f)
{
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "?";
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

ekn_format ekn_format_detect(const char *name, const unsigned char *p, size_t len, int have_shape)
{
    if (len >= 6 && !memcmp(p, "\x93NUMPY", 6)) return EKN_FMT_NPY;
    if (ekn_is_hdf5(p, len)) return EKN_FMT_H5;
    ekn_idx_header h;
    if (ekn_idx_parse_header(p, len, &h, NULL) == 0) return EKN_FMT_IDX;

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
    if (ends_with(stem, n, "-ubyte") || ends_with(stem, n, ".idx") || strstr(stem, "-idx") ||
        strstr(stem, ".idx"))
        return EKN_FMT_IDX;
    if (ends_with(stem, n, ".npy")) return EKN_FMT_NPY;
    if (ends_with(stem, n, ".h5") || ends_with(stem, n, ".hdf5") || ends_with(stem, n, ".hdf"))
        return EKN_FMT_H5;
    if (have_shape) return EKN_FMT_RAW;
    static const char *text[] = {".csv", ".tsv", ".data", ".test", ".txt"};
    for (size_t i = 0; i < sizeof text / sizeof *text; i++)
        if (ends_with(stem, n, text[i])) return EKN_FMT_CSV;
    /* printable text (the first 4 KiB) is a table */
    size_t look = len < 4096 ? len : 4096;
    if (!look) return EKN_FMT_AUTO;
    for (size_t i = 0; i < look; i++)
        if (!(isprint(p[i]) || p[i] == '\n' || p[i] == '\r' || p[i] == '\t' || p[i] >= 0x80)) return EKN_FMT_AUTO;
    return EKN_FMT_CSV;
}
