/* libFuzzer harness: the NPY reader (a whole file in memory). */
#include <stdlib.h>
#include <string.h>

#include "readers.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ekn_blob b = {malloc(size + 1), size};
    if (!b.data) return 0;
    memcpy(b.data, data, size);
    b.data[size] = 0;
    ekn_npy_header h;
    ekn_err err = {0};
    int hrc = ekn_npy_parse_header(b.data, size, &h, &err);
    if (hrc == 0 && h.header_len + h.data_len != size) abort(); /* accepted: the sizes add up */
    ekn_tensor t = EKN_TENSOR_INIT;
    (void)ekn_read_npy(&b, "fuzz.npy", &t, &err);
    ekn_tensor_free(&t);
    free(b.data);
    return 0;
}
