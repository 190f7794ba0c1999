/* archive_io: read a whole input file into memory, decompressing it and
 * picking a member out of an archive on the way (libarchive).
 *
 * A spec names what to read:
 *   "train.idx"            a plain file
 *   "train.idx.gz"         gzip, bzip2, xz, lzma, zstd, lz4, compress: any
 *                          filter libarchive knows, detected by content
 *   "data.tar:dir/x.idx"   a member of a tar, zip, 7z, cpio... archive
 *                          (itself possibly compressed: data.tar.xz:x.npy);
 *                          a member that is compressed on its own
 *                          (images.tar:train.idx.gz) is decompressed too
 *   "-"                    standard input
 * A spec that names an existing file is always that file, so a ':' in a
 * file name works; otherwise the part after the last ':' whose prefix
 * exists is the member (or, for HDF5, the dataset path: see
 * ekn_input_split).  Messages name the spec as given. */
#ifndef EKN_ARCHIVE_IO_H
#define EKN_ARCHIVE_IO_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef struct ekn_blob {
    unsigned char *data; /* malloc'd; one NUL byte follows the contents */
    size_t len;
} ekn_blob;

/* Splits spec into the file part and the member part ("" if none), as
 * described above.  file and member are at least 4096 bytes.  Returns 0, or
 * -1 if neither the spec nor any prefix before a ':' exists (err says that
 * the file cannot be opened, with errno's reason). */
int ekn_input_split(const char *spec, char *file, char *member, ekn_err *err);

/* Reads the whole (decompressed) contents named by spec.  Inputs over
 * `limit` bytes are refused (0: no limit).  Errors: missing or unreadable
 * file, a directory, a corrupt compressed stream, a missing member. */
int ekn_input_load(const char *spec, ekn_blob *b, size_t limit, ekn_err *err);
/* Bounds on what is decompressed, checked as the bytes arrive, so a small
 * compressed file cannot expand without bound before an error:
 *   max    the most bytes taken (0: no cap); past it, "'SPEC': more than
 *          MAX bytes of input (MAX_TEXT)";
 *   claim  (optional) told the first bytes as they arrive, until it answers
 *          1 or EKN_INPUT_CLAIM_HEAD bytes have come: 1 with *total when
 *          they begin with a header that states the whole size (an IDX or
 *          NPY header, or a shape the user gave for a raw file), which then
 *          bounds the input too: "'SPEC': more than the N bytes WHAT
 *          (stopped decompressing there)", WHAT being *what if the callback
 *          set it, else "its header claims"; 0 when they do not (yet).
 * A plain file is bounded by max alone (its size is known). */
#define EKN_INPUT_CLAIM_HEAD (1u << 17)
typedef struct ekn_input_limits {
    size_t max;
    const char *max_text; /* what sets max, for the message ("--max-input"), or NULL */
    int (*claim)(void *ctx, const unsigned char *p, size_t len, uint64_t *total, const char **what);
    void *ctx;
} ekn_input_limits;
int ekn_input_load_limited(const char *spec, ekn_blob *b, const ekn_input_limits *lim, ekn_err *err);
void ekn_blob_free(ekn_blob *b);

/* 1 if the bytes start with the magic of a compression filter libarchive
 * decodes (gzip, bzip2, xz, lzma, zstd, lz4, compress). */
int ekn_is_compressed(const unsigned char *p, size_t len);
#endif
