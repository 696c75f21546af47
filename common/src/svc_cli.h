/* SPDX-License-Identifier: MIT */
/* Command-line helpers shared by globaldata-server and channel-server. */
#ifndef WM_SVC_CLI_H
#define WM_SVC_CLI_H

#include <stddef.h>

/* "127.0.0.1:2207" -> "frame://127.0.0.1:2207"; "unix:///p" ->
 * "frame+unix:///p"; a URL with a scheme is taken as it is. Returns buf. */
const char *wm__svc_listen_url(const char *addr, char *buf, size_t len);

/* Reads a byte count from 16 to 2^31 for option `opt`; prints why to
 * stderr and returns -1 when it is not one. */
int wm__svc_parse_size(const char *prog, const char *opt, const char *s, size_t *out);

/* Creates the folder a data file goes in (one level: ./var for the
 * defaults). EEXIST is fine; other failures show when SQLite opens. */
void wm__svc_make_parent_dir(const char *path);

#endif
