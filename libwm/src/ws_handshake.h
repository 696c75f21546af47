/* SPDX-License-Identifier: MIT */
/* The WebSocket opening handshake (RFC 6455 §4), with no I/O: the accept key,
 * the key check, token lists in header values, and the client's parser for
 * the server's answer head (the server parses the request with
 * http_parse.h). Like http_parse.h, the response parser fills spans into the
 * caller's buffer and keeps no state, so any split of the input gives the
 * same result.
 *
 * Private to libwm. */
#ifndef WM_WS_HANDSHAKE_H
#define WM_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http_parse.h"

#define WM_WS_KEY_LEN 24    /* base64 of 16 bytes */
#define WM_WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1 */
/* Limits of an answer head the client accepts. */
#define WM_WS_MAX_RESPONSE_HEAD 8192
#define WM_WS_MAX_RESPONSE_HEADERS 64

/* out = base64(SHA-1(key + the RFC's GUID)), NUL-terminated (§4.2.2). */
void wm__ws_accept_key(const char *key, size_t key_len, char out[WM_WS_ACCEPT_LEN + 1]);

/* Whether key is what §4.1 asks a client to send: 16 bytes in base64,
 * i.e. 22 base64 characters and "==". */
bool wm__ws_key_valid(const char *key, size_t len);

/* A fresh random key (16 bytes from getrandom, base64), NUL-terminated.
 * Returns WM_OK or a negative errno code. */
int wm__ws_make_key(char out[WM_WS_KEY_LEN + 1]);

/* Whether the comma-separated list in value[0, len) holds `token`
 * (case-insensitive, blanks around items ignored): "keep-alive, Upgrade"
 * holds "upgrade". */
bool wm__ws_has_token(const char *value, size_t len, const char *token);

/* Calls fn for each item of a comma-separated list (blanks trimmed, empty
 * items skipped) until it returns false. */
void wm__ws_each_token(const char *value, size_t len,
                       bool (*fn)(const char *item, size_t n, void *arg), void *arg);

/* The answer head a client reads. */
typedef struct wm__ws_response {
    int status;                 /* 100..999 */
    int version_minor;          /* HTTP/1.x */
    wm__http_span_t reason;     /* may be empty */
    wm__http_header_t *headers; /* in: the caller's array of max_headers entries */
    size_t nheaders;
} wm__ws_response_t;

/* Parses an HTTP/1.x status line and field block at buf[0, len): lines end
 * in CRLF or LF, field names are tokens, values have no controls but HTAB,
 * obsolete line folding is an error. Reads at most WM_WS_MAX_RESPONSE_HEAD
 * bytes and never past buf[len - 1].
 * Returns the head's length (through the empty line), WM_EAGAIN when it is
 * unfinished, WM_EMSGSIZE when it is over WM_WS_MAX_RESPONSE_HEAD bytes or
 * has more than max_headers fields, or WM_EPROTO (*why says what). A result
 * other than WM_EAGAIN is final. */
ssize_t wm__ws_parse_response(const char *buf, size_t len, size_t max_headers,
                              wm__ws_response_t *resp, const char **why);

/* The value of the first field called name (case-insensitive), or NULL. */
const wm__http_span_t *wm__ws_response_header(const wm__ws_response_t *resp, const char *name);

#endif
