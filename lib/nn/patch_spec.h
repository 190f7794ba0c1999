/* patch_spec: the patch geometry ekn-batch cuts for a net, from its spec
 * through the CNN calculator (the data wing's ekn_patch_geom, data/batch.h,
 * knows nothing of specs; this bridge lives in the nn wing). */
#ifndef EKN_PATCH_SPEC_H
#define EKN_PATCH_SPEC_H
#include "batch.h"

/* From a spec (nn/spec.h, nn/calc.h).  patch: input size (Z,Y,X), or NULL
 * for the spec's shape.  *img_img is set to whether the spec is img-img; the
 * geometry is filled only then.  Errors: EKN_EXIT_SPEC (bad spec, a shape
 * that does not fit), EKN_EXIT_USAGE (img-img spec without a shape). */
int ekn_patch_geom_from_spec(ekn_patch_geom *g, int *img_img, const char *path, const int patch[3],
                             ekn_err *err);
#endif
