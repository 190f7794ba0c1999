/* progress: a one-line progress display on stderr, only when stderr is a
 * terminal (pipes and logs stay clean).  Redraws at most 10 times a second;
 * times read as 42s, 5m37s, 2h05m. */
#ifndef EKN_PROGRESS_H
#define EKN_PROGRESS_H
#include <stddef.h>
#include <stdint.h>

typedef struct ekn_progress {
    int enabled;
    double start, last_draw;
    uint64_t total;   /* 0 if unknown */
    const char *what; /* "records", "steps" */
} ekn_progress;

void ekn_progress_begin(ekn_progress *p, const char *what, uint64_t total);
/* `extra` is appended to the line (e.g. "loss 0.412"); may be NULL. */
void ekn_progress_update(ekn_progress *p, uint64_t done, const char *extra);
void ekn_progress_end(ekn_progress *p);
/* Messages (diag.h) take the progress line away before they print and put
 * it back after, so that a message never runs on from the line. */
void ekn_progress_hide(void);
void ekn_progress_show(void);
double ekn_now(void); /* monotonic seconds */
/* s seconds as "42s", "5m37s" or "2h05m" (rounded to the second) */
void ekn_fmt_duration(double s, char *buf, size_t cap);
#endif
