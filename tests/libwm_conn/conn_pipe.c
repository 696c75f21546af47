/* SPDX-License-Identifier: MIT */
/* wm_conn_pipe: a proxy worker pipes each accepted client to an outgoing
 * connection to an echo worker, both ways (pipe is called before the backend
 * has connected, as a Workerman proxy does). Checked: data round-trips
 * intact; a client that reads nothing for a while makes the proxy pause
 * instead of buffering without bound (its send queues stay under twice the
 * max send buffer while 32 MiB go through), and everything arrives once the
 * client reads; closing either end closes the other. */
#include "conn_util.h"

#define PROXY_MAX_SEND (256 * 1024)

static wm_conn_t *front, *back; /* the proxy's two connections */
static int proxy_frees, echo_closes;

static void count_proxy_free(void *ud)
{
    proxy_frees++;
}

static void proxy_connect(wm_conn_t *c, void *ud)
{
    const char *backend_url = ud;
    wm_conn_t *b = wm_conn_new(backend_url);
    ASSERT(b != NULL);
    wm_conn_set_max_send_buffer(b, PROXY_MAX_SEND);
    ASSERT_EQ(wm_conn_pipe(c, b), WM_OK);
    ASSERT_EQ(wm_conn_pipe(b, c), WM_OK);
    wm_conn_set_user_data(c, NULL, count_proxy_free);
    wm_conn_set_user_data(b, NULL, count_proxy_free);
    ASSERT_EQ(wm_conn_connect(b), WM_OK);
    front = c;
    back = b;
}

static void echo_closed(wm_conn_t *c, void *ud)
{
    echo_closes++;
}

typedef struct rig {
    wm_worker_t *echo, *proxy;
    char backend_url[64];
} rig_t;

static void rig_start(rig_t *rig)
{
    rig->echo = tu_echo_worker("tcp://127.0.0.1:0");
    wm_worker_on_close(rig->echo, echo_closed, NULL);
    snprintf(rig->backend_url, sizeof(rig->backend_url), "tcp://127.0.0.1:%u",
             (unsigned)wm_worker_port(rig->echo));
    rig->proxy = wm_worker_new("tcp://127.0.0.1:0");
    ASSERT(rig->proxy != NULL);
    wm_worker_set_max_send_buffer(rig->proxy, PROXY_MAX_SEND);
    wm_worker_on_connect(rig->proxy, proxy_connect, rig->backend_url);
    ASSERT_EQ(wm_worker_start(rig->proxy), WM_OK);
}

static void rig_free(rig_t *rig)
{
    wm_worker_free(rig->proxy);
    wm_worker_free(rig->echo);
}

static bool pred_echo_connected(void *arg)
{
    return wm_worker_conn_count(arg) >= 1;
}

static bool pred_all_gone(void *arg)
{
    rig_t *rig = arg;
    return proxy_frees == 2 && echo_closes == 1 && wm_worker_conn_count(rig->proxy) == 0 &&
           wm_worker_conn_count(rig->echo) == 0;
}

void test_pipe_roundtrip(void)
{
    rig_t rig;
    rig_start(&rig);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(rig.proxy), 0), true);
    r->check_pattern = true;
    const uint64_t total = 1u << 20;
    tu_raw_write_pattern(r, total);
    tu_raw_wait_bytes(r, total, 10000);
    tu_run_for(20);
    ASSERT_EQ(r->received, total);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_EQ(wm_conn_bytes_read(front), total);
    ASSERT_EQ(wm_conn_bytes_written(front), total);
    ASSERT_EQ(wm_conn_bytes_written(back), total);
    ASSERT_EQ(wm_conn_bytes_read(back), total);

    /* The client leaves: the proxy closes the backend, and both go. */
    tu_raw_close(r, false);
    tu_run_until(pred_all_gone, &rig, 3000, "the proxy to close both sides");
    tu_raw_free(r);
    rig_free(&rig);
    WM_TEST_CLEAN();
}

static void destroy_conn(wm_conn_t *c, void *ud)
{
    wm_conn_destroy(c);
}

/* The backend goes away: the proxy closes the client after flushing. */
void test_pipe_backend_closes(void)
{
    rig_t rig;
    rig_start(&rig);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(rig.proxy), 0), true);
    tu_raw_write(r, "ping", 4);
    tu_raw_wait_bytes(r, 4, 3000);
    ASSERT_MEM_EQ(r->in, "ping", 4);
    tu_run_until(pred_echo_connected, rig.echo, 2000, "the backend connection");
    wm_worker_foreach_conn(rig.echo, destroy_conn, NULL);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the client to be closed");
    tu_run_until(pred_all_gone, &rig, 3000, "the proxy to close both sides");
    ASSERT_EQ(r->received, 4);
    tu_raw_free(r);
    rig_free(&rig);
    WM_TEST_CLEAN();
}

/* ---- A slow reader at the far end ------------------------------------------- */

static size_t peak_front, peak_back;
static bool sampling;

static void sample_queues(wm_timer_id_t id, void *ud)
{
    if (!sampling || !front || !back)
        return;
    size_t f = wm_conn_send_queue(front), b = wm_conn_send_queue(back);
    peak_front = f > peak_front ? f : peak_front;
    peak_back = b > peak_back ? b : peak_back;
    if (f >= 2 * PROXY_MAX_SEND || b >= 2 * PROXY_MAX_SEND)
        WM_TEST_FAIL("proxy send queue unbounded: front %zu, back %zu (limit %d)", f, b,
                     PROXY_MAX_SEND);
}

static bool pred_front_pushed_back(void *arg)
{
    return peak_front >= PROXY_MAX_SEND / 2;
}

void test_pipe_slow_reader(void)
{
    const uint64_t total = 32u << 20;
    rig_t rig;
    rig_start(&rig);
    /* A modest fixed window, so the proxy's queue toward it fills. */
    int fd = tu_tcp_connect("127.0.0.1", wm_worker_port(rig.proxy), 64 * 1024);
    tu_raw_t *r = tu_raw_new(fd, false);
    r->check_pattern = true;
    sampling = true;
    wm_timer_id_t t = wm_timer_add(1, true, sample_queues, NULL, NULL);
    ASSERT(t != 0);
    tu_raw_write_pattern(r, total);

    /* Not reading: the pipe must push back all the way, so the proxy's queue
     * toward us fills to its limit and stays bounded. Waited for as a
     * condition: a loaded machine may take far longer than usual. */
    tu_run_until(pred_front_pushed_back, NULL, 20000, "the proxy's queue to the client to fill");
    tu_run_for(100);
    ASSERT_EQ(r->received, 0);
    ASSERT_LT(r->written, total);
    ASSERT(front && back);
    ASSERT_GE(peak_front, PROXY_MAX_SEND / 2); /* backpressure was exercised */

    tu_raw_set_reading(r, true);
    tu_raw_wait_bytes(r, total, 60000);
    sampling = false;
    ASSERT_EQ(wm_timer_del(t), WM_OK);
    ASSERT_EQ(r->received, total);
    ASSERT_EQ(r->bad_at, -1);
    ASSERT_LT(peak_front, 2 * PROXY_MAX_SEND);
    ASSERT_LT(peak_back, 2 * PROXY_MAX_SEND);
    ASSERT_EQ(wm_conn_bytes_written(front), total);
    tu_raw_close(r, false);
    tu_run_until(pred_all_gone, &rig, 3000, "the proxy to close both sides");
    tu_raw_free(r);
    rig_free(&rig);
    WM_TEST_CLEAN();
}

/* The backend cannot be reached: the client is closed, nothing leaks. */
void test_pipe_backend_refused(void)
{
    static char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)tu_closed_port());
    wm_worker_t *proxy = wm_worker_new("tcp://127.0.0.1:0");
    ASSERT(proxy != NULL);
    wm_worker_on_connect(proxy, proxy_connect, url);
    ASSERT_EQ(wm_worker_start(proxy), WM_OK);
    tu_raw_t *r = tu_raw_new(tu_tcp_connect("127.0.0.1", wm_worker_port(proxy), 0), true);
    tu_raw_write(r, "lost", 4);
    tu_run_until(tu_raw_pred_eof, r, 3000, "the client to be closed");
    tu_wait_count(&proxy_frees, 2, 2000, "both proxy connections to be freed");
    ASSERT_EQ(r->received, 0);
    ASSERT_EQ(wm_worker_conn_count(proxy), 0);
    tu_raw_free(r);
    wm_worker_free(proxy);
    WM_TEST_CLEAN();
}

/* ---- Many frames per read through a frame:// proxy ------------------------------ */

/* With a framed protocol one read holds dozens of messages; when the pipe's
 * destination fills in the middle of them, the rest must wait (the source
 * pauses at once) rather than be dropped with WM_ENOBUFS. */
#define N_FRAMES 20000
#define FRAME_PAYLOAD 1000

static int frames_sent, frames_got, frames_bad;

static void frame_payload(char *buf, int seq)
{
    memcpy(buf, &seq, sizeof(seq));
    tu_pattern_fill(buf + sizeof(seq), (uint64_t)seq * 7, FRAME_PAYLOAD - sizeof(seq));
}

static void pump(wm_conn_t *c, void *ud)
{
    static char buf[FRAME_PAYLOAD];
    while (frames_sent < N_FRAMES && wm_conn_send_queue(c) < wm_conn_max_send_buffer(c)) {
        frame_payload(buf, frames_sent);
        int rc = wm_conn_send(c, buf, sizeof(buf));
        if (rc != WM_SENT && rc != WM_QUEUED)
            WM_TEST_FAIL("client send: %s", tu_errname(rc));
        frames_sent++;
    }
}

static void frame_check(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    static char want[FRAME_PAYLOAD];
    frame_payload(want, frames_got);
    if (m->len != FRAME_PAYLOAD || memcmp(m->data, want, FRAME_PAYLOAD) != 0)
        frames_bad++;
    frames_got++;
}

static void client_start(wm_conn_t *c, void *ud)
{
    wm_conn_pause_recv(c); /* a slow reader, for now */
    pump(c, ud);
}

static void resume_client(wm_timer_id_t id, void *c)
{
    wm_conn_resume_recv(c);
}

void test_pipe_frames_slow_reader(void)
{
    wm_worker_t *echo = tu_echo_worker("frame://127.0.0.1:0");
    static char backend[64];
    snprintf(backend, sizeof(backend), "frame://127.0.0.1:%u", (unsigned)wm_worker_port(echo));
    wm_worker_t *proxy = wm_worker_new("frame://127.0.0.1:0");
    ASSERT(proxy != NULL);
    wm_worker_set_max_send_buffer(proxy, PROXY_MAX_SEND);
    wm_worker_on_connect(proxy, proxy_connect, backend);
    ASSERT_EQ(wm_worker_start(proxy), WM_OK);

    wm_conn_t *c = wm_conn_new(tu_url(0, "frame", "127.0.0.1", proxy));
    ASSERT(c != NULL);
    wm_conn_on_connect(c, client_start, NULL);
    wm_conn_on_buffer_drain(c, pump, NULL);
    wm_conn_on_message(c, frame_check, NULL);
    ASSERT_EQ(wm_conn_connect(c), WM_OK);
    sampling = true;
    wm_timer_id_t t = wm_timer_add(1, true, sample_queues, NULL, NULL);
    tu_run_for(400);
    ASSERT_EQ(frames_got, 0);
    ASSERT_LT(frames_sent, N_FRAMES); /* pushed back all the way */
    ASSERT(wm_timer_add(0, false, resume_client, c, NULL) != 0);
    tu_wait_count(&frames_got, N_FRAMES, 30000, "every frame back");
    sampling = false;
    ASSERT_EQ(wm_timer_del(t), WM_OK);
    tu_run_for(20);
    ASSERT_EQ(frames_got, N_FRAMES);
    ASSERT_EQ(frames_bad, 0);
    ASSERT_LT(peak_front, 2 * PROXY_MAX_SEND);
    ASSERT_LT(peak_back, 2 * PROXY_MAX_SEND);
    wm_conn_destroy(c);
    tu_wait_count(&proxy_frees, 2, 2000, "the proxy connections to go");
    wm_worker_free(proxy);
    wm_worker_free(echo);
    WM_TEST_CLEAN();
}
