/* ekn-train's control-file line parser, line by line. */
#include "fuzz.h"
#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *text = fuzz_text(data, n);
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        ekn_control_cmd cmd;
        ekn_err err = {0};
        ekn_control_parse_line(line, &cmd, &err);
    }
    free(text);
    return 0;
}
