/* The CSV reader: a table learnt (schema fitted) from the bytes. */
#include "fuzz.h"
#include "readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n > 1 << 16) return 0; /* one-hot tables grow with rows x categories: keep inputs small */
    unsigned char *copy = malloc(n + 1);
    if (!copy) abort();
    memcpy(copy, data, n);
    copy[n] = 0;
    ekn_blob blob = {copy, n};
    ekn_csv_opts opts = {.header = n && data[0] & 1, .missing = EKN_MISSING_ZERO, .delim = ','};
    ekn_csv_schema schema = {0};
    ekn_tensor x = {0}, y = {0};
    size_t unseen = 0;
    ekn_err err = {0};
    ekn_read_csv(&blob, "fuzz.csv", &opts, &schema, &x, &y, &unseen, &err);
    ekn_tensor_free(&x);
    ekn_tensor_free(&y);
    ekn_csv_schema_free(&schema);
    free(copy);
    return 0;
}
