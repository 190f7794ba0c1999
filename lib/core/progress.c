#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double ekn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ekn_progress_begin(ekn_progress *p, const char *what, uint64_t total)
{
    p->enabled = isatty(STDERR_FILENO);
    p->start = ekn_now();
    p->last_draw = 0;
    p->total = total;
    p->what = what;
}

void ekn_progress_update(ekn_progress *p, uint64_t done, const char *extra)
{
    if (!p->enabled) return;
    double now = ekn_now();
    if (now - p->last_draw < 0.1 && !(p->total && done == p->total)) return;
    p->last_draw = now;
    double el = now - p->start, rate = el > 0 ? done / el : 0;
    if (p->total) {
        double eta = rate > 0 ? (p->total - done) / rate : 0;
        fprintf(stderr, "\r%llu/%llu %s %3.0f%% %.1f/s eta %.0fs %s\033[K", (unsigned long long)done,
                (unsigned long long)p->total, p->what, 100.0 * done / p->total, rate, eta, extra ? extra : "");
    } else {
        fprintf(stderr, "\r%llu %s %.1f/s %s\033[K", (unsigned long long)done, p->what, rate, extra ? extra : "");
    }
    fflush(stderr);
}

void ekn_progress_end(ekn_progress *p)
{
    if (p->enabled) fputs("\r\033[K", stderr);
}
