/* Batch records: the examples of one batch are gathered in one dataset and
 * written as one group, straight through the stream writer; with --shard
 * R/K only slice R of them, so that K processes reading one shard each
 * (mpirun -n K ekn-train) see the batches of one process together. */
#include <stdio.h>

#include "batch.h"
#include "dist.h"

int ekn_batch_write(ekn_batch_out *o, const ekn_dataset *b, size_t n, uint64_t epoch, ekn_err *err)
{
    char meta[128];
    snprintf(meta, sizeof meta, "batch=%llu\nepoch=%llu\n", (unsigned long long)o->index, (unsigned long long)epoch);
    const ekn_dataset *d = b;
    ekn_dataset part;
    if (o->nshards > 1) {
        size_t lo, hi;
        ekn_dist_slice(n, o->shard, o->nshards, &lo, &hi);
        o->index++;
        if (hi == lo) return 0;
        part = *b; /* a view of examples [lo, hi) */
        part.x += lo * b->ex_size;
        if (part.y) part.y += lo * b->lab_size;
        if (part.t) part.t += lo * b->lab_size;
        if (part.labelled) part.labelled += lo * (size_t)b->lazy_c;
        if (part.absent) part.absent += lo * (size_t)b->lazy_c;
        return ekn_dataset_write(&part, hi - lo, meta, o->w, err);
    }
    if (ekn_dataset_write(d, n, meta, o->w, err)) return -1;
    o->index++;
    return 0;
}
