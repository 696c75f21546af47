/* SPDX-License-Identifier: MIT */
/* A connection's receive path over the WebSocket frame reader, without the
 * connection: a byte stream arrives in pieces, unconsumed bytes wait in a
 * pending buffer, and every event is written to a text log. Two runs over
 * the same stream must give the same log however it was split; that is the
 * byte-split test and the fuzz target's main assertion. Each call gets an
 * exact-size heap copy of the pending bytes, so ASan catches a read past
 * them, and every span, count and code the reader returns is checked
 * against ws_frame.h (DRV_CHECK, abort).
 *
 * Header-only, shared by tests/ws_frame and tests/fuzz/fuzz_ws.c. */
#ifndef WM_WS_DRIVER_H
#define WM_WS_DRIVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wm/error.h"
/* By path, so that tests/fuzz/fuzz_ws.c can use this file too. */
#include "../../libwm/src/ws_frame.h"

#define DRV_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct ws_log {
    char *s;
    size_t len, cap;
} ws_log_t;

static inline void ws_log_add(ws_log_t *l, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(l->s ? l->s + l->len : NULL, l->s ? l->cap - l->len : 0, fmt, ap);
        va_end(ap);
        DRV_CHECK(n >= 0);
        if (l->s && (size_t)n < l->cap - l->len) {
            l->len += (size_t)n;
            return;
        }
        l->cap = (l->cap + (size_t)n + 1) * 2;
        l->s = realloc(l->s, l->cap);
        DRV_CHECK(l->s != NULL);
        if (l->len == 0)
            l->s[0] = 0;
    }
}

/* Payload bytes as text: printable ASCII as is, the rest as \xNN; a long
 * payload as its length and a hash. */
static inline void ws_log_bytes(ws_log_t *l, const uint8_t *p, size_t n)
{
    if (n > 64) {
        uint64_t h = 1469598103934665603u;
        for (size_t i = 0; i < n; i++)
            h = (h ^ p[i]) * 1099511628211u;
        ws_log_add(l, "<%zu bytes #%016llx>", n, (unsigned long long)h);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            ws_log_add(l, "%c", p[i]);
        else
            ws_log_add(l, "\\x%02x", p[i]);
}

static inline bool ws_drv_inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    return base && p >= base && p <= base + size && n <= (size_t)(base + size - p);
}

/* Feeds in[0, size) to a fresh reader in pieces of piece(arg) bytes (NULL:
 * all at once). With use_need the reader is called only once the pending
 * bytes reach the last ev.need, as a connection would do; without, it is
 * called after every piece. Returns the log (caller frees). Lines:
 *   "text <data>", "binary <data>", "ping <data>", "pong <data>",
 *   "close <code> <reason>", "error <errno> <close code>",
 *   and at the end "pending <bytes>" (unconsumed, no error). */
static inline char *ws_drv_run(const uint8_t *in, size_t size, bool is_server, size_t max_message,
                               bool use_need, size_t (*piece)(void *), void *arg)
{
    wm__ws_reader_t r;
    wm__ws_reader_init(&r, is_server, max_message);
    ws_log_t l = {NULL, 0, 0};
    ws_log_add(&l, "");
    size_t have = 0, done = 0, need = 0;
    bool failed = false;
    while (have < size && !failed) {
        size_t n = piece ? piece(arg) : size;
        have += n < size - have ? n : size - have;
        while (!failed && (!use_need || have - done >= need)) {
            size_t avail = have - done;
            uint8_t *copy = malloc(avail ? avail : 1);
            DRV_CHECK(copy != NULL);
            memcpy(copy, in + done, avail);
            wm__ws_event_t ev;
            ssize_t rc = wm__ws_reader_feed(&r, copy, avail, &ev);
            if (rc == WM_EAGAIN) {
                DRV_CHECK(ev.need > avail);
                DRV_CHECK(ev.need <= WM_WS_MAX_HEADER + (r.max_message > WM_WS_MAX_CONTROL
                                                             ? r.max_message
                                                             : WM_WS_MAX_CONTROL));
                need = ev.need;
            } else if (rc < 0) {
                DRV_CHECK(rc == WM_EPROTO || rc == WM_EMSGSIZE || rc == WM_ENOMEM);
                DRV_CHECK(ev.close_code == r.close_code && r.why != NULL);
                DRV_CHECK(rc != WM_EPROTO || ev.close_code == WM_WS_CLOSE_PROTOCOL ||
                          ev.close_code == WM_WS_CLOSE_BAD_DATA);
                DRV_CHECK(rc != WM_EMSGSIZE || ev.close_code == WM_WS_CLOSE_TOO_BIG);
                wm__ws_event_t again;
                DRV_CHECK(wm__ws_reader_feed(&r, copy, avail, &again) == rc); /* sticky */
                ws_log_add(&l, "error %d %d\n", (int)-rc, ev.close_code);
                failed = true;
            } else {
                DRV_CHECK((size_t)rc <= avail && (rc > 0 || avail == 0));
                need = 0;
                if (ev.type != WM_WS_EV_NONE) {
                    DRV_CHECK(ev.data != NULL);
                    DRV_CHECK(ws_drv_inside(ev.data, ev.len, copy, (size_t)rc) ||
                              ws_drv_inside(ev.data, ev.len, r.buf, r.len));
                }
                DRV_CHECK(r.cap <= r.max_message);
                switch (ev.type) {
                case WM_WS_EV_MESSAGE: {
                    DRV_CHECK(ev.len <= r.max_message);
                    uint32_t st = 0;
                    DRV_CHECK(ev.opcode == WM_WS_OP_BINARY ||
                              (ev.opcode == WM_WS_OP_TEXT &&
                               wm__ws_utf8_check(&st, ev.data, ev.len) && st == 0));
                    ws_log_add(&l, ev.opcode == WM_WS_OP_TEXT ? "text " : "binary ");
                    break;
                }
                case WM_WS_EV_PING:
                case WM_WS_EV_PONG:
                    DRV_CHECK(ev.len <= WM_WS_MAX_CONTROL);
                    ws_log_add(&l, ev.type == WM_WS_EV_PING ? "ping " : "pong ");
                    break;
                case WM_WS_EV_CLOSE:
                    DRV_CHECK(ev.len <= WM_WS_MAX_CLOSE_REASON);
                    DRV_CHECK(ev.close_code == WM_WS_CLOSE_NO_STATUS ||
                              wm__ws_close_code_valid(ev.close_code));
                    DRV_CHECK(ev.close_code != WM_WS_CLOSE_NO_STATUS || ev.len == 0);
                    ws_log_add(&l, "close %d ", ev.close_code);
                    break;
                case WM_WS_EV_NONE:
                    break;
                }
                if (ev.type != WM_WS_EV_NONE) {
                    /* Touch every byte, so ASan sees a span past its data. */
                    ws_log_bytes(&l, ev.data, ev.len);
                    ws_log_add(&l, "\n");
                }
                done += (size_t)rc;
            }
            free(copy);
            if (rc <= 0)
                break;
        }
    }
    if (!failed)
        ws_log_add(&l, "pending %zu\n", size - done);
    wm__ws_reader_free(&r);
    return l.s;
}

/* Piece sizes for split runs. */
static inline size_t ws_drv_one(void *arg)
{
    (void)arg;
    return 1;
}

/* The first piece is *(size_t *)arg bytes, the rest arrives at once. */
static inline size_t ws_drv_at(void *arg)
{
    size_t *at = arg;
    size_t n = *at ? *at : (size_t)-1;
    *at = 0;
    return n;
}

#endif
