/* SPDX-License-Identifier: MIT */
/* The websocket:// protocol: what server and client share once the opening
 * handshake is done (ws_server.c and ws_client.c do that part) — framing
 * messages in and out on top of ws_frame.c, control frames, the close
 * handshake, the heartbeat — and the public calls of wm/websocket.h that
 * are not about one side's handshake.
 *
 * It rides on the generic codec interface: `input` sizes the next frame
 * from its header (or the handshake head), `decode` feeds that one frame to
 * the reader. A frame that completes no message (a fragment, a ping, a
 * close) is consumed with WM__DECODE_NOTHING, so on_message only ever sees
 * whole messages. Errors are answered from inside the codec: a close frame
 * with the RFC's code goes out, then a graceful close, and the codec reports
 * "need more" so the connection's generic error path (which would drop the
 * close frame) does not run.
 *
 * Three libwm hooks reach here (wm_int.h): wm__conn_emit_connect hands the
 * new transport to the handshake (on_connect waits for it), wm_conn_close
 * on an open WebSocket starts the close handshake, and wm_conn_new keeps a
 * ws:// URL's request target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_int.h"

static const wm_ws_type_t type_text = WM_WS_TEXT;
static const wm_ws_type_t type_binary = WM_WS_BINARY;

static void hb_arm(wm__ws_t *ws);

/* ---- State ------------------------------------------------------------------ */

wm__ws_t *wm__ws_state(wm_conn_t *c)
{
    return c && c->proto == &wm_protocol_websocket ? c->ctx.state : NULL;
}

wm__ws_t *wm__ws_state_new(wm_conn_t *c, bool client)
{
    wm__ws_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->conn = c;
    ws->client = client;
    ws->opts.handshake_timeout_ms = WM_WS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    wm__ws_reader_init(&ws->rd, !client, 1);
    c->ctx.state = ws;
    return ws;
}

static void ws_free_state(wm_proto_ctx_t *ctx)
{
    wm__ws_t *ws = ctx->state;
    if (ws->hs_timer)
        event_free(ws->hs_timer);
    if (ws->close_ev)
        event_free(ws->close_ev);
    if (ws->hb_timer)
        event_free(ws->hb_timer);
    wm__ws_reader_free(&ws->rd);
    free(ws->protocol);
    if (ws->cl)
        wm__ws_client_free(ws->cl);
    free(ws);
    ctx->state = NULL;
}

int wm__ws_timer(struct event **ev, uint64_t ms, event_callback_fn fn, void *arg)
{
    if (!*ev && !(*ev = evtimer_new(wm__base(), fn, arg)))
        return WM_ENOMEM;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return evtimer_add(*ev, &tv) == 0 ? WM_OK : WM_ENOMEM;
}

void wm__ws_hs_timer_stop(wm__ws_t *ws)
{
    if (ws->hs_timer)
        evtimer_del(ws->hs_timer);
}

/* The largest message payload: a frame (header included) must fit in the
 * max package size, which the connection checks for every size `input`
 * returns. */
static size_t max_message_for(const wm_conn_t *c)
{
    size_t pkg = c->ctx.max_package;
    return pkg > WM_WS_MAX_HEADER ? pkg - WM_WS_MAX_HEADER : 1;
}

/* wm__conn_emit_connect's hook: the transport (TCP, and TLS for wss) is up.
 * Every attempt of a client starts from scratch; on_connect waits for the
 * WebSocket handshake (wm__ws_opened). */
static bool ws_transport_open(wm_conn_t *c)
{
    wm__ws_t *ws = c->ctx.state;
    if (!ws && !(ws = wm__ws_state_new(c, c->kind == WM_KIND_OUTGOING))) {
        wm__conn_end(c, WM_ENOMEM, "out of memory for the websocket state");
        return true;
    }
    ws->phase = WS_HANDSHAKE;
    ws->close_sent = ws->close_received = false;
    ws->status = 0;
    ws->peer_code = WM_WS_CLOSE_ABNORMAL;
    ws->peer_reason[0] = '\0';
    free(ws->protocol);
    ws->protocol = NULL;
    ws->hs_last_len = 0;
    ws->ping_sent_ms = 0;
    ws->last_rx_ms = ws->last_ping_ms = wm_now_ms();
    if (ws->close_ev)
        evtimer_del(ws->close_ev);
    if (ws->hb_timer)
        evtimer_del(ws->hb_timer);
    wm__ws_reader_free(&ws->rd);
    wm__ws_reader_init(&ws->rd, !ws->client, max_message_for(c));
    if (ws->client)
        wm__ws_client_open(ws);
    else
        wm__ws_server_open(ws);
    return true;
}

void wm__ws_opened(wm__ws_t *ws)
{
    wm_conn_t *c = ws->conn;
    wm__ws_hs_timer_stop(ws);
    ws->phase = WS_OPEN;
    ws->last_rx_ms = ws->last_ping_ms = wm_now_ms();
    hb_arm(ws);
    wm_log_debug("connection %llu: websocket open with %s%s%s", (unsigned long long)c->id,
                 wm_conn_remote_address(c), ws->protocol ? ", subprotocol " : "",
                 ws->protocol ? ws->protocol : "");
    if (c->cb.on_connect)
        c->cb.on_connect(c, c->cb.on_connect_ud);
}

/* ---- Frames out ----------------------------------------------------------------- */

/* Appends one final frame. A client masks it with a fresh key (§5.3), in a
 * copy: the caller's data is const and borrowed. */
static int write_frame(struct evbuffer *out, bool masked, int opcode, const void *data, size_t len)
{
    uint8_t hdr[WM_WS_MAX_HEADER], key[4];
    if (masked) {
        int rc = wm__ws_random_mask(key);
        if (rc != WM_OK)
            return rc;
    }
    size_t hl = wm__ws_write_header(hdr, true, opcode, len, masked ? key : NULL);
    if (evbuffer_expand(out, hl + len) < 0 || evbuffer_add(out, hdr, hl) < 0)
        return WM_ENOMEM;
    if (!masked || len == 0)
        return len == 0 || evbuffer_add(out, data, len) == 0 ? WM_OK : WM_ENOMEM;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) < 1)
        return WM_ENOMEM;
    memcpy(v.iov_base, data, len);
    wm__ws_mask(v.iov_base, len, key, 0);
    v.iov_len = len;
    return evbuffer_commit_space(out, &v, 1) == 0 ? WM_OK : WM_ENOMEM;
}

static int ws_encode(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx)
{
    wm__ws_t *ws = ctx->state;
    if (!ws)
        return WM_ENOTCONN;
    int op = ws->send_opcode ? ws->send_opcode : ws->binary ? WM_WS_OP_BINARY : WM_WS_OP_TEXT;
    bool control = op >= WM_WS_OP_CLOSE;
    if (ws->close_sent || (!control && ws->phase == WS_CLOSING))
        return WM_ENOTCONN; /* §5.5.1: nothing after our close frame */
    if (ws->phase == WS_HANDSHAKE) {
        /* A client keeps messages until the answer came; a server cannot
         * send before its 101 (on_connect has not run). */
        if (!ws->client || control)
            return WM_ENOTCONN;
        if (evbuffer_get_length(ws->cl->pending) >= ws->conn->max_send_buffer)
            return WM_ENOBUFS;
        out = ws->cl->pending;
    }
    return write_frame(out, ws->client, op, data, len);
}

/* Sends one frame with `opcode` through wm_conn_send (so limits, queueing
 * and TLS apply as to any message). */
static int send_frame(wm__ws_t *ws, int opcode, const void *data, size_t len)
{
    ws->send_opcode = opcode;
    int rc = wm_conn_send(ws->conn, data, len);
    ws->send_opcode = 0;
    return rc;
}

static int send_close_frame(wm__ws_t *ws, int code, const char *reason)
{
    uint8_t payload[WM_WS_MAX_CONTROL];
    size_t n = wm__ws_close_payload(payload, code, reason, reason ? strlen(reason) : 0);
    int rc = send_frame(ws, WM_WS_OP_CLOSE, payload, n);
    ws->close_sent = true;
    ws->phase = WS_CLOSING;
    return rc;
}

/* ---- Closing ------------------------------------------------------------------------ */

static void close_timed_out(evutil_socket_t fd, short what, void *arg)
{
    wm__ws_t *ws = arg;
    if (ws->conn->state == WM_CONN_ESTABLISHED) {
        wm_log_debug("connection %llu: no close frame from the peer within %d ms; closing",
                     (unsigned long long)ws->conn->id, WM_WS_CLOSE_TIMEOUT_MS);
        wm_conn_close(ws->conn);
    }
}

/* Our side starts the close handshake; TCP closes when the peer's close
 * frame arrives (on_peer_close) or the timer fires. */
static int start_close(wm__ws_t *ws, int code, const char *reason)
{
    int rc = send_close_frame(ws, code, reason);
    if (rc < 0 && rc != WM_ENOBUFS)
        return rc;
    if (rc == WM_ENOBUFS ||
        wm__ws_timer(&ws->close_ev, WM_WS_CLOSE_TIMEOUT_MS, close_timed_out, ws) != WM_OK)
        wm_conn_close(ws->conn); /* cannot wait properly: close now */
    return WM_OK;
}

/* wm_conn_close's hook: an open WebSocket closes with a close handshake.
 * Returns false to let wm_conn_close close TCP (during the handshake, and
 * once a close frame was sent or received). */
static bool ws_close_request(wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws || ws->phase != WS_OPEN || c->state != WM_CONN_ESTABLISHED)
        return false;
    start_close(ws, WM_WS_CLOSE_NORMAL, NULL);
    return true;
}

const wm__proto_hooks_t wm__ws_hooks = {ws_transport_open, ws_close_request};

/* Fails the WebSocket connection (§7.1.7): on_error, a close frame with
 * `code` unless one was sent, then the TCP close. */
static void ws_fail(wm__ws_t *ws, int err, int code, const char *why)
{
    wm_conn_t *c = ws->conn;
    char text[200];
    snprintf(text, sizeof text, "websocket: %s (close code %d)", why, code);
    wm_log_debug("connection %llu from %s: %s; closing", (unsigned long long)c->id,
                 wm_conn_remote_address(c), text);
    wm__conn_emit_error(c, err, text);
    if (!ws->close_sent && c->state == WM_CONN_ESTABLISHED)
        send_close_frame(ws, code, why);
    ws->phase = WS_CLOSING;
    wm_conn_close(c);
}

/* The peer's close frame: answer it (§5.5.1) and close TCP. */
static void on_peer_close(wm__ws_t *ws, int code, const uint8_t *reason, size_t len)
{
    ws->close_received = true;
    ws->peer_code = code;
    if (len > WM_WS_MAX_CLOSE_REASON)
        len = WM_WS_MAX_CLOSE_REASON;
    memcpy(ws->peer_reason, reason, len);
    ws->peer_reason[len] = '\0';
    if (!ws->close_sent)
        send_close_frame(ws, code == WM_WS_CLOSE_NO_STATUS ? 0 : code, NULL);
    ws->phase = WS_CLOSING;
    wm_conn_close(ws->conn);
}

/* ---- Frames in ---------------------------------------------------------------------- */

static ssize_t ws_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    wm__ws_t *ws = ctx->state;
    if (!ws)
        return WM_EPROTO;
    /* Anything from the peer shows it is alive (the heartbeat). */
    ws->last_rx_ms = wm_now_ms();
    ws->ping_sent_ms = 0;
    if (ws->phase == WS_HANDSHAKE)
        return ws->client ? wm__ws_client_input(ws, in) : wm__ws_server_input(ws, in, ctx);
    if (ws->rd.closed || ws->rd.err)
        return 0; /* closing: nothing more is read */
    uint8_t h[WM_WS_MAX_HEADER];
    ev_ssize_t n = evbuffer_copyout(in, h, sizeof h);
    wm__ws_frame_t f;
    int code = 0;
    const char *why = NULL;
    ssize_t hl = wm__ws_parse_header(h, n > 0 ? (size_t)n : 0, &f, &code, &why);
    if (hl == WM_EAGAIN)
        return 0;
    if (hl < 0) {
        ws_fail(ws, WM_EPROTO, code, why);
        return 0;
    }
    if (f.len > ws->rd.max_message) {
        ws_fail(ws, WM_EMSGSIZE, WM_WS_CLOSE_TOO_BIG, "a frame over the max message size");
        return 0;
    }
    return hl + (ssize_t)f.len;
}

static void on_control(wm__ws_t *ws, const wm__ws_event_t *ev)
{
    wm_ws_control_cb cb = ev->type == WM_WS_EV_PING ? ws->opts.on_ping : ws->opts.on_pong;
    void *ud = ev->type == WM_WS_EV_PING ? ws->opts.on_ping_ud : ws->opts.on_pong_ud;
    if (cb)
        cb(ws->conn, (const char *)ev->data, ev->len, ud);
    else if (ev->type == WM_WS_EV_PING && !ws->close_sent)
        send_frame(ws, WM_WS_OP_PONG, ev->data, ev->len);
}

static int ws_decode(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx)
{
    wm__ws_t *ws = ctx->state;
    if (!ws)
        return WM_EPROTO;
    if (ws->phase == WS_HANDSHAKE)
        return ws->client ? wm__ws_client_decode(ws, pkt, len)
                          : wm__ws_server_decode(ws, pkt, len, ctx);
    wm__ws_event_t ev;
    /* The frame is ours to change: the reader unmasks it in place. */
    ssize_t n = wm__ws_reader_feed(&ws->rd, (uint8_t *)(uintptr_t)pkt, len, &ev);
    if (n < 0) {
        int err = n == WM_EMSGSIZE || n == WM_ENOMEM ? (int)n : WM_EPROTO;
        ws_fail(ws, err, ws->rd.close_code ? ws->rd.close_code : WM_WS_CLOSE_PROTOCOL,
                ws->rd.why ? ws->rd.why : "bad frame");
        return WM__DECODE_NOTHING;
    }
    switch (ev.type) {
    case WM_WS_EV_MESSAGE:
        msg->data = (const char *)ev.data;
        msg->len = ev.len;
        msg->extra = (void *)(uintptr_t)(ev.opcode == WM_WS_OP_BINARY ? &type_binary : &type_text);
        return WM_OK;
    case WM_WS_EV_PING:
    case WM_WS_EV_PONG:
        on_control(ws, &ev);
        return WM__DECODE_NOTHING;
    case WM_WS_EV_CLOSE:
        on_peer_close(ws, ev.close_code, ev.data, ev.len);
        return WM__DECODE_NOTHING;
    default:
        return WM__DECODE_NOTHING;
    }
}

const wm_protocol_t wm_protocol_websocket = {.name = "websocket",
                                             .input = ws_input,
                                             .decode = ws_decode,
                                             .encode = ws_encode,
                                             .free_state = ws_free_state};

/* ---- Heartbeat and ping interval ------------------------------------------------------ */

static void hb_ping(wm__ws_t *ws)
{
    send_frame(ws, WM_WS_OP_PING, NULL, 0);
}

/* The next moment the heartbeat has something to check, or UINT64_MAX. */
static uint64_t hb_next(const wm__ws_t *ws)
{
    uint64_t next = UINT64_MAX, idle = ws->opts.hb_idle_ms, timeout = ws->opts.hb_timeout_ms;
    uint64_t interval = ws->cl ? ws->cl->ping_interval_ms : 0;
    if (interval)
        next = ws->last_ping_ms + interval;
    if (idle) {
        uint64_t t = !ws->ping_sent_ms ? ws->last_rx_ms + idle
                     : timeout         ? ws->ping_sent_ms + timeout
                                       : ws->ping_sent_ms + idle;
        next = t < next ? t : next;
    }
    return next;
}

static void hb_fired(evutil_socket_t fd, short what, void *arg)
{
    wm__ws_t *ws = arg;
    if (ws->phase != WS_OPEN || ws->conn->state != WM_CONN_ESTABLISHED)
        return;
    uint64_t now = wm_now_ms(), idle = ws->opts.hb_idle_ms, timeout = ws->opts.hb_timeout_ms;
    uint64_t interval = ws->cl ? ws->cl->ping_interval_ms : 0;
    if (interval && now >= ws->last_ping_ms + interval) {
        hb_ping(ws);
        ws->last_ping_ms = now;
    }
    if (idle && ws->ping_sent_ms && timeout && now >= ws->ping_sent_ms + timeout) {
        char why[96];
        snprintf(why, sizeof why, "no answer to a heartbeat ping within %llu ms",
                 (unsigned long long)timeout);
        wm_log_debug("connection %llu: %s; closing", (unsigned long long)ws->conn->id, why);
        wm__conn_emit_error(ws->conn, WM_ETIMEDOUT, why);
        send_close_frame(ws, WM_WS_CLOSE_GOING_AWAY, "heartbeat timeout");
        wm_conn_close(ws->conn);
        return;
    }
    if (idle && ((!ws->ping_sent_ms && now >= ws->last_rx_ms + idle) ||
                 (ws->ping_sent_ms && !timeout && now >= ws->ping_sent_ms + idle))) {
        hb_ping(ws);
        ws->ping_sent_ms = now;
    }
    hb_arm(ws);
}

/* (Re)arms the heartbeat timer for its next check. Data arriving does not
 * touch the timer (that would cost a timer update per read); a check that
 * finds the peer was heard from since just moves on. */
static void hb_arm(wm__ws_t *ws)
{
    uint64_t next = hb_next(ws);
    if (next == UINT64_MAX || ws->phase != WS_OPEN) {
        if (ws->hb_timer)
            evtimer_del(ws->hb_timer);
        return;
    }
    uint64_t now = wm_now_ms();
    if (wm__ws_timer(&ws->hb_timer, next > now ? next - now : 0, hb_fired, ws) != WM_OK)
        wm_log_warn("connection %llu: cannot arm the websocket heartbeat: out of memory",
                    (unsigned long long)ws->conn->id);
}

void wm__ws_hb_arm(wm__ws_t *ws)
{
    hb_arm(ws);
}

/* ---- Public calls ------------------------------------------------------------------------ */

wm_ws_type_t wm_ws_msg_type(const wm_msg_t *msg)
{
    if (msg && msg->extra == (const void *)&type_binary)
        return WM_WS_BINARY;
    return WM_WS_TEXT;
}

static int send_message(wm_conn_t *c, int opcode, const void *data, size_t len)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws)
        return WM_EINVAL;
    return send_frame(ws, opcode, data, len);
}

int wm_ws_send_text(wm_conn_t *c, const void *data, size_t len)
{
    return send_message(c, WM_WS_OP_TEXT, data, len);
}

int wm_ws_send_binary(wm_conn_t *c, const void *data, size_t len)
{
    return send_message(c, WM_WS_OP_BINARY, data, len);
}

int wm_ws_ping(wm_conn_t *c, const void *data, size_t len)
{
    return len > WM_WS_MAX_CONTROL ? WM_EINVAL : send_message(c, WM_WS_OP_PING, data, len);
}

int wm_ws_pong(wm_conn_t *c, const void *data, size_t len)
{
    return len > WM_WS_MAX_CONTROL ? WM_EINVAL : send_message(c, WM_WS_OP_PONG, data, len);
}

int wm_ws_set_binary(wm_conn_t *c, bool binary)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws)
        return WM_EINVAL;
    ws->binary = binary;
    return WM_OK;
}

int wm_ws_close(wm_conn_t *c, int code, const char *reason)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws || (code != 0 && !wm__ws_close_code_valid(code)) ||
        (reason && !wm__ws_utf8_check(&(uint32_t){0}, (const uint8_t *)reason, strlen(reason))))
        return WM_EINVAL;
    if (ws->phase == WS_HANDSHAKE)
        return wm_conn_close(c);
    if (ws->close_sent || ws->close_received || c->state != WM_CONN_ESTABLISHED)
        return WM_ENOTCONN;
    return start_close(ws, code, reason);
}

int wm_ws_close_code(const wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state((wm_conn_t *)c);
    return ws ? ws->peer_code : 0;
}

const char *wm_ws_close_reason(const wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state((wm_conn_t *)c);
    return ws ? ws->peer_reason : "";
}

bool wm_ws_is_open(const wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state((wm_conn_t *)c);
    return ws && ws->phase == WS_OPEN && c->state == WM_CONN_ESTABLISHED;
}

const char *wm_ws_protocol(const wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state((wm_conn_t *)c);
    return ws && ws->protocol ? ws->protocol : "";
}

int wm_ws_on_ping(wm_conn_t *c, wm_ws_control_cb cb, void *user_data)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws)
        return WM_EINVAL;
    ws->opts.on_ping = cb;
    ws->opts.on_ping_ud = user_data;
    return WM_OK;
}

int wm_ws_on_pong(wm_conn_t *c, wm_ws_control_cb cb, void *user_data)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws)
        return WM_EINVAL;
    ws->opts.on_pong = cb;
    ws->opts.on_pong_ud = user_data;
    return WM_OK;
}

int wm_ws_set_heartbeat(wm_conn_t *c, uint64_t idle_ms, uint64_t timeout_ms)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws)
        return WM_EINVAL;
    ws->opts.hb_idle_ms = idle_ms;
    ws->opts.hb_timeout_ms = timeout_ms;
    ws->ping_sent_ms = 0;
    hb_arm(ws);
    return WM_OK;
}
