/* SPDX-License-Identifier: MIT */
/* wm_php_serial_tests: the PHP serialize()/unserialize() codec. The case
 * list lives in php_tests.h; each case runs in its own process. */
#include "php_tests.h"

#define WM_PHP_ENTRY(name) {#name, test_##name},
static const wm_test_case_t cases[] = {WM_PHP_CASES(WM_PHP_ENTRY){NULL, NULL}};
#undef WM_PHP_ENTRY

int php_decode(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out,
               const char **why)
{
    char *exact = malloc(len ? len : 1);
    ASSERT(exact);
    memcpy(exact, text, len);
    *why = "(not set)";
    int rc = wm__php_unserialize(exact, len, zone, out, why);
    free(exact);
    return rc;
}

void php_assert_serializes_to(const msgpack_object *obj, const char *expected, size_t len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = wm__php_serialize(obj, &sb);
    if (rc != WM_OK || sb.size != len || memcmp(sb.data, expected, len) != 0)
        WM_TEST_FAIL("serialize: rc %d, wrote \"%.*s\", expected \"%.*s\"", rc, (int)sb.size,
                     sb.data ? sb.data : "", (int)len, expected);
    msgpack_sbuffer_destroy(&sb);
}

void php_assert_round_trip(const char *text, size_t len)
{
    msgpack_zone *zone = msgpack_zone_new(256);
    msgpack_object obj;
    const char *why;
    int rc = php_decode(text, len, zone, &obj, &why);
    if (rc != WM_OK)
        WM_TEST_FAIL("unserialize \"%.*s\": rc %d (%s)", (int)len, text, rc, why ? why : "");
    ASSERT(why == NULL);
    php_assert_serializes_to(&obj, text, len);
    msgpack_zone_free(zone);
}

void php_assert_refused(const char *text, size_t len, const char *reason_part)
{
    msgpack_zone *zone = msgpack_zone_new(256);
    msgpack_object obj;
    const char *why;
    int rc = php_decode(text, len, zone, &obj, &why);
    if (rc != WM_EPROTO || !why)
        WM_TEST_FAIL("\"%.*s\" was not refused: rc %d", (int)len, text, rc);
    if (reason_part && !strstr(why, reason_part))
        WM_TEST_FAIL("\"%.*s\": reason \"%s\", expected one with \"%s\"", (int)len, text, why,
                     reason_part);
    msgpack_zone_free(zone);
}

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
