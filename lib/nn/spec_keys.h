/* spec_keys: what the spec parser (spec.c) offers the layer kinds
 * (layer_*.c) so that each kind reads and checks its own keys.
 *
 * A section's keys are collected first (their order does not matter) and
 * read when the section ends: spec.c reads what every layer shares (name,
 * input, act, alpha, dropout, noise, decay, init), and calls the kind's
 * hooks (layer.h: ekn_layer_class.parse before the shared keys, .check
 * after them) to read the rest through the helpers below.  Every helper
 * returns 0, or -1 with the error "FILE:LINE: message" set
 * (err->code = EKN_EXIT_SPEC); a getter of a key that was not given
 * returns 0 and leaves *out as it was.  Messages name the key as in the
 * spec ('filters': ...) and point at the key's line. */
#ifndef EKN_SPEC_KEYS_H
#define EKN_SPEC_KEYS_H
#include "spec.h"

/* Every key of any section; the order is that of the key lists in
 * "unknown key ... (keys: ...)" messages. */
enum ekn_spec_key {
    EKN_KEY_NAME, EKN_KEY_INPUT, EKN_KEY_MODE, EKN_KEY_CHANNELS, EKN_KEY_SHAPE, EKN_KEY_NOISE, EKN_KEY_FILTERS,
    EKN_KEY_UNITS, EKN_KEY_SIZE, EKN_KEY_ACT, EKN_KEY_ALPHA, EKN_KEY_DROPOUT, EKN_KEY_DECAY, EKN_KEY_INIT,
    EKN_KEY_MFP, EKN_KEY_STRIDE, EKN_KEY_PAD, EKN_KEY_TIED, EKN_KEY_KIND, EKN_KEY_GROUPS, EKN_KEY_MOMENTUM,
    EKN_KEY_EPS, EKN_KEY_TARGET, EKN_KEY_MAXOUT,
    EKN_KEY_LOSS, EKN_KEY_GAMMA, EKN_KEY_POS_WEIGHT, /* the last layer's loss (spec.c) */
    EKN_NKEYS
};
#define EKN_KEY_BIT(k) (1u << (k))
/* keys every layer section accepts (spec.c reads them) */
#define EKN_KEYS_LAYER (EKN_KEY_BIT(EKN_KEY_NAME) | EKN_KEY_BIT(EKN_KEY_INPUT) | EKN_KEY_BIT(EKN_KEY_NOISE))
/* the activation keys spec.c reads for the kinds that accept them */
#define EKN_KEYS_ACT (EKN_KEY_BIT(EKN_KEY_ACT) | EKN_KEY_BIT(EKN_KEY_ALPHA) | EKN_KEY_BIT(EKN_KEY_DROPOUT) | \
                      EKN_KEY_BIT(EKN_KEY_LOSS) | EKN_KEY_BIT(EKN_KEY_GAMMA) | EKN_KEY_BIT(EKN_KEY_POS_WEIGHT))

#define EKN_SPEC_MAX_UNITS (1 << 20)  /* filters, units, channels, groups */
#define EKN_SPEC_MAX_KERNEL (1 << 16) /* filter, pool or stride size per axis */

typedef struct ekn_spec_ctx ekn_spec_ctx;

/* the key's name ("filters") */
const char *ekn_spec_key_name(int key);
/* the spec being parsed; the current layer is its layers[nlayers] */
ekn_spec *ekn_spec_of(ekn_spec_ctx *c);
/* the line the key was given on in the current section, 0 if absent */
int ekn_spec_key_given(const ekn_spec_ctx *c, int key);
/* the key's value text (trimmed; "" if absent) */
const char *ekn_spec_key_value(const ekn_spec_ctx *c, int key);
/* an error "FILE:LINE: message"; returns -1 */
int ekn_spec_error(ekn_spec_ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "[KIND]: missing required key 'KEY'" at the section's line unless the key is given */
int ekn_spec_key_require(ekn_spec_ctx *c, const ekn_spec_layer *L, int key);
/* an integer in lo..hi */
int ekn_spec_key_int(ekn_spec_ctx *c, int key, long lo, long hi, int *out);
/* a number in [lo, hi] (hi_open: [lo, hi)) */
int ekn_spec_key_float(ekn_spec_ctx *c, int key, double lo, double hi, int hi_open, float *out);
/* per-axis integers each in lo..hi ("5,5") into v (Z,Y,X), unused leading
 * axes 1; the first such list of a spec (or its input shape) decides the
 * spec's spatial dimensions, later ones must have as many values */
int ekn_spec_key_axes(ekn_spec_ctx *c, int key, long lo, long hi, int v[3]);
/* one of n names; *out = its index */
int ekn_spec_key_choice(ekn_spec_ctx *c, int key, const char *const *names, int n, int *out);
#endif
