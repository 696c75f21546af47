/* SPDX-License-Identifier: MIT */
/* Echo over every stream transport and built-in protocol: tcp, text and
 * frame on IPv4, tcp on IPv6, raw and text over unix sockets, and several
 * workers in one process. Each round trip runs twice: once with a wm client
 * (whose sends coalesce in the kernel, so the server must split them), and
 * once with a raw socket that trickles exact wire bytes one at a time and
 * checks the exact wire bytes that come back, so framing is checked against
 * the protocol's definition and not only against wm's own decoder. */
#include "conn_util.h"

#include <event2/buffer.h>

typedef enum proto_kind { P_TCP, P_TEXT, P_FRAME } proto_kind_t;

typedef struct echo_spec {
    const char *server_url;    /* what the worker listens on */
    const char *client_scheme; /* scheme of the wm client */
    const char *host;          /* "127.0.0.1", "[::1]", or NULL for unix */
    const char *raw_ip;        /* address for the raw socket */
    const char *unix_path;     /* set for unix sockets */
    proto_kind_t kind;
} echo_spec_t;

static tu_msgs_t srv_msgs, cli_msgs;
static bool cli_closed;
static char srv_remote_ip[64], srv_remote_addr[80], srv_local_ip[128];
static uint16_t srv_local_port, srv_remote_port;

/* ---- The server side --------------------------------------------------- */

static void srv_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    snprintf(srv_remote_ip, sizeof(srv_remote_ip), "%s", wm_conn_remote_ip(c));
    snprintf(srv_remote_addr, sizeof(srv_remote_addr), "%s", wm_conn_remote_address(c));
    snprintf(srv_local_ip, sizeof(srv_local_ip), "%s", wm_conn_local_ip(c));
    srv_local_port = wm_conn_local_port(c);
    srv_remote_port = wm_conn_remote_port(c);
}

static void srv_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&srv_msgs, m->data, m->len);
    int rc = wm_conn_send(c, m->data, m->len);
    if (rc != WM_SENT && rc != WM_QUEUED)
        WM_TEST_FAIL("server echo: %s", tu_errname(rc));
}

static void srv_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
}

static wm_worker_t *recording_echo_worker(const char *url)
{
    wm_worker_t *w = wm_worker_new(url);
    if (!w)
        WM_TEST_FAIL("wm_worker_new(%s) returned NULL", url);
    wm_worker_on_connect(w, srv_connect, NULL);
    wm_worker_on_message(w, srv_message, NULL);
    wm_worker_on_close(w, srv_close, NULL);
    int rc = wm_worker_start(w);
    if (rc != WM_OK)
        WM_TEST_FAIL("wm_worker_start(%s): %s", url, wm_strerror(rc));
    return w;
}

/* ---- Messages per protocol --------------------------------------------- */

#define N_MSGS 5
static char big_msg[70000];
static const char *msg_data[N_MSGS];
static size_t msg_len[N_MSGS];

static void make_messages(proto_kind_t kind)
{
    tu_pattern_fill(big_msg, 0, sizeof(big_msg));
    if (kind == P_TEXT) /* a text message cannot hold a newline */
        for (size_t i = 0; i < sizeof(big_msg); i++)
            big_msg[i] = (char)('a' + (uint8_t)big_msg[i] % 26);
    msg_data[0] = "hello";
    msg_data[1] = "";
    msg_data[2] = "two words";
    msg_data[3] = big_msg;
    msg_data[4] = "last";
    for (int i = 0; i < N_MSGS; i++)
        msg_len[i] = i == 3 ? sizeof(big_msg) : strlen(msg_data[i]);
}

/* The wire bytes a raw client trickles, what the server must decode from
 * them, and the exact echo expected back. */
typedef struct raw_script {
    const char *wire;
    size_t wire_len;
    const char *msgs[4];
    size_t msg_lens[4];
    int n_msgs; /* -1: raw tcp, compare the concatenation only */
    const char *echo;
    size_t echo_len;
} raw_script_t;

static const raw_script_t raw_tcp = {"raw bytes, one at a time", 24, {0}, {0}, -1,
                                     "raw bytes, one at a time", 24};
static const raw_script_t raw_text = {
    "one\r\ntwo\n\nthree\n", 16, {"one", "two", "", "three"}, {3, 3, 0, 5}, 4,
    "one\ntwo\n\nthree\n",   15};
static const raw_script_t raw_frame = {
    "\0\0\0\6hi\0\0\0\4\0\0\0\7abc", 17, {"hi", "", "abc"}, {2, 0, 3}, 3,
    "\0\0\0\6hi\0\0\0\4\0\0\0\7abc", 17};

/* ---- The wm client ----------------------------------------------------- */

static void cli_connect(wm_conn_t *c, void *ud)
{
    proto_kind_t kind = *(proto_kind_t *)ud;
    tu_note_open(c);
    if (kind == P_TCP) {
        /* Raw bytes have no message boundaries: send the big block in pieces
         * and compare the byte stream. */
        for (size_t off = 0; off < sizeof(big_msg); off += 4096) {
            size_t n = sizeof(big_msg) - off < 4096 ? sizeof(big_msg) - off : 4096;
            int rc = wm_conn_send(c, big_msg + off, n);
            ASSERT(rc == WM_SENT || rc == WM_QUEUED);
        }
        return;
    }
    for (int i = 0; i < N_MSGS; i++) {
        int rc = wm_conn_send(c, msg_data[i], msg_len[i]);
        if (rc != WM_SENT && rc != WM_QUEUED)
            WM_TEST_FAIL("client send %d: %s", i, tu_errname(rc));
    }
}

static void cli_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&cli_msgs, m->data, m->len);
}

static void cli_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    cli_closed = true;
}

static bool pred_cli_done(void *arg)
{
    proto_kind_t kind = *(proto_kind_t *)arg;
    return kind == P_TCP ? cli_msgs.cat_len >= sizeof(big_msg) : cli_msgs.n >= N_MSGS;
}

static void client_url(char *buf, size_t size, const echo_spec_t *s, const wm_worker_t *w)
{
    if (s->unix_path)
        snprintf(buf, size, "%s://%s", s->client_scheme, s->unix_path);
    else
        snprintf(buf, size, "%s://%s:%u", s->client_scheme, s->host, wm_worker_port(w));
}

static void check_stream(const tu_msgs_t *m, const char *who)
{
    if (m->cat_len != sizeof(big_msg))
        WM_TEST_FAIL("%s: got %zu bytes, want %zu", who, m->cat_len, sizeof(big_msg));
    ASSERT_MEM_EQ(m->cat, big_msg, sizeof(big_msg));
}

static void run_wm_client(const echo_spec_t *s, wm_worker_t *w)
{
    static proto_kind_t kind;
    char url[256];
    kind = s->kind;
    client_url(url, sizeof(url), s, w);
    wm_conn_t *c = wm_conn_new(url);
    if (!c)
        WM_TEST_FAIL("wm_conn_new(%s) returned NULL", url);
    wm_conn_on_connect(c, cli_connect, &kind);
    wm_conn_on_message(c, cli_message, NULL);
    wm_conn_on_close(c, cli_close, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_run_until(pred_cli_done, &kind, 5000, "the echo to reach the wm client");
    if (s->kind == P_TCP) {
        check_stream(&srv_msgs, "server");
        check_stream(&cli_msgs, "client");
    } else {
        tu_msgs_expect(&srv_msgs, msg_data, msg_len, N_MSGS, "server");
        tu_msgs_expect(&cli_msgs, msg_data, msg_len, N_MSGS, "client");
    }
    ASSERT_EQ(wm_conn_close(c), WM_OK);
    tu_run_until(tu_pred_true, &cli_closed, 2000, "the client's on_close");
}

/* ---- The raw client ---------------------------------------------------- */

static bool pred_srv_closes(void *arg)
{
    return tu_total_closes() >= *(int *)arg;
}

static void run_raw_client(const echo_spec_t *s, wm_worker_t *w)
{
    const raw_script_t *sc = s->kind == P_TCP    ? &raw_tcp
                             : s->kind == P_TEXT ? &raw_text
                                                 : &raw_frame;
    int fd = s->unix_path ? tu_unix_connect(s->unix_path)
                          : tu_tcp_connect(s->raw_ip, wm_worker_port(w), 0);
    tu_raw_t *r = tu_raw_new(fd, true);
    tu_msgs_clear(&srv_msgs);
    tu_raw_trickle(r, sc->wire, sc->wire_len);
    tu_raw_wait_bytes(r, sc->echo_len, 5000);
    tu_run_until(tu_raw_trickle_done, r, 1000, "the trickle to end");
    if (sc->n_msgs < 0) {
        ASSERT_EQ(srv_msgs.cat_len, sc->wire_len);
        ASSERT_MEM_EQ(srv_msgs.cat, sc->wire, sc->wire_len);
    } else {
        tu_msgs_expect(&srv_msgs, sc->msgs, sc->msg_lens, sc->n_msgs, "server (raw client)");
    }
    tu_run_for(20); /* nothing beyond the expected echo may arrive */
    ASSERT_EQ(r->received, sc->echo_len);
    ASSERT_MEM_EQ(r->in, sc->echo, sc->echo_len);
    int want = tu_total_closes() + 1;
    tu_raw_close(r, false);
    tu_run_until(pred_srv_closes, &want, 2000, "the server's on_close after the peer closed");
    tu_raw_free(r);
}

static void run_echo(const echo_spec_t *s)
{
    make_messages(s->kind);
    if (s->unix_path)
        unlink(s->unix_path);
    wm_worker_t *w = recording_echo_worker(s->server_url);
    if (!s->unix_path)
        ASSERT_GT(wm_worker_port(w), 0);
    run_wm_client(s, w);
    run_raw_client(s, w);
    /* Noted: the wm client and the server's side of both clients. */
    ASSERT_EQ(tu_check_each_closed_once(), 3);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    wm_worker_free(w);
    tu_msgs_clear(&srv_msgs);
    tu_msgs_clear(&cli_msgs);
    if (s->unix_path)
        unlink(s->unix_path);
    WM_TEST_CLEAN();
}

void test_echo_tcp(void)
{
    echo_spec_t s = {"tcp://127.0.0.1:0", "tcp", "127.0.0.1", "127.0.0.1", NULL, P_TCP};
    run_echo(&s);
}

void test_echo_text(void)
{
    echo_spec_t s = {"text://127.0.0.1:0", "text", "127.0.0.1", "127.0.0.1", NULL, P_TEXT};
    run_echo(&s);
}

void test_echo_frame(void)
{
    echo_spec_t s = {"frame://127.0.0.1:0", "frame", "127.0.0.1", "127.0.0.1", NULL, P_FRAME};
    run_echo(&s);
}

void test_echo_ipv6(void)
{
    echo_spec_t s = {"tcp://[::1]:0", "tcp", "[::1]", "::1", NULL, P_TCP};
    run_echo(&s);
}

void test_echo_ipv6_addresses(void)
{
    echo_spec_t s = {"frame://[::1]:0", "frame", "[::1]", "::1", NULL, P_FRAME};
    make_messages(P_FRAME);
    wm_worker_t *w = recording_echo_worker(s.server_url);
    run_wm_client(&s, w);
    ASSERT_STR_EQ(srv_remote_ip, "::1");
    ASSERT_STR_EQ(srv_local_ip, "::1");
    ASSERT_EQ(srv_local_port, wm_worker_port(w));
    char want[80];
    snprintf(want, sizeof(want), "[::1]:%u", (unsigned)srv_remote_port);
    ASSERT_STR_EQ(srv_remote_addr, want);
    wm_worker_free(w);
    tu_msgs_clear(&srv_msgs);
    tu_msgs_clear(&cli_msgs);
    WM_TEST_CLEAN();
}

static void unix_path(char *buf, size_t size, const char *tag)
{
    tu_tmp_path(buf, size, tag, ".sock");
}

void test_echo_unix(void)
{
    char path[108], url[160];
    unix_path(path, sizeof(path), "raw");
    snprintf(url, sizeof(url), "unix://%s", path);
    echo_spec_t s = {url, "unix", NULL, NULL, path, P_TCP};
    run_echo(&s);
}

void test_echo_text_unix(void)
{
    char path[108], url[160];
    unix_path(path, sizeof(path), "text");
    snprintf(url, sizeof(url), "text+unix://%s", path);
    echo_spec_t s = {url, "text+unix", NULL, NULL, path, P_TEXT};
    run_echo(&s);
}

static bool pred_established(void *c)
{
    return wm_conn_state(c) == WM_CONN_ESTABLISHED;
}

/* Unix sockets have no ports; the path stands in for the address. */
void test_unix_addresses(void)
{
    char path[108], url[160];
    unix_path(path, sizeof(path), "addr");
    snprintf(url, sizeof(url), "unix://%s", path);
    unlink(path);
    wm_worker_t *w = recording_echo_worker(url);
    ASSERT_EQ(wm_worker_port(w), 0);
    wm_conn_t *c = wm_conn_new(url);
    ASSERT(c != NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    wm_conn_t *connected = tu_wait_accept(w, 1, 2000);
    tu_run_until(pred_established, c, 2000, "the unix client to connect");
    ASSERT_STR_EQ(srv_local_ip, path);
    ASSERT_EQ(srv_local_port, 0);
    ASSERT_EQ(srv_remote_port, 0);
    ASSERT_EQ(wm_conn_local_port(connected), 0);
    ASSERT_STR_EQ(wm_conn_remote_ip(c), path);
    ASSERT_STR_EQ(wm_conn_remote_address(c), path);
    ASSERT_EQ(wm_conn_remote_port(c), 0);
    wm_conn_destroy(c);
    wm_worker_free(w);
    unlink(path);
    WM_TEST_CLEAN();
}

/* ---- Several workers ----------------------------------------------------- */

static tu_msgs_t multi_got[3];

static void multi_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&multi_got[(intptr_t)ud], m->data, m->len);
}

static void multi_connect(wm_conn_t *c, void *ud)
{
    static const char *const words[3] = {"tcp-hello", "text-hello", "frame-hello"};
    ASSERT(wm_conn_send(c, words[(intptr_t)ud], strlen(words[(intptr_t)ud])) >= 0);
}

static bool pred_multi_done(void *arg)
{
    return multi_got[0].cat_len >= 9 && multi_got[1].n >= 1 && multi_got[2].n >= 1;
}

static void check_owner(wm_conn_t *c, void *ud)
{
    ASSERT(wm_conn_worker(c) == ud);
}

void test_multi_workers(void)
{
    static const char *const schemes[3] = {"tcp", "text", "frame"};
    wm_worker_t *w[3];
    wm_conn_t *c[3];
    for (int i = 0; i < 3; i++) {
        char url[64];
        snprintf(url, sizeof(url), "%s://127.0.0.1:0", schemes[i]);
        w[i] = tu_echo_worker(url);
    }
    ASSERT_NE(wm_worker_port(w[0]), wm_worker_port(w[1]));
    ASSERT_NE(wm_worker_port(w[1]), wm_worker_port(w[2]));
    for (int i = 0; i < 3; i++) {
        c[i] = wm_conn_new(tu_url(0, schemes[i], "127.0.0.1", w[i]));
        ASSERT(c[i] != NULL);
        wm_conn_on_connect(c[i], multi_connect, (void *)(intptr_t)i);
        wm_conn_on_message(c[i], multi_message, (void *)(intptr_t)i);
        ASSERT_EQ(wm_conn_connect(c[i]), WM_OK);
    }
    tu_run_until(pred_multi_done, NULL, 3000, "three echoes");
    ASSERT_EQ(multi_got[0].cat_len, 9);
    ASSERT_MEM_EQ(multi_got[0].cat, "tcp-hello", 9);
    ASSERT_EQ(multi_got[1].n, 1);
    ASSERT_MEM_EQ(multi_got[1].data[0], "text-hello", 10);
    ASSERT_EQ(multi_got[2].n, 1);
    ASSERT_MEM_EQ(multi_got[2].data[0], "frame-hello", 11);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(wm_worker_conn_count(w[i]), 1);
        ASSERT(wm_conn_worker(c[i]) == NULL); /* outgoing */
        wm_worker_foreach_conn(w[i], check_owner, w[i]);
    }
    for (int i = 0; i < 3; i++) {
        wm_conn_destroy(c[i]);
        wm_worker_free(w[i]);
        tu_msgs_clear(&multi_got[i]);
    }
    WM_TEST_CLEAN();
}
