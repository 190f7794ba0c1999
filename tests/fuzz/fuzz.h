/* Shared by the libFuzzer harnesses (tests/fuzz/README): the input as a
 * NUL-terminated copy, or as a file a path-based reader can open. */
#ifndef EKN_FUZZ_H
#define EKN_FUZZ_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* data[0..n) and a NUL; the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* A path whose file holds exactly data[0..n): one memfd per process,
 * rewritten for each input. */
static inline const char *fuzz_file(const uint8_t *data, size_t n)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("ekn-fuzz", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || (n && pwrite(fd, data, n, 0) != (ssize_t)n)) abort();
    return path;
}
#endif
