/* SPDX-License-Identifier: MIT */
/* Private state shared by the WebSocket files: ws_conn.c (the protocol:
 * framing, control frames, close, heartbeat), ws_server.c (the server's
 * handshake and worker settings) and ws_client.c (the client's handshake
 * and settings). Nothing here is part of the API. */
#ifndef WM_WS_INT_H
#define WM_WS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "wm_int.h"
#include "ws_frame.h"
#include "ws_handshake.h"

/* A worker's settings, the defaults of its connections (worker->ws). */
typedef struct wm__ws_opts {
    wm_ws_handshake_cb on_handshake;
    void *on_handshake_ud;
    wm_ws_control_cb on_ping, on_pong;
    void *on_ping_ud, *on_pong_ud;
    uint64_t handshake_timeout_ms;
    uint64_t hb_idle_ms, hb_timeout_ms;
    bool binary;
} wm__ws_opts_t;

typedef enum ws_phase {
    WS_HANDSHAKE = 0, /* waiting for the request (server) or the answer (client) */
    WS_OPEN = 1,      /* messages flow */
    WS_CLOSING = 2,   /* a close frame was sent or received */
} ws_phase_t;

/* A client's handshake settings, kept across reconnects. */
typedef struct ws_client {
    char *target; /* "/path?query" */
    char *host;   /* the Host value */
    char *origin;
    char *protocols; /* offered, as given */
    char *extra;     /* "Name: value\r\n"… */
    char key[WM_WS_KEY_LEN + 1];
    uint64_t ping_interval_ms;
    struct evbuffer *pending; /* messages sent before the handshake completed */
} ws_client_t;

typedef struct wm__ws {
    wm_conn_t *conn;
    bool client;
    uint8_t phase; /* ws_phase_t */
    bool close_sent, close_received;
    bool binary;
    int send_opcode; /* the opcode of the frame being encoded; 0: a message */
    wm__ws_reader_t rd;
    wm__ws_opts_t opts; /* hooks and settings of this connection */

    int status; /* client: the handshake answer's HTTP status */
    int peer_code;
    char peer_reason[WM_WS_MAX_CLOSE_REASON + 1];
    char *protocol; /* the agreed subprotocol, or NULL */

    size_t hs_last_len;     /* http_parse's hint while the request head is unfinished */
    struct event *hs_timer; /* handshake timeout */
    struct event *close_ev; /* close handshake timeout */
    struct event *hb_timer; /* heartbeat and ping interval */
    uint64_t last_rx_ms;    /* when bytes last arrived */
    uint64_t ping_sent_ms;  /* heartbeat: when the unanswered ping went out, or 0 */
    uint64_t last_ping_ms;  /* ping interval: when the last ping went out */
    ws_client_t *cl;        /* client settings, NULL on a server */
} wm__ws_t;

/* ws_conn.c */
wm__ws_t *wm__ws_state(wm_conn_t *c); /* NULL unless c speaks websocket */
wm__ws_t *wm__ws_state_new(wm_conn_t *c, bool client);
/* Switches to WS_OPEN after a successful handshake and runs on_connect. */
void wm__ws_opened(wm__ws_t *ws);
/* Arms a one-shot timer event (made on first use). */
int wm__ws_timer(struct event **ev, uint64_t ms, event_callback_fn fn, void *arg);
void wm__ws_hs_timer_stop(wm__ws_t *ws);
/* (Re)arms the heartbeat / ping interval timer after a settings change. */
void wm__ws_hb_arm(wm__ws_t *ws);

/* ws_server.c: the server's side of the handshake. */
void wm__ws_server_open(wm__ws_t *ws);
ssize_t wm__ws_server_input(wm__ws_t *ws, struct evbuffer *in, wm_proto_ctx_t *ctx);
int wm__ws_server_decode(wm__ws_t *ws, const char *pkt, size_t len, wm_proto_ctx_t *ctx);
/* Whether a header name is one the handshake writes itself. */
bool wm__ws_header_reserved(const char *name);
/* Appends "name: value\r\n" to a growing NUL-terminated text after checking
 * both. Returns WM_OK, WM_EINVAL or WM_ENOMEM. */
int wm__ws_header_line(char **lines, size_t *len, size_t *cap, const char *name, const char *value);

/* ws_client.c: the client's side. */
void wm__ws_client_open(wm__ws_t *ws);
ssize_t wm__ws_client_input(wm__ws_t *ws, struct evbuffer *in);
int wm__ws_client_decode(wm__ws_t *ws, const char *pkt, size_t len);
void wm__ws_client_free(ws_client_t *cl);

#endif
