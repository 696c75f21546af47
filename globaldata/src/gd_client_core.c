/* SPDX-License-Identifier: MIT */
/* The parts of the GlobalData client that do no I/O, shared by the
 * asynchronous client (gd_client.c) and the blocking one (gd_sync.c):
 * value views, the consistent-hash ring, server addresses, encoding calls
 * into requests and reading responses (both with gd_proto.c's codec). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gd_client_int.h"

/* ---- Status texts -------------------------------------------------------- */

const char *wm_gd_strerror(int status)
{
    switch (status) {
    case WM_GD_ENOTFOUND:
        return "no such key";
    case WM_GD_EEXISTS:
        return "the key exists";
    case WM_GD_EMISMATCH:
        return "the value differs from the expected one";
    case WM_GD_EBADREQUEST:
        return "bad request";
    case WM_GD_EUNKNOWNOP:
        return "unknown operation";
    case WM_GD_ETOOLARGE:
        return "key or value too large";
    case WM_GD_ENOTINT:
        return "the value is not an integer";
    case WM_GD_EOVERFLOW:
        return "the result would overflow int64";
    case WM_GD_EAUTHREQUIRED:
        return "the server requires auth";
    case WM_GD_EAUTHFAILED:
        return "wrong auth secret";
    case WM_GD_EINTERNAL:
        return "server error";
    default:
        return wm_strerror(status);
    }
}

/* ---- Values -------------------------------------------------------------- */

wm_gd_val_t wm_gd_nil(void)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_NIL};
}

wm_gd_val_t wm_gd_bool(bool b)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_BOOL, .b = b};
}

wm_gd_val_t wm_gd_int(int64_t i)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_INT, .i = i};
}

wm_gd_val_t wm_gd_float(double f)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_FLOAT, .f = f};
}

wm_gd_val_t wm_gd_str(const char *s)
{
    return wm_gd_strn(s, s ? strlen(s) : 0);
}

wm_gd_val_t wm_gd_strn(const char *s, size_t len)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_STR, .data = s, .len = len};
}

wm_gd_val_t wm_gd_bin(const void *p, size_t len)
{
    return (wm_gd_val_t){.type = WM_GD_TYPE_BIN, .data = p, .len = len};
}

wm_gd_val_t wm_gd_msgpack(const void *mp, size_t len)
{
    wm_gd_val_t v;
    if (wm_gd_val_parse(mp, len, &v) != WM_OK) /* refused when sent */
        v = (wm_gd_val_t){.type = WM_GD_TYPE_NIL, .mp = mp, .mp_len = len};
    return v;
}

wm_gd_val_t wm__gd_reason(const char *text)
{
    return wm_gd_strn(text, strlen(text));
}

/* Fills a view from a checked object at *p, advancing past it. */
static void view_at(const char **p, wm_gd_val_t *out)
{
    static const wm_gd_type_t types[] = {
        [WM_MP_NIL] = WM_GD_TYPE_NIL,     [WM_MP_BOOL] = WM_GD_TYPE_BOOL,
        [WM_MP_UINT] = WM_GD_TYPE_UINT,   [WM_MP_INT] = WM_GD_TYPE_INT,
        [WM_MP_FLOAT] = WM_GD_TYPE_FLOAT, [WM_MP_STR] = WM_GD_TYPE_STR,
        [WM_MP_BIN] = WM_GD_TYPE_BIN,     [WM_MP_ARRAY] = WM_GD_TYPE_ARRAY,
        [WM_MP_MAP] = WM_GD_TYPE_MAP,     [WM_MP_EXT] = WM_GD_TYPE_EXT,
    };
    const char *start = *p, *q = *p;
    wm__mp_head_t h;
    wm__mp_head(&q, &h);
    memset(out, 0, sizeof *out);
    out->type = types[h.kind];
    out->b = h.b;
    out->u = h.u;
    out->i = h.kind == WM_MP_INT ? h.i : (int64_t)h.u;
    if (h.kind == WM_MP_UINT && h.u <= INT64_MAX)
        out->type = WM_GD_TYPE_INT;
    out->f = h.f;
    out->data = h.data;
    out->len = h.len;
    out->ext_type = h.ext_type;
    wm__mp_skip(p);
    out->mp = start;
    out->mp_len = (size_t)(*p - start);
}

int wm_gd_val_parse(const void *mp, size_t len, wm_gd_val_t *out)
{
    ssize_t n = mp ? wm__mp_check(mp, len, WM_GD_MAX_DEPTH) : -1;
    if (n < 0 || (size_t)n != len)
        return WM_EPROTO;
    const char *p = mp;
    view_at(&p, out);
    return WM_OK;
}

int wm_gd_val_at(const wm_gd_val_t *v, size_t i, wm_gd_val_t *key, wm_gd_val_t *out)
{
    if (!v || !v->mp || (v->type != WM_GD_TYPE_ARRAY && v->type != WM_GD_TYPE_MAP))
        return WM_EINVAL;
    if (i >= v->len)
        return WM_ENOENT;
    const char *p = v->mp;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    bool map = v->type == WM_GD_TYPE_MAP;
    for (size_t k = 0; k < i; k++) {
        wm__mp_skip(&p);
        if (map)
            wm__mp_skip(&p);
    }
    wm_gd_val_t ignored;
    if (map)
        view_at(&p, key ? key : &ignored);
    view_at(&p, out);
    return WM_OK;
}

bool wm_gd_val_is_str(const wm_gd_val_t *v, const char *s)
{
    size_t n = strlen(s);
    return v && v->type == WM_GD_TYPE_STR && v->len == n && memcmp(v->data, s, n) == 0;
}

int wm_gd_val_get(const wm_gd_val_t *map, const char *key, wm_gd_val_t *out)
{
    if (!map || map->type != WM_GD_TYPE_MAP || !map->mp)
        return WM_EINVAL;
    const char *p = map->mp;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    for (uint32_t i = 0; i < h.len; i++) {
        wm_gd_val_t k;
        view_at(&p, &k);
        if (wm_gd_val_is_str(&k, key)) {
            view_at(&p, out);
            return WM_OK;
        }
        wm__mp_skip(&p);
    }
    return WM_ENOENT;
}

/* Packs a value argument: its bytes when given, else its scalar. */
static int pack_val(msgpack_packer *pk, const wm_gd_val_t *v)
{
    if (v->mp) {
        ssize_t n = wm__mp_check(v->mp, v->mp_len, WM_GD_MAX_DEPTH);
        if (n < 0 || (size_t)n != v->mp_len)
            return WM_EINVAL;
        return pk->callback(pk->data, v->mp, v->mp_len) == 0 ? WM_OK : WM_ENOMEM;
    }
    switch (v->type) {
    case WM_GD_TYPE_NIL:
        return msgpack_pack_nil(pk) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_BOOL:
        return (v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_INT:
        return msgpack_pack_int64(pk, v->i) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_UINT:
        return msgpack_pack_uint64(pk, v->u) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_FLOAT:
        return msgpack_pack_double(pk, v->f) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_STR:
        if (!v->data && v->len)
            return WM_EINVAL;
        return msgpack_pack_str_with_body(pk, v->data, v->len) == 0 ? WM_OK : WM_ENOMEM;
    case WM_GD_TYPE_BIN:
        if (!v->data && v->len)
            return WM_EINVAL;
        return msgpack_pack_bin_with_body(pk, v->data, v->len) == 0 ? WM_OK : WM_ENOMEM;
    default:
        return WM_EINVAL; /* containers and ext come as mp bytes */
    }
}

static bool val_ok(const wm_gd_val_t *v)
{
    if (!v)
        return false;
    if (v->mp) {
        ssize_t n = wm__mp_check(v->mp, v->mp_len, WM_GD_MAX_DEPTH);
        return n >= 0 && (size_t)n == v->mp_len;
    }
    return v->type <= WM_GD_TYPE_BIN &&
           !((v->type == WM_GD_TYPE_STR || v->type == WM_GD_TYPE_BIN) && !v->data && v->len);
}

/* ---- The ring ------------------------------------------------------------ */

/* FNV-1a 64, then a splitmix64 finaliser: FNV alone clusters short keys
 * that differ in their last byte, which would skew the ring. */
static uint64_t hash64(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

typedef struct ring_point {
    uint64_t at;
    uint32_t server;
} ring_point_t;

static int point_cmp(const void *a, const void *b)
{
    const ring_point_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->server < y->server ? -1 : x->server > y->server;
}

int wm__gd_ring_build(wm__gd_ring_t *r, const char *const *names, size_t count, unsigned vnodes)
{
    memset(r, 0, sizeof *r);
    size_t n = count * vnodes;
    ring_point_t *pts = malloc(n * sizeof *pts);
    r->point = malloc(n * sizeof *r->point);
    r->server = malloc(n * sizeof *r->server);
    if (!pts || !r->point || !r->server) {
        free(pts);
        wm__gd_ring_free(r);
        return WM_ENOMEM;
    }
    char name[400];
    for (size_t s = 0; s < count; s++)
        for (unsigned i = 0; i < vnodes; i++) {
            int len = snprintf(name, sizeof name, "%s#%u", names[s], i);
            pts[s * vnodes + i] = (ring_point_t){hash64(name, (size_t)len), (uint32_t)s};
        }
    qsort(pts, n, sizeof *pts, point_cmp);
    for (size_t i = 0; i < n; i++) {
        r->point[i] = pts[i].at;
        r->server[i] = pts[i].server;
    }
    r->n = n;
    free(pts);
    return WM_OK;
}

void wm__gd_ring_free(wm__gd_ring_t *r)
{
    free(r->point);
    free(r->server);
    memset(r, 0, sizeof *r);
}

/* The first point at or after the key's hash, wrapping around. */
size_t wm__gd_ring_find(const wm__gd_ring_t *r, const char *key, size_t klen)
{
    uint64_t h = hash64(key, klen);
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->point[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return r->server[lo == r->n ? 0 : lo];
}

/* ---- Calls --------------------------------------------------------------- */

bool wm__gd_key_ok(const char *key)
{
    return key && strlen(key) <= WM_GD_MAX_KEY;
}

int wm__gd_call_check(const wm__gd_call_t *call, const char **why)
{
    *why = NULL;
    switch (call->op) {
    case WM_GD_OP_MGET:
    case WM_GD_OP_MSET:
        if (!call->keys || call->nidx > WM_GD_MAX_MULTI ||
            (call->op == WM_GD_OP_MSET && !call->vals))
            *why = "mget / mset take 0 to 10000 keys (and as many values)";
        for (size_t i = 0; !*why && i < call->nidx; i++)
            if (!wm__gd_key_ok(call->keys[call->idx[i]]) ||
                (call->op == WM_GD_OP_MSET && !val_ok(&call->vals[call->idx[i]])))
                *why = "a key is NULL or longer than 1024 bytes, or a value is malformed";
        break;
    case WM_GD_OP_KEYS:
        if ((call->prefix && strlen(call->prefix) > WM_GD_MAX_KEY) ||
            (call->cursor && strlen(call->cursor) > WM_GD_MAX_KEY) || call->num < 0 ||
            call->num > WM_GD_KEYS_MAX)
            *why = "keys: prefix and cursor up to 1024 bytes, count up to 1000";
        break;
    case WM_GD_OP_STATS:
    case WM_GD_OP_PING:
    case WM_GD_OP_AUTH:
        break;
    default:
        if (!wm__gd_key_ok(call->key))
            *why = "the key is NULL or longer than 1024 bytes";
        else if ((call->v1 && !val_ok(call->v1)) || (call->v2 && !val_ok(call->v2)))
            *why = "a value is malformed (its mp bytes are not one MessagePack object)";
    }
    if (!*why && call->ttl_ms > WM_GD_MAX_TTL_MS)
        *why = "a ttl is at most 100 years";
    return *why ? WM_EINVAL : WM_OK;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_ttl(msgpack_packer *pk, uint64_t ttl_ms)
{
    msgpack_pack_uint64(pk, ttl_ms);
}

int wm__gd_call_encode(msgpack_packer *pk, uint64_t id, const wm__gd_call_t *c)
{
    uint32_t ttl = c->ttl_ms ? 1 : 0;
    int rc = WM_OK;
    switch (c->op) {
    case WM_GD_OP_SET:
    case WM_GD_OP_ADD:
        wm__gd_req_begin(pk, id, c->op, 2 + ttl);
        pack_cstr(pk, c->key);
        rc = pack_val(pk, c->v1);
        break;
    case WM_GD_OP_CAS:
        wm__gd_req_begin(pk, id, c->op, 3 + ttl);
        pack_cstr(pk, c->key);
        if ((rc = pack_val(pk, c->v1)) == WM_OK)
            rc = pack_val(pk, c->v2);
        break;
    case WM_GD_OP_INCR:
        wm__gd_req_begin(pk, id, c->op, 2);
        pack_cstr(pk, c->key);
        msgpack_pack_int64(pk, c->num);
        return WM_OK;
    case WM_GD_OP_EXPIRE:
        wm__gd_req_begin(pk, id, c->op, 2);
        pack_cstr(pk, c->key);
        pack_ttl(pk, c->ttl_ms);
        return WM_OK;
    case WM_GD_OP_MGET:
        wm__gd_req_begin(pk, id, c->op, 1);
        msgpack_pack_array(pk, (uint32_t)c->nidx);
        for (size_t i = 0; i < c->nidx; i++)
            pack_cstr(pk, c->keys[c->idx[i]]);
        return WM_OK;
    case WM_GD_OP_MSET:
        wm__gd_req_begin(pk, id, c->op, 1 + ttl);
        msgpack_pack_map(pk, (uint32_t)c->nidx);
        for (size_t i = 0; i < c->nidx && rc == WM_OK; i++) {
            pack_cstr(pk, c->keys[c->idx[i]]);
            rc = pack_val(pk, &c->vals[c->idx[i]]);
        }
        break;
    case WM_GD_OP_KEYS:
        wm__gd_req_begin(pk, id, c->op, 3);
        c->prefix ? pack_cstr(pk, c->prefix) : msgpack_pack_nil(pk);
        c->cursor ? pack_cstr(pk, c->cursor) : msgpack_pack_nil(pk);
        msgpack_pack_int64(pk, c->num ? c->num : WM_GD_KEYS_DEFAULT);
        return WM_OK;
    case WM_GD_OP_STATS:
    case WM_GD_OP_PING:
        wm__gd_req_begin(pk, id, c->op, 0);
        return WM_OK;
    case WM_GD_OP_AUTH:
        wm__gd_req_begin(pk, id, c->op, 1);
        pack_cstr(pk, c->key);
        return WM_OK;
    default: /* get, delete, exists, ttl, persist: [key] */
        wm__gd_req_begin(pk, id, c->op, 1);
        pack_cstr(pk, c->key);
        return WM_OK;
    }
    if (rc == WM_OK && ttl)
        pack_ttl(pk, c->ttl_ms);
    return rc;
}

int wm__gd_result_read(const char *body, size_t len, uint64_t *id, int *status, wm_gd_val_t *out)
{
    wm__gd_resp_t r;
    const char *why;
    if (wm__gd_resp_decode(body, len, &r, &why) != WM_OK || !r.has_id)
        return WM_EPROTO;
    /* Whether result is exactly one object was checked with the whole. */
    const char *p = r.result.p;
    view_at(&p, out);
    if ((size_t)(p - body) != len)
        return WM_EPROTO;
    *id = r.id;
    *status = r.status == WM_GD_OK ? WM_OK : -4100 - (int)r.status;
    return WM_OK;
}

/* ---- Merging mget answers ------------------------------------------------ */

void wm__gd_merge_init(wm__gd_merge_t *m)
{
    msgpack_sbuffer_init(&m->pairs);
    msgpack_sbuffer_init(&m->out);
    m->count = 0;
}

void wm__gd_merge_add(wm__gd_merge_t *m, const wm_gd_val_t *map)
{
    if (map->type != WM_GD_TYPE_MAP || !map->mp)
        return;
    const char *p = map->mp;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    msgpack_sbuffer_write(&m->pairs, p, map->mp_len - (size_t)(p - map->mp));
    m->count += h.len;
}

void wm__gd_merge_result(wm__gd_merge_t *m, wm_gd_val_t *out)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&m->out);
    msgpack_packer_init(&pk, &m->out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, m->count);
    if (m->pairs.size)
        msgpack_sbuffer_write(&m->out, m->pairs.data, m->pairs.size);
    if (wm_gd_val_parse(m->out.data, m->out.size, out) != WM_OK)
        *out = wm_gd_nil();
}

void wm__gd_merge_destroy(wm__gd_merge_t *m)
{
    msgpack_sbuffer_destroy(&m->pairs);
    msgpack_sbuffer_destroy(&m->out);
}
