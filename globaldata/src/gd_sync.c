/* SPDX-License-Identifier: MIT */
/* The blocking GlobalData client (wm/globaldata.h, wm_gd_sync_*): plain
 * blocking sockets with poll() deadlines, no wm loop, one round trip per
 * call (mget / mset: one per server involved). It shares the ring, the
 * encoding and the decoding with the asynchronous client
 * (gd_client_core.c). A failed connection is not tried again before
 * retry_min_ms has passed (doubling up to retry_max_ms), so a dead server
 * fails its calls at once with WM_ENOTCONN. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <wm/loop.h>

#include "gd_client_int.h"

typedef struct sync_srv {
    wm__svc_addr_t addr;
    char *name;
    int fd;
    uint64_t retry_at, retry_ms;
    int last_err;
} sync_srv_t;

struct wm_gd_sync {
    sync_srv_t *srv;
    size_t nsrv;
    wm__gd_ring_t ring;
    char *auth;
    uint64_t timeout_ms, connect_timeout_ms, retry_min_ms, retry_max_ms;
    uint64_t next_id;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *rbuf;
    size_t rcap;
    wm__gd_merge_t merge;
    char reason[300];
};

/* The result for a local error: a STR with the reason. */
static int fail(wm_gd_sync_t *s, wm_gd_val_t *out, int status, const char *fmt, const char *a,
                const char *b)
{
    snprintf(s->reason, sizeof s->reason, fmt, a, b);
    if (out)
        *out = wm__gd_reason(s->reason);
    return status;
}

static void srv_close(wm_gd_sync_t *s, sync_srv_t *v, int err)
{
    if (v->fd >= 0)
        close(v->fd);
    v->fd = -1;
    v->last_err = err;
    v->retry_ms = v->retry_ms ? v->retry_ms * 2 : s->retry_min_ms;
    if (v->retry_ms > s->retry_max_ms)
        v->retry_ms = s->retry_max_ms;
    v->retry_at = wm_now_ms() + v->retry_ms;
}

/* One round trip on an open socket: request, then its answer. */
static int round_trip(wm_gd_sync_t *s, sync_srv_t *v, const wm__gd_call_t *call, int *status,
                      wm_gd_val_t *res)
{
    uint64_t deadline = wm_now_ms() + s->timeout_ms;
    uint64_t id = s->next_id++, got;
    msgpack_sbuffer_clear(&s->sb);
    msgpack_sbuffer_write(&s->sb, "\0\0\0\0", 4);
    int rc = wm__gd_call_encode(&s->pk, id, call);
    if (rc != WM_OK)
        return rc;
    wm__svc_frame_header(s->sb.data, s->sb.size);
    size_t len;
    if ((rc = wm__svc_sock_write_all(v->fd, s->sb.data, s->sb.size, deadline)) != WM_OK ||
        (rc = wm__svc_sock_read_frame(v->fd, &s->rbuf, &s->rcap, &len, 2u * WM_GD_DEFAULT_MAX_FRAME,
                                      deadline)) != WM_OK)
        return rc;
    if (wm__gd_result_read(s->rbuf, len, &got, status, res) != WM_OK || got != id)
        return WM_EPROTO;
    return WM_OK;
}

static int srv_open(wm_gd_sync_t *s, sync_srv_t *v, wm_gd_val_t *out)
{
    if (v->fd >= 0)
        return WM_OK;
    if (v->retry_at && wm_now_ms() < v->retry_at)
        return fail(s, out, WM_ENOTCONN, "server %s is down (%s); not retried yet", v->name,
                    wm_gd_strerror(v->last_err));
    int fd = wm__svc_sock_open(&v->addr, s->connect_timeout_ms);
    if (fd < 0) {
        srv_close(s, v, fd);
        return fail(s, out, fd, "server %s: %s", v->name, wm_gd_strerror(fd));
    }
    v->fd = fd;
    if (s->auth) {
        wm__gd_call_t call = {.op = WM_GD_OP_AUTH, .key = s->auth};
        int status = WM_OK;
        wm_gd_val_t res;
        int rc = round_trip(s, v, &call, &status, &res);
        if (rc != WM_OK || status != WM_OK) {
            rc = rc != WM_OK ? rc : status;
            srv_close(s, v, rc);
            return fail(s, out, rc, "server %s: auth: %s", v->name, wm_gd_strerror(rc));
        }
    }
    v->retry_ms = 0;
    v->retry_at = 0;
    return WM_OK;
}

/* One call to one server, with its result in *out. */
static int call_on(wm_gd_sync_t *s, sync_srv_t *v, const wm__gd_call_t *call, wm_gd_val_t *out)
{
    wm_gd_val_t res;
    int status = WM_OK;
    int rc = srv_open(s, v, out);
    if (rc != WM_OK)
        return rc;
    rc = round_trip(s, v, call, &status, &res);
    if (rc != WM_OK) {
        srv_close(s, v, rc); /* the pairing of answers is lost with the request */
        return fail(s, out, rc, "server %s: %s", v->name, wm_gd_strerror(rc));
    }
    if (out)
        *out = res;
    return status;
}

static int call_key(wm_gd_sync_t *s, const wm__gd_call_t *call, wm_gd_val_t *out)
{
    const char *why;
    if (!s)
        return WM_EINVAL;
    if (wm__gd_call_check(call, &why) != WM_OK)
        return fail(s, out, WM_EINVAL, "%s%s", why, "");
    size_t i = wm__gd_ring_find(&s->ring, call->key, strlen(call->key));
    return call_on(s, &s->srv[i], call, out);
}

static int call_server(wm_gd_sync_t *s, size_t server, const wm__gd_call_t *call, wm_gd_val_t *out)
{
    const char *why;
    if (!s || server >= s->nsrv)
        return WM_EINVAL;
    if (wm__gd_call_check(call, &why) != WM_OK)
        return fail(s, out, WM_EINVAL, "%s%s", why, "");
    return call_on(s, &s->srv[server], call, out);
}

/* mget / mset: one round trip per server holding some of the keys. */
static int call_multi(wm_gd_sync_t *s, wm__gd_call_t *call, size_t n, wm_gd_val_t *out)
{
    const char *why;
    if (!s || (n && !call->keys))
        return WM_EINVAL;
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return WM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    call->idx = idx;
    call->nidx = n;
    int rc = wm__gd_call_check(call, &why);
    if (rc != WM_OK) {
        free(idx);
        return fail(s, out, WM_EINVAL, "%s%s", why, "");
    }
    msgpack_sbuffer_clear(&s->merge.pairs);
    s->merge.count = 0;
    for (size_t v = 0; v < s->nsrv && rc == WM_OK; v++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (wm__gd_ring_find(&s->ring, call->keys[i], strlen(call->keys[i])) == v)
                idx[k++] = (uint32_t)i;
        if (k == 0 && !(n == 0 && v == 0))
            continue;
        call->nidx = k;
        wm_gd_val_t part;
        rc = call_on(s, &s->srv[v], call, &part);
        if (rc == WM_OK)
            wm__gd_merge_add(&s->merge, &part);
        else if (out)
            *out = part;
    }
    free(idx);
    if (rc == WM_OK && out) {
        if (call->op == WM_GD_OP_MGET)
            wm__gd_merge_result(&s->merge, out);
        else
            *out = wm_gd_nil();
    }
    return rc;
}

/* ---- The API ------------------------------------------------------------- */

wm_gd_sync_t *wm_gd_sync_new(const wm_gd_options_t *opt)
{
    if (!opt || !opt->servers || opt->server_count == 0)
        return NULL;
    wm_gd_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->timeout_ms = opt->timeout_ms ? opt->timeout_ms : WM_GD_DEFAULT_TIMEOUT_MS;
    s->connect_timeout_ms =
        opt->connect_timeout_ms ? opt->connect_timeout_ms : WM_GD_DEFAULT_CONNECT_TIMEOUT_MS;
    s->retry_min_ms = opt->retry_min_ms ? opt->retry_min_ms : WM_GD_DEFAULT_RETRY_MIN_MS;
    s->retry_max_ms = opt->retry_max_ms ? opt->retry_max_ms : WM_GD_DEFAULT_RETRY_MAX_MS;
    s->next_id = 1;
    msgpack_sbuffer_init(&s->sb);
    msgpack_packer_init(&s->pk, &s->sb, msgpack_sbuffer_write);
    wm__gd_merge_init(&s->merge);
    s->srv = calloc(opt->server_count, sizeof *s->srv);
    if (!s->srv)
        goto fail;
    s->nsrv = opt->server_count;
    for (size_t i = 0; i < s->nsrv; i++)
        s->srv[i].fd = -1;
    for (size_t i = 0; i < s->nsrv; i++) {
        sync_srv_t *v = &s->srv[i];
        if (!opt->servers[i] || wm__svc_addr_parse(opt->servers[i], &v->addr) != WM_OK ||
            !(v->name = strdup(opt->servers[i])))
            goto fail;
    }
    if ((opt->auth && !(s->auth = strdup(opt->auth))) ||
        wm__gd_ring_build(&s->ring, opt->servers, s->nsrv,
                          opt->vnodes ? opt->vnodes : WM_GD_DEFAULT_VNODES) != WM_OK)
        goto fail;
    return s;
fail:
    wm_gd_sync_free(s);
    return NULL;
}

void wm_gd_sync_free(wm_gd_sync_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->srv && i < s->nsrv; i++) {
        if (s->srv[i].fd >= 0)
            close(s->srv[i].fd);
        free(s->srv[i].name);
    }
    free(s->srv);
    free(s->auth);
    free(s->rbuf);
    wm__gd_ring_free(&s->ring);
    wm__gd_merge_destroy(&s->merge);
    msgpack_sbuffer_destroy(&s->sb);
    free(s);
}

size_t wm_gd_sync_server_count(const wm_gd_sync_t *s)
{
    return s->nsrv;
}

size_t wm_gd_sync_server_of(const wm_gd_sync_t *s, const char *key)
{
    return wm__gd_ring_find(&s->ring, key, strlen(key));
}

int wm_gd_sync_get(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_GET, .key = key};
    return call_key(s, &call, out);
}

int wm_gd_sync_set(wm_gd_sync_t *s, const char *key, wm_gd_val_t value, uint64_t ttl_ms,
                   wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_SET, .key = key, .v1 = &value, .ttl_ms = ttl_ms};
    return call_key(s, &call, out);
}

int wm_gd_sync_add(wm_gd_sync_t *s, const char *key, wm_gd_val_t value, uint64_t ttl_ms,
                   wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_ADD, .key = key, .v1 = &value, .ttl_ms = ttl_ms};
    return call_key(s, &call, out);
}

int wm_gd_sync_cas(wm_gd_sync_t *s, const char *key, wm_gd_val_t expected, wm_gd_val_t value,
                   uint64_t ttl_ms, wm_gd_val_t *out)
{
    wm__gd_call_t call = {
        .op = WM_GD_OP_CAS, .key = key, .v1 = &expected, .v2 = &value, .ttl_ms = ttl_ms};
    return call_key(s, &call, out);
}

int wm_gd_sync_increment(wm_gd_sync_t *s, const char *key, int64_t step, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_INCR, .key = key, .num = step};
    return call_key(s, &call, out);
}

int wm_gd_sync_delete(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_DELETE, .key = key};
    return call_key(s, &call, out);
}

int wm_gd_sync_exists(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_EXISTS, .key = key};
    return call_key(s, &call, out);
}

int wm_gd_sync_ttl(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_TTL, .key = key};
    return call_key(s, &call, out);
}

int wm_gd_sync_expire(wm_gd_sync_t *s, const char *key, uint64_t ttl_ms, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_EXPIRE, .key = key, .ttl_ms = ttl_ms};
    return call_key(s, &call, out);
}

int wm_gd_sync_persist(wm_gd_sync_t *s, const char *key, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_PERSIST, .key = key};
    return call_key(s, &call, out);
}

int wm_gd_sync_mget(wm_gd_sync_t *s, const char *const *keys, size_t n, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_MGET, .keys = keys};
    return call_multi(s, &call, n, out);
}

int wm_gd_sync_mset(wm_gd_sync_t *s, const char *const *keys, const wm_gd_val_t *values, size_t n,
                    uint64_t ttl_ms, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_MSET, .keys = keys, .vals = values, .ttl_ms = ttl_ms};
    return call_multi(s, &call, n, out);
}

int wm_gd_sync_keys(wm_gd_sync_t *s, size_t server, const char *prefix, const char *cursor,
                    size_t count, wm_gd_val_t *out)
{
    wm__gd_call_t call = {
        .op = WM_GD_OP_KEYS, .prefix = prefix, .cursor = cursor, .num = (int64_t)count};
    return call_server(s, server, &call, out);
}

int wm_gd_sync_stats(wm_gd_sync_t *s, size_t server, wm_gd_val_t *out)
{
    wm__gd_call_t call = {.op = WM_GD_OP_STATS};
    return call_server(s, server, &call, out);
}
