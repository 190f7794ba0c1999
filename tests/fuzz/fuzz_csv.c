/* libFuzzer harness: the CSV reader; the first byte picks the options
 * (header, label column, missing values), the rest is the table.  A schema
 * fitted on the table is applied to it again, as --fit then --apply do. */
#include <stdlib.h>
#include <string.h>

#include "readers.h"

static int read_once(const unsigned char *data, size_t size, const ekn_csv_opts *o, ekn_csv_schema *s)
{
    ekn_blob b = {malloc(size + 1), size};
    if (!b.data) return -1;
    memcpy(b.data, data, size);
    b.data[size] = 0;
    ekn_tensor x = EKN_TENSOR_INIT, y = EKN_TENSOR_INIT;
    size_t unseen = 0;
    ekn_err err = {0};
    int rc = ekn_read_csv(&b, "fuzz.csv", o, s, &x, &y, &unseen, &err);
    ekn_tensor_free(&x);
    ekn_tensor_free(&y);
    free(b.data);
    return rc;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1) return 0;
    static const char *labels[] = {NULL, "none", "1", "2"};
    ekn_csv_opts o = {.header = data[0] & 1,
                      .label_column = labels[(data[0] >> 1) & 3],
                      .categorical = (data[0] & 8) ? "1" : NULL,
                      .missing = (ekn_missing)((data[0] >> 4) & 3),
                      .delim = ','};
    ekn_csv_schema s;
    memset(&s, 0, sizeof s);
    if (read_once(data + 1, size - 1, &o, &s) == 0) {
        ekn_tensor t = EKN_TENSOR_INIT;
        ekn_err err = {0};
        ekn_csv_schema back;
        memset(&back, 0, sizeof back);
        /* the schema survives its metadata form (a statistics record) */
        if (ekn_csv_schema_save(&s, &t, &err) == 0 && ekn_csv_schema_load(&back, &t, &err) == 0)
            (void)read_once(data + 1, size - 1, &o, &back);
        ekn_csv_schema_free(&back);
        ekn_tensor_free(&t);
    }
    ekn_csv_schema_free(&s);
    return 0;
}
