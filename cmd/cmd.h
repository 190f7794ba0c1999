/* cmd.h: what every ekn-* main() does first and last.  Kept out of lib/
 * because only commands may exit. */
#ifndef EKN_CMD_H
#define EKN_CMD_H
#include <stdlib.h>

#include "diag.h"
#include "opt.h"
#include "outfile.h"

/* Sets the program name, installs the I/O and signal handling, parses the
 * options; exits 0 after --help/--version and 2 on a usage error.  Returns
 * the index of the first operand. */
static inline int ekn_cmd_start(const ekn_command *cmd, int argc, char **argv)
{
    ekn_set_progname(cmd->name);
    ekn_io_init();
    ekn_err err = {0};
    int first = argc;
    int rc = ekn_opt_parse(cmd, argc, argv, &first, &err);
    if (rc < 0) ekn_die_err(&err);
    if (rc == EKN_OPT_DONE) exit(EKN_EXIT_OK);
    return first;
}

/* Dies with a usage error (exit 2) and the --help hint. */
#define ekn_usage_die(cmd, ...)                                                          \
    do {                                                                                 \
        ekn_err usage_err_ = {0};                                                        \
        char usage_msg_[700];                                                            \
        snprintf(usage_msg_, sizeof usage_msg_, __VA_ARGS__);                            \
        ekn_err_set(&usage_err_, EKN_EXIT_USAGE, "%s\nTry '%s --help' for more information.", \
                    usage_msg_, (cmd)->name);                                            \
        ekn_die_err(&usage_err_);                                                        \
    } while (0)
#endif
