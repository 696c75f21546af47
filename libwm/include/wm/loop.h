/* SPDX-License-Identifier: MIT */
/* The event loop: one per process, created on first use.
 *
 * Every wm object (worker, connection, timer, signal watch) lives on the
 * process's loop; there is no loop argument to pass around. The loop is a
 * libevent event_base made with EVENT_BASE_FLAG_PRECISE_TIMER, so millisecond
 * timers keep time (the default base is 4 ms coarse). SIGPIPE is ignored
 * process-wide when the loop is created: a write to a closed socket is an
 * error return, never a signal. */
#ifndef WM_LOOP_H
#define WM_LOOP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

struct event_base;
struct evdns_base;

/* Optional destructor for user data handed to wm; called once, when the
 * object that holds the pointer is freed. */
typedef void (*wm_free_cb)(void *user_data);

/* The process's libevent base, created on first call (NULL only when out of
 * memory). Borrowed: valid until wm_loop_free(). Use it to add your own
 * libevent events next to wm's. */
struct event_base *wm_loop_base(void);

/* Runs the loop until wm_loop_stop() is called or nothing is left to wait
 * for. Returns WM_OK, or WM_EINVAL when called from inside the loop. */
int wm_loop_run(void);

/* Makes wm_loop_run() return after the current callbacks finish; called
 * while the loop is not running, the next wm_loop_run() returns at once.
 * Safe from any callback; not from a signal handler (use wm_signal_add). */
void wm_loop_stop(void);

/* Frees the loop and everything still on it: connections are destroyed
 * (their on_close runs), timers deleted (their destructors run), signal
 * watches removed, the DNS resolver freed. The next wm call makes a fresh
 * loop. Tests use this to start every case clean; a forked child calls it
 * before building its own objects. Must not be called from a callback. */
void wm_loop_free(void);

/* Milliseconds on a monotonic clock (CLOCK_MONOTONIC). */
uint64_t wm_now_ms(void);

/* Signals, delivered on the loop (never inside a signal handler).
 * Returns a watch id > 0, or a negative WM_E* code. Several watches may share
 * a signal; each runs. `user_data` is borrowed until wm_signal_del(). */
typedef void (*wm_signal_cb)(int signum, void *user_data);
int wm_signal_add(int signum, wm_signal_cb cb, void *user_data);
/* Returns WM_OK, or WM_ENOENT for an unknown id. */
int wm_signal_del(int watch_id);

/* The asynchronous resolver used for host names in outgoing URLs (evdns).
 * Created on first use from /etc/resolv.conf and /etc/hosts. Borrowed. */
struct evdns_base *wm_dns_base(void);

/* Replaces the resolver's name servers with `servers`, a comma-separated list
 * of "ip" or "ip:port" (e.g. "127.0.0.1:5353"); /etc/hosts stays loaded.
 * `servers` is copied. Returns WM_OK or WM_EINVAL. */
int wm_dns_set_nameservers(const char *servers);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
