/* progress: durations as the progress line prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "progress.h"

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        double s;
        const char *want;
    } cases[] = {{0, "0s"}, {0.4, "0s"}, {41.6, "42s"}, {59.4, "59s"}, {59.6, "1m00s"}, {337, "5m37s"},
                 {3599.4, "59m59s"}, {3600, "1h00m"}, {7500, "2h05m"}, {-3, "0s"}, {1e12, "0s"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ekn_fmt_duration(cases[i].s, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_durations)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
