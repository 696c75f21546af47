/* SPDX-License-Identifier: MIT */
/* Shared helpers for the connection tests (wm_conn_tests): driving the loop
 * until a condition holds (with a deadline that fails the case instead of
 * hanging), an event log for asserting the order of callbacks, a per-
 * connection close counter, echo workers, and "raw peers": plain sockets on
 * the wm loop that a test controls byte by byte (read or not, write a pattern
 * or exact bytes), so the library is checked against the wire and not only
 * against itself. Every case runs in its own process (tests/wm_test.h), so
 * the state here is global and starts zeroed in each case. */
#ifndef WM_CONN_UTIL_H
#define WM_CONN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wm_test.h"

/* ---- Running the loop ---------------------------------------------------- */

typedef bool (*tu_pred_fn)(void *arg);

/* Runs the loop until `pred(arg)` is true. Fails the case, naming `what`,
 * when `timeout_ms` pass first. */
void tu_run_until(tu_pred_fn pred, void *arg, uint64_t timeout_ms, const char *what);
/* Runs the loop for `ms` milliseconds. */
void tu_run_for(uint64_t ms);
/* Predicates over plain variables, for tu_run_until. */
bool tu_pred_true(void *flag);   /* *(bool *)flag */
bool tu_pred_nonnull(void *ptr); /* *(void **)ptr != NULL */

/* Waits until *counter >= want. */
void tu_wait_count(const int *counter, int want, uint64_t timeout_ms, const char *what);

/* ---- Event log ----------------------------------------------------------- */

/* Appends one space-separated token to the case's event log. */
void tu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tu_log_text(void);
void tu_log_reset(void);
/* Short name of a WM_E* code for logs ("ENOBUFS"), or the number. */
const char *tu_errname(int err);

/* ---- Close accounting ----------------------------------------------------- */

/* Remembers that `c` exists (by id) and counts its on_close calls; tests call
 * tu_note_open on connect/creation and tu_note_close in on_close. */
void tu_note_open(wm_conn_t *c);
void tu_note_close(wm_conn_t *c);
/* Fails unless every noted connection closed exactly once; returns how many
 * connections were noted. */
int tu_check_each_closed_once(void);
/* on_close calls so far over all noted connections. */
int tu_total_closes(void);

/* ---- Workers ---------------------------------------------------------------- */

/* A started worker that echoes every message back with wm_conn_send and
 * applies backpressure (pauses when its send queue is full, resumes on
 * drain), so nothing is dropped even when its peer reads slowly. */
wm_worker_t *tu_echo_worker(const char *url);
/* "scheme://127.0.0.1:<port of w>" in a static buffer per call slot (0..3). */
const char *tu_url(int slot, const char *scheme, const char *host, const wm_worker_t *w);

/* ---- Temporary files ---------------------------------------------------------- */

/* Writes "/tmp/wm-conn-test-<tag>-<pid><suffix>" into buf, removes any old
 * file there, and removes it again when the case's process exits, even
 * when an assertion fails half-way. */
void tu_tmp_path(char *buf, size_t size, const char *tag, const char *suffix);

/* ---- Raw sockets -------------------------------------------------------------- */

/* Blocking connect to ip:port (IPv4 or IPv6 literal), then non-blocking.
 * `rcvbuf` > 0 sets SO_RCVBUF first (fixes the window: no autotuning). */
int tu_tcp_connect(const char *ip, uint16_t port, int rcvbuf);
int tu_unix_connect(const char *path);
/* A TCP port on 127.0.0.1 where nothing listens (bound, then closed). */
uint16_t tu_closed_port(void);
/* Byte `i` of the test pattern: not periodic at any small power of two, so
 * a lost, duplicated or reordered chunk shows. */
static inline uint8_t tu_pattern(uint64_t i)
{
    return (uint8_t)(i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24) ^ (i * 7 >> 3));
}
void tu_pattern_fill(char *buf, uint64_t offset, size_t len);

/* A raw peer: a non-blocking socket watched by events on wm_loop_base(). */
typedef struct tu_raw {
    int fd;
    struct event *rev, *wev;
    struct evbuffer *out;  /* bytes waiting to be written */
    uint64_t pattern_left; /* pattern bytes still to generate into `out` */
    uint64_t pattern_next; /* offset of the next pattern byte to generate */
    uint64_t written;      /* bytes handed to the kernel */
    bool reading;          /* read events enabled */
    bool check_pattern;    /* verify received bytes against tu_pattern */
    uint64_t received;     /* bytes read so far */
    int64_t bad_at;        /* first offset that broke the pattern, or -1 */
    char *in;              /* the first `in_cap` received bytes, kept */
    size_t in_cap, in_len;
    bool eof; /* read returned 0 */
    int err;  /* errno of a failed read/write, or 0 */
} tu_raw_t;

/* Wraps `fd` (takes ownership). Reading starts enabled when `read` is true. */
tu_raw_t *tu_raw_new(int fd, bool read);
/* Queues bytes / `n` bytes of pattern (continuing the offset) to write. */
void tu_raw_write(tu_raw_t *r, const void *data, size_t len);
void tu_raw_write_pattern(tu_raw_t *r, uint64_t n);
void tu_raw_set_reading(tu_raw_t *r, bool on);
/* Closes the socket; with `reset`, SO_LINGER 0 first so the peer gets RST. */
void tu_raw_close(tu_raw_t *r, bool reset);
void tu_raw_free(tu_raw_t *r);
/* Predicates: received >= *(uint64_t*)goal is not expressible with one
 * pointer, so these take the raw peer and read its own fields. */
bool tu_raw_pred_eof(void *r);
bool tu_raw_pred_sent_all(void *r);
/* Waits until the peer has received `n` bytes (fails on EOF first). */
void tu_raw_wait_bytes(tu_raw_t *r, uint64_t n, uint64_t timeout_ms);

/* Writes `len` bytes to the raw peer's socket one byte per millisecond (a
 * timer that deletes itself when done), so a codec sees every split. */
void tu_raw_trickle(tu_raw_t *r, const void *data, size_t len);
bool tu_raw_trickle_done(void *r);

/* ---- Messages ------------------------------------------------------------------ */

#define TU_MAX_MSGS 128

/* Messages as received, each copied, plus all their bytes concatenated. */
typedef struct tu_msgs {
    int n;
    char *data[TU_MAX_MSGS];
    size_t len[TU_MAX_MSGS];
    char *cat;
    size_t cat_len, cat_cap;
} tu_msgs_t;

void tu_msgs_add(tu_msgs_t *m, const char *data, size_t len);
void tu_msgs_clear(tu_msgs_t *m);
/* Fails unless `m` holds exactly the `n` messages want[i] (lengths wlen[i]). */
void tu_msgs_expect(const tu_msgs_t *m, const char *const *want, const size_t *wlen, int n,
                    const char *who);

/* Runs the loop until `w` has `n` live connections and returns the newest
 * (the one with the largest id). */
wm_conn_t *tu_wait_accept(wm_worker_t *w, size_t n, uint64_t timeout_ms);

#endif
