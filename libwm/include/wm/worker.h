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
 * scheme; the reason is logged. Nothing listens until the worker starts.
 * With `url` NULL the worker listens on nothing (Workerman's `new Worker()`):
 * its processes run on_worker_start, timers and outgoing connections only,
 * and its URL reads "none". */
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
/* Each process binds its own SO_REUSEPORT socket (opt-in; see DESIGN.md).
 * Without it the master binds once and every process inherits the socket,
 * so it never closes while processes come and go. */
void wm_worker_set_reuse_port(wm_worker_t *w, bool on);
/* Whether `reload` replaces this worker's processes (default true). A
 * non-reloadable worker runs on_worker_reload instead and keeps running
 * (a globaldata-server keeps its data through a project-wide reload). */
void wm_worker_set_reloadable(wm_worker_t *w, bool on);
/* Runs the worker's processes as `user` (and `group`, or the user's primary
 * group when NULL) once the sockets are bound; the master may stay root.
 * Copied. A process that cannot switch logs why and exits with status 78. */
void wm_worker_set_user(wm_worker_t *w, const char *user, const char *group);

/* Callbacks. on_worker_start runs in each worker process once it listens;
 * on_worker_stop when it stops. The others are the defaults for the
 * worker's connections (see conn.h). */
void wm_worker_on_worker_start(wm_worker_t *w, wm_worker_cb cb, void *user_data);
void wm_worker_on_worker_stop(wm_worker_t *w, wm_worker_cb cb, void *user_data);
/* Runs in each process of a non-reloadable worker on `reload`. */
void wm_worker_on_worker_reload(wm_worker_t *w, wm_worker_cb cb, void *user_data);
/* Adds the worker's own figures to `status`: runs in each of the worker's
 * processes when the command asks them, on the loop, and writes one line of
 * text (no newline; "name=value" pairs separated by spaces read best) into
 * buf, at most len bytes with the NUL. `status` prints it under the process
 * table as "PID WORKER: line", and `status --json` as the process's "info".
 * A line with a newline is cut there. */
typedef void (*wm_worker_status_cb)(wm_worker_t *w, char *buf, size_t len, void *user_data);
void wm_worker_on_status(wm_worker_t *w, wm_worker_status_cb cb, void *user_data);
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

/* Runs the program's command line, as Workerman's Worker::runAll():
 *
 *   start [-d]          run: a master process forks `count` processes per
 *                       worker and restarts any that die; -d daemonizes
 *                       (pid file, log file, stdout file) and returns once
 *                       every worker listens
 *   stop [-g]           stop the running master (found through its pid
 *                       file); -g lets connections finish first (up to the
 *                       stop timeout)
 *   restart [-d] [-g]   stop, then start
 *   reload [-g]         replace reloadable workers' processes one at a time
 *                       with the program now on disk; listeners never close
 *   status [-d] [--json]   the master's and every process's figures;
 *                       -d refreshes each second with qps
 *   connections [--json]   every connection of every process
 *
 * Options anywhere after the command: --pid-file=PATH, --log-file=PATH,
 * --stdout-file=PATH, --stop-timeout=SECONDS (see wm_set_*). With no command
 * the usage is printed.
 *
 * In a worker process (the master starts them by running this same program
 * again), it runs that one worker and never returns to the caller's code
 * after it; programs must make the same workers in the same order on every
 * run, before calling it. A program parses its own options first and passes
 * the rest: wm_run_all(argc - optind + 1, …) with argv[0] kept.
 * Returns the process exit status. */
int wm_run_all(int argc, char **argv);

/* Ends the current process's part as on SIGTERM: in a worker process, that
 * process stops (the master starts another unless it is stopping); in the
 * master (or a program running workers with wm_worker_start) the run ends.
 * Safe from any callback. */
void wm_stop_all(void);

/* Process-wide settings for wm_run_all, also settable as options. Paths are
 * copied. Defaults: the pid file is /tmp/wm.<program path with / as _>.pid,
 * the log file is the pid file's name with .log (daemons only; a foreground
 * master logs to stderr), stdout is /dev/null for daemons, and the stop
 * timeout (for stop -g and reload) is 30 s. */
void wm_set_pid_file(const char *path);
void wm_set_log_file(const char *path);
void wm_set_stdout_file(const char *path);
void wm_set_stop_timeout(uint64_t ms);

/* The memory watchdog: a worker process whose resident memory (RSS, from
 * /proc/self/statm, checked every second) goes over `bytes` logs it and ends
 * as on a plain reload (each connection closes once idle), and the master
 * starts a fresh process in its place. Processes of non-reloadable workers
 * are only warned about, once. 0 (the default) turns it off. Set it before
 * wm_run_all(), in code that runs in every process. */
void wm_set_memory_limit(uint64_t bytes);

/* Asks this program's master for a reload, as `reload` (or `reload -g` when
 * `graceful`) does: the master replaces the reloadable workers' processes
 * with the program now on disk. From a worker process it signals the master
 * that started it (SIGUSR1 / SIGUSR2); in the master, itself. Returns WM_OK
 * once the signal is sent (the reload runs later, in the master), WM_EINVAL
 * when no master runs (WM_ROLE_SINGLE), or the kill() error. */
int wm_reload_request(bool graceful);

/* Whether the program was started as a daemon (`start -d`), in the master
 * and in its worker processes. */
bool wm_daemonized(void);

/* Which process is this? WM_ROLE_SINGLE in programs that never called
 * wm_run_all (tests and embedders using wm_worker_start). */
typedef enum wm_role { WM_ROLE_SINGLE = 0, WM_ROLE_MASTER = 1, WM_ROLE_WORKER = 2 } wm_role_t;
wm_role_t wm_process_role(void);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
