/* main() for a harness built without libFuzzer (make check, make
 * check-asan): runs LLVMFuzzerTestOneInput once on each file named, so the
 * seed corpus and every recorded crash input are replayed by every build. */
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *fp = fopen(argv[i], "rb");
        if (!fp) {
            fprintf(stderr, "replay: '%s': cannot open\n", argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, len = 0, n;
        unsigned char *buf = malloc(cap);
        while (buf && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
            len += n;
            if (len == cap) {
                unsigned char *p = realloc(buf, cap *= 2);
                if (!p) free(buf);
                buf = p;
            }
        }
        fclose(fp);
        if (!buf) {
            fprintf(stderr, "replay: '%s': out of memory\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
    }
    return 0;
}
