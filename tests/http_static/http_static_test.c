/* SPDX-License-Identifier: MIT */
/* wm_http_static_tests: file responses (wm_http_send_file) and the
 * static-file server (wm_http_static_*) on an in-process worker at
 * http://127.0.0.1:0, driven by raw sockets so the bytes on the wire are
 * what is checked: exact bodies and fields for a small and a 5 MiB file
 * (sha256), Content-Type by extension, 304 by ETag and by date, ranges and
 * 416, HEAD, 404/403/301/405, index files, per-host roots, and every way
 * out of the root we know of (plain and encoded "..", encoded slashes,
 * symlinks out of the root) refused.
 *
 * Each case builds its own folder under /tmp (fixture_make). `--serve
 * PORTFILE ROOT` instead runs the same server on ROOT until killed, for
 * curl_test.sh. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "wm_test.h"

#define BIG_SIZE (5 * 1024 * 1024)
#define MTIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define MTIME_TEXT "Sun, 06 Nov 1994 08:49:37 GMT"

/* ---- The fixture --------------------------------------------------------------- */

static char fx[64];         /* the fixture folder; fx/www is the root */
static char root[96];       /* fx/www */
static char other_root[96]; /* fx/other: Host other.test */

static void write_file(const char *rel, const void *data, size_t len)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", fx, rel);
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
    struct timeval tv[2] = {{MTIME, 0}, {MTIME, 0}};
    ASSERT_EQ(utimes(p, tv), 0);
}

static void write_text(const char *rel, const char *text)
{
    write_file(rel, text, strlen(text));
}

/* Deterministic bytes for the big file (xorshift), so both sides can make
 * them. */
static unsigned char *big_bytes(void)
{
    unsigned char *b = malloc(BIG_SIZE);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < BIG_SIZE; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
    return b;
}

static void mkdir_in(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", fx, rel);
    ASSERT_EQ(mkdir(p, 0755), 0);
}

static void symlink_in(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", fx, rel);
    ASSERT_EQ(symlink(target, p), 0);
}

static void fixture_make(void)
{
    snprintf(fx, sizeof fx, "/tmp/wm-static.XXXXXX");
    ASSERT(mkdtemp(fx) != NULL);
    snprintf(root, sizeof root, "%s/www", fx);
    snprintf(other_root, sizeof other_root, "%s/other", fx);
    mkdir_in("www");
    mkdir_in("other");
    mkdir_in("www/sub");
    mkdir_in("www/empty");
    mkdir_in("www/a");
    write_text("www/index.html", "<h1>home</h1>\n");
    write_text("www/sub/index.html", "<h1>sub</h1>\n");
    write_text("www/hello.txt", "0123456789abcdefghij"); /* 20 bytes, for ranges */
    write_text("www/style.css", "body{}");
    write_text("www/app.js", "1;");
    write_text("www/data.json", "{}");
    write_text("www/pic.png", "png");
    write_text("www/pic.svg", "<svg/>");
    write_text("www/mod.wasm", "wasm");
    write_text("www/blob.weird", "??");
    write_text("www/noext", "x");
    write_text("www/empty.txt", "");
    write_text("secret.txt", "top secret\n"); /* beside the root, not in it */
    write_text("other/index.html", "<h1>other host</h1>\n");
    unsigned char *b = big_bytes();
    write_file("www/big.bin", b, BIG_SIZE);
    free(b);
    symlink_in("/etc", "www/etc_link");                 /* a folder out of the root */
    symlink_in("../secret.txt", "www/secret_link.txt"); /* a file out of the root */
    symlink_in("hello.txt", "www/alias.txt");           /* stays inside: fine */
}

static void fixture_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx);
    ASSERT_EQ(system(cmd), 0);
}

/* ---- The server under test -------------------------------------------------------- */

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    char p[256];
    int rc;
    /* wm_http_send_file on its own: an explicit type, a missing file, a
     * folder. */
    if (strcmp(path, "/api/file") == 0) {
        snprintf(p, sizeof p, "%s/blob.weird", root);
        rc = wm_http_send_file(c, req, p, "application/x-test");
    } else if (strcmp(path, "/api/missing") == 0) {
        snprintf(p, sizeof p, "%s/nope", root);
        rc = wm_http_send_file(c, req, p, NULL);
    } else if (strcmp(path, "/api/dir") == 0) {
        rc = wm_http_send_file(c, req, root, NULL);
    } else {
        rc = wm_http_static_serve(ud, c, req);
        if (rc == WM_ENOENT)
            rc = wm_http_reply(c, 404, "text/plain", "caller 404\n", 11);
    }
    ASSERT(rc >= 0);
}

static wm_http_static_t *statics;

static void free_statics(void *p)
{
    wm_http_static_free(p);
}

static wm_worker_t *start_server(const char *dir, const char *other)
{
    statics = wm_http_static_new(dir);
    ASSERT(statics != NULL);
    if (other)
        ASSERT_EQ(wm_http_static_add_host(statics, "Other.Test", other), WM_OK);
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_set_user_data(w, statics, free_statics);
    wm_worker_on_message(w, on_message, statics);
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

typedef struct resp {
    int status;
    char head[4096];
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
} resp_t;

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
    c->cap = 65536;
    c->buf = malloc(c->cap + 1);
    return c;
}

static void client_free(client_t *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

static void client_send(client_t *c, const char *data)
{
    size_t done = 0, len = strlen(data);
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

/* Splits one response off the front; `head_only` for answers to HEAD. */
static bool resp_take(client_t *c, resp_t *r, bool head_only)
{
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return false;
    size_t hlen = (size_t)(end - c->buf) + 4;
    ASSERT(hlen < sizeof r->head);
    char *cl = strcasestr(c->buf, "\r\nContent-Length: ");
    size_t blen = cl && cl < end && !head_only ? strtoul(cl + 18, NULL, 10) : 0;
    if (c->len < hlen + blen)
        return false;
    memset(r, 0, sizeof *r);
    memcpy(r->head, c->buf, hlen);
    ASSERT_EQ(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return true;
}

static void read_response_ex(client_t *c, resp_t *r, bool head_only)
{
    uint64_t end = now_ms() + 5000;
    for (;;) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (c->cap - c->len < 65536) {
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap + 1);
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0)
            c->len += (size_t)n;
        else if (n == 0)
            c->eof = true;
        if (resp_take(c, r, head_only))
            return;
        if (now_ms() > end || c->eof)
            WM_TEST_FAIL("no complete response; got %zu bytes%s", c->len, c->eof ? " and EOF" : "");
        if (n <= 0)
            usleep(500);
    }
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* One request on `c`, its response into `r`. */
static void roundtrip(client_t *c, const char *request, resp_t *r)
{
    client_send(c, request);
    read_response_ex(c, r, strncmp(request, "HEAD ", 5) == 0);
}

/* GET `path` with extra fields ("" or "Name: v\r\n..."). */
static void get(client_t *c, const char *path, const char *fields, resp_t *r)
{
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n", path, fields);
    roundtrip(c, req, r);
}

static bool has(const resp_t *r, const char *line)
{
    return strcasestr(r->head, line) != NULL;
}

#define ASSERT_HAS(r, line)                                                                        \
    do {                                                                                           \
        if (!has((r), (line)))                                                                     \
            WM_TEST_FAIL("no \"%s\" in:\n%s", (line), (r)->head);                                  \
    } while (0)

static void header_value(const resp_t *r, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strcasestr(r->head, key);
    ASSERT(p != NULL);
    p += strlen(key);
    size_t n = strcspn(p, "\r");
    ASSERT(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void finish(wm_worker_t *w)
{
    wm_worker_free(w);
    fixture_remove();
    WM_TEST_CLEAN();
}

/* ---- Cases ---------------------------------------------------------------------------- */

static void test_small_file(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    get(c, "/index.html", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "<h1>home</h1>\n");
    ASSERT_HAS(&r, "\r\nContent-Length: 14\r\n");
    ASSERT_HAS(&r, "\r\nContent-Type: text/html; charset=utf-8\r\n");
    ASSERT_HAS(&r, "\r\nLast-Modified: " MTIME_TEXT "\r\n");
    ASSERT_HAS(&r, "\r\nAccept-Ranges: bytes\r\n");
    char etag[64];
    header_value(&r, "ETag", etag, sizeof etag);
    ASSERT(etag[0] == '"' && etag[strlen(etag) - 1] == '"'); /* strong */
    resp_free(&r);
    /* Keep-alive: the same connection, "/" answered with the index. */
    get(c, "/", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "<h1>home</h1>\n");
    resp_free(&r);
    /* An empty file: 200 with Content-Length 0. */
    get(c, "/empty.txt", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_HAS(&r, "\r\nContent-Length: 0\r\n");
    resp_free(&r);
    /* A symlink that stays inside the root is followed. */
    get(c, "/alias.txt", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "0123456789abcdefghij");
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    ASSERT_EQ(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
}

static void test_big_file(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    get(c, "/big.bin", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, BIG_SIZE);
    ASSERT_HAS(&r, "\r\nContent-Type: application/octet-stream\r\n");
    unsigned char *want = big_bytes(), h1[32], h2[32];
    sha256(want, BIG_SIZE, h1);
    sha256(r.body, r.body_len, h2);
    ASSERT_MEM_EQ(h1, h2, 32);
    resp_free(&r);
    /* The connection goes on after a file segment; a range in the middle. */
    get(c, "/big.bin", "Range: bytes=1048576-1048675\r\n", &r);
    ASSERT_EQ(r.status, 206);
    ASSERT_EQ(r.body_len, 100);
    ASSERT_MEM_EQ(r.body, want + 1048576, 100);
    ASSERT_HAS(&r, "\r\nContent-Range: bytes 1048576-1048675/5242880\r\n");
    resp_free(&r);
    /* Two big answers pipelined come out whole and in order. */
    client_send(
        c, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n");
    read_response_ex(c, &r, false);
    ASSERT_EQ(r.body_len, BIG_SIZE);
    sha256(r.body, r.body_len, h2);
    ASSERT_MEM_EQ(h1, h2, 32);
    resp_free(&r);
    read_response_ex(c, &r, false);
    ASSERT_STR_EQ(r.body, "0123456789abcdefghij");
    resp_free(&r);
    free(want);
    client_free(c);
    finish(w);
}

static void test_content_types(void)
{
    static const struct {
        const char *path, *type;
    } cases[] = {
        {"/style.css", "text/css; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/data.json", "application/json"},
        {"/pic.png", "image/png"},
        {"/pic.svg", "image/svg+xml"},
        {"/mod.wasm", "application/wasm"},
        {"/hello.txt", "text/plain; charset=utf-8"},
        {"/blob.weird", "application/octet-stream"},
        {"/noext", "application/octet-stream"},
    };
    ASSERT_STR_EQ(wm_http_mime_type("A.HTML"), "text/html; charset=utf-8");
    ASSERT_STR_EQ(wm_http_mime_type("x.woff2"), "font/woff2");
    ASSERT_STR_EQ(wm_http_mime_type("/a.b/c"), "application/octet-stream");
    ASSERT_STR_EQ(wm_http_mime_type(".png"), "application/octet-stream"); /* a dotfile */
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[128];
        get(c, cases[i].path, "", &r);
        ASSERT_EQ(r.status, 200);
        snprintf(line, sizeof line, "\r\nContent-Type: %s\r\n", cases[i].type);
        ASSERT_HAS(&r, line);
        resp_free(&r);
    }
    /* wm_http_send_file with its own type; missing; a folder. */
    get(c, "/api/file", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_HAS(&r, "\r\nContent-Type: application/x-test\r\n");
    ASSERT_STR_EQ(r.body, "??");
    resp_free(&r);
    get(c, "/api/missing", "", &r);
    ASSERT_EQ(r.status, 404);
    resp_free(&r);
    get(c, "/api/dir", "", &r);
    ASSERT_EQ(r.status, 403);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void test_not_modified(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    char etag[64], fields[256];
    get(c, "/hello.txt", "", &r);
    header_value(&r, "ETag", etag, sizeof etag);
    resp_free(&r);
    /* By ETag: exact, weak form, in a list, "*". */
    const char *forms[] = {"%s", "W/%s", "\"nope\", %s", "*"};
    for (size_t i = 0; i < 4; i++) {
        char v[128];
        snprintf(v, sizeof v, forms[i], etag);
        snprintf(fields, sizeof fields, "If-None-Match: %s\r\n", v);
        get(c, "/hello.txt", fields, &r);
        ASSERT_EQ(r.status, 304);
        ASSERT_EQ(r.body_len, 0);
        ASSERT(!has(&r, "Content-Length"));
        ASSERT_HAS(&r, "\r\nETag: ");
        ASSERT_HAS(&r, "\r\nLast-Modified: " MTIME_TEXT "\r\n");
        resp_free(&r);
    }
    get(c, "/hello.txt", "If-None-Match: \"other\"\r\n", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    /* By date: the same second and later are current, earlier is not. */
    get(c, "/hello.txt", "If-Modified-Since: " MTIME_TEXT "\r\n", &r);
    ASSERT_EQ(r.status, 304);
    resp_free(&r);
    get(c, "/hello.txt", "If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n", &r);
    ASSERT_EQ(r.status, 304);
    resp_free(&r);
    get(c, "/hello.txt", "If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "0123456789abcdefghij");
    resp_free(&r);
    get(c, "/hello.txt", "If-Modified-Since: yesterday\r\n", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    /* If-None-Match wins over If-Modified-Since. */
    get(c, "/hello.txt", "If-None-Match: \"other\"\r\nIf-Modified-Since: " MTIME_TEXT "\r\n", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void expect_range(client_t *c, const char *range, int status, const char *body,
                         const char *content_range)
{
    char fields[256], line[128];
    resp_t r;
    snprintf(fields, sizeof fields, "Range: %s\r\n", range);
    get(c, "/hello.txt", fields, &r);
    if (r.status != status)
        WM_TEST_FAIL("Range %s: status %d, wanted %d", range, r.status, status);
    if (body)
        ASSERT_STR_EQ(r.body, body);
    if (content_range) {
        snprintf(line, sizeof line, "\r\nContent-Range: %s\r\n", content_range);
        ASSERT_HAS(&r, line);
    } else {
        ASSERT(!has(&r, "Content-Range"));
    }
    resp_free(&r);
}

static void test_ranges(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    const char *all = "0123456789abcdefghij";
    expect_range(c, "bytes=2-5", 206, "2345", "bytes 2-5/20");
    expect_range(c, "bytes=15-", 206, "fghij", "bytes 15-19/20");
    expect_range(c, "bytes=-3", 206, "hij", "bytes 17-19/20");
    expect_range(c, "bytes=-100", 206, all, "bytes 0-19/20");
    expect_range(c, "bytes=10-999", 206, "abcdefghij", "bytes 10-19/20");
    expect_range(c, "bytes=0-0", 206, "0", "bytes 0-0/20");
    expect_range(c, "bytes=20-", 416, NULL, "bytes */20");
    expect_range(c, "bytes=25-30", 416, NULL, "bytes */20");
    expect_range(c, "bytes=-0", 416, NULL, "bytes */20");
    /* Served whole: several ranges, another unit, bad syntax. */
    expect_range(c, "bytes=0-1,4-5", 200, all, NULL);
    expect_range(c, "items=0-1", 200, all, NULL);
    expect_range(c, "bytes=5-2", 200, all, NULL);
    expect_range(c, "bytes=x-", 200, all, NULL);
    /* If-Range: the range only for the current validator. */
    resp_t r;
    char etag[64], fields[256];
    get(c, "/hello.txt", "", &r);
    header_value(&r, "ETag", etag, sizeof etag);
    resp_free(&r);
    snprintf(fields, sizeof fields, "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
    get(c, "/hello.txt", fields, &r);
    ASSERT_EQ(r.status, 206);
    resp_free(&r);
    get(c, "/hello.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    get(c, "/hello.txt", "Range: bytes=0-1\r\nIf-Range: " MTIME_TEXT "\r\n", &r);
    ASSERT_EQ(r.status, 206);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void test_head(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    roundtrip(c, "HEAD /big.bin HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_HAS(&r, "\r\nContent-Length: 5242880\r\n");
    resp_free(&r);
    roundtrip(c, "HEAD /hello.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-3\r\n\r\n", &r);
    ASSERT_EQ(r.status, 206);
    ASSERT_HAS(&r, "\r\nContent-Length: 4\r\n");
    resp_free(&r);
    /* No body bytes came after the heads: the next answer parses cleanly. */
    get(c, "/hello.txt", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "0123456789abcdefghij");
    ASSERT_EQ(c->len, 0);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void test_statuses(void)
{
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    client_t *c = client_new(w);
    resp_t r;
    get(c, "/nope.html", "", &r);
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(r.body, "caller 404\n"); /* WM_ENOENT: the caller answered */
    resp_free(&r);
    get(c, "/empty/", "", &r);
    ASSERT_EQ(r.status, 403); /* a folder without an index */
    resp_free(&r);
    get(c, "/sub/", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "<h1>sub</h1>\n");
    resp_free(&r);
    get(c, "/sub?x=1", "", &r);
    ASSERT_EQ(r.status, 301);
    ASSERT_HAS(&r, "\r\nLocation: /sub/?x=1\r\n");
    resp_free(&r);
    get(c, "/hello.txt/x", "", &r);
    ASSERT_EQ(r.status, 404);
    resp_free(&r);
    roundtrip(c, "POST /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", &r);
    ASSERT_EQ(r.status, 405);
    ASSERT_HAS(&r, "\r\nAllow: GET, HEAD\r\n");
    resp_free(&r);
    roundtrip(c, "DELETE /nope HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    ASSERT_EQ(r.status, 404); /* no file: left to the caller */
    resp_free(&r);
    /* No index at all: "/" is refused. */
    ASSERT_EQ(wm_http_static_set_index(statics, "a/b"), WM_EINVAL);
    ASSERT_EQ(wm_http_static_set_index(statics, NULL), WM_OK);
    get(c, "/", "", &r);
    ASSERT_EQ(r.status, 403);
    resp_free(&r);
    ASSERT_EQ(wm_http_static_set_index(statics, "hello.txt"), WM_OK);
    get(c, "/", "", &r);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "0123456789abcdefghij");
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void test_escapes_refused(void)
{
    static const struct {
        const char *path;
        int status;
    } cases[] = {
        {"/../etc/passwd", 403},
        {"/../../../../../../etc/passwd", 403},
        {"/%2e%2e/%2e%2e/etc/passwd", 403},
        {"/a/%2E%2E/%2E%2E/x", 403},
        {"/a/../../secret.txt", 403},
        {"/.%2e/secret.txt", 403},
        {"/..%2f..%2fetc/passwd", 400},
        {"/%2F..%2F..%2Fetc%2Fpasswd", 400},
        {"/hello.txt%00.html", 400},
        {"/bad%zz", 400},
        {"/bad%2", 400},
        {"/etc_link/passwd", 403},
        {"/etc_link/", 403},
        {"/secret_link.txt", 403},
        {"/a/../etc_link/passwd", 403},
    };
    fixture_make();
    wm_worker_t *w = start_server(root, NULL);
    resp_t r;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* A fresh connection each: a 400 from the protocol itself closes. */
        client_t *c = client_new(w);
        get(c, cases[i].path, "", &r);
        if (r.status != cases[i].status)
            WM_TEST_FAIL("%s: %d, wanted %d", cases[i].path, r.status, cases[i].status);
        ASSERT(strstr(r.body, "root:") == NULL && strstr(r.body, "secret") == NULL);
        resp_free(&r);
        client_free(c);
    }
    /* Inside the root, ".." and "." that stay inside are fine. */
    client_t *c = client_new(w);
    get(c, "/sub/../a/./../hello.txt", "", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    get(c, "/sub/%2e%2e/hello%2Etxt", "", &r);
    ASSERT_EQ(r.status, 200);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static void test_hosts(void)
{
    fixture_make();
    ASSERT(wm_http_static_new("/nonexistent/wm-root") == NULL);
    wm_worker_t *w = start_server(root, other_root);
    ASSERT_EQ(wm_http_static_add_host(statics, "x", "/nonexistent/wm-root"), WM_EINVAL);
    client_t *c = client_new(w);
    resp_t r;
    roundtrip(c, "GET / HTTP/1.1\r\nHost: other.test:8080\r\n\r\n", &r);
    ASSERT_STR_EQ(r.body, "<h1>other host</h1>\n");
    resp_free(&r);
    roundtrip(c, "GET / HTTP/1.1\r\nHost: OTHER.TEST.\r\n\r\n", &r);
    ASSERT_STR_EQ(r.body, "<h1>other host</h1>\n");
    resp_free(&r);
    roundtrip(c, "GET /hello.txt HTTP/1.1\r\nHost: other.test\r\n\r\n", &r);
    ASSERT_EQ(r.status, 404); /* not in that host's root */
    resp_free(&r);
    roundtrip(c, "GET / HTTP/1.1\r\nHost: unknown.test\r\n\r\n", &r);
    ASSERT_STR_EQ(r.body, "<h1>home</h1>\n"); /* the default root */
    resp_free(&r);
    /* The other root is no way into the default one either. */
    roundtrip(c, "GET /../www/hello.txt HTTP/1.1\r\nHost: other.test\r\n\r\n", &r);
    ASSERT_EQ(r.status, 403);
    resp_free(&r);
    client_free(c);
    finish(w);
}

static const wm_test_case_t cases[] = {
    {"small_file", test_small_file},
    {"big_file", test_big_file},
    {"content_types", test_content_types},
    {"not_modified", test_not_modified},
    {"ranges", test_ranges},
    {"head", test_head},
    {"statuses", test_statuses},
    {"escapes_refused", test_escapes_refused},
    {"hosts", test_hosts},
    {NULL, NULL},
};

/* --serve PORTFILE ROOT [HOST=DIR]: the server for curl_test.sh, until
 * SIGTERM. */
static void stop_on_signal(int signum, void *ud)
{
    wm_loop_stop();
}

static int serve(const char *portfile, const char *dir, const char *host_arg)
{
    snprintf(root, sizeof root, "%s", dir);
    char host[128] = "";
    const char *eq = host_arg ? strchr(host_arg, '=') : NULL;
    if (eq)
        snprintf(host, sizeof host, "%.*s", (int)(eq - host_arg), host_arg);
    wm_worker_t *w = start_server(dir, NULL);
    if (eq && wm_http_static_add_host(statics, host, eq + 1) != WM_OK)
        return 1;
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
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    return wm_test_main(argc, argv, cases);
}
