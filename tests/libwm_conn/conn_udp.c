/* SPDX-License-Identifier: MIT */
/* UDP: a udp:// worker answers each datagram through the peer connection
 * handed to on_message; an outgoing udp:// connection sends and receives;
 * and closing or destroying the peer inside on_message (which ends only that
 * peer, valid for the callback) must not stop the worker from receiving the
 * next datagram. The far side is a plain UDP socket, polled without blocking
 * from the loop. */
#include "conn_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int n_msg;
static char peer_ip[64];
static uint16_t peer_port;
static int peer_action; /* per datagram: 0 echo only, 1 echo+close, 2 echo+destroy */

static void udp_echo(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    n_msg++;
    snprintf(peer_ip, sizeof(peer_ip), "%s", wm_conn_remote_ip(c));
    peer_port = wm_conn_remote_port(c);
    int rc = wm_conn_send(c, m->data, m->len);
    ASSERT(rc == WM_SENT || rc == WM_QUEUED);
    if (peer_action == 1)
        wm_conn_close(c);
    else if (peer_action == 2)
        wm_conn_destroy(c);
}

static wm_worker_t *udp_worker(void)
{
    wm_worker_t *w = wm_worker_new("udp://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_message(w, udp_echo, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    ASSERT_GT(wm_worker_port(w), 0);
    return w;
}

/* A bound, non-blocking UDP socket on 127.0.0.1; returns its port. */
static int udp_socket(uint16_t *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static void udp_send_to(int fd, uint16_t port, const char *s)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(sendto(fd, s, strlen(s), 0, (struct sockaddr *)&sin, sizeof(sin)),
              (ssize_t)strlen(s));
}

typedef struct dgram_wait {
    int fd;
    char buf[2048];
    ssize_t len;
} dgram_wait_t;

static bool pred_dgram(void *arg)
{
    dgram_wait_t *d = arg;
    d->len = recv(d->fd, d->buf, sizeof(d->buf) - 1, MSG_DONTWAIT);
    return d->len >= 0;
}

static void expect_dgram(int fd, const char *want)
{
    dgram_wait_t d = {fd, {0}, -1};
    tu_run_until(pred_dgram, &d, 2000, "a datagram back");
    ASSERT_EQ(d.len, (ssize_t)strlen(want));
    ASSERT_MEM_EQ(d.buf, want, strlen(want));
}

void test_udp_echo_worker(void)
{
    wm_worker_t *w = udp_worker();
    uint16_t my_port;
    int fd = udp_socket(&my_port);
    static const char *const words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        udp_send_to(fd, wm_worker_port(w), words[i]);
        expect_dgram(fd, words[i]);
    }
    ASSERT_EQ(n_msg, 3);
    ASSERT_STR_EQ(peer_ip, "127.0.0.1");
    ASSERT_EQ(peer_port, my_port);
    /* Datagrams keep their boundaries even when sent back to back. */
    udp_send_to(fd, wm_worker_port(w), "a");
    udp_send_to(fd, wm_worker_port(w), "bb");
    expect_dgram(fd, "a");
    expect_dgram(fd, "bb");
    close(fd);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

void test_udp_close_in_message(void)
{
    wm_worker_t *w = udp_worker();
    uint16_t my_port;
    int fd = udp_socket(&my_port);
    for (int i = 0; i < 3; i++) {
        peer_action = i == 0 ? 1 : i == 1 ? 2 : 0;
        char word[16];
        snprintf(word, sizeof(word), "dgram-%d", i);
        udp_send_to(fd, wm_worker_port(w), word);
        expect_dgram(fd, word);
    }
    ASSERT_EQ(n_msg, 3);
    close(fd);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static tu_msgs_t cli_got;
static int cli_closes;

static void cli_msg(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    tu_msgs_add(&cli_got, m->data, m->len);
}

static void cli_close(wm_conn_t *c, void *ud)
{
    cli_closes++;
}

void test_udp_outgoing(void)
{
    wm_worker_t *w = udp_worker();
    wm_conn_t *c = wm_conn_new(tu_url(0, "udp", "127.0.0.1", w));
    ASSERT(c != NULL);
    wm_conn_on_message(c, cli_msg, NULL);
    wm_conn_on_close(c, cli_close, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    ASSERT(wm_conn_send(c, "ping", 4) >= 0);
    tu_wait_count(&cli_got.n, 1, 2000, "the echo of ping");
    ASSERT(wm_conn_send(c, "x", 1) >= 0);
    ASSERT(wm_conn_send(c, "yy", 2) >= 0);
    tu_wait_count(&cli_got.n, 3, 2000, "two more echoes");
    static const char *const want[] = {"ping", "x", "yy"};
    static const size_t lens[] = {4, 1, 2};
    tu_msgs_expect(&cli_got, want, lens, 3, "udp client");
    ASSERT_EQ(peer_port, wm_conn_local_port(c));
    ASSERT_EQ(wm_conn_remote_port(c), wm_worker_port(w));
    wm_conn_destroy(c);
    tu_run_for(10);
    ASSERT_EQ(cli_closes, 1);
    tu_msgs_clear(&cli_got);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static int stop_checked;

static void stop_on_quit(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    ASSERT(wm_conn_send(c, m->data, m->len) >= 0);
    if (m->len == 4 && memcmp(m->data, "quit", 4) == 0) {
        wm_worker_stop(wm_conn_worker(c));
        /* The peer is valid for the whole callback, even now. */
        ASSERT_EQ(wm_conn_remote_port(c), peer_port);
        ASSERT(wm_conn_send(c, "late", 4) < 0);
        stop_checked++;
    } else {
        peer_port = wm_conn_remote_port(c);
    }
}

/* Stopping the worker from inside on_message (a "quit" datagram). */
void test_udp_stop_in_message(void)
{
    wm_worker_t *w = wm_worker_new("udp://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_message(w, stop_on_quit, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    uint16_t my_port, port = wm_worker_port(w);
    int fd = udp_socket(&my_port);
    udp_send_to(fd, port, "hello");
    expect_dgram(fd, "hello");
    udp_send_to(fd, port, "quit");
    expect_dgram(fd, "quit");
    tu_run_for(20);
    ASSERT_EQ(stop_checked, 1);
    /* Stopped: nothing answers any more. */
    udp_send_to(fd, port, "again");
    tu_run_for(50);
    ASSERT(recv(fd, (char[16]){0}, 16, MSG_DONTWAIT) < 0);
    close(fd);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}
