/* SPDX-License-Identifier: MIT */
/* The parts of Channel's client that do no I/O, shared by the asynchronous
 * client (ch_client.c) and the blocking one (ch_sync.c): status texts,
 * encoding requests, reading replies and pushes. */
#include <string.h>

#include "ch_client_int.h"

const char *wm_ch_strerror(int status)
{
    switch (status) {
    case WM_CH_ENOTFOUND:
        return "no such message in flight on this connection";
    case WM_CH_EBADREQUEST:
        return "bad request";
    case WM_CH_EUNKNOWNOP:
        return "unknown operation";
    case WM_CH_ETOOLARGE:
        return "name or message too large";
    case WM_CH_EAUTHREQUIRED:
        return "the server requires auth";
    case WM_CH_EAUTHFAILED:
        return "wrong auth secret";
    case WM_CH_EINTERNAL:
        return "server error (the message could not be stored)";
    default:
        return wm_strerror(status);
    }
}

const char *wm__ch_op_name(int op)
{
    static const char *const names[WM_CH_OP_COUNT] = {
        [WM_CH_OP_PING] = "ping",           [WM_CH_OP_AUTH] = "auth",
        [WM_CH_OP_SUBSCRIBE] = "subscribe", [WM_CH_OP_UNSUBSCRIBE] = "unsubscribe",
        [WM_CH_OP_PUBLISH] = "publish",     [WM_CH_OP_PUBLISH_LOOP] = "publish_loop",
        [WM_CH_OP_ENQUEUE] = "enqueue",     [WM_CH_OP_WATCH] = "watch",
        [WM_CH_OP_UNWATCH] = "unwatch",     [WM_CH_OP_ACK] = "ack",
        [WM_CH_OP_STATS] = "stats",
    };
    return names[op];
}

bool wm__ch_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= WM_CH_MAX_NAME;
}

int wm__ch_pack_names(msgpack_packer *pk, const char *const *names, size_t n)
{
    if (!names || n == 0 || n > WM_CH_MAX_NAMES)
        return WM_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!wm__ch_name_ok(names[i]))
            return WM_EINVAL;
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_str_with_body(pk, names[i], strlen(names[i]));
    return WM_OK;
}

void wm__ch_req_begin(msgpack_packer *pk, uint64_t id, int op, uint32_t argc)
{
    const char *name = wm__ch_op_name(op);
    msgpack_pack_array(pk, 2 + argc);
    msgpack_pack_uint64(pk, id);
    msgpack_pack_str_with_body(pk, name, strlen(name));
}

/* ["event", name, data] or ["queue", name, id, data, deliveries] */
static int read_push(const char *p, uint32_t items, const wm__mp_head_t *kind,
                     wm__ch_incoming_t *in)
{
    wm__mp_head_t h;
    in->is_push = true;
    in->is_queue = kind->len == 5 && memcmp(kind->data, "queue", 5) == 0;
    if (!in->is_queue && !(kind->len == 5 && memcmp(kind->data, "event", 5) == 0))
        return WM_EPROTO;
    if (items != (in->is_queue ? 5u : 3u))
        return WM_EPROTO;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_STR || h.len == 0 || h.len > WM_CH_MAX_NAME)
        return WM_EPROTO;
    in->name = h.data;
    in->name_len = h.len;
    if (in->is_queue) {
        wm__mp_head(&p, &h);
        if (h.kind != WM_MP_UINT)
            return WM_EPROTO;
        in->msg_id = h.u;
    }
    const char *start = p;
    wm__mp_skip(&p);
    in->data = (wm__mp_span_t){start, (size_t)(p - start)};
    if (in->is_queue) {
        wm__mp_head(&p, &h);
        if (h.kind != WM_MP_UINT)
            return WM_EPROTO;
        in->deliveries = (uint32_t)h.u;
    }
    return WM_OK;
}

int wm__ch_incoming_read(const char *body, size_t len, wm__ch_incoming_t *in)
{
    memset(in, 0, sizeof *in);
    ssize_t n = wm__mp_check(body, len, WM_MP_MAX_DEPTH);
    if (n < 0 || (size_t)n != len)
        return WM_EPROTO;
    const char *p = body;
    wm__mp_head_t h, first;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_ARRAY || h.len < 3)
        return WM_EPROTO;
    wm__mp_head(&p, &first);
    if (first.kind == WM_MP_STR)
        return read_push(p, h.len, &first, in);
    if (first.kind != WM_MP_UINT || h.len != 3)
        return WM_EPROTO; /* a nil id: the server could not read a request */
    in->id = first.u;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_UINT)
        return WM_EPROTO;
    in->status = h.u == 0 ? WM_OK : -4200 - (int)(h.u > 99 ? 99 : h.u);
    wm__mp_head(&p, &h);
    if (h.kind == WM_MP_UINT)
        in->result = h.u;
    else if (h.kind == WM_MP_ARRAY && h.len > 0) { /* enqueue: the ids */
        wm__mp_head(&p, &h);
        in->result = h.kind == WM_MP_UINT ? h.u : 0;
    }
    return WM_OK;
}
