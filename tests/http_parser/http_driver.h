/* SPDX-License-Identifier: MIT */
/* A server's receive path over the HTTP codec, without the server: pipelined
 * requests are parsed out of a byte stream that arrives in pieces, bodies are
 * read by Content-Length or through the chunked decoder, and everything seen
 * is written to a text log. Two runs over the same stream must give the same
 * log however the stream was split; that is the byte-split test and the
 * fuzz target's main assertion. Every span the codec returns is checked to
 * lie inside the bytes it was given (DRV_CHECK, abort by default).
 *
 * Header-only, shared by tests/http_parser and tests/fuzz/fuzz_http.c. */
#ifndef WM_HTTP_DRIVER_H
#define WM_HTTP_DRIVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wm/error.h"
/* By path, so that tests/fuzz/fuzz_http.c can use this file too. */
#include "../../libwm/src/http_parse.h"

#define DRV_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { DRV_HEAD, DRV_LENGTH, DRV_CHUNKED, DRV_FAILED };

typedef struct drv {
    wm__http_limits_t lim;
    wm__http_header_t *headers;
    bool use_last_len; /* pass last_len hints, as a server would */
    int state;
    size_t last_len; /* of the unconsumed bytes, at the last WM_EAGAIN */
    uint64_t left;   /* Content-Length bytes still to read */
    wm__http_chunked_t ck;
    size_t consumed; /* bytes of the stream used up so far */
    char *log;
    size_t log_len, log_cap;
} drv_t;

static inline void drv_printf(drv_t *d, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(d->log + d->log_len, d->log_cap - d->log_len, fmt, ap);
        va_end(ap);
        DRV_CHECK(n >= 0);
        if (d->log_len + (size_t)n < d->log_cap) {
            d->log_len += (size_t)n;
            return;
        }
        d->log_cap = (d->log_cap + (size_t)n) * 2;
        d->log = realloc(d->log, d->log_cap);
        DRV_CHECK(d->log != NULL);
    }
}

/* Logs a span escaped (so NULs and controls stay visible), after checking it
 * points into [lo, hi). */
static inline void drv_span(drv_t *d, const char *tag, wm__http_span_t s, const char *lo,
                            const char *hi)
{
    DRV_CHECK(s.p != NULL);
    DRV_CHECK(s.p >= lo && s.p <= hi && s.len <= (size_t)(hi - s.p));
    drv_printf(d, " %s=", tag);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == ' ')
            drv_printf(d, "\\x%02x", c);
        else
            drv_printf(d, "%c", c);
    }
}

static inline void drv_init(drv_t *d, const wm__http_limits_t *lim, bool use_last_len)
{
    memset(d, 0, sizeof(*d));
    d->lim = *lim;
    d->use_last_len = use_last_len;
    d->headers = calloc(lim->max_headers ? lim->max_headers : 1, sizeof(*d->headers));
    d->log_cap = 256;
    d->log = malloc(d->log_cap);
    DRV_CHECK(d->headers && d->log);
    d->log[0] = 0;
}

static inline void drv_free(drv_t *d)
{
    free(d->headers);
    free(d->log);
}

static inline void drv_fail(drv_t *d, ssize_t rc, int status, const char *why)
{
    DRV_CHECK(rc == WM_EPROTO || rc == WM_EMSGSIZE);
    DRV_CHECK(why != NULL && *why != 0);
    DRV_CHECK((rc == WM_EMSGSIZE) == (status == 413 || status == 414 || status == 431));
    DRV_CHECK(status == 400 || status == 413 || status == 414 || status == 431 || status == 501 ||
              status == 505);
    drv_printf(d, "ERROR %d %s\n", status, why);
    d->state = DRV_FAILED;
}

static inline void drv_log_request(drv_t *d, const wm__http_request_t *r, const char *buf, size_t n)
{
    const char *end = buf + n;
    drv_printf(d, "REQUEST %zu", n);
    drv_span(d, "method", r->method, buf, end);
    drv_span(d, "target", r->target, buf, end);
    drv_span(d, "path", r->path, buf, end);
    drv_span(d, "query", r->query, buf, end);
    drv_span(d, "host", r->host, buf, end);
    drv_printf(d, " v=1.%d body=%d cl=%llu ka=%d ex=%d up=%d\n", r->version_minor,
               (int)r->body_kind, (unsigned long long)r->content_length, r->keep_alive,
               r->expect_continue, r->upgrade);
    DRV_CHECK(r->nheaders <= d->lim.max_headers);
    for (size_t i = 0; i < r->nheaders; i++) {
        drv_printf(d, " ");
        drv_span(d, "name", r->headers[i].name, buf, end);
        drv_span(d, "value", r->headers[i].value, buf, end);
        drv_printf(d, "\n");
    }
}

/* One head out of buf[0, len); returns bytes consumed. */
static inline size_t drv_head(drv_t *d, const char *buf, size_t len)
{
    wm__http_request_t r;
    memset(&r, 0, sizeof(r));
    r.headers = d->headers;
    int status = 0;
    const char *why = NULL;
    ssize_t n = wm__http_parse_request(buf, len, d->use_last_len ? d->last_len : 0, &d->lim, &r,
                                       &status, &why);
    if (n == WM_EAGAIN) {
        DRV_CHECK(len < d->lim.max_header_bytes);
        d->last_len = len;
        return 0;
    }
    d->last_len = 0;
    if (n < 0) {
        drv_fail(d, n, status, why);
        return 0;
    }
    DRV_CHECK((size_t)n <= len && (size_t)n <= d->lim.max_header_bytes);
    DRV_CHECK(r.version_minor == 0 || r.version_minor == 1);
    DRV_CHECK(r.content_length <= d->lim.max_body);
    drv_log_request(d, &r, buf, (size_t)n);
    if (r.body_kind == WM_HTTP_BODY_LENGTH) {
        DRV_CHECK(r.content_length > 0);
        d->left = r.content_length;
        d->state = DRV_LENGTH;
        drv_printf(d, "BODY ");
    } else if (r.body_kind == WM_HTTP_BODY_CHUNKED) {
        wm__http_chunked_init(&d->ck, d->lim.max_body);
        d->state = DRV_CHUNKED;
        drv_printf(d, "BODY ");
    } else {
        DRV_CHECK(r.body_kind == WM_HTTP_BODY_NONE && r.content_length == 0);
    }
    return (size_t)n;
}

/* Body bytes are logged as they come; pieces join up to the same text
 * whatever the split. */
static inline void drv_data(drv_t *d, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        drv_printf(d, "%02x", (unsigned char)p[i]);
}

static inline size_t drv_chunked(drv_t *d, const char *buf, size_t len)
{
    const char *data = NULL, *why = NULL;
    size_t dlen = 0;
    bool done = false;
    int status = 0;
    ssize_t n = wm__http_chunked_feed(&d->ck, buf, len, &data, &dlen, &done, &status, &why);
    if (n < 0) {
        drv_printf(d, "\n");
        drv_fail(d, n, status, why);
        return 0;
    }
    DRV_CHECK((size_t)n <= len);
    DRV_CHECK(dlen <= (size_t)n && data >= buf && data + dlen <= buf + n);
    DRV_CHECK(n > 0 || len == 0); /* no progress would hang a server */
    drv_data(d, data, dlen);
    if (done) {
        drv_printf(d, "\n");
        d->state = DRV_HEAD;
    }
    return (size_t)n;
}

/* Consumes what it can of buf[0, len), the stream's bytes from d->consumed
 * on (a fresh exact-size copy each time in tests, so ASan sees any read past
 * len). Returns bytes consumed; the caller drops them. */
static inline size_t drv_feed(drv_t *d, const char *buf, size_t len)
{
    size_t used = 0;
    for (;;) {
        size_t n = 0;
        const char *p = buf + used;
        size_t avail = len - used;
        if (d->state == DRV_HEAD) {
            if (avail == 0)
                break;
            n = drv_head(d, p, avail);
        } else if (d->state == DRV_LENGTH) {
            n = avail < d->left ? avail : (size_t)d->left;
            drv_data(d, p, n);
            d->left -= n;
            if (d->left == 0) {
                drv_printf(d, "\n");
                d->state = DRV_HEAD;
            }
        } else if (d->state == DRV_CHUNKED) {
            if (avail == 0)
                break;
            n = drv_chunked(d, p, avail);
        }
        used += n;
        if (n == 0 && (d->state == DRV_FAILED || d->state == DRV_HEAD))
            break;
        if (n == 0 && avail == 0)
            break;
    }
    d->consumed += used;
    return used;
}

/* After the last byte: what was left waiting. A head still waiting is parsed
 * once more without the last_len hint, so an error the hint deferred shows. */
static inline void drv_end(drv_t *d, const char *rest, size_t len)
{
    if (d->state == DRV_HEAD && len > 0 && d->use_last_len) {
        d->use_last_len = false;
        drv_head(d, rest, len);
    }
    /* After an error, how far the stream was consumed depends on the reads
     * (a chunked body fails part way; those bytes go with the connection). */
    if (d->state == DRV_FAILED)
        drv_printf(d, "END failed\n");
    else
        drv_printf(d, "END state=%d consumed=%zu\n", d->state, d->consumed);
}

/* Runs the whole stream through a fresh driver, in pieces whose sizes come
 * from next_piece (NULL: all at once), copying the unconsumed bytes into an
 * exact-size buffer before each call. Returns the log (caller frees). */
static inline char *drv_run(const char *stream, size_t size, const wm__http_limits_t *lim,
                            bool use_last_len, size_t (*next_piece)(void *arg), void *arg)
{
    drv_t d;
    drv_init(&d, lim, use_last_len);
    size_t have = 0;
    char *copy = NULL;
    while (have < size) {
        size_t n = next_piece ? next_piece(arg) : size;
        if (n == 0)
            n = 1;
        if (n > size - have)
            n = size - have;
        have += n;
        if (d.state == DRV_FAILED)
            continue;
        size_t off = d.consumed, len = have - off;
        copy = malloc(len ? len : 1);
        DRV_CHECK(copy != NULL);
        memcpy(copy, stream + off, len);
        drv_feed(&d, copy, len);
        free(copy);
    }
    size_t len = size - d.consumed;
    copy = malloc(len ? len : 1);
    DRV_CHECK(copy != NULL);
    memcpy(copy, stream + d.consumed, len);
    drv_end(&d, copy, len);
    free(copy);
    free(d.headers);
    return d.log;
}

#endif
