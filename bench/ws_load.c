/* SPDX-License-Identifier: MIT */
/* bench-ws-load: a load generator for WebSocket echo servers. It opens
 * --conns connections, does the client handshake on each (a random
 * Sec-WebSocket-Key, a 101 answer with the matching Sec-WebSocket-Accept and
 * no extension), then keeps --inflight masked text messages of --size bytes
 * in flight on each and counts the echoes that come back during --secs
 * seconds after a --warmup. It prints one line ending in "rate=<echoes/s>".
 *
 * Every echo is checked byte for byte: a message starts with its sequence
 * number on the connection (8 hex digits) followed by a fixed text, so a lost,
 * repeated, reordered or damaged echo stops the run with an error (exit 1),
 * as does a close frame, a binary or masked frame, or a closed connection.
 * Fragmented echoes and pings are fine (a ping gets its pong).
 *
 * It is a WebSocket client of sorts, kept small: the handshake is blocking
 * (it is not measured); the measured path is one libevent read event per
 * socket, a frame parser that checks payload bytes where they were read
 * (never copied), and one evbuffer per connection for what is to be sent.
 * Each frame gets a new mask key from a xorshift generator seeded from
 * getrandom(): unpredictable enough for a benchmark, cheap enough not to be
 * the bottleneck. With --server-pid (repeatable) it also reports those
 * processes' CPU use over the measured window.
 *
 *   bench-ws-load --port 9000 --conns 50 --inflight 4 --size 4096 --secs 3
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "bench_util.h"

#define SIZE_MAX_MSG (1 << 20) /* largest --size */
#define READ_BUF (256 * 1024)
#define SEQ_LEN 8 /* hex digits of the sequence number that starts a message */
#define MAX_PIDS 16
#define HEAD_MAX 8192 /* longest handshake answer */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA
};

typedef struct opts {
    const char *host, *path;
    int port, conns, inflight, size;
    double secs, warmup;
    long server_pid[MAX_PIDS];
    int npids;
} opts_t;

typedef struct client {
    int id;
    evutil_socket_t fd;
    struct event *rev, *wev;
    struct evbuffer *out;
    uint64_t tx_seq, rx_seq; /* messages sent; echoes received whole */
    uint64_t rx_at_warm;     /* rx_seq when the measured time began */
    /* The frame being read. */
    uint8_t head[14];
    size_t head_len, head_need; /* head_need: 2 until the length's size is known */
    bool in_payload;
    uint64_t payload_left;
    int opcode;
    bool fin;
    /* The message being echoed (it may come in several frames). */
    bool in_msg;
    size_t msg_off;
    char seq[SEQ_LEN];
    uint8_t ctl[125]; /* a control frame's payload */
    size_t ctl_len;
} client_t;

static opts_t o = {.host = "127.0.0.1",
                   .path = "/",
                   .conns = 50,
                   .inflight = 1,
                   .size = 64,
                   .secs = 3.0,
                   .warmup = 1.0};
static char text[SIZE_MAX_MSG]; /* every message's bytes after its sequence number */
static uint8_t rbuf[READ_BUF];
static uint64_t echoed; /* echoes received whole, all connections */
static uint64_t rng;    /* xorshift64 state for the mask keys */

static void die(const char *what)
{
    fprintf(stderr, "bench-ws-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A broken echo or protocol error on C: says what, and stops the run. */
static void fail(const client_t *c, const char *why)
{
    fprintf(stderr, "bench-ws-load: connection %d, echo %llu: %s\n", c->id,
            (unsigned long long)c->rx_seq, why);
    exit(1);
}

/* ---- Sending ----------------------------------------------------------- */

static uint32_t next_mask(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* The bytes that start message SEQ: its sequence number's low hex digits,
 * SEQ_LEN of them (or --size, when that is smaller), the last digit last. */
static void seq_digits(uint64_t seq, char out[SEQ_LEN])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = (o.size < SEQ_LEN ? o.size : SEQ_LEN) - 1; i >= 0; i--, seq >>= 4)
        out[i] = hex[seq & 0xf];
}

/* dst = src XOR the 4-byte mask key, eight bytes at a time. */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
    uint8_t k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    uint64_t k, w;
    size_t i = 0;
    memcpy(&k, k8, 8);
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[i & 3];
}

/* Appends one masked frame (FIN set) of OPCODE carrying N bytes to c->out:
 * PAYLOAD, or when it is NULL the next message (its sequence number, then
 * `text`). */
static void queue_frame(client_t *c, int opcode, const uint8_t *payload, size_t n)
{
    size_t head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(c->out, head + 4 + n, &v, 1) < 1)
        die("evbuffer_reserve_space");
    uint8_t *p = v.iov_base;
    p[0] = (uint8_t)(0x80 | opcode);
    if (head == 2) {
        p[1] = (uint8_t)(0x80 | n);
    } else if (head == 4) {
        p[1] = 0x80 | 126;
        p[2] = (uint8_t)(n >> 8);
        p[3] = (uint8_t)n;
    } else {
        p[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            p[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    uint32_t m = next_mask();
    uint8_t *key = p + head, *dst = key + 4;
    memcpy(key, &m, 4);
    if (payload != NULL) {
        mask_copy(dst, payload, n, key);
    } else {
        char seq[SEQ_LEN];
        seq_digits(c->tx_seq++, seq);
        mask_copy(dst, (const uint8_t *)text, n, key);
        for (size_t i = 0; i < SEQ_LEN && i < n; i++)
            dst[i] = (uint8_t)seq[i] ^ key[i & 3];
    }
    v.iov_len = head + 4 + n;
    if (evbuffer_commit_space(c->out, &v, 1) != 0)
        die("evbuffer_commit_space");
}

static void flush(client_t *c)
{
    while (evbuffer_get_length(c->out) > 0) {
        int w = evbuffer_write(c->out, c->fd);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            die("send");
        }
    }
    if (evbuffer_get_length(c->out) > 0)
        event_add(c->wev, NULL);
    else if (event_pending(c->wev, EV_WRITE, NULL))
        event_del(c->wev);
}

/* ---- Reading echoes ---------------------------------------------------- */

/* Checks N payload bytes of the echo being read against what was sent. */
static void check_echo(client_t *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++, c->msg_off++) {
        if (c->msg_off >= SEQ_LEN) {
            /* The rest of the chunk is all `text`: one comparison. */
            if (memcmp(p + i, text + c->msg_off, n - i) != 0)
                fail(c, "the echo differs from the message (text part)");
            c->msg_off += n - i;
            return;
        }
        if (p[i] != (uint8_t)c->seq[c->msg_off])
            fail(c, "the echo's sequence number differs: lost, repeated or reordered");
    }
}

/* The frame head is whole: its payload starts. */
static void begin_frame(client_t *c)
{
    const uint8_t *h = c->head;
    uint64_t len = h[1] & 0x7f;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
    }
    c->fin = h[0] & 0x80;
    c->opcode = h[0] & 0x0f;
    c->payload_left = len;
    c->head_len = 0;
    c->head_need = 2;
    c->in_payload = true;
    c->ctl_len = 0;
    if (h[0] & 0x70)
        fail(c, "a frame with RSV bits set (no extension was agreed)");
    switch (c->opcode) {
    case OP_TEXT:
        if (c->in_msg)
            fail(c, "a new text frame inside a fragmented echo");
        c->in_msg = true;
        c->msg_off = 0;
        seq_digits(c->rx_seq, c->seq);
        break;
    case OP_CONT:
        if (!c->in_msg)
            fail(c, "a continuation frame outside a message");
        break;
    case OP_CLOSE:
    case OP_PING:
    case OP_PONG:
        if (!c->fin || len > sizeof(c->ctl))
            fail(c, "a fragmented or long control frame");
        return;
    case OP_BINARY:
        fail(c, "a binary echo of a text message");
        return;
    default:
        fail(c, "a frame with an unknown opcode");
    }
    if (c->msg_off + len > (uint64_t)o.size)
        fail(c, "an echo longer than the message");
}

/* The frame's payload is whole. */
static void end_frame(client_t *c)
{
    c->in_payload = false;
    switch (c->opcode) {
    case OP_CLOSE: {
        char why[200];
        snprintf(why, sizeof(why), "the server sent a close frame: code %d, \"%.*s\"",
                 c->ctl_len >= 2 ? c->ctl[0] << 8 | c->ctl[1] : 1005,
                 c->ctl_len > 2 ? (int)c->ctl_len - 2 : 0, (const char *)c->ctl + 2);
        fail(c, why);
        return;
    }
    case OP_PING:
        queue_frame(c, OP_PONG, c->ctl, c->ctl_len);
        return;
    case OP_PONG:
        return;
    }
    if (!c->fin)
        return;
    if (c->msg_off != (size_t)o.size)
        fail(c, "an echo shorter than the message");
    c->in_msg = false;
    c->rx_seq++;
    echoed++;
    queue_frame(c, OP_TEXT, NULL, (size_t)o.size); /* keeps --inflight in flight */
}

/* Runs N bytes from the server through the frame parser. */
static void feed(client_t *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (!c->in_payload) {
            size_t take = c->head_need - c->head_len;
            take = take < n ? take : n;
            memcpy(c->head + c->head_len, p, take);
            c->head_len += take;
            p += take;
            n -= take;
            if (c->head_len < c->head_need)
                return;
            if (c->head_need == 2) {
                int len7 = c->head[1] & 0x7f;
                if (c->head[1] & 0x80)
                    fail(c, "a masked frame from the server");
                c->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
                if (c->head_need > 2)
                    continue;
            }
            begin_frame(c);
        } else {
            size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
            if (c->opcode == OP_TEXT || c->opcode == OP_CONT) {
                check_echo(c, p, take);
            } else {
                memcpy(c->ctl + c->ctl_len, p, take);
                c->ctl_len += take;
            }
            c->payload_left -= take;
            p += take;
            n -= take;
        }
        if (c->in_payload && c->payload_left == 0)
            end_frame(c);
    }
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    client_t *c = arg;
    ssize_t n = recv(fd, rbuf, sizeof(rbuf), 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n == 0)
            errno = ECONNRESET;
        die("the server closed a connection");
    }
    feed(c, rbuf, (size_t)n);
    flush(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
}

/* ---- The handshake (blocking, before the measured part) ---------------- */

static void send_all(evutil_socket_t fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("send (handshake)");
        }
        s += w;
        n -= (size_t)w;
    }
}

/* The value of header NAME in the answer head HEAD (lines end in CRLF), in
 * OUT; false if it has none. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
            continue;
        const char *v = l + nl + 1, *end = strstr(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = (size_t)(end - v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        snprintf(out, cap, "%.*s", (int)len, v);
        return true;
    }
    return false;
}

/* Upgrades connection FD (number ID) to WebSocket, or exits saying why. */
static void handshake(evutil_socket_t fd, int id)
{
    uint8_t nonce[16], digest[SHA_DIGEST_LENGTH];
    char key[32], want[32], got[128], req[1024], head[HEAD_MAX], keyguid[128];
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
        die("getrandom");
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
    snprintf(keyguid, sizeof(keyguid), "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)keyguid, strlen(keyguid), digest);
    EVP_EncodeBlock((unsigned char *)want, digest, sizeof(digest));
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o.path, o.host, o.port, key);
    send_all(fd, req, (size_t)n);
    /* Byte by byte up to the blank line: nothing of the frames after it
     * gets read here (the server sends none before we do, anyway). */
    size_t len = 0;
    while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
        if (len == sizeof(head) - 1) {
            fprintf(stderr, "bench-ws-load: connection %d: handshake answer over %d bytes\n", id,
                    HEAD_MAX);
            exit(1);
        }
        ssize_t r = recv(fd, head + len, 1, 0);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0)
                errno = ECONNRESET;
            die("recv (handshake)");
        }
        len++;
    }
    head[len] = '\0';
    const char *why = NULL;
    if (strncmp(head, "HTTP/1.1 101 ", 13) != 0)
        why = "not 101";
    else if (!header_value(head, "Sec-WebSocket-Accept", got, sizeof(got)) ||
             strcmp(got, want) != 0)
        why = "a wrong or missing Sec-WebSocket-Accept";
    else if (header_value(head, "Sec-WebSocket-Extensions", got, sizeof(got)))
        why = "an extension we did not offer";
    if (why != NULL) {
        fprintf(stderr, "bench-ws-load: connection %d: the handshake answer has %s:\n%s", id, why,
                head);
        exit(1);
    }
}

/* ---- Measuring --------------------------------------------------------- */

typedef struct sample {
    double t, self_cpu, server_cpu;
    uint64_t echoed;
} sample_t;

static sample_t take_sample(void)
{
    sample_t s = {bench_now_s(), bench_self_cpu_s(), bench_procs_cpu_s(o.server_pid, o.npids),
                  echoed};
    return s;
}

static sample_t start;
static client_t *clients;

static void on_warm(evutil_socket_t fd, short what, void *arg)
{
    start = take_sample();
    for (int i = 0; i < o.conns; i++)
        clients[i].rx_at_warm = clients[i].rx_seq;
}

/* A connection that got no echo in the measured time lost one (with
 * --inflight 1 nothing else would tell) or was starved: either is an error. */
static void check_stalls(void)
{
    int stalled = 0;
    for (int i = 0; i < o.conns; i++)
        stalled += clients[i].rx_seq == clients[i].rx_at_warm;
    if (stalled > 0) {
        fprintf(stderr, "bench-ws-load: %d of %d connections got no echo in %.2f s\n", stalled,
                o.conns, o.secs);
        exit(1);
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    sample_t end = take_sample();
    double dt = end.t - start.t;
    printf("ws-load conns=%d inflight=%d size=%d secs=%.2f msgs=%llu client_cpu=%.0f%%", o.conns,
           o.inflight, o.size, dt, (unsigned long long)(end.echoed - start.echoed),
           100.0 * (end.self_cpu - start.self_cpu) / dt);
    if (start.server_cpu >= 0 && end.server_cpu >= 0)
        printf(" server_cpu=%.0f%%", 100.0 * (end.server_cpu - start.server_cpu) / dt);
    printf(" rate=%.0f\n", (double)(end.echoed - start.echoed) / dt);
    fflush(stdout);
    check_stalls();
    event_base_loopbreak(arg);
}

/* ---- Set-up ------------------------------------------------------------ */

static void open_client(struct event_base *base, const struct sockaddr_in *sin, client_t *c, int id)
{
    int one = 1;
    c->id = id;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        die("socket");
    if (connect(c->fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0)
        die("connect");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    handshake(c->fd, id);
    evutil_make_socket_nonblocking(c->fd);
    c->head_need = 2;
    c->out = evbuffer_new();
    c->rev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(base, c->fd, EV_WRITE, on_write, c);
    if (c->out == NULL || c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0)
        die("event_new");
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --port PORT [OPTIONS]\n"
            "Masked text messages to a WebSocket echo server, every echo checked;\n"
            "prints echoes/s as rate=N.\n"
            "  --host IP         server IPv4 address (default 127.0.0.1)\n"
            "  --port PORT       server port (required)\n"
            "  --path PATH       request target of the handshake (default /)\n"
            "  --conns N         connections (default 50)\n"
            "  --inflight K      messages in flight per connection (default 1)\n"
            "  --size S          bytes per message, 1 to %d (default 64)\n"
            "  --secs D          measured seconds (default 3)\n"
            "  --warmup W        seconds before measuring (default 1)\n"
            "  --server-pid PID  also report that process's CPU use (repeatable: the sum)\n"
            "  --help            this text\n"
            "Example: %s --port 9000 --conns 50 --inflight 4 --size 4096 --secs 3\n",
            prog, SIZE_MAX_MSG, prog);
}

static int parse_args(int argc, char **argv)
{
    static const struct option lo[] = {{"host", required_argument, NULL, 'H'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"path", required_argument, NULL, 'a'},
                                       {"conns", required_argument, NULL, 'n'},
                                       {"inflight", required_argument, NULL, 'k'},
                                       {"size", required_argument, NULL, 's'},
                                       {"secs", required_argument, NULL, 'd'},
                                       {"warmup", required_argument, NULL, 'w'},
                                       {"server-pid", required_argument, NULL, 'P'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'a':
            o.path = optarg;
            break;
        case 'n':
            o.conns = atoi(optarg);
            break;
        case 'k':
            o.inflight = atoi(optarg);
            break;
        case 's':
            o.size = atoi(optarg);
            break;
        case 'd':
            o.secs = atof(optarg);
            break;
        case 'w':
            o.warmup = atof(optarg);
            break;
        case 'P':
            if (o.npids == MAX_PIDS) {
                fprintf(stderr, "%s: at most %d --server-pid\n", argv[0], MAX_PIDS);
                return 2;
            }
            o.server_pid[o.npids++] = atol(optarg);
            break;
        case 'h':
            usage(stdout, argv[0]);
            exit(0);
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    if (optind != argc || o.port < 1 || o.port > 65535 || o.conns < 1 || o.inflight < 1 ||
        o.size < 1 || o.size > SIZE_MAX_MSG || o.secs <= 0 || o.warmup < 0 || o.path[0] != '/' ||
        strlen(o.path) > 512) {
        fprintf(stderr, "%s: bad arguments (--port is required); try --help\n", argv[0]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (parse_args(argc, argv) != 0)
        return 2;
    sin.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &sin.sin_addr) != 1) {
        fprintf(stderr, "%s: --host wants an IPv4 address\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof(text); i++) /* printable, so valid UTF-8 */
        text[i] = (char)('a' + i % 26);
    if (getrandom(&rng, sizeof(rng), 0) != (ssize_t)sizeof(rng))
        die("getrandom");
    rng |= 1; /* xorshift's state must not be 0 */

    struct event_base *base = event_base_new();
    clients = calloc((size_t)o.conns, sizeof(*clients));
    if (base == NULL || clients == NULL)
        die("start-up");
    for (int i = 0; i < o.conns; i++)
        open_client(base, &sin, &clients[i], i);
    for (int i = 0; i < o.conns; i++) {
        for (int k = 0; k < o.inflight; k++)
            queue_frame(&clients[i], OP_TEXT, NULL, (size_t)o.size);
        flush(&clients[i]);
    }

    struct timeval warm = bench_tv(o.warmup), done = bench_tv(o.warmup + o.secs);
    event_base_once(base, -1, EV_TIMEOUT, on_warm, base, &warm);
    event_base_once(base, -1, EV_TIMEOUT, on_done, base, &done);
    event_base_dispatch(base);

    for (int i = 0; i < o.conns; i++) {
        event_free(clients[i].rev);
        event_free(clients[i].wev);
        evbuffer_free(clients[i].out);
        evutil_closesocket(clients[i].fd);
    }
    free(clients);
    event_base_free(base);
    return 0;
}
