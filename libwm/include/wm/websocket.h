/* SPDX-License-Identifier: MIT */
/* WebSocket (RFC 6455), server and client, as Workerman's Websocket
 * protocol and its ws:// AsyncTcpConnection.
 *
 * Server: a worker made with wm_worker_new("websocket://0.0.0.0:8000")
 * (over TLS: "websocket+tls://…" with wm_worker_set_tls, i.e. wss). The
 * protocol answers the opening handshake itself (GET, HTTP/1.1, Upgrade and
 * Connection tokens, Sec-WebSocket-Version 13, a 16-byte key), after asking
 * the worker's handshake hook if one is set; a bad handshake gets an HTTP
 * error (400, 426 with Sec-WebSocket-Version: 13, or the hook's status) and
 * a close. A client that does not complete its handshake within the
 * handshake timeout (default 10 s) is closed.
 *
 * Client: wm_conn_new("ws://host:port/path?query") or "wss://…" (the port
 * defaults to 80/443; wss verifies the server as tls.h's client does). On
 * every (re)connect the client sends a fresh handshake and checks the
 * answer (101, Upgrade, Connection, Sec-WebSocket-Accept, a subprotocol it
 * offered). A failed handshake runs on_error(WM_EPROTO, "websocket handshake
 * failed: HTTP 403 Forbidden", …) — or WM_ETIMEDOUT when no answer came —
 * then on_close; wm_conn_reconnect() works as for any outgoing connection.
 *
 * On both sides
 * - on_connect runs once the WebSocket handshake has completed (not at the
 *   TCP accept or connect); on_close runs for every connection, also one
 *   whose handshake failed (wm_ws_is_open() told which while it ran).
 * - on_message gets whole messages, text or binary (wm_ws_msg_type()):
 *   fragments are joined, a text message is valid UTF-8. msg->data/len are
 *   borrowed until on_message returns. A message may be up to the
 *   connection's max package size minus 14 bytes (wm_conn_set_max_package,
 *   wm_worker_set_max_package; default 10 MiB).
 * - wm_conn_send() sends one message: text by default, binary after
 *   wm_ws_set_binary(c, true) (Workerman's websocketType).
 *   wm_ws_send_text()/wm_ws_send_binary() pick per message. A client masks
 *   every frame with a fresh random key; a server never masks.
 * - Pings are answered with a pong automatically, unless an on_ping hook is
 *   set: it then decides (wm_ws_pong()). Pongs go to an on_pong hook.
 * - A peer that breaks the protocol gets a close frame with the code the
 *   RFC asks for — 1002 (framing, masking), 1007 (invalid UTF-8), 1009
 *   (message too big) — then the TCP close; on_error runs with WM_EPROTO or
 *   WM_EMSGSIZE and the reason, then on_close.
 * - Closing: wm_ws_close(c, code, reason) starts the close handshake: it
 *   sends a close frame and closes TCP when the peer's close frame arrives
 *   (or after WM_WS_CLOSE_TIMEOUT_MS). wm_conn_close() on an open WebSocket
 *   does the same with code 1000; wm_conn_destroy() drops the TCP connection
 *   at once (the peer sees 1006). A close frame from the peer is answered
 *   with the same code and the connection closes. In on_close,
 *   wm_ws_close_code() and wm_ws_close_reason() tell what the peer sent.
 *
 * Not here: extensions (permessage-deflate): an offer is declined, and an
 * answer naming one fails the client's handshake.
 *
 * Every function below takes a connection using the websocket protocol
 * and returns WM_EINVAL (or a neutral value) for any other. */
#ifndef WM_WEBSOCKET_H
#define WM_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"
#include "protocol.h"
#include "worker.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* The websocket protocol, registered as "websocket" (and reached by the
 * URL schemes "ws" and "wss"). */
extern const wm_protocol_t wm_protocol_websocket;

/* Close codes (RFC 6455 §7.4.1). 1005 and 1006 are never sent: they report
 * a close frame without a code, and no close frame at all. */
#define WM_WS_CLOSE_NORMAL 1000
#define WM_WS_CLOSE_GOING_AWAY 1001
#define WM_WS_CLOSE_PROTOCOL 1002
#define WM_WS_CLOSE_UNSUPPORTED 1003
#define WM_WS_CLOSE_NO_STATUS 1005
#define WM_WS_CLOSE_ABNORMAL 1006
#define WM_WS_CLOSE_BAD_DATA 1007
#define WM_WS_CLOSE_POLICY 1008
#define WM_WS_CLOSE_TOO_BIG 1009
#define WM_WS_CLOSE_INTERNAL 1011

#define WM_WS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
/* How long wm_ws_close() waits for the peer's close frame. */
#define WM_WS_CLOSE_TIMEOUT_MS 5000

typedef enum wm_ws_type { WM_WS_TEXT = 1, WM_WS_BINARY = 2 } wm_ws_type_t;

/* A ping's or pong's payload (0..125 bytes), borrowed for the call. */
typedef void (*wm_ws_control_cb)(wm_conn_t *c, const char *data, size_t len, void *user_data);

/* ---- Messages and sending ----------------------------------------------- */

/* The type of a message handed to on_message on a websocket connection
 * (msg->extra points to it); WM_WS_TEXT for any other message. */
wm_ws_type_t wm_ws_msg_type(const wm_msg_t *msg);

/* Sends one text message (data must be UTF-8: it is not checked) or one
 * binary message. Returns what wm_conn_send() returns; WM_ENOTCONN once a
 * close frame was sent. A client queues messages sent before its handshake
 * completed; they go out right after it. */
int wm_ws_send_text(wm_conn_t *c, const void *data, size_t len);
int wm_ws_send_binary(wm_conn_t *c, const void *data, size_t len);

/* Whether wm_conn_send() sends binary (true) or text (false, the default)
 * messages on c. */
int wm_ws_set_binary(wm_conn_t *c, bool binary);

/* Sends a ping or a pong with up to 125 bytes of payload. Returns what
 * wm_conn_send() returns, or WM_EINVAL for a longer payload. */
int wm_ws_ping(wm_conn_t *c, const void *data, size_t len);
int wm_ws_pong(wm_conn_t *c, const void *data, size_t len);

/* ---- Closing -------------------------------------------------------------- */

/* Starts the close handshake: sends a close frame with `code` (1000-1003,
 * 1007-1014, 3000-4999; 0 sends a close frame without a code) and `reason`
 * (UTF-8, cut to 123 bytes; NULL for none), then waits for the peer's close
 * frame and closes TCP (after at most WM_WS_CLOSE_TIMEOUT_MS). Messages
 * arriving meanwhile are still delivered; nothing more can be sent.
 * Returns WM_OK, WM_EINVAL for a code that may not be sent, or WM_ENOTCONN
 * when a close frame was already sent or the connection is closing. Before
 * the handshake completed it closes TCP at once. */
int wm_ws_close(wm_conn_t *c, int code, const char *reason);

/* What the peer's close frame said: its code (1005 for a close frame
 * without one), or 1006 when the connection ended without a close frame
 * from the peer; 0 while none of this happened yet. Meant for on_close. */
int wm_ws_close_code(const wm_conn_t *c);
/* The reason in the peer's close frame (UTF-8, NUL-terminated, at most 123
 * bytes), "" when none. Borrowed: valid until on_close returns. */
const char *wm_ws_close_reason(const wm_conn_t *c);

/* ---- Facts ---------------------------------------------------------------- */

/* Whether the handshake completed and no close frame was sent or received. */
bool wm_ws_is_open(const wm_conn_t *c);
/* The subprotocol agreed in the handshake, "" when none. Borrowed: valid as
 * long as the connection (for a client, until its next attempt). */
const char *wm_ws_protocol(const wm_conn_t *c);

/* ---- Hooks and liveness (either side) ------------------------------------- */

/* Runs for each ping received. With a hook set, no pong is sent
 * automatically: call wm_ws_pong() (Workerman's onWebSocketPing). NULL
 * brings the automatic pong back. */
int wm_ws_on_ping(wm_conn_t *c, wm_ws_control_cb cb, void *user_data);
/* Runs for each pong received. */
int wm_ws_on_pong(wm_conn_t *c, wm_ws_control_cb cb, void *user_data);

/* Heartbeat: once nothing has arrived from the peer for `idle_ms`, sends a
 * ping; if then nothing arrives (a pong or anything else) within
 * `timeout_ms`, on_error runs with WM_ETIMEDOUT and the connection is
 * closed with code 1001. timeout_ms 0 only pings. idle_ms 0 turns it off
 * (the default). Takes effect at once on an open connection, or when the
 * handshake completes. */
int wm_ws_set_heartbeat(wm_conn_t *c, uint64_t idle_ms, uint64_t timeout_ms);

/* ---- Server: per-worker settings (call before the worker starts) ------- */

/* The server's view of a handshake being answered (opaque), valid only
 * during the handshake hook. */
typedef struct wm_ws_handshake wm_ws_handshake_t;

/* Runs once a client's handshake request is valid, before the 101 answer
 * (Workerman's onWebSocketConnect). `req` is the request (path, query,
 * headers: wm_http_request_header(req, "Origin"), cookies), borrowed for
 * the call. Return 0 to accept, or an HTTP status 400..599 to refuse: the
 * client then gets that status (with the headers added by
 * wm_ws_handshake_header) and the connection closes without on_connect.
 * The hook may set the connection's user data and settings; it must not
 * send. */
typedef int (*wm_ws_handshake_cb)(wm_conn_t *c, const wm_http_request_t *req, wm_ws_handshake_t *hs,
                                  void *user_data);

void wm_ws_worker_on_handshake(wm_worker_t *w, wm_ws_handshake_cb cb, void *user_data);
/* Defaults for the worker's connections (wm_ws_on_ping, wm_ws_on_pong,
 * wm_ws_set_binary, wm_ws_set_heartbeat change one connection). */
void wm_ws_worker_on_ping(wm_worker_t *w, wm_ws_control_cb cb, void *user_data);
void wm_ws_worker_on_pong(wm_worker_t *w, wm_ws_control_cb cb, void *user_data);
void wm_ws_worker_set_binary(wm_worker_t *w, bool binary);
void wm_ws_worker_set_heartbeat(wm_worker_t *w, uint64_t idle_ms, uint64_t timeout_ms);
/* Closes a connection whose handshake has not completed `ms` after the
 * accept (0: never). Default WM_WS_DEFAULT_HANDSHAKE_TIMEOUT_MS. */
void wm_ws_worker_set_handshake_timeout(wm_worker_t *w, uint64_t ms);

/* The subprotocols the client offered (Sec-WebSocket-Protocol), in order;
 * strings borrowed for the hook's call. */
size_t wm_ws_handshake_protocol_count(const wm_ws_handshake_t *hs);
const char *wm_ws_handshake_protocol_at(const wm_ws_handshake_t *hs, size_t i);
/* Accepts `name` as the subprotocol (copied); it must be one the client
 * offered. Returns WM_OK or WM_EINVAL. */
int wm_ws_handshake_select_protocol(wm_ws_handshake_t *hs, const char *name);
/* Adds a header to the answer, 101 or refusal (copied). Returns WM_OK,
 * WM_EINVAL for a bad name or value (or one the protocol writes itself:
 * Upgrade, Connection, Sec-WebSocket-*, Content-Length), WM_ENOMEM. */
int wm_ws_handshake_header(wm_ws_handshake_t *hs, const char *name, const char *value);

/* ---- Client: per-connection settings (before wm_conn_connect) ---------- */

/* Sets the Origin header of the handshake (copied; NULL: none). */
int wm_ws_set_origin(wm_conn_t *c, const char *origin);
/* Offers subprotocols, a comma-separated list ("chat, superchat"; copied;
 * NULL: none). wm_ws_protocol() tells which one the server chose. */
int wm_ws_set_protocols(wm_conn_t *c, const char *protocols);
/* Adds a header to the handshake request (copied). Returns WM_OK, WM_EINVAL
 * for a bad name or value or one the client writes itself (Host, Upgrade,
 * Connection, Sec-WebSocket-Key/-Version/-Protocol, Origin). */
int wm_ws_add_header(wm_conn_t *c, const char *name, const char *value);
/* Sends a ping every `ms` (0: never, the default), whatever arrives.
 * Combine with wm_ws_set_heartbeat to also close a silent server. */
int wm_ws_set_ping_interval(wm_conn_t *c, uint64_t ms);
/* Fails an attempt whose handshake answer has not arrived `ms` after the
 * connection (TCP, and TLS for wss) was made. Default
 * WM_WS_DEFAULT_HANDSHAKE_TIMEOUT_MS; 0: never. */
int wm_ws_set_handshake_timeout(wm_conn_t *c, uint64_t ms);
/* The HTTP status of the last handshake answer (101 when it succeeded);
 * 0 before any answer. */
int wm_ws_handshake_status(const wm_conn_t *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
