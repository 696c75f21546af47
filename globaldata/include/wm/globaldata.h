/* SPDX-License-Identifier: MIT */
/* GlobalData client: shared variables kept by one or several
 * globaldata-server processes (docs/globaldata.md, wire format in
 * docs/protocol.md).
 *
 * Two APIs over the same operations:
 * - wm_gd_client_t, asynchronous, on the process's wm loop: every request
 *   takes a callback, requests are pipelined on one connection per server,
 *   each has its own deadline, and a lost server is reconnected with a
 *   back-off.
 * - wm_gd_sync_t, blocking, for plain programs: no wm loop needed (it uses
 *   its own blocking sockets), one call = one round trip.
 *
 * Several servers: keys are spread over a consistent-hash ring (160 virtual
 * points per server, FNV-1a 64 of "URL#i"), so adding a fifth server to four
 * moves about a fifth of the keys. Requests for a server that is down fail at
 * once with WM_ENOTCONN (the reason names the server), while the keys of the
 * other servers keep working. mget and mset split their keys by server and
 * merge the answers. keys and stats address one server by its index.
 *
 * Values are MessagePack, stored as given. wm_gd_val_t is a small view of
 * one value: scalars are decoded into its fields, and `mp` always holds the
 * whole object's bytes (arrays and maps are read with wm_gd_val_at()).
 *
 * Promises of the asynchronous API (as hiredis and libuv make them):
 * 1. Each request's callback runs exactly once.
 * 2. If the starting call returns an error, the callback never runs.
 * 3. wm_gd_client_free() runs the pending callbacks with WM_ECANCELED.
 * 4. The client may be freed inside its own callback (the other pending
 *    callbacks then run with WM_ECANCELED before the free returns).
 * Callbacks always run from the loop, never inside the starting call.
 *
 * Statuses. WM_OK, a server answer below (WM_GD_E*), or a transport error:
 * WM_ETIMEDOUT (the request's deadline passed; a late answer is dropped),
 * WM_ECONNREFUSED / WM_ECONNRESET / WM_ENOTCONN (the server could not be
 * reached or the connection ended before the answer), WM_EPROTO (the server
 * sent something unreadable; the connection is dropped), WM_ECANCELED.
 * wm_gd_strerror() names any of them. */
#ifndef WM_GLOBALDATA_H
#define WM_GLOBALDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wm/error.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* ---- Server answers that are not OK (docs/protocol.md's statuses) -------- */

#define WM_GD_ENOTFOUND (-4101)     /* no such key (result: nil) */
#define WM_GD_EEXISTS (-4102)       /* add: the key exists */
#define WM_GD_EMISMATCH (-4103)     /* cas: the value differs (result: the current value) */
#define WM_GD_EBADREQUEST (-4110)   /* the server refused the request's form */
#define WM_GD_EUNKNOWNOP (-4111)    /* the server does not know the operation */
#define WM_GD_ETOOLARGE (-4112)     /* a key or value over the server's limit */
#define WM_GD_ENOTINT (-4113)       /* increment: the value is not an integer */
#define WM_GD_EOVERFLOW (-4114)     /* increment: the result overflows int64 */
#define WM_GD_EAUTHREQUIRED (-4115) /* the server wants auth (set options.auth) */
#define WM_GD_EAUTHFAILED (-4116)   /* wrong secret */
#define WM_GD_EINTERNAL (-4120)     /* the server ran out of memory or its file failed */

/* A static text for a WM_GD_E* or any WM_E* code. Never NULL. */
const char *wm_gd_strerror(int status);

/* ---- Values -------------------------------------------------------------- */

typedef enum wm_gd_type {
    WM_GD_TYPE_NIL,
    WM_GD_TYPE_BOOL,
    WM_GD_TYPE_INT,  /* any integer that fits int64: `i` */
    WM_GD_TYPE_UINT, /* an integer above INT64_MAX: `u` */
    WM_GD_TYPE_FLOAT,
    WM_GD_TYPE_STR,
    WM_GD_TYPE_BIN,
    WM_GD_TYPE_ARRAY, /* `len` elements */
    WM_GD_TYPE_MAP,   /* `len` pairs */
    WM_GD_TYPE_EXT
} wm_gd_type_t;

/* A view of one MessagePack value. In results every pointer is borrowed
 * until the callback returns (async) or the next call on the handle
 * (blocking). As an argument, `mp` when not NULL is what gets stored (it
 * must hold exactly one well-formed object); otherwise the scalar fields are
 * packed according to `type` (NIL, BOOL, INT, UINT, FLOAT, STR, BIN). */
typedef struct wm_gd_val {
    wm_gd_type_t type;
    bool b;
    int64_t i;
    uint64_t u;
    double f;
    const char *data; /* STR, BIN, EXT payload (not NUL-terminated) */
    size_t len;       /* payload bytes, or elements of ARRAY / pairs of MAP */
    int8_t ext_type;
    const char *mp; /* the whole object, encoded */
    size_t mp_len;
} wm_gd_val_t;

/* Values to pass as arguments. Strings are borrowed until the call that
 * takes the value returns (requests copy what they send). */
wm_gd_val_t wm_gd_nil(void);
wm_gd_val_t wm_gd_bool(bool b);
wm_gd_val_t wm_gd_int(int64_t i);
wm_gd_val_t wm_gd_float(double f);
wm_gd_val_t wm_gd_str(const char *s); /* NUL-terminated */
wm_gd_val_t wm_gd_strn(const char *s, size_t len);
wm_gd_val_t wm_gd_bin(const void *p, size_t len);
/* Any value, already encoded (an array, a map, ...): checked when sent. */
wm_gd_val_t wm_gd_msgpack(const void *mp, size_t len);

/* Reads one MessagePack object from mp[0, len) into a view (nothing is
 * copied). Returns WM_OK, or WM_EPROTO when it is not exactly one
 * well-formed object (nested at most 64 deep). */
int wm_gd_val_parse(const void *mp, size_t len, wm_gd_val_t *out);

/* Element `i` of an ARRAY (key may be NULL), or pair `i` of a MAP (key and
 * value). Walks from the start: O(i). Returns WM_OK, WM_EINVAL when v is not
 * a container, WM_ENOENT when i is past the end. */
int wm_gd_val_at(const wm_gd_val_t *v, size_t i, wm_gd_val_t *key, wm_gd_val_t *out);

/* The value of `key` (a STR key) in a MAP; WM_ENOENT when absent. */
int wm_gd_val_get(const wm_gd_val_t *map, const char *key, wm_gd_val_t *out);

/* Whether v is a STR equal to s. */
bool wm_gd_val_is_str(const wm_gd_val_t *v, const char *s);

/* ---- Options ------------------------------------------------------------- */

/* Plain data, read by the _new() calls (strings are copied). Zero fields take
 * the defaults given. */
typedef struct wm_gd_options {
    /* "HOST:PORT", "[IPv6]:PORT", "tcp://HOST:PORT", "frame://HOST:PORT"
     * or "unix:///PATH". Their order and spelling place them on the ring:
     * give every client the same list. At least one. */
    const char *const *servers;
    size_t server_count;
    const char *auth;            /* the server's --auth secret, or NULL */
    uint64_t timeout_ms;         /* per request, from its start; default 5000 */
    uint64_t connect_timeout_ms; /* default 3000 */
    uint64_t retry_min_ms;       /* first reconnect delay; default 100, doubling */
    uint64_t retry_max_ms;       /* reconnect delay cap; default 5000 */
    unsigned vnodes;             /* points per server on the ring; default 160 */
} wm_gd_options_t;

/* ---- The asynchronous client (on the wm loop) ---------------------------- */

typedef struct wm_gd_client wm_gd_client_t;

/* `status` is WM_OK or an error (see above). `result` is never NULL:
 *   get: the value (ENOTFOUND: nil); set, add, cas, expire, mset: nil;
 *   increment: INT, the new value; delete, exists: BOOL; persist: BOOL,
 *   whether an expiry was removed; ttl: INT milliseconds left, or nil
 *   when the key never expires; mget: a MAP of the keys found to their
 *   values; keys: ARRAY [next cursor (STR) or nil, ARRAY of STR keys];
 *   stats: a MAP of counters; on EMISMATCH the current value; on any other
 *   error a STR with the reason.
 * `result` and everything it points to is borrowed until the callback
 * returns. */
typedef void (*wm_gd_cb)(wm_gd_client_t *c, int status, const wm_gd_val_t *result, void *user_data);

/* Makes a client and starts connecting to every server. Returns NULL (the
 * reason logged) for no servers, a bad URL, or out of memory. Caller frees
 * with wm_gd_client_free(). */
wm_gd_client_t *wm_gd_client_new(const wm_gd_options_t *opt);

/* Cancels every pending request (their callbacks run with WM_ECANCELED),
 * closes the connections and frees the client. Safe inside a callback of
 * this client; NULL is ignored. */
void wm_gd_client_free(wm_gd_client_t *c);

/* The deadline of requests started from now on. */
void wm_gd_client_set_timeout(wm_gd_client_t *c, uint64_t ms);

/* Why the last starting call failed, or the last connection problem:
 * borrowed until the next call on the client. Never NULL. */
const char *wm_gd_client_last_error(const wm_gd_client_t *c);

/* Servers: how many, which one holds `key` (an index), its URL as given,
 * whether it is connected. */
size_t wm_gd_client_server_count(const wm_gd_client_t *c);
size_t wm_gd_client_server_of(const wm_gd_client_t *c, const char *key);
const char *wm_gd_client_server_url(const wm_gd_client_t *c, size_t index);
bool wm_gd_client_server_up(const wm_gd_client_t *c, size_t index);

/* The operations. Each returns WM_OK when the request was started, or:
 *   WM_ENOTCONN  the key's server is down (wm_gd_client_last_error() says
 *                which and why); nothing was sent;
 *   WM_EINVAL    a bad argument (a NULL or over-long key, a value whose
 *                `mp` is not one well-formed object, an index out of range);
 *   WM_ENOMEM.
 * Keys are NUL-terminated strings of at most 1024 bytes, copied. `ttl_ms`
 * 0 means no expiry. */
int wm_gd_get(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data);
int wm_gd_set(wm_gd_client_t *c, const char *key, wm_gd_val_t value, uint64_t ttl_ms, wm_gd_cb cb,
              void *user_data);
/* Stores only when the key is absent; WM_GD_EEXISTS otherwise. */
int wm_gd_add(wm_gd_client_t *c, const char *key, wm_gd_val_t value, uint64_t ttl_ms, wm_gd_cb cb,
              void *user_data);
/* Stores `value` when the current value equals `expected` (ttl_ms 0 keeps
 * the key's expiry); WM_GD_EMISMATCH with the current value otherwise. */
int wm_gd_cas(wm_gd_client_t *c, const char *key, wm_gd_val_t expected, wm_gd_val_t value,
              uint64_t ttl_ms, wm_gd_cb cb, void *user_data);
int wm_gd_increment(wm_gd_client_t *c, const char *key, int64_t step, wm_gd_cb cb, void *user_data);
int wm_gd_delete(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data);
int wm_gd_exists(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data);
int wm_gd_ttl(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data);
int wm_gd_expire(wm_gd_client_t *c, const char *key, uint64_t ttl_ms, wm_gd_cb cb, void *user_data);
int wm_gd_persist(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data);
/* Several keys at once, over as many servers as they live on; the callback
 * runs once, after every server answered (the first error wins; mset is
 * then applied on the servers that succeeded). At most 10000 keys. */
int wm_gd_mget(wm_gd_client_t *c, const char *const *keys, size_t n, wm_gd_cb cb, void *user_data);
int wm_gd_mset(wm_gd_client_t *c, const char *const *keys, const wm_gd_val_t *values, size_t n,
               uint64_t ttl_ms, wm_gd_cb cb, void *user_data);
/* Keys of server `server` starting with `prefix` (NULL: all), in byte order,
 * after `cursor` (NULL: from the start), at most `count` (0: 100). */
int wm_gd_keys(wm_gd_client_t *c, size_t server, const char *prefix, const char *cursor,
               size_t count, wm_gd_cb cb, void *user_data);
int wm_gd_stats(wm_gd_client_t *c, size_t server, wm_gd_cb cb, void *user_data);

/* ---- The blocking client ------------------------------------------------- */

typedef struct wm_gd_sync wm_gd_sync_t;

/* Makes a blocking client; connections open on first use (and again after
 * a failure, no sooner than retry_min_ms later). Returns NULL for no
 * servers, a bad URL or out of memory. Free with wm_gd_sync_free(). */
wm_gd_sync_t *wm_gd_sync_new(const wm_gd_options_t *opt);
void wm_gd_sync_free(wm_gd_sync_t *s);

/* The same operations, blocking up to the timeout. Each returns the status
 * (as the async callback gets it) and fills *out (NULL allowed) with the
 * result, borrowed until the next call on `s`. */
int wm_gd_sync_get(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out);
int wm_gd_sync_set(wm_gd_sync_t *s, const char *key, wm_gd_val_t value, uint64_t ttl_ms,
                   wm_gd_val_t *out);
int wm_gd_sync_add(wm_gd_sync_t *s, const char *key, wm_gd_val_t value, uint64_t ttl_ms,
                   wm_gd_val_t *out);
int wm_gd_sync_cas(wm_gd_sync_t *s, const char *key, wm_gd_val_t expected, wm_gd_val_t value,
                   uint64_t ttl_ms, wm_gd_val_t *out);
int wm_gd_sync_increment(wm_gd_sync_t *s, const char *key, int64_t step, wm_gd_val_t *out);
int wm_gd_sync_delete(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out);
int wm_gd_sync_exists(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out);
int wm_gd_sync_ttl(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out);
int wm_gd_sync_expire(wm_gd_sync_t *s, const char *key, uint64_t ttl_ms, wm_gd_val_t *out);
int wm_gd_sync_persist(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out);
int wm_gd_sync_mget(wm_gd_sync_t *s, const char *const *keys, size_t n, wm_gd_val_t *out);
int wm_gd_sync_mset(wm_gd_sync_t *s, const char *const *keys, const wm_gd_val_t *values, size_t n,
                    uint64_t ttl_ms, wm_gd_val_t *out);
int wm_gd_sync_keys(wm_gd_sync_t *s, size_t server, const char *prefix, const char *cursor,
                    size_t count, wm_gd_val_t *out);
int wm_gd_sync_stats(wm_gd_sync_t *s, size_t server, wm_gd_val_t *out);
size_t wm_gd_sync_server_count(const wm_gd_sync_t *s);
size_t wm_gd_sync_server_of(const wm_gd_sync_t *s, const char *key);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
