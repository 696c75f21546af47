/* SPDX-License-Identifier: MIT */
/* The WebSocket frame codec (RFC 6455 §5), with no I/O: bytes in, messages
 * and control frames out; a frame header writer and the masking function
 * for the way back. The WebSocket server and client build on it; the opening
 * handshake (§4) lives with them, not here.
 *
 * The reader handles one direction of one connection. It takes a frame only
 * once the whole frame is in the caller's buffer (a frame is bounded by the
 * max message size, so that buffer is too) and never keeps part of a frame:
 * a short buffer gives WM_EAGAIN and the number of bytes needed, and the
 * caller offers the same bytes again with more behind them. That makes any
 * split of the input give the same events by construction. A message sent
 * in one frame is unmasked in place and handed out as a span of the
 * caller's buffer (no copy); only fragmented messages are gathered in an
 * internal buffer, which never grows past the max message size.
 *
 * Every rule a peer can break ends in a sticky error carrying the close code
 * to send before closing (§7.4.1): 1002 protocol error, 1007 invalid UTF-8,
 * 1009 message too big, 1011 out of memory.
 *
 * Private to libwm. */
#ifndef WM_WS_FRAME_H
#define WM_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opcodes (RFC 6455 §5.2, §11.8). */
#define WM_WS_OP_CONT 0x0
#define WM_WS_OP_TEXT 0x1
#define WM_WS_OP_BINARY 0x2
#define WM_WS_OP_CLOSE 0x8
#define WM_WS_OP_PING 0x9
#define WM_WS_OP_PONG 0xA

/* Close codes this codec produces or reports (RFC 6455 §7.4.1). */
#define WM_WS_CLOSE_NORMAL 1000
#define WM_WS_CLOSE_GOING_AWAY 1001
#define WM_WS_CLOSE_PROTOCOL 1002
#define WM_WS_CLOSE_NO_STATUS 1005 /* reported for an empty close frame; never sent */
#define WM_WS_CLOSE_ABNORMAL 1006  /* for the application only: no close frame at all */
#define WM_WS_CLOSE_BAD_DATA 1007  /* a text message or close reason that is not UTF-8 */
#define WM_WS_CLOSE_TOO_BIG 1009
#define WM_WS_CLOSE_INTERNAL 1011

/* Fixed sizes from the RFC (§5.2, §5.5). */
#define WM_WS_MAX_HEADER 14        /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WM_WS_MAX_CONTROL 125      /* payload of a control frame */
#define WM_WS_MAX_CLOSE_REASON 123 /* a close payload is a 2-byte code, then the reason */
/* Defaults and limits of the reader. */
#define WM_WS_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024) /* payload bytes of one message */
#define WM_WS_KEEP_BUFFER (64u * 1024) /* a larger assembly buffer is freed once idle */

/* One parsed frame header. */
typedef struct wm__ws_frame {
    bool fin;
    bool masked;
    int opcode;
    uint8_t mask[4];   /* the masking key when masked, else zeros */
    uint64_t len;      /* payload length */
    size_t header_len; /* 2..14; on WM_EAGAIN, the bytes needed for the next step */
} wm__ws_frame_t;

/* Parses the frame header at buf[0, len). Never reads past buf[len - 1].
 * The rules that need no context are checked here (RFC 6455 §5.2, §5.5):
 * RSV bits (no extension is negotiated), known opcodes, control frames
 * final and at most 125 bytes, the 64-bit length's top bit clear, and the
 * length in its shortest encoding (§5.2: "the minimal number of bytes MUST
 * be used").
 * Returns:
 *   2..14       the header length; *f is filled.
 *   WM_EAGAIN   the header is cut short; f->header_len says how many bytes
 *               it needs before it can decide more: 2, then 2 + the
 *               extended length field, then the whole header.
 *   WM_EPROTO   a broken rule: *close_code is 1002, *why a static reason.
 * An error is reported as soon as the bytes that show it are there, and a
 * longer buffer never changes a result other than WM_EAGAIN. */
ssize_t wm__ws_parse_header(const uint8_t *buf, size_t len, wm__ws_frame_t *f, int *close_code,
                            const char **why);

/* What one wm__ws_reader_feed() call produced. */
typedef enum wm__ws_event_type {
    WM_WS_EV_NONE,    /* nothing to deliver: a fragment was stored, or more bytes are needed */
    WM_WS_EV_MESSAGE, /* a whole text or binary message: opcode, data, len */
    WM_WS_EV_PING,    /* data, len: the payload to echo in the pong (§5.5.2) */
    WM_WS_EV_PONG,    /* data, len */
    WM_WS_EV_CLOSE,   /* close_code (1005 for an empty close frame), data/len: the reason */
} wm__ws_event_type_t;

typedef struct wm__ws_event {
    wm__ws_event_type_t type;
    int opcode; /* WM_WS_EV_MESSAGE: WM_WS_OP_TEXT or WM_WS_OP_BINARY */
    /* Borrowed, valid until the next call on the reader and while the
     * caller's buffer is: a span of that buffer (unmasked in place), or of
     * the reader's assembly buffer for a fragmented message. Never NULL,
     * even when len is 0. A text message is valid UTF-8. */
    uint8_t *data;
    size_t len;
    int close_code; /* WM_WS_EV_CLOSE: the peer's code; on an error: the code to send */
    size_t need;    /* on WM_EAGAIN: bytes needed at buf to make progress */
} wm__ws_event_t;

/* One direction of one connection. Fields are private; read close_code and
 * why after an error. */
typedef struct wm__ws_reader {
    bool is_server;     /* reading a client's frames: they must be masked (§5.1) */
    bool closed;        /* a close frame was read: later bytes are ignored */
    bool release;       /* the assembly buffer was handed out: reset it next call */
    int msg_opcode;     /* the opcode of the open fragmented message, or 0 */
    size_t max_message; /* payload bytes of one message */
    uint8_t *buf;       /* assembly buffer of a fragmented message */
    size_t len, cap;
    uint32_t utf8; /* wm__ws_utf8_check state of the open text message */
    int err;       /* the sticky error, or 0 */
    int close_code;
    const char *why;
} wm__ws_reader_t;

/* Prepares r for the frames a client sends (is_server) or a server sends,
 * with messages of at most max_message payload bytes (0: the default). */
void wm__ws_reader_init(wm__ws_reader_t *r, bool is_server, size_t max_message);

/* Frees the assembly buffer; r may be initialised again afterwards. */
void wm__ws_reader_free(wm__ws_reader_t *r);

/* Reads at most one frame at the start of buf[0, len). The frame's payload
 * is unmasked in place (so a consumed frame must not be offered again).
 * Returns:
 *   > 0         the bytes consumed: one whole frame; *ev says what it gave
 *               (WM_WS_EV_NONE for a stored fragment). Call again with the
 *               rest. After a close frame, every later call consumes all it
 *               is given and reports nothing (§5.5.1: nothing follows it).
 *   WM_EAGAIN   no whole frame yet; nothing consumed; ev->need is the
 *               number of bytes at buf it needs (at most 14 more than
 *               max_message, or than 125 for a control frame).
 *               Offer the same bytes again with more behind them.
 *   WM_EPROTO   close code 1002 (framing, masking, fragmentation, close
 *               payload) or 1007 (UTF-8 in a text message or close reason).
 *   WM_EMSGSIZE close code 1009: a message over max_message.
 *   WM_ENOMEM   close code 1011.
 * On an error ev->close_code, r->close_code and r->why (a static reason, for
 * logs) are set, and every later call returns the same error. Returns 0
 * only for len 0 after a close frame. */
ssize_t wm__ws_reader_feed(wm__ws_reader_t *r, uint8_t *buf, size_t len, wm__ws_event_t *ev);

/* Writes a frame header (RSV bits clear) for a payload of len bytes to out
 * and returns its length (2..14). mask_or_null: the 4-byte masking key, or
 * NULL for an unmasked frame (a server's); the caller masks the payload with
 * wm__ws_mask(). The caller keeps control frames final and <= 125 bytes. */
size_t wm__ws_write_header(uint8_t out[WM_WS_MAX_HEADER], bool fin, int opcode, uint64_t len,
                           const uint8_t *mask_or_null);

/* XORs data[0, len) with the masking key (§5.3), taking the data as starting
 * `offset` bytes into the payload, so a payload can be masked in pieces.
 * Masking twice with the same key and offset restores the data. */
void wm__ws_mask(uint8_t *data, size_t len, const uint8_t key[4], size_t offset);

/* Fills key with 4 bytes from the kernel's CSPRNG (getrandom(2)): §5.3 wants
 * each frame's key unpredictable. Returns WM_OK or a negative errno code. */
int wm__ws_random_mask(uint8_t key[4]);

/* Builds a close frame payload (§5.5.1): code in network order, then the
 * reason cut to WM_WS_MAX_CLOSE_REASON bytes at a character boundary.
 * Returns its length. code 0 gives an empty payload (no code, no reason). */
size_t wm__ws_close_payload(uint8_t out[WM_WS_MAX_CONTROL], int code, const char *reason,
                            size_t reason_len);

/* Whether code may appear in a close frame on the wire (§7.4): 1000-1003,
 * 1007-1014 and 3000-4999. */
bool wm__ws_close_code_valid(int code);

/* Incremental UTF-8 validation (Unicode Table 3-7: no overlongs, no
 * surrogates, nothing above U+10FFFF). *state starts at 0 and carries a
 * character cut between calls. Returns false at the first bad byte (the
 * state is then meaningless); the text is whole and valid when every call
 * returned true and *state is 0 at the end. */
bool wm__ws_utf8_check(uint32_t *state, const uint8_t *p, size_t n);

#endif
