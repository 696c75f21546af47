/* SPDX-License-Identifier: MIT */
/* Channel's wire codec, with no I/O: requests in (MessagePack, through the
 * envelope decoder GlobalData shares, and walkor/channel's PHP format),
 * pushes out. docs/protocol.md specifies both. */
#include <stdio.h>
#include <string.h>

#include "ch_int.h"
#include "php_serial.h"

static const wm__svc_op_def_t ops[WM_CH_OP_COUNT] = {
    [WM_CH_OP_PING] = {"ping", 0, 0},           [WM_CH_OP_AUTH] = {"auth", 1, 1},
    [WM_CH_OP_SUBSCRIBE] = {"subscribe", 1, 1}, [WM_CH_OP_UNSUBSCRIBE] = {"unsubscribe", 1, 1},
    [WM_CH_OP_PUBLISH] = {"publish", 2, 2},     [WM_CH_OP_PUBLISH_LOOP] = {"publish_loop", 2, 2},
    [WM_CH_OP_ENQUEUE] = {"enqueue", 2, 3},     [WM_CH_OP_WATCH] = {"watch", 1, 2},
    [WM_CH_OP_UNWATCH] = {"unwatch", 1, 1},     [WM_CH_OP_ACK] = {"ack", 1, 1},
    [WM_CH_OP_STATS] = {"stats", 0, 0},
};

int wm__ch_req_decode(const char *buf, size_t len, wm__svc_req_t *req, const char **why)
{
    return wm__svc_req_decode(buf, len, ops, WM_CH_OP_COUNT, req, why);
}

static bool name_ok(const wm__mp_head_t *h)
{
    return h->kind == WM_MP_STR && h->len > 0 && h->len <= WM_CH_MAX_NAME;
}

int wm__ch_names_open(wm__mp_span_t s, wm__ch_names_t *it, const char **why)
{
    const char *p = s.p;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    *why = "names are a str or an array of 1 to 1000 str of 1 to 255 bytes";
    if (h.kind == WM_MP_STR) {
        if (!name_ok(&h))
            return WM_EPROTO;
        *it = (wm__ch_names_t){s.p, 1};
        return WM_OK;
    }
    if (h.kind != WM_MP_ARRAY || h.len == 0 || h.len > WM_CH_MAX_NAMES)
        return WM_EPROTO;
    /* Check every element first, so a bad list changes nothing. */
    const char *q = p;
    for (uint32_t i = 0; i < h.len; i++) {
        wm__mp_head_t e;
        wm__mp_head(&q, &e);
        if (!name_ok(&e))
            return WM_EPROTO;
    }
    *it = (wm__ch_names_t){p, h.len};
    return WM_OK;
}

bool wm__ch_names_next(wm__ch_names_t *it, const char **name, size_t *len)
{
    if (it->left == 0)
        return false;
    wm__mp_head_t h;
    wm__mp_head(&it->p, &h);
    it->left--;
    *name = h.data;
    *len = h.len;
    return true;
}

void wm__ch_pack_event(msgpack_packer *pk, const char *name, size_t nlen, const char *data,
                       size_t dlen)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, "event", 5);
    msgpack_pack_str_with_body(pk, name, nlen);
    pk->callback(pk->data, data, dlen);
}

void wm__ch_pack_queue(msgpack_packer *pk, const char *name, size_t nlen, uint64_t id,
                       const char *data, size_t dlen, uint32_t deliveries)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_str_with_body(pk, "queue", 5);
    msgpack_pack_str_with_body(pk, name, nlen);
    msgpack_pack_uint64(pk, id);
    pk->callback(pk->data, data, dlen);
    msgpack_pack_uint32(pk, deliveries);
}

/* ---- walkor/channel's PHP format ------------------------------------------- */

static const char *const php_types[] = {
    [WM_CH_PHP_SUBSCRIBE] = "subscribe", [WM_CH_PHP_UNSUBSCRIBE] = "unsubscribe",
    [WM_CH_PHP_PUBLISH] = "publish",     [WM_CH_PHP_PUBLISH_LOOP] = "publishLoop",
    [WM_CH_PHP_WATCH] = "watch",         [WM_CH_PHP_UNWATCH] = "unwatch",
    [WM_CH_PHP_ENQUEUE] = "enqueue",     [WM_CH_PHP_RESERVE] = "reserve",
};

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static const msgpack_object *field(const msgpack_object *map, const char *name)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (str_is(&map->via.map.ptr[i].key, name))
            return &map->via.map.ptr[i].val;
    return NULL;
}

int wm__ch_php_decode(const char *body, size_t len, msgpack_zone *zone, msgpack_object *root,
                      wm__ch_php_req_t *req, const char **why)
{
    const char *reason = NULL;
    memset(req, 0, sizeof *req);
    if (wm__php_unserialize(body, len, zone, root, &reason) != WM_OK) {
        *why = reason ? reason : "not PHP serialize()";
        return WM_EPROTO;
    }
    *why = "a request is ['type' => ..., 'channels' => [...], 'data' => ...]";
    if (root->type != MSGPACK_OBJECT_MAP)
        return WM_EPROTO;
    const msgpack_object *type = field(root, "type");
    req->type = -1;
    for (int i = 0; type && i < (int)(sizeof php_types / sizeof php_types[0]); i++)
        if (str_is(type, php_types[i]))
            req->type = i;
    if (req->type < 0)
        return WM_EPROTO;
    req->channels = field(root, "channels");
    req->data = field(root, "data");
    if (req->type == WM_CH_PHP_RESERVE)
        return WM_OK;
    if (!req->channels ||
        (req->channels->type != MSGPACK_OBJECT_ARRAY && req->channels->type != MSGPACK_OBJECT_MAP))
        return WM_EPROTO;
    return WM_OK;
}

bool wm__ch_php_name(const msgpack_object *o, char *buf, size_t buflen, const char **name,
                     size_t *len)
{
    int n;
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        *name = o->via.str.ptr;
        *len = o->via.str.size;
        return *len > 0 && *len <= WM_CH_MAX_NAME;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        n = snprintf(buf, buflen, "%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        n = snprintf(buf, buflen, "%lld", (long long)o->via.i64);
        break;
    default:
        return false;
    }
    *name = buf;
    *len = (size_t)n;
    return n > 0 && (size_t)n < buflen;
}

int wm__ch_php_push(msgpack_sbuffer *out, msgpack_zone *zone, const char *type, const char *name,
                    size_t nlen, const char *data, size_t dlen)
{
    msgpack_object d;
    size_t off = 0;
    if (msgpack_unpack(data, dlen, &off, zone, &d) != MSGPACK_UNPACK_SUCCESS)
        return WM_EINVAL;
    msgpack_object_kv kv[3] = {
        {{.type = MSGPACK_OBJECT_STR, .via.str = {4, "type"}},
         {.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)strlen(type), type}}},
        {{.type = MSGPACK_OBJECT_STR, .via.str = {7, "channel"}},
         {.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)nlen, name}}},
        {{.type = MSGPACK_OBJECT_STR, .via.str = {4, "data"}}, d},
    };
    msgpack_object root = {.type = MSGPACK_OBJECT_MAP, .via.map = {3, kv}};
    return wm__php_serialize(&root, out);
}
