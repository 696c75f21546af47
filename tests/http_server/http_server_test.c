/* SPDX-License-Identifier: MIT */
/* wm_http_server_tests: the http:// protocol (wm/http.h) on an in-process
 * worker at http://127.0.0.1:0, driven by raw sockets so the bytes on the
 * wire are what is checked: requests with queries and bodies (Content-Length
 * and chunked), pipelining answered in order (one answer given late from a
 * timer), keep-alive against Connection: close and HTTP/1.0, 100-continue,
 * every status the protocol answers by itself (each followed by a close),
 * header injection refused, cookies both ways and the idle timeout.
 *
 * `--serve PORTFILE` instead runs the same server until killed, for
 * curl_test.sh. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "wm_test.h"

/* ---- The server under test ---------------------------------------------------- */

static int n_messages;
static uint64_t late_id;
static uint64_t paused_id;

static void late_answer(wm_timer_id_t id, void *ud)
{
    wm_conn_t *c = wm_conn_find(late_id);
    ASSERT(c != NULL);
    ASSERT_EQ(wm_http_reply(c, 200, "text/plain", "late", 4), WM_SENT);
}

static void reply_text(wm_conn_t *c, const char *text)
{
    int rc = wm_http_reply(c, 200, "text/plain", text, strlen(text));
    ASSERT(rc == WM_SENT || rc == WM_QUEUED || rc == WM_ENOTCONN);
}

static void answer_inject(wm_conn_t *c)
{
    wm_http_response_t *r = wm_http_response_new(200);
    ASSERT_EQ(wm_http_response_header(r, "X-A", "1\r\nSet-Cookie: evil=1"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "X-A", "1\nX-B: 2"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "X-A\r\nX-B", "2"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "X A", "2"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "", "2"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "Content-Length", "2"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "Transfer-Encoding", "chunked"), WM_EINVAL);
    ASSERT_EQ(wm_http_response_cookie(r, "a", "x;y", NULL), WM_EINVAL);
    ASSERT_EQ(wm_http_response_cookie(r, "a", "x\r\ny", NULL), WM_EINVAL);
    ASSERT_EQ(wm_http_response_cookie(r, "a b", "x", NULL), WM_EINVAL);
    wm_http_cookie_opts_t o = {.path = "/\r\nX: y"};
    ASSERT_EQ(wm_http_response_cookie(r, "a", "x", &o), WM_EINVAL);
    wm_http_cookie_opts_t o2 = {.same_site = "Sideways"};
    ASSERT_EQ(wm_http_response_cookie(r, "a", "x", &o2), WM_EINVAL);
    ASSERT_EQ(wm_http_response_header(r, "X-Ok", "fine\tvalue"), WM_OK);
    ASSERT_EQ(wm_http_response_body(r, "ok", 2), WM_OK);
    ASSERT_EQ(wm_http_send(c, r), WM_SENT);
}

static void answer_cookie(wm_conn_t *c, const wm_http_request_t *req)
{
    char body[256];
    const char *a = wm_http_request_cookie(req, "a"), *b = wm_http_request_cookie(req, "b");
    const char *z = wm_http_request_cookie(req, "zz");
    snprintf(body, sizeof body, "a=%s b=%s c=%s zz=%s", a ? a : "-", b ? b : "-",
             wm_http_request_cookie(req, "c") ? wm_http_request_cookie(req, "c") : "-",
             z ? z : "-");
    wm_http_response_t *r = wm_http_response_new(200);
    wm_http_cookie_opts_t o = {.has_max_age = true,
                               .max_age = 3600,
                               .expires = 784111777, /* Sun, 06 Nov 1994 08:49:37 GMT */
                               .domain = "example.com",
                               .path = "/app",
                               .secure = true,
                               .http_only = true,
                               .same_site = "lax"};
    ASSERT_EQ(wm_http_response_cookie(r, "sid", "abc123", &o), WM_OK);
    ASSERT_EQ(wm_http_response_cookie(r, "plain", "v", NULL), WM_OK);
    ASSERT_EQ(wm_http_response_body(r, body, strlen(body)), WM_OK);
    ASSERT_EQ(wm_http_send(c, r), WM_SENT);
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    n_messages++;
    if (strcmp(path, "/late") == 0) {
        late_id = wm_conn_id(c);
        ASSERT(wm_timer_add(50, false, late_answer, NULL, NULL) > 0);
    } else if (strcmp(path, "/pause") == 0) {
        /* The user pauses, then answers: the answer must not lift the pause. */
        paused_id = wm_conn_id(c);
        wm_conn_pause_recv(c);
        reply_text(c, "paused");
    } else if (strcmp(path, "/echo") == 0) {
        ASSERT_EQ(wm_http_reply(c, 200, "application/octet-stream", msg->data, msg->len) >= 0, 1);
    } else if (strcmp(path, "/send") == 0) {
        ASSERT(wm_conn_send(c, "via send", 8) >= 0);
    } else if (strcmp(path, "/inject") == 0) {
        answer_inject(c);
    } else if (strcmp(path, "/cookie") == 0) {
        answer_cookie(c, req);
    } else {
        char body[1024];
        size_t blen;
        const char *b = wm_http_request_body(req, &blen);
        const char *ua = wm_http_request_header(req, "USER-agent");
        const wm_http_header_t *h0 = wm_http_request_header_at(req, 0);
        ASSERT(wm_http_request_header_at(req, wm_http_request_header_count(req)) == NULL);
        snprintf(body, sizeof body, "M=%s P=%s Q=%s T=%s H=%s V=%d KA=%d UA=%s H0=%s B=%.*s",
                 wm_http_request_method(req), path, wm_http_request_query(req),
                 wm_http_request_target(req), wm_http_request_host(req),
                 wm_http_request_version(req), wm_http_request_keep_alive(req), ua ? ua : "-",
                 h0 ? h0->name : "-", (int)blen, b);
        ASSERT_EQ(blen, msg->len);
        reply_text(c, body);
    }
}

static wm_worker_t *start_server(size_t max_package)
{
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    ASSERT(w != NULL);
    if (max_package)
        wm_worker_set_max_package(w, max_package);
    wm_worker_on_message(w, on_message, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

/* ---- A raw client ------------------------------------------------------------------ */

typedef struct client {
    int fd;
    char buf[65536];
    size_t len;
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
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(wm_worker_port(w))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    return c;
}

static void client_free(client_t *c)
{
    close(c->fd);
    free(c);
}

static void client_send(client_t *c, const char *data, size_t len)
{
    size_t done = 0;
    uint64_t end = now_ms() + 5000;
    while (done < len) {
        ssize_t n = send(c->fd, data + done, len - done, MSG_NOSIGNAL);
        if (n > 0)
            done += (size_t)n;
        else
            event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ASSERT(now_ms() < end);
    }
}
#define SEND(c, lit) client_send((c), (lit), sizeof(lit) - 1)

/* Runs the loop and reads until `pred` holds or `ms` pass (then fails). */
static void client_wait(client_t *c, bool (*pred)(client_t *, const void *), const void *arg,
                        uint64_t ms, const char *what)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
        if (n > 0)
            c->len += (size_t)n;
        else if (n == 0)
            c->eof = true;
        c->buf[c->len] = '\0';
        if (pred(c, arg))
            return;
        if (now_ms() > end)
            WM_TEST_FAIL("timed out waiting for %s; got %zu bytes%s:\n%s", what, c->len,
                         c->eof ? " and EOF" : "", c->buf);
        if (n <= 0)
            usleep(1000);
    }
}

/* Splits complete responses off the front of what was read. */
typedef struct resp {
    int status;
    char head[2048];
    char body[8192];
    size_t body_len;
} resp_t;

static bool resp_take(client_t *c, resp_t *r)
{
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return false;
    size_t hlen = (size_t)(end - c->buf) + 4;
    memset(r, 0, sizeof *r);
    ASSERT(hlen < sizeof r->head);
    memcpy(r->head, c->buf, hlen);
    ASSERT_EQ(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    char *cl = strcasestr(r->head, "\r\nContent-Length: ");
    size_t blen = cl ? strtoul(cl + 18, NULL, 10) : 0;
    if (c->len < hlen + blen)
        return false;
    ASSERT(blen < sizeof r->body);
    memcpy(r->body, c->buf + hlen, blen);
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen + 1);
    c->len -= hlen + blen;
    return true;
}

static bool has_response(client_t *c, const void *arg)
{
    resp_t tmp;
    client_t copy = *c; /* a trial split, on a copy */
    return resp_take(&copy, &tmp);
}

static bool has_eof(client_t *c, const void *arg)
{
    return c->eof;
}

static bool has_text(client_t *c, const void *arg)
{
    return strstr(c->buf, arg) != NULL;
}

static void read_response(client_t *c, resp_t *r)
{
    client_wait(c, has_response, NULL, 3000, "a response");
    ASSERT(resp_take(c, r));
}

static bool header_is(const resp_t *r, const char *line)
{
    return strcasestr(r->head, line) != NULL;
}

static void expect_open(client_t *c)
{
    /* Nothing more, and no EOF, for a moment. */
    uint64_t end = now_ms() + 50;
    while (now_ms() < end) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);
        ASSERT(n < 0);
        usleep(1000);
    }
}

static void finish(wm_worker_t *w)
{
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

/* ---- Cases ---------------------------------------------------------------------------- */

static void test_get_query(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nuser-agent: t/1\r\n\r\n");
    resp_t r;
    read_response(c, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "M=GET P=/a/b Q=x=1&y=%20 T=/a/b?x=1&y=%20 H=example.com:8080 V=11 "
                          "KA=1 UA=t/1 H0=Host B=");
    ASSERT(header_is(&r, "\r\nContent-Type: text/plain\r\n"));
    ASSERT(header_is(&r, "\r\nServer: wm\r\n"));
    ASSERT(header_is(&r, "\r\nDate: "));
    ASSERT(!header_is(&r, "Connection:"));
    expect_open(c);
    /* HEAD: the fields of the answer, no body. */
    SEND(c, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    client_wait(c, has_text, "\r\n\r\n", 3000, "the HEAD answer");
    ASSERT(strstr(c->buf, "Content-Length: ") != NULL);
    ASSERT_EQ(strstr(c->buf, "\r\n\r\n") + 4 - c->buf, (long long)c->len);
    expect_open(c);
    client_free(c);
    finish(w);
}

static void run_for(uint64_t ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void test_post_bodies(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
    resp_t r;
    read_response(c, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, 11);
    ASSERT_MEM_EQ(r.body, "hello world", 11);
    /* Chunked, with an extension and a trailer, arriving in pieces. */
    SEND(c, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhel");
    run_for(20);
    ASSERT_EQ(c->len, 0);
    SEND(c, "lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n");
    read_response(c, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, 11);
    ASSERT_MEM_EQ(r.body, "hello world", 11);
    /* A body on a non-echo path reaches the view too. */
    SEND(c, "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
    read_response(c, &r);
    ASSERT(strstr(r.body, "M=PUT") && strstr(r.body, " B=abc"));
    ASSERT_EQ(n_messages, 3);
    client_free(c);
    finish(w);
}

static void test_pipeline_in_order(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
            "GET /late HTTP/1.1\r\nHost: h\r\n\r\n"
            "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nthree");
    resp_t r[3];
    for (int i = 0; i < 3; i++)
        read_response(c, &r[i]);
    ASSERT(strstr(r[0].body, "P=/one") != NULL);
    ASSERT_STR_EQ(r[1].body, "late");
    ASSERT_STR_EQ(r[2].body, "three");
    ASSERT_EQ(n_messages, 3);
    /* wm_conn_send answers too: 200, text/html. */
    SEND(c, "GET /send HTTP/1.1\r\nHost: h\r\n\r\n");
    read_response(c, &r[0]);
    ASSERT_EQ(r[0].status, 200);
    ASSERT_STR_EQ(r[0].body, "via send");
    ASSERT(header_is(&r[0], "Content-Type: text/html;charset=utf-8"));
    expect_open(c);
    client_free(c);
    finish(w);
}

/* The protocol holds a connection while a request waits for its answer;
 * that hold is its own and must not end a pause the user made. */
static void test_user_pause_survives_answer(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET /pause HTTP/1.1\r\nHost: h\r\n\r\n"
            "GET /two HTTP/1.1\r\nHost: h\r\n\r\n");
    resp_t r;
    read_response(c, &r);
    ASSERT_STR_EQ(r.body, "paused");
    run_for(100);
    ASSERT_EQ(n_messages, 1); /* /two waits while the user's pause holds */
    ASSERT_EQ(c->len, 0);
    wm_conn_t *s = wm_conn_find(paused_id);
    ASSERT(s != NULL);
    ASSERT(wm_conn_is_paused(s));
    wm_conn_resume_recv(s);
    read_response(c, &r);
    ASSERT(strstr(r.body, "P=/two") != NULL);
    ASSERT_EQ(n_messages, 2);
    client_free(c);
    finish(w);
}

static void test_keep_alive_and_close(void)
{
    wm_worker_t *w = start_server(0);
    resp_t r;
    /* 1.1 keep-alive: two requests on one connection. */
    client_t *c = client_new(w);
    SEND(c, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n");
    read_response(c, &r);
    SEND(c, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    read_response(c, &r);
    ASSERT(strstr(r.body, "P=/2") != NULL);
    expect_open(c);
    client_free(c);
    /* Connection: close, with a pipelined request after it that is never
     * answered. */
    c = client_new(w);
    SEND(c, "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n"
            "Host: h\r\n\r\n");
    read_response(c, &r);
    ASSERT(header_is(&r, "\r\nConnection: close\r\n"));
    ASSERT(strstr(r.body, "KA=0") != NULL);
    client_wait(c, has_eof, NULL, 3000, "EOF after Connection: close");
    ASSERT_EQ(c->len, 0);
    client_free(c);
    /* HTTP/1.0: closes unless it asks for keep-alive. */
    c = client_new(w);
    SEND(c, "GET /old HTTP/1.0\r\n\r\n");
    read_response(c, &r);
    ASSERT(header_is(&r, "\r\nConnection: close\r\n"));
    ASSERT(strstr(r.body, "V=10") != NULL);
    client_wait(c, has_eof, NULL, 3000, "EOF after HTTP/1.0");
    client_free(c);
    c = client_new(w);
    SEND(c, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_response(c, &r);
    ASSERT(header_is(&r, "\r\nConnection: keep-alive\r\n"));
    SEND(c, "GET /old2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_response(c, &r);
    ASSERT(strstr(r.body, "P=/old2") != NULL);
    expect_open(c);
    client_free(c);
    ASSERT_EQ(n_messages, 6);
    finish(w);
}

static void test_expect_continue(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    client_wait(c, has_text, "\r\n\r\n", 3000, "100 Continue");
    ASSERT_STR_EQ(c->buf, "HTTP/1.1 100 Continue\r\n\r\n");
    c->len = 0;
    c->buf[0] = '\0';
    SEND(c, "body");
    resp_t r;
    read_response(c, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "body");
    /* Too large: 413 instead of 100, and no body is waited for. */
    SEND(c, "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
            "Content-Length: 99999999999\r\n\r\n");
    read_response(c, &r);
    ASSERT_EQ(r.status, 413);
    client_wait(c, has_eof, NULL, 3000, "EOF after 413");
    client_free(c);
    finish(w);
}

/* Sends `req` on a fresh connection; wants `status`, then EOF, and no
 * on_message. */
static void expect_error(wm_worker_t *w, const char *req, size_t len, int status)
{
    int before = n_messages;
    client_t *c = client_new(w);
    client_send(c, req, len);
    resp_t r;
    read_response(c, &r);
    if (r.status != status)
        WM_TEST_FAIL("request %.40s...: status %d, want %d", req, r.status, status);
    ASSERT(header_is(&r, "\r\nConnection: close\r\n"));
    client_wait(c, has_eof, NULL, 3000, "EOF after an error status");
    ASSERT_EQ(n_messages, before);
    client_free(c);
}
#define EXPECT_ERROR(w, lit, st) expect_error((w), (lit), sizeof(lit) - 1, (st))

static void test_error_statuses(void)
{
    wm_worker_t *w = start_server(4096);
    static char big[12000];
    EXPECT_ERROR(w, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400);
    EXPECT_ERROR(w, "GET / HTTP/1.1\r\n\r\n", 400); /* no Host */
    EXPECT_ERROR(w, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                 400);
    EXPECT_ERROR(w,
                 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 400);
    EXPECT_ERROR(w, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
    EXPECT_ERROR(w, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    EXPECT_ERROR(w, "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    EXPECT_ERROR(w, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n", 413);
    /* A chunked body over the max package (4096). */
    int n = snprintf(big, sizeof big,
                     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n");
    memset(big + n, 'x', 5120);
    expect_error(w, big, (size_t)n + 5120, 413);
    /* 431: a header block over 8 KiB. */
    n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
    memset(big + n, 'y', 9000);
    expect_error(w, big, (size_t)n + 9000, 431);
    /* 414: a request-target over 8000 bytes (the worker's max package lets
     * the head in). */
    wm_worker_free(w);
    w = start_server(0);
    n = snprintf(big, sizeof big, "GET /");
    memset(big + n, 'u', 8100);
    n += 8100;
    n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    expect_error(w, big, (size_t)n, 414);
    ASSERT_EQ(n_messages, 0);
    finish(w);
}

static void test_header_injection_refused(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET /inject HTTP/1.1\r\nHost: h\r\n\r\n");
    resp_t r;
    read_response(c, &r);
    ASSERT_EQ(r.status, 200);
    ASSERT(header_is(&r, "\r\nX-Ok: fine\tvalue\r\n"));
    ASSERT(!header_is(&r, "evil") && !header_is(&r, "X-B") && !header_is(&r, "Set-Cookie"));
    ASSERT_STR_EQ(r.body, "ok");
    /* Answering twice, or a non-http connection, is refused. */
    ASSERT_EQ(wm_http_reply(wm_conn_find(1), 200, NULL, "", 0), WM_EINVAL);
    ASSERT(wm_http_response_new(99) == NULL);
    ASSERT_STR_EQ(wm_http_reason(404), "Not Found");
    client_free(c);
    finish(w);
}

static void test_cookies(void)
{
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET /cookie HTTP/1.1\r\nHost: h\r\nCookie: a=1; b=\"two\"\r\nCookie: c=x=y\r\n\r\n");
    resp_t r;
    read_response(c, &r);
    ASSERT_STR_EQ(r.body, "a=1 b=two c=x=y zz=-");
    ASSERT(header_is(&r, "\r\nSet-Cookie: sid=abc123; Max-Age=3600; Expires=Sun, 06 Nov 1994 "
                         "08:49:37 GMT; Domain=example.com; Path=/app; Secure; HttpOnly; "
                         "SameSite=Lax\r\n"));
    ASSERT(header_is(&r, "\r\nSet-Cookie: plain=v\r\n"));
    /* No Cookie field: no cookies. */
    SEND(c, "GET /cookie HTTP/1.1\r\nHost: h\r\n\r\n");
    read_response(c, &r);
    ASSERT_STR_EQ(r.body, "a=- b=- c=- zz=-");
    client_free(c);
    finish(w);
}

static void test_idle_timeout(void)
{
    wm_http_set_idle_timeout(200);
    ASSERT_EQ(wm_http_idle_timeout(), 200);
    wm_worker_t *w = start_server(0);
    client_t *c = client_new(w);
    SEND(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    resp_t r;
    read_response(c, &r);
    uint64_t t0 = now_ms();
    client_wait(c, has_eof, NULL, 3000, "the idle close");
    uint64_t took = now_ms() - t0;
    ASSERT_GE(took, 150);
    ASSERT_LT(took, 1500);
    client_free(c);
    /* An unfinished request times out as well. */
    c = client_new(w);
    SEND(c, "GET / HTTP/1.1\r\nHo");
    client_wait(c, has_eof, NULL, 3000, "the idle close of a half request");
    ASSERT_EQ(c->len, 0);
    client_free(c);
    /* So does a client that connects and never sends a byte. */
    c = client_new(w);
    t0 = now_ms();
    client_wait(c, has_eof, NULL, 3000, "the idle close of a silent client");
    took = now_ms() - t0;
    ASSERT_GE(took, 150);
    ASSERT_LT(took, 1500);
    ASSERT_EQ(c->len, 0);
    client_free(c);
    finish(w);
}

static const wm_test_case_t cases[] = {
    {"get_query", test_get_query},
    {"post_bodies", test_post_bodies},
    {"pipeline_in_order", test_pipeline_in_order},
    {"user_pause_survives_answer", test_user_pause_survives_answer},
    {"keep_alive_and_close", test_keep_alive_and_close},
    {"expect_continue", test_expect_continue},
    {"error_statuses", test_error_statuses},
    {"header_injection_refused", test_header_injection_refused},
    {"cookies", test_cookies},
    {"idle_timeout", test_idle_timeout},
    {NULL, NULL},
};

/* --serve PORTFILE: the server for curl_test.sh, until SIGTERM. */
static void stop_on_signal(int signum, void *ud)
{
    wm_loop_stop();
}

static int serve(const char *portfile)
{
    wm_worker_t *w = start_server(0);
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
