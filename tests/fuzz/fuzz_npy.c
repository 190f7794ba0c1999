/* The NPY reader (numpy .npy v1-v3). */
#include "fuzz_readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) { return fuzz_reader(&ekn_file_reader_npy, data, n); }
