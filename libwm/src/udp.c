/* SPDX-License-Identifier: MIT */
/* Datagrams. A udp:// worker hands each datagram to on_message with a peer
 * connection (reused, valid during the callback) whose send replies to the
 * sender; nothing done to that peer can close the worker's socket. An
 * outgoing udp:// connection is a connected UDP socket. Each datagram is one
 * message, decoded by the protocol when it has a decoder. */
#include <stdio.h>
#include <string.h>

#include "wm_int.h"

#define WM_UDP_MAX 65536
#define WM_UDP_BUDGET 64 /* datagrams per wakeup */

static void udp_deliver(wm_conn_t *c, const char *data, size_t len)
{
    wm_msg_t m = {data, len, NULL};
    if (c->proto->decode && c->proto->decode(data, len, &m, &c->ctx) < 0) {
        wm_log_debug("udp from %s: bad datagram dropped", wm_conn_remote_address(c));
        return;
    }
    if (c->cb.on_message)
        c->cb.on_message(c, &m, c->cb.on_message_ud);
}

void wm__udp_worker_on_readable(evutil_socket_t fd, short what, void *arg)
{
    wm_worker_t *w = arg;
    static char buf[WM_UDP_MAX];
    wm_conn_t *peer = w->udp_peer;
    /* The handler may stop or free the worker: the peer and worker memory
     * stay until the loop frees them, and a stopped worker has no peer. */
    for (int i = 0; i < WM_UDP_BUDGET && w->started && w->udp_peer == peer; i++) {
        peer->remote_len = sizeof peer->remote;
        ssize_t n = recvfrom(w->fd, buf, sizeof buf, 0, (struct sockaddr *)&peer->remote,
                             &peer->remote_len);
        if (n < 0)
            break; /* EAGAIN, or an ICMP error for an earlier reply: nothing to do */
        peer->remote_addr[0] = '\0';
        peer->bytes_read += (uint64_t)n;
        peer->fd = w->fd;
        peer->state = WM_CONN_ESTABLISHED;
        /* The handler sees the worker's callbacks even if it changed them on
         * a previous datagram's peer. */
        peer->cb = w->cb;
        udp_deliver(peer, buf, (size_t)n);
    }
}

void wm__udp_conn_on_readable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    static char buf[WM_UDP_MAX];
    for (int i = 0; i < WM_UDP_BUDGET && c->state == WM_CONN_ESTABLISHED && !c->holds; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                wm_log_debug("udp connection %llu: %s", (unsigned long long)c->id, strerror(errno));
            break;
        }
        c->bytes_read += (uint64_t)n;
        udp_deliver(c, buf, (size_t)n);
    }
}

/* An outgoing UDP connection is not connected until the loop has run its
 * connect: datagrams sent before that wait in `out`, each behind a 4-byte
 * length, within the send buffer limit. */
static int udp_queue(wm_conn_t *c, const void *data, size_t len)
{
    uint32_t n = (uint32_t)len;
    if (len > WM_UDP_MAX || evbuffer_get_length(c->out) + len + 4 > c->max_send_buffer)
        return WM_ENOBUFS;
    if (evbuffer_add(c->out, &n, 4) < 0 || evbuffer_add(c->out, data, len) < 0)
        return WM_ENOMEM;
    return WM_QUEUED;
}

void wm__udp_flush_queued(wm_conn_t *c)
{
    static char buf[WM_UDP_MAX];
    uint32_t n;
    while (c->state == WM_CONN_ESTABLISHED && evbuffer_remove(c->out, &n, 4) == 4) {
        evbuffer_remove(c->out, buf, n);
        if (send(c->fd, buf, n, 0) >= 0)
            c->bytes_written += n;
    }
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
}

int wm__udp_send(wm_conn_t *c, const void *data, size_t len, bool raw)
{
    bool waiting = c->kind == WM_KIND_OUTGOING &&
                   (c->state == WM_CONN_INITIAL || c->state == WM_CONN_CONNECTING ||
                    (c->state == WM_CONN_CLOSED && c->reconnect_armed));
    if (!waiting && (c->state != WM_CONN_ESTABLISHED || c->fd < 0))
        return WM_ENOTCONN;
    const void *p = data;
    size_t n = len;
    struct evbuffer *framed = NULL;
    if (!raw && c->proto->encode) {
        framed = evbuffer_new();
        if (!framed || c->proto->encode(framed, data, len, &c->ctx) < 0) {
            if (framed)
                evbuffer_free(framed);
            return WM_ENOMEM;
        }
        n = evbuffer_get_length(framed);
        p = evbuffer_pullup(framed, -1);
    }
    if (waiting) {
        int rc = udp_queue(c, p, n);
        if (framed)
            evbuffer_free(framed);
        return rc;
    }
    ssize_t w = c->kind == WM_KIND_UDP_PEER
                    ? sendto(c->fd, p, n, 0, (struct sockaddr *)&c->remote, c->remote_len)
                    : send(c->fd, p, n, 0);
    int err = w < 0 ? -errno : WM_SENT;
    if (framed)
        evbuffer_free(framed);
    if (w >= 0)
        c->bytes_written += (uint64_t)w;
    else
        wm_log_debug("udp send to %s failed: %s", wm_conn_remote_address(c), wm_strerror(err));
    return err;
}
