/* SPDX-License-Identifier: MIT */
/* The client's side of the WebSocket opening handshake (RFC 6455 §4.1) and
 * the client settings of wm/websocket.h.
 *
 * A ws:// connection is an ordinary outgoing connection (connect.c: DNS,
 * timeouts, reconnect; tls.c for wss) whose transport, once up, is handed
 * here instead of to on_connect: we send the request with a fresh key,
 * parse the answer head (ws_handshake.c), check it, and only then run
 * on_connect. Messages the user sent before that wait in `pending`, already
 * framed and masked, and go out right after the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ws_int.h"

static wm__http_header_t raw_headers[WM_WS_MAX_RESPONSE_HEADERS];

/* ---- Settings ------------------------------------------------------------------- */

void wm__ws_client_free(ws_client_t *cl)
{
    free(cl->target);
    free(cl->host);
    free(cl->origin);
    free(cl->protocols);
    free(cl->extra);
    if (cl->pending)
        evbuffer_free(cl->pending);
    free(cl);
}

/* The request target of a ws:// URL: what follows the authority ("/" when
 * nothing does; "?q" alone becomes "/?q"). Visible ASCII only. */
static char *url_target(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?");
    for (const char *q = p; *q; q++)
        if (*q <= ' ' || *q >= 0x7f || *q == '#')
            return NULL;
    size_t n = strlen(p);
    char *t = malloc(n + 2);
    if (t)
        snprintf(t, n + 2, "%s%s", *p == '/' ? "" : "/", p);
    return t;
}

/* The Host value: the URL's host, bracketed for IPv6, with the port unless
 * it is the scheme's default (RFC 6455 §4.1 item 4). */
static char *host_value(const wm_conn_t *c)
{
    bool v6 = strchr(c->url.host, ':') != NULL;
    uint16_t dflt = c->url.tls ? 443 : 80;
    size_t cap = strlen(c->url.host) + 16;
    char *h = malloc(cap);
    if (!h)
        return NULL;
    int n = snprintf(h, cap, v6 ? "[%s]" : "%s", c->url.host);
    if (c->url.port != dflt)
        snprintf(h + n, cap - (size_t)n, ":%u", c->url.port);
    return h;
}

int wm__ws_client_init(wm_conn_t *c, const char *url)
{
    wm__ws_t *ws = wm__ws_state_new(c, true);
    ws_client_t *cl = ws ? calloc(1, sizeof *cl) : NULL;
    if (!cl)
        return WM_ENOMEM;
    ws->cl = cl;
    cl->target = url_target(url);
    cl->host = host_value(c);
    cl->pending = evbuffer_new();
    if (!cl->target) {
        wm_log_error("bad websocket URL '%s': the path holds spaces or controls", url);
        return WM_EBADURL;
    }
    return cl->host && cl->pending ? WM_OK : WM_ENOMEM;
}

static ws_client_t *client_of(wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state(c);
    return ws ? ws->cl : NULL;
}

static int replace_string(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return WM_ENOMEM;
    free(*slot);
    *slot = copy;
    return WM_OK;
}

static bool is_field_value(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

int wm_ws_set_origin(wm_conn_t *c, const char *origin)
{
    ws_client_t *cl = client_of(c);
    if (!cl || (origin && !is_field_value(origin)))
        return WM_EINVAL;
    return replace_string(&cl->origin, origin);
}

int wm_ws_set_protocols(wm_conn_t *c, const char *protocols)
{
    ws_client_t *cl = client_of(c);
    if (!cl || (protocols && !is_field_value(protocols)))
        return WM_EINVAL;
    return replace_string(&cl->protocols, protocols && *protocols ? protocols : NULL);
}

int wm_ws_add_header(wm_conn_t *c, const char *name, const char *value)
{
    ws_client_t *cl = client_of(c);
    if (!cl)
        return WM_EINVAL;
    size_t len = cl->extra ? strlen(cl->extra) : 0, cap = cl->extra ? len + 1 : 0;
    return wm__ws_header_line(&cl->extra, &len, &cap, name, value);
}

int wm_ws_set_ping_interval(wm_conn_t *c, uint64_t ms)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws || !ws->cl)
        return WM_EINVAL;
    ws->cl->ping_interval_ms = ms;
    ws->last_ping_ms = wm_now_ms();
    wm__ws_hb_arm(ws);
    return WM_OK;
}

int wm_ws_set_handshake_timeout(wm_conn_t *c, uint64_t ms)
{
    wm__ws_t *ws = wm__ws_state(c);
    if (!ws || !ws->cl)
        return WM_EINVAL;
    ws->opts.handshake_timeout_ms = ms;
    return WM_OK;
}

int wm_ws_handshake_status(const wm_conn_t *c)
{
    wm__ws_t *ws = wm__ws_state((wm_conn_t *)c);
    return ws ? ws->status : 0;
}

/* ---- The request ----------------------------------------------------------------------- */

static void handshake_timed_out(evutil_socket_t fd, short what, void *arg)
{
    wm__ws_t *ws = arg;
    if (ws->phase != WS_HANDSHAKE || ws->conn->state != WM_CONN_ESTABLISHED)
        return;
    char why[128];
    snprintf(why, sizeof why, "websocket handshake failed: no answer within %llu ms",
             (unsigned long long)ws->opts.handshake_timeout_ms);
    wm__conn_end(ws->conn, WM_ETIMEDOUT, why);
}

void wm__ws_client_open(wm__ws_t *ws)
{
    wm_conn_t *c = ws->conn;
    ws_client_t *cl = ws->cl;
    int krc = wm__ws_make_key(cl->key);
    if (krc != WM_OK) {
        wm__conn_end(c, krc, "websocket: no random bytes for the handshake key");
        return;
    }
    size_t cap = 256 + strlen(cl->target) + strlen(cl->host) +
                 (cl->origin ? strlen(cl->origin) : 0) +
                 (cl->protocols ? strlen(cl->protocols) : 0) + (cl->extra ? strlen(cl->extra) : 0);
    char *buf = malloc(cap);
    if (!buf) {
        wm__conn_end(c, WM_ENOMEM, "out of memory for the websocket handshake");
        return;
    }
    int n = snprintf(buf, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s%s%s%s\r\n",
                     cl->target, cl->host, cl->key, cl->origin ? "Origin: " : "",
                     cl->origin ? cl->origin : "", cl->origin ? "\r\n" : "",
                     cl->protocols ? "Sec-WebSocket-Protocol: " : "",
                     cl->protocols ? cl->protocols : "", cl->protocols ? "\r\n" : "",
                     cl->extra ? cl->extra : "");
    int rc = wm_conn_send_raw(c, buf, (size_t)n);
    free(buf);
    if (rc < 0)
        return; /* the connection ended (on_close ran) or is ending */
    if (ws->opts.handshake_timeout_ms && wm__ws_timer(&ws->hs_timer, ws->opts.handshake_timeout_ms,
                                                      handshake_timed_out, ws) != WM_OK)
        wm__conn_end(c, WM_ENOMEM, "out of memory for the websocket handshake timer");
}

/* ---- The answer ------------------------------------------------------------------------ */

static void handshake_failed(wm__ws_t *ws, const char *what, const char *detail)
{
    char why[300];
    snprintf(why, sizeof why, "websocket handshake failed: %s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
    wm_log_debug("connection %llu to %s: %s", (unsigned long long)ws->conn->id,
                 wm_conn_remote_address(ws->conn), why);
    wm__ws_hs_timer_stop(ws);
    wm__conn_end(ws->conn, WM_EPROTO, why);
}

ssize_t wm__ws_client_input(wm__ws_t *ws, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    size_t n = len < WM_WS_MAX_RESPONSE_HEAD ? len : WM_WS_MAX_RESPONSE_HEAD;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    if (!p)
        return WM_ENOMEM;
    wm__ws_response_t resp;
    resp.headers = raw_headers;
    const char *why = NULL;
    ssize_t h = wm__ws_parse_response(p, n, WM_WS_MAX_RESPONSE_HEADERS, &resp, &why);
    if (h == WM_EAGAIN)
        return 0;
    if (h < 0) {
        handshake_failed(ws, "bad answer", why);
        return 0;
    }
    return h;
}

static bool span_is(const wm__http_span_t *s, const char *text)
{
    return s && s->len == strlen(text) && memcmp(s->p, text, s->len) == 0;
}

/* Whether the server's subprotocol is one we offered. */
static bool offered(const ws_client_t *cl, const wm__http_span_t *chosen)
{
    char name[256];
    if (!cl->protocols || chosen->len == 0 || chosen->len >= sizeof name)
        return false;
    memcpy(name, chosen->p, chosen->len);
    name[chosen->len] = '\0';
    /* Subprotocol names are case-sensitive tokens: compare exactly. */
    const char *p = cl->protocols;
    while (*p) {
        p += strspn(p, " \t,");
        size_t k = strcspn(p, " \t,");
        if (k == chosen->len && memcmp(p, name, k) == 0)
            return true;
        p += k;
    }
    return false;
}

/* Checks the answer (§4.1, the client's checks 1-6). Returns NULL when it
 * accepts the WebSocket, else what is wrong. */
static const char *check_answer(wm__ws_t *ws, const wm__ws_response_t *resp)
{
    const wm__http_span_t *upgrade = wm__ws_response_header(resp, "upgrade");
    const wm__http_span_t *conn = wm__ws_response_header(resp, "connection");
    const wm__http_span_t *accept = wm__ws_response_header(resp, "sec-websocket-accept");
    const wm__http_span_t *proto = wm__ws_response_header(resp, "sec-websocket-protocol");
    char expect[WM_WS_ACCEPT_LEN + 1];
    wm__ws_accept_key(ws->cl->key, WM_WS_KEY_LEN, expect);
    if (!upgrade || !wm__ws_has_token(upgrade->p, upgrade->len, "websocket"))
        return "the answer does not upgrade to websocket";
    if (!conn || !wm__ws_has_token(conn->p, conn->len, "upgrade"))
        return "the answer's Connection lacks upgrade";
    if (!span_is(accept, expect))
        return "wrong Sec-WebSocket-Accept";
    if (wm__ws_response_header(resp, "sec-websocket-extensions"))
        return "the server chose an extension we did not offer";
    if (proto && !offered(ws->cl, proto))
        return "the server chose a subprotocol we did not offer";
    if (proto && !(ws->protocol = strndup(proto->p, proto->len)))
        return "out of memory";
    return NULL;
}

int wm__ws_client_decode(wm__ws_t *ws, const char *pkt, size_t len)
{
    wm__ws_response_t resp;
    resp.headers = raw_headers;
    const char *why = NULL;
    if (wm__ws_parse_response(pkt, len, WM_WS_MAX_RESPONSE_HEADERS, &resp, &why) != (ssize_t)len)
        return WM_EPROTO; /* cannot happen: the same bytes parsed before */
    ws->status = resp.status;
    if (resp.status != 101) {
        char status[160];
        snprintf(status, sizeof status, "HTTP %d %.*s", resp.status,
                 (int)(resp.reason.len < 100 ? resp.reason.len : 100), resp.reason.p);
        handshake_failed(ws, status, NULL);
        return WM__DECODE_NOTHING;
    }
    if ((why = check_answer(ws, &resp)) != NULL) {
        handshake_failed(ws, why, NULL);
        return WM__DECODE_NOTHING;
    }
    /* Messages sent before the answer go first, in order. */
    size_t queued = evbuffer_get_length(ws->cl->pending);
    if (queued) {
        wm_conn_send_raw(ws->conn, evbuffer_pullup(ws->cl->pending, -1), queued);
        evbuffer_drain(ws->cl->pending, queued);
        if (ws->conn->state != WM_CONN_ESTABLISHED)
            return WM__DECODE_NOTHING;
    }
    wm__ws_opened(ws);
    return WM__DECODE_NOTHING;
}
