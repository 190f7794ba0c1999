/* ekn-predict: apply a trained checkpoint to a stream of inputs. */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "predict.h"

int main(int argc, char **argv)
{
    const char *model = NULL, *output = NULL, *what = "both";
    long batch = 64, threads = 0;
    int eval = 0, force = 0;
    const ekn_option options[] = {
        {'m', "model", EKN_OPT_STRING, &model, "FILE", "checkpoint written by ekn-train", 0, 0, NULL, 0, NULL},
        {'o', "output", EKN_OPT_STRING, &output, "FILE", "output stream ('-': stdout) [stdout unless --eval]", 0, 0, NULL, 0, NULL},
        {0, "write", EKN_OPT_CHOICE, &what, "WHAT", "records to write", 0, 0, "prob|class|both", 0, NULL},
        {0, "eval", EKN_OPT_FLAG, &eval, NULL, "compare with the labels in the stream: accuracy, confusion matrix, precision and recall on stdout", 0, 0, NULL, 0, NULL},
        {'b', "batch", EKN_OPT_INT, &batch, "N", "examples per forward pass", 1, 1 << 20, NULL, 0, NULL},
        {'j', "threads", EKN_OPT_INT, &threads, "N", "BLAS threads (0: OpenBLAS's default)", 0, 1024, NULL, 0, NULL},
        {0, "force", EKN_OPT_FLAG, &force, NULL, "write a binary stream even to a terminal", 0, 0, NULL, 0, NULL},
        {0},
    };
    const ekn_command cmd = {"ekn-predict", "[options] --model FILE [INPUT]",
                             "Apply a trained network to a stream of inputs (stdin when INPUT is omitted).", options};
    int first = ekn_cmd_start(&cmd, argc, argv);
    if (argc - first > 1) ekn_usage_die(&cmd, "too many operands");
    if (!model) ekn_usage_die(&cmd, "--model is required");
    if (eval && output && !strcmp(output, "-"))
        ekn_usage_die(&cmd, "--eval prints its report on stdout; write the stream to a file with -o FILE");
    if (threads) openblas_set_num_threads((int)threads);
    ekn_predict_config c = {model, first < argc ? argv[first] : "-", output ? output : (eval ? NULL : "-"),
                            strcmp(what, "class") != 0, strcmp(what, "prob") != 0, eval, batch, force};
    ekn_err err = {0};
    if (ekn_predict_run(&c, stdout, &err)) ekn_die_err(&err);
    return EKN_EXIT_OK;
}
