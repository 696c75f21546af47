/* SPDX-License-Identifier: MIT */
/* Outgoing connections (Workerman's AsyncTcpConnection): states, refused and
 * timed-out connects, data sent while connecting, reconnects (from on_close,
 * from on_error, of an open connection) and cancelling one by destroy, and
 * closing or destroying an outgoing connection inside its own callbacks.
 *
 * A connect that never completes, on loopback only: a listener made with
 * listen(fd, 0) that never accepts holds one connection in its accept queue;
 * once that is full Linux drops further SYNs (SYN cookies do not apply to a
 * full accept queue), so the next connect hangs until its timeout. */
#include "conn_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static int n_connect, n_error, n_close, n_msg, frees;
static int errors[16];
static uint64_t close_at[16];
static uint64_t connect_started;

static void count_free(void *ud)
{
    frees++;
}

static void c_connect(wm_conn_t *c, void *ud)
{
    n_connect++;
    ASSERT_EQ(wm_conn_state(c), WM_CONN_ESTABLISHED);
    tu_log("connect");
}

static void c_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    ASSERT(reason != NULL);
    if (n_error < 16)
        errors[n_error] = err;
    n_error++;
    tu_log("error(%s)", tu_errname(err));
}

static void c_close(wm_conn_t *c, void *ud)
{
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    if (n_close < 16)
        close_at[n_close] = wm_now_ms();
    n_close++;
    tu_log("close");
}

static void c_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    n_msg++;
    tu_log("msg(%.*s)", (int)m->len, m->data);
}

static wm_conn_t *client(const char *url)
{
    wm_conn_t *c = wm_conn_new(url);
    if (!c)
        WM_TEST_FAIL("wm_conn_new(%s) returned NULL", url);
    wm_conn_on_connect(c, c_connect, NULL);
    wm_conn_on_error(c, c_error, NULL);
    wm_conn_on_close(c, c_close, NULL);
    wm_conn_on_message(c, c_message, NULL);
    wm_conn_set_user_data(c, NULL, count_free);
    return c;
}

static const char *closed_url(const char *scheme)
{
    static char url[64];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%u", scheme, (unsigned)tu_closed_port());
    return url;
}

/* ---- States and misuse -------------------------------------------------- */

void test_connect_states(void)
{
    ASSERT(wm_conn_new("bogus") == NULL);
    ASSERT(wm_conn_new("nosuchproto://127.0.0.1:80") == NULL);
    ASSERT(wm_conn_new("tcp://127.0.0.1") == NULL);
    ASSERT(wm_conn_new("tcp://127.0.0.1:99999") == NULL);

    wm_worker_t *w = tu_echo_worker("text://127.0.0.1:0");
    wm_conn_t *c = client(tu_url(0, "text", "127.0.0.1", w));
    ASSERT_EQ(wm_conn_state(c), WM_CONN_INITIAL);
    ASSERT(wm_conn_worker(c) == NULL);
    ASSERT(wm_conn_protocol(c) == &wm_protocol_text);
    ASSERT_GT(wm_conn_id(c), 0);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CONNECTING);
    ASSERT_EQ(n_connect, 0); /* never from inside wm_conn_connect */
    ASSERT_EQ(wm_conn_connect(c), WM_ENOTCONN);
    tu_wait_count(&n_connect, 1, 2000, "on_connect");
    ASSERT_EQ(wm_conn_state(c), WM_CONN_ESTABLISHED);
    ASSERT_EQ(wm_conn_connect(c), WM_ENOTCONN);
    ASSERT(wm_conn_find(wm_conn_id(c)) == c);

    /* An accepted connection cannot reconnect. */
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT_EQ(wm_conn_reconnect(s, 10), WM_EINVAL);

    ASSERT_EQ(wm_conn_close(c), WM_OK);
    tu_wait_count(&n_close, 1, 2000, "on_close");
    tu_run_for(10);
    ASSERT_EQ(frees, 1);
    ASSERT_STR_EQ(tu_log_text(), "connect close");
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* A connection that never connected is the caller's: destroy frees it
 * (on the next loop turn at the latest, or when the loop is freed), and no
 * on_close runs, since it never opened. */
void test_connect_destroy_idle(void)
{
    wm_conn_t *c = client("tcp://127.0.0.1:1");
    uint64_t id = wm_conn_id(c);
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(frees, 1);
    ASSERT(wm_conn_find(id) == NULL);
    c = client("tcp://127.0.0.1:1");
    wm_conn_destroy(c);
    wm_loop_free();
    ASSERT_EQ(frees, 2);
    ASSERT_EQ(n_close, 0);
    WM_TEST_CLEAN();
}

/* ---- Failures ------------------------------------------------------------ */

void test_connect_refused(void)
{
    wm_conn_t *c = client(closed_url("tcp"));
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 3000, "on_close after a refused connect");
    tu_run_for(20);
    ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close");
    ASSERT_EQ(frees, 1); /* no reconnect asked: freed after on_close */
    WM_TEST_CLEAN();
}

/* Makes a listener whose accept queue is full, so one more connect hangs.
 * Returns the listener; the fillers are stored in fill[]. */
static int full_listener(uint16_t *port, int fill[8], int *n_fill)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(l >= 0);
    ASSERT_EQ(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(listen(l, 0), 0);
    ASSERT_EQ(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    *n_fill = 0;
    for (int i = 0; i < 8; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ASSERT(fd >= 0);
        fill[(*n_fill)++] = fd;
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            continue;
        ASSERT_EQ(errno, EINPROGRESS);
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, 100) == 0)
            return l; /* this one hangs: the queue is full */
    }
    WM_TEST_FAIL("could not fill the accept queue of a listen(fd, 0) socket");
}

static void timeout_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    c_error(c, err, reason, ud);
    *(uint64_t *)ud = wm_now_ms();
}

void test_connect_timeout(void)
{
    uint16_t port;
    int fill[8], n_fill;
    int l = full_listener(&port, fill, &n_fill);
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)port);
    wm_conn_t *c = client(url);
    uint64_t failed_at = 0;
    wm_conn_on_error(c, timeout_error, &failed_at);
    wm_conn_set_connect_timeout(c, 300);
    connect_started = wm_now_ms();
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 3000, "on_close after the connect timeout");
    uint64_t took = failed_at - connect_started;
    ASSERT_GE(took, 290);
    ASSERT_LT(took, 1500);
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "error(ETIMEDOUT) close");
    ASSERT_EQ(frees, 1);
    for (int i = 0; i < n_fill; i++)
        close(fill[i]);
    close(l);
    WM_TEST_CLEAN();
}

/* ---- Sending while connecting ------------------------------------------- */

void test_connect_send_early(void)
{
    wm_worker_t *w = tu_echo_worker("text://127.0.0.1:0");
    wm_conn_t *c = client(tu_url(0, "text", "127.0.0.1", w));
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CONNECTING);
    ASSERT_EQ(wm_conn_send(c, "first", 5), WM_QUEUED);
    ASSERT_EQ(wm_conn_send(c, "second", 6), WM_QUEUED);
    ASSERT_EQ(wm_conn_send_queue(c), 13); /* encoded: each with its "\n" */
    tu_wait_count(&n_msg, 2, 3000, "both echoes");
    ASSERT_STR_EQ(tu_log_text(), "connect msg(first) msg(second)");
    ASSERT_EQ(wm_conn_bytes_written(c), 13);
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(n_close, 1);
    ASSERT_EQ(frees, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Reconnecting --------------------------------------------------------- */

static uint16_t late_port;
static wm_worker_t *late_worker;

static void retry_close(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    if (n_close == 4)
        return; /* the final, deliberate close */
    if (n_close == 3) {
        char url[64];
        snprintf(url, sizeof(url), "text://127.0.0.1:%u", (unsigned)late_port);
        late_worker = tu_echo_worker(url);
    }
    ASSERT_EQ(wm_conn_reconnect(c, 50), WM_OK);
}

static void send_on_connect(wm_conn_t *c, void *ud)
{
    c_connect(c, ud);
    ASSERT(wm_conn_send(c, "hi", 2) >= 0);
}

static void close_on_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    c_message(c, m, ud);
    ASSERT_EQ(wm_conn_close(c), WM_OK);
}

void test_connect_reconnect(void)
{
    late_port = tu_closed_port();
    char url[64];
    snprintf(url, sizeof(url), "text://127.0.0.1:%u", (unsigned)late_port);
    wm_conn_t *c = client(url);
    wm_conn_on_close(c, retry_close, NULL);
    wm_conn_on_connect(c, send_on_connect, NULL);
    wm_conn_on_message(c, close_on_message, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 4, 5000, "three refusals, a connect and a close");
    tu_run_for(20);
    ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close error(ECONNREFUSED) close "
                                 "error(ECONNREFUSED) close connect msg(hi) close");
    for (int i = 1; i < 3; i++)
        ASSERT_GE(close_at[i] - close_at[i - 1], 49);
    ASSERT_EQ(frees, 1);
    ASSERT_EQ(wm_worker_conn_count(late_worker), 0);
    wm_worker_free(late_worker);
    WM_TEST_CLEAN();
}

static void retry_in_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    c_error(c, err, reason, ud);
    if (n_error < 2)
        ASSERT_EQ(wm_conn_reconnect(c, 20), WM_OK);
}

/* A reconnect asked for in on_error: on_close still runs for the failed
 * attempt, and the connection lives on. */
void test_connect_reconnect_from_error(void)
{
    wm_conn_t *c = client(closed_url("tcp"));
    wm_conn_on_error(c, retry_in_error, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 2, 3000, "two failed attempts");
    tu_run_for(50);
    ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close error(ECONNREFUSED) close");
    ASSERT_EQ(frees, 1);
    WM_TEST_CLEAN();
}

static void reconnect_once(wm_conn_t *c, void *ud)
{
    c_connect(c, ud);
    if (n_connect == 1)
        ASSERT_EQ(wm_conn_reconnect(c, 10), WM_OK);
}

/* Reconnecting an open connection closes it first (on_close runs). */
void test_connect_reconnect_open(void)
{
    wm_worker_t *w = tu_echo_worker("tcp://127.0.0.1:0");
    wm_conn_t *c = client(tu_url(0, "tcp", "127.0.0.1", w));
    wm_conn_on_connect(c, reconnect_once, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_connect, 2, 3000, "the second connect");
    ASSERT_STR_EQ(tu_log_text(), "connect close connect");
    ASSERT_EQ(frees, 0);
    tu_run_for(20);
    ASSERT_EQ(wm_worker_conn_count(w), 1);
    ASSERT(wm_conn_send(c, "xy", 2) >= 0);
    tu_wait_count(&n_msg, 1, 2000, "an echo on the new connection");
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(n_close, 2);
    ASSERT_EQ(frees, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void reconnect_later(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    ASSERT_EQ(wm_conn_reconnect(c, 150), WM_OK);
}

static void destroy_it(wm_timer_id_t id, void *c)
{
    tu_log("destroy");
    wm_conn_destroy(c);
}

void test_connect_destroy_cancels_reconnect(void)
{
    wm_conn_t *c = client(closed_url("tcp"));
    wm_conn_on_close(c, reconnect_later, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 3000, "the refused connect");
    ASSERT_EQ(frees, 0); /* waiting to reconnect: still alive */
    ASSERT(wm_timer_add(30, false, destroy_it, c, NULL) != 0);
    tu_run_for(400);
    ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close destroy");
    ASSERT_EQ(frees, 1);
    ASSERT_EQ(n_close, 1);
    WM_TEST_CLEAN();
}

/* ---- Closing an outgoing connection inside its callbacks ------------------- */

static int cb_action; /* 0 close, 1 destroy */

static void act_on(wm_conn_t *c)
{
    tu_log("act");
    if (cb_action == 0)
        ASSERT(wm_conn_close(c) == WM_OK || wm_conn_state(c) == WM_CONN_CLOSED);
    else
        wm_conn_destroy(c);
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
}

static void act_connect(wm_conn_t *c, void *ud)
{
    c_connect(c, ud);
    act_on(c);
}

static void act_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    c_error(c, err, reason, ud);
    act_on(c);
}

static void act_close(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    act_on(c);
}

static void run_outgoing_act(int action, int where, const char *want)
{
    cb_action = action;
    wm_worker_t *w = tu_echo_worker("tcp://127.0.0.1:0");
    wm_conn_t *c = client(where == 1 ? closed_url("tcp") : tu_url(0, "tcp", "127.0.0.1", w));
    if (where == 0)
        wm_conn_on_connect(c, act_connect, NULL);
    else if (where == 1)
        wm_conn_on_error(c, act_error, NULL);
    else
        wm_conn_on_close(c, act_close, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    if (where == 2) {
        tu_wait_count(&n_connect, 1, 2000, "on_connect");
        wm_worker_stop(w); /* the peer goes away */
    }
    tu_wait_count(&n_close, 1, 3000, "on_close");
    tu_run_for(30);
    ASSERT_STR_EQ(tu_log_text(), want);
    ASSERT_EQ(n_close, 1);
    ASSERT_EQ(frees, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_outgoing_close_in_connect(void)
{
    run_outgoing_act(0, 0, "connect act close");
}

void test_outgoing_destroy_in_connect(void)
{
    run_outgoing_act(1, 0, "connect act close");
}

void test_outgoing_close_in_error(void)
{
    run_outgoing_act(0, 1, "error(ECONNREFUSED) act close");
}

void test_outgoing_destroy_in_error(void)
{
    run_outgoing_act(1, 1, "error(ECONNREFUSED) act close");
}

void test_outgoing_destroy_in_close(void)
{
    run_outgoing_act(1, 2, "connect close act");
}

/* ---- Destroy and connect against an on_close that reconnects ----------------- */

static void always_reconnect(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    wm_conn_reconnect(c, 20); /* the usual "keep me connected" handler */
}

static void destroy_conn_cb(wm_timer_id_t id, void *c)
{
    tu_log("destroy");
    wm_conn_destroy(c);
}

/* conn.h: destroy "cancels a pending reconnect and frees it". The on_close
 * that destroy runs must not be able to re-arm a reconnect and keep the
 * connection alive. */
void test_outgoing_destroy_beats_reconnect(void)
{
    wm_worker_t *w = tu_echo_worker("tcp://127.0.0.1:0");
    wm_conn_t *c = client(tu_url(0, "tcp", "127.0.0.1", w));
    wm_conn_on_close(c, always_reconnect, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_connect, 1, 2000, "on_connect");
    ASSERT(wm_timer_add(0, false, destroy_conn_cb, c, NULL) != 0);
    tu_run_for(200);
    ASSERT_STR_EQ(tu_log_text(), "connect destroy close");
    ASSERT_EQ(n_connect, 1);
    ASSERT_EQ(frees, 1);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static int connect_again_rc = 1;
static uint16_t again_port;
static wm_worker_t *again_worker;

static void connect_again(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    if (n_close != 1)
        return;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)again_port);
    again_worker = tu_echo_worker(url);
    connect_again_rc = wm_conn_connect(c);
}

/* wm_conn_connect accepts a CLOSED connection, so calling it from on_close
 * must either be refused or really connect: an attempt that is accepted
 * and then silently dropped (with the object freed) breaks "on_connect or
 * on_error+on_close for every attempt". */
void test_outgoing_connect_in_close(void)
{
    again_port = tu_closed_port();
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)again_port);
    wm_conn_t *c = client(url);
    wm_conn_on_close(c, connect_again, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 2000, "the refused attempt");
    tu_run_for(100);
    ASSERT(again_worker != NULL);
    if (connect_again_rc == WM_OK) {
        ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close connect");
        ASSERT_EQ(frees, 0);
        ASSERT_EQ(wm_conn_state(c), WM_CONN_ESTABLISHED);
        wm_conn_destroy(c);
        tu_run_for(10);
        ASSERT_EQ(n_close, 2);
    } else {
        ASSERT_EQ(connect_again_rc, WM_ENOTCONN);
        ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close");
    }
    ASSERT_EQ(frees, 1);
    wm_worker_free(again_worker);
    WM_TEST_CLEAN();
}

/* ---- Closing while connecting ------------------------------------------------- */

static void srv_log_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_log("srv(%.*s)", (int)m->len, m->data);
}

void test_connect_close_while_connecting(void)
{
    wm_worker_t *w = tu_echo_worker("text://127.0.0.1:0");
    wm_worker_on_message(w, srv_log_msg, NULL);
    wm_conn_t *c = client(tu_url(0, "text", "127.0.0.1", w));
    wm_conn_on_connect(c, NULL, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(wm_conn_send(c, "a", 1), WM_QUEUED);
    ASSERT_EQ(wm_conn_close(c), WM_OK);
    /* Closing: queued data still goes out, but nothing new is accepted. */
    ASSERT_EQ(wm_conn_send(c, "b", 1), WM_ENOTCONN);
    ASSERT_EQ(wm_conn_close(c), WM_ENOTCONN);
    tu_wait_count(&n_close, 1, 2000, "on_close");
    tu_run_for(50);
    ASSERT_STR_EQ(tu_log_text(), "close srv(a)");
    ASSERT_EQ(frees, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Callbacks never run inside wm_conn_connect ------------------------------- */

/* A unix socket (or UDP) connect completes or fails inside connect(2). The
 * callbacks must still come from the loop, as for TCP: code right after
 * wm_conn_connect (setting state, piping, registering the connection) must
 * not find its on_connect, on_error or on_close already run. */
void test_connect_unix_async(void)
{
    char path[108], url[160];
    tu_tmp_path(path, sizeof(path), "async", ".sock");
    snprintf(url, sizeof(url), "unix://%s", path);
    wm_worker_t *w = tu_echo_worker(url);
    wm_conn_t *c = client(url);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(n_connect, 0);
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CONNECTING);
    tu_wait_count(&n_connect, 1, 2000, "on_connect");
    wm_conn_destroy(c);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* And a failure (no such socket) is reported from the loop too. */
void test_connect_unix_fail_async(void)
{
    char url[160];
    snprintf(url, sizeof(url), "unix:///tmp/wm-conn-test-nobody-%d.sock", (int)getpid());
    wm_conn_t *c = client(url);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(n_error, 0);
    ASSERT_EQ(n_close, 0);
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CONNECTING);
    tu_wait_count(&n_close, 1, 2000, "on_close of the failed connect");
    ASSERT_EQ(n_error, 1);
    ASSERT(errors[0] < 0);
    tu_run_for(10);
    ASSERT_EQ(frees, 1);
    WM_TEST_CLEAN();
}

/* "localhost" comes from /etc/hosts through the resolver, no DNS server. */
void test_connect_localhost(void)
{
    wm_worker_t *w = tu_echo_worker("text://127.0.0.1:0");
    wm_conn_t *c = client(tu_url(0, "text", "localhost", w));
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT(wm_conn_send(c, "hello", 5) >= 0);
    tu_wait_count(&n_msg, 1, 3000, "the echo through localhost");
    ASSERT_STR_EQ(tu_log_text(), "connect msg(hello)");
    ASSERT_STR_EQ(wm_conn_remote_ip(c), "127.0.0.1");
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(frees, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* The connect timeout bounds resolving too: a name server that never
 * answers (a bound UDP socket nobody reads) must give WM_ETIMEDOUT at the
 * deadline, and the pending lookup must be cancelled cleanly. */
void test_connect_timeout_dns(void)
{
    ASSERT_EQ(wm_dns_set_nameservers("not-an-address"), WM_EINVAL);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int mute = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT(mute >= 0);
    ASSERT_EQ(bind(mute, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(getsockname(mute, (struct sockaddr *)&sin, &len), 0);
    char servers[64];
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    ASSERT_EQ(wm_dns_set_nameservers(servers), WM_OK);

    wm_conn_t *c = client("tcp://never.answers.test:80");
    uint64_t failed_at = 0;
    wm_conn_on_error(c, timeout_error, &failed_at);
    wm_conn_set_connect_timeout(c, 300);
    connect_started = wm_now_ms();
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_wait_count(&n_close, 1, 3000, "on_close after the lookup timed out");
    uint64_t took = failed_at - connect_started;
    ASSERT_GE(took, 290);
    ASSERT_LT(took, 1500);
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "error(ETIMEDOUT) close");
    ASSERT_EQ(frees, 1);
    close(mute);
    WM_TEST_CLEAN();
}

static void destroy_soon(wm_timer_id_t id, void *c)
{
    wm_conn_destroy(c);
}

/* Destroying a connection while its name is being looked up. */
void test_connect_destroy_while_resolving(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int mute = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT(mute >= 0);
    ASSERT_EQ(bind(mute, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(getsockname(mute, (struct sockaddr *)&sin, &len), 0);
    char servers[64];
    snprintf(servers, sizeof(servers), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    ASSERT_EQ(wm_dns_set_nameservers(servers), WM_OK);
    wm_conn_t *c = client("tcp://never.answers.test:80");
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT(wm_timer_add(50, false, destroy_soon, c, NULL) != 0);
    tu_run_for(200);
    ASSERT_STR_EQ(tu_log_text(), "close");
    ASSERT_EQ(frees, 1);
    close(mute);
    WM_TEST_CLEAN();
}

static uint16_t stale_port;
static wm_worker_t *stale_worker;

static void reconnect_to_new_server(wm_conn_t *c, void *ud)
{
    c_close(c, ud);
    if (n_close != 1)
        return;
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)stale_port);
    stale_worker = tu_echo_worker(url);
    ASSERT_EQ(wm_conn_reconnect(c, 20), WM_OK);
}

/* A close asked for during one attempt belongs to that attempt: after it
 * failed and on_close reconnected, the new connection must stay open. */
void test_outgoing_close_does_not_outlive_attempt(void)
{
    stale_port = tu_closed_port();
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)stale_port);
    wm_conn_t *c = client(url);
    wm_conn_on_close(c, reconnect_to_new_server, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_QUEUED);
    ASSERT_EQ(wm_conn_close(c), WM_OK);
    tu_wait_count(&n_connect, 1, 3000, "the second attempt to connect");
    tu_run_for(100);
    ASSERT_STR_EQ(tu_log_text(), "error(ECONNREFUSED) close connect");
    ASSERT_EQ(wm_conn_state(c), WM_CONN_ESTABLISHED);
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(frees, 1);
    wm_worker_free(stale_worker);
    WM_TEST_CLEAN();
}
