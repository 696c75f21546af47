/* SPDX-License-Identifier: MIT */
/* Facts about connections: addresses and ports checked against what the
 * kernel says about the same sockets, ids (unique, never reused, found by
 * wm_conn_find only while live), a worker's connection count and foreach
 * (including closing from inside foreach), exact byte counters on the wire,
 * and user data with its destructor. */
#include "conn_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static uint16_t sock_port(int fd, bool peer)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    ASSERT_EQ(peer ? getpeername(fd, (struct sockaddr *)&sin, &len)
                   : getsockname(fd, (struct sockaddr *)&sin, &len),
              0);
    return ntohs(sin.sin_port);
}

static void note_open(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
}

static void note_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
}

static wm_worker_t *noting_worker(const char *url)
{
    wm_worker_t *w = tu_echo_worker(url);
    wm_worker_on_connect(w, note_open, NULL);
    wm_worker_on_close(w, note_close, NULL);
    return w;
}

/* ---- Addresses ----------------------------------------------------------- */

static wm_conn_t *by_remote_port_found;

static void by_remote_port(wm_conn_t *c, void *ud)
{
    if (wm_conn_remote_port(c) == *(uint16_t *)ud)
        by_remote_port_found = c;
}

static wm_conn_t *server_conn_for(wm_worker_t *w, uint16_t client_port)
{
    by_remote_port_found = NULL;
    wm_worker_foreach_conn(w, by_remote_port, &client_port);
    if (!by_remote_port_found)
        WM_TEST_FAIL("no server connection has remote port %u", (unsigned)client_port);
    return by_remote_port_found;
}

static bool pred_established(void *c)
{
    return wm_conn_state(c) == WM_CONN_ESTABLISHED;
}

void test_facts_addresses(void)
{
    wm_worker_t *w = noting_worker("tcp://127.0.0.1:0");
    uint16_t port = wm_worker_port(w);
    int fd = tu_tcp_connect("127.0.0.1", port, 0);
    uint16_t raw_port = sock_port(fd, false);
    ASSERT_EQ(sock_port(fd, true), port);
    tu_wait_accept(w, 1, 2000);

    /* The server's view of the raw socket. */
    wm_conn_t *s = server_conn_for(w, raw_port);
    char want[64];
    ASSERT_STR_EQ(wm_conn_remote_ip(s), "127.0.0.1");
    ASSERT_EQ(wm_conn_remote_port(s), raw_port);
    ASSERT_STR_EQ(wm_conn_local_ip(s), "127.0.0.1");
    ASSERT_EQ(wm_conn_local_port(s), port);
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)raw_port);
    ASSERT_STR_EQ(wm_conn_remote_address(s), want);
    ASSERT(wm_conn_worker(s) == w);
    ASSERT(wm_conn_protocol(s) == &wm_protocol_tcp);

    /* A wm client and the server's view of it must agree. */
    wm_conn_t *c = wm_conn_new(tu_url(0, "tcp", "127.0.0.1", w));
    ASSERT(c != NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_run_until(pred_established, c, 2000, "the client to connect");
    tu_wait_accept(w, 2, 2000);
    ASSERT_STR_EQ(wm_conn_remote_ip(c), "127.0.0.1");
    ASSERT_EQ(wm_conn_remote_port(c), port);
    ASSERT_STR_EQ(wm_conn_local_ip(c), "127.0.0.1");
    ASSERT_GT(wm_conn_local_port(c), 0);
    wm_conn_t *s2 = server_conn_for(w, wm_conn_local_port(c));
    ASSERT(s2 != s);
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)port);
    ASSERT_STR_EQ(wm_conn_remote_address(c), want);

    wm_conn_destroy(c);
    close(fd);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Ids and lookup ------------------------------------------------------ */

#define N_IDS 6

static bool pred_closes(void *arg)
{
    return tu_total_closes() >= *(int *)arg;
}

static void find_after_close(wm_timer_id_t id, void *ud)
{
    uint64_t *cid = ud;
    ASSERT(wm_conn_find(*cid) == NULL);
    *cid = 0;
}

static void find_in_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
}

void test_facts_ids(void)
{
    wm_worker_t *w = noting_worker("tcp://127.0.0.1:0");
    wm_worker_on_close(w, find_in_close, NULL);
    int fds[N_IDS];
    uint64_t ids[2 * N_IDS];
    for (int i = 0; i < N_IDS; i++)
        fds[i] = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0);
    tu_wait_accept(w, N_IDS, 2000);
    wm_conn_t *conns[N_IDS];
    for (int i = 0; i < N_IDS; i++) {
        conns[i] = server_conn_for(w, sock_port(fds[i], false));
        ids[i] = wm_conn_id(conns[i]);
        ASSERT_GT(ids[i], 0);
        for (int j = 0; j < i; j++)
            ASSERT_NE(ids[i], ids[j]);
        ASSERT(wm_conn_find(ids[i]) == conns[i]);
    }
    ASSERT(wm_conn_find(0) == NULL);
    ASSERT(wm_conn_find(UINT64_MAX) == NULL);

    /* Closed from our side and from the peer's: both ids disappear. */
    ASSERT_EQ(wm_conn_close(conns[0]), WM_OK);
    close(fds[1]);
    int want = 2;
    tu_run_until(pred_closes, &want, 2000, "two on_close calls");
    uint64_t gone = ids[0];
    wm_timer_add(0, false, find_after_close, &gone, NULL);
    tu_run_for(5);
    ASSERT_EQ(gone, 0); /* the timer ran and checked */
    ASSERT(wm_conn_find(ids[0]) == NULL);
    ASSERT(wm_conn_find(ids[1]) == NULL);
    ASSERT(wm_conn_find(ids[2]) == conns[2]);

    /* New connections never reuse an id. */
    int more[N_IDS];
    for (int i = 0; i < N_IDS; i++)
        more[i] = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0);
    tu_wait_accept(w, 2 * N_IDS - 2, 2000);
    for (int i = 0; i < N_IDS; i++) {
        ids[N_IDS + i] = wm_conn_id(server_conn_for(w, sock_port(more[i], false)));
        for (int j = 0; j < N_IDS + i; j++)
            ASSERT_NE(ids[N_IDS + i], ids[j]);
    }
    for (int i = 0; i < N_IDS; i++) {
        if (i != 1)
            close(fds[i]);
        close(more[i]);
    }
    wm_worker_free(w);
    ASSERT_EQ(tu_check_each_closed_once(), 2 * N_IDS);
    for (int i = 0; i < 2 * N_IDS; i++)
        ASSERT(wm_conn_find(ids[i]) == NULL);
    WM_TEST_CLEAN();
}

/* ---- Count and foreach -------------------------------------------------- */

#define N_EACH 5

static wm_conn_t *seen[N_EACH + 1];
static int n_seen;

static void collect(wm_conn_t *c, void *ud)
{
    ASSERT_LT(n_seen, N_EACH + 1);
    for (int i = 0; i < n_seen; i++)
        ASSERT(seen[i] != c);
    seen[n_seen++] = c;
}

static void close_each(wm_conn_t *c, void *ud)
{
    (*(int *)ud)++;
    ASSERT_EQ(wm_conn_close(c), WM_OK);
}

void test_facts_foreach(void)
{
    wm_worker_t *w = noting_worker("tcp://127.0.0.1:0");
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    tu_raw_t *r[N_EACH];
    for (int i = 0; i < N_EACH; i++)
        r[i] = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    tu_wait_accept(w, N_EACH, 2000);
    tu_run_for(20);
    ASSERT_EQ(wm_worker_conn_count(w), N_EACH);
    wm_worker_foreach_conn(w, collect, NULL);
    ASSERT_EQ(n_seen, N_EACH);

    /* Closing every connection from inside foreach must visit each once. */
    int visited = 0;
    wm_worker_foreach_conn(w, close_each, &visited);
    ASSERT_EQ(visited, N_EACH);
    int want = N_EACH;
    tu_run_until(pred_closes, &want, 2000, "every on_close");
    for (int i = 0; i < N_EACH; i++)
        tu_run_until(tu_raw_pred_eof, r[i], 2000, "the raw peer to see the close");
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    n_seen = 0;
    wm_worker_foreach_conn(w, collect, NULL);
    ASSERT_EQ(n_seen, 0);
    for (int i = 0; i < N_EACH; i++)
        tu_raw_free(r[i]);
    wm_worker_free(w);
    ASSERT_EQ(tu_check_each_closed_once(), N_EACH);
    WM_TEST_CLEAN();
}

/* ---- Byte counters ---------------------------------------------------------- */

static int frames_back;

static void count_frames(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    frames_back++;
}

void test_facts_byte_counters(void)
{
    wm_worker_t *w = noting_worker("frame://127.0.0.1:0");
    wm_conn_t *c = wm_conn_new(tu_url(0, "frame", "127.0.0.1", w));
    ASSERT(c != NULL);
    ASSERT_EQ(wm_conn_bytes_read(c), 0);
    ASSERT_EQ(wm_conn_bytes_written(c), 0);
    wm_conn_on_message(c, count_frames, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_run_until(pred_established, c, 2000, "the client to connect");
    static char payload[1000];
    tu_pattern_fill(payload, 0, sizeof(payload));
    /* 3 frames of 1000, 10 and 0 payload bytes: 1014 + 14 + 4 on the wire. */
    ASSERT(wm_conn_send(c, payload, 1000) >= 0);
    ASSERT(wm_conn_send(c, payload, 10) >= 0);
    ASSERT(wm_conn_send(c, payload, 0) >= 0);
    /* Raw bytes bypass the encoder: a hand-made 7-byte frame. */
    ASSERT(wm_conn_send_raw(c, "\0\0\0\7xyz", 7) >= 0);
    tu_wait_count(&frames_back, 4, 3000, "four echoed frames");
    tu_run_for(20);
    const uint64_t wire = 1004 + 14 + 4 + 7;
    wm_conn_t *s = server_conn_for(w, wm_conn_local_port(c));
    ASSERT_EQ(wm_conn_bytes_written(c), wire);
    ASSERT_EQ(wm_conn_bytes_read(c), wire);
    ASSERT_EQ(wm_conn_bytes_read(s), wire);
    ASSERT_EQ(wm_conn_bytes_written(s), wire);
    ASSERT_EQ(wm_conn_send_queue(c), 0);
    ASSERT_EQ(wm_conn_send_queue(s), 0);
    ASSERT_EQ(wm_conn_recv_queue(c), 0);
    ASSERT_EQ(wm_conn_recv_queue(s), 0);
    ASSERT_EQ(frames_back, 4);
    wm_conn_destroy(c);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* A raw tcp server connection counts exactly what the kernel moved. */
void test_facts_byte_counters_raw(void)
{
    wm_worker_t *w = noting_worker("tcp://127.0.0.1:0");
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0), true);
    r->check_pattern = true;
    wm_conn_t *s = tu_wait_accept(w, 1, 2000);
    const uint64_t n = 3 * 1024 * 1024 + 17;
    tu_raw_write_pattern(r, n);
    tu_raw_wait_bytes(r, n, 10000);
    tu_run_for(20);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_EQ(r->received, n);
    ASSERT_EQ(wm_conn_bytes_read(s), n);
    ASSERT_EQ(wm_conn_bytes_written(s), n);
    tu_raw_free(r);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- User data ------------------------------------------------------------------ */

static int freed_a, freed_b;

static void free_a(void *p)
{
    ASSERT(p == &freed_a);
    freed_a++;
}

static void free_b(void *p)
{
    ASSERT(p == &freed_b);
    freed_b++;
}

void test_facts_user_data(void)
{
    wm_worker_t *w = noting_worker("tcp://127.0.0.1:0");
    wm_conn_t *c = wm_conn_new(tu_url(0, "tcp", "127.0.0.1", w));
    ASSERT(c != NULL);
    ASSERT(wm_conn_user_data(c) == NULL);
    wm_conn_set_user_data(c, &freed_a, free_a);
    ASSERT(wm_conn_user_data(c) == &freed_a);
    wm_conn_set_user_data(c, &freed_b, free_b); /* replacing frees the old one */
    ASSERT_EQ(freed_a, 1);
    ASSERT(wm_conn_user_data(c) == &freed_b);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    tu_run_until(pred_established, c, 2000, "the client to connect");
    ASSERT_EQ(freed_b, 0);
    ASSERT_EQ(wm_conn_close(c), WM_OK);
    /* Freed once, after its on_close, by the loop. */
    tu_wait_count(&freed_b, 1, 2000, "the user data destructor");
    tu_run_for(20);
    ASSERT_EQ(freed_a, 1);
    ASSERT_EQ(freed_b, 1);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}
