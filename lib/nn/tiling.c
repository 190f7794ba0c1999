#include "tiling.h"

#include <stdlib.h>
#include <string.h>

#include "calc.h"

static const char axis_char[] = "ZYX";

/* Network memory of one tile, per ekn-calc's estimate (activations, their
 * gradients, argmax, conv workspace): what ekn_net_build allocates. */
/* Input size of a tile with o steps of the stride. */
static int tile_side(const ekn_tiling_axis *a, int o)
{
    return a->base + a->step * (o - 1);
}

/* Outputs (at the stride) of a tile with m steps of the valid sizes. */
static int tile_outputs(const ekn_tiling_axis *a, int m)
{
    return a->out_base + a->out_step * (m - 1);
}

static int tile_bytes(const ekn_spec *spec, const ekn_tiling *t, const int o[3], double *bytes, ekn_err *err)
{
    int shape[3];
    for (int k = 0; k < 3; k++) shape[k] = tile_side(&t->ax[k], o[k]);
    ekn_calc *c = malloc(sizeof *c); /* large: one entry per possible layer */
    if (!c) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int rc = ekn_calc_run_mfp(spec, shape, t->mfp, c, err);
    if (!rc) *bytes = c->act_bytes + c->work_bytes;
    free(c);
    return rc;
}

static int mirror(int i, int n)
{
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

static int plan_axis(ekn_tiling_axis *a, int k, ekn_pad_mode pad, ekn_err *err)
{
    int padded = a->in + 2 * a->pad;
    a->out = padded - a->fov + 1;
    if (a->out < 1)
        return ekn_err_set(err, EKN_EXIT_SPEC, "volume of %d in axis %c is smaller than the net's field of view %d%s",
                           a->in, axis_char[k], a->fov, pad == EKN_PAD_NONE ? " (--pad mirror or zero pads it)" : "");
    if (!(a->source = malloc((size_t)padded * sizeof *a->source)) || !(a->starts = malloc((size_t)a->out * sizeof *a->starts)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    a->vol_lo = 0;
    a->vol_n = a->in;
    for (int p = 0; p < padded; p++) {
        int i = p - a->pad;
        a->source[p] = i >= 0 && i < a->in ? i : pad == EKN_PAD_MIRROR ? mirror(i, a->in) : -1;
    }
    return 0;
}

/* Largest tile steps per axis such that every residue class has at least
 * that many dense outputs (so each chunk fits inside the volume); with MFP,
 * one tile's step * o outputs must fit. */
static int max_tile_out(const ekn_tiling_axis *a, int mfp)
{
    if (mfp) return a->out / a->step;
    int rmax = a->stride - 1 < a->out - 1 ? a->stride - 1 : a->out - 1;
    int outputs = (a->out - 1 - rmax) / a->stride + 1;
    /* the largest m whose outputs fit (at least 1: a smaller volume is refused in ekn_tiling_plan) */
    int m = outputs < a->out_base ? 1 : (outputs - a->out_base) / a->out_step + 1;
    return m;
}

static void list_starts(ekn_tiling_axis *a)
{
    int s = a->stride, o = a->tile_out;
    a->nstarts = 0;
    for (int r = 0; r < s && r < a->out; r++) {
        int n = (a->out - 1 - r) / s + 1, last = r + s * (n - o);
        for (int st = r;; st += s * o) {
            int start = st < last ? st : last;
            a->starts[a->nstarts++] = start;
            if (start == last) break;
        }
    }
}

static int choose_tiles(ekn_tiling *t, const ekn_spec *spec, const int tile[3], double max_bytes, int max_batch,
                        ekn_err *err)
{
    int o[3], cap[3], frozen[3], shifts = 1;
    for (int k = 0; k < 3; k++) {
        ekn_tiling_axis *a = &t->ax[k];
        cap[k] = a->unused ? 1 : max_tile_out(a, t->mfp);
        shifts *= t->mfp ? a->step : a->stride;
        o[k] = 1;
        frozen[k] = cap[k] == 1;
        if (tile && tile[k] > 0) {
            if (a->unused && tile[k] != 1)
                return ekn_err_set(err, EKN_EXIT_SPEC, "tile of %d in axis %c: the net's input is 1 there (slice by slice)",
                                   tile[k], axis_char[k]);
            if (tile[k] < a->base || (tile[k] - a->base) % a->step)
                return ekn_err_set(err, EKN_EXIT_SPEC, "tile of %d in axis %c is not a valid input size (%d + %d * k)%s",
                                   tile[k], axis_char[k], a->base, a->step, t->mfp ? " with max fragment pooling" : "");
            o[k] = (tile[k] - a->base) / a->step + 1;
            if (o[k] > cap[k]) o[k] = cap[k];
            frozen[k] = 1;
        }
    }
    /* shift and stitch runs a tile per shift: a batch of them should fit */
    int together = t->mfp ? 1 : shifts < max_batch ? shifts : max_batch;
    double bytes;
    if (tile_bytes(spec, t, o, &bytes, err)) return -1;
    for (;;) {
        /* grow the smallest tile side first, to keep tiles near cubic (least overlap) */
        int best = -1;
        for (int k = 0; k < 3; k++) {
            int side = tile_side(&t->ax[k], o[k]);
            if (!frozen[k] && o[k] < cap[k] && (best < 0 || side < tile_side(&t->ax[best], o[best])))
                best = k;
        }
        if (best < 0) break;
        o[best]++;
        double b;
        if (tile_bytes(spec, t, o, &b, err)) return -1;
        if (b * together > max_bytes) {
            o[best]--;
            frozen[best] = 1;
        } else {
            bytes = b;
        }
    }
    for (int k = 0; k < 3; k++) {
        t->ax[k].tile_out = t->mfp ? t->ax[k].step * o[k] : tile_outputs(&t->ax[k], o[k]);
        t->ax[k].tile = tile_side(&t->ax[k], o[k]);
    }
    t->tile_bytes = bytes;
    double fit = bytes > 0 ? max_bytes / bytes : max_batch;
    t->batch = fit < 1 ? 1 : fit > max_batch ? max_batch : (int)fit;
    return 0;
}

/* A graph's outputs per axis at its smallest valid input (outs[0]) and
 * one valid step larger (outs[1]), in units of its output stride. */
static int graph_outputs(const ekn_spec *spec, int outs[2][3], ekn_err *err)
{
    int base[3], step[3];
    for (int k = 0; k < 3; k++) {
        ekn_calc_dim di;
        if (ekn_calc_dim_info(spec, k, 0, &di, err)) return -1;
        base[k] = di.base;
        step[k] = di.step;
    }
    ekn_calc *c = malloc(sizeof *c);
    if (!c) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory");
    int rc = ekn_calc_run(spec, base, c, err);
    for (int k = 0; k < 3 && !rc; k++) outs[0][k] = c->out[k];
    for (int k = 0; k < 3 && !rc; k++) {
        int shape[3] = {base[0], base[1], base[2]};
        shape[k] += step[k];
        rc = ekn_calc_run(spec, shape, c, err);
        if (!rc) outs[1][k] = c->out[k];
    }
    free(c);
    return rc;
}

int ekn_tiling_plan(ekn_tiling *t, const ekn_spec *spec, const int in[3], ekn_pad_mode pad, const int tile[3],
                    double max_bytes, int max_batch, int mfp, ekn_err *err)
{
    memset(t, 0, sizeof *t);
    t->mfp = mfp;
    int outs[2][3] = {{1, 1, 1}, {2, 2, 2}};
    if (spec->graph && graph_outputs(spec, outs, err)) return -1;
    for (int k = 0; k < 3; k++) {
        ekn_calc_dim di, dm;
        ekn_tiling_axis *a = &t->ax[k];
        if (ekn_calc_dim_info(spec, k, 0, &di, err) || (mfp && ekn_calc_dim_info(spec, k, 1, &dm, err))) return -1;
        a->unused = di.step == 0;
        a->step = di.step > 0 ? di.step : 1;
        a->stride = mfp ? 1 : spec->graph ? (di.stride > 0 ? di.stride : 1) : a->step;
        a->base = mfp ? dm.base : di.base;
        a->out_base = outs[0][k];
        a->out_step = a->unused ? 1 : outs[1][k] - outs[0][k];
        a->fov = spec->graph ? a->base - a->stride * (a->out_base - 1) : di.fov;
        a->offset = di.offset;
        if (a->out_step < 1)
            return ekn_err_set(err, EKN_EXIT_SPEC, "the net's outputs do not grow with its input in %c", axis_char[k]);
        a->pad = pad == EKN_PAD_NONE ? 0 : a->offset;
        a->in = in[k];
        if (plan_axis(a, k, pad, err)) {
            ekn_tiling_free(t);
            return -1;
        }
        if (!mfp && !a->unused) {
            int rmax = a->stride - 1 < a->out - 1 ? a->stride - 1 : a->out - 1;
            if ((a->out - 1 - rmax) / a->stride + 1 < a->out_base) {
                ekn_err_set(err, EKN_EXIT_SPEC, "volume of %d in axis %c is smaller than the net's smallest tile of %d "
                            "voxels (%d outputs)%s", a->in, axis_char[k], a->base, a->out_base,
                            pad == EKN_PAD_NONE ? " (--pad mirror or zero pads it)" : "");
                ekn_tiling_free(t);
                return -1;
            }
        }
        /* fragments need a volume of one net stride of outputs at least */
        if (mfp && a->out < a->step) t->mfp = 0;
    }
    if (mfp && !t->mfp) {
        /* a volume this small is a tile or two: the MFP tile sizes asked for no longer apply */
        for (int k = 0; k < 3; k++) t->ax[k].stride = t->ax[k].step, t->ax[k].base = t->ax[k].fov;
        tile = NULL;
    }
    if (choose_tiles(t, spec, tile, max_bytes, max_batch < 1 ? 1 : max_batch, err)) {
        ekn_tiling_free(t);
        return -1;
    }
    t->ntiles = 1;
    for (int k = 0; k < 3; k++) {
        list_starts(&t->ax[k]);
        t->ntiles *= (size_t)t->ax[k].nstarts;
    }
    if ((size_t)t->batch > t->ntiles) t->batch = (int)t->ntiles;
    return 0;
}

void ekn_tiling_free(ekn_tiling *t)
{
    for (int k = 0; k < 3; k++) {
        free(t->ax[k].starts);
        free(t->ax[k].source);
        t->ax[k].starts = NULL;
        t->ax[k].source = NULL;
    }
}

void ekn_tiling_start(const ekn_tiling *t, size_t i, int start[3])
{
    for (int k = 2; k >= 0; k--) {
        size_t n = (size_t)t->ax[k].nstarts;
        start[k] = t->ax[k].starts[i % n];
        i /= n;
    }
}

void ekn_tiling_gather(const ekn_tiling *t, const float *vol, int c, const int start[3], float *dst)
{
    const ekn_tiling_axis *az = &t->ax[0], *ay = &t->ax[1], *ax = &t->ax[2];
    const int *sx = ax->source + start[2];
    for (int ch = 0; ch < c; ch++)
        for (int z = 0; z < az->tile; z++) {
            int iz = az->source[start[0] + z];
            for (int y = 0; y < ay->tile; y++) {
                int iy = ay->source[start[1] + y];
                if (iz < 0 || iy < 0) {
                    memset(dst, 0, (size_t)ax->tile * sizeof *dst);
                } else {
                    /* the row of the box, indexed by volume x (source voxels lie inside the box) */
                    const float *row = vol + (((size_t)ch * az->vol_n + (size_t)(iz - az->vol_lo)) * ay->vol_n +
                                              (size_t)(iy - ay->vol_lo)) * ax->vol_n;
                    const int xl = ax->vol_lo;
                    for (int x = 0; x < ax->tile; x++) dst[x] = sx[x] < 0 ? 0.0f : row[sx[x] - xl];
                }
                dst += ax->tile;
            }
        }
}

void ekn_tiling_scatter(const ekn_tiling *t, const float *tile_out, int k, const int start[3], float *dense)
{
    const ekn_tiling_axis *az = &t->ax[0], *ay = &t->ax[1], *ax = &t->ax[2];
    for (int ch = 0; ch < k; ch++)
        for (int z = 0; z < az->tile_out; z++)
            for (int y = 0; y < ay->tile_out; y++) {
                float *row = dense + (((size_t)ch * az->out + start[0] + az->stride * z) * ay->out + start[1] +
                                      ay->stride * y) * ax->out + start[2];
                for (int x = 0; x < ax->tile_out; x++) row[(size_t)ax->stride * x] = *tile_out++;
            }
}

size_t ekn_tiling_out_spatial(const ekn_tiling *t)
{
    return (size_t)t->ax[0].out * t->ax[1].out * t->ax[2].out;
}

/* The outputs of one tile in axis a: a window start s covers s, s + stride, ..., s + stride * (tile_out - 1). */
static int span(const ekn_tiling_axis *a)
{
    return a->unused ? 1 : a->stride * a->tile_out;
}

void ekn_tiling_block(const ekn_tiling *t, int k, int b, int n, int *lo, int *hi)
{
    const ekn_tiling_axis *a = &t->ax[k];
    long e = a->out, l = span(a), chunks = (e + l - 1) / l;
    if (chunks >= n) {
        *lo = (int)((long)b * chunks / n * l);
        long h = (long)(b + 1) * chunks / n * l;
        *hi = (int)(h < e ? h : e);
    } else {
        *lo = (int)((long)b * e / n);
        *hi = (int)((long)(b + 1) * e / n);
    }
}

void ekn_tiling_restrict(ekn_tiling *t, const int lo[3], const int hi[3])
{
    t->ntiles = 1;
    for (int k = 0; k < 3; k++) {
        ekn_tiling_axis *a = &t->ax[k];
        int kept = 0;
        for (int i = 0; i < a->nstarts; i++) {
            int s = a->starts[i], first = s, last = s + a->stride * (a->tile_out - 1);
            /* some output s + stride * j in [lo, hi) */
            if (last < lo[k] || first >= hi[k]) continue;
            int j = first >= lo[k] ? 0 : (lo[k] - first + a->stride - 1) / a->stride;
            if (s + a->stride * j >= hi[k]) continue;
            a->starts[kept++] = s;
        }
        a->nstarts = kept;
        t->ntiles *= (size_t)kept;
    }
    /* t->batch stays: the net is the whole volume's, built for the same batch */
}

void ekn_tiling_scatter_region(const ekn_tiling *t, const float *tile_out, int k, const int start[3], const int lo[3],
                               const int hi[3], float *region)
{
    const ekn_tiling_axis *az = &t->ax[0], *ay = &t->ax[1], *ax = &t->ax[2];
    const size_t rz = (size_t)(hi[0] - lo[0]), ry = (size_t)(hi[1] - lo[1]), rx = (size_t)(hi[2] - lo[2]);
    for (int ch = 0; ch < k; ch++)
        for (int z = 0; z < az->tile_out; z++) {
            int oz = start[0] + az->stride * z;
            if (oz < lo[0] || oz >= hi[0]) {
                tile_out += (size_t)ay->tile_out * ax->tile_out;
                continue;
            }
            for (int y = 0; y < ay->tile_out; y++) {
                int oy = start[1] + ay->stride * y;
                if (oy < lo[1] || oy >= hi[1]) {
                    tile_out += ax->tile_out;
                    continue;
                }
                float *row = region + (((size_t)ch * rz + (size_t)(oz - lo[0])) * ry + (size_t)(oy - lo[1])) * rx;
                for (int x = 0; x < ax->tile_out; x++, tile_out++) {
                    int ox = start[2] + ax->stride * x;
                    if (ox >= lo[2] && ox < hi[2]) row[ox - lo[2]] = *tile_out;
                }
            }
        }
}

void ekn_tiling_box(ekn_tiling *t, int lo[3], int n[3])
{
    for (int k = 0; k < 3; k++) {
        ekn_tiling_axis *a = &t->ax[k];
        int min = a->in, max = -1;
        for (int i = 0; i < a->nstarts; i++)
            for (int p = a->starts[i]; p < a->starts[i] + a->tile; p++) {
                int v = a->source[p];
                if (v >= 0 && v < min) min = v;
                if (v > max) max = v;
            }
        if (max < 0) min = max = 0; /* only zero padding: nothing is read */
        lo[k] = a->vol_lo = min;
        n[k] = a->vol_n = max - min + 1;
    }
}
