/* The stream reader (ekn-stream(5)) on arbitrary bytes: every record read,
 * errors as messages, never a crash. */
#include "fuzz.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    FILE *fp = fmemopen((void *)data, n ? n : 1, "rb");
    if (!fp) return 0;
    if (!n) fgetc(fp); /* fmemopen of 0 bytes is not portable: one byte, read away */
    ekn_reader r = {.fp = fp, .max_payload = 1 << 24};
    snprintf(r.path, sizeof r.path, "fuzz");
    ekn_tensor t = {0};
    ekn_err err = {0};
    while (ekn_stream_read(&r, &t, &err) == 1) {
    }
    ekn_tensor_free(&t);
    ekn_reader_close(&r);
    return 0;
}
