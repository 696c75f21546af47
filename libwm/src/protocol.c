/* SPDX-License-Identifier: MIT */
/* The protocol registry and the built-in codecs: tcp (raw), text (lines)
 * and frame (4-byte big-endian length counting itself). */
#include <string.h>

#include "wm_int.h"

#define WM_MAX_PROTOCOLS 64
#define WM_FRAME_HEADER 4

/* ---- text ---------------------------------------------------------------- */

static ssize_t text_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    size_t len = evbuffer_get_length(in);
    if (ctx->scanned > len)
        ctx->scanned = 0;
    struct evbuffer_ptr from;
    evbuffer_ptr_set(in, &from, ctx->scanned, EVBUFFER_PTR_SET);
    struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, &from);
    if (nl.pos >= 0) {
        if ((size_t)nl.pos + 1 > ctx->max_package)
            return WM_EMSGSIZE;
        return (ssize_t)nl.pos + 1;
    }
    /* Remember how far we looked, so a long line arriving in pieces is
     * scanned once, not once per piece. */
    ctx->scanned = len;
    return len >= ctx->max_package ? WM_EMSGSIZE : 0;
}

static int text_decode(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx)
{
    if (len && pkt[len - 1] == '\n')
        len--;
    if (len && pkt[len - 1] == '\r')
        len--;
    msg->data = pkt;
    msg->len = len;
    msg->extra = NULL;
    return WM_OK;
}

static int text_encode(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx)
{
    if (evbuffer_expand(out, len + 1) < 0 || evbuffer_add(out, data, len) < 0 ||
        evbuffer_add(out, "\n", 1) < 0)
        return WM_ENOMEM;
    return WM_OK;
}

/* ---- frame --------------------------------------------------------------- */

static ssize_t frame_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    unsigned char h[WM_FRAME_HEADER];
    if (evbuffer_copyout(in, h, sizeof h) < (ssize_t)sizeof h)
        return 0;
    uint32_t total = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (total < WM_FRAME_HEADER)
        return WM_EPROTO;
    if (total > ctx->max_package)
        return WM_EMSGSIZE;
    return (ssize_t)total;
}

static int frame_decode(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx)
{
    if (len < WM_FRAME_HEADER)
        return WM_EPROTO;
    msg->data = pkt + WM_FRAME_HEADER;
    msg->len = len - WM_FRAME_HEADER;
    msg->extra = NULL;
    return WM_OK;
}

static int frame_encode(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx)
{
    if (len > UINT32_MAX - WM_FRAME_HEADER)
        return WM_EMSGSIZE;
    uint32_t total = (uint32_t)len + WM_FRAME_HEADER;
    unsigned char h[WM_FRAME_HEADER] = {(unsigned char)(total >> 24), (unsigned char)(total >> 16),
                                        (unsigned char)(total >> 8), (unsigned char)total};
    if (evbuffer_expand(out, total) < 0 || evbuffer_add(out, h, sizeof h) < 0 ||
        evbuffer_add(out, data, len) < 0)
        return WM_ENOMEM;
    return WM_OK;
}

const wm_protocol_t wm_protocol_tcp = {"tcp", NULL, NULL, NULL, NULL};
const wm_protocol_t wm_protocol_text = {"text", text_input, text_decode, text_encode, NULL};
const wm_protocol_t wm_protocol_frame = {"frame", frame_input, frame_decode, frame_encode, NULL};

const wm__proto_hooks_t *wm__proto_hooks(const wm_protocol_t *p)
{
    if (p == &wm_protocol_websocket)
        return &wm__ws_hooks;
    if (p == &wm_protocol_http)
        return &wm__http_hooks;
    return NULL;
}

/* ---- registry ------------------------------------------------------------ */

static const wm_protocol_t *registry[WM_MAX_PROTOCOLS] = {&wm_protocol_tcp, &wm_protocol_text,
                                                          &wm_protocol_frame, &wm_protocol_http,
                                                          &wm_protocol_websocket};

static bool name_ok(const char *name)
{
    static const char *const reserved[] = {"udp", "unix", "ssl", "tls"};
    if (!name || !*name || strlen(name) >= sizeof(((wm__url_t *)0)->scheme))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
            return false;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcmp(name, reserved[i]) == 0)
            return false;
    return true;
}

const wm_protocol_t *wm_protocol_find(const char *name)
{
    for (int i = 0; name && i < WM_MAX_PROTOCOLS && registry[i]; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

int wm_protocol_register(const wm_protocol_t *proto)
{
    if (!proto || !name_ok(proto->name))
        return WM_EINVAL;
    if (wm_protocol_find(proto->name))
        return WM_EEXIST;
    for (int i = 0; i < WM_MAX_PROTOCOLS; i++) {
        if (!registry[i]) {
            registry[i] = proto;
            return WM_OK;
        }
    }
    wm_log_error("cannot register protocol '%s': %d protocols already", proto->name,
                 WM_MAX_PROTOCOLS);
    return WM_ENOMEM;
}

const wm_protocol_t *wm__protocol_for_url(const wm__url_t *u)
{
    return wm_protocol_find(u->scheme);
}
