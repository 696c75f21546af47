/* SPDX-License-Identifier: MIT */
/* wm_tls_tests: the TLS transport (tls.h) against itself and against real
 * peers (openssl s_client and s_server). tls_test.sh makes a test CA, a
 * localhost/127.0.0.1 leaf and a second, unrelated CA with the openssl CLI
 * and passes their folder in WM_TLS_DIR; run through it, not directly. The
 * loop helpers and raw sockets come from the connection tests
 * (tests/libwm_conn/conn_util.h). */
#include "conn_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define BIG (4u * 1024 * 1024)
#define SMALL_BUF (64 * 1024)

static char cert[512], key[512], ca[512], other_ca[512];

static void paths(void)
{
    const char *d = getenv("WM_TLS_DIR");
    if (!d)
        WM_TEST_FAIL("WM_TLS_DIR is not set: run tests/libwm_tls/tls_test.sh");
    snprintf(cert, sizeof cert, "%s/server.crt", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.crt", d);
    snprintf(other_ca, sizeof other_ca, "%s/other-ca.crt", d);
}

/* ---- an echo worker over TLS, with backpressure -------------------------- */

static int server_errors, server_closes, server_fulls;

static void echo_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    wm_conn_send(c, m->data, m->len);
}
static void echo_full(wm_conn_t *c, void *ud)
{
    server_fulls++;
    wm_conn_pause_recv(c);
}
static void echo_drain(wm_conn_t *c, void *ud)
{
    wm_conn_resume_recv(c);
}
static void srv_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    server_errors++;
    tu_log("srv_error:%s", tu_errname(err));
}
static void srv_close(wm_conn_t *c, void *ud)
{
    server_closes++;
}

static wm_worker_t *tls_echo_worker(const char *url, size_t max_send)
{
    paths();
    wm_worker_t *w = wm_worker_new(url);
    ASSERT(w != NULL);
    ASSERT_EQ(wm_worker_set_tls(w, cert, key), WM_OK);
    ASSERT(wm_worker_is_tls(w));
    if (max_send)
        wm_worker_set_max_send_buffer(w, max_send);
    wm_worker_on_message(w, echo_msg, NULL);
    wm_worker_on_buffer_full(w, echo_full, NULL);
    wm_worker_on_buffer_drain(w, echo_drain, NULL);
    wm_worker_on_error(w, srv_error, NULL);
    wm_worker_on_close(w, srv_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

/* ---- a client that records what happens ---------------------------------- */

typedef struct client {
    wm_conn_t *c;
    int connects, closes, errors, last_err;
    char reason[400];
    tu_msgs_t msgs;
    const char *send_on_connect;
} client_t;

static void cl_connect(wm_conn_t *c, void *ud)
{
    client_t *k = ud;
    k->connects++;
    if (k->send_on_connect)
        ASSERT_GE(wm_conn_send(c, k->send_on_connect, strlen(k->send_on_connect)), 0);
}
static void cl_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&((client_t *)ud)->msgs, m->data, m->len);
}
static void cl_error(wm_conn_t *c, int err, const char *reason, void *ud)
{
    client_t *k = ud;
    k->errors++;
    k->last_err = err;
    snprintf(k->reason, sizeof k->reason, "%s", reason);
}
static void cl_close(wm_conn_t *c, void *ud)
{
    ((client_t *)ud)->closes++;
}

static void client_init(client_t *k, const char *url, const wm_tls_client_opts_t *o)
{
    memset(k, 0, sizeof *k);
    k->c = wm_conn_new(url);
    ASSERT(k->c != NULL);
    if (o)
        ASSERT_EQ(wm_conn_set_tls(k->c, o), WM_OK);
    ASSERT(wm_conn_is_tls(k->c));
    wm_conn_on_connect(k->c, cl_connect, k);
    wm_conn_on_message(k->c, cl_message, k);
    wm_conn_on_error(k->c, cl_error, k);
    wm_conn_on_close(k->c, cl_close, k);
}

static bool pred_msgs(void *arg)
{
    client_t *k = arg;
    return k->msgs.n > 0;
}

static bool pred_closed(void *arg)
{
    return ((client_t *)arg)->closes > 0;
}

/* ---- cases: wm with wm ------------------------------------------------------ */

static void run_echo(const char *srv_url, const char *cl_scheme)
{
    wm_worker_t *w = tls_echo_worker(srv_url, 0);
    paths();
    wm_tls_client_opts_t o = {ca, NULL, false};
    client_t k;
    client_init(&k, tu_url(1, cl_scheme, "127.0.0.1", w), &o);
    k.send_on_connect = "hello over tls";
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    ASSERT_EQ(wm_conn_state(k.c), WM_CONN_CONNECTING);
    tu_run_until(pred_msgs, &k, 5000, "the echo");
    ASSERT_EQ(k.connects, 1);
    ASSERT_EQ(k.msgs.n, 1);
    ASSERT_EQ(k.msgs.len[0], strlen("hello over tls"));
    ASSERT_MEM_EQ(k.msgs.data[0], "hello over tls", k.msgs.len[0]);
    ASSERT(wm_conn_tls_version(k.c) != NULL);
    ASSERT_STR_EQ(wm_conn_tls_version(k.c), "TLSv1.3");
    /* Plaintext bytes: the message and its framing (text: "\n", frame: a
     * 4-byte length). */
    size_t framing = strstr(cl_scheme, "text") ? 1 : strstr(cl_scheme, "frame") ? 4 : 0;
    ASSERT_EQ(wm_conn_bytes_written(k.c), strlen("hello over tls") + framing);
    wm_conn_close(k.c);
    tu_run_until(pred_closed, &k, 5000, "the client's close");
    tu_wait_count(&server_closes, 1, 5000, "the server's close");
    ASSERT_EQ(k.errors, 0);
    ASSERT_EQ(server_errors, 0);
    tu_msgs_clear(&k.msgs);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void test_echo_text(void)
{
    run_echo("text://127.0.0.1:0", "text");
}

static void test_echo_frame_url(void)
{
    run_echo("frame+tls://127.0.0.1:0", "frame+tls");
}

static void test_tls_url_needs_cert(void)
{
    wm_worker_t *w = wm_worker_new("text+tls://127.0.0.1:0");
    ASSERT(w != NULL);
    ASSERT_EQ(wm_worker_listen(w), WM_ETLS);
    ASSERT_EQ(wm_worker_set_tls(w, "/nonexistent.crt", "/nonexistent.key"), WM_ETLS);
    paths();
    ASSERT_EQ(wm_worker_set_tls(w, cert, ca), WM_ETLS); /* not a key */
    ASSERT(!wm_worker_is_tls(w));
    wm_worker_free(w);
    wm_worker_t *u = wm_worker_new("udp://127.0.0.1:0");
    ASSERT_EQ(wm_worker_set_tls(u, cert, key), WM_EINVAL);
    wm_worker_free(u);
    wm_conn_t *c = wm_conn_new("text://127.0.0.1:1");
    wm_tls_client_opts_t o = {"/nonexistent-ca.crt", NULL, false};
    ASSERT_EQ(wm_conn_set_tls(c, &o), WM_ETLS);
    ASSERT(!wm_conn_is_tls(c));
    ASSERT(wm_conn_tls_version(c) == NULL);
    wm_conn_destroy(c);
    WM_TEST_CLEAN();
}

/* ---- verification ---------------------------------------------------------------- */

static void expect_verify_fail(wm_worker_t *w, const char *url, const wm_tls_client_opts_t *o,
                               const char *want)
{
    client_t k;
    client_init(&k, url, o);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    tu_run_until(pred_closed, &k, 5000, "the failed handshake's close");
    ASSERT_EQ(k.connects, 0);
    ASSERT_EQ(k.errors, 1);
    ASSERT_EQ(k.last_err, WM_ETLS);
    if (!strstr(k.reason, want))
        WM_TEST_FAIL("reason \"%s\" lacks \"%s\"", k.reason, want);
}

static void test_verify(void)
{
    wm_worker_t *w = tls_echo_worker("text://127.0.0.1:0", 0);
    wm_tls_client_opts_t wrong_ca = {other_ca, NULL, false};
    expect_verify_fail(w, tu_url(0, "text", "127.0.0.1", w), &wrong_ca,
                       "unable to get local issuer certificate");
    wm_tls_client_opts_t wrong_name = {ca, "wrong.example", false};
    expect_verify_fail(w, tu_url(0, "text", "127.0.0.1", w), &wrong_name, "hostname mismatch");
    wm_tls_client_opts_t wrong_ip = {ca, "127.0.0.2", false};
    expect_verify_fail(w, tu_url(0, "text", "127.0.0.1", w), &wrong_ip, "IP address mismatch");
    /* A +tls URL verifies by default, against the system store. */
    expect_verify_fail(w, tu_url(0, "text+tls", "127.0.0.1", w), NULL, "verification failed");
    tu_wait_count(&server_closes, 4, 5000, "the server side of the failed handshakes");

    /* By name (SNI + host check) it works; so does the explicit opt-out. */
    wm_tls_client_opts_t by_name = {ca, "localhost", false};
    wm_tls_client_opts_t skip = {other_ca, "wrong.example", true};
    const wm_tls_client_opts_t *good[] = {&by_name, &skip};
    for (int i = 0; i < 2; i++) {
        client_t k;
        client_init(&k, tu_url(1, "text", "127.0.0.1", w), good[i]);
        k.send_on_connect = "ok";
        ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
        tu_run_until(pred_msgs, &k, 5000, "the echo");
        ASSERT_EQ(k.errors, 0);
        ASSERT_MEM_EQ(k.msgs.data[0], "ok", 2);
        wm_conn_destroy(k.c);
        tu_msgs_clear(&k.msgs);
        ASSERT_EQ(k.closes, 1);
    }
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- a plain client on a TLS worker --------------------------------------------- */

static void test_garbage_handshake(void)
{
    wm_worker_t *w = tls_echo_worker("text://127.0.0.1:0", 0);
    wm_tls_client_opts_t o = {ca, NULL, false};
    client_t good;
    client_init(&good, tu_url(0, "text", "127.0.0.1", w), &o);
    ASSERT_EQ(wm_conn_connect(good.c), WM_OK);
    tu_wait_count(&good.connects, 1, 5000, "the TLS client's handshake");

    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    const char *junk = "GET / HTTP/1.0\r\n\r\n";
    tu_raw_write(r, junk, strlen(junk));
    tu_run_until(tu_raw_pred_eof, r, 5000, "the TLS worker to close the plain client");
    tu_wait_count(&server_errors, 1, 5000, "the server's on_error");
    if (!strstr(tu_log_text(), "srv_error:"))
        WM_TEST_FAIL("log: %s", tu_log_text());
    tu_raw_free(r);

    /* The other connection did not notice. */
    ASSERT_EQ(wm_conn_send(good.c, "still here", 10), WM_SENT);
    tu_run_until(pred_msgs, &good, 5000, "the echo after the garbage");
    ASSERT_MEM_EQ(good.msgs.data[0], "still here", 10);
    ASSERT_EQ(good.errors, 0);
    ASSERT_EQ(wm_worker_conn_count(w), 1);
    wm_conn_destroy(good.c);
    tu_msgs_clear(&good.msgs);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* A client that connects and never starts its handshake is closed after the
 * worker's handshake timeout; a working client is not disturbed. */
static void test_silent_client_times_out(void)
{
    wm_worker_t *w = tls_echo_worker("text://127.0.0.1:0", 0);
    wm_worker_set_tls_handshake_timeout(w, 200);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    uint64_t t0 = wm_now_ms();
    tu_run_until(tu_raw_pred_eof, r, 5000, "the TLS worker to close the silent client");
    uint64_t took = wm_now_ms() - t0;
    ASSERT_GE(took, 150);
    ASSERT_LT(took, 2000);
    ASSERT_EQ(r->received, 0);
    tu_wait_count(&server_errors, 1, 5000, "the server's on_error");
    if (!strstr(tu_log_text(), "srv_error:ETIMEDOUT"))
        WM_TEST_FAIL("log: %s", tu_log_text());
    tu_raw_free(r);
    ASSERT_EQ(wm_worker_conn_count(w), 0);

    /* A real client on the same worker completes and keeps its connection
     * past the timeout. */
    wm_tls_client_opts_t o = {ca, NULL, false};
    client_t good;
    client_init(&good, tu_url(0, "text", "127.0.0.1", w), &o);
    ASSERT_EQ(wm_conn_connect(good.c), WM_OK);
    tu_wait_count(&good.connects, 1, 5000, "the TLS client's handshake");
    tu_run_for(400);
    ASSERT_EQ(wm_conn_send(good.c, "still here", 10), WM_SENT);
    tu_run_until(pred_msgs, &good, 5000, "the echo after the timeout");
    ASSERT_EQ(good.errors, 0);
    wm_conn_destroy(good.c);
    tu_msgs_clear(&good.msgs);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- large transfers, both ways, with small send buffers ------------------------ */

typedef struct pump {
    wm_conn_t *c;
    uint64_t sent, received;
    int64_t bad_at;
    int fulls, drains;
    bool closed;
    char chunk[16 * 1024];
} pump_t;

static void pump_more(pump_t *p)
{
    while (p->sent < BIG && wm_conn_send_queue(p->c) < SMALL_BUF) {
        size_t n = BIG - p->sent < sizeof p->chunk ? BIG - p->sent : sizeof p->chunk;
        tu_pattern_fill(p->chunk, p->sent, n);
        int rc = wm_conn_send_raw(p->c, p->chunk, n);
        ASSERT(rc == WM_SENT || rc == WM_QUEUED);
        p->sent += n;
    }
}
/* The socket under `c` (the API does not expose it): the one whose local
 * port is c's. Test-only, to fix its buffer sizes. */
static int conn_fd(wm_conn_t *c)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        if (getsockname(fd, (struct sockaddr *)&a, &len) == 0 && a.sin_family == AF_INET &&
            ntohs(a.sin_port) == wm_conn_local_port(c)) {
            int type = 0;
            socklen_t tl = sizeof type;
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
            struct sockaddr_in peer;
            len = sizeof peer;
            if (type == SOCK_STREAM && getpeername(fd, (struct sockaddr *)&peer, &len) == 0 &&
                ntohs(peer.sin_port) == wm_conn_remote_port(c))
                return fd;
        }
    }
    WM_TEST_FAIL("no socket for connection %llu", (unsigned long long)wm_conn_id(c));
}

/* Small fixed kernel buffers (no autotuning): loopback would otherwise
 * absorb all 4 MiB and no send queue would ever fill. */
static void small_kernel_buffers(wm_conn_t *c)
{
    int fd = conn_fd(c), sz = 32 * 1024;
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
}

/* Resumes reading once the server's send buffer has filled (or after 20 s:
 * the test then fails on server_fulls). A condition, not a fixed pause: on
 * a loaded machine the server may need far longer to get there. */
static void pump_resume_when_server_full(wm_timer_id_t id, void *ud)
{
    static int ticks;
    if (server_fulls == 0 && ++ticks < 2000)
        return;
    wm_timer_del(id);
    wm_conn_resume_recv(((pump_t *)ud)->c);
}
/* The client reads nothing for a while, so the server's echo backs up into
 * its own (small) send buffer as well: both sides hit full and drain. */
static void pump_connect(wm_conn_t *c, void *ud)
{
    small_kernel_buffers(c);
    wm_conn_pause_recv(c);
    ASSERT(wm_timer_add(10, true, pump_resume_when_server_full, ud, NULL) != 0);
    pump_more(ud);
}
static void pump_full(wm_conn_t *c, void *ud)
{
    ((pump_t *)ud)->fulls++;
}
static void pump_drain(wm_conn_t *c, void *ud)
{
    ((pump_t *)ud)->drains++;
    pump_more(ud);
}
static void pump_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    pump_t *p = ud;
    for (size_t i = 0; i < m->len && p->bad_at < 0; i++)
        if ((uint8_t)m->data[i] != tu_pattern(p->received + i))
            p->bad_at = (int64_t)(p->received + i);
    p->received += m->len;
}
static void pump_close(wm_conn_t *c, void *ud)
{
    ((pump_t *)ud)->closed = true;
}
static bool pred_pumped(void *arg)
{
    pump_t *p = arg;
    return p->received >= BIG || p->closed;
}

static void test_large_both_ways(void)
{
    wm_worker_t *w = tls_echo_worker("tcp://127.0.0.1:0", SMALL_BUF);
    static pump_t p;
    p.bad_at = -1;
    p.c = wm_conn_new(tu_url(0, "tcp", "127.0.0.1", w));
    wm_tls_client_opts_t o = {ca, NULL, false};
    ASSERT_EQ(wm_conn_set_tls(p.c, &o), WM_OK);
    wm_conn_set_max_send_buffer(p.c, SMALL_BUF);
    wm_conn_on_connect(p.c, pump_connect, &p);
    wm_conn_on_buffer_full(p.c, pump_full, &p);
    wm_conn_on_buffer_drain(p.c, pump_drain, &p);
    wm_conn_on_message(p.c, pump_msg, &p);
    wm_conn_on_close(p.c, pump_close, &p);
    ASSERT_EQ(wm_conn_connect(p.c), WM_OK);
    tu_run_until(pred_pumped, &p, 30000, "4 MiB echoed over TLS");
    ASSERT(!p.closed);
    ASSERT_EQ(p.bad_at, -1);
    ASSERT_EQ(p.received, BIG);
    ASSERT_EQ(wm_conn_bytes_written(p.c), BIG);
    ASSERT_EQ(wm_conn_bytes_read(p.c), BIG);
    ASSERT_GT(p.fulls, 0);
    ASSERT_EQ(p.drains, p.fulls);
    ASSERT_GT(server_fulls, 0);
    ASSERT_EQ(server_errors, 0);
    wm_conn_destroy(p.c);
    ASSERT(p.closed);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- pause/resume, close after flush ------------------------------------------------ */

static wm_conn_t *burst_conn;
static void burst_on_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    for (int i = 0; i < 3; i++)
        wm_conn_send(c, "m", 1);
    /* close_with: everything above plus a 1 MiB goodbye goes out, then
     * close_notify, then the close. */
    if (m->len == 5 && memcmp(m->data, "close", 5) == 0) {
        static char big[1024 * 1024];
        memset(big, 'z', sizeof big);
        ASSERT_EQ(wm_conn_close_with(c, big, sizeof big), WM_OK);
    }
}
static void burst_on_connect(wm_conn_t *c, void *ud)
{
    burst_conn = c;
}

static void test_pause_resume_close_after_flush(void)
{
    paths();
    wm_worker_t *w = wm_worker_new("frame://127.0.0.1:0");
    ASSERT_EQ(wm_worker_set_tls(w, cert, key), WM_OK);
    wm_worker_on_message(w, burst_on_message, NULL);
    wm_worker_on_connect(w, burst_on_connect, NULL);
    wm_worker_on_error(w, srv_error, NULL);
    wm_worker_on_close(w, srv_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    wm_tls_client_opts_t o = {ca, "localhost", false};
    client_t k;
    client_init(&k, tu_url(0, "frame", "localhost", w), &o);
    wm_conn_pause_recv(k.c); /* before connecting: the handshake still runs */
    ASSERT_EQ(wm_conn_send(k.c, "go", 2), WM_QUEUED);
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    tu_wait_count(&k.connects, 1, 5000, "the handshake while paused");
    tu_run_for(200);
    ASSERT_EQ(k.msgs.n, 0);
    ASSERT_EQ(wm_conn_state(burst_conn), WM_CONN_ESTABLISHED);
    wm_conn_resume_recv(k.c);
    tu_run_until(pred_msgs, &k, 5000, "messages after resume");
    tu_run_for(50);
    ASSERT_EQ(k.msgs.n, 3);

    ASSERT_EQ(wm_conn_send(k.c, "close", 5), WM_SENT);
    tu_run_until(pred_closed, &k, 5000, "the close after the flush");
    ASSERT_EQ(k.msgs.n, 7);
    ASSERT_EQ(k.msgs.len[6], 1024 * 1024);
    ASSERT_EQ(k.errors, 0);
    tu_wait_count(&server_closes, 1, 5000, "the server's close");
    ASSERT_EQ(server_errors, 0);
    tu_msgs_clear(&k.msgs);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- real peers: openssl s_client and s_server ---------------------------------------- */

typedef struct child {
    pid_t pid;
    int in, out; /* its stdin (we write), its stdout (we read, nonblocking) */
    char buf[4096];
    size_t len;
} child_t;

static void child_spawn(child_t *ch, char *const argv[])
{
    int pin[2], pout[2];
    ASSERT_EQ(pipe(pin), 0);
    ASSERT_EQ(pipe(pout), 0);
    ch->pid = fork();
    ASSERT(ch->pid >= 0);
    if (ch->pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    ch->in = pin[1];
    ch->out = pout[0];
    fcntl(ch->out, F_SETFL, O_NONBLOCK);
    ch->len = 0;
}

static bool child_pred_has(void *arg)
{
    child_t *ch = arg;
    ssize_t n = read(ch->out, ch->buf + ch->len, sizeof ch->buf - 1 - ch->len);
    if (n > 0)
        ch->len += (size_t)n;
    ch->buf[ch->len] = '\0';
    return strchr(ch->buf, '\n') != NULL;
}

static void child_kill(child_t *ch, int sig)
{
    kill(ch->pid, sig);
    int st;
    waitpid(ch->pid, &st, 0);
    close(ch->in);
    close(ch->out);
}

static void test_s_client_to_worker(void)
{
    wm_worker_t *w = tls_echo_worker("text://127.0.0.1:0", 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", wm_worker_port(w));
    char *argv[] = {"openssl", "s_client", "-connect", addr, "-CAfile", ca, "-verify_return_error",
                    "-quiet",  "-ign_eof", NULL};
    child_t ch;
    child_spawn(&ch, argv);
    ASSERT_EQ(write(ch.in, "ping from s_client\n", 19), 19);
    tu_run_until(child_pred_has, &ch, 10000, "s_client to print the echo");
    ASSERT_STR_EQ(ch.buf, "ping from s_client\n");
    ASSERT_EQ(wm_worker_conn_count(w), 1);
    /* SIGKILL: the kernel closes its socket with no close_notify. That is a
     * normal close for us, not an error. */
    child_kill(&ch, SIGKILL);
    tu_wait_count(&server_closes, 1, 5000, "the worker's close");
    ASSERT_EQ(server_errors, 0);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static bool child_pred_accept(void *arg)
{
    child_t *ch = arg;
    child_pred_has(arg);
    return strstr(ch->buf, "ACCEPT\n") != NULL;
}

static void test_client_to_s_server(void)
{
    paths();
    uint16_t port = tu_closed_port();
    char addr[64], url[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    char *argv[] = {"openssl", "s_server", "-accept", addr,   "-cert",
                    cert,      "-key",     key,       "-rev", NULL};
    child_t ch;
    child_spawn(&ch, argv);
    tu_run_until(child_pred_accept, &ch, 10000, "s_server to listen");
    snprintf(url, sizeof url, "text://localhost:%u", port);
    wm_tls_client_opts_t o = {ca, NULL, false}; /* name from the URL: localhost */
    client_t k;
    client_init(&k, url, &o);
    k.send_on_connect = "hello s_server";
    ASSERT_EQ(wm_conn_connect(k.c), WM_OK);
    tu_run_until(pred_msgs, &k, 10000, "s_server's reversed line");
    ASSERT_EQ(k.msgs.len[0], 14);
    ASSERT_MEM_EQ(k.msgs.data[0], "revres_s olleh", 14);
    ASSERT_EQ(k.errors, 0);
    /* s_server dies without close_notify: a normal close. */
    child_kill(&ch, SIGKILL);
    tu_run_until(pred_closed, &k, 5000, "the close after s_server died");
    ASSERT_EQ(k.errors, 0);
    tu_msgs_clear(&k.msgs);
    WM_TEST_CLEAN();
}

static const wm_test_case_t cases[] = {
    {"echo_text", test_echo_text},
    {"echo_frame_url", test_echo_frame_url},
    {"tls_url_needs_cert", test_tls_url_needs_cert},
    {"verify", test_verify},
    {"garbage_handshake", test_garbage_handshake},
    {"silent_client_times_out", test_silent_client_times_out},
    {"large_both_ways", test_large_both_ways},
    {"pause_resume_close_after_flush", test_pause_resume_close_after_flush},
    {"s_client_to_worker", test_s_client_to_worker},
    {"client_to_s_server", test_client_to_s_server},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
