/* SPDX-License-Identifier: MIT */
/* Chunked body decoder tests (RFC 9112 §7.1): sizes, extensions, trailers,
 * the errors and their statuses, and the same body whatever the split. */
#include "wm_test.h"
#include "http_tests.h"

/* What one run of the decoder over an input gave. */
typedef struct ck_result {
    char data[4096];
    size_t data_len;
    size_t consumed;
    bool done;
    int status; /* 0, or the error status */
    ssize_t err;
} ck_result_t;

/* Feeds in[0, len) in pieces of `piece` bytes (0: all at once), each piece
 * (with what the decoder left unconsumed) in an exact-size copy, the way a
 * server hands over what it has. */
static void ck_run(const char *in, size_t len, uint64_t max_body, size_t piece, ck_result_t *res)
{
    wm__http_chunked_t d;
    wm__http_chunked_init(&d, max_body);
    memset(res, 0, sizeof(*res));
    size_t have = 0;
    while (have < len && !res->done && !res->status) {
        have += piece && piece < len - have ? piece : len - have;
        for (;;) {
            size_t avail = have - res->consumed;
            char *copy = malloc(avail ? avail : 1);
            ASSERT(copy != NULL);
            memcpy(copy, in + res->consumed, avail);
            const char *data, *why;
            size_t dlen;
            int status = 0;
            ssize_t n =
                wm__http_chunked_feed(&d, copy, avail, &data, &dlen, &res->done, &status, &why);
            if (n < 0) {
                ASSERT(why != NULL);
                res->status = status;
                res->err = n;
                free(copy);
                break;
            }
            ASSERT_LE(n, avail);
            ASSERT(data >= copy && dlen <= (size_t)n && data + dlen <= copy + n);
            ASSERT_LE(res->data_len + dlen, sizeof(res->data));
            memcpy(res->data + res->data_len, data, dlen);
            res->data_len += dlen;
            res->consumed += (size_t)n;
            free(copy);
            if (n == 0 || res->done)
                break;
        }
    }
}

static void ck_expect(const char *in, size_t len, uint64_t max_body, const char *body,
                      size_t consumed, int status)
{
    ck_result_t res;
    ck_run(in, len, max_body, 0, &res);
    if (res.status != status)
        WM_TEST_FAIL("\"%.*s\": status %d, want %d", (int)len, in, res.status, status);
    if (status == 0) {
        if (!res.done)
            WM_TEST_FAIL("\"%.*s\": not done", (int)len, in);
        ASSERT_EQ(res.consumed, consumed);
        ASSERT_EQ(res.data_len, strlen(body));
        ASSERT_MEM_EQ(res.data, body, res.data_len);
    } else {
        ASSERT_EQ(res.err, status == 400 ? WM_EPROTO : WM_EMSGSIZE);
    }
}
#define CK_OK(s, body) ck_expect((s), sizeof(s) - 1, UINT64_MAX, (body), sizeof(s) - 1, 0)
#define CK_ERR(s, status) ck_expect((s), sizeof(s) - 1, UINT64_MAX, "", 0, (status))

void test_chunked_basic(void)
{
    /* It stops right at the end: the next request is not eaten. */
    const char *s = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    ck_expect(s, strlen(s), UINT64_MAX, "hello, world", strlen(s) - 16, 0);
    CK_OK("0\r\n\r\n", "");
    CK_OK("000\r\n\r\n", "");
    CK_OK("1\r\n\xff\r\n0\r\n\r\n", "\xff");

    /* Data comes out in place, one piece per call. */
    wm__http_chunked_t d;
    wm__http_chunked_init(&d, 100);
    const char *buf = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    const char *data, *why;
    size_t dlen;
    bool done;
    int status;
    ssize_t n = wm__http_chunked_feed(&d, buf, strlen(buf), &data, &dlen, &done, &status, &why);
    ASSERT_EQ(n, 6);
    ASSERT(data == buf + 3 && dlen == 3 && !done);
    n = wm__http_chunked_feed(&d, buf + 6, strlen(buf) - 6, &data, &dlen, &done, &status, &why);
    ASSERT_EQ(n, 7);
    ASSERT(data == buf + 11 && dlen == 2 && !done);
    n = wm__http_chunked_feed(&d, buf + 13, strlen(buf) - 13, &data, &dlen, &done, &status, &why);
    ASSERT_EQ(n, strlen(buf) - 13);
    ASSERT(dlen == 0 && done);
    /* Done: nothing more is consumed. */
    n = wm__http_chunked_feed(&d, "x", 1, &data, &dlen, &done, &status, &why);
    ASSERT(n == 0 && done && dlen == 0);
}

void test_chunked_hex_digits(void)
{
    CK_OK("a\r\n0123456789\r\n0\r\n\r\n", "0123456789");
    CK_OK("A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
    CK_OK("0000b\r\n0123456789x\r\n0\r\n\r\n", "0123456789x");
    CK_OK("1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n", "0123456789012345678901234567890");
    CK_OK("1F\r\n0123456789012345678901234567890\r\n0\r\n\r\n", "0123456789012345678901234567890");
}

void test_chunked_extensions(void)
{
    CK_OK("5;name=value;x=\"q;\\\"\"\r\nhello\r\n0;last\r\n\r\n", "hello");
    CK_OK("5 ;a\r\nhello\r\n0\t; b = c\r\n\r\n", "hello");
    CK_ERR("5 \r\nhello\r\n0\r\n\r\n", 400);     /* whitespace with no extension */
    CK_ERR("5;a\nb\r\nhello\r\n0\r\n\r\n", 400); /* a lone LF inside */
    CK_ERR("5;a\rb\r\nhello\r\n0\r\n\r\n", 400); /* a lone CR inside */
    CK_ERR("5;a\x01\r\nhello\r\n0\r\n\r\n", 400);
    /* The whole size line is bounded. */
    char line[WM_HTTP_CHUNK_LINE_MAX + 64];
    size_t n = (size_t)snprintf(line, sizeof line, "1;");
    while (n < WM_HTTP_CHUNK_LINE_MAX - 2)
        line[n++] = 'x';
    memcpy(line + n, "\r\na\r\n0\r\n\r\n", 11);
    ck_expect(line, n + 10, UINT64_MAX, "a", n + 10, 0);
    line[n++] = 'x';
    memcpy(line + n, "\r\na\r\n0\r\n\r\n", 11);
    ck_expect(line, n + 10, UINT64_MAX, "", 0, 400);
    /* So are leading zeros. */
    memset(line, '0', WM_HTTP_CHUNK_LINE_MAX + 1);
    ck_expect(line, WM_HTTP_CHUNK_LINE_MAX + 1, UINT64_MAX, "", 0, 400);
}

void test_chunked_trailers(void)
{
    CK_OK("3\r\nabc\r\n0\r\nX-Sum: 1\r\nY:\r\nZ: a\tb \r\n\r\n", "abc");
    CK_ERR("0\r\nX: 1\r\n folded\r\n\r\n", 400);
    CK_ERR("0\r\nNoColon\r\n\r\n", 400);
    CK_ERR("0\r\nX : 1\r\n\r\n", 400);
    CK_ERR("0\r\nX: \x01\r\n\r\n", 400);
    CK_ERR("0\r\nX: 1\n\r\n", 400);
    CK_ERR("0\r\nX: 1\r\n\n", 400);
    CK_ERR("0\r\n\n", 400);
    /* The trailer section is bounded. */
    static char big[WM_HTTP_TRAILER_MAX + 64];
    size_t n = (size_t)snprintf(big, sizeof big, "0\r\nX: ");
    while (n < WM_HTTP_TRAILER_MAX + 8)
        big[n++] = 'v';
    memcpy(big + n, "\r\n\r\n", 4);
    ck_expect(big, n + 4, UINT64_MAX, "", 0, 431);
}

void test_chunked_errors(void)
{
    CK_ERR("g\r\n", 400);
    CK_ERR("\r\n", 400); /* no size */
    CK_ERR(";x\r\n", 400);
    CK_ERR("-5\r\nhello\r\n0\r\n\r\n", 400);
    CK_ERR("0x5\r\nhello\r\n0\r\n\r\n", 400);
    CK_ERR("+5\r\nhello\r\n0\r\n\r\n", 400);
    CK_ERR("5\nhello\r\n0\r\n\r\n", 400); /* LF alone ends no chunk line */
    CK_ERR("5\r\rhello\r\n0\r\n\r\n", 400);
    CK_ERR("5\r\nhelloX\r\n0\r\n\r\n", 400); /* data longer than its size */
    CK_ERR("5\r\nhello\n0\r\n\r\n", 400);
    CK_ERR("5\r\nhello\r\r0\r\n\r\n", 400);
    CK_ERR("0\r\n\r\r", 400);
    CK_ERR("10000000000000000\r\n", 400); /* 2^64: over 64 bits */
    CK_ERR("fffffffffffffffff\r\n", 400);
    /* 2^64 - 1 fits in 64 bits: over any max_body, so 413. */
    ck_expect("ffffffffffffffff\r\n", 18, UINT64_MAX - 1, "", 0, 413);
    ck_expect("0000000000000000000ffffffffffffffff\r\n", 37, 1u << 20, "", 0, 413);
}

void test_chunked_max_body(void)
{
    const char *s = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
    ck_expect(s, strlen(s), 10, "helloworld", strlen(s), 0);
    ck_expect(s, strlen(s), 9, "", 0, 413);
    /* Refused at the size line: none of the second chunk is handed out. */
    ck_result_t res;
    ck_run(s, strlen(s), 9, 0, &res);
    ASSERT_EQ(res.data_len, 5);
    ASSERT_EQ(res.err, WM_EMSGSIZE);
    ck_expect("0\r\n\r\n", 5, 0, "", 5, 0);
    ck_expect("1\r\nx\r\n0\r\n\r\n", 11, 0, "", 0, 413);
}

void test_chunked_sticky_error(void)
{
    wm__http_chunked_t d;
    wm__http_chunked_init(&d, 100);
    const char *data, *why = NULL;
    size_t dlen = 7;
    bool done = true;
    int status = 0;
    ASSERT_EQ(wm__http_chunked_feed(&d, "z", 1, &data, &dlen, &done, &status, &why), WM_EPROTO);
    ASSERT_EQ(status, 400);
    ASSERT(why != NULL && dlen == 0 && !done);
    status = 0;
    why = NULL;
    ASSERT_EQ(wm__http_chunked_feed(&d, "0\r\n\r\n", 5, &data, &dlen, &done, &status, &why),
              WM_EPROTO);
    ASSERT_EQ(status, 400);
    ASSERT(why != NULL);
    ASSERT_EQ(wm__http_chunked_feed(&d, "", 0, &data, &dlen, &done, &status, &why), WM_EPROTO);
}

/* Any split gives the same body, the same end, the same error. */
void test_chunked_split_every_byte(void)
{
    static const char *inputs[] = {
        "5\r\nhello\r\n1a;ext=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: 1\r\n\r\nNEXT",
        "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
        "3\r\nabc\r\n3\r\ndefX\r\n0\r\n\r\n",
        "3\r\nabc\r\n0\r\nT: 1\r\n folded\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t len = strlen(inputs[i]);
        ck_result_t whole, part;
        ck_run(inputs[i], len, 1000, 0, &whole);
        ASSERT(whole.done || whole.status);
        for (size_t piece = 1; piece <= len; piece++) {
            ck_run(inputs[i], len, 1000, piece, &part);
            /* After an error, how much was consumed depends on the calls:
             * the bytes are never used. */
            if (part.done != whole.done || part.status != whole.status ||
                (!whole.status && part.consumed != whole.consumed) ||
                part.data_len != whole.data_len ||
                memcmp(part.data, whole.data, whole.data_len) != 0)
                WM_TEST_FAIL("input %zu in pieces of %zu differs", i, piece);
        }
    }
}

void test_chunked_guard_page(void)
{
    const char *s = "5;e=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: 1\r\n\r\n";
    size_t n = strlen(s), ps;
    char *page = http_guard_page(&ps);
    for (size_t k = 0; k <= n; k++) {
        /* The first k bytes, ending at the protected page, fed to the end. */
        char *at = page + ps - k;
        memcpy(at, s, k);
        wm__http_chunked_t d;
        wm__http_chunked_init(&d, 1000);
        size_t off = 0;
        for (;;) {
            const char *data, *why;
            size_t dlen;
            bool done;
            int status;
            ssize_t r =
                wm__http_chunked_feed(&d, at + off, k - off, &data, &dlen, &done, &status, &why);
            ASSERT_GE(r, 0);
            off += (size_t)r;
            if (r == 0 || done)
                break;
        }
        ASSERT_EQ(off, k);
    }
    http_guard_page_free(page, ps);
}
