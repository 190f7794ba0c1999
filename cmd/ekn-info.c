/* ekn-info: describe the records of ekn streams (ekn-info(1)).
 * Thin: options -> lib/data/describe.h -> exit code. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "cmd.h"
#include "describe.h"
#include "stream.h"

static ekn_describe_opts o = {.format = "text"};

static const ekn_option options[] = {
    OPT_FLAG('s', "summary", &o.summary,
             "print totals per record name and the label histogram instead of one line per record"),
    OPT_FLAG('c', "count", &o.count,
             "print only the number of examples in the image and vector records (no statistics)"),
    OPT_FLAG('m', "meta", &o.meta, "print the metadata lines of every record"),
    OPT_CHOICE(0, "format", &o.format, "FORMAT", "output format", "text|tsv"),
    OPT_END(),
};

static const ekn_command command = {
    "ekn-info", "[options] [FILE...]",
    "Describe the records of ekn streams (stdin when no FILE is given): shape, dtype and statistics.",
    options,
};

int main(int argc, char **argv)
{
    int first = ekn_cmd_start(&command, argc, argv);
    if (o.summary + o.count + o.meta > 1)
        ekn_usage_die(&command, "--summary, --count and --meta cannot be combined");
    /* A 1 MiB pipe instead of 64 KiB: 2-3x the throughput of large records
     * (bench/stream_bench.sh).  Fails harmlessly when stdin is not a pipe. */
    (void)fcntl(0, F_SETPIPE_SZ, 1 << 20);
    static char inbuf[1 << 20];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);

    char *dash[] = {"-"};
    char **files = first < argc ? argv + first : dash;
    int nfiles = first < argc ? argc - first : 1;
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    static ekn_describe d;
    ekn_describe_init(&d, &o);
    for (int f = 0; f < nfiles; f++) {
        ekn_reader r;
        if (ekn_reader_open(&r, files[f], &err)) ekn_die_err(&err);
        const char *label = nfiles > 1 ? ekn_reader_name(&r) : NULL;
        int rc;
        while ((rc = ekn_stream_read(&r, &t, &err)) == 1)
            if (ekn_describe_record(&d, label, r.record - 1, &t, &err)) ekn_die_err(&err);
        if (rc < 0) ekn_die_err(&err);
        ekn_info("'%s': %" PRIu64 " records, %" PRIu64 " bytes", ekn_reader_name(&r), r.record, r.offset);
        ekn_reader_close(&r);
    }
    ekn_describe_finish(&d);
    ekn_tensor_free(&t);
    ekn_describe_free(&d);
    return EKN_EXIT_OK;
}
