/* Compressed and archived input through libarchive, with the cap on what
 * it may expand to (ekn-preprocess --max-input). */
#include "fuzz.h"
#include "archive_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(data, n);
    ekn_input_limits lim = {.max = 1 << 24, .max_text = "--max-input"};
    ekn_blob b = {0};
    ekn_err err = {0};
    if (ekn_input_load_limited(path, &b, &lim, &err) == 0) ekn_blob_free(&b);
    return 0;
}
