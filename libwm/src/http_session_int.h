/* SPDX-License-Identifier: MIT */
/* Private to the session files: a session's data in memory, its codec (the
 * stored format of wm/http_session.h, with no I/O, so that the fuzz target
 * drives it alone), and the two stores' constructors' helpers. */
#ifndef WM_HTTP_SESSION_INT_H
#define WM_HTTP_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wm/http_session.h"

/* One key and its value. Both are malloc()ed with a NUL after their bytes,
 * so that keys are C strings and get_str needs no copy. */
typedef struct wm__sess_item {
    char *key;
    size_t klen;
    char *val;
    size_t vlen;
} wm__sess_item_t;

/* The keys in the order they were first set; `size` is what
 * wm__sess_data_encode would write, kept up to date by every change so that
 * a set can be refused before it passes WM_HTTP_SESSION_MAX_SIZE. */
typedef struct wm__sess_data {
    wm__sess_item_t *items;
    size_t n, cap;
    size_t size;
} wm__sess_data_t;

#define WM__SESS_HEADER_SIZE 8 /* magic, version, count */

void wm__sess_data_init(wm__sess_data_t *d);
void wm__sess_data_clear(wm__sess_data_t *d);
/* The index of `key`, or -1. */
long wm__sess_data_find(const wm__sess_data_t *d, const char *key, size_t klen);
/* Sets or replaces; returns as wm_http_session_set. */
int wm__sess_data_set(wm__sess_data_t *d, const char *key, size_t klen, const void *val,
                      size_t vlen);
/* Removes the item at `i` (keeping the others' order). */
void wm__sess_data_del(wm__sess_data_t *d, size_t i);

/* Encodes into a malloc()ed buffer (*out, *len). WM_OK or WM_ENOMEM. */
int wm__sess_data_encode(const wm__sess_data_t *d, void **out, size_t *len);
/* Decodes `len` bytes into `d` (which must be empty). Returns WM_OK, or
 * WM_EPROTO for anything but a well-formed version 1 (then `d` is left
 * empty), or WM_ENOMEM. `why` (may be NULL) gets a static reason. */
int wm__sess_data_decode(wm__sess_data_t *d, const void *buf, size_t len, const char **why);

#endif
