/* Batch records: the examples of one batch are gathered in one buffer and
 * written as one record per kind, straight through the stream writer. */
#include <stdio.h>
#include <stdlib.h>

#include "batch.h"

int ekn_batch_buf_alloc(ekn_batch_buf *b, ekn_err *err)
{
    size_t B = (size_t)b->cap;
    b->x = malloc(B * b->x_size * sizeof *b->x);
    if (b->lab_kind == 1) b->y = malloc(B * b->lab_size * sizeof *b->y);
    if (b->lab_kind == 2) b->t = malloc(B * b->lab_size * sizeof *b->t);
    if (b->lazy_c) {
        b->labelled = malloc(B * (size_t)b->lazy_c);
        b->absent = malloc(B * (size_t)b->lazy_c);
    }
    if (!b->x || (b->lab_kind == 1 && !b->y) || (b->lab_kind == 2 && !b->t) ||
        (b->lazy_c && (!b->labelled || !b->absent)))
        return ekn_err_set(err, EKN_EXIT_FAIL, "out of memory for a batch of %d", b->cap);
    return 0;
}

int ekn_batch_buf_write(ekn_batch_buf *b, ekn_writer *w, int n, uint64_t epoch, ekn_err *err)
{
    char meta[128], lab_meta[512];
    snprintf(meta, sizeof meta, "batch=%llu\nepoch=%llu\n", (unsigned long long)b->index, (unsigned long long)epoch);
    uint64_t shape[EKN_MAX_RANK];
    int rank = 0;
    shape[rank++] = (uint64_t)n;
    if (b->is_vector) {
        shape[rank++] = b->x_size;
    } else {
        shape[rank++] = (uint64_t)b->c;
        for (int k = 3 - b->ndim; k < 3; k++) shape[rank++] = (uint64_t)b->shape[k];
    }
    if (ekn_stream_write_raw(w, EKN_F32, rank, shape, b->is_vector ? "vector" : "image", meta, b->x, err)) return -1;
    if (b->lab_kind) {
        rank = 1;
        for (int k = 3 - b->lab_ndim; k < 3; k++) shape[rank++] = (uint64_t)b->lab_shape[k];
        char cls[32] = "";
        if (b->classes) snprintf(cls, sizeof cls, "classes=%d\n", b->classes);
        snprintf(lab_meta, sizeof lab_meta, "%s%s%s", meta, cls, b->lab_meta);
        if (b->lab_kind == 1 ? ekn_stream_write_raw(w, EKN_I32, rank, shape, "label", lab_meta, b->y, err)
                             : ekn_stream_write_raw(w, EKN_F32, rank, shape, "target", lab_meta, b->t, err))
            return -1;
    }
    if (b->lazy_c) {
        shape[1] = (uint64_t)b->lazy_c;
        if (ekn_stream_write_raw(w, EKN_U8, 2, shape, "labelled", meta, b->labelled, err) ||
            ekn_stream_write_raw(w, EKN_U8, 2, shape, "absent", meta, b->absent, err))
            return -1;
    }
    b->index++;
    return 0;
}

void ekn_batch_buf_free(ekn_batch_buf *b)
{
    free(b->x);
    free(b->y);
    free(b->t);
    free(b->labelled);
    free(b->absent);
    b->x = NULL, b->y = NULL, b->t = NULL, b->labelled = NULL, b->absent = NULL;
}
