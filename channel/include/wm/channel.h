/* SPDX-License-Identifier: MIT */
/* Channel client: events and durable queues carried between processes and
 * machines by one channel-server (docs/channel.md; the wire format is in
 * docs/protocol.md).
 *
 * Two APIs over the same server:
 * - wm_ch_client_t, asynchronous, on the process's wm loop: handlers for
 *   events (wm_ch_on) and queues (wm_ch_watch), publish / publish_loop /
 *   enqueue with an optional completion callback. One connection; when it
 *   ends the client reconnects with a back-off (retry_min_ms doubling up to
 *   retry_max_ms) and then subscribes again to every event and watches
 *   again every queue it had, before anything else is sent.
 * - wm_ch_sync_t, blocking, for plain programs (scripts, cron jobs, CLIs):
 *   publish and enqueue, one round trip each, no wm loop.
 *
 * While the asynchronous client is not connected, publish, publish_loop and
 * enqueue are kept in an offline queue (at most `max_offline` requests and
 * `max_offline_bytes` bytes; defaults 10000 and 16 MiB) and sent, in order,
 * once the connection is back. When the queue is full the oldest request is
 * dropped: wm_ch_client_stats() counts it, and its callback runs with
 * WM_ENOBUFS. Requests already sent when a connection ends are not sent
 * again (that could deliver an event twice): their callbacks run with
 * WM_ECONNRESET. An enqueue's callback with WM_OK means the server stored
 * the message in SQLite; with WM_ECONNRESET it may or may not have.
 *
 * Timeouts. A sent request whose reply has not come within
 * `request_timeout_ms` of the send (time in the offline queue does not
 * count) has its callback run with WM_ETIMEDOUT; like WM_ECONNRESET, the
 * request may still take effect (a late enqueue is still stored). The
 * connection stays open — a server that is only slow keeps this client's
 * subscriptions and watches — and the late reply is ignored; a server that
 * is gone is found by the transport and reconnected as above. An auth that
 * is not answered in time starts the connection over.
 *
 * Data. publish and enqueue send their bytes as a MessagePack str; handlers
 * get a wm_ch_msg_t whose data/len hold the payload of a str or bin, and
 * whose mp/mp_len always hold the whole value as the publisher encoded it
 * (walkor/channel's PHP clients may send arrays or integers).
 *
 * Queue messages. A watcher's callback gets each message with its id; call
 * wm_ch_ack() once it is handled. A message not acknowledged is delivered
 * again (to this or another watcher) after the queue's visibility timeout,
 * or when the connection ends; ids acknowledged after a reconnect are not
 * known to the new connection and are ignored (the message comes again).
 *
 * Promises of the asynchronous API (as hiredis and libuv make them):
 * 1. Each request's completion callback runs exactly once.
 * 2. If the starting call returns an error, the callback never runs.
 * 3. wm_ch_client_free() runs the pending callbacks with WM_ECANCELED.
 * 4. The client may be freed inside its own callbacks (handlers
 *    included); the other pending callbacks then run with WM_ECANCELED.
 * Callbacks always run from the loop, never inside the starting call. */
#ifndef WM_CHANNEL_H
#define WM_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wm/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* ---- Server answers that are not OK (docs/protocol.md's statuses) -------- */

#define WM_CH_ENOTFOUND (-4201)     /* ack: no such message in flight here */
#define WM_CH_EBADREQUEST (-4210)   /* the server refused the request's form */
#define WM_CH_EUNKNOWNOP (-4211)    /* the server does not know the operation */
#define WM_CH_ETOOLARGE (-4212)     /* a name or a message over the server's limit */
#define WM_CH_EAUTHREQUIRED (-4215) /* the server wants auth (set options.auth) */
#define WM_CH_EAUTHFAILED (-4216)   /* wrong secret */
#define WM_CH_EINTERNAL (-4220)     /* the server could not store the message */

/* A static text for a WM_CH_E* or any WM_E* code. Never NULL. */
const char *wm_ch_strerror(int status);

/* ---- Options ------------------------------------------------------------- */

/* Plain data, read by the _new() calls (strings are copied). Zero fields
 * take the defaults given. */
typedef struct wm_ch_options {
    const char *auth;            /* the server's --auth secret, or NULL */
    uint64_t connect_timeout_ms; /* default 3000 */
    uint64_t retry_min_ms;       /* first reconnect delay; default 100, doubling */
    uint64_t retry_max_ms;       /* reconnect delay cap; default 5000 */
    size_t max_offline;          /* requests kept while disconnected; default 10000 */
    size_t max_offline_bytes;    /* their bytes; default 16 MiB */
    uint64_t timeout_ms;         /* blocking API: one round trip; default 5000 */
    uint64_t request_timeout_ms; /* asynchronous API: a reply, from the send; default 10000 */
} wm_ch_options_t;

/* ---- Messages ------------------------------------------------------------ */

/* An event or a queue message, as a handler gets it. Every pointer is
 * borrowed until the handler returns. */
typedef struct wm_ch_msg {
    const char *name; /* the event's or the queue's name, NUL-terminated */
    const char *data; /* the payload of a str or bin value, else NULL */
    size_t len;       /* its bytes */
    const char *mp;   /* the whole value, MessagePack */
    size_t mp_len;
    bool is_queue;
    uint64_t id;         /* queue messages: the id to acknowledge */
    uint32_t deliveries; /* queue messages: 1, then 2 on the first redelivery... */
} wm_ch_msg_t;

typedef struct wm_ch_client wm_ch_client_t;

/* A handler: for events (wm_ch_on) and for queue messages (wm_ch_watch). */
typedef void (*wm_ch_msg_cb)(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data);

/* A request's completion. `result`: publish and publish_loop, how many
 * pushes the server sent; enqueue, the id of the message (of the first
 * queue's, when several); 0 on errors. */
typedef void (*wm_ch_done_cb)(wm_ch_client_t *c, int status, uint64_t result, void *user_data);

/* ---- The asynchronous client (on the wm loop) ---------------------------- */

/* Makes a client for the server at `url` ("HOST:PORT", "tcp://HOST:PORT",
 * "frame://HOST:PORT" or "unix:///PATH"; NULL: 127.0.0.1:2206) and starts
 * connecting. `opt` may be NULL. Returns NULL (the reason logged) for a bad
 * URL or out of memory. Caller frees with wm_ch_client_free(). */
wm_ch_client_t *wm_ch_client_new(const char *url, const wm_ch_options_t *opt);

/* Cancels every pending request (their callbacks run with WM_ECANCELED),
 * drops the offline queue the same way, closes the connection and frees
 * the client. Safe inside a callback of this client; NULL is ignored. */
void wm_ch_client_free(wm_ch_client_t *c);

/* Whether the connection is up (and restored: subscriptions and watches
 * were sent again). */
bool wm_ch_client_connected(const wm_ch_client_t *c);

/* Why the last starting call failed, or the last connection problem:
 * borrowed until the next call on the client. Never NULL. */
const char *wm_ch_client_last_error(const wm_ch_client_t *c);

typedef struct wm_ch_client_stats {
    uint64_t connects;        /* connections made (the first included) */
    uint64_t offline_queued;  /* requests waiting for the connection now */
    uint64_t offline_dropped; /* requests dropped because the queue was full */
    uint64_t events;          /* event pushes received */
    uint64_t queue_messages;  /* queue pushes received */
} wm_ch_client_stats_t;
void wm_ch_client_stats(const wm_ch_client_t *c, wm_ch_client_stats_t *out);

/* Calls `cb` for every event named `event` (a glob pattern such as
 * "user.*" matches names the server pushes) and subscribes to it. NULL
 * `event` sets the catch-all handler: it gets the events no other handler
 * took (subscribed with wm_ch_subscribe, or matching no handler). A second
 * call for the same event replaces its handler. `event` is copied;
 * `user_data` is borrowed until the handler is removed (wm_ch_unsubscribe)
 * or the client freed. Returns WM_OK, WM_EINVAL (a name of 0 or over 255
 * bytes) or WM_ENOMEM. */
int wm_ch_on(wm_ch_client_t *c, const char *event, wm_ch_msg_cb cb, void *user_data);

/* Subscribes to / unsubscribes from `n` events (1 to 1000) at once;
 * unsubscribing also removes their handlers. Kept by the client and sent
 * again after every reconnect. Names are copied. Returns WM_OK, WM_EINVAL
 * or WM_ENOMEM. */
int wm_ch_subscribe(wm_ch_client_t *c, const char *const *events, size_t n);
int wm_ch_unsubscribe(wm_ch_client_t *c, const char *const *events, size_t n);

/* Publishes data[0, len) to `n` events (1 to 1000): every subscriber of
 * each gets it once, in publish order. publish_loop sends each event's
 * message to one subscriber, in rotation. `cb` may be NULL (nobody is told
 * the result). Names and data are copied. Returns WM_OK (sent, or queued
 * while disconnected), WM_EINVAL or WM_ENOMEM. */
int wm_ch_publish(wm_ch_client_t *c, const char *const *events, size_t n, const void *data,
                  size_t len, wm_ch_done_cb cb, void *user_data);
int wm_ch_publish_loop(wm_ch_client_t *c, const char *const *events, size_t n, const void *data,
                       size_t len, wm_ch_done_cb cb, void *user_data);

/* Adds a message to `n` queues (1 to 1000), ready after `delay_ms` (0: at
 * once). `cb` runs with WM_OK once the server stored it in SQLite. As
 * wm_ch_publish for the rest. */
int wm_ch_enqueue(wm_ch_client_t *c, const char *const *queues, size_t n, const void *data,
                  size_t len, uint64_t delay_ms, wm_ch_done_cb cb, void *user_data);

/* Calls `cb` for each message of `queue`, with at most `inflight` (0: the
 * server's default, 100) unacknowledged at once on this client. Kept and
 * sent again after every reconnect. A second call replaces the handler.
 * `queue` is copied; `user_data` borrowed until wm_ch_unwatch. Returns
 * WM_OK, WM_EINVAL or WM_ENOMEM. */
int wm_ch_watch(wm_ch_client_t *c, const char *queue, uint32_t inflight, wm_ch_msg_cb cb,
                void *user_data);
/* Stops watching; unacknowledged messages go back to the queue. */
int wm_ch_unwatch(wm_ch_client_t *c, const char *queue);

/* Acknowledges a queue message: the server deletes it. Returns WM_OK, or
 * WM_ENOTCONN while disconnected (the message will come again). */
int wm_ch_ack(wm_ch_client_t *c, uint64_t id);

/* ---- The blocking client ------------------------------------------------- */

typedef struct wm_ch_sync wm_ch_sync_t;

/* Makes a blocking client; it connects on first use (and again after a
 * failure). Returns NULL for a bad URL or out of memory. */
wm_ch_sync_t *wm_ch_sync_new(const char *url, const wm_ch_options_t *opt);
void wm_ch_sync_free(wm_ch_sync_t *s);

/* Publishes to one event; *receivers (NULL allowed) gets the pushes sent.
 * Returns WM_OK, a WM_CH_E* answer or a transport error. A connection found
 * broken when reused is made again and the request sent once more. */
int wm_ch_sync_publish(wm_ch_sync_t *s, const char *event, const void *data, size_t len,
                       uint64_t *receivers);

/* Enqueues to one queue and waits until the server stored it; *id (NULL
 * allowed) gets the message's id. */
int wm_ch_sync_enqueue(wm_ch_sync_t *s, const char *queue, const void *data, size_t len,
                       uint64_t delay_ms, uint64_t *id);

/* Why the last call failed. Never NULL. */
const char *wm_ch_sync_last_error(const wm_ch_sync_t *s);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
