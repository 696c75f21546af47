/* SPDX-License-Identifier: MIT */
/* Channel's private interfaces: the wire codec (ch_proto.c), the queue
 * store's SQLite side (ch_persist.c) and the server's settings (ch_server.c).
 * Nothing here is public API. docs/protocol.md is the wire format these
 * functions implement; common/src/svc_mp.h the MessagePack reader and the
 * request envelope shared with GlobalData. */
#ifndef WM_CH_INT_H
#define WM_CH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <wm/wm.h>

#include "svc_mp.h"
#include "svc_sqlite.h"

/* ---- Wire constants (docs/protocol.md) ----------------------------------- */

#define WM_CH_DEFAULT_PORT 2206
#define WM_CH_MAX_NAME 255                         /* bytes in an event or queue name */
#define WM_CH_MAX_NAMES 1000                       /* names in one request */
#define WM_CH_MAX_SUBS 10000                       /* subscriptions of one connection */
#define WM_CH_DEFAULT_MAX_FRAME (8 * 1024 * 1024)  /* one frame, header included */
#define WM_CH_DEFAULT_MAX_BUFFER (4 * 1024 * 1024) /* a connection's unsent pushes */
#define WM_CH_DEFAULT_INFLIGHT 100                 /* queue messages per watcher */
#define WM_CH_MAX_INFLIGHT 100000
#define WM_CH_DEFAULT_VISIBILITY_MS 30000
#define WM_CH_MAX_DELAY_MS (365ll * 24 * 3600 * 1000)

/* Response statuses: the second element of every response (GlobalData's). */
enum wm__ch_status {
    WM_CH_OK = 0,
    WM_CH_NOT_FOUND = 1, /* ack: no such message in flight on this connection */
    WM_CH_BAD_REQUEST = 10,
    WM_CH_UNKNOWN_OP = 11,
    WM_CH_TOO_LARGE = 12,
    WM_CH_AUTH_REQUIRED = 15,
    WM_CH_AUTH_FAILED = 16,
    WM_CH_INTERNAL = 20
};

enum wm__ch_op {
    WM_CH_OP_PING,
    WM_CH_OP_AUTH,
    WM_CH_OP_SUBSCRIBE,
    WM_CH_OP_UNSUBSCRIBE,
    WM_CH_OP_PUBLISH,
    WM_CH_OP_PUBLISH_LOOP,
    WM_CH_OP_ENQUEUE,
    WM_CH_OP_WATCH,
    WM_CH_OP_UNWATCH,
    WM_CH_OP_ACK,
    WM_CH_OP_STATS,
    WM_CH_OP_COUNT
};

/* ---- The codec (ch_proto.c) ---------------------------------------------- */

/* Decodes one MessagePack request body; as wm__svc_req_decode. */
int wm__ch_req_decode(const char *buf, size_t len, wm__svc_req_t *req, const char **why);

/* A list of names: one str, or an array of 1..WM_CH_MAX_NAMES str of
 * 1..WM_CH_MAX_NAME bytes. Iterate with wm__ch_names_next. */
typedef struct wm__ch_names {
    const char *p; /* the next element */
    uint32_t left;
} wm__ch_names_t;
int wm__ch_names_open(wm__mp_span_t s, wm__ch_names_t *it, const char **why);
bool wm__ch_names_next(wm__ch_names_t *it, const char **name, size_t *len);

/* Pushes, packed into pk: ["event", name, data] and
 * ["queue", name, id, data, deliveries]. `data` is one checked object. */
void wm__ch_pack_event(msgpack_packer *pk, const char *name, size_t nlen, const char *data,
                       size_t dlen);
void wm__ch_pack_queue(msgpack_packer *pk, const char *name, size_t nlen, uint64_t id,
                       const char *data, size_t dlen, uint32_t deliveries);

/* walkor/channel's request: PHP serialize() of ['type' => ..., 'channels' =>
 * [...], 'data' => ...]. */
enum wm__ch_php_type {
    WM_CH_PHP_SUBSCRIBE,
    WM_CH_PHP_UNSUBSCRIBE,
    WM_CH_PHP_PUBLISH,
    WM_CH_PHP_PUBLISH_LOOP,
    WM_CH_PHP_WATCH,
    WM_CH_PHP_UNWATCH,
    WM_CH_PHP_ENQUEUE,
    WM_CH_PHP_RESERVE
};

typedef struct wm__ch_php_req {
    int type;
    const msgpack_object *channels; /* an array or map of names (values), or NULL */
    const msgpack_object *data;     /* NULL when absent */
} wm__ch_php_req_t;

/* Unserializes body into `zone` and reads it as a request. Returns WM_OK or
 * WM_EPROTO with *why set. Names in `channels` are checked by the caller
 * with wm__ch_php_name. */
int wm__ch_php_decode(const char *body, size_t len, msgpack_zone *zone, msgpack_object *root,
                      wm__ch_php_req_t *req, const char **why);

/* The i-th channel name of a PHP request (strings, or integers written in
 * decimal as PHP's array keys are); false when it is neither or too long. */
bool wm__ch_php_name(const msgpack_object *o, char *buf, size_t buflen, const char **name,
                     size_t *len);

/* Appends PHP serialize() of ['type' => type, 'channel' => name, 'data' =>
 * data] to out; `data` is MessagePack bytes (checked). WM_OK, WM_EINVAL
 * (data has no PHP form) or WM_ENOMEM. */
int wm__ch_php_push(msgpack_sbuffer *out, msgpack_zone *zone, const char *type, const char *name,
                    size_t nlen, const char *data, size_t dlen);

/* ---- Queue persistence (ch_persist.c) ------------------------------------ */

typedef struct wm__ch_persist wm__ch_persist_t;

/* A stored message, as loaded at start. */
typedef void (*wm__ch_load_cb)(uint64_t id, const char *queue, size_t qlen, const char *data,
                               size_t dlen, int64_t ready_at, void *user_data);

wm__ch_persist_t *wm__ch_persist_open(const char *path, char *err, size_t errlen);
/* Calls cb for every stored message in id order; *max_id is the largest. */
int wm__ch_persist_load(wm__ch_persist_t *p, wm__ch_load_cb cb, void *user_data, uint64_t *max_id,
                        char *err, size_t errlen);
int wm__ch_persist_start(wm__ch_persist_t *p, wm__svc_commit_cb cb, void *user_data);
/* Queue an insert / a delete; the sequence number, or 0 when out of memory. */
uint64_t wm__ch_persist_insert(wm__ch_persist_t *p, uint64_t id, const char *queue, size_t qlen,
                               const char *data, size_t dlen, int64_t ready_at);
uint64_t wm__ch_persist_delete(wm__ch_persist_t *p, uint64_t id);
uint64_t wm__ch_persist_committed(const wm__ch_persist_t *p);
void wm__ch_persist_get_stats(wm__ch_persist_t *p, wm__svc_writer_stats_t *st);
void wm__ch_persist_close(wm__ch_persist_t *p);

/* ---- The server (ch_server.c) -------------------------------------------- */

/* What a subscriber that reads too slowly costs (docs/channel.md): its
 * oldest waiting pushes, or its connection. */
typedef enum wm__ch_slow_policy {
    WM_CH_SLOW_DROP_OLDEST,
    WM_CH_SLOW_DISCONNECT
} wm__ch_slow_policy_t;

typedef struct wm__ch_config {
    const char *listen; /* a wm URL: frame URL, TCP or unix socket */
    const char *data;   /* the SQLite file for queues */
    const char *auth;   /* the shared secret, or NULL */
    size_t max_frame;
    size_t max_buffer; /* bytes of pushes a connection may hold unsent */
    wm__ch_slow_policy_t slow_policy;
    uint32_t inflight;     /* default per-watcher limit */
    int64_t visibility_ms; /* default visibility timeout */
} wm__ch_config_t;

int wm__ch_server_setup(const wm__ch_config_t *cfg);

#endif
