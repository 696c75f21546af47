/* SPDX-License-Identifier: MIT */
/* Reading and message dispatch for stream connections.
 *
 * Each wakeup reads at most WM_READ_CHUNK bytes and delivers at most
 * WM_DISPATCH_BUDGET messages, so one busy peer cannot starve the others; the
 * rest is picked up on the next loop turn. */
#include <stdio.h>
#include <string.h>

#include "wm_int.h"

#define WM_READ_CHUNK (64 * 1024)
#define WM_DISPATCH_BUDGET 256

static void conn_fail(wm_conn_t *c, int err, const char *what)
{
    char why[160];
    snprintf(why, sizeof why, "%s: %s (max package %zu bytes)", what, wm_strerror(err),
             c->ctx.max_package);
    wm_log_warn("connection %llu from %s: %s; closing", (unsigned long long)c->id,
                wm_conn_remote_address(c), why);
    wm__conn_end(c, err, why);
}

static void conn_deliver(wm_conn_t *c, const wm_msg_t *m)
{
    if (c->pipe_dst) {
        wm_conn_send(c->pipe_dst, m->data, m->len);
        return;
    }
    c->msgs_in++;
    if (c->worker && !c->worker->hidden)
        wm__stats_request();
    if (c->cb.on_message)
        c->cb.on_message(c, m, c->cb.on_message_ud);
}

/* Sizes the next message. Returns its length, 0 when more bytes are needed,
 * or a negative code after failing the connection. */
static ssize_t conn_next_size(wm_conn_t *c, size_t avail)
{
    if (!c->proto->input)
        return (ssize_t)(avail < c->ctx.max_package ? avail : c->ctx.max_package);
    ssize_t n = c->proto->input(c->in, &c->ctx);
    if (n < 0) {
        conn_fail(c, (int)n, "bad input");
        return n;
    }
    if ((size_t)n > c->ctx.max_package) {
        conn_fail(c, WM_EMSGSIZE, "message too large");
        return WM_EMSGSIZE;
    }
    if (n == 0 && avail > c->ctx.max_package && c->state == WM_CONN_ESTABLISHED) {
        /* A codec that does not check the limit itself (one that answered
         * and closed the connection, as websocket does, has checked it). */
        conn_fail(c, WM_EMSGSIZE, "message too large");
        return WM_EMSGSIZE;
    }
    return n;
}

void wm__conn_dispatch(wm_conn_t *c)
{
    if (c->dispatching)
        return;
    c->dispatching = true;
    for (int budget = WM_DISPATCH_BUDGET; c->state == WM_CONN_ESTABLISHED && !c->holds;) {
        size_t avail = evbuffer_get_length(c->in);
        if (avail == 0)
            break;
        ssize_t n = conn_next_size(c, avail);
        if (n <= 0 || (size_t)n > avail)
            break;
        wm_msg_t m = {(const char *)evbuffer_pullup(c->in, n), (size_t)n, NULL};
        int rc = WM_OK;
        if (c->proto->decode) {
            rc = c->proto->decode(m.data, (size_t)n, &m, &c->ctx);
            if (rc < 0) {
                conn_fail(c, rc, "bad message");
                break;
            }
        }
        c->ctx.scanned = 0;
        if (rc != WM__DECODE_NOTHING) /* a frame that completes no message */
            conn_deliver(c, &m);
        /* The callback may have ended the connection, which empties `in`;
         * draining an empty buffer is harmless. */
        evbuffer_drain(c->in, (size_t)n);
        if (--budget == 0) {
            if (c->state == WM_CONN_ESTABLISHED && evbuffer_get_length(c->in))
                event_active(c->rev, EV_READ, 0);
            break;
        }
    }
    c->dispatching = false;
    wm__conn_flush_batch(c);
    /* A hold taken during the dispatch and still on (wm__conn_hold) stops
     * reading now. Deleting an event that is not added costs no syscall. */
    if (c->holds && c->rev && c->fd >= 0 && c->state != WM_CONN_CONNECTING)
        event_del(c->rev);
}

/* The peer will send nothing more: deliver what is left, then close once
 * our own queue is written (a peer that half-closed still reads). */
void wm__conn_on_eof(wm_conn_t *c)
{
    c->eof = true;
    event_del(c->rev);
    if (c->holds && evbuffer_get_length(c->in))
        return; /* resume_recv delivers the rest and comes back here */
    if (evbuffer_get_length(c->out) == 0)
        wm__conn_end(c, 0, NULL);
    else
        c->state = WM_CONN_CLOSING;
}

/* One read buffer for the process: connections are read one at a time. */
static char scratch[WM_READ_CHUNK];

/* Reads what the socket has. When nothing is buffered (the usual case: whole
 * messages arrive), the bytes land in `scratch` and are lent to the input
 * buffer as a reference — no FIONREAD ioctl, no chunk malloc and free per
 * read, which evbuffer_read costs; `*lent` says so, and conn_keep_rest must
 * then copy what dispatch leaves before `scratch` is reused. */
static int conn_read(wm_conn_t *c, bool *lent)
{
    *lent = false;
    if (c->eof)
        return 0;
    if (evbuffer_get_length(c->in))
        return evbuffer_read(c->in, c->fd, WM_READ_CHUNK);
    ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
    if (n > 0) {
        if (evbuffer_add_reference(c->in, scratch, (size_t)n, NULL, NULL) < 0)
            return -1;
        *lent = true;
    }
    return (int)n;
}

/* Copies the unconsumed tail of a lent read into the connection's own
 * memory (one chunk, so pullup returns the scratch pointer, no copy). */
static void conn_keep_rest(wm_conn_t *c)
{
    size_t left = evbuffer_get_length(c->in);
    if (!left)
        return;
    const char *p = (const char *)evbuffer_pullup(c->in, -1);
    evbuffer_drain(c->in, left);
    evbuffer_add(c->in, p, left);
}

void wm__conn_on_readable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    if (c->state != WM_CONN_ESTABLISHED || c->holds)
        return;
    bool lent;
    int n = conn_read(c, &lent);
    if (n > 0) {
        c->bytes_read += (uint64_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        wm_log_debug("connection %llu: read failed: %s", (unsigned long long)c->id,
                     strerror(errno));
        wm__conn_end(c, 0, NULL);
        return;
    }
    wm__conn_dispatch(c);
    if (lent)
        conn_keep_rest(c);
    if (n == 0 && c->state == WM_CONN_ESTABLISHED)
        wm__conn_on_eof(c);
    else
        wm__conn_close_if_idle(c);
}
