/* SPDX-License-Identifier: MIT */
/* Helpers for the connection tests: see conn_util.h. The loop is driven by a
 * 1 ms repeating timer that checks the test's condition and a deadline, so a
 * missing callback fails the case with a message instead of hitting the
 * harness alarm. Raw peers use libevent events on the wm loop's own base, so
 * they run in the same process and loop turn as the connections they talk
 * to, with no forked helpers to reap. */
#include "conn_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/event.h>

/* ---- Running the loop ---------------------------------------------------- */

typedef struct run_state {
    tu_pred_fn pred;
    void *arg;
    uint64_t deadline;
    const char *what;
    bool done;
} run_state_t;

static void run_tick(wm_timer_id_t id, void *ud)
{
    run_state_t *rs = ud;
    if (rs->pred && rs->pred(rs->arg)) {
        rs->done = true;
        wm_loop_stop();
        return;
    }
    if (wm_now_ms() >= rs->deadline) {
        if (rs->pred)
            WM_TEST_FAIL("timed out waiting for %s (log: %s)", rs->what, tu_log_text());
        rs->done = true;
        wm_loop_stop();
    }
}

static void run_loop(tu_pred_fn pred, void *arg, uint64_t ms, const char *what)
{
    run_state_t rs = {pred, arg, wm_now_ms() + ms, what, false};
    if (pred && pred(arg))
        return;
    wm_timer_id_t t = wm_timer_add(1, true, run_tick, &rs, NULL);
    ASSERT(t != 0);
    /* The loop may also stop early when a test callback calls wm_loop_stop();
     * keep running until our own condition says we are done. */
    while (!rs.done)
        ASSERT_EQ(wm_loop_run(), WM_OK);
    ASSERT_EQ(wm_timer_del(t), WM_OK);
}

void tu_run_until(tu_pred_fn pred, void *arg, uint64_t timeout_ms, const char *what)
{
    run_loop(pred, arg, timeout_ms, what);
}

void tu_run_for(uint64_t ms)
{
    run_loop(NULL, NULL, ms, "time");
}

bool tu_pred_true(void *flag)
{
    return *(bool *)flag;
}

bool tu_pred_nonnull(void *ptr)
{
    return *(void **)ptr != NULL;
}

typedef struct count_goal {
    const int *counter;
    int want;
} count_goal_t;

static bool pred_count(void *arg)
{
    count_goal_t *g = arg;
    return *g->counter >= g->want;
}

void tu_wait_count(const int *counter, int want, uint64_t timeout_ms, const char *what)
{
    count_goal_t g = {counter, want};
    tu_run_until(pred_count, &g, timeout_ms, what);
}

/* ---- Event log ----------------------------------------------------------- */

static char log_buf[8192];
static size_t log_len;

void tu_log(const char *fmt, ...)
{
    va_list ap;
    if (log_len && log_len < sizeof(log_buf) - 1)
        log_buf[log_len++] = ' ';
    va_start(ap, fmt);
    int n = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        log_len +=
            (size_t)n < sizeof(log_buf) - log_len ? (size_t)n : sizeof(log_buf) - log_len - 1;
}

const char *tu_log_text(void)
{
    return log_buf;
}

void tu_log_reset(void)
{
    log_len = 0;
    log_buf[0] = '\0';
}

const char *tu_errname(int err)
{
    static char other[32];
    switch (err) {
    case WM_OK:
        return "OK";
    case WM_ENOBUFS:
        return "ENOBUFS";
    case WM_EMSGSIZE:
        return "EMSGSIZE";
    case WM_ECONNREFUSED:
        return "ECONNREFUSED";
    case WM_ECONNRESET:
        return "ECONNRESET";
    case WM_ETIMEDOUT:
        return "ETIMEDOUT";
    case WM_ENOTCONN:
        return "ENOTCONN";
    case WM_EDNS:
        return "EDNS";
    case WM_EPROTO:
        return "EPROTO";
    case WM_ECANCELED:
        return "ECANCELED";
    default:
        snprintf(other, sizeof(other), "E%d", err);
        return other;
    }
}

/* ---- Close accounting ----------------------------------------------------- */

#define TU_MAX_NOTED 256

static struct {
    uint64_t id;
    int closes;
} noted[TU_MAX_NOTED];
static int n_noted;

static int noted_index(uint64_t id)
{
    for (int i = 0; i < n_noted; i++)
        if (noted[i].id == id)
            return i;
    return -1;
}

void tu_note_open(wm_conn_t *c)
{
    uint64_t id = wm_conn_id(c);
    ASSERT_GT(id, 0);
    if (noted_index(id) >= 0)
        return;
    ASSERT_LT(n_noted, TU_MAX_NOTED);
    noted[n_noted].id = id;
    noted[n_noted].closes = 0;
    n_noted++;
}

void tu_note_close(wm_conn_t *c)
{
    tu_note_open(c);
    int i = noted_index(wm_conn_id(c));
    noted[i].closes++;
    if (noted[i].closes > 1)
        WM_TEST_FAIL("on_close ran %d times for connection %llu", noted[i].closes,
                     (unsigned long long)noted[i].id);
}

int tu_check_each_closed_once(void)
{
    for (int i = 0; i < n_noted; i++)
        if (noted[i].closes != 1)
            WM_TEST_FAIL("connection %llu: on_close ran %d times, want 1 (log: %s)",
                         (unsigned long long)noted[i].id, noted[i].closes, tu_log_text());
    return n_noted;
}

int tu_total_closes(void)
{
    int n = 0;
    for (int i = 0; i < n_noted; i++)
        n += noted[i].closes;
    return n;
}

/* ---- Workers ---------------------------------------------------------------- */

static void echo_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    int rc = wm_conn_send(c, m->data, m->len);
    if (rc != WM_SENT && rc != WM_QUEUED)
        WM_TEST_FAIL("echo worker: wm_conn_send returned %s", tu_errname(rc));
}

/* Backpressure: stop reading while our own send queue is full, so an echo
 * to a slow reader never drops data (Workerman's recommended pattern). */
static void echo_full(wm_conn_t *c, void *ud)
{
    wm_conn_pause_recv(c);
}

static void echo_drain(wm_conn_t *c, void *ud)
{
    wm_conn_resume_recv(c);
}

wm_worker_t *tu_echo_worker(const char *url)
{
    wm_worker_t *w = wm_worker_new(url);
    if (!w)
        WM_TEST_FAIL("wm_worker_new(%s) returned NULL", url);
    wm_worker_set_name(w, "echo");
    wm_worker_on_message(w, echo_message, NULL);
    wm_worker_on_buffer_full(w, echo_full, NULL);
    wm_worker_on_buffer_drain(w, echo_drain, NULL);
    int rc = wm_worker_start(w);
    if (rc != WM_OK)
        WM_TEST_FAIL("wm_worker_start(%s): %s", url, wm_strerror(rc));
    return w;
}

const char *tu_url(int slot, const char *scheme, const char *host, const wm_worker_t *w)
{
    static char bufs[4][128];
    ASSERT(slot >= 0 && slot < 4);
    snprintf(bufs[slot], sizeof(bufs[slot]), "%s://%s:%u", scheme, host,
             (unsigned)wm_worker_port(w));
    return bufs[slot];
}

/* ---- Temporary files ---------------------------------------------------------- */

static char tmp_paths[8][108];
static int n_tmp_paths;

static void unlink_tmp_paths(void)
{
    for (int i = 0; i < n_tmp_paths; i++)
        unlink(tmp_paths[i]);
}

void tu_tmp_path(char *buf, size_t size, const char *tag, const char *suffix)
{
    int n = snprintf(buf, size, "/tmp/wm-conn-test-%s-%d%s", tag, (int)getpid(), suffix);
    ASSERT(n > 0 && (size_t)n < size && (size_t)n < sizeof(tmp_paths[0]));
    unlink(buf);
    ASSERT_LT(n_tmp_paths, 8);
    if (n_tmp_paths == 0)
        atexit(unlink_tmp_paths);
    strcpy(tmp_paths[n_tmp_paths++], buf);
}

/* ---- Raw sockets -------------------------------------------------------------- */

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ASSERT(fl >= 0);
    ASSERT_EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

int tu_tcp_connect(const char *ip, uint16_t port, int rcvbuf)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        ASSERT_EQ(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        ASSERT_EQ(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
        len = sizeof(*s4);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    if (rcvbuf > 0)
        ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    /* A loopback connect completes in the kernel as soon as the listener
     * exists, before the worker accepts, so blocking here cannot deadlock. */
    if (connect(fd, (struct sockaddr *)&ss, len) != 0)
        WM_TEST_FAIL("connect to %s:%u: %s", ip, (unsigned)port, strerror(errno));
    set_nonblock(fd);
    return fd;
}

int tu_unix_connect(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    ASSERT_LT(strlen(path), sizeof(sun.sun_path));
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
        WM_TEST_FAIL("connect to %s: %s", path, strerror(errno));
    set_nonblock(fd);
    return fd;
}

uint16_t tu_closed_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

void tu_pattern_fill(char *buf, uint64_t offset, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)tu_pattern(offset + i);
}

/* Keeps at most this much generated pattern in the out buffer, so a 32 MiB
 * stream costs a little memory at a time. */
#define RAW_PATTERN_CHUNK (256 * 1024)

static void raw_refill(tu_raw_t *r)
{
    static char chunk[RAW_PATTERN_CHUNK];
    while (r->pattern_left && evbuffer_get_length(r->out) < RAW_PATTERN_CHUNK) {
        size_t n = r->pattern_left < sizeof(chunk) ? (size_t)r->pattern_left : sizeof(chunk);
        tu_pattern_fill(chunk, r->pattern_next, n);
        evbuffer_add(r->out, chunk, n);
        r->pattern_next += n;
        r->pattern_left -= n;
    }
}

static void raw_update_write(tu_raw_t *r)
{
    if (r->fd >= 0 && evbuffer_get_length(r->out) > 0)
        event_add(r->wev, NULL);
    else
        event_del(r->wev);
}

static void raw_on_write(evutil_socket_t fd, short what, void *ud)
{
    tu_raw_t *r = ud;
    for (;;) {
        raw_refill(r);
        if (evbuffer_get_length(r->out) == 0)
            break;
        int n = evbuffer_write(r->out, fd);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                r->err = errno;
            break;
        }
        r->written += (uint64_t)n;
    }
    raw_update_write(r);
}

static void raw_take(tu_raw_t *r, const char *buf, size_t n)
{
    if (r->check_pattern && r->bad_at < 0) {
        for (size_t i = 0; i < n; i++) {
            if ((uint8_t)buf[i] != tu_pattern(r->received + i)) {
                r->bad_at = (int64_t)(r->received + i);
                break;
            }
        }
    }
    if (r->in_len < r->in_cap) {
        size_t k = r->in_cap - r->in_len < n ? r->in_cap - r->in_len : n;
        memcpy(r->in + r->in_len, buf, k);
        r->in_len += k;
    }
    r->received += n;
}

static void raw_on_read(evutil_socket_t fd, short what, void *ud)
{
    tu_raw_t *r = ud;
    static char buf[256 * 1024];
    /* Bounded: a few reads per wakeup, so one fast peer cannot starve the
     * rest of the loop (the loop is shared with the code under test). */
    for (int i = 0; i < 8; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            raw_take(r, buf, (size_t)n);
            continue;
        }
        if (n == 0) {
            r->eof = true;
            event_del(r->rev);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            r->err = errno;
            r->eof = true;
            event_del(r->rev);
        }
        break;
    }
}

tu_raw_t *tu_raw_new(int fd, bool read)
{
    tu_raw_t *r = calloc(1, sizeof(*r));
    ASSERT(r != NULL);
    r->fd = fd;
    r->bad_at = -1;
    r->in_cap = 1 << 20;
    r->in = malloc(r->in_cap);
    r->out = evbuffer_new();
    r->rev = event_new(wm_loop_base(), fd, EV_READ | EV_PERSIST, raw_on_read, r);
    r->wev = event_new(wm_loop_base(), fd, EV_WRITE | EV_PERSIST, raw_on_write, r);
    ASSERT(r->in && r->out && r->rev && r->wev);
    tu_raw_set_reading(r, read);
    return r;
}

void tu_raw_write(tu_raw_t *r, const void *data, size_t len)
{
    evbuffer_add(r->out, data, len);
    raw_update_write(r);
}

void tu_raw_write_pattern(tu_raw_t *r, uint64_t n)
{
    r->pattern_left += n;
    raw_refill(r);
    raw_update_write(r);
}

void tu_raw_set_reading(tu_raw_t *r, bool on)
{
    r->reading = on;
    if (on && !r->eof && r->fd >= 0)
        event_add(r->rev, NULL);
    else
        event_del(r->rev);
}

void tu_raw_close(tu_raw_t *r, bool reset)
{
    if (r->fd < 0)
        return;
    event_del(r->rev);
    event_del(r->wev);
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(r->fd);
    r->fd = -1;
}

void tu_raw_free(tu_raw_t *r)
{
    if (!r)
        return;
    tu_raw_close(r, false);
    event_free(r->rev);
    event_free(r->wev);
    evbuffer_free(r->out);
    free(r->in);
    free(r);
}

bool tu_raw_pred_eof(void *r)
{
    return ((tu_raw_t *)r)->eof;
}

bool tu_raw_pred_sent_all(void *arg)
{
    tu_raw_t *r = arg;
    return r->pattern_left == 0 && evbuffer_get_length(r->out) == 0;
}

typedef struct raw_goal {
    tu_raw_t *r;
    uint64_t n;
} raw_goal_t;

static bool pred_raw_bytes(void *arg)
{
    raw_goal_t *g = arg;
    if (g->r->received < g->n && g->r->eof)
        WM_TEST_FAIL("raw peer: connection ended after %llu of %llu bytes (errno %d)",
                     (unsigned long long)g->r->received, (unsigned long long)g->n, g->r->err);
    return g->r->received >= g->n;
}

void tu_raw_wait_bytes(tu_raw_t *r, uint64_t n, uint64_t timeout_ms)
{
    raw_goal_t g = {r, n};
    tu_run_until(pred_raw_bytes, &g, timeout_ms, "raw peer to receive its bytes");
}

/* ---- Accepting ---------------------------------------------------------------- */

typedef struct accept_goal {
    wm_worker_t *w;
    size_t n;
} accept_goal_t;

static bool pred_accepted(void *arg)
{
    accept_goal_t *g = arg;
    return wm_worker_conn_count(g->w) >= g->n;
}

static void newest_cb(wm_conn_t *c, void *ud)
{
    wm_conn_t **best = ud;
    if (!*best || wm_conn_id(c) > wm_conn_id(*best))
        *best = c;
}

wm_conn_t *tu_wait_accept(wm_worker_t *w, size_t n, uint64_t timeout_ms)
{
    accept_goal_t g = {w, n};
    tu_run_until(pred_accepted, &g, timeout_ms, "the worker to accept");
    wm_conn_t *best = NULL;
    wm_worker_foreach_conn(w, newest_cb, &best);
    ASSERT(best != NULL);
    return best;
}

/* ---- Trickling ------------------------------------------------------------------ */

typedef struct trickle {
    tu_raw_t *r;
    char *data;
    size_t len, off;
} trickle_t;

static trickle_t *trickles[8];

static void trickle_tick(wm_timer_id_t id, void *ud)
{
    trickle_t *t = ud;
    if (t->r->fd < 0 || t->off >= t->len) {
        wm_timer_del(id);
        return;
    }
    ssize_t n = send(t->r->fd, t->data + t->off, 1, MSG_NOSIGNAL);
    if (n == 1) {
        t->off++;
        t->r->written++;
    }
    if (t->off >= t->len)
        wm_timer_del(id);
}

static void trickle_free(void *ud)
{
    trickle_t *t = ud;
    for (int i = 0; i < 8; i++)
        if (trickles[i] == t)
            trickles[i] = NULL;
    free(t->data);
    free(t);
}

void tu_raw_trickle(tu_raw_t *r, const void *data, size_t len)
{
    trickle_t *t = calloc(1, sizeof(*t));
    ASSERT(t != NULL);
    t->r = r;
    t->data = malloc(len ? len : 1);
    memcpy(t->data, data, len);
    t->len = len;
    int slot = -1;
    for (int i = 0; i < 8 && slot < 0; i++)
        if (!trickles[i])
            slot = i;
    ASSERT(slot >= 0);
    trickles[slot] = t;
    ASSERT(wm_timer_add(1, true, trickle_tick, t, trickle_free) != 0);
}

bool tu_raw_trickle_done(void *r)
{
    for (int i = 0; i < 8; i++)
        if (trickles[i] && trickles[i]->r == r)
            return false;
    return true;
}

/* ---- Messages ------------------------------------------------------------------ */

void tu_msgs_add(tu_msgs_t *m, const char *data, size_t len)
{
    if (m->n < TU_MAX_MSGS) {
        m->data[m->n] = malloc(len ? len : 1);
        ASSERT(m->data[m->n] != NULL);
        memcpy(m->data[m->n], data, len);
        m->len[m->n] = len;
    }
    m->n++;
    if (m->cat_len + len > m->cat_cap) {
        size_t cap = m->cat_cap ? m->cat_cap : 4096;
        while (cap < m->cat_len + len)
            cap *= 2;
        m->cat = realloc(m->cat, cap);
        ASSERT(m->cat != NULL);
        m->cat_cap = cap;
    }
    memcpy(m->cat + m->cat_len, data, len);
    m->cat_len += len;
}

void tu_msgs_clear(tu_msgs_t *m)
{
    for (int i = 0; i < m->n && i < TU_MAX_MSGS; i++)
        free(m->data[i]);
    free(m->cat);
    memset(m, 0, sizeof(*m));
}

void tu_msgs_expect(const tu_msgs_t *m, const char *const *want, const size_t *wlen, int n,
                    const char *who)
{
    if (m->n != n)
        WM_TEST_FAIL("%s: got %d messages, want %d", who, m->n, n);
    for (int i = 0; i < n; i++) {
        if (m->len[i] != wlen[i])
            WM_TEST_FAIL("%s: message %d has %zu bytes, want %zu", who, i, m->len[i], wlen[i]);
        if (memcmp(m->data[i], want[i], wlen[i]) != 0)
            WM_TEST_FAIL("%s: message %d differs (%zu bytes)", who, i, wlen[i]);
    }
}
