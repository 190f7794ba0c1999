#include "opt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int help_flag, version_flag, completion_flag;

/* the long names seen by the last parse (ekn_opt_given); rows are distinct */
#define MAX_GIVEN 256
static const char *given_names[MAX_GIVEN];
static int ngiven;

static void note_given(const ekn_option *o)
{
    if (!o->long_name) return;
    for (int i = 0; i < ngiven; i++)
        if (given_names[i] == o->long_name) return;
    if (ngiven < MAX_GIVEN) given_names[ngiven++] = o->long_name;
}

int ekn_opt_given(const char *long_name)
{
    for (int i = 0; i < ngiven; i++)
        if (!strcmp(given_names[i], long_name)) return 1;
    return 0;
}

static const ekn_option common_options[] = {
    OPT_FLAG('h', "help", &help_flag, "print this help and exit"),
    OPT_FLAG(0, "version", &version_flag, "print the version and exit"),
    {.short_name = 'v', .long_name = "verbose", .type = EKN_OPT_FLAG, .help = "more messages on stderr (repeatable)"},
    OPT_FLAG(0, "completion-helper", &completion_flag, NULL, .flags = EKN_OPTF_HIDDEN),
    OPT_END(),
};

static int usage_error(const ekn_command *cmd, ekn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_error(const ekn_command *cmd, ekn_err *err, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!cmd) return ekn_err_set(err, EKN_EXIT_USAGE, "%s", msg); /* ekn_opt_set: no command line to hint at */
    /* the hint goes on its own line, as coreutils and git print it */
    return ekn_err_set(err, EKN_EXIT_USAGE, "%s\nTry '%s --help' for more information.", msg, cmd->name);
}

static const ekn_option *find_long(const ekn_command *cmd, const char *name, size_t len)
{
    const ekn_option *tables[2] = {cmd->options, common_options};
    for (int t = 0; t < 2; t++)
        for (const ekn_option *o = tables[t]; o && o->type; o++)
            if (o->long_name && strlen(o->long_name) == len && !strncmp(o->long_name, name, len)) return o;
    return NULL;
}

static const ekn_option *find_short(const ekn_command *cmd, char c)
{
    const ekn_option *tables[2] = {cmd->options, common_options};
    for (int t = 0; t < 2; t++)
        for (const ekn_option *o = tables[t]; o && o->type; o++)
            if (o->short_name == c) return o;
    return NULL;
}

static void opt_label(const ekn_option *o, char *buf, size_t cap)
{
    if (o->long_name) snprintf(buf, cap, "--%s", o->long_name);
    else snprintf(buf, cap, "-%c", o->short_name);
}

static int in_range(const ekn_option *o, double v)
{
    if (o->min == 0 && o->max == 0) return 1;
    if ((o->flags & EKN_OPTF_GT_MIN) ? !(v > o->min) : !(v >= o->min)) return 0;
    return v <= o->max;
}

static void range_text(const ekn_option *o, char *buf, size_t cap)
{
    if (o->type == EKN_OPT_INT || o->type == EKN_OPT_INT32)
        snprintf(buf, cap, "an integer from %.0f to %.0f", o->min, o->max);
    else if (o->flags & EKN_OPTF_GT_MIN)
        snprintf(buf, cap, "a number > %g and <= %g", o->min, o->max);
    else
        snprintf(buf, cap, "a number from %g to %g", o->min, o->max);
}

static int apply_as(const ekn_command *cmd, const ekn_option *o, const char *name, const char *arg, ekn_err *err)
{
    char label[96], range[128];
    if (name) snprintf(label, sizeof label, "%s", name);
    else opt_label(o, label, sizeof label);
    if (o->given) *o->given = 1;
    if (cmd) note_given(o); /* the command line only, not ekn_opt_set */
    switch (o->type) {
    case EKN_OPT_FLAG:
        if (!strcmp(o->long_name ? o->long_name : "", "verbose")) ekn_verbose++;
        else *(int *)o->dest = 1;
        return 0;
    case EKN_OPT_INT:
    case EKN_OPT_INT32: {
        char *end;
        errno = 0;
        long long v = strtoll(arg, &end, 10);
        if (!*arg || *end || errno) return usage_error(cmd, err, "%s needs an integer, you specified '%s'", label, arg);
        if (!in_range(o, (double)v)) {
            range_text(o, range, sizeof range);
            return usage_error(cmd, err, "%s must be %s, you specified %s", label, range, arg);
        }
        if (o->type == EKN_OPT_INT32) *(int *)o->dest = (int)v;
        else *(long *)o->dest = (long)v; /* long, or a uint64_t of a value the range keeps >= 0 */
        return 0;
    }
    case EKN_OPT_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(arg, &end);
        if (!*arg || *end || errno == ERANGE || !isfinite(v))
            return usage_error(cmd, err, "%s needs a finite number, you specified '%s'", label, arg);
        if (!in_range(o, v)) {
            range_text(o, range, sizeof range);
            return usage_error(cmd, err, "%s must be %s, you specified %s", label, range, arg);
        }
        *(double *)o->dest = v;
        return 0;
    }
    case EKN_OPT_STRING:
        *(const char **)o->dest = arg;
        return 0;
    case EKN_OPT_CHOICE: {
        size_t n = strlen(arg);
        for (const char *c = o->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && !strncmp(c, arg, n)) {
                *(const char **)o->dest = arg;
                return 0;
            }
            c = bar ? bar + 1 : c + len;
        }
        return usage_error(cmd, err, "%s must be one of %s, you specified '%s'", label, o->choices, arg);
    }
    case EKN_OPT_LIST: {
        const char **list = o->dest;
        int max = (int)o->max, i = 0;
        while (i < max - 1 && list[i]) i++;
        if (i >= max - 1) return usage_error(cmd, err, "%s given more than %d times", label, max - 1);
        list[i] = arg;
        list[i + 1] = NULL;
        return 0;
    }
    case EKN_OPT_ZYX: {
        ekn_err e = {0};
        if (ekn_zyx_parse(o->dest, arg, (o->flags & EKN_OPTF_REAL) != 0, o->min, o->max, label, &e))
            return usage_error(cmd, err, "%s", e.msg);
        return 0;
    }
    default:
        return usage_error(cmd, err, "%s: internal error: unknown option type", label);
    }
}

static int apply(const ekn_command *cmd, const ekn_option *o, const char *arg, ekn_err *err)
{
    return apply_as(cmd, o, NULL, arg, err);
}

int ekn_opt_set(const ekn_option *o, const char *name, const char *arg, ekn_err *err)
{
    if (o->type == EKN_OPT_FLAG) return 0; /* a flag has no value to check (and --verbose counts) */
    return apply_as(NULL, o, name, arg, err);
}

static void print_completion(const ekn_command *cmd)
{
    const ekn_option *tables[2] = {cmd->options, common_options};
    for (int t = 0; t < 2; t++)
        for (const ekn_option *o = tables[t]; o && o->type; o++)
            if (o->long_name && !(o->flags & EKN_OPTF_HIDDEN))
                printf("--%s%s\n", o->long_name, o->type == EKN_OPT_FLAG ? "" : "=");
}

int ekn_opt_parse(const ekn_command *cmd, int argc, char **argv, int *first_arg, ekn_err *err)
{
    int i = 1;
    help_flag = version_flag = completion_flag = 0;
    ngiven = 0;
    /* Operands and options may be mixed (GNU style); operands are moved to
     * the end in their original order so *first_arg indexes all of them. */
    char **operands = calloc((size_t)argc + 1, sizeof *operands);
    if (!operands) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int nops = 0, rc = 0;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) operands[nops++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            operands[nops++] = a;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const ekn_option *o = find_long(cmd, name, len);
            if (!o) {
                rc = usage_error(cmd, err, "unknown option '--%.*s'", (int)len, name);
                break;
            }
            const char *arg = NULL;
            if (o->type == EKN_OPT_FLAG) {
                if (eq) { rc = usage_error(cmd, err, "option '--%s' takes no value", o->long_name); break; }
            } else if (eq) arg = eq + 1;
            else if (i + 1 < argc) arg = argv[++i];
            else { rc = usage_error(cmd, err, "option '--%s' needs a value", o->long_name); break; }
            if ((rc = apply(cmd, o, arg, err))) break;
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            const ekn_option *o = find_short(cmd, *c);
            if (!o) { rc = usage_error(cmd, err, "unknown option '-%c'", *c); break; }
            if (o->type == EKN_OPT_FLAG) {
                if ((rc = apply(cmd, o, NULL, err))) break;
                continue;
            }
            const char *arg = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!arg) { rc = usage_error(cmd, err, "option '-%c' needs a value", *c); break; }
            rc = apply(cmd, o, arg, err);
            break;
        }
        if (rc) break;
    }
    if (!rc) {
        int base = argc - nops;
        for (int k = 0; k < nops; k++) argv[base + k] = operands[k];
        *first_arg = base;
    }
    free(operands);
    if (rc) return rc;
    if (completion_flag) { print_completion(cmd); return EKN_OPT_DONE; }
    if (help_flag) { ekn_opt_print_help(cmd); return EKN_OPT_DONE; }
    if (version_flag) { printf("%s (ekn) %s\n", cmd->name, EKN_VERSION); return EKN_OPT_DONE; }
    return EKN_OPT_CONTINUE;
}

static void default_text(const ekn_option *o, char *buf, size_t cap)
{
    buf[0] = 0;
    if (!o->dest) return;
    switch (o->type) {
    case EKN_OPT_INT:
    case EKN_OPT_INT32:
        snprintf(buf, cap, " [%ld]", o->type == EKN_OPT_INT32 ? (long)*(int *)o->dest : *(long *)o->dest);
        break;
    case EKN_OPT_FLOAT: snprintf(buf, cap, " [%g]", *(double *)o->dest); break;
    case EKN_OPT_STRING:
    case EKN_OPT_CHOICE:
        if (*(const char **)o->dest) snprintf(buf, cap, " [%s]", *(const char **)o->dest);
        break;
    case EKN_OPT_ZYX: {
        const ekn_zyx *z = o->dest;
        size_t n = 0;
        for (int k = 0; k < z->n && n < cap; k++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%g", k ? "," : " [", z->v[k]);
        if (z->n && n < cap) snprintf(buf + n, cap - n, "]");
        break;
    }
    default: break;
    }
}

void ekn_opt_print_help(const ekn_command *cmd)
{
    printf("usage: %s %s\n%s\n\noptions:\n", cmd->name, cmd->args, cmd->summary);
    const ekn_option *tables[2] = {cmd->options, common_options};
    for (int t = 0; t < 2; t++)
        for (const ekn_option *o = tables[t]; o && o->type; o++) {
            if (o->flags & EKN_OPTF_HIDDEN) continue;
            char left[96], def[128];
            int n = o->short_name ? snprintf(left, sizeof left, "  -%c%s", o->short_name, o->long_name ? "," : "")
                                  : snprintf(left, sizeof left, "     ");
            if (o->long_name)
                snprintf(left + n, sizeof left - n, " --%s%s%s", o->long_name, o->argname ? " " : "",
                         o->argname ? o->argname : "");
            /* a help text that states its default keeps the only one */
            if (o->flags & EKN_OPTF_OWN_DEFAULT) def[0] = 0;
            else default_text(o, def, sizeof def);
            if (o->type == EKN_OPT_CHOICE && o->choices)
                printf("%-28s %s (%s)%s\n", left, o->help, o->choices, def);
            else
                printf("%-28s %s%s\n", left, o->help ? o->help : "", def);
        }
}

int ekn_parse_int_list(const char *s, long *vals, int max, long min_value, const char *what, ekn_err *err)
{
    int n = 0;
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < min_value || n >= max || (*end && *end != ',' && *end != 'x'))
            return ekn_err_set(err, EKN_EXIT_USAGE,
                               "%s must be up to %d integers >= %ld separated by commas, you specified '%s'",
                               what, max, min_value, s);
        vals[n++] = v;
        if (!*end) break;
        p = end + 1;
    }
    return n;
}

int ekn_parse_float_list(const char *s, double *vals, int max, const char *what, ekn_err *err)
{
    int n = 0;
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || n >= max || (*end && *end != ','))
            return ekn_err_set(err, EKN_EXIT_USAGE,
                               "%s must be up to %d numbers separated by commas, you specified '%s'", what, max, s);
        vals[n++] = v;
        if (!*end) break;
        p = end + 1;
    }
    return n;
}

int ekn_zyx_parse(ekn_zyx *z, const char *s, int real, double min, double max, const char *what, ekn_err *err)
{
    ekn_zyx r = {0, {0, 0, 0}, s};
    if (!real && ((min == 0 && max == 0) || max > EKN_ZYX_MAX)) max = EKN_ZYX_MAX; /* so they fit an int */
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        double v;
        int bad;
        if (real) {
            v = strtod(p, &end);
            bad = end == p || errno || !isfinite(v) || r.n >= 3 || (*end && *end != ',');
        } else {
            long l = strtol(p, &end, 10);
            v = (double)l;
            bad = end == p || errno || v < min || r.n >= 3 || (*end && *end != ',' && *end != 'x');
        }
        if (bad)
            return real ? ekn_err_set(err, EKN_EXIT_USAGE,
                                      "%s must be up to 3 numbers separated by commas, you specified '%s'", what, s)
                        : ekn_err_set(err, EKN_EXIT_USAGE,
                                      "%s must be up to 3 integers >= %ld separated by commas, you specified '%s'",
                                      what, (long)min, s);
        r.v[r.n++] = v;
        if (!*end) break;
        p = end + 1;
    }
    for (int k = 0; !real && k < r.n; k++)
        if (r.v[k] > max) return ekn_err_set(err, EKN_EXIT_USAGE, "%s: %.0f is too large", what, r.v[k]);
    *z = r;
    return 0;
}

void ekn_zyx_place(const ekn_zyx *z, int out[3])
{
    for (int k = 0; k < z->n; k++) out[3 - z->n + k] = (int)z->v[k];
}

void ekn_zyx_place_real(const ekn_zyx *z, double out[3])
{
    for (int k = 0; k < z->n; k++) out[3 - z->n + k] = z->v[k];
}
