/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 request codec (RFC 9112): a head parser that makes one
 * left-to-right pass over the bytes with a character-class table, and a
 * byte-driven chunked body decoder. Neither does I/O nor allocates; see
 * http_parse.h for the contract and the strictness choices.
 *
 * The head parser keeps no state between calls. It reads at most
 * max_header_bytes and decides at the first byte that breaks a rule, so any
 * prefix of a head gives either WM_EAGAIN or the very result the whole head
 * gives: that is what makes "split at every byte" hold by construction. */
#include <string.h>

#include "wm/error.h"
#include "http_parse.h"

/* ---- Character classes --------------------------------------------------- */

#define C_TCHAR 1  /* token (RFC 9110 §5.6.2) */
#define C_VALUE 2  /* field-vchar, SP, HTAB, obs-text (RFC 9110 §5.5) */
#define C_TARGET 4 /* a request-target byte: visible ASCII or obs-text, no space */
#define C_HOST 8   /* uri-host [":" port] (RFC 3986 §3.2.2): no '/', '@', '?' */

static const unsigned char cls[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  15, 6,  7,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 6,  14, 6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0x80 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0x90 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xa0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xb0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xc0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xd0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xe0 */
    6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  /* 0xf0 */
};

static inline bool is_class(char c, unsigned mask)
{
    return (cls[(unsigned char)c] & mask) != 0;
}

/* The first byte in [p, end) outside `mask`, or end. Unrolled by 4: field
 * values are most of a head's bytes, and this is where its time goes. */
static inline const char *scan(const char *p, const char *end, unsigned mask)
{
    while (end - p >= 4) {
        if (!is_class(p[0], mask))
            return p;
        if (!is_class(p[1], mask))
            return p + 1;
        if (!is_class(p[2], mask))
            return p + 2;
        if (!is_class(p[3], mask))
            return p + 3;
        p += 4;
    }
    while (p < end && is_class(*p, mask))
        p++;
    return p;
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* Whether s equals the lower-case literal lit, ignoring ASCII case. */
static bool span_ieq(wm__http_span_t s, const char *lit, size_t litlen)
{
    if (s.len != litlen)
        return false;
    for (size_t i = 0; i < litlen; i++)
        if (lower(s.p[i]) != lit[i])
            return false;
    return true;
}
#define SPAN_IS(s, lit) span_ieq((s), lit, sizeof(lit) - 1)

static wm__http_span_t span(const char *from, const char *to)
{
    wm__http_span_t s = {from, (size_t)(to - from)};
    return s;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The next element of a comma-separated list (RFC 9110 §5.6.1) in [p, end),
 * OWS trimmed, into *e. Returns where the following element starts, or NULL
 * after the last one. Empty elements come out empty; callers skip them. */
static const char *list_next(const char *p, const char *end, wm__http_span_t *e)
{
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    while (p < stop && is_ows(*p))
        p++;
    while (stop > p && is_ows(stop[-1]))
        stop--;
    *e = span(p, stop);
    return comma ? comma + 1 : NULL;
}

/* ---- Head parser ----------------------------------------------------------- */

enum { HP_OK = 0, HP_MORE = 1, HP_ERR = -1 };

typedef struct hp {
    const char *p, *end; /* cursor; end = buf + min(len, max_header_bytes) */
    const wm__http_limits_t *lim;
    wm__http_request_t *req;
    int status;
    const char *why;
    /* What the fields said, judged once the block has ended. */
    const wm__http_span_t *host;
    unsigned nhost, ncl, nchunked;
    uint64_t cl;
    bool cl_bad, te, te_last_chunked, te_other;
    bool conn_close, conn_keep_alive, conn_upgrade, upgrade, expect_continue;
} hp_t;

static int hp_fail(hp_t *h, int status, const char *why)
{
    h->status = status;
    h->why = why;
    return HP_ERR;
}

/* Consumes the line end at h->p: CRLF, or a lone LF, which RFC 9112 §2.2
 * lets a recipient accept in the start line and fields. A CR not followed by
 * LF is an error (also §2.2), and so is any other byte (`bad`). A CR that is
 * the last byte we have needs one more. */
static int hp_eol(hp_t *h, const char *bad)
{
    if (h->p == h->end)
        return HP_MORE;
    if (*h->p == '\n') {
        h->p++;
        return HP_OK;
    }
    if (*h->p != '\r')
        return hp_fail(h, 400, bad);
    if (h->p + 1 == h->end)
        return HP_MORE;
    if (h->p[1] != '\n')
        return hp_fail(h, 400, "bare CR");
    h->p += 2;
    return HP_OK;
}

/* path and query from "path[?query]" in [p, end). */
static void hp_split_path(wm__http_request_t *r, const char *p, const char *end)
{
    const char *q = memchr(p, '?', (size_t)(end - p));
    r->path = span(p, q ? q : end);
    r->query = q ? span(q + 1, end) : span(end, end);
}

static bool host_ok(wm__http_span_t s)
{
    return scan(s.p, s.p + s.len, C_HOST) == s.p + s.len;
}

/* Sorts the request-target into its form (RFC 9112 §3.2). We are an origin
 * server, not a proxy: CONNECT (authority-form) is not implemented. */
static int hp_target(hp_t *h)
{
    wm__http_request_t *r = h->req;
    wm__http_span_t t = r->target;
    if (r->method.len == 7 && memcmp(r->method.p, "CONNECT", 7) == 0)
        return hp_fail(h, 501, "CONNECT is not supported");
    if (t.p[0] == '/') {
        hp_split_path(r, t.p, t.p + t.len);
        return HP_OK;
    }
    if (t.len == 1 && t.p[0] == '*') {
        if (r->method.len != 7 || memcmp(r->method.p, "OPTIONS", 7) != 0)
            return hp_fail(h, 400, "asterisk-form target without OPTIONS");
        r->path = t;
        r->query = span(t.p + 1, t.p + 1);
        return HP_OK;
    }
    /* absolute-form: "http" ["s"] "://" authority path-abempty ["?" query] */
    size_t skip = 0;
    if (t.len >= 7 && span_ieq(span(t.p, t.p + 7), "http://", 7))
        skip = 7;
    else if (t.len >= 8 && span_ieq(span(t.p, t.p + 8), "https://", 8))
        skip = 8;
    if (!skip)
        return hp_fail(h, 400, "bad request-target");
    const char *a = t.p + skip, *end = t.p + t.len, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?')
        ae++;
    r->host = span(a, ae);
    if (r->host.len == 0 || !host_ok(r->host))
        return hp_fail(h, 400, "bad authority in request-target");
    hp_split_path(r, ae, end);
    return HP_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3),
 * with exactly one SP between the parts. */
static int hp_request_line(hp_t *h)
{
    wm__http_request_t *r = h->req;
    int rc;
    /* RFC 9112 §2.2: a server SHOULD ignore empty lines before the request
     * line (some clients send CRLF after a POST body). */
    while (h->p < h->end && (*h->p == '\r' || *h->p == '\n'))
        if ((rc = hp_eol(h, "")) != HP_OK)
            return rc;
    const char *m = h->p;
    h->p = scan(h->p, h->end, C_TCHAR);
    if (h->p == h->end)
        return HP_MORE;
    if (*h->p != ' ' || h->p == m)
        return hp_fail(h, 400, "bad method");
    r->method = span(m, h->p++);

    /* Stop reading the target once it is over the limit: 414 is decided by
     * then, whatever follows. */
    const char *t = h->p;
    size_t room = (size_t)(h->end - t);
    size_t cap = room > h->lim->max_uri ? h->lim->max_uri + 1 : room;
    h->p = scan(t, t + cap, C_TARGET);
    if (h->p == t + cap && cap > h->lim->max_uri)
        return hp_fail(h, 414, "request-target too long");
    if (h->p == h->end)
        return HP_MORE;
    if (*h->p != ' ' || h->p == t)
        return hp_fail(h, 400, "bad request-target");
    r->target = span(t, h->p++);

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3). */
    const char *v = h->p;
    for (int i = 0; i < 8; i++) {
        if (v + i == h->end)
            return HP_MORE;
        char c = v[i];
        bool ok = i < 5 ? c == "HTTP/"[i] : i == 6 ? c == '.' : c >= '0' && c <= '9';
        if (!ok)
            return hp_fail(h, 400, "bad HTTP version");
    }
    h->p = v + 8;
    if ((rc = hp_eol(h, "bad HTTP version")) != HP_OK)
        return rc;
    if (v[5] != '1')
        return hp_fail(h, 505, "HTTP version not supported");
    r->version_minor = v[7] == '0' ? 0 : 1;
    return hp_target(h);
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no spaces, no list. */
static bool parse_u64(wm__http_span_t s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Transfer-Encoding codings, in order across all its field lines. Only the
 * order and whether each is "chunked" matter: anything else ends in 400 or
 * 501 (hp_framing). */
static void hp_transfer_encoding(hp_t *h, wm__http_span_t v)
{
    wm__http_span_t e;
    h->te = true;
    for (const char *p = v.p; p;) {
        p = list_next(p, v.p + v.len, &e);
        if (e.len == 0)
            continue;
        bool chunked = SPAN_IS(e, "chunked");
        h->nchunked += chunked;
        h->te_other |= !chunked;
        h->te_last_chunked = chunked;
    }
}

static void hp_connection(hp_t *h, wm__http_span_t v)
{
    wm__http_span_t e;
    for (const char *p = v.p; p;) {
        p = list_next(p, v.p + v.len, &e);
        h->conn_close |= SPAN_IS(e, "close");
        h->conn_keep_alive |= SPAN_IS(e, "keep-alive");
        h->conn_upgrade |= SPAN_IS(e, "upgrade");
    }
}

/* Notes what the fields that decide framing and connection handling say.
 * Judged later, in hp_finish, so one place orders the checks. */
static void hp_note_field(hp_t *h, const wm__http_header_t *f)
{
    if (SPAN_IS(f->name, "host")) {
        h->host = &f->value;
        h->nhost++;
    } else if (SPAN_IS(f->name, "content-length")) {
        h->ncl++;
        h->cl_bad |= !parse_u64(f->value, &h->cl);
    } else if (SPAN_IS(f->name, "transfer-encoding")) {
        hp_transfer_encoding(h, f->value);
    } else if (SPAN_IS(f->name, "connection")) {
        hp_connection(h, f->value);
    } else if (SPAN_IS(f->name, "upgrade")) {
        h->upgrade |= f->value.len > 0;
    } else if (SPAN_IS(f->name, "expect")) {
        h->expect_continue |= SPAN_IS(f->value, "100-continue");
    }
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). No space
 * before the colon (§5.1), no controls but HTAB in the value (RFC 9110
 * §5.5); a CR in it must end the line. */
static int hp_field(hp_t *h)
{
    const char *n = h->p;
    h->p = scan(h->p, h->end, C_TCHAR);
    if (h->p == h->end)
        return HP_MORE;
    if (h->p == n)
        return hp_fail(h, 400, "empty field name");
    if (*h->p != ':')
        return hp_fail(h, 400, "bad field name");
    wm__http_header_t f;
    f.name = span(n, h->p++);
    while (h->p < h->end && is_ows(*h->p))
        h->p++;
    const char *v = h->p;
    h->p = scan(h->p, h->end, C_VALUE);
    const char *ve = h->p;
    int rc = hp_eol(h, "control character in field value");
    if (rc != HP_OK)
        return rc;
    while (ve > v && is_ows(ve[-1]))
        ve--;
    f.value = span(v, ve);
    wm__http_request_t *r = h->req;
    r->headers[r->nheaders] = f;
    hp_note_field(h, &r->headers[r->nheaders++]);
    return HP_OK;
}

/* Field lines up to and including the empty line. */
static int hp_fields(hp_t *h)
{
    for (;;) {
        if (h->p == h->end)
            return HP_MORE;
        char c = *h->p;
        if (c == '\r' || c == '\n')
            return hp_eol(h, "");
        /* obs-fold, or whitespace before the first field: RFC 9112 §5.2 and
         * §2.2 allow rejecting both, and merging them is how parsers have
         * disagreed about field boundaries. */
        if (is_ows(c))
            return hp_fail(h, 400, "obsolete line folding");
        if (h->req->nheaders == h->lim->max_headers)
            return hp_fail(h, 431, "too many header fields");
        int rc = hp_field(h);
        if (rc != HP_OK)
            return rc;
    }
}

/* The body's length (RFC 9112 §6.3), stricter than the RFC where the RFC
 * allows guesses: Content-Length next to Transfer-Encoding and repeated
 * Content-Length lines (even equal ones) are refused, not reconciled. */
static int hp_framing(hp_t *h)
{
    wm__http_request_t *r = h->req;
    if (h->te) {
        if (r->version_minor == 0) /* §6.1: 1.0 has no chunked; a proxy may have botched it */
            return hp_fail(h, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (h->ncl)
            return hp_fail(h, 400, "both Transfer-Encoding and Content-Length");
        if (!h->te_last_chunked) /* §6.3 item 4: 400, the length is unknowable */
            return hp_fail(h, 400, "the final transfer coding is not chunked");
        if (h->nchunked > 1) /* §6.1: chunked MUST NOT be applied twice */
            return hp_fail(h, 400, "chunked applied more than once");
        if (h->te_other) /* §6.1: a coding we do not implement (gzip, ...) */
            return hp_fail(h, 501, "transfer coding not implemented");
        r->body_kind = WM_HTTP_BODY_CHUNKED;
        return HP_OK;
    }
    if (h->ncl > 1)
        return hp_fail(h, 400, "repeated Content-Length");
    if (h->cl_bad)
        return hp_fail(h, 400, "bad Content-Length");
    if (h->ncl && h->cl > h->lim->max_body)
        return hp_fail(h, 413, "body too large");
    if (h->ncl && h->cl > 0) {
        r->body_kind = WM_HTTP_BODY_LENGTH;
        r->content_length = h->cl;
    }
    return HP_OK;
}

/* Checks that need the whole block, then the connection flags. */
static int hp_finish(hp_t *h)
{
    wm__http_request_t *r = h->req;
    /* RFC 9112 §3.2: 400 for a 1.1 request without Host, and for any with
     * more than one Host or an invalid one. */
    if (h->nhost > 1 || (r->version_minor == 1 && h->nhost == 0))
        return hp_fail(h, 400, "missing or repeated Host");
    if (h->nhost && !host_ok(*h->host))
        return hp_fail(h, 400, "bad Host");
    if (!r->host.p)
        r->host = h->nhost ? *h->host : span(r->target.p, r->target.p);
    int rc = hp_framing(h);
    if (rc != HP_OK)
        return rc;
    r->keep_alive = !h->conn_close && (r->version_minor == 1 || h->conn_keep_alive);
    r->upgrade = h->conn_upgrade && h->upgrade;
    r->expect_continue = r->version_minor == 1 && h->expect_continue;
    return HP_OK;
}

/* Whether the bytes new since last_len can hold the empty line that ends a
 * head ("\n\n" or "\n\r\n"). Only a shortcut: the parse decides. */
static bool head_may_end(const char *buf, size_t len, size_t last_len)
{
    const char *p = buf + (last_len > 2 ? last_len - 2 : 0), *end = buf + len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (++p == end)
            return false;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
            return true;
    }
    return false;
}

ssize_t wm__http_parse_request(const char *buf, size_t len, size_t last_len,
                               const wm__http_limits_t *lim, wm__http_request_t *req, int *status,
                               const char **why)
{
    size_t max = lim->max_header_bytes;
    if (last_len && len < max && !head_may_end(buf, len, last_len))
        return WM_EAGAIN;

    wm__http_header_t *headers = req->headers;
    memset(req, 0, sizeof(*req));
    req->headers = headers;
    hp_t h;
    memset(&h, 0, sizeof(h));
    h.p = buf;
    h.end = buf + (len < max ? len : max);
    h.lim = lim;
    h.req = req;

    int rc = hp_request_line(&h);
    if (rc == HP_OK)
        rc = hp_fields(&h);
    if (rc == HP_OK)
        rc = hp_finish(&h);
    if (rc == HP_OK)
        return h.p - buf;
    if (rc == HP_MORE) {
        if (len < max)
            return WM_EAGAIN;
        hp_fail(&h, 431, "header block too large");
    }
    *status = h.status;
    *why = h.why;
    return h.status == 413 || h.status == 414 || h.status == 431 ? WM_EMSGSIZE : WM_EPROTO;
}

const wm__http_span_t *wm__http_header(const wm__http_request_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        wm__http_span_t k = req->headers[i].name;
        if (k.len != n)
            continue;
        size_t j = 0;
        while (j < n && lower(k.p[j]) == lower(name[j]))
            j++;
        if (j == n)
            return &req->headers[i].value;
    }
    return NULL;
}

/* ---- Chunked decoder ----------------------------------------------------- */

/* chunked-body = *chunk last-chunk trailer-section CRLF
 * chunk = chunk-size [chunk-ext] CRLF chunk-data CRLF        (RFC 9112 §7.1) */
enum {
    CK_SIZE,      /* the first hex digit of a chunk size */
    CK_SIZE_MORE, /* more digits, BWS, ';' or CR */
    CK_SIZE_WS,   /* BWS after the size: only ';' may follow */
    CK_EXT,       /* extensions, skipped up to CR */
    CK_SIZE_LF,   /* LF ending the size line */
    CK_DATA,      /* chunk data: `size` bytes left */
    CK_DATA_CR,   /* CRLF after the data */
    CK_DATA_LF,   /*   */
    CK_TRAILER,   /* the start of a trailer line, or of the final CRLF */
    CK_TRAILER_NAME,
    CK_TRAILER_VALUE,
    CK_TRAILER_LF,
    CK_END_LF, /* LF of the final CRLF */
    CK_DONE,
    CK_ERROR,
};

void wm__http_chunked_init(wm__http_chunked_t *d, uint64_t max_body)
{
    memset(d, 0, sizeof(*d));
    d->max_body = max_body;
    d->state = CK_SIZE;
}

static int ck_fail(wm__http_chunked_t *d, int status, const char *why)
{
    d->state = CK_ERROR;
    d->status = status;
    d->why = why;
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool is_ctl(char c)
{
    return ((unsigned char)c < 0x20 && c != '\t') || c == 0x7f;
}

/* The size line: hex digits, then BWS ";" extensions (checked for controls
 * only, otherwise skipped: we implement none), then CRLF. */
static int ck_size_byte(wm__http_chunked_t *d, char c)
{
    int x = hexval(c);
    /* Bounds leading zeros and whitespace as well as extensions. */
    if (++d->line > WM_HTTP_CHUNK_LINE_MAX)
        return ck_fail(d, 400, "chunk size line too long");
    switch (d->state) {
    case CK_SIZE:
        if (x < 0)
            return ck_fail(d, 400, "bad chunk size");
        d->size = (uint64_t)x;
        d->state = CK_SIZE_MORE;
        return 0;
    case CK_SIZE_MORE:
        if (x >= 0) {
            if (d->size >> 60)
                return ck_fail(d, 400, "chunk size over 64 bits");
            d->size = d->size << 4 | (uint64_t)x;
            return 0;
        }
        /* fall through */
    case CK_SIZE_WS:
        if (is_ows(c))
            d->state = CK_SIZE_WS;
        else if (c == ';')
            d->state = CK_EXT;
        else if (c == '\r' && d->state == CK_SIZE_MORE)
            d->state = CK_SIZE_LF;
        else
            return ck_fail(d, 400, "bad chunk size");
        return 0;
    case CK_EXT:
        if (c == '\r') {
            d->state = CK_SIZE_LF;
            return 0;
        }
        if (is_ctl(c))
            return ck_fail(d, 400, "bad chunk extension");
        return 0;
    default: /* CK_SIZE_LF */
        if (c != '\n')
            return ck_fail(d, 400, "chunk size line without CRLF");
        if (d->size > d->max_body - d->total)
            return ck_fail(d, 413, "body too large");
        d->total += d->size;
        d->line = 0;
        d->state = d->size ? CK_DATA : CK_TRAILER;
        return 0;
    }
}

/* trailer-section = *(field-line CRLF): checked like fields, then dropped
 * (RFC 9110 §6.5.1 lets a recipient discard them). */
static int ck_trailer_byte(wm__http_chunked_t *d, char c)
{
    if (++d->line > WM_HTTP_TRAILER_MAX)
        return ck_fail(d, 431, "trailers too large");
    switch (d->state) {
    case CK_TRAILER:
        if (c == '\r')
            d->state = CK_END_LF;
        else if (is_class(c, C_TCHAR))
            d->state = CK_TRAILER_NAME;
        else
            return ck_fail(d, 400, "bad trailer field");
        return 0;
    case CK_TRAILER_NAME:
        if (c == ':')
            d->state = CK_TRAILER_VALUE;
        else if (!is_class(c, C_TCHAR))
            return ck_fail(d, 400, "bad trailer field");
        return 0;
    case CK_TRAILER_VALUE:
        if (c == '\r')
            d->state = CK_TRAILER_LF;
        else if (!is_class(c, C_VALUE))
            return ck_fail(d, 400, "bad trailer field");
        return 0;
    case CK_TRAILER_LF:
        if (c != '\n')
            return ck_fail(d, 400, "trailer line without CRLF");
        d->state = CK_TRAILER;
        return 0;
    default: /* CK_END_LF */
        if (c != '\n')
            return ck_fail(d, 400, "chunked body without final CRLF");
        d->state = CK_DONE;
        return 0;
    }
}

static int ck_byte(wm__http_chunked_t *d, char c)
{
    switch (d->state) {
    case CK_DATA_CR:
        if (c != '\r')
            return ck_fail(d, 400, "chunk data without CRLF");
        d->state = CK_DATA_LF;
        return 0;
    case CK_DATA_LF:
        if (c != '\n')
            return ck_fail(d, 400, "chunk data without CRLF");
        d->state = CK_SIZE;
        d->line = 0;
        return 0;
    case CK_SIZE:
    case CK_SIZE_MORE:
    case CK_SIZE_WS:
    case CK_EXT:
    case CK_SIZE_LF:
        return ck_size_byte(d, c);
    default:
        return ck_trailer_byte(d, c);
    }
}

ssize_t wm__http_chunked_feed(wm__http_chunked_t *d, const char *buf, size_t len, const char **data,
                              size_t *data_len, bool *done, int *status, const char **why)
{
    size_t i = 0;
    *data = buf;
    *data_len = 0;
    while (i < len && d->state != CK_DONE && d->state != CK_ERROR) {
        if (d->state == CK_DATA) {
            /* Hand out the data in place and return, so each call yields at
             * most one piece and the caller never copies. */
            size_t n = d->size < len - i ? (size_t)d->size : len - i;
            *data = buf + i;
            *data_len = n;
            d->size -= n;
            if (d->size == 0)
                d->state = CK_DATA_CR;
            i += n;
            break;
        }
        ck_byte(d, buf[i++]);
    }
    *done = d->state == CK_DONE;
    if (d->state != CK_ERROR)
        return (ssize_t)i;
    *data_len = 0;
    *status = d->status;
    *why = d->why;
    return d->status == 400 ? WM_EPROTO : WM_EMSGSIZE;
}
