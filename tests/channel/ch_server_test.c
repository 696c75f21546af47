/* SPDX-License-Identifier: MIT */
/* channel-server against real processes: pub/sub delivery and order, glob
 * patterns, publish_loop rotation, queues (one watcher per message, ack,
 * redelivery on disconnect and on timeout, delay), no confirmed message lost
 * across SIGKILL + restart (repeated), the slow-subscriber bound (a
 * subscriber that stops reading while 100k+ messages are published: the
 * worker's RSS stays flat, the drop counter shows in stats and status, and
 * once it reads again it gets the newest messages as one contiguous tail —
 * the oldest were dropped — in MessagePack and PHP format alike),
 * walkor/channel's PHP format byte for byte and across to MessagePack, and
 * bad input. The client: frames from gd_client.h, requests packed here,
 * replies and pushes unpacked with msgpack-c. */
#include "gd_client.h"

#include "common/svc_proc.h"

#include "ch_int.h"

/* ---- A small client --------------------------------------------------------- */

typedef struct msg {
    bool push;        /* a push (["event"|"queue", ...]) rather than a reply */
    msgpack_object o; /* the whole body; valid until the next read */
} msg_t;

static void ch_send(gdc_t *c, uint64_t id, const char *op, int nargs, ...)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2 + (uint32_t)nargs);
    msgpack_pack_uint64(&pk, id);
    msgpack_pack_str_with_body(&pk, op, strlen(op));
    va_list ap;
    va_start(ap, nargs);
    for (int i = 0; i < nargs; i++) { /* each argument: raw MessagePack (ptr, len) */
        const char *p = va_arg(ap, const char *);
        size_t n = va_arg(ap, size_t);
        msgpack_sbuffer_write(&b, p, n);
    }
    va_end(ap);
    ASSERT_EQ(gdc_send_frame(c, b.data, b.size), 0);
    msgpack_sbuffer_destroy(&b);
}

/* Pushes read while waiting for a reply, kept in order per socket. */
typedef struct stashed {
    char *body;
    size_t len;
    struct stashed *next;
} stashed_t;
static stashed_t *stash[1024];
static char *stash_last[1024]; /* the body the last object points into */

static void stash_push(int fd, const char *body, size_t len)
{
    stashed_t *s = calloc(1, sizeof *s), **pp = &stash[fd];
    ASSERT(s && fd < 1024);
    s->body = malloc(len);
    memcpy(s->body, body, len);
    s->len = len;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
}

static msg_t ch_read(gdc_t *c)
{
    stashed_t *st = c->fd < 1024 ? stash[c->fd] : NULL;
    if (st) {
        stash[c->fd] = st->next;
        ASSERT(msgpack_unpack_next(&c->up, st->body, st->len, NULL) == MSGPACK_UNPACK_SUCCESS);
        free(stash_last[c->fd]);
        stash_last[c->fd] = st->body; /* msgpack objects point into it */
        free(st);
    } else {
        ssize_t n = gdc_read_frame(c);
        if (n < 0)
            WM_TEST_FAIL("the connection ended");
        ASSERT(msgpack_unpack_next(&c->up, c->buf, (size_t)n, NULL) == MSGPACK_UNPACK_SUCCESS);
    }
    msg_t m = {.o = c->up.data};
    ASSERT(m.o.type == MSGPACK_OBJECT_ARRAY && m.o.via.array.size >= 3);
    m.push = m.o.via.array.ptr[0].type == MSGPACK_OBJECT_STR;
    return m;
}

/* The reply to `id`; pushes before it are kept for ch_read. */
static msgpack_object ch_reply(gdc_t *c, uint64_t id, uint32_t status)
{
    for (;;) {
        ssize_t n = gdc_read_frame(c);
        if (n < 0)
            WM_TEST_FAIL("the connection ended");
        ASSERT(msgpack_unpack_next(&c->up, c->buf, (size_t)n, NULL) == MSGPACK_UNPACK_SUCCESS);
        msg_t m = {.o = c->up.data};
        ASSERT(m.o.type == MSGPACK_OBJECT_ARRAY && m.o.via.array.size >= 3);
        if (m.o.via.array.ptr[0].type == MSGPACK_OBJECT_STR) {
            stash_push(c->fd, c->buf, (size_t)n);
            continue;
        }
        ASSERT_EQ(m.o.via.array.ptr[0].via.u64, id);
        ASSERT_EQ(m.o.via.array.ptr[1].via.u64, status);
        return m.o.via.array.ptr[2];
    }
}

/* Raw MessagePack of small values, for arguments. */
typedef struct mp {
    char b[4096];
    size_t n;
} mp_t;

static int mp_write(void *d, const char *buf, size_t len)
{
    mp_t *m = d;
    ASSERT(m->n + len <= sizeof m->b);
    memcpy(m->b + m->n, buf, len);
    m->n += len;
    return 0;
}

static mp_t mp_str(const char *s)
{
    mp_t m = {.n = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mp_write);
    msgpack_pack_str_with_body(&pk, s, strlen(s));
    return m;
}

static mp_t mp_strs(int n, const char *const *v)
{
    mp_t m = {.n = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mp_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++)
        msgpack_pack_str_with_body(&pk, v[i], strlen(v[i]));
    return m;
}

static mp_t mp_uint(uint64_t v)
{
    mp_t m = {.n = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mp_write);
    msgpack_pack_uint64(&pk, v);
    return m;
}

static mp_t mp_watch_opts(uint64_t inflight, uint64_t vis)
{
    mp_t m = {.n = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &m, mp_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "inflight", 8);
    msgpack_pack_uint64(&pk, inflight);
    msgpack_pack_str_with_body(&pk, "visibility_ms", 13);
    msgpack_pack_uint64(&pk, vis);
    return m;
}

#define ARG(m) (m).b, (m).n

static void ch_close(gdc_t *c)
{
    while (c->fd >= 0 && c->fd < 1024 && stash[c->fd]) {
        stashed_t *st = stash[c->fd];
        stash[c->fd] = st->next;
        free(st->body);
        free(st);
    }
    if (c->fd >= 0 && c->fd < 1024) {
        free(stash_last[c->fd]);
        stash_last[c->fd] = NULL;
    }
    gdc_close(c);
}

static uint64_t next_id = 1;

static msgpack_object call1(gdc_t *c, const char *op, mp_t a, uint32_t status)
{
    uint64_t id = next_id++;
    ch_send(c, id, op, 1, ARG(a));
    return ch_reply(c, id, status);
}

static msgpack_object call2(gdc_t *c, const char *op, mp_t a, mp_t b, uint32_t status)
{
    uint64_t id = next_id++;
    ch_send(c, id, op, 2, ARG(a), ARG(b));
    return ch_reply(c, id, status);
}

static uint64_t stat_of(gdc_t *c, const char *name)
{
    uint64_t id = next_id++;
    ch_send(c, id, "stats", 0);
    return (uint64_t)gdc_int(gdc_map_get(ch_reply(c, id, 0), name));
}

static int ch_ready(svc_proc_t *s)
{
    gdc_t c;
    if (gdc_connect(&c, s->port) != 0)
        return -1;
    ch_send(&c, 1, "ping", 0);
    ssize_t n = gdc_read_frame(&c);
    gdc_close(&c);
    return n > 0 ? 0 : -1;
}

static pid_t ch_worker_pid(svc_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    pid_t pid = (pid_t)stat_of(&c, "pid");
    ch_close(&c);
    return pid;
}

static void start(svc_proc_t *s, const char *const *extra)
{
    svc_proc_init(s, "ch", CH_SERVER_BIN, extra, ch_ready, ch_worker_pid);
    proc_start(s);
}

static gdc_t conn(svc_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    return c;
}

/* The next push; checks its kind and name, returns its data element. */
static msgpack_object next_push(gdc_t *c, const char *kind, const char *name, msg_t *out)
{
    msg_t m = ch_read(c);
    ASSERT(m.push);
    ASSERT(gdc_is_str(m.o.via.array.ptr[0], kind));
    ASSERT(gdc_is_str(m.o.via.array.ptr[1], name));
    if (out)
        *out = m;
    return m.o.via.array.ptr[gdc_is_str(m.o.via.array.ptr[0], "event") ? 2 : 3];
}

static uint64_t queue_id(const msg_t *m)
{
    return m->o.via.array.ptr[2].via.u64;
}

/* ---- Pub/sub ------------------------------------------------------------------ */

static void test_pubsub(void)
{
    svc_proc_t s;
    start(&s, NULL);
    gdc_t a = conn(&s), b = conn(&s), pub = conn(&s);
    const char *asubs[] = {"news", "sport.*"};
    ASSERT_EQ(gdc_int(call1(&a, "subscribe", mp_strs(2, asubs), 0)), 2);
    ASSERT_EQ(gdc_int(call1(&b, "subscribe", mp_str("news"), 0)), 1);
    /* Subscribing twice changes nothing. */
    ASSERT_EQ(gdc_int(call1(&b, "subscribe", mp_str("news"), 0)), 1);
    const char *both[] = {"news", "sport.tennis"};
    for (int i = 0; i < 200; i++)
        ASSERT_EQ(gdc_int(call2(&pub, "publish", mp_strs(2, both), mp_uint((uint64_t)i), 0)),
                  3); /* a twice (news, sport.tennis), b once */
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ(gdc_int(next_push(&a, "event", "news", NULL)), i);
        ASSERT_EQ(gdc_int(next_push(&a, "event", "sport.tennis", NULL)), i);
        ASSERT_EQ(gdc_int(next_push(&b, "event", "news", NULL)), i);
    }
    /* A connection matching one event twice (exact and glob) gets it once. */
    ASSERT_EQ(gdc_int(call1(&b, "subscribe", mp_str("n*s"), 0)), 2);
    ASSERT_EQ(gdc_int(call2(&pub, "publish", mp_str("news"), mp_str("once"), 0)), 2);
    ASSERT(gdc_is_str(next_push(&b, "event", "news", NULL), "once"));
    ASSERT(gdc_is_str(next_push(&a, "event", "news", NULL), "once"));
    /* Unsubscribed: nothing more; the ping's reply comes first. */
    const char *bsubs[] = {"news", "n*s"};
    ASSERT_EQ(gdc_int(call1(&b, "unsubscribe", mp_strs(2, bsubs), 0)), 0);
    ASSERT_EQ(gdc_int(call2(&pub, "publish", mp_str("news"), mp_str("late"), 0)), 1);
    uint64_t id = next_id++;
    ch_send(&b, id, "ping", 0);
    msg_t m = ch_read(&b);
    ASSERT(!m.push);
    ASSERT(gdc_is_str(next_push(&a, "event", "news", NULL), "late"));
    ch_close(&a);
    ch_close(&b);
    ch_close(&pub);
    proc_cleanup(&s);
}

static void test_publish_loop(void)
{
    svc_proc_t s;
    start(&s, NULL);
    gdc_t w[3] = {conn(&s), conn(&s), conn(&s)}, pub = conn(&s);
    for (int i = 0; i < 3; i++)
        call1(&w[i], "subscribe", mp_str("jobs"), 0);
    for (int i = 0; i < 9; i++)
        ASSERT_EQ(gdc_int(call2(&pub, "publish_loop", mp_str("jobs"), mp_uint((uint64_t)i), 0)), 1);
    /* Rotation: subscriber k gets k, k+3, k+6. */
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 3; j++)
            ASSERT_EQ(gdc_int(next_push(&w[k], "event", "jobs", NULL)), k + 3 * j);
    for (int i = 0; i < 3; i++)
        ch_close(&w[i]);
    ch_close(&pub);
    proc_cleanup(&s);
}

/* ---- Queues -------------------------------------------------------------------- */

static void test_queue_one_watcher(void)
{
    svc_proc_t s;
    start(&s, NULL);
    gdc_t w1 = conn(&s), w2 = conn(&s), p = conn(&s);
    call2(&w1, "watch", mp_str("q"), mp_watch_opts(1000, 30000), 0);
    call2(&w2, "watch", mp_str("q"), mp_watch_opts(1000, 30000), 0);
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        msgpack_object ids = call2(&p, "enqueue", mp_str("q"), mp_uint((uint64_t)i), 0);
        ASSERT_EQ(ids.type, MSGPACK_OBJECT_ARRAY);
        ASSERT_EQ(ids.via.array.size, 1);
    }
    /* Fair rotation: each gets half, in order; together each once. */
    static bool seen[N];
    for (int k = 0; k < 2; k++) {
        gdc_t *w = k ? &w2 : &w1;
        int64_t last = -1;
        for (int j = 0; j < N / 2; j++) {
            msg_t m;
            int64_t v = gdc_int(next_push(w, "queue", "q", &m));
            ASSERT(v > last && v < N && !seen[v]);
            seen[v] = true;
            last = v;
            call1(w, "ack", mp_uint(queue_id(&m)), 0);
        }
    }
    ASSERT_EQ(stat_of(&p, "acked"), N);
    ASSERT_EQ(stat_of(&p, "ready") + stat_of(&p, "inflight"), 0);
    /* An unknown or foreign id is not acked. */
    call1(&w1, "ack", mp_uint(999999), WM_CH_NOT_FOUND);
    ch_close(&w1);
    ch_close(&w2);
    ch_close(&p);
    proc_cleanup(&s);
}

static void test_redelivery(void)
{
    svc_proc_t s;
    start(&s, NULL);
    gdc_t w1 = conn(&s), w2 = conn(&s), p = conn(&s);
    /* In-flight limit 1: w1 holds one and the next waits for the ack. */
    call2(&w1, "watch", mp_str("r"), mp_watch_opts(1, 60000), 0);
    call2(&p, "enqueue", mp_str("r"), mp_str("one"), 0);
    call2(&p, "enqueue", mp_str("r"), mp_str("two"), 0);
    msg_t m;
    ASSERT(gdc_is_str(next_push(&w1, "queue", "r", &m), "one"));
    ASSERT_EQ(stat_of(&p, "ready"), 1);
    /* w1 goes away without acking: w2 gets "one" again (deliveries 2), then "two". */
    ch_close(&w1);
    call2(&w2, "watch", mp_str("r"), mp_watch_opts(10, 60000), 0);
    ASSERT(gdc_is_str(next_push(&w2, "queue", "r", &m), "one"));
    ASSERT_EQ(m.o.via.array.ptr[4].via.u64, 2);
    call1(&w2, "ack", mp_uint(queue_id(&m)), 0);
    ASSERT(gdc_is_str(next_push(&w2, "queue", "r", &m), "two"));
    call1(&w2, "ack", mp_uint(queue_id(&m)), 0);
    /* Visibility timeout: not acked within 200 ms, it comes again. */
    call2(&w2, "watch", mp_str("t"), mp_watch_opts(10, 200), 0);
    call2(&p, "enqueue", mp_str("t"), mp_str("late"), 0);
    ASSERT(gdc_is_str(next_push(&w2, "queue", "t", &m), "late"));
    uint64_t first = queue_id(&m);
    ASSERT(gdc_is_str(next_push(&w2, "queue", "t", &m), "late"));
    ASSERT_EQ(queue_id(&m), first);
    ASSERT_EQ(m.o.via.array.ptr[4].via.u64, 2);
    ASSERT_GE(stat_of(&p, "timeouts"), 1);
    call1(&w2, "ack", mp_uint(first), 0);
    /* Delayed delivery: not before 300 ms. */
    mp_t delay = mp_uint(300);
    uint64_t id = next_id++;
    ch_send(&p, id, "enqueue", 3, ARG(mp_str("t")), ARG(mp_str("delayed")), ARG(delay));
    ch_reply(&p, id, 0);
    ASSERT_EQ(stat_of(&p, "delayed"), 1);
    sleep_ms(150);
    ASSERT_EQ(stat_of(&p, "delayed"), 1);
    ASSERT(gdc_is_str(next_push(&w2, "queue", "t", &m), "delayed"));
    ch_close(&w2);
    ch_close(&p);
    proc_cleanup(&s);
}

/* Pipelined enqueues; a SIGKILL after some are confirmed; every confirmed
 * one must come back after the restart. Five rounds on one data file. */
static void test_kill9(void)
{
    svc_proc_t s;
    start(&s, NULL);
    uint64_t confirmed_total = 0;
    static bool confirmed[1 << 16];
    for (int round = 0; round < 5; round++) {
        gdc_t p = conn(&s);
        enum { SEND = 3000 };
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        for (int i = 0; i < SEND; i++) {
            msgpack_sbuffer body;
            msgpack_packer pk;
            msgpack_sbuffer_init(&body);
            msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
            msgpack_pack_array(&pk, 4);
            msgpack_pack_uint64(&pk, (uint64_t)i);
            msgpack_pack_str_with_body(&pk, "enqueue", 7);
            msgpack_pack_str_with_body(&pk, "dur", 3);
            msgpack_pack_uint64(&pk, (uint64_t)(round * SEND + i));
            gdc_frame(&out, body.data, body.size);
            msgpack_sbuffer_destroy(&body);
        }
        ASSERT_EQ(gdc_write_all(p.fd, out.data, out.size), 0);
        msgpack_sbuffer_destroy(&out);
        /* Read about half the confirmations, then kill. */
        for (int i = 0; i < SEND / 2; i++) {
            msg_t m = ch_read(&p);
            ASSERT(!m.push);
            ASSERT_EQ(m.o.via.array.ptr[1].via.u64, 0);
            confirmed[round * SEND + (int)m.o.via.array.ptr[0].via.u64] = true;
            confirmed_total++;
        }
        proc_kill9(&s);
        ch_close(&p);
        proc_start(&s);
    }
    /* Drain the queue: every confirmed value is there. */
    gdc_t w = conn(&s);
    call2(&w, "watch", mp_str("dur"), mp_watch_opts(100000, 600000), 0);
    gdc_t q = conn(&s);
    uint64_t stored = stat_of(&q, "ready") + stat_of(&q, "inflight");
    ASSERT_GE(stored, confirmed_total);
    static bool got[1 << 16];
    for (uint64_t i = 0; i < stored; i++) {
        msg_t m;
        int64_t v = gdc_int(next_push(&w, "queue", "dur", &m));
        ASSERT(v >= 0 && v < (1 << 16));
        got[v] = true;
    }
    for (int i = 0; i < (1 << 16); i++)
        if (confirmed[i] && !got[i])
            WM_TEST_FAIL("confirmed message %d was lost", i);
    fprintf(stderr, "kill9: %llu confirmed over 5 SIGKILLs, %llu stored, none lost\n",
            (unsigned long long)confirmed_total, (unsigned long long)stored);
    ch_close(&w);
    ch_close(&q);
    proc_cleanup(&s);
}

/* ---- Slow subscribers -------------------------------------------------------- */

static void php_send(gdc_t *c, const char *body);

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* A published payload: its number in 8 digits, then padding to 200 bytes. */
#define SLOW_PAYLOAD 200

static long payload_seq(const char *p, size_t n)
{
    if (n != SLOW_PAYLOAD)
        return -1;
    char digits[9];
    memcpy(digits, p, 8);
    digits[8] = '\0';
    return strtol(digits, NULL, 10);
}

/* The number carried by the next push the slow subscriber reads, in either
 * format. */
static long slow_next(gdc_t *c, bool php)
{
    if (!php) {
        msgpack_object d = next_push(c, "event", "firehose", NULL);
        ASSERT_EQ(d.type, MSGPACK_OBJECT_STR);
        return payload_seq(d.via.str.ptr, d.via.str.size);
    }
    ssize_t n = gdc_read_frame(c);
    ASSERT_GT(n, 0);
    static const char head[] = "a:3:{s:4:\"type\";s:5:\"event\";s:7:\"channel\";s:8:\"firehose\";"
                               "s:4:\"data\";s:200:\"";
    size_t hl = sizeof head - 1;
    if (n < 120 && memmem(c->buf, (size_t)n, "s:5:\"probe\";}", 13))
        return -1;
    if ((size_t)n != hl + SLOW_PAYLOAD + 3 || memcmp(c->buf, head, hl) != 0)
        WM_TEST_FAIL("not a firehose push: %.*s", (int)(n < 120 ? n : 120), c->buf);
    return payload_seq(c->buf + hl, SLOW_PAYLOAD);
}

static void slow_subscribe(gdc_t *slow, gdc_t *pub, bool php)
{
    if (!php) {
        call1(slow, "subscribe", mp_str("firehose"), 0);
        return;
    }
    php_send(slow,
             "a:3:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:1:{i:0;s:8:\"firehose\";}"
             "s:4:\"data\";N;}");
    /* In place once a publish finds it (a probe the reader skips). */
    for (int i = 0; i < 200; i++) {
        if (gdc_int(call2(pub, "publish", mp_str("firehose"), mp_str("probe"), 0)) == 1)
            return;
        sleep_ms(10);
    }
    WM_TEST_FAIL("the PHP subscription never arrived");
}

/* Publishes n numbered messages to "firehose", pipelined 1000 at a time,
 * tracking the worker's peak RSS. */
static long slow_publish(gdc_t *pub, int n, pid_t worker)
{
    enum { BATCH = 1000 };
    char payload[SLOW_PAYLOAD];
    memset(payload, 'x', sizeof payload);
    long peak = rss_kb(worker);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    for (int i = 0; i < n; i += BATCH) {
        msgpack_sbuffer_clear(&out);
        for (int j = 0; j < BATCH; j++) {
            char digits[16];
            snprintf(digits, sizeof digits, "%08d", (i + j) % 100000000);
            memcpy(payload, digits, 8);
            mp_t b = {.n = 0};
            msgpack_packer bp;
            msgpack_packer_init(&bp, &b, mp_write);
            msgpack_pack_array(&bp, 4);
            msgpack_pack_uint64(&bp, (uint64_t)(i + j));
            msgpack_pack_str_with_body(&bp, "publish", 7);
            msgpack_pack_str_with_body(&bp, "firehose", 8);
            msgpack_pack_str_with_body(&bp, payload, sizeof payload);
            gdc_frame(&out, b.b, b.n);
        }
        ASSERT_EQ(gdc_write_all(pub->fd, out.data, out.size), 0);
        for (int j = 0; j < BATCH; j++)
            ASSERT(!ch_read(pub).push);
        long now = rss_kb(worker);
        if (now > peak)
            peak = now;
    }
    msgpack_sbuffer_destroy(&out);
    return peak;
}

/* `channel-server status` shows the counters line with `want` in it. */
static void status_shows(const svc_proc_t *s, const char *want)
{
    char cmd[512], line[1024];
    snprintf(cmd, sizeof cmd, "%s status %s 2>&1", CH_SERVER_BIN, s->pidfile);
    FILE *f = popen(cmd, "r");
    ASSERT(f != NULL);
    bool shown = false;
    while (fgets(line, sizeof line, f))
        shown |= strstr(line, "channel: published=") && strstr(line, want);
    pclose(f);
    if (!shown)
        WM_TEST_FAIL("status has no line with %s", want);
}

/* The subscriber reads again: it gets the oldest pushes that were already
 * in its output, then, after one gap, every push from some point to the
 * newest. The gap is exactly what was dropped. */
static void slow_resume(gdc_t *slow, gdc_t *pub, bool php, int n, uint64_t dropped)
{
    long prev = -1, first = -1, gaps = 0, received = 0, gap_from = -1, gap_to = -1;
    while (prev != n - 1) {
        long v = slow_next(slow, php);
        if (v < 0)
            continue; /* the PHP case's probe */
        if (first < 0)
            first = v;
        else if (v != prev + 1) {
            ASSERT_GT(v, prev);
            gaps++;
            gap_from = prev + 1;
            gap_to = v;
        }
        prev = v;
        received++;
    }
    fprintf(stderr, "  resumed: %ld received, first %ld, missing [%ld, %ld), newest %ld\n",
            received, first, gap_from, gap_to, prev);
    ASSERT_EQ(first, 0); /* what was in the output when it stopped */
    ASSERT_EQ(gaps, 1);  /* the dropped ones are one run: the oldest of the backlog */
    ASSERT_EQ((uint64_t)(gap_to - gap_from), dropped);
    ASSERT_EQ((uint64_t)received + dropped, (uint64_t)n);
    ASSERT_EQ(stat_of(pub, "backlog"), 0);
    ASSERT(!gdc_closed_within(slow, 50)); /* and it is still subscribed */
}

static void slow_case(const char *policy, bool php)
{
    svc_proc_t s;
    const char *extra[] = {"--max-buffer", "1048576", "--slow-policy", policy, NULL};
    /* Under AddressSanitizer freed memory waits in a quarantine (256 MiB by
     * default) before it is reused, so RSS would measure ASan, not the
     * server: the server started here keeps a small one. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=1", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    start(&s, extra);
    if (asan)
        setenv("ASAN_OPTIONS", asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
    pid_t worker = ch_worker_pid(&s);
    gdc_t slow = conn(&s), pub = conn(&s);
    slow_subscribe(&slow, &pub, php); /* and it reads nothing until slow_resume */
    enum { N = 120000 };
    long before = rss_kb(worker);
    long peak = slow_publish(&pub, N, worker);
    uint64_t dropped = stat_of(&pub, "dropped");
    uint64_t disc = stat_of(&pub, "slow_disconnects");
    uint64_t backlog = stat_of(&pub, "backlog");
    fprintf(stderr,
            "slow (%s, %s): %d published of %d bytes, RSS %ld -> peak %ld kB, dropped %llu, "
            "backlog %llu, disconnects %llu\n",
            policy, php ? "PHP" : "MessagePack", N, SLOW_PAYLOAD, before, peak,
            (unsigned long long)dropped, (unsigned long long)backlog, (unsigned long long)disc);
    /* 120k x 200 B is 24 MB: held, RSS would grow by that. */
    ASSERT_LT(peak - before, 8 * 1024);
    ASSERT_GT(dropped, 0);
    char want[64];
    snprintf(want, sizeof want, "dropped=%llu ", (unsigned long long)dropped);
    status_shows(&s, want);
    if (strcmp(policy, "disconnect") == 0) {
        ASSERT_EQ(disc, 1);
        ASSERT_EQ(backlog, 0);
        ASSERT(gdc_closed_within(&slow, 10000)); /* what was already queued, then the end */
    } else {
        ASSERT_EQ(disc, 0);
        ASSERT_GT(dropped, N / 2);
        ASSERT_GT(backlog, 0);
        snprintf(want, sizeof want, "backlog=%llu ", (unsigned long long)backlog);
        status_shows(&s, want);
        slow_resume(&slow, &pub, php, N, dropped);
    }
    ch_close(&slow);
    ch_close(&pub);
    proc_cleanup(&s);
}

static void test_slow_drop_oldest(void)
{
    slow_case("drop-oldest", false);
}

static void test_slow_drop_oldest_php(void)
{
    slow_case("drop-oldest", true);
}

static void test_slow_disconnect(void)
{
    slow_case("disconnect", false);
}

/* Subscribers that vanish (RST) while a pipelined burst of publishes is
 * being delivered to them: a send then fails inside the walk over the
 * event's subscribers and the connection ends there; the server must not
 * free what the walk is using. */
static void test_subscribers_vanish(void)
{
    svc_proc_t s;
    start(&s, NULL);
    enum { SUBS = 100, ROUNDS = 5, BURST = 3000 };
    gdc_t pub = conn(&s);
    for (int round = 0; round < ROUNDS; round++) {
        static gdc_t subs[SUBS];
        for (int i = 0; i < SUBS; i++) {
            subs[i] = conn(&s);
            call1(&subs[i], "subscribe", mp_str(i % 2 ? "e" : "*"), 0);
        }
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        for (int j = 0; j < BURST; j++) {
            mp_t b = {.n = 0};
            msgpack_packer bp;
            msgpack_packer_init(&bp, &b, mp_write);
            msgpack_pack_array(&bp, 4);
            msgpack_pack_uint64(&bp, (uint64_t)j);
            msgpack_pack_str_with_body(&bp, "publish", 7);
            msgpack_pack_str_with_body(&bp, "e", 1);
            msgpack_pack_str_with_body(&bp, "payload", 7);
            gdc_frame(&out, b.b, b.n);
        }
        ASSERT_EQ(gdc_write_all(pub.fd, out.data, out.size), 0);
        msgpack_sbuffer_destroy(&out);
        for (int i = 0; i < SUBS; i++) { /* RST, while the burst is being delivered */
            struct linger lg = {1, 0};
            setsockopt(subs[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            ch_close(&subs[i]);
        }
        for (int j = 0; j < BURST; j++)
            ASSERT(!ch_read(&pub).push);
    }
    /* Alive, and every one of them forgotten. */
    uint64_t left = 0;
    for (int i = 0; i < 200 && (left = stat_of(&pub, "connections")) != 1; i++)
        sleep_ms(10);
    ASSERT_EQ(left, 1);
    ASSERT_EQ(gdc_int(call2(&pub, "publish", mp_str("e"), mp_str("x"), 0)), 0);
    ch_close(&pub);
    proc_cleanup(&s);
}

/* ---- walkor/channel's PHP format ------------------------------------------------- */

static void php_send(gdc_t *c, const char *body)
{
    ASSERT_EQ(gdc_send_frame(c, body, strlen(body)), 0);
}

static void php_expect(gdc_t *c, const char *want)
{
    ssize_t n = gdc_read_frame(c);
    ASSERT_GT(n, 0);
    if ((size_t)n != strlen(want) || memcmp(c->buf, want, (size_t)n) != 0)
        WM_TEST_FAIL("got %.*s, expected %s", (int)n, c->buf, want);
}

static void test_php_format(void)
{
    svc_proc_t s;
    start(&s, NULL);
    gdc_t php = conn(&s), php2 = conn(&s), mp = conn(&s);
    php_send(&php, ""); /* a ping: no answer */
    php_send(&php, "a:3:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:1:{i:0;s:4:\"news\";}"
                   "s:4:\"data\";N;}");
    call1(&mp, "subscribe", mp_str("news"), 0);
    /* subscriptions are in place once the ping on the same connection answers */
    sleep_ms(50);
    /* MessagePack -> PHP */
    call2(&mp, "publish", mp_str("news"), mp_str("hi"), 0);
    php_expect(&php, "a:3:{s:4:\"type\";s:5:\"event\";s:7:\"channel\";s:4:\"news\";s:4:\"data\";"
                     "s:2:\"hi\";}");
    ASSERT(gdc_is_str(next_push(&mp, "event", "news", NULL), "hi"));
    /* PHP -> both: an array with a nested array */
    php_send(&php2, "a:3:{s:4:\"type\";s:7:\"publish\";s:8:\"channels\";a:1:{i:0;s:4:\"news\";}"
                    "s:4:\"data\";a:2:{s:2:\"to\";i:7;s:4:\"list\";a:2:{i:0;b:1;i:1;d:0.5;}}}");
    php_expect(&php, "a:3:{s:4:\"type\";s:5:\"event\";s:7:\"channel\";s:4:\"news\";s:4:\"data\";"
                     "a:2:{s:2:\"to\";i:7;s:4:\"list\";a:2:{i:0;b:1;i:1;d:0.5;}}}");
    msgpack_object d = next_push(&mp, "event", "news", NULL);
    ASSERT_EQ(d.type, MSGPACK_OBJECT_MAP);
    ASSERT_EQ(gdc_int(gdc_map_get(d, "to")), 7);
    /* Queues: watch + reserve; one item per reserve; reserve acks. */
    php_send(&php2, "a:3:{s:4:\"type\";s:5:\"watch\";s:8:\"channels\";a:1:{i:0;s:4:\"jobs\";}"
                    "s:4:\"data\";N;}");
    php_send(&php2, "a:1:{s:4:\"type\";s:7:\"reserve\";}");
    call2(&mp, "enqueue", mp_str("jobs"), mp_uint(1), 0);
    call2(&mp, "enqueue", mp_str("jobs"), mp_uint(2), 0);
    php_expect(&php2, "a:3:{s:4:\"type\";s:5:\"queue\";s:7:\"channel\";s:4:\"jobs\";s:4:\"data\";"
                      "i:1;}");
    sleep_ms(100);
    ASSERT_EQ(stat_of(&mp, "ready"), 1); /* no second item before the next reserve */
    php_send(&php2, "a:1:{s:4:\"type\";s:7:\"reserve\";}");
    php_expect(&php2, "a:3:{s:4:\"type\";s:5:\"queue\";s:7:\"channel\";s:4:\"jobs\";s:4:\"data\";"
                      "i:2;}");
    php_send(&php2, "a:3:{s:4:\"type\";s:7:\"enqueue\";s:8:\"channels\";a:1:{i:0;s:4:\"jobs\";}"
                    "s:4:\"data\";s:3:\"php\";}");
    php_send(&php2, "a:1:{s:4:\"type\";s:7:\"reserve\";}");
    php_expect(&php2, "a:3:{s:4:\"type\";s:5:\"queue\";s:7:\"channel\";s:4:\"jobs\";s:4:\"data\";"
                      "s:3:\"php\";}");
    ASSERT_EQ(stat_of(&mp, "acked"), 2);
    /* A bad PHP request closes that connection only. */
    php_send(&php, "a:1:{s:4:\"type\";s:5:\"bogus\";}");
    ASSERT(gdc_closed_within(&php, 2000));
    ASSERT_EQ(gdc_int(call2(&mp, "publish", mp_str("news"), mp_str("still"), 0)), 1);
    ch_close(&php);
    ch_close(&php2);
    ch_close(&mp);
    proc_cleanup(&s);
}

/* ---- Bad input --------------------------------------------------------------------- */

static void test_bad_input(void)
{
    svc_proc_t s;
    const char *extra[] = {"--max-frame", "65536", NULL};
    start(&s, extra);
    gdc_t good = conn(&s), bad = conn(&s);
    call1(&good, "subscribe", mp_str("e"), 0);
    /* Wrong arguments keep the connection: an error with the request's id. */
    call1(&bad, "subscribe", mp_uint(5), WM_CH_BAD_REQUEST);
    uint64_t id = next_id++;
    ch_send(&bad, id, "frobnicate", 0);
    ch_reply(&bad, id, WM_CH_UNKNOWN_OP);
    call2(&bad, "watch", mp_str("q"), mp_str("opts"), WM_CH_BAD_REQUEST);
    /* A MessagePack bomb: an error without an id, then the close. */
    const char bomb[] = "\xdf\x0f\xff\xff\xff";
    ASSERT_EQ(gdc_send_frame(&bad, bomb, 5), 0);
    msg_t m = ch_read(&bad);
    ASSERT_EQ(m.o.via.array.ptr[0].type, MSGPACK_OBJECT_NIL);
    ASSERT_EQ(m.o.via.array.ptr[1].via.u64, WM_CH_BAD_REQUEST);
    ASSERT(gdc_closed_within(&bad, 2000));
    /* A frame over --max-frame closes too. */
    gdc_t big = conn(&s);
    char *huge = calloc(1, 100000);
    gdc_send_frame(&big, huge, 100000);
    free(huge);
    ASSERT(gdc_closed_within(&big, 2000));
    /* The others are unaffected. */
    gdc_t pub = conn(&s);
    ASSERT_EQ(gdc_int(call2(&pub, "publish", mp_str("e"), mp_str("ok"), 0)), 1);
    ASSERT(gdc_is_str(next_push(&good, "event", "e", NULL), "ok"));
    ch_close(&good);
    ch_close(&bad);
    ch_close(&big);
    ch_close(&pub);
    proc_cleanup(&s);
}

static void test_auth(void)
{
    svc_proc_t s;
    const char *extra[] = {"--auth", "s3cret", NULL};
    start(&s, extra);
    gdc_t c = conn(&s);
    call1(&c, "subscribe", mp_str("e"), WM_CH_AUTH_REQUIRED);
    call1(&c, "auth", mp_str("s3cret"), 0);
    call1(&c, "subscribe", mp_str("e"), 0);
    gdc_t d = conn(&s);
    call1(&d, "auth", mp_str("wrong"), WM_CH_AUTH_FAILED);
    ASSERT(gdc_closed_within(&d, 2000));
    ch_close(&c);
    ch_close(&d);
    proc_cleanup(&s);
}

static const wm_test_case_t cases[] = {{"pubsub", test_pubsub},
                                       {"publish_loop", test_publish_loop},
                                       {"queue_one_watcher", test_queue_one_watcher},
                                       {"redelivery", test_redelivery},
                                       {"kill9", test_kill9},
                                       {"slow_drop_oldest", test_slow_drop_oldest},
                                       {"slow_drop_oldest_php", test_slow_drop_oldest_php},
                                       {"slow_disconnect", test_slow_disconnect},
                                       {"subscribers_vanish", test_subscribers_vanish},
                                       {"php_format", test_php_format},
                                       {"bad_input", test_bad_input},
                                       {"auth", test_auth},
                                       {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
