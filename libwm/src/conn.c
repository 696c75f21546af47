/* SPDX-License-Identifier: MIT */
/* Connections: the object, the process table, sending, closing, flow
 * control and pipes. Reading and message dispatch live in conn_io.c,
 * outgoing connects in connect.c, datagrams in udp.c.
 *
 * Freeing is always deferred to the loop (wm__defer): a connection that ends
 * inside a callback, or is destroyed from another connection's callback,
 * keeps its memory until the callbacks on the stack have returned, and every
 * call on it meanwhile sees state CLOSED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "wm_int.h"

static wm__map_t conn_table;
static uint64_t next_conn_id = 1;

/* ---- life cycle ------------------------------------------------------------ */

wm_conn_t *wm__conn_alloc(wm__conn_kind_t kind, const wm_protocol_t *proto, size_t max_package,
                          size_t max_send_buffer)
{
    wm_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = -1;
    c->kind = (uint8_t)kind;
    c->state = WM_CONN_INITIAL;
    c->proto = proto;
    c->ctx.conn = c;
    c->ctx.max_package = max_package;
    c->max_send_buffer = max_send_buffer;
    c->connect_timeout_ms = WM_DEFAULT_CONNECT_TIMEOUT_MS;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->id = next_conn_id++;
    /* UDP peers are views of a worker's socket, not connections of their
     * own: they stay out of the table. */
    bool track = kind != WM_KIND_UDP_PEER;
    if (!c->in || !c->out || (track && wm__map_put(&conn_table, c->id, c) != WM_OK)) {
        if (c->in)
            evbuffer_free(c->in);
        if (c->out)
            evbuffer_free(c->out);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_free_now(void *arg)
{
    wm_conn_t *c = arg;
    wm__connect_cancel(c);
    wm__conn_close_socket(c);
    if (c->tls)
        wm__tls_free(c);
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->timer)
        event_free(c->timer);
    if (c->retry_ev)
        event_free(c->retry_ev);
    if (c->proto && c->proto->free_state && c->ctx.state)
        c->proto->free_state(&c->ctx);
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    if (c->user_free)
        c->user_free(c->user_data);
    free(c);
}

void wm__conn_free_detached(wm_conn_t *c)
{
    c->freed = true;
    c->state = WM_CONN_CLOSED;
    if (!wm__loop_exists() || wm__defer(conn_free_now, c) != WM_OK)
        conn_free_now(c);
}

wm_conn_t *wm__conn_adopt(int fd, const wm_protocol_t *proto)
{
    wm_conn_t *c =
        wm__conn_alloc(WM_KIND_ACCEPTED, proto, WM_DEFAULT_MAX_PACKAGE, WM_DEFAULT_MAX_SEND_BUFFER);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->transport = WM_TR_UNIX;
    if (wm__conn_attach_fd(c, fd) != WM_OK) {
        close(fd);
        wm_conn_destroy(c);
        return NULL;
    }
    return c;
}

/* Idle: between requests. That needs a request answered and nothing
 * pending: at least one message delivered, something sent since the last
 * one (an answer may wait on a timer or a database; closing then would fail
 * it), and nothing buffered either way. A connection that has not sent
 * anything yet is not idle either — its first request may be on the wire.
 * Whatever never becomes idle is closed at the stop timeout. */
void wm__conn_close_if_idle(wm_conn_t *c)
{
    if (!(c->worker && c->worker->close_idle && c->state == WM_CONN_ESTABLISHED &&
          !c->dispatching && c->msgs_in > 0 && c->answered_upto == c->msgs_in &&
          evbuffer_get_length(c->in) == 0 && evbuffer_get_length(c->out) == 0))
        return;
    /* A next request may sit unread in the kernel: then we are not idle,
     * and close() would answer it with a reset (measured: most of the
     * keep-alive failures under plain reload). Serve it first. */
    int unread = 0;
    if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)
        return;
    wm_conn_close(c);
}

/* A draining worker's connection answered from a timer or another
 * connection's callback: check it once the callbacks return. By id, since
 * it may be freed by then. */
static void close_if_idle_later(void *id)
{
    wm_conn_t *c = wm_conn_find((uint64_t)(uintptr_t)id);
    if (c)
        wm__conn_close_if_idle(c);
}

/* Takes the connection out of every table and queues its memory for
 * release once the current callbacks return. */
static void conn_schedule_free(wm_conn_t *c)
{
    if (c->freed)
        return;
    c->freed = true;
    c->state = WM_CONN_CLOSED;
    wm__map_del(&conn_table, c->id);
    if (c->worker)
        wm__worker_conn_remove(c->worker, c);
    if (wm__defer(conn_free_now, c) != WM_OK)
        wm_log_error("connection %llu: out of memory, leaking it", (unsigned long long)c->id);
}

int wm__conn_attach_fd(wm_conn_t *c, int fd)
{
    struct event_base *base = wm__base();
    event_callback_fn on_read =
        c->transport == WM_TR_UDP ? wm__udp_conn_on_readable : wm__conn_on_readable;
    event_callback_fn on_write = wm__conn_on_writable;
    if (c->tls) {
        /* Made before anything changes, so a failure leaves `c` as it was. */
        if (wm__tls_new_ssl(c, fd) != WM_OK)
            return WM_ENOMEM;
        on_read = wm__tls_on_readable;
        on_write = wm__tls_on_writable;
    }
    /* Reconnects reuse the events; event_assign needs them idle. */
    if (c->rev)
        event_del(c->rev);
    if (c->wev)
        event_del(c->wev);
    if (!c->rev)
        c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    else
        event_assign(c->rev, base, fd, EV_READ | EV_PERSIST, on_read, c);
    if (!c->wev)
        c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    else
        event_assign(c->wev, base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->rev || !c->wev)
        return WM_ENOMEM;
    c->fd = fd;
    c->state = WM_CONN_ESTABLISHED;
    c->eof = false;
    c->close_fired = false;
    c->local_known = false;
    if (c->transport == WM_TR_TCP) {
        /* Messages are small and latency matters more than packet count. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (c->tls) {
        wm__tls_start(c); /* the handshake drives the events until it ends */
        return WM_OK;
    }
    if (!c->holds)
        event_add(c->rev, NULL);
    if (evbuffer_get_length(c->out) && c->transport != WM_TR_UDP)
        event_add(c->wev, NULL);
    return WM_OK;
}

void wm__conn_close_socket(wm_conn_t *c)
{
    if (c->rev)
        event_del(c->rev);
    if (c->wev)
        event_del(c->wev);
    if (c->tls)
        wm__tls_close(c); /* close_notify goes out before the socket closes */
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void wm__conn_emit_error(wm_conn_t *c, int err, const char *reason)
{
    if (c->cb.on_error)
        c->cb.on_error(c, err, reason, c->cb.on_error_ud);
}

void wm__conn_emit_connect(wm_conn_t *c)
{
    /* A WebSocket runs its handshake first and then on_connect (ws_conn.c). */
    const wm__proto_hooks_t *h = wm__proto_hooks(c->proto);
    if (h && h->transport_open && h->transport_open(c))
        return;
    if (c->cb.on_connect)
        c->cb.on_connect(c, c->cb.on_connect_ud);
}

/* Unhooks pipes in both directions, closing the destination of a pipe whose
 * source ended (after its queue is flushed), as Workerman's pipe does. */
static void conn_unpipe(wm_conn_t *c)
{
    wm_conn_t *dst = c->pipe_dst, *src = c->pipe_src;
    c->pipe_dst = c->pipe_src = NULL;
    if (src && src->pipe_dst == c) {
        src->pipe_dst = NULL;
        wm__conn_release(src, WM__HOLD_PIPE);
    }
    if (dst) {
        if (dst->pipe_src == c)
            dst->pipe_src = NULL;
        wm_conn_close(dst);
    }
}

void wm__conn_end(wm_conn_t *c, int err, const char *reason)
{
    if (c->state == WM_CONN_CLOSED || c->state == WM_CONN_INITIAL || c->kind == WM_KIND_UDP_PEER)
        return;
    wm__connect_cancel(c);
    wm__conn_close_socket(c);
    c->state = WM_CONN_CLOSED;
    if (c->retry_ev && !c->reconnect_armed)
        event_del(c->retry_ev); /* a connect not started yet */
    /* `in` is kept: a message being handled points into it. It is emptied
     * when a new attempt starts, or freed with the connection. */
    evbuffer_drain(c->out, evbuffer_get_length(c->out));
    c->ctx.scanned = 0;
    c->buffer_full = false;
    c->drain_wanted = false;
    c->close_after_connect = false;
    if (err)
        wm__conn_emit_error(c, err, reason ? reason : wm_strerror(err));
    if (!c->close_fired) {
        c->close_fired = true;
        if (c->cb.on_close)
            c->cb.on_close(c, c->cb.on_close_ud);
    }
    conn_unpipe(c);
    /* A reconnect or a new connect asked for in on_error or on_close keeps
     * an outgoing connection. */
    bool again = c->reconnect_armed || c->state != WM_CONN_CLOSED;
    if (!(c->kind == WM_KIND_OUTGOING && again))
        conn_schedule_free(c);
}

void wm_conn_destroy(wm_conn_t *c)
{
    if (!c || c->freed || c->kind == WM_KIND_UDP_PEER)
        return;
    /* An on_close that reconnects must not undo the destroy. */
    c->destroying = true;
    c->reconnect_armed = false;
    if (c->retry_ev)
        event_del(c->retry_ev);
    switch (c->state) {
    case WM_CONN_CONNECTING:
    case WM_CONN_ESTABLISHED:
    case WM_CONN_CLOSING:
        wm__conn_end(c, 0, NULL);
        break;
    default: /* idle, or waiting to reconnect: nothing runs, just free */
        wm__connect_cancel(c);
        conn_schedule_free(c);
        break;
    }
}

void wm__conn_destroy_all(void)
{
    while (conn_table.len) {
        uint64_t id = 0;
        for (size_t i = 0; i < conn_table.cap && !id; i++)
            id = conn_table.slots[i].key;
        wm_conn_destroy(wm__map_get(&conn_table, id));
    }
}

/* ---- sending ---------------------------------------------------------------- */

static void conn_check_full(wm_conn_t *c)
{
    if (c->buffer_full || evbuffer_get_length(c->out) < c->max_send_buffer)
        return;
    c->buffer_full = true;
    if (c->pipe_src)
        wm__conn_hold(c->pipe_src, WM__HOLD_PIPE);
    if (c->cb.on_buffer_full)
        c->cb.on_buffer_full(c, c->cb.on_buffer_full_ud);
}

static void conn_drained(wm_conn_t *c)
{
    event_del(c->wev);
    if (c->buffer_full || c->drain_wanted) {
        bool was_full = c->buffer_full;
        /* Cleared before the callback: what it sends may empty the queue
         * again (a direct write) without running it a second time. */
        c->buffer_full = c->drain_wanted = false;
        if (was_full && c->pipe_src)
            wm__conn_release(c->pipe_src, WM__HOLD_PIPE);
        if (c->cb.on_buffer_drain)
            c->cb.on_buffer_drain(c, c->cb.on_buffer_drain_ud);
    }
    if (c->state == WM_CONN_CLOSING)
        wm__conn_end(c, 0, NULL);
    else
        wm__conn_close_if_idle(c);
}

/* Writes what is queued. Returns WM_OK, or WM_ENOTCONN when the write failed
 * and the connection ended. */
static int conn_flush(wm_conn_t *c)
{
    for (int round = 0; round < 8 && evbuffer_get_length(c->out); round++) {
        int n = c->tls ? wm__tls_write(c) : evbuffer_write(c->out, c->fd);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            wm_log_debug("connection %llu: write failed: %s", (unsigned long long)c->id,
                         strerror(errno));
            wm__conn_end(c, 0, NULL);
            return WM_ENOTCONN;
        }
        c->bytes_written += (uint64_t)n;
    }
    if (evbuffer_get_length(c->out) == 0)
        conn_drained(c);
    else if (!c->tls || !wm__tls_write_waits_read(c))
        event_add(c->wev, NULL);
    return WM_OK;
}

void wm__conn_flush_batch(wm_conn_t *c)
{
    if (!c->flush_due)
        return;
    c->flush_due = false;
    if ((c->state == WM_CONN_ESTABLISHED || c->state == WM_CONN_CLOSING) &&
        evbuffer_get_length(c->out))
        conn_flush(c);
}

/* Batched sends made outside their connection's own dispatch (a broadcast
 * from another connection's message, a timer, a commit) wait for the end of
 * the loop turn: then each listed connection gets one write for all of
 * them. The list holds ids, not pointers: a connection may end before the
 * turn does. */
static struct {
    uint64_t *ids, *spare;
    size_t len, cap, spare_cap;
    bool scheduled;
} turn_flush;

static void flush_turn(void *unused)
{
    (void)unused;
    /* Sends made while flushing (an error callback that sends) list their
     * connection again, for a flush in the next turn. */
    uint64_t *ids = turn_flush.ids;
    size_t n = turn_flush.len, cap = turn_flush.cap;
    turn_flush.ids = turn_flush.spare;
    turn_flush.cap = turn_flush.spare_cap;
    turn_flush.len = 0;
    turn_flush.scheduled = false;
    for (size_t i = 0; i < n; i++) {
        wm_conn_t *c = wm_conn_find(ids[i]);
        if (c)
            wm__conn_flush_batch(c);
    }
    turn_flush.spare = ids;
    turn_flush.spare_cap = cap;
}

/* Lists `c` for the end-of-turn flush. False when out of memory: the caller
 * then writes at once, as without batching. */
static bool flush_at_turn_end(wm_conn_t *c)
{
    if (c->flush_due)
        return true; /* listed already, or its dispatch will flush it */
    if (turn_flush.len == turn_flush.cap) {
        size_t cap = turn_flush.cap ? turn_flush.cap * 2 : 64;
        uint64_t *v = realloc(turn_flush.ids, cap * sizeof *v);
        if (!v)
            return false;
        turn_flush.ids = v;
        turn_flush.cap = cap;
    }
    if (!turn_flush.scheduled) {
        if (wm__defer(flush_turn, NULL) != WM_OK)
            return false;
        turn_flush.scheduled = true;
    }
    turn_flush.ids[turn_flush.len++] = c->id;
    c->flush_due = true;
    return true;
}

void wm__conn_on_writable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    if (c->state == WM_CONN_ESTABLISHED || c->state == WM_CONN_CLOSING)
        conn_flush(c);
}

/* The fast path: nothing queued and no framing, so the caller's bytes go to
 * the kernel without a copy. Returns how many were written, or -1 when the
 * connection ended. */
static ssize_t conn_write_direct(wm_conn_t *c, const void *data, size_t len)
{
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0) {
        c->bytes_written += (uint64_t)n;
        return n;
    }
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    wm_log_debug("connection %llu: send failed: %s", (unsigned long long)c->id, strerror(errno));
    wm__conn_end(c, 0, NULL);
    return -1;
}

/* Open connections take data; so does an outgoing one that is not connected
 * yet or is waiting to reconnect: it is queued and sent once connected. */
static bool conn_accepts_data(const wm_conn_t *c)
{
    if (c->freed)
        return false;
    if (c->state == WM_CONN_ESTABLISHED)
        return true;
    if (c->state == WM_CONN_CONNECTING)
        return !c->close_after_connect;
    return c->kind == WM_KIND_OUTGOING &&
           (c->state == WM_CONN_INITIAL || (c->state == WM_CONN_CLOSED && c->reconnect_armed));
}

static int conn_send(wm_conn_t *c, const void *data, size_t len, bool raw)
{
    c->answered_upto = c->msgs_in;
    if (c->worker && c->worker->close_idle && !c->dispatching)
        wm__defer(close_if_idle_later, (void *)(uintptr_t)c->id);
    if (c->kind == WM_KIND_UDP_PEER || c->transport == WM_TR_UDP)
        return wm__udp_send(c, data, len, raw);
    if (!conn_accepts_data(c))
        return WM_ENOTCONN;
    size_t queued = evbuffer_get_length(c->out);
    if (queued >= c->max_send_buffer) {
        char why[96];
        snprintf(why, sizeof why, "send buffer full (%zu bytes queued): data dropped", queued);
        wm__stats_send_failure();
        wm__conn_emit_error(c, WM_ENOBUFS, why);
        return WM_ENOBUFS;
    }
    bool now = c->state == WM_CONN_ESTABLISHED && queued == 0;
    bool batch = c->batch_sends && c->state == WM_CONN_ESTABLISHED &&
                 (c->dispatching || flush_at_turn_end(c));
    if (batch) {
        /* Queue now, write once at the end of the dispatch (conn_io.c) or
         * of the loop turn (flush_turn). */
        now = false;
        c->flush_due = true;
    }
    if (raw || !c->proto->encode) {
        size_t done = 0;
        if (now && !c->tls) { /* TLS encrypts from `out`, in conn_flush */
            ssize_t n = conn_write_direct(c, data, len);
            if (n < 0)
                return WM_ENOTCONN;
            done = (size_t)n;
            if (done == len)
                return WM_SENT;
            now = false; /* the kernel is full: flushing again now would EAGAIN */
        }
        if (evbuffer_add(c->out, (const char *)data + done, len - done) < 0)
            return WM_ENOMEM;
    } else {
        int rc = c->proto->encode(c->out, data, len, &c->ctx);
        if (rc < 0)
            return rc;
    }
    if (now && conn_flush(c) != WM_OK)
        return WM_ENOTCONN;
    if (evbuffer_get_length(c->out) == 0)
        return WM_SENT;
    if (c->state == WM_CONN_ESTABLISHED && !batch)
        event_add(c->wev, NULL);
    conn_check_full(c);
    return WM_QUEUED;
}

bool wm_conn_want_drain(wm_conn_t *c)
{
    if (!c || c->freed || c->kind == WM_KIND_UDP_PEER || c->transport == WM_TR_UDP ||
        !conn_accepts_data(c) || evbuffer_get_length(c->out) == 0)
        return false;
    c->drain_wanted = true;
    return true;
}

int wm_conn_send(wm_conn_t *c, const void *data, size_t len)
{
    return conn_send(c, data, len, false);
}

int wm_conn_send_raw(wm_conn_t *c, const void *data, size_t len)
{
    return conn_send(c, data, len, true);
}

/* ---- closing ------------------------------------------------------------------ */

int wm_conn_close(wm_conn_t *c)
{
    if (c->kind == WM_KIND_UDP_PEER)
        return WM_OK; /* the worker's socket is not the peer's to close */
    if (c->close_after_connect)
        return WM_ENOTCONN;
    if (c->state == WM_CONN_CONNECTING && evbuffer_get_length(c->out)) {
        c->close_after_connect = true; /* flush the queued data first */
        return WM_OK;
    }
    if (c->state == WM_CONN_CONNECTING) {
        wm__conn_end(c, 0, NULL);
        return WM_OK;
    }
    if (c->state != WM_CONN_ESTABLISHED)
        return WM_ENOTCONN;
    /* An open WebSocket closes with a close handshake (ws_conn.c). */
    const wm__proto_hooks_t *h = wm__proto_hooks(c->proto);
    if (h && h->close_request && h->close_request(c))
        return WM_OK;
    c->state = WM_CONN_CLOSING;
    event_del(c->rev);
    if (evbuffer_get_length(c->out) == 0)
        wm__conn_end(c, 0, NULL);
    return WM_OK;
}

int wm_conn_close_with(wm_conn_t *c, const void *data, size_t len)
{
    if (c->state != WM_CONN_ESTABLISHED && c->state != WM_CONN_CONNECTING &&
        c->kind != WM_KIND_UDP_PEER)
        return WM_ENOTCONN;
    int rc = wm_conn_send(c, data, len);
    if (rc == WM_ENOTCONN)
        return rc;
    return wm_conn_close(c);
}

/* ---- flow control ------------------------------------------------------------- */

void wm__conn_hold(wm_conn_t *c, unsigned why)
{
    c->holds |= (uint8_t)why;
    /* Inside this connection's own dispatch, the flag alone stops it; the
     * read event is removed when the dispatch ends, only if the hold is
     * still on then. A request answered inside on_message (http's hold per
     * request) so costs no epoll_ctl at all instead of two. A TLS handshake
     * (state CONNECTING) needs its read event; the hold takes effect when
     * it completes. */
    if (c->rev && c->fd >= 0 && c->state != WM_CONN_CONNECTING && !c->dispatching)
        event_del(c->rev);
}

void wm__conn_release(wm_conn_t *c, unsigned why)
{
    if (!(c->holds & why))
        return;
    c->holds &= (uint8_t)~why;
    if (c->holds || c->state != WM_CONN_ESTABLISHED || !c->rev)
        return;
    if (!event_pending(c->rev, EV_READ, NULL)) /* a hold within a dispatch kept it */
        event_add(c->rev, NULL);
    /* Deliver what is already buffered even if no new byte ever arrives; the
     * message loop running further up the stack picks it up by itself. */
    if (!c->dispatching && (evbuffer_get_length(c->in) || c->eof))
        event_active(c->rev, EV_READ, 0);
}

void wm_conn_pause_recv(wm_conn_t *c)
{
    wm__conn_hold(c, WM__HOLD_USER);
}

void wm_conn_resume_recv(wm_conn_t *c)
{
    wm__conn_release(c, WM__HOLD_USER);
}

bool wm_conn_is_paused(const wm_conn_t *c)
{
    return c->holds != 0;
}

int wm_conn_pipe(wm_conn_t *src, wm_conn_t *dst)
{
    if (!src || !dst || src == dst || src->state > WM_CONN_ESTABLISHED ||
        dst->state > WM_CONN_ESTABLISHED)
        return WM_ENOTCONN;
    src->pipe_dst = dst;
    dst->pipe_src = src;
    if (dst->buffer_full)
        wm__conn_hold(src, WM__HOLD_PIPE);
    return WM_OK;
}

void wm_conn_set_max_send_buffer(wm_conn_t *c, size_t bytes)
{
    c->max_send_buffer = bytes;
}

void wm_conn_set_batch_sends(wm_conn_t *c, bool on)
{
    c->batch_sends = on;
}

size_t wm_conn_max_send_buffer(const wm_conn_t *c)
{
    return c->max_send_buffer;
}

void wm_conn_set_max_package(wm_conn_t *c, size_t bytes)
{
    c->ctx.max_package = bytes;
}

size_t wm_conn_max_package(const wm_conn_t *c)
{
    return c->ctx.max_package;
}

/* ---- callbacks ------------------------------------------------------------------ */

#define WM_CONN_SETTER(what, type)                                                                 \
    void wm_conn_##what(wm_conn_t *c, type cb, void *user_data)                                    \
    {                                                                                              \
        c->cb.what = cb;                                                                           \
        c->cb.what##_ud = user_data;                                                               \
    }
WM_CONN_SETTER(on_connect, wm_conn_cb)
WM_CONN_SETTER(on_message, wm_message_cb)
WM_CONN_SETTER(on_close, wm_conn_cb)
WM_CONN_SETTER(on_error, wm_conn_error_cb)
WM_CONN_SETTER(on_buffer_full, wm_conn_cb)
WM_CONN_SETTER(on_buffer_drain, wm_conn_cb)

/* ---- facts ----------------------------------------------------------------------- */

uint64_t wm_conn_id(const wm_conn_t *c)
{
    return c->id;
}

wm_conn_t *wm_conn_find(uint64_t id)
{
    return wm__map_get(&conn_table, id);
}

wm_worker_t *wm_conn_worker(const wm_conn_t *c)
{
    return c->worker;
}

wm_conn_state_t wm_conn_state(const wm_conn_t *c)
{
    return (wm_conn_state_t)c->state;
}

const wm_protocol_t *wm_conn_protocol(const wm_conn_t *c)
{
    return c->proto;
}

static void conn_learn_remote(wm_conn_t *c)
{
    if (c->remote_addr[0] || !c->remote_len)
        return;
    wm__sockaddr_text((struct sockaddr *)&c->remote, c->remote_len, c->remote_ip,
                      sizeof c->remote_ip, &c->remote_port);
    if (c->remote.ss_family == AF_INET6)
        snprintf(c->remote_addr, sizeof c->remote_addr, "[%s]:%u", c->remote_ip, c->remote_port);
    else if (c->remote.ss_family == AF_UNIX)
        snprintf(c->remote_addr, sizeof c->remote_addr, "%s", c->remote_ip);
    else
        snprintf(c->remote_addr, sizeof c->remote_addr, "%s:%u", c->remote_ip, c->remote_port);
}

static void conn_learn_local(wm_conn_t *c)
{
    if (c->local_known || c->fd < 0)
        return;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        wm__sockaddr_text((struct sockaddr *)&ss, len, c->local_ip, sizeof c->local_ip,
                          &c->local_port);
        c->local_known = true;
    }
}

const char *wm_conn_remote_ip(const wm_conn_t *c)
{
    conn_learn_remote((wm_conn_t *)c);
    return c->remote_ip;
}

uint16_t wm_conn_remote_port(const wm_conn_t *c)
{
    conn_learn_remote((wm_conn_t *)c);
    return c->remote_port;
}

const char *wm_conn_remote_address(const wm_conn_t *c)
{
    conn_learn_remote((wm_conn_t *)c);
    return c->remote_addr;
}

const char *wm_conn_local_ip(const wm_conn_t *c)
{
    conn_learn_local((wm_conn_t *)c);
    return c->local_ip;
}

uint16_t wm_conn_local_port(const wm_conn_t *c)
{
    conn_learn_local((wm_conn_t *)c);
    return c->local_port;
}

uint64_t wm_conn_bytes_read(const wm_conn_t *c)
{
    return c->bytes_read;
}

uint64_t wm_conn_bytes_written(const wm_conn_t *c)
{
    return c->bytes_written;
}

size_t wm_conn_send_queue(const wm_conn_t *c)
{
    return evbuffer_get_length(c->out);
}

size_t wm_conn_recv_queue(const wm_conn_t *c)
{
    return evbuffer_get_length(c->in);
}

void wm_conn_set_user_data(wm_conn_t *c, void *user_data, wm_free_cb free_cb)
{
    if (c->user_free && c->user_data != user_data)
        c->user_free(c->user_data);
    c->user_data = user_data;
    c->user_free = free_cb;
}

void *wm_conn_user_data(const wm_conn_t *c)
{
    return c->user_data;
}
