/* SPDX-License-Identifier: MIT */
/* The blocking Channel client (wm/channel.h, wm_ch_sync_*): one blocking
 * socket (common/'s svc_net.c), one round trip per call, no wm loop. It
 * shares the encoding and the reading of replies with the asynchronous
 * client (ch_client_core.c). It subscribes to nothing, so every frame it
 * reads is the reply to the request it just sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wm/loop.h>

#include "ch_client_int.h"

struct wm_ch_sync {
    wm__svc_addr_t addr;
    char *auth;
    uint64_t timeout_ms, connect_timeout_ms;
    int fd;
    uint64_t next_id;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *rbuf;
    size_t rcap;
    char reason[320];
};

static int fail(wm_ch_sync_t *s, int status, const char *what)
{
    snprintf(s->reason, sizeof s->reason, "channel server %s: %s: %s", s->addr.url, what,
             wm_ch_strerror(status));
    return status;
}

static void drop_conn(wm_ch_sync_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Sends the request in s->sb (frame header space included) and reads its
 * reply. */
static int round_trip(wm_ch_sync_t *s, uint64_t id, wm__ch_incoming_t *in)
{
    uint64_t deadline = wm_now_ms() + s->timeout_ms;
    size_t len;
    wm__svc_frame_header(s->sb.data, s->sb.size);
    int rc = wm__svc_sock_write_all(s->fd, s->sb.data, s->sb.size, deadline);
    if (rc == WM_OK)
        rc = wm__svc_sock_read_frame(s->fd, &s->rbuf, &s->rcap, &len, 2u * WM_CH_DEFAULT_MAX_FRAME,
                                     deadline);
    if (rc == WM_OK &&
        (wm__ch_incoming_read(s->rbuf, len, in) != WM_OK || in->is_push || in->id != id))
        rc = WM_EPROTO;
    return rc;
}

static void begin(wm_ch_sync_t *s, uint64_t id, int op, uint32_t argc)
{
    msgpack_sbuffer_clear(&s->sb);
    msgpack_sbuffer_write(&s->sb, "\0\0\0\0", 4);
    wm__ch_req_begin(&s->pk, id, op, argc);
}

static int open_conn(wm_ch_sync_t *s)
{
    int fd = wm__svc_sock_open(&s->addr, s->connect_timeout_ms);
    if (fd < 0)
        return fail(s, fd, "connect");
    s->fd = fd;
    if (!s->auth)
        return WM_OK;
    uint64_t id = s->next_id++;
    wm__ch_incoming_t in;
    begin(s, id, WM_CH_OP_AUTH, 1);
    msgpack_pack_str_with_body(&s->pk, s->auth, strlen(s->auth));
    int rc = round_trip(s, id, &in);
    if (rc == WM_OK)
        rc = in.status;
    if (rc != WM_OK) {
        drop_conn(s);
        return fail(s, rc, "auth");
    }
    return WM_OK;
}

/* publish or enqueue of one name: [id, op, name, data, delay?] */
static int call(wm_ch_sync_t *s, int op, const char *name, const void *data, size_t len,
                uint64_t delay_ms, uint64_t *result)
{
    if (!s || !wm__ch_name_ok(name) || (!data && len) ||
        len > WM_CH_DEFAULT_MAX_FRAME - 64 * 1024 || delay_ms > (uint64_t)WM_CH_MAX_DELAY_MS)
        return WM_EINVAL;
    /* A connection kept from an earlier call may have died meanwhile (a
     * server restart): then the request goes once more on a new one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = s->fd >= 0;
        int rc = reused ? WM_OK : open_conn(s);
        if (rc != WM_OK)
            return rc;
        uint64_t id = s->next_id++;
        begin(s, id, op, delay_ms ? 3 : 2);
        msgpack_pack_str_with_body(&s->pk, name, strlen(name));
        msgpack_pack_str_with_body(&s->pk, data ? data : "", len);
        if (delay_ms)
            msgpack_pack_uint64(&s->pk, delay_ms);
        wm__ch_incoming_t in;
        rc = round_trip(s, id, &in);
        if (rc == WM_OK) {
            if (result)
                *result = in.status == WM_OK ? in.result : 0;
            return in.status == WM_OK ? WM_OK : fail(s, in.status, wm__ch_op_name(op));
        }
        drop_conn(s); /* the pairing of replies is lost with the request */
        if (!reused || (rc != WM_ECONNRESET && rc != -EPIPE))
            return fail(s, rc, wm__ch_op_name(op));
    }
    return fail(s, WM_ECONNRESET, wm__ch_op_name(op));
}

wm_ch_sync_t *wm_ch_sync_new(const char *url, const wm_ch_options_t *opt)
{
    static const wm_ch_options_t defaults = {0};
    if (!opt)
        opt = &defaults;
    wm_ch_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = -1;
    s->next_id = 1;
    s->timeout_ms = opt->timeout_ms ? opt->timeout_ms : WM_CH_DEFAULT_TIMEOUT_MS;
    s->connect_timeout_ms =
        opt->connect_timeout_ms ? opt->connect_timeout_ms : WM_CH_DEFAULT_CONNECT_TIMEOUT_MS;
    msgpack_sbuffer_init(&s->sb);
    msgpack_packer_init(&s->pk, &s->sb, msgpack_sbuffer_write);
    if (wm__svc_addr_parse(url ? url : "127.0.0.1:2206", &s->addr) != WM_OK ||
        (opt->auth && !(s->auth = strdup(opt->auth)))) {
        wm_ch_sync_free(s);
        return NULL;
    }
    return s;
}

void wm_ch_sync_free(wm_ch_sync_t *s)
{
    if (!s)
        return;
    drop_conn(s);
    free(s->auth);
    free(s->rbuf);
    msgpack_sbuffer_destroy(&s->sb);
    free(s);
}

int wm_ch_sync_publish(wm_ch_sync_t *s, const char *event, const void *data, size_t len,
                       uint64_t *receivers)
{
    return call(s, WM_CH_OP_PUBLISH, event, data, len, 0, receivers);
}

int wm_ch_sync_enqueue(wm_ch_sync_t *s, const char *queue, const void *data, size_t len,
                       uint64_t delay_ms, uint64_t *id)
{
    return call(s, WM_CH_OP_ENQUEUE, queue, data, len, delay_ms, id);
}

const char *wm_ch_sync_last_error(const wm_ch_sync_t *s)
{
    return s ? s->reason : "";
}
