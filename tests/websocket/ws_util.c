/* SPDX-License-Identifier: MIT */
/* See ws_util.h. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "ws_util.h"

uint64_t wt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void wt_run_until(bool (*pred)(void *), void *arg, uint64_t ms, const char *what)
{
    uint64_t end = wt_now_ms() + ms;
    while (!pred(arg)) {
        if (wt_now_ms() > end)
            WM_TEST_FAIL("timed out after %llu ms waiting for %s", (unsigned long long)ms, what);
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(500);
    }
}

void wt_run_for(uint64_t ms)
{
    uint64_t end = wt_now_ms() + ms;
    while (wt_now_ms() < end) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(500);
    }
}

bool wt_flag(void *flag)
{
    return *(bool *)flag;
}

raw_t *raw_connect(uint16_t port)
{
    raw_t *r = calloc(1, sizeof *r);
    r->buf = malloc(RAW_BUF + 1);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(r->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    fcntl(r->fd, F_SETFL, O_NONBLOCK);
    return r;
}

void raw_free(raw_t *r)
{
    close(r->fd);
    free(r->buf);
    free(r);
}

void raw_send(raw_t *r, const void *data, size_t len)
{
    size_t done = 0;
    uint64_t end = wt_now_ms() + 5000;
    while (done < len) {
        ssize_t n = send(r->fd, (const char *)data + done, len - done, MSG_NOSIGNAL);
        if (n > 0)
            done += (size_t)n;
        else
            event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ASSERT(wt_now_ms() < end);
    }
}

/* Pumps the loop once and reads what arrived. */
static void raw_pump(raw_t *r)
{
    event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
    ssize_t n = recv(r->fd, r->buf + r->len, RAW_BUF - r->len, 0);
    if (n > 0)
        r->len += (size_t)n;
    else if (n == 0)
        r->eof = true;
    else
        usleep(500);
    r->buf[r->len] = '\0';
}

typedef struct raw_wait {
    raw_t *r;
    const char *text;
} raw_wait_t;

static bool has_text(void *arg)
{
    raw_wait_t *w = arg;
    raw_pump(w->r);
    return memmem(w->r->buf, w->r->len, w->text, strlen(w->text)) != NULL;
}

void raw_wait_text(raw_t *r, const char *text)
{
    raw_wait_t w = {r, text};
    uint64_t end = wt_now_ms() + 3000;
    while (!has_text(&w))
        if (wt_now_ms() > end)
            WM_TEST_FAIL("timed out waiting for \"%s\"; got %zu bytes%s: %.300s", text, r->len,
                         r->eof ? " and EOF" : "", (const char *)r->buf);
}

void raw_wait_eof(raw_t *r)
{
    uint64_t end = wt_now_ms() + 3000;
    while (!r->eof) {
        raw_pump(r);
        if (wt_now_ms() > end)
            WM_TEST_FAIL("timed out waiting for EOF");
    }
}

int raw_read_head(raw_t *r, char *head, size_t cap)
{
    raw_wait_text(r, "\r\n\r\n");
    uint8_t *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
    size_t hlen = (size_t)(end - r->buf) + 4;
    ASSERT(hlen < cap);
    memcpy(head, r->buf, hlen);
    head[hlen] = '\0';
    memmove(r->buf, r->buf + hlen, r->len - hlen + 1);
    r->len -= hlen;
    int status = 0;
    ASSERT_EQ(sscanf(head, "HTTP/1.1 %d", &status), 1);
    return status;
}

void raw_handshake(raw_t *r, const char *path, const char *extra)
{
    char req[1024], head[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra ? extra : "");
    raw_send(r, req, (size_t)n);
    ASSERT_EQ(raw_read_head(r, head, sizeof head), 101);
    ASSERT(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
}

void raw_send_frame(raw_t *r, bool fin, int opcode, const void *data, size_t len, bool masked)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t *f = malloc(len + 14);
    size_t h = 0;
    f[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        f[h++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        f[h++] = m | 126;
        f[h++] = (uint8_t)(len >> 8);
        f[h++] = (uint8_t)len;
    } else {
        f[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(f + h, key, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        f[h + i] = (uint8_t)(((const uint8_t *)data)[i] ^ (masked ? key[i % 4] : 0));
    raw_send(r, f, h + len);
    free(f);
}

/* The length of the whole frame at the front of the buffer, or 0. */
static size_t frame_size(const raw_t *r, size_t *hlen, size_t *plen)
{
    if (r->len < 2)
        return 0;
    size_t h = 2, len = r->buf[1] & 0x7f;
    ASSERT_EQ(r->buf[1] & 0x80, 0); /* a server never masks */
    if (len == 126) {
        if (r->len < 4)
            return 0;
        len = (size_t)r->buf[2] << 8 | r->buf[3];
        h = 4;
    } else if (len == 127) {
        if (r->len < 10)
            return 0;
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | r->buf[i];
        h = 10;
    }
    *hlen = h;
    *plen = len;
    return r->len >= h + len ? h + len : 0;
}

void raw_read_frame(raw_t *r, raw_frame_t *f)
{
    size_t h = 0, len = 0, total;
    uint64_t end = wt_now_ms() + 3000;
    while ((total = frame_size(r, &h, &len)) == 0) {
        if (wt_now_ms() > end || (r->eof && !r->len))
            WM_TEST_FAIL("no whole frame: %zu bytes%s", r->len, r->eof ? " and EOF" : "");
        raw_pump(r);
    }
    ASSERT(len <= sizeof f->data);
    f->fin = (r->buf[0] & 0x80) != 0;
    f->opcode = r->buf[0] & 0x0f;
    memcpy(f->data, r->buf + h, len);
    f->len = len;
    memmove(r->buf, r->buf + total, r->len - total + 1);
    r->len -= total;
}

int raw_close_code(const raw_frame_t *f)
{
    ASSERT_EQ(f->opcode, 0x8);
    return f->len >= 2 ? f->data[0] << 8 | f->data[1] : 1005;
}
