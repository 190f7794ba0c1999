/* stream: the record format every ekn command reads and writes (ekn-stream(5)).
 *
 * A stream is a plain concatenation of self-contained records, so `cat a b`
 * is a stream and a reader never seeks.  Each record is a header padded to a
 * multiple of 64 bytes, then the payload, then zero padding to a multiple of
 * 64 (every payload in a file starts 64-byte aligned).  All integers are
 * little-endian and read field by field.
 *
 *   off  size  field
 *   0    4     magic 0x89 'E' 'K' 'N'
 *   4    1     major version (1): a reader refuses another major
 *   5    1     minor version (0): minors only append header fields, which
 *              older readers skip thanks to header_len
 *   6    1     dtype code (ekn_dtype)
 *   7    1     rank, 0..8
 *   8    4     header_len: bytes from the magic to the payload, multiple of 64
 *   12   4     flags: reserved, written 0, ignored by 1.0 readers
 *   16   8     payload_len: must equal prod(shape) * sizeof(dtype)
 *   24   8*r   shape, slowest axis first
 *   .    2     name_len (<= 255), then the name in UTF-8
 *   .    4     meta_len, then meta: "key=value\n" lines in UTF-8
 *   .          zero padding up to header_len
 *
 * EOF at a record boundary is a clean end; EOF anywhere else is an error.
 * Every error names the file, the record index and the byte offset. */
#ifndef EKN_STREAM_H
#define EKN_STREAM_H
#include <stdint.h>
#include <stdio.h>

#include "outfile.h"
#include "tensor.h"

#define EKN_STREAM_MAJOR 1
#define EKN_STREAM_MINOR 0
#define EKN_STREAM_ALIGN 64
#define EKN_STREAM_MAX_HEADER (1u << 20)
#define EKN_STREAM_MAX_META ((1u << 20) - 512)
/* Default cap on one payload; EKN_MAX_PAYLOAD (bytes) in the environment changes it. */
#define EKN_STREAM_MAX_PAYLOAD (64ull << 30)

typedef struct ekn_reader {
    FILE *fp;
    char path[4096];    /* as given ("-" for stdin) */
    uint64_t record;    /* index of the next record */
    uint64_t offset;    /* bytes consumed so far */
    uint64_t max_payload;
    unsigned char *hdr; /* header scratch, grown as needed */
    size_t hdr_cap;
} ekn_reader;

int ekn_reader_open(ekn_reader *r, const char *path, ekn_err *err);
/* Reads the next record into t (reusing its buffer).  Returns 1 for a
 * record, 0 at a clean end of stream, -1 on error. */
int ekn_stream_read(ekn_reader *r, ekn_tensor *t, ekn_err *err);
void ekn_reader_close(ekn_reader *r);
const char *ekn_reader_name(const ekn_reader *r); /* "stdin" or the path */

typedef struct ekn_writer {
    ekn_outfile out;
    uint64_t record;
    uint64_t offset;
} ekn_writer;

/* path "-" is stdout; a named file is written atomically (see outfile.h). */
int ekn_writer_open(ekn_writer *w, const char *path, int force, ekn_err *err);
int ekn_stream_write(ekn_writer *w, const ekn_tensor *t, ekn_err *err);
/* Writes one record from parts (no tensor struct needed). */
int ekn_stream_write_raw(ekn_writer *w, ekn_dtype dt, int rank, const uint64_t *shape, const char *name,
                         const char *meta, const void *data, ekn_err *err);
int ekn_writer_close(ekn_writer *w, ekn_err *err); /* commit */
void ekn_writer_abort(ekn_writer *w);

/* Encodes a record header into buf (cap >= ekn_stream_header_size()); returns its length. */
size_t ekn_stream_header_size(int rank, const char *name, const char *meta);
size_t ekn_stream_encode_header(unsigned char *buf, ekn_dtype dt, int rank, const uint64_t *shape,
                                const char *name, const char *meta);
#endif
