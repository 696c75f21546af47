/* SPDX-License-Identifier: MIT */
/* bench-echo-load: a ping-pong load generator for TCP echo servers. It opens
 * --conns connections, keeps --inflight messages of --size bytes in flight on
 * each, and counts the messages echoed back during --secs seconds after a
 * --warmup. It prints one line ending in "rate=<messages/s>". With
 * --server-pid (repeatable) it also reports those processes' CPU use over the
 * same window, which tells whether the server (and not this program) was the
 * bottleneck.
 *
 * A server of several processes sharing one listening socket gets a burst of
 * connections all accepted by whichever process wakes first. --balance CMD
 * --procs N spreads them: connections open one at a time, each with one
 * round trip, CMD (e.g. "example-echo connections --json --pid-file=F")
 * tells which process holds which, more open until every one of the N
 * processes holds its share, and the spare ones close before the load starts.
 *
 * It must never be the bottleneck itself, so the per-message path is bare:
 * one libevent read event per socket, one shared read buffer, and what a
 * connection owes the server is a byte count written from one static payload
 * (every message has the same bytes). Nothing is allocated after start-up.
 *
 *   bench-echo-load --port 9000 --conns 50 --inflight 16 --size 64 --secs 3
 *   bench-echo-load --port 9000 --procs 2 \
 *       --balance "example-echo connections --json --pid-file=/tmp/e.pid"
 */
#include <errno.h>
#include <fcntl.h>
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

#include "bench_util.h"

#define PAYLOAD_MAX (256 * 1024) /* largest single write */
#define READ_BUF (256 * 1024)
#define MAX_PIDS 16
#define BALANCE_ROUNDS 8 /* at most this many times --conns connections open */

typedef struct opts {
    const char *host;
    int port, conns, inflight, size;
    double secs, warmup;
    long server_pid[MAX_PIDS];
    int npids, procs;
    const char *balance;
} opts_t;

typedef struct client {
    evutil_socket_t fd;
    struct event *rev, *wev;
    size_t rx_partial; /* bytes of the current incoming message seen so far */
    size_t owe;        /* bytes to send that did not fit in the socket yet */
} client_t;

static opts_t o = {.host = "127.0.0.1",
                   .conns = 50,
                   .inflight = 1,
                   .size = 64,
                   .secs = 3.0,
                   .warmup = 1.0,
                   .procs = 1};
static char payload[PAYLOAD_MAX];
static char rbuf[READ_BUF];
static uint64_t echoed; /* complete messages received back */

static void die(const char *what)
{
    fprintf(stderr, "bench-echo-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- The per-message path ---------------------------------------------- */

static void flush(client_t *c)
{
    while (c->owe > 0) {
        size_t n = c->owe < PAYLOAD_MAX ? c->owe : PAYLOAD_MAX;
        ssize_t w = send(c->fd, payload, n, 0);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            die("send");
        }
        c->owe -= (size_t)w;
    }
    if (c->owe > 0)
        event_add(c->wev, NULL);
    else if (event_pending(c->wev, EV_WRITE, NULL))
        event_del(c->wev);
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
    size_t total = c->rx_partial + (size_t)n;
    size_t msgs = total / (size_t)o.size;
    c->rx_partial = total % (size_t)o.size;
    if (msgs > 0) {
        echoed += msgs;
        c->owe += msgs * (size_t)o.size;
        flush(c);
    }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
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

static char spread[256] = "-"; /* connections per server process, "25+25" */

static sample_t start;

static void on_warm(evutil_socket_t fd, short what, void *arg)
{
    start = take_sample();
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    sample_t end = take_sample();
    double dt = end.t - start.t;
    printf("echo-load conns=%d inflight=%d size=%d secs=%.2f msgs=%llu client_cpu=%.0f%%", o.conns,
           o.inflight, o.size, dt, (unsigned long long)(end.echoed - start.echoed),
           100.0 * (end.self_cpu - start.self_cpu) / dt);
    if (start.server_cpu >= 0 && end.server_cpu >= 0)
        printf(" server_cpu=%.0f%%", 100.0 * (end.server_cpu - start.server_cpu) / dt);
    printf(" spread=%s rate=%.0f\n", spread, (double)(end.echoed - start.echoed) / dt);
    fflush(stdout);
    event_base_loopbreak(arg);
}

/* ---- Set-up ------------------------------------------------------------ */

static evutil_socket_t connect_to(const struct sockaddr_in *sin)
{
    int one = 1;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void open_client(struct event_base *base, client_t *c)
{
    evutil_make_socket_nonblocking(c->fd);
    c->rev = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(base, c->fd, EV_WRITE, on_write, c);
    if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0)
        die("event_new");
    c->owe = (size_t)o.inflight * (size_t)o.size;
}

/* ---- Spreading connections over server processes (--balance) ---------- */

typedef struct held {
    evutil_socket_t fd;
    int port; /* our local port: the server's "remote" */
    long pid; /* the server process holding it; 0 if not seen */
} held_t;

/* Opens a connection and waits for one message to come back: by then a
 * server process has accepted it and the next connect may wake another. */
static void open_one(held_t *h, const struct sockaddr_in *sin)
{
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    h->fd = connect_to(sin);
    h->pid = 0;
    if (getsockname(h->fd, (struct sockaddr *)&me, &len) != 0)
        die("getsockname");
    h->port = ntohs(me.sin_port);
    if (send(h->fd, payload, (size_t)o.size, 0) != (ssize_t)o.size)
        die("send");
    for (size_t got = 0; got < (size_t)o.size;) {
        ssize_t n = recv(h->fd, rbuf, sizeof(rbuf), 0);
        if (n <= 0) {
            if (n == 0)
                errno = ECONNRESET;
            die("the first round trip");
        }
        got += (size_t)n;
    }
}

/* Runs --balance and records which process holds each connection; its
 * output is wm's `connections --json`: flat objects with "pid" and
 * "remote":"IP:PORT". */
static void who_holds(held_t *h, int n)
{
    static char out[4 << 20];
    FILE *f = popen(o.balance, "r");
    if (f == NULL)
        die("popen --balance");
    size_t len = fread(out, 1, sizeof(out) - 1, f);
    out[len] = '\0';
    if (pclose(f) != 0) {
        fprintf(stderr, "bench-echo-load: --balance command failed: %s\n", o.balance);
        exit(1);
    }
    for (const char *p = out; (p = strstr(p, "{\"pid\":")) != NULL;) {
        long pid = strtol(p + 7, NULL, 10);
        const char *end = strchr(p, '}'), *r = strstr(p, "\"remote\":\"");
        p++;
        if (end == NULL || r == NULL || r > end)
            continue;
        const char *colon = memchr(r + 10, ':', (size_t)(end - r - 10));
        if (colon == NULL)
            continue;
        int port = atoi(colon + 1);
        for (int i = 0; i < n; i++) {
            if (h[i].port == port)
                h[i].pid = pid;
        }
    }
}

/* Opens connections until each of --procs processes holds conns/procs of
 * them, keeps that many of each and closes the rest. Writes the kept sockets
 * into fds[0 .. conns) and describes the spread in `spread`. */
static void open_balanced(evutil_socket_t *fds, const struct sockaddr_in *sin)
{
    int cap = o.conns * BALANCE_ROUNDS, n = 0, np = 0;
    held_t *h = calloc((size_t)cap, sizeof(*h));
    long pids[MAX_PIDS];
    int have[MAX_PIDS], want[MAX_PIDS];
    if (h == NULL)
        die("calloc");
    for (int round = 0; round < BALANCE_ROUNDS; round++) {
        for (int i = 0; i < o.conns; i++)
            open_one(&h[n++], sin);
        who_holds(h, n);
        np = 0;
        memset(have, 0, sizeof(have));
        for (int i = 0; i < n; i++) {
            int k = 0;
            while (k < np && pids[k] != h[i].pid)
                k++;
            if (k == np && h[i].pid != 0 && np < MAX_PIDS)
                pids[np++] = h[i].pid;
            if (k < np)
                have[k]++;
        }
        bool ok = np >= o.procs;
        for (int k = 0; k < o.procs && k < np; k++)
            ok = ok && have[k] >= o.conns / o.procs + (k < o.conns % o.procs);
        if (ok)
            break;
    }
    /* Each process's share; what one lacks (after the last round) the others
     * make up, so that --conns connections always run. */
    int left = o.conns;
    for (int k = 0; k < np; k++) {
        int share = k < o.procs ? o.conns / o.procs + (k < o.conns % o.procs) : 0;
        want[k] = share < have[k] ? share : have[k];
        left -= want[k];
    }
    for (int k = 0; k < np && left > 0; k++) {
        int more = have[k] - want[k] < left ? have[k] - want[k] : left;
        want[k] += more;
        left -= more;
    }
    int kept = 0, len = 0, unseen = 0;
    memset(have, 0, sizeof(have)); /* now: kept per process */
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < np && pids[k] != h[i].pid)
            k++;
        bool keep = kept < o.conns && (k == np ? left-- > 0 : want[k]-- > 0);
        if (!keep) {
            evutil_closesocket(h[i].fd);
            continue;
        }
        fds[kept++] = h[i].fd;
        if (k < np)
            have[k]++;
        else
            unseen++;
    }
    spread[0] = '\0';
    for (int k = 0; k < np; k++) {
        if (have[k] > 0)
            len += snprintf(spread + len, sizeof(spread) - (size_t)len, "%s%d", len ? "+" : "",
                            have[k]);
    }
    if (unseen > 0)
        snprintf(spread + len, sizeof(spread) - (size_t)len, "+%d?", unseen);
    if (kept < o.conns || np < o.procs)
        fprintf(stderr, "bench-echo-load: only %d of %d processes seen after %d connections\n", np,
                o.procs, n);
    free(h);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --port PORT [OPTIONS]\n"
            "Ping-pong load on a TCP echo server; prints messages/s as rate=N.\n"
            "  --host IP         server IPv4 address (default 127.0.0.1)\n"
            "  --port PORT       server port (required)\n"
            "  --conns N         connections (default 50)\n"
            "  --inflight K      messages in flight per connection (default 1)\n"
            "  --size S          bytes per message (default 64)\n"
            "  --secs D          measured seconds (default 3)\n"
            "  --warmup W        seconds before measuring (default 1)\n"
            "  --server-pid PID  also report that process's CPU use (repeatable: the sum)\n"
            "  --procs N         server processes to spread the connections over (default 1)\n"
            "  --balance CMD     a command printing wm's `connections --json` for the\n"
            "                    server: open connections until each process holds its share\n"
            "  --help            this text\n"
            "Example: %s --port 9000 --conns 50 --inflight 16 --secs 3\n",
            prog, prog);
}

static int parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", required_argument, NULL, 'H'},   {"port", required_argument, NULL, 'p'},
        {"conns", required_argument, NULL, 'n'},  {"inflight", required_argument, NULL, 'k'},
        {"size", required_argument, NULL, 's'},   {"secs", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'}, {"server-pid", required_argument, NULL, 'P'},
        {"procs", required_argument, NULL, 'N'},  {"balance", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
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
        case 'N':
            o.procs = atoi(optarg);
            break;
        case 'B':
            o.balance = optarg;
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
        o.size < 1 || o.size > PAYLOAD_MAX || o.secs <= 0 || o.warmup < 0 || o.procs < 1 ||
        o.procs > MAX_PIDS) {
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
    memset(payload, 'x', sizeof(payload));

    struct event_base *base = event_base_new();
    client_t *clients = calloc((size_t)o.conns, sizeof(*clients));
    if (base == NULL || clients == NULL)
        die("start-up");
    evutil_socket_t *fds = calloc((size_t)o.conns, sizeof(*fds));
    if (fds == NULL)
        die("start-up");
    if (o.balance != NULL) {
        open_balanced(fds, &sin);
    } else {
        for (int i = 0; i < o.conns; i++)
            fds[i] = connect_to(&sin);
    }
    for (int i = 0; i < o.conns; i++) {
        clients[i].fd = fds[i];
        open_client(base, &clients[i]);
    }
    free(fds);
    for (int i = 0; i < o.conns; i++)
        flush(&clients[i]);

    struct timeval warm = bench_tv(o.warmup), done = bench_tv(o.warmup + o.secs);
    event_base_once(base, -1, EV_TIMEOUT, on_warm, base, &warm);
    event_base_once(base, -1, EV_TIMEOUT, on_done, base, &done);
    event_base_dispatch(base);

    for (int i = 0; i < o.conns; i++) {
        event_free(clients[i].rev);
        event_free(clients[i].wev);
        evutil_closesocket(clients[i].fd);
    }
    free(clients);
    event_base_free(base);
    return 0;
}
