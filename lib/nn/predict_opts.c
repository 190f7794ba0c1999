/* ekn-predict's options: the rest of the command line into the config. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

/* One integer >= 0 at *s (digits only), up to end; *s advanced. */
static int parse_count(const char **s, long *v)
{
    const char *p = *s;
    if (*p < '0' || *p > '9') return -1;
    errno = 0;
    char *end;
    long x = strtol(p, &end, 10);
    if (errno || x > EKN_ZYX_MAX) return -1;
    *v = x;
    *s = end;
    return 0;
}

int ekn_predict_parse_roi(ekn_predict_region *r, const char *s, ekn_err *err)
{
    const char *p = s;
    long lo[3], hi[3];
    int n = 0;
    for (;;) {
        if (n == 3 || parse_count(&p, &lo[n]) || *p++ != ':' || parse_count(&p, &hi[n])) goto bad;
        n++;
        if (!*p) break;
        if (*p++ != ',') goto bad;
    }
    if (n < 2) goto bad;
    for (int k = 0; k < n; k++)
        if (lo[k] >= hi[k])
            return ekn_err_set(err, EKN_EXIT_USAGE, "--roi %s: the range %ld:%ld of axis %c is empty", s, lo[k], hi[k],
                               "ZYX"[3 - n + k]);
    r->n = n;
    for (int k = 0; k < 3; k++) r->lo[k] = 0, r->hi[k] = 1;
    for (int k = 0; k < n; k++) r->lo[3 - n + k] = (int)lo[k], r->hi[3 - n + k] = (int)hi[k];
    return 0;
bad:
    return ekn_err_set(err, EKN_EXIT_USAGE,
                       "--roi must be Z0:Z1,Y0:Y1,X0:X1 or Y0:Y1,X0:X1 (integers >= 0, each range half-open), you specified '%s'",
                       s);
}

int ekn_predict_parse_block(ekn_predict_region *r, const char *s, ekn_err *err)
{
    const char *p = s;
    long i, n;
    if (parse_count(&p, &i) || *p++ != '/' || parse_count(&p, &n) || *p || n < 1 || n > INT_MAX)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--block must be I/N with 0 <= I < N, you specified '%s'", s);
    if (i >= n)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--block %s: block %ld of %ld does not exist (blocks are 0 to %ld)", s, i, n,
                           n - 1);
    r->block = (int)i;
    r->blocks = (int)n;
    return 0;
}

int ekn_predict_opts_resolve(ekn_predict_opts *o, ekn_err *err)
{
    ekn_predict_config *c = &o->c;
    const char *what = o->write ? o->write : "both", *pad = o->pad ? o->pad : "none";
    if (!c->output && !c->eval) c->output = "-";
    /* -o FILE.h5:/DATASET */
    const char *colon = c->output ? strstr(c->output, ":/") : NULL;
    for (const char *q = colon; q; q = strstr(q + 1, ":/")) colon = q;
    if (colon) {
        snprintf(o->h5_file, sizeof o->h5_file, "%.*s", (int)(colon - c->output), c->output);
        c->h5_file = o->h5_file;
        c->h5_dset = colon + 1;
        c->output = NULL;
        if (!o->write_given) what = "prob";
    }
    /* INPUT FILE.h5:/DATASET */
    colon = c->input ? strstr(c->input, ":/") : NULL;
    for (const char *q = colon; q; q = strstr(q + 1, ":/")) colon = q;
    if (colon) {
        snprintf(o->h5_in_file, sizeof o->h5_in_file, "%.*s", (int)(colon - c->input), c->input);
        c->h5_in_file = o->h5_in_file;
        c->h5_in_dset = colon + 1;
    }
    c->want_prob = strcmp(what, "class") != 0;
    c->want_class = strcmp(what, "prob") != 0;
    c->pad = !strcmp(pad, "mirror") ? EKN_PAD_MIRROR : !strcmp(pad, "zero") ? EKN_PAD_ZERO : EKN_PAD_NONE;
    for (int k = 0; k < 3; k++) c->tile[k] = 0;
    ekn_zyx_place(&o->tile, c->tile);
    c->max_bytes = o->max_mib * 1048576.0;
    c->max_memory = o->mem_given ? c->max_bytes : 0;
    c->quantize = o->quantize && !strcmp(o->quantize, "u8");
    if (!o->deflate_given) c->deflate = -1;
    memset(&c->region, 0, sizeof c->region);
    if (o->roi && ekn_predict_parse_roi(&c->region, o->roi, err)) return -1;
    if (o->block && ekn_predict_parse_block(&c->region, o->block, err)) return -1;
    /* what shapes the values and layout of a block's file */
    snprintf(o->settings, sizeof o->settings,
             "dataset=%s write=%s quantize=%d channel=%d deflate=%d pad=%s tile=%d,%d,%d max-memory=%.17g batch=%ld "
             "no-mfp=%d apply=%s",
             c->h5_dset ? c->h5_dset : "", what, c->quantize, c->channel, c->deflate, pad, c->tile[0], c->tile[1],
             c->tile[2], c->max_bytes, c->batch, c->no_mfp, c->apply ? c->apply : "");
    c->settings = o->settings;
    return 0;
}
