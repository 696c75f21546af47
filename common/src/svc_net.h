/* SPDX-License-Identifier: MIT */
/* Client-side networking shared by the services' client libraries
 * (GlobalData's and Channel's): server addresses as users write them, and
 * the blocking frame I/O of their blocking APIs (plain sockets with poll()
 * deadlines, no wm loop). Private to the project. */
#ifndef WM_SVC_NET_H
#define WM_SVC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A server address as given, split: a unix path, or a host and a port.
 * `url` is the wm URL for wm_conn_new() ("frame://h:p", "frame+unix:///p"). */
typedef struct wm__svc_addr {
    char url[300];
    char host[256];
    char path[108];
    uint16_t port;
    bool is_unix;
} wm__svc_addr_t;

/* Reads "HOST:PORT", "[IPv6]:PORT", "tcp://HOST:PORT", "frame://HOST:PORT",
 * "unix:///PATH" or "frame+unix:///PATH". WM_OK or WM_EBADURL. */
int wm__svc_addr_parse(const char *in, wm__svc_addr_t *out);

/* Connects a blocking-API socket (non-blocking fd, waited on with poll):
 * getaddrinfo blocks for host names, which the blocking API may. Returns
 * the fd or a WM_E* code. */
int wm__svc_sock_open(const wm__svc_addr_t *addr, uint64_t timeout_ms);

/* Writes all of p[0, n) before `deadline` (wm_now_ms() clock). */
int wm__svc_sock_write_all(int fd, const char *p, size_t n, uint64_t deadline);

/* Reads one frame (4-byte big-endian length counting itself) into *buf
 * (grown with realloc, caller frees), its body's length in *len. Frames
 * over max_frame bytes are WM_EPROTO. */
int wm__svc_sock_read_frame(int fd, char **buf, size_t *cap, size_t *len, size_t max_frame,
                            uint64_t deadline);

/* Fills the 4-byte frame header at the start of buf[0, total). */
void wm__svc_frame_header(char *buf, size_t total);

#endif
