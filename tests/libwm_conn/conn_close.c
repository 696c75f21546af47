/* SPDX-License-Identifier: MIT */
/* Closing and destroying from inside every callback, and every way a
 * connection can end. The promise under test (conn.h): any connection may be
 * closed or destroyed inside any callback, the pointer stays valid until the
 * callbacks on the stack return, calls on it then say WM_ENOTCONN, and
 * on_close runs exactly once per connection in every path: our close, our
 * destroy, the peer's close or reset, a protocol error, wm_worker_stop and
 * wm_loop_free. Each scenario asserts the full order of callbacks. */
#include "conn_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef enum act_at {
    AT_CONNECT,
    AT_MESSAGE,
    AT_ERROR,        /* on_error from a message over the max package */
    AT_ERROR_NOBUFS, /* on_error from a send refused by a full queue */
    AT_FULL,
    AT_DRAIN,
    AT_CLOSE
} act_at_t;

typedef enum act { ACT_CLOSE, ACT_DESTROY } act_t;

static act_at_t g_at;
static act_t g_act;
static int fill_rc;

/* Does the scenario's action if this callback is where it belongs. */
static void act(wm_conn_t *c, act_at_t where)
{
    if (where != g_at)
        return;
    tu_log("act");
    if (g_act == ACT_CLOSE) {
        int rc = wm_conn_close(c);
        if (where == AT_CLOSE || where == AT_ERROR)
            ASSERT(rc == WM_OK || rc == WM_ENOTCONN);
        else
            ASSERT_EQ(rc, WM_OK);
    } else {
        wm_conn_destroy(c);
        ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    }
    /* Still a valid pointer here; but nothing can be sent any more. */
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
    ASSERT_EQ(wm_conn_close(c), WM_ENOTCONN);
}

static void s_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    tu_log("connect");
    act(c, AT_CONNECT);
}

static void s_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_log("msg");
    act(c, AT_MESSAGE);
}

static void s_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    tu_log("error(%s)", tu_errname(err));
    act(c, err == WM_ENOBUFS ? AT_ERROR_NOBUFS : AT_ERROR);
}

static void s_full(wm_conn_t *c, void *ud)
{
    tu_log("full");
    act(c, AT_FULL);
}

static void s_drain(wm_conn_t *c, void *ud)
{
    tu_log("drain");
    act(c, AT_DRAIN);
}

static void s_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    tu_log("close");
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    act(c, AT_CLOSE);
}

static wm_worker_t *acting_worker(const char *url)
{
    wm_worker_t *w = wm_worker_new(url);
    ASSERT(w != NULL);
    wm_worker_set_max_send_buffer(w, 32 * 1024);
    wm_worker_set_max_package(w, 64);
    wm_worker_on_connect(w, s_connect, NULL);
    wm_worker_on_message(w, s_message, NULL);
    wm_worker_on_error(w, s_error, NULL);
    wm_worker_on_buffer_full(w, s_full, NULL);
    wm_worker_on_buffer_drain(w, s_drain, NULL);
    wm_worker_on_close(w, s_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

/* Sends from a timer, as an application would; the connection may be
 * closed by a callback inside wm_conn_send, and the loop goes on using the
 * pointer until the first refusal, which the promise allows. */
static void fill_tick(wm_timer_id_t id, void *c)
{
    static char piece[8192];
    fill_rc = WM_OK;
    for (int i = 0; i < 10000; i++) {
        int rc = wm_conn_send(c, piece, sizeof(piece));
        if (rc != WM_SENT && rc != WM_QUEUED) {
            fill_rc = rc;
            return;
        }
    }
    WM_TEST_FAIL("80 MB accepted by a 32 KiB send queue");
}

static bool pred_one_close(void *arg)
{
    return tu_total_closes() >= 1;
}

static void run_scenario(act_at_t at, act_t what, const char *want_log)
{
    g_at = at;
    g_act = what;
    bool slow = at == AT_FULL || at == AT_DRAIN || at == AT_ERROR_NOBUFS;
    wm_worker_t *w = acting_worker(at == AT_ERROR ? "frame://127.0.0.1:0" : "text://127.0.0.1:0");
    int fd = tu_tcp_connect("127.0.0.1", wm_worker_port(w), slow ? 4096 : 0);
    tu_raw_t *r = tu_raw_new(fd, !slow);

    switch (at) {
    case AT_CONNECT: /* data is already there: it must not be delivered */
    case AT_MESSAGE: /* two messages in one segment: only the first is */
        tu_raw_write(r, "one\ntwo\n", 8);
        break;
    case AT_ERROR:
        tu_raw_write(r, "\0\0\1\0", 4); /* a 256-byte frame; the limit is 64 */
        break;
    case AT_CLOSE:
        break;
    default: {
        wm_conn_t *s = tu_wait_accept(w, 1, 2000);
        ASSERT(wm_timer_add(0, false, fill_tick, s, NULL) != 0);
        tu_run_for(20);
        ASSERT(fill_rc < 0);
        if (at == AT_FULL)
            ASSERT_EQ(fill_rc, WM_ENOTCONN);
        else
            ASSERT_EQ(fill_rc, WM_ENOBUFS);
        tu_raw_set_reading(r, true);
        break;
    }
    }
    if (at == AT_CLOSE) {
        tu_wait_accept(w, 1, 2000);
        tu_raw_close(r, false);
    }
    tu_run_until(pred_one_close, NULL, 5000, "on_close");
    if (at != AT_CLOSE)
        tu_run_until(tu_raw_pred_eof, r, 5000, "the peer to see the close");
    tu_run_for(30);
    ASSERT_STR_EQ(tu_log_text(), want_log);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    tu_raw_free(r);
    wm_worker_free(w);
    ASSERT_EQ(tu_total_closes(), 1);
    WM_TEST_CLEAN();
}

void test_close_in_connect(void)
{
    run_scenario(AT_CONNECT, ACT_CLOSE, "connect act close");
}

void test_destroy_in_connect(void)
{
    run_scenario(AT_CONNECT, ACT_DESTROY, "connect act close");
}

void test_close_in_message(void)
{
    run_scenario(AT_MESSAGE, ACT_CLOSE, "connect msg act close");
}

void test_destroy_in_message(void)
{
    run_scenario(AT_MESSAGE, ACT_DESTROY, "connect msg act close");
}

void test_close_in_error(void)
{
    run_scenario(AT_ERROR, ACT_CLOSE, "connect error(EMSGSIZE) act close");
}

void test_destroy_in_error(void)
{
    run_scenario(AT_ERROR, ACT_DESTROY, "connect error(EMSGSIZE) act close");
}

/* A graceful close from a full queue still flushes it; the queue then
 * drains, and on_buffer_drain runs before on_close, as in Workerman (whose
 * baseWrite calls onBufferDrain and then destroys a closing connection). */
void test_close_in_error_nobufs(void)
{
    run_scenario(AT_ERROR_NOBUFS, ACT_CLOSE, "connect full error(ENOBUFS) act drain close");
}

void test_destroy_in_error_nobufs(void)
{
    run_scenario(AT_ERROR_NOBUFS, ACT_DESTROY, "connect full error(ENOBUFS) act close");
}

void test_close_in_full(void)
{
    run_scenario(AT_FULL, ACT_CLOSE, "connect full act drain close");
}

void test_destroy_in_full(void)
{
    run_scenario(AT_FULL, ACT_DESTROY, "connect full act close");
}

void test_close_in_drain(void)
{
    run_scenario(AT_DRAIN, ACT_CLOSE, "connect full error(ENOBUFS) drain act close");
}

void test_destroy_in_drain(void)
{
    run_scenario(AT_DRAIN, ACT_DESTROY, "connect full error(ENOBUFS) drain act close");
}

void test_close_in_close(void)
{
    run_scenario(AT_CLOSE, ACT_CLOSE, "connect close act");
}

void test_destroy_in_close(void)
{
    run_scenario(AT_CLOSE, ACT_DESTROY, "connect close act");
}

/* ---- Destroying another connection ---------------------------------------- */

static wm_conn_t *conn_a, *conn_b;
static bool chain; /* B's on_close destroys A */

static void other_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    if (!conn_a)
        conn_a = c;
    else
        conn_b = c;
}

static void other_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_log("msg(%s:%.*s)", c == conn_a ? "A" : "B", (int)m->len, m->data);
    if (c == conn_a && m->len == 4 && memcmp(m->data, "kill", 4) == 0) {
        wm_conn_destroy(conn_b);
        ASSERT_EQ(wm_conn_send(conn_b, "x", 1), WM_ENOTCONN);
        if (chain) {
            ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
            ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
            return;
        }
    }
    ASSERT(wm_conn_send(c, m->data, m->len) >= 0);
}

static void other_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    tu_log("close(%s)", c == conn_a ? "A" : "B");
    if (chain && c == conn_b)
        wm_conn_destroy(conn_a);
}

static void run_destroy_other(bool with_chain)
{
    chain = with_chain;
    wm_worker_t *w = wm_worker_new("text://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_connect(w, other_connect, NULL);
    wm_worker_on_message(w, other_message, NULL);
    wm_worker_on_close(w, other_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    tu_raw_t *a = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 1, 2000);
    tu_raw_t *b = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, 2, 2000);
    ASSERT(conn_a && conn_b);
    tu_raw_write(a, "kill\n", 5);
    tu_run_until(tu_raw_pred_eof, b, 3000, "B's peer to see the close");
    if (with_chain) {
        tu_run_until(tu_raw_pred_eof, a, 3000, "A's peer to see the close");
        ASSERT_STR_EQ(tu_log_text(), "msg(A:kill) close(B) close(A)");
        ASSERT_EQ(a->received, 0);
    } else {
        /* A lives on and still echoes. */
        tu_raw_write(a, "ping\n", 5);
        tu_raw_wait_bytes(a, 10, 3000);
        ASSERT_MEM_EQ(a->in, "kill\nping\n", 10);
        ASSERT_STR_EQ(tu_log_text(), "msg(A:kill) close(B) msg(A:ping)");
        ASSERT_EQ(wm_worker_conn_count(w), 1);
    }
    tu_raw_free(a);
    tu_raw_free(b);
    wm_worker_free(w);
    ASSERT_EQ(tu_check_each_closed_once(), 2);
    WM_TEST_CLEAN();
}

void test_destroy_other(void)
{
    run_destroy_other(false);
}

void test_destroy_chain_in_close(void)
{
    run_destroy_other(true);
}

/* ---- The peer ends it ------------------------------------------------------- */

static void peer_end(bool reset, bool queued)
{
    g_at = (act_at_t)-1;
    wm_worker_t *w = acting_worker("text://127.0.0.1:0");
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 4096), false);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    if (queued) {
        /* Leave data in the kernel and in wm's queue, unread. */
        ASSERT(wm_timer_add(0, false, fill_tick, s, NULL) != 0);
        tu_run_for(20);
        ASSERT_EQ(fill_rc, WM_ENOBUFS);
    }
    tu_raw_close(r, reset);
    tu_run_until(pred_one_close, NULL, 5000, "on_close after the peer went away");
    tu_run_for(30);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_close_by_peer(void)
{
    peer_end(false, false);
    ASSERT_STR_EQ(tu_log_text(), "connect close");
}

void test_close_by_peer_queued(void)
{
    peer_end(false, true);
}

void test_close_by_reset(void)
{
    peer_end(true, false);
}

void test_close_by_reset_queued(void)
{
    peer_end(true, true);
}

/* ---- Teardown: worker stop and loop free --------------------------------- */

static int worker_stops, cli_closes, frees;

static void count_worker_stop(wm_worker_t *w, void *ud)
{
    worker_stops++;
}

static void cli_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    cli_closes++;
}

static void count_free(void *ud)
{
    frees++;
}

static void stop_worker(wm_timer_id_t id, void *w)
{
    wm_worker_stop(w);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
}

static bool pred_connected(void *c)
{
    return wm_conn_state(c) == WM_CONN_ESTABLISHED;
}

static wm_conn_t *client_to(wm_worker_t *w)
{
    wm_conn_t *c = wm_conn_new(tu_url(0, "text", "127.0.0.1", w));
    ASSERT(c != NULL);
    wm_conn_on_close(c, cli_close, NULL);
    wm_conn_set_user_data(c, NULL, count_free);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_run_until(pred_connected, c, 2000, "the client to connect");
    tu_note_open(c);
    return c;
}

void test_close_worker_stop(void)
{
    g_at = (act_at_t)-1;
    wm_worker_t *w = acting_worker("text://127.0.0.1:0");
    wm_worker_on_worker_stop(w, count_worker_stop, NULL);
    tu_raw_t *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    client_to(w);
    tu_wait_accept(w, 4, 2000);
    ASSERT(wm_timer_add(0, false, stop_worker, w, NULL) != 0);
    tu_run_for(10);
    ASSERT_EQ(worker_stops, 1);
    for (int i = 0; i < 3; i++)
        tu_run_until(tu_raw_pred_eof, r[i], 3000, "each peer to see the close");
    tu_wait_count(&cli_closes, 1, 3000, "the client's on_close");
    tu_run_for(20);
    /* Four server connections and the client, each closed once. */
    ASSERT_EQ(tu_check_each_closed_once(), 5);
    ASSERT_EQ(frees, 1);
    wm_worker_stop(w); /* idempotent */
    ASSERT_EQ(worker_stops, 1);
    ASSERT_EQ(tu_total_closes(), 5);
    for (int i = 0; i < 3; i++)
        tu_raw_free(r[i]);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void refused_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    tu_log("refused-close");
    ASSERT_EQ(wm_conn_reconnect(c, 60000), WM_OK);
}

static wm_conn_t *found;

static void by_peer_port(wm_conn_t *c, void *ud)
{
    if (wm_conn_remote_port(c) == *(uint16_t *)ud)
        found = c;
}

static wm_conn_t *server_side_of(wm_worker_t *w, int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    uint16_t port = ntohs(sin.sin_port);
    found = NULL;
    wm_worker_foreach_conn(w, by_peer_port, &port);
    ASSERT(found != NULL);
    return found;
}

void test_close_loop_free(void)
{
    g_at = (act_at_t)-1;
    wm_worker_t *w = acting_worker("text://127.0.0.1:0");
    /* Plain sockets, not raw peers: their events would outlive the loop. */
    int fd1 = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0);
    int fd2 = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 4096);
    client_to(w);
    tu_wait_accept(w, 3, 2000);

    /* fd2's server side is closing with an unflushed queue. */
    wm_conn_t *s2 = server_side_of(w, fd2);
    ASSERT(wm_timer_add(0, false, fill_tick, s2, NULL) != 0);
    tu_run_for(20);
    ASSERT_EQ(fill_rc, WM_ENOBUFS);
    ASSERT_EQ(wm_conn_close(s2), WM_OK);
    ASSERT_EQ(wm_conn_state(s2), WM_CONN_CLOSING);

    /* An outgoing connection that failed and waits a minute to reconnect. */
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)tu_closed_port());
    wm_conn_t *c2 = wm_conn_new(url);
    ASSERT(c2 != NULL);
    wm_conn_on_close(c2, refused_close, NULL);
    wm_conn_set_user_data(c2, NULL, count_free);
    ASSERT_EQ(wm_conn_connect(c2), WM_OK);
    tu_run_until(pred_one_close, NULL, 3000, "the refused connect");
    ASSERT_EQ(tu_total_closes(), 1);
    ASSERT_EQ(frees, 0);

    wm_loop_free();
    /* Every open connection closed once: three server sides and the client;
     * the one waiting to reconnect had its on_close already. Both outgoing
     * connections were freed (their user data destructors ran). */
    ASSERT_EQ(tu_check_each_closed_once(), 5);
    ASSERT_EQ(cli_closes, 1);
    ASSERT_EQ(frees, 2);
    close(fd1);
    close(fd2);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- The message stays readable after closing in on_message ---------------- */

/* conn.h: the message is borrowed "until the on_message callback returns",
 * and the connection may be closed or destroyed inside the callback; so the
 * bytes must survive a close made before the handler is done with them. */
static int msg_checked;
static int close_how; /* 0 close, 1 destroy, 2 stop the worker */

static void read_after_close(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    static char want[3000];
    tu_pattern_fill(want, 0, sizeof(want));
    ASSERT_EQ(m->len, sizeof(want));
    if (close_how == 0)
        ASSERT_EQ(wm_conn_close(c), WM_OK);
    else if (close_how == 1)
        wm_conn_destroy(c);
    else
        wm_worker_stop(wm_conn_worker(c));
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
    ASSERT_MEM_EQ(m->data, want, sizeof(want));
    msg_checked++;
}

static void run_read_after_close(int how)
{
    close_how = how;
    g_at = (act_at_t)-1;
    wm_worker_t *w = wm_worker_new("frame://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_connect(w, s_connect, NULL);
    wm_worker_on_message(w, read_after_close, NULL);
    wm_worker_on_close(w, s_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    static char frame[3004];
    frame[2] = (char)(sizeof(frame) >> 8);
    frame[3] = (char)(sizeof(frame) & 0xff);
    tu_pattern_fill(frame + 4, 0, 3000);
    tu_raw_write(r, frame, sizeof(frame));
    tu_run_until(tu_raw_pred_eof, r, 3000, "the server to close");
    tu_run_for(10);
    ASSERT_STR_EQ(tu_log_text(), "connect close");
    ASSERT_EQ(msg_checked, 1);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_message_after_close(void)
{
    run_read_after_close(0);
}

void test_message_after_destroy(void)
{
    run_read_after_close(1);
}

void test_message_after_worker_stop(void)
{
    run_read_after_close(2);
}

/* A graceful close that is still flushing when the peer resets. */
void test_close_flush_then_reset(void)
{
    g_at = (act_at_t)-1;
    wm_worker_t *w = acting_worker("text://127.0.0.1:0");
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 4096), false);
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    ASSERT(wm_timer_add(0, false, fill_tick, s, NULL) != 0);
    tu_run_for(20);
    ASSERT_EQ(fill_rc, WM_ENOBUFS);
    ASSERT_EQ(wm_conn_close(s), WM_OK);
    ASSERT_EQ(wm_conn_state(s), WM_CONN_CLOSING);
    tu_run_for(20);
    ASSERT_EQ(tu_total_closes(), 0);
    tu_raw_close(r, true);
    tu_run_until(pred_one_close, NULL, 5000, "on_close after the reset");
    tu_run_for(30);
    ASSERT_STR_EQ(tu_log_text(), "connect full error(ENOBUFS) close");
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}
