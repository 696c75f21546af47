/* SPDX-License-Identifier: MIT */
/* The http:// protocol for workers (the core of Workerman's Http protocol):
 * HTTP/1.1 requests in, responses out, on a worker made with
 * wm_worker_new("http://0.0.0.0:8080").
 *
 * Requests reach on_message one at a time. msg->extra is the request
 * (`const wm_http_request_t *`); msg->data/len is its body (Content-Length
 * or chunked, reassembled; empty when there is none). Both are borrowed:
 * valid only until on_message returns, so copy what an answer given later
 * (from a timer, a database callback) needs.
 *
 * One at a time: once a request is delivered, the connection delivers no
 * other until that one is answered with wm_http_send() (or wm_http_reply(),
 * or wm_conn_send(), which answers 200 with the bytes as a text/html body).
 * Pipelined requests therefore get their answers in order, whether each is
 * answered inside on_message or later. Every request must be answered; an
 * unanswered one holds its connection until the peer or the idle timeout
 * ends it.
 *
 * The protocol answers by itself, without on_message, and then closes:
 * 400 (malformed, smuggling-prone framing), 413 (body over the worker's max
 * package size), 414 (request-target too long), 431 (header block too
 * large), 501 (unsupported transfer coding, CONNECT), 505 (not HTTP/1.x).
 * `Expect: 100-continue` gets "100 Continue" before the body is read.
 * Connections close after the answer for HTTP/1.0 without keep-alive,
 * `Connection: close`, or a draining process (stop -g, reload), and after an
 * idle keep-alive timeout (wm_http_set_idle_timeout).
 *
 * An answer may also be streamed (wm_http_stream_start/_write/_end): a
 * body of unknown length written piece by piece over time, chunked for
 * HTTP/1.1 and until the close for HTTP/1.0; Server-Sent Events
 * (wm_http_sse_*) ride on it. Bodies of text types can be gzipped when the
 * client accepts it (wm_http_set_gzip, off by default).
 *
 * Beside this header: wm/http_body.h reads forms, uploads and JSON bodies;
 * wm/http_session.h keeps sessions; wm/json.h parses and writes JSON. */
#ifndef WM_HTTP_H
#define WM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conn.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* The http protocol, registered as "http". */
extern const wm_protocol_t wm_protocol_http;

#define WM_HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000

/* How long a connection may wait for its next request, in this process
 * (0: forever). Measured from the accept (a client that connects and sends
 * nothing is closed too), from the answer to the previous request, or from
 * the last byte of an unfinished one. Default 60 s. */
void wm_http_set_idle_timeout(uint64_t ms);
uint64_t wm_http_idle_timeout(void);

/* ---- Requests ------------------------------------------------------------ */

typedef struct wm_http_request wm_http_request_t;

/* One header field as received. Both strings are NUL-terminated (a field
 * cannot hold a NUL byte) and borrowed like the request. */
typedef struct wm_http_header {
    const char *name;  /* as received; compare case-insensitively */
    const char *value; /* leading and trailing blanks removed */
} wm_http_header_t;

/* Every string below is NUL-terminated and borrowed: valid until on_message
 * returns. */
const char *wm_http_request_method(const wm_http_request_t *r); /* "GET" */
const char *wm_http_request_target(const wm_http_request_t *r); /* "/a/b?x=1", as received */
const char *wm_http_request_path(const wm_http_request_t *r);   /* "/a/b", not decoded */
const char *wm_http_request_query(const wm_http_request_t *r);  /* "x=1", "" when none */
/* The Host (or the authority of an absolute-form target); "" when none. */
const char *wm_http_request_host(const wm_http_request_t *r);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
int wm_http_request_version(const wm_http_request_t *r);
/* Whether the connection stays open after the answer (the request's view;
 * a draining process closes anyway). */
bool wm_http_request_keep_alive(const wm_http_request_t *r);

/* The value of the first field called `name` (case-insensitive), or NULL. */
const char *wm_http_request_header(const wm_http_request_t *r, const char *name);
/* The fields, in the order received: index 0 .. count-1; NULL past it. */
size_t wm_http_request_header_count(const wm_http_request_t *r);
const wm_http_header_t *wm_http_request_header_at(const wm_http_request_t *r, size_t i);

/* The body (also in msg->data/len); "" with *len 0 when there is none.
 * `len` may be NULL. */
const char *wm_http_request_body(const wm_http_request_t *r, size_t *len);

/* The value of the cookie `name` from the Cookie field(s), or NULL. Not
 * decoded (cookie values are opaque octets). */
const char *wm_http_request_cookie(const wm_http_request_t *r, const char *name);

/* ---- Responses ------------------------------------------------------------ */

typedef struct wm_http_response wm_http_response_t;

/* Makes a response with `status` (100..999; the reason phrase is the
 * standard one). Returns NULL when out of memory or for a bad status. The
 * caller owns it until wm_http_send() (which always takes it) or
 * wm_http_response_free(). */
wm_http_response_t *wm_http_response_new(int status);
void wm_http_response_free(wm_http_response_t *r);

/* Adds a header field; both strings are copied. Returns WM_OK, or WM_EINVAL
 * (nothing added) for a name that is not a token, a value with CR, LF, NUL
 * or other controls (no header injection), or Content-Length /
 * Transfer-Encoding, which wm_http_send writes itself. "Connection: close"
 * makes the connection close after this response. Date and Server are only
 * added by wm_http_send when not set here. */
int wm_http_response_header(wm_http_response_t *r, const char *name, const char *value);

/* Sets the body (copied), replacing any earlier one. Returns WM_OK or
 * WM_ENOMEM. */
int wm_http_response_body(wm_http_response_t *r, const void *data, size_t len);

/* Set-Cookie attributes; pass NULL for none. Strings are copied. */
typedef struct wm_http_cookie_opts {
    bool has_max_age;
    int64_t max_age;       /* Max-Age=seconds (0 or less: expire now), if has_max_age */
    time_t expires;        /* Expires=<IMF date>, when not 0 */
    const char *domain;    /* Domain=, when not NULL */
    const char *path;      /* Path=, when not NULL */
    bool secure;           /* Secure */
    bool http_only;        /* HttpOnly */
    const char *same_site; /* "Strict", "Lax" or "None" (case-insensitive), or NULL */
} wm_http_cookie_opts_t;

/* Adds a Set-Cookie field. Returns WM_OK, or WM_EINVAL (nothing added) for a
 * name that is not a token, a value outside RFC 6265's cookie-octets (no
 * controls, blanks, '"', ',', ';' or '\'), a domain or path with controls or
 * ';', or an unknown SameSite. */
int wm_http_response_cookie(wm_http_response_t *r, const char *name, const char *value,
                            const wm_http_cookie_opts_t *opts);

/* Sends `r` as the answer to the connection's current request, and takes
 * ownership of it (freed, whatever the result). Adds Content-Length (none
 * for 1xx, 204 and 304), Date, Server (unless set) and Connection; a HEAD
 * request gets the fields without the body. Then either closes the
 * connection once the answer is written (HTTP/1.0 without keep-alive,
 * Connection: close in the request or the response, a draining process) or
 * delivers the next request. Callable from on_message or any later
 * callback. Returns WM_SENT or WM_QUEUED as wm_conn_send(), or:
 *   WM_EINVAL    `c` is not an http connection, or has no request waiting
 *                for an answer (answered already);
 *   WM_ENOTCONN  the connection is closing or closed;
 *   WM_ENOBUFS / WM_ENOMEM as wm_conn_send(). */
int wm_http_send(wm_conn_t *c, wm_http_response_t *r);

/* Answers in one call: status, Content-Type (none when NULL) and a body
 * (copied). Returns as wm_http_send(). */
int wm_http_reply(wm_conn_t *c, int status, const char *content_type, const void *body, size_t len);

/* The standard reason phrase for `status` ("Not Found"), "" when unknown.
 * Static. */
const char *wm_http_reason(int status);

/* ---- Streaming responses ----------------------------------------------------- */

/* A streamed answer has its status and fields sent first and its body
 * written later, piece by piece, from any callback (timers, another
 * connection, a database reply), until wm_http_stream_end(). The request
 * stays the connection's current one meanwhile: pipelined requests behind
 * it wait, the idle timeout does not run, and wm_http_send() is refused.
 *
 * Framing: HTTP/1.1 gets `Transfer-Encoding: chunked` (each write is one
 * chunk); HTTP/1.0 gets the bare body and `Connection: close`, the close
 * marking its end. A HEAD request gets the same fields and no body: writes
 * are accepted and dropped, and wm_http_stream_end() is still needed.
 *
 * The connection may close at any time (the peer leaves, an error, a stop):
 * on_close runs, and the pointer dies after it. A producer that writes from
 * timers should therefore keep wm_conn_id(c) and look the connection up
 * with wm_conn_find() each time (NULL: gone), or stop in on_close. A write
 * to a closing connection returns WM_ENOTCONN.
 *
 * Back-pressure: each write returns WM_QUEUED when bytes had to wait for
 * the socket; when the queue reaches the connection's max send buffer,
 * on_buffer_full runs (wm_conn_on_buffer_full), later writes return
 * WM_ENOBUFS and write nothing (the stream stays well-formed) until
 * on_buffer_drain runs. A producer pauses on the first and resumes on the
 * second, or polls wm_conn_send_queue().
 *
 * gzip: when it is on (wm_http_set_gzip), the client accepts it and the
 * Content-Type is a text type, the stream is gzipped (Content-Encoding:
 * gzip, Vary: Accept-Encoding); each write is flushed (Z_SYNC_FLUSH) so the
 * client can decode it at once. */

/* Starts streaming `r` as the answer to the connection's current request,
 * and takes ownership of `r` (freed, whatever the result). r's body, if
 * set, is the first piece. Returns WM_SENT or WM_QUEUED, or:
 *   WM_EINVAL    not an http connection, no request waiting for an answer,
 *                already streaming, or a status without a body (1xx, 204,
 *                304);
 *   WM_ENOTCONN  the connection is closing or closed;
 *   WM_ENOBUFS / WM_ENOMEM as wm_conn_send() (the connection is then
 *                closed: the client would wait forever). */
int wm_http_stream_start(wm_conn_t *c, wm_http_response_t *r);

/* Writes `len` bytes (copied) of the body. A zero length writes nothing and
 * returns WM_SENT. Returns WM_SENT, WM_QUEUED, or:
 *   WM_EINVAL    the connection is not streaming;
 *   WM_ENOTCONN  the connection is closing or closed;
 *   WM_ENOBUFS   the send queue is at its limit: nothing was written and
 *                on_error ran with WM_ENOBUFS (as wm_conn_send());
 *   WM_ENOMEM. */
int wm_http_stream_write(wm_conn_t *c, const void *data, size_t len);

/* Ends the body (the last chunk, or the close for HTTP/1.0) and finishes the
 * answer: the next request is delivered, or the connection closes as after
 * wm_http_send(). Returns WM_SENT, WM_QUEUED, WM_EINVAL (not streaming) or
 * WM_ENOTCONN; the queue limit does not apply to the ending. */
int wm_http_stream_end(wm_conn_t *c);

/* Whether `c` is an http connection with a streamed answer in progress. */
bool wm_http_streaming(const wm_conn_t *c);

/* ---- Server-Sent Events (WHATWG HTML §9.2) ------------------------------------ */

/* An event stream is a streamed answer (above) with the fields an
 * EventSource wants: `Content-Type: text/event-stream`, `Cache-Control:
 * no-cache` (unless the response sets its own) and `X-Accel-Buffering: no`
 * (so nginx does not hold events back). It is never gzipped.
 *
 *   in on_message:
 *   const char *last = wm_http_sse_last_event_id(req);  (resume after it)
 *   wm_http_sse_start(c, NULL);
 *   ...later, from a timer:
 *   wm_http_sse_send(c, "tick", "42", "line one\nline two");
 *
 * Returns of every wm_http_sse_* sending function: as
 * wm_http_stream_write(). */

/* Starts the event stream. `r` adds fields (a Set-Cookie, say) and may be
 * NULL for a plain 200; it must not set Content-Type (WM_EINVAL). Takes
 * ownership of `r`. Returns as wm_http_stream_start(). */
int wm_http_sse_start(wm_conn_t *c, wm_http_response_t *r);

/* Sends one event. `event` (the type; NULL: "message") and `id` (NULL: no
 * id field; "" resets the client's last event id) must not contain CR or
 * LF: WM_EINVAL, nothing sent. `data` (NULL: none) may have several lines
 * (LF, CRLF or CR), each sent as its own `data:` line, which the client
 * joins back with LF. At least one of the three must be given. */
int wm_http_sse_send(wm_conn_t *c, const char *event, const char *id, const char *data);

/* Tells the client how long to wait before reconnecting (`retry:`). */
int wm_http_sse_retry(wm_conn_t *c, uint64_t ms);

/* Sends a comment line (`: text`), which clients ignore: a keep-alive for
 * proxies that close quiet connections. `text` may be NULL; CR or LF in it:
 * WM_EINVAL. */
int wm_http_sse_comment(wm_conn_t *c, const char *text);

/* Sends a comment by itself whenever the stream has been quiet for `ms`
 * (0: stop). Returns WM_OK, or WM_EINVAL when `c` is not streaming. */
int wm_http_sse_keepalive(wm_conn_t *c, uint64_t ms);

/* The request's Last-Event-ID (sent by a reconnecting EventSource), or
 * NULL. Borrowed like the request. */
const char *wm_http_sse_last_event_id(const wm_http_request_t *req);

/* ---- gzip --------------------------------------------------------------------- */

/* Response compression, for this process. Off by default, as in nginx:
 * compression costs CPU on every answer, many deployments already compress
 * in a proxy in front, and compressing a body that mixes a secret with
 * attacker-chosen text over TLS leaks the secret through the length
 * (BREACH); turning it on is a decision to make knowingly.
 *
 * When on, an answer from wm_http_send(), wm_http_reply(), wm_conn_send()
 * or a stream is gzipped when all of these hold:
 *   - the request's Accept-Encoding allows gzip (q-values honoured:
 *     `gzip;q=0` refuses it, `*` counts for it when gzip is not named);
 *   - the Content-Type is text/..., application/json, application/javascript,
 *     application/xml, image/svg+xml, or any type ending in +json or +xml
 *     (text/event-stream excepted);
 *   - the response has no Content-Encoding of its own;
 *   - the status has a body and is not 206, and (not for streams) the body
 *     is at least the minimum length.
 * It then carries `Content-Encoding: gzip` and a Content-Length that counts
 * the compressed bytes. `Vary: Accept-Encoding` is added to every answer
 * that could be compressed, whether or not this client accepted it, so
 * caches keep the two apart. A HEAD request gets the fields a GET would
 * (the body is compressed to learn its length, then dropped).
 * wm_http_send_file() answers are never compressed: their body goes from
 * the file to the socket with sendfile() and never passes through user
 * space. */

/* `level`: 0 turns compression off, 1 (fastest) .. 9 (smallest) turns it
 * on. Returns WM_OK, or WM_EINVAL for another level (nothing changes). */
int wm_http_set_gzip(int level);
int wm_http_gzip(void); /* the level; 0 when off */

#define WM_HTTP_DEFAULT_GZIP_MIN_LENGTH 256

/* Bodies shorter than this are sent as they are (a gzip header and trailer
 * cost 18 bytes, and small bodies hardly shrink). Default 256 bytes. */
void wm_http_set_gzip_min_length(size_t bytes);
size_t wm_http_gzip_min_length(void);

/* ---- Files ------------------------------------------------------------------ */

/* Answers the current request with the regular file at `path`. The body is
 * never copied through user space on plain connections: it is queued as an
 * evbuffer file segment and written with sendfile() (TLS connections map it
 * and encrypt from the mapping). The answer carries:
 *   - Content-Type: `content_type`, or from the extension when NULL (html,
 *     css, js, json, txt, xml, svg, png, jpg, gif, webp, ico, wasm, pdf,
 *     woff, woff2, mp3, mp4, webm, zip, gz, ...; application/octet-stream
 *     otherwise);
 *   - Last-Modified (the mtime) and a strong ETag "<size>-<mtime ns>" in hex,
 *     as nginx does: it changes whenever the file is rewritten;
 *   - Accept-Ranges: bytes.
 * GET and HEAD are conditional: If-None-Match (a list or "*", weak
 * comparison) answers 304 when it matches; otherwise, and only without
 * If-None-Match, If-Modified-Since answers 304 when the file is not newer.
 * A GET with one `Range: bytes=a-b`, `a-` or `-n` answers 206 with
 * Content-Range (If-Range honoured), one that cannot be satisfied answers
 * 416 with a Content-Range of "bytes *" and the size; a multi-range request or
 * a malformed Range gets the whole file with 200 (RFC 9110 §14.2 lets a
 * server ignore Range; multipart/byteranges is not produced). HEAD gets
 * the fields without the body.
 * Missing file: 404. A directory, a non-regular file or one we may not
 * read: 403. The file is opened when called and its bytes are read when the
 * socket can take them, so a file replaced meanwhile keeps sending the old
 * inode. Returns as wm_http_send(). */
int wm_http_send_file(wm_conn_t *c, const wm_http_request_t *req, const char *path,
                      const char *content_type);

/* The Content-Type for a file name's extension (case-insensitive), or
 * "application/octet-stream". Static. */
const char *wm_http_mime_type(const char *name);

/* ---- Static-file server --------------------------------------------------- */

/* Serves files from a root folder per host name, for on_message:
 *
 *   wm_http_static_t *s = wm_http_static_new("/srv/www");
 *   wm_http_static_add_host(s, "docs.example.com", "/srv/docs");
 *   ...in on_message:
 *   if (wm_http_static_serve(s, c, req) == WM_ENOENT)
 *       wm_http_reply(c, 404, "text/plain", "not found\n", 10);
 *
 * Mapping a request to a file, with no way out of the root:
 *   1. the path (never the query) is percent-decoded once; %00, an encoded
 *      '/' (%2F) and a malformed escape are refused (400), so
 *      "/..%2f..%2fetc" never becomes "/../../etc";
 *   2. "." and ".." segments are resolved lexically; a ".." above the root
 *      is refused (403), whether it came plain or as %2E%2E;
 *   3. the result is realpath()ed under the root's realpath (taken once, at
 *      _new/_add_host) and must stay under it: a symlink leading out of the
 *      root is refused (403); symlinks staying inside are followed;
 *   4. only regular files are served (403 otherwise); a directory is
 *      answered with its index file (default "index.html"), a 301 to the
 *      path with a trailing '/' first when it lacks one, or 403 without one.
 * The file is then opened O_NOFOLLOW, and served as wm_http_send_file().
 * Only GET and HEAD: other methods on an existing file get 405 with
 * `Allow: GET, HEAD`.
 * The root should not be writable by untrusted users: a symlink swapped in
 * between the check and the open of a directory above the file is not
 * guarded against. */
typedef struct wm_http_static wm_http_static_t;

/* `root`: the folder for hosts without their own (NULL: such requests get
 * WM_ENOENT). Returns NULL when out of memory or when `root` does not
 * resolve to a directory (logged). */
wm_http_static_t *wm_http_static_new(const char *root);
void wm_http_static_free(wm_http_static_t *s);

/* Serves `host` (compared case-insensitively, without its port) from
 * `root`. Returns WM_OK, WM_EINVAL (empty host, root not a directory) or
 * WM_ENOMEM. A host added twice keeps its latest root. */
int wm_http_static_add_host(wm_http_static_t *s, const char *host, const char *root);

/* The file served for a directory ("index.html" by default; NULL: none, a
 * directory then answers 403). A plain name, no '/'. Returns WM_OK,
 * WM_EINVAL or WM_ENOMEM. */
int wm_http_static_set_index(wm_http_static_t *s, const char *name);

/* Answers `req` from the files. Returns WM_ENOENT, with nothing sent, when
 * no file matched (no root for the host, no such file): the caller answers.
 * Otherwise the request has been answered (200, 206, 301, 304, 400, 403,
 * 405, 416) and it returns as wm_http_send(): WM_SENT or WM_QUEUED, or an
 * error from sending. */
int wm_http_static_serve(wm_http_static_t *s, wm_conn_t *c, const wm_http_request_t *req);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
