/* SPDX-License-Identifier: MIT */
/* Server-Sent Events (wm/http.h; WHATWG HTML §9.2 "Server-sent events"): the
 * event-stream format on top of a streamed answer. Each event is formatted
 * into one buffer and written as one piece (one chunk), so a client never
 * sees half an event followed by a pause.
 *
 * The format, as a client parses it: lines end in LF, CRLF or CR; a line
 * "field: value" sets a field (one space after the colon is dropped); a
 * line starting with ':' is a comment; an empty line dispatches the event.
 * So `event` and `id` cannot hold a line break (they would end the field
 * and start another one: an injection), and `data` with several lines is
 * sent as several `data:` lines, which the client joins with LF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wm_int.h"
#include "http_int.h"

/* A growing output buffer; `failed` sticks after an allocation failure. */
typedef struct sse_buf {
    char *p;
    size_t len, cap;
    bool failed;
} sse_buf_t;

static void buf_add(sse_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_str(sse_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static bool one_line(const char *s)
{
    return !s || !strpbrk(s, "\r\n");
}

/* "name: value\n" for each line of `value` (split at LF, CRLF or CR). */
static void add_lines(sse_buf_t *b, const char *name, const char *value)
{
    const char *p = value;
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        buf_str(b, name);
        buf_add(b, ": ", 2);
        buf_add(b, p, n);
        buf_add(b, "\n", 1);
        p += n;
        if (!*p)
            return;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
    }
}

/* Writes the formatted event (which ends with the blank line) and frees it. */
static int buf_send(wm_conn_t *c, sse_buf_t *b)
{
    buf_add(b, "\n", 1);
    int rc = b->failed ? WM_ENOMEM : wm_http_stream_write(c, b->p, b->len);
    free(b->p);
    return rc;
}

int wm_http_sse_send(wm_conn_t *c, const char *event, const char *id, const char *data)
{
    if ((!event && !id && !data) || !one_line(event) || !one_line(id))
        return WM_EINVAL;
    if (!wm_http_streaming(c))
        return WM_EINVAL;
    sse_buf_t b = {0};
    if (event)
        add_lines(&b, "event", event);
    if (id)
        add_lines(&b, "id", id);
    if (data)
        add_lines(&b, "data", data);
    return buf_send(c, &b);
}

int wm_http_sse_retry(wm_conn_t *c, uint64_t ms)
{
    char line[40];
    int n = snprintf(line, sizeof line, "retry: %llu\n\n", (unsigned long long)ms);
    return wm_http_streaming(c) ? wm_http_stream_write(c, line, (size_t)n) : WM_EINVAL;
}

int wm_http_sse_comment(wm_conn_t *c, const char *text)
{
    if (!one_line(text) || !wm_http_streaming(c))
        return WM_EINVAL;
    sse_buf_t b = {0};
    buf_add(&b, ":", 1);
    if (text && *text) {
        buf_add(&b, " ", 1);
        buf_str(&b, text);
    }
    buf_add(&b, "\n", 1);
    return buf_send(c, &b);
}

int wm_http_sse_keepalive(wm_conn_t *c, uint64_t ms)
{
    static const char beat[] = ": keep-alive\n\n";
    return wm__http_stream_heartbeat(c, ms, beat, sizeof beat - 1);
}

int wm_http_sse_start(wm_conn_t *c, wm_http_response_t *r)
{
    if (!r && !(r = wm_http_response_new(200)))
        return WM_ENOMEM;
    int rc = wm__http_response_has_type(r) ? WM_EINVAL : WM_OK;
    static const char *const fields[][2] = {{"Content-Type", "text/event-stream"},
                                            {"Cache-Control", "no-cache"},
                                            {"X-Accel-Buffering", "no"}};
    /* A Cache-Control of the caller's own (private, max-age=0...) wins. */
    for (size_t i = 0; i < 3 && rc == WM_OK; i++)
        if (!wm__http_response_has_field(r, fields[i][0]))
            rc = wm_http_response_header(r, fields[i][0], fields[i][1]);
    if (rc != WM_OK) {
        wm_http_response_free(r);
        return rc;
    }
    return wm_http_stream_start(c, r);
}

const char *wm_http_sse_last_event_id(const wm_http_request_t *req)
{
    return wm_http_request_header(req, "Last-Event-ID");
}
