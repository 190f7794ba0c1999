/* libFuzzer harness: the control-file parser (ekn-train(1) --control), one
 * line at a time as the poll reads them. */
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        ekn_control_cmd cmd;
        ekn_err err = {0};
        int rc = ekn_control_parse_line(line, &cmd, &err);
        if (rc == 1) {
            /* a command the parser accepts stays in the ranges the options have */
            if (cmd.op == EKN_CTL_LR && !(cmd.value > 0 && cmd.value <= 1e6)) abort();
            if (cmd.op == EKN_CTL_MOMENTUM && !(cmd.value >= 0 && cmd.value <= 0.999999)) abort();
            if (strlen(line) > EKN_CONTROL_LINE_MAX + 1 && line[strspn(line, " \t")] != '#') abort();
        }
    }
    free(text);
    return 0;
}
