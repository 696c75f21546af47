/* SPDX-License-Identifier: MIT */
/* Private hooks between http.c (the protocol and its response API) and
 * http_static.c (file responses). Nothing here is part of the API. */
#ifndef WM_HTTP_INT_H
#define WM_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wm/http.h"

/* As wm_http_send(), with the body taken from `len` bytes of the open file
 * `fd` at `off` instead of r's own body: the head is serialized with
 * Content-Length `len` and the file is appended to the output as an evbuffer
 * file segment, which evbuffer_write hands to sendfile() on plain
 * connections (TLS connections map it and encrypt from memory). Takes `r`
 * and `fd` whatever the result; a HEAD request or a 304 gets no body and
 * `fd` is simply closed. */
int wm__http_send_file(wm_conn_t *c, wm_http_response_t *r, int fd, uint64_t off, uint64_t len);

/* The IMF-fixdate of `t` (RFC 9110 §5.6.7) into out[64]. */
void wm__http_imf_date(time_t t, char out[64]);

/* ---- gzip (http_gzip.c) ------------------------------------------------------ */

/* Whether an Accept-Encoding value (`len` bytes, not NUL-terminated) lets
 * us answer with gzip: gzip or x-gzip with a q above 0, or else "*" with a
 * q above 0. A malformed q counts as 0. */
bool wm__http_accepts_gzip(const char *accept_encoding, size_t len);
/* Whether a Content-Type value names a type worth compressing. */
bool wm__http_gzip_type(const char *content_type);
/* Gzips a whole body at the process's level into *out (caller frees).
 * Returns WM_OK, WM_EINVAL (over 2 GiB) or WM_ENOMEM. */
int wm__http_gzip_buf(const void *in, size_t len, char **out, size_t *out_len);

/* A gzip stream for a streamed answer: each write is sync-flushed. */
typedef struct wm__http_gz wm__http_gz_t;
wm__http_gz_t *wm__http_gz_new(void);
void wm__http_gz_free(wm__http_gz_t *gz);
/* Compresses `len` bytes (and, with `finish`, ends the stream) into *out
 * (caller frees; may be empty). Returns WM_OK, WM_EINVAL or WM_ENOMEM. */
int wm__http_gz_write(wm__http_gz_t *gz, const void *in, size_t len, bool finish, char **out,
                      size_t *out_len);

/* ---- Streams (http.c), for http_sse.c -------------------------------------- */

/* Writes `len` bytes of `data` into the stream whenever nothing else was
 * written for `ms` (0: stop). Returns WM_OK or WM_EINVAL (not streaming).
 * `data` is borrowed for the stream's life (a string literal). */
int wm__http_stream_heartbeat(wm_conn_t *c, uint64_t ms, const char *data, size_t len);
/* Whether wm_http_response_header() set a Content-Type on `r`. */
bool wm__http_response_has_type(const wm_http_response_t *r);
/* Whether r has a field called `name` (case-insensitive) set by the user. */
bool wm__http_response_has_field(const wm_http_response_t *r, const char *name);

#endif
