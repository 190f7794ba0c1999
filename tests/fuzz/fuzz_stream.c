/* libFuzzer harness: the stream reader (ekn-stream(5)) on arbitrary bytes,
 * record after record until the end or the first error. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "stream.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ekn_reader r;
    memset(&r, 0, sizeof r);
    snprintf(r.path, sizeof r.path, "fuzz.ekn");
    r.max_payload = 1u << 24; /* as EKN_MAX_PAYLOAD=16M: the fuzzer's memory is bounded */
    r.fp = fmemopen(size ? (void *)data : (void *)"", size ? size : 1, "rb");
    if (!r.fp) return 0;
    if (!size) fgetc(r.fp); /* fmemopen needs a non-empty buffer: an empty stream is one read past it */
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    for (int k = 0; k < 1000 && ekn_stream_read(&r, &t, &err) == 1; k++) {}
    ekn_tensor_free(&t);
    ekn_reader_close(&r);
    return 0;
}
