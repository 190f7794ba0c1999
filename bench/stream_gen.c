/* stream_gen: writes N records of 64 MiB of f32 (named "image", shape
 * [16,1,1024,1024]) to stdout through ekn_stream_write, for
 * bench/stream_bench.sh.  The payload is filled once; the figure measured is
 * the writer, the pipe and the reader, not the data.
 *
 *   stream_gen N > out.ekn        (N records, N * 64 MiB)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "outfile.h"
#include "stream.h"

int main(int argc, char **argv)
{
    ekn_set_progname("stream_gen");
    ekn_io_init();
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 16;
    if (argc > 2 || n < 0) ekn_die(EKN_EXIT_USAGE, "usage: stream_gen [N_RECORDS]");
    const uint64_t shape[4] = {16, 1, 1024, 1024};
    ekn_tensor t = EKN_TENSOR_INIT;
    ekn_err err = {0};
    if (ekn_tensor_reshape(&t, EKN_F32, 4, shape, &err)) ekn_die_err(&err);
    ekn_tensor_set_name(&t, "image");
    float *x = t.data;
    for (size_t i = 0; i < ekn_tensor_numel(&t); i++) x[i] = (float)(i % 251) / 251.0f;
    ekn_writer w;
    if (ekn_writer_open(&w, "-", 0, &err)) ekn_die_err(&err);
    for (long i = 0; i < n; i++)
        if (ekn_stream_write(&w, &t, &err)) ekn_die_err(&err);
    if (ekn_writer_close(&w, &err)) ekn_die_err(&err);
    ekn_tensor_free(&t);
    return 0;
}
