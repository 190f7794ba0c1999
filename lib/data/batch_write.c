/* Batch records: the examples of one batch are gathered in one dataset and
 * written as one group, straight through the stream writer. */
#include <stdio.h>

#include "batch.h"

int ekn_batch_write(ekn_batch_out *o, const ekn_dataset *b, size_t n, uint64_t epoch, ekn_err *err)
{
    char meta[128];
    snprintf(meta, sizeof meta, "batch=%llu\nepoch=%llu\n", (unsigned long long)o->index, (unsigned long long)epoch);
    if (ekn_dataset_write(b, n, meta, o->w, err)) return -1;
    o->index++;
    return 0;
}
