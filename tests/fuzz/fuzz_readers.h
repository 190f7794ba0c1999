/* One harness per array reader: the bytes as a loaded file of that format. */
#ifndef EKN_FUZZ_READERS_H
#define EKN_FUZZ_READERS_H
#include "fuzz.h"
#include "readers.h"

static inline int fuzz_reader(const ekn_file_reader *row, const uint8_t *data, size_t n)
{
    unsigned char *copy = malloc(n + 1); /* a blob's contents are followed by a NUL */
    if (!copy) abort();
    memcpy(copy, data, n);
    copy[n] = 0;
    ekn_blob blob = {copy, n};
    ekn_read_src src = {.spec = "fuzz", .file = "fuzz", .member = "", .blob = &blob};
    ekn_tensor t = {0};
    ekn_err err = {0};
    row->read(&src, &t, &err);
    ekn_tensor_free(&t);
    free(copy);
    return 0;
}
#endif
