/* SPDX-License-Identifier: MIT */
/* The frame reader (RFC 6455 §5.1-5.5, §7.4, §8.1): the §5.7 examples for
 * both roles, fragmentation with control frames in between, every error
 * with the close code it asks for, the size limit, close payloads, and
 * UTF-8 validation of text messages cut anywhere by fragments. Every stream
 * is checked whole and split at every byte (ws_check_splits). */
#include "ws_tests.h"

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* the key of the §5.7 examples */

#define CHECK(is_server, max, expect, ...)                                                         \
    do {                                                                                           \
        static const uint8_t in_[] = {__VA_ARGS__};                                                \
        ws_check_splits(in_, sizeof(in_), is_server, max, expect);                                 \
    } while (0)

/* ---- RFC 6455 §5.7 ------------------------------------------------------- */

void test_rfc_unmasked_text(void)
{
    CHECK(false, 0, "text Hello\npending 0\n", 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    /* A server must refuse it: client frames are masked (§5.1). */
    CHECK(true, 0, ws_err_line(WM_EPROTO, 1002), 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
}

void test_rfc_masked_text(void)
{
    CHECK(true, 0, "text Hello\npending 0\n", 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
          0x51, 0x58);
    /* And a client must refuse a masked frame from its server. */
    CHECK(false, 0, ws_err_line(WM_EPROTO, 1002), 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f,
          0x4d, 0x51, 0x58);
}

void test_rfc_fragmented_text(void)
{
    CHECK(false, 0, "text Hello\npending 0\n", 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c,
          0x6f);
    /* A trailing partial frame waits. */
    CHECK(false, 0, "text Hello\npending 3\n", 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f,
          0x81, 0x05, 0x48);
}

void test_rfc_ping_pong(void)
{
    CHECK(false, 0, "ping Hello\npending 0\n", 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    CHECK(true, 0, "pong Hello\npending 0\n", 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
          0x51, 0x58);
    /* Empty control frames. */
    CHECK(false, 0, "ping \npong \npending 0\n", 0x89, 0x00, 0x8a, 0x00);
}

static void big_binary(size_t n, const uint8_t *hdr, size_t hlen)
{
    uint8_t *in = malloc(hlen + n), *pay = in + hlen;
    ASSERT(in != NULL);
    memcpy(in, hdr, hlen);
    for (size_t i = 0; i < n; i++)
        pay[i] = (uint8_t)(i * 7 + 3);
    ws_log_t expect = {NULL, 0, 0};
    ws_log_add(&expect, "binary ");
    ws_log_bytes(&expect, pay, n);
    ws_log_add(&expect, "\npending 0\n");
    ws_check_splits(in, hlen + n, false, 0, expect.s);
    /* One byte short of the limit: 1009, known from the header alone. */
    ws_check_splits(in, hlen, false, n - 1, ws_err_line(WM_EMSGSIZE, 1009));
    free(expect.s);
    /* Masked, for a server. */
    uint8_t *m = malloc(hlen + 4 + n);
    ASSERT(m != NULL);
    size_t at = 0;
    ws_put_frame(m, &at, true, WM_WS_OP_BINARY, pay, n, key);
    ASSERT_EQ(at, hlen + 4 + n);
    ASSERT_MEM_EQ(m, hdr, 1);
    ASSERT_EQ(m[1], hdr[1] | 0x80);
    ASSERT_MEM_EQ(m + 2, hdr + 2, hlen - 2);
    ws_log_t e2 = {NULL, 0, 0};
    ws_log_add(&e2, "binary ");
    ws_log_bytes(&e2, pay, n);
    ws_log_add(&e2, "\npending 0\n");
    ws_check_splits(m, at, true, 0, e2.s);
    free(e2.s);
    free(m);
    free(in);
}

void test_rfc_256_binary(void)
{
    static const uint8_t hdr[] = {0x82, 0x7e, 0x01, 0x00};
    big_binary(256, hdr, sizeof(hdr));
}

void test_rfc_64k_binary(void)
{
    static const uint8_t hdr[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    big_binary(65536, hdr, sizeof(hdr));
}

/* ---- Fragmentation and control frames (§5.4) ----------------------------- */

void test_control_between_fragments(void)
{
    for (int server = 0; server < 2; server++) {
        const uint8_t *k = server ? key : NULL;
        uint8_t in[256];
        size_t at = 0;
        ws_put_frame(in, &at, false, WM_WS_OP_TEXT, "Hel", 3, k);
        ws_put_frame(in, &at, true, WM_WS_OP_PING, "p1", 2, k);
        ws_put_frame(in, &at, false, WM_WS_OP_CONT, "", 0, k);
        ws_put_frame(in, &at, true, WM_WS_OP_PONG, "p2", 2, k);
        ws_put_frame(in, &at, true, WM_WS_OP_CONT, "lo", 2, k);
        ws_put_frame(in, &at, false, WM_WS_OP_BINARY, "\x00\x01", 2, k);
        ws_put_frame(in, &at, true, WM_WS_OP_CONT, "\xff", 1, k);
        ws_put_frame(in, &at, true, WM_WS_OP_BINARY, "", 0, k);
        ws_put_frame(in, &at, false, WM_WS_OP_TEXT, "", 0, k);
        ws_put_frame(in, &at, true, WM_WS_OP_CONT, "", 0, k);
        ws_put_frame(in, &at, true, WM_WS_OP_CLOSE,
                     "\x03\xe8"
                     "bye",
                     5, k);
        ws_check_splits(in, at, server, 0,
                        "ping p1\npong p2\ntext Hello\nbinary \\x00\\x01\\xff\nbinary \ntext \n"
                        "close 1000 bye\npending 0\n");
    }
}

/* ---- Errors --------------------------------------------------------------- */

void test_reader_errors(void)
{
    const char *e1002 = ws_err_line(WM_EPROTO, 1002);
    char proto[64];
    snprintf(proto, sizeof(proto), "%s", e1002);
    /* The header rules, through the reader. */
    CHECK(false, 0, proto, 0xc1, 0x00);
    CHECK(false, 0, proto, 0x83, 0x00);
    CHECK(false, 0, proto, 0x09, 0x00);
    CHECK(false, 0, proto, 0x89, 0x7e, 0x00, 0x7e);
    CHECK(false, 0, proto, 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0);
    CHECK(false, 0, proto, 0x82, 0x7e, 0x00, 0x01, 0x00);
    /* The length is refused before the mask key arrives, however the bytes
     * come (ev.need asks for the length field first). */
    CHECK(true, 0, proto, 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0);
    CHECK(false, 0, proto, 0x82, 0xfe, 0x00, 0x01);
    CHECK(false, 0, proto, 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1, 0x00);
    /* Roles (§5.1). */
    CHECK(true, 0, proto, 0x82, 0x00);
    CHECK(true, 0, proto, 0x89, 0x00);
    CHECK(false, 0, proto, 0x82, 0x80, 1, 2, 3, 4);
    CHECK(false, 0, proto, 0x8a, 0x80, 1, 2, 3, 4);
    /* Fragmentation order (§5.4). */
    CHECK(false, 0, proto, 0x80, 0x00);
    CHECK(false, 0, proto, 0x00, 0x01, 'a');
    CHECK(false, 0, proto, 0x01, 0x01, 'a', 0x01, 0x01, 'b');
    CHECK(false, 0, proto, 0x01, 0x01, 'a', 0x82, 0x01, 'b');
    CHECK(false, 0, "text ab\nerror 71 1002\n", 0x01, 0x01, 'a', 0x80, 0x01, 'b', 0x80, 0x00);
    /* Earlier events stay in the log before the error. */
    CHECK(false, 0, "text a\nerror 71 1002\n", 0x81, 0x01, 'a', 0xc1, 0x00);
    /* Text that is not UTF-8 (§8.1): 1007. */
    CHECK(false, 0, ws_err_line(WM_EPROTO, 1007), 0x81, 0x02, 0xc0, 0x80);
    CHECK(false, 0, ws_err_line(WM_EPROTO, 1007), 0x01, 0x01, 0xe2, 0x80, 0x01, 0x82);
    /* Binary is never checked. */
    CHECK(false, 0, "binary \\xc0\\x80\npending 0\n", 0x82, 0x02, 0xc0, 0x80);
}

void test_max_message(void)
{
    const char *big = "error 90 1009\n";
    ASSERT_STR_EQ(ws_err_line(WM_EMSGSIZE, 1009), big);
    /* Exactly the limit passes, one more fails, in one frame or several. */
    uint8_t in[64], pay[20];
    memset(pay, 'x', sizeof(pay));
    size_t at = 0;
    ws_put_frame(in, &at, true, WM_WS_OP_BINARY, pay, 16, NULL);
    ws_check_splits(in, at, false, 16, "binary xxxxxxxxxxxxxxxx\npending 0\n");
    at = 0;
    ws_put_frame(in, &at, true, WM_WS_OP_BINARY, pay, 17, NULL);
    ws_check_splits(in, at, false, 16, big);
    /* The header alone tells it: no need to wait for the payload. */
    ws_check_splits(in, 2, false, 16, big);
    at = 0;
    ws_put_frame(in, &at, false, WM_WS_OP_TEXT, pay, 10, NULL);
    ws_put_frame(in, &at, true, WM_WS_OP_PING, pay, 20, NULL); /* control: not counted */
    ws_put_frame(in, &at, true, WM_WS_OP_CONT, pay, 6, NULL);
    ws_check_splits(in, at, false, 16,
                    "ping xxxxxxxxxxxxxxxxxxxx\ntext xxxxxxxxxxxxxxxx\npending 0\n");
    at = 0;
    ws_put_frame(in, &at, false, WM_WS_OP_TEXT, pay, 10, NULL);
    ws_put_frame(in, &at, true, WM_WS_OP_CONT, pay, 7, NULL);
    ws_check_splits(in, at, false, 16, big);
    /* A huge 64-bit length is refused at once, never waited for. */
    CHECK(false, 0, big, 0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    CHECK(true, 0, big, 0x82, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 1, 2, 3, 4);
}

void test_close_payloads(void)
{
    char proto[64];
    snprintf(proto, sizeof(proto), "%s", ws_err_line(WM_EPROTO, 1002));
    CHECK(false, 0, "close 1005 \npending 0\n", 0x88, 0x00);
    CHECK(false, 0, proto, 0x88, 0x01, 0x03);
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                               1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const int bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                              1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t in[4] = {0x88, 0x02, (uint8_t)(good[i] >> 8), (uint8_t)good[i]};
        char expect[64];
        snprintf(expect, sizeof(expect), "close %d \npending 0\n", good[i]);
        ws_check_splits(in, sizeof(in), false, 0, expect);
        ASSERT(wm__ws_close_code_valid(good[i]));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[4] = {0x88, 0x02, (uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        ws_check_splits(in, sizeof(in), false, 0, proto);
        ASSERT(!wm__ws_close_code_valid(bad[i]));
    }
    /* The reason is UTF-8 (§5.5.1): a bad one is 1007. */
    CHECK(false, 0, "close 1000 \\xce\\xba\npending 0\n", 0x88, 0x04, 0x03, 0xe8, 0xce, 0xba);
    CHECK(false, 0, ws_err_line(WM_EPROTO, 1007), 0x88, 0x04, 0x03, 0xe8, 0xc0, 0x80);
    CHECK(false, 0, ws_err_line(WM_EPROTO, 1007), 0x88, 0x03, 0x03, 0xe8, 0xce);
    /* Masked, for a server: the §5.7 key on "\x03\xe8ok". */
    uint8_t in[16];
    size_t at = 0;
    ws_put_frame(in, &at, true, WM_WS_OP_CLOSE, "\x03\xe9ok", 4, key);
    ws_check_splits(in, at, true, 0, "close 1001 ok\npending 0\n");
}

void test_after_close(void)
{
    /* Whatever follows a close frame, even garbage, is consumed silently. */
    CHECK(false, 0, "close 1000 \npending 0\n", 0x88, 0x02, 0x03, 0xe8, 0xc1, 0xff, 0x00);
    wm__ws_reader_t r;
    wm__ws_reader_init(&r, false, 0);
    uint8_t in[] = {0x88, 0x00, 0xc1, 0x00};
    wm__ws_event_t ev;
    ASSERT_EQ(wm__ws_reader_feed(&r, in, sizeof(in), &ev), 2);
    ASSERT_EQ(ev.type, WM_WS_EV_CLOSE);
    ASSERT(r.closed);
    ASSERT_EQ(wm__ws_reader_feed(&r, in + 2, 2, &ev), 2);
    ASSERT_EQ(ev.type, WM_WS_EV_NONE);
    ASSERT_EQ(wm__ws_reader_feed(&r, in, 0, &ev), 0);
    wm__ws_reader_free(&r);
}

void test_assembly_buffer_released(void)
{
    /* A fragmented message gathers in the reader's buffer, which is handed
     * out, kept while small, and freed once it grew past
     * WM_WS_KEEP_BUFFER and the next call shows the caller is done. */
    size_t n = WM_WS_KEEP_BUFFER + 1000;
    uint8_t *in = malloc(2 * (n / 2 + 14) + 16), *pay = malloc(n);
    ASSERT(in && pay);
    memset(pay, 'z', n);
    size_t at = 0;
    ws_put_frame(in, &at, false, WM_WS_OP_BINARY, pay, n / 2, NULL);
    ws_put_frame(in, &at, true, WM_WS_OP_CONT, pay, n - n / 2, NULL);
    size_t end1 = at;
    ws_put_frame(in, &at, true, WM_WS_OP_PING, "", 0, NULL);
    wm__ws_reader_t r;
    wm__ws_reader_init(&r, false, 0);
    wm__ws_event_t ev;
    size_t done = 0;
    ssize_t rc = wm__ws_reader_feed(&r, in, at, &ev);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(ev.type, WM_WS_EV_NONE);
    done += (size_t)rc;
    rc = wm__ws_reader_feed(&r, in + done, at - done, &ev);
    ASSERT_EQ(done + (size_t)rc, end1);
    done += (size_t)rc;
    ASSERT_EQ(ev.type, WM_WS_EV_MESSAGE);
    ASSERT_EQ(ev.len, n);
    ASSERT(ev.data == r.buf);
    ASSERT_MEM_EQ(ev.data, pay, n);
    ASSERT_LE(r.cap, r.max_message);
    rc = wm__ws_reader_feed(&r, in + done, at - done, &ev);
    ASSERT_EQ(ev.type, WM_WS_EV_PING);
    ASSERT(r.buf == NULL && r.cap == 0);
    wm__ws_reader_free(&r);
    free(in);
    free(pay);
}

/* ---- UTF-8 (§8.1; Markus Kuhn's UTF-8 decoder stress test) --------------- */

typedef struct {
    const char *s;
    const char *what;
} utf8_case_t;

static const utf8_case_t valid[] = {
    {"", "empty"},
    {"Hello-\x7f", "ASCII"},
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "kosme"},
    {"\xc2\x80", "U+0080"},
    {"\xdf\xbf", "U+07FF"},
    {"\xe0\xa0\x80", "U+0800"},
    {"\xed\x9f\xbf", "U+D7FF"},
    {"\xee\x80\x80", "U+E000"},
    {"\xef\xbf\xbd", "U+FFFD"},
    {"\xef\xbf\xbf", "U+FFFF"},
    {"\xf0\x90\x80\x80", "U+10000"},
    {"\xf4\x8f\xbf\xbf", "U+10FFFF"},
    {"a\xe2\x82\xac\xf0\x9d\x84\x9e long ASCII run after it ...", "mixed"},
};

static const utf8_case_t invalid[] = {
    {"\x80", "lone continuation"},
    {"\xbf", "lone continuation BF"},
    {"\xc0\xaf", "overlong / (2)"},
    {"\xe0\x80\xaf", "overlong / (3)"},
    {"\xf0\x80\x80\xaf", "overlong / (4)"},
    {"\xc1\xbf", "max overlong (2)"},
    {"\xe0\x9f\xbf", "max overlong (3)"},
    {"\xf0\x8f\xbf\xbf", "max overlong (4)"},
    {"\xc0\x80", "overlong NUL"},
    {"\xed\xa0\x80", "surrogate D800"},
    {"\xed\xbf\xbf", "surrogate DFFF"},
    {"\xed\xa1\x8c\xed\xbe\xb4", "surrogate pair"},
    {"\xf4\x90\x80\x80", "U+110000"},
    {"\xf5\x80\x80\x80", "F5"},
    {"\xf7\xbf\xbf\xbf", "U+1FFFFF"},
    {"\xf8\x88\x80\x80\x80", "5 bytes"},
    {"\xfc\x84\x80\x80\x80\x80", "6 bytes"},
    {"\xfe", "FE"},
    {"\xff", "FF"},
    {"\xc2\x20", "start then space"},
    {"\xe2\x82", "truncated (3)"},
    {"\xf0\x90\x80", "truncated (4)"},
    {"\xce", "truncated (2)"},
    {"abcdefgh\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", "late surrogate"},
};

void test_utf8_valid(void)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        size_t n = strlen(valid[i].s);
        uint32_t st = 0;
        if (!wm__ws_utf8_check(&st, (const uint8_t *)valid[i].s, n) || st != 0)
            WM_TEST_FAIL("%s: refused", valid[i].what);
        uint8_t in[128];
        size_t at = 0;
        ws_put_frame(in, &at, true, WM_WS_OP_TEXT, valid[i].s, n, key);
        ws_log_t e = {NULL, 0, 0};
        ws_log_add(&e, "text ");
        ws_log_bytes(&e, (const uint8_t *)valid[i].s, n);
        ws_log_add(&e, "\npending 0\n");
        ws_check_splits(in, at, true, 0, e.s);
        free(e.s);
    }
}

void test_utf8_invalid(void)
{
    const char *bad = ws_err_line(WM_EPROTO, 1007);
    char expect[64];
    snprintf(expect, sizeof(expect), "%s", bad);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        size_t n = strlen(invalid[i].s);
        uint32_t st = 0;
        if (wm__ws_utf8_check(&st, (const uint8_t *)invalid[i].s, n) && st == 0)
            WM_TEST_FAIL("%s: accepted", invalid[i].what);
        uint8_t in[128];
        size_t at = 0;
        ws_put_frame(in, &at, true, WM_WS_OP_TEXT, invalid[i].s, n, NULL);
        ws_check_splits(in, at, false, 0, expect);
    }
}

/* A text message cut into two or three fragments at every pair of points:
 * characters split across fragments are valid, bad ones fail whatever the
 * cut (including an incomplete character at the very end). */
static void fragments(const char *s, bool ok)
{
    size_t n = strlen(s);
    ws_log_t e = {NULL, 0, 0};
    if (ok) {
        ws_log_add(&e, "text ");
        ws_log_bytes(&e, (const uint8_t *)s, n);
        ws_log_add(&e, "\npending 0\n");
    } else {
        ws_log_add(&e, "%s", ws_err_line(WM_EPROTO, 1007));
    }
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            uint8_t in[256];
            size_t at = 0;
            ws_put_frame(in, &at, false, WM_WS_OP_TEXT, s, i, key);
            ws_put_frame(in, &at, false, WM_WS_OP_CONT, s + i, j - i, key);
            ws_put_frame(in, &at, true, WM_WS_OP_CONT, s + j, n - j, key);
            char *got = ws_drv_run(in, at, true, 0, false, NULL, NULL);
            if (strcmp(got, e.s) != 0)
                WM_TEST_FAIL("cut at %zu, %zu: \"%s\" vs \"%s\"", i, j, got, e.s);
            free(got);
            if (j == i + 1) /* a sample of the streams, split at every byte too */
                ws_check_splits(in, at, true, 0, e.s);
        }
    }
    free(e.s);
}

void test_utf8_fragment_splits(void)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        fragments(valid[i].s, true);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        fragments(invalid[i].s, false);
}
