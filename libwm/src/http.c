/* SPDX-License-Identifier: MIT */
/* The http:// protocol: the HTTP/1.1 server codec on top of http_parse.c,
 * plus the request view and the response API of wm/http.h.
 *
 * It rides on the generic codec interface (input/decode/encode): `input`
 * parses the head once (caching its length in the per-connection state),
 * then sizes the body: Content-Length directly, chunked by feeding the
 * decoder incrementally and reassembling the data into a state buffer.
 * `decode` re-parses the head out of the now contiguous message (cheap, and
 * the spans must point into that copy) and builds the NUL-terminated view.
 *
 * Ordering: after `decode` the connection is paused, so no later request is
 * parsed or delivered until this one is answered (wm_http_send or
 * wm_conn_send). That is Workerman's one-at-a-time model; it makes
 * pipelined answers come out in order without any response queue, and it
 * also keeps an `Expect: 100-continue` or an error answer for request N+1
 * from overtaking the answer to request N.
 *
 * Errors the protocol answers itself (400/413/414/431/501/505) are written
 * from `input`, followed by a graceful close; `input` then reports "need
 * more", so the connection's generic error path (which would drop the
 * answer) does not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "wm_int.h"
#include "http_parse.h"
#include "http_int.h"
#include "http_view.h"

/* ---- State ------------------------------------------------------------------ */

struct wm_http_request {
    char *strs; /* every string of the view, NUL-terminated */
    size_t strs_cap;
    wm_http_header_t *hdrs;
    size_t nhdrs, hdrs_cap;
    const char *method, *target, *path, *query, *host;
    int version;
    bool keep_alive;
    const char *body;
    size_t body_len;
    /* Cookies, parsed on the first lookup. */
    bool cookies_parsed;
    char *cookie_buf;
    wm_http_header_t *cookies;
    size_t ncookies;
};

typedef struct http_state {
    wm_conn_t *conn; /* NULL when a test drives the codec */
    /* Reading the next request. */
    size_t last_len; /* the parser's hint while the head is unfinished */
    size_t head_len; /* 0 until the head is parsed */
    int body_kind;   /* wm__http_body_t */
    uint64_t cl;     /* Content-Length */
    uint64_t wire;   /* chunked bytes consumed after the head */
    bool continue_sent;
    wm__http_chunked_t ck;
    char *body; /* the reassembled chunked body */
    size_t body_len, body_cap;
    /* The delivered request. */
    bool busy;       /* delivered, not answered yet */
    bool we_paused;  /* we paused the connection for it */
    bool closing;    /* an answer with a close was sent */
    bool keep_alive; /* the request's view */
    bool head;       /* it was HEAD: no body in the answer */
    int minor;
    wm_http_request_t req;
    struct event *idle_ev;
    struct evbuffer_cb_entry *hold_cb; /* wm__http_send_file: resume once drained */
    bool gzip_ok;                      /* the request's Accept-Encoding allows gzip */
    /* A streamed answer (wm_http_stream_start .. _end). */
    bool streaming;
    bool chunked;      /* HTTP/1.1: chunked framing; HTTP/1.0: until the close */
    bool discard;      /* HEAD: the fields went out, the body is dropped */
    bool stream_close; /* close once it ends */
    wm__http_gz_t *gz; /* gzipping it, or NULL */
    struct event *beat_ev;
    uint64_t beat_ms;
    const char *beat_data;
    size_t beat_len;
} http_state_t;

struct wm_http_response {
    int status;
    char *lines; /* "Name: value\r\n"... */
    size_t lines_len, lines_cap;
    char *body;
    size_t body_len;
    bool has_date, has_server, close;
    bool body_is_file; /* wm__http_send_file: body_len counts a file segment */
    bool has_type;     /* Content-Type set */
    bool gzip_type;    /* ... to a type worth compressing */
    bool has_encoding; /* Content-Encoding set: never compressed again */
    bool stream;       /* wm_http_stream_start: no Content-Length, maybe chunked */
};

static uint64_t idle_timeout_ms = WM_HTTP_DEFAULT_IDLE_TIMEOUT_MS;

/* The parser's header array: parsing is synchronous and the spans are
 * consumed before each call returns, so one array serves the process. */
static wm__http_header_t raw_headers[WM_HTTP_DEFAULT_MAX_HEADERS];

void wm_http_set_idle_timeout(uint64_t ms)
{
    idle_timeout_ms = ms;
}

uint64_t wm_http_idle_timeout(void)
{
    return idle_timeout_ms;
}

static http_state_t *state_of(wm_proto_ctx_t *ctx)
{
    if (!ctx->state) {
        http_state_t *st = calloc(1, sizeof *st);
        if (!st)
            return NULL;
        st->conn = ctx->conn;
        ctx->state = st;
    }
    return ctx->state;
}

static http_state_t *conn_state(wm_conn_t *c)
{
    return c && c->proto == &wm_protocol_http ? c->ctx.state : NULL;
}

/* Whether the process is letting connections go (stop -g, reload): then
 * every answer closes its connection. */
static bool conn_draining(const wm_conn_t *c)
{
    return c->worker && (c->worker->draining || c->worker->close_idle);
}

static void http_free_state(wm_proto_ctx_t *ctx)
{
    http_state_t *st = ctx->state;
    if (st->idle_ev)
        event_free(st->idle_ev);
    if (st->beat_ev)
        event_free(st->beat_ev);
    wm__http_gz_free(st->gz);
    free(st->body);
    free(st->req.strs);
    free(st->req.hdrs);
    free(st->req.cookie_buf);
    free(st->req.cookies);
    free(st);
    ctx->state = NULL;
}

/* ---- Idle timeout ------------------------------------------------------------ */

static void idle_fired(evutil_socket_t fd, short what, void *arg)
{
    http_state_t *st = arg;
    if (st->busy || wm_conn_state(st->conn) != WM_CONN_ESTABLISHED)
        return;
    wm_log_debug("connection %llu: idle for %llu ms; closing",
                 (unsigned long long)wm_conn_id(st->conn), (unsigned long long)idle_timeout_ms);
    st->closing = true;
    wm_conn_close(st->conn);
}

/* (Re)starts the idle clock: after an answer, and on every byte of an
 * unfinished request. Stopped while a request is being handled. */
static void idle_arm(http_state_t *st)
{
    if (!st->conn || idle_timeout_ms == 0)
        return;
    if (!st->idle_ev && !(st->idle_ev = evtimer_new(wm__base(), idle_fired, st)))
        return;
    struct timeval tv = {(time_t)(idle_timeout_ms / 1000),
                         (suseconds_t)(idle_timeout_ms % 1000 * 1000)};
    evtimer_add(st->idle_ev, &tv);
}

static void idle_stop(http_state_t *st)
{
    if (st->idle_ev)
        evtimer_del(st->idle_ev);
}

/* The idle clock also runs from the accept: a client that connects and
 * sends nothing is closed after the idle timeout, as nginx's
 * client_header_timeout does (one that trickles its head is re-armed per
 * read, as there, and bounded by the header size limit). */
static bool http_transport_open(wm_conn_t *c)
{
    if (c->kind == WM_KIND_ACCEPTED) {
        http_state_t *st = state_of(&c->ctx);
        if (st)
            idle_arm(st);
    }
    return false; /* on_connect runs as usual */
}

const wm__proto_hooks_t wm__http_hooks = {http_transport_open, NULL};

/* ---- Small helpers ------------------------------------------------------------- */

const char *wm_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* An IMF-fixdate (RFC 9110 §5.6.7), without the locale strftime would use. */
static void imf_date(time_t t, char out[64])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void wm__http_imf_date(time_t t, char out[64])
{
    imf_date(t, out);
}

/* The Date value, formatted once a second. */
static const char *date_now(void)
{
    static time_t last = -1;
    static char buf[64];
    time_t now = time(NULL);
    if (now != last) {
        imf_date(now, buf);
        last = now;
    }
    return buf;
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* field-value bytes (RFC 9110 §5.5): no controls but HTAB, so no CR or LF. */
static bool is_field_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* ---- The protocol's own answers ------------------------------------------------- */

/* Answers `status` and closes. Returns what `input` returns: 0 ("need
 * more", the connection is closing) or, without a connection, an error. */
static ssize_t reject(http_state_t *st, int status, const char *why)
{
    st->closing = true;
    idle_stop(st);
    if (!st->conn)
        return status == 413 || status == 414 || status == 431 ? WM_EMSGSIZE : WM_EPROTO;
    wm_conn_t *c = st->conn;
    wm_log_debug("connection %llu from %s: %d (%s); closing", (unsigned long long)wm_conn_id(c),
                 wm_conn_remote_address(c), status, why);
    const char *reason = wm_http_reason(status);
    char buf[384];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nServer: wm\r\nDate: %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     status, reason, date_now(), strlen(reason) + 1, reason);
    wm_conn_send_raw(c, buf, (size_t)n);
    wm_conn_close(c);
    return 0;
}

/* ---- input -------------------------------------------------------------------- */

static wm__http_limits_t limits_for(const wm_proto_ctx_t *ctx)
{
    wm__http_limits_t lim = {WM_HTTP_DEFAULT_MAX_HEADER_BYTES, WM_HTTP_DEFAULT_MAX_HEADERS,
                             WM_HTTP_DEFAULT_MAX_URI, ctx->max_package};
    return lim;
}

/* Parses the head. Returns 1 when it is complete, 0 for more, or -1 after
 * rejecting the request (*ret says what input returns). */
static int input_head(http_state_t *st, struct evbuffer *in, size_t len, wm_proto_ctx_t *ctx,
                      ssize_t *ret)
{
    wm__http_limits_t lim = limits_for(ctx);
    size_t n = len < lim.max_header_bytes ? len : lim.max_header_bytes;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
    wm__http_request_t req;
    req.headers = raw_headers;
    int status = 0;
    const char *why = NULL;
    ssize_t h =
        p ? wm__http_parse_request(p, n, st->last_len, &lim, &req, &status, &why) : WM_ENOMEM;
    if (h == WM_EAGAIN) {
        st->last_len = n;
        return 0;
    }
    if (h < 0) {
        *ret = h == WM_ENOMEM ? WM_ENOMEM : reject(st, status, why);
        return -1;
    }
    st->last_len = 0;
    st->head_len = (size_t)h;
    st->body_kind = req.body_kind;
    st->cl = req.content_length;
    st->wire = 0;
    st->body_len = 0;
    if (req.body_kind == WM_HTTP_BODY_LENGTH && st->cl > ctx->max_package - st->head_len) {
        *ret = reject(st, 413, "head and body over the max package size");
        return -1;
    }
    if (req.body_kind == WM_HTTP_BODY_CHUNKED)
        wm__http_chunked_init(&st->ck, ctx->max_package);
    /* RFC 9110 §10.1.1: the client waits for this (a while) before sending
     * the body; not needed once body bytes are here. */
    if (req.expect_continue && req.body_kind != WM_HTTP_BODY_NONE && len == st->head_len &&
        !st->continue_sent && st->conn) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        st->continue_sent = true;
        wm_conn_send_raw(st->conn, cont, sizeof cont - 1);
    }
    return 1;
}

static int body_append(http_state_t *st, const char *data, size_t len)
{
    if (st->body_cap - st->body_len < len) {
        size_t cap = st->body_cap ? st->body_cap : 4096;
        while (cap - st->body_len < len)
            cap *= 2;
        char *b = realloc(st->body, cap);
        if (!b)
            return WM_ENOMEM;
        st->body = b;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, len);
    st->body_len += len;
    return WM_OK;
}

/* Feeds what arrived of a chunked body to the decoder, in place segment by
 * segment (no pullup of a body that may be megabytes). */
static ssize_t input_chunked(http_state_t *st, struct evbuffer *in, size_t len, wm_proto_ctx_t *ctx)
{
    bool done = false;
    size_t off = st->head_len + (size_t)st->wire;
    while (off < len && !done) {
        struct evbuffer_ptr pos;
        struct evbuffer_iovec v;
        if (evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_peek(in, (ev_ssize_t)(len - off), &pos, &v, 1) < 1)
            break;
        size_t seg = v.iov_len < len - off ? v.iov_len : len - off;
        const char *data, *why = NULL;
        size_t dlen;
        int status = 0;
        ssize_t n =
            wm__http_chunked_feed(&st->ck, v.iov_base, seg, &data, &dlen, &done, &status, &why);
        if (n < 0)
            return reject(st, status, why);
        if (dlen && body_append(st, data, dlen) != WM_OK)
            return WM_ENOMEM;
        if (n == 0)
            break;
        off += (size_t)n;
        st->wire += (uint64_t)n;
    }
    if (off > ctx->max_package)
        return reject(st, 413, "chunked body over the max package size");
    if (done)
        return (ssize_t)off;
    idle_arm(st);
    return 0;
}

static ssize_t http_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    http_state_t *st = state_of(ctx);
    if (!st)
        return WM_ENOMEM;
    if (st->busy || st->closing)
        return 0;
    size_t len = evbuffer_get_length(in);
    if (!st->head_len) {
        ssize_t ret = 0;
        int rc = input_head(st, in, len, ctx, &ret);
        if (rc == 0)
            idle_arm(st);
        if (rc <= 0)
            return ret;
    }
    switch (st->body_kind) {
    case WM_HTTP_BODY_LENGTH:
        if (len < st->head_len + st->cl)
            idle_arm(st);
        return (ssize_t)(st->head_len + st->cl);
    case WM_HTTP_BODY_CHUNKED:
        return input_chunked(st, in, len, ctx);
    default:
        return (ssize_t)st->head_len;
    }
}

/* ---- decode: the request view ---------------------------------------------------- */

static char *put(char **at, wm__http_span_t s)
{
    char *p = *at;
    memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    *at = p + s.len + 1;
    return p;
}

/* Copies the parsed head into the view as NUL-terminated strings. */
static int view_build(wm_http_request_t *v, const wm__http_request_t *req)
{
    size_t need = req->method.len + req->target.len + req->path.len + req->query.len +
                  req->host.len + 6; /* 5 NULs, and "/" for an empty path */
    for (size_t i = 0; i < req->nheaders; i++)
        need += req->headers[i].name.len + req->headers[i].value.len + 2;
    if (need > v->strs_cap) {
        char *s = realloc(v->strs, need);
        if (!s)
            return WM_ENOMEM;
        v->strs = s;
        v->strs_cap = need;
    }
    if (req->nheaders > v->hdrs_cap) {
        wm_http_header_t *h = realloc(v->hdrs, req->nheaders * sizeof *h);
        if (!h)
            return WM_ENOMEM;
        v->hdrs = h;
        v->hdrs_cap = req->nheaders;
    }
    char *at = v->strs;
    v->method = put(&at, req->method);
    v->target = put(&at, req->target);
    wm__http_span_t slash = {"/", 1}; /* "http://h" has an empty path */
    v->path = put(&at, req->path.len ? req->path : slash);
    v->query = put(&at, req->query);
    v->host = put(&at, req->host);
    for (size_t i = 0; i < req->nheaders; i++) {
        v->hdrs[i].name = put(&at, req->headers[i].name);
        v->hdrs[i].value = put(&at, req->headers[i].value);
    }
    v->nhdrs = req->nheaders;
    v->version = 10 + req->version_minor;
    v->keep_alive = req->keep_alive;
    v->cookies_parsed = false;
    v->ncookies = 0;
    return WM_OK;
}

/* The view for other protocols' request heads (http_view.h). */
wm_http_request_t *wm__http_view_new(void)
{
    return calloc(1, sizeof(wm_http_request_t));
}

int wm__http_view_fill(wm_http_request_t *v, const wm__http_request_t *req)
{
    v->body = "";
    v->body_len = 0;
    return view_build(v, req);
}

void wm__http_view_free(wm_http_request_t *v)
{
    if (!v)
        return;
    free(v->strs);
    free(v->hdrs);
    free(v->cookie_buf);
    free(v->cookies);
    free(v);
}

static int http_decode(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx)
{
    http_state_t *st = state_of(ctx);
    if (!st || !st->head_len)
        return WM_EPROTO;
    wm__http_limits_t lim = limits_for(ctx);
    wm__http_request_t req;
    req.headers = raw_headers;
    int status;
    const char *why;
    ssize_t h = wm__http_parse_request(pkt, st->head_len, 0, &lim, &req, &status, &why);
    if (h != (ssize_t)st->head_len)
        return WM_EPROTO; /* cannot happen: the same bytes parsed before */
    int rc = view_build(&st->req, &req);
    if (rc != WM_OK)
        return rc;
    if (st->body_kind == WM_HTTP_BODY_CHUNKED) {
        st->req.body = st->body ? st->body : "";
        st->req.body_len = st->body_len;
    } else {
        st->req.body = pkt + st->head_len;
        st->req.body_len = len - st->head_len;
    }
    if (st->req.body_len == 0)
        st->req.body = "";
    msg->data = st->req.body;
    msg->len = st->req.body_len;
    msg->extra = &st->req;

    st->busy = true;
    st->keep_alive = req.keep_alive;
    st->head = strcmp(st->req.method, "HEAD") == 0;
    st->minor = req.version_minor;
    /* Decided now: the view is gone by the time a late answer is sent. (A
     * second Accept-Encoding field is not looked at.) */
    const char *ae = wm_http_request_header(&st->req, "accept-encoding");
    st->gzip_ok = ae && wm__http_accepts_gzip(ae, strlen(ae));
    st->head_len = 0; /* the next request starts fresh */
    st->continue_sent = false;
    idle_stop(st);
    if (st->conn) {
        /* One at a time: nothing more is parsed until this is answered. The
         * protocol's own hold, so it never lifts a pause the user made. */
        wm__conn_hold(st->conn, WM__HOLD_PROTO);
        st->we_paused = true;
    }
    return WM_OK;
}

/* ---- Request accessors -------------------------------------------------------------- */

const char *wm_http_request_method(const wm_http_request_t *r)
{
    return r->method;
}

const char *wm_http_request_target(const wm_http_request_t *r)
{
    return r->target;
}

const char *wm_http_request_path(const wm_http_request_t *r)
{
    return r->path;
}

const char *wm_http_request_query(const wm_http_request_t *r)
{
    return r->query;
}

const char *wm_http_request_host(const wm_http_request_t *r)
{
    return r->host;
}

int wm_http_request_version(const wm_http_request_t *r)
{
    return r->version;
}

bool wm_http_request_keep_alive(const wm_http_request_t *r)
{
    return r->keep_alive;
}

const char *wm_http_request_header(const wm_http_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0)
            return r->hdrs[i].value;
    return NULL;
}

size_t wm_http_request_header_count(const wm_http_request_t *r)
{
    return r->nhdrs;
}

const wm_http_header_t *wm_http_request_header_at(const wm_http_request_t *r, size_t i)
{
    return i < r->nhdrs ? &r->hdrs[i] : NULL;
}

const char *wm_http_request_body(const wm_http_request_t *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body;
}

/* Splits every Cookie field ("a=1; b=2") into name/value pairs, in a copy
 * with NULs written over the separators. */
static void cookies_parse(wm_http_request_t *r)
{
    r->cookies_parsed = true;
    size_t need = 1, max = 0;
    for (size_t i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(r->hdrs[i].name, "cookie") != 0)
            continue;
        size_t n = strlen(r->hdrs[i].value);
        need += n + 1;
        max += n / 2 + 1;
    }
    if (max == 0)
        return;
    char *buf = realloc(r->cookie_buf, need);
    if (buf)
        r->cookie_buf = buf;
    wm_http_header_t *pairs = buf ? realloc(r->cookies, max * sizeof *pairs) : NULL;
    if (!pairs)
        return;
    r->cookies = pairs;
    char *at = buf;
    for (size_t i = 0; i < r->nhdrs; i++) {
        if (strcasecmp(r->hdrs[i].name, "cookie") != 0)
            continue;
        strcpy(at, r->hdrs[i].value);
        char *save = NULL;
        for (char *tok = strtok_r(at, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            while (*tok == ' ' || *tok == '\t')
                tok++;
            char *eq = strchr(tok, '=');
            if (!eq || eq == tok)
                continue;
            *eq = '\0';
            char *val = eq + 1, *end = val + strlen(val);
            while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
                *--end = '\0';
            if (end - val >= 2 && *val == '"' && end[-1] == '"') {
                end[-1] = '\0';
                val++;
            }
            pairs[r->ncookies].name = tok;
            pairs[r->ncookies++].value = val;
        }
        at += strlen(r->hdrs[i].value) + 1;
    }
}

const char *wm_http_request_cookie(const wm_http_request_t *r, const char *name)
{
    /* The view is ours, not const: the cookie table is filled on demand. */
    wm_http_request_t *v = (wm_http_request_t *)r;
    if (!v->cookies_parsed)
        cookies_parse(v);
    for (size_t i = 0; i < v->ncookies; i++)
        if (strcmp(v->cookies[i].name, name) == 0)
            return v->cookies[i].value;
    return NULL;
}

/* ---- Responses ----------------------------------------------------------------------- */

wm_http_response_t *wm_http_response_new(int status)
{
    if (status < 100 || status > 999)
        return NULL;
    wm_http_response_t *r = calloc(1, sizeof *r);
    if (r)
        r->status = status;
    return r;
}

void wm_http_response_free(wm_http_response_t *r)
{
    if (!r)
        return;
    free(r->lines);
    free(r->body);
    free(r);
}

/* Appends `n` parts to the field lines. */
static int lines_add(wm_http_response_t *r, const char *const *parts, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += strlen(parts[i]);
    if (r->lines_cap - r->lines_len < need + 1) {
        size_t cap = r->lines_cap ? r->lines_cap : 256;
        while (cap - r->lines_len < need + 1)
            cap *= 2;
        char *l = realloc(r->lines, cap);
        if (!l)
            return WM_ENOMEM;
        r->lines = l;
        r->lines_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        memcpy(r->lines + r->lines_len, parts[i], k);
        r->lines_len += k;
    }
    r->lines[r->lines_len] = '\0';
    return WM_OK;
}

static bool has_close_token(const char *v)
{
    for (const char *p = v; (p = strcasestr(p, "close")) != NULL; p += 5) {
        bool start = p == v || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t';
        char e = p[5];
        if (start && (e == '\0' || e == ',' || e == ' ' || e == '\t'))
            return true;
    }
    return false;
}

int wm_http_response_header(wm_http_response_t *r, const char *name, const char *value)
{
    if (!r || !is_token(name) || !value || !is_field_value(value) ||
        strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0)
        return WM_EINVAL;
    if (strcasecmp(name, "connection") == 0) {
        /* Written by wm_http_send, which knows whether it closes. */
        r->close |= has_close_token(value);
        return WM_OK;
    }
    r->has_date |= strcasecmp(name, "date") == 0;
    r->has_server |= strcasecmp(name, "server") == 0;
    r->has_encoding |= strcasecmp(name, "content-encoding") == 0;
    if (strcasecmp(name, "content-type") == 0) {
        r->has_type = true;
        r->gzip_type = wm__http_gzip_type(value);
    }
    const char *parts[] = {name, ": ", value, "\r\n"};
    return lines_add(r, parts, 4);
}

bool wm__http_response_has_type(const wm_http_response_t *r)
{
    return r->has_type;
}

bool wm__http_response_has_field(const wm_http_response_t *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = r->lines; line && *line; line = strstr(line, "\r\n") + 2)
        if (!strncasecmp(line, name, n) && line[n] == ':')
            return true;
    return false;
}

int wm_http_response_body(wm_http_response_t *r, const void *data, size_t len)
{
    char *b = NULL;
    if (len) {
        if (!(b = malloc(len)))
            return WM_ENOMEM;
        memcpy(b, data, len);
    }
    free(r->body);
    r->body = b;
    r->body_len = len;
    return WM_OK;
}

/* cookie-octet (RFC 6265 §4.1.1). */
static bool is_cookie_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

static bool is_attr_value(const char *s)
{
    return is_field_value(s) && !strchr(s, ';');
}

int wm_http_response_cookie(wm_http_response_t *r, const char *name, const char *value,
                            const wm_http_cookie_opts_t *opts)
{
    static const wm_http_cookie_opts_t none = {0};
    const wm_http_cookie_opts_t *o = opts ? opts : &none;
    const char *same = NULL;
    if (!r || !is_token(name) || !value || !is_cookie_value(value) ||
        (o->domain && !is_attr_value(o->domain)) || (o->path && !is_attr_value(o->path)))
        return WM_EINVAL;
    if (o->same_site) {
        static const char *const ok[] = {"Strict", "Lax", "None"};
        for (size_t i = 0; i < 3 && !same; i++)
            if (strcasecmp(o->same_site, ok[i]) == 0)
                same = ok[i];
        if (!same)
            return WM_EINVAL;
    }
    char max_age[48] = "", expires[96] = "";
    if (o->has_max_age)
        snprintf(max_age, sizeof max_age, "; Max-Age=%lld", (long long)o->max_age);
    if (o->expires) {
        char d[64];
        imf_date(o->expires, d);
        snprintf(expires, sizeof expires, "; Expires=%s", d);
    }
    const char *parts[] = {"Set-Cookie: ",
                           name,
                           "=",
                           value,
                           max_age,
                           expires,
                           o->domain ? "; Domain=" : "",
                           o->domain ? o->domain : "",
                           o->path ? "; Path=" : "",
                           o->path ? o->path : "",
                           o->secure ? "; Secure" : "",
                           o->http_only ? "; HttpOnly" : "",
                           same ? "; SameSite=" : "",
                           same ? same : "",
                           "\r\n"};
    return lines_add(r, parts, sizeof parts / sizeof *parts);
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Whether `r` is an answer gzip applies to, whatever this client accepts
 * (then it gets Vary). Streams have no length to weigh. */
static bool gzip_eligible(const wm_http_response_t *r)
{
    return wm_http_gzip() > 0 && r->gzip_type && !r->has_encoding && !r->body_is_file &&
           status_has_body(r->status) && r->status != 206 &&
           (r->stream || r->body_len >= wm_http_gzip_min_length());
}

static int add_vary(wm_http_response_t *r)
{
    static const char *const vary[] = {"Vary: Accept-Encoding\r\n"};
    return lines_add(r, vary, 1);
}

static int add_content_encoding(wm_http_response_t *r)
{
    static const char *const gz[] = {"Content-Encoding: gzip\r\n"};
    r->has_encoding = true;
    return lines_add(r, gz, 1);
}

/* Gzips r's body in place when gzip applies and the client accepts it. A
 * HEAD answer is compressed as well, to announce the Content-Length a GET
 * would get. A body that would not shrink is kept as it is. */
static int gzip_prepare(wm_http_response_t *r, const http_state_t *st)
{
    if (!gzip_eligible(r))
        return WM_OK;
    int rc = add_vary(r);
    if (rc != WM_OK || !st->gzip_ok)
        return rc;
    char *z;
    size_t zlen;
    if ((rc = wm__http_gzip_buf(r->body, r->body_len, &z, &zlen)) != WM_OK)
        return rc;
    if (zlen >= r->body_len) {
        free(z);
        return WM_OK;
    }
    if ((rc = add_content_encoding(r)) != WM_OK) {
        free(z);
        return rc;
    }
    free(r->body);
    r->body = z;
    r->body_len = zlen;
    return WM_OK;
}

/* The whole answer in one buffer (one write for small answers). */
/* Appends `len` bytes, or a NUL-terminated string, at `at`; returns the end.
 * The head is built by hand: snprintf's format machinery was a measurable
 * share of a small answer's cost (bench/run http, perf). */
static char *put_mem(char *at, const char *s, size_t len)
{
    memcpy(at, s, len);
    return at + len;
}
#define PUT_LIT(at, lit) put_mem((at), (lit), sizeof(lit) - 1)

static char *put_str(char *at, const char *s)
{
    return put_mem(at, s, strlen(s));
}

static char *put_uint(char *at, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *at++ = digits[--n];
    return at;
}

/* The answer's head (and body, unless it goes separately) in one buffer:
 * `small` when it fits in small_cap bytes (no malloc for a small answer),
 * else a new one the caller frees (free(buf) only when buf != small). */
static char *serialize(const wm_http_response_t *r, const http_state_t *st, bool close,
                       size_t *out_len, char *small, size_t small_cap)
{
    bool no_body = r->status < 200 || r->status == 204 || r->status == 304;
    bool send_body = !no_body && !st->head;
    /* Bounded: a 3-digit status, a reason of under 40 bytes, a 29-byte date,
     * a 20-digit length and fixed names. */
    char head[320], *at = head;
    at = PUT_LIT(at, "HTTP/1.1 ");
    at = put_uint(at, (uint64_t)r->status);
    *at++ = ' ';
    at = put_str(at, wm_http_reason(r->status));
    at = PUT_LIT(at, "\r\n");
    if (!r->has_server)
        at = PUT_LIT(at, "Server: wm\r\n");
    if (!r->has_date) {
        at = PUT_LIT(at, "Date: ");
        at = put_str(at, date_now());
        at = PUT_LIT(at, "\r\n");
    }
    if (r->stream) {
        if (st->minor >= 1)
            at = PUT_LIT(at, "Transfer-Encoding: chunked\r\n");
        send_body = false; /* written as the stream's first piece */
    } else if (!no_body) {
        at = PUT_LIT(at, "Content-Length: ");
        at = put_uint(at, r->body_len);
        at = PUT_LIT(at, "\r\n");
    }
    if (close)
        at = PUT_LIT(at, "Connection: close\r\n");
    else if (st->minor == 0)
        at = PUT_LIT(at, "Connection: keep-alive\r\n");
    int n = (int)(at - head);
    if (r->body_is_file)
        send_body = false; /* the caller appends the file segment after the head */
    size_t total = (size_t)n + r->lines_len + 2 + (send_body ? r->body_len : 0);
    char *buf = small && total <= small_cap ? small : malloc(total);
    if (!buf)
        return NULL;
    char *out = put_mem(buf, head, (size_t)n);
    if (r->lines_len)
        out = put_mem(out, r->lines, r->lines_len);
    out = PUT_LIT(out, "\r\n");
    if (send_body && r->body_len)
        memcpy(out, r->body, r->body_len);
    *out_len = total;
    return buf;
}

static void close_later(void *id)
{
    wm_conn_t *c = wm_conn_find((uint64_t)(uintptr_t)id);
    if (c)
        wm_conn_close(c);
}

/* The current request has its answer queued: close, or move on to the next
 * request. `defer_close` when called from inside wm_conn_send (encode),
 * which must finish its own work on the connection first. */
static void answered(http_state_t *st, wm_conn_t *c, bool close, bool defer_close)
{
    st->busy = false;
    if (close) {
        st->closing = true;
        if (!defer_close)
            wm_conn_close(c);
        else if (wm__defer(close_later, (void *)(uintptr_t)wm_conn_id(c)) != WM_OK)
            wm_conn_destroy(c);
        return;
    }
    idle_arm(st);
    if (st->we_paused) {
        st->we_paused = false;
        wm__conn_release(c, WM__HOLD_PROTO);
    }
}

int wm_http_send(wm_conn_t *c, wm_http_response_t *r)
{
    http_state_t *st = conn_state(c);
    int rc;
    if (!r || !st || !st->busy) {
        rc = WM_EINVAL;
        goto out;
    }
    if (st->streaming) {
        rc = WM_EINVAL;
        goto out;
    }
    if (wm_conn_state(c) != WM_CONN_ESTABLISHED) {
        rc = WM_ENOTCONN;
        goto out;
    }
    bool close = !st->keep_alive || r->close || conn_draining(c);
    size_t len;
    char small[4096];
    char *buf =
        gzip_prepare(r, st) == WM_OK ? serialize(r, st, close, &len, small, sizeof small) : NULL;
    if (!buf) {
        rc = WM_ENOMEM;
        goto out;
    }
    rc = wm_conn_send_raw(c, buf, len);
    if (buf != small)
        free(buf);
    /* A dropped answer would leave the client waiting forever: close. */
    answered(st, c, close || rc < 0, false);
out:
    wm_http_response_free(r);
    return rc;
}

static void resume_later(void *id)
{
    wm_conn_t *c = wm_conn_find((uint64_t)(uintptr_t)id);
    http_state_t *st = conn_state(c);
    if (st && !st->busy && !st->closing && wm_conn_state(c) == WM_CONN_ESTABLISHED)
        wm__conn_release(c, WM__HOLD_PROTO);
}

/* Watches the output of a connection held by a large file: once it is below
 * the send buffer limit, the next request may be read (on the next turn, not
 * from inside evbuffer_write). */
static void hold_drained(struct evbuffer *out, const struct evbuffer_cb_info *info, void *id)
{
    wm_conn_t *c = wm_conn_find((uint64_t)(uintptr_t)id);
    http_state_t *st = conn_state(c);
    if (!st || !info->n_deleted || evbuffer_get_length(out) >= c->max_send_buffer)
        return;
    evbuffer_cb_clear_flags(out, st->hold_cb, EVBUFFER_CB_ENABLED);
    if (wm__defer(resume_later, id) != WM_OK)
        wm__conn_release(c, WM__HOLD_PROTO);
}

int wm__http_send_file(wm_conn_t *c, wm_http_response_t *r, int fd, uint64_t off, uint64_t len)
{
    http_state_t *st = conn_state(c);
    bool with_body =
        r && st && !st->head && r->status >= 200 && r->status != 204 && r->status != 304 && len > 0;
    int rc;
    if (!r || !st || !st->busy || st->streaming) {
        rc = WM_EINVAL;
        goto out;
    }
    if (wm_conn_state(c) != WM_CONN_ESTABLISHED) {
        rc = WM_ENOTCONN;
        goto out;
    }
    bool closing = !st->keep_alive || r->close || conn_draining(c);
    r->body_is_file = true;
    free(r->body);
    r->body = NULL;
    r->body_len = (size_t)len;
    size_t hlen;
    char *buf = serialize(r, st, closing, &hlen, NULL, 0);
    if (!buf) {
        rc = WM_ENOMEM;
        goto out;
    }
    rc = wm_conn_send_raw(c, buf, hlen);
    free(buf);
    if (rc >= 0 && with_body) {
        /* Without DRAINS_TO_FD libevent maps or reads the file into memory;
         * with it the segment stays a (fd, offset) pair for sendfile(). TLS
         * must encrypt from memory, so it keeps the mapping. */
        if (!c->tls)
            evbuffer_set_flags(c->out, EVBUFFER_FLAG_DRAINS_TO_FD);
        if (evbuffer_add_file(c->out, fd, (ev_off_t)off, (ev_off_t)len) == 0) {
            fd = -1; /* the buffer owns it now */
            if (c->state == WM_CONN_ESTABLISHED && (!c->tls || !wm__tls_write_waits_read(c)))
                event_add(c->wev, NULL); /* written by conn_flush when writable */
            rc = WM_QUEUED;
        } else {
            rc = WM_ENOMEM;
        }
    }
    /* A file counts in full against the send buffer limit, so the answer to
     * a pipelined request read now would be dropped (WM_ENOBUFS): keep the
     * connection paused until the file has mostly gone out. */
    if (rc == WM_QUEUED && !closing && st->we_paused &&
        evbuffer_get_length(c->out) >= c->max_send_buffer) {
        if (!st->hold_cb)
            st->hold_cb = evbuffer_add_cb(c->out, hold_drained, (void *)(uintptr_t)wm_conn_id(c));
        if (st->hold_cb) {
            evbuffer_cb_set_flags(c->out, st->hold_cb, EVBUFFER_CB_ENABLED);
            st->we_paused = false; /* answered() leaves it paused; hold_drained resumes */
        }
    }
    answered(st, c, closing || rc < 0, false);
out:
    if (fd >= 0)
        close(fd);
    wm_http_response_free(r);
    return rc;
}

int wm_http_reply(wm_conn_t *c, int status, const char *content_type, const void *body, size_t len)
{
    wm_http_response_t *r = wm_http_response_new(status);
    if (!r)
        return status < 100 || status > 999 ? WM_EINVAL : WM_ENOMEM;
    int rc = content_type ? wm_http_response_header(r, "Content-Type", content_type) : WM_OK;
    if (rc == WM_OK)
        rc = wm_http_response_body(r, body, len);
    if (rc != WM_OK) {
        wm_http_response_free(r);
        return rc;
    }
    return wm_http_send(c, r);
}

/* ---- Streamed answers ---------------------------------------------------------------- */

static bool queue_full(const wm_conn_t *c)
{
    return evbuffer_get_length(c->out) >= c->max_send_buffer;
}

/* Sends past the queue limit: the end of a stream must not be dropped, or
 * the client would wait for it forever. Queued as wm__http_send_file
 * queues its file. */
static int send_forced(wm_conn_t *c, const void *data, size_t len)
{
    if (!queue_full(c))
        return wm_conn_send_raw(c, data, len);
    if (evbuffer_add(c->out, data, len) != 0)
        return WM_ENOMEM;
    if (!c->tls || !wm__tls_write_waits_read(c))
        event_add(c->wev, NULL);
    return WM_QUEUED;
}

/* Frames `len` bytes as one chunk (or as they are, for HTTP/1.0), with
 * `tail` ("0\r\n\r\n" to end the body, or "") after it, and sends it all
 * in one call: a chunk is queued whole or not at all. */
static int put_framed(http_state_t *st, wm_conn_t *c, const char *data, size_t len,
                      const char *tail, bool force)
{
    char small[4096], head[24];
    int hn = st->chunked && len ? snprintf(head, sizeof head, "%zx\r\n", len) : 0;
    size_t crlf = st->chunked && len ? 2 : 0, tn = st->chunked ? strlen(tail) : 0;
    size_t total = (size_t)hn + len + crlf + tn;
    if (total == 0)
        return WM_SENT;
    char *buf = total <= sizeof small ? small : malloc(total);
    if (!buf)
        return WM_ENOMEM;
    memcpy(buf, head, (size_t)hn);
    if (len)
        memcpy(buf + hn, data, len);
    memcpy(buf + hn + len, "\r\n", crlf);
    memcpy(buf + hn + len + crlf, tail, tn);
    int rc = force ? send_forced(c, buf, total) : wm_conn_send_raw(c, buf, total);
    if (buf != small)
        free(buf);
    return rc;
}

static void beat_restart(http_state_t *st)
{
    if (!st->beat_ms || !st->beat_ev)
        return;
    struct timeval tv = {(time_t)(st->beat_ms / 1000), (suseconds_t)(st->beat_ms % 1000 * 1000)};
    evtimer_add(st->beat_ev, &tv);
}

/* One piece of the body: gzipped when the stream is, then framed. */
static int stream_put(http_state_t *st, wm_conn_t *c, const void *data, size_t len, bool finish)
{
    const char *tail = finish ? "0\r\n\r\n" : "";
    int rc;
    if (st->gz) {
        char *z;
        size_t zlen;
        if ((rc = wm__http_gz_write(st->gz, data, len, finish, &z, &zlen)) != WM_OK)
            return rc;
        rc = put_framed(st, c, z, zlen, tail, finish);
        free(z);
    } else {
        rc = put_framed(st, c, data, len, tail, finish);
    }
    beat_restart(st);
    return rc;
}

static void stream_reset(http_state_t *st)
{
    st->streaming = false;
    wm__http_gz_free(st->gz);
    st->gz = NULL;
    st->beat_ms = 0;
    if (st->beat_ev)
        evtimer_del(st->beat_ev);
}

/* Sets up gzip for a stream when it applies: Vary always, the encoder only
 * when this client takes gzip (and a HEAD answer needs no encoder). */
static int stream_gzip_prepare(http_state_t *st, wm_http_response_t *r)
{
    if (!gzip_eligible(r))
        return WM_OK;
    int rc = add_vary(r);
    if (rc != WM_OK || !st->gzip_ok)
        return rc;
    if (!st->head && !(st->gz = wm__http_gz_new()))
        return WM_ENOMEM;
    return add_content_encoding(r);
}

int wm_http_stream_start(wm_conn_t *c, wm_http_response_t *r)
{
    http_state_t *st = conn_state(c);
    int rc;
    if (!r || !st || !st->busy || st->streaming || !status_has_body(r->status)) {
        rc = WM_EINVAL;
        goto out;
    }
    if (wm_conn_state(c) != WM_CONN_ESTABLISHED) {
        rc = WM_ENOTCONN;
        goto out;
    }
    /* HTTP/1.0 has no chunks: the close is what ends the body. */
    bool close = st->minor == 0 || !st->keep_alive || r->close || conn_draining(c);
    r->stream = true;
    size_t len;
    char *buf = NULL;
    if ((rc = stream_gzip_prepare(st, r)) == WM_OK &&
        !(buf = serialize(r, st, close, &len, NULL, 0)))
        rc = WM_ENOMEM;
    if (rc == WM_OK) {
        rc = wm_conn_send_raw(c, buf, len);
        free(buf);
    }
    if (rc < 0) {
        stream_reset(st);
        answered(st, c, true, false); /* the client would wait forever */
        goto out;
    }
    st->streaming = true;
    st->chunked = st->minor >= 1;
    st->discard = st->head;
    st->stream_close = close;
    if (r->body_len && !st->discard) {
        int wrc = stream_put(st, c, r->body, r->body_len, false);
        rc = wrc < 0 || wrc == WM_QUEUED ? wrc : rc;
    }
out:
    wm_http_response_free(r);
    return rc;
}

int wm_http_stream_write(wm_conn_t *c, const void *data, size_t len)
{
    http_state_t *st = conn_state(c);
    if (!st || !st->streaming)
        return WM_EINVAL;
    if (wm_conn_state(c) != WM_CONN_ESTABLISHED)
        return WM_ENOTCONN;
    if (len == 0 || st->discard)
        return WM_SENT;
    /* Checked before anything is compressed: the gzip stream must not
     * consume bytes that are then dropped. */
    if (queue_full(c)) {
        char why[96];
        snprintf(why, sizeof why, "send buffer full (%zu bytes queued): stream write dropped",
                 evbuffer_get_length(c->out));
        wm__stats_send_failure();
        wm__conn_emit_error(c, WM_ENOBUFS, why);
        return WM_ENOBUFS;
    }
    return stream_put(st, c, data, len, false);
}

int wm_http_stream_end(wm_conn_t *c)
{
    http_state_t *st = conn_state(c);
    if (!st || !st->streaming)
        return WM_EINVAL;
    if (wm_conn_state(c) != WM_CONN_ESTABLISHED)
        return WM_ENOTCONN;
    int rc = st->discard ? WM_SENT : stream_put(st, c, NULL, 0, true);
    bool close = st->stream_close || rc < 0;
    stream_reset(st);
    answered(st, c, close, false);
    return rc;
}

bool wm_http_streaming(const wm_conn_t *c)
{
    const http_state_t *st = c && c->proto == &wm_protocol_http ? c->ctx.state : NULL;
    return st && st->streaming;
}

static void beat_fired(evutil_socket_t fd, short what, void *arg)
{
    http_state_t *st = arg;
    if (!st->streaming || wm_conn_state(st->conn) != WM_CONN_ESTABLISHED)
        return;
    if (!st->discard && !queue_full(st->conn))
        stream_put(st, st->conn, st->beat_data, st->beat_len, false);
    beat_restart(st);
}

int wm__http_stream_heartbeat(wm_conn_t *c, uint64_t ms, const char *data, size_t len)
{
    http_state_t *st = conn_state(c);
    if (!st || !st->streaming)
        return WM_EINVAL;
    st->beat_ms = ms;
    st->beat_data = data;
    st->beat_len = len;
    if (!ms) {
        if (st->beat_ev)
            evtimer_del(st->beat_ev);
        return WM_OK;
    }
    if (!st->beat_ev && !(st->beat_ev = evtimer_new(wm__base(), beat_fired, st)))
        return WM_ENOMEM;
    beat_restart(st);
    return WM_OK;
}

/* wm_conn_send() on an http connection: a 200 text/html answer, as
 * Workerman's `$connection->send('text')`. */
static int http_encode(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx)
{
    http_state_t *st = ctx->state;
    wm_conn_t *c = ctx->conn;
    if (!st || !st->busy || st->streaming || !c)
        return WM_EINVAL;
    wm_http_response_t *r = wm_http_response_new(200);
    int rc = r ? wm_http_response_header(r, "Content-Type", "text/html;charset=utf-8") : WM_ENOMEM;
    if (rc == WM_OK)
        rc = wm_http_response_body(r, data, len);
    if (rc == WM_OK)
        rc = gzip_prepare(r, st);
    bool close = r && (!st->keep_alive || conn_draining(c));
    size_t n = 0;
    char *buf = rc == WM_OK ? serialize(r, st, close, &n, NULL, 0) : NULL;
    wm_http_response_free(r);
    if (!buf)
        return rc == WM_OK ? WM_ENOMEM : rc;
    rc = evbuffer_add(out, buf, n) == 0 ? WM_OK : WM_ENOMEM;
    free(buf);
    if (rc == WM_OK)
        answered(st, c, close, true);
    return rc;
}

const wm_protocol_t wm_protocol_http = {"http", http_input, http_decode, http_encode,
                                        http_free_state};
