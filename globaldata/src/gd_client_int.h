/* SPDX-License-Identifier: MIT */
/* What the asynchronous client (gd_client.c) and the blocking one
 * (gd_sync.c) share, in gd_client_core.c: the hash ring, server addresses,
 * encoding a call into a request with gd_proto.c's codec, and reading a
 * response into a wm_gd_val_t. Private. */
#ifndef WM_GD_CLIENT_INT_H
#define WM_GD_CLIENT_INT_H

#include <wm/globaldata.h>

#include "gd_int.h"
#include "svc_net.h"

#define WM_GD_DEFAULT_TIMEOUT_MS 5000
#define WM_GD_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define WM_GD_DEFAULT_RETRY_MIN_MS 100
#define WM_GD_DEFAULT_RETRY_MAX_MS 5000
#define WM_GD_DEFAULT_VNODES 160
#define WM_GD_MAX_MULTI 10000 /* keys in one mget / mset */

/* A consistent-hash ring: sorted points, each owned by a server index. */
typedef struct wm__gd_ring {
    uint64_t *point;
    uint32_t *server;
    size_t n;
} wm__gd_ring_t;

int wm__gd_ring_build(wm__gd_ring_t *r, const char *const *names, size_t count, unsigned vnodes);
void wm__gd_ring_free(wm__gd_ring_t *r);
size_t wm__gd_ring_find(const wm__gd_ring_t *r, const char *key, size_t klen);

/* One call, as both clients describe it. mget / mset take the keys at the
 * positions idx[0, nidx) of keys / vals (the ones of one server). */
typedef struct wm__gd_call {
    int op;
    const char *key;
    const wm_gd_val_t *v1, *v2;
    int64_t num;     /* increment: step; keys: count */
    uint64_t ttl_ms; /* 0: none */
    const char *const *keys;
    const wm_gd_val_t *vals;
    const uint32_t *idx;
    size_t nidx;
    const char *prefix, *cursor;
} wm__gd_call_t;

/* Checks a call's arguments: WM_OK or WM_EINVAL with *why. */
int wm__gd_call_check(const wm__gd_call_t *call, const char **why);
/* Appends the request body for `call` with `id` (arguments checked). */
int wm__gd_call_encode(msgpack_packer *pk, uint64_t id, const wm__gd_call_t *call);

/* Reads a response body: its id, and the status and result as the API
 * hands them out (borrowing from body). Returns WM_OK or WM_EPROTO. */
int wm__gd_result_read(const char *body, size_t len, uint64_t *id, int *status, wm_gd_val_t *out);

/* The key's length check shared by both clients. */
bool wm__gd_key_ok(const char *key);

/* Merged mget answers: the pairs of several maps, as one map. */
typedef struct wm__gd_merge {
    msgpack_sbuffer pairs;
    uint32_t count;
    msgpack_sbuffer out;
} wm__gd_merge_t;
void wm__gd_merge_init(wm__gd_merge_t *m);
void wm__gd_merge_add(wm__gd_merge_t *m, const wm_gd_val_t *map);
void wm__gd_merge_result(wm__gd_merge_t *m, wm_gd_val_t *out);
void wm__gd_merge_destroy(wm__gd_merge_t *m);

/* A STR view of a C string (for error results). */
wm_gd_val_t wm__gd_reason(const char *text);

#endif
