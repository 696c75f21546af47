/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 request codec (RFC 9112), with no I/O: bytes in, a request
 * head and body framing out. The head parser fills spans that point into the
 * caller's buffer (as picohttpparser does), so a server parses straight out
 * of its evbuffer's first segment with zero copies and no allocation; the
 * chunked decoder hands out body pieces that point into what it was fed.
 *
 * It is deliberately strict where leniency lets two parsers on one path
 * disagree about where a message ends (request smuggling): Content-Length
 * with Transfer-Encoding, repeated or malformed Content-Length, obsolete line
 * folding and a bare CR are all errors. Each error comes with the status a
 * server should answer before closing the connection, and a static reason.
 *
 * Private to libwm: the HTTP server builds its public API on top. */
#ifndef WM_HTTP_PARSE_H
#define WM_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Defaults for wm__http_limits_t; every count a peer controls is bounded. */
#define WM_HTTP_DEFAULT_MAX_HEADER_BYTES 8192        /* request line + fields + empty line */
#define WM_HTTP_DEFAULT_MAX_HEADERS 100              /* field lines */
#define WM_HTTP_DEFAULT_MAX_URI 8000                 /* request-target (RFC 9112 §3) */
#define WM_HTTP_DEFAULT_MAX_BODY (10u * 1024 * 1024) /* Workerman's default package size */
/* Fixed limits of the chunked decoder. */
#define WM_HTTP_CHUNK_LINE_MAX 1024 /* bytes of one chunk-size line, extensions included */
#define WM_HTTP_TRAILER_MAX 8192    /* bytes of the whole trailer section */

/* A run of bytes inside the caller's buffer (borrowed: valid while that
 * buffer is). An absent part is an empty span that still points into the
 * buffer, never NULL. */
typedef struct wm__http_span {
    const char *p;
    size_t len;
} wm__http_span_t;

typedef struct wm__http_header {
    wm__http_span_t name;  /* a token, as received (compare case-insensitively) */
    wm__http_span_t value; /* leading and trailing SP/HTAB removed */
} wm__http_header_t;

typedef struct wm__http_limits {
    size_t max_header_bytes; /* over it: 431 */
    size_t max_headers;      /* more field lines: 431; also the size of req->headers */
    size_t max_uri;          /* a longer request-target: 414 */
    uint64_t max_body;       /* a larger Content-Length: 413 (the chunked decoder has its own) */
} wm__http_limits_t;

typedef enum wm__http_body {
    WM_HTTP_BODY_NONE,    /* no body: the next request starts right after the head */
    WM_HTTP_BODY_LENGTH,  /* content_length bytes (> 0) follow */
    WM_HTTP_BODY_CHUNKED, /* feed the bytes after the head to a wm__http_chunked_t */
} wm__http_body_t;

typedef struct wm__http_request {
    wm__http_span_t method; /* a token, case-sensitive (RFC 9110 §9.1) */
    wm__http_span_t target; /* the request-target as received */
    /* From the target: origin-form "/p?q" gives path "/p" and query "q".
     * Absolute-form "http://h/p?q" gives the same path and query (path is
     * EMPTY for "http://h": treat it as "/"); asterisk-form "*" (OPTIONS
     * only) gives path "*". */
    wm__http_span_t path, query;
    /* The authority of an absolute-form target, else the Host field value
     * (RFC 9112 §3.2.2: the target wins), else empty. Checked to hold only
     * host characters: no '/', '@', spaces, or controls. */
    wm__http_span_t host;
    int version_minor; /* 0 or 1 (HTTP/1.2..1.9 are read as 1.1, RFC 9110 §2.5) */
    /* In: the caller's array of lim->max_headers entries (may be NULL when
     * that is 0). Out: the first nheaders entries, in order received. */
    wm__http_header_t *headers;
    size_t nheaders;
    /* Framing, decided here (RFC 9112 §6.3), with every smuggling-prone
     * case already rejected. */
    wm__http_body_t body_kind;
    uint64_t content_length; /* for WM_HTTP_BODY_LENGTH, else 0 */
    bool keep_alive; /* 1.1: unless Connection: close; 1.0: only with Connection: keep-alive */
    bool
        expect_continue; /* HTTP/1.1 with Expect: 100-continue (ignored in 1.0, RFC 9110 §10.1.1) */
    bool upgrade;        /* Connection lists "upgrade" and an Upgrade field is present */
} wm__http_request_t;

/* Parses the request head (request line and field block) at the start of
 * buf[0, len). Never reads buf[len] or beyond, never allocates.
 *
 * last_len: 0, or the len of the previous call on this same, grown buffer
 * that returned WM_EAGAIN. With it, a call whose new bytes cannot end the
 * head returns WM_EAGAIN at once instead of parsing again, so a head that
 * arrives a byte at a time costs O(n), not O(n^2); an error early in such a
 * head is then reported when its end or the size limit arrives (or on any
 * call with last_len 0).
 *
 * Returns:
 *   > 0          the head's length, up to and including the empty line; the
 *                body (req->body_kind) or the next request starts there.
 *                req is filled; its spans borrow buf.
 *   WM_EAGAIN    the head is unfinished and still under max_header_bytes.
 *   WM_EMSGSIZE  a limit was passed: *status is 413, 414 or 431.
 *   WM_EPROTO    anything else: *status is 400, 501 or 505.
 * On an error *why is a static reason (for logs, not for the peer) and the
 * connection should be answered with *status and closed. A result other
 * than WM_EAGAIN is final: more bytes never change it. Leading empty lines
 * before the request line are skipped (RFC 9112 §2.2) and count in the
 * returned length. */
ssize_t wm__http_parse_request(const char *buf, size_t len, size_t last_len,
                               const wm__http_limits_t *lim, wm__http_request_t *req, int *status,
                               const char **why);

/* The value of the first field called `name` (case-insensitive), or NULL.
 * Borrowed from req. Costs a scan of the fields: a server looking for
 * several should walk req->headers once. */
const wm__http_span_t *wm__http_header(const wm__http_request_t *req, const char *name);

/* The chunked body decoder (RFC 9112 §7.1): incremental, any split of the
 * input gives the same body. Extensions are checked and skipped, trailers
 * are checked and dropped. Every line in the chunked body must end in CRLF
 * exactly (unlike the head, a lone LF is an error: RFC 9112 §2.2's leniency
 * covers the start line and fields only, and line-end disagreements inside
 * chunked bodies are a known smuggling vector). Fields are private. */
typedef struct wm__http_chunked {
    uint64_t max_body;
    uint64_t total; /* chunk-data bytes so far */
    uint64_t size;  /* the chunk size being read, then the data left of it */
    size_t line;    /* bytes of this chunk-size line, or of the trailer section */
    int state;
    int status; /* the sticky error, once state says so */
    const char *why;
} wm__http_chunked_t;

/* Prepares d for one chunked body of at most max_body data bytes. */
void wm__http_chunked_init(wm__http_chunked_t *d, uint64_t max_body);

/* Feeds buf[0, len) to d. Returns how many bytes it consumed (<= len; all of
 * them unless a piece of data or the end came first: call again with the
 * rest) and sets *data, *data_len to the piece of body found in those bytes
 * (borrowed from buf; *data_len may be 0). *done is set once the last chunk
 * and the trailers have ended; the next request starts right after the
 * consumed bytes, and later calls consume nothing.
 * Errors stick: this and every later call return WM_EMSGSIZE (*status 413
 * for data over max_body, 431 for trailers over WM_HTTP_TRAILER_MAX) or
 * WM_EPROTO (*status 400: bad hex, a size over 64 bits, a missing CRLF, bad
 * extensions, a size line over WM_HTTP_CHUNK_LINE_MAX, malformed trailers). */
ssize_t wm__http_chunked_feed(wm__http_chunked_t *d, const char *buf, size_t len, const char **data,
                              size_t *data_len, bool *done, int *status, const char **why);

#endif
