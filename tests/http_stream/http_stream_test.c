/* SPDX-License-Identifier: MIT */
/* wm_http_stream_tests: streamed answers, Server-Sent Events and gzip
 * (wm/http.h) on an in-process worker at http://127.0.0.1:0, driven by raw
 * sockets so the bytes on the wire are what is checked: chunked framing
 * byte for byte, HTTP/1.0 until the close, HEAD, a pipelined request
 * waiting for the stream's end, the peer leaving mid-stream, back-pressure
 * with a reader that does not read, the event-stream format, Last-Event-ID,
 * the idle timeout sparing a live stream, and gzip's decisions (q-values,
 * minimum length, types, Vary, HEAD, 204/304, Content-Encoding already
 * set), decompressed with zlib.
 *
 * `--serve PORTFILE` instead runs the same server (gzip on) until killed,
 * for curl_test.sh. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>
#include <zlib.h>

#include "wm_test.h"

#include "../../libwm/src/http_int.h"

/* ---- The server under test ---------------------------------------------------- */

/* A producer: writes `pieces` pieces "piece<i>\n", one per `every_ms`, then
 * ends (pieces < 0: never ends). It finds its connection by id each time,
 * since the connection may be gone. */
typedef struct producer {
    uint64_t conn_id;
    int pieces, sent;
    bool sse;
    int stopped; /* 0 running, 1 ended, 2 connection gone, 3 WM_ENOTCONN */
} producer_t;

static producer_t prod;
static int n_messages, n_closed, n_full, n_drain, n_enobufs_in_full;
static int after_seen_at_piece = -1; /* prod.sent when /after was delivered */
static bool bp_paused;
static uint64_t bp_id;
static wm_timer_id_t bp_timer;
static size_t bp_written;

#define BP_PIECE 16384
/* More than the kernel alone can hold: the server's send buffer grows to
 * net.ipv4.tcp_wmem's maximum (4 MiB by default) even towards a small
 * receive window, and the queue must fill past that. */
#define BP_TOTAL (12 * 1024 * 1024)

static void produce(wm_timer_id_t id, void *ud)
{
    producer_t *p = ud;
    wm_conn_t *c = wm_conn_find(p->conn_id);
    if (!c) {
        p->stopped = 2;
        wm_timer_del(id);
        return;
    }
    if (p->pieces >= 0 && p->sent == p->pieces) {
        ASSERT(wm_http_stream_end(c) >= 0);
        p->stopped = 1;
        wm_timer_del(id);
        return;
    }
    char piece[32], eid[16];
    int n = snprintf(piece, sizeof piece, p->sse ? "piece%d" : "piece%d\n", p->sent);
    snprintf(eid, sizeof eid, "%d", p->sent);
    int rc = p->sse ? wm_http_sse_send(c, "tick", eid, piece)
                    : wm_http_stream_write(c, piece, (size_t)n);
    if (rc == WM_ENOTCONN) {
        p->stopped = 3;
        wm_timer_del(id);
        return;
    }
    ASSERT(rc == WM_SENT || rc == WM_QUEUED);
    p->sent++;
}

static void start_producer(wm_conn_t *c, int pieces, uint64_t every_ms)
{
    prod = (producer_t){.conn_id = wm_conn_id(c), .pieces = pieces};
    ASSERT(wm_timer_add(every_ms, true, produce, &prod, NULL) > 0);
}

static void on_close(wm_conn_t *c, void *ud)
{
    n_closed++;
    if (wm_http_streaming(c))
        ASSERT_EQ(wm_http_stream_write(c, "x", 1), WM_ENOTCONN);
}

/* Back-pressure: write as fast as the connection takes it, pause on
 * on_buffer_full, go on after on_buffer_drain. */
static void bp_produce(wm_timer_id_t id, void *ud)
{
    wm_conn_t *c = wm_conn_find(bp_id);
    ASSERT(c != NULL);
    static char piece[BP_PIECE];
    while (!bp_paused && bp_written < BP_TOTAL) {
        memset(piece, 'a' + (int)(bp_written / BP_PIECE % 26), sizeof piece);
        int rc = wm_http_stream_write(c, piece, sizeof piece);
        ASSERT(rc == WM_SENT || rc == WM_QUEUED);
        bp_written += sizeof piece;
    }
    if (bp_written == BP_TOTAL) {
        ASSERT(wm_http_stream_end(c) >= 0);
        wm_timer_del(id);
        bp_timer = 0;
    }
}

static void bp_full(wm_conn_t *c, void *ud)
{
    n_full++;
    bp_paused = true;
    /* The queue is at its limit: a write now is refused whole. */
    if (wm_http_stream_write(c, "x", 1) == WM_ENOBUFS)
        n_enobufs_in_full++;
}

static void bp_drain(wm_conn_t *c, void *ud)
{
    n_drain++;
    bp_paused = false;
}

static const char *query_value(const wm_http_request_t *req, const char *key, const char *dflt)
{
    static char v[128];
    const char *q = wm_http_request_query(req);
    size_t k = strlen(key);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, k) == 0 && p[k] == '=') {
            size_t n = strcspn(p + k + 1, "&");
            snprintf(v, sizeof v, "%.*s", (int)n, p + k + 1);
            return v;
        }
    }
    return dflt;
}

static void answer_sse(wm_conn_t *c, const wm_http_request_t *req)
{
    /* Refused: a Content-Type of its own; nothing is answered. */
    wm_http_response_t *r = wm_http_response_new(200);
    ASSERT_EQ(wm_http_response_header(r, "Content-Type", "text/plain"), WM_OK);
    ASSERT_EQ(wm_http_sse_start(c, r), WM_EINVAL);
    ASSERT(!wm_http_streaming(c));
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, "x"), WM_EINVAL); /* not streaming */
    r = wm_http_response_new(200);
    ASSERT_EQ(wm_http_response_header(r, "X-Extra", "1"), WM_OK);
    if (strcmp(query_value(req, "cc", ""), "") != 0)
        ASSERT_EQ(wm_http_response_header(r, "Cache-Control", query_value(req, "cc", "")), WM_OK);
    ASSERT_EQ(wm_http_sse_start(c, r), WM_SENT);
    ASSERT(wm_http_streaming(c));
    ASSERT_EQ(wm_http_reply(c, 200, NULL, "", 0), WM_EINVAL); /* mid-stream */
    ASSERT_EQ(wm_http_stream_start(c, wm_http_response_new(200)), WM_EINVAL);
    ASSERT(wm_conn_send(c, "x", 1) < 0);
    ASSERT_EQ(wm_http_sse_retry(c, 3000), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, "tick", "7", "one\ntwo\r\nthree\n"), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, "plain"), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, NULL, "", NULL), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, "a\rb"), WM_SENT);
    ASSERT_EQ(wm_http_sse_comment(c, "hi"), WM_SENT);
    ASSERT_EQ(wm_http_sse_comment(c, NULL), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, "a\nb", NULL, "x"), WM_EINVAL);
    ASSERT_EQ(wm_http_sse_send(c, "a\rb", NULL, "x"), WM_EINVAL);
    ASSERT_EQ(wm_http_sse_send(c, NULL, "1\r\n2", "x"), WM_EINVAL);
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, NULL), WM_EINVAL);
    ASSERT_EQ(wm_http_sse_comment(c, "x\ny"), WM_EINVAL);
    const char *last = wm_http_sse_last_event_id(req);
    char data[64];
    snprintf(data, sizeof data, "last=%s", last ? last : "(none)");
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, data), WM_SENT);
    ASSERT_EQ(wm_http_stream_end(c), WM_SENT);
    ASSERT_EQ(wm_http_sse_send(c, NULL, NULL, "late"), WM_EINVAL);
}

/* The gzip test bodies: a repeated line, `n` bytes. */
static char *text_body(size_t n)
{
    static const char line[] = "wm gzip test line\n";
    char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        b[i] = line[i % (sizeof line - 1)];
    b[n] = '\0';
    return b;
}

/* /text?n=BYTES&type=TYPE&status=S&ce=ENCODING */
static void answer_text(wm_conn_t *c, const wm_http_request_t *req)
{
    size_t n = strtoul(query_value(req, "n", "1000"), NULL, 10);
    wm_http_response_t *r = wm_http_response_new(atoi(query_value(req, "status", "200")));
    ASSERT_EQ(wm_http_response_header(r, "Content-Type", query_value(req, "type", "text/plain")),
              WM_OK);
    const char *ce = query_value(req, "ce", NULL);
    if (ce)
        ASSERT_EQ(wm_http_response_header(r, "Content-Encoding", ce), WM_OK);
    char *b = text_body(n);
    ASSERT_EQ(wm_http_response_body(r, b, n), WM_OK);
    free(b);
    ASSERT(wm_http_send(c, r) >= 0);
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    n_messages++;
    if (strcmp(path, "/stream") == 0) {
        wm_http_response_t *r = wm_http_response_new(200);
        ASSERT_EQ(wm_http_response_header(r, "Content-Type", "text/plain"), WM_OK);
        ASSERT_EQ(wm_http_stream_start(c, r), WM_SENT);
        ASSERT(wm_http_streaming(c));
        start_producer(c, atoi(query_value(req, "n", "3")), 20);
    } else if (strcmp(path, "/sse") == 0) {
        answer_sse(c, req);
    } else if (strcmp(path, "/ticks") == 0) {
        /* n events, one every `ms`, then the end; keep-alive comments. */
        ASSERT_EQ(wm_http_sse_start(c, NULL), WM_SENT);
        ASSERT_EQ(wm_http_sse_keepalive(c, strtoull(query_value(req, "ka", "0"), NULL, 10)), WM_OK);
        prod = (producer_t){
            .conn_id = wm_conn_id(c), .pieces = atoi(query_value(req, "n", "3")), .sse = true};
        ASSERT(wm_timer_add(strtoull(query_value(req, "ms", "100"), NULL, 10), true, produce, &prod,
                            NULL) > 0);
    } else if (strcmp(path, "/bp") == 0) {
        bp_id = wm_conn_id(c);
        wm_conn_set_max_send_buffer(c, 65536);
        wm_conn_on_buffer_full(c, bp_full, NULL);
        wm_conn_on_buffer_drain(c, bp_drain, NULL);
        wm_http_response_t *r = wm_http_response_new(200);
        ASSERT_EQ(wm_http_response_header(r, "Content-Type", "application/octet-stream"), WM_OK);
        ASSERT(wm_http_stream_start(c, r) >= 0);
        bp_timer = wm_timer_add(1, true, bp_produce, NULL, NULL);
    } else if (strcmp(path, "/text") == 0) {
        answer_text(c, req);
    } else if (strcmp(path, "/send") == 0) {
        char *b = text_body(2000);
        ASSERT(wm_conn_send(c, b, 2000) >= 0);
        free(b);
    } else {
        if (strcmp(path, "/after") == 0)
            after_seen_at_piece = prod.stopped == 1 ? prod.sent : -1;
        ASSERT(wm_http_reply(c, 200, "text/plain", path, strlen(path)) >= 0);
    }
}

static wm_worker_t *start_server(void)
{
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_message(w, on_message, NULL);
    wm_worker_on_close(w, on_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

/* ---- A raw client ------------------------------------------------------------------ */

typedef struct client {
    int fd;
    char *buf;
    size_t len, cap;
    bool eof;
} client_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static client_t *client_new(const wm_worker_t *w)
{
    client_t *c = calloc(1, sizeof *c);
    c->cap = BP_TOTAL + 4 * 1024 * 1024; /* the whole back_pressure stream */
    c->buf = malloc(c->cap);
    c->buf[0] = '\0';
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(wm_worker_port(w))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    return c;
}

static void client_free(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

static void client_send(client_t *c, const char *data)
{
    size_t done = 0, len = strlen(data);
    while (done < len) {
        ssize_t n = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
        ASSERT(n > 0);
        done += (size_t)n;
    }
}

static void run_for(uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

/* Runs the loop and reads until `pred` holds or `ms` pass (then fails). */
static void client_wait(client_t *c, bool (*pred)(client_t *, const void *), const void *arg,
                        uint64_t ms, const char *what)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
        if (n > 0)
            c->len += (size_t)n;
        else if (n == 0)
            c->eof = true;
        c->buf[c->len] = '\0';
        if (pred(c, arg))
            return;
        if (now_ms() > end)
            WM_TEST_FAIL("timed out waiting for %s; got %zu bytes%s:\n%.2000s", what, c->len,
                         c->eof ? " and EOF" : "", c->buf);
        if (n <= 0)
            usleep(500);
    }
}

static bool has_text(client_t *c, const void *arg)
{
    return strstr(c->buf, arg) != NULL;
}

static bool has_eof(client_t *c, const void *arg)
{
    return c->eof;
}

/* The head of the first response in the buffer (NUL-terminated copy), and
 * where its body starts. */
static size_t head_of(client_t *c, char *head, size_t cap)
{
    char *end = strstr(c->buf, "\r\n\r\n");
    ASSERT(end != NULL);
    size_t hlen = (size_t)(end - c->buf) + 4;
    ASSERT(hlen < cap);
    memcpy(head, c->buf, hlen);
    head[hlen] = '\0';
    return hlen;
}

/* Decodes a complete chunked body at the front of `p`: returns the bytes
 * it took (0: incomplete), the data in out/out_len and each chunk's end
 * offset in ends[] (its count in *nchunks). */
static size_t dechunk(const char *p, size_t len, char *out, size_t *out_len, size_t *ends,
                      size_t *nchunks)
{
    size_t at = 0, o = 0, k = 0;
    for (;;) {
        const char *crlf = memmem(p + at, len - at, "\r\n", 2);
        if (!crlf)
            return 0;
        char *hex_end;
        unsigned long n = strtoul(p + at, &hex_end, 16);
        ASSERT(hex_end == crlf); /* no extensions from us */
        at = (size_t)(crlf - p) + 2;
        if (n == 0) {
            if (len - at < 2)
                return 0;
            ASSERT_MEM_EQ(p + at, "\r\n", 2); /* no trailers */
            *out_len = o;
            if (nchunks)
                *nchunks = k;
            return at + 2;
        }
        if (len - at < n + 2)
            return 0;
        memcpy(out + o, p + at, n);
        o += n;
        if (ends)
            ends[k] = o;
        k++;
        ASSERT_MEM_EQ(p + at + n, "\r\n", 2);
        at += n + 2;
    }
}

static bool has_chunked_body(client_t *c, const void *arg)
{
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return false;
    size_t hlen = (size_t)(end - c->buf) + 4, olen;
    char *out = malloc(c->len + 1);
    size_t took = dechunk(c->buf + hlen, c->len - hlen, out, &olen, NULL, NULL);
    free(out);
    return took > 0;
}

static void expect_open(client_t *c)
{
    uint64_t end = now_ms() + 50;
    while (now_ms() < end) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        char b;
        ASSERT(recv(c->fd, &b, 1, MSG_PEEK) < 0);
        usleep(1000);
    }
}

static void finish(wm_worker_t *w)
{
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Streams ------------------------------------------------------------------------------ */

static void test_chunked_exact(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "0\r\n\r\n", 3000, "the end of the stream");
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head);
    ASSERT(strncmp(head, "HTTP/1.1 200 OK\r\nServer: wm\r\nDate: ", 35) == 0);
    ASSERT(strstr(head, "\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"));
    ASSERT(!strcasestr(head, "Content-Length") && !strcasestr(head, "Connection:"));
    ASSERT_STR_EQ(c->buf + hlen, "7\r\npiece0\n\r\n7\r\npiece1\n\r\n7\r\npiece2\n\r\n0\r\n\r\n");
    ASSERT_EQ(prod.stopped, 1);
    /* The connection lives on for the next request. */
    expect_open(c);
    c->len = 0;
    client_send(c, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "/next", 3000, "the next answer");
    client_free(c);
    finish(w);
}

static void test_http10_until_close(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    client_wait(c, has_eof, NULL, 3000, "the close that ends a 1.0 stream");
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head);
    ASSERT(strstr(head, "\r\nConnection: close\r\n"));
    ASSERT(!strcasestr(head, "Transfer-Encoding") && !strcasestr(head, "Content-Length"));
    ASSERT_STR_EQ(c->buf + hlen, "piece0\npiece1\npiece2\n");
    client_free(c);
    finish(w);
}

static void test_head_and_pipelined(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    /* HEAD gets the fields a GET gets, no body; the request behind it is
     * delivered only once the stream has ended. */
    client_send(c,
                "HEAD /stream HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "/after", 3000, "the answer after the HEAD stream");
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head);
    ASSERT(strstr(head, "\r\nTransfer-Encoding: chunked\r\n"));
    ASSERT(strncmp(c->buf + hlen, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ASSERT_EQ(after_seen_at_piece, 3);
    /* The same with a GET stream: its last chunk comes before the next
     * answer. */
    c->len = 0;
    client_send(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "/after", 3000, "the answer after the stream");
    hlen = head_of(c, head, sizeof head);
    const char *body =
        "7\r\npiece0\n\r\n7\r\npiece1\n\r\n7\r\npiece2\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
    ASSERT(strncmp(c->buf + hlen, body, strlen(body)) == 0);
    ASSERT_EQ(after_seen_at_piece, 3);
    ASSERT_EQ(n_messages, 4);
    client_free(c);
    finish(w);
}

static void test_peer_closes_mid_stream(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /stream?n=-1 HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "piece1\n", 3000, "two pieces");
    close(c->fd);
    c->fd = -1;
    uint64_t t0 = now_ms();
    while (!(n_closed && prod.stopped) && now_ms() - t0 < 3000)
        run_for(5);
    ASSERT_EQ(n_closed, 1); /* on_close asserts that a write returns WM_ENOTCONN */
    ASSERT(prod.stopped == 2 || prod.stopped == 3);
    client_free(c);
    finish(w);
}

static void test_back_pressure(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    int small = 65536;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    client_send(c, "GET /bp HTTP/1.1\r\nHost: h\r\n\r\n");
    /* Not reading: the queue fills and the producer is told to pause. */
    uint64_t t0 = now_ms();
    while (!n_full && now_ms() - t0 < 3000)
        run_for(5);
    ASSERT_EQ(n_full, 1);
    ASSERT_EQ(n_enobufs_in_full, 1);
    size_t at_pause = bp_written;
    run_for(100);
    ASSERT_EQ(bp_written, at_pause); /* paused, nothing dropped or queued */
    ASSERT_LT(bp_written, BP_TOTAL);
    /* Reading drains it; the producer resumes and finishes. */
    client_wait(c, has_chunked_body, NULL, 10000, "the whole stream");
    ASSERT_GE(n_drain, 1);
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head), olen;
    char *out = malloc(c->len);
    ASSERT(dechunk(c->buf + hlen, c->len - hlen, out, &olen, NULL, NULL) > 0);
    ASSERT_EQ(olen, BP_TOTAL);
    for (size_t i = 0; i < olen; i += BP_PIECE)
        ASSERT_EQ(out[i], 'a' + (int)(i / BP_PIECE % 26));
    free(out);
    client_free(c);
    finish(w);
}

/* ---- Server-Sent Events --------------------------------------------------------------------- */

static void test_sse_format(void)
{
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /sse HTTP/1.1\r\nHost: h\r\nLast-Event-ID: 41\r\n\r\n");
    client_wait(c, has_chunked_body, NULL, 3000, "the event stream");
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head), olen, nchunks, ends[32];
    ASSERT(strstr(head, "\r\nTransfer-Encoding: chunked\r\n"));
    ASSERT(strstr(head, "\r\nX-Extra: 1\r\nContent-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n"));
    char out[1024];
    ASSERT(dechunk(c->buf + hlen, c->len - hlen, out, &olen, ends, &nchunks) > 0);
    out[olen] = '\0';
    ASSERT_STR_EQ(out, "retry: 3000\n\n"
                       "event: tick\nid: 7\ndata: one\ndata: two\ndata: three\ndata: \n\n"
                       "data: plain\n\n"
                       "id: \n\n"
                       "data: a\ndata: b\n\n"
                       ": hi\n\n"
                       ":\n\n"
                       "data: last=41\n\n");
    ASSERT_EQ(nchunks, 8); /* one chunk per event: never half an event */
    client_free(c);
    /* Without Last-Event-ID. */
    c = client_new(w);
    client_send(c, "GET /sse HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "data: last=(none)\n\n", 3000, "no Last-Event-ID");
    client_free(c);
    /* The caller's own Cache-Control wins, and is the only one. */
    c = client_new(w);
    client_send(c, "GET /sse?cc=private HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_chunked_body, NULL, 3000, "the event stream");
    hlen = head_of(c, head, sizeof head);
    ASSERT(strstr(head, "\r\nX-Extra: 1\r\nCache-Control: private\r\n"
                        "Content-Type: text/event-stream\r\nX-Accel-Buffering: no\r\n\r\n"));
    ASSERT(!strstr(head, "no-cache"));
    client_free(c);
    finish(w);
}

/* A live event stream outlives the idle timeout, and keep-alive comments
 * flow while it is quiet. */
static void test_sse_idle_and_keepalive(void)
{
    wm_http_set_idle_timeout(100);
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /ticks?n=2&ms=600&ka=50 HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "piece0\n", 3000, "the first event");
    ASSERT(!c->eof);
    char head[1024];
    size_t hlen = head_of(c, head, sizeof head);
    /* 600 ms between events, 50 ms keep-alives: several comments first. */
    const char *first = strstr(c->buf + hlen, "piece0");
    int beats = 0;
    for (const char *p = c->buf + hlen; (p = strstr(p, ": keep-alive\n\n")) && p < first; p++)
        beats++;
    ASSERT_GE(beats, 5);
    client_wait(c, has_text, "0\r\n\r\n", 3000, "the end of the stream");
    ASSERT(!c->eof);
    ASSERT_EQ(n_closed, 0);
    /* Afterwards the idle timeout applies again. */
    client_wait(c, has_eof, NULL, 3000, "the idle close after the stream");
    client_free(c);
    finish(w);
}

/* ---- gzip --------------------------------------------------------------------------------------
 */

static void gunzip(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    z_stream z = {0};
    ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int zr = inflate(&z, Z_SYNC_FLUSH);
    ASSERT(zr == Z_OK || zr == Z_STREAM_END);
    *out_len = cap - z.avail_out;
    inflateEnd(&z);
}

typedef struct answer {
    char head[2048];
    char body[65536];
    size_t body_len;
} answer_t;

static bool has_answer(client_t *c, const void *arg)
{
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return false;
    const char *cl = strcasestr(c->buf, "\r\nContent-Length: ");
    size_t hlen = (size_t)(end - c->buf) + 4;
    bool head_req = *(const bool *)arg;
    return head_req || !cl || cl > end || c->len >= hlen + strtoul(cl + 18, NULL, 10);
}

/* One request on a fresh connection; the answer's head and body. */
static void fetch(wm_worker_t *w, const char *req, answer_t *a)
{
    client_t *c = client_new(w);
    client_send(c, req);
    bool head_req = strncmp(req, "HEAD", 4) == 0;
    client_wait(c, has_answer, &head_req, 3000, "an answer");
    size_t hlen = head_of(c, a->head, sizeof a->head);
    a->body_len = c->len - hlen;
    ASSERT(a->body_len <= sizeof a->body);
    memcpy(a->body, c->buf + hlen, a->body_len);
    const char *cl = strcasestr(a->head, "\r\nContent-Length: ");
    if (cl)
        ASSERT_EQ(a->body_len, head_req ? 0 : strtoul(cl + 18, NULL, 10));
    client_free(c);
}

static bool gzipped(const answer_t *a)
{
    return strstr(a->head, "\r\nContent-Encoding: gzip\r\n") != NULL;
}

static bool varies(const answer_t *a)
{
    return strstr(a->head, "\r\nVary: Accept-Encoding\r\n") != NULL;
}

static void expect_text(const answer_t *a, size_t n)
{
    static char out[65536];
    size_t olen = a->body_len;
    if (gzipped(a))
        gunzip(a->body, a->body_len, out, sizeof out, &olen);
    else
        memcpy(out, a->body, olen);
    char *want = text_body(n);
    ASSERT_EQ(olen, n);
    ASSERT_MEM_EQ(out, want, n);
    free(want);
}

static void test_accept_encoding_parse(void)
{
    static const struct {
        const char *v;
        bool yes;
    } cases[] = {
        {"gzip", true},
        {"gzip, deflate, br", true},
        {"deflate, gzip;q=0.5", true},
        {"GZIP;Q=1.0", true},
        {"x-gzip", true},
        {"*", true},
        {"br, *;q=0.1", true},
        {" gzip ; q = 1 ", true}, /* blanks around '=' are tolerated */
        {"gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"gzip;q=0.001", true},
        {"gzip;q=0, *", false}, /* named wins over "*" */
        {"*;q=0", false},
        {"identity", false},
        {"deflate, br", false},
        {"gzip;q=1.5", false},
        {"gzip;q=0.1234", false},
        {"gzip;q=", false},
        {"gzip;q=abc", false},
        {"gzip;level=1;q=0.2", true},
        {"gzipx", false},
        {"", false},
        {",,,", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (wm__http_accepts_gzip(cases[i].v, strlen(cases[i].v)) != cases[i].yes)
            WM_TEST_FAIL("Accept-Encoding \"%s\": want %d", cases[i].v, cases[i].yes);
    ASSERT(wm__http_gzip_type("text/html; charset=utf-8"));
    ASSERT(wm__http_gzip_type("application/JSON"));
    ASSERT(wm__http_gzip_type("application/ld+json"));
    ASSERT(wm__http_gzip_type("application/atom+xml;q=1"));
    ASSERT(wm__http_gzip_type("image/svg+xml"));
    ASSERT(!wm__http_gzip_type("text/event-stream"));
    ASSERT(!wm__http_gzip_type("image/png"));
    ASSERT(!wm__http_gzip_type("application/octet-stream"));
    ASSERT(!wm__http_gzip_type("text/"));
    ASSERT(!wm__http_gzip_type("+xml"));
}

#define GET_TEXT(q, ae) "GET /text?" q " HTTP/1.1\r\nHost: h\r\n" ae "\r\n"

static void test_gzip_decisions(void)
{
    ASSERT_EQ(wm_http_gzip(), 0); /* off by default */
    ASSERT_EQ(wm_http_gzip_min_length(), 256);
    wm_worker_t *w = start_server();
    static answer_t a, b;
    /* Off: nothing changes, no Vary. */
    fetch(w, GET_TEXT("n=1000", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(!gzipped(&a) && !varies(&a));
    expect_text(&a, 1000);
    ASSERT_EQ(wm_http_set_gzip(10), WM_EINVAL);
    ASSERT_EQ(wm_http_set_gzip(-1), WM_EINVAL);
    ASSERT_EQ(wm_http_set_gzip(6), WM_OK);
    ASSERT_EQ(wm_http_gzip(), 6);
    /* On, accepted: gzip, Vary, Content-Length of the compressed body. */
    fetch(w, GET_TEXT("n=1000", "Accept-Encoding: gzip, deflate\r\n"), &a);
    ASSERT(gzipped(&a) && varies(&a));
    ASSERT_LT(a.body_len, 200);
    expect_text(&a, 1000);
    /* Refused by q-value, or not asked: as it is, with Vary all the same. */
    fetch(w, GET_TEXT("n=1000", "Accept-Encoding: gzip;q=0, deflate\r\n"), &a);
    ASSERT(!gzipped(&a) && varies(&a));
    expect_text(&a, 1000);
    fetch(w, GET_TEXT("n=1000", ""), &a);
    ASSERT(!gzipped(&a) && varies(&a));
    fetch(w, GET_TEXT("n=1000", "Accept-Encoding: *\r\n"), &a);
    ASSERT(gzipped(&a));
    expect_text(&a, 1000);
    /* Below the minimum length, or not a text type: untouched, no Vary. */
    fetch(w, GET_TEXT("n=255", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(!gzipped(&a) && !varies(&a));
    expect_text(&a, 255);
    fetch(w, GET_TEXT("n=256", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(gzipped(&a));
    expect_text(&a, 256);
    fetch(w, GET_TEXT("n=1000&type=image/png", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(!gzipped(&a) && !varies(&a));
    fetch(w, GET_TEXT("n=1000&type=application/json", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(gzipped(&a));
    expect_text(&a, 1000);
    /* Already encoded: never twice. */
    fetch(w, GET_TEXT("n=1000&ce=br", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(!gzipped(&a) && strstr(a.head, "\r\nContent-Encoding: br\r\n"));
    expect_text(&a, 1000);
    /* 204 and 304 have no body: untouched; 404 is compressed. */
    fetch(w, GET_TEXT("n=1000&status=304", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(strncmp(a.head, "HTTP/1.1 304", 12) == 0 && !gzipped(&a) && !varies(&a));
    ASSERT(!strcasestr(a.head, "Content-Length") && a.body_len == 0);
    fetch(w, GET_TEXT("n=1000&status=204", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(strncmp(a.head, "HTTP/1.1 204", 12) == 0 && !gzipped(&a) && a.body_len == 0);
    fetch(w, GET_TEXT("n=1000&status=206", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(!gzipped(&a) && !varies(&a));
    fetch(w, GET_TEXT("n=1000&status=404", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(gzipped(&a));
    /* HEAD shows the fields a GET gets, Content-Length included. */
    fetch(w, GET_TEXT("n=3000", "Accept-Encoding: gzip\r\n"), &a);
    fetch(w, "HEAD /text?n=3000 HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", &b);
    ASSERT(gzipped(&b) && b.body_len == 0);
    ASSERT_STR_EQ(strstr(b.head, "Content-Length"), strstr(a.head, "Content-Length"));
    ASSERT_STR_EQ(strstr(b.head, "\r\nContent-Type"), strstr(a.head, "\r\nContent-Type"));
    /* wm_conn_send's text/html answers too. */
    fetch(w, "GET /send HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", &a);
    ASSERT(gzipped(&a));
    expect_text(&a, 2000);
    /* The minimum length is a setting. */
    wm_http_set_gzip_min_length(10);
    fetch(w, GET_TEXT("n=100", "Accept-Encoding: gzip\r\n"), &a);
    ASSERT(gzipped(&a));
    expect_text(&a, 100);
    finish(w);
}

static void test_gzip_stream(void)
{
    ASSERT_EQ(wm_http_set_gzip(1), WM_OK);
    wm_worker_t *w = start_server();
    client_t *c = client_new(w);
    client_send(c, "GET /stream HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
    client_wait(c, has_chunked_body, NULL, 3000, "the gzipped stream");
    char head[1024], z[4096], out[4096];
    size_t hlen = head_of(c, head, sizeof head), zlen, olen, ends[16], nchunks;
    ASSERT(strstr(head, "\r\nTransfer-Encoding: chunked\r\n"));
    ASSERT(strstr(head, "\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n"));
    ASSERT(dechunk(c->buf + hlen, c->len - hlen, z, &zlen, ends, &nchunks) > 0);
    ASSERT_EQ(nchunks, 4); /* three pieces and the gzip trailer */
    /* Each chunk is flushed: the first alone inflates to the first piece. */
    gunzip(z, ends[0], out, sizeof out, &olen);
    ASSERT_EQ(olen, 7);
    ASSERT_MEM_EQ(out, "piece0\n", 7);
    gunzip(z, zlen, out, sizeof out, &olen);
    ASSERT_EQ(olen, 21);
    ASSERT_MEM_EQ(out, "piece0\npiece1\npiece2\n", 21);
    client_free(c);
    /* An event stream never is. */
    c = client_new(w);
    client_send(c, "GET /sse HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n");
    client_wait(c, has_text, "data: last=", 3000, "the plain event stream");
    ASSERT(!strstr(c->buf, "Content-Encoding") && !strstr(c->buf, "Vary"));
    client_free(c);
    finish(w);
}

static const wm_test_case_t cases[] = {
    {"chunked_exact", test_chunked_exact},
    {"http10_until_close", test_http10_until_close},
    {"head_and_pipelined", test_head_and_pipelined},
    {"peer_closes_mid_stream", test_peer_closes_mid_stream},
    {"back_pressure", test_back_pressure},
    {"sse_format", test_sse_format},
    {"sse_idle_and_keepalive", test_sse_idle_and_keepalive},
    {"accept_encoding_parse", test_accept_encoding_parse},
    {"gzip_decisions", test_gzip_decisions},
    {"gzip_stream", test_gzip_stream},
    {NULL, NULL},
};

/* --serve PORTFILE: the server for curl_test.sh (gzip on), until SIGTERM. */
static void stop_on_signal(int signum, void *ud)
{
    wm_loop_stop();
}

static int serve(const char *portfile)
{
    wm_http_set_gzip(6);
    wm_worker_t *w = start_server();
    FILE *f = fopen(portfile, "w");
    if (!f)
        return 1;
    fprintf(f, "%u\n", wm_worker_port(w));
    fclose(f);
    wm_signal_add(SIGTERM, stop_on_signal, NULL);
    wm_loop_run();
    wm_worker_free(w);
    wm_loop_free();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2]);
    return wm_test_main(argc, argv, cases);
}
