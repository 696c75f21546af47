/* SPDX-License-Identifier: MIT */
/* The WebSocket frame codec (RFC 6455 §5): the header parser, the reader
 * that applies the role, fragmentation, size and UTF-8 rules across frames,
 * the header writer, masking and the close payload helpers. No I/O; see
 * ws_frame.h for the contract.
 *
 * The reader keeps no partial frame. It re-parses a header (at most 14
 * bytes) when the caller comes back with more bytes, which is cheaper than
 * copying payloads through a second buffer, and it means the state between
 * calls is only the message being assembled: an input split anywhere gives
 * the same events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "wm/error.h"
#include "ws_frame.h"

/* ---- UTF-8 ---------------------------------------------------------------- */

/* The state packs the continuation bytes still expected (bits 0-7) and the
 * range allowed for the next one (bits 8-15 low, 16-23 high). The ranges are
 * those of Unicode Table 3-7, which is what rules out overlongs (E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..,
 * F5..FF); C0 and C1 can only start overlongs. */
bool wm__ws_utf8_check(uint32_t *state, const uint8_t *p, size_t n)
{
    unsigned need = *state & 0xff, lo = (*state >> 8) & 0xff, hi = (*state >> 16) & 0xff;
    size_t i = 0;
    while (i < n) {
        if (need == 0) {
            /* Text is mostly ASCII: skip it 8 bytes at a time. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080u)
                    break;
                i += 8;
            }
            if (i == n)
                break;
            uint8_t c = p[i++];
            if (c < 0x80)
                continue;
            lo = 0x80;
            hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) {
                need = 1;
            } else if (c == 0xE0) {
                need = 2;
                lo = 0xA0;
            } else if (c == 0xED) {
                need = 2;
                hi = 0x9F;
            } else if (c >= 0xE1 && c <= 0xEF) {
                need = 2;
            } else if (c == 0xF0) {
                need = 3;
                lo = 0x90;
            } else if (c >= 0xF1 && c <= 0xF3) {
                need = 3;
            } else if (c == 0xF4) {
                need = 3;
                hi = 0x8F;
            } else {
                return false;
            }
        } else {
            uint8_t c = p[i++];
            if (c < lo || c > hi)
                return false;
            need--;
            lo = 0x80;
            hi = 0xBF;
        }
    }
    *state = need ? (uint32_t)need | (uint32_t)lo << 8 | (uint32_t)hi << 16 : 0;
    return true;
}

/* ---- Header parser (§5.2) ------------------------------------------------- */

ssize_t wm__ws_parse_header(const uint8_t *buf, size_t len, wm__ws_frame_t *f, int *close_code,
                            const char **why)
{
    memset(f, 0, sizeof(*f));
    f->header_len = 2;
    if (len < 2)
        return WM_EAGAIN;
    *close_code = WM_WS_CLOSE_PROTOCOL;
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0f;
    f->masked = buf[1] & 0x80;
    unsigned len7 = buf[1] & 0x7f;
    /* §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated". */
    if (buf[0] & 0x70)
        return *why = "RSV bits set without an extension", WM_EPROTO;
    switch (f->opcode) {
    case WM_WS_OP_CONT:
    case WM_WS_OP_TEXT:
    case WM_WS_OP_BINARY:
        break;
    case WM_WS_OP_CLOSE:
    case WM_WS_OP_PING:
    case WM_WS_OP_PONG:
        /* §5.5: control frames are never fragmented and carry <= 125 bytes
         * (so their length always fits the 7-bit field). */
        if (!f->fin)
            return *why = "fragmented control frame", WM_EPROTO;
        if (len7 > WM_WS_MAX_CONTROL)
            return *why = "control frame over 125 bytes", WM_EPROTO;
        break;
    default:
        return *why = "reserved opcode", WM_EPROTO;
    }
    /* A short header asks for the bytes of its next decision only: the
     * length field may be refused before the mask key is there, and a
     * caller that waits for exactly what is asked must see that error. */
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    f->header_len = 2 + ext;
    if (len < 2 + ext)
        return WM_EAGAIN;
    f->header_len += f->masked ? 4 : 0;
    if (len7 == 126) {
        f->len = (uint64_t)buf[2] << 8 | buf[3];
        if (f->len < 126)
            return *why = "16-bit length not minimal", WM_EPROTO;
    } else if (len7 == 127) {
        for (int i = 0; i < 8; i++)
            f->len = f->len << 8 | buf[2 + i];
        /* §5.2: "the most significant bit MUST be 0". */
        if (f->len >> 63)
            return *why = "64-bit length with the top bit set", WM_EPROTO;
        if (f->len <= 0xffff)
            return *why = "64-bit length not minimal", WM_EPROTO;
    } else {
        f->len = len7;
    }
    if (len < f->header_len)
        return WM_EAGAIN;
    if (f->masked)
        memcpy(f->mask, buf + 2 + ext, 4);
    return (ssize_t)f->header_len;
}

/* ---- Reader ---------------------------------------------------------------- */

void wm__ws_reader_init(wm__ws_reader_t *r, bool is_server, size_t max_message)
{
    memset(r, 0, sizeof(*r));
    r->is_server = is_server;
    r->max_message = max_message ? max_message : WM_WS_DEFAULT_MAX_MESSAGE;
}

void wm__ws_reader_free(wm__ws_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

static ssize_t fail(wm__ws_reader_t *r, wm__ws_event_t *ev, int err, int code, const char *why)
{
    r->err = err;
    r->close_code = code;
    r->why = why;
    ev->type = WM_WS_EV_NONE;
    ev->close_code = code;
    return err;
}

/* Appends a fragment to the assembly buffer, growing it by doubling up to
 * max_message (the caller has checked the total fits). */
static bool append(wm__ws_reader_t *r, const uint8_t *p, size_t n)
{
    if (r->cap - r->len < n) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap - r->len < n)
            cap = cap > r->max_message / 2 ? r->max_message : cap * 2;
        if (cap > r->max_message)
            cap = r->max_message;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return false;
        r->buf = nb;
        r->cap = cap;
    }
    if (n)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
    return true;
}

/* §5.5.1 and §7.4: an empty payload means "no code" (reported as 1005); a
 * 1-byte one is malformed; otherwise a valid code, then a UTF-8 reason. */
static ssize_t read_close(wm__ws_reader_t *r, uint8_t *p, size_t n, wm__ws_event_t *ev)
{
    ev->type = WM_WS_EV_CLOSE;
    ev->close_code = WM_WS_CLOSE_NO_STATUS;
    ev->data = p;
    ev->len = 0;
    if (n == 1)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "close payload of 1 byte");
    if (n >= 2) {
        int code = p[0] << 8 | p[1];
        if (!wm__ws_close_code_valid(code))
            return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "invalid close code");
        uint32_t st = 0;
        if (!wm__ws_utf8_check(&st, p + 2, n - 2) || st != 0)
            return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_BAD_DATA, "close reason not UTF-8");
        ev->close_code = code;
        ev->data = p + 2;
        ev->len = n - 2;
    }
    r->closed = true;
    return 0;
}

/* A text or binary frame, or a continuation: §5.4 fragmentation rules were
 * checked on the header; this stores or delivers the payload. */
static ssize_t read_data(wm__ws_reader_t *r, const wm__ws_frame_t *f, uint8_t *p, size_t n,
                         wm__ws_event_t *ev)
{
    if (f->opcode != WM_WS_OP_CONT && f->fin) {
        /* The common case, a message in one frame: no copy. */
        uint32_t st = 0;
        if (f->opcode == WM_WS_OP_TEXT && (!wm__ws_utf8_check(&st, p, n) || st != 0))
            return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_BAD_DATA, "text message not UTF-8");
        ev->type = WM_WS_EV_MESSAGE;
        ev->opcode = f->opcode;
        ev->data = p;
        ev->len = n;
        return 0;
    }
    if (f->opcode != WM_WS_OP_CONT) {
        r->msg_opcode = f->opcode;
        r->len = 0;
        r->utf8 = 0;
    }
    /* §8.1: a text message may be failed as soon as it cannot be UTF-8, so
     * each fragment is checked as it comes, carrying a cut character over. */
    if (r->msg_opcode == WM_WS_OP_TEXT && !wm__ws_utf8_check(&r->utf8, p, n))
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_BAD_DATA, "text message not UTF-8");
    if (!append(r, p, n))
        return fail(r, ev, WM_ENOMEM, WM_WS_CLOSE_INTERNAL, "out of memory");
    if (!f->fin)
        return 0;
    if (r->msg_opcode == WM_WS_OP_TEXT && r->utf8 != 0)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_BAD_DATA, "text message ends mid-character");
    ev->type = WM_WS_EV_MESSAGE;
    ev->opcode = r->msg_opcode;
    ev->data = r->buf ? r->buf : p + n;
    ev->len = r->len;
    r->msg_opcode = 0;
    r->release = true;
    return 0;
}

/* Checks a whole header against the reader's state: the role's masking rule
 * (§5.1), fragmentation order (§5.4) and the size limit (§10.4). */
static ssize_t check_frame(wm__ws_reader_t *r, const wm__ws_frame_t *f, wm__ws_event_t *ev)
{
    if (r->is_server && !f->masked)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "client frame not masked");
    if (!r->is_server && f->masked)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "server frame masked");
    if (f->opcode >= WM_WS_OP_CLOSE)
        return 0; /* control frames may come between fragments (§5.4) */
    if (f->opcode == WM_WS_OP_CONT && !r->msg_opcode)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "continuation without a message");
    if (f->opcode != WM_WS_OP_CONT && r->msg_opcode)
        return fail(r, ev, WM_EPROTO, WM_WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
    size_t have = f->opcode == WM_WS_OP_CONT ? r->len : 0;
    if (f->len > r->max_message || have > r->max_message - f->len)
        return fail(r, ev, WM_EMSGSIZE, WM_WS_CLOSE_TOO_BIG, "message over the size limit");
    return 0;
}

ssize_t wm__ws_reader_feed(wm__ws_reader_t *r, uint8_t *buf, size_t len, wm__ws_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (r->err) {
        ev->close_code = r->close_code;
        return r->err;
    }
    if (r->closed)
        return (ssize_t)len;
    /* The last message was handed out of the assembly buffer: the caller is
     * done with it now. Keep a small buffer for the next one. */
    if (r->release) {
        r->release = false;
        r->len = 0;
        if (r->cap > WM_WS_KEEP_BUFFER)
            wm__ws_reader_free(r);
    }

    wm__ws_frame_t f;
    int code;
    const char *why;
    ssize_t h = wm__ws_parse_header(buf, len, &f, &code, &why);
    if (h == WM_EAGAIN) {
        ev->need = f.header_len;
        return WM_EAGAIN;
    }
    if (h < 0)
        return fail(r, ev, (int)h, code, why);
    ssize_t rc = check_frame(r, &f, ev);
    if (rc < 0)
        return rc;
    /* check_frame bounded data frames by max_message, and control frames
     * are <= 125 bytes, so f.len fits in a size_t here. */
    size_t n = (size_t)f.len;
    if (len - (size_t)h < n) {
        ev->need = (size_t)h + n;
        return WM_EAGAIN;
    }
    uint8_t *p = buf + h;
    if (f.masked)
        wm__ws_mask(p, n, f.mask, 0);
    switch (f.opcode) {
    case WM_WS_OP_PING:
    case WM_WS_OP_PONG:
        ev->type = f.opcode == WM_WS_OP_PING ? WM_WS_EV_PING : WM_WS_EV_PONG;
        ev->data = p;
        ev->len = n;
        break;
    case WM_WS_OP_CLOSE:
        rc = read_close(r, p, n, ev);
        break;
    default:
        rc = read_data(r, &f, p, n, ev);
        break;
    }
    return rc < 0 ? rc : h + (ssize_t)n;
}

/* ---- Writer ---------------------------------------------------------------- */

size_t wm__ws_write_header(uint8_t out[WM_WS_MAX_HEADER], bool fin, int opcode, uint64_t len,
                           const uint8_t *mask_or_null)
{
    size_t n = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask_or_null ? 0x80 : 0;
    /* §5.2: the shortest of the three length encodings. */
    if (len < 126) {
        out[1] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask_or_null) {
        memcpy(out + n, mask_or_null, 4);
        n += 4;
    }
    return n;
}

/* §5.3: octet i of the payload is XORed with key[i % 4]. The key is spread
 * over a 64-bit word, rotated for the offset, and applied 8 bytes at a time;
 * memcpy keeps the loads legal at any alignment and compiles to plain moves. */
void wm__ws_mask(uint8_t *data, size_t len, const uint8_t key[4], size_t offset)
{
    uint8_t k8[8];
    for (int i = 0; i < 8; i++)
        k8[i] = key[(offset + (size_t)i) & 3];
    uint64_t kw;
    memcpy(&kw, k8, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        w ^= kw;
        memcpy(data + i, &w, 8);
    }
    for (; i < len; i++)
        data[i] ^= k8[i & 7];
}

int wm__ws_random_mask(uint8_t key[4])
{
    for (;;) {
        ssize_t n = getrandom(key, 4, 0);
        if (n == 4)
            return WM_OK;
        if (n < 0 && errno != EINTR)
            return -errno;
        /* A 4-byte request is never cut short once the pool is ready
         * (getrandom(2)); retry an interrupted or short read all the same. */
    }
}

/* ---- Close frames (§5.5.1, §7.4) ------------------------------------------- */

bool wm__ws_close_code_valid(int code)
{
    /* 1004 is reserved, 1005 and 1006 are for reports only, 1015 (TLS
     * failure) too; 1012-1014 were registered with IANA after the RFC. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

size_t wm__ws_close_payload(uint8_t out[WM_WS_MAX_CONTROL], int code, const char *reason,
                            size_t reason_len)
{
    if (code == 0)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason_len < WM_WS_MAX_CLOSE_REASON ? reason_len : WM_WS_MAX_CLOSE_REASON;
    /* Cut before a continuation byte, so a character is never split. */
    if (n < reason_len)
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    if (n)
        memcpy(out + 2, reason, n);
    return 2 + n;
}
