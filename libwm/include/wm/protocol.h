/* SPDX-License-Identifier: MIT */
/* Protocols, as Workerman's: `input` says how long the next message is,
 * `decode` turns its bytes into the message a handler sees, `encode` frames
 * what a handler sends.
 *
 * Built in, by scheme name:
 *   tcp    raw bytes: every read is one message; send writes bytes as given.
 *   text   one message per line: "\n" ends it, a "\r" before it is stripped;
 *          send appends "\n".
 *   frame  a 4-byte big-endian length that counts itself, then the payload;
 *          a length under 4 or over the max package size is an error.
 *   http   HTTP/1.1 server requests and responses (see http.h).
 * Users add their own with wm_protocol_register(); a worker or connection
 * URL names one by its scheme ("jsonl://0.0.0.0:9000").
 *
 * Codecs do no I/O and are called with a context, not a socket, so they can
 * be driven byte by byte from tests and fuzzers. */
#ifndef WM_PROTOCOL_H
#define WM_PROTOCOL_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct evbuffer;
typedef struct wm_conn wm_conn_t;

/* One message as a handler sees it. `data`/`len` are borrowed: valid only
 * until the on_message callback returns. `extra` is for protocols that parse
 * more than bytes (an HTTP request object); NULL for the built-ins. */
typedef struct wm_msg {
    const char *data;
    size_t len;
    void *extra;
} wm_msg_t;

/* Per-connection state handed to every codec call. */
typedef struct wm_proto_ctx {
    wm_conn_t *conn;    /* the connection, or NULL when driven by a test */
    size_t max_package; /* the largest message allowed, in bytes */
    size_t scanned;     /* bytes of the buffer already examined without finding
                           the end of a message; the codec may use it to avoid
                           rescanning; reset to 0 after each message */
    void *state;        /* free for the codec's own use; NULL at start */
} wm_proto_ctx_t;

typedef struct wm_protocol {
    /* The URL scheme ("text"). Borrowed: must outlive the registration. */
    const char *name;

    /* Looks at the received bytes (`in` is read-only here) and returns:
     *   0        need more bytes;
     *   N > 0    the next message is the first N bytes of `in` (N may exceed
     *            what has arrived; the connection waits for the rest);
     *   < 0      a WM_E* code: the input is bad; the connection is closed and
     *            the code and a reason are logged and given to on_error.
     * Must return WM_EMSGSIZE once a message is known to be longer than
     * ctx->max_package. NULL means raw: each read is one message. */
    ssize_t (*input)(struct evbuffer *in, wm_proto_ctx_t *ctx);

    /* Turns the `len` bytes of one message (as sized by input) into `msg`;
     * msg->data may point into `pkt`. Returns WM_OK or a WM_E* code (close).
     * NULL means the message is the bytes as they are. */
    int (*decode)(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx);

    /* Appends `data` framed for the wire to `out`. Returns WM_OK or a WM_E*
     * code (nothing is sent). NULL means the bytes go as they are. */
    int (*encode)(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx);

    /* Releases ctx->state when the connection is freed (after on_close has
     * run and the callbacks on the stack have returned); called only when
     * ctx->state is not NULL. NULL when the codec keeps no state (the
     * built-ins but http). Added last: initialize protocols with designated
     * initializers (.name = ...) so new members stay NULL. */
    void (*free_state)(wm_proto_ctx_t *ctx);
} wm_protocol_t;

/* Registers `proto` under proto->name. `proto` is borrowed and must outlive
 * every worker and connection using it (a static const struct is usual).
 * Returns WM_OK, WM_EEXIST when the name is taken (built-ins included), or
 * WM_EINVAL for a name that is not [a-z0-9.-]+ or is "udp"/"unix"/"ssl". */
int wm_protocol_register(const wm_protocol_t *proto);

/* Looks a protocol up by name. Returns NULL when none is registered. */
const wm_protocol_t *wm_protocol_find(const char *name);

/* The built-ins, for direct use in tests and in other protocols. */
extern const wm_protocol_t wm_protocol_tcp;
extern const wm_protocol_t wm_protocol_text;
extern const wm_protocol_t wm_protocol_frame;

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
