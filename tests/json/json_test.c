/* SPDX-License-Identifier: MIT */
/* wm_json_tests: wm/json.h. The accept/reject tables follow JSONTestSuite's
 * y_ (must parse) and n_ (must fail) cases, written inline; then numbers,
 * strings and UTF-8, limits (a nesting bomb is an error, not a stack
 * overflow), error offsets, accessors, and the writer: escaping, doubles
 * that read back exactly, misuse, and parse -> write -> parse round trips. */
#include <float.h>
#include <math.h>

#include "json_tree.h"
#include "wm_test.h"

typedef struct jcase {
    const char *text;
    size_t len; /* 0: strlen */
} jcase_t;

static const jcase_t accept[] = {
    {"null", 0},
    {"true", 0},
    {" false ", 0},
    {"0", 0},
    {"-0", 0},
    {"-0.0e+0", 0},
    {"1E22", 0},
    {"1e-2", 0},
    {"123.456e78", 0},
    {"-9223372036854775808", 0},
    {"9223372036854775807", 0},
    {"9223372036854775808", 0},
    {"1e-400", 0},
    {"\"\"", 0},
    {"\"\\u0060\\u012a\\u12AB\"", 0},
    {"\"\\uD801\\udc37\"", 0},
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0},
    {"\"\xe2\x82\xac\xf0\x9d\x84\x9e\"", 0},
    {"\"\\u0000\"", 0},
    {"\"\x7f\"", 0},
    {"[]", 0},
    {"{}", 0},
    {" [ 1 , 2 ,\t3\n] ", 0},
    {"[[[[[]]]]]", 0},
    {"{\"a\":{\"b\":[{},[],null]}}", 0},
    {"{\"a\":1,\"a\":2}", 0},
    {"{\"\":0}", 0},
    {"[\"a\",{\"x\":[1.5,-2,true]},null]", 0},
};

static const jcase_t reject[] = {
    {"", 0},
    {" ", 0},
    {"[1,]", 0},
    {"[,1]", 0},
    {"{\"a\":1,}", 0},
    {"{,}", 0},
    {"[1 2]", 0},
    {"{\"a\" 1}", 0},
    {"{\"a\":}", 0},
    {"{a:1}", 0},
    {"{'a':1}", 0},
    {"{1:1}", 0},
    {"[1]]", 0},
    {"[1", 0},
    {"{\"a\":1", 0},
    {"[1] x", 0},
    {"1 2", 0},
    {"01", 0},
    {"-01", 0},
    {"1.", 0},
    {".5", 0},
    {"1e", 0},
    {"1e+", 0},
    {"+1", 0},
    {"-", 0},
    {"0x10", 0},
    {"NaN", 0},
    {"Infinity", 0},
    {"-Infinity", 0},
    {"1e400", 0},
    {"-1e400", 0},
    {"tru", 0},
    {"nul", 0},
    {"True", 0},
    {"\"abc", 0},
    {"\"\\x41\"", 0},
    {"\"\\u12\"", 0},
    {"\"\\u12G4\"", 0},
    {"\"\\uD800\"", 0},
    {"\"\\uDC00\"", 0},
    {"\"\\uD800\\u0041\"", 0},
    {"\"\\uD800x\"", 0},
    {"\"\\\"", 0},
    {"\"a\tb\"", 0},
    {"\"a\nb\"", 0},
    {"\"\x01\"", 0},
    {"\"\x80\"", 0},
    {"\"\xc0\xaf\"", 0},
    {"\"\xe0\x80\xaf\"", 0},
    {"\"\xed\xa0\x80\"", 0},
    {"\"\xf4\x90\x80\x80\"", 0},
    {"\"\xff\"", 0},
    {"\"\xe2\x82\"", 0},
    {"\xef\xbb\xbf{}", 0},
    {"[1,2]/*c*/", 0},
    {"// c\n1", 0},
    {"[\"a\"\x00]", 6},
    {"{\"a\":1}\x00", 8},
};

static void test_accept_and_reject(void)
{
    for (size_t i = 0; i < sizeof accept / sizeof *accept; i++) {
        const jcase_t *c = &accept[i];
        wm_json_doc_t *d = NULL;
        wm_json_error_t e;
        int rc = wm_json_parse(c->text, c->len ? c->len : strlen(c->text), NULL, &d, &e);
        if (rc != WM_OK)
            WM_TEST_FAIL("y_ case %zu (%s) refused at %zu: %s", i, c->text, e.offset, e.reason);
        ASSERT(wm_json_root(d) != NULL);
        wm_json_doc_free(d);
    }
    for (size_t i = 0; i < sizeof reject / sizeof *reject; i++) {
        const jcase_t *c = &reject[i];
        wm_json_doc_t *d = (wm_json_doc_t *)1;
        wm_json_error_t e;
        size_t len = c->len ? c->len : strlen(c->text);
        int rc = wm_json_parse(c->text, len, NULL, &d, &e);
        if (rc != WM_EPROTO)
            WM_TEST_FAIL("n_ case %zu (%s) gave %d", i, c->text, rc);
        ASSERT(d == NULL);
        ASSERT(e.reason[0] != '\0');
        ASSERT_LE(e.offset, len);
    }
}

static wm_json_doc_t *parse_ok(const char *text)
{
    wm_json_doc_t *d = NULL;
    wm_json_error_t e;
    if (wm_json_parse(text, strlen(text), NULL, &d, &e) != WM_OK)
        WM_TEST_FAIL("%s refused at %zu: %s", text, e.offset, e.reason);
    return d;
}

static void test_numbers(void)
{
    wm_json_doc_t *d = parse_ok("[0,-0,9223372036854775807,-9223372036854775808,"
                                "9223372036854775808,1.5,1E+2,-2.5e-3,1e-400,12345678901234567890"
                                "123]");
    const wm_json_t *r = wm_json_root(d);
    int64_t i;
    double x;
    ASSERT_EQ(wm_json_type(wm_json_at(r, 0)), WM_JSON_INT);
    ASSERT_EQ(wm_json_type(wm_json_at(r, 1)), WM_JSON_INT); /* -0 is the integer 0 */
    ASSERT(wm_json_as_int(wm_json_at(r, 1), &i) && i == 0);
    ASSERT_STR_EQ(wm_json_number_text(wm_json_at(r, 1)), "-0"); /* the sign is in the text */
    ASSERT(wm_json_as_int(wm_json_at(r, 2), &i) && i == INT64_MAX);
    ASSERT(wm_json_as_int(wm_json_at(r, 3), &i) && i == INT64_MIN);
    /* 2^63: past int64, so a double, and as_int refuses it. */
    ASSERT_EQ(wm_json_type(wm_json_at(r, 4)), WM_JSON_DOUBLE);
    ASSERT(!wm_json_as_int(wm_json_at(r, 4), &i));
    ASSERT(wm_json_as_double(wm_json_at(r, 4), &x) && x == 9223372036854775808.0);
    ASSERT(wm_json_as_double(wm_json_at(r, 5), &x) && x == 1.5);
    ASSERT(!wm_json_as_int(wm_json_at(r, 5), &i));
    ASSERT_EQ(wm_json_type(wm_json_at(r, 6)), WM_JSON_DOUBLE);
    ASSERT(wm_json_as_int(wm_json_at(r, 6), &i) && i == 100); /* integral double */
    ASSERT_STR_EQ(wm_json_number_text(wm_json_at(r, 6)), "1E+2");
    ASSERT(wm_json_as_double(wm_json_at(r, 7), &x) && x == -2.5e-3);
    ASSERT(wm_json_as_double(wm_json_at(r, 8), &x) && x == 0.0); /* underflow: 0 */
    ASSERT_STR_EQ(wm_json_number_text(wm_json_at(r, 9)), "12345678901234567890123");
    ASSERT(wm_json_as_double(wm_json_at(r, 9), &x) && x > 1.2e22);
    /* Wrong types say no and leave the output alone. */
    i = 42;
    ASSERT(!wm_json_as_int(wm_json_at(r, 99), &i) && i == 42);
    ASSERT(wm_json_number_text(r) == NULL);
    wm_json_doc_free(d);
}

static void test_strings(void)
{
    wm_json_doc_t *d = parse_ok("[\"a\\u0000b\",\"\\uD83D\\uDE00\",\"\\u00e9\\u20AC\","
                                "\"tab\\tq\\\"\",\"\xc3\xa9\"]");
    const wm_json_t *r = wm_json_root(d);
    size_t n;
    const char *s = wm_json_as_string(wm_json_at(r, 0), &n);
    ASSERT_EQ(n, 3);
    ASSERT_MEM_EQ(s, "a\0b", 4);
    ASSERT_STR_EQ(wm_json_as_string(wm_json_at(r, 1), NULL), "\xf0\x9f\x98\x80");
    ASSERT_STR_EQ(wm_json_as_string(wm_json_at(r, 2), NULL), "\xc3\xa9\xe2\x82\xac");
    ASSERT_STR_EQ(wm_json_as_string(wm_json_at(r, 3), NULL), "tab\tq\"");
    ASSERT_STR_EQ(wm_json_as_string(wm_json_at(r, 4), NULL), "\xc3\xa9");
    ASSERT(wm_json_as_string(wm_json_at(r, 5), NULL) == NULL);
    ASSERT(wm_json_as_string(r, NULL) == NULL);
    wm_json_doc_free(d);
}

static void test_limits(void)
{
    /* 64 levels pass by default, 65 fail. */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    wm_json_doc_t *d;
    wm_json_error_t e;
    ASSERT_EQ(wm_json_parse(deep + 1, 128, NULL, &d, &e), WM_OK);
    wm_json_doc_free(d);
    ASSERT_EQ(wm_json_parse(deep, 130, NULL, &d, &e), WM_EPROTO);
    ASSERT_EQ(e.offset, 64);
    ASSERT(strstr(e.reason, "nesting") != NULL);
    /* A bomb of a million '[' (and as many '{"a":') is an error at once. */
    size_t big = 1000000;
    char *bomb = malloc(big * 5);
    memset(bomb, '[', big);
    ASSERT_EQ(wm_json_parse(bomb, big, NULL, &d, &e), WM_EPROTO);
    for (size_t i = 0; i < big; i++)
        memcpy(bomb + i * 5, "{\"a\":", 5);
    ASSERT_EQ(wm_json_parse(bomb, big * 5, NULL, &d, &e), WM_EPROTO);
    /* Raised to 200,000 levels: parsed without recursion, freed, written. */
    size_t n = 200000;
    memset(bomb, '[', n);
    memset(bomb + n, ']', n);
    wm_json_opts_t o = {.max_depth = n};
    ASSERT_EQ(wm_json_parse(bomb, 2 * n, &o, &d, &e), WM_OK);
    wm_json_writer_t *w = wm_json_writer_new();
    ASSERT_EQ(wm_json_write_value(w, wm_json_root(d)), WM_OK);
    size_t len;
    const char *text = wm_json_writer_text(w, &len);
    ASSERT_EQ(len, 2 * n);
    ASSERT_MEM_EQ(text, bomb, 2 * n);
    wm_json_writer_free(w);
    wm_json_doc_free(d);
    free(bomb);
    /* The size bound is checked before reading. */
    wm_json_opts_t small = {.max_size = 4};
    ASSERT_EQ(wm_json_parse("[1,2]", 5, &small, &d, &e), WM_EMSGSIZE);
    ASSERT(d == NULL);
    ASSERT_EQ(wm_json_parse("[12]", 4, &small, &d, &e), WM_OK);
    wm_json_doc_free(d);
}

static void test_error_offsets(void)
{
    static const struct {
        const char *text;
        size_t offset;
        const char *words;
    } cases[] = {
        {"[1,]", 3, "value expected"},       {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"},
        {"[1 2]", 3, "expected ',' or ']'"}, {"  \"ab\x01\"", 5, "control character"},
        {"[\"\\q\"]", 2, "invalid escape"},  {"[\"\\uD800\"]", 3, "surrogate"},
        {"[0123]", 1, "leading zero"},       {"{} {}", 3, "after the value"},
        {"[1e999]", 1, "out of range"},      {"\"abc", 0, "unterminated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        wm_json_doc_t *d;
        wm_json_error_t e;
        ASSERT_EQ(wm_json_parse(cases[i].text, strlen(cases[i].text), NULL, &d, &e), WM_EPROTO);
        if (e.offset != cases[i].offset || !strstr(e.reason, cases[i].words))
            WM_TEST_FAIL("case %s: offset %zu reason \"%s\", want %zu \"%s\"", cases[i].text,
                         e.offset, e.reason, cases[i].offset, cases[i].words);
    }
}

static void test_accessors(void)
{
    wm_json_doc_t *d = parse_ok("{\"user\":{\"name\":\"ann\",\"age\":31,\"ok\":true},"
                                "\"items\":[{\"id\":1},{\"id\":2}],\"k\":1,\"k\":2,\"n\":null}");
    const wm_json_t *r = wm_json_root(d);
    ASSERT_EQ(wm_json_type(r), WM_JSON_OBJECT);
    ASSERT_EQ(wm_json_size(r), 5);
    ASSERT_STR_EQ(wm_json_as_string(wm_json_get(wm_json_get(r, "user"), "name"), NULL), "ann");
    ASSERT_STR_EQ(wm_json_as_string(wm_json_get_path(r, "user.name"), NULL), "ann");
    int64_t i;
    bool b;
    ASSERT(wm_json_as_int(wm_json_get_path(r, "items.1.id"), &i) && i == 2);
    ASSERT(wm_json_as_bool(wm_json_get_path(r, "user.ok"), &b) && b);
    ASSERT(wm_json_get_path(r, "items.2.id") == NULL);
    ASSERT(wm_json_get_path(r, "user.name.x") == NULL);
    ASSERT(wm_json_get_path(r, "") == r);
    /* Duplicate keys: get finds the last, key_at lists both in order. */
    ASSERT(wm_json_as_int(wm_json_get(r, "k"), &i) && i == 2);
    ASSERT_STR_EQ(wm_json_key_at(r, 2, NULL), "k");
    ASSERT(wm_json_as_int(wm_json_value_at(r, 2), &i) && i == 1);
    ASSERT_STR_EQ(wm_json_key_at(r, 3, NULL), "k");
    ASSERT(wm_json_key_at(r, 5, NULL) == NULL);
    ASSERT(wm_json_is_null(wm_json_get(r, "n")));
    ASSERT(!wm_json_is_null(wm_json_get(r, "none")));
    /* NULL is "no value" everywhere, so lookups chain. */
    ASSERT_EQ(wm_json_type(NULL), WM_JSON_NONE);
    ASSERT(wm_json_get(wm_json_get(r, "missing"), "x") == NULL);
    ASSERT_EQ(wm_json_size(NULL), 0);
    ASSERT(wm_json_at(r, 0) == NULL); /* an object is not an array */
    ASSERT(wm_json_get(wm_json_get(r, "items"), "0") == NULL);
    wm_json_doc_free(d);
    wm_json_doc_free(NULL);
}

static const char *written(wm_json_writer_t *w)
{
    const char *t = wm_json_writer_text(w, NULL);
    ASSERT(t != NULL);
    return t;
}

static void test_is_utf8_uint(void)
{
    ASSERT(wm_json_is_utf8("", 0));
    ASSERT(wm_json_is_utf8("plain", 5));
    ASSERT(wm_json_is_utf8("Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80", 13));
    ASSERT(wm_json_is_utf8("a\0b", 3));              /* NUL is a character */
    ASSERT(!wm_json_is_utf8("\xc3", 1));             /* cut short */
    ASSERT(!wm_json_is_utf8("\xc0\xaf", 2));         /* overlong */
    ASSERT(!wm_json_is_utf8("\xed\xa0\x80", 3));     /* a surrogate */
    ASSERT(!wm_json_is_utf8("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    ASSERT(!wm_json_is_utf8("ok\xff", 3));

    /* wm_json_write_uint: past int64's range. */
    wm_json_writer_t *w = wm_json_writer_new();
    ASSERT(w != NULL);
    ASSERT_EQ(wm_json_write_array_begin(w), WM_OK);
    ASSERT_EQ(wm_json_write_uint(w, UINT64_MAX), WM_OK);
    ASSERT_EQ(wm_json_write_uint(w, 0), WM_OK);
    ASSERT_EQ(wm_json_write_array_end(w), WM_OK);
    ASSERT_STR_EQ(wm_json_writer_text(w, NULL), "[18446744073709551615,0]");
    wm_json_writer_free(w);
}

static void test_writer(void)
{
    wm_json_writer_t *w = wm_json_writer_new();
    ASSERT_EQ(wm_json_write_object_begin(w), WM_OK);
    ASSERT_EQ(wm_json_write_key(w, "id"), WM_OK);
    ASSERT_EQ(wm_json_write_int(w, -7), WM_OK);
    ASSERT_EQ(wm_json_write_key(w, "s"), WM_OK);
    ASSERT_EQ(wm_json_write_stringn(w, "q\"b\\\n\x01\x1f\0\xc3\xa9/", 11), WM_OK);
    ASSERT_EQ(wm_json_write_key(w, "a"), WM_OK);
    ASSERT_EQ(wm_json_write_array_begin(w), WM_OK);
    ASSERT_EQ(wm_json_write_double(w, 3.0), WM_OK);
    ASSERT_EQ(wm_json_write_double(w, 0.1), WM_OK);
    ASSERT_EQ(wm_json_write_double(w, NAN), WM_OK);
    ASSERT_EQ(wm_json_write_bool(w, false), WM_OK);
    ASSERT_EQ(wm_json_write_null(w), WM_OK);
    ASSERT_EQ(wm_json_write_object_begin(w), WM_OK);
    ASSERT_EQ(wm_json_write_object_end(w), WM_OK);
    ASSERT_EQ(wm_json_write_array_end(w), WM_OK);
    ASSERT(!wm_json_writer_done(w));
    ASSERT_EQ(wm_json_write_object_end(w), WM_OK);
    ASSERT(wm_json_writer_done(w));
    ASSERT_STR_EQ(written(w), "{\"id\":-7,\"s\":\"q\\\"b\\\\\\n\\u0001\\u001f\\u0000\xc3\xa9/\","
                              "\"a\":[3.0,0.1,null,false,null,{}]}");
    /* A second top-level value is misuse, and the error sticks. */
    ASSERT_EQ(wm_json_write_int(w, 1), WM_EINVAL);
    ASSERT(wm_json_writer_text(w, NULL) == NULL);
    ASSERT_EQ(wm_json_write_null(w), WM_EINVAL);
    wm_json_writer_free(w);

    static const char *const misuse[] = {"value where a key is due", "key in an array",
                                         "mismatched end", "end at top", "not UTF-8"};
    for (int k = 0; k < 5; k++) {
        w = wm_json_writer_new();
        int rc = WM_OK;
        switch (k) {
        case 0:
            wm_json_write_object_begin(w);
            rc = wm_json_write_int(w, 1);
            break;
        case 1:
            wm_json_write_array_begin(w);
            rc = wm_json_write_key(w, "a");
            break;
        case 2:
            wm_json_write_array_begin(w);
            rc = wm_json_write_object_end(w);
            break;
        case 3:
            rc = wm_json_write_array_end(w);
            break;
        case 4:
            rc = wm_json_write_string(w, "a\xff");
            break;
        }
        if (rc != WM_EINVAL || wm_json_writer_error(w) != WM_EINVAL)
            WM_TEST_FAIL("misuse \"%s\" gave %d", misuse[k], rc);
        wm_json_writer_free(w);
    }
}

/* Doubles come back bit for bit (the shortest exact form is written). */
static void test_writer_doubles(void)
{
    const double values[] = {0.1,  1e300,   5e-324,  -0.0,     3.0,  1e21, 123456789.125,
                             -1.5, 1.0 / 3, DBL_MAX, 2.5e-308, 1e16, 1e15};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        wm_json_writer_t *w = wm_json_writer_new();
        ASSERT_EQ(wm_json_write_double(w, values[i]), WM_OK);
        const char *t = written(w);
        wm_json_doc_t *d = parse_ok(t);
        double back;
        ASSERT_EQ(wm_json_type(wm_json_root(d)), WM_JSON_DOUBLE);
        ASSERT(wm_json_as_double(wm_json_root(d), &back));
        if (memcmp(&back, &values[i], sizeof back) != 0)
            WM_TEST_FAIL("%.17g written as %s read back as %.17g", values[i], t, back);
        wm_json_doc_free(d);
        wm_json_writer_free(w);
    }
}

static void roundtrip(const char *text, size_t len)
{
    wm_json_doc_t *a, *b;
    wm_json_error_t e;
    ASSERT_EQ(wm_json_parse(text, len, NULL, &a, &e), WM_OK);
    wm_json_writer_t *w = wm_json_writer_new();
    ASSERT_EQ(wm_json_write_value(w, wm_json_root(a)), WM_OK);
    ASSERT(wm_json_writer_done(w));
    size_t wl;
    const char *t = wm_json_writer_text(w, &wl);
    if (wm_json_parse(t, wl, NULL, &b, &e) != WM_OK)
        WM_TEST_FAIL("%s written as %s, which fails at %zu: %s", text, t, e.offset, e.reason);
    if (!json_equal(wm_json_root(a), wm_json_root(b)))
        WM_TEST_FAIL("%s written as %s reads back different", text, t);
    wm_json_doc_free(a);
    wm_json_doc_free(b);
    wm_json_writer_free(w);
}

static void test_roundtrip(void)
{
    for (size_t i = 0; i < sizeof accept / sizeof *accept; i++)
        roundtrip(accept[i].text, accept[i].len ? accept[i].len : strlen(accept[i].text));
    /* A tree is written inside another writer's object as a member. */
    wm_json_doc_t *d = parse_ok("{\"x\":[1,{\"y\":\"z\"}]}");
    wm_json_writer_t *w = wm_json_writer_new();
    wm_json_write_object_begin(w);
    wm_json_write_key(w, "doc");
    ASSERT_EQ(wm_json_write_value(w, wm_json_root(d)), WM_OK);
    wm_json_write_key(w, "after");
    wm_json_write_bool(w, true);
    wm_json_write_object_end(w);
    ASSERT_STR_EQ(written(w), "{\"doc\":{\"x\":[1,{\"y\":\"z\"}]},\"after\":true}");
    wm_json_writer_free(w);
    wm_json_doc_free(d);
}

static const wm_test_case_t cases[] = {
    {"accept_and_reject", test_accept_and_reject},
    {"numbers", test_numbers},
    {"strings", test_strings},
    {"limits", test_limits},
    {"error_offsets", test_error_offsets},
    {"accessors", test_accessors},
    {"is_utf8_uint", test_is_utf8_uint},
    {"writer", test_writer},
    {"writer_doubles", test_writer_doubles},
    {"roundtrip", test_roundtrip},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
