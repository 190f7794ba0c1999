/* ekn-preprocess --affinities: a label volume into ELEKTRONN's affinity
 * targets, one channel per spatial axis (see prep.h). */
#include <math.h>
#include <string.h>

#include "group.h"
#include "prep.h"

void ekn_affinities(const int32_t *lab, int ndim, const int shape[3], float *aff)
{
    size_t vol = (size_t)shape[0] * shape[1] * shape[2];
    size_t step[3] = {(size_t)shape[1] * shape[2], (size_t)shape[2], 1};
    for (int a = 0; a < ndim; a++) {
        int d = 3 - ndim + a; /* channel a is axis d: z, y, x (y, x in 2D) */
        float *out = aff + (size_t)a * vol;
        for (size_t v = 0; v < vol; v++) {
            size_t coord = v / step[d] % (size_t)shape[d];
            if (coord == 0) { /* no predecessor along the axis */
                out[v] = NAN;
                continue;
            }
            int32_t l = lab[v], m = lab[v - step[d]];
            out[v] = l < 0 || m < 0 ? NAN : l == m && l != 0 ? 1.0f : 0.0f;
        }
    }
}

int ekn_prep_affinities(ekn_prep_data *d, ekn_err *err)
{
    ekn_tensor *y = &d->y;
    int ndim = y->rank - 1;
    if (d->vectors || ndim < 2 || ndim > 3 || y->dtype != EKN_I32)
        return ekn_err_set(err, EKN_EXIT_FAIL, "'%s': --affinities needs labels per pixel or voxel of 2-D or 3-D images",
                           d->label_source);
    int shape[3] = {1, 1, 1};
    for (int i = 0; i < ndim; i++) shape[3 - ndim + i] = (int)y->shape[1 + i];
    size_t n = (size_t)y->shape[0], vol = (size_t)shape[0] * shape[1] * shape[2];
    /* a mask (0: the label does not count) makes its voxels' labels ignored first */
    if (d->has_mask) {
        const uint8_t *mk = d->mask.data;
        int32_t *l = y->data;
        for (size_t i = 0; i < n * vol; i++)
            if (!mk[i]) l[i] = -1;
        ekn_tensor_free(&d->mask);
        d->has_mask = 0;
    }
    uint64_t out_shape[EKN_MAX_RANK];
    out_shape[0] = n;
    out_shape[1] = (uint64_t)ndim;
    for (int i = 0; i < ndim; i++) out_shape[2 + i] = y->shape[1 + i];
    ekn_tensor t = EKN_TENSOR_INIT;
    if (ekn_tensor_reshape(&t, EKN_F32, ndim + 2, out_shape, err)) return -1;
    for (size_t e = 0; e < n; e++)
        ekn_affinities((const int32_t *)y->data + e * vol, ndim, shape, (float *)t.data + e * (size_t)ndim * vol);
    ekn_tensor_set_name(&t, EKN_REC_TARGET);
    ekn_tensor_free(y);
    *y = t;
    d->has_labels = 0;
    d->has_targets = 1;
    d->classes = 0;
    return 0;
}
