/* SPDX-License-Identifier: MIT */
/* channel-server's logic on the wm loop: one frame:// worker (one process,
 * not reloadable), pub/sub, durable queues, and the bound on what a slow
 * reader can make us hold.
 *
 * Pub/sub. Exact names live in a tree (tsearch) of events, each with its
 * subscribers in subscription order; names with *, ? or [ are glob patterns
 * (fnmatch) kept in one list. A publish walks the event's subscribers, then
 * the patterns, and stamps each receiving connection so that one matching
 * twice still gets the message once. publish_loop sends to one exact
 * subscriber per event, in rotation. The push is packed once per event (and
 * once more, lazily, in PHP's format).
 *
 * Slow readers. With "drop-oldest" (the default) a push is written while
 * the connection's output holds under half of --max-buffer; past that it
 * waits, a whole message, in the connection's backlog, which keeps the
 * other half and drops its oldest messages (counted) to stay under it.
 * When the output empties (wm_conn_want_drain, on_buffer_drain) the backlog
 * moves into it in order. Frames are never cut. With "disconnect" a push
 * that would take the output over --max-buffer closes the connection
 * instead (counted). Queue messages are never dropped: a watcher whose
 * buffer is over the bound is simply not chosen until it drains. Replies
 * are always written (the worker's hard send limit is well above the
 * bound).
 *
 * A send can end its connection at once (a write that fails), and libwm
 * then runs on_close inside it; the walks above hold pointers to
 * subscribers and watchers, so such a connection is only marked (`ended`)
 * and released by reap_doomed() at the end of the entry point, as are the
 * connections a walk condemned (`doomed`).
 *
 * Queues. A message is kept in memory and queued to SQLite (ch_persist.c);
 * the enqueue's reply waits for that commit, and replies on a connection
 * leave in request order, so a confirmed message survives a SIGKILL. Ready
 * messages go to watchers in rotation, each up to its in-flight limit; an
 * ack deletes (in SQLite too, batched); a watcher that goes away, or a
 * deadline that passes (the visibility timeout), puts its messages back at
 * the head of the queue. A tick every TICK_MS moves due delayed messages,
 * expires deadlines and retries deliveries that waited for a buffer. */

#include <fnmatch.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ch_int.h"
#include "svc_cli.h"

#define TICK_MS 20
#define HELD_MAX 100000      /* waiting replies on one connection before reading pauses */
#define PHP_CREDITS_MAX 1000 /* reserves a PHP watcher may bank per queue */

enum { FMT_UNKNOWN, FMT_MSGPACK, FMT_PHP };

typedef struct ch_client ch_client_t;
typedef struct queue queue_t;
typedef struct watch watch_t;

typedef struct qmsg qmsg_t;
struct qmsg {
    uint64_t id;
    int64_t ready_at; /* wall ms; 0 = now */
    int64_t deadline; /* monotonic ms while in flight */
    uint32_t deliveries;
    queue_t *q;
    watch_t *owner;      /* in flight with it, or NULL */
    qmsg_t *prev, *next; /* the queue's ready or delayed list, or the owner's */
    size_t len;
    char data[];
};

typedef struct mlist {
    qmsg_t *head, *tail;
    size_t n;
} mlist_t;

struct queue {
    char *name;
    size_t nlen;
    mlist_t ready, delayed; /* delayed: by ready_at */
    watch_t **w;
    size_t nw, capw, rr;
    size_t inflight;
    queue_t *prev, *next; /* srv.queues */
};

struct watch {
    ch_client_t *c;
    queue_t *q;
    uint32_t limit;
    int64_t visibility_ms;
    uint32_t credits; /* PHP: reserves not yet used */
    mlist_t inflight;
    watch_t *next; /* the client's */
};

typedef struct event {
    char *name;
    ch_client_t **subs;
    size_t n, cap, rr;
} event_t;

typedef struct pattern {
    char *glob;
    ch_client_t *c;
} pattern_t;

/* Whole messages waiting on a connection: replies held until a commit
 * (seq), or pushes in a slow subscriber's backlog. */
typedef struct blob {
    struct blob *next;
    uint64_t seq;
    size_t len;
    char data[];
} blob_t;

typedef struct blist {
    blob_t *head, *tail;
    size_t n;
    size_t bytes; /* what the blobs cost, their headers included */
} blist_t;

struct ch_client {
    wm_conn_t *conn;
    int format;
    bool authed, closing, doomed;
    bool ended; /* its connection ended inside one of our sends: release it later */
    uint64_t stamp;
    char **subs; /* names and patterns, for cleanup */
    size_t nsubs, capsubs;
    watch_t *watches;
    blist_t held;             /* replies waiting for a commit, in order */
    blist_t backlog;          /* pushes waiting for room in the output (drop-oldest) */
    ch_client_t *prev, *next; /* srv.clients */
    ch_client_t *reap_next;   /* srv.reap */
};

typedef struct stats {
    uint64_t connections, requests, errors, published, delivered, dropped, slow_disconnects,
        enqueued, acked, redelivered, timeouts;
} stats_t;

static struct {
    const wm__ch_config_t *cfg;
    void *events;   /* tsearch tree of event_t */
    void *queue_by; /* tsearch tree of queue_t */
    void *msg_by;   /* tsearch tree of qmsg_t, by id */
    queue_t *queues;
    pattern_t *patterns;
    size_t npatterns, cappatterns;
    ch_client_t *clients;
    wm__ch_persist_t *persist;
    uint64_t next_id, need_seq, stamp;
    msgpack_sbuffer sb, php;
    msgpack_packer pk;
    msgpack_zone zone;
    wm_timer_id_t tick;
    ch_client_t *reap; /* doomed or ended connections, dealt with after the walks */
    unsigned sending;  /* inside wm_conn_send: a connection ending now is released later */
    stats_t st;
} srv;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return WM_OK;
    size_t n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *b = realloc(*buf, n * elem);
    if (!b)
        return WM_ENOMEM;
    *buf = b;
    *cap = n;
    return WM_OK;
}

static char *dup_name(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- Byte lists ------------------------------------------------------------- */

static blob_t *blist_push(blist_t *l, const char *data, size_t len, uint64_t seq)
{
    blob_t *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    b->next = NULL;
    b->seq = seq;
    b->len = len;
    memcpy(b->data, data, len);
    if (l->tail)
        l->tail->next = b;
    else
        l->head = b;
    l->tail = b;
    l->n++;
    l->bytes += sizeof *b + len;
    return b;
}

/* Unlinks the head; the caller frees it. */
static blob_t *blist_pop(blist_t *l)
{
    blob_t *b = l->head;
    if (!b)
        return NULL;
    if (!(l->head = b->next))
        l->tail = NULL;
    l->n--;
    l->bytes -= sizeof *b + b->len;
    return b;
}

static void blist_clear(blist_t *l)
{
    while (l->head)
        free(blist_pop(l));
}

/* ---- Message lists ---------------------------------------------------------- */

static void ml_unlink(mlist_t *l, qmsg_t *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        l->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        l->tail = m->prev;
    m->prev = m->next = NULL;
    l->n--;
}

static void ml_push_back(mlist_t *l, qmsg_t *m)
{
    m->next = NULL;
    m->prev = l->tail;
    if (l->tail)
        l->tail->next = m;
    else
        l->head = m;
    l->tail = m;
    l->n++;
}

static void ml_push_front(mlist_t *l, qmsg_t *m)
{
    m->prev = NULL;
    m->next = l->head;
    if (l->head)
        l->head->prev = m;
    else
        l->tail = m;
    l->head = m;
    l->n++;
}

/* Delayed messages stay sorted by ready_at; most arrive in order, so the
 * walk starts at the tail. */
static void ml_insert_by_time(mlist_t *l, qmsg_t *m)
{
    qmsg_t *after = l->tail;
    while (after && after->ready_at > m->ready_at)
        after = after->prev;
    if (!after) {
        ml_push_front(l, m);
        return;
    }
    m->prev = after;
    m->next = after->next;
    if (after->next)
        after->next->prev = m;
    else
        l->tail = m;
    after->next = m;
    l->n++;
}

/* ---- Trees ------------------------------------------------------------------ */

static int cmp_event(const void *a, const void *b)
{
    return strcmp(((const event_t *)a)->name, ((const event_t *)b)->name);
}

static int cmp_queue(const void *a, const void *b)
{
    return strcmp(((const queue_t *)a)->name, ((const queue_t *)b)->name);
}

static int cmp_msg(const void *a, const void *b)
{
    uint64_t x = ((const qmsg_t *)a)->id, y = ((const qmsg_t *)b)->id;
    return x < y ? -1 : x > y;
}

static event_t *event_find(const char *name)
{
    event_t key = {.name = (char *)name};
    void *r = tfind(&key, &srv.events, cmp_event);
    return r ? *(event_t **)r : NULL;
}

static queue_t *queue_find(const char *name)
{
    queue_t key = {.name = (char *)name};
    void *r = tfind(&key, &srv.queue_by, cmp_queue);
    return r ? *(queue_t **)r : NULL;
}

static queue_t *queue_get(const char *name_bytes, size_t nlen)
{
    char name[WM_CH_MAX_NAME + 1];
    memcpy(name, name_bytes, nlen);
    name[nlen] = '\0';
    queue_t *q = queue_find(name);
    if (q)
        return q;
    q = calloc(1, sizeof *q);
    if (!q || !(q->name = dup_name(name, nlen)) || !tsearch(q, &srv.queue_by, cmp_queue)) {
        if (q)
            free(q->name);
        free(q);
        return NULL;
    }
    q->nlen = nlen;
    q->next = srv.queues;
    if (srv.queues)
        srv.queues->prev = q;
    srv.queues = q;
    return q;
}

/* A queue with no message and no watcher costs nothing to forget. */
static void queue_maybe_free(queue_t *q)
{
    if (q->ready.n || q->delayed.n || q->inflight || q->nw)
        return;
    tdelete(q, &srv.queue_by, cmp_queue);
    if (q->prev)
        q->prev->next = q->next;
    else
        srv.queues = q->next;
    if (q->next)
        q->next->prev = q->prev;
    free(q->w);
    free(q->name);
    free(q);
}

/* ---- Sending ---------------------------------------------------------------- */

static void reap_add(ch_client_t *c)
{
    c->reap_next = srv.reap;
    srv.reap = c;
}

static void doom(ch_client_t *c)
{
    if (c->doomed)
        return;
    c->doomed = true;
    reap_add(c);
}

static void client_release(ch_client_t *c);

/* After the walks over subscribers, watchers and clients: closes the
 * connections they condemned, and forgets the ones that ended under a send
 * (their on_close came while a walk held pointers to them). */
static void reap_doomed(void)
{
    while (srv.reap) {
        ch_client_t *c = srv.reap;
        srv.reap = c->reap_next;
        c->reap_next = NULL;
        if (c->ended)
            client_release(c);
        else
            wm_conn_destroy(c->conn); /* its on_close releases it */
    }
}

/* wm_conn_send can end the connection at once (a write that fails), and
 * then runs on_close inside it: on_close sees `sending` and leaves the
 * release to reap_doomed (on_commit's walk over every client, say, goes
 * on past it). */
static int conn_send(ch_client_t *c, const char *data, size_t len)
{
    srv.sending++;
    int rc = wm_conn_send(c->conn, data, len);
    srv.sending--;
    return rc;
}

/* The same for a close, which ends at once when nothing is queued. */
static void conn_close(ch_client_t *c)
{
    if (c->ended)
        return;
    srv.sending++;
    wm_conn_close(c->conn);
    srv.sending--;
}

static bool over_bound(const ch_client_t *c, size_t len)
{
    return wm_conn_send_queue(c->conn) + len > srv.cfg->max_buffer;
}

/* Drop-oldest splits --max-buffer in two: the output takes pushes up to
 * half of it (one push always fits in an empty output), the backlog holds
 * the other half as whole messages and loses its oldest past that. */
static bool output_has_room(const ch_client_t *c, size_t len)
{
    size_t queued = wm_conn_send_queue(c->conn);
    return queued == 0 || queued + len <= srv.cfg->max_buffer / 2;
}

static bool write_push(ch_client_t *c, const char *data, size_t len)
{
    if (conn_send(c, data, len) < 0)
        return false;
    srv.st.delivered++;
    return true;
}

/* Moves backlogged pushes to the output, oldest first, while it has room;
 * asks for a drain callback when some are left (the output is not empty
 * then, so the callback will come). */
static void backlog_flush(ch_client_t *c)
{
    while (c->backlog.head && !c->doomed && !c->ended && !c->closing &&
           output_has_room(c, c->backlog.head->len)) {
        blob_t *b = blist_pop(&c->backlog);
        write_push(c, b->data, b->len);
        free(b);
    }
    if (c->backlog.head && !c->doomed && !c->ended && !wm_conn_want_drain(c->conn))
        blist_clear(&c->backlog); /* closing: nothing more goes out */
}

/* A push behind others, or with no room: it joins the backlog, whose
 * oldest are dropped (whole, counted) to keep it under its half of
 * --max-buffer. The newest always stays, however large. */
static bool backlog_add(ch_client_t *c, const char *data, size_t len)
{
    if (!blist_push(&c->backlog, data, len, 0)) {
        srv.st.dropped++;
        return false;
    }
    while (c->backlog.bytes > srv.cfg->max_buffer / 2 && c->backlog.head != c->backlog.tail) {
        free(blist_pop(&c->backlog));
        srv.st.dropped++;
    }
    if (!wm_conn_want_drain(c->conn))
        backlog_flush(c); /* the output emptied since: move them now */
    return true;
}

/* A pub/sub push: written, backlogged, or the policy applies. Returns
 * whether it will be sent. */
static bool push_event(ch_client_t *c, const char *data, size_t len)
{
    if (c->doomed || c->ended || c->closing)
        return false;
    if (srv.cfg->slow_policy == WM_CH_SLOW_DISCONNECT) {
        if (over_bound(c, len)) {
            srv.st.dropped++;
            srv.st.slow_disconnects++;
            doom(c);
            return false;
        }
        return write_push(c, data, len);
    }
    if (!c->backlog.head && output_has_room(c, len))
        return write_push(c, data, len);
    return backlog_add(c, data, len);
}

static void send_reply(ch_client_t *c, const char *data, size_t len)
{
    if (c->ended)
        return;
    if (conn_send(c, data, len) == WM_ENOBUFS)
        doom(c);
}

/* The reply in srv.sb is complete: send it, or keep it behind earlier
 * replies and until srv.need_seq has committed. */
static void reply_done(ch_client_t *c, uint64_t seq)
{
    bool wait = c->held.head || (seq && seq > wm__ch_persist_committed(srv.persist));
    if (!wait) {
        send_reply(c, srv.sb.data, srv.sb.size);
        return;
    }
    if (!blist_push(&c->held, srv.sb.data, srv.sb.size, seq)) {
        doom(c);
        return;
    }
    if (c->held.n == HELD_MAX)
        wm_conn_pause_recv(c->conn);
}

static void release_held(ch_client_t *c, uint64_t committed)
{
    while (c->held.head && c->held.head->seq <= committed && !c->ended) {
        bool was_full = c->held.n == HELD_MAX;
        blob_t *h = blist_pop(&c->held);
        send_reply(c, h->data, h->len);
        free(h);
        if (was_full)
            wm_conn_resume_recv(c->conn);
    }
    if (!c->held.head && c->closing)
        conn_close(c);
}

/* The writer committed: release the replies that waited for it. Walks every
 * connection; the ones with nothing held cost one test each. */
static void on_commit(uint64_t committed, void *user_data)
{
    for (ch_client_t *c = srv.clients; c; c = c->next)
        if (c->held.head)
            release_held(c, committed);
    reap_doomed();
}

/* ---- Pub/sub ---------------------------------------------------------------- */

static bool is_glob(const char *name)
{
    return strpbrk(name, "*?[") != NULL;
}

static int client_add_sub(ch_client_t *c, const char *name)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i], name) == 0)
            return 0; /* already */
    if (c->nsubs >= WM_CH_MAX_SUBS)
        return WM_ENOBUFS;
    char *copy = strdup(name);
    if (!copy || grow((void **)&c->subs, &c->capsubs, c->nsubs + 1, sizeof *c->subs) != WM_OK) {
        free(copy);
        return WM_ENOMEM;
    }
    c->subs[c->nsubs++] = copy;
    return 1;
}

static int subscribe_one(ch_client_t *c, const char *name)
{
    int added = client_add_sub(c, name);
    if (added <= 0)
        return added;
    if (is_glob(name)) {
        if (grow((void **)&srv.patterns, &srv.cappatterns, srv.npatterns + 1,
                 sizeof *srv.patterns) != WM_OK)
            return WM_ENOMEM;
        srv.patterns[srv.npatterns++] = (pattern_t){c->subs[c->nsubs - 1], c};
        return WM_OK;
    }
    event_t *e = event_find(name);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->name = strdup(name)) || !tsearch(e, &srv.events, cmp_event)) {
            if (e)
                free(e->name);
            free(e);
            return WM_ENOMEM;
        }
    }
    if (grow((void **)&e->subs, &e->cap, e->n + 1, sizeof *e->subs) != WM_OK)
        return WM_ENOMEM;
    e->subs[e->n++] = c;
    return WM_OK;
}

static void unsubscribe_one(ch_client_t *c, const char *name)
{
    size_t i;
    for (i = 0; i < c->nsubs && strcmp(c->subs[i], name) != 0; i++) {
    }
    if (i == c->nsubs)
        return;
    char *own = c->subs[i];
    c->subs[i] = c->subs[--c->nsubs];
    if (is_glob(name)) {
        for (size_t k = 0; k < srv.npatterns; k++)
            if (srv.patterns[k].glob == own) {
                memmove(&srv.patterns[k], &srv.patterns[k + 1],
                        (srv.npatterns - k - 1) * sizeof *srv.patterns);
                srv.npatterns--;
                break;
            }
    } else {
        event_t *e = event_find(name);
        for (size_t k = 0; e && k < e->n; k++)
            if (e->subs[k] == c) {
                /* Keep the order: rotation and fairness depend on it. */
                memmove(&e->subs[k], &e->subs[k + 1], (e->n - k - 1) * sizeof *e->subs);
                e->n--;
                break;
            }
        if (e && e->n == 0) {
            tdelete(e, &srv.events, cmp_event);
            free(e->subs);
            free(e->name);
            free(e);
        }
    }
    free(own);
}

/* PHP's form of the push, made once per event on first need. */
static const msgpack_sbuffer *php_push(const char *type, const char *name, size_t nlen,
                                       const char *data, size_t dlen, bool *tried)
{
    if (!*tried) {
        *tried = true;
        msgpack_sbuffer_clear(&srv.php);
        msgpack_zone_clear(&srv.zone);
        if (wm__ch_php_push(&srv.php, &srv.zone, type, name, nlen, data, dlen) != WM_OK)
            msgpack_sbuffer_clear(&srv.php);
    }
    return srv.php.size ? &srv.php : NULL;
}

static bool deliver_event(ch_client_t *c, const char *name, size_t nlen, const char *data,
                          size_t dlen, bool *php_tried)
{
    if (c->stamp == srv.stamp)
        return false;
    c->stamp = srv.stamp;
    if (c->format != FMT_PHP)
        return push_event(c, srv.sb.data, srv.sb.size);
    const msgpack_sbuffer *p = php_push("event", name, nlen, data, dlen, php_tried);
    if (!p) {
        srv.st.dropped++; /* data PHP cannot represent (ext) */
        return false;
    }
    return push_event(c, p->data, p->size);
}

/* Publishes data (one checked object) to one event. Returns receivers. */
static uint64_t publish_one(const char *name, size_t nlen, const char *data, size_t dlen, bool loop)
{
    char cname[WM_CH_MAX_NAME + 1];
    memcpy(cname, name, nlen);
    cname[nlen] = '\0';
    msgpack_sbuffer_clear(&srv.sb);
    wm__ch_pack_event(&srv.pk, name, nlen, data, dlen);
    bool php_tried = false;
    uint64_t n = 0;
    srv.stamp++;
    srv.st.published++;
    event_t *e = event_find(cname);
    if (loop) {
        if (e && e->n) {
            ch_client_t *c = e->subs[e->rr++ % e->n];
            n += deliver_event(c, name, nlen, data, dlen, &php_tried);
        }
        return n;
    }
    for (size_t i = 0; e && i < e->n; i++)
        n += deliver_event(e->subs[i], name, nlen, data, dlen, &php_tried);
    for (size_t i = 0; i < srv.npatterns; i++)
        if (fnmatch(srv.patterns[i].glob, cname, 0) == 0)
            n += deliver_event(srv.patterns[i].c, name, nlen, data, dlen, &php_tried);
    return n;
}

/* ---- Queues ----------------------------------------------------------------- */

static void queue_send(watch_t *w, qmsg_t *m)
{
    ch_client_t *c = w->c;
    if (c->format == FMT_PHP) {
        bool tried = false;
        const msgpack_sbuffer *p =
            php_push("queue", m->q->name, m->q->nlen, m->data, m->len, &tried);
        if (p)
            send_reply(c, p->data, p->size);
        else
            wm_log_warn("channel: message %llu has no PHP form; it waits for an ack that will "
                        "not come, then goes to another watcher",
                        (unsigned long long)m->id);
        return;
    }
    msgpack_sbuffer_clear(&srv.sb);
    wm__ch_pack_queue(&srv.pk, m->q->name, m->q->nlen, m->id, m->data, m->len, m->deliveries);
    send_reply(c, srv.sb.data, srv.sb.size);
}

static bool can_take(const watch_t *w)
{
    const ch_client_t *c = w->c;
    if (c->doomed || c->ended || c->closing || w->inflight.n >= w->limit)
        return false;
    if (c->format == FMT_PHP && w->credits == 0)
        return false;
    return !over_bound(c, 0);
}

static void deliver_msg(watch_t *w, qmsg_t *m)
{
    queue_t *q = m->q;
    ml_unlink(&q->ready, m);
    m->owner = w;
    m->deliveries++;
    if (m->deliveries > 1)
        srv.st.redelivered++;
    m->deadline = mono_ms() + w->visibility_ms;
    ml_push_back(&w->inflight, m);
    q->inflight++;
    if (w->c->format == FMT_PHP)
        w->credits--;
    queue_send(w, m);
}

/* Gives ready messages to watchers in rotation while any can take one. */
static void queue_pump(queue_t *q)
{
    while (q->ready.head && q->nw) {
        watch_t *w = NULL;
        for (size_t k = 0; k < q->nw && !w; k++) {
            watch_t *cand = q->w[(q->rr + k) % q->nw];
            if (can_take(cand)) {
                w = cand;
                q->rr = (q->rr + k + 1) % q->nw;
            }
        }
        if (!w)
            return;
        deliver_msg(w, q->ready.head);
    }
}

/* Back to the head of its queue (it was the oldest when it left). */
static void requeue(qmsg_t *m)
{
    watch_t *w = m->owner;
    ml_unlink(&w->inflight, m);
    m->owner = NULL;
    m->q->inflight--;
    ml_push_front(&m->q->ready, m);
}

static void msg_forget(qmsg_t *m)
{
    tdelete(m, &srv.msg_by, cmp_msg);
    if (!wm__ch_persist_delete(srv.persist, m->id))
        wm_log_error("channel: out of memory queueing the delete of message %llu",
                     (unsigned long long)m->id);
    free(m);
}

static void ack_msg(qmsg_t *m)
{
    watch_t *w = m->owner;
    queue_t *q = m->q;
    ml_unlink(&w->inflight, m);
    q->inflight--;
    srv.st.acked++;
    msg_forget(m);
}

static qmsg_t *msg_new(uint64_t id, queue_t *q, const char *data, size_t dlen, int64_t ready_at)
{
    qmsg_t *m = calloc(1, sizeof *m + dlen);
    if (!m)
        return NULL;
    m->id = id;
    m->q = q;
    m->len = dlen;
    m->ready_at = ready_at;
    memcpy(m->data, data, dlen);
    if (!tsearch(m, &srv.msg_by, cmp_msg)) {
        free(m);
        return NULL;
    }
    if (ready_at > wall_ms())
        ml_insert_by_time(&q->delayed, m);
    else
        ml_push_back(&q->ready, m);
    return m;
}

static watch_t *watch_find(ch_client_t *c, queue_t *q)
{
    for (watch_t *w = c->watches; w; w = w->next)
        if (w->q == q)
            return w;
    return NULL;
}

static void unwatch(ch_client_t *c, watch_t *w)
{
    queue_t *q = w->q;
    while (w->inflight.tail)
        requeue(w->inflight.tail); /* tail first keeps their order at the head */
    for (size_t k = 0; k < q->nw; k++)
        if (q->w[k] == w) {
            memmove(&q->w[k], &q->w[k + 1], (q->nw - k - 1) * sizeof *q->w);
            q->nw--;
            break;
        }
    watch_t **pp = &c->watches;
    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    free(w);
    queue_pump(q);
    queue_maybe_free(q);
}

static int watch(ch_client_t *c, const char *name, size_t nlen, uint32_t limit, int64_t vis)
{
    queue_t *q = queue_get(name, nlen);
    if (!q)
        return WM_ENOMEM;
    watch_t *w = watch_find(c, q);
    if (!w) {
        if (grow((void **)&q->w, &q->capw, q->nw + 1, sizeof *q->w) != WM_OK ||
            !(w = calloc(1, sizeof *w)))
            return WM_ENOMEM;
        w->c = c;
        w->q = q;
        w->next = c->watches;
        c->watches = w;
        q->w[q->nw++] = w;
    }
    w->limit = limit;
    w->visibility_ms = vis;
    queue_pump(q);
    return WM_OK;
}

/* ---- The tick ----------------------------------------------------------------- */

static void expire_inflight(ch_client_t *c, int64_t now)
{
    for (watch_t *w = c->watches; w; w = w->next) {
        /* In-flight lists are in delivery order, and one watch has one
         * visibility, so the expired ones are at the head. Walk them from
         * the last expired so they return in order. */
        qmsg_t *last = NULL;
        for (qmsg_t *m = w->inflight.head; m && m->deadline <= now; m = m->next)
            last = m;
        while (last) {
            qmsg_t *prev = last->prev;
            srv.st.timeouts++;
            requeue(last);
            last = prev;
        }
    }
}

static void on_tick(wm_timer_id_t id, void *user_data)
{
    int64_t now = mono_ms(), wall = wall_ms();
    for (ch_client_t *c = srv.clients; c; c = c->next)
        expire_inflight(c, now);
    for (queue_t *q = srv.queues, *next; q; q = next) {
        next = q->next;
        while (q->delayed.head && q->delayed.head->ready_at <= wall) {
            qmsg_t *m = q->delayed.head;
            ml_unlink(&q->delayed, m);
            ml_push_back(&q->ready, m);
        }
        queue_pump(q);
    }
    reap_doomed();
}

/* ---- MessagePack requests ------------------------------------------------------ */

/* Replies start from an empty srv.sb: deliveries made while the request
 * ran (a publish, an enqueue that a watcher took) packed their pushes there. */
static void reply_error(const wm__svc_req_t *r, uint32_t status, const char *msg)
{
    srv.st.errors++;
    msgpack_sbuffer_clear(&srv.sb);
    wm__svc_resp_error(&srv.pk, &r->id, status, msg);
}

static void reply_uint(const wm__svc_req_t *r, uint64_t v)
{
    msgpack_sbuffer_clear(&srv.sb);
    wm__svc_resp_begin(&srv.pk, r->id, WM_CH_OK);
    msgpack_pack_uint64(&srv.pk, v);
}

static bool open_names(const wm__svc_req_t *r, wm__ch_names_t *it)
{
    const char *why;
    if (wm__ch_names_open(r->argv[0], it, &why) != WM_OK) {
        reply_error(r, WM_CH_BAD_REQUEST, why);
        return false;
    }
    return true;
}

static bool secret_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0 && blen > 0;
}

static void op_auth(ch_client_t *c, const wm__svc_req_t *r)
{
    const char *s;
    size_t n;
    if (wm__mp_span_str(r->argv[0], &s, &n) != WM_OK) {
        reply_error(r, WM_CH_BAD_REQUEST, "auth takes the secret as a str");
        return;
    }
    if (srv.cfg->auth && !secret_equal(s, n, srv.cfg->auth)) {
        reply_error(r, WM_CH_AUTH_FAILED, "wrong secret");
        c->closing = true;
        return;
    }
    c->authed = true;
    wm__svc_resp_begin(&srv.pk, r->id, WM_CH_OK);
    msgpack_pack_true(&srv.pk);
}

static void op_subscribe(ch_client_t *c, const wm__svc_req_t *r, bool on)
{
    wm__ch_names_t it;
    const char *name;
    size_t len;
    char buf[WM_CH_MAX_NAME + 1];
    if (!open_names(r, &it))
        return;
    while (wm__ch_names_next(&it, &name, &len)) {
        if (memchr(name, '\0', len)) {
            reply_error(r, WM_CH_BAD_REQUEST, "a name has no NUL byte");
            return;
        }
        memcpy(buf, name, len);
        buf[len] = '\0';
        if (!on) {
            unsubscribe_one(c, buf);
        } else if (subscribe_one(c, buf) < 0) {
            reply_error(r, WM_CH_TOO_LARGE, "too many subscriptions on this connection");
            return;
        }
    }
    reply_uint(r, c->nsubs);
}

static bool data_ok(const wm__svc_req_t *r, wm__mp_span_t d)
{
    if (d.n + WM_CH_MAX_NAME + 64 > srv.cfg->max_frame) {
        reply_error(r, WM_CH_TOO_LARGE, "the data is larger than the server's max frame");
        return false;
    }
    return true;
}

static void op_publish(ch_client_t *c, const wm__svc_req_t *r, bool loop)
{
    wm__ch_names_t it;
    const char *name;
    size_t len;
    uint64_t n = 0;
    if (!open_names(r, &it) || !data_ok(r, r->argv[1]))
        return;
    while (wm__ch_names_next(&it, &name, &len))
        if (!memchr(name, '\0', len))
            n += publish_one(name, len, r->argv[1].p, r->argv[1].n, loop);
    msgpack_sbuffer_clear(&srv.sb);
    reply_uint(r, n);
}

/* Stores one message; 0 when out of memory. */
static uint64_t enqueue_one(const char *name, size_t nlen, const char *data, size_t dlen,
                            int64_t ready_at, uint64_t *seq)
{
    queue_t *q = queue_get(name, nlen);
    uint64_t id = srv.next_id + 1;
    if (!q || !msg_new(id, q, data, dlen, ready_at))
        return 0;
    srv.next_id = id;
    srv.st.enqueued++;
    uint64_t s = wm__ch_persist_insert(srv.persist, id, q->name, nlen, data, dlen, ready_at);
    if (s)
        *seq = s;
    else
        wm_log_error("channel: out of memory queueing message %llu for the data file",
                     (unsigned long long)id);
    queue_pump(q);
    return id;
}

static void op_enqueue(ch_client_t *c, const wm__svc_req_t *r, uint64_t *seq)
{
    wm__ch_names_t it;
    const char *name;
    size_t len;
    int64_t delay = 0;
    if (!open_names(r, &it) || !data_ok(r, r->argv[1]))
        return;
    if (r->argc > 2 && !wm__mp_span_is_nil(r->argv[2]) &&
        (wm__mp_span_int64(r->argv[2], &delay) != WM_OK || delay < 0 ||
         delay > WM_CH_MAX_DELAY_MS)) {
        reply_error(r, WM_CH_BAD_REQUEST, "delay_ms is an integer from 0 to a year");
        return;
    }
    uint64_t ids[WM_CH_MAX_NAMES];
    uint32_t n = 0;
    while (wm__ch_names_next(&it, &name, &len)) {
        if (memchr(name, '\0', len)) {
            reply_error(r, WM_CH_BAD_REQUEST, "a name has no NUL byte");
            return;
        }
        if (!(ids[n++] = enqueue_one(name, len, r->argv[1].p, r->argv[1].n,
                                     delay ? wall_ms() + delay : 0, seq))) {
            reply_error(r, WM_CH_INTERNAL, "out of memory");
            return;
        }
    }
    msgpack_sbuffer_clear(&srv.sb);
    wm__svc_resp_begin(&srv.pk, r->id, WM_CH_OK);
    msgpack_pack_array(&srv.pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint64(&srv.pk, ids[i]);
}

/* watch options: {"inflight": N, "visibility_ms": N}, both optional. */
static bool watch_opts(const wm__svc_req_t *r, uint32_t *limit, int64_t *vis)
{
    *limit = srv.cfg->inflight;
    *vis = srv.cfg->visibility_ms;
    if (r->argc < 2 || wm__mp_span_is_nil(r->argv[1]))
        return true;
    const char *p = r->argv[1].p;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_MAP)
        goto bad;
    for (uint32_t i = 0; i < h.len; i++) {
        wm__mp_head_t k, v;
        wm__mp_head(&p, &k);
        const char *vat = p;
        wm__mp_head(&p, &v);
        if (v.kind == WM_MP_ARRAY || v.kind == WM_MP_MAP) {
            p = vat;
            wm__mp_skip(&p);
            goto bad;
        }
        if (k.kind != WM_MP_STR || v.kind != WM_MP_UINT || v.u == 0)
            goto bad;
        if (k.len == 8 && memcmp(k.data, "inflight", 8) == 0 && v.u <= WM_CH_MAX_INFLIGHT)
            *limit = (uint32_t)v.u;
        else if (k.len == 13 && memcmp(k.data, "visibility_ms", 13) == 0 &&
                 v.u <= (uint64_t)WM_CH_MAX_DELAY_MS)
            *vis = (int64_t)v.u;
        else
            goto bad;
    }
    return true;
bad:
    reply_error(r, WM_CH_BAD_REQUEST,
                "watch options are {\"inflight\": 1..100000, \"visibility_ms\": 1..}");
    return false;
}

static void op_watch(ch_client_t *c, const wm__svc_req_t *r, bool on)
{
    wm__ch_names_t it;
    const char *name;
    size_t len;
    uint32_t limit = 0; /* set by watch_opts; gcc -O2 cannot see it (unwatch skips it) */
    int64_t vis = 0;
    char buf[WM_CH_MAX_NAME + 1];
    if (!open_names(r, &it) || (on && !watch_opts(r, &limit, &vis)))
        return;
    uint32_t n = 0;
    while (wm__ch_names_next(&it, &name, &len)) {
        memcpy(buf, name, len);
        buf[len] = '\0';
        if (memchr(name, '\0', len))
            continue;
        if (on) {
            if (watch(c, buf, len, limit, vis) != WM_OK) {
                reply_error(r, WM_CH_INTERNAL, "out of memory");
                return;
            }
        } else {
            queue_t *q = queue_find(buf);
            watch_t *w = q ? watch_find(c, q) : NULL;
            if (w)
                unwatch(c, w);
        }
    }
    for (watch_t *w = c->watches; w; w = w->next)
        n++;
    msgpack_sbuffer_clear(&srv.sb);
    reply_uint(r, n);
}

static bool ack_id(ch_client_t *c, uint64_t id)
{
    qmsg_t key = {.id = id};
    void *f = tfind(&key, &srv.msg_by, cmp_msg);
    qmsg_t *m = f ? *(qmsg_t **)f : NULL;
    if (!m || !m->owner || m->owner->c != c)
        return false;
    queue_t *q = m->q;
    ack_msg(m);
    queue_pump(q);
    return true;
}

static void op_ack(ch_client_t *c, const wm__svc_req_t *r)
{
    const char *p = r->argv[0].p;
    wm__mp_head_t h;
    uint64_t n = 0;
    wm__mp_head(&p, &h);
    if (h.kind == WM_MP_UINT) {
        if (!ack_id(c, h.u)) {
            wm__svc_resp_begin(&srv.pk, r->id, WM_CH_NOT_FOUND);
            msgpack_pack_uint64(&srv.pk, 0);
            return;
        }
        reply_uint(r, 1);
        return;
    }
    if (h.kind != WM_MP_ARRAY || h.len > WM_CH_MAX_INFLIGHT)
        goto bad;
    for (uint32_t i = 0; i < h.len; i++) {
        wm__mp_head_t e;
        const char *at = p;
        wm__mp_head(&p, &e);
        if (e.kind != WM_MP_UINT) {
            p = at;
            wm__mp_skip(&p);
            continue;
        }
        n += ack_id(c, e.u);
    }
    reply_uint(r, n);
    return;
bad:
    reply_error(r, WM_CH_BAD_REQUEST, "ack takes a message id or an array of ids");
}

static void pack_stat(const char *name, uint64_t v)
{
    msgpack_pack_str_with_body(&srv.pk, name, strlen(name));
    msgpack_pack_uint64(&srv.pk, v);
}

typedef struct totals {
    uint64_t queues, ready, delayed, inflight, events, clients, backlog, backlog_bytes;
} totals_t;

static totals_t totals(void)
{
    totals_t t = {0};
    for (queue_t *q = srv.queues; q; q = q->next) {
        t.queues++;
        t.ready += q->ready.n;
        t.delayed += q->delayed.n;
        t.inflight += q->inflight;
    }
    for (ch_client_t *c = srv.clients; c; c = c->next) {
        t.clients++;
        t.backlog += c->backlog.n;
        t.backlog_bytes += c->backlog.bytes;
    }
    return t;
}

static void op_stats(ch_client_t *c, const wm__svc_req_t *r)
{
    totals_t t = totals();
    wm__svc_writer_stats_t ws;
    wm__ch_persist_get_stats(srv.persist, &ws);
    wm__svc_resp_begin(&srv.pk, r->id, WM_CH_OK);
    msgpack_pack_map(&srv.pk, 23);
    pack_stat("pid", (uint64_t)getpid());
    pack_stat("connections", t.clients);
    pack_stat("connections_total", srv.st.connections);
    pack_stat("requests", srv.st.requests);
    pack_stat("errors", srv.st.errors);
    pack_stat("patterns", srv.npatterns);
    pack_stat("published", srv.st.published);
    pack_stat("delivered", srv.st.delivered);
    pack_stat("dropped", srv.st.dropped);
    pack_stat("slow_disconnects", srv.st.slow_disconnects);
    pack_stat("backlog", t.backlog);
    pack_stat("backlog_bytes", t.backlog_bytes);
    pack_stat("queues", t.queues);
    pack_stat("ready", t.ready);
    pack_stat("delayed", t.delayed);
    pack_stat("inflight", t.inflight);
    pack_stat("enqueued", srv.st.enqueued);
    pack_stat("acked", srv.st.acked);
    pack_stat("redelivered", srv.st.redelivered);
    pack_stat("timeouts", srv.st.timeouts);
    pack_stat("commits", ws.commits);
    pack_stat("rows_written", ws.rows);
    pack_stat("max_buffer", srv.cfg->max_buffer);
}

static void handle_request(ch_client_t *c, const char *data, size_t len)
{
    wm__svc_req_t r;
    const char *why;
    uint64_t seq = 0;
    srv.st.requests++;
    msgpack_sbuffer_clear(&srv.sb);
    if (wm__ch_req_decode(data, len, &r, &why) != WM_OK) {
        srv.st.errors++;
        if (!r.has_id) {
            /* No id to answer to: explain once, then close. */
            wm__svc_resp_error(&srv.pk, NULL, WM_CH_BAD_REQUEST, why);
            c->closing = true;
        } else {
            wm__svc_resp_error(&srv.pk, &r.id,
                               r.op < 0 && r.op_name.p ? WM_CH_UNKNOWN_OP : WM_CH_BAD_REQUEST, why);
        }
    } else if (srv.cfg->auth && !c->authed && r.op != WM_CH_OP_AUTH && r.op != WM_CH_OP_PING) {
        reply_error(&r, WM_CH_AUTH_REQUIRED, "authenticate first: [id, \"auth\", secret]");
    } else {
        switch (r.op) {
        case WM_CH_OP_PING:
            wm__svc_resp_begin(&srv.pk, r.id, WM_CH_OK);
            msgpack_pack_str_with_body(&srv.pk, "pong", 4);
            break;
        case WM_CH_OP_AUTH:
            op_auth(c, &r);
            break;
        case WM_CH_OP_SUBSCRIBE:
        case WM_CH_OP_UNSUBSCRIBE:
            op_subscribe(c, &r, r.op == WM_CH_OP_SUBSCRIBE);
            break;
        case WM_CH_OP_PUBLISH:
        case WM_CH_OP_PUBLISH_LOOP:
            op_publish(c, &r, r.op == WM_CH_OP_PUBLISH_LOOP);
            break;
        case WM_CH_OP_ENQUEUE:
            op_enqueue(c, &r, &seq);
            break;
        case WM_CH_OP_WATCH:
        case WM_CH_OP_UNWATCH:
            op_watch(c, &r, r.op == WM_CH_OP_WATCH);
            break;
        case WM_CH_OP_ACK:
            op_ack(c, &r);
            break;
        default:
            op_stats(c, &r);
            break;
        }
    }
    if (!c->doomed && !c->ended)
        reply_done(c, seq);
    if (c->closing && !c->held.head)
        conn_close(c);
}

/* ---- walkor/channel's PHP format ------------------------------------------------ */

static void php_each_channel(ch_client_t *c, const wm__ch_php_req_t *r)
{
    const msgpack_object *ch = r->channels;
    uint32_t n = ch->type == MSGPACK_OBJECT_ARRAY ? ch->via.array.size : ch->via.map.size;
    const char *data = NULL;
    size_t dlen = 0;
    if (r->type == WM_CH_PHP_PUBLISH || r->type == WM_CH_PHP_PUBLISH_LOOP ||
        r->type == WM_CH_PHP_ENQUEUE) {
        /* PHP data crosses to MessagePack clients as MessagePack. */
        msgpack_sbuffer_clear(&srv.php);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &srv.php, msgpack_sbuffer_write);
        if (r->data)
            msgpack_pack_object(&pk, *r->data);
        else
            msgpack_pack_nil(&pk);
        data = srv.php.data;
        dlen = srv.php.size;
    }
    /* publish_one and PHP pushes reuse srv.php: keep the data apart. */
    char *copy = dlen ? malloc(dlen) : NULL;
    if (dlen && !copy) {
        doom(c);
        return;
    }
    if (dlen)
        memcpy(copy, data, dlen);
    for (uint32_t i = 0; i < n && i < WM_CH_MAX_NAMES; i++) {
        const msgpack_object *o =
            ch->type == MSGPACK_OBJECT_ARRAY ? &ch->via.array.ptr[i] : &ch->via.map.ptr[i].val;
        char num[32], buf[WM_CH_MAX_NAME + 1];
        const char *name;
        size_t len;
        if (!wm__ch_php_name(o, num, sizeof num, &name, &len) || memchr(name, '\0', len))
            continue;
        memcpy(buf, name, len);
        buf[len] = '\0';
        uint64_t seq = 0;
        watch_t *w;
        queue_t *q;
        switch (r->type) {
        case WM_CH_PHP_SUBSCRIBE:
            subscribe_one(c, buf);
            break;
        case WM_CH_PHP_UNSUBSCRIBE:
            unsubscribe_one(c, buf);
            break;
        case WM_CH_PHP_PUBLISH:
        case WM_CH_PHP_PUBLISH_LOOP:
            publish_one(buf, len, copy, dlen, r->type == WM_CH_PHP_PUBLISH_LOOP);
            break;
        case WM_CH_PHP_ENQUEUE:
            enqueue_one(buf, len, copy, dlen, 0, &seq);
            break;
        case WM_CH_PHP_WATCH:
            watch(c, buf, len, PHP_CREDITS_MAX, srv.cfg->visibility_ms);
            break;
        default: /* unwatch */
            q = queue_find(buf);
            if (q && (w = watch_find(c, q)))
                unwatch(c, w);
            break;
        }
    }
    free(copy);
}

/* reserve: what this connection was given is done (walkor/channel's client
 * reserves after each message's callback), and it takes one more from each
 * queue it watches. */
static void php_reserve(ch_client_t *c)
{
    for (watch_t *w = c->watches; w; w = w->next) {
        queue_t *q = w->q;
        while (w->inflight.head)
            ack_msg(w->inflight.head);
        if (w->credits < PHP_CREDITS_MAX)
            w->credits++;
        queue_pump(q);
    }
}

static void handle_php_frame(ch_client_t *c, const char *data, size_t len)
{
    msgpack_object root;
    wm__ch_php_req_t r;
    const char *why;
    srv.st.requests++;
    msgpack_zone_clear(&srv.zone);
    if (srv.cfg->auth) {
        wm_log_warn("channel: closing a PHP-format connection: --auth is set, and walkor/"
                    "channel's clients cannot authenticate");
        c->closing = true;
    } else if (wm__ch_php_decode(data, len, &srv.zone, &root, &r, &why) != WM_OK) {
        srv.st.errors++;
        wm_log_warn("channel: closing connection %llu: bad request (%s)",
                    (unsigned long long)wm_conn_id(c->conn), why);
        c->closing = true;
    } else if (r.type == WM_CH_PHP_RESERVE) {
        php_reserve(c);
    } else {
        php_each_channel(c, &r);
    }
    if (c->closing)
        conn_close(c);
}

/* ---- Connections ------------------------------------------------------------------ */

/* A PHP serialize() body starts with a type letter and a colon ("a:" for
 * walkor/channel's arrays); a MessagePack request is an array (0x90-0x9f,
 * 0xdc, 0xdd). */
static int detect_format(const char *data, size_t len)
{
    if (len >= 2 && data[1] == ':' && strchr("abidsN", data[0]))
        return FMT_PHP;
    return FMT_MSGPACK;
}

static void on_message(wm_conn_t *conn, const wm_msg_t *m, void *user_data)
{
    ch_client_t *c = wm_conn_user_data(conn);
    if (!c || c->closing || c->doomed)
        return;
    if (m->len == 0)
        return; /* walkor/channel's ping */
    if (c->format == FMT_UNKNOWN)
        c->format = detect_format(m->data, m->len);
    if (c->format == FMT_PHP)
        handle_php_frame(c, m->data, m->len);
    else
        handle_request(c, m->data, m->len);
    reap_doomed();
}

static void client_release(ch_client_t *c)
{
    while (c->nsubs)
        unsubscribe_one(c, c->subs[c->nsubs - 1]);
    while (c->watches)
        unwatch(c, c->watches);
    blist_clear(&c->held);
    blist_clear(&c->backlog);
    for (ch_client_t **pp = &srv.reap; *pp; pp = &(*pp)->reap_next)
        if (*pp == c) {
            *pp = c->reap_next;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else if (srv.clients == c)
        srv.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void client_free(void *p)
{
    ch_client_t *c = p;
    free(c->subs);
    free(c);
}

static void on_connect(wm_conn_t *conn, void *user_data)
{
    ch_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        wm_log_error("channel: out of memory for a connection");
        wm_conn_destroy(conn);
        return;
    }
    c->conn = conn;
    c->authed = srv.cfg->auth == NULL;
    c->next = srv.clients;
    if (srv.clients)
        srv.clients->prev = c;
    srv.clients = c;
    srv.st.connections++;
    wm_conn_set_user_data(conn, c, client_free);
    /* Replies to one read, and the pushes of one loop turn (a publish fans
     * out to every subscriber), leave in one write per connection. */
    wm_conn_set_batch_sends(conn, true);
}

static void on_close(wm_conn_t *conn, void *user_data)
{
    ch_client_t *c = wm_conn_user_data(conn);
    if (!c || c->ended)
        return;
    if (srv.sending) {
        /* Inside a send of a walk that may hold pointers to c. */
        c->ended = true;
        if (!c->doomed)
            reap_add(c);
        return;
    }
    client_release(c); /* its in-flight messages go back to their queues */
    reap_doomed();     /* and may have gone to watchers that ended meanwhile */
}

/* The output is empty: backlogged pushes first (they are older), then
 * queue messages that waited for room. */
static void on_buffer_drain(wm_conn_t *conn, void *user_data)
{
    ch_client_t *c = wm_conn_user_data(conn);
    if (!c || c->ended)
        return;
    backlog_flush(c);
    for (watch_t *w = c->watches; w; w = w->next)
        queue_pump(w->q);
    reap_doomed();
}

static void on_status(wm_worker_t *w, char *buf, size_t len, void *user_data)
{
    totals_t t = totals();
    snprintf(buf, len,
             "published=%llu delivered=%llu dropped=%llu slow_disconnects=%llu backlog=%llu "
             "queues=%llu ready=%llu inflight=%llu delayed=%llu enqueued=%llu acked=%llu "
             "redelivered=%llu",
             (unsigned long long)srv.st.published, (unsigned long long)srv.st.delivered,
             (unsigned long long)srv.st.dropped, (unsigned long long)srv.st.slow_disconnects,
             (unsigned long long)t.backlog, (unsigned long long)t.queues,
             (unsigned long long)t.ready, (unsigned long long)t.inflight,
             (unsigned long long)t.delayed, (unsigned long long)srv.st.enqueued,
             (unsigned long long)srv.st.acked, (unsigned long long)srv.st.redelivered);
}

/* ---- The worker's life ------------------------------------------------------------ */

static void on_loaded(uint64_t id, const char *queue, size_t qlen, const char *data, size_t dlen,
                      int64_t ready_at, void *user_data)
{
    size_t *loaded = user_data;
    char name[WM_CH_MAX_NAME + 1];
    memcpy(name, queue, qlen);
    name[qlen] = '\0';
    queue_t *q = queue_get(name, qlen);
    if (q && msg_new(id, q, data, dlen, ready_at))
        (*loaded)++;
}

static int open_data(void)
{
    char err[512];
    size_t loaded = 0;
    wm__svc_make_parent_dir(srv.cfg->data);
    srv.persist = wm__ch_persist_open(srv.cfg->data, err, sizeof err);
    if (!srv.persist) {
        wm_log_error("channel: cannot open %s: %s", srv.cfg->data, err);
        return WM_EINVAL;
    }
    if (wm__ch_persist_load(srv.persist, on_loaded, &loaded, &srv.next_id, err, sizeof err) !=
        WM_OK) {
        wm_log_error("channel: cannot load %s: %s", srv.cfg->data, err);
        return WM_EINVAL;
    }
    if (wm__ch_persist_start(srv.persist, on_commit, NULL) != WM_OK) {
        wm_log_error("channel: cannot start the writer thread");
        return WM_ENOMEM;
    }
    wm_log_info("channel: %s: %zu queued messages loaded", srv.cfg->data, loaded);
    return WM_OK;
}

static void on_worker_start(wm_worker_t *w, void *user_data)
{
    msgpack_sbuffer_init(&srv.sb);
    msgpack_sbuffer_init(&srv.php);
    msgpack_packer_init(&srv.pk, &srv.sb, msgpack_sbuffer_write);
    msgpack_zone_init(&srv.zone, 4096);
    if (open_data() != WM_OK) {
        wm_log_error("channel: not starting");
        exit(1);
    }
    srv.tick = wm_timer_add(TICK_MS, true, on_tick, NULL, NULL);
    wm_log_info("channel: serving %s", srv.cfg->listen);
}

static void free_msg(void *p)
{
    free(p);
}

static void on_worker_stop(wm_worker_t *w, void *user_data)
{
    wm_timer_del(srv.tick);
    /* Every connection is gone by now; this commits what is queued. */
    wm__ch_persist_close(srv.persist);
    srv.persist = NULL;
    tdestroy(srv.msg_by, free_msg);
    srv.msg_by = NULL;
    while (srv.queues) {
        queue_t *q = srv.queues;
        srv.queues = q->next;
        tdelete(q, &srv.queue_by, cmp_queue);
        free(q->w);
        free(q->name);
        free(q);
    }
    free(srv.patterns);
    msgpack_sbuffer_destroy(&srv.sb);
    msgpack_sbuffer_destroy(&srv.php);
    msgpack_zone_destroy(&srv.zone);
}

static void on_worker_reload(wm_worker_t *w, void *user_data)
{
    wm_log_info("channel: reload: this worker keeps running (and its queues)");
}

int wm__ch_server_setup(const wm__ch_config_t *cfg)
{
    srv.cfg = cfg;
    wm_worker_t *w = wm_worker_new(cfg->listen);
    if (!w)
        return WM_EINVAL; /* the reason is logged */
    wm_worker_set_name(w, "channel");
    wm_worker_set_count(w, 1); /* one process owns the subscriptions and queues */
    wm_worker_set_reloadable(w, false);
    wm_worker_set_max_package(w, cfg->max_frame);
    /* The hard limit only catches replies to a client that stopped reading;
     * pushes stop at max_buffer (the slow-reader policy) well before it. */
    wm_worker_set_max_send_buffer(w, cfg->max_buffer + 2 * cfg->max_frame + 1024 * 1024);
    wm_worker_on_worker_start(w, on_worker_start, NULL);
    wm_worker_on_worker_stop(w, on_worker_stop, NULL);
    wm_worker_on_worker_reload(w, on_worker_reload, NULL);
    wm_worker_on_connect(w, on_connect, NULL);
    wm_worker_on_message(w, on_message, NULL);
    wm_worker_on_close(w, on_close, NULL);
    wm_worker_on_buffer_drain(w, on_buffer_drain, NULL);
    wm_worker_on_status(w, on_status, NULL);
    return WM_OK;
}
