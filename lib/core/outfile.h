/* outfile: output files that appear whole or not at all, and a checked stdout.
 *
 * A named output is written to "<path>.tmp.<pid>", then fsync'd and renamed
 * over <path> by ekn_outfile_commit() (git's lockfile).  ekn_outfile_abort(),
 * a fatal error through ekn_die(), SIGINT/SIGTERM and SIGHUP all remove the
 * temp file, so a failed run never leaves a partial output behind.
 * The path "-" means stdout: it is flushed and checked on commit, so a full
 * disk is an error and a closed pipe ends the process quietly by SIGPIPE. */
#ifndef EKN_OUTFILE_H
#define EKN_OUTFILE_H
#include <stdio.h>

#include "diag.h"

typedef struct ekn_outfile {
    FILE *fp;
    char path[4096];  /* final name ("-" for stdout) */
    char tmp[4128];   /* temp name while open; empty for stdout */
    int slot;         /* index in the cleanup registry, -1 if none */
} ekn_outfile;

/* binary: refuse to write to a terminal unless force (tensor streams). */
int ekn_outfile_open(ekn_outfile *o, const char *path, int binary, int force, ekn_err *err);
int ekn_outfile_commit(ekn_outfile *o, ekn_err *err);
void ekn_outfile_abort(ekn_outfile *o);
/* Name for messages: "stdout" or the path. */
const char *ekn_outfile_name(const ekn_outfile *o);

/* Registers a temp file that a fatal signal or ekn_die must remove (for
 * outputs written by other libraries, e.g. HDF5 checkpoints); returns a
 * slot for ekn_temp_forget, or -1 when the registry is full. */
int ekn_temp_register(const char *path);
void ekn_temp_forget(int slot);

/* Called once by every command: restores SIGPIPE, installs the signal
 * handlers that remove temp files, gives stdout a large buffer. */
void ekn_io_init(void);
/* fflush + ferror + fclose of stdout; dies with a one-line error on failure
 * (and raises SIGPIPE on EPIPE).  Registered with atexit by ekn_io_init. */
void ekn_close_stdout(void);
/* If errno is EPIPE, end the process the way a writer to a closed pipe ends. */
void ekn_check_pipe(void);
#endif
