/* SPDX-License-Identifier: MIT */
/* Valid input: byte-exact vectors from php-src's own tests and from PHP 8.2
 * (vectors/), the msgpack mapping both ways, numeric-string keys, what
 * serialize refuses, and md5. */
#include <float.h>
#include <inttypes.h>
#include <math.h>

#include "php_tests.h"

/* ---- msgpack objects by hand -------------------------------------------- */

static msgpack_object o_nil(void)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_NIL};
    return o;
}

static msgpack_object o_bool(bool b)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = b};
    return o;
}

static msgpack_object o_uint(uint64_t u)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = u};
    return o;
}

static msgpack_object o_int(int64_t i)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = i};
    return i >= 0 ? o_uint((uint64_t)i) : o;
}

static msgpack_object o_f64(double d)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = d};
    return o;
}

static msgpack_object o_str(const char *s)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_STR};
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)strlen(s);
    return o;
}

static msgpack_object o_bin(const char *p, size_t n)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_BIN};
    o.via.bin.ptr = p;
    o.via.bin.size = (uint32_t)n;
    return o;
}

static msgpack_object o_array(msgpack_object *items, uint32_t n)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_ARRAY};
    o.via.array.ptr = items;
    o.via.array.size = n;
    return o;
}

static msgpack_object o_map(msgpack_object_kv *kv, uint32_t n)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_MAP};
    o.via.map.ptr = kv;
    o.via.map.size = n;
    return o;
}

/* Decodes text (a C string) and asserts the tree equals want. */
static void assert_decodes_to(const char *text, const msgpack_object *want)
{
    msgpack_zone *zone = msgpack_zone_new(256);
    msgpack_object got;
    const char *why;
    int rc = php_decode(text, strlen(text), zone, &got, &why);
    if (rc != WM_OK)
        WM_TEST_FAIL("unserialize \"%s\": rc %d (%s)", text, rc, why);
    if (!php_tree_equal(&got, want))
        WM_TEST_FAIL("unserialize \"%s\": not the expected tree", text);
    msgpack_zone_free(zone);
}

#define PHP_SER(obj, lit) php_assert_serializes_to(obj, lit, sizeof(lit) - 1)

/* ---- php-src's vectors ------------------------------------------------------ */

void test_php_src_vectors(void)
{
    /* ext/standard/tests/serialize/001.phpt (its floats there use
     * serialize_precision=100; d:1.1 is the -1 spelling, checked with PHP
     * 8.2). */
    PHP_RT("N;");
    PHP_RT("b:1;");
    PHP_RT("b:0;");
    PHP_RT("i:1;");
    PHP_RT("i:0;");
    PHP_RT("i:-1;");
    PHP_RT("i:2147483647;");
    PHP_RT("i:-2147483647;");
    PHP_RT("d:1;");
    PHP_RT("d:0;");
    PHP_RT("d:-1;");
    PHP_RT("s:5:\"hallo\";");
    PHP_RT("a:6:{i:0;i:1;i:1;d:1.1;i:2;s:5:\"hallo\";i:3;N;i:4;b:1;i:5;a:0:{}}");
    /* ext/standard/tests/math/bug27646.phpt */
    PHP_RT("d:-INF;");
    PHP_RT("d:INF;");
    PHP_RT("d:NAN;");
    /* ext/standard/tests/serialize/serialization_precision_001.phpt */
    PHP_RT("d:0.1;");
    /* ext/standard/tests/serialize/003.phpt */
    PHP_RT("d:100;");
    PHP_RT("d:5.2E+25;");

    msgpack_object items[6] = {o_uint(1), o_f64(1.1), o_str("hallo"),
                               o_nil(),   o_bool(1),  o_array(NULL, 0)};
    msgpack_object list = o_array(items, 6);
    assert_decodes_to("a:6:{i:0;i:1;i:1;d:1.1;i:2;s:5:\"hallo\";i:3;N;i:4;b:1;i:5;a:0:{}}", &list);
    msgpack_object neg = o_int(-2147483647);
    assert_decodes_to("i:-2147483647;", &neg);
    msgpack_object ninf = o_f64(-INFINITY);
    assert_decodes_to("d:-INF;", &ninf);
}

/* ---- floats ------------------------------------------------------------------- */

void test_float_spellings(void)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {0.1, "d:0.1;"},
        {1.0 / 3, "d:0.3333333333333333;"},
        {2.0 / 3, "d:0.6666666666666666;"},
        {1e25, "d:1.0E+25;"},
        {1.5e-7, "d:1.5E-7;"},
        {-0.0, "d:-0;"},
        {0.0, "d:0;"},
        {INFINITY, "d:INF;"},
        {-INFINITY, "d:-INF;"},
        {NAN, "d:NAN;"},
        {-NAN, "d:NAN;"},
        {100.0, "d:100;"},
        {-1.5, "d:-1.5;"},
        {1e-4, "d:0.0001;"},
        {1e-5, "d:1.0E-5;"},
        {1e15, "d:1000000000000000;"},
        {1e16, "d:10000000000000000;"},
        {1e17, "d:1.0E+17;"},
        {123456789012345678.0, "d:1.2345678901234568E+17;"},
        {9007199254740993.0, "d:9007199254740992;"},
        {5e-324, "d:5.0E-324;"},
        {DBL_MAX, "d:1.7976931348623157E+308;"},
        {DBL_MIN, "d:2.2250738585072014E-308;"},
        {0.5, "d:0.5;"},
        {0.015625, "d:0.015625;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_object f = o_f64(cases[i].d);
        php_assert_serializes_to(&f, cases[i].text, strlen(cases[i].text));
        php_assert_round_trip(cases[i].text, strlen(cases[i].text));
    }
    /* Spellings PHP reads although serialize() never writes them. */
    static const struct {
        const char *text;
        double d;
    } reads[] = {{"d:1e2;", 100},     {"d:.5;", 0.5},         {"d:5.;", 5},
                 {"d:+1;", 1},        {"d:00012;", 12},       {"d:1.5e+3;", 1500},
                 {"d:-2E-2;", -0.02}, {"d:1E400;", INFINITY}, {"d:7;", 7}};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        msgpack_object want = o_f64(reads[i].d);
        assert_decodes_to(reads[i].text, &want);
    }
}

static bool read_line(FILE *f, char *line, size_t size)
{
    if (!fgets(line, (int)size, f))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return true;
}

/* vectors/floats.txt: "<bits> <PHP 8.2 serialize()>", made by
 * gen_vectors.php: every power of two, random bit patterns, short decimals. */
void test_php82_floats(void)
{
    FILE *f = fopen(WM_PHP_VECTORS_DIR "/floats.txt", "r");
    ASSERT(f);
    char line[128];
    int count = 0;
    while (read_line(f, line, sizeof line)) {
        uint64_t bits;
        char text[100];
        ASSERT_EQ(sscanf(line, "%" SCNx64 " %99s", &bits, text), 2);
        double d;
        memcpy(&d, &bits, sizeof d);
        msgpack_object obj = o_f64(d);
        php_assert_serializes_to(&obj, text, strlen(text));
        if (!isnan(d))
            assert_decodes_to(text, &obj);
        count++;
    }
    fclose(f);
    ASSERT_GT(count, 7000);
}

static size_t unhex(const char *hex, char *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned byte;
        ASSERT_EQ(sscanf(hex, "%2x", &byte), 1);
        out[n++] = (char)byte;
    }
    return n;
}

/* vectors/values.txt: "<md5> <hex of serialize()>" of random nested PHP
 * values (lists, maps, numeric-string keys, binary strings, floats), each
 * must read and write back byte for byte, with PHP's md5. */
void test_php82_values(void)
{
    FILE *f = fopen(WM_PHP_VECTORS_DIR "/values.txt", "r");
    ASSERT(f);
    static char line[1 << 16], bytes[1 << 15];
    int count = 0;
    while (read_line(f, line, sizeof line)) {
        ASSERT(strlen(line) > 33 && line[32] == ' ');
        line[32] = '\0';
        size_t n = unhex(line + 33, bytes);
        php_assert_round_trip(bytes, n);

        msgpack_zone *zone = msgpack_zone_new(256);
        msgpack_object obj;
        const char *why;
        ASSERT_EQ(php_decode(bytes, n, zone, &obj, &why), WM_OK);
        char md5[33];
        wm__php_serialize_md5_hex(&obj, md5);
        ASSERT_STR_EQ(md5, line);
        msgpack_zone_free(zone);
        count++;
    }
    fclose(f);
    ASSERT_EQ(count, 1500);
}

/* ---- the mapping ---------------------------------------------------------- */

void test_lists_and_maps(void)
{
    msgpack_object empty = o_array(NULL, 0);
    assert_decodes_to("a:0:{}", &empty);

    msgpack_object ab[2] = {o_str("a"), o_str("b")};
    msgpack_object list = o_array(ab, 2);
    assert_decodes_to("a:2:{i:0;s:1:\"a\";i:1;s:1:\"b\";}", &list);
    PHP_SER(&list, "a:2:{i:0;s:1:\"a\";i:1;s:1:\"b\";}");

    /* Keys 1, 0: not a list. */
    msgpack_object_kv swapped[2] = {{o_uint(1), o_str("a")}, {o_uint(0), o_str("b")}};
    msgpack_object map = o_map(swapped, 2);
    assert_decodes_to("a:2:{i:1;s:1:\"a\";i:0;s:1:\"b\";}", &map);
    PHP_RT("a:2:{i:1;s:1:\"a\";i:0;s:1:\"b\";}");
    msgpack_object_kv gap[1] = {{o_uint(1), o_nil()}};
    map = o_map(gap, 1);
    assert_decodes_to("a:1:{i:1;N;}", &map);
    msgpack_object_kv negative[1] = {{o_int(-5), o_bool(1)}};
    map = o_map(negative, 1);
    assert_decodes_to("a:1:{i:-5;b:1;}", &map);

    /* walkor/GlobalData's request and walkor/channel's, as PHP sends them. */
    msgpack_object value_items[2] = {o_uint(1), o_f64(0.5)};
    msgpack_object_kv request[3] = {{o_str("cmd"), o_str("set")},
                                    {o_str("key"), o_str("abc")},
                                    {o_str("value"), o_array(value_items, 2)}};
    map = o_map(request, 3);
    const char *set = "a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:3:\"abc\";"
                      "s:5:\"value\";a:2:{i:0;i:1;i:1;d:0.5;}}";
    assert_decodes_to(set, &map);
    php_assert_serializes_to(&map, set, strlen(set));
    PHP_RT("a:3:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:2:{i:0;s:3:\"foo\";"
           "i:1;s:3:\"bar\";}s:4:\"data\";N;}");

    /* Strings are bytes: quotes, ';', NUL, '}' and non-UTF-8 inside. */
    static const char binary[] = "s:9:\"a\";}\"\0\xff\xfe\n\";";
    php_assert_round_trip(binary, sizeof binary - 1);
    msgpack_object bin_str = {.type = MSGPACK_OBJECT_STR};
    bin_str.via.str.ptr = "a\";}\"\0\xff\xfe\n";
    bin_str.via.str.size = 9;
    assert_decodes_to("s:0:\"\";", &(msgpack_object){.type = MSGPACK_OBJECT_STR});
    msgpack_zone *zone = msgpack_zone_new(256);
    msgpack_object got;
    const char *why;
    ASSERT_EQ(php_decode(binary, sizeof binary - 1, zone, &got, &why), WM_OK);
    ASSERT(php_tree_equal(&got, &bin_str));
    msgpack_zone_free(zone);

    /* Lengths with leading zeros read as PHP reads them. */
    msgpack_object a = o_str("a");
    assert_decodes_to("s:01:\"a\";", &a);
    msgpack_object seven = o_uint(7);
    assert_decodes_to("i:007;", &seven);
    assert_decodes_to("i:+7;", &seven);
}

/* PHP stores "5" as the integer key 5: serialize(unserialize()) and
 * serialize() of a map with a str or bin key "5" give i:5, as PHP's do. */
void test_numeric_string_keys(void)
{
    msgpack_object_kv five[1] = {{o_uint(5), o_uint(1)}};
    msgpack_object map = o_map(five, 1);
    assert_decodes_to("a:1:{s:1:\"5\";i:1;}", &map);
    msgpack_object_kv minus[1] = {{o_int(-3), o_uint(1)}};
    map = o_map(minus, 1);
    assert_decodes_to("a:1:{s:2:\"-3\";i:1;}", &map);
    msgpack_object_kv min[1] = {{o_int(INT64_MIN), o_uint(1)}};
    map = o_map(min, 1);
    assert_decodes_to("a:1:{s:20:\"-9223372036854775808\";i:1;}", &map);
    /* "0" makes a list. */
    msgpack_object one = o_uint(7);
    msgpack_object list = o_array(&one, 1);
    assert_decodes_to("a:1:{s:1:\"0\";i:7;}", &list);

    /* Not integers to PHP: they stay strings. */
    static const char *strings[] = {"05",
                                    "-0",
                                    " 1",
                                    "1 ",
                                    "+1",
                                    "",
                                    "1.5",
                                    "0x1",
                                    "-",
                                    "9223372036854775808",
                                    "-9223372036854775809",
                                    "99999999999999999999"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        char text[80];
        snprintf(text, sizeof text, "a:1:{s:%zu:\"%s\";N;}", strlen(strings[i]), strings[i]);
        msgpack_object_kv kv[1] = {{o_str(strings[i]), o_nil()}};
        map = o_map(kv, 1);
        assert_decodes_to(text, &map);
        php_assert_round_trip(text, strlen(text));
    }

    msgpack_object_kv str_keys[3] = {
        {o_str("5"), o_uint(1)}, {o_bin("-7", 2), o_uint(2)}, {o_str("05"), o_uint(3)}};
    map = o_map(str_keys, 3);
    PHP_SER(&map, "a:3:{i:5;i:1;i:-7;i:2;s:2:\"05\";i:3;}");
    PHP_REFUSED("a:2:{i:5;i:1;s:1:\"5\";i:2;}", "duplicate");
    PHP_REFUSED("a:3:{s:1:\"a\";N;s:1:\"b\";N;s:1:\"a\";N;}", "duplicate");
    PHP_REFUSED("a:2:{i:1;N;i:1;N;}", "duplicate");
}

void test_serialize_mapping(void)
{
    msgpack_object o = o_uint(UINT64_MAX);
    PHP_SER(&o, "d:1.8446744073709552E+19;");
    o = o_uint((uint64_t)INT64_MAX + 1);
    PHP_SER(&o, "d:9.223372036854776E+18;");
    o = o_uint(INT64_MAX);
    PHP_SER(&o, "i:9223372036854775807;");
    o = o_int(INT64_MIN);
    PHP_SER(&o, "i:-9223372036854775808;");
    PHP_RT("i:-9223372036854775808;");
    PHP_RT("i:9223372036854775807;");
    o = o_nil();
    PHP_SER(&o, "N;");
    o = o_bool(0);
    PHP_SER(&o, "b:0;");
    o = (msgpack_object){.type = MSGPACK_OBJECT_FLOAT32, .via.f64 = (double)0.1f};
    PHP_SER(&o, "d:0.10000000149011612;");
    o = o_bin("ab\0", 3);
    PHP_SER(&o, "s:3:\"ab\0\";");
    o = o_map(NULL, 0);
    PHP_SER(&o, "a:0:{}");
    msgpack_object_kv ints[2] = {{o_int(-1), o_str("x")}, {o_uint(10), o_f64(-0.0)}};
    o = o_map(ints, 2);
    PHP_SER(&o, "a:2:{i:-1;s:1:\"x\";i:10;d:-0;}");

    /* WM_PHP_MAX_DEPTH arrays inside each other: written and read back. */
    msgpack_object nest[WM_PHP_MAX_DEPTH];
    nest[WM_PHP_MAX_DEPTH - 1] = o_array(NULL, 0);
    for (int i = WM_PHP_MAX_DEPTH - 2; i >= 0; i--)
        nest[i] = o_array(&nest[i + 1], 1);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ASSERT_EQ(wm__php_serialize(&nest[0], &sb), WM_OK);
    php_assert_round_trip(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void assert_serialize_fails(const msgpack_object *obj, int want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "xyz", 3);
    ASSERT_EQ(wm__php_serialize(obj, &sb), want);
    ASSERT_EQ(sb.size, 3); /* left as it was */
    ASSERT_MEM_EQ(sb.data, "xyz", 3);
    msgpack_sbuffer_destroy(&sb);
}

void test_serialize_refusals(void)
{
    msgpack_object ext = {.type = MSGPACK_OBJECT_EXT};
    assert_serialize_fails(&ext, WM_EINVAL);
    /* Deep inside, after bytes were written: still nothing is left. */
    msgpack_object items[3] = {o_str("ok"), o_uint(1), ext};
    msgpack_object list = o_array(items, 3);
    assert_serialize_fails(&list, WM_EINVAL);

    msgpack_object bad_keys[] = {o_f64(1.0),
                                 o_nil(),
                                 o_bool(1),
                                 o_array(NULL, 0),
                                 o_map(NULL, 0),
                                 o_uint((uint64_t)INT64_MAX + 1),
                                 ext};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        msgpack_object_kv kv[1] = {{bad_keys[i], o_nil()}};
        msgpack_object map = o_map(kv, 1);
        assert_serialize_fails(&map, WM_EINVAL);
    }
    msgpack_object_kv dup[2] = {{o_str("5"), o_nil()}, {o_uint(5), o_nil()}};
    msgpack_object map = o_map(dup, 2);
    assert_serialize_fails(&map, WM_EINVAL);
    msgpack_object_kv dup_str[3] = {
        {o_str("a"), o_nil()}, {o_str("b"), o_nil()}, {o_bin("a", 1), o_nil()}};
    map = o_map(dup_str, 3);
    assert_serialize_fails(&map, WM_EINVAL);

    /* One array more than WM_PHP_MAX_DEPTH. */
    msgpack_object nest[WM_PHP_MAX_DEPTH + 1];
    nest[WM_PHP_MAX_DEPTH] = o_map(NULL, 0);
    for (int i = WM_PHP_MAX_DEPTH - 1; i >= 0; i--)
        nest[i] = o_array(&nest[i + 1], 1);
    assert_serialize_fails(&nest[0], WM_EINVAL);
}

/* md5 of the serialized bytes, computed with `openssl md5` when the test was
 * written (and equal to PHP's md5(serialize(...)) for the same values). */
void test_md5_known(void)
{
    char md5[33];
    wm__php_serialize_md5_hex(NULL, md5);
    ASSERT_STR_EQ(md5, "dcca48101505dd86b703689a604fe3c4"); /* N; */
    msgpack_object nil = o_nil();
    wm__php_serialize_md5_hex(&nil, md5);
    ASSERT_STR_EQ(md5, "dcca48101505dd86b703689a604fe3c4");
    msgpack_object five = o_uint(5);
    wm__php_serialize_md5_hex(&five, md5);
    ASSERT_STR_EQ(md5, "74f06fc0c8c2a776e6bfc87e20eb46bc"); /* i:5; */
    msgpack_object hallo = o_str("hallo");
    wm__php_serialize_md5_hex(&hallo, md5);
    ASSERT_STR_EQ(md5, "78a622f64a59e375e338749f877e006e"); /* s:5:"hallo"; */
    msgpack_object items[2] = {o_str("a"), o_f64(0.1)};
    msgpack_object list = o_array(items, 2);
    wm__php_serialize_md5_hex(&list, md5);
    ASSERT_STR_EQ(md5, "bd0b039127cc15d74f77b0230849dd59"); /* a:2:{i:0;s:1:"a";i:1;d:0.1;} */
    msgpack_object_kv kv[2] = {{o_str("cmd"), o_str("get")}, {o_str("key"), o_str("k")}};
    msgpack_object map = o_map(kv, 2);
    wm__php_serialize_md5_hex(&map, md5);
    ASSERT_STR_EQ(md5, "473b00bd12a94a5a76ca0495b471eb0d");
    msgpack_object big = o_f64(1e25);
    wm__php_serialize_md5_hex(&big, md5);
    ASSERT_STR_EQ(md5, "ea2e88c32c001622485198115f87c331"); /* d:1.0E+25; */
    msgpack_object ext = {.type = MSGPACK_OBJECT_EXT};
    wm__php_serialize_md5_hex(&ext, md5);
    ASSERT_STR_EQ(md5, "");
}
