/* opt: the one option engine behind every ekn command.
 *
 * A command describes its options in a table; from it come parsing
 * (getopt_long semantics: bundled short flags, --opt=value and --opt value,
 * "--" ends options), --help (usage, summary, options with their defaults in
 * brackets), --version, and the hidden --completion-helper that prints the
 * long options for the shell completions.  Every number is range-checked
 * and the message says what was given.  -h/--help, --version and
 * -v/--verbose are added to every table. */
#ifndef EKN_OPT_H
#define EKN_OPT_H
#include "diag.h"

typedef enum ekn_opt_type {
    EKN_OPT_END = 0,
    EKN_OPT_FLAG,   /* int*: set to 1 */
    EKN_OPT_INT,    /* long*: integer in [min, max] */
    EKN_OPT_FLOAT,  /* double*: finite, in [min, max] (or (min, max] with EKN_OPTF_GT_MIN) */
    EKN_OPT_STRING, /* const char**: the argument as given */
    EKN_OPT_CHOICE, /* const char**: one of the '|'-separated words in `choices` */
    EKN_OPT_LIST,   /* const char**[]: repeatable; appended to a NULL-terminated array of `max` slots */
} ekn_opt_type;

enum { EKN_OPTF_GT_MIN = 1, EKN_OPTF_HIDDEN = 2 };

typedef struct ekn_option {
    char short_name;       /* 0 if none */
    const char *long_name; /* without the dashes */
    ekn_opt_type type;
    void *dest;
    const char *argname;   /* "RATE"; NULL for flags */
    const char *help;
    double min, max;       /* numbers only; both 0 means unbounded */
    const char *choices;   /* EKN_OPT_CHOICE: "table|shell|json" */
    unsigned flags;
    int *given;            /* optional: set to 1 when the option appears */
} ekn_option;

typedef struct ekn_command {
    const char *name;      /* "ekn-calc" */
    const char *args;      /* "[options] SPEC" */
    const char *summary;   /* one line */
    const ekn_option *options; /* terminated by {0} */
} ekn_command;

enum { EKN_OPT_CONTINUE = 0, EKN_OPT_DONE = 1 };

/* Parses argv.  Returns EKN_OPT_CONTINUE with *first_arg the index of the
 * first operand, EKN_OPT_DONE after printing help, version or completion
 * words to stdout (the caller exits 0), or -1 with err->code = EKN_EXIT_USAGE. */
int ekn_opt_parse(const ekn_command *cmd, int argc, char **argv, int *first_arg, ekn_err *err);
void ekn_opt_print_help(const ekn_command *cmd);

/* "30,512,512" -> {30,512,512}; returns the count (1..max) or -1.  All values >= min_value. */
int ekn_parse_int_list(const char *s, long *vals, int max, long min_value, const char *what, ekn_err *err);
/* "0.5,1,2" -> doubles; returns the count or -1. */
int ekn_parse_float_list(const char *s, double *vals, int max, const char *what, ekn_err *err);
#endif
