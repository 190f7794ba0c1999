/* tensor: a typed n-dimensional array in C order (slowest axis first).
 *
 * Axis meaning is fixed for the whole toolkit (see ekn-stream(5)):
 *   images  (N, C, [Z,] Y, X)     labels (N, [Z,] Y, X) or (N)     vectors (N, F)
 * A tensor owns its buffer; ekn_tensor_reshape() only grows it, so a tensor
 * reused across training steps allocates once. */
#ifndef EKN_TENSOR_H
#define EKN_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "dtype.h" /* ekn_dtype, its sizes and names (kernels/dtype.h) */

#define EKN_MAX_RANK 8
#define EKN_NAME_MAX 255

typedef struct ekn_tensor {
    ekn_dtype dtype;
    int rank;
    uint64_t shape[EKN_MAX_RANK];
    void *data;       /* host memory, 64-byte aligned */
    size_t cap;       /* bytes allocated */
    char name[EKN_NAME_MAX + 1];
    char *meta;       /* "key=value\n" lines, NUL-terminated; NULL or "" when none */
    size_t meta_cap;  /* bytes allocated for meta */
} ekn_tensor;

#define EKN_TENSOR_INIT {0}

/* Number of elements; returns -1 (and err) if the product overflows `limit` elements. */
int ekn_shape_numel(int rank, const uint64_t *shape, uint64_t limit, uint64_t *numel, ekn_err *err);
uint64_t ekn_tensor_numel(const ekn_tensor *t);
size_t ekn_tensor_bytes(const ekn_tensor *t);

/* Sets dtype and shape; grows the buffer when needed (contents are not kept). */
int ekn_tensor_reshape(ekn_tensor *t, ekn_dtype dt, int rank, const uint64_t *shape, ekn_err *err);
void ekn_tensor_free(ekn_tensor *t);
void ekn_tensor_set_name(ekn_tensor *t, const char *name);
/* Copies name, meta, dtype, shape and data. */
int ekn_tensor_copy(ekn_tensor *dst, const ekn_tensor *src, ekn_err *err);

/* Metadata: small key=value strings (keys and values without '\n'; keys without '='). */
/* Replaces the metadata with len bytes of text (no metadata when len is 0),
 * reusing the buffer when it is large enough: a stream read record after
 * record allocates only while its metadata grows. */
int ekn_tensor_meta_assign(ekn_tensor *t, const char *text, size_t len, ekn_err *err);
int ekn_tensor_meta_set(ekn_tensor *t, const char *key, const char *value, ekn_err *err);
/* Copies the value of key into buf (cap bytes); returns 1 if found, 0 if not. */
int ekn_tensor_meta_get(const ekn_tensor *t, const char *key, char *buf, size_t cap);

/* "[60000,1,28,28]" */
void ekn_shape_str(int rank, const uint64_t *shape, char *buf, size_t cap);

/* ekn_convert_to_f32 (kernels/dtype.h) converts any numeric tensor's
 * elements to float. */
/* Element i of a numeric tensor as double. */
double ekn_tensor_get(const ekn_tensor *t, size_t i);
#endif
