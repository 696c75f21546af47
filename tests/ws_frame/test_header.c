/* SPDX-License-Identifier: MIT */
/* The frame header parser on its own (RFC 6455 §5.2): the fields of each
 * length encoding, how many bytes a short header asks for, and every rule
 * it enforces without context, each with close code 1002. */
#include "ws_tests.h"

static ssize_t parse(const uint8_t *b, size_t n, wm__ws_frame_t *f, int *code)
{
    const char *why = NULL;
    *code = 0;
    ssize_t rc = wm__ws_parse_header(b, n, f, code, &why);
    if (rc < 0 && rc != WM_EAGAIN)
        ASSERT(why != NULL);
    return rc;
}

void test_header_fields(void)
{
    wm__ws_frame_t f;
    int code;
    static const uint8_t a[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d};
    ASSERT_EQ(parse(a, sizeof(a), &f, &code), 6);
    ASSERT(f.fin && f.masked);
    ASSERT_EQ(f.opcode, WM_WS_OP_TEXT);
    ASSERT_EQ(f.len, 5);
    ASSERT_MEM_EQ(f.mask, a + 2, 4);
    static const uint8_t b[] = {0x02, 0x7e, 0x01, 0x00};
    ASSERT_EQ(parse(b, sizeof(b), &f, &code), 4);
    ASSERT(!f.fin && !f.masked);
    ASSERT_EQ(f.opcode, WM_WS_OP_BINARY);
    ASSERT_EQ(f.len, 256);
    static const uint8_t c[] = {0x80, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 1,    2,    3,    4};
    ASSERT_EQ(parse(c, sizeof(c), &f, &code), 14);
    ASSERT_EQ(f.opcode, WM_WS_OP_CONT);
    ASSERT(f.len == 0x7fffffffffffffffu);
    static const uint8_t d[] = {0x8a, 0x7d};
    ASSERT_EQ(parse(d, sizeof(d), &f, &code), 2);
    ASSERT_EQ(f.opcode, WM_WS_OP_PONG);
    ASSERT_EQ(f.len, 125);
    /* Bytes after the header are not read as part of it. */
    static const uint8_t e[] = {0x88, 0x00, 0xff, 0xff};
    ASSERT_EQ(parse(e, sizeof(e), &f, &code), 2);
    ASSERT_EQ(f.len, 0);
}

void test_header_need(void)
{
    static const struct {
        uint8_t b[14];
        size_t len;
    } cases[] = {
        {{0x81, 0x05}, 2},
        {{0x81, 0x85, 1, 2, 3, 4}, 6},
        {{0x82, 0x7e, 0x00, 0x80}, 4},
        {{0x82, 0xfe, 0x00, 0x80, 1, 2, 3, 4}, 8},
        {{0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}, 10},
        {{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, 14},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t k = 0; k < cases[i].len; k++) {
            wm__ws_frame_t f;
            int code;
            ASSERT_EQ(parse(cases[i].b, k, &f, &code), WM_EAGAIN);
            /* 2 bytes first, then the extended length, then the key. */
            unsigned len7 = cases[i].b[1] & 0x7f;
            size_t ext = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
            ASSERT_EQ(f.header_len, k < 2 ? 2 : k < ext ? ext : cases[i].len);
        }
        wm__ws_frame_t f;
        int code;
        ASSERT_EQ(parse(cases[i].b, cases[i].len, &f, &code), (ssize_t)cases[i].len);
    }
}

void test_header_errors(void)
{
    static const struct {
        uint8_t b[10];
        size_t len; /* the bytes that show the error */
        const char *what;
    } cases[] = {
        {{0xc1, 0x00}, 2, "RSV1"},
        {{0xa1, 0x00}, 2, "RSV2"},
        {{0x91, 0x00}, 2, "RSV3"},
        {{0x83, 0x00}, 2, "opcode 3"},
        {{0x87, 0x00}, 2, "opcode 7"},
        {{0x8b, 0x00}, 2, "opcode B"},
        {{0x8f, 0x00}, 2, "opcode F"},
        {{0x09, 0x00}, 2, "fragmented ping"},
        {{0x08, 0x00}, 2, "fragmented close"},
        {{0x0a, 0x00}, 2, "fragmented pong"},
        {{0x89, 0x7e}, 2, "ping of 126+"},
        {{0x88, 0xff}, 2, "close with a 64-bit length"},
        {{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, "64-bit top bit"},
        {{0x82, 0x7e, 0x00, 0x7d}, 4, "16-bit length 125"},
        {{0x82, 0xfe, 0x00, 0x00}, 4, "16-bit length 0, masked"},
        {{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10, "64-bit length 65535"},
        {{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x05}, 10, "64-bit length 5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wm__ws_frame_t f;
        int code;
        for (size_t k = 0; k < cases[i].len; k++)
            if (parse(cases[i].b, k, &f, &code) != WM_EAGAIN)
                WM_TEST_FAIL("%s: not EAGAIN at %zu bytes", cases[i].what, k);
        /* With the deciding bytes, and with a whole header's worth more. */
        for (size_t n = cases[i].len; n <= 10; n++) {
            ssize_t rc = parse(cases[i].b, n, &f, &code);
            if (rc != WM_EPROTO || code != WM_WS_CLOSE_PROTOCOL)
                WM_TEST_FAIL("%s: %zd, code %d", cases[i].what, rc, code);
        }
    }
}
