/* SPDX-License-Identifier: MIT */
/* Unit cases for the handshake codec (libwm/src/ws_handshake.h): the RFC's
 * accept key example, key checks, token lists, and the client's answer
 * parser on good and bad heads, each split at every byte. */
#include "ws_util.h"
#include "ws_cases.h"
#include "ws_handshake.h"

void test_unit_accept_key(void)
{
    char out[WM_WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    wm__ws_accept_key(key, strlen(key), out);
    ASSERT_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT(wm__ws_key_valid(key, strlen(key)));
    ASSERT(!wm__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    ASSERT(!wm__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24));
    ASSERT(!wm__ws_key_valid("dGhlIHNhbXBsZSBub25j*Q==", 24));
    char k1[WM_WS_KEY_LEN + 1], k2[WM_WS_KEY_LEN + 1];
    ASSERT_EQ(wm__ws_make_key(k1), WM_OK);
    ASSERT_EQ(wm__ws_make_key(k2), WM_OK);
    ASSERT(wm__ws_key_valid(k1, strlen(k1)));
    ASSERT(strcmp(k1, k2) != 0);
}

void test_unit_tokens(void)
{
    const char *v = "keep-alive, Upgrade";
    ASSERT(wm__ws_has_token(v, strlen(v), "upgrade"));
    ASSERT(wm__ws_has_token(v, strlen(v), "KEEP-ALIVE"));
    ASSERT(!wm__ws_has_token(v, strlen(v), "upgrad"));
    const char *w = " ,websocket ,\t";
    ASSERT(wm__ws_has_token(w, strlen(w), "websocket"));
    ASSERT(!wm__ws_has_token("", 0, "websocket"));
    ASSERT(!wm__ws_has_token("websockets", 10, "websocket"));
}

/* Parses `head` whole, then every prefix: each must be WM_EAGAIN or the
 * whole head's result (the parser keeps no state). */
static ssize_t parse_split(const char *head, wm__ws_response_t *resp, const char **why)
{
    static wm__http_header_t hdrs[8];
    size_t len = strlen(head);
    resp->headers = hdrs;
    ssize_t whole = wm__ws_parse_response(head, len, 8, resp, why);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut + 1); /* exactly cut bytes: ASan sees any overread */
        memcpy(copy, head, cut);
        wm__ws_response_t r2;
        r2.headers = malloc(8 * sizeof *r2.headers);
        const char *why2;
        ssize_t part = wm__ws_parse_response(copy, cut, 8, &r2, &why2);
        if (part != WM_EAGAIN && part != whole)
            WM_TEST_FAIL("prefix %zu of %s gave %zd, the whole %zd", cut, head, part, whole);
        free(r2.headers);
        free(copy);
    }
    return whole;
}

void test_unit_response(void)
{
    wm__ws_response_t r;
    const char *why;
    const char *ok =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection:Upgrade\r\nSec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n"
        "\r\nFRAMES";
    ASSERT_EQ(parse_split(ok, &r, &why), (long long)(strlen(ok) - 6));
    ASSERT_EQ(r.status, 101);
    ASSERT_EQ(r.nheaders, 3);
    const wm__http_span_t *acc = wm__ws_response_header(&r, "SEC-websocket-accept");
    ASSERT(acc && acc->len == 28 && memcmp(acc->p, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28) == 0);
    ASSERT(wm__ws_response_header(&r, "connection")->len == 7);
    ASSERT(wm__ws_response_header(&r, "origin") == NULL);

    const char *lf = "HTTP/1.0 403 Forbidden\nX-A: 1\n\n";
    ASSERT_EQ(parse_split(lf, &r, &why), (long long)strlen(lf));
    ASSERT_EQ(r.status, 403);
    ASSERT_EQ(r.reason.len, 9);
    const char *no_reason = "HTTP/1.1 101\r\n\r\n";
    ASSERT_EQ(parse_split(no_reason, &r, &why), (long long)strlen(no_reason));
    ASSERT_EQ(r.reason.len, 0);

    static const char *const bad[] = {
        "HTTP/2 101 OK\r\n\r\n",
        "HTTP/1.1 1O1 OK\r\n\r\n",
        "HTTP/1.1 101OK\r\n\r\n",
        "HTTP/1.1 099 X\r\n\r\n",
        "HTTP/1.1 101 OK\r\n folded\r\n\r\n",
        "HTTP/1.1 101 OK\r\nNo colon\r\n\r\n",
        "HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 101 OK\r\n: empty\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
        "HTTP/1.1 101 O\x01K\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ssize_t rc = parse_split(bad[i], &r, &why);
        if (rc != WM_EPROTO)
            WM_TEST_FAIL("bad head %zu (%s) gave %zd", i, bad[i], rc);
        ASSERT(why != NULL);
    }
    /* Too many fields, then too large a head. */
    char many[1024] = "HTTP/1.1 101 OK\r\n";
    for (int i = 0; i < 9; i++)
        strcat(many, "X: y\r\n");
    strcat(many, "\r\n");
    ASSERT_EQ(parse_split(many, &r, &why), WM_EMSGSIZE);
    char *huge = malloc(WM_WS_MAX_RESPONSE_HEAD + 64);
    strcpy(huge, "HTTP/1.1 101 OK\r\nX: ");
    memset(huge + strlen(huge), 'a', WM_WS_MAX_RESPONSE_HEAD);
    wm__http_header_t hdrs[8];
    r.headers = hdrs;
    ASSERT_EQ(wm__ws_parse_response(huge, WM_WS_MAX_RESPONSE_HEAD + 20, 8, &r, &why), WM_EMSGSIZE);
    ASSERT_EQ(wm__ws_parse_response(huge, WM_WS_MAX_RESPONSE_HEAD - 1, 8, &r, &why), WM_EAGAIN);
    free(huge);
}
