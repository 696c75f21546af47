/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the WebSocket client's answer-head parser
 * (libwm/src/ws_handshake.h): the input is parsed whole, then every prefix
 * of it (in exact-size copies, so ASan sees any overread) must give
 * WM_EAGAIN or the whole input's result; a head's spans must lie inside the
 * buffer, the status in 100..999, the length within the input and the
 * limit, and an error must come with a reason. The header lookup and the
 * token scan run over every field found. */
#include "fuzz_codec.h"

#include "../../libwm/src/ws_handshake.h"

#define MAX_HDRS 16

static bool inside(const char *buf, size_t len, wm__http_span_t s)
{
    return s.p >= buf && s.p + s.len <= buf + len;
}

static ssize_t parse(const char *buf, size_t len, wm__ws_response_t *r, wm__http_header_t *h)
{
    const char *why = NULL;
    r->headers = h;
    ssize_t rc = wm__ws_parse_response(buf, len, MAX_HDRS, r, &why);
    WM_FUZZ_CHECK(rc == WM_EAGAIN || rc == WM_EPROTO || rc == WM_EMSGSIZE || rc > 0);
    WM_FUZZ_CHECK(rc >= 0 || rc == WM_EAGAIN || why != NULL);
    if (rc > 0) {
        WM_FUZZ_CHECK((size_t)rc <= len && rc <= WM_WS_MAX_RESPONSE_HEAD);
        WM_FUZZ_CHECK(r->status >= 100 && r->status <= 999);
        WM_FUZZ_CHECK(r->nheaders <= MAX_HDRS && inside(buf, (size_t)rc, r->reason));
        for (size_t i = 0; i < r->nheaders; i++) {
            WM_FUZZ_CHECK(inside(buf, (size_t)rc, h[i].name) && h[i].name.len > 0);
            WM_FUZZ_CHECK(inside(buf, (size_t)rc, h[i].value));
            (void)wm__ws_has_token(h[i].value.p, h[i].value.len, "upgrade");
        }
        (void)wm__ws_response_header(r, "sec-websocket-accept");
    }
    return rc;
}

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm__http_header_t h[MAX_HDRS];
    wm__ws_response_t r;
    char *whole_buf = malloc(size ? size : 1);
    memcpy(whole_buf, data, size);
    ssize_t whole = parse(whole_buf, size, &r, h);
    /* Every prefix up to the head's end (or all of a short input). */
    size_t upto = whole > 0 ? (size_t)whole : size;
    for (size_t cut = 0; cut < upto && cut < 2048; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, data, cut);
        ssize_t part = parse(p, cut, &r, h);
        WM_FUZZ_CHECK(part == WM_EAGAIN || part == whole);
        free(p);
    }
    free(whole_buf);
    return 0;
}
