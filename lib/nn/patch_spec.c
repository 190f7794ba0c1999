#include "patch_spec.h"

#include <string.h>

#include "calc.h"
#include "spec.h"

int ekn_patch_geom_from_spec(ekn_patch_geom *g, int *img_img, const char *path, const int patch[3],
                             ekn_err *err)
{
    ekn_spec spec = {0};
    if (ekn_spec_load(&spec, path, err)) return -1;
    *img_img = spec.mode == EKN_MODE_IMG_IMG;
    g->channels = spec.channels;
    g->ndim = spec.ndim;
    int rc = 0;
    if (*img_img) {
        const int *shape = patch ? patch : spec.has_shape ? spec.shape : NULL;
        ekn_calc calc;
        if (!shape)
            rc = ekn_err_set(err, EKN_EXIT_USAGE, "'%s': the spec gives no input shape; say --patch Z,Y,X", path);
        else if (!(rc = ekn_calc_run(&spec, shape, &calc, err))) {
            memcpy(g->in, calc.in, sizeof g->in);
            memcpy(g->offset, calc.offset, sizeof g->offset);
            memcpy(g->stride, calc.stride, sizeof g->stride);
            memcpy(g->out, calc.out, sizeof g->out);
        }
    }
    ekn_spec_free(&spec);
    return rc;
}
