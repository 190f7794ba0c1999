/* The IDX reader (MNIST's format). */
#include "fuzz_readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) { return fuzz_reader(&ekn_file_reader_idx, data, n); }
