/* SPDX-License-Identifier: MIT */
/* Our WebSocket server (an in-process worker on websocket://127.0.0.1:0)
 * against a raw client — so the bytes on the wire are what is checked — and
 * against our own client (ws://…): messages both ways, fragmentation,
 * control frames, every close path, the handshake hook, bad handshakes and
 * their HTTP errors, the handshake timeout, protocol errors with their
 * close codes, the heartbeat, the client's ping interval and reconnect,
 * and wss with a CA made at test time (WM_TLS_DIR, see ws_test.sh). */
#include <stdio.h>
#include <stdlib.h>

#include "ws_util.h"
#include "ws_cases.h"

/* ---- The server under test --------------------------------------------------- */

typedef struct srv_log {
    int opened, closed, messages, handshakes, pings;
    int close_code;
    char close_reason[128];
    char protocol[64];
    char token[64];
    char path[64];
    int errors, last_error;
} srv_log_t;

static srv_log_t S;

static int on_handshake(wm_conn_t *c, const wm_http_request_t *req, wm_ws_handshake_t *hs, void *ud)
{
    S.handshakes++;
    snprintf(S.path, sizeof S.path, "%s?%s", wm_http_request_path(req), wm_http_request_query(req));
    ASSERT_EQ(wm_ws_handshake_header(hs, "Upgrade", "h2c"), WM_EINVAL);
    ASSERT_EQ(wm_ws_handshake_header(hs, "X-A", "1\r\nX-B: 2"), WM_EINVAL);
    ASSERT_EQ(wm_ws_handshake_select_protocol(hs, "not-offered"), WM_EINVAL);
    const char *origin = wm_http_request_header(req, "Origin");
    if (strcmp(wm_http_request_path(req), "/reject") == 0 ||
        (origin && strcmp(origin, "https://evil.example") == 0)) {
        ASSERT_EQ(wm_ws_handshake_header(hs, "X-Why", "not welcome"), WM_OK);
        return 403;
    }
    const char *token = wm_http_request_header(req, "X-Token");
    snprintf(S.token, sizeof S.token, "%s", token ? token : "");
    for (size_t i = 0; i < wm_ws_handshake_protocol_count(hs); i++)
        if (strcmp(wm_ws_handshake_protocol_at(hs, i), "chat") == 0)
            ASSERT_EQ(wm_ws_handshake_select_protocol(hs, "chat"), WM_OK);
    ASSERT_EQ(wm_ws_handshake_header(hs, "X-Hello", "1"), WM_OK);
    return 0;
}

static void srv_on_connect(wm_conn_t *c, void *ud)
{
    S.opened++;
    snprintf(S.protocol, sizeof S.protocol, "%s", wm_ws_protocol(c));
    ASSERT(wm_ws_is_open(c));
}

/* Echoes, keeping the type; "close:CODE:REASON" closes from our side. */
static void srv_on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    S.messages++;
    int code;
    char text[64] = "", reason[64] = "";
    if (msg->len < sizeof text)
        memcpy(text, msg->data, msg->len); /* msg->data is not NUL-terminated */
    if (sscanf(text, "close:%d:%63[^\n]", &code, reason) >= 1) {
        ASSERT_EQ(wm_ws_close(c, code, reason), WM_OK);
        ASSERT_EQ(wm_ws_close(c, code, reason), WM_ENOTCONN);
        ASSERT_EQ(wm_conn_send(c, "late", 4), WM_ENOTCONN);
        return;
    }
    int rc = wm_ws_msg_type(msg) == WM_WS_BINARY ? wm_ws_send_binary(c, msg->data, msg->len)
                                                 : wm_ws_send_text(c, msg->data, msg->len);
    ASSERT(rc == WM_SENT || rc == WM_QUEUED);
}

static void srv_on_close(wm_conn_t *c, void *ud)
{
    S.closed++;
    S.close_code = wm_ws_close_code(c);
    snprintf(S.close_reason, sizeof S.close_reason, "%s", wm_ws_close_reason(c));
}

static void srv_on_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    S.errors++;
    S.last_error = err;
}

static void srv_on_ping(wm_conn_t *c, const char *data, size_t len, void *ud)
{
    S.pings++;
    ASSERT_EQ(wm_ws_pong(c, "custom", 6), WM_SENT);
}

typedef struct srv_opts {
    size_t max_package;
    uint64_t handshake_timeout_ms, hb_idle_ms, hb_timeout_ms;
    bool ping_hook;
    const char *scheme;
} srv_opts_t;

static wm_worker_t *server_start(const srv_opts_t *o)
{
    memset(&S, 0, sizeof S);
    char url[64];
    snprintf(url, sizeof url, "%s://127.0.0.1:0", o && o->scheme ? o->scheme : "websocket");
    wm_worker_t *w = wm_worker_new(url);
    ASSERT(w != NULL);
    if (o && o->max_package)
        wm_worker_set_max_package(w, o->max_package);
    if (o && o->handshake_timeout_ms)
        wm_ws_worker_set_handshake_timeout(w, o->handshake_timeout_ms);
    if (o && o->hb_idle_ms)
        wm_ws_worker_set_heartbeat(w, o->hb_idle_ms, o->hb_timeout_ms);
    if (o && o->ping_hook)
        wm_ws_worker_on_ping(w, srv_on_ping, NULL);
    wm_ws_worker_on_handshake(w, on_handshake, NULL);
    wm_worker_on_connect(w, srv_on_connect, NULL);
    wm_worker_on_message(w, srv_on_message, NULL);
    wm_worker_on_close(w, srv_on_close, NULL);
    wm_worker_on_error(w, srv_on_error, NULL);
    if (o && o->scheme) {
        const char *d = getenv("WM_TLS_DIR");
        ASSERT(d != NULL);
        char cert[512], key[512];
        snprintf(cert, sizeof cert, "%s/server.crt", d);
        snprintf(key, sizeof key, "%s/server.key", d);
        ASSERT_EQ(wm_worker_set_tls(w, cert, key), WM_OK);
    }
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

static void finish(wm_worker_t *w)
{
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Our client ---------------------------------------------------------------- */

typedef struct cli {
    wm_conn_t *c;
    int connects, closes, errors, last_err, msgs, pongs;
    wm_ws_type_t last_type;
    char *last;
    size_t last_len;
    char err_reason[300];
    char pong[128];
    int close_code;
    char close_reason[128];
    int reconnects_left;
    bool open_at_close;
} cli_t;

static void cli_on_connect(wm_conn_t *c, void *ud)
{
    cli_t *k = ud;
    k->connects++;
    ASSERT(wm_ws_is_open(c));
    ASSERT_EQ(wm_ws_handshake_status(c), 101);
}

static void cli_on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    cli_t *k = ud;
    k->msgs++;
    k->last_type = wm_ws_msg_type(msg);
    free(k->last);
    k->last = malloc(msg->len + 1);
    memcpy(k->last, msg->data, msg->len);
    k->last[msg->len] = '\0';
    k->last_len = msg->len;
}

static void cli_on_close(wm_conn_t *c, void *ud)
{
    cli_t *k = ud;
    k->closes++;
    k->close_code = wm_ws_close_code(c);
    snprintf(k->close_reason, sizeof k->close_reason, "%s", wm_ws_close_reason(c));
    if (k->reconnects_left > 0) {
        k->reconnects_left--;
        ASSERT_EQ(wm_conn_reconnect(c, 20), WM_OK);
    } else {
        k->c = NULL;
    }
}

static void cli_on_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    cli_t *k = ud;
    k->errors++;
    k->last_err = err;
    snprintf(k->err_reason, sizeof k->err_reason, "%s", reason);
}

static void cli_on_pong(wm_conn_t *c, const char *data, size_t len, void *ud)
{
    cli_t *k = ud;
    k->pongs++;
    snprintf(k->pong, sizeof k->pong, "%.*s", (int)len, data);
}

static void cli_new(cli_t *k, const char *scheme, const wm_worker_t *w, const char *path)
{
    memset(k, 0, sizeof *k);
    char url[256];
    snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", scheme, wm_worker_port(w), path);
    k->c = wm_conn_new(url);
    ASSERT(k->c != NULL);
    wm_conn_on_connect(k->c, cli_on_connect, k);
    wm_conn_on_message(k->c, cli_on_message, k);
    wm_conn_on_close(k->c, cli_on_close, k);
    wm_conn_on_error(k->c, cli_on_error, k);
    ASSERT_EQ(wm_ws_on_pong(k->c, cli_on_pong, k), WM_OK);
}

typedef struct count_wait {
    const int *value;
    int want;
} count_wait_t;

static bool count_reached(void *arg)
{
    count_wait_t *w = arg;
    return *w->value >= w->want;
}

#define WAIT_COUNT(var, n, what)                                                                   \
    do {                                                                                           \
        count_wait_t cw_ = {&(var), (n)};                                                          \
        wt_run_until(count_reached, &cw_, 5000, what);                                             \
    } while (0)

static void cli_done(cli_t *k)
{
    free(k->last);
    k->last = NULL;
}

/* ---- Cases: our client ---------------------------------------------------------------- */

void test_echo_client(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/echo?room=1");
    /* Sent before connecting: queued, then sent right after the handshake. */
    ASSERT_EQ(wm_conn_send(k.c, "early", 5), WM_SENT);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.msgs, 1, "the early message's echo");
    ASSERT_EQ(k.connects, 1);
    ASSERT_STR_EQ(k.last, "early");
    ASSERT_EQ(k.last_type, WM_WS_TEXT);
    ASSERT_STR_EQ(S.path, "/echo?room=1");
    ASSERT_STR_EQ(wm_ws_protocol(k.c), "");
    /* Sizes around the 7/16/64-bit length boundaries, text and binary. */
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (int bin = 0; bin < 2; bin++) {
            char *data = malloc(sizes[i] + 1);
            for (size_t j = 0; j < sizes[i]; j++)
                data[j] = bin ? (char)(j * 7 + i) : (char)('a' + j % 26);
            int before = k.msgs;
            int rc =
                bin ? wm_ws_send_binary(k.c, data, sizes[i]) : wm_ws_send_text(k.c, data, sizes[i]);
            ASSERT(rc == WM_SENT || rc == WM_QUEUED);
            WAIT_COUNT(k.msgs, before + 1, "an echo");
            ASSERT_EQ(k.last_len, sizes[i]);
            ASSERT_MEM_EQ(k.last, data, sizes[i]);
            ASSERT_EQ(k.last_type, bin ? WM_WS_BINARY : WM_WS_TEXT);
            free(data);
        }
    }
    /* wm_conn_send follows the connection's type. */
    ASSERT_EQ(wm_ws_set_binary(k.c, true), WM_OK);
    ASSERT(wm_conn_send(k.c, "bin", 3) >= 0);
    WAIT_COUNT(k.msgs, 16, "the binary echo");
    ASSERT_EQ(k.last_type, WM_WS_BINARY);
    ASSERT_EQ(wm_ws_ping(k.c, "x", 126), WM_EINVAL);
    ASSERT_EQ(wm_ws_close(k.c, 1005, NULL), WM_EINVAL); /* reported, never sent */
    ASSERT_EQ(wm_ws_close(k.c, 1000, "\xff"), WM_EINVAL);
    /* Not a websocket connection: a neutral answer. */
    wm_conn_t *t = wm_conn_new("tcp://127.0.0.1:1");
    ASSERT_EQ(wm_ws_send_text(t, "x", 1), WM_EINVAL);
    ASSERT_EQ(wm_ws_close_code(t), 0);
    ASSERT(!wm_ws_is_open(t));
    wm_conn_destroy(t);
    wm_conn_destroy(k.c);
    cli_done(&k);
    finish(w);
}

void test_ping_pong(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    ASSERT_EQ(wm_ws_ping(k.c, "hello", 5), WM_SENT);
    WAIT_COUNT(k.pongs, 1, "the automatic pong");
    ASSERT_STR_EQ(k.pong, "hello");
    wm_conn_destroy(k.c);
    cli_done(&k);
    finish(w);
}

void test_on_ping_hook(void)
{
    srv_opts_t o = {.ping_hook = true};
    wm_worker_t *w = server_start(&o);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    ASSERT_EQ(wm_ws_ping(k.c, "hello", 5), WM_SENT);
    WAIT_COUNT(k.pongs, 1, "the hook's pong");
    ASSERT_EQ(S.pings, 1);
    ASSERT_STR_EQ(k.pong, "custom"); /* no automatic "hello" pong */
    wt_run_for(30);
    ASSERT_EQ(k.pongs, 1);
    wm_conn_destroy(k.c);
    cli_done(&k);
    finish(w);
}

void test_close_client_initiated(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    ASSERT_EQ(wm_ws_close(k.c, 4001, "bye now"), WM_OK);
    ASSERT(!wm_ws_is_open(k.c));
    WAIT_COUNT(k.closes, 1, "the client's close");
    WAIT_COUNT(S.closed, 1, "the server's close");
    ASSERT_EQ(S.close_code, 4001);
    ASSERT_STR_EQ(S.close_reason, "bye now");
    ASSERT_EQ(k.close_code, 4001); /* the server echoes the code */
    ASSERT_EQ(k.errors, 0);
    /* wm_conn_close on an open WebSocket: a 1000 close handshake. */
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the second handshake");
    ASSERT_EQ(wm_conn_close(k.c), WM_OK);
    WAIT_COUNT(S.closed, 2, "the server's second close");
    ASSERT_EQ(S.close_code, 1000);
    WAIT_COUNT(k.closes, 1, "the client's second close");
    ASSERT_EQ(k.close_code, 1000);
    cli_done(&k);
    finish(w);
}

void test_close_server_initiated(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    ASSERT(wm_conn_send(k.c, "close:4002:server says bye", 26) >= 0);
    WAIT_COUNT(k.closes, 1, "the client's close");
    ASSERT_EQ(k.close_code, 4002);
    ASSERT_STR_EQ(k.close_reason, "server says bye");
    WAIT_COUNT(S.closed, 1, "the server's close");
    ASSERT_EQ(S.close_code, 4002); /* our client echoed it */
    /* A raw client sees the frame, answers nothing: the server closes TCP
     * after its close timeout... which is too long for a test, so answer. */
    raw_t *r = raw_connect(wm_worker_port(w));
    raw_handshake(r, "/", NULL);
    static const char cmd[] = "close:1000:";
    raw_send_frame(r, true, 0x1, cmd, sizeof cmd - 1, true);
    raw_frame_t f;
    raw_read_frame(r, &f);
    ASSERT_EQ(raw_close_code(&f), 1000);
    raw_send_frame(r, true, 0x8, f.data, 2, true);
    raw_wait_eof(r);
    raw_free(r);
    cli_done(&k);
    finish(w);
}

void test_close_abrupt(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    wm_conn_destroy(k.c); /* TCP close, no close frame */
    WAIT_COUNT(S.closed, 1, "the server's close");
    ASSERT_EQ(S.close_code, 1006);
    ASSERT_STR_EQ(S.close_reason, "");
    ASSERT_EQ(S.errors, 0);
    cli_done(&k);
    finish(w);
}

void test_handshake_hook(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/room?id=7");
    ASSERT_EQ(wm_ws_set_origin(k.c, "https://good.example"), WM_OK);
    ASSERT_EQ(wm_ws_set_protocols(k.c, "v2.chat, chat"), WM_OK);
    ASSERT_EQ(wm_ws_add_header(k.c, "X-Token", "s3cret"), WM_OK);
    ASSERT_EQ(wm_ws_add_header(k.c, "Sec-WebSocket-Key", "x"), WM_EINVAL);
    ASSERT_EQ(wm_ws_add_header(k.c, "X-Bad", "a\r\nb"), WM_EINVAL);
    ASSERT_EQ(wm_ws_set_origin(k.c, "a\nb"), WM_EINVAL);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    ASSERT_STR_EQ(wm_ws_protocol(k.c), "chat");
    ASSERT_STR_EQ(S.protocol, "chat");
    ASSERT_STR_EQ(S.token, "s3cret");
    ASSERT_STR_EQ(S.path, "/room?id=7");
    wm_conn_destroy(k.c);
    /* The same from a raw client: what the 101 holds. */
    raw_t *r = raw_connect(wm_worker_port(w));
    RAW_SEND(r, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, "
                "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a\r\n"
                "Sec-WebSocket-Protocol: b, chat\r\nSec-WebSocket-Extensions: "
                "permessage-deflate\r\n\r\n");
    char head[2048];
    ASSERT_EQ(raw_read_head(r, head, sizeof head), 101);
    ASSERT(strstr(head, "\r\nUpgrade: websocket\r\n"));
    ASSERT(strstr(head, "\r\nConnection: Upgrade\r\n"));
    ASSERT(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    ASSERT(strstr(head, "\r\nSec-WebSocket-Protocol: chat\r\n"));
    ASSERT(strstr(head, "\r\nX-Hello: 1\r\n"));
    ASSERT(!strstr(head, "Extensions")); /* declined */
    raw_free(r);
    cli_done(&k);
    finish(w);
}

void test_handshake_reject(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/reject");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.closes, 1, "the refused client's close");
    ASSERT_EQ(k.connects, 0);
    ASSERT_EQ(k.errors, 1);
    ASSERT_EQ(k.last_err, WM_EPROTO);
    ASSERT(strstr(k.err_reason, "HTTP 403 Forbidden") != NULL);
    ASSERT_EQ(S.opened, 0);
    /* By Origin, seen raw: the status, the hook's header, a close. */
    raw_t *r = raw_connect(wm_worker_port(w));
    RAW_SEND(r, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Origin: https://evil.example\r\n\r\n");
    char head[2048];
    ASSERT_EQ(raw_read_head(r, head, sizeof head), 403);
    ASSERT(strstr(head, "\r\nX-Why: not welcome\r\n"));
    ASSERT(strstr(head, "\r\nConnection: close\r\n"));
    raw_wait_eof(r);
    raw_free(r);
    cli_done(&k);
    finish(w);
}

typedef struct bad_case {
    const char *request;
    int status;
    const char *header; /* expected in the answer, or NULL */
} bad_case_t;

void test_bad_handshakes(void)
{
    static const bad_case_t cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         400, NULL},
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400, NULL},
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         426, "\r\nSec-WebSocket-Version: 13\r\n"},
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 426, "\r\nUpgrade: websocket\r\n"},
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         426, NULL},
        {"POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         405, "\r\nAllow: GET\r\n"},
        {"GET / HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400, NULL},
        {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400, NULL},
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Content-Length: 2\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\nab",
         400, NULL},
        {"GET /\x01 HTTP/1.1\r\n\r\n", 400, NULL},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, NULL},
    };
    wm_worker_t *w = server_start(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        raw_t *r = raw_connect(wm_worker_port(w));
        raw_send(r, cases[i].request, strlen(cases[i].request));
        char head[2048];
        int status = raw_read_head(r, head, sizeof head);
        if (status != cases[i].status)
            WM_TEST_FAIL("case %zu: status %d, not %d:\n%s", i, status, cases[i].status, head);
        ASSERT(strstr(head, "\r\nConnection: close\r\n"));
        if (cases[i].header && !strstr(head, cases[i].header))
            WM_TEST_FAIL("case %zu: no %s in\n%s", i, cases[i].header, head);
        raw_wait_eof(r);
        raw_free(r);
    }
    ASSERT_EQ(S.handshakes, 0);
    ASSERT_EQ(S.opened, 0);
    /* A head over 8 KiB: 431. */
    raw_t *r = raw_connect(wm_worker_port(w));
    RAW_SEND(r, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    char big[9000];
    memset(big, 'a', sizeof big);
    raw_send(r, big, sizeof big);
    char head[2048];
    ASSERT_EQ(raw_read_head(r, head, sizeof head), 431);
    raw_wait_eof(r);
    raw_free(r);
    finish(w);
}

void test_handshake_timeout(void)
{
    srv_opts_t o = {.handshake_timeout_ms = 100};
    wm_worker_t *w = server_start(&o);
    raw_t *r = raw_connect(wm_worker_port(w));
    RAW_SEND(r, "GET / HTTP/1.1\r\nHost: h\r\n"); /* and never the rest */
    uint64_t t0 = wt_now_ms();
    char head[2048];
    ASSERT_EQ(raw_read_head(r, head, sizeof head), 408);
    raw_wait_eof(r);
    uint64_t took = wt_now_ms() - t0;
    ASSERT_GE(took, 90);
    ASSERT_LT(took, 1500);
    raw_free(r);
    /* A completed handshake is not closed by it. */
    r = raw_connect(wm_worker_port(w));
    raw_handshake(r, "/", NULL);
    wt_run_for(200);
    ASSERT(!r->eof);
    raw_send_frame(r, true, 0x1, "still here", 10, true);
    raw_frame_t f;
    raw_read_frame(r, &f);
    ASSERT_EQ(f.opcode, 0x1);
    ASSERT_EQ(f.len, 10);
    raw_free(r);
    finish(w);
}

/* Fragments with a ping between them, and a frame split across writes. */
void test_fragmented_raw(void)
{
    wm_worker_t *w = server_start(NULL);
    raw_t *r = raw_connect(wm_worker_port(w));
    raw_handshake(r, "/", NULL);
    raw_send_frame(r, false, 0x1, "Hel", 3, true);
    raw_send_frame(r, true, 0x9, "p", 1, true);
    raw_send_frame(r, false, 0x0, "lo, ", 4, true);
    raw_send_frame(r, true, 0x0, "w\xc3\xb6rld", 6, true);
    raw_frame_t f;
    raw_read_frame(r, &f);
    ASSERT_EQ(f.opcode, 0xA);
    ASSERT_EQ(f.len, 1);
    ASSERT_EQ(f.data[0], 'p');
    raw_read_frame(r, &f);
    ASSERT_EQ(f.opcode, 0x1);
    ASSERT(f.fin);
    ASSERT_EQ(f.len, 13);
    ASSERT_MEM_EQ(f.data, "Hello, w\xc3\xb6rld", 13);
    ASSERT_EQ(S.messages, 1);
    /* Binary in two fragments, the second frame sent a byte at a time. */
    raw_send_frame(r, false, 0x2, "\x00\x01", 2, true);
    static const uint8_t tail[] = {0x80, 0x82, 1, 2, 3, 4, 0x02 ^ 1, 0x03 ^ 2};
    for (size_t i = 0; i < sizeof tail; i++) {
        raw_send(r, tail + i, 1);
        wt_run_for(2);
    }
    raw_read_frame(r, &f);
    ASSERT_EQ(f.opcode, 0x2);
    ASSERT_EQ(f.len, 4);
    ASSERT_MEM_EQ(f.data, "\x00\x01\x02\x03", 4);
    raw_free(r);
    finish(w);
}

/* Sends `frames`, then expects a close frame with `code` and the TCP close,
 * and on_error with `err`. */
static void expect_failure(uint16_t port, void (*send_bad)(raw_t *), int code, int err)
{
    int errors = S.errors;
    raw_t *r = raw_connect(port);
    raw_handshake(r, "/", NULL);
    send_bad(r);
    raw_frame_t f;
    raw_read_frame(r, &f);
    ASSERT_EQ(raw_close_code(&f), code);
    raw_wait_eof(r);
    raw_free(r);
    WAIT_COUNT(S.errors, errors + 1, "on_error");
    wt_run_for(20);
    ASSERT_EQ(S.errors, errors + 1); /* once */
    ASSERT_EQ(S.last_error, err);
}

static void send_unmasked(raw_t *r)
{
    raw_send_frame(r, true, 0x1, "hi", 2, false);
}

void test_unmasked_1002(void)
{
    wm_worker_t *w = server_start(NULL);
    expect_failure(wm_worker_port(w), send_unmasked, 1002, WM_EPROTO);
    ASSERT_EQ(S.messages, 0);
    finish(w);
}

static void send_big(raw_t *r)
{
    char data[2000] = {0};
    raw_send_frame(r, true, 0x2, data, sizeof data, true);
}

static void send_big_fragmented(raw_t *r)
{
    char data[600] = {0};
    raw_send_frame(r, false, 0x2, data, sizeof data, true);
    raw_send_frame(r, true, 0x0, data, sizeof data, true);
}

void test_too_big_1009(void)
{
    srv_opts_t o = {.max_package = 1000};
    wm_worker_t *w = server_start(&o);
    expect_failure(wm_worker_port(w), send_big, 1009, WM_EMSGSIZE);
    expect_failure(wm_worker_port(w), send_big_fragmented, 1009, WM_EMSGSIZE);
    ASSERT_EQ(S.messages, 0);
    finish(w);
}

static void send_bad_utf8(raw_t *r)
{
    raw_send_frame(r, true, 0x1, "ok \xc3\x28", 5, true);
}

static void send_bad_utf8_split(raw_t *r)
{
    raw_send_frame(r, false, 0x1, "\xe2\x82", 2, true);
    raw_send_frame(r, true, 0x0, "A", 1, true);
}

void test_bad_utf8_1007(void)
{
    wm_worker_t *w = server_start(NULL);
    expect_failure(wm_worker_port(w), send_bad_utf8, 1007, WM_EPROTO);
    expect_failure(wm_worker_port(w), send_bad_utf8_split, 1007, WM_EPROTO);
    ASSERT_EQ(S.messages, 0);
    finish(w);
}

void test_heartbeat(void)
{
    srv_opts_t o = {.hb_idle_ms = 100, .hb_timeout_ms = 150};
    wm_worker_t *w = server_start(&o);
    /* A silent raw client: pinged after ~100 ms, closed ~150 ms later. */
    raw_t *r = raw_connect(wm_worker_port(w));
    raw_handshake(r, "/", NULL);
    uint64_t t0 = wt_now_ms();
    raw_frame_t f;
    raw_read_frame(r, &f);
    ASSERT_EQ(f.opcode, 0x9);
    uint64_t ping_at = wt_now_ms() - t0;
    ASSERT_GE(ping_at, 90);
    raw_read_frame(r, &f);
    ASSERT_EQ(raw_close_code(&f), 1001);
    raw_wait_eof(r);
    uint64_t closed_at = wt_now_ms() - t0;
    ASSERT_GE(closed_at, 230);
    ASSERT_LT(closed_at, 1500);
    raw_free(r);
    WAIT_COUNT(S.closed, 1, "the server's close");
    ASSERT_EQ(S.last_error, WM_ETIMEDOUT);
    /* Our client answers pings by itself: it stays. */
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    wt_run_for(600);
    ASSERT(wm_ws_is_open(k.c));
    ASSERT_EQ(k.closes, 0);
    wm_conn_destroy(k.c);
    cli_done(&k);
    finish(w);
}

void test_client_ping_interval(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_ws_set_ping_interval(k.c, 50), WM_OK);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the handshake");
    uint64_t t0 = wt_now_ms();
    WAIT_COUNT(k.pongs, 3, "three pongs");
    ASSERT_GE(wt_now_ms() - t0, 100);
    wm_conn_destroy(k.c);
    cli_done(&k);
    finish(w);
}

/* Our client against an http:// worker: the answer is not a 101. */
static void http_answer(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    wm_http_reply(c, 200, "text/plain", "plain http", 10);
}

void test_client_not_websocket(void)
{
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    wm_worker_on_message(w, http_answer, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    cli_t k;
    cli_new(&k, "ws", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.closes, 1, "the failed client's close");
    ASSERT_EQ(k.connects, 0);
    ASSERT_EQ(k.last_err, WM_EPROTO);
    ASSERT(strstr(k.err_reason, "websocket handshake failed: HTTP 200 OK") != NULL);
    ASSERT_EQ(k.close_code, 1006);
    /* A server that accepts TCP but never answers: the handshake timeout. */
    wm_worker_t *mute = wm_worker_new("tcp://127.0.0.1:0");
    ASSERT_EQ(wm_worker_start(mute), WM_OK);
    cli_new(&k, "ws", mute, "/");
    ASSERT_EQ(wm_ws_set_handshake_timeout(k.c, 100), WM_OK);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.closes, 1, "the timed-out client's close");
    ASSERT_EQ(k.last_err, WM_ETIMEDOUT);
    ASSERT(strstr(k.err_reason, "no answer within 100 ms") != NULL);
    cli_done(&k);
    wm_worker_free(mute);
    finish(w);
}

void test_client_reconnect(void)
{
    wm_worker_t *w = server_start(NULL);
    cli_t k;
    cli_new(&k, "ws", w, "/again");
    k.reconnects_left = 2;
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    for (int i = 1; i <= 3; i++) {
        WAIT_COUNT(k.connects, i, "a handshake");
        char msg[32];
        int n = snprintf(msg, sizeof msg, "round %d", i);
        ASSERT(wm_conn_send(k.c, msg, (size_t)n) >= 0);
        WAIT_COUNT(k.msgs, i, "an echo");
        ASSERT_STR_EQ(k.last, msg);
        /* The server closes: the client reconnects (twice) from on_close. */
        ASSERT(wm_conn_send(k.c, "close:1001:again", 16) >= 0);
        WAIT_COUNT(k.closes, i, "a close");
        ASSERT_EQ(k.close_code, 1001);
    }
    ASSERT_EQ(S.handshakes, 3);
    ASSERT(k.c == NULL); /* freed after the last close */
    cli_done(&k);
    finish(w);
}

void test_client_bad_urls(void)
{
    wm_conn_t *c = wm_conn_new("ws://example.com/a b");
    ASSERT(c == NULL);
    c = wm_conn_new("ws:///path");
    ASSERT(c == NULL);
    c = wm_conn_new("wss://[::1]/x?y=1");
    ASSERT(c != NULL);
    ASSERT(wm_conn_is_tls(c));
    wm_conn_destroy(c);
    c = wm_conn_new("ws://localhost?q");
    ASSERT(c != NULL);
    ASSERT(!wm_conn_is_tls(c));
    wm_conn_destroy(c);
    WM_TEST_CLEAN();
}

void test_wss(void)
{
    srv_opts_t o = {.scheme = "websocket+tls"};
    wm_worker_t *w = server_start(&o);
    cli_t k;
    cli_new(&k, "wss", w, "/secure");
    char ca[512];
    snprintf(ca, sizeof ca, "%s/ca.crt", getenv("WM_TLS_DIR"));
    wm_tls_client_opts_t to = {.ca_file = ca};
    ASSERT_EQ(wm_conn_set_tls(k.c, &to), WM_OK);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.connects, 1, "the wss handshake");
    ASSERT(wm_conn_tls_version(k.c) != NULL);
    char *big = malloc(200000);
    memset(big, 'z', 200000);
    ASSERT(wm_ws_send_binary(k.c, big, 200000) >= 0);
    WAIT_COUNT(k.msgs, 1, "the echo over TLS");
    ASSERT_EQ(k.last_len, 200000);
    ASSERT_MEM_EQ(k.last, big, 200000);
    free(big);
    ASSERT_EQ(wm_ws_close(k.c, 4000, "tls bye"), WM_OK);
    WAIT_COUNT(S.closed, 1, "the server's close");
    ASSERT_EQ(S.close_code, 4000);
    ASSERT_STR_EQ(S.close_reason, "tls bye");
    WAIT_COUNT(k.closes, 1, "the client's close");
    /* The default client verifies against the system store: refused. */
    cli_new(&k, "wss", w, "/");
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    WAIT_COUNT(k.closes, 1, "the unverified client's close");
    ASSERT_EQ(k.connects, 0);
    ASSERT_EQ(k.last_err, WM_ETLS);
    cli_done(&k);
    finish(w);
}
