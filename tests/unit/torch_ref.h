/* torch_ref: what test_torch_ref.c and test_torch_ref_cuda.c share: the
 * .npy fixtures of tests/torch/make_refs.py, one training step of a net on
 * a kernel table, the comparisons (see test_torch_ref.c for the cases and
 * the tolerance).  Header-only, like testutil.h, so each test binary stays
 * one file; include it after <cmocka.h>. */
#ifndef EKN_TORCH_REF_H
#define EKN_TORCH_REF_H
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_io.h"
#include "net.h"
#include "ops.h"
#include "optim.h"
#include "readers.h"
#include "rng.h"
#include "spec.h"
#include "testutil.h"

#define RTOL 1e-4
#define ATOL_FRAC 1e-6 /* atol = ATOL_FRAC * the scale (see compare) */

static const char *fixture_dir(void)
{
    const char *d = getenv("EKN_TORCH_FIXTURES");
    return d && *d ? d : "tests/fixtures/torch";
}

/* ---- .npy through lib/data's reader -------------------------------------- */

typedef struct npy {
    int rank;
    uint64_t shape[EKN_MAX_RANK];
    size_t n;
    double *v; /* the values, converted from f4, f8 or i4 */
} npy;

static void npy_free(npy *a)
{
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Loads CASE/REL (e.g. "unet/init/c1.w.npy"); returns 0, or -1 when the
 * file cannot be read and missing_ok is set, failing the test on any other error. */
static int npy_load(const char *cas, const char *rel, npy *a, int missing_ok)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", fixture_dir(), cas, rel);
    memset(a, 0, sizeof *a);
    ekn_blob b = {0};
    ekn_err err = {0};
    if (ekn_input_load(path, &b, 1 << 24, &err)) {
        if (missing_ok) return -1;
        fprintf(stderr, "%s\n", err.msg);
        fail_msg("cannot read fixture '%s' (regenerate: /usr/bin/python3 tests/torch/make_refs.py)", path);
    }
    ekn_tensor t = EKN_TENSOR_INIT;
    int rc = ekn_read_npy(&b, path, &t, &err);
    ekn_blob_free(&b);
    if (rc) fail_msg("%s", err.msg);
    a->rank = t.rank;
    memcpy(a->shape, t.shape, sizeof a->shape);
    a->n = (size_t)ekn_tensor_numel(&t);
    a->v = malloc((a->n ? a->n : 1) * sizeof *a->v);
    assert_non_null(a->v);
    for (size_t k = 0; k < a->n; k++) {
        switch (t.dtype) {
        case EKN_F32: a->v[k] = ((const float *)t.data)[k]; break;
        case EKN_F64: a->v[k] = ((const double *)t.data)[k]; break;
        case EKN_I32: a->v[k] = ((const int32_t *)t.data)[k]; break;
        default: fail_msg("%s: dtype %s, expected f32, f64 or i32", path, ekn_dtype_name(t.dtype));
        }
    }
    ekn_tensor_free(&t);
    return 0;
}

static float *to_float(const npy *a)
{
    float *f = tu_alloc(a->n);
    for (size_t k = 0; k < a->n; k++) f[k] = (float)a->v[k];
    return f;
}

static double max_abs(const npy *a)
{
    double mx = 0;
    for (size_t k = 0; k < a->n; k++) mx = fmax(mx, fabs(a->v[k]));
    return mx;
}

/* |got - ref| <= ATOL_FRAC scale + RTOL |ref|; prints the worst element,
 * returns the number out of tolerance.  scale: max|ref| (scale < 0) or
 * the given one. */
static size_t compare(const char *what, const float *got, const npy *ref, double scale)
{
    float *r = to_float(ref);
    size_t bad = tu_compare(what, got, r, ref->n, ATOL_FRAC * (scale < 0 ? max_abs(ref) : scale), RTOL);
    free(r);
    return bad;
}

/* ---- one step -------------------------------------------------------------- */

typedef struct step_ctx {
    ekn_net *net;
    int n;
    const float *x;      /* input (table memory) */
    const int32_t *y;    /* labels (table memory); NULL for regression */
    float *dout;         /* dL/dout (table memory) */
    const float *out;    /* the forward's output */
    double loss;
} step_ctx;

/* The trainer's objective (lib/nn/train.c): forward in training mode, the
 * loss kernel, backward. */
static double objective(void *p, const float *theta, float *grad)
{
    step_ctx *c = p;
    ekn_net *net = c->net;
    assert_ptr_equal(theta, net->theta);
    assert_ptr_equal(grad, net->grad);
    ekn_net_zero_grad(net);
    ekn_rng rng;
    ekn_rng_seed(&rng, 1, 1); /* no noise or dropout in these nets: never drawn from */
    c->out = ekn_net_forward(net, c->x, c->n, 1, &rng);
    if (net->classes) {
        ekn_nll_args a = {c->y, NULL, NULL, NULL, NULL};
        c->loss = net->ops->softmax_nll(c->n, net->classes, net->out_spatial, c->out, &a, c->dout, NULL);
    } else {
        /* target = input */
        c->loss = net->ops->mse((size_t)c->n * net->out_size, c->out, c->x, c->dout);
    }
    ekn_net_backward(net, c->n, c->dout);
    return c->loss;
}

static void *table_alloc(const ekn_ops *ops, size_t bytes)
{
    void *p = ops->alloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* Counts the .npy files in CASE/init, so a tensor torch has and ekn lacks
 * fails the test. */
static int count_init_files(const char *cas)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/init", fixture_dir(), cas);
    DIR *d = opendir(path);
    if (!d) fail_msg("cannot open '%s'", path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".npy")) n++;
    }
    closedir(d);
    return n;
}

/* Runs case `cas` on ops; perturb: scale the first weight of `perturb` by
 * 1.001 after loading (the negative control).  Returns the number of
 * elements out of tolerance. */
static size_t tr_run_case(const char *cas, const ekn_ops *ops, const char *perturb)
{
    char path[1024], rel[256], what[160];
    fprintf(stderr, "---- %s on %s kernels%s%s\n", cas, ops->name, perturb ? ", perturbed " : "",
            perturb ? perturb : "");
    ekn_spec spec = {0};
    ekn_err err = {0};
    snprintf(path, sizeof path, "%s/%s.spec", fixture_dir(), cas);
    if (ekn_spec_load(&spec, path, &err)) fail_msg("%s", err.msg);

    npy x, lr, out_ref, loss_ref, labels = {0};
    npy_load(cas, "x.npy", &x, 0);
    npy_load(cas, "lr.npy", &lr, 0);
    npy_load(cas, "out.npy", &out_ref, 0);
    npy_load(cas, "loss.npy", &loss_ref, 0);
    int n = (int)x.shape[0];

    ekn_net net;
    if (ekn_net_build(&net, &spec, NULL, n, ops, &err)) fail_msg("%s", err.msg);
    assert_int_equal(x.n, (size_t)n * net.in_size);
    assert_int_equal(out_ref.n, (size_t)n * net.out_size);

    /* every tensor from init/, shapes as ekn names them */
    ekn_net_tensor ts[EKN_NET_MAX_TENSORS];
    int nt = ekn_net_tensors(&net, ts, EKN_NET_MAX_TENSORS);
    assert_true(nt > 0);
    assert_int_equal(nt, count_init_files(cas));
    float *theta = ekn_net_params_host(&net), *state = ekn_net_state_host(&net);
    for (int i = 0; i < nt; i++) {
        npy t;
        snprintf(rel, sizeof rel, "init/%s.npy", ts[i].name);
        if (npy_load(cas, rel, &t, 1)) fail_msg("%s: no fixture for ekn's tensor '%s'", cas, ts[i].name);
        if (t.rank != ts[i].rank) fail_msg("%s: rank %d in torch, %d in ekn", ts[i].name, t.rank, ts[i].rank);
        for (int k = 0; k < t.rank; k++)
            if (t.shape[k] != ts[i].dims[k])
                fail_msg("%s: axis %d is %llu in torch, %llu in ekn", ts[i].name, k,
                         (unsigned long long)t.shape[k], (unsigned long long)ts[i].dims[k]);
        assert_int_equal(t.n, ts[i].count);
        float *dst = (ts[i].state ? state : theta) + ts[i].offset;
        for (size_t k = 0; k < t.n; k++) dst[k] = (float)t.v[k];
        if (perturb && !strcmp(ts[i].name, perturb)) dst[0] *= 1.001f;
        npy_free(&t);
    }
    ekn_net_params_commit(&net);
    ekn_net_state_commit(&net);

    /* the batch in the table's memory */
    step_ctx c = {.net = &net, .n = n};
    float *xf = to_float(&x);
    float *xd = table_alloc(ops, x.n * sizeof(float));
    ops->upload(xd, xf, x.n * sizeof(float));
    c.x = xd;
    int32_t *yd = NULL;
    if (net.classes) {
        npy_load(cas, "labels.npy", &labels, 0);
        assert_int_equal(labels.n, (size_t)n * net.out_spatial);
        int32_t *yh = malloc(labels.n * sizeof *yh);
        assert_non_null(yh);
        for (size_t k = 0; k < labels.n; k++) yh[k] = (int32_t)labels.v[k];
        yd = table_alloc(ops, labels.n * sizeof *yd);
        ops->upload(yd, yh, labels.n * sizeof *yd);
        free(yh);
        c.y = yd;
    }
    c.dout = table_alloc(ops, (size_t)n * net.out_size * sizeof(float));

    /* one step of the trainer's SGD */
    ekn_optim o;
    if (ekn_optim_create_on(&o, "sgd", net.nparams, NULL, ops, &err)) fail_msg("%s", err.msg);
    ekn_hyper h = {.lr = lr.v[0], .momentum = 0, .weight_decay = 0};
    double loss = 0;
    if (o.vt->step(&o, net.theta, net.grad, net.decay, &h, objective, &c, &loss, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ekn_ops_check(ops, &err), 0);

    size_t bad = 0;
    float *outh = tu_alloc(out_ref.n);
    ops->download(outh, c.out, out_ref.n * sizeof(float));
    snprintf(what, sizeof what, "%s/%s output", cas, ops->name);
    bad += compare(what, outh, &out_ref, -1);
    double dl = fabs(loss - loss_ref.v[0]), tol = RTOL * fabs(loss_ref.v[0]);
    fprintf(stderr, "%-40s ekn=%.10g torch=%.10g rel=%.3g %s\n", "loss", loss, loss_ref.v[0],
            dl / fabs(loss_ref.v[0]), dl <= tol ? "ok" : "FAIL");
    bad += !(dl <= tol);

    /* gradients (the step left them in grad), then every tensor after it */
    float *grad = tu_alloc(net.nparams);
    ops->download(grad, net.grad, net.nparams * sizeof(float));
    theta = ekn_net_params_host(&net);
    state = ekn_net_state_host(&net);
    double gscale = 0; /* the largest gradient of the step */
    for (int i = 0; i < nt; i++) {
        npy t;
        if (ts[i].state) continue;
        snprintf(rel, sizeof rel, "grad/%s.npy", ts[i].name);
        npy_load(cas, rel, &t, 0);
        gscale = fmax(gscale, max_abs(&t));
        npy_free(&t);
    }
    for (int i = 0; i < nt; i++) {
        npy t;
        if (!ts[i].state) {
            snprintf(rel, sizeof rel, "grad/%s.npy", ts[i].name);
            npy_load(cas, rel, &t, 0);
            assert_int_equal(t.n, ts[i].count);
            snprintf(what, sizeof what, "%s/%s grad %s", cas, ops->name, ts[i].name);
            bad += compare(what, grad + ts[i].offset, &t, gscale);
            npy_free(&t);
        }
        snprintf(rel, sizeof rel, "after/%s.npy", ts[i].name);
        npy_load(cas, rel, &t, 0);
        assert_int_equal(t.n, ts[i].count);
        snprintf(what, sizeof what, "%s/%s after %s", cas, ops->name, ts[i].name);
        bad += compare(what, (ts[i].state ? state : theta) + ts[i].offset, &t, -1);
        npy_free(&t);
    }

    free(grad);
    free(outh);
    free(xf);
    ekn_optim_free(&o);
    ops->free(xd);
    ops->free(yd);
    ops->free(c.dout);
    ekn_net_free(&net);
    ekn_spec_free(&spec);
    npy_free(&x);
    npy_free(&lr);
    npy_free(&out_ref);
    npy_free(&loss_ref);
    npy_free(&labels);
    return bad;
}
#endif
