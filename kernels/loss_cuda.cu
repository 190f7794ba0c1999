// ekn_softmax_nll_cuda, ekn_mse_cuda, ekn_argmax_count_cuda, and (issue 14 section 5) ekn_mse_w_cuda,
// ekn_bce_cuda, ekn_softmax_focal_cuda, ekn_softmax_dice_cuda, ekn_sigmoid_dice_cuda (kernels/loss.h):
// loss_ref.c's formulas, one thread per voxel (or element), in double.
//
// The mean needs the count before any gradient can be scaled, so the NLL
// and MSE take two passes: the count (reduced and copied to the host), then
// the terms and gradients.  The Dice losses add one (I_k, U_k) reduction
// per class between the two and copy the C pairs to the device for the
// gradient pass.  Sums use the fixed-order reduction of
// cuda_check.h, so a loss is the same from run to run.  A failure gives 0
// and is recorded for ekn_cuda_last_error.
#include "cuda_check.h"
extern "C" {
#include "loss.h"
}

namespace {

const double LOG_CLAMP = 1e-12; // as loss_ref.c

__device__ double clamp_lo(double v) { return v < LOG_CLAMP ? LOG_CLAMP : v; }

#define GRID_STRIDE(i, total)                                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

// N_up over the voxels, plus S per absent flag
__global__ void nll_count(int n, int c, size_t s, ekn_nll_args a, double *partials)
{
    double cnt = 0;
    size_t voxels = (size_t)n * s, flags = a.absent ? (size_t)n * c : 0, total = voxels > flags ? voxels : flags;
    GRID_STRIDE(i, total)
    {
        if (i < voxels) {
            int32_t y = a.labels[i];
            double w = a.voxel_w ? a.voxel_w[i] : 1.0;
            if (y >= 0 && (!a.labelled || a.labelled[i / s * c + y])) cnt += w;
            if (a.voxel_w && a.absent) // each absent class of the example: a down term of weight w
                for (int k = 0; k < c; k++) cnt += a.absent[i / s * c + k] ? w : 0.0;
        }
        if (i < flags && a.absent[i] && !a.voxel_w) cnt += (double)s;
    }
    ekn_block_sum2_store(cnt, 0, partials);
}

__global__ void nll_terms(int n, int c, size_t s, const float *p, ekn_nll_args a, double inv, float *dlogits,
                          double *partials)
{
    double loss = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        size_t i = t / s, o = i * c * s + t % s; // class k of this voxel at o + k*s
        const uint8_t *ab = a.absent ? a.absent + i * c : NULL;
        int32_t y = a.labels[t];
        double vw = a.voxel_w ? a.voxel_w[t] : 1.0;
        double wy = 0;
        if (y >= 0 && (!a.labelled || a.labelled[i * c + y])) {
            wy = (a.class_w ? a.class_w[y] : 1.0) * vw;
            loss -= wy * log(clamp_lo(p[o + (size_t)y * s]));
        }
        double asum = 0;
        if (ab)
            for (int k = 0; k < c; k++) {
                if (!ab[k]) continue;
                double wk = (a.class_w ? a.class_w[k] : 1.0) * vw, pk = p[o + (size_t)k * s];
                double q = clamp_lo(1.0 - pk);
                loss -= wk * log(q);
                asum += wk * pk / q;
            }
        // the bounded form of loss_ref.c (see there); p_k is read before dlogits_k is written
        for (int k = 0; k < c; k++) {
            double pk = p[o + (size_t)k * s], ak = 0, self = 0;
            if (ab && ab[k]) {
                double wk = (a.class_w ? a.class_w[k] : 1.0) * vw, q = clamp_lo(1.0 - pk);
                ak = wk * pk / q;
                self = wk * pk * (1.0 - pk) / q;
            }
            double g = pk * (wy - (asum - ak)) + self;
            if (k == y) g -= wy;
            dlogits[o + (size_t)k * s] = (float)(g * inv);
        }
    }
    ekn_block_sum2_store(loss, 0, partials);
}

__global__ void mse_count(size_t m, const float *t, double *partials)
{
    double cnt = 0;
    GRID_STRIDE(i, m) cnt += isfinite(t[i]) ? 1 : 0;
    ekn_block_sum2_store(cnt, 0, partials);
}

__global__ void mse_terms(size_t m, const float *y, const float *t, double cnt, float *dy, double *partials)
{
    double sum = 0;
    GRID_STRIDE(i, m)
    {
        double d = isfinite(t[i]) ? (double)y[i] - t[i] : 0.0;
        sum += d * d;
        if (dy) dy[i] = cnt ? (float)(d / cnt) : 0.0f;
    }
    ekn_block_sum2_store(sum, 0, partials);
}

__global__ void argmax_terms(int n, int c, size_t s, const float *p, const int32_t *labels, double *partials)
{
    double ok = 0, seen = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        int32_t y = labels[t];
        if (y < 0) continue;
        seen += 1;
        size_t o = t / s * c * s + t % s;
        int best = -1; // stays -1 if nothing beats -inf (all NaN): counted wrong
        float bv = -INFINITY;
        for (int k = 0; k < c; k++) {
            float pk = p[o + (size_t)k * s];
            if (pk > bv) {
                bv = pk;
                best = k;
            }
        }
        ok += best == y;
    }
    ekn_block_sum2_store(ok, seen, partials);
}

// ---- voxel weights, BCE, focal, Dice (loss.h), loss_ref.c's formulas in double ----

__device__ double vox_w(const float *voxel_w, size_t i) { return voxel_w ? voxel_w[i] : 1.0; }
// the voxel (n*S + s) of element e of an (N,C,S) array
__device__ size_t voxel_of(size_t e, int c, size_t s) { return e / ((size_t)c * s) * s + e % s; }

__device__ double softplus_d(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }
__device__ double sigmoid_d(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

// sum of the voxel weights of the elements with a finite target (BCE, MSE, sigmoid Dice)
__global__ void elem_count(int n, int c, size_t s, const float *t, const float *voxel_w, double *partials)
{
    double cnt = 0;
    GRID_STRIDE(e, (size_t)n * c * s) if (isfinite(t[e])) cnt += vox_w(voxel_w, voxel_of(e, c, s));
    ekn_block_sum2_store(cnt, 0, partials);
}

// sum of the voxel weights of the labelled voxels (focal, softmax Dice)
__global__ void label_count(size_t voxels, const int32_t *labels, const float *voxel_w, double *partials)
{
    double cnt = 0;
    GRID_STRIDE(v, voxels) if (labels[v] >= 0) cnt += vox_w(voxel_w, v);
    ekn_block_sum2_store(cnt, 0, partials);
}

__global__ void mse_w_terms(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, double cnt,
                            float *dy, double *partials)
{
    double sum = 0;
    GRID_STRIDE(e, (size_t)n * c * s)
    {
        double w = vox_w(voxel_w, voxel_of(e, c, s));
        double d = isfinite(t[e]) ? (double)y[e] - t[e] : 0.0;
        sum += w * d * d;
        if (dy) dy[e] = cnt > 0 ? (float)(w * d / cnt) : 0.0f;
    }
    ekn_block_sum2_store(sum, 0, partials);
}

__global__ void bce_terms(int n, int c, size_t s, const float *z, ekn_bce_args a, double cnt, float *dz,
                          double *partials)
{
    double loss = 0;
    GRID_STRIDE(e, (size_t)n * c * s)
    {
        double t = a.t[e], x = z[e]; // read before the (possibly aliased) write
        if (!isfinite(t)) {
            dz[e] = 0;
            continue;
        }
        int k = (int)(e / s % (size_t)c);
        double q = a.pos_w ? a.pos_w[k] : 1.0;
        double w = (a.class_w ? a.class_w[k] : 1.0) * vox_w(a.voxel_w, voxel_of(e, c, s));
        loss += w * (q * t * softplus_d(-x) + (1 - t) * softplus_d(x));
        dz[e] = (float)(w * (sigmoid_d(x) * (q * t + 1 - t) - q * t) / cnt);
    }
    ekn_block_sum2_store(loss, 0, partials);
}

__global__ void focal_terms(int n, int c, size_t s, const float *p, ekn_nll_args a, double gamma, double cnt,
                            float *dlogits, double *partials)
{
    double loss = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        size_t o = t / s * c * s + t % s;
        int32_t y = a.labels[t];
        if (y < 0) {
            for (int k = 0; k < c; k++) dlogits[o + (size_t)k * s] = 0;
            continue;
        }
        double w = (a.class_w ? a.class_w[y] : 1.0) * vox_w(a.voxel_w, t);
        double q = p[o + (size_t)y * s], r = 1.0 - q, rg = pow(r > 0 ? r : 0.0, gamma);
        double lr = r > 0 ? log(clamp_lo(q)) / r : -1.0;
        loss -= w * rg * log(clamp_lo(q));
        double f = rg * (gamma * q * lr - 1.0);
        for (int k = 0; k < c; k++)
            dlogits[o + (size_t)k * s] = (float)(w * f * ((k == y) - (double)p[o + (size_t)k * s]) / cnt);
    }
    ekn_block_sum2_store(loss, 0, partials);
}

// class k of the softmax Dice: (I_k, U_k - eps)
__global__ void sdice_sums(int n, int c, size_t s, int k, const float *p, ekn_nll_args a, double *partials)
{
    double in = 0, un = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        int32_t y = a.labels[t];
        if (y < 0) continue;
        double w = vox_w(a.voxel_w, t), pk = p[t / s * c * s + (size_t)k * s + t % s];
        in += w * pk * (y == k);
        un += w * (pk + (y == k));
    }
    ekn_block_sum2_store(in, un, partials);
}

__device__ double dice_g(double ck, double csum, double w, double t, double inter, double uni)
{
    return -(ck / csum) * 2.0 * w * (t * uni - inter) / (uni * uni);
}

// iu: I_k at [k], U_k (with eps) at [c + k]
__global__ void sdice_grad(int n, int c, size_t s, const float *p, ekn_nll_args a, double csum, const double *iu,
                           float *dlogits)
{
    GRID_STRIDE(t, (size_t)n * s)
    {
        size_t o = t / s * c * s + t % s;
        int32_t y = a.labels[t];
        if (y < 0) {
            for (int k = 0; k < c; k++) dlogits[o + (size_t)k * s] = 0;
            continue;
        }
        double w = vox_w(a.voxel_w, t), pg = 0;
        for (int k = 0; k < c; k++)
            pg += p[o + (size_t)k * s] * dice_g(a.class_w ? a.class_w[k] : 1.0, csum, w, y == k, iu[k], iu[c + k]);
        for (int k = 0; k < c; k++) {
            double pk = p[o + (size_t)k * s];
            double g = dice_g(a.class_w ? a.class_w[k] : 1.0, csum, w, y == k, iu[k], iu[c + k]);
            dlogits[o + (size_t)k * s] = (float)(pk * (g - pg));
        }
    }
}

// channel k of the sigmoid Dice: (I_k, U_k - eps) over the (n, s) elements of channel k
__global__ void bdice_sums(int n, int c, size_t s, int k, const float *z, ekn_bce_args a, double *partials)
{
    double in = 0, un = 0;
    GRID_STRIDE(t, (size_t)n * s)
    {
        size_t e = t / s * c * s + (size_t)k * s + t % s;
        double tv = a.t[e];
        if (!isfinite(tv)) continue;
        double w = vox_w(a.voxel_w, t), pk = sigmoid_d(z[e]);
        in += w * pk * tv;
        un += w * (pk + tv);
    }
    ekn_block_sum2_store(in, un, partials);
}

__global__ void bdice_grad(int n, int c, size_t s, const float *z, ekn_bce_args a, double csum, const double *iu,
                           float *dz)
{
    GRID_STRIDE(e, (size_t)n * c * s)
    {
        double tv = a.t[e];
        if (!isfinite(tv)) {
            dz[e] = 0;
            continue;
        }
        int k = (int)(e / s % (size_t)c);
        double pk = sigmoid_d(z[e]);
        double g = dice_g(a.class_w ? a.class_w[k] : 1.0, csum, vox_w(a.voxel_w, voxel_of(e, c, s)), tv, iu[k],
                          iu[c + k]);
        dz[e] = (float)(g * pk * (1 - pk));
    }
}

// the host sum of c class weights in device memory (1 each without them); false after a failure
bool class_weight_sum(int c, const float *class_w, double *csum)
{
    *csum = c;
    if (!class_w) return true;
    static float *h; // kept between steps, grown to the largest C seen
    static int cap;
    if (c > cap) {
        float *g = (float *)realloc(h, (size_t)c * sizeof *h);
        if (!g) {
            ekn_cuda_record("malloc (dice class weights)", "out of host memory");
            return false;
        }
        h = g;
        cap = c;
    }
    bool ok = ekn_cuda_ok(cudaMemcpy(h, class_w, (size_t)c * sizeof *h, cudaMemcpyDeviceToHost),
                          "cudaMemcpy (dice class weights)");
    double sum = 0;
    for (int k = 0; ok && k < c; k++) sum += h[k];
    *csum = sum;
    return ok;
}

// The per-class sums of the Dice losses, kept between steps (a training
// step allocates nothing): host room for (I_k, U_k) and the class weights,
// and the device copy the gradient kernels read; grown to the largest C seen,
// like the reduction scratch, and never freed.
struct dice_scratch {
    int cap;
    double *iu;
    float *cw;
    double *iu_dev;
};

static bool dice_room(dice_scratch *d, int c)
{
    if (c <= d->cap) return true;
    double *iu = (double *)realloc(d->iu, (size_t)2 * c * sizeof *iu);
    if (iu) d->iu = iu;
    float *cw = (float *)realloc(d->cw, (size_t)c * sizeof *cw);
    if (cw) d->cw = cw;
    if (!iu || !cw) {
        ekn_cuda_record("malloc (dice sums)", "out of memory");
        return false;
    }
    if (d->iu_dev && !ekn_cuda_ok(cudaFree(d->iu_dev), "cudaFree (dice sums)")) return false;
    d->iu_dev = NULL;
    if (!ekn_cuda_ok(cudaMalloc((void **)&d->iu_dev, (size_t)2 * c * sizeof *d->iu_dev), "cudaMalloc (dice sums)"))
        return false;
    d->cap = c;
    return true;
}

// one (sum, sum) reduction per class by launch(k, blocks, partials), then 1 - sum_k c_k 2 I_k / U_k /
// csum and the device array iu (I_k, U_k) for the gradient (the scratch's, valid until the next
// call); returns false after a failure
template <typename Launch>
bool dice_classes(int c, size_t elems, float eps, const float *class_w, double csum, Launch launch, double *loss,
                  double **iu_dev)
{
    static dice_scratch d;
    double *partials = ekn_reduce_partials();
    *iu_dev = NULL;
    bool ok = partials && dice_room(&d, c);
    double *iu = d.iu;
    float *cw = class_w ? d.cw : NULL;
    if (ok && class_w)
        ok = ekn_cuda_ok(cudaMemcpy(cw, class_w, (size_t)c * sizeof *cw, cudaMemcpyDeviceToHost),
                         "cudaMemcpy (dice class weights)");
    unsigned blocks = ekn_reduce_blocks(elems);
    double dsum = 0;
    for (int k = 0; ok && k < c; k++) {
        launch(k, blocks, partials);
        double r[2];
        ok = ekn_launch_ok("dice sums") && ekn_reduce_finish(blocks, r, "dice sums");
        if (!ok) break;
        iu[k] = r[0];
        iu[c + k] = r[1] + eps;
        dsum += (cw ? cw[k] : 1.0) * 2.0 * iu[k] / iu[c + k];
    }
    if (ok)
        ok = ekn_cuda_ok(cudaMemcpy(d.iu_dev, iu, (size_t)2 * c * sizeof *iu, cudaMemcpyHostToDevice),
                         "cudaMemcpy (dice sums)");
    if (!ok) return false;
    *iu_dev = d.iu_dev;
    *loss = 1.0 - dsum / csum;
    return ok;
}

// the sum of launch's counts (one reduction), or false
template <typename Launch> bool count_of(size_t elems, Launch launch, double *cnt, const char *what)
{
    double *partials = ekn_reduce_partials();
    if (!partials) return false;
    unsigned blocks = ekn_reduce_blocks(elems);
    launch(blocks, partials);
    double r[2];
    if (!ekn_launch_ok(what) || !ekn_reduce_finish(blocks, r, what)) return false;
    *cnt = r[0];
    return true;
}

} // namespace

double ekn_mse_w_cuda(int n, int c, size_t s, const float *y, const float *t, const float *voxel_w, float *dy)
{
    size_t m = (size_t)n * (c > 0 ? c : 0) * s;
    double cnt = 0, sum[2];
    if (!m) return 0;
    if (!count_of(m, [&](unsigned b, double *pt) { elem_count<<<b, EKN_CUDA_THREADS>>>(n, c, s, t, voxel_w, pt); },
                  &cnt, "mse_w count"))
        return 0;
    unsigned blocks = ekn_reduce_blocks(m);
    double *partials = ekn_reduce_partials();
    mse_w_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, y, t, voxel_w, cnt, dy, partials);
    if (!ekn_launch_ok("mse_w terms") || !ekn_reduce_finish(blocks, sum, "mse_w sum")) return 0;
    return cnt > 0 ? sum[0] / (2.0 * cnt) : 0.0;
}

double ekn_bce_cuda(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float *dz, double *count)
{
    if (count) *count = 0;
    size_t m = (size_t)n * (c > 0 ? c : 0) * s;
    double cnt = 0, loss[2];
    if (!m) return 0;
    const float *t = a->t, *vw = a->voxel_w;
    if (!count_of(m, [&](unsigned b, double *pt) { elem_count<<<b, EKN_CUDA_THREADS>>>(n, c, s, t, vw, pt); }, &cnt,
                  "bce count"))
        return 0;
    if (count) *count = cnt;
    if (!(cnt > 0)) {
        ekn_cuda_ok(cudaMemsetAsync(dz, 0, m * sizeof(float)), "cudaMemsetAsync (bce)");
        return 0;
    }
    unsigned blocks = ekn_reduce_blocks(m);
    bce_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, z, *a, cnt, dz, ekn_reduce_partials());
    if (!ekn_launch_ok("bce terms") || !ekn_reduce_finish(blocks, loss, "bce sum")) return 0;
    return loss[0] / cnt;
}

double ekn_softmax_focal_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float gamma,
                              float *dlogits, double *count)
{
    if (count) *count = 0;
    size_t voxels = (size_t)n * s, all = voxels * (c > 0 ? c : 0);
    double cnt = 0, loss[2];
    if (!all) return 0;
    const int32_t *lab = a->labels;
    const float *vw = a->voxel_w;
    if (!count_of(voxels, [&](unsigned b, double *pt) { label_count<<<b, EKN_CUDA_THREADS>>>(voxels, lab, vw, pt); },
                  &cnt, "focal count"))
        return 0;
    if (count) *count = cnt;
    if (!(cnt > 0)) {
        ekn_cuda_ok(cudaMemsetAsync(dlogits, 0, all * sizeof(float)), "cudaMemsetAsync (focal)");
        return 0;
    }
    unsigned blocks = ekn_reduce_blocks(voxels);
    focal_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, p, *a, gamma, cnt, dlogits, ekn_reduce_partials());
    if (!ekn_launch_ok("focal terms") || !ekn_reduce_finish(blocks, loss, "focal sum")) return 0;
    return loss[0] / cnt;
}

// The frame both Dice losses share: the counted terms (count_launch over
// count_elems), the class weights' sum, a zero gradient when nothing counts,
// the per-class sums (sums_launch), then the gradient (grad_launch).
template <typename Count, typename Sums, typename Grad>
double dice_loss(int c, size_t voxels, size_t all, size_t count_elems, float eps, const float *class_w, float *grad,
                 double *count, const char *what, Count count_launch, Sums sums_launch, Grad grad_launch)
{
    if (count) *count = 0;
    double cnt = 0, csum = 0, loss = 0;
    if (!all) return 0;
    if (!count_of(count_elems, count_launch, &cnt, what) || !class_weight_sum(c, class_w, &csum)) return 0;
    if (count) *count = cnt;
    if (!(cnt > 0) || !(csum > 0)) {
        ekn_cuda_ok(cudaMemsetAsync(grad, 0, all * sizeof(float)), what);
        return 0;
    }
    double *iu = NULL;
    if (!dice_classes(c, voxels, eps, class_w, csum, sums_launch, &loss, &iu)) return 0;
    grad_launch(csum, iu);
    return ekn_launch_ok(what) ? loss : 0;
}

double ekn_softmax_dice_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float eps,
                             float *dlogits, double *count)
{
    size_t voxels = (size_t)n * s, all = voxels * (c > 0 ? c : 0);
    const int32_t *lab = a->labels;
    const float *vw = a->voxel_w;
    ekn_nll_args args = *a;
    return dice_loss(
        c, voxels, all, voxels, eps, a->class_w, dlogits, count, "softmax_dice",
        [&](unsigned b, double *pt) { label_count<<<b, EKN_CUDA_THREADS>>>(voxels, lab, vw, pt); },
        [&](int k, unsigned b, double *pt) { sdice_sums<<<b, EKN_CUDA_THREADS>>>(n, c, s, k, p, args, pt); },
        [&](double csum, const double *iu) {
            sdice_grad<<<ekn_cuda_blocks(voxels), EKN_CUDA_THREADS>>>(n, c, s, p, args, csum, iu, dlogits);
        });
}

double ekn_sigmoid_dice_cuda(int n, int c, size_t s, const float *z, const ekn_bce_args *a, float eps, float *dz,
                             double *count)
{
    size_t voxels = (size_t)n * s, all = voxels * (c > 0 ? c : 0);
    const float *t = a->t, *vw = a->voxel_w;
    ekn_bce_args args = *a;
    return dice_loss(
        c, voxels, all, all, eps, a->class_w, dz, count, "sigmoid_dice",
        [&](unsigned b, double *pt) { elem_count<<<b, EKN_CUDA_THREADS>>>(n, c, s, t, vw, pt); },
        [&](int k, unsigned b, double *pt) { bdice_sums<<<b, EKN_CUDA_THREADS>>>(n, c, s, k, z, args, pt); },
        [&](double csum, const double *iu) {
            bdice_grad<<<ekn_cuda_blocks(all), EKN_CUDA_THREADS>>>(n, c, s, z, args, csum, iu, dz);
        });
}

double ekn_softmax_nll_cuda(int n, int c, size_t s, const float *p, const ekn_nll_args *a, float *dlogits,
                            double *count)
{
    if (count) *count = 0;
    size_t voxels = (size_t)n * s, all = voxels * (c > 0 ? c : 0);
    double *partials = ekn_reduce_partials();
    if (!partials || !voxels || c <= 0) return 0;
    size_t flags = a->absent ? (size_t)n * c : 0;
    unsigned blocks = ekn_reduce_blocks(voxels > flags ? voxels : flags);
    double cnt[2];
    nll_count<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, *a, partials);
    if (!ekn_launch_ok("softmax_nll count") || !ekn_reduce_finish(blocks, cnt, "softmax_nll count sum")) return 0;
    if (count) *count = cnt[0];
    if (cnt[0] == 0) {
        ekn_cuda_ok(cudaMemsetAsync(dlogits, 0, all * sizeof(float)), "cudaMemsetAsync (softmax_nll)");
        return 0;
    }
    blocks = ekn_reduce_blocks(voxels);
    double loss[2];
    nll_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, p, *a, 1.0 / cnt[0], dlogits, partials);
    if (!ekn_launch_ok("softmax_nll terms") || !ekn_reduce_finish(blocks, loss, "softmax_nll loss sum")) return 0;
    return loss[0] / cnt[0];
}

double ekn_mse_cuda(size_t m, const float *y, const float *t, float *dy)
{
    double *partials = ekn_reduce_partials();
    if (!partials || !m) return 0;
    unsigned blocks = ekn_reduce_blocks(m);
    double cnt[2], sum[2];
    mse_count<<<blocks, EKN_CUDA_THREADS>>>(m, t, partials);
    if (!ekn_launch_ok("mse count") || !ekn_reduce_finish(blocks, cnt, "mse count sum")) return 0;
    mse_terms<<<blocks, EKN_CUDA_THREADS>>>(m, y, t, cnt[0], dy, partials);
    if (!ekn_launch_ok("mse terms") || !ekn_reduce_finish(blocks, sum, "mse sum")) return 0;
    return cnt[0] ? sum[0] / (2.0 * cnt[0]) : 0.0;
}

void ekn_argmax_count_cuda(int n, int c, size_t s, const float *p, const int32_t *labels, long *correct,
                           long *counted)
{
    *correct = *counted = 0;
    double *partials = ekn_reduce_partials();
    size_t voxels = (size_t)n * s;
    if (!partials || !voxels) return;
    unsigned blocks = ekn_reduce_blocks(voxels);
    double r[2];
    argmax_terms<<<blocks, EKN_CUDA_THREADS>>>(n, c, s, p, labels, partials);
    if (!ekn_launch_ok("argmax_count") || !ekn_reduce_finish(blocks, r, "argmax_count sum")) return;
    *correct = (long)r[0];
    *counted = (long)r[1];
}
