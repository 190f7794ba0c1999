/* libFuzzer harness: the network spec parser (ekn-spec(5)), then the
 * questions commands ask a parsed spec. */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ekn_spec spec;
    memset(&spec, 0, sizeof spec);
    ekn_err err = {0};
    if (ekn_spec_parse(&spec, text, "fuzz.spec", &err) == 0) {
        (void)ekn_spec_classes(&spec);
        (void)ekn_spec_outputs(&spec);
        (void)ekn_spec_has_mfp(&spec);
        for (int i = 0; i < spec.nlayers; i++) (void)ekn_spec_layer_is_graph(&spec, i);
        ekn_spec_free(&spec);
    }
    free(text);
    return 0;
}
