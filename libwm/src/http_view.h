/* SPDX-License-Identifier: MIT */
/* http.c's request view (wm_http_request_t and its wm_http_request_*
 * accessors), lent to another protocol that parses an HTTP request head
 * with http_parse.c: the WebSocket handshake (ws_server.c) shows its
 * request to the user's hook through it. Nothing here is part of the API. */
#ifndef WM_HTTP_VIEW_H
#define WM_HTTP_VIEW_H

#include "wm/http.h"
#include "http_parse.h"

/* An empty view; caller frees with wm__http_view_free(). NULL: no memory. */
wm_http_request_t *wm__http_view_new(void);
/* Copies the parsed head into the view (NUL-terminated strings, no body).
 * Returns WM_OK or WM_ENOMEM. */
int wm__http_view_fill(wm_http_request_t *v, const wm__http_request_t *req);
void wm__http_view_free(wm_http_request_t *v);

#endif
