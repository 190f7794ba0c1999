/* control: ekn-train's live control file (--control FILE, ekn-train(1)).
 *
 * Commands, one a line:  lr RATE | momentum MU | optimizer NAME [K=V,...] |
 * save | stop.  Words are separated by blanks (spaces, tabs); blank lines
 * and lines whose first non-blank is '#' are ignored, however long.  A line
 * is always taken whole, never cut into pieces that could run as commands:
 * a command line longer than EKN_CONTROL_LINE_MAX bytes is refused.  RATE
 * and MU are checked by the same option rows as --lr and --momentum
 * (EKN_OPT_ROW_LR, EKN_OPT_ROW_MOMENTUM below, used by ekn-train's table
 * too), so a control file cannot set what the command line refuses.  A
 * command with more words than it takes, a bad value or an unknown command
 * is reported as "'FILE':LINE: ...; not run" and not run; the lines around
 * it still run.
 *
 * Reading never blocks:
 *   - a regular file is renamed to FILE.reading, read and deleted, so a
 *     command written meanwhile waits in a new file for the next poll; its
 *     lines are numbered from 1 in each file taken;
 *   - a FIFO is opened once (O_RDONLY|O_NONBLOCK, so no writer is needed)
 *     and kept open; each poll takes the complete lines written so far, a
 *     line cut short waits for its end or for the writer to close; lines
 *     are numbered from 1 over the whole run;
 *   - anything else (a directory, a device) is reported once and ignored;
 *     a missing file is no command. */
#ifndef EKN_CONTROL_H
#define EKN_CONTROL_H
#include <stddef.h>

#include "diag.h"
#include "opt.h"

/* The option rows for --lr and --momentum: one place for their ranges. */
#define EKN_OPT_ROW_LR(d) OPT_FLOAT(0, "lr", d, "RATE", "learning rate", 0, 1e6, .flags = EKN_OPTF_GT_MIN)
#define EKN_OPT_ROW_MOMENTUM(d) OPT_FLOAT('m', "momentum", d, "MU", "momentum", 0, 0.999999)

#define EKN_CONTROL_LINE_MAX 1024 /* bytes of a command line, without its newline (comments: any length) */

typedef enum ekn_control_op {
    EKN_CTL_LR = 1, EKN_CTL_MOMENTUM, EKN_CTL_OPTIMIZER, EKN_CTL_SAVE, EKN_CTL_STOP,
} ekn_control_op;

typedef struct ekn_control_cmd {
    ekn_control_op op;
    double value;                      /* lr, momentum */
    char name[64];                     /* optimizer: its name (one of ekn_optim_names()) */
    char params[EKN_CONTROL_LINE_MAX]; /* optimizer: "k=v,..." or "" (checked when applied) */
} ekn_control_cmd;

/* Parses one line (no newline; NUL-terminated; a trailing '\r' is
 * ignored).  Returns 1 with *cmd for a command, 0 for a blank line or a
 * comment, -1 with err (EKN_EXIT_USAGE; the message names neither the
 * file nor the line) for anything else, a command line longer than
 * EKN_CONTROL_LINE_MAX included. */
int ekn_control_parse_line(const char *line, ekn_control_cmd *cmd, ekn_err *err);

/* Runs one command; returns 0, or -1 with err when it cannot be applied
 * (the poll reports it as the line's error; the command had no effect).
 * line is the command's line as written, for echoing. */
typedef int (*ekn_control_fn)(void *ctx, const ekn_control_cmd *cmd, const char *line, ekn_err *err);

typedef struct ekn_control {
    const char *path;       /* NULL: no control file */
    int fifo;               /* the FIFO is open on fd */
    int fd;
    int warned;             /* a file that is neither regular nor a FIFO was reported */
    unsigned long lineno;   /* lines taken so far (of this file; of the FIFO over the run) */
    char line[EKN_CONTROL_LINE_MAX + 2]; /* the line being assembled (its first bytes) */
    size_t len;
    int too_long;           /* ... it has more than EKN_CONTROL_LINE_MAX bytes */
    int nul;                /* ... it holds a NUL byte */
    char first;             /* its first non-blank byte (0: none yet) */
} ekn_control;

/* Zeroed is closed, with no path.  Sets the path (NULL: polls do
 * nothing); nothing is opened yet. */
void ekn_control_init(ekn_control *c, const char *path);
/* Runs fn on each valid command the control file holds now, in order;
 * bad lines and commands fn refuses are warnings ("'FILE':N: ...; not
 * run").  Never blocks.  Returns the number of commands fn ran. */
int ekn_control_poll(ekn_control *c, ekn_control_fn fn, void *ctx);
/* Closes the FIFO if open; c may be polled again after ekn_control_init. */
void ekn_control_close(ekn_control *c);
#endif
