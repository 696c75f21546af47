/* SPDX-License-Identifier: MIT */
/* Flow control and sending: the results of wm_conn_send (WM_SENT, WM_QUEUED,
 * WM_ENOBUFS), on_buffer_full/on_buffer_drain once per episode, the max
 * package limit in both directions, pause/resume (buffered messages are
 * delivered on resume with no new data arriving; the kernel pushes back
 * while paused), and the three ways to end a connection: close (flushes),
 * close_with (one last message), destroy (drops the queue); batched sends
 * (wm_conn_set_batch_sends: the replies to one read leave in one write);
 * wm_conn_want_drain (one on_buffer_drain below the limit, none when
 * nothing is queued).
 *
 * A peer that does not read is a raw socket with a small SO_RCVBUF, which
 * fixes its TCP window so the kernel buffers fill quickly. */
#include "conn_util.h"

#include <sys/socket.h>

#define SMALL_RCVBUF 4096

static int n_full, n_drain, n_error, last_error;
static size_t full_queue, drain_queue;

static void on_open(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
}

static void on_close_log(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    tu_log("close");
}

static void on_full(wm_conn_t *c, void *ud)
{
    n_full++;
    full_queue = wm_conn_send_queue(c);
    tu_log("full");
}

static void on_drain(wm_conn_t *c, void *ud)
{
    n_drain++;
    drain_queue = wm_conn_send_queue(c);
    tu_log("drain");
}

static void on_error_log(wm_conn_t *c, int err, const char *reason, void *ud)
{
    n_error++;
    last_error = err;
    ASSERT(reason != NULL);
    tu_log("error(%s)", tu_errname(err));
}

/* A worker that does nothing but record; tests send from outside. */
static wm_worker_t *quiet_worker(const char *url, size_t max_send)
{
    wm_worker_t *w = wm_worker_new(url);
    ASSERT(w != NULL);
    if (max_send)
        wm_worker_set_max_send_buffer(w, max_send);
    wm_worker_on_connect(w, on_open, NULL);
    wm_worker_on_close(w, on_close_log, NULL);
    wm_worker_on_error(w, on_error_log, NULL);
    wm_worker_on_buffer_full(w, on_full, NULL);
    wm_worker_on_buffer_drain(w, on_drain, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

static char chunk[64 * 1024];

/* Sends `len` pattern bytes starting at pattern offset *off; advances *off
 * when the bytes were accepted. */
static int send_pattern(wm_conn_t *c, uint64_t *off, size_t len)
{
    tu_pattern_fill(chunk, *off, len);
    int rc = wm_conn_send(c, chunk, len);
    if (rc == WM_SENT || rc == WM_QUEUED)
        *off += len;
    return rc;
}

/* ---- Send results ------------------------------------------------------- */

void test_send_sent_queued(void)
{
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 64u << 20);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    uint64_t off = 0;

    /* Nothing queued and an empty socket: written at once. */
    ASSERT_EQ(send_pattern(s, &off, 100), WM_SENT);
    ASSERT_EQ(wm_conn_send_queue(s), 0);
    ASSERT_EQ(wm_conn_bytes_written(s), 100);

    /* A peer that does not read: the kernel buffers fill and sends queue. */
    int rc = WM_SENT;
    while (rc == WM_SENT && off < (48u << 20))
        rc = send_pattern(s, &off, sizeof(chunk));
    ASSERT_EQ(rc, WM_QUEUED);
    ASSERT_GT(wm_conn_send_queue(s), 0);
    ASSERT_LE(wm_conn_send_queue(s), sizeof(chunk));
    /* Once something is queued, every later send queues (ordering). */
    ASSERT_EQ(send_pattern(s, &off, 10), WM_QUEUED);
    ASSERT_EQ(n_error, 0);
    ASSERT_EQ(n_full, 0);

    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, off, 10000);
    tu_run_for(20);
    ASSERT_EQ(r->received, off);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_EQ(wm_conn_send_queue(s), 0);
    ASSERT_EQ(wm_conn_bytes_written(s), off);
    ASSERT_EQ(n_drain, 0); /* never full, so never "drained" */
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* Fills the queue of `s` until a send is refused; returns the refusal. */
static int fill_until_refused(wm_conn_t *s, uint64_t *off, size_t piece)
{
    for (int i = 0; i < 100000; i++) {
        int rc = send_pattern(s, off, piece);
        if (rc != WM_SENT && rc != WM_QUEUED)
            return rc;
    }
    WM_TEST_FAIL("the send queue never filled (%llu bytes accepted)", (unsigned long long)*off);
}

static void check_full_episode(wm_conn_t *s, uint64_t *off, size_t max, int episode)
{
    const size_t piece = 16 * 1024;
    int errors_before = n_error;
    ASSERT_EQ(fill_until_refused(s, off, piece), WM_ENOBUFS);
    ASSERT_EQ(n_full, episode);
    ASSERT_GE(full_queue, max);
    ASSERT_EQ(n_error, errors_before + 1);
    ASSERT_EQ(last_error, WM_ENOBUFS);
    /* The limit is checked before each send, so one send may overshoot. */
    ASSERT_GE(wm_conn_send_queue(s), max);
    ASSERT_LT(wm_conn_send_queue(s), max + piece);
    /* Still open; each further send is dropped with its own on_error, and
     * on_buffer_full does not fire again in the same episode. */
    ASSERT_EQ(wm_conn_state(s), WM_CONN_ESTABLISHED);
    ASSERT_EQ(send_pattern(s, off, piece), WM_ENOBUFS);
    ASSERT_EQ(send_pattern(s, off, 1), WM_ENOBUFS);
    ASSERT_EQ(n_error, errors_before + 3);
    ASSERT_EQ(n_full, episode);
    ASSERT_EQ(n_drain, episode - 1);
}

void test_send_enobufs(void)
{
    const size_t max = 64 * 1024;
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", max);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT_EQ(wm_conn_max_send_buffer(s), max);
    uint64_t off = 0;

    check_full_episode(s, &off, max, 1);
    tu_run_for(50); /* the peer still reads nothing: no drain */
    ASSERT_EQ(n_drain, 0);
    ASSERT_EQ(n_full, 1);

    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, off, 10000);
    tu_wait_count(&n_drain, 1, 2000, "on_buffer_drain");
    tu_run_for(20);
    ASSERT_EQ(n_drain, 1);
    ASSERT_EQ(drain_queue, 0);
    ASSERT_EQ(r->received, off); /* every accepted byte, none of the dropped */
    ASSERT_EQ(r->bad_at, -1);

    /* A second episode fires each callback once more. */
    tu_raw_set_reading(r, false);
    tu_run_for(5);
    check_full_episode(s, &off, max, 2);
    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, off, 10000);
    tu_wait_count(&n_drain, 2, 2000, "the second on_buffer_drain");
    tu_run_for(20);
    ASSERT_EQ(n_full, 2);
    ASSERT_EQ(n_drain, 2);
    ASSERT_EQ(r->received, off);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_STR_EQ(tu_log_text(), "full error(ENOBUFS) error(ENOBUFS) error(ENOBUFS) drain "
                                 "full error(ENOBUFS) error(ENOBUFS) error(ENOBUFS) drain");
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* wm_conn_want_drain: a drain below the limit, once however often asked;
 * refused when nothing is queued; no on_buffer_full on the way. */
void test_want_drain(void)
{
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 64u << 20);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    uint64_t off = 0;
    ASSERT(!wm_conn_want_drain(s)); /* nothing queued: send now */

    int rc = WM_SENT;
    while (rc == WM_SENT && off < (48u << 20))
        rc = send_pattern(s, &off, sizeof(chunk));
    ASSERT_EQ(rc, WM_QUEUED);
    ASSERT(wm_conn_want_drain(s));
    ASSERT(wm_conn_want_drain(s));
    tu_run_for(30); /* the peer reads nothing: no drain yet */
    ASSERT_EQ(n_drain, 0);

    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, off, 10000);
    tu_wait_count(&n_drain, 1, 2000, "on_buffer_drain after wm_conn_want_drain");
    tu_run_for(20);
    ASSERT_EQ(n_drain, 1);
    ASSERT_EQ(drain_queue, 0);
    ASSERT_EQ(n_full, 0);
    ASSERT_EQ(r->received, off);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT(!wm_conn_want_drain(s));

    /* Asked, then full too: still one drain for the episode. */
    tu_raw_set_reading(r, false);
    tu_run_for(5);
    wm_conn_set_max_send_buffer(s, 64 * 1024);
    while (send_pattern(s, &off, 16 * 1024) == WM_SENT) {
    }
    ASSERT(wm_conn_want_drain(s));
    ASSERT_EQ(fill_until_refused(s, &off, 16 * 1024), WM_ENOBUFS);
    ASSERT_EQ(n_full, 1);
    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, off, 10000);
    tu_wait_count(&n_drain, 2, 2000, "the second on_buffer_drain");
    tu_run_for(20);
    ASSERT_EQ(n_drain, 2);
    ASSERT_EQ(r->received, off);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* The per-connection setting overrides the worker's. */
void test_send_limit_per_conn(void)
{
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 0);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT_EQ(wm_conn_max_send_buffer(s), WM_DEFAULT_MAX_SEND_BUFFER);
    wm_conn_set_max_send_buffer(s, 32 * 1024);
    ASSERT_EQ(wm_conn_max_send_buffer(s), 32 * 1024);
    uint64_t off = 0;
    ASSERT_EQ(fill_until_refused(s, &off, 8 * 1024), WM_ENOBUFS);
    ASSERT_GE(wm_conn_send_queue(s), 32 * 1024);
    ASSERT_LT(wm_conn_send_queue(s), 40 * 1024);
    ASSERT_EQ(n_full, 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Max package ---------------------------------------------------------- */

static void echo_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_log("msg(%zu)", m->len);
    ASSERT(wm_conn_send(c, m->data, m->len) >= 0);
}

static wm_worker_t *limited_echo(const char *url, size_t max_package)
{
    wm_worker_t *w = quiet_worker(url, 0);
    wm_worker_set_max_package(w, max_package);
    wm_worker_on_message(w, echo_msg, NULL);
    return w;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

void test_max_package_frame(void)
{
    wm_worker_t *w = limited_echo("frame://127.0.0.1:0", 1024);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT_EQ(wm_conn_max_package(s), 1024);
    static char frame[1024];
    /* A frame whose length (which counts its own 4 bytes) is exactly the
     * limit is allowed. */
    put_be32(frame, 1024);
    tu_pattern_fill(frame + 4, 0, 1020);
    tu_raw_write(r, frame, 1024);
    tu_raw_wait_bytes(r, 1024, 3000);
    ASSERT_MEM_EQ(r->in, frame, 1024);
    /* One byte more is an error as soon as the header arrives. */
    put_be32(frame, 1025);
    tu_raw_write(r, frame, 4);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the server to close an oversized frame");
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "msg(1020) error(EMSGSIZE) close");
    ASSERT_EQ(r->received, 1024);
    tu_raw_free(r);
    wm_worker_free(w);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    WM_TEST_CLEAN();
}

/* A frame length under 4 cannot count its own header: a protocol error. */
void test_frame_bad_length(void)
{
    wm_worker_t *w = limited_echo("frame://127.0.0.1:0", 1024);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    tu_raw_write(r, "\0\0\0\3", 4);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the server to close a bad frame");
    tu_run_for(10);
    ASSERT_EQ(n_error, 1);
    ASSERT_NE(last_error, WM_OK);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_max_package_text(void)
{
    wm_worker_t *w = limited_echo("text://127.0.0.1:0", 100);
    /* A short line passes; 300 bytes with no newline yet are already over. */
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    static char line[301];
    memset(line, 'x', sizeof(line));
    tu_raw_write(r, "short\n", 6);
    tu_raw_wait_bytes(r, 6, 3000);
    tu_raw_write(r, line, 300);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the server to close a long line");
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "msg(5) error(EMSGSIZE) close");
    tu_raw_free(r);

    /* The same with the newline in the same write. */
    tu_log_reset();
    r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    line[300] = '\n';
    tu_raw_write(r, line, 301);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the server to close a long line");
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "error(EMSGSIZE) close");
    ASSERT_EQ(r->received, 0);
    tu_raw_free(r);
    wm_worker_free(w);
    ASSERT_EQ(tu_check_each_closed_once(), 2);
    WM_TEST_CLEAN();
}

/* An outgoing connection enforces its own limit on what it receives. */
static bool cli_closed;

static void cli_close(wm_conn_t *c, void *ud)
{
    tu_log("cli-close");
    cli_closed = true;
}

static void cli_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    tu_log("cli-error(%s)", tu_errname(err));
}

static void cli_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_log("cli-msg(%zu)", m->len);
}

void test_max_package_client(void)
{
    wm_worker_t *w = tu_echo_worker("frame://127.0.0.1:0");
    wm_conn_t *c = wm_conn_new(tu_url(0, "frame", "127.0.0.1", w));
    ASSERT(c != NULL);
    wm_conn_set_max_package(c, 256);
    ASSERT_EQ(wm_conn_max_package(c), 256);
    wm_conn_on_close(c, cli_close, NULL);
    wm_conn_on_error(c, cli_error, NULL);
    wm_conn_on_message(c, cli_msg, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    static char big[1000];
    ASSERT(wm_conn_send(c, big, 100) >= 0);  /* 104 bytes back: fine */
    ASSERT(wm_conn_send(c, big, 1000) >= 0); /* 1004 bytes back: too big */
    tu_run_until(tu_pred_true, &cli_closed, 3000, "the client to close");
    ASSERT_STR_EQ(tu_log_text(), "cli-msg(100) cli-error(EMSGSIZE) cli-close");
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Pause and resume ------------------------------------------------------ */

static tu_msgs_t got;

static void pause_after_a(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&got, m->data, m->len);
    if (m->len == 1 && m->data[0] == 'a')
        wm_conn_pause_recv(c);
}

static void resume_later(wm_timer_id_t id, void *c)
{
    wm_conn_resume_recv(c);
}

/* Message number `n` (from 1) was `text`. */
static void expect_got(int n, const char *text)
{
    ASSERT_GE(got.n, n);
    ASSERT_EQ(got.len[n - 1], strlen(text));
    ASSERT_MEM_EQ(got.data[n - 1], text, strlen(text));
}

void test_pause_resume(void)
{
    wm_worker_t *w = quiet_worker("text://127.0.0.1:0", 0);
    wm_worker_on_message(w, pause_after_a, NULL);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT(!wm_conn_is_paused(s));

    /* Three messages in one segment; pausing in the first holds the rest. */
    tu_raw_write(r, "a\nb\nc\n", 6);
    tu_wait_count(&got.n, 1, 2000, "the first message");
    tu_run_for(100);
    ASSERT(wm_conn_is_paused(s));
    ASSERT_EQ(got.n, 1);
    expect_got(1, "a");
    ASSERT_EQ(wm_conn_recv_queue(s), 4); /* "b\nc\n" waits in wm's buffer */

    /* Resuming delivers them although no new byte arrives. */
    ASSERT(wm_timer_add(0, false, resume_later, s, NULL) != 0);
    tu_wait_count(&got.n, 3, 2000, "the buffered messages after resume");
    tu_run_for(20);
    ASSERT_EQ(got.n, 3);
    ASSERT(!wm_conn_is_paused(s));
    expect_got(2, "b");
    expect_got(3, "c");
    ASSERT_EQ(wm_conn_recv_queue(s), 0);

    /* While paused, new data is not delivered; after resume it is. */
    wm_conn_pause_recv(s);
    tu_raw_write(r, "d\n", 2);
    tu_run_for(100);
    ASSERT_EQ(got.n, 3);
    wm_conn_resume_recv(s);
    tu_wait_count(&got.n, 4, 2000, "the message sent while paused");
    ASSERT_EQ(got.n, 4);
    expect_got(4, "d");
    tu_raw_write(r, "e\n", 2);
    tu_wait_count(&got.n, 5, 2000, "a message after resume");
    tu_run_for(20);
    ASSERT_EQ(got.n, 5);
    expect_got(5, "e");
    tu_raw_free(r);
    wm_worker_free(w);
    tu_msgs_clear(&got);
    WM_TEST_CLEAN();
}

static uint64_t pause_bytes;

static void count_bytes(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    pause_bytes += m->len;
}

static bool pred_all_counted(void *total)
{
    return pause_bytes >= *(const uint64_t *)total;
}

static void pause_on_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    wm_conn_pause_recv(c);
}

/* A paused connection stops reading the socket, so the kernel's window
 * pushes back on the sender instead of wm buffering without bound. */
void test_pause_backpressure(void)
{
    const uint64_t total = 16u << 20;
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 0);
    wm_worker_on_connect(w, pause_on_connect, NULL);
    wm_worker_on_message(w, count_bytes, NULL);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), false);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    tu_raw_write_pattern(r, total);
    tu_run_for(300);
    ASSERT(wm_conn_is_paused(s));
    ASSERT_EQ(pause_bytes, 0);
    ASSERT_LT(wm_conn_recv_queue(s), 1u << 20);
    ASSERT_LT(r->written, total);
    wm_conn_resume_recv(s);
    tu_run_until(tu_raw_pred_sent_all, r, 10000, "the sender to get everything out");
    tu_run_until(pred_all_counted, (void *)&total, 10000, "the server to read everything");
    ASSERT_EQ(pause_bytes, total);
    ASSERT_EQ(wm_conn_bytes_read(s), total);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Ending a connection ---------------------------------------------------- */

void test_close_flushes(void)
{
    const uint64_t total = 4u << 20;
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 8u << 20);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    uint64_t off = 0;
    while (off < total)
        ASSERT(send_pattern(s, &off, sizeof(chunk)) >= 0);
    ASSERT_GT(wm_conn_send_queue(s), 0);
    ASSERT_EQ(wm_conn_close(s), WM_OK);
    ASSERT_EQ(wm_conn_state(s), WM_CONN_CLOSING);
    ASSERT_EQ(wm_conn_close(s), WM_ENOTCONN);
    ASSERT_EQ(wm_conn_send(s, "x", 1), WM_ENOTCONN);
    ASSERT_EQ(wm_conn_close_with(s, "x", 1), WM_ENOTCONN);
    tu_run_for(30);
    ASSERT_EQ(tu_total_closes(), 0); /* still flushing */
    tu_raw_set_reading(r, true);
    tu_run_until(tu_raw_pred_eof, r, 10000, "the flushed data and the close");
    ASSERT_EQ(r->err, 0);
    ASSERT_EQ(r->received, total);
    ASSERT_EQ(r->bad_at, -1);
    tu_run_for(10);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    ASSERT_STR_EQ(tu_log_text(), "close");
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Batched sends ------------------------------------------------------- */

static struct {
    int n, rcs[8];
    uint64_t written[8]; /* wm_conn_bytes_written when each message came */
} batch;

static void batch_on(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    wm_conn_set_batch_sends(c, ud != NULL);
}

/* Echoes each line; "bye" echoes and then closes. */
static void batch_echo(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    if (batch.n < 8)
        batch.written[batch.n] = wm_conn_bytes_written(c);
    int rc = wm_conn_send(c, m->data, m->len);
    if (batch.n < 8)
        batch.rcs[batch.n] = rc;
    batch.n++;
    if (m->len == 3 && memcmp(m->data, "bye", 3) == 0)
        ASSERT_EQ(wm_conn_close(c), WM_OK);
}

static wm_worker_t *batch_worker(bool on)
{
    wm_worker_t *w = wm_worker_new("text://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_connect(w, batch_on, on ? (void *)1 : NULL);
    wm_worker_on_message(w, batch_echo, NULL);
    wm_worker_on_close(w, on_close_log, NULL);
    wm_worker_on_error(w, on_error_log, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    memset(&batch, 0, sizeof batch);
    return w;
}

void test_batch_sends(void)
{
    wm_worker_t *w = batch_worker(true);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    tu_raw_write(r, "a\nbb\nccc\n", 9); /* one read: three messages */
    tu_raw_wait_bytes(r, 9, 3000);
    ASSERT_MEM_EQ(r->in, "a\nbb\nccc\n", 9);
    ASSERT_EQ(batch.n, 3);
    for (int i = 0; i < 3; i++) {
        /* Nothing reached the kernel while the read's messages ran... */
        ASSERT_EQ(batch.rcs[i], WM_QUEUED);
        ASSERT_EQ(batch.written[i], 0);
    }
    /* ... and everything did right after them, with no write event. */
    ASSERT_EQ(wm_conn_bytes_written(s), 9);
    ASSERT_EQ(wm_conn_send_queue(s), 0);

    /* Sends from outside on_message wait for the end of the loop turn and
     * then leave in one write. */
    ASSERT_EQ(wm_conn_send(s, "out", 3), WM_QUEUED); /* text:// adds the newline */
    ASSERT_EQ(wm_conn_send(s, "x", 1), WM_QUEUED);
    ASSERT_EQ(wm_conn_bytes_written(s), 9);
    ASSERT_EQ(wm_conn_send_queue(s), 6);
    tu_raw_wait_bytes(r, 15, 3000);
    ASSERT_MEM_EQ(r->in + 9, "out\nx\n", 6);
    ASSERT_EQ(wm_conn_bytes_written(s), 15);

    /* The next read is its own batch. */
    tu_raw_write(r, "d\n", 2);
    tu_raw_wait_bytes(r, 17, 3000);
    ASSERT_EQ(batch.n, 4);
    ASSERT_EQ(batch.written[3], 15);
    ASSERT_EQ(n_error, 0);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* A close inside the batch still sends everything queued before it, then
 * closes; messages after the close in the same read get nothing. */
void test_batch_sends_close(void)
{
    wm_worker_t *w = batch_worker(true);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    tu_raw_write(r, "x\nbye\nlost\n", 11);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the replies and the close");
    ASSERT_EQ(r->received, 6);
    ASSERT_MEM_EQ(r->in, "x\nbye\n", 6);
    ASSERT_EQ(batch.n, 2);
    tu_run_for(10);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* Fan-out: a message on one connection sends three lines to every
 * connection of the worker and then destroys the last one. The others get
 * their lines at the end of the turn, in one write each (nothing was
 * written while the callback ran); the destroyed one gets nothing and
 * nothing breaks. */
static wm_conn_t *fan_conns[3];
static uint64_t fan_written_during[3];

static void fan_echo(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    (void)c;
    (void)m;
    (void)ud;
    for (int line = 0; line < 3; line++)
        for (int i = 0; i < 3; i++)
            ASSERT_EQ(wm_conn_send(fan_conns[i], "ev", 2), WM_QUEUED);
    for (int i = 0; i < 3; i++)
        fan_written_during[i] = wm_conn_bytes_written(fan_conns[i]);
    wm_conn_destroy(fan_conns[2]);
}

void test_batch_sends_fanout(void)
{
    wm_worker_t *w = batch_worker(true);
    wm_worker_on_message(w, fan_echo, NULL);
    tu_raw_t *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
        fan_conns[i] = tu_wait_accept(w, (size_t)i + 1, 2000);
    }
    tu_raw_write(r[1], "go\n", 3);
    tu_raw_wait_bytes(r[0], 9, 3000);
    tu_raw_wait_bytes(r[1], 9, 3000);
    tu_run_until(tu_raw_pred_eof, r[2], 3000, "the destroyed connection's end");
    for (int i = 0; i < 2; i++) {
        ASSERT_MEM_EQ(r[i]->in, "ev\nev\nev\n", 9);
        ASSERT_EQ(fan_written_during[i], 0);
        ASSERT_EQ(wm_conn_bytes_written(fan_conns[i]), 9);
    }
    ASSERT_EQ(r[2]->received, 0);
    for (int i = 0; i < 3; i++)
        tu_raw_free(r[i]);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* Off (the default): each send inside on_message is written at once. */
void test_batch_sends_off(void)
{
    wm_worker_t *w = batch_worker(false);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    tu_raw_write(r, "a\nbb\n", 5);
    tu_raw_wait_bytes(r, 5, 3000);
    ASSERT_EQ(batch.n, 2);
    ASSERT_EQ(batch.rcs[0], WM_SENT);
    ASSERT_EQ(batch.rcs[1], WM_SENT);
    ASSERT_EQ(batch.written[1], 2);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void bye_closes(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    if (m->len == 3 && memcmp(m->data, "bye", 3) == 0)
        ASSERT_EQ(wm_conn_close_with(c, "last", 4), WM_OK);
    else if (wm_conn_state(c) == WM_CONN_ESTABLISHED)
        ASSERT(wm_conn_send(c, m->data, m->len) >= 0);
}

void test_close_with(void)
{
    wm_worker_t *w = quiet_worker("text://127.0.0.1:0", 0);
    wm_worker_on_message(w, bye_closes, NULL);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    tu_raw_write(r, "hi\nbye\n", 7);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the last message and the close");
    ASSERT_EQ(r->received, 8);
    ASSERT_MEM_EQ(r->in, "hi\nlast\n", 8);
    tu_run_for(10);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void destroy_now(wm_timer_id_t id, void *c)
{
    wm_conn_destroy(c);
    /* The pointer stays valid until this callback returns. */
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
    ASSERT_EQ(wm_conn_close(c), WM_ENOTCONN);
    wm_conn_destroy(c); /* twice is harmless */
}

void test_destroy_drops(void)
{
    const uint64_t total = 4u << 20;
    wm_worker_t *w = quiet_worker("tcp://127.0.0.1:0", 8u << 20);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), SMALL_RCVBUF), false);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    uint64_t off = 0;
    while (off < total)
        ASSERT(send_pattern(s, &off, sizeof(chunk)) >= 0);
    ASSERT_GT(wm_conn_send_queue(s), 1u << 20);
    ASSERT(wm_timer_add(0, false, destroy_now, s, NULL) != 0);
    tu_run_for(10);
    ASSERT_EQ(tu_total_closes(), 1);
    tu_raw_set_reading(r, true);
    tu_run_until(tu_raw_pred_eof, r, 5000, "the peer to see the end");
    ASSERT_LT(r->received, total - (1u << 20));
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Half close ----------------------------------------------------------------- */

static bool pred_half_close_sent(void *arg)
{
    tu_raw_t *r = arg;
    if (!tu_raw_pred_sent_all(r))
        return false;
    ASSERT_EQ(shutdown(r->fd, SHUT_WR), 0);
    return true;
}

/* A peer that sends everything and then shuts down its write side still
 * reads: every echo must reach it before the server closes. */
void test_half_close_echo(void)
{
    const uint64_t total = 4u << 20;
    wm_worker_t *w = tu_echo_worker("tcp://127.0.0.1:0");
    wm_worker_on_close(w, on_close_log, NULL);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    r->check_pattern = true;
    tu_raw_write_pattern(r, total);
    tu_run_until(pred_half_close_sent, r, 10000, "the client to send everything");
    tu_run_until(tu_raw_pred_eof, r, 10000, "every echo and then the close");
    ASSERT_EQ(r->err, 0);
    ASSERT_EQ(r->received, total);
    ASSERT_EQ(r->bad_at, -1);
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "close");
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}
