/* SPDX-License-Identifier: MIT */
/* bench-gd-load: one load generator for globaldata-server (its MessagePack
 * protocol, docs/protocol.md) and redis-server (RESP), with the same shape
 * for both: --conns connections, --inflight requests in flight on each, one
 * operation (set, get or incr) on a small value, one key per connection.
 * Each connection first stores its key (a 16-byte string for set and get, the
 * integer 0 for incr), then keeps the pipe full; replies are counted during
 * --secs after --warmup. Prints one line ending in "rate=<requests/s>".
 * Requests are precomputed bytes (the request id is constant: the server
 * only copies it), so both protocols cost this program the same.
 *
 *   bench-gd-load --proto gd --port 2207 --op get --conns 50 --inflight 16
 *   bench-gd-load --proto resp --port 6379 --op incr */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/event.h>

#define RBUF (256 * 1024)

typedef struct conn {
    int fd;
    struct event *rev;
    char req[128], setup[128];
    size_t req_len, setup_len;
    char *in;
    size_t in_len;
    bool ready; /* the setup reply came */
} conn_t;

static struct {
    bool resp;
    int port, conns, inflight;
    const char *op;
    double secs, warmup;
    uint64_t counted;
    bool counting;
    struct event_base *base;
} g = {false, 2207, 50, 1, "get", 2.0, 0.5, 0, false, NULL};

static size_t gd_frame(char *out, const unsigned char *body, size_t n)
{
    uint32_t total = (uint32_t)n + 4;
    out[0] = (char)(total >> 24), out[1] = (char)(total >> 16), out[2] = (char)(total >> 8);
    out[3] = (char)total;
    memcpy(out + 4, body, n);
    return n + 4;
}

/* [1, op, key, value?] with a fixstr key "k:NNNN". */
static size_t gd_request(char *out, const char *op, int i, const char *val, size_t vlen)
{
    unsigned char b[96];
    size_t n = 0, olen = strlen(op);
    char key[16];
    int klen = snprintf(key, sizeof key, "k:%04d", i);
    b[n++] = (unsigned char)(0x90 | (val ? 4 : 3));
    b[n++] = 0x01;
    b[n++] = (unsigned char)(0xa0 | olen);
    memcpy(b + n, op, olen), n += olen;
    b[n++] = (unsigned char)(0xa0 | klen);
    memcpy(b + n, key, (size_t)klen), n += (size_t)klen;
    if (val)
        memcpy(b + n, val, vlen), n += vlen;
    return gd_frame(out, b, n);
}

static size_t resp_request(char *out, const char *cmd, int i, const char *val)
{
    char key[16];
    int klen = snprintf(key, sizeof key, "k:%04d", i);
    if (val)
        return (size_t)sprintf(out, "*3\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n", strlen(cmd),
                               cmd, klen, key, strlen(val), val);
    return (size_t)sprintf(out, "*2\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n", strlen(cmd), cmd, klen, key);
}

static void prepare(conn_t *c, int i)
{
    static const char v16[] = "vvvvvvvvvvvvvvvv";
    static const char mp16[] = "\xb0vvvvvvvvvvvvvvvv"; /* fixstr 16 */
    bool incr = !strcmp(g.op, "incr");
    if (g.resp) {
        c->setup_len = resp_request(c->setup, "SET", i, incr ? "0" : v16);
        c->req_len = !strcmp(g.op, "set")   ? resp_request(c->req, "SET", i, v16)
                     : !strcmp(g.op, "get") ? resp_request(c->req, "GET", i, NULL)
                                            : resp_request(c->req, "INCR", i, NULL);
    } else {
        c->setup_len = incr ? gd_request(c->setup, "set", i, "\x00", 1)
                            : gd_request(c->setup, "set", i, mp16, 17);
        c->req_len = !strcmp(g.op, "set")   ? gd_request(c->req, "set", i, mp16, 17)
                     : !strcmp(g.op, "get") ? gd_request(c->req, "get", i, NULL, 0)
                                            : gd_request(c->req, "increment", i, NULL, 0);
    }
}

/* Length of the first complete reply in buf, 0 when incomplete. */
static size_t reply_len(const char *buf, size_t n)
{
    if (!g.resp) {
        if (n < 4)
            return 0;
        uint32_t t = (uint32_t)(unsigned char)buf[0] << 24 | (uint32_t)(unsigned char)buf[1] << 16 |
                     (uint32_t)(unsigned char)buf[2] << 8 | (unsigned char)buf[3];
        return t <= n ? t : 0;
    }
    const char *nl = memchr(buf, '\n', n);
    if (!nl)
        return 0;
    size_t head = (size_t)(nl - buf) + 1;
    if (buf[0] != '$')
        return head;
    long len = strtol(buf + 1, NULL, 10);
    if (len < 0)
        return head;
    return head + (size_t)len + 2 <= n ? head + (size_t)len + 2 : 0;
}

static void send_all(conn_t *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "bench-gd-load: send: %s\n", strerror(errno));
            exit(1);
        }
        p += w, n -= (size_t)w;
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    ssize_t r = recv(fd, c->in + c->in_len, RBUF - c->in_len, 0);
    if (r <= 0) {
        if (r < 0 && errno == EAGAIN)
            return;
        fprintf(stderr, "bench-gd-load: the server closed a connection\n");
        exit(1);
    }
    c->in_len += (size_t)r;
    size_t off = 0, len, replies = 0;
    while ((len = reply_len(c->in + off, c->in_len - off)) > 0) {
        off += len;
        if (!c->ready) {
            c->ready = true; /* the setup: now fill the pipe */
            for (int k = 0; k < g.inflight; k++)
                send_all(c, c->req, c->req_len);
            continue;
        }
        replies++;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (g.counting)
        g.counted += replies;
    /* One send for the replies of this read, as a pipelining client does. */
    static char out[RBUF];
    size_t n = 0;
    for (size_t i = 0; i < replies; i++) {
        if (n + c->req_len > sizeof out) {
            send_all(c, out, n);
            n = 0;
        }
        memcpy(out + n, c->req, c->req_len), n += c->req_len;
    }
    if (n)
        send_all(c, out, n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    int *phase = arg;
    if (*phase == 0) {
        g.counting = true;
        *phase = 1;
        struct timeval tv = {(time_t)g.secs, (suseconds_t)((g.secs - (time_t)g.secs) * 1e6)};
        event_base_once(g.base, -1, EV_TIMEOUT, on_timer, phase, &tv);
    } else {
        event_base_loopbreak(g.base);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", 1, 0, 'P'}, {"port", 1, 0, 'p'}, {"conns", 1, 0, 'c'},  {"inflight", 1, 0, 'k'},
        {"op", 1, 0, 'o'},    {"secs", 1, 0, 's'}, {"warmup", 1, 0, 'w'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'P':
            g.resp = !strcmp(optarg, "resp");
            break;
        case 'p':
            g.port = atoi(optarg);
            break;
        case 'c':
            g.conns = atoi(optarg);
            break;
        case 'k':
            g.inflight = atoi(optarg);
            break;
        case 'o':
            g.op = optarg;
            break;
        case 's':
            g.secs = atof(optarg);
            break;
        case 'w':
            g.warmup = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    g.base = event_base_new();
    conn_t *cs = calloc((size_t)g.conns, sizeof *cs);
    for (int i = 0; i < g.conns; i++) {
        conn_t *c = &cs[i];
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
            fprintf(stderr, "bench-gd-load: connect to port %d: %s\n", g.port, strerror(errno));
            return 1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        evutil_make_socket_nonblocking(c->fd);
        c->in = malloc(RBUF);
        prepare(c, i);
        c->rev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_read, c);
        event_add(c->rev, NULL);
        send_all(c, c->setup, c->setup_len);
    }
    int phase = 0;
    struct timeval tv = {(time_t)g.warmup, (suseconds_t)((g.warmup - (time_t)g.warmup) * 1e6)};
    event_base_once(g.base, -1, EV_TIMEOUT, on_timer, &phase, &tv);
    event_base_dispatch(g.base);
    printf("proto=%s op=%s conns=%d inflight=%d secs=%.1f requests=%llu rate=%.0f\n",
           g.resp ? "resp" : "gd", g.op, g.conns, g.inflight, g.secs, (unsigned long long)g.counted,
           (double)g.counted / g.secs);
    return 0;
}
