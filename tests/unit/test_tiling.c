/* test_tiling: the shift-and-stitch plan of dense prediction.  Every tile
 * window must be the padded volume there (numpy's padding).  A stand-in
 * "net" that outputs the tile voxel under each output's centre (offset +
 * stride * j) makes the stitched dense output a closed form: dense output q
 * must be the padded volume at q + offset, for every q, with every tile
 * inside the padded volume, whatever the tile size, budget or padding.
 * Regions (--roi, --block): the restricted plan runs exactly the tiles that
 * meet the region, reads only its box, and gives the whole plan's outputs
 * there bit for bit; blocks partition each axis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tiling.h"

/* Anisotropic 3D img-img: field of view 3,7,11, stride 1,2,3, offset 1,3,5;
 * with max fragment pooling the smallest tile is 3,8,13. */
static const char *net_3d =
    "[input]\nmode = img-img\nchannels = 2\nshape = 3,7,11\n"
    "[conv]\nfilters = 2\nsize = 1,2,3\n"
    "[pool]\nsize = 1,2,3\nmfp = 1\n"
    "[conv]\nfilters = 2\nsize = 3,3,3\n"
    "[conv]\nfilters = 2\nsize = 1,1,1\nact = softmax\n";

static void parse_ok(ekn_spec *s, const char *text)
{
    ekn_err err = {0};
    int rc = ekn_spec_parse(s, text, "t.spec", &err);
    if (rc) fprintf(stderr, "unexpected parse error: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* numpy's 'reflect', by repeated reflection (the plan uses a closed form). */
static int reflect(int i, int n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

static float padded_value(const float *vol, const int in[3], int ch, const int p[3], const int pad[3],
                          ekn_pad_mode mode)
{
    int i[3];
    for (int k = 0; k < 3; k++) {
        i[k] = p[k] - pad[k];
        if (i[k] < 0 || i[k] >= in[k]) {
            if (mode != EKN_PAD_MIRROR) return 0.0f;
            i[k] = reflect(i[k], in[k]);
        }
    }
    return vol[(((size_t)ch * in[0] + i[0]) * in[1] + i[1]) * in[2] + i[2]];
}

/* Plans, stitches the stand-in net's outputs and checks them; returns failures. */
static int check_plan(const ekn_spec *spec, const int in[3], ekn_pad_mode mode, const int tile[3], double budget,
                      int mfp, uint64_t *seed)
{
    const int c = 2;
    ekn_tiling t;
    ekn_err err = {0};
    if (ekn_tiling_plan(&t, spec, in, mode, tile, budget, 4, mfp, &err)) {
        fprintf(stderr, "plan failed: %s\n", err.msg);
        return 1;
    }
    const ekn_tiling_axis *a = t.ax;
    size_t vox = (size_t)in[0] * in[1] * in[2], tvox = (size_t)a[0].tile * a[1].tile * a[2].tile;
    size_t tout = (size_t)a[0].tile_out * a[1].tile_out * a[2].tile_out, dvox = ekn_tiling_out_spatial(&t);
    float *vol = tu_alloc(c * vox), *win = tu_alloc(c * tvox), *out = tu_alloc(c * tout), *dense = tu_alloc(c * dvox);
    tu_fill(seed, vol, c * vox, 1.0f, 2.0f); /* never 0: an unwritten or zero-padded voxel stands out */
    for (size_t i = 0; i < c * dvox; i++) dense[i] = NAN;
    int bad = 0, pad[3];
    for (int k = 0; k < 3; k++) {
        pad[k] = a[k].pad;
        bad += a[k].out != in[k] + 2 * a[k].pad - a[k].fov + 1;
        bad += (a[k].tile - a[k].base) % a[k].step != 0 || a[k].tile_out < 1;
        bad += a[k].stride != (t.mfp ? 1 : a[k].step) || a[k].tile_out != (t.mfp ? a[k].tile - a[k].fov + 1 : (a[k].tile - a[k].fov) / a[k].step + 1);
        bad += mode != EKN_PAD_NONE && a[k].out != in[k];
    }
    for (size_t i = 0; i < t.ntiles; i++) {
        int st[3];
        ekn_tiling_start(&t, i, st);
        for (int k = 0; k < 3; k++) bad += st[k] < 0 || st[k] + a[k].tile > in[k] + 2 * a[k].pad;
        if (bad) break;
        ekn_tiling_gather(&t, vol, c, st, win);
        /* the window, padding included, is the padded volume's */
        for (int ch = 0; ch < c && !bad; ch++)
            for (int z = 0; z < a[0].tile; z++)
                for (int y = 0; y < a[1].tile; y++)
                    for (int x = 0; x < a[2].tile; x++) {
                        int p[3] = {st[0] + z, st[1] + y, st[2] + x};
                        float want = padded_value(vol, in, ch, p, pad, mode);
                        if (win[(((size_t)ch * a[0].tile + z) * a[1].tile + y) * a[2].tile + x] != want) bad++;
                    }
        for (int ch = 0; ch < c; ch++)
            for (int z = 0; z < a[0].tile_out; z++)
                for (int y = 0; y < a[1].tile_out; y++)
                    for (int x = 0; x < a[2].tile_out; x++)
                        out[((ch * a[0].tile_out + z) * a[1].tile_out + y) * a[2].tile_out + x] =
                            win[(((size_t)ch * a[0].tile + a[0].offset + a[0].stride * z) * a[1].tile + a[1].offset +
                                 a[1].stride * y) * a[2].tile + a[2].offset + a[2].stride * x];
        ekn_tiling_scatter(&t, out, c, st, dense);
    }
    for (int ch = 0; ch < c && !bad; ch++)
        for (int z = 0; z < a[0].out; z++)
            for (int y = 0; y < a[1].out; y++)
                for (int x = 0; x < a[2].out; x++) {
                    int p[3] = {z + a[0].offset, y + a[1].offset, x + a[2].offset};
                    float got = dense[(((size_t)ch * a[0].out + z) * a[1].out + y) * a[2].out + x];
                    float want = padded_value(vol, in, ch, p, pad, mode);
                    if (!(got == want) && bad++ < 5)
                        fprintf(stderr, "in %dx%dx%d pad %d: dense[%d][%d,%d,%d] = %g, want %g\n", in[0], in[1], in[2],
                                mode, ch, z, y, x, got, want);
                }
    if (bad)
        fprintf(stderr, "in %dx%dx%d pad %d tile %dx%dx%d: %d failures\n", in[0], in[1], in[2], mode, a[0].tile,
                a[1].tile, a[2].tile, bad);
    free(vol);
    free(win);
    free(out);
    free(dense);
    ekn_tiling_free(&t);
    return bad;
}

static void test_stitched_outputs_cover_every_position(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_3d);
    uint64_t seed = tu_seed_for("tiling");
    const int vols[][3] = {{3, 7, 11}, {4, 8, 12}, {5, 12, 31}, {7, 20, 14}, {1, 1, 1}, {2, 3, 2}, {9, 9, 40}};
    const int tiles[2][5][3] = {{{0, 0, 0}, {3, 7, 11}, {4, 9, 14}, {0, 11, 0}, {5, 99, 98}},
                                {{0, 0, 0}, {3, 8, 13}, {4, 10, 16}, {0, 12, 0}, {5, 100, 97}}};
    const double budgets[] = {1, 2e4, 1e9};
    int fails = 0, runs = 0;
    for (size_t v = 0; v < sizeof vols / sizeof *vols; v++)
        for (int mode = EKN_PAD_NONE; mode <= EKN_PAD_MIRROR; mode++) {
            int fits = vols[v][0] >= 3 && vols[v][1] >= 7 && vols[v][2] >= 11;
            if (mode == EKN_PAD_NONE && !fits) continue;
            for (int mfp = 0; mfp < 2; mfp++)
                for (size_t ti = 0; ti < 5; ti++)
                    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++, runs++)
                        fails += check_plan(&s, vols[v], (ekn_pad_mode)mode, tiles[mfp][ti], budgets[b], mfp, &seed);
        }
    fprintf(stderr, "%d plans checked\n", runs);
    assert_int_equal(fails, 0);
    ekn_spec_free(&s);
}

static void test_budget_chooses_tiles(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_3d);
    ekn_tiling small, large;
    ekn_err err = {0};
    const int in[3] = {9, 40, 61}; /* 34 and 51 outputs: every residue gets the same count */
    assert_int_equal(ekn_tiling_plan(&small, &s, in, EKN_PAD_NONE, NULL, 1, 8, 0, &err), 0);
    assert_int_equal(ekn_tiling_plan(&large, &s, in, EKN_PAD_NONE, NULL, 1e9, 8, 0, &err), 0);
    /* a budget below one tile still gets the smallest tile, one at a time */
    assert_int_equal(small.ax[0].tile, 3);
    assert_int_equal(small.ax[1].tile, 7);
    assert_int_equal(small.ax[2].tile, 11);
    assert_int_equal(small.batch, 1);
    /* an ample budget takes the whole volume: one tile per shift */
    assert_int_equal(large.ntiles, 1 * 2 * 3);
    assert_true(large.tile_bytes > small.tile_bytes);
    ekn_tiling_free(&small);
    ekn_tiling_free(&large);
    /* with max fragment pooling one tile gives every output */
    assert_int_equal(ekn_tiling_plan(&large, &s, in, EKN_PAD_NONE, NULL, 1e9, 8, 1, &err), 0);
    assert_int_equal(large.mfp, 1);
    assert_int_equal(large.ntiles, 1);
    assert_int_equal(large.ax[1].tile_out, 34);
    assert_int_equal(large.ax[2].tile_out, 51);
    ekn_tiling_free(&large);
    /* a volume with fewer outputs than the stride falls back to shift and stitch */
    assert_int_equal(ekn_tiling_plan(&small, &s, (int[3]){3, 7, 12}, EKN_PAD_NONE, NULL, 1e9, 8, 1, &err), 0);
    assert_int_equal(small.mfp, 0);
    assert_int_equal(small.ntiles, 2);
    ekn_tiling_free(&small);
    ekn_spec_free(&s);
}

static void test_errors(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_3d);
    ekn_tiling t;
    ekn_err err = {0};
    assert_int_equal(ekn_tiling_plan(&t, &s, (int[3]){3, 6, 11}, EKN_PAD_NONE, NULL, 1e9, 4, 0, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "field of view 7"));
    err.code = 0;
    assert_int_equal(ekn_tiling_plan(&t, &s, (int[3]){3, 9, 11}, EKN_PAD_NONE, (int[3]){0, 8, 0}, 1e9, 4, 0, &err), -1);
    assert_int_equal(err.code, EKN_EXIT_SPEC);
    assert_non_null(strstr(err.msg, "tile of 8"));
    ekn_spec_free(&s);
}

/* The stand-in net over the tiles of t (its restricted ones), gathering from
 * vol (the box ekn_tiling_box set, or the whole volume), into dense (all
 * outputs) or, with lo, the region [lo, hi). */
static void stand_in(const ekn_tiling *t, const float *vol, int c, const int *lo, const int *hi, float *dense)
{
    const ekn_tiling_axis *a = t->ax;
    size_t tvox = (size_t)a[0].tile * a[1].tile * a[2].tile, tout = (size_t)a[0].tile_out * a[1].tile_out * a[2].tile_out;
    float *win = tu_alloc(c * tvox), *out = tu_alloc(c * tout);
    for (size_t i = 0; i < t->ntiles; i++) {
        int st[3];
        ekn_tiling_start(t, i, st);
        ekn_tiling_gather(t, vol, c, st, win);
        for (int ch = 0; ch < c; ch++)
            for (int z = 0; z < a[0].tile_out; z++)
                for (int y = 0; y < a[1].tile_out; y++)
                    for (int x = 0; x < a[2].tile_out; x++)
                        out[((ch * a[0].tile_out + z) * a[1].tile_out + y) * a[2].tile_out + x] =
                            win[(((size_t)ch * a[0].tile + a[0].offset + a[0].stride * z) * a[1].tile + a[1].offset +
                                 a[1].stride * y) * a[2].tile + a[2].offset + a[2].stride * x];
        if (lo) ekn_tiling_scatter_region(t, out, c, st, lo, hi, dense);
        else ekn_tiling_scatter(t, out, c, st, dense);
    }
    free(win);
    free(out);
}

/* Tiles of the whole plan whose outputs meet [lo, hi) in every axis, counted by brute force. */
static size_t tiles_meeting(const ekn_tiling *t, const int lo[3], const int hi[3])
{
    size_t n = 1;
    for (int k = 0; k < 3; k++) {
        const ekn_tiling_axis *a = &t->ax[k];
        size_t m = 0;
        for (int i = 0; i < a->nstarts; i++) {
            int meets = 0;
            for (int j = 0; j < a->tile_out; j++) meets |= a->starts[i] + a->stride * j >= lo[k] && a->starts[i] + a->stride * j < hi[k];
            m += (size_t)meets;
        }
        n *= m;
    }
    return n;
}

/* One region of a plan: its tiles are those that meet it, its box holds every voxel they read, and the
 * stand-in's outputs there, gathered from the box alone, are the whole plan's.  Returns failures. */
static int check_region(const ekn_spec *spec, const int in[3], ekn_pad_mode mode, const int tile[3], int mfp,
                        const float *vol, const float *whole, const int lo[3], const int hi[3])
{
    const int c = 2;
    ekn_tiling t;
    ekn_err err = {0};
    if (ekn_tiling_plan(&t, spec, in, mode, tile, 1e9, 4, mfp, &err)) return 1;
    int out[3] = {t.ax[0].out, t.ax[1].out, t.ax[2].out}, blo[3], bn[3], bad = 0;
    size_t want_tiles = tiles_meeting(&t, lo, hi);
    ekn_tiling_restrict(&t, lo, hi);
    bad += t.ntiles != want_tiles;
    ekn_tiling_box(&t, blo, bn);
    for (int k = 0; k < 3; k++) bad += blo[k] < 0 || bn[k] < 1 || blo[k] + bn[k] > in[k];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < t.ax[k].nstarts; i++)
            for (int p = t.ax[k].starts[i]; p < t.ax[k].starts[i] + t.ax[k].tile; p++) {
                int v = t.ax[k].source[p];
                bad += v >= 0 && (v < blo[k] || v >= blo[k] + bn[k]);
            }
    size_t rvox = (size_t)(hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]), bvox = (size_t)bn[0] * bn[1] * bn[2];
    float *box = tu_alloc(c * bvox), *region = tu_alloc(c * rvox);
    for (size_t i = 0; i < c * rvox; i++) region[i] = NAN;
    for (int ch = 0; ch < c && !bad; ch++)
        for (int z = 0; z < bn[0]; z++)
            for (int y = 0; y < bn[1]; y++)
                for (int x = 0; x < bn[2]; x++)
                    box[(((size_t)ch * bn[0] + z) * bn[1] + y) * bn[2] + x] =
                        vol[(((size_t)ch * in[0] + blo[0] + z) * in[1] + blo[1] + y) * in[2] + blo[2] + x];
    if (!bad) stand_in(&t, box, c, lo, hi, region);
    for (int ch = 0; ch < c && !bad; ch++)
        for (int z = lo[0]; z < hi[0]; z++)
            for (int y = lo[1]; y < hi[1]; y++)
                for (int x = lo[2]; x < hi[2]; x++) {
                    float got = region[(((size_t)ch * (hi[0] - lo[0]) + z - lo[0]) * (hi[1] - lo[1]) + y - lo[1]) *
                                           (hi[2] - lo[2]) + x - lo[2]];
                    float want = whole[(((size_t)ch * out[0] + z) * out[1] + y) * out[2] + x];
                    if (memcmp(&got, &want, sizeof got) && bad++ < 3)
                        fprintf(stderr, "in %dx%dx%d pad %d mfp %d region %d:%d,%d:%d,%d:%d: [%d][%d,%d,%d] = %g, want %g\n",
                                in[0], in[1], in[2], mode, mfp, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], ch, z, y, x, got,
                                want);
                }
    free(box);
    free(region);
    ekn_tiling_free(&t);
    return bad;
}

static void test_regions_and_blocks_are_the_whole_plan(void **state)
{
    (void)state;
    ekn_spec s;
    parse_ok(&s, net_3d);
    uint64_t seed = tu_seed_for("tiling-regions");
    const int c = 2, vols[][3] = {{5, 12, 31}, {7, 20, 14}, {9, 9, 40}, {4, 8, 12}};
    const int tiles[2][3][3] = {{{0, 0, 0}, {3, 7, 11}, {4, 9, 14}}, {{0, 0, 0}, {3, 8, 13}, {4, 10, 16}}};
    int fails = 0, regions = 0;
    for (size_t v = 0; v < sizeof vols / sizeof *vols; v++)
        for (int mode = EKN_PAD_NONE; mode <= EKN_PAD_MIRROR; mode++)
            for (int mfp = 0; mfp < 2; mfp++)
                for (int ti = 0; ti < 3; ti++) {
                    const int *in = vols[v], *tile = tiles[mfp][ti];
                    ekn_tiling t;
                    ekn_err err = {0};
                    assert_int_equal(ekn_tiling_plan(&t, &s, in, (ekn_pad_mode)mode, tile, 1e9, 4, mfp, &err), 0);
                    size_t vox = (size_t)in[0] * in[1] * in[2], dvox = ekn_tiling_out_spatial(&t);
                    float *vol = tu_alloc(c * vox), *whole = tu_alloc(c * dvox);
                    tu_fill(&seed, vol, c * vox, 1.0f, 2.0f);
                    stand_in(&t, vol, c, NULL, NULL, whole);
                    /* blocks along every axis: in order, adjoining, none empty, covering the axis */
                    for (int k = 0; k < 3; k++)
                        for (int n = 1; n <= 7 && n <= t.ax[k].out; n++) {
                            int lo[3] = {0, 0, 0}, hi[3] = {t.ax[0].out, t.ax[1].out, t.ax[2].out}, end = 0;
                            for (int b = 0; b < n; b++, regions++) {
                                ekn_tiling_block(&t, k, b, n, &lo[k], &hi[k]);
                                fails += lo[k] != end || hi[k] <= lo[k];
                                end = hi[k];
                                fails += check_region(&s, in, (ekn_pad_mode)mode, tile, mfp, vol, whole, lo, hi);
                            }
                            fails += end != t.ax[k].out;
                        }
                    /* random boxes */
                    for (int r = 0; r < 6; r++, regions++) {
                        int lo[3], hi[3];
                        for (int k = 0; k < 3; k++) {
                            int a = (int)(tu_next(&seed) % (uint64_t)t.ax[k].out), b = (int)(tu_next(&seed) % (uint64_t)t.ax[k].out);
                            lo[k] = a < b ? a : b, hi[k] = (a < b ? b : a) + 1;
                        }
                        fails += check_region(&s, in, (ekn_pad_mode)mode, tile, mfp, vol, whole, lo, hi);
                    }
                    free(vol);
                    free(whole);
                    ekn_tiling_free(&t);
                }
    fprintf(stderr, "%d regions checked\n", regions);
    assert_int_equal(fails, 0);
    ekn_spec_free(&s);
}

TU_MAIN(cmocka_unit_test(test_stitched_outputs_cover_every_position),
        cmocka_unit_test(test_budget_chooses_tiles),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_regions_and_blocks_are_the_whole_plan))
