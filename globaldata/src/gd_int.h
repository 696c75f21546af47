/* SPDX-License-Identifier: MIT */
/* GlobalData's private interfaces: the wire codec (gd_proto.c), the store
 * (gd_store.c), its SQLite side (gd_persist.c) and the server's settings
 * (gd_server.c). Nothing here is public API; the client library of the next
 * round shares the codec through this header. docs/protocol.md is the wire
 * format these functions implement. */
#ifndef WM_GD_INT_H
#define WM_GD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include <wm/wm.h>

#include "svc_mp.h"

/* ---- Wire constants (docs/protocol.md) ----------------------------------- */

#define WM_GD_DEFAULT_PORT 2207
#define WM_GD_MAX_KEY 1024                        /* bytes in one key */
#define WM_GD_DEFAULT_MAX_VALUE (1024 * 1024)     /* bytes in one stored value */
#define WM_GD_DEFAULT_MAX_FRAME (8 * 1024 * 1024) /* one frame, header included */
#define WM_GD_MAX_DEPTH WM_MP_MAX_DEPTH           /* nesting of arrays and maps */
#define WM_GD_MAX_ARGS WM_SVC_MAX_ARGS            /* after [id, op] */
#define WM_GD_KEYS_DEFAULT 100                    /* keys: count when not given */
#define WM_GD_KEYS_MAX 1000                       /* keys: largest count */
#define WM_GD_MAX_TTL_MS (100ull * 365 * 24 * 3600 * 1000)

/* Response statuses: the second element of every response. */
enum wm__gd_status {
    WM_GD_OK = 0,
    WM_GD_NOT_FOUND = 1,    /* the key does not exist (or has expired) */
    WM_GD_EXISTS = 2,       /* add: the key exists */
    WM_GD_MISMATCH = 3,     /* cas: the value differs; the result is the current value */
    WM_GD_BAD_REQUEST = 10, /* malformed request: wrong arity or argument type */
    WM_GD_UNKNOWN_OP = 11,
    WM_GD_TOO_LARGE = 12,   /* a key or value over its limit */
    WM_GD_NOT_INTEGER = 13, /* increment: the stored value is not an integer */
    WM_GD_OVERFLOW = 14,    /* increment: the result does not fit in int64 */
    WM_GD_AUTH_REQUIRED = 15,
    WM_GD_AUTH_FAILED = 16,
    WM_GD_INTERNAL = 20 /* out of memory, or the data file failed */
};

/* Operations, in the order of the codec's table. */
enum wm__gd_op {
    WM_GD_OP_PING,
    WM_GD_OP_AUTH,
    WM_GD_OP_GET,
    WM_GD_OP_SET,
    WM_GD_OP_ADD,
    WM_GD_OP_CAS,
    WM_GD_OP_INCR,
    WM_GD_OP_DELETE,
    WM_GD_OP_EXISTS,
    WM_GD_OP_MGET,
    WM_GD_OP_MSET,
    WM_GD_OP_TTL,
    WM_GD_OP_EXPIRE,
    WM_GD_OP_PERSIST,
    WM_GD_OP_KEYS,
    WM_GD_OP_STATS,
    WM_GD_OP_COUNT
};

/* ---- The codec: MessagePack spans, requests, responses (gd_proto.c) ------ */

typedef wm__svc_req_t wm__gd_req_t;

/* A decoded response; `result` points into the frame. */
typedef struct wm__gd_resp {
    bool has_id; /* false for [nil, status, message]: the request was unreadable */
    uint64_t id;
    uint32_t status;
    wm__mp_span_t result;
} wm__gd_resp_t;

/* Decodes one request body (a frame's payload). Returns WM_OK, or WM_EPROTO
 * with *why set to a static reason. On WM_EPROTO, req->has_id tells whether
 * the id could be read (then the server answers with that id and keeps the
 * connection); req->op is -1 for an unknown op name. */
int wm__gd_req_decode(const char *buf, size_t len, wm__gd_req_t *req, const char **why);

/* Name, and allowed argument counts, of an op. */
const char *wm__gd_op_name(int op);

/* Starts a request: the array header for `nargs` arguments, the id and the
 * op's name. The caller packs the arguments. */
void wm__gd_req_begin(msgpack_packer *pk, uint64_t id, int op, uint32_t nargs);

/* Starts a response [id, status, result]: the caller packs the result. */
void wm__gd_resp_begin(msgpack_packer *pk, uint64_t id, uint32_t status);

/* A whole error response; a NULL id packs nil (an unreadable request). */
void wm__gd_resp_error(msgpack_packer *pk, const uint64_t *id, uint32_t status,
                       const char *message);

/* Decodes a response body. Returns WM_OK or WM_EPROTO with *why set. */
int wm__gd_resp_decode(const char *buf, size_t len, wm__gd_resp_t *resp, const char **why);

/* ---- The store (gd_store.c) ---------------------------------------------- */

typedef struct wm__gd_store wm__gd_store_t;
typedef struct wm__gd_entry wm__gd_entry_t;

/* Called when a key expires (lazily or by the sweep), before it is freed,
 * so persistence can delete it too. */
typedef void (*wm__gd_expired_cb)(const char *key, size_t klen, void *user_data);

wm__gd_store_t *wm__gd_store_new(wm__gd_expired_cb on_expired, void *user_data);
/* The store's key hash, with a seed the caller keeps secret (per process),
 * so clients cannot choose keys that collide. */
uint64_t wm__gd_hash_key(uint64_t seed, const char *p, size_t n);
void wm__gd_store_free(wm__gd_store_t *s);

/* Looks a key up; a key whose expiry time is <= now_ms is deleted (and
 * reported) and NULL returned. */
wm__gd_entry_t *wm__gd_store_find(wm__gd_store_t *s, const char *key, size_t klen, int64_t now_ms);

/* Creates or replaces `key` with a copy of `val`, expiring at `expire_at`
 * (Unix ms; 0 = never). Returns the entry, or NULL when out of memory (the
 * store is then unchanged). */
wm__gd_entry_t *wm__gd_store_put(wm__gd_store_t *s, const char *key, size_t klen, const char *val,
                                 size_t vlen, int64_t expire_at);

/* Replaces an entry's value (copied). WM_OK or WM_ENOMEM (unchanged). */
int wm__gd_store_set_value(wm__gd_store_t *s, wm__gd_entry_t *e, const char *val, size_t vlen);
void wm__gd_store_set_expire(wm__gd_store_t *s, wm__gd_entry_t *e, int64_t expire_at);
void wm__gd_store_delete(wm__gd_store_t *s, wm__gd_entry_t *e);

/* An entry's fields, borrowed until it changes. */
const char *wm__gd_entry_key(const wm__gd_entry_t *e, size_t *klen);
const char *wm__gd_entry_value(const wm__gd_entry_t *e, size_t *vlen);
int64_t wm__gd_entry_expire(const wm__gd_entry_t *e);

/* Keys by prefix in byte order, after `cursor` (NULL: from the start). Calls
 * `cb` for at most `limit` live keys and looks at no more than 10 * limit + 10
 * entries (expired ones are skipped, not returned). Returns true when more
 * may follow; then *next and *next_len is the last key looked at, the cursor for
 * the next call (borrowed until the store changes). */
typedef void (*wm__gd_key_cb)(const char *key, size_t klen, void *user_data);
bool wm__gd_store_scan(wm__gd_store_t *s, const char *prefix, size_t plen, const char *cursor,
                       size_t clen, size_t limit, int64_t now_ms, wm__gd_key_cb cb, void *user_data,
                       const char **next, size_t *next_len);

/* Deletes at most `budget` keys whose time has come. Returns how many. */
size_t wm__gd_store_expire_due(wm__gd_store_t *s, int64_t now_ms, size_t budget);

size_t wm__gd_store_count(const wm__gd_store_t *s);
size_t wm__gd_store_expiring(const wm__gd_store_t *s);
size_t wm__gd_store_bytes(const wm__gd_store_t *s); /* keys + values */
uint64_t wm__gd_store_expired_total(const wm__gd_store_t *s);

/* ---- Persistence (gd_persist.c) ------------------------------------------ */

typedef enum wm__gd_durability {
    WM_GD_DURABILITY_NONE = 0,
    WM_GD_DURABILITY_NORMAL = 1,
    WM_GD_DURABILITY_FULL = 2
} wm__gd_durability_t;

typedef struct wm__gd_persist wm__gd_persist_t;

/* Called on the loop after a transaction committed: every write with a
 * sequence number <= committed is now in the database file. */
typedef void (*wm__gd_commit_cb)(uint64_t committed, void *user_data);

/* Opens (creating) the SQLite file in WAL mode with an exclusive lock, so a
 * second server on the same file fails here. Returns NULL with `err` filled. */
wm__gd_persist_t *wm__gd_persist_open(const char *path, wm__gd_durability_t durability, char *err,
                                      size_t errlen);

/* Loads every unexpired row into `s` and deletes the expired ones. Runs
 * before the writer starts. Returns WM_OK or WM_EIO-like code with `err`. */
int wm__gd_persist_load(wm__gd_persist_t *p, wm__gd_store_t *s, int64_t now_ms, size_t *loaded,
                        size_t *dropped, char *err, size_t errlen);

/* Starts the writer thread and the loop's completion event. */
int wm__gd_persist_start(wm__gd_persist_t *p, wm__gd_commit_cb cb, void *user_data);

/* Queues an upsert or a delete. Returns its sequence number (> 0), or 0 when
 * out of memory. Never blocks on the disk. */
uint64_t wm__gd_persist_put(wm__gd_persist_t *p, const char *key, size_t klen, const char *val,
                            size_t vlen, int64_t expire_at);
uint64_t wm__gd_persist_del(wm__gd_persist_t *p, const char *key, size_t klen);

/* The highest sequence number known committed (read on the loop). */
uint64_t wm__gd_persist_committed(const wm__gd_persist_t *p);

typedef struct wm__gd_persist_stats {
    uint64_t queued;    /* writes waiting for the writer */
    uint64_t commits;   /* transactions committed */
    uint64_t rows;      /* writes committed */
    uint64_t failures;  /* transactions that failed (and were retried) */
    uint64_t committed; /* highest committed sequence number */
} wm__gd_persist_stats_t;
void wm__gd_persist_get_stats(wm__gd_persist_t *p, wm__gd_persist_stats_t *st);

/* Commits everything queued, stops the writer and closes the file. Blocks
 * (it runs when the server stops). NULL is ignored. */
void wm__gd_persist_close(wm__gd_persist_t *p);

/* ---- The server (gd_server.c) -------------------------------------------- */

typedef struct wm__gd_config {
    const char *listen; /* a wm URL: frame URL, TCP or unix socket */
    const char *data;   /* the SQLite file, or NULL with memory */
    bool memory;
    wm__gd_durability_t durability;
    const char *auth; /* the shared secret, or NULL */
    size_t max_value;
    size_t max_frame;
} wm__gd_config_t;

/* Makes the globaldata worker (count 1, not reloadable) for wm_run_all().
 * `cfg` is borrowed for the life of the process. Returns WM_OK or a code. */
int wm__gd_server_setup(const wm__gd_config_t *cfg);

/* Wall-clock milliseconds (expiry times are Unix ms so they survive restarts). */
int64_t wm__gd_wall_ms(void);

#endif
