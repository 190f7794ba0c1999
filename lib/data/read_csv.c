/* CSV reader: a table of numeric and categorical columns and one label
 * column, turned into feature vectors (see readers.h for the contract).
 *
 * Fields are separated by the delimiter and trimmed of blanks, so UCI's
 * ", " works; a field may be double-quoted ("a, b" with "" for a quote).
 * Missing values are '?' or an empty field.  Numeric columns give one
 * feature each, categorical columns one feature per category (one-hot,
 * categories in strcmp order); class labels are the distinct label
 * strings without a trailing '.', sorted (numerically when all are
 * integers), numbered 0..K-1. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "finite.h"
#include "readers.h"

int ekn_parse_number(const char *s, double *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end) return 0;
    *v = d;
    return 1;
}

static int is_missing(const char *s) { return !*s || !strcmp(s, "?"); }

typedef struct table {
    char **cells;  /* nrows * ncols, pointing into the blob */
    int *line;     /* physical line number of each row */
    size_t nrows, cap;
    int ncols;
    char **names;  /* header fields, or NULL */
} table;

static void table_free(table *t)
{
    free(t->cells);
    free(t->line);
    free(t->names);
}

/* Cuts one line (NUL-terminated, modified in place) into fields. */
static int split_line(char *s, char delim, char **out, int max)
{
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        char *start = s, *w = s;
        if (*s == '"') {
            start = w = ++s;
            while (*s && !(*s == '"' && s[1] != '"')) {
                if (*s == '"') s++;
                *w++ = *s++;
            }
            if (*s == '"') s++;
            while (*s && *s != delim) s++;
        } else {
            while (*s && *s != delim) s++;
            w = s;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t')) w--;
        }
        char next = *s;
        *w = 0;
        if (n < max) out[n] = start;
        n++;
        if (next != delim) return n;
        s++;
    }
}

static int grow(table *t, ekn_err *err)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
    if (!c) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    t->cells = c;
    int *l = realloc(t->line, cap * sizeof *l);
    if (!l) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    t->line = l;
    t->cap = cap;
    return 0;
}

static int parse_table(ekn_blob *b, const char *name, const ekn_csv_opts *o, table *t, ekn_err *err)
{
    memset(t, 0, sizeof *t);
    char *p = (char *)b->data, *end = p + b->len;
    char **fields = NULL;
    int maxf = 0, lineno = 0, rc = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *line = p;
        if (nl) *nl = 0;
        p = nl ? nl + 1 : end;
        lineno++;
        size_t len = strlen(line);
        if (len != (size_t)((nl ? nl : end) - line)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%d: NUL byte in a text file", name, lineno);
            break;
        }
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (line[0] == '|' || !line[strspn(line, " \t")]) continue;
        if (!t->ncols) {
            /* count the fields of the first record */
            int n = 1;
            for (char *c = line; *c; c++) n += *c == o->delim;
            maxf = n + 1;
            if (!(fields = malloc((size_t)maxf * sizeof *fields))) {
                rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
                break;
            }
            t->ncols = split_line(line, o->delim, fields, maxf);
            if (o->header) {
                if (!(t->names = malloc((size_t)t->ncols * sizeof *t->names))) {
                    rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
                    break;
                }
                memcpy(t->names, fields, (size_t)t->ncols * sizeof *fields);
                continue;
            }
            if (grow(t, err)) { rc = -1; break; }
            memcpy(t->cells, fields, (size_t)t->ncols * sizeof *fields);
            t->line[t->nrows++] = lineno;
            continue;
        }
        if (t->nrows == t->cap && grow(t, err)) { rc = -1; break; }
        int n = split_line(line, o->delim, t->cells + t->nrows * (size_t)t->ncols, t->ncols);
        if (n != t->ncols) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%d: %d fields, expected %d", name, lineno, n, t->ncols);
            break;
        }
        t->line[t->nrows++] = lineno;
    }
    free(fields);
    if (!rc && t->nrows == 0) rc = ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no records", name);
    if (rc) table_free(t);
    return rc;
}

/* A column given by 1-based number or by header name; -1 if neither. */
static int column_index(const char *s, const table *t, int ncols)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && !*end) return v >= 1 && v <= ncols ? (int)v - 1 : -1;
    for (int i = 0; t->names && i < ncols; i++)
        if (!strcmp(t->names[i], s)) return i;
    return -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* integer labels sort by value ("2" before "10") */
static int cmp_int_str(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    long long u = strtoll(x, NULL, 10), v = strtoll(y, NULL, 10);
    if (u != v) return u < v ? -1 : 1;
    return strcmp(x, y);
}

/* Sorted distinct strings of vals (n entries, missing ones skipped), strdup'd. */
static int distinct(char **vals, size_t n, int (*cmp)(const void *, const void *), char ***out, int *nout,
                    ekn_err *err)
{
    qsort(vals, n, sizeof *vals, cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || cmp(&vals[i], &vals[k - 1])) vals[k++] = vals[i];
    char **d = calloc(k ? k : 1, sizeof *d);
    if (!d) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (size_t i = 0; i < k; i++)
        if (!(d[i] = strdup(vals[i]))) {
            for (size_t j = 0; j < i; j++) free(d[j]);
            free(d);
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        }
    *out = d;
    *nout = (int)k;
    return 0;
}

static void strip_label(char *s)
{
    size_t n = strlen(s);
    if (n > 1 && s[n - 1] == '.') s[n - 1] = 0;
}

static const char *colname(const ekn_csv_schema *s, int c) { return s->cols[c].name; }

static int bad_value(const char *name, const table *t, size_t r, int c, const ekn_csv_schema *s, const char *what,
                     ekn_err *err)
{
    return ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%d:%d: '%s' %s (column '%s' is numeric)", name, t->line[r], c + 1,
                       t->cells[r * t->ncols + c], what, colname(s, c));
}

/* Learns the schema from the table. */
static int fit_schema(const table *t, const char *name, const ekn_csv_opts *o, ekn_csv_schema *s, ekn_err *err)
{
    int nc = t->ncols;
    s->ncols = nc;
    if (!(s->cols = calloc((size_t)nc, sizeof *s->cols))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    for (int c = 0; c < nc; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", c + 1);
        if (!(s->cols[c].name = strdup(t->names ? t->names[c] : num)))
            return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    const char *lc = o->label_column;
    if (!lc) s->label_col = nc - 1;
    else if (!strcmp(lc, "none") || !strcmp(lc, "0")) s->label_col = -1;
    else if ((s->label_col = column_index(lc, t, nc)) < 0)
        return ekn_err_set(err, EKN_EXIT_USAGE, "--label-column '%s': '%s' has %d columns%s", lc, name, nc,
                           t->names ? "" : " and no header (--header)");

    /* column types */
    const char *cat = o->categorical && strcmp(o->categorical, "auto") ? o->categorical : NULL;
    if (cat && strcmp(cat, "none")) {
        char *list = strdup(cat), *save = NULL;
        if (!list) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int c = column_index(tok, t, nc);
            if (c < 0) {
                ekn_err_set(err, EKN_EXIT_USAGE, "--categorical: '%s' has no column '%s'", name, tok);
                free(list);
                return -1;
            }
            s->cols[c].categorical = 1;
        }
        free(list);
    }
    char **vals = malloc(t->nrows * sizeof *vals);
    if (!vals) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int rc = 0;
    for (int c = 0; c < nc && !rc; c++) {
        ekn_csv_column *col = &s->cols[c];
        size_t n = 0;
        int text = 0;
        double sum = 0, v;
        for (size_t r = 0; r < t->nrows; r++) {
            char *cell = t->cells[r * nc + c];
            if (c == s->label_col) strip_label(cell);
            if (is_missing(cell)) continue;
            vals[n++] = cell;
            if (!ekn_parse_number(cell, &v)) text = 1;
        }
        if (c == s->label_col) {
            int integers = 1;
            for (size_t i = 0; i < n && integers; i++) {
                char *e;
                errno = 0;
                strtoll(vals[i], &e, 10);
                if (*e || errno) integers = 0;
            }
            rc = distinct(vals, n, integers ? cmp_int_str : cmp_str, &s->labels, &s->nlabels, err);
            continue;
        }
        if (!cat) col->categorical = text;
        if (col->categorical) {
            rc = distinct(vals, n, cmp_str, &col->cats, &col->ncat, err);
            continue;
        }
        /* numeric: every value must be a finite number; impute with the mean */
        n = 0;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *cell = t->cells[r * nc + c];
            if (is_missing(cell)) continue;
            if (!ekn_parse_number(cell, &v)) { rc = bad_value(name, t, r, c, s, "is not a number", err); break; }
            if (!ekn_f32_fits(v)) { rc = bad_value(name, t, r, c, s, ekn_f32_why(v), err); break; }
            sum += v;
            n++;
        }
        col->impute = n ? sum / (double)n : 0.0;
    }
    free(vals);
    if (rc) return -1;
    int f = 0;
    for (int c = 0; c < nc; c++) {
        s->cols[c].feature = c == s->label_col ? -1 : f;
        if (c != s->label_col) f += s->cols[c].categorical ? s->cols[c].ncat : 1;
    }
    s->nfeatures = f;
    if (f == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no feature columns", name);
    s->fitted = 1;
    return 0;
}

typedef struct { const char *name; int index; } label_ref;
static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const label_ref *)a)->name, ((const label_ref *)b)->name);
}

int ekn_read_csv(ekn_blob *b, const char *name, const ekn_csv_opts *o, ekn_csv_schema *s, ekn_tensor *x,
                 ekn_tensor *y, size_t *unseen, ekn_err *err)
{
    table t;
    if (b->len == 0) return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': empty file", name);
    if (parse_table(b, name, o, &t, err)) return -1;
    int rc = -1;
    label_ref *refs = NULL;
    *unseen = 0;
    if (!s->fitted) {
        if (fit_schema(&t, name, o, s, err)) goto out;
    } else {
        if (t.ncols != s->ncols) {
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s': %d columns, but the statistics are for %d", name, t.ncols, s->ncols);
            goto out;
        }
        if (s->label_col >= 0)
            for (size_t r = 0; r < t.nrows; r++) strip_label(t.cells[r * t.ncols + s->label_col]);
    }
    if (!(refs = malloc(((size_t)s->nlabels + 1) * sizeof *refs))) {
        ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
        goto out;
    }
    for (int k = 0; k < s->nlabels; k++) refs[k] = (label_ref){s->labels[k], k};
    qsort(refs, (size_t)s->nlabels, sizeof *refs, cmp_ref);

    /* rows kept (--missing drop leaves some out) */
    int nc = t.ncols;
    size_t n = 0;
    for (size_t r = 0; r < t.nrows; r++) {
        int miss = 0;
        for (int c = 0; c < nc && !miss; c++) miss = is_missing(t.cells[r * nc + c]);
        if (miss && o->missing == EKN_MISSING_DROP) continue;
        if (miss && o->missing == EKN_MISSING_ERROR) {
            int c = 0;
            while (!is_missing(t.cells[r * nc + c])) c++;
            ekn_err_set(err, EKN_EXIT_FAIL, "'%s':%d:%d: missing value (--missing error)", name, t.line[r], c + 1);
            goto out;
        }
        t.line[n] = t.line[r];
        if (n != r) memmove(t.cells + n * nc, t.cells + r * nc, (size_t)nc * sizeof *t.cells);
        n++;
    }
    if (n == 0) {
        ekn_err_set(err, EKN_EXIT_FAIL, "'%s': no records left after dropping those with missing values", name);
        goto out;
    }
    t.nrows = n;
    uint64_t xs[2] = {n, (uint64_t)s->nfeatures}, ys[1] = {n};
    if (ekn_tensor_reshape(x, EKN_F32, 2, xs, err) ||
        (s->label_col >= 0 && ekn_tensor_reshape(y, EKN_I32, 1, ys, err))) {
        ekn_err_prefix(err, "'%s'", name);
        goto out;
    }
    float *xd = x->data;
    memset(xd, 0, n * (size_t)s->nfeatures * sizeof *xd);
    for (size_t r = 0; r < n; r++) {
        float *row = xd + r * (size_t)s->nfeatures;
        for (int c = 0; c < nc; c++) {
            const ekn_csv_column *col = &s->cols[c];
            const char *cell = t.cells[r * nc + c];
            if (c == s->label_col) {
                int32_t lab = -1;
                if (!is_missing(cell)) {
                    label_ref key = {cell, 0}, *hit = bsearch(&key, refs, (size_t)s->nlabels, sizeof *refs, cmp_ref);
                    if (hit) lab = hit->index;
                    else ++*unseen;
                }
                ((int32_t *)y->data)[r] = lab;
            } else if (col->categorical) {
                if (is_missing(cell)) continue;
                char **hit = bsearch(&cell, col->cats, (size_t)col->ncat, sizeof *col->cats, cmp_str);
                if (hit) row[col->feature + (hit - col->cats)] = 1.0f;
            } else {
                double v;
                if (is_missing(cell)) v = o->missing == EKN_MISSING_ZERO ? 0.0 : col->impute;
                else if (!ekn_parse_number(cell, &v)) { bad_value(name, &t, r, c, s, "is not a number", err); goto out; }
                else if (!ekn_f32_fits(v)) { bad_value(name, &t, r, c, s, ekn_f32_why(v), err); goto out; }
                row[col->feature] = (float)v;
            }
        }
    }
    rc = 0;
out:
    free(refs);
    table_free(&t);
    return rc;
}

void ekn_csv_schema_free(ekn_csv_schema *s)
{
    for (int c = 0; s->cols && c < s->ncols; c++) {
        free(s->cols[c].name);
        for (int k = 0; k < s->cols[c].ncat; k++) free(s->cols[c].cats[k]);
        free(s->cols[c].cats);
    }
    free(s->cols);
    for (int k = 0; k < s->nlabels; k++) free(s->labels[k]);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---- the schema as metadata ------------------------------------------------
 *   csv.columns=15            csv.label=14 (0-based, -1 for none)
 *   csv.col.0=num 38.58 age   csv.col.1=cat workclass Federal-gov|Local-gov|...
 *   csv.labels=<=50K|>50K
 * Names and categories are %-escaped ('%', '|', ' ', control bytes). */

typedef struct { char *p; size_t len, cap; int oom; } sbuf;

static void sb_putc(sbuf *b, char c)
{
    if (b->oom) return;
    if (b->len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s)
{
    while (*s) sb_putc(b, *s++);
}

static void sb_esc(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u == '%' || *u == '|' || *u == ' ' || *u == ',' || *u < 0x20 || *u == 0x7f) {
            sb_putc(b, '%');
            sb_putc(b, hex[*u >> 4]);
            sb_putc(b, hex[*u & 15]);
        } else {
            sb_putc(b, (char)*u);
        }
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Unescapes s[0..n) into a new string. */
static char *unesc(const char *s, size_t n)
{
    char *out = malloc(n + 1), *w = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
            continue;
        }
        *w++ = s[i];
    }
    *w = 0;
    return out;
}

int ekn_csv_schema_save(const ekn_csv_schema *s, ekn_tensor *t, ekn_err *err)
{
    char key[64], val[64];
    snprintf(val, sizeof val, "%d", s->ncols);
    if (ekn_tensor_meta_set(t, "csv.columns", val, err)) return -1;
    snprintf(val, sizeof val, "%d", s->label_col);
    if (ekn_tensor_meta_set(t, "csv.label", val, err)) return -1;
    for (int c = 0; c < s->ncols; c++) {
        const ekn_csv_column *col = &s->cols[c];
        sbuf b = {0};
        if (c == s->label_col) {
            sb_puts(&b, "label ");
        } else if (col->categorical) {
            sb_puts(&b, "cat ");
        } else {
            char num[40];
            snprintf(num, sizeof num, "num %.17g ", col->impute);
            sb_puts(&b, num);
        }
        sb_esc(&b, col->name);
        if (col->categorical && c != s->label_col) {
            sb_putc(&b, ' ');
            for (int k = 0; k < col->ncat; k++) {
                if (k) sb_putc(&b, '|');
                sb_esc(&b, col->cats[k]);
            }
        }
        snprintf(key, sizeof key, "csv.col.%d", c);
        int rc = b.oom ? ekn_err_set(err, EKN_EXIT_FAIL, "out of memory") : ekn_tensor_meta_set(t, key, b.p, err);
        free(b.p);
        if (rc) return -1;
    }
    sbuf b = {0};
    for (int k = 0; k < s->nlabels; k++) {
        if (k) sb_putc(&b, '|');
        sb_esc(&b, s->labels[k]);
    }
    int rc = b.oom ? ekn_err_set(err, EKN_EXIT_FAIL, "out of memory")
                   : ekn_tensor_meta_set(t, "csv.labels", b.p ? b.p : "", err);
    free(b.p);
    return rc;
}

/* Splits s at sep into unescaped strings. */
static int split_list(const char *s, char sep, char ***out, int *n)
{
    int count = *s ? 1 : 0;
    for (const char *p = s; *p; p++) count += *p == sep;
    char **v = calloc(count ? (size_t)count : 1, sizeof *v);
    if (!v) return -1;
    int k = 0;
    for (const char *p = s; *p && k < count; k++) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!(v[k] = unesc(p, len))) {
            for (int j = 0; j < k; j++) free(v[j]);
            free(v);
            return -1;
        }
        p = e ? e + 1 : p + len;
    }
    *out = v;
    *n = count;
    return 0;
}

int ekn_csv_schema_load(ekn_csv_schema *s, const ekn_tensor *t, ekn_err *err)
{
    memset(s, 0, sizeof *s);
    char val[64];
    if (!ekn_tensor_meta_get(t, "csv.columns", val, sizeof val)) return 0;
    s->ncols = atoi(val);
    if (!ekn_tensor_meta_get(t, "csv.label", val, sizeof val) || s->ncols < 1 || s->ncols > 1000000)
        return ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema");
    s->label_col = atoi(val);
    if (s->label_col < -1 || s->label_col >= s->ncols) return ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema");
    if (!(s->cols = calloc((size_t)s->ncols, sizeof *s->cols))) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    size_t cap = t->meta ? strlen(t->meta) + 1 : 1;
    char *line = malloc(cap);
    if (!line) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int rc = 0, f = 0;
    for (int c = 0; c < s->ncols && !rc; c++) {
        ekn_csv_column *col = &s->cols[c];
        char key[64];
        snprintf(key, sizeof key, "csv.col.%d", c);
        if (!ekn_tensor_meta_get(t, key, line, cap)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema: no '%s'", key);
            break;
        }
        char *sp = strchr(line, ' ');
        if (!sp) { rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema at '%s'", key); break; }
        *sp++ = 0;
        col->feature = -1;
        if (!strcmp(line, "num")) {
            char *e;
            col->impute = strtod(sp, &e);
            if (*e != ' ') { rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema at '%s'", key); break; }
            sp = e + 1;
        } else if (!strcmp(line, "cat")) {
            col->categorical = 1;
        } else if (strcmp(line, "label") || c != s->label_col) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema at '%s'", key);
            break;
        }
        char *rest = col->categorical ? strchr(sp, ' ') : NULL;
        if (col->categorical && !rest) { rc = ekn_err_set(err, EKN_EXIT_FAIL, "malformed CSV schema at '%s'", key); break; }
        if (!(col->name = unesc(sp, rest ? (size_t)(rest - sp) : strlen(sp)))) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            break;
        }
        if (rest && split_list(rest + 1, '|', &col->cats, &col->ncat)) {
            rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
            break;
        }
        if (c != s->label_col) {
            col->feature = f;
            f += col->categorical ? col->ncat : 1;
        }
    }
    if (!rc) {
        if (!ekn_tensor_meta_get(t, "csv.labels", line, cap)) line[0] = 0;
        if (split_list(line, '|', &s->labels, &s->nlabels)) rc = ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    }
    free(line);
    if (rc) {
        ekn_csv_schema_free(s);
        return -1;
    }
    s->nfeatures = f;
    s->fitted = 1;
    return 1;
}

char *ekn_csv_feature_names(const ekn_csv_schema *s)
{
    sbuf b = {0};
    for (int c = 0; c < s->ncols; c++) {
        const ekn_csv_column *col = &s->cols[c];
        if (c == s->label_col) continue;
        int n = col->categorical ? col->ncat : 1;
        for (int k = 0; k < n; k++) {
            if (b.len) sb_putc(&b, ',');
            sb_esc(&b, col->name);
            if (col->categorical) {
                sb_putc(&b, '=');
                sb_esc(&b, col->cats[k]);
            }
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p ? b.p : strdup("");
}

/* ---- its row of the reader table (readers.h): a table, which
 * ekn_prep_load reads with the CSV options (read is NULL) ---- */
const ekn_file_reader ekn_file_reader_csv = {
    .format = EKN_FMT_CSV,
    .name = "csv",
    .suffixes = (const char *const[]){".csv", ".tsv", ".data", ".test", ".txt", NULL},
    .flags = EKN_READER_TEXT,
};
