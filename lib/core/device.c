#include "device.h"
#include "cuda_backend.h"
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEVICE_WORDS "auto, cpu, cuda or cuda:N"

static void set_cpu(ekn_device *dev)
{
    dev->is_cuda = 0;
    dev->index = 0;
    dev->ops = NULL;
}

/* "cuda:N": N is plain decimal digits, no sign or spaces, below 1<<20. */
static int parse_index(const char *digits, int *index)
{
    if (*digits < '0' || *digits > '9') return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(digits, &end, 10);
    if (*end || errno || v >= (1ul << 20)) return -1;
    *index = (int)v;
    return 0;
}

int ekn_device_parse_backend(const char *s, const ekn_ops *cuda, ekn_device *dev, ekn_err *err)
{
    const char *word = s ? s : "auto";
    int index = 0, is_auto = !strcmp(word, "auto");
    set_cpu(dev);
    if (!strcmp(word, "cpu")) return 0;
    if (!is_auto && strcmp(word, "cuda") && (strncmp(word, "cuda:", 5) || parse_index(word + 5, &index) < 0))
        return ekn_err_set(err, EKN_EXIT_USAGE, "unknown device '%s' (expected " DEVICE_WORDS ")", word);

    int count = cuda && cuda->device_count ? cuda->device_count() : 0;
    if (is_auto && count <= 0) return 0;
    if (!cuda) {
        const char *why = ekn_cuda_unavailable();
        return ekn_err_set(err, EKN_EXIT_FAIL, "device '%s': %s", word, why ? why : "no CUDA backend");
    }
    if (count <= 0) {
        char why[512] = "";
        if (cuda->describe) cuda->describe(-1, why, sizeof why);
        return ekn_err_set(err, EKN_EXIT_FAIL, "device '%s': no CUDA device found%s%s%s", word,
                           *why ? " (" : "", why, *why ? ")" : "");
    }
    if (index >= count)
        return ekn_err_set(err, EKN_EXIT_FAIL, "device '%s': no CUDA device %d: found %d device%s", word,
                           index, count, count == 1 ? "" : "s");
    if (cuda->select && cuda->select(index, err) < 0) return ekn_err_prefix(err, "device '%s'", word);
    dev->is_cuda = 1;
    dev->index = index;
    dev->ops = cuda;
    return 0;
}

int ekn_device_parse(const char *s, ekn_device *dev, ekn_err *err)
{
    return ekn_device_parse_backend(s, ekn_ops_cuda(), dev, err);
}

const char *ekn_device_describe(const ekn_device *dev, char *buf, size_t cap)
{
    if (!cap) return buf;
    if (!dev->is_cuda || !dev->ops) {
        snprintf(buf, cap, "cpu");
        return buf;
    }
    char what[256] = "";
    if (dev->ops->describe) dev->ops->describe(dev->index, what, sizeof what);
    snprintf(buf, cap, "cuda:%d%s%s%s", dev->index, *what ? " (" : "", what, *what ? ")" : "");
    return buf;
}

int ekn_device_ops(const char *s, const char *precision, int deterministic, const ekn_ops **ops, ekn_err *err)
{
    static const char *names[] = {"fp32", "tf32"};
    int p = -1;
    for (int i = 0; i < 2; i++)
        if (!strcmp(precision, names[i])) p = i;
    if (p < 0)
        return ekn_err_set(err, EKN_EXIT_USAGE, "unknown precision '%s' (expected fp32 or tf32)", precision);
    ekn_device dev;
    if (ekn_device_parse(s, &dev, err)) return -1;
    *ops = dev.is_cuda ? dev.ops : ekn_ops_default();
    if (dev.is_cuda) {
        ekn_cuda_set_precision(p);
        ekn_cuda_set_deterministic(deterministic);
    }
    else if (p != EKN_PRECISION_FP32)
        ekn_warn("--precision %s applies to a GPU only; the CPU computes in FP32", precision);
    char buf[256];
    ekn_info("device %s, kernels %s, precision %s%s", ekn_device_describe(&dev, buf, sizeof buf), (*ops)->name,
             names[dev.is_cuda ? p : 0], dev.is_cuda && !deterministic ? ", non-deterministic algorithms allowed" : "");
    return 0;
}
