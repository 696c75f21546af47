/* SPDX-License-Identifier: MIT */
/* bench-ch-load: one load generator for channel-server (frame + MessagePack,
 * docs/protocol.md) and redis-server (RESP), with the same shape for both.
 *
 * --mode fanout: --subs connections subscribe to one event ("bench"; Redis
 * SUBSCRIBE), then --pubs connections publish 64-byte messages to it, each
 * keeping --window publishes in flight (a publish is in flight until its
 * reply: the receiver count, which must equal --subs, or the server dropped
 * one). The figure is messages delivered to subscribers per second.
 *
 * --mode queue: --consumers connections watch one queue ("benchq"), taking up
 * to --batch messages at a time (channel: watch {"inflight": batch}; Redis:
 * a Streams consumer group, XREADGROUP COUNT batch BLOCK, on a stream made
 * beforehand), and acknowledge each read's messages in one request (ack
 * [ids] / XACK); --producers connections enqueue 64-byte messages (enqueue /
 * XADD), each with --inflight in flight. The figure is messages acknowledged
 * per second (as the servers' ack replies count them).
 *
 * Every message is checked. Its 64 bytes hold the sender's index and its
 * sequence number on that sender, then a fixed text: in fanout, each
 * subscriber must get every publisher's messages in order, none missing or
 * repeated; in queue, every message must arrive exactly once (channel: on
 * its first delivery). After the measured --secs (after --warmup) the
 * senders stop, and the run waits (up to --drain seconds) until everything
 * sent has arrived and been acknowledged; then it prints one line ending in
 * "rate=<messages/s>". Anything wrong stops it with an error (exit 1) and no
 * rate.
 *
 * Two bounds keep the servers' buffers from growing without end when this
 * program reads slower than a server writes (the senders then wait, counted
 * as lag_waits): in fanout a publisher stops while it is more than --max-lag
 * messages ahead of what the subscribers got on average; in queue the
 * producers stop while more than --backlog messages are sent but not
 * acknowledged. The Redis producers add MAXLEN ~ 100000 (far above the
 * backlog), so the stream is trimmed as channel-server deletes acked messages.
 * With --server-pid (repeatable) it reports those processes' CPU use over the
 * measured window, and its own.
 *
 *   bench-ch-load --proto ch --port 2206 --mode fanout --subs 100 --pubs 2 --window 64
 *   bench-ch-load --proto resp --port 6379 --mode queue --producers 4 --inflight 16 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "bench_util.h"

#define PAYLOAD 64          /* bytes of every message */
#define RBUF (256 * 1024)   /* a connection's read buffer; any one reply fits */
#define MAX_PIDS 16         /* --server-pid */
#define MAX_SENDERS 1000    /* --pubs, --producers */
#define MAX_BATCH 10000     /* --batch */
#define EVENT_NAME "bench"  /* the fanout's event (channel) */
#define QUEUE_NAME "benchq" /* the queue, and the Redis stream */
#define REDIS_GROUP "g"
#define REDIS_MAXLEN "100000"

/* The fixed text after "IIII SSSSSSSSSSSSSSSS " in every payload. */
static const char FILLER[PAYLOAD + 1] =
    "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQR";
#define HEAD 22 /* 4 digits of sender, space, 16 digits of sequence, space */

enum role { SUB, PUB, PROD, CONS };

typedef struct conn {
    int idx; /* among its role */
    enum role role;
    int fd;
    struct event *rev, *wev;
    struct evbuffer *out;
    char *in;
    size_t in_len;
    bool ready;         /* subscribed / watching */
    uint64_t sent;      /* PUB, PROD: messages sent (the next sequence number) */
    uint64_t replied;   /* PUB, PROD: their replies */
    uint64_t *next_seq; /* SUB: per publisher, the next sequence number due */
    uint64_t acks_out;  /* CONS: ack requests without a reply */
} conn_t;

static struct {
    bool resp;
    const char *host;
    int port;
    bool queue;
    int subs, pubs, window, producers, consumers, inflight, batch;
    long max_lag, backlog;
    double secs, warmup, drain;
    long pids[MAX_PIDS];
    int npids;
} o = {.host = "127.0.0.1",
       .port = 2206,
       .subs = 10,
       .pubs = 2,
       .window = 64,
       .producers = 4,
       .consumers = 4,
       .inflight = 16,
       .batch = 100,
       .backlog = 10000,
       .secs = 2,
       .warmup = 0.5,
       .drain = 10};

static struct {
    struct event_base *base;
    conn_t *subs, *senders, *cons; /* senders: publishers or producers */
    int nready;
    bool started, stopping;
    uint64_t delivered; /* fanout: pushes received; queue: messages received */
    uint64_t acked;     /* queue: acknowledged (the servers' count) */
    uint64_t sent_total;
    uint64_t lag_waits;
    bool waiting;   /* a sender stopped at a bound */
    uint8_t **seen; /* queue: per producer, per sequence number: received */
    size_t *seen_cap;
    struct event *drain_ev;
    double drain_until;
} g;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-ch-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static const char *role_name(const conn_t *c)
{
    static const char *names[] = {"subscriber", "publisher", "producer", "consumer"};
    return names[c->role];
}

/* ---- Payloads ------------------------------------------------------------ */

static void put_digits(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
}

static bool get_digits(const char *p, int n, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(p[i] - '0');
    }
    *v = x;
    return true;
}

static void make_payload(char *p, int sender, uint64_t seq)
{
    put_digits(p, (uint64_t)sender, 4);
    p[4] = ' ';
    put_digits(p + 5, seq, 16);
    p[21] = ' ';
    memcpy(p + HEAD, FILLER + HEAD, PAYLOAD - HEAD);
}

/* The sender and sequence number of a payload; dies on damage. */
static void read_payload(const conn_t *c, const char *p, size_t n, int nsenders, int *sender,
                         uint64_t *seq)
{
    uint64_t s;
    if (n != PAYLOAD || !get_digits(p, 4, &s) || p[4] != ' ' || !get_digits(p + 5, 16, seq) ||
        p[21] != ' ' || memcmp(p + HEAD, FILLER + HEAD, PAYLOAD - HEAD) != 0 ||
        s >= (uint64_t)nsenders)
        die("%s %d: a damaged message (%zu bytes: \"%.*s\")", role_name(c), c->idx, n,
            (int)(n < 80 ? n : 80), p);
    *sender = (int)s;
}

/* ---- Sending ------------------------------------------------------------- */

static void on_write(evutil_socket_t fd, short what, void *arg);

static void flush(conn_t *c)
{
    if (evbuffer_get_length(c->out) == 0 || event_pending(c->wev, EV_WRITE, NULL))
        return;
    if (evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN && errno != EINTR)
        die("%s %d: send: %s", role_name(c), c->idx, strerror(errno));
    if (evbuffer_get_length(c->out) > 0)
        event_add(c->wev, NULL);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
}

/* Frame + MessagePack, written by hand: fixed shapes, small values. */
static void mp_str(struct evbuffer *b, const char *s, size_t n)
{
    unsigned char h[2] = {0xd9, (unsigned char)n};
    if (n < 32) {
        h[0] = (unsigned char)(0xa0 | n);
        evbuffer_add(b, h, 1);
    } else {
        evbuffer_add(b, h, 2);
    }
    evbuffer_add(b, s, n);
}

static void mp_uint(struct evbuffer *b, uint64_t v)
{
    unsigned char h[9] = {0xcf};
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    if (v < 128) {
        h[0] = (unsigned char)v;
        evbuffer_add(b, h, 1);
    } else {
        evbuffer_add(b, h, 9);
    }
}

static void mp_array(struct evbuffer *b, uint32_t n)
{
    unsigned char h[3] = {0xdc, (unsigned char)(n >> 8), (unsigned char)n};
    if (n < 16) {
        h[0] = (unsigned char)(0x90 | n);
        evbuffer_add(b, h, 1);
    } else {
        evbuffer_add(b, h, 3);
    }
}

/* Frames the body built in tmp onto c->out. */
static void frame_out(conn_t *c, struct evbuffer *tmp)
{
    uint32_t total = (uint32_t)evbuffer_get_length(tmp) + 4;
    unsigned char h[4] = {(unsigned char)(total >> 24), (unsigned char)(total >> 16),
                          (unsigned char)(total >> 8), (unsigned char)total};
    evbuffer_add(c->out, h, 4);
    evbuffer_add_buffer(c->out, tmp);
}

static struct evbuffer *tmpbuf(void)
{
    static struct evbuffer *t;
    if (!t && !(t = evbuffer_new()))
        die("out of memory");
    return t;
}

/* [1, op, name, arg?]: subscribe, watch; arg is a packed value or NULL. */
static void ch_request(conn_t *c, uint64_t id, const char *op, const char *name, const void *arg,
                       size_t alen)
{
    struct evbuffer *t = tmpbuf();
    mp_array(t, arg ? 4 : 3);
    mp_uint(t, id);
    mp_str(t, op, strlen(op));
    mp_str(t, name, strlen(name));
    if (arg)
        evbuffer_add(t, arg, alen);
    frame_out(c, t);
}

static void resp_command(conn_t *c, int argc, const char **argv, const size_t *lens)
{
    evbuffer_add_printf(c->out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        evbuffer_add_printf(c->out, "$%zu\r\n", n);
        evbuffer_add(c->out, argv[i], n);
        evbuffer_add(c->out, "\r\n", 2);
    }
}

/* One message from a sender: publish or enqueue (with its payload as a str
 * in MessagePack: data is any value, and a str is what a text is). */
static void send_message(conn_t *c)
{
    char p[PAYLOAD];
    make_payload(p, c->idx, c->sent++);
    g.sent_total++;
    if (o.resp) {
        const char *pub[] = {"PUBLISH", EVENT_NAME, p};
        const char *xadd[] = {"XADD", QUEUE_NAME, "MAXLEN", "~", REDIS_MAXLEN, "*", "d", p};
        size_t plen[] = {7, strlen(EVENT_NAME), PAYLOAD};
        size_t xlen[] = {4, strlen(QUEUE_NAME), 6, 1, strlen(REDIS_MAXLEN), 1, 1, PAYLOAD};
        if (o.queue)
            resp_command(c, 8, xadd, xlen);
        else
            resp_command(c, 3, pub, plen);
        return;
    }
    struct evbuffer *t = tmpbuf();
    mp_array(t, 4);
    mp_uint(t, 2);
    mp_str(t, o.queue ? "enqueue" : "publish", 7);
    mp_str(t, o.queue ? QUEUE_NAME : EVENT_NAME, strlen(o.queue ? QUEUE_NAME : EVENT_NAME));
    mp_str(t, p, PAYLOAD);
    frame_out(c, t);
}

/* May sender c send one more now? Within its window, and within the bound
 * on how far the senders may run ahead of the receivers. */
static bool may_send(const conn_t *c)
{
    if (!g.started || g.stopping || c->sent - c->replied >= (uint64_t)o.inflight)
        return false;
    bool ahead = o.queue ? g.sent_total - g.acked >= (uint64_t)o.backlog
                         : g.sent_total * (uint64_t)o.subs >=
                               g.delivered + (uint64_t)o.max_lag * (uint64_t)o.subs;
    if (ahead && !g.waiting) {
        g.waiting = true;
        g.lag_waits++;
    }
    return !ahead;
}

static void fill(conn_t *c)
{
    while (may_send(c))
        send_message(c);
    flush(c);
}

/* Receivers got more: senders that waited at the bound may go on. */
static void resume_senders(void)
{
    if (!g.waiting)
        return;
    g.waiting = false;
    int n = o.queue ? o.producers : o.pubs;
    for (int i = 0; i < n; i++)
        fill(&g.senders[i]);
}

/* ---- Reading: frames and MessagePack ------------------------------------- */

typedef struct cur {
    const unsigned char *p, *end;
} cur_t;

static bool rd_array(cur_t *r, uint32_t *n)
{
    if (r->p >= r->end)
        return false;
    unsigned char b = *r->p++;
    if ((b & 0xf0) == 0x90) {
        *n = b & 0x0f;
        return true;
    }
    if (b == 0xdc && r->end - r->p >= 2) {
        *n = (uint32_t)r->p[0] << 8 | r->p[1];
        r->p += 2;
        return true;
    }
    return false;
}

static bool rd_uint(cur_t *r, uint64_t *v)
{
    if (r->p >= r->end)
        return false;
    unsigned char b = *r->p++;
    int n = b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : b == 0xcf ? 8 : 0;
    if (b < 0x80) {
        *v = b;
        return true;
    }
    if (n == 0 || r->end - r->p < n)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = x << 8 | r->p[i];
    r->p += n;
    *v = x;
    return true;
}

static bool rd_str(cur_t *r, const char **s, size_t *n)
{
    if (r->p >= r->end)
        return false;
    unsigned char b = *r->p++;
    size_t len;
    if ((b & 0xe0) == 0xa0) {
        len = b & 0x1f;
    } else if (b == 0xd9 && r->p < r->end) {
        len = *r->p++;
    } else if (b == 0xda && r->end - r->p >= 2) {
        len = (size_t)r->p[0] << 8 | r->p[1];
        r->p += 2;
    } else {
        return false;
    }
    if ((size_t)(r->end - r->p) < len)
        return false;
    *s = (const char *)r->p;
    *n = len;
    r->p += len;
    return true;
}

static bool rd_is_str(const cur_t *r)
{
    unsigned char b = r->p < r->end ? *r->p : 0;
    return (b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb;
}

static bool str_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static _Noreturn void bad_frame(const conn_t *c, const cur_t *whole)
{
    char hex[3 * 48 + 1] = "";
    size_t n = (size_t)(whole->end - whole->p);
    for (size_t i = 0; i < n && i < 48; i++)
        sprintf(hex + 3 * i, "%02x ", whole->p[i]);
    die("%s %d: an unexpected frame (%zu bytes): %s", role_name(c), c->idx, n, hex);
}

/* A reply [id, status, result...]: dies unless status is 0; leaves r at the
 * result; returns the id. */
static uint64_t ch_reply(const conn_t *c, cur_t *r, const cur_t *whole)
{
    uint32_t n;
    uint64_t id, status;
    if (!rd_array(r, &n) || n != 3 || !rd_uint(r, &id) || !rd_uint(r, &status))
        bad_frame(c, whole);
    if (status != 0) {
        const char *s = "";
        size_t len = 0;
        rd_str(r, &s, &len);
        die("%s %d: the server answered status %llu: %.*s", role_name(c), c->idx,
            (unsigned long long)status, (int)len, s);
    }
    return id;
}

/* ---- Reading: RESP ------------------------------------------------------- */

/* Length of the complete RESP value at p (up to end), 0 if incomplete. */
static size_t resp_len(const conn_t *c, const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return 0;
    size_t head = (size_t)(nl - p) + 1;
    long n = strtol(p + 1, NULL, 10);
    switch (p[0]) {
    case '+':
    case ':':
        return head;
    case '-':
        die("%s %d: redis answered %.*s", role_name(c), c->idx, (int)head - 2, p);
    case '$':
        if (n < 0)
            return head;
        return (size_t)(end - p) >= head + (size_t)n + 2 ? head + (size_t)n + 2 : 0;
    case '*': {
        size_t off = head;
        for (long i = 0; i < n; i++) {
            size_t len = off < (size_t)(end - p) ? resp_len(c, p + off, end) : 0;
            if (len == 0)
                return 0;
            off += len;
        }
        return off;
    }
    default:
        die("%s %d: not RESP: %.40s", role_name(c), c->idx, p);
    }
}

/* Walkers over a complete value. */
static long rs_array(const char **p)
{
    long n = strtol(*p + 1, NULL, 10);
    if (**p != '*')
        return -2;
    *p = strchr(*p, '\n') + 1;
    return n;
}

static bool rs_bulk(const char **p, const char **s, size_t *n)
{
    if (**p != '$')
        return false;
    long len = strtol(*p + 1, NULL, 10);
    if (len < 0)
        return false;
    *s = strchr(*p, '\n') + 1;
    *n = (size_t)len;
    *p = *s + len + 2;
    return true;
}

static long rs_int(const char **p)
{
    long v = strtol(*p + 1, NULL, 10);
    if (**p != ':')
        return -1;
    *p = strchr(*p, '\n') + 1;
    return v;
}

/* ---- Fanout -------------------------------------------------------------- */

static void became_ready(conn_t *c);

static void sub_message(conn_t *c, const char *data, size_t n)
{
    int p;
    uint64_t seq;
    read_payload(c, data, n, o.pubs, &p, &seq);
    if (seq != c->next_seq[p])
        die("subscriber %d: publisher %d's message %llu came when %llu was due (%s)", c->idx, p,
            (unsigned long long)seq, (unsigned long long)c->next_seq[p],
            seq > c->next_seq[p] ? "lost messages" : "repeated or out of order");
    c->next_seq[p]++;
    g.delivered++;
}

/* A subscriber's frame or RESP value: a push, or the subscribe's reply. */
static void sub_value(conn_t *c, const char *v, size_t len)
{
    if (o.resp) {
        const char *p = v, *kind, *name, *data;
        size_t kn, nn, dn;
        if (rs_array(&p) != 3 || !rs_bulk(&p, &kind, &kn) || !rs_bulk(&p, &name, &nn))
            die("subscriber %d: unexpected %.60s", c->idx, v);
        if (str_is(kind, kn, "message") && rs_bulk(&p, &data, &dn))
            sub_message(c, data, dn);
        else if (str_is(kind, kn, "subscribe") && rs_int(&p) == 1)
            became_ready(c);
        else
            die("subscriber %d: unexpected %.60s", c->idx, v);
        return;
    }
    cur_t whole = {(const unsigned char *)v, (const unsigned char *)v + len}, r = whole;
    uint32_t n;
    const char *s, *data;
    size_t sn, dn;
    const unsigned char *at = r.p;
    if (rd_array(&r, &n) && n == 3 && rd_is_str(&r)) {
        if (!rd_str(&r, &s, &sn) || !str_is(s, sn, "event") || !rd_str(&r, &s, &sn) ||
            !str_is(s, sn, EVENT_NAME) || !rd_str(&r, &data, &dn))
            bad_frame(c, &whole);
        sub_message(c, data, dn);
        return;
    }
    r.p = at;
    uint64_t subs;
    ch_reply(c, &r, &whole);
    if (!rd_uint(&r, &subs) || subs != 1)
        bad_frame(c, &whole);
    became_ready(c);
}

/* A publisher's reply: the receiver count. */
static void pub_value(conn_t *c, const char *v, size_t len)
{
    long n;
    if (o.resp) {
        const char *p = v;
        n = rs_int(&p);
    } else {
        cur_t whole = {(const unsigned char *)v, (const unsigned char *)v + len}, r = whole;
        uint64_t u;
        ch_reply(c, &r, &whole);
        if (!rd_uint(&r, &u))
            bad_frame(c, &whole);
        n = (long)u;
    }
    if (n != o.subs)
        die("publisher %d: message %llu reached %ld subscribers of %d (the server dropped or "
            "lost some)",
            c->idx, (unsigned long long)c->replied, n, o.subs);
    c->replied++;
}

/* ---- Queue --------------------------------------------------------------- */

static void queue_message(conn_t *c, const char *data, size_t n)
{
    int p;
    uint64_t seq;
    read_payload(c, data, n, o.producers, &p, &seq);
    if (seq >= g.senders[p].sent)
        die("consumer %d: producer %d's message %llu, never sent", c->idx, p,
            (unsigned long long)seq);
    if (seq >= g.seen_cap[p]) {
        size_t cap = g.seen_cap[p] ? g.seen_cap[p] : 65536;
        while (cap <= seq)
            cap *= 2;
        if (!(g.seen[p] = realloc(g.seen[p], cap)))
            die("out of memory");
        memset(g.seen[p] + g.seen_cap[p], 0, cap - g.seen_cap[p]);
        g.seen_cap[p] = cap;
    }
    if (g.seen[p][seq])
        die("consumer %d: producer %d's message %llu came twice", c->idx, p,
            (unsigned long long)seq);
    g.seen[p][seq] = 1;
    g.delivered++;
}

/* The ids of one read's messages, acknowledged together after it. */
static struct {
    uint64_t id[MAX_BATCH * 4];
    char rid[MAX_BATCH * 4][48]; /* Redis: "ms-seq" */
    size_t n;
} ack;

static void ack_add_resp(const conn_t *c, const char *id, size_t n)
{
    if (ack.n == sizeof ack.id / sizeof ack.id[0] || n >= sizeof ack.rid[0])
        die("consumer %d: too many messages in one read, or a long id", c->idx);
    memcpy(ack.rid[ack.n], id, n);
    ack.rid[ack.n++][n] = '\0';
}

static void send_xreadgroup(conn_t *c)
{
    char name[16], count[16];
    snprintf(name, sizeof name, "c%d", c->idx);
    snprintf(count, sizeof count, "%d", o.batch);
    const char *argv[] = {"XREADGROUP", "GROUP", REDIS_GROUP, name,       "COUNT", count,
                          "BLOCK",      "1000",  "STREAMS",   QUEUE_NAME, ">"};
    resp_command(c, 11, argv, NULL);
}

/* After a read: ack what it brought, in one request. */
static void send_acks(conn_t *c)
{
    if (ack.n == 0)
        return;
    c->acks_out++;
    if (o.resp) {
        evbuffer_add_printf(c->out, "*%zu\r\n$4\r\nXACK\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", ack.n + 3,
                            strlen(QUEUE_NAME), QUEUE_NAME, strlen(REDIS_GROUP), REDIS_GROUP);
        for (size_t i = 0; i < ack.n; i++)
            evbuffer_add_printf(c->out, "$%zu\r\n%s\r\n", strlen(ack.rid[i]), ack.rid[i]);
    } else {
        struct evbuffer *t = tmpbuf();
        mp_array(t, 3);
        mp_uint(t, 3);
        mp_str(t, "ack", 3);
        mp_array(t, (uint32_t)ack.n);
        for (size_t i = 0; i < ack.n; i++)
            mp_uint(t, ack.id[i]);
        frame_out(c, t);
    }
    ack.n = 0;
}

static void acked(conn_t *c, long n)
{
    if (n <= 0 || c->acks_out == 0)
        die("consumer %d: an ack acknowledged %ld messages", c->idx, n);
    c->acks_out--;
    g.acked += (uint64_t)n;
}

static void cons_value_resp(conn_t *c, const char *v)
{
    const char *p = v;
    if (*p == ':') {
        acked(c, rs_int(&p));
        return;
    }
    long n = rs_array(&p);
    if (n == -1) { /* BLOCK timed out: nothing came */
        send_xreadgroup(c);
        return;
    }
    const char *s, *id, *data;
    size_t sn, idn, dn;
    long entries;
    if (n != 1 || rs_array(&p) != 2 || !rs_bulk(&p, &s, &sn) || !str_is(s, sn, QUEUE_NAME) ||
        (entries = rs_array(&p)) < 0)
        die("consumer %d: unexpected %.60s", c->idx, v);
    for (long i = 0; i < entries; i++) {
        if (rs_array(&p) != 2 || !rs_bulk(&p, &id, &idn) || rs_array(&p) != 2 ||
            !rs_bulk(&p, &s, &sn) || !str_is(s, sn, "d") || !rs_bulk(&p, &data, &dn))
            die("consumer %d: unexpected entry in %.60s", c->idx, v);
        queue_message(c, data, dn);
        ack_add_resp(c, id, idn);
    }
    send_acks(c);
    send_xreadgroup(c);
}

static void cons_value_ch(conn_t *c, const char *v, size_t len)
{
    cur_t whole = {(const unsigned char *)v, (const unsigned char *)v + len}, r = whole;
    const unsigned char *at = r.p;
    uint32_t n;
    const char *s, *data;
    size_t sn, dn;
    uint64_t id, deliveries, u;
    if (rd_array(&r, &n) && n == 5 && rd_is_str(&r)) {
        if (!rd_str(&r, &s, &sn) || !str_is(s, sn, "queue") || !rd_str(&r, &s, &sn) ||
            !str_is(s, sn, QUEUE_NAME) || !rd_uint(&r, &id) || !rd_str(&r, &data, &dn) ||
            !rd_uint(&r, &deliveries))
            bad_frame(c, &whole);
        if (deliveries != 1)
            die("consumer %d: message %llu delivered %llu times (a redelivery)", c->idx,
                (unsigned long long)id, (unsigned long long)deliveries);
        queue_message(c, data, dn);
        if (ack.n == sizeof ack.id / sizeof ack.id[0])
            die("consumer %d: too many messages in one read", c->idx);
        ack.id[ack.n++] = id;
        return;
    }
    r.p = at;
    if (ch_reply(c, &r, &whole) == 1) { /* the watch */
        if (!rd_uint(&r, &u) || u != 1)
            bad_frame(c, &whole);
        became_ready(c);
        return;
    }
    if (!rd_uint(&r, &u))
        bad_frame(c, &whole);
    acked(c, (long)u);
}

/* A producer's reply: the message is stored. */
static void prod_value(conn_t *c, const char *v, size_t len)
{
    if (o.resp) {
        const char *p = v, *id;
        size_t n;
        if (!rs_bulk(&p, &id, &n))
            die("producer %d: unexpected %.60s", c->idx, v);
    } else {
        cur_t whole = {(const unsigned char *)v, (const unsigned char *)v + len}, r = whole;
        uint32_t n;
        uint64_t id;
        ch_reply(c, &r, &whole);
        if (!rd_array(&r, &n) || n != 1 || !rd_uint(&r, &id))
            bad_frame(c, &whole);
    }
    c->replied++;
}

/* ---- Connections --------------------------------------------------------- */

static void value(conn_t *c, const char *v, size_t len)
{
    switch (c->role) {
    case SUB:
        sub_value(c, v, len);
        break;
    case PUB:
        pub_value(c, v, len);
        break;
    case PROD:
        prod_value(c, v, len);
        break;
    default:
        if (o.resp)
            cons_value_resp(c, v);
        else
            cons_value_ch(c, v, len);
        break;
    }
}

/* Length of the complete frame or RESP value at p, 0 if incomplete; v and
 * vlen: the body (the frame without its header). */
static size_t next_value(conn_t *c, const char *p, size_t n, const char **v, size_t *vlen)
{
    if (o.resp) {
        size_t len = n ? resp_len(c, p, p + n) : 0;
        *v = p;
        *vlen = len;
        return len;
    }
    if (n < 4)
        return 0;
    const unsigned char *u = (const unsigned char *)p;
    uint32_t total = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
    if (total < 4 || total > RBUF)
        die("%s %d: a frame of %u bytes", role_name(c), c->idx, total);
    *v = p + 4;
    *vlen = total - 4;
    return total <= n ? total : 0;
}

/* The fanout's pushes have one shape: a fixed prefix, the payload, and (in
 * RESP) "\r\n". Matching it whole costs this program far less than the
 * general readers above, so that at 100 subscribers it reads faster than
 * the servers write. */
static char push_prefix[64];
static size_t push_prefix_len, push_len;

static void make_push_prefix(void)
{
    char *p = push_prefix;
    if (o.resp) {
        p += sprintf(p, "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%d\r\n", strlen(EVENT_NAME),
                     EVENT_NAME, PAYLOAD);
        push_prefix_len = (size_t)(p - push_prefix);
        push_len = push_prefix_len + PAYLOAD + 2;
        return;
    }
    /* frame header, ["event", EVENT_NAME, str 8 of PAYLOAD bytes] */
    size_t body = 1 + 1 + 5 + 1 + strlen(EVENT_NAME) + 2 + PAYLOAD;
    p += 4;
    *p++ = (char)0x93;
    *p++ = (char)0xa5;
    memcpy(p, "event", 5), p += 5;
    *p++ = (char)(0xa0 | strlen(EVENT_NAME));
    memcpy(p, EVENT_NAME, strlen(EVENT_NAME)), p += strlen(EVENT_NAME);
    *p++ = (char)0xd9;
    *p++ = (char)PAYLOAD;
    push_prefix[3] = (char)(body + 4); /* under 256 */
    push_prefix_len = (size_t)(p - push_prefix);
    push_len = push_prefix_len + PAYLOAD;
}

/* A whole push at p: handled, and its length; else 0 (the general path). */
static size_t push_fast(conn_t *c, const char *p, size_t n)
{
    if (n < push_len || memcmp(p, push_prefix, push_prefix_len) != 0 ||
        (o.resp && memcmp(p + push_len - 2, "\r\n", 2) != 0))
        return 0;
    sub_message(c, p + push_prefix_len, PAYLOAD);
    return push_len;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    ssize_t r = recv(fd, c->in + c->in_len, RBUF - 1 - c->in_len, 0);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        die("%s %d: the server closed the connection%s%s", role_name(c), c->idx, r < 0 ? ": " : "",
            r < 0 ? strerror(errno) : "");
    }
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0'; /* the RESP walkers' strtol stops there at worst */
    size_t off = 0, len, vlen;
    const char *v;
    for (;;) {
        if (c->role == SUB && (len = push_fast(c, c->in + off, c->in_len - off)) > 0) {
            off += len;
            continue;
        }
        if ((len = next_value(c, c->in + off, c->in_len - off, &v, &vlen)) == 0)
            break;
        value(c, v, vlen);
        off += len;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (c->in_len == RBUF - 1)
        die("%s %d: a reply larger than %d bytes", role_name(c), c->idx, RBUF);
    switch (c->role) {
    case PUB:
    case PROD:
        fill(c);
        break;
    case CONS:
        if (!o.resp)
            send_acks(c);
        flush(c);
        resume_senders();
        break;
    default:
        resume_senders();
        break;
    }
}

static void open_conn(conn_t *c, enum role role, int idx)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    int one = 1;
    c->role = role;
    c->idx = idx;
    if (inet_pton(AF_INET, o.host, &a.sin_addr) != 1)
        die("--host %s is not an IPv4 address", o.host);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect to %s:%d: %s", o.host, o.port, strerror(errno));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evutil_make_socket_nonblocking(c->fd);
    c->in = malloc(RBUF);
    c->out = evbuffer_new();
    c->rev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(g.base, c->fd, EV_WRITE, on_write, c);
    if (!c->in || !c->out || !c->rev || !c->wev || event_add(c->rev, NULL) != 0)
        die("out of memory");
}

/* Redis: the stream and its group, before any consumer reads (blocking, on
 * a connection of its own; BUSYGROUP: made by an earlier run). */
static void redis_make_group(void)
{
    conn_t c = {0};
    open_conn(&c, CONS, -1);
    const char *argv[] = {"XGROUP", "CREATE", QUEUE_NAME, REDIS_GROUP, "$", "MKSTREAM"};
    resp_command(&c, 6, argv, NULL);
    while (evbuffer_get_length(c.out) > 0)
        if (evbuffer_write(c.out, c.fd) < 0 && errno != EAGAIN)
            die("XGROUP CREATE: %s", strerror(errno));
    char buf[256];
    size_t n = 0;
    while (!memchr(buf, '\n', n)) {
        ssize_t r = recv(c.fd, buf + n, sizeof buf - 1 - n, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || n == sizeof buf - 1)
            die("XGROUP CREATE: no answer");
        if (r > 0)
            n += (size_t)r;
        else
            usleep(1000);
    }
    buf[n] = '\0';
    if (strncmp(buf, "+OK", 3) != 0 && strncmp(buf, "-BUSYGROUP", 10) != 0)
        die("XGROUP CREATE answered %s", buf);
    event_free(c.rev);
    event_free(c.wev);
    evbuffer_free(c.out);
    free(c.in);
    close(c.fd);
}

/* ---- Phases: ready, warm-up, measuring, drain ---------------------------- */

typedef struct sample {
    double t, self_cpu, server_cpu;
    uint64_t count;
} sample_t;

static sample_t measure_from, measure_to;

static sample_t take_sample(void)
{
    sample_t s = {bench_now_s(), bench_self_cpu_s(), bench_procs_cpu_s(o.pids, o.npids),
                  o.queue ? g.acked : g.delivered};
    return s;
}

static void on_warm(evutil_socket_t fd, short what, void *arg)
{
    measure_from = take_sample();
}

static bool drained(void)
{
    int n = o.queue ? o.producers : o.pubs;
    for (int i = 0; i < n; i++)
        if (g.senders[i].replied != g.senders[i].sent)
            return false;
    if (o.queue) {
        for (int i = 0; i < o.consumers; i++)
            if (g.cons[i].acks_out)
                return false;
        return g.acked == g.sent_total;
    }
    for (int s = 0; s < o.subs; s++)
        for (int p = 0; p < o.pubs; p++)
            if (g.subs[s].next_seq[p] != g.senders[p].sent)
                return false;
    return true;
}

/* What has not come after the drain's time: the first of it. */
static void missing(void)
{
    int n = o.queue ? o.producers : o.pubs;
    for (int i = 0; i < n; i++)
        if (g.senders[i].replied != g.senders[i].sent)
            die("%s %d: %llu of %llu replies after %.0f s", role_name(&g.senders[i]), i,
                (unsigned long long)g.senders[i].replied, (unsigned long long)g.senders[i].sent,
                o.drain);
    if (o.queue)
        die("%llu of %llu messages acknowledged after %.0f s (%llu received)",
            (unsigned long long)g.acked, (unsigned long long)g.sent_total, o.drain,
            (unsigned long long)g.delivered);
    for (int s = 0; s < o.subs; s++)
        for (int p = 0; p < o.pubs; p++)
            if (g.subs[s].next_seq[p] != g.senders[p].sent)
                die("subscriber %d: %llu of publisher %d's %llu messages after %.0f s", s,
                    (unsigned long long)g.subs[s].next_seq[p], p,
                    (unsigned long long)g.senders[p].sent, o.drain);
}

static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    if (drained()) {
        event_base_loopbreak(g.base);
        return;
    }
    if (bench_now_s() > g.drain_until)
        missing();
    struct timeval tv = bench_tv(0.01);
    event_add(g.drain_ev, &tv);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    measure_to = take_sample();
    g.stopping = true;
    g.drain_until = bench_now_s() + o.drain;
    on_drain_check(-1, 0, NULL);
}

static void start_senders(void)
{
    int n = o.queue ? o.producers : o.pubs;
    g.started = true;
    for (int i = 0; i < n; i++)
        open_conn(&g.senders[i], o.queue ? PROD : PUB, i);
    for (int i = 0; i < n; i++)
        fill(&g.senders[i]);
    struct timeval warm = bench_tv(o.warmup), done = bench_tv(o.warmup + o.secs);
    event_base_once(g.base, -1, EV_TIMEOUT, on_warm, NULL, &warm);
    event_base_once(g.base, -1, EV_TIMEOUT, on_done, NULL, &done);
}

/* A receiver subscribed or watches; once all do, the senders start. */
static void became_ready(conn_t *c)
{
    if (c->ready)
        die("%s %d: a second subscribe or watch reply", role_name(c), c->idx);
    c->ready = true;
    if (++g.nready == (o.queue ? o.consumers : o.subs))
        start_senders();
}

static void open_receivers(void)
{
    int n = o.queue ? o.consumers : o.subs;
    conn_t *cs = calloc((size_t)n, sizeof *cs);
    if (!cs)
        die("out of memory");
    if (o.queue) {
        g.cons = cs;
        if (o.resp)
            redis_make_group();
    } else {
        g.subs = cs;
    }
    for (int i = 0; i < n; i++) {
        conn_t *c = &cs[i];
        open_conn(c, o.queue ? CONS : SUB, i);
        if (!o.queue) {
            if (!(c->next_seq = calloc((size_t)o.pubs, sizeof *c->next_seq)))
                die("out of memory");
            if (o.resp) {
                const char *argv[] = {"SUBSCRIBE", EVENT_NAME};
                resp_command(c, 2, argv, NULL);
            } else {
                ch_request(c, 1, "subscribe", EVENT_NAME, NULL, 0);
            }
        } else if (o.resp) {
            send_xreadgroup(c); /* the group exists: ready at once */
        } else {
            /* {"inflight": batch} */
            unsigned char opts[32] = {0x81, 0xa8};
            memcpy(opts + 2, "inflight", 8);
            struct evbuffer *t = tmpbuf();
            mp_uint(t, (uint64_t)o.batch);
            size_t ulen = evbuffer_get_length(t);
            evbuffer_remove(t, opts + 10, ulen);
            ch_request(c, 1, "watch", QUEUE_NAME, opts, 10 + ulen);
        }
        flush(c);
    }
    if (o.queue && o.resp)
        for (int i = 0; i < n; i++)
            became_ready(&cs[i]);
}

/* ---- Command line -------------------------------------------------------- */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --port PORT [OPTIONS]\n"
            "Pub/sub fan-out or queue throughput against channel-server or redis-server,\n"
            "every message checked; prints messages/s as rate=N.\n"
            "  --proto ch|resp    channel-server's protocol or Redis (default ch)\n"
            "  --host IP          server IPv4 address (default 127.0.0.1)\n"
            "  --port PORT        server port (default 2206)\n"
            "  --mode fanout|queue  (default fanout)\n"
            "  --subs N           fanout: subscribers (default 10)\n"
            "  --pubs N           fanout: publishers (default 2)\n"
            "  --window W         fanout: publishes in flight per publisher (default 64)\n"
            "  --max-lag N        fanout: how far publishers may run ahead of the average\n"
            "                     subscriber, in messages (default 4 x window x pubs)\n"
            "  --producers N      queue: producers (default 4)\n"
            "  --inflight K       queue: enqueues in flight per producer (default 16)\n"
            "  --consumers N      queue: consumers (default 4)\n"
            "  --batch B          queue: messages a consumer holds unacked (default 100)\n"
            "  --backlog N        queue: messages sent but unacked, at most (default 10000)\n"
            "  --secs D           measured seconds (default 2)\n"
            "  --warmup W         seconds before measuring (default 0.5)\n"
            "  --drain D          seconds to wait at the end for everything sent (default 10)\n"
            "  --server-pid PID   also report that process's CPU use (repeatable: the sum)\n"
            "  --help             this text\n"
            "Example: %s --proto resp --port 6379 --mode fanout --subs 100\n",
            prog, prog);
}

static int positive(const char *prog, const char *opt, const char *s)
{
    char *e;
    long v = strtol(s, &e, 10);
    if (*s == '\0' || *e != '\0' || v < 1 || v > 1000000) {
        fprintf(stderr, "%s: %s wants a number from 1 to 1000000, not '%s'\n", prog, opt, s);
        exit(2);
    }
    return (int)v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {{"proto", 1, 0, 'P'},
                                       {"host", 1, 0, 'H'},
                                       {"port", 1, 0, 'p'},
                                       {"mode", 1, 0, 'm'},
                                       {"subs", 1, 0, 'S'},
                                       {"pubs", 1, 0, 'B'},
                                       {"window", 1, 0, 'W'},
                                       {"max-lag", 1, 0, 'L'},
                                       {"producers", 1, 0, 'R'},
                                       {"inflight", 1, 0, 'k'},
                                       {"consumers", 1, 0, 'C'},
                                       {"batch", 1, 0, 'b'},
                                       {"backlog", 1, 0, 'G'},
                                       {"secs", 1, 0, 's'},
                                       {"warmup", 1, 0, 'w'},
                                       {"drain", 1, 0, 'd'},
                                       {"server-pid", 1, 0, 'i'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'P':
            if (strcmp(optarg, "ch") && strcmp(optarg, "resp")) {
                fprintf(stderr, "%s: --proto is ch or resp\n", argv[0]);
                exit(2);
            }
            o.resp = !strcmp(optarg, "resp");
            break;
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = positive(argv[0], "--port", optarg);
            break;
        case 'm':
            if (strcmp(optarg, "fanout") && strcmp(optarg, "queue")) {
                fprintf(stderr, "%s: --mode is fanout or queue\n", argv[0]);
                exit(2);
            }
            o.queue = !strcmp(optarg, "queue");
            break;
        case 'S':
            o.subs = positive(argv[0], "--subs", optarg);
            break;
        case 'B':
            o.pubs = positive(argv[0], "--pubs", optarg);
            break;
        case 'W':
            o.window = positive(argv[0], "--window", optarg);
            break;
        case 'L':
            o.max_lag = positive(argv[0], "--max-lag", optarg);
            break;
        case 'R':
            o.producers = positive(argv[0], "--producers", optarg);
            break;
        case 'k':
            o.inflight = positive(argv[0], "--inflight", optarg);
            break;
        case 'C':
            o.consumers = positive(argv[0], "--consumers", optarg);
            break;
        case 'b':
            o.batch = positive(argv[0], "--batch", optarg);
            break;
        case 'G':
            o.backlog = positive(argv[0], "--backlog", optarg);
            break;
        case 's':
            o.secs = atof(optarg);
            break;
        case 'w':
            o.warmup = atof(optarg);
            break;
        case 'd':
            o.drain = atof(optarg);
            break;
        case 'i':
            if (o.npids == MAX_PIDS) {
                fprintf(stderr, "%s: at most %d --server-pid\n", argv[0], MAX_PIDS);
                exit(2);
            }
            o.pids[o.npids++] = atol(optarg);
            break;
        case 'h':
            usage(stdout, argv[0]);
            exit(0);
        default:
            usage(stderr, argv[0]);
            exit(2);
        }
    }
    if (o.pubs > MAX_SENDERS || o.producers > MAX_SENDERS || o.batch > MAX_BATCH) {
        fprintf(stderr, "%s: at most %d publishers or producers, and --batch %d\n", argv[0],
                MAX_SENDERS, MAX_BATCH);
        exit(2);
    }
    if (o.secs <= 0 || o.warmup < 0 || o.drain <= 0) {
        fprintf(stderr, "%s: --secs and --drain must be positive, --warmup not negative\n",
                argv[0]);
        exit(2);
    }
    if (!o.queue)
        o.inflight = o.window; /* the senders' window, whichever the mode */
    if (o.max_lag == 0)
        o.max_lag = 4L * o.window * o.pubs;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    make_push_prefix();
    int nsend = o.queue ? o.producers : o.pubs;
    g.base = event_base_new();
    g.senders = calloc((size_t)nsend, sizeof *g.senders);
    g.seen = calloc((size_t)nsend, sizeof *g.seen);
    g.seen_cap = calloc((size_t)nsend, sizeof *g.seen_cap);
    g.drain_ev = event_new(g.base, -1, 0, on_drain_check, NULL);
    if (!g.base || !g.senders || !g.seen || !g.seen_cap || !g.drain_ev)
        die("out of memory");
    open_receivers();
    event_base_dispatch(g.base);
    sample_t a = measure_from, b = measure_to;
    double dt = b.t - a.t;
    printf("ch-load proto=%s mode=%s ", o.resp ? "resp" : "ch", o.queue ? "queue" : "fanout");
    if (o.queue)
        printf("producers=%d inflight=%d consumers=%d batch=%d", o.producers, o.inflight,
               o.consumers, o.batch);
    else
        printf("subs=%d pubs=%d window=%d", o.subs, o.pubs, o.window);
    printf(" secs=%.2f msgs=%llu sent=%llu lag_waits=%llu client_cpu=%.0f%%", dt,
           (unsigned long long)(b.count - a.count), (unsigned long long)g.sent_total,
           (unsigned long long)g.lag_waits, 100.0 * (b.self_cpu - a.self_cpu) / dt);
    if (a.server_cpu >= 0 && b.server_cpu >= 0)
        printf(" server_cpu=%.0f%%", 100.0 * (b.server_cpu - a.server_cpu) / dt);
    printf(" rate=%.0f\n", (double)(b.count - a.count) / dt);
    return 0;
}
