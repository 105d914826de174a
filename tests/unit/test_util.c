/* util: CIDR parsing and math, keys, the canonical JSON writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "util/buf.h"
#include "util/cidr.h"
#include "util/json_writer.h"
#include "util/key.h"

static void test_prefix_parse_accepts_and_canonicalises(void **state)
{
    (void)state;
    nn_prefix p;
    char buf[NN_PREFIX_STRLEN];
    assert_int_equal(nn_prefix_parse("10.20.0.0/16", true, false, &p, NULL), 0);
    assert_string_equal(nn_prefix_format(&p, true, buf), "10.20.0.0/16");
    assert_int_equal(nn_prefix_parse("FD00:0:0::/64", true, false, &p, NULL), 0);
    assert_string_equal(nn_prefix_format(&p, true, buf), "fd00::/64");
    assert_int_equal(nn_prefix_parse("192.168.1.7", false, true, &p, NULL), 0);
    assert_int_equal(p.len, 32);
}

static void test_prefix_parse_rejects(void **state)
{
    (void)state;
    nn_prefix p;
    const char *why;
    const char *bad[] = {"10.20.0.1/16", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0/8",
                         "fd00::/129", "01.2.3.4/32", "1.2.3.4/-1", "", "/8", "1.2.3.4/8x",
                         "::ffff:zz/128", "10.0.0.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (nn_prefix_parse(bad[i], true, false, &p, &why) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(why);
    }
    assert_int_equal(nn_prefix_parse("10.20.0.1/16", true, false, &p, &why), -22);
    assert_non_null(strstr(why, "host bits"));
}

static void test_prefix_contains_and_order(void **state)
{
    (void)state;
    nn_prefix a, b, c;
    nn_prefix_parse("10.0.0.0/8", true, false, &a, NULL);
    nn_prefix_parse("10.9.0.0/16", true, false, &b, NULL);
    nn_prefix_parse("fd00::/8", true, false, &c, NULL);
    assert_true(nn_prefix_contains(&a, &b));
    assert_false(nn_prefix_contains(&b, &a));
    assert_false(nn_prefix_contains(&a, &c));
    assert_true(nn_prefix_overlaps(&b, &a));
    assert_true(nn_prefix_cmp(&a, &b) < 0);
    assert_true(nn_prefix_cmp(&b, &c) < 0); /* IPv4 sorts before IPv6 */
}

static void test_key_roundtrip_and_rejects(void **state)
{
    (void)state;
    nn_key k;
    const char *why;
    const char *good = "be73/jKD79XRJ++YlRnqr2746gN8ziuVNM6nGLBs4GY=";
    char back[NN_KEY_B64_LEN + 1];
    assert_int_equal(nn_key_from_base64(good, &k, &why), 0);
    nn_key_to_base64(&k, back);
    assert_string_equal(back, good);
    const char *bad[] = {"", "abc", "be73/jKD79XRJ++YlRnqr2746gN8ziuVNM6nGLBs4GY",
                         "be73/jKD79XRJ++YlRnqr2746gN8ziuVNM6nGLBs4GZ=", /* non-canonical */
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* all zero */
                         "be73/jKD79XRJ++YlRnqr2746gN8ziuVNM6nGLBs4G!="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (nn_key_from_base64(bad[i], &k, &why) == 0)
            fail_msg("accepted key %s", bad[i]);
}

/* The writer's output must already be what jansson produces when it sorts
 * keys and drops whitespace: that is the definition of canonical here. */
static void test_json_writer_is_canonical(void **state)
{
    (void)state;
    nn_buf b = NN_BUF_INIT;
    nn_jw w;
    nn_jw_init(&w, &b);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "a");
    nn_jw_arr_begin(&w);
    nn_jw_int(&w, -5);
    nn_jw_bool(&w, true);
    nn_jw_null(&w);
    nn_jw_str(&w, "tab\there \"q\" \\ \x01 / é\n");
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "b");
    nn_jw_obj_begin(&w);
    nn_jw_obj_end(&w);
    nn_jw_key(&w, "c");
    nn_jw_raw(&w, "[1,2]", 5);
    nn_jw_obj_end(&w);
    json_error_t e;
    json_t *j = json_loads(b.data, 0, &e);
    assert_non_null(j);
    char *again = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(again, b.data);
    free(again);
    json_decref(j);
    nn_buf_free(&b);
}

static void test_buf_grows_and_steals(void **state)
{
    (void)state;
    nn_buf b = NN_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        nn_buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 20000);
    char *s = nn_buf_steal(&b);
    assert_int_equal(strlen(s), 20000);
    assert_null(b.data);
    free(s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_parse_accepts_and_canonicalises),
        cmocka_unit_test(test_prefix_parse_rejects),
        cmocka_unit_test(test_prefix_contains_and_order),
        cmocka_unit_test(test_key_roundtrip_and_rejects),
        cmocka_unit_test(test_json_writer_is_canonical),
        cmocka_unit_test(test_buf_grows_and_steals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
