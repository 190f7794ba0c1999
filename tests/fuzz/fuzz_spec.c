/* The network spec parser (ekn-spec(5)) and, for a spec it accepts, the
 * calculator's checks at the smallest valid size. */
#include "fuzz.h"
#include "calc.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *text = fuzz_text(data, n);
    ekn_spec spec;
    ekn_err err = {0};
    if (ekn_spec_parse(&spec, text, "fuzz.spec", &err) == 0) {
        ekn_calc_check(&spec, &err);
        ekn_spec_free(&spec);
    }
    free(text);
    return 0;
}
