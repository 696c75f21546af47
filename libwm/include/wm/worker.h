/* SPDX-License-Identifier: MIT */
/* Workers, as Workerman's Worker: a listen address, a protocol, a process
 * count and callbacks. wm_run_all() starts every worker made before it.
 *
 * Ownership: a worker is made by wm_worker_new() and lives until
 * wm_worker_free() or the end of wm_run_all(), which frees every worker.
 * Names and strings passed in are copied. Callback user_data is borrowed.
 *
 * Listen URLs: "tcp://0.0.0.0:8080", "text://…", "frame://…", any registered
 * scheme, "udp://0.0.0.0:9000", "unix:///run/app.sock" (raw) or
 * "text+unix:///run/app.sock" (a protocol over a unix socket), and "[::]" or
 * "[::1]" for IPv6. Port 0 picks a free port (wm_worker_port() tells which). */
#ifndef WM_WORKER_H
#define WM_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "conn.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef void (*wm_worker_cb)(wm_worker_t *w, void *user_data);

/* Makes a worker for `url` (copied). Returns NULL on a bad URL or an unknown
 * scheme; the reason is logged. Nothing listens until the worker starts. */
wm_worker_t *wm_worker_new(const char *url);

/* Stops the worker if it runs (see wm_worker_stop) and frees it. */
void wm_worker_free(wm_worker_t *w);

/* Settings; call before the worker starts. */
void wm_worker_set_name(wm_worker_t *w, const char *name); /* default "none" */
void wm_worker_set_count(wm_worker_t *w, int count);       /* processes; default 1 */
void wm_worker_set_user_data(wm_worker_t *w, void *user_data, wm_free_cb free_cb);
void wm_worker_set_max_send_buffer(wm_worker_t *w, size_t bytes);
void wm_worker_set_max_package(wm_worker_t *w, size_t bytes);
/* Uses another registered protocol than the URL's scheme names. Returns
 * WM_OK or WM_ENOPROTO. */
int wm_worker_set_protocol(wm_worker_t *w, const char *name);
/* Each process binds its own SO_REUSEPORT socket (opt-in; see DESIGN.md). */
void wm_worker_set_reuse_port(wm_worker_t *w, bool on);

/* Callbacks. on_worker_start runs in each worker process once it listens;
 * on_worker_stop when it stops. The others are the defaults for the
 * worker's connections (see conn.h). */
void wm_worker_on_worker_start(wm_worker_t *w, wm_worker_cb cb, void *user_data);
void wm_worker_on_worker_stop(wm_worker_t *w, wm_worker_cb cb, void *user_data);
void wm_worker_on_connect(wm_worker_t *w, wm_conn_cb cb, void *user_data);
void wm_worker_on_message(wm_worker_t *w, wm_message_cb cb, void *user_data);
void wm_worker_on_close(wm_worker_t *w, wm_conn_cb cb, void *user_data);
void wm_worker_on_error(wm_worker_t *w, wm_conn_error_cb cb, void *user_data);
void wm_worker_on_buffer_full(wm_worker_t *w, wm_conn_cb cb, void *user_data);
void wm_worker_on_buffer_drain(wm_worker_t *w, wm_conn_cb cb, void *user_data);

/* Binds and listens (without starting to accept). wm_run_all() calls it;
 * tests and embedders may call it directly. Returns WM_OK or a WM_E* code
 * (WM_EADDRINUSE, …), logged with the address. Idempotent. */
int wm_worker_listen(wm_worker_t *w);

/* Listens if needed, starts accepting (or receiving, for UDP) on the
 * process loop and runs on_worker_start. Returns WM_OK or a WM_E* code. */
int wm_worker_start(wm_worker_t *w);

/* Stops accepting, closes the listening socket, destroys every connection
 * (on_close runs for each) and runs on_worker_stop. Idempotent. */
void wm_worker_stop(wm_worker_t *w);

/* Facts. Strings are borrowed for the worker's life. */
const char *wm_worker_name(const wm_worker_t *w);
const char *wm_worker_url(const wm_worker_t *w);
int wm_worker_count(const wm_worker_t *w);
/* This process's index among the worker's processes, 0..count-1. */
int wm_worker_id(const wm_worker_t *w);
void *wm_worker_user_data(const wm_worker_t *w);
const wm_protocol_t *wm_worker_protocol(const wm_worker_t *w);
/* The bound port once listening (useful after port 0); 0 for unix sockets
 * or before listening. */
uint16_t wm_worker_port(const wm_worker_t *w);

/* The worker's live connections in this process. */
size_t wm_worker_conn_count(const wm_worker_t *w);
/* Calls `cb` for each live connection; the callback may close any of them. */
void wm_worker_foreach_conn(wm_worker_t *w, wm_conn_cb cb, void *user_data);

/* ---- Running ------------------------------------------------------------ */

/* Parses the command (`start` when none is given; `--help`) from argv, starts
 * every worker made so far and runs the loop until SIGINT or SIGTERM or
 * wm_stop_all(). Then stops every worker (on_close for each connection,
 * on_worker_stop) and frees them. Returns the process exit status: 0, or 1
 * when a worker could not start (the reason is logged) or the command is
 * unknown (usage is printed). A program parses its own options first and
 * passes the rest: wm_run_all(argc - optind + 1, …) with argv[0] kept. */
int wm_run_all(int argc, char **argv);

/* Makes wm_run_all() stop as on SIGTERM. Safe from any callback. */
void wm_stop_all(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
