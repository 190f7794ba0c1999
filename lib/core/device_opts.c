#include "device_opts.h"

#include "cpu_threads.h"

void ekn_set_threads(long n)
{
    ekn_cpu_threads_set(n > 0 ? (int)n : 0);
}

int ekn_device_opts_apply(const ekn_device_opts *d, const struct ekn_ops **ops, ekn_err *err)
{
    ekn_set_threads(d->threads);
    return ekn_device_ops(d->device, d->precision, !d->nondeterministic, ops, err);
}
