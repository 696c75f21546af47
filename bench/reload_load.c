/* SPDX-License-Identifier: MIT */
/* bench-reload-load: request load on a text:// (one line per message) echo
 * server for bench/run reload, counting what succeeds and what fails while
 * the server's processes are replaced under it.
 *
 * --conns slots each run requests for --secs seconds. A request sends the
 * line "r <slot> <seq>" and succeeds when the same line comes back. By
 * default every request is a new TCP connection (connect, send, read the
 * answer, close); with --keepalive a connection sends its requests back to
 * back and closes after --per-conn of them (0: never), then a new one opens.
 * A failed request closes its connection and the slot goes on with a new
 * one 10 ms later. Failures are counted by kind:
 *   refused  connect() was refused (ECONNREFUSED)
 *   reset    ECONNRESET or EPIPE while connecting, sending or reading
 *   eof      the server closed the connection before the whole answer came
 *   wrong    the answer was not the line sent
 *   timeout  no answer within --timeout seconds of starting the request
 *   other    any other error (EADDRNOTAVAIL, ...)
 * and each of the first --log failures is printed on stderr with its time,
 * kind, where it happened (connect, send, read) and how many requests its
 * connection had answered before. --timeline prints requests and failures
 * per 100 ms on stderr at the end. The result is one line on stdout:
 *   reload-load mode=conn conns=16 secs=20.00 ok=N failed=N refused=N ...
 *   ... start=<CLOCK_REALTIME of the start> rate=<successful requests/s>
 *
 * Connecting at tens of thousands per second leaves as many local ports in
 * TIME_WAIT, more than one address has: connections come from --sources
 * loopback addresses (127.0.0.1, 127.0.0.2, ...) in turn.
 *
 *   bench-reload-load --port 9001 --conns 16 --secs 20 [--keepalive]
 */
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

#define LINE_MAX_LEN 64
#define RETRY_MS 10   /* a slot whose request failed starts again after this */
#define SWEEP_MS 50   /* how often timeouts are looked for */
#define BUCKET_MS 100 /* --timeline resolution */
#define MAX_BUCKETS 36000

enum kind { K_REFUSED, K_RESET, K_EOF, K_WRONG, K_TIMEOUT, K_OTHER, K_COUNT };
static const char *const kind_name[K_COUNT] = {"refused", "reset",   "eof",
                                               "wrong",   "timeout", "other"};

typedef enum state { S_IDLE, S_CONNECTING, S_SENDING, S_READING } state_t;
static const char *const state_name[] = {"idle", "connect", "send", "read"};

typedef struct opts {
    const char *host;
    int port, conns, sources, per_conn, log;
    double secs, timeout;
    bool keepalive, timeline;
} opts_t;

typedef struct slot {
    int index;
    evutil_socket_t fd;
    struct event *ev;   /* read or write on fd, as the state needs */
    struct event *wake; /* the pause after a failure */
    state_t state;
    double deadline; /* the current request's timeout */
    uint64_t seq;    /* requests sent by this slot */
    int served;      /* requests answered on the current connection */
    char line[LINE_MAX_LEN];
    size_t line_len;
    char rx[LINE_MAX_LEN];
    size_t rx_len;
} slot_t;

typedef struct bucket {
    uint32_t ok, failed;
} bucket_t;

static opts_t o = {
    .host = "127.0.0.1", .conns = 16, .sources = 32, .log = 100, .secs = 20, .timeout = 2.0};
static struct event_base *base;
static struct sockaddr_in server;
static struct in_addr host_addr;
static double t0;
static bool stopping;
static uint64_t ok_count, fail_count[K_COUNT], connects, logged;
static unsigned next_source;
static bucket_t *buckets;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-reload-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static bucket_t *bucket_now(void)
{
    long i = (long)((now_s() - t0) * 1000.0 / BUCKET_MS);
    return i >= 0 && i < MAX_BUCKETS ? &buckets[i] : &buckets[MAX_BUCKETS - 1];
}

static void start_request(slot_t *s);

static void close_conn(slot_t *s)
{
    if (s->fd >= 0) {
        event_del(s->ev);
        evutil_closesocket(s->fd);
        s->fd = -1;
    }
    s->state = S_IDLE;
    s->served = 0;
}

static enum kind kind_of_errno(int err)
{
    if (err == ECONNREFUSED)
        return K_REFUSED;
    if (err == ECONNRESET || err == EPIPE)
        return K_RESET;
    if (err == ETIMEDOUT)
        return K_TIMEOUT;
    return K_OTHER;
}

/* Counts a failed request, closes its connection and retries a bit later. */
static void fail(slot_t *s, enum kind k, int err)
{
    fail_count[k]++;
    bucket_now()->failed++;
    if (logged < (uint64_t)o.log) {
        logged++;
        fprintf(stderr, "fail t=%.3f kind=%s while=%s errno=%s slot=%d conn_answered=%d got=%zu\n",
                now_s() - t0, kind_name[k], state_name[s->state], err ? strerror(err) : "-",
                s->index, s->served, s->rx_len);
    }
    close_conn(s);
    if (stopping)
        return;
    struct timeval tv = {0, RETRY_MS * 1000};
    event_add(s->wake, &tv);
}

/* Sends the slot's next request line on its connection. */
static void send_line(slot_t *s)
{
    s->seq++;
    s->line_len = (size_t)snprintf(s->line, sizeof(s->line), "r %d %llu\n", s->index,
                                   (unsigned long long)s->seq);
    s->rx_len = 0;
    s->deadline = now_s() + o.timeout;
    s->state = S_SENDING;
    /* A line this short always fits in an empty socket buffer. */
    ssize_t w = send(s->fd, s->line, s->line_len, MSG_NOSIGNAL);
    if (w != (ssize_t)s->line_len) {
        fail(s, w < 0 ? kind_of_errno(errno) : K_OTHER, w < 0 ? errno : 0);
        return;
    }
    s->state = S_READING;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    slot_t *s = arg;
    if (s->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0) {
            fail(s, kind_of_errno(err), err);
            return;
        }
        send_line(s);
        if (s->state == S_READING) { /* now wait for the answer */
            event_assign(s->ev, base, s->fd, EV_READ | EV_PERSIST, on_io, s);
            event_add(s->ev, NULL);
        }
        return;
    }
    ssize_t n = recv(fd, s->rx + s->rx_len, sizeof(s->rx) - s->rx_len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        fail(s, kind_of_errno(errno), errno);
        return;
    }
    if (n == 0) {
        fail(s, K_EOF, 0);
        return;
    }
    s->rx_len += (size_t)n;
    if (s->rx_len < s->line_len)
        return;
    if (s->rx_len > s->line_len || memcmp(s->rx, s->line, s->line_len) != 0) {
        fail(s, K_WRONG, 0);
        return;
    }
    ok_count++;
    bucket_now()->ok++;
    s->served++;
    if (stopping) {
        close_conn(s);
        return;
    }
    if (o.keepalive && (o.per_conn == 0 || s->served < o.per_conn)) {
        send_line(s); /* the read event stays as it was */
        return;
    }
    close_conn(s);
    start_request(s);
}

/* A request on a new connection, from the next source address. */
static void start_request(slot_t *s)
{
    struct sockaddr_in src = {.sin_family = AF_INET};
    int one = 1;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0)
        die("socket");
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* The port is chosen at connect(), for the whole 4-tuple. */
    setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    src.sin_addr.s_addr = htonl(ntohl(host_addr.s_addr) + next_source++ % (unsigned)o.sources);
    if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) != 0)
        die("bind to a loopback source address");
    s->state = S_CONNECTING;
    s->served = 0;
    s->rx_len = 0;
    s->deadline = now_s() + o.timeout;
    connects++;
    event_assign(s->ev, base, s->fd, EV_WRITE, on_io, s);
    if (connect(s->fd, (struct sockaddr *)&server, sizeof(server)) != 0 && errno != EINPROGRESS) {
        fail(s, kind_of_errno(errno), errno);
        return;
    }
    event_add(s->ev, NULL);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    if (!stopping)
        start_request(arg);
}

static slot_t *slots;

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    double t = now_s();
    for (int i = 0; i < o.conns; i++) {
        if (slots[i].state != S_IDLE && t > slots[i].deadline)
            fail(&slots[i], K_TIMEOUT, 0);
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    stopping = true;
    event_base_loopbreak(base);
}

static void report(double dt, double start_wall)
{
    uint64_t failed = 0;
    for (int k = 0; k < K_COUNT; k++)
        failed += fail_count[k];
    printf("reload-load mode=%s conns=%d secs=%.2f connections=%llu ok=%llu failed=%llu",
           o.keepalive ? "keepalive" : "conn", o.conns, dt, (unsigned long long)connects,
           (unsigned long long)ok_count, (unsigned long long)failed);
    for (int k = 0; k < K_COUNT; k++)
        printf(" %s=%llu", kind_name[k], (unsigned long long)fail_count[k]);
    printf(" start=%.3f rate=%.0f\n", start_wall, (double)ok_count / dt);
    fflush(stdout);
    if (!o.timeline)
        return;
    long nb = (long)(dt * 1000.0 / BUCKET_MS) + 1;
    fprintf(stderr, "timeline (per %d ms: t ok failed)\n", BUCKET_MS);
    for (long i = 0; i < nb && i < MAX_BUCKETS; i++)
        fprintf(stderr, "tl %.1f %u %u\n", (double)i * BUCKET_MS / 1000.0, buckets[i].ok,
                buckets[i].failed);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --port PORT [OPTIONS]\n"
            "Request load on a text:// echo server; counts successes and failures by kind.\n"
            "  --host IP       server IPv4 address (default 127.0.0.1)\n"
            "  --port PORT     server port (required)\n"
            "  --conns N       concurrent connections (default 16)\n"
            "  --secs D        seconds to run (default 20)\n"
            "  --keepalive     send requests back to back on each connection\n"
            "                  (default: one connection per request)\n"
            "  --per-conn N    with --keepalive, requests per connection (0: unlimited)\n"
            "  --timeout T     seconds a request may take before it fails (default 2)\n"
            "  --sources N     loopback source addresses from 127.0.0.1 on (default 32)\n"
            "  --log N         print the first N failures on stderr (default 100)\n"
            "  --timeline      print requests and failures per 100 ms on stderr\n"
            "  --help          this text\n"
            "Example: %s --port 9001 --conns 16 --secs 20\n",
            prog, prog);
}

static int parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, NULL, 'H'},    {"port", required_argument, NULL, 'p'},
        {"conns", required_argument, NULL, 'n'},   {"secs", required_argument, NULL, 'd'},
        {"keepalive", no_argument, NULL, 'k'},     {"per-conn", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'}, {"sources", required_argument, NULL, 's'},
        {"log", required_argument, NULL, 'l'},     {"timeline", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'n':
            o.conns = atoi(optarg);
            break;
        case 'd':
            o.secs = atof(optarg);
            break;
        case 'k':
            o.keepalive = true;
            break;
        case 'r':
            o.per_conn = atoi(optarg);
            break;
        case 't':
            o.timeout = atof(optarg);
            break;
        case 's':
            o.sources = atoi(optarg);
            break;
        case 'l':
            o.log = atoi(optarg);
            break;
        case 'T':
            o.timeline = true;
            break;
        case 'h':
            usage(stdout, argv[0]);
            exit(0);
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    if (optind != argc || o.port < 1 || o.port > 65535 || o.conns < 1 || o.secs <= 0 ||
        o.timeout <= 0 || o.sources < 1 || o.sources > 250 || o.per_conn < 0 || o.log < 0) {
        fprintf(stderr, "%s: bad arguments (--port is required); try --help\n", argv[0]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &server.sin_addr) != 1) {
        fprintf(stderr, "%s: --host wants an IPv4 address\n", argv[0]);
        return 2;
    }
    /* Source addresses: 127.0.0.1 + i for a loopback server, else the default. */
    host_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((ntohl(server.sin_addr.s_addr) >> 24) != 127) {
        o.sources = 1;
        host_addr.s_addr = htonl(INADDR_ANY);
    }

    base = event_base_new();
    slots = calloc((size_t)o.conns, sizeof(*slots));
    buckets = calloc(MAX_BUCKETS, sizeof(*buckets));
    if (base == NULL || slots == NULL || buckets == NULL)
        die("start-up");

    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    t0 = now_s();
    for (int i = 0; i < o.conns; i++) {
        slot_t *s = &slots[i];
        s->index = i;
        s->fd = -1;
        s->ev = event_new(base, -1, 0, on_io, s);
        s->wake = evtimer_new(base, on_wake, s);
        if (s->ev == NULL || s->wake == NULL)
            die("event_new");
        start_request(s);
    }
    struct timeval sweep_tv = {0, SWEEP_MS * 1000};
    struct timeval done_tv = {(time_t)o.secs,
                              (suseconds_t)((o.secs - (double)(time_t)o.secs) * 1e6)};
    struct event *sweep = event_new(base, -1, EV_PERSIST, on_sweep, NULL);
    event_add(sweep, &sweep_tv);
    event_base_once(base, -1, EV_TIMEOUT, on_done, NULL, &done_tv);
    event_base_dispatch(base);
    double dt = now_s() - t0;

    report(dt, (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
    for (int i = 0; i < o.conns; i++) {
        close_conn(&slots[i]);
        event_free(slots[i].ev);
        event_free(slots[i].wake);
    }
    event_free(sweep);
    free(slots);
    free(buckets);
    event_base_free(base);
    return 0;
}
