/* readers: input file formats for ekn-preprocess, each read whole into a
 * tensor in its native dtype and its own axis order (arranging the axes
 * into (N, C, [Z,] Y, X) is prep's job).
 *
 *   IDX   lib/data/read_idx.c   MNIST's format: big-endian, magic 00 00 TYPE RANK
 *   NPY   lib/data/read_npy.c   numpy .npy v1/v2/v3, little-endian, C order
 *   HDF5  lib/data/read_h5.c    one dataset of an HDF5 file
 *   raw   lib/data/read_raw.c   headerless little-endian array, shape given
 *   CSV   lib/data/read_csv.c   tables: numeric and categorical columns, labels
 *
 * Every reader returns 0, or -1 with a one-line message in err that names
 * the file (`name`, as the user gave it) and the problem, code
 * EKN_EXIT_FAIL.  Nothing is printed.  Limits: rank <= EKN_MAX_RANK, and a
 * header's sizes are checked against the bytes really there before any
 * allocation, so absurd dimensions are an error, not a huge malloc. */
#ifndef EKN_READERS_H
#define EKN_READERS_H
#include <stddef.h>
#include <stdint.h>

#include "archive_io.h"
#include "diag.h"
#include "tensor.h"

/* ---- the reader table ---------------------------------------------------
 * One row per input format, each defined in its reader file; the table
 * (read_detect.c) lists them in the order of --format's choices, and
 * detection, dispatch (lib/data/prep_load.c) and the choices all come from
 * it.  A new format is its reader file with its row, a line in the table
 * and its code here. */
typedef enum ekn_format {
    EKN_FMT_AUTO = 0, EKN_FMT_IDX, EKN_FMT_NPY, EKN_FMT_H5, EKN_FMT_RAW, EKN_FMT_CSV,
} ekn_format;

/* One input as a reader sees it. */
typedef struct ekn_read_src {
    const char *spec;          /* "file[:member]" as the user gave it: messages name it */
    const char *file, *member; /* spec split by ekn_input_split */
    const ekn_blob *blob;      /* the bytes (decompressed; the member); NULL for a BY_PATH read */
    int have_shape;            /* --shape given: rank, shape and dtype hold it (raw) */
    int rank;
    const uint64_t *shape;
    ekn_dtype dtype;
    size_t max_bytes;          /* a BY_PATH read: the most bytes the data may hold (0: no cap); what a
                                * loaded blob may expand to is bounded before (ekn_input_limits) */
    const char *max_text;      /* what sets max_bytes, for the message ("--max-input"), or NULL */
} ekn_read_src;

enum {
    /* read from the file by name (HDF5: random access), told by probe on
     * the file's first 8 bytes before anything is loaded; read called with
     * a blob means the file was compressed or archived */
    EKN_READER_BY_PATH = 1 << 0,
    EKN_READER_SHAPED = 1 << 1,  /* headerless: what a file is when --shape is given and nothing else tells (raw) */
    EKN_READER_TEXT = 1 << 2,    /* text: its suffixes yield to --shape, and printable bytes are it (CSV) */
    EKN_READER_DATASET = 1 << 3, /* arrays whose first axis is the examples (IDX, NPY) */
    EKN_READER_VOLUME = 1 << 4,  /* volumes: --slices and --axes apply (raw, HDF5) */
};

typedef struct ekn_file_reader {
    ekn_format format;
    const char *name;  /* --format's word */
    const char *alias; /* another word --format takes ("hdf5"), or NULL */
    /* 1 if the bytes start with this format's magic (a whole IDX header
     * must match the size exactly); NULL: it has none */
    int (*probe)(const unsigned char *p, size_t len);
    /* file names that tell the format, NULL-terminated lists (or NULL):
     * suffixes end the name (any case), infixes occur in it (this case) */
    const char *const *suffixes;
    const char *const *infixes;
    unsigned flags; /* EKN_READER_* */
    /* Reads an array whole into t (native dtype, the file's axis order);
     * NULL for a table (CSV), whose blob the caller reads with ekn_read_csv
     * and the CSV options.  Errors as every reader's (above). */
    int (*read)(const ekn_read_src *src, ekn_tensor *t, ekn_err *err);
} ekn_file_reader;

/* the rows, each in its reader file */
extern const ekn_file_reader ekn_file_reader_idx, ekn_file_reader_npy, ekn_file_reader_h5, ekn_file_reader_raw,
    ekn_file_reader_csv;

/* The table's rows in order, NULL-terminated. */
extern const ekn_file_reader *const ekn_file_readers[];
/* The row of code f; NULL for EKN_FMT_AUTO or an unknown code (such as
 * ekn_format_from_name's -1). */
const ekn_file_reader *ekn_file_reader_of(ekn_format f);
/* --format's choices, the table's names in order: "idx|npy|h5|raw|csv".
 * Joined before main runs, so that a static option table can point at it. */
extern char ekn_format_choices[];

/* "idx" -> EKN_FMT_IDX (a row's name or alias); EKN_FMT_AUTO for "auto" or
 * NULL; -1 if unknown. */
int ekn_format_from_name(const char *s);
const char *ekn_format_name(ekn_format f); /* "idx", ...; "auto"; "?" if unknown */
/* Guesses the format of a loaded file from the table, by the strongest
 * evidence, rows in table order within each kind:
 *   1. magic (a row's probe)
 *   2. the name, without the directory and a compression suffix (.gz ...):
 *      the suffixes and infixes of rows that are not TEXT
 *   3. have_shape: the SHAPED row (raw)
 *   4. the suffixes of TEXT rows (CSV: .csv .tsv .data .test .txt)
 *   5. printable text in the first 4 KiB: the first TEXT row (CSV)
 * NULL if nothing fits (ekn_format_detect: EKN_FMT_AUTO). */
const ekn_file_reader *ekn_file_reader_detect(const char *name, const unsigned char *p, size_t len, int have_shape);
ekn_format ekn_format_detect(const char *name, const unsigned char *p, size_t len, int have_shape);
/* 1 if the bytes start with the HDF5 signature. */
int ekn_is_hdf5(const unsigned char *p, size_t len);

/* ---- IDX ---------------------------------------------------------------- */
typedef struct ekn_idx_header {
    ekn_dtype dtype;      /* u8, i8, i16, i32, f32, f64 */
    int rank;             /* 1..EKN_MAX_RANK */
    uint64_t shape[EKN_MAX_RANK];
    size_t header_len;    /* 4 + 4 * rank */
    uint64_t data_len;    /* prod(shape) * sizeof(dtype) */
    int header_ok;        /* the header parsed: header_len + data_len is the size it claims (also when
                           * the bytes after it are missing or too many) */
} ekn_idx_header;

/* Parses the header at p (len bytes available: the whole file).  Checks the
 * magic, the type code, the rank, overflow of the element count, and that
 * exactly data_len bytes follow (truncation and trailing bytes are errors).
 * The message does not name the file (the caller prefixes it). */
int ekn_idx_parse_header(const unsigned char *p, size_t len, ekn_idx_header *h, ekn_err *err);
/* The array in host byte order. */
int ekn_read_idx(const ekn_blob *b, const char *name, ekn_tensor *t, ekn_err *err);

/* ---- NPY ---------------------------------------------------------------- */
typedef struct ekn_npy_header {
    int major, minor;
    ekn_dtype dtype;
    int rank;
    uint64_t shape[EKN_MAX_RANK];
    size_t header_len;    /* bytes before the data */
    uint64_t data_len;
    int header_ok;        /* as ekn_idx_header's */
} ekn_npy_header;

/* Parses magic, version and the header dict ('descr', 'fortran_order',
 * 'shape').  Refuses big-endian and non-numeric dtypes and
 * fortran_order True, and checks that exactly data_len bytes follow.
 * Accepted descr: b1 (as u8) u1 i1 u2 i2 u4 i4 u8 i8 f2 f4 f8. */
int ekn_npy_parse_header(const unsigned char *p, size_t len, ekn_npy_header *h, ekn_err *err);
int ekn_read_npy(const ekn_blob *b, const char *name, ekn_tensor *t, ekn_err *err);
/* Encodes a v1.0 header for a C-order little-endian array (total length a
 * multiple of 64); returns its length, or 0 if cap is too small. */
size_t ekn_npy_encode_header(unsigned char *buf, size_t cap, ekn_dtype dt, int rank, const uint64_t *shape);

/* ---- raw ---------------------------------------------------------------- */
/* The file must hold exactly prod(shape) elements of dt. */
int ekn_read_raw(const ekn_blob *b, const char *name, ekn_dtype dt, int rank, const uint64_t *shape,
                 ekn_tensor *t, ekn_err *err);

/* ---- HDF5 --------------------------------------------------------------- */
/* Reads dataset `dset` ("/group/data"; empty: the file's only dataset) of an
 * integer or float type.  A dataset whose shape needs more than max_bytes
 * (0: no cap) is refused before anything is allocated or decompressed (a
 * chunked, compressed dataset of a few KB can claim gigabytes):
 * "'FILE:DSET': shape [..] of DT needs N bytes, more than the M bytes of
 * input allowed (MAX_TEXT)". */
int ekn_read_h5(const char *file, const char *dset, size_t max_bytes, const char *max_text, ekn_tensor *t,
                ekn_err *err);

/* ---- CSV ---------------------------------------------------------------- */
/* How missing values ('?' or an empty field) are treated. */
typedef enum ekn_missing {
    EKN_MISSING_MEAN = 0, /* numeric: the training mean; categorical: all-zero one-hot */
    EKN_MISSING_ZERO,     /* numeric: 0; categorical: all-zero one-hot */
    EKN_MISSING_DROP,     /* the row is left out */
    EKN_MISSING_ERROR,    /* an error naming file:line:column */
} ekn_missing;

typedef struct ekn_csv_opts {
    int header;               /* first record names the columns */
    const char *label_column; /* 1-based number, name, "none"/"0"; NULL: the last column */
    const char *categorical;  /* "auto" (NULL) or a comma list of numbers/names */
    ekn_missing missing;
    char delim;               /* ',' (fields are trimmed of blanks) */
} ekn_csv_opts;

typedef struct ekn_csv_column {
    char *name;        /* from the header, else the 1-based column number */
    int categorical;
    int ncat;          /* categories, sorted (strcmp) */
    char **cats;
    double impute;     /* numeric: training mean of the non-missing values */
    int feature;       /* index of its first feature; -1 for the label column */
} ekn_csv_column;

/* What --fit learns from a CSV file and --apply reuses: the column types,
 * the one-hot category lists, the label names and the imputation values. */
typedef struct ekn_csv_schema {
    int fitted;
    int ncols;         /* fields per record, the label column included */
    int label_col;     /* 0-based; -1: no labels */
    ekn_csv_column *cols;
    int nlabels;       /* class names; label k is labels[k] */
    char **labels;
    int nfeatures;
} ekn_csv_schema;

/* Reads a CSV blob (b->data is modified in place: fields are cut out of
 * it).  Lines starting with '|' and blank lines are skipped, as are the
 * header line (opts->header).  If !schema->fitted the schema is learnt from
 * this file first (types, categories, labels, imputation means) and
 * marked fitted; otherwise this file must have the schema's column count,
 * and a non-number in a numeric column is an error.  Out: x (N, F) f32
 * with missing numbers imputed and categories one-hot; y (N) i32 class
 * index, -1 for a missing or (with a fitted schema) unseen label, left
 * untouched when there is no label column.  *unseen counts unseen labels. */
int ekn_read_csv(ekn_blob *b, const char *name, const ekn_csv_opts *opts, ekn_csv_schema *schema,
                 ekn_tensor *x, ekn_tensor *y, size_t *unseen, ekn_err *err);
void ekn_csv_schema_free(ekn_csv_schema *s);
/* The schema as metadata keys "csv.*" on t (a statistics record). */
int ekn_csv_schema_save(const ekn_csv_schema *s, ekn_tensor *t, ekn_err *err);
/* 1 if t carries a schema (then loaded into s), 0 if not, -1 on a malformed one. */
int ekn_csv_schema_load(ekn_csv_schema *s, const ekn_tensor *t, ekn_err *err);
/* Feature names "age,workclass=Private,..." (malloc'd), for metadata. */
char *ekn_csv_feature_names(const ekn_csv_schema *s);

/* Parses a whole field as a number (strtod syntax, blanks not allowed):
 * returns 1 and *v for a number (possibly NaN or infinite), 0 if not one. */
int ekn_parse_number(const char *s, double *v);
#endif
