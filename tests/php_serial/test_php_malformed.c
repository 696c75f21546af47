/* SPDX-License-Identifier: MIT */
/* Bad input: every truncation of valid input, malformed values, objects and
 * references, count bombs, nesting, and the memory a tree may take. Each
 * input is decoded from a buffer of exactly its length (php_decode), so a
 * read past the end is an ASan error in the sanitizer build. */
#include "php_tests.h"

/* Inputs that cover every type, nesting and key kind. */
static const char *const valid_inputs[] = {
    "N;",
    "b:1;",
    "i:-123;",
    "d:0.1;",
    "d:-1.5E-7;",
    "d:NAN;",
    "d:-INF;",
    "s:5:\"hallo\";",
    "s:0:\"\";",
    "a:0:{}",
    "a:6:{i:0;i:1;i:1;d:1.1;i:2;s:5:\"hallo\";i:3;N;i:4;b:1;i:5;a:0:{}}",
    ("a:3:{s:3:\"cmd\";s:3:\"cas\";s:3:\"key\";s:1:\"k\";s:3:\"md5\";"
     "s:32:\"dcca48101505dd86b703689a604fe3c4\";}"),
    "a:2:{i:-1;a:1:{s:1:\"x\";a:1:{i:0;d:INF;}}i:7;b:0;}",
};

void test_every_truncation(void)
{
    for (size_t v = 0; v < sizeof valid_inputs / sizeof valid_inputs[0]; v++) {
        const char *text = valid_inputs[v];
        size_t len = strlen(text);
        php_assert_round_trip(text, len);
        for (size_t cut = 0; cut < len; cut++)
            php_assert_refused(text, cut, NULL);
    }
}

/* A string literal and its length, NULs included. */
#define T(lit) lit, sizeof(lit) - 1

void test_malformed(void)
{
    static const struct {
        const char *text;
        size_t len;
        const char *reason;
    } cases[] = {
        {T(""), "ends"},
        {T("x"), "unknown type tag"},
        {T("\0"), "unknown type tag"},
        {T("n;"), "unknown type tag"},
        {T("N"), "ends"},
        {T("N:"), "unexpected byte"},
        {T("b:2;"), "neither 0 nor 1"},
        {T("b:01;"), "unexpected byte"},
        {T("b:;"), "neither 0 nor 1"},
        {T("i:;"), "expected a digit"},
        {T("i:-;"), "expected a digit"},
        {T("i: 1;"), "expected a digit"},
        {T("i:1x;"), "unexpected byte"},
        {T("i:1.5;"), "unexpected byte"},
        {T("i:9223372036854775808;"), "int64 range"},
        {T("i:-9223372036854775809;"), "int64 range"},
        {T("i:99999999999999999999999;"), "int64 range"},
        {T("d:e5;"), "malformed float"},
        {T("d:.;"), "malformed float"},
        {T("d:1e;"), "malformed float"},
        {T("d:1e+;"), "malformed float"},
        {T("d:0x10;"), "unexpected byte"},
        {T("d: 1;"), "malformed float"},
        {T("d:-NAN;"), "malformed float"},
        {T("d:+INF;"), "malformed float"},
        {T("d:nan;"), "malformed float"},
        {T("d:inf;"), "malformed float"},
        {T("d:INFINITY;"), "unexpected byte"},
        {T("s:5:\"abc\";"), "ends"},
        {T("s:2:\"abc\";"), "unexpected byte"},
        {T("s:10:\"abc\";"), "larger than the input"},
        {T("s:7:\"abc\";"), "past the end"},
        {T("s:-1:\"\";"), "expected a digit"},
        {T("s:1:a;"), "unexpected byte"},
        {T("s:1:\"a\""), "ends"},
        {T("s:1:\"a';"), "unexpected byte"},
        {T("s:99999999999999999999:\""), "larger than the input"},
        {T("a:2:{i:0;i:1;}"), "count larger"},
        {T("a:2:{i:0;i:1;}      "), "neither i: nor s:"},
        {T("a:1:{i:0;i:1;i:1;i:2;}"), "unexpected byte"},
        {T("a:1:{d:1;i:1;}"), "neither i: nor s:"},
        {T("a:1:{N;i:1;}"), "neither i: nor s:"},
        {T("a:1:{b:1;i:1;}"), "neither i: nor s:"},
        {T("a:1:{a:0:{}i:1;}"), "neither i: nor s:"},
        {T("a:-1:{}"), "expected a digit"},
        {T("a:1{i:0;N;}"), "unexpected byte"},
        {T("a:0:{};"), "trailing"},
        {T("a:0:{}}"), "trailing"},
        {T("N;x"), "trailing"},
        {T("N; "), "trailing"},
        {T("i:1;i:2;"), "trailing"},
        {T("N;\0"), "trailing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        php_assert_refused(cases[i].text, cases[i].len, cases[i].reason);
    }
    /* A float longer than any PHP writes. */
    char text[1300] = "d:1.";
    memset(text + 4, '5', 1200);
    memcpy(text + 1204, ";", 2);
    php_assert_refused(text, strlen(text), "too long");
}

/* php-src ext/standard/tests/serialize/001.phpt writes the object and the
 * reference below; none of them may be instantiated here. */
void test_refused_types(void)
{
    PHP_REFUSED("O:1:\"t\":1:{s:1:\"a\";s:5:\"hallo\";}", "objects");
    PHP_REFUSED("O:8:\"stdClass\":0:{}", "objects");
    PHP_REFUSED("C:11:\"ArrayObject\":21:{x:i:0;a:0:{};m:a:0:{}}", "objects");
    PHP_REFUSED("o:0:{}", "objects");
    PHP_REFUSED("a:2:{s:1:\"a\";s:4:\"test\";s:1:\"b\";R:2;}", "references");
    PHP_REFUSED("a:2:{i:0;a:0:{}i:1;r:2;}", "references");
    PHP_REFUSED("E:7:\"Foo:Bar\";", "enums");
    PHP_REFUSED("S:1:\"\\61\";", "escaped strings");
    PHP_REFUSED("a:1:{i:0;a:1:{s:1:\"x\";O:8:\"stdClass\":0:{}}}", "objects");
}

void test_count_bombs(void)
{
    PHP_REFUSED("a:2147483647:{", "count larger");
    PHP_REFUSED("a:4294967296:{}", "count larger");
    PHP_REFUSED("a:99999999999999999999999999:{", "larger than the input");
    PHP_REFUSED("a:1:{i:0;a:2147483647:{}}", "count larger");
    PHP_REFUSED("s:2147483647:\"", "larger than the input");
    PHP_REFUSED("a:1:{s:2147483647:\"\";N;}", "larger than the input");
    /* A count just over what the bytes could hold, and just under. */
    char text[64];
    snprintf(text, sizeof text, "a:2:{i:1;N;i:2;N}");
    php_assert_refused(text, strlen(text), "count larger");
    PHP_RT("a:2:{i:1;N;i:2;N;}");
}

/* "a:1:{i:0;" n times, "N;", "}" n times. */
static char *nested(int n, size_t *len)
{
    char *text = malloc((size_t)n * 10 + 3);
    ASSERT(text);
    char *w = text;
    for (int i = 0; i < n; i++)
        w += sprintf(w, "a:1:{i:0;");
    w += sprintf(w, "N;");
    for (int i = 0; i < n; i++)
        *w++ = '}';
    *len = (size_t)(w - text);
    return text;
}

void test_nesting(void)
{
    size_t len;
    char *text = nested(WM_PHP_MAX_DEPTH, &len);
    php_assert_round_trip(text, len);
    free(text);
    text = nested(WM_PHP_MAX_DEPTH + 1, &len);
    php_assert_refused(text, len, "nested too deep");
    free(text);
    text = nested(200000, &len); /* no recursion past the limit */
    php_assert_refused(text, len, "nested too deep");
    free(text);
}

static void assert_tree_small(const char *text, size_t len)
{
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object obj;
    const char *why;
    ASSERT_EQ(php_decode(text, len, zone, &obj, &why), WM_OK);
    size_t bytes = php_tree_bytes(&obj);
    if (bytes > 8 * len)
        WM_TEST_FAIL("a tree of %zu bytes from %zu bytes of input", bytes, len);
    msgpack_zone_free(zone);
}

/* The densest inputs: a map of one-digit keys and nulls, nested maps,
 * empty strings. The tree stays under 8 bytes per input byte. */
void test_memory_bound(void)
{
    size_t n = 9, cap = 200000;
    char *text = malloc(cap);
    ASSERT(text);
    size_t len = (size_t)sprintf(text, "a:%zu:{", n);
    for (size_t i = 1; i <= n; i++)
        len += (size_t)sprintf(text + len, "i:%zu;N;", i);
    text[len++] = '}';
    assert_tree_small(text, len);

    len = (size_t)sprintf(text, "a:10000:{");
    for (size_t i = 0; i < 10000; i++)
        len += (size_t)sprintf(text + len, "i:%zu;s:0:\"\";", i + 1);
    text[len++] = '}';
    assert_tree_small(text, len);

    len = 0;
    for (int i = 0; i < WM_PHP_MAX_DEPTH; i++)
        len += (size_t)sprintf(text + len, "a:1:{i:1;");
    len += (size_t)sprintf(text + len, "N;");
    for (int i = 0; i < WM_PHP_MAX_DEPTH; i++)
        text[len++] = '}';
    assert_tree_small(text, len);
    free(text);
}
