/* Whole-network tests (lib/nn/net.c over the kernel dispatch table):
 *   (a) the gradient of forward + loss + backward w.r.t. theta against
 *       central differences, with the reference kernels, on small nets of
 *       every mode (2D img-scalar, 2D and anisotropic 3D img-img, an MLP with
 *       leaky/sigmoid/abs/linear hidden layers, regression), with class
 *       weights and ignored (-1) labels; each check also shows it has teeth
 *       (the analytic gradient scaled by 1.1 must fail it).  The differences
 *       are taken on the smooth piece of the loss the gradient belongs to:
 *       max-pool argmaxes are frozen at theta, and steps that cross a kink
 *       of relu/leaky/abs are retried smaller or left out (and counted);
 *   (a') with dropout and input noise, the masks of the forward are the ones
 *       backward uses (the rng is reseeded identically before each forward,
 *       so the finite differences see the same masks), for tanh, sigmoid and
 *       leaky layers;
 *   (b) the cpu kernels against the reference kernels on the same nets:
 *       outputs and gradients, batch 1 and > 1;
 *   (c) ekn_net_build refuses a shape that does not fit (EKN_EXIT_SPEC);
 *       the same theta serves a larger img-img input;
 *   (d) ekn-calc's memory estimate (lib/nn/calc.c) is exactly what
 *       ekn_net_build allocates, for the example nets and several batches.
 * "No allocation in the hot loop" cannot be checked portably and is not.
 * Set EKN_TEST_SEED to replay a run; the seed is printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc.h"
#include "net.h"
#include "ops.h"
#include "rng.h"
#include "spec.h"
#include "testutil.h"

/* (a) Finite differences in float32: step FD_H on theta (the step actually
 * taken is measured after rounding).  The loss is a float32 computation
 * (~1e-7 relative), so the numerical derivative carries ~1e-4 absolute
 * noise; with hundreds of coordinates compared as one vector the error
 *     ||fd - analytic|| / max(||fd||, ||analytic||)
 * stays far below FD_TOL for a correct gradient, while a gradient off by
 * 10% scores ~0.09. */
#define FD_H 1e-3f
#define FD_TOL 2e-2
#define FD_TRIES_COORD 2 /* steps tried before a coordinate is skipped: h, h/10 */
#define FD_TRIES_DIR 3   /* for a direction: h, h/10, h/100 */
#define FD_COORDS 300   /* random coordinates per net (all of them when fewer) */
#define FD_DIRS 8       /* random directions per net */
#define TEETH_SCALE 1.1 /* the deliberately wrong gradient */

/* (b) cpu vs ref: |cpu - ref| <= CMP_ATOL + CMP_RTOL * |ref| for outputs and
 * gradients (float32 SGEMM and float sums against double-accumulated loops). */
#define CMP_ATOL 1e-5
#define CMP_RTOL 1e-3

typedef struct net_case {
    const char *name;
    const char *text;
    int shape[3];     /* input spatial size (Z,Y,X); all 0: the spec's */
    int batch;
    int class_weights;
    int ignore;       /* set about one label in five to -1 */
} net_case;

/* img-scalar 2D: conv 3x3 tanh -> pool 2x2 -> dense softmax. */
static const char spec_img_scalar[] =
    "[input]\nmode = img-scalar\nchannels = 2\nshape = 8,8\n"
    "[conv]\nfilters = 3\nsize = 3,3\nact = tanh\n"
    "[pool]\nsize = 2,2\n"
    "[dense]\nunits = 4\nact = softmax\n";

/* img-img 2D: the field of view must be odd, so the first filter is even:
 * FOV 4 -> 5 -> 9, stride 2; input 13 gives 3x3 outputs. */
static const char spec_img_img_2d[] =
    "[input]\nmode = img-img\nchannels = 2\n"
    "[conv]\nfilters = 3\nsize = 4,4\nact = tanh\n"
    "[pool]\nsize = 2,2\n"
    "[conv]\nfilters = 3\nsize = 3,3\nact = softmax\n";

/* img-img 3D anisotropic: flat filter and pool in Z, then a 3x3x3 filter (a
 * 2x3x3 one would make the Z field of view even), then 1x1x1 softmax.
 * FOV 3x7x7, stride 1x2x2; input 4x9x9 gives 2x2x2 outputs. */
static const char spec_img_img_3d[] =
    "[input]\nmode = img-img\nchannels = 1\n"
    "[conv]\nfilters = 2\nsize = 1,2,2\nact = tanh\n"
    "[pool]\nsize = 1,2,2\n"
    "[conv]\nfilters = 3\nsize = 3,3,3\nact = sigmoid\n"
    "[conv]\nfilters = 2\nsize = 1,1,1\nact = softmax\n";

/* vect-scalar MLP through every non-softmax activation but relu/tanh. */
static const char spec_mlp[] =
    "[input]\nmode = vect-scalar\nshape = 10\n"
    "[dense]\nunits = 8\nact = leaky\nalpha = 0.1\n"
    "[dense]\nunits = 7\nact = sigmoid\n"
    "[dense]\nunits = 6\nact = abs\n"
    "[dense]\nunits = 5\nact = linear\n"
    "[dense]\nunits = 3\nact = softmax\n";

/* Regression: linear output and squared error. */
static const char spec_regress[] =
    "[input]\nmode = vect-scalar\nshape = 6\n"
    "[dense]\nunits = 5\nact = tanh\n"
    "[dense]\nunits = 3\nact = linear\n";

/* Regression per pixel (img-img, linear 1x1 conv output). */
static const char spec_regress_img[] =
    "[input]\nmode = img-img\nchannels = 1\n"
    "[conv]\nfilters = 3\nsize = 3,3\nact = tanh\n"
    "[conv]\nfilters = 2\nsize = 1,1\nact = linear\n";

/* Dropout on smooth (tanh, sigmoid) and piecewise (leaky) layers, and input noise. */
static const char spec_dropout[] =
    "[input]\nmode = img-scalar\nchannels = 1\nshape = 6,6\nnoise = 0.1\n"
    "[conv]\nfilters = 3\nsize = 3,3\nact = tanh\ndropout = 0.3\n"
    "[pool]\nsize = 2,2\n"
    "[dense]\nunits = 8\nact = sigmoid\ndropout = 0.5\n"
    "[dense]\nunits = 6\nact = leaky\ndropout = 0.25\n"
    "[dense]\nunits = 3\nact = softmax\n";

static const net_case cases[] = {
    {"img-scalar 2D", spec_img_scalar, {0}, 3, 1, 1},
    {"img-img 2D", spec_img_img_2d, {1, 13, 13}, 2, 1, 1},
    {"img-img 3D aniso", spec_img_img_3d, {4, 9, 9}, 2, 1, 1},
    {"vect-scalar MLP", spec_mlp, {0}, 5, 1, 1},
    {"regression MLP", spec_regress, {0}, 4, 0, 0},
    {"regression img-img", spec_regress_img, {1, 5, 6}, 2, 0, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Graphs (spec.h): every kind of layer, fan-out, merges with centre crops,
 * normalisation in training mode (its backward needs the batch statistics
 * of a training forward), tied weights and noise inside the net.
 *
 * A small U-Net: c1 feeds both the pool and the skip; input 12 gives c1
 * 10, pool 5, conv 3, up 6, and c1 centre-cropped by 2 to 6; batch norm
 * after the concat. */
static const char spec_unet[] =
    "[input]\nmode = img-img\nchannels = 1\n"
    "[conv]\nname = c1\nfilters = 3\nsize = 3,3\nact = tanh\n"
    "[pool]\nsize = 2,2\n"
    "[conv]\nfilters = 4\nsize = 3,3\nact = tanh\n"
    "[upconv]\nname = up\nfilters = 3\nsize = 2,2\nact = linear\n"
    "[concat]\nname = cat\ninput = up, c1\n"
    "[norm]\nact = tanh\n"
    "[conv]\nfilters = 2\nsize = 1,1\nact = softmax\n";

/* A residual MLP: d1 feeds d2 and the add; batch norm over features. */
static const char spec_residual_mlp[] =
    "[input]\nmode = vect-scalar\nshape = 7\n"
    "[dense]\nname = d1\nunits = 6\nact = tanh\n"
    "[dense]\nname = d2\nunits = 6\nact = sigmoid\n"
    "[add]\ninput = d1, d2\nact = tanh\n"
    "[norm]\nmomentum = 0.2\n"
    "[dense]\nunits = 3\nact = softmax\n";

/* ELEKTRONN's tied autoencoder in small: noise in the central layer, the
 * decoders use the encoders' weights transposed. */
static const char spec_tied_ae[] =
    "[input]\nmode = vect-scalar\nshape = 8\n"
    "[dense]\nname = e1\nunits = 6\nact = tanh\n"
    "[dense]\nname = e2\nunits = 4\nact = tanh\nnoise = 0.3\n"
    "[dense]\ntied = e2\nact = tanh\n"
    "[dense]\ntied = e1\nact = linear\n";

/* Same padding, stride 2, group norm, maxabs pooling, a residual add of
 * two convolutions and an instance norm before the dense output. */
static const char spec_conv_graph[] =
    "[input]\nmode = img-scalar\nchannels = 2\nshape = 9,9\n"
    "[conv]\nname = a\nfilters = 4\nsize = 3,3\npad = same\nact = tanh\n"
    "[norm]\nkind = group\ngroups = 2\nact = tanh\n"
    "[conv]\nname = b\nfilters = 4\nsize = 3,3\npad = same\nact = sigmoid\n"
    "[add]\ninput = a, b\n"
    "[conv]\nfilters = 3\nsize = 3,3\nstride = 2,2\nact = tanh\n"
    "[pool]\nsize = 2,2\nmode = maxabs\n"
    "[norm]\nkind = instance\n"
    "[dense]\nunits = 3\nact = softmax\n";

/* The newer activations, PReLU's learnt slopes among them, on an MLP and a conv. */
static const char spec_acts[] =
    "[input]\nmode = img-scalar\nchannels = 2\nshape = 5,5\n"
    "[conv]\nfilters = 3\nsize = 3,3\nact = prelu\n"
    "[dense]\nunits = 6\nact = elu\nalpha = 0.7\n"
    "[dense]\nunits = 5\nact = silu\n"
    "[dense]\nunits = 5\nact = softplus\n"
    "[dense]\nunits = 4\nact = prelu\ndropout = 0.2\n"
    "[dense]\nunits = 3\nact = softmax\n";

/* Channel maxout (pool maxout = K) after a linear conv, as ELEKTRONN's
 * maxout nets, and again after a same-padded one. */
static const char spec_maxout[] =
    "[input]\nmode = img-scalar\nchannels = 2\nshape = 7,7\n"
    "[conv]\nfilters = 6\nsize = 3,3\nact = linear\n"
    "[pool]\nmaxout = 3\n"
    "[conv]\nfilters = 4\nsize = 3,3\npad = same\nact = linear\n"
    "[pool]\nmaxout = 2\n"
    "[dense]\nunits = 3\nact = softmax\n";

static const net_case graph_cases[] = {
    {"graph U-Net 2D", spec_unet, {1, 12, 12}, 3, 1, 1},
    {"graph residual MLP", spec_residual_mlp, {0}, 5, 1, 1},
    {"graph tied autoencoder", spec_tied_ae, {0}, 4, 0, 0},
    {"graph conv same/stride", spec_conv_graph, {0}, 3, 1, 1},
    {"graph activations", spec_acts, {0}, 4, 1, 1},
    {"graph maxout", spec_maxout, {0}, 3, 1, 1},
};
#define NGRAPH (sizeof graph_cases / sizeof graph_cases[0])

/* One net with its batch: inputs, labels or targets, loss gradient buffer. */
typedef struct harness {
    ekn_spec spec;
    ekn_net net;
    int n;
    float *x;
    int32_t *y;
    float *t;
    float cw[16];
    int use_cw;
    float *dout;
    uint64_t train_seed;
    uint64_t sig;     /* kink signature of the last forward (see kink_sig) */
} harness;

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    assert_non_null(p);
    return p;
}

/* Parses and builds c with ops; random inputs, labels and parameters from *s
 * (the same *s gives the same harness for any ops). */
static void harness_init(harness *h, const net_case *c, const ekn_ops *ops, int batch, uint64_t *s)
{
    memset(h, 0, sizeof *h);
    ekn_err err = {0};
    int rc = ekn_spec_parse(&h->spec, c->text, c->name, &err);
    if (rc) fprintf(stderr, "%s: %s\n", c->name, err.msg);
    assert_int_equal(rc, 0);
    const int *shape = c->shape[0] ? c->shape : NULL;
    rc = ekn_net_build(&h->net, &h->spec, shape, batch, ops, &err);
    if (rc) fprintf(stderr, "%s: %s\n", c->name, err.msg);
    assert_int_equal(rc, 0);
    ekn_net *net = &h->net;
    h->n = batch;
    h->x = xcalloc((size_t)batch * net->in_size, sizeof(float));
    tu_fill(s, h->x, (size_t)batch * net->in_size, -1, 1);
    h->dout = xcalloc((size_t)batch * net->out_size, sizeof(float));
    if (net->classes) {
        size_t m = (size_t)batch * net->out_spatial;
        h->y = xcalloc(m, sizeof *h->y);
        for (size_t k = 0; k < m; k++) {
            h->y[k] = (int32_t)(tu_next(s) % (uint64_t)net->classes);
            if (c->ignore && tu_next(s) % 5 == 0) h->y[k] = -1;
        }
        if (c->ignore) h->y[0] = -1;     /* at least one ignored */
        if (c->ignore && m > 1) h->y[1] = 0; /* and at least one counted */
        if (c->class_weights) {
            assert_true(net->classes <= 16);
            tu_fill(s, h->cw, (size_t)net->classes, 0.5f, 2.0f);
            h->use_cw = 1;
        }
    } else {
        size_t m = (size_t)batch * net->out_size;
        h->t = xcalloc(m, sizeof *h->t);
        tu_fill(s, h->t, m, -1, 1);
        if (m > 2) h->t[m / 2] = NAN; /* an ignored target */
    }
    /* He/Glorot weights, then small nonzero biases and a jitter so no
     * parameter sits at a special value */
    ekn_rng r;
    ekn_rng_seed(&r, tu_next(s), 1);
    ekn_net_init_params(net, &r);
    float *jit = xcalloc(net->nparams, sizeof(float));
    tu_fill(s, jit, net->nparams, -0.1f, 0.1f);
    for (size_t k = 0; k < net->nparams; k++) net->theta[k] += jit[k];
    free(jit);
    h->train_seed = tu_next(s);
}

static void harness_free(harness *h)
{
    ekn_net_free(&h->net);
    ekn_spec_free(&h->spec);
    free(h->x);
    free(h->y);
    free(h->t);
    free(h->dout);
    memset(h, 0, sizeof *h);
}

/* Max pooling is piecewise: a step of theta that changes some window's
 * argmax measures another piece of the loss, and with hundreds of windows
 * that happens often enough to spoil a float32 difference quotient (the
 * smaller step that avoids it drowns in rounding).  So the finite
 * differences run on the piece the analytic gradient belongs to: a copy of
 * the reference table whose max-pool forward records each layer's argmax
 * at theta (FREEZE_RECORD) and replays it, y = x[arg], at theta +- h
 * (FREEZE_REPLAY); the loss is then smooth and equal to the real one near
 * theta.  Everything else, backward included, is ekn_ops_ref(). */
enum { FREEZE_OFF, FREEZE_RECORD, FREEZE_REPLAY };
#define MAX_FROZEN 8
static struct frozen_arg {
    const int32_t *key; /* the layer's arg buffer identifies the layer */
    int32_t *arg;
    size_t n;
} frozen[MAX_FROZEN];
static int nfrozen, freeze_mode;

static void pool_forward_frozen(const ekn_pool_geom *g, const float *x, float *y, int32_t *arg)
{
    size_t pin = (size_t)g->in[0] * g->in[1] * g->in[2], pout = (size_t)g->out[0] * g->out[1] * g->out[2];
    size_t planes = (size_t)g->n * g->c, m = planes * pout;
    struct frozen_arg *f = NULL;
    for (int i = 0; i < nfrozen; i++)
        if (frozen[i].key == arg) f = &frozen[i];
    if (freeze_mode != FREEZE_REPLAY) {
        ekn_maxpool_forward_ref(g, x, y, arg);
        if (freeze_mode == FREEZE_RECORD) {
            if (!f) {
                assert_true(nfrozen < MAX_FROZEN);
                f = &frozen[nfrozen++];
                f->key = arg;
                f->arg = NULL;
            }
            free(f->arg);
            f->arg = xcalloc(m, sizeof *f->arg);
            memcpy(f->arg, arg, m * sizeof *arg);
            f->n = m;
        }
        return;
    }
    assert_non_null(f);
    assert_int_equal(f->n, m);
    for (size_t p = 0; p < planes; p++)
        for (size_t o = 0; o < pout; o++) {
            int32_t a = f->arg[p * pout + o];
            y[p * pout + o] = x[p * pin + (size_t)a];
            arg[p * pout + o] = a;
        }
}

static void frozen_reset(void)
{
    for (int i = 0; i < nfrozen; i++) free(frozen[i].arg);
    memset(frozen, 0, sizeof frozen);
    nfrozen = 0;
    freeze_mode = FREEZE_OFF;
}

/* ekn_ops_ref() with the freezable max-pool forward. */
static const ekn_ops *ops_ref_frozen(void)
{
    static ekn_ops t;
    t = *ekn_ops_ref();
    t.name = "ref+frozen-argmax";
    t.pool_forward = pool_forward_frozen;
    return &t;
}

/* A hash of where the last forward sits relative to the kinks of the loss
 * that freezing does not remove: the sign of every input to a
 * piecewise-linear activation (relu, leaky, abs), and (for the unfrozen
 * table) every max-pool argmax.  A central difference is only meaningful
 * when theta+h and theta-h give the signature of theta. */
static uint64_t kink_sig(const ekn_net *net, int n)
{
    uint64_t hsh = 1469598103934665603ull;
#define MIX(v) (hsh = (hsh ^ (uint64_t)(v)) * 1099511628211ull)
    for (int l = 0; l < net->nlayers; l++) {
        const ekn_net_layer *L = &net->layers[l];
        size_t m = (size_t)n * L->out_size;
        int act = L->spec->act;
        if (L->arg)
            for (size_t k = 0; k < m; k++) MIX(L->arg[k]);
        if (act == EKN_ACT_RELU || act == EKN_ACT_LEAKY || act == EKN_ACT_ABS)
            for (size_t k = 0; k < m; k++) MIX(L->z[k] > 0 ? 1 : L->z[k] < 0 ? 2 : 3);
    }
#undef MIX
    return hsh;
}

/* Forward (train: dropout and noise from an rng reseeded identically every
 * time, so every call draws the same masks), the trainer's loss, and with
 * grad the backward into net->grad (zeroed first).  Returns the loss. */
static double eval_loss(harness *h, int train, int grad)
{
    ekn_net *net = &h->net;
    ekn_rng rng;
    ekn_rng_seed(&rng, h->train_seed, 3);
    const float *out = ekn_net_forward(net, h->x, h->n, train, &rng);
    h->sig = kink_sig(net, h->n);
    double loss;
    if (net->classes) {
        ekn_nll_args a = {h->y, h->use_cw ? h->cw : NULL, NULL, NULL, NULL};
        loss = net->ops->softmax_nll(h->n, net->classes, net->out_spatial, out, &a, h->dout, NULL);
    } else {
        loss = net->ops->mse((size_t)h->n * net->out_size, out, h->t, h->dout);
    }
    if (grad) {
        ekn_net_zero_grad(net);
        ekn_net_backward(net, h->n, h->dout);
    }
    return loss;
}

/* Central difference along direction d (NULL: coordinate k), with the steps
 * actually taken after rounding theta to float: for a direction, *an gets
 * g . (step+ + step-) / (2h) from the gradient g, the exact counterpart of
 * the difference quotient.  A step that crosses a kink (the signature at
 * theta+-h differs from the one at theta, base_sig) is retried 10 times
 * smaller, `tries` times in all; *ok = 0 when every try crossed one. */
static double fd_dir(harness *h, int train, const float *d, size_t k, const float *g, double *an, int tries,
                     uint64_t base_sig, int *ok)
{
    ekn_net *net = &h->net;
    size_t np = net->nparams;
    float *save = xcalloc(np, sizeof(float));
    memcpy(save, net->theta, np * sizeof(float));
    double res = 0;
    float hh = FD_H;
    *ok = 0;
    for (int t = 0; t < tries && !*ok; t++, hh /= 10) {
        double lp, lm, step;
        uint64_t sp, sm;
        if (d) {
            double dot = 0;
            for (size_t i = 0; i < np; i++) {
                net->theta[i] = save[i] + hh * d[i];
                dot += (double)g[i] * ((double)net->theta[i] - save[i]);
            }
            lp = eval_loss(h, train, 0);
            sp = h->sig;
            for (size_t i = 0; i < np; i++) {
                net->theta[i] = save[i] - hh * d[i];
                dot += (double)g[i] * ((double)save[i] - net->theta[i]);
            }
            lm = eval_loss(h, train, 0);
            sm = h->sig;
            step = 2.0 * hh;
            *an = dot / step;
        } else {
            float tp = save[k] + hh, tm = save[k] - hh;
            net->theta[k] = tp;
            lp = eval_loss(h, train, 0);
            sp = h->sig;
            net->theta[k] = tm;
            lm = eval_loss(h, train, 0);
            sm = h->sig;
            step = (double)tp - (double)tm;
        }
        memcpy(net->theta, save, np * sizeof(float));
        res = (lp - lm) / step;
        *ok = sp == base_sig && sm == base_sig;
    }
    free(save);
    return res;
}

/* ||fd - scale*an|| / max(||fd||, ||scale*an||) */
static double vec_rel_err(const double *fd, const double *an, size_t n, double scale)
{
    double dd = 0, nf = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        double a = scale * an[i];
        dd += (fd[i] - a) * (fd[i] - a);
        nf += fd[i] * fd[i];
        na += a * a;
    }
    double den = sqrt(nf > na ? nf : na);
    return den > 0 ? sqrt(dd) / den : 0;
}

/* The whole gradient check of one harness; returns the number of failed
 * criteria (0 when the gradient is right and the check has teeth). */
static int grad_check(harness *h, const char *name, int train, uint64_t *s, double *worst)
{
    ekn_net *net = &h->net;
    size_t np = net->nparams;
    freeze_mode = FREEZE_RECORD;
    double loss = eval_loss(h, train, 1);
    freeze_mode = FREEZE_REPLAY;
    uint64_t base = h->sig;
    float *g = xcalloc(np, sizeof(float));
    memcpy(g, net->grad, np * sizeof(float));
    int fails = 0;

    /* the loss is a pure function of theta: a second evaluation is identical */
    double again = eval_loss(h, train, 0);
    if (again != loss) {
        fprintf(stderr, "%s: loss not reproducible (%.17g vs %.17g)\n", name, loss, again);
        fails++;
    }

    /* random coordinates (all when there are few), every layer's slices reached */
    size_t nc = np < FD_COORDS ? np : FD_COORDS;
    size_t *idx = xcalloc(nc, sizeof *idx);
    for (size_t i = 0; i < nc; i++) idx[i] = np <= FD_COORDS ? i : (size_t)(tu_next(s) % np);
    if (np > FD_COORDS) {
        size_t i = 0;
        for (int l = 0; l < net->nlayers && i + 2 <= nc; l++) {
            const ekn_net_layer *L = &net->layers[l];
            if (!L->nw) continue;
            idx[i++] = L->w_off;
            idx[i++] = L->b_off + L->nb - 1;
        }
    }
    double *fd = xcalloc(nc, sizeof(double)), *an = xcalloc(nc, sizeof(double));
    size_t kinks = 0, m = 0;
    for (size_t i = 0; i < nc; i++) {
        int ok;
        double v = fd_dir(h, train, NULL, idx[i], NULL, NULL, FD_TRIES_COORD, base, &ok);
        if (!ok) { /* not differentiable there: leave it out */
            kinks++;
            continue;
        }
        idx[m] = idx[i];
        fd[m] = v;
        an[m++] = g[idx[i]];
    }
    nc = m;
    double e_coord = vec_rel_err(fd, an, nc, 1.0), t_coord = vec_rel_err(fd, an, nc, TEETH_SCALE);
    size_t wi = 0;
    double wd = -1;
    for (size_t i = 0; i < nc; i++)
        if (fabs(fd[i] - an[i]) > wd) wd = fabs(fd[i] - an[i]), wi = i;

    /* random directions */
    double fdd[FD_DIRS], and_[FD_DIRS];
    float *d = xcalloc(np, sizeof(float));
    int nd = 0;
    for (int k = 0; k < FD_DIRS; k++) {
        tu_fill(s, d, np, -1, 1);
        double dot = 0;
        int ok;
        double v = fd_dir(h, train, d, 0, g, &dot, FD_TRIES_DIR, base, &ok);
        if (!ok) {
            kinks++;
            continue;
        }
        and_[nd] = dot;
        fdd[nd++] = v;
    }
    double e_dir = vec_rel_err(fdd, and_, (size_t)nd, 1.0), t_dir = vec_rel_err(fdd, and_, (size_t)nd, TEETH_SCALE);

    double gn = 0;
    for (size_t i = 0; i < np; i++) gn += (double)g[i] * g[i];
    fprintf(stderr,
            "%-22s %s params %zu loss %.5g |grad| %.4g: coords %zu rel_err %.3g (x%.1f: %.3g), worst [%zu] fd %.6g "
            "an %.6g; %d directions rel_err %.3g (x%.1f: %.3g); %zu skipped at kinks %s\n",
            name, train ? "train" : "eval", np, loss, sqrt(gn), nc, e_coord, TEETH_SCALE, t_coord, idx[wi], fd[wi],
            an[wi], nd, e_dir, TEETH_SCALE, t_dir, kinks,
            e_coord <= FD_TOL && e_dir <= FD_TOL && t_coord > FD_TOL && t_dir > FD_TOL ? "ok" : "FAIL");
    if (!(e_coord <= FD_TOL)) fails++;
    if (!(e_dir <= FD_TOL)) fails++;
    /* teeth: a gradient 10% off must fail the same criterion */
    if (!(t_coord > FD_TOL)) fails++;
    if (!(t_dir > FD_TOL)) fails++;
    /* most of the checks must have been made */
    if (nc < (np < FD_COORDS ? np : FD_COORDS) * 9 / 10 || nd < FD_DIRS / 2) {
        fprintf(stderr, "%s: too many steps crossed a kink (%zu)\n", name, kinks);
        fails++;
    }
    if (!(sqrt(gn) > 1e-6)) {
        fprintf(stderr, "%s: gradient is (near) zero, the check proves nothing\n", name);
        fails++;
    }
    freeze_mode = FREEZE_OFF;
    if (e_coord > *worst) *worst = e_coord;
    if (e_dir > *worst) *worst = e_dir;
    free(g);
    free(idx);
    free(fd);
    free(an);
    free(d);
    return fails;
}

/* (a) */
static void test_gradcheck(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("gradcheck");
    int fails = 0;
    double worst = 0;
    for (size_t c = 0; c < NCASES; c++) {
        harness h;
        harness_init(&h, &cases[c], ops_ref_frozen(), cases[c].batch, &s);
        fails += grad_check(&h, cases[c].name, 0, &s, &worst);
        harness_free(&h);
        frozen_reset();
    }
    fprintf(stderr, "gradcheck: max rel_err %.3g (tolerance %g)\n", worst, FD_TOL);
    assert_int_equal(fails, 0);
}

/* (a'') graphs, in training mode (batch statistics, noise inside). */
static void test_gradcheck_graph(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("gradcheck_graph");
    int fails = 0;
    double worst = 0;
    for (size_t c = 0; c < NGRAPH; c++) {
        harness h;
        harness_init(&h, &graph_cases[c], ops_ref_frozen(), graph_cases[c].batch, &s);
        fails += grad_check(&h, graph_cases[c].name, 1, &s, &worst);
        harness_free(&h);
        frozen_reset();
    }
    fprintf(stderr, "gradcheck_graph: max rel_err %.3g (tolerance %g)\n", worst, FD_TOL);
    assert_int_equal(fails, 0);
}

/* (a') dropout and noise: the same masks in forward and backward. */
static void test_gradcheck_dropout(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("gradcheck_dropout");
    const net_case c = {"dropout+noise", spec_dropout, {0}, 4, 1, 1};
    harness h;
    harness_init(&h, &c, ops_ref_frozen(), c.batch, &s);
    ekn_net *net = &h.net;

    /* dropout and noise really are on in training mode ... */
    double l_train = eval_loss(&h, 1, 0), l_eval = eval_loss(&h, 0, 0);
    eval_loss(&h, 1, 0);
    size_t zeros = 0, total = 0;
    for (int l = 0; l < net->nlayers; l++) {
        const ekn_net_layer *L = &net->layers[l];
        if (!L->mask) continue;
        size_t m = (size_t)h.n * L->out_size;
        for (size_t k = 0; k < m; k++) zeros += L->mask[k] == 0.0f;
        total += m;
    }
    fprintf(stderr, "dropout: %zu of %zu mask entries zero; loss train %.6g eval %.6g\n", zeros, total, l_train,
            l_eval);
    assert_true(zeros > 0 && zeros < total);
    assert_true(l_train != l_eval);

    double worst = 0;
    int fails = grad_check(&h, c.name, 1, &s, &worst);
    /* ... and other masks give another gradient, so the check above would
     * notice a backward that ignored them */
    eval_loss(&h, 1, 1);
    float *g1 = xcalloc(net->nparams, sizeof(float));
    memcpy(g1, net->grad, net->nparams * sizeof(float));
    h.train_seed ^= 0x5555;
    eval_loss(&h, 1, 1);
    double dev = 0, gn = 0;
    for (size_t k = 0; k < net->nparams; k++) {
        gn += (double)g1[k] * g1[k];
        dev += ((double)net->grad[k] - g1[k]) * ((double)net->grad[k] - g1[k]);
    }
    fprintf(stderr, "dropout: gradient with other masks differs by %.3g relative\n", sqrt(dev / gn));
    assert_true(sqrt(dev / gn) > 10 * FD_TOL);
    free(g1);
    harness_free(&h);
    frozen_reset();
    assert_int_equal(fails, 0);
}

/* (b) cpu vs ref: outputs and gradients of the same nets, same theta and input. */
static size_t cpu_vs_ref_case(const net_case *c, int batch, int train, uint64_t seed, double *worst_rel)
{
    harness hr, hc;
    uint64_t s1 = seed, s2 = seed;
    harness_init(&hr, c, ekn_ops_ref(), batch, &s1);
    harness_init(&hc, c, ekn_ops_cpu(), batch, &s2);
    assert_int_equal(hr.net.nparams, hc.net.nparams);
    assert_memory_equal(hr.net.theta, hc.net.theta, hr.net.nparams * sizeof(float));
    double lr = eval_loss(&hr, train, 1), lc = eval_loss(&hc, train, 1);
    ekn_rng rng;
    ekn_rng_seed(&rng, hr.train_seed, 3);
    const float *or_ = ekn_net_forward(&hr.net, hr.x, batch, train, &rng);
    ekn_rng_seed(&rng, hc.train_seed, 3);
    const float *oc = ekn_net_forward(&hc.net, hc.x, batch, train, &rng);
    char what[96];
    size_t bad = 0;
    snprintf(what, sizeof what, "%s b%d %s output", c->name, batch, train ? "train" : "eval");
    bad += tu_compare(what, oc, or_, (size_t)batch * hr.net.out_size, CMP_ATOL, CMP_RTOL);
    snprintf(what, sizeof what, "%s b%d %s grad", c->name, batch, train ? "train" : "eval");
    bad += tu_compare(what, hc.net.grad, hr.net.grad, hr.net.nparams, CMP_ATOL, CMP_RTOL);
    double dl = fabs(lc - lr);
    if (!(dl <= CMP_ATOL + CMP_RTOL * fabs(lr))) {
        fprintf(stderr, "%s: loss cpu %.9g ref %.9g\n", c->name, lc, lr);
        bad++;
    }
    for (size_t k = 0; k < hr.net.nparams; k++) {
        double r = fabs((double)hr.net.grad[k]);
        if (r > 1e-4) {
            double e = fabs((double)hc.net.grad[k] - hr.net.grad[k]) / r;
            if (e > *worst_rel) *worst_rel = e;
        }
    }
    harness_free(&hr);
    harness_free(&hc);
    return bad;
}

static void test_cpu_vs_ref(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("cpu_vs_ref");
    size_t bad = 0;
    double worst = 0;
    const int batches[] = {1, 3};
    for (size_t c = 0; c < NCASES; c++)
        for (int b = 0; b < 2; b++) bad += cpu_vs_ref_case(&cases[c], batches[b], 0, tu_next(&s), &worst);
    /* training mode: the same rng gives the same masks and noise to both */
    const net_case d = {"dropout+noise", spec_dropout, {0}, 4, 1, 1};
    for (int b = 0; b < 2; b++) bad += cpu_vs_ref_case(&d, batches[b], 1, tu_next(&s), &worst);
    for (size_t c = 0; c < NGRAPH; c++)
        for (int b = 0; b < 2; b++)
            for (int train = 0; train < 2; train++)
                bad += cpu_vs_ref_case(&graph_cases[c], batches[b] + 1, train, tu_next(&s), &worst);
    fprintf(stderr, "cpu_vs_ref: max rel err of gradients above 1e-4: %.3g\n", worst);
    assert_int_equal(bad, 0);
}

/* (c) shapes that do not fit */
static void test_build_errors(void **state)
{
    (void)state;
    ekn_spec spec;
    ekn_err err = {0};
    ekn_net net;
    assert_int_equal(ekn_spec_parse(&spec, spec_img_scalar, "t.spec", &err), 0);

    /* 9x9: conv 3x3 -> 7x7, and 2x2 pooling leaves a remainder */
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_net_build(&net, &spec, (int[]){1, 9, 9}, 2, ekn_ops_ref(), &err), -1);
    fprintf(stderr, "build 9x9: %s\n", err.msg);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_true(err.msg[0] != '\0');
    assert_null(strchr(err.msg, '\n'));

    /* smaller than the filter */
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_net_build(&net, &spec, (int[]){1, 2, 2}, 1, ekn_ops_cpu(), &err), -1);
    fprintf(stderr, "build 2x2: %s\n", err.msg);
    assert_int_equal(err.code, EKN_EXIT_SPEC);

    /* the spec's own shape fits, and a bigger valid one too (theta grows with the dense input) */
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_net_build(&net, &spec, NULL, 2, ekn_ops_cpu(), &err), 0);
    size_t np = net.nparams;
    assert_int_equal(net.out_size, 4);
    assert_int_equal(net.classes, 4);
    ekn_net_free(&net);
    assert_int_equal(ekn_net_build(&net, &spec, (int[]){1, 10, 10}, 2, ekn_ops_cpu(), &err), 0);
    assert_true(net.nparams > np);
    ekn_net_free(&net);
    ekn_spec_free(&spec);

    /* img-img: 14 is not 9 + 2k */
    assert_int_equal(ekn_spec_parse(&spec, spec_img_img_2d, "t2.spec", &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_net_build(&net, &spec, (int[]){1, 14, 13}, 1, ekn_ops_ref(), &err), -1);
    fprintf(stderr, "build img-img 14x13: %s\n", err.msg);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    memset(&err, 0, sizeof err);
    assert_int_equal(ekn_net_build(&net, &spec, (int[]){1, 15, 13}, 1, ekn_ops_ref(), &err), 0);
    assert_int_equal(net.out[1], 4);
    assert_int_equal(net.out[2], 3);
    assert_int_equal(net.calc.offset[2], 4);
    assert_int_equal(net.calc.stride[2], 2);
    ekn_net_free(&net);
    ekn_spec_free(&spec);
}

/* Parameters do not depend on the spatial size for conv/pool nets: the same
 * theta fits an img-img net rebuilt for a larger input, and a forward on
 * the larger input agrees with the smaller one on the shared outputs. */
static void test_rebuild_larger(void **state)
{
    (void)state;
    uint64_t s = tu_seed_for("rebuild_larger");
    ekn_spec spec;
    ekn_err err = {0};
    assert_int_equal(ekn_spec_parse(&spec, spec_img_img_2d, "t.spec", &err), 0);
    ekn_net a, b;
    assert_int_equal(ekn_net_build(&a, &spec, (int[]){1, 9, 9}, 1, ekn_ops_cpu(), &err), 0);
    assert_int_equal(ekn_net_build(&b, &spec, (int[]){1, 13, 13}, 1, ekn_ops_cpu(), &err), 0);
    assert_int_equal(a.nparams, b.nparams);
    tu_fill(&s, a.theta, a.nparams, -0.5f, 0.5f);
    memcpy(b.theta, a.theta, a.nparams * sizeof(float));
    float xb[2 * 13 * 13], xa[2 * 9 * 9];
    tu_fill(&s, xb, sizeof xb / sizeof *xb, -1, 1);
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 9; y++)
            for (int x = 0; x < 9; x++) xa[(c * 9 + y) * 9 + x] = xb[(c * 13 + y) * 13 + x];
    const float *oa = ekn_net_forward(&a, xa, 1, 0, NULL);
    const float *ob = ekn_net_forward(&b, xb, 1, 0, NULL);
    assert_int_equal(a.out[2], 1);
    assert_int_equal(b.out[2], 3);
    float pick[3];
    for (int c = 0; c < 3; c++) pick[c] = ob[c * 9]; /* output (0,0) of each class */
    assert_int_equal(tu_compare("rebuild 13x13 vs 9x9 output (0,0)", pick, oa, 3, CMP_ATOL, CMP_RTOL), 0);
    ekn_net_free(&a);
    ekn_net_free(&b);
    ekn_spec_free(&spec);
}

static void test_calc_memory(void **state)
{
    (void)state;
    static const char *const specs[] = {"fmnist-cnn", "fmnist-mlp", "isbi-2d", "aniso-3d", "tiny-img-img"};
    static const int batches[] = {1, 7, 64};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        char path[256];
        snprintf(path, sizeof path, "examples/nets/%s.spec", specs[i]);
        ekn_spec spec;
        ekn_err err = {0};
        if (ekn_spec_load(&spec, path, &err)) fail_msg("%s", err.msg);
        int shape[3] = {1, 1, 1};
        for (int d = 0; d < 3; d++) {
            int v = ekn_calc_nearest(&spec, d, 0, spec.has_shape ? spec.shape[d] : 57, &err);
            assert_true(v > 0);
            shape[d] = spec.has_shape ? spec.shape[d] : v;
        }
        ekn_calc c;
        assert_int_equal(ekn_calc_run(&spec, shape, &c, &err), 0);
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
            /* the estimate also counts SGD's velocity, which the optimiser allocates, and the
             * batch's input, which the trainer does */
            double input = 4.0 * c.in_channels * c.in[0] * c.in[1] * c.in[2];
            double want = (c.act_bytes - input + c.work_bytes) * batches[b] + 12.0 * c.params;
            if (want > 256e6) continue; /* aniso-3d at batch 64 would take 6 GB */
            ekn_net net;
            /* ekn_net_measure runs the same code without allocating: the same bytes, before */
            ekn_net_size ns;
            assert_int_equal(ekn_net_measure(&spec, shape, batches[b], ekn_ops_cpu(), &ns, &err), 0);
            assert_int_equal(ekn_net_build(&net, &spec, shape, batches[b], ekn_ops_cpu(), &err), 0);
            printf("%-12s batch %2d: net allocates %zu bytes, ekn-calc says %.0f, measured %zu\n", specs[i],
                   batches[b], net.alloc_bytes, want, ns.bytes);
            assert_true((double)net.alloc_bytes == want);
            assert_true(ns.bytes == net.alloc_bytes);
            assert_true(ns.nparams == net.nparams && ns.in_size == net.in_size && ns.out_size == net.out_size);
            ekn_net_free(&net);
        }
        ekn_spec_free(&spec);
    }
}

TU_MAIN(cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_gradcheck_dropout),
        cmocka_unit_test(test_gradcheck_graph),
        cmocka_unit_test(test_cpu_vs_ref),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_rebuild_larger),
        cmocka_unit_test(test_calc_memory))
