/* dataset_dev: examples in an ops table's memory (see dataset_dev.h). */
#include "dataset_dev.h"

#include <string.h>

int ekn_dataset_dev_alloc(ekn_dataset_dev *m, const ekn_ops *ops, const ekn_dataset *layout, size_t cap, ekn_err *err)
{
    memset(m, 0, sizeof *m);
    m->ops = ops;
    m->cap = cap;
    m->ex_size = layout->ex_size;
    m->lab_size = layout->lab_size;
    m->lazy_c = layout->lazy_c;
    m->w_size = layout->has_weights ? layout->w_size : 0;
    if (ops->host) return 0;
    size_t ls = cap * m->lab_size, lz = cap * (size_t)m->lazy_c;
    int fail = !(m->buf_x = ops->alloc(cap * m->ex_size * sizeof(float))) ||
               (layout->has_labels && !(m->buf_y = ops->alloc(ls * sizeof(int32_t)))) ||
               (layout->has_targets && !(m->buf_t = ops->alloc(ls * sizeof(float)))) ||
               (lz && (!(m->buf_lab = ops->alloc(lz)) || !(m->buf_abs = ops->alloc(lz)))) ||
               (m->w_size && !(m->buf_w = ops->alloc(cap * m->w_size * sizeof(float))));
    if (!fail) return 0;
    ekn_err why = {0};
    ekn_ops_check(ops, &why);
    ekn_dataset_dev_free(m);
    return ekn_err_set(err, EKN_EXIT_FAIL, "out of device memory for the buffers of batch %zu%s%s", cap,
                       why.msg[0] ? ": " : "", why.msg);
}

void ekn_dataset_dev_put(ekn_dataset_dev *m, const ekn_dataset *d, size_t first, size_t n)
{
    const float *x = d->x + first * m->ex_size;
    const int32_t *y = d->y ? d->y + first * m->lab_size : NULL;
    const float *t = d->t ? d->t + first * m->lab_size : NULL;
    size_t c = (size_t)m->lazy_c;
    int lazy = c && d->lazy_c == m->lazy_c;
    const uint8_t *lab = lazy && d->labelled ? d->labelled + first * c : NULL;
    const uint8_t *abs = lazy && d->absent ? d->absent + first * c : NULL;
    const float *w = m->w_size && d->w && d->w_size == m->w_size ? d->w + first * m->w_size : NULL;
    m->n = n;
    if (m->ops->host) {
        m->x = x, m->y = y, m->t = t, m->labelled = lab, m->absent = abs, m->w = w;
        return;
    }
    const ekn_ops *ops = m->ops;
    ops->upload(m->buf_x, x, n * m->ex_size * sizeof *x);
    m->x = m->buf_x;
    m->y = y && m->buf_y ? (ops->upload(m->buf_y, y, n * m->lab_size * sizeof *y), m->buf_y) : NULL;
    m->t = t && m->buf_t ? (ops->upload(m->buf_t, t, n * m->lab_size * sizeof *t), m->buf_t) : NULL;
    m->labelled = lab && m->buf_lab ? (ops->upload(m->buf_lab, lab, n * c), m->buf_lab) : NULL;
    m->absent = abs && m->buf_abs ? (ops->upload(m->buf_abs, abs, n * c), m->buf_abs) : NULL;
    m->w = w && m->buf_w ? (ops->upload(m->buf_w, w, n * m->w_size * sizeof *w), m->buf_w) : NULL;
}

void ekn_dataset_dev_free(ekn_dataset_dev *m)
{
    if (m->ops && !m->ops->host) {
        m->ops->free(m->buf_x);
        m->ops->free(m->buf_y);
        m->ops->free(m->buf_t);
        m->ops->free(m->buf_lab);
        m->ops->free(m->buf_abs);
        m->ops->free(m->buf_w);
    }
    memset(m, 0, sizeof *m);
}
