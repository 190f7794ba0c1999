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

/* The line on the terminal now, so that a message can take it away and
 * put it back (ekn_progress_hide/show). */
static char shown[512];
static int shown_on;

void ekn_fmt_duration(double s, char *buf, size_t cap)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t < 60) snprintf(buf, cap, "%lds", t);
    else if (t < 3600) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

void ekn_progress_update(ekn_progress *p, uint64_t done, const char *extra)
{
    if (!p->enabled) return;
    double now = ekn_now();
    if (now - p->last_draw < 0.1 && !(p->total && done == p->total)) return;
    p->last_draw = now;
    double el = now - p->start, rate = el > 0 ? done / el : 0;
    char t[32];
    if (p->total) {
        ekn_fmt_duration(rate > 0 ? (p->total - done) / rate : 0, t, sizeof t);
        snprintf(shown, sizeof shown, "%llu/%llu %s %3.0f%% %.1f/s eta %s %s", (unsigned long long)done,
                 (unsigned long long)p->total, p->what, 100.0 * done / p->total, rate, t, extra ? extra : "");
    } else {
        ekn_fmt_duration(el, t, sizeof t);
        snprintf(shown, sizeof shown, "%llu %s %.1f/s %s elapsed %s", (unsigned long long)done, p->what, rate, t,
                 extra ? extra : "");
    }
    shown_on = 1;
    fprintf(stderr, "\r%s\033[K", shown);
    fflush(stderr);
}

void ekn_progress_hide(void)
{
    if (shown_on) fputs("\r\033[K", stderr);
}

void ekn_progress_show(void)
{
    if (!shown_on) return;
    fprintf(stderr, "\r%s\033[K", shown);
    fflush(stderr);
}

void ekn_progress_end(ekn_progress *p)
{
    if (p->enabled) fputs("\r\033[K", stderr);
    shown_on = 0;
}
