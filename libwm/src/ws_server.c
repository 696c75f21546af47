/* SPDX-License-Identifier: MIT */
/* The server's side of the WebSocket opening handshake (RFC 6455 §4.2) and
 * the per-worker settings of wm/websocket.h.
 *
 * The request head is parsed with http_parse.c, the same strict parser the
 * http:// protocol uses, then checked against §4.2.1; the handshake hook
 * sees it through http.c's request view (http_view.h), so it has every
 * wm_http_request_* accessor. The answer is written from inside the codec,
 * as http.c does with its own errors: a 101, or an HTTP error followed by a
 * graceful close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ws_int.h"
#include "http_view.h"

#define WS_MAX_OFFERED 32 /* subprotocols kept from one request */

struct wm_ws_handshake {
    const char *offered[WS_MAX_OFFERED];
    size_t noffered;
    char *offered_buf;
    char *selected;
    char *lines; /* "Name: value\r\n"… added by the hook */
    size_t lines_len, lines_cap;
};

/* Parsing is synchronous and the spans are used before each call returns,
 * so one header array serves the process (as in http.c). */
static wm__http_header_t raw_headers[WM_HTTP_DEFAULT_MAX_HEADERS];

/* ---- Worker settings ------------------------------------------------------------ */

static wm__ws_opts_t *worker_opts(wm_worker_t *w)
{
    if (!w->ws && (w->ws = calloc(1, sizeof *w->ws)) != NULL)
        w->ws->handshake_timeout_ms = WM_WS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!w->ws)
        wm_log_error("worker %s: out of memory for its websocket settings", w->name);
    return w->ws;
}

void wm__ws_worker_free(wm_worker_t *w)
{
    free(w->ws);
    w->ws = NULL;
}

void wm_ws_worker_on_handshake(wm_worker_t *w, wm_ws_handshake_cb cb, void *user_data)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o) {
        o->on_handshake = cb;
        o->on_handshake_ud = user_data;
    }
}

void wm_ws_worker_on_ping(wm_worker_t *w, wm_ws_control_cb cb, void *user_data)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o) {
        o->on_ping = cb;
        o->on_ping_ud = user_data;
    }
}

void wm_ws_worker_on_pong(wm_worker_t *w, wm_ws_control_cb cb, void *user_data)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o) {
        o->on_pong = cb;
        o->on_pong_ud = user_data;
    }
}

void wm_ws_worker_set_binary(wm_worker_t *w, bool binary)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o)
        o->binary = binary;
}

void wm_ws_worker_set_heartbeat(wm_worker_t *w, uint64_t idle_ms, uint64_t timeout_ms)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o) {
        o->hb_idle_ms = idle_ms;
        o->hb_timeout_ms = timeout_ms;
    }
}

void wm_ws_worker_set_handshake_timeout(wm_worker_t *w, uint64_t ms)
{
    wm__ws_opts_t *o = worker_opts(w);
    if (o)
        o->handshake_timeout_ms = ms;
}

/* ---- Answers ------------------------------------------------------------------------ */

/* Answers `status` with a short text body and closes. `extra`: more header
 * lines ("Name: value\r\n"…) or NULL. */
static void reject(wm__ws_t *ws, int status, const char *why, const char *extra)
{
    wm_conn_t *c = ws->conn;
    wm__ws_hs_timer_stop(ws);
    wm_log_debug("connection %llu from %s: websocket handshake refused: %d (%s); closing",
                 (unsigned long long)c->id, wm_conn_remote_address(c), status, why);
    const char *reason = wm_http_reason(status);
    size_t elen = extra ? strlen(extra) : 0, blen = strlen(why) + 1;
    size_t cap = 256 + strlen(reason) + elen + blen;
    char *buf = malloc(cap);
    if (buf) {
        int n = snprintf(buf, cap,
                         "HTTP/1.1 %d %s\r\nServer: wm\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s\n",
                         status, reason, blen, extra ? extra : "", why);
        wm_conn_send_raw(c, buf, (size_t)n);
        free(buf);
    }
    ws->phase = WS_CLOSING; /* reads nothing more; wm_conn_close closes TCP */
    wm_conn_close(c);
}

static void handshake_timed_out(evutil_socket_t fd, short what, void *arg)
{
    wm__ws_t *ws = arg;
    if (ws->phase == WS_HANDSHAKE && ws->conn->state == WM_CONN_ESTABLISHED)
        reject(ws, 408, "no complete websocket handshake in time", NULL);
}

void wm__ws_server_open(wm__ws_t *ws)
{
    wm_conn_t *c = ws->conn;
    wm__ws_opts_t *wo = c->worker ? c->worker->ws : NULL;
    if (wo)
        ws->opts = *wo;
    ws->binary = ws->opts.binary;
    if (ws->opts.handshake_timeout_ms && wm__ws_timer(&ws->hs_timer, ws->opts.handshake_timeout_ms,
                                                      handshake_timed_out, ws) != WM_OK)
        wm__conn_end(c, WM_ENOMEM, "out of memory for the websocket handshake timer");
}

/* ---- The request ---------------------------------------------------------------------- */

static wm__http_limits_t request_limits(void)
{
    /* A body is refused after parsing (400), whatever its size. */
    wm__http_limits_t lim = {WM_HTTP_DEFAULT_MAX_HEADER_BYTES, WM_HTTP_DEFAULT_MAX_HEADERS,
                             WM_HTTP_DEFAULT_MAX_URI, UINT64_MAX};
    return lim;
}

ssize_t wm__ws_server_input(wm__ws_t *ws, struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    if (ws->phase != WS_HANDSHAKE || ws->conn->state != WM_CONN_ESTABLISHED)
        return 0;
    wm__http_limits_t lim = request_limits();
    size_t len = evbuffer_get_length(in);
    size_t n = len < lim.max_header_bytes ? len : lim.max_header_bytes;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    if (!p)
        return WM_ENOMEM;
    wm__http_request_t req;
    req.headers = raw_headers;
    int status = 0;
    const char *why = NULL;
    ssize_t h = wm__http_parse_request(p, n, ws->hs_last_len, &lim, &req, &status, &why);
    if (h == WM_EAGAIN) {
        ws->hs_last_len = n;
        return 0;
    }
    ws->hs_last_len = 0;
    if (h < 0) {
        reject(ws, status, why, NULL);
        return 0;
    }
    return h;
}

static bool offer_add(const char *item, size_t n, void *arg)
{
    wm_ws_handshake_t *hs = arg;
    if (hs->noffered == WS_MAX_OFFERED)
        return false;
    char *at = hs->offered_buf;
    for (size_t i = 0; i < hs->noffered; i++)
        at += strlen(at) + 1;
    memcpy(at, item, n);
    at[n] = '\0';
    hs->offered[hs->noffered++] = at;
    return true;
}

/* Collects the offered subprotocols of every Sec-WebSocket-Protocol field. */
static int offers_collect(wm_ws_handshake_t *hs, const wm__http_request_t *req)
{
    size_t need = 1;
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name.len == 22 &&
            strncasecmp(req->headers[i].name.p, "sec-websocket-protocol", 22) == 0)
            need += req->headers[i].value.len + 1;
    if (need == 1)
        return WM_OK;
    if (!(hs->offered_buf = malloc(need)))
        return WM_ENOMEM;
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name.len == 22 &&
            strncasecmp(req->headers[i].name.p, "sec-websocket-protocol", 22) == 0)
            wm__ws_each_token(req->headers[i].value.p, req->headers[i].value.len, offer_add, hs);
    return WM_OK;
}

static bool span_has_token(const wm__http_span_t *s, const char *token)
{
    return s && wm__ws_has_token(s->p, s->len, token);
}

/* §4.2.1's checks. Returns 0 when the request is a valid opening
 * handshake, else the status to answer (*why, *extra say more). */
static int check_request(const wm__http_request_t *req, const char **why, const char **extra)
{
    *extra = NULL;
    const wm__http_span_t *version = wm__http_header(req, "sec-websocket-version");
    const wm__http_span_t *key = wm__http_header(req, "sec-websocket-key");
    if (req->method.len != 3 || memcmp(req->method.p, "GET", 3) != 0) {
        *why = "a websocket handshake is a GET request";
        *extra = "Allow: GET\r\n";
        return 405;
    }
    if (req->version_minor < 1 || req->body_kind != WM_HTTP_BODY_NONE || req->host.len == 0) {
        *why = req->version_minor < 1 ? "a websocket handshake needs HTTP/1.1"
               : req->host.len == 0   ? "no Host header"
                                      : "a websocket handshake has no body";
        return 400;
    }
    if (!span_has_token(wm__http_header(req, "upgrade"), "websocket") ||
        !span_has_token(wm__http_header(req, "connection"), "upgrade")) {
        *why = "this is a websocket service: the request must upgrade to websocket";
        *extra = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        return 426;
    }
    if (!version || version->len != 2 || memcmp(version->p, "13", 2) != 0) {
        *why = "unsupported Sec-WebSocket-Version (13 is supported)";
        *extra = "Sec-WebSocket-Version: 13\r\n";
        return 426;
    }
    if (!key || !wm__ws_key_valid(key->p, key->len)) {
        *why = "missing or bad Sec-WebSocket-Key";
        return 400;
    }
    return 0;
}

/* Runs the user's hook with the request view. Returns 0 to accept, or the
 * status to refuse with. */
static int run_hook(wm__ws_t *ws, const wm__http_request_t *req, wm_ws_handshake_t *hs)
{
    wm_http_request_t *view = wm__http_view_new();
    if (!view || wm__http_view_fill(view, req) != WM_OK) {
        wm__http_view_free(view);
        return 500;
    }
    int rc = ws->opts.on_handshake(ws->conn, view, hs, ws->opts.on_handshake_ud);
    wm__http_view_free(view);
    if (rc != 0 && (rc < 400 || rc > 599)) {
        wm_log_warn("connection %llu: the websocket handshake hook returned %d, not 0 or "
                    "400..599; answering 500",
                    (unsigned long long)ws->conn->id, rc);
        rc = 500;
    }
    return rc;
}

static int send_101(wm__ws_t *ws, const wm__http_span_t *key, const wm_ws_handshake_t *hs)
{
    char accept[WM_WS_ACCEPT_LEN + 1];
    wm__ws_accept_key(key->p, key->len, accept);
    size_t cap = 256 + (hs->selected ? strlen(hs->selected) : 0) + hs->lines_len;
    char *buf = malloc(cap);
    if (!buf)
        return WM_ENOMEM;
    int n = snprintf(buf, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s%s\r\n",
                     accept, hs->selected ? "Sec-WebSocket-Protocol: " : "",
                     hs->selected ? hs->selected : "", hs->selected ? "\r\n" : "",
                     hs->lines ? hs->lines : "");
    int rc = wm_conn_send_raw(ws->conn, buf, (size_t)n);
    free(buf);
    return rc < 0 ? rc : WM_OK;
}

int wm__ws_server_decode(wm__ws_t *ws, const char *pkt, size_t len, wm_proto_ctx_t *ctx)
{
    wm__http_limits_t lim = request_limits();
    wm__http_request_t req;
    req.headers = raw_headers;
    int status = 0;
    const char *why = NULL, *extra = NULL;
    if (wm__http_parse_request(pkt, len, 0, &lim, &req, &status, &why) != (ssize_t)len)
        return WM_EPROTO; /* cannot happen: the same bytes parsed before */
    if ((status = check_request(&req, &why, &extra)) != 0) {
        reject(ws, status, why, extra);
        return WM__DECODE_NOTHING;
    }
    wm_ws_handshake_t hs = {0};
    if (offers_collect(&hs, &req) != WM_OK) {
        status = 500;
        why = "out of memory";
    } else if (ws->opts.on_handshake && (status = run_hook(ws, &req, &hs)) != 0) {
        why = "refused by the handshake hook";
    } else if (send_101(ws, wm__http_header(&req, "sec-websocket-key"), &hs) != WM_OK) {
        status = -1;
    }
    if (status > 0)
        reject(ws, status, why, hs.lines);
    if (status == 0 && hs.selected) {
        ws->protocol = hs.selected;
        hs.selected = NULL;
    }
    free(hs.offered_buf);
    free(hs.selected);
    free(hs.lines);
    if (status == -1)
        wm_conn_close(ws->conn);
    else if (status == 0)
        wm__ws_opened(ws);
    return WM__DECODE_NOTHING;
}

/* ---- The hook's view of the handshake ----------------------------------------------------- */

size_t wm_ws_handshake_protocol_count(const wm_ws_handshake_t *hs)
{
    return hs->noffered;
}

const char *wm_ws_handshake_protocol_at(const wm_ws_handshake_t *hs, size_t i)
{
    return i < hs->noffered ? hs->offered[i] : NULL;
}

int wm_ws_handshake_select_protocol(wm_ws_handshake_t *hs, const char *name)
{
    for (size_t i = 0; name && i < hs->noffered; i++) {
        if (strcmp(hs->offered[i], name) == 0) {
            char *copy = strdup(name);
            if (!copy)
                return WM_ENOMEM;
            free(hs->selected);
            hs->selected = copy;
            return WM_OK;
        }
    }
    return WM_EINVAL;
}

/* Header names the protocol writes itself. */
bool wm__ws_header_reserved(const char *name)
{
    static const char *const own[] = {"upgrade",           "connection", "content-length",
                                      "transfer-encoding", "host",       "origin"};
    if (strncasecmp(name, "sec-websocket-", 14) == 0)
        return true;
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcasecmp(name, own[i]) == 0)
            return true;
    return false;
}

/* Appends "name: value\r\n" to a growing, NUL-terminated text after
 * checking both (a token, and a value without CR/LF or other controls). */
int wm__ws_header_line(char **lines, size_t *len, size_t *cap, const char *name, const char *value)
{
    if (!name || !value || !*name || wm__ws_header_reserved(name))
        return WM_EINVAL;
    for (const char *p = name; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p))
            return WM_EINVAL;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return WM_EINVAL;
    size_t add = strlen(name) + strlen(value) + 4;
    if (*cap - *len < add + 1) {
        size_t ncap = *cap ? *cap : 128;
        while (ncap - *len < add + 1)
            ncap *= 2;
        char *l = realloc(*lines, ncap);
        if (!l)
            return WM_ENOMEM;
        *lines = l;
        *cap = ncap;
    }
    *len += (size_t)snprintf(*lines + *len, *cap - *len, "%s: %s\r\n", name, value);
    return WM_OK;
}

int wm_ws_handshake_header(wm_ws_handshake_t *hs, const char *name, const char *value)
{
    return wm__ws_header_line(&hs->lines, &hs->lines_len, &hs->lines_cap, name, value);
}
