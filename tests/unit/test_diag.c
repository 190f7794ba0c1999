/* diag: control characters are escaped in names printed and in every
 * message; a usage hint keeps its own line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"

static void test_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain name", 10, "plain name"},
        {"a\033]0;t\007b", 8, "a\\e]0;t\\ab"},
        {"\t\n\r\b\f\v", 6, "\\t\\n\\r\\b\\f\\v"},
        {"x\001\037\177y", 5, "x\\x01\\x1f\\x7fy"},
        {"nul\0after", 9, "nul\\x00after"},
        {"\xc2\x9b" "2J", 4, "\\xc2\\x9b2J"},       /* C1 CSI in UTF-8 */
        {"\xc2\xa9 \xc4\x81 \xe2\x86\x92", 9, "\xc2\xa9 \xc4\x81 \xe2\x86\x92"}, /* UTF-8 text as it is */
        {"\xc2", 1, "\xc2"},                        /* a lone lead byte at the end */
        {"back\\slash", 10, "back\\slash"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_string_equal(ekn_escape(buf, sizeof buf, cases[i].in, cases[i].len), cases[i].want);
    /* cut short when full, never in the middle of an escape */
    assert_string_equal(ekn_escape(buf, 5, "ab\033cd", 5), "ab\\e");
    assert_string_equal(ekn_escape(buf, 4, "ab\033cd", 5), "ab");
    assert_string_equal(ekn_escape(buf, 1, "abc", 3), "");
}

static void test_messages(void **state)
{
    (void)state;
    ekn_err err = {0};
    assert_int_equal(ekn_err_set(&err, EKN_EXIT_FAIL, "'%s': bad", "x\033[2J\ny"), -1);
    assert_string_equal(err.msg, "'x\\e[2J\\ny': bad");
    ekn_err_prefix(&err, "record %d '%s'", 3, "n\aame");
    assert_string_equal(err.msg, "record 3 'n\\aame': 'x\\e[2J\\ny': bad");
    /* the --help hint is the one second line, kept through a prefix */
    ekn_err_set(&err, EKN_EXIT_USAGE, "unknown option '%s'", "--\033x");
    ekn_err_add_line(&err, "Try 'ekn-x --help' for more information.");
    ekn_err_prefix(&err, "p");
    assert_string_equal(err.msg, "p: unknown option '--\\ex'\nTry 'ekn-x --help' for more information.");
    /* the usual message is left as it is */
    ekn_err_set(&err, EKN_EXIT_FAIL, "'%s': %d%% done", "a\\b", 5);
    assert_string_equal(err.msg, "'a\\b': 5% done");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_escape), cmocka_unit_test(test_messages)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
