/* memlimit: the memory a run may take (--max-memory of ekn-train and
 * ekn-predict), checked before anything large is allocated.
 *
 * The figure a command compares is what it is about to allocate, measured
 * by the code that allocates (ekn_net_measure, ekn_optim_bytes), so a run
 * that would not fit stops at once with the figure instead of ending in the
 * OOM killer hours later.  The default limit for host memory is the
 * machine's available memory (MemAvailable of /proc/meminfo, read when
 * checked); device memory has no default (its allocator fails cleanly). */
#ifndef EKN_MEMLIMIT_H
#define EKN_MEMLIMIT_H
#include <stddef.h>

#include "diag.h"

/* MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read. */
double ekn_mem_available(void);

/* 0 when need (bytes) fits; else -1 with EKN_EXIT_FAIL:
 *   "WHAT needs 40.2 MiB (DETAIL), more than --max-memory 10 MiB; HINT"
 *   "WHAT needs 1.2 TiB (DETAIL), more than the 23.1 GiB of memory available; HINT, or set --max-memory"
 * limit: --max-memory in bytes, 0 for the default (host: the available
 * memory, no limit when unknown; device: no limit).  detail and hint may
 * be NULL. */
int ekn_mem_check(double need, const char *detail, double limit, int host, const char *what, const char *hint,
                  ekn_err *err);

/* "512 B", "40.2 MiB", "1.2 TiB" into buf; returns buf. */
const char *ekn_mem_text(double bytes, char *buf, size_t cap);
#endif
