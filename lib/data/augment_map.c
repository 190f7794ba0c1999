/* augment_map: one example's sampling map, composed from its parameters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"

static int floor_div2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* The lattice part L (transpose, then mirrors) as a matrix: s = L o. */
static void lattice_matrix(const ekn_aug_params *p, double L[3][3])
{
    memset(L, 0, 9 * sizeof(double));
    L[0][0] = p->flip[0] ? -1 : 1;
    double sy = p->flip[1] ? -1 : 1, sx = p->flip[2] ? -1 : 1;
    if (p->transpose) L[1][2] = sy, L[2][1] = sx;
    else L[1][1] = sy, L[2][2] = sx;
}

/* The rotation by angle3d about axis (Rodrigues), the identity in-plane. */
static void rotation_3d(const ekn_aug_params *p, int in_plane, double R[3][3])
{
    double t = in_plane ? 0 : p->angle3d, c = cos(t), s = sin(t);
    const double *k = p->axis;
    double K[3][3] = {{0, -k[2], k[1]}, {k[2], 0, -k[0]}, {-k[1], k[0], 0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) R[i][j] = (i == j ? c : 0) + s * K[i][j] + (1 - c) * k[i] * k[j];
    if (t == 0) memset(R, 0, 9 * sizeof(double)), R[0][0] = R[1][1] = R[2][2] = 1;
}

static void product(double A[3][3], double B[3][3], double C[3][3])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += A[i][k] * B[k][j];
            C[i][j] = s;
        }
}

int ekn_aug_map_build(ekn_aug_map *m, const ekn_aug_opts *o, const ekn_aug_params *p, const ekn_aug_geom *g,
                      ekn_aug_work *w, ekn_err *err)
{
    memset(m, 0, sizeof *m);
    m->g = *g;
    m->p = p;
    int in_plane = g->in_plane || g->src[0] == 1;
    m->g.in_plane = in_plane;
    for (int k = 0; k < 3; k++) {
        m->c_out[k] = (g->out[k] - 1) / 2.0;
        /* an integer crop offset keeps mirrored and transposed grids exact */
        double t = p->translate[k];
        if (k == 0 && in_plane) t = round(t);
        m->b[k] = floor_div2(g->src[k] - g->out[k]) + m->c_out[k] + t;
    }
    /* M: in-plane rotation * zoom * shear (source = M o, so zoom divides) */
    double ca = cos(p->angle), sa = sin(p->angle), inv = 1 / p->scale;
    double M[3][3] = {{in_plane ? 1 : inv, 0, 0},
                      {0, ca * inv, (ca * p->shear - sa) * inv},
                      {0, sa * inv, (sa * p->shear + ca) * inv}};
    double L[3][3], R[3][3], LR[3][3];
    lattice_matrix(p, L);
    rotation_3d(p, in_plane, R);
    product(L, R, LR);
    product(LR, M, m->a);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (fabs(m->a[i][j]) < 1e-15) m->a[i][j] = 0; /* exact zeros where no rotation is drawn */
    int elastic = p->warp && o->elastic_strength > 0;
    m->lattice_only = !p->warp || (p->angle == 0 && (p->angle3d == 0 || in_plane) && p->scale == 1 && p->shear == 0 && p->persp[0] == 0 &&
                                   p->persp[1] == 0 && p->translate[0] == 0 && p->translate[1] == 0 &&
                                   p->translate[2] == 0 && !elastic);
    if (!elastic) return 0;
    m->ndisp = in_plane ? 2 : 3;
    size_t n = (size_t)g->out[1] * g->out[2] * (m->ndisp == 3 ? (size_t)g->out[0] : 1) * m->ndisp;
    if (n > w->field_cap) {
        float *f = realloc(w->field, n * sizeof *f);
        if (!f) return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a displacement field");
        w->field = f;
        w->field_cap = n;
    }
    int shape[3] = {m->ndisp == 3 ? g->out[0] : 1, g->out[1], g->out[2]};
    if (ekn_aug_elastic_field(w->field, m->ndisp, shape, o->elastic_strength, o->elastic_smooth, p->field_seed, w,
                              err))
        return -1;
    m->field = w->field;
    return 0;
}

void ekn_aug_work_free(ekn_aug_work *w)
{
    free(w->field);
    free(w->coarse);
    free(w->tmp);
    free(w->row);
    free(w->idx);
    memset(w, 0, sizeof *w);
}
