/* spec: parser of the network spec format; see spec.h and ekn-spec(5).
 *
 * The text is read line by line.  The keys of a section are collected first
 * (so their order within a section does not matter) and checked when the
 * section ends; checks that need the whole network (last layer, softmax only
 * last, odd field of view for img-img) run at the end of the text.
 *
 * A layer section's name, accepted keys and kind-specific keys belong to its
 * kind (ekn_layer_class in layer.h, layer_*.c): this file reads what every
 * layer shares (name, input, act, alpha, dropout, noise, decay, init) and
 * calls the kind's parse and check hooks, which read their own keys through
 * the helpers of spec_keys.h. */
#include "spec.h"

#include "layer.h"
#include "spec_keys.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 1024
#define MAX_VALUE 256
#define MAX_SPEC_BYTES (1 << 20)
#define MAX_UNITS EKN_SPEC_MAX_UNITS
#define MAX_EXTENT (1 << 24)    /* spatial size per axis, features */
#define MAX_FOV (1 << 30)       /* field of view / stride, kept well inside int */

static const char *const key_names[EKN_NKEYS] = {
    "name", "input", "mode", "channels", "shape", "noise", "filters", "units",
    "size", "act", "alpha", "dropout", "decay", "init", "mfp", "stride", "pad", "tied",
    "kind", "groups", "momentum", "eps", "target", "maxout", "loss", "gamma", "pos_weight",
};

/* Sections: [input], then one per layer kind in ekn_layer_kind's order
 * (section i is kind i - 1), named and keyed by the kinds' classes. */
enum { S_INPUT, NSECT = EKN_LAYER_KINDS + 1 };
#define B(k) EKN_KEY_BIT(k)
static const unsigned input_keys = B(EKN_KEY_NAME) | B(EKN_KEY_MODE) | B(EKN_KEY_CHANNELS) | B(EKN_KEY_SHAPE) |
                                   B(EKN_KEY_NOISE) | B(EKN_KEY_TARGET);

static const char *sect_name(int sect)
{
    return sect == S_INPUT ? "input" : ekn_layer_class_of((ekn_layer_kind)(sect - 1))->name;
}

static unsigned sect_keys(int sect)
{
    return sect == S_INPUT ? input_keys : EKN_KEYS_LAYER | ekn_layer_class_of((ekn_layer_kind)(sect - 1))->keys;
}

struct ekn_spec_ctx {
    ekn_spec *spec;
    const char *file;
    ekn_err *err;
    int sect;               /* current section, -1 before the first */
    int line;               /* header line of the current section */
    int kline[EKN_NKEYS];       /* line of each key given in the current section, 0 = absent */
    char val[EKN_NKEYS][MAX_VALUE];
    int input_line;         /* line of [input], 0 until seen */
    char input_name[EKN_SPEC_NAME_MAX];
    char ndim_src[64];      /* where ndim came from, for messages */
};
typedef ekn_spec_ctx parser;

static int perr(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int line, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ekn_err_set(p->err, EKN_EXIT_SPEC, "%s:%d: %s", p->file, line, buf);
}

/* ---- names ---------------------------------------------------------------- */

const char *ekn_mode_name(ekn_mode m)
{
    switch (m) {
    case EKN_MODE_IMG_IMG: return "img-img";
    case EKN_MODE_IMG_SCALAR: return "img-scalar";
    case EKN_MODE_VECT_SCALAR: return "vect-scalar";
    }
    return "?";
}

const char *ekn_layer_kind_name(ekn_layer_kind k)
{
    return (unsigned)k < EKN_LAYER_KINDS ? ekn_layer_class_of(k)->name : "?";
}

const char *ekn_spec_act_name(int act)
{
    if (act == EKN_ACT_SOFTMAX) return "softmax";
    if (act == EKN_ACT_PRELU) return "prelu";
    return ekn_act_name((ekn_act)act);
}

/* ---- value parsers (all return 0, or -1 with the error set) ---------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

static int parse_int(parser *p, int k, const char *s, long lo, long hi, int *out)
{
    int line = p->kline[k];
    if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return perr(p, line, "'%s': '%s' is not an integer", key_names[k], s);
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end) return perr(p, line, "'%s': '%s' is not an integer", key_names[k], s);
    if (errno == ERANGE || v < lo || v > hi)
        return perr(p, line, "'%s' must be in %ld..%ld, not %s", key_names[k], lo, hi, s);
    *out = (int)v;
    return 0;
}

/* A float in [lo, hi] (hi_open: [lo, hi)). */
static int parse_float(parser *p, int k, const char *s, double lo, double hi, int hi_open,
                       float *out)
{
    int line = p->kline[k];
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.'))
        return perr(p, line, "'%s': '%s' is not a number", key_names[k], s);
    if (!isfinite(v) || errno == ERANGE)
        return perr(p, line, "'%s': '%s' is out of range", key_names[k], s);
    if (v < lo || v > hi || (hi_open && v >= hi))
        return perr(p, line, "'%s' must be in [%g, %g%s, not %s", key_names[k], lo, hi,
                    hi_open ? ")" : "]", s);
    *out = (float)v;
    return 0;
}

/* Comma-separated integers ("5,5" or "1, 4, 4"), 1..3 of them. */
static int parse_list(parser *p, int k, const char *s, long lo, long hi, int v[3], int *n)
{
    int line = p->kline[k];
    char buf[MAX_VALUE];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    char *cur = buf;
    for (;;) {
        char *comma = strchr(cur, ',');
        if (comma) *comma = '\0';
        const char *item = trim(cur);
        if (!*item)
            return perr(p, line, "'%s': empty item in '%s' (expected e.g. 5,5)", key_names[k], s);
        if (*n == 3)
            return perr(p, line, "'%s': more than 3 values in '%s' (at most Z,Y,X)", key_names[k], s);
        if (!isdigit((unsigned char)item[0]) && item[0] != '-')
            return perr(p, line, "'%s': '%s' is not an integer", key_names[k], item);
        errno = 0;
        char *end;
        long x = strtol(item, &end, 10);
        if (*end) return perr(p, line, "'%s': '%s' is not an integer", key_names[k], item);
        if (errno == ERANGE || x < lo || x > hi)
            return perr(p, line, "'%s': each value must be in %ld..%ld, not %s", key_names[k], lo,
                        hi, item);
        v[(*n)++] = (int)x;
        if (!comma) break;
        cur = comma + 1;
    }
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= EKN_SPEC_NAME_MAX) return 0;
    if (!isalpha((unsigned char)s[0]) && s[0] != '_') return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

/* ---- sections --------------------------------------------------------------- */

static const char *axis_names(int ndim)
{
    return ndim == 3 ? "Z,Y,X" : ndim == 2 ? "Y,X" : "X";
}

static int finish_input(parser *p)
{
    ekn_spec *s = p->spec;
    if (p->kline[EKN_KEY_NAME]) {
        if (!valid_name(p->val[EKN_KEY_NAME]))
            return perr(p, p->kline[EKN_KEY_NAME],
                        "'name': '%s' is not a valid name (letters, digits, '_', '-'; at most %d "
                        "characters)", p->val[EKN_KEY_NAME], EKN_SPEC_NAME_MAX - 1);
        snprintf(p->input_name, sizeof p->input_name, "%s", p->val[EKN_KEY_NAME]);
    }
    if (!p->kline[EKN_KEY_MODE])
        return perr(p, p->line, "[input]: missing required key 'mode' (img-img, img-scalar or "
                                "vect-scalar)");
    const char *m = p->val[EKN_KEY_MODE];
    if (!strcmp(m, "img-img")) s->mode = EKN_MODE_IMG_IMG;
    else if (!strcmp(m, "img-scalar")) s->mode = EKN_MODE_IMG_SCALAR;
    else if (!strcmp(m, "vect-scalar")) s->mode = EKN_MODE_VECT_SCALAR;
    else
        return perr(p, p->kline[EKN_KEY_MODE],
                    "'mode': unknown mode '%s' (img-img, img-scalar or vect-scalar)", m);

    s->channels = 1;
    if (p->kline[EKN_KEY_CHANNELS]) {
        if (parse_int(p, EKN_KEY_CHANNELS, p->val[EKN_KEY_CHANNELS], 1, MAX_UNITS, &s->channels)) return -1;
        if (s->mode == EKN_MODE_VECT_SCALAR && s->channels != 1)
            return perr(p, p->kline[EKN_KEY_CHANNELS],
                        "'channels' must be 1 with mode = vect-scalar (give the feature count "
                        "as 'shape')");
    }
    if (p->kline[EKN_KEY_NOISE] &&
        parse_float(p, EKN_KEY_NOISE, p->val[EKN_KEY_NOISE], 0, 1e6, 0, &s->noise))
        return -1;
    if (p->kline[EKN_KEY_TARGET]) {
        if (strcmp(p->val[EKN_KEY_TARGET], "input") && strcmp(p->val[EKN_KEY_TARGET], "label"))
            return perr(p, p->kline[EKN_KEY_TARGET], "'target' must be 'input' (an autoencoder) or 'label', not '%s'",
                        p->val[EKN_KEY_TARGET]);
        s->target_input = !strcmp(p->val[EKN_KEY_TARGET], "input");
        if (s->target_input && s->mode == EKN_MODE_IMG_IMG)
            return perr(p, p->kline[EKN_KEY_TARGET], "'target = input' needs mode = img-scalar or vect-scalar (the output "
                                               "is compared with the whole input)");
    }

    s->shape[0] = s->shape[1] = s->shape[2] = 0;
    if (p->kline[EKN_KEY_SHAPE]) {
        int v[3], n;
        if (parse_list(p, EKN_KEY_SHAPE, p->val[EKN_KEY_SHAPE], 1, MAX_EXTENT, v, &n)) return -1;
        if (s->mode == EKN_MODE_VECT_SCALAR && n != 1)
            return perr(p, p->kline[EKN_KEY_SHAPE],
                        "'shape' must be one number (the feature count) with mode = vect-scalar");
        for (int d = 0; d < 3; d++) s->shape[d] = 1;
        for (int i = 0; i < n; i++) s->shape[3 - n + i] = v[i];
        s->ndim = n;
        s->has_shape = 1;
        snprintf(p->ndim_src, sizeof p->ndim_src, "'shape' at line %d", p->kline[EKN_KEY_SHAPE]);
    } else if (s->mode == EKN_MODE_IMG_SCALAR) {
        return perr(p, p->line, "[input]: missing required key 'shape' (required with mode = "
                                "img-scalar: the dense layers need the input size)");
    }
    if (s->mode == EKN_MODE_VECT_SCALAR) {
        s->ndim = 1;
        snprintf(p->ndim_src, sizeof p->ndim_src, "mode = vect-scalar");
    }
    return 0;
}

/* The layer `name` names: an earlier layer's index or EKN_INPUT_NODE;
 * -2 with the error set otherwise. */
static int resolve_input(parser *p, int idx, const char *name)
{
    const ekn_spec *s = p->spec;
    if (!strcmp(name, p->input_name)) return EKN_INPUT_NODE;
    for (int j = 0; j < idx; j++)
        if (!strcmp(s->layers[j].name, name)) return j;
    perr(p, p->kline[EKN_KEY_INPUT], "'input': no layer '%s' before this one (a layer reads only layers above it, "
                               "so the network has no cycles)", name);
    return -2;
}

static int parse_inputs(parser *p, ekn_spec_layer *L, int idx)
{
    const ekn_spec *s = p->spec;
    L->ninputs = 1;
    L->inputs[0] = idx ? idx - 1 : EKN_INPUT_NODE;
    if (!p->kline[EKN_KEY_INPUT]) return 0;
    char buf[MAX_VALUE];
    snprintf(buf, sizeof buf, "%s", p->val[EKN_KEY_INPUT]);
    int n = 0;
    for (char *cur = buf, *comma;; cur = comma + 1) {
        comma = strchr(cur, ',');
        if (comma) *comma = '\0';
        const char *item = trim(cur);
        if (!*item) return perr(p, p->kline[EKN_KEY_INPUT], "'input': empty item in '%s'", p->val[EKN_KEY_INPUT]);
        if (n == EKN_MAX_INPUTS)
            return perr(p, p->kline[EKN_KEY_INPUT], "'input': more than %d layers", EKN_MAX_INPUTS);
        int j = resolve_input(p, idx, item);
        if (j == -2) return -1;
        for (int k = 0; k < n; k++)
            if (L->inputs[k] == j) return perr(p, p->kline[EKN_KEY_INPUT], "'input': '%s' is named twice", item);
        L->inputs[n++] = j;
        if (!comma) break;
    }
    L->ninputs = n;
    (void)s;
    return 0;
}

static int parse_choice(parser *p, int k, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p->val[k], names[i])) return *out = i, 0;
    char list[128] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? (i == n - 1 ? " or " : ", ") : "", names[i]);
    }
    return perr(p, p->kline[k], "'%s': unknown value '%s' (%s)", key_names[k], p->val[k], list);
}

/* Per-axis integers (size, stride) into v (Z,Y,X), unused leading axes 1;
 * the first list given decides the spec's spatial dimensions. */
static int parse_axes(parser *p, int k, long lo, long hi, int v[3])
{
    ekn_spec *s = p->spec;
    int vals[3], n;
    v[0] = v[1] = v[2] = 1;
    if (parse_list(p, k, p->val[k], lo, hi, vals, &n)) return -1;
    if (!s->ndim) {
        s->ndim = n;
        snprintf(p->ndim_src, sizeof p->ndim_src, "'%s' at line %d", key_names[k], p->kline[k]);
    } else if (n != s->ndim) {
        return perr(p, p->kline[k],
                    "'%s' has %d value%s but the input has %d spatial dimension%s (%s, "
                    "from %s)", key_names[k], n, n == 1 ? "" : "s", s->ndim, s->ndim == 1 ? "" : "s",
                    axis_names(s->ndim), p->ndim_src);
    }
    for (int i = 0; i < n; i++) v[3 - n + i] = vals[i];
    return 0;
}

/* ---- what the layer kinds read their keys with (spec_keys.h) --------------- */

const char *ekn_spec_key_name(int key) { return (unsigned)key < EKN_NKEYS ? key_names[key] : "?"; }

ekn_spec *ekn_spec_of(ekn_spec_ctx *c) { return c->spec; }

int ekn_spec_key_given(const ekn_spec_ctx *c, int key) { return (unsigned)key < EKN_NKEYS ? c->kline[key] : 0; }

const char *ekn_spec_key_value(const ekn_spec_ctx *c, int key)
{
    return ekn_spec_key_given(c, key) ? c->val[key] : "";
}

int ekn_spec_error(ekn_spec_ctx *c, int line, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return perr(c, line, "%s", buf);
}

int ekn_spec_key_require(ekn_spec_ctx *c, const ekn_spec_layer *L, int key)
{
    if (ekn_spec_key_given(c, key)) return 0;
    return perr(c, c->line, "[%s]: missing required key '%s'", ekn_layer_kind_name(L->kind), ekn_spec_key_name(key));
}

int ekn_spec_key_int(ekn_spec_ctx *c, int key, long lo, long hi, int *out)
{
    return ekn_spec_key_given(c, key) ? parse_int(c, key, c->val[key], lo, hi, out) : 0;
}

int ekn_spec_key_float(ekn_spec_ctx *c, int key, double lo, double hi, int hi_open, float *out)
{
    return ekn_spec_key_given(c, key) ? parse_float(c, key, c->val[key], lo, hi, hi_open, out) : 0;
}

int ekn_spec_key_axes(ekn_spec_ctx *c, int key, long lo, long hi, int v[3])
{
    return ekn_spec_key_given(c, key) ? parse_axes(c, key, lo, hi, v) : 0;
}

int ekn_spec_key_choice(ekn_spec_ctx *c, int key, const char *const *names, int n, int *out)
{
    return ekn_spec_key_given(c, key) ? parse_choice(c, key, names, n, out) : 0;
}

static int flattened(const ekn_spec *s, int input)
{
    return input != EKN_INPUT_NODE && s->layers[input].kind == EKN_LAYER_DENSE;
}

static int finish_layer(parser *p)
{
    ekn_spec *s = p->spec;
    if (s->nlayers == EKN_MAX_LAYERS)
        return perr(p, p->line, "too many layers (at most %d)", EKN_MAX_LAYERS);
    int idx = s->nlayers;
    ekn_spec_layer *L = &s->layers[idx];
    memset(L, 0, sizeof *L);
    L->kind = (ekn_layer_kind)(p->sect - 1);
    L->line = p->line;
    L->tied = -1;
    const char *kind = sect_name(p->sect);
    const ekn_layer_class *cls = ekn_layer_class_of(L->kind);
    int spatial = L->kind != EKN_LAYER_DENSE, merge = L->kind == EKN_LAYER_CONCAT || L->kind == EKN_LAYER_ADD;

    /* name, then the layers it reads */
    if (p->kline[EKN_KEY_NAME]) {
        if (!valid_name(p->val[EKN_KEY_NAME]))
            return perr(p, p->kline[EKN_KEY_NAME],
                        "'name': '%s' is not a valid name (letters, digits, '_', '-'; at most %d "
                        "characters)", p->val[EKN_KEY_NAME], EKN_SPEC_NAME_MAX - 1);
        snprintf(L->name, sizeof L->name, "%s", p->val[EKN_KEY_NAME]);
    } else {
        snprintf(L->name, sizeof L->name, "%s%d", kind, idx + 1);
    }
    if (!strcmp(L->name, p->input_name))
        return perr(p, p->kline[EKN_KEY_NAME] ? p->kline[EKN_KEY_NAME] : p->line,
                    "layer name '%s' is already the name of [input]", L->name);
    for (int j = 0; j < idx; j++)
        if (!strcmp(s->layers[j].name, L->name))
            return perr(p, p->kline[EKN_KEY_NAME] ? p->kline[EKN_KEY_NAME] : p->line,
                        "layer name '%s' is already used by the layer at line %d", L->name,
                        s->layers[j].line);
    if (parse_inputs(p, L, idx)) return -1;
    if (merge && L->ninputs < 2)
        return perr(p, p->kline[EKN_KEY_INPUT] ? p->kline[EKN_KEY_INPUT] : p->line,
                    "[%s] merges layers: name at least two in 'input' (e.g. input = up1, conv2)", kind);
    if (!merge && L->ninputs > 1)
        return perr(p, p->kline[EKN_KEY_INPUT], "[%s] reads one layer, not %d (merge them with [concat] or [add] first)",
                    kind, L->ninputs);

    /* where this kind of layer may go */
    if (s->mode == EKN_MODE_VECT_SCALAR && L->kind != EKN_LAYER_DENSE && L->kind != EKN_LAYER_ADD &&
        L->kind != EKN_LAYER_CONCAT && L->kind != EKN_LAYER_NORM)
        return perr(p, p->line, "[%s] is not allowed with mode = vect-scalar (feature vectors "
                                "have no spatial axes: use [dense])", kind);
    if (s->mode == EKN_MODE_IMG_IMG && L->kind == EKN_LAYER_DENSE)
        return perr(p, p->line, "[dense] is not allowed with mode = img-img (only conv and pool "
                                "layers; use a 1x1 conv for per-pixel outputs)");
    for (int k = 0; k < L->ninputs; k++)
        if (spatial && !merge && L->kind != EKN_LAYER_NORM && flattened(s, L->inputs[k]))
            return perr(p, p->line, "[%s] after [dense] '%s': dense flattens its input, so conv and "
                                    "pool layers must come first", kind, s->layers[L->inputs[k]].name);

    /* what the kind reads first (required keys, sizes), spec.c's defaults */
    L->size[0] = L->size[1] = L->size[2] = 1;
    L->stride[0] = L->stride[1] = L->stride[2] = 1;
    if (cls->parse && cls->parse(p, L)) return -1;

    /* activation and its companions */
    L->act = cls->default_act;
    if (p->kline[EKN_KEY_ACT]) {
        const char *a = p->val[EKN_KEY_ACT];
        int act = !strcmp(a, "softmax") ? EKN_ACT_SOFTMAX : !strcmp(a, "prelu") ? EKN_ACT_PRELU : ekn_act_from_name(a);
        if (act < 0)
            return perr(p, p->kline[EKN_KEY_ACT], "'act': unknown activation '%s' (linear, relu, leaky, "
                                            "tanh, sigmoid, abs, elu, silu, softplus, prelu, softmax)", a);
        L->act = act;
    }
    L->alpha = 0.01f;
    if (p->kline[EKN_KEY_ALPHA]) {
        if (L->act != EKN_ACT_LEAKY && L->act != EKN_ACT_ELU)
            return perr(p, p->kline[EKN_KEY_ALPHA], "'alpha' is only used with act = leaky or act = elu");
        if (parse_float(p, EKN_KEY_ALPHA, p->val[EKN_KEY_ALPHA], 0, L->act == EKN_ACT_ELU ? 1e3 : 1, L->act == EKN_ACT_LEAKY,
                        &L->alpha))
            return -1;
    } else if (L->act == EKN_ACT_ELU) {
        L->alpha = 1.0f;
    }
    if (p->kline[EKN_KEY_DROPOUT] &&
        parse_float(p, EKN_KEY_DROPOUT, p->val[EKN_KEY_DROPOUT], 0, 1, 1, &L->dropout))
        return -1;
    if (p->kline[EKN_KEY_NOISE] && parse_float(p, EKN_KEY_NOISE, p->val[EKN_KEY_NOISE], 0, 1e6, 0, &L->noise)) return -1;
    L->decay_mult = cls->no_decay ? 0 : 1;
    if (p->kline[EKN_KEY_DECAY] && parse_float(p, EKN_KEY_DECAY, p->val[EKN_KEY_DECAY], 0, 1e6, 0, &L->decay_mult))
        return -1;
    L->init = (L->act == EKN_ACT_RELU || L->act == EKN_ACT_LEAKY || L->act == EKN_ACT_ABS || L->act == EKN_ACT_PRELU)
                  ? EKN_INIT_HE : EKN_INIT_GLOROT;
    if (p->kline[EKN_KEY_INIT]) {
        const char *v = p->val[EKN_KEY_INIT];
        if (!strcmp(v, "he")) L->init = EKN_INIT_HE;
        else if (!strcmp(v, "glorot")) L->init = EKN_INIT_GLOROT;
        else return perr(p, p->kline[EKN_KEY_INIT], "'init': unknown initialisation '%s' (he or glorot)", v);
    }
    L->momentum = 0.1f;
    L->eps = 1e-5f;
    /* the loss (checked against the activation when the spec ends: only the last layer may give it) */
    static const char *const losses[] = {"default", "nll", "mse", "bce", "focal", "dice"};
    if (p->kline[EKN_KEY_LOSS]) {
        int lo = -1;
        for (int k = 1; k < 6; k++)
            if (!strcmp(p->val[EKN_KEY_LOSS], losses[k])) lo = k;
        if (lo < 0)
            return perr(p, p->kline[EKN_KEY_LOSS], "'loss': unknown loss '%s' (nll, focal, dice, bce, mse)",
                        p->val[EKN_KEY_LOSS]);
        L->loss = lo;
    }
    L->gamma = -1; /* not given */
    if (p->kline[EKN_KEY_GAMMA] && parse_float(p, EKN_KEY_GAMMA, p->val[EKN_KEY_GAMMA], 0, 100, 0, &L->gamma))
        return -1;
    if (p->kline[EKN_KEY_POS_WEIGHT] &&
        parse_float(p, EKN_KEY_POS_WEIGHT, p->val[EKN_KEY_POS_WEIGHT], 0, 1e6, 0, &L->pos_weight))
        return -1;
    if (p->kline[EKN_KEY_POS_WEIGHT] && !(L->pos_weight > 0))
        return perr(p, p->kline[EKN_KEY_POS_WEIGHT], "'pos_weight' must be > 0, not %s", p->val[EKN_KEY_POS_WEIGHT]);
    for (int k = EKN_KEY_LOSS; k <= EKN_KEY_POS_WEIGHT; k++)
        if (p->kline[k]) L->loss_line = L->loss_line ? L->loss_line : p->kline[k];

    /* what the kind reads after the shared keys */
    if (cls->check && cls->check(p, L)) return -1;
    s->nlayers++;
    return 0;
}

static int finish_section(parser *p)
{
    if (p->sect < 0) return 0;
    return p->sect == S_INPUT ? finish_input(p) : finish_layer(p);
}

/* Field of view of the conv/pool layers per axis; -1 (error set) if it grows
 * past MAX_FOV. */
static int spec_fov(parser *p, int fov[3])
{
    const ekn_spec *s = p->spec;
    for (int d = 0; d < 3; d++) {
        long long f = 1, stride = 1;
        for (int i = 0; i < s->nlayers; i++) {
            const ekn_spec_layer *L = &s->layers[i];
            if (L->kind == EKN_LAYER_DENSE) break;
            f += (long long)(L->size[d] - 1) * stride;
            if (L->kind == EKN_LAYER_POOL) stride *= L->size[d];
            if (f > MAX_FOV || stride > MAX_FOV)
                return perr(p, L->line, "layer '%s': the field of view grows past %d in %c", L->name,
                            MAX_FOV, "ZYX"[d]);
        }
        fov[d] = (int)f;
    }
    return 0;
}

/* The last layer's loss keys against its activation, into s->loss, gamma, pos_weight; other layers may not give them. */
static int spec_loss(parser *p, const ekn_spec_layer *last)
{
    ekn_spec *s = p->spec;
    for (int i = 0; i < s->nlayers - 1; i++)
        if (s->layers[i].loss_line)
            return perr(p, s->layers[i].loss_line, "layer '%s': 'loss', 'gamma' and 'pos_weight' belong to the "
                                                   "last layer ('%s')", s->layers[i].name, last->name);
    int act = last->act, lo = last->loss;
    if (!lo) lo = act == EKN_ACT_SOFTMAX ? EKN_LOSS_NLL : act == EKN_ACT_SIGMOID ? EKN_LOSS_BCE : EKN_LOSS_MSE;
    int ok = act == EKN_ACT_SOFTMAX ? lo == EKN_LOSS_NLL || lo == EKN_LOSS_FOCAL || lo == EKN_LOSS_DICE
             : act == EKN_ACT_SIGMOID ? lo == EKN_LOSS_BCE || lo == EKN_LOSS_DICE
                                      : lo == EKN_LOSS_MSE;
    if (!ok)
        return perr(p, last->loss_line, "the last layer ('%s'): loss = %s does not go with act = %s (softmax: nll, "
                                        "focal, dice; sigmoid: bce, dice; linear: mse)",
                    last->name, ekn_spec_loss_name(lo), ekn_spec_act_name(act));
    if (last->gamma >= 0 && lo != EKN_LOSS_FOCAL)
        return perr(p, last->loss_line, "the last layer ('%s'): 'gamma' is only used with loss = focal", last->name);
    if (last->pos_weight && lo != EKN_LOSS_BCE)
        return perr(p, last->loss_line, "the last layer ('%s'): 'pos_weight' is only used with loss = bce",
                    last->name);
    s->loss = lo;
    s->gamma = lo == EKN_LOSS_FOCAL ? (last->gamma >= 0 ? last->gamma : 2.0f) : 0;
    s->pos_weight = lo == EKN_LOSS_BCE ? (last->pos_weight ? last->pos_weight : 1.0f) : 0;
    return 0;
}

static int finish_all(parser *p, int last_line)
{
    ekn_spec *s = p->spec;
    if (!p->input_line)
        return perr(p, last_line, "no [input] section (a spec starts with [input] and its 'mode')");
    if (!s->nlayers) return perr(p, last_line, "no layers after [input]");
    if (s->ndim < 1 || s->ndim > 3) s->ndim = 1;
    if (!s->has_shape)
        for (int d = 0; d < 3; d++) s->shape[d] = 0;

    int used[EKN_MAX_LAYERS] = {0};
    for (int i = 0; i < s->nlayers; i++) {
        for (int k = 0; k < s->layers[i].ninputs; k++)
            if (s->layers[i].inputs[k] >= 0) used[s->layers[i].inputs[k]] = 1;
        if (ekn_spec_layer_is_graph(s, i)) s->graph = 1;
    }
    for (int i = 0; i < s->nlayers - 1; i++)
        if (!used[i])
            return perr(p, s->layers[i].line, "layer '%s': its output is not used (the last layer, '%s', is the "
                                              "net's output; name this one in some layer's 'input')",
                        s->layers[i].name, s->layers[s->nlayers - 1].name);
    for (int i = 0; i < s->nlayers; i++) {
        ekn_spec_layer *L = &s->layers[i];
        if (L->tied < 0 || L->units) continue;
        /* a tied decoder gives back what its encoder read */
        const ekn_spec_layer *E = &s->layers[L->tied];
        int src = E->inputs[0];
        if (src == EKN_INPUT_NODE && s->has_shape)
            L->units = s->channels * s->shape[0] * s->shape[1] * s->shape[2];
        else if (src != EKN_INPUT_NODE && s->layers[src].kind == EKN_LAYER_DENSE)
            L->units = s->layers[src].units;
        else
            return perr(p, L->line, "layer '%s': give 'units' (the size of what '%s' reads)", L->name, E->name);
    }
    for (int i = 0; s->graph && i < s->nlayers; i++)
        if (s->layers[i].mfp)
            return perr(p, s->layers[i].line, "layer '%s': max fragment pooling (mfp = 1) needs a plain chain of "
                                              "valid conv and pool layers", s->layers[i].name);
    for (int i = 0; i < s->nlayers - 1; i++)
        if (s->layers[i].act == EKN_ACT_SOFTMAX)
            return perr(p, s->layers[i].line, "layer '%s': act = softmax is only allowed on the "
                                              "last layer", s->layers[i].name);
    const ekn_spec_layer *last = &s->layers[s->nlayers - 1];
    ekn_layer_kind want = s->mode == EKN_MODE_IMG_IMG ? EKN_LAYER_CONV : EKN_LAYER_DENSE;
    if (last->kind != want)
        return perr(p, last->line, "the last layer ('%s') must be [%s] with mode = %s", last->name,
                    ekn_layer_kind_name(want), ekn_mode_name(s->mode));
    if (last->act != EKN_ACT_SOFTMAX && last->act != EKN_ACT_LINEAR && last->act != EKN_ACT_SIGMOID)
        return perr(p, last->line, "the last layer ('%s') needs act = softmax (classification), "
                                   "act = sigmoid (independent labels per channel) or act = linear "
                                   "(regression), not %s", last->name,
                    ekn_spec_act_name(last->act));
    if (spec_loss(p, last)) return -1;
    if (last->act == EKN_ACT_SOFTMAX && last->units < 2)
        return perr(p, last->line, "the last layer ('%s'): softmax needs at least 2 classes, not %d",
                    last->name, last->units);
    if (last->dropout > 0)
        return perr(p, last->line, "the last layer ('%s') cannot have dropout", last->name);

    if (s->target_input && last->act == EKN_ACT_SOFTMAX)
        return perr(p, last->line, "the last layer ('%s'): 'target = input' regresses onto the input, so it needs "
                                   "act = linear", last->name);
    if (s->graph) return 0; /* the calculator checks a graph's geometry */
    int fov[3];
    if (spec_fov(p, fov)) return -1;
    if (s->mode == EKN_MODE_IMG_IMG)
        for (int d = 3 - s->ndim; d < 3; d++)
            if (fov[d] % 2 == 0)
                return perr(p, last->line, "the field of view is %d in %c, an even number: "
                                           "img-img needs an odd field of view so that each "
                                           "output has a centre pixel (change a filter size by "
                                           "1)", fov[d], "ZYX"[d]);
    return 0;
}

/* ---- the line loop ----------------------------------------------------------- */

static int parse_line(parser *p, char *raw, int lineno)
{
    char *hash = strchr(raw, '#');
    if (hash) *hash = '\0';
    char *s = trim(raw);
    if (!*s) return 0;

    if (*s == '[') {
        size_t n = strlen(s);
        if (s[n - 1] != ']')
            return perr(p, lineno, "malformed section header '%s' (expected e.g. [conv])", s);
        s[n - 1] = '\0';
        const char *name = trim(s + 1);
        int sect = -1;
        for (int i = 0; i < NSECT; i++)
            if (!strcmp(name, sect_name(i))) sect = i;
        if (sect < 0) {
            char list[256] = "";
            for (int i = 0; i < NSECT; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", sect_name(i));
            }
            return perr(p, lineno, "unknown section [%s] (sections: %s)", name, list);
        }
        if (finish_section(p)) return -1;
        if (sect == S_INPUT && p->input_line)
            return perr(p, lineno, "duplicate section [input] (first at line %d)", p->input_line);
        if (sect != S_INPUT && !p->input_line)
            return perr(p, lineno, "[%s] before [input]: a spec starts with [input]", name);
        p->sect = sect;
        p->line = lineno;
        memset(p->kline, 0, sizeof p->kline);
        if (sect == S_INPUT) p->input_line = p->spec->input_line = lineno;
        return 0;
    }

    char *eq = strchr(s, '=');
    if (!eq) return perr(p, lineno, "expected 'key = value' or '[section]', not '%s'", s);
    *eq = '\0';
    const char *key = trim(s);
    const char *val = trim(eq + 1);
    if (!*key) return perr(p, lineno, "missing key before '='");
    int k = -1;
    for (int i = 0; i < EKN_NKEYS; i++)
        if (!strcmp(key, key_names[i])) k = i;
    if (p->sect < 0)
        return perr(p, lineno, "key '%s' before the first section (a spec starts with [input])", key);
    if (k < 0 || !(sect_keys(p->sect) & B(k))) {
        char list[256] = "";
        for (int i = 0; i < EKN_NKEYS; i++)
            if (sect_keys(p->sect) & B(i)) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", key_names[i]);
            }
        return perr(p, lineno, "unknown key '%s' in [%s] (keys: %s)", key,
                    sect_name(p->sect), list);
    }
    if (p->kline[k])
        return perr(p, lineno, "duplicate key '%s' (first at line %d)", key, p->kline[k]);
    if (!*val) return perr(p, lineno, "'%s' has no value", key);
    if (strlen(val) >= MAX_VALUE) return perr(p, lineno, "value of '%s' is too long", key);
    p->kline[k] = lineno;
    snprintf(p->val[k], sizeof p->val[k], "%s", val);
    return 0;
}

static int parse_text(parser *p, const char *text)
{
    int lineno = 0;
    const char *cur = text;
    char buf[MAX_LINE];
    while (*cur) {
        lineno++;
        const char *nl = strchr(cur, '\n');
        size_t len = nl ? (size_t)(nl - cur) : strlen(cur);
        if (len && cur[len - 1] == '\r') len--;
        if (len >= sizeof buf) return perr(p, lineno, "line too long (at most %d bytes)", MAX_LINE - 1);
        memcpy(buf, cur, len);
        buf[len] = '\0';
        if (parse_line(p, buf, lineno)) return -1;
        if (!nl) break;
        cur = nl + 1;
    }
    if (finish_section(p)) return -1;
    return finish_all(p, lineno ? lineno : 1);
}

int ekn_spec_parse(ekn_spec *spec, const char *text, const char *file, ekn_err *err)
{
    memset(spec, 0, sizeof *spec);
    if (!file) file = "<spec>";
    if (!text) return ekn_err_set(err, EKN_EXIT_FAIL, "%s: no spec text", file);
    parser *p = calloc(1, sizeof *p);
    if (!p) return ekn_err_set(err, EKN_EXIT_FAIL, "%s: out of memory", file);
    p->spec = spec;
    p->file = file;
    p->err = err;
    p->sect = -1;
    snprintf(p->input_name, sizeof p->input_name, "input");
    int rc = parse_text(p, text);
    free(p);
    if (rc == 0) {
        spec->text = strdup(text);
        if (!spec->text) rc = ekn_err_set(err, EKN_EXIT_FAIL, "%s: out of memory", file);
    }
    if (rc) {
        memset(spec, 0, sizeof *spec);
        return -1;
    }
    snprintf(spec->file, sizeof spec->file, "%s", file);
    return 0;
}

int ekn_spec_load(ekn_spec *spec, const char *path, ekn_err *err)
{
    memset(spec, 0, sizeof *spec);
    FILE *f = fopen(path, "rb");
    if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "cannot open '%s':", path);
    char *buf = malloc(MAX_SPEC_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ekn_err_set(err, EKN_EXIT_FAIL, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MAX_SPEC_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ekn_err_set(err, EKN_EXIT_FAIL, "cannot read '%s':", path);
    }
    if (n > MAX_SPEC_BYTES) {
        free(buf);
        return ekn_err_set(err, EKN_EXIT_SPEC, "%s: too large for a spec (more than %d bytes)",
                           path, MAX_SPEC_BYTES);
    }
    if (memchr(buf, '\0', n)) {
        free(buf);
        return ekn_err_set(err, EKN_EXIT_SPEC, "%s: contains a NUL byte (not a spec text file)",
                           path);
    }
    buf[n] = '\0';
    int rc = ekn_spec_parse(spec, buf, path, err);
    free(buf);
    return rc;
}

void ekn_spec_free(ekn_spec *spec)
{
    if (!spec) return;
    free(spec->text);
    spec->text = NULL;
}

int ekn_spec_outputs(const ekn_spec *spec)
{
    return spec->nlayers ? spec->layers[spec->nlayers - 1].units : 0;
}

int ekn_spec_classes(const ekn_spec *spec)
{
    if (!spec->nlayers) return 0;
    const ekn_spec_layer *last = &spec->layers[spec->nlayers - 1];
    return last->act == EKN_ACT_SOFTMAX ? last->units : 0;
}

int ekn_spec_sigmoid(const ekn_spec *spec)
{
    return spec->nlayers && spec->layers[spec->nlayers - 1].act == EKN_ACT_SIGMOID;
}

const char *ekn_spec_loss_name(int loss)
{
    static const char *const names[] = {"default", "nll", "mse", "bce", "focal", "dice"};
    return loss >= 0 && loss <= EKN_LOSS_DICE ? names[loss] : "?";
}

int ekn_spec_layer_is_graph(const ekn_spec *spec, int i)
{
    const ekn_spec_layer *L = &spec->layers[i];
    int prev = i ? i - 1 : EKN_INPUT_NODE;
    return L->ninputs != 1 || L->inputs[0] != prev || L->kind > EKN_LAYER_DENSE || L->stride[0] != 1 ||
           L->stride[1] != 1 || L->stride[2] != 1 || L->pad != EKN_PAD_VALID || L->noise > 0 || L->tied >= 0 ||
           L->pool_mode != EKN_POOLMODE_MAX || L->act == EKN_ACT_PRELU;
}

int ekn_spec_has_mfp(const ekn_spec *spec)
{
    for (int i = 0; i < spec->nlayers; i++)
        if (spec->layers[i].kind == EKN_LAYER_POOL && spec->layers[i].mfp) return 1;
    return 0;
}
