/* Patch geometry: from ekn-calc's shell output, and the region patches are
 * confined to.  (From a spec, through the calculator: nn/patch_spec.c.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "opt.h"

void ekn_patch_size(const ekn_patch_geom *g, int size[3])
{
    for (int k = 0; k < 3; k++) size[k] = g->in[k] + 2 * g->margin[k];
}

/* "1,2,3" right-aligned into v[3] (leading axes keep their value). */
static int calc_list(const char *val, int *v, int ndim, const char *key, const char *path, int line, ekn_err *err)
{
    long l[3];
    int n = ekn_parse_int_list(val, l, 3, 0, key, err);
    if (n < 0 || (ndim && n != ndim))
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s':%d: %s needs %d values, found '%s'", path, line, key, ndim, val);
    for (int k = 0; k < n; k++) v[3 - n + k] = (int)l[k];
    return 0;
}

int ekn_patch_geom_from_calc(ekn_patch_geom *g, int *img_img, const char *path, ekn_err *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s':", path);
    for (int k = 0; k < 3; k++) g->in[k] = g->stride[k] = g->out[k] = 1, g->offset[k] = 0;
    char line[4096], mode[32] = "";
    int lineno = 0, rc = 0, have_in = 0, have_out = 0;
    *img_img = 0;
    while (!rc && fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq || strncmp(line, "EKN_", 4)) continue;
        *eq = 0;
        const char *key = line, *val = eq + 1;
        int shape4[4] = {1, 1, 1, 1};
        if (!strcmp(key, "EKN_MODE")) snprintf(mode, sizeof mode, "%s", val);
        else if (!strcmp(key, "EKN_NDIM")) g->ndim = atoi(val);
        else if (!strcmp(key, "EKN_CHANNELS")) g->channels = atoi(val);
        else if (!strcmp(key, "EKN_INPUT_SIZE")) rc = calc_list(val, g->in, g->ndim, key, path, lineno, err), have_in = 1;
        else if (!strcmp(key, "EKN_INPUT_SHAPE") && !have_in) {
            long l[4];
            int n = ekn_parse_int_list(val, l, 4, 1, key, err);
            if (n < 2) rc = ekn_err_set(err, EKN_EXIT_SPEC, "'%s':%d: bad EKN_INPUT_SHAPE '%s'", path, lineno, val);
            for (int k = 1; !rc && k < n; k++) shape4[4 - n + k] = (int)l[k];
            if (!rc) memcpy(g->in, shape4 + 1, sizeof g->in), have_in = 1;
        } else if (!strcmp(key, "EKN_OFFSET")) rc = calc_list(val, g->offset, g->ndim, key, path, lineno, err);
        else if (!strcmp(key, "EKN_STRIDE")) rc = calc_list(val, g->stride, g->ndim, key, path, lineno, err);
        else if (!strcmp(key, "EKN_LABEL_SIZE")) rc = calc_list(val, g->out, g->ndim, key, path, lineno, err), have_out = 1;
    }
    if (!rc && ferror(fp)) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': read error:", path);
    fclose(fp);
    if (rc) return rc;
    if (!*mode) return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': no EKN_MODE line (expected 'ekn-calc --format shell' output)", path);
    *img_img = !strcmp(mode, "img-img");
    if (*img_img && (!have_in || !have_out))
        return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': img-img needs EKN_INPUT_SIZE and EKN_LABEL_SIZE lines", path);
    for (int k = 0; *img_img && k < 3; k++)
        if (g->stride[k] < 1 || g->out[k] < 1 || g->offset[k] + g->stride[k] * (g->out[k] - 1) >= g->in[k])
            return ekn_err_set(err, EKN_EXIT_SPEC, "'%s': the label lattice does not fit in the input patch", path);
    return 0;
}

static int parse_bound(const char *s, const char *end, int *v, int dflt)
{
    if (s == end) {
        *v = dflt;
        return 0;
    }
    char *e;
    errno = 0;
    long l = strtol(s, &e, 10);
    if (e != end || errno || l < 0 || l > 1 << 30) return -1;
    *v = (int)l;
    return 0;
}

int ekn_region_parse(ekn_region *r, const char *text, int ndim, ekn_err *err)
{
    memset(r, 0, sizeof *r);
    const char *p = text;
    for (int i = 0; i < ndim && *p; i++) {
        int axis = 3 - ndim + i;
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon || parse_bound(p, colon, &r->lo[axis], 0) || parse_bound(colon + 1, end, &r->hi[axis], 0) ||
            (r->hi[axis] && r->hi[axis] <= r->lo[axis]))
            return ekn_err_set(err, EKN_EXIT_USAGE, "--region: '%.*s' is not a range A:B with 0 <= A < B", (int)(end - p), p);
        p = comma ? comma + 1 : end;
    }
    if (*p) return ekn_err_set(err, EKN_EXIT_USAGE, "--region: '%s' has more ranges than the data's %d axes", text, ndim);
    return 0;
}
