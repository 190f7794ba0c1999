#include "memlimit.h"

#include <stdio.h>
#include <string.h>

double ekn_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
    fclose(f);
    return kib > 0 ? kib * 1024 : 0;
}

const char *ekn_mem_text(double bytes, char *buf, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    double v = bytes;
    while (v >= 1024 && u < 6) v /= 1024, u++;
    if (u == 0) snprintf(buf, cap, "%.0f B", v);
    else snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
}

int ekn_mem_check(double need, const char *detail, double limit, int host, const char *what, const char *hint,
                  ekn_err *err)
{
    int dflt = limit <= 0;
    if (dflt) limit = host ? ekn_mem_available() : 0;
    if (limit <= 0 || need <= limit) return 0;
    char n[32], l[32], d[300] = "";
    if (detail && *detail) snprintf(d, sizeof d, " (%s)", detail);
    ekn_mem_text(need, n, sizeof n);
    if (dflt)
        return ekn_err_set(err, EKN_EXIT_FAIL, "%s needs %s%s, more than the %s of memory available; %s%sset --max-memory",
                           what, n, d, ekn_mem_text(limit, l, sizeof l), hint ? hint : "", hint ? ", or " : "");
    return ekn_err_set(err, EKN_EXIT_FAIL, "%s needs %s%s, more than --max-memory %.6g MiB%s%s", what, n, d,
                       limit / 1048576.0, hint ? "; " : "", hint ? hint : "");
}
