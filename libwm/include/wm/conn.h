/* SPDX-License-Identifier: MIT */
/* Connections: accepted ones (Workerman's TcpConnection), outgoing ones
 * (AsyncTcpConnection) and UDP peers, behind one API.
 *
 * Ownership and lifetime
 * - An accepted connection belongs to its worker. The pointer handed to a
 *   callback stays valid until on_close has returned; after that it is freed
 *   by the loop. Keep the id (wm_conn_id) and look it up with wm_conn_find()
 *   if you need to reach a connection later.
 * - An outgoing connection is made by wm_conn_new() and belongs to the
 *   caller until wm_conn_connect() succeeds; from then on it is freed after
 *   its on_close returns, unless wm_conn_reconnect() or wm_conn_connect()
 *   was called (in on_close, on_error, or earlier), in which case it lives
 *   on and connects again. wm_conn_destroy() frees it in any state, and an
 *   on_close run by the destroy cannot re-arm a reconnect.
 * - A UDP peer passed to a udp:// worker's on_message is valid only during
 *   that callback.
 * - Closing, destroying or freeing any connection (this one or another) is
 *   safe inside any callback: memory is released by the loop after the
 *   callbacks on the stack have returned, and calls on a closed connection
 *   return WM_ENOTCONN.
 *
 * Callback promises
 * - on_connect runs once the connection is established (accepted, or the
 *   outgoing connect completed).
 * - on_close runs exactly once per connection (per attempt, for outgoing
 *   connections that reconnect), however it ends: peer close, error, close,
 *   destroy, connect failure, worker stop or loop free.
 * - on_error runs before on_close when the connection ends because of an
 *   error (connect failure, protocol error, message too big), and also when
 *   a send was dropped because the send buffer was full (the connection then
 *   stays open).
 * - on_buffer_full runs when the send queue reaches the max send buffer;
 *   on_buffer_drain runs when it has been written out completely after that
 *   (or after wm_conn_want_drain(), whatever the queue reached).
 *
 * Every callback gets the user_data given when it was set. A connection
 * starts with its worker's callbacks; wm_conn_on_*() replace them for that
 * one connection. */
#ifndef WM_CONN_H
#define WM_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "loop.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct wm_conn wm_conn_t;
typedef struct wm_worker wm_worker_t;

typedef void (*wm_conn_cb)(wm_conn_t *c, void *user_data);
typedef void (*wm_message_cb)(wm_conn_t *c, const wm_msg_t *msg, void *user_data);
/* `err` is a WM_E* code; `reason` is borrowed for the call. */
typedef void (*wm_conn_error_cb)(wm_conn_t *c, int err, const char *reason, void *user_data);

#define WM_DEFAULT_MAX_SEND_BUFFER (1024 * 1024)
#define WM_DEFAULT_MAX_PACKAGE (10 * 1024 * 1024)
#define WM_DEFAULT_CONNECT_TIMEOUT_MS 10000

typedef enum wm_conn_state {
    WM_CONN_INITIAL = 0,     /* outgoing, not connecting yet */
    WM_CONN_CONNECTING = 1,  /* resolving or connecting */
    WM_CONN_ESTABLISHED = 2, /* open both ways */
    WM_CONN_CLOSING = 3,     /* close requested: flushing the send queue */
    WM_CONN_CLOSED = 4       /* ended; on_close has run or is running */
} wm_conn_state_t;

/* Results of wm_conn_send() that are not errors. */
#define WM_SENT 0   /* handed to the kernel completely */
#define WM_QUEUED 1 /* (partly) queued; goes out when the socket is writable */

/* ---- Sending and closing ---------------------------------------------- */

/* Encodes `data` with the connection's protocol and sends it. `data` is
 * copied (or written at once). Returns WM_SENT, WM_QUEUED, or:
 *   WM_ENOBUFS   the send queue was already at its limit: the data was
 *                dropped and on_error ran with WM_ENOBUFS;
 *   WM_ENOTCONN  the connection is closing or closed;
 *   another WM_E* code when encoding failed.
 * An outgoing connection queues data sent before wm_conn_connect(), while
 * connecting, and while waiting to reconnect; it goes out once connected. */
int wm_conn_send(wm_conn_t *c, const void *data, size_t len);

/* As wm_conn_send(), but the bytes go out as they are, without encode. */
int wm_conn_send_raw(wm_conn_t *c, const void *data, size_t len);

/* Stops reading, sends what is queued, then closes and runs on_close.
 * Returns WM_OK, or WM_ENOTCONN when already closing or closed. */
int wm_conn_close(wm_conn_t *c);

/* Sends one last message (encoded), then closes as wm_conn_close(). */
int wm_conn_close_with(wm_conn_t *c, const void *data, size_t len);

/* Closes now, dropping anything queued, and runs on_close. For an outgoing
 * connection this also cancels a pending reconnect and frees it. Safe on
 * any connection in any state, any number of times. */
void wm_conn_destroy(wm_conn_t *c);

/* ---- Flow control ------------------------------------------------------ */

/* Stops delivering messages; the kernel's receive window then pushes back
 * on the peer. */
void wm_conn_pause_recv(wm_conn_t *c);
/* Delivers what is already buffered, then reads again — unless something
 * else still holds the connection: a pipe whose destination is full, or
 * the protocol (an http:// connection waits for the answer to the current
 * request). Those holds are separate: resuming never lifts them, and they
 * never lift a pause made here. */
void wm_conn_resume_recv(wm_conn_t *c);
/* True while delivery is held for any of those reasons. */
bool wm_conn_is_paused(const wm_conn_t *c);

/* Proxies `src` into `dst`: every message of `src` is sent to `dst`;
 * when `dst`'s send queue is full `src` pauses, and resumes when it drains;
 * when `src` closes, `dst` is closed after its queue is flushed. Call it twice
 * (a→b and b→a) for a two-way proxy. Replaces src's on_message, on_close and
 * dst's on_buffer_full/drain handling for the piping; dst's own on_close and
 * on_error still run. Returns WM_OK or WM_ENOTCONN. */
int wm_conn_pipe(wm_conn_t *src, wm_conn_t *dst);

/* Limits, per connection (a worker's setting is the default for its
 * connections). The send limit is checked before each send; the package
 * limit bounds one incoming message. */
void wm_conn_set_max_send_buffer(wm_conn_t *c, size_t bytes);
size_t wm_conn_max_send_buffer(const wm_conn_t *c);
void wm_conn_set_max_package(wm_conn_t *c, size_t bytes);
size_t wm_conn_max_package(const wm_conn_t *c);

/* Batching (off by default). When on, sends are queued and reach the
 * kernel in one write per connection:
 * - what on_message sends on its own connection goes after the last
 *   message of the read: a client that pipelines 16 requests gets its 16
 *   replies in one segment instead of 16 system calls;
 * - what is sent from elsewhere (another connection's message, a timer)
 *   goes at the end of the loop turn: 100 events published to a subscriber
 *   within one turn leave in one write, not 100.
 * Such sends return WM_QUEUED (the limit and on_buffer_full apply as
 * usual). Nothing waits longer than the current loop turn. For servers
 * whose clients pipeline, and for fan-out (pub/sub, broadcasts). */
void wm_conn_set_batch_sends(wm_conn_t *c, bool on);

/* Asks for one on_buffer_drain when the send queue is next written out
 * completely, even if it never reached the max send buffer: for a producer
 * that keeps its own backlog behind a lower bound than the limit (such as
 * channel-server's slow subscribers) and refills from the callback. Returns
 * true when armed; false when nothing is queued (send now: no callback
 * will come) or the connection is closing or closed. Asking twice before
 * the drain still runs the callback once. */
bool wm_conn_want_drain(wm_conn_t *c);

/* ---- Callbacks (replace the worker's for this connection) -------------- */

void wm_conn_on_connect(wm_conn_t *c, wm_conn_cb cb, void *user_data);
void wm_conn_on_message(wm_conn_t *c, wm_message_cb cb, void *user_data);
void wm_conn_on_close(wm_conn_t *c, wm_conn_cb cb, void *user_data);
void wm_conn_on_error(wm_conn_t *c, wm_conn_error_cb cb, void *user_data);
void wm_conn_on_buffer_full(wm_conn_t *c, wm_conn_cb cb, void *user_data);
void wm_conn_on_buffer_drain(wm_conn_t *c, wm_conn_cb cb, void *user_data);

/* ---- Facts about a connection ----------------------------------------- */

/* Per-process id, unique for the process's life (never reused), > 0. */
uint64_t wm_conn_id(const wm_conn_t *c);
/* Looks a live connection of this process up by id; NULL when gone. */
wm_conn_t *wm_conn_find(uint64_t id);
/* The worker that accepted it; NULL for outgoing connections. */
wm_worker_t *wm_conn_worker(const wm_conn_t *c);
wm_conn_state_t wm_conn_state(const wm_conn_t *c);
const wm_protocol_t *wm_conn_protocol(const wm_conn_t *c);

/* Addresses as text ("127.0.0.1", "::1", or the socket path for unix
 * sockets; "" when unknown) and ports (0 for unix sockets). Borrowed: valid
 * as long as the connection. */
const char *wm_conn_remote_ip(const wm_conn_t *c);
uint16_t wm_conn_remote_port(const wm_conn_t *c);
const char *wm_conn_local_ip(const wm_conn_t *c);
uint16_t wm_conn_local_port(const wm_conn_t *c);
/* "ip:port", "[ip6]:port" or the unix path. Borrowed, as above. */
const char *wm_conn_remote_address(const wm_conn_t *c);

/* Byte counters since the connection was made (all attempts, for outgoing
 * connections that reconnect), and the bytes waiting in each direction. */
uint64_t wm_conn_bytes_read(const wm_conn_t *c);
uint64_t wm_conn_bytes_written(const wm_conn_t *c);
size_t wm_conn_send_queue(const wm_conn_t *c);
size_t wm_conn_recv_queue(const wm_conn_t *c);

/* User data. `free_cb`, if not NULL, is called with it when the connection
 * is freed (or when replaced by another call). */
void wm_conn_set_user_data(wm_conn_t *c, void *user_data, wm_free_cb free_cb);
void *wm_conn_user_data(const wm_conn_t *c);

/* ---- Outgoing connections (Workerman's AsyncTcpConnection) ------------- */

/* Makes an outgoing connection for `url` ("tcp://host:port", "text://…",
 * "frame://…", any registered scheme, "udp://host:port", "unix:///path",
 * "[::1]" for IPv6). Nothing happens until wm_conn_connect(). Returns NULL on
 * a bad URL or unknown scheme (logged). The caller owns it until it connects;
 * wm_conn_destroy() frees it. */
wm_conn_t *wm_conn_new(const char *url);

/* Starts connecting, from the loop: no callback runs before this returns.
 * Host names are resolved on the loop (evdns), never blocking; every
 * resolved address is tried in turn. Success runs on_connect; failure runs
 * on_error (WM_EDNS, WM_ECONNREFUSED, WM_ETIMEDOUT, …) and then on_close.
 * The state is WM_CONN_CONNECTING from the call on. Returns WM_OK, or
 * WM_ENOTCONN when the connection is not idle (or is being destroyed). */
int wm_conn_connect(wm_conn_t *c);

/* Connects again after `after_ms` (closing the current socket first, which
 * runs on_close, when it is open). Data sent meanwhile is queued. Returns
 * WM_OK, WM_EINVAL for accepted connections, or WM_ENOTCONN once
 * wm_conn_destroy() was called. */
int wm_conn_reconnect(wm_conn_t *c, uint64_t after_ms);

/* Bounds resolving plus connecting; 0 means no limit. Default
 * WM_DEFAULT_CONNECT_TIMEOUT_MS. */
void wm_conn_set_connect_timeout(wm_conn_t *c, uint64_t ms);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
