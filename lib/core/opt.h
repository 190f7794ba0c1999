/* opt: the one option engine behind every ekn command.
 *
 * A command describes its options in a table of named rows (the OPT_*
 * macros below, after git's parse-options); from it come parsing
 * (getopt_long semantics: bundled short flags, --opt=value and --opt value,
 * "--" ends options), --help (usage, summary, options with their defaults in
 * brackets), --version, and the hidden --completion-helper that prints the
 * long options for the shell completions.  Every number is range-checked
 * and the message says what was given.  -h/--help, --version and
 * -v/--verbose are added to every table.
 *
 *     static ekn_batch_opts o = {.batch = 64};
 *     static const ekn_option options[] = {
 *         OPT_INT('b', "batch", &o.batch, "N", "examples per batch", 1, 1 << 20),
 *         OPT_ZYX(0, "patch", &o.patch, "Z,Y,X", "the net's input patch", 1, EKN_ZYX_MAX),
 *         OPT_FLOAT(0, "lr", &o.lr, "RATE", "learning rate", 0, 1e6, .flags = EKN_OPTF_GT_MIN),
 *         OPT_END(),
 *     };
 *
 * The macros check the destination's type at compile time; fields they do
 * not set (.flags, .given) may follow as designated initialisers. */
#ifndef EKN_OPT_H
#define EKN_OPT_H
#include <stdint.h>

#include "diag.h"

typedef enum ekn_opt_type {
    EKN_OPT_END = 0,
    EKN_OPT_FLAG,   /* int*: set to 1 */
    EKN_OPT_INT,    /* long* or uint64_t* (a value the range keeps >= 0): integer in [min, max] */
    EKN_OPT_FLOAT,  /* double*: finite, in [min, max] (or (min, max] with EKN_OPTF_GT_MIN) */
    EKN_OPT_STRING, /* const char**: the argument as given */
    EKN_OPT_CHOICE, /* const char**: one of the '|'-separated words in `choices` */
    EKN_OPT_LIST,   /* const char**[]: repeatable; appended to a NULL-terminated array of `max` slots */
    EKN_OPT_ZYX,    /* ekn_zyx*: a spatial list (below); integers in [min, max] unless EKN_OPTF_REAL */
    EKN_OPT_INT32,  /* int*: as EKN_OPT_INT (OPT_INT picks it for an int) */
} ekn_opt_type;

enum {
    EKN_OPTF_GT_MIN = 1,      /* numbers: min itself is excluded */
    EKN_OPTF_HIDDEN = 2,      /* not in --help nor --completion-helper */
    EKN_OPTF_REAL = 4,        /* EKN_OPT_ZYX: finite numbers, not integers (min and max unused) */
    EKN_OPTF_OWN_DEFAULT = 8, /* the help text states the default in brackets: --help prints no other */
};

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

/* A spatial list: "Z,Y,X", "Y,X" or one value ("64x64" also separates
 * integers).  The axes are the last n of Z,Y,X: a list is right-aligned, so
 * "Y,X" leaves Z to the caller (1, 0 or a spec's value). */
typedef struct ekn_zyx {
    int n;            /* values given, 1..3; 0: the option did not appear */
    double v[3];      /* in the order given (v[0] is Z of three, Y of two); integers are exact */
    const char *text; /* the argument as given, for messages and metadata */
} ekn_zyx;

#define EKN_ZYX_MAX (1 << 30) /* the largest integer a size or offset may take */

/* Parses s into z.  Integers (unless real) must lie in [min, max]; reals
 * must be finite.  Errors (EKN_EXIT_USAGE, one line, naming `what` and s):
 *   "--patch must be up to 3 integers >= 1 separated by commas, you specified '0,5'"
 *   "--patch: 5000000000 is too large"
 *   "--spacing must be up to 3 numbers separated by commas, you specified '1,inf'" */
int ekn_zyx_parse(ekn_zyx *z, const char *s, int real, double min, double max, const char *what, ekn_err *err);
/* The values right-aligned onto Z,Y,X: out[3 - n + k] = v[k]; the leading
 * 3 - n axes keep what out holds.  Nothing changes when z->n == 0. */
void ekn_zyx_place(const ekn_zyx *z, int out[3]);
void ekn_zyx_place_real(const ekn_zyx *z, double out[3]);

/* ---- rows --------------------------------------------------------------------------
 * s: short name (0: none), l: long name, d: destination, a: argument name,
 * h: help, lo/hi: the range of numbers (for an int destination, a range
 * that fits an int).  The trailing arguments are more designated
 * initialisers: .flags = ..., .given = &o.x_given (OPT_ZYX_REAL sets .flags
 * itself; a second one is a -Woverride-init error). */
#define EKN_OPT_DEST_(T, d) _Generic((d), T: (void *)(d))
#define OPT_FLAG(s, l, d, h, ...)                                                                        \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_FLAG, .dest = EKN_OPT_DEST_(int *, d), .help = (h), \
     __VA_ARGS__}
/* -f/--force of every command that writes a stream: binary output even to a terminal */
#define OPT_FORCE(d) OPT_FLAG('f', "force", d, "write a binary stream even to a terminal")
#define OPT_INT(s, l, d, a, h, lo, hi, ...)                                                               \
    {.short_name = (s), .long_name = (l), .type = _Generic((d), int *: EKN_OPT_INT32, default: EKN_OPT_INT), \
     .dest = _Generic((d), int *: (void *)(d), long *: (void *)(d), uint64_t *: (void *)(d)),             \
     .argname = (a), .help = (h), .min = (lo), .max = (hi), __VA_ARGS__}
#define OPT_FLOAT(s, l, d, a, h, lo, hi, ...)                                                             \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_FLOAT, .dest = EKN_OPT_DEST_(double *, d),       \
     .argname = (a), .help = (h), .min = (lo), .max = (hi), __VA_ARGS__}
#define OPT_STRING(s, l, d, a, h, ...)                                                                    \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_STRING, .dest = EKN_OPT_DEST_(const char **, d), \
     .argname = (a), .help = (h), __VA_ARGS__}
#define OPT_CHOICE(s, l, d, a, h, words, ...)                                                             \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_CHOICE, .dest = EKN_OPT_DEST_(const char **, d), \
     .argname = (a), .help = (h), .choices = (words), __VA_ARGS__}
/* d: an array of `slots` pointers; the option may appear slots - 1 times */
#define OPT_LIST(s, l, d, a, h, slots, ...)                                                               \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_LIST, .dest = EKN_OPT_DEST_(const char **, d),   \
     .argname = (a), .help = (h), .max = (slots), __VA_ARGS__}
/* integers in [lo, hi] (hi at most EKN_ZYX_MAX, so they fit an int) */
#define OPT_ZYX(s, l, d, a, h, lo, hi, ...)                                                               \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_ZYX, .dest = EKN_OPT_DEST_(ekn_zyx *, d),       \
     .argname = (a), .help = (h), .min = (lo), .max = (hi), __VA_ARGS__}
/* finite numbers; the command checks their range */
#define OPT_ZYX_REAL(s, l, d, a, h, ...)                                                                  \
    {.short_name = (s), .long_name = (l), .type = EKN_OPT_ZYX, .dest = EKN_OPT_DEST_(ekn_zyx *, d),       \
     .argname = (a), .help = (h), .flags = EKN_OPTF_REAL, __VA_ARGS__}
#define OPT_END() {.type = EKN_OPT_END}

typedef struct ekn_command {
    const char *name;      /* "ekn-calc" */
    const char *args;      /* "[options] SPEC" */
    const char *summary;   /* one line */
    const ekn_option *options; /* terminated by OPT_END() */
} ekn_command;

enum { EKN_OPT_CONTINUE = 0, EKN_OPT_DONE = 1 };

/* Parses argv.  Returns EKN_OPT_CONTINUE with *first_arg the index of the
 * first operand, EKN_OPT_DONE after printing help, version or completion
 * words to stdout (the caller exits 0), or -1 with err->code = EKN_EXIT_USAGE. */
int ekn_opt_parse(const ekn_command *cmd, int argc, char **argv, int *first_arg, ekn_err *err);
void ekn_opt_print_help(const ekn_command *cmd);
/* One value for one row outside the command line (a control file's
 * command): parsed, range-checked and stored as parsing would, with the
 * same message naming `name` (NULL: "--long-name") instead of the option,
 * and no --help hint.  Copy a row and point its dest elsewhere to check a
 * value without storing it.  0, or -1 with err (EKN_EXIT_USAGE).  A FLAG
 * row takes no value: 0, nothing stored. */
int ekn_opt_set(const ekn_option *o, const char *name, const char *arg, ekn_err *err);
/* Whether the last ekn_opt_parse saw the option of this long name (or a
 * row without one: its short name as "-x" is not looked up) on the command
 * line; any number of options, no .given pointer needed. */
int ekn_opt_given(const char *long_name);

/* "30,512,512" -> {30,512,512}; returns the count (1..max) or -1.  All values >= min_value. */
int ekn_parse_int_list(const char *s, long *vals, int max, long min_value, const char *what, ekn_err *err);
/* "0.5,1,2" -> doubles; returns the count or -1. */
int ekn_parse_float_list(const char *s, double *vals, int max, const char *what, ekn_err *err);
#endif
