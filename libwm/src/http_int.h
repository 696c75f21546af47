/* SPDX-License-Identifier: MIT */
/* Private hooks between http.c (the protocol and its response API) and
 * http_static.c (file responses). Nothing here is part of the API. */
#ifndef WM_HTTP_INT_H
#define WM_HTTP_INT_H

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

#endif
