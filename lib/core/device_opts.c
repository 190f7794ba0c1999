#include "device_opts.h"

#include <cblas.h>

void ekn_set_threads(long n)
{
    if (n > 0) openblas_set_num_threads((int)n);
}

int ekn_device_opts_apply(const ekn_device_opts *d, const struct ekn_ops **ops, ekn_err *err)
{
    ekn_set_threads(d->threads);
    return ekn_device_ops(d->device, d->precision, !d->nondeterministic, ops, err);
}
