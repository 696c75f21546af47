/* SPDX-License-Identifier: MIT */
/* The two modes node_test.sh runs against node's `ws`:
 *
 * --serve: our server until killed. It echoes every message (type kept)
 * and obeys text commands: "!close CODE REASON" (wm_ws_close), "!drop"
 * (TCP close, no close frame), "!last" (answers "CODE REASON" of the last
 * connection that closed), "!proto" and "!origin" (the subprotocol and
 * Origin of this connection's handshake).
 *
 * --client: our client against node_server.js (which obeys the same
 * commands plus "!hdr NAME" and "!frag"), step by step; prints "ok ..."
 * per step and exits 0, or fails with the reason. */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "ws_util.h"
#include "ws_cases.h"

#define PEER_MAX (32u * 1024 * 1024)

/* ---- --serve ------------------------------------------------------------------------ */

static char last_close[200] = "none";

static int serve_handshake(wm_conn_t *c, const wm_http_request_t *req, wm_ws_handshake_t *hs,
                           void *ud)
{
    for (size_t i = 0; i < wm_ws_handshake_protocol_count(hs); i++)
        if (strcmp(wm_ws_handshake_protocol_at(hs, i), "chat") == 0)
            wm_ws_handshake_select_protocol(hs, "chat");
    const char *origin = wm_http_request_header(req, "Origin");
    wm_conn_set_user_data(c, strdup(origin ? origin : ""), free);
    return 0;
}

static void serve_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    char cmd[160] = "", reason[128] = "";
    int code = 0;
    if (wm_ws_msg_type(msg) == WM_WS_TEXT && msg->len < sizeof cmd && msg->len && *msg->data == '!')
        snprintf(cmd, sizeof cmd, "%.*s", (int)msg->len, msg->data);
    if (sscanf(cmd, "!close %d %127[^\n]", &code, reason) >= 1) {
        wm_ws_close(c, code, reason);
    } else if (strcmp(cmd, "!drop") == 0) {
        wm_conn_destroy(c);
    } else if (strcmp(cmd, "!last") == 0) {
        wm_ws_send_text(c, last_close, strlen(last_close));
    } else if (strcmp(cmd, "!proto") == 0) {
        wm_ws_send_text(c, wm_ws_protocol(c), strlen(wm_ws_protocol(c)));
    } else if (strcmp(cmd, "!origin") == 0) {
        const char *o = wm_conn_user_data(c);
        wm_ws_send_text(c, o, strlen(o));
    } else if (wm_ws_msg_type(msg) == WM_WS_BINARY) {
        wm_ws_send_binary(c, msg->data, msg->len);
    } else {
        wm_ws_send_text(c, msg->data, msg->len);
    }
}

static void serve_close(wm_conn_t *c, void *ud)
{
    snprintf(last_close, sizeof last_close, "%d %s", wm_ws_close_code(c), wm_ws_close_reason(c));
}

int ws_serve(const char *port_file, const char *cert, const char *key)
{
    wm_worker_t *w =
        wm_worker_new(cert ? "websocket+tls://127.0.0.1:0" : "websocket://127.0.0.1:0");
    if (!w || (cert && wm_worker_set_tls(w, cert, key) != WM_OK))
        return 1;
    wm_worker_set_max_package(w, PEER_MAX);
    wm_worker_set_max_send_buffer(w, PEER_MAX);
    wm_ws_worker_on_handshake(w, serve_handshake, NULL);
    wm_worker_on_message(w, serve_message, NULL);
    wm_worker_on_close(w, serve_close, NULL);
    if (wm_worker_start(w) != WM_OK)
        return 1;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 1;
    fprintf(f, "%u\n", wm_worker_port(w));
    fclose(f);
    rename(tmp, port_file);
    wm_loop_run();
    wm_worker_free(w);
    wm_loop_free();
    return 0;
}

/* ---- --client ------------------------------------------------------------------------ */

typedef struct peer {
    wm_conn_t *c;
    bool open, closed, got, ponged;
    char *msg;
    size_t len;
    wm_ws_type_t type;
    int code;
    char reason[128];
    char pong[128];
    char error[300];
} peer_t;

static void peer_connect(wm_conn_t *c, void *ud)
{
    ((peer_t *)ud)->open = true;
}

static void peer_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    peer_t *p = ud;
    free(p->msg);
    p->msg = malloc(msg->len + 1);
    memcpy(p->msg, msg->data, msg->len);
    p->msg[msg->len] = '\0';
    p->len = msg->len;
    p->type = wm_ws_msg_type(msg);
    p->got = true;
}

static void peer_close(wm_conn_t *c, void *ud)
{
    peer_t *p = ud;
    p->closed = true;
    p->code = wm_ws_close_code(c);
    snprintf(p->reason, sizeof p->reason, "%s", wm_ws_close_reason(c));
    p->c = NULL;
}

static void peer_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    snprintf(((peer_t *)ud)->error, sizeof((peer_t *)ud)->error, "%s", reason);
}

static void peer_pong(wm_conn_t *c, const char *data, size_t len, void *ud)
{
    peer_t *p = ud;
    p->ponged = true;
    snprintf(p->pong, sizeof p->pong, "%.*s", (int)len, data);
}

static void peer_open(peer_t *p, const char *url, const char *ca)
{
    free(p->msg); /* the previous connection's last message */
    memset(p, 0, sizeof *p);
    p->c = wm_conn_new(url);
    ASSERT(p->c != NULL);
    if (ca) {
        wm_tls_client_opts_t o = {.ca_file = ca};
        ASSERT_EQ(wm_conn_set_tls(p->c, &o), WM_OK);
    }
    wm_conn_set_max_package(p->c, PEER_MAX);
    wm_conn_set_max_send_buffer(p->c, PEER_MAX);
    wm_conn_on_connect(p->c, peer_connect, p);
    wm_conn_on_message(p->c, peer_message, p);
    wm_conn_on_close(p->c, peer_close, p);
    wm_conn_on_error(p->c, peer_error, p);
    ASSERT_EQ(wm_ws_on_pong(p->c, peer_pong, p), WM_OK);
    ASSERT_EQ(wm_ws_set_origin(p->c, "https://wm.test"), WM_OK);
    ASSERT_EQ(wm_ws_set_protocols(p->c, "other, chat"), WM_OK);
    ASSERT_EQ(wm_ws_add_header(p->c, "X-Token", "abc"), WM_OK);
}

static void peer_wait(peer_t *p, bool *flag, const char *what)
{
    uint64_t end = wt_now_ms() + 20000;
    while (!*flag) {
        if (wt_now_ms() > end)
            WM_TEST_FAIL("timed out waiting for %s (last error: %s)", what, p->error);
        if (p->closed && flag != &p->closed)
            WM_TEST_FAIL("closed (%d %s) while waiting for %s; error: %s", p->code, p->reason, what,
                         p->error);
        event_base_loop(wm_loop_base(), EVLOOP_ONCE);
    }
}

/* Sends a text command and waits for its answer. */
static const char *peer_ask(peer_t *p, const char *cmd)
{
    p->got = false;
    ASSERT(wm_ws_send_text(p->c, cmd, strlen(cmd)) >= 0);
    peer_wait(p, &p->got, cmd);
    return p->msg;
}

static void peer_echo_sizes(peer_t *p)
{
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1u << 20, 16u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (int bin = 0; bin < 2; bin++) {
            size_t n = sizes[i];
            char *data = malloc(n + 1);
            for (size_t j = 0; j < n; j++)
                data[j] = bin ? (char)(j * 31 + 7) : (char)('A' + j % 26);
            p->got = false;
            int rc = bin ? wm_ws_send_binary(p->c, data, n) : wm_ws_send_text(p->c, data, n);
            ASSERT(rc == WM_SENT || rc == WM_QUEUED);
            peer_wait(p, &p->got, "an echo");
            ASSERT_EQ(p->len, n);
            ASSERT_MEM_EQ(p->msg, data, n);
            ASSERT_EQ(p->type, bin ? WM_WS_BINARY : WM_WS_TEXT);
            free(data);
        }
    }
    printf("ok   echo 0 B .. 16 MiB, text and binary\n");
}

int ws_client_run(const char *url, const char *ca)
{
    peer_t p = {0};
    peer_open(&p, url, ca);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    peer_wait(&p, &p.open, "the handshake");
    ASSERT_STR_EQ(wm_ws_protocol(p.c), "chat");
    ASSERT_STR_EQ(peer_ask(&p, "!hdr origin"), "https://wm.test");
    ASSERT_STR_EQ(peer_ask(&p, "!hdr x-token"), "abc");
    ASSERT_STR_EQ(peer_ask(&p, "!hdr sec-websocket-version"), "13");
    printf("ok   handshake: subprotocol, Origin, extra header\n");
    peer_echo_sizes(&p);
    ASSERT_STR_EQ(peer_ask(&p, "!frag"), "fragmented message");
    printf("ok   a fragmented message from node\n");
    ASSERT_EQ(wm_ws_ping(p.c, "p1", 2), WM_SENT);
    peer_wait(&p, &p.ponged, "the pong");
    ASSERT_STR_EQ(p.pong, "p1");
    printf("ok   ping, pong\n");
    ASSERT(wm_ws_send_text(p.c, "!close 4003 node bye", 20) >= 0);
    peer_wait(&p, &p.closed, "node's close");
    ASSERT_EQ(p.code, 4003);
    ASSERT_STR_EQ(p.reason, "node bye");
    printf("ok   server-initiated close with code and reason\n");

    peer_open(&p, url, ca);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    peer_wait(&p, &p.open, "the second handshake");
    ASSERT(wm_ws_send_text(p.c, "!drop", 5) >= 0);
    peer_wait(&p, &p.closed, "the dropped connection");
    ASSERT_EQ(p.code, 1006);
    printf("ok   abrupt close by node: 1006\n");

    peer_open(&p, url, ca);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    peer_wait(&p, &p.open, "the third handshake");
    ASSERT_EQ(wm_ws_close(p.c, 4004, "wm bye"), WM_OK);
    peer_wait(&p, &p.closed, "our close");
    ASSERT_EQ(p.code, 4004); /* node echoes the code */
    peer_open(&p, url, ca);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    peer_wait(&p, &p.open, "the fourth handshake");
    ASSERT_STR_EQ(peer_ask(&p, "!last"), "4004 wm bye");
    printf("ok   client-initiated close with code and reason\n");
    wm_conn_destroy(p.c);
    peer_open(&p, url, ca);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    peer_wait(&p, &p.open, "the fifth handshake");
    ASSERT_STR_EQ(peer_ask(&p, "!last"), "1006 ");
    printf("ok   abrupt close by us: node sees 1006\n");
    wm_conn_destroy(p.c);
    free(p.msg);
    wm_loop_free();
    return 0;
}
