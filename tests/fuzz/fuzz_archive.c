/* libFuzzer harness: archive and compressed input (lib/core/archive_io),
 * through a file as ekn-preprocess reads it: the whole file, then (when the
 * member "x" of it, each bounded to 16 MiB and to the
 * size an IDX or NPY header claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_io.h"
#include "readers.h"

static char path[64];

static int claim(void *ctx, const unsigned char *p, size_t len, uint64_t *total, const char **what)
{
    (void)ctx;
    (void)what;
    ekn_idx_header h;
    ekn_idx_parse_header(p, len, &h, NULL);
    if (h.header_ok) {
        *total = h.header_len + h.data_len;
        return 1;
    }
    ekn_npy_header n;
    ekn_npy_parse_header(p, len, &n, NULL);
    if (n.header_ok) {
        *total = n.header_len + n.data_len;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (!*path) {
        snprintf(path, sizeof path, "/tmp/ekn-fuzz-archive.%ld", (long)getpid());
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    const size_t cap = 16u << 20;
    ekn_input_limits lim = {.max = cap, .claim = claim};
    ekn_blob b = {0};
    ekn_err err = {0};
    if (ekn_input_load_limited(path, &b, &lim, &err) == 0) {
        if (b.len > cap || b.data[b.len]) abort(); /* bounded, and NUL-terminated */
        ekn_blob_free(&b);
    }
    {
        char spec[80];
        snprintf(spec, sizeof spec, "%s:x", path);
        if (ekn_input_load_limited(spec, &b, &lim, &err) == 0) {
            if (b.len > cap || b.data[b.len]) abort();
            ekn_blob_free(&b);
        }
    }
    unlink(path);
    return 0;
}
