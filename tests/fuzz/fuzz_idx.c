/* libFuzzer harness: the IDX reader (a whole file in memory). */
#include <stdlib.h>
#include <string.h>

#include "readers.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ekn_blob b = {malloc(size + 1), size};
    if (!b.data) return 0;
    memcpy(b.data, data, size);
    b.data[size] = 0;
    ekn_idx_header h;
    ekn_err err = {0};
    /* the header alone first: what ekn-preprocess trusts to bound decompression */
    if (ekn_idx_parse_header(b.data, size, &h, &err) == 0 || h.header_ok) {
        if (h.header_len > size && h.header_ok) abort(); /* a parsed header lies within the bytes */
    }
    ekn_tensor t = EKN_TENSOR_INIT;
    if (ekn_read_idx(&b, "fuzz.idx", &t, &err) == 0 && ekn_tensor_bytes(&t) + h.header_len != size) abort();
    ekn_tensor_free(&t);
    free(b.data);
    return 0;
}
