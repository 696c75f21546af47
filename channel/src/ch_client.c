/* SPDX-License-Identifier: MIT */
/* The asynchronous Channel client on the wm loop (wm/channel.h).
 *
 * One frame:// connection. Requests are written at once and wait in a FIFO
 * (svc_fifo.h, shared with GlobalData's client); the server answers one
 * connection's requests in order, so each reply belongs to the FIFO's head
 * (its id is checked). Pushes (events, queue messages) arrive between
 * replies and are told apart by their first element, a str.
 *
 * Timeouts, as GlobalData's client: a request not answered within
 * request_timeout_ms of being sent runs its callback with WM_ETIMEDOUT and
 * stays in the FIFO as a tombstone until its late reply (ignored) or the
 * connection's end removes it. The connection is kept: a server that is
 * only slow keeps our subscriptions and watches, and one that is gone is
 * found by the transport (a reset, a failed write) and reconnected. Only
 * an auth left unanswered starts the connection over. One repeating timer
 * checks deadlines while a request waits.
 *
 * What must survive a reconnect is kept as state, not as requests: the set
 * of subscribed events, the handlers, the watched queues. When a connection
 * comes up the client sends auth, then subscribe for every event (1000 per
 * request), then watch for every queue, then the offline queue, in that
 * order; the server handles one connection's requests in order, so nothing
 * published from here on can overtake the restore.
 *
 * Requests made while disconnected wait in the offline queue, bounded in
 * count and bytes; a full queue drops its oldest request. Callbacks of
 * dropped requests run from a zero-delay timer (a callback never runs
 * inside the starting call).
 *
 * Promise 4 (free inside a callback): entry points from the loop count
 * themselves in `depth`; wm_ch_client_free() inside a callback cancels
 * everything and marks the client dead, and the outermost entry point frees
 * it on the way out. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/conn.h>
#include <wm/log.h>
#include <wm/timer.h>

#include "ch_client_int.h"
#include "svc_fifo.h"

enum { ST_DOWN, ST_CONNECTING, ST_UP };

/* A sent request waiting for its reply (in c->fifo), or a finished one
 * waiting for its callback to run from the loop (in c->done, `status`
 * set). */
typedef struct pend {
    wm__svc_pend_t pend; /* first: the FIFO links these (id, deadline, done) */
    struct pend *next;   /* c->done */
    wm_ch_done_cb cb;
    void *user_data;
    bool is_auth;
    int status;
} pend_t;

/* A request kept while disconnected: its arguments, encoded. */
typedef struct offline {
    struct offline *next;
    int op;
    uint32_t argc;
    char *args;
    size_t len;
    wm_ch_done_cb cb;
    void *user_data;
} offline_t;

typedef struct handler {
    char *event;
    bool glob;
    wm_ch_msg_cb cb;
    void *user_data;
} handler_t;

typedef struct watch {
    char *queue;
    uint32_t inflight;
    wm_ch_msg_cb cb;
    void *user_data;
} watch_t;

struct wm_ch_client {
    wm__svc_addr_t addr;
    char *auth;
    uint64_t connect_timeout_ms, request_timeout_ms, retry_min_ms, retry_max_ms;
    size_t max_offline, max_offline_bytes;
    wm_conn_t *conn;
    int state;
    uint64_t retry_ms;
    wm_timer_id_t retry_timer;
    int last_err;
    wm__svc_fifo_t fifo;     /* of pend_t: sent, waiting for replies */
    wm_timer_id_t tick;      /* checks their deadlines while one waits */
    pend_t *done, *done_end; /* finished, callbacks to run from the loop */
    wm_timer_id_t done_timer;
    offline_t *oq, *oq_end;
    size_t oq_n, oq_bytes;
    char **subs; /* subscribed event names */
    size_t nsubs;
    handler_t *handlers;
    size_t nhandlers;
    wm_ch_msg_cb catch_all;
    void *catch_all_data;
    watch_t *watches;
    size_t nwatches;
    uint64_t next_id;
    unsigned depth;
    bool dead;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    wm_ch_client_stats_t stats;
    char error[320];
};

static void start_connect(wm_ch_client_t *c);

/* ---- Small helpers ------------------------------------------------------- */

static void set_error(wm_ch_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static void client_destroy(wm_ch_client_t *c);

static void enter(wm_ch_client_t *c)
{
    c->depth++;
}

/* Leaves an entry point; false when the client is gone (freed here). */
static bool leave(wm_ch_client_t *c)
{
    if (--c->depth == 0 && c->dead) {
        client_destroy(c);
        return false;
    }
    return !c->dead;
}

/* ---- Finishing requests -------------------------------------------------- */

static void run_done(wm_timer_id_t id, void *user_data)
{
    wm_ch_client_t *c = user_data;
    (void)id;
    c->done_timer = 0;
    enter(c);
    while (c->done) {
        pend_t *p = c->done;
        if (!(c->done = p->next))
            c->done_end = NULL;
        if (p->cb)
            p->cb(c, p->status, 0, p->user_data);
        free(p);
    }
    leave(c);
}

/* Runs a callback later, from the loop (for requests that end inside a
 * starting call: an offline request dropped by a newer one). */
static void finish_later(wm_ch_client_t *c, wm_ch_done_cb cb, void *user_data, int status)
{
    if (!cb)
        return;
    pend_t *p = calloc(1, sizeof *p);
    if (!p)
        return; /* out of memory: promise 1 cannot be kept; nothing better to do */
    *p = (pend_t){.cb = cb, .user_data = user_data, .status = status};
    if (c->done_end)
        c->done_end->next = p;
    else
        c->done = p;
    c->done_end = p;
    if (!c->done_timer)
        c->done_timer = wm_timer_add(0, false, run_done, c, NULL);
}

/* Fails every sent request (the connection ended) with `status`; the ones
 * that timed out were told already. */
static void fail_sent(wm_ch_client_t *c, int status)
{
    pend_t *p; /* a callback freeing the client empties the FIFO itself */
    while ((p = (pend_t *)wm__svc_fifo_pop(&c->fifo))) {
        if (p->cb && !p->is_auth && !p->pend.done)
            p->cb(c, status, 0, p->user_data);
        free(p);
    }
}

static void offline_free(offline_t *o)
{
    free(o->args);
    free(o);
}

/* ---- Deadlines ----------------------------------------------------------- */

/* A request whose deadline passed (marked done by the FIFO's walk). */
static void on_expired(wm__svc_pend_t *sp, void *user_data)
{
    wm_ch_client_t *c = user_data;
    pend_t *p = (pend_t *)sp;
    if (p->is_auth) {
        /* Nothing can be sent until auth is answered: start over (this
         * fails the FIFO, which ends the walk). */
        c->last_err = WM_ETIMEDOUT;
        set_error(c, "channel server %s: auth: no answer within %llu ms", c->addr.url,
                  (unsigned long long)c->request_timeout_ms);
        wm_conn_destroy(c->conn);
        return;
    }
    if (p->cb)
        p->cb(c, WM_ETIMEDOUT, 0, p->user_data);
}

static void on_tick(wm_timer_id_t id, void *user_data)
{
    wm_ch_client_t *c = user_data;
    (void)id;
    enter(c);
    wm__svc_fifo_expire(&c->fifo, wm_now_ms(), on_expired, c);
    if (!c->dead && c->fifo.waiting == 0) {
        wm_timer_del(c->tick);
        c->tick = 0;
    }
    leave(c);
}

/* ---- Sending ------------------------------------------------------------- */

/* Sends [id, op, args...] with args already encoded; the reply goes to cb. */
static int send_req(wm_ch_client_t *c, int op, uint32_t argc, const char *args, size_t len,
                    wm_ch_done_cb cb, void *user_data, bool is_auth)
{
    pend_t *p = calloc(1, sizeof *p);
    if (!p)
        return WM_ENOMEM;
    p->pend.id = c->next_id++;
    p->cb = cb;
    p->user_data = user_data;
    p->is_auth = is_auth;
    msgpack_sbuffer_clear(&c->sb);
    wm__ch_req_begin(&c->pk, p->pend.id, op, argc);
    if (len)
        msgpack_sbuffer_write(&c->sb, args, len);
    int rc = wm_conn_send(c->conn, c->sb.data, c->sb.size);
    if (rc < 0) {
        free(p);
        set_error(c, "the request could not be sent: %s", wm_strerror(rc));
        return rc == WM_ENOBUFS ? WM_ENOMEM : rc;
    }
    p->pend.deadline = wm_now_ms() + c->request_timeout_ms;
    wm__svc_fifo_push(&c->fifo, &p->pend);
    if (!c->tick)
        c->tick =
            wm_timer_add(wm__svc_deadline_tick_ms(c->request_timeout_ms), true, on_tick, c, NULL);
    return WM_OK;
}

/* Sends now when connected, else keeps the request for later. Takes
 * ownership of `args` (malloc'd). */
static int submit(wm_ch_client_t *c, int op, uint32_t argc, char *args, size_t len,
                  wm_ch_done_cb cb, void *user_data)
{
    if (c->state == ST_UP) {
        int rc = send_req(c, op, argc, args, len, cb, user_data, false);
        free(args);
        return rc;
    }
    offline_t *o = calloc(1, sizeof *o);
    if (!o) {
        free(args);
        return WM_ENOMEM;
    }
    *o = (offline_t){NULL, op, argc, args, len, cb, user_data};
    if (c->oq_end)
        c->oq_end->next = o;
    else
        c->oq = o;
    c->oq_end = o;
    c->oq_n++;
    c->oq_bytes += len;
    /* The bound: drop the oldest until it holds (never the one just added). */
    while (c->oq != o && (c->oq_n > c->max_offline || c->oq_bytes > c->max_offline_bytes)) {
        offline_t *old = c->oq;
        c->oq = old->next;
        c->oq_n--;
        c->oq_bytes -= old->len;
        c->stats.offline_dropped++;
        finish_later(c, old->cb, old->user_data, WM_ENOBUFS);
        offline_free(old);
    }
    return WM_OK;
}

/* Takes the encoded arguments out of c->sb (a copy the caller owns). */
static char *take_args(wm_ch_client_t *c, size_t *len)
{
    *len = c->sb.size;
    char *a = malloc(c->sb.size ? c->sb.size : 1);
    if (a && c->sb.size)
        memcpy(a, c->sb.data, c->sb.size);
    return a;
}

static int send_names(wm_ch_client_t *c, int op, const char *const *names, size_t n)
{
    msgpack_sbuffer_clear(&c->sb);
    if (wm__ch_pack_names(&c->pk, names, n) != WM_OK)
        return WM_EINVAL;
    size_t len;
    char *args = take_args(c, &len);
    if (!args)
        return WM_ENOMEM;
    int rc = send_req(c, op, 1, args, len, NULL, NULL, false);
    free(args);
    return rc;
}

static int send_watch(wm_ch_client_t *c, const watch_t *w)
{
    msgpack_sbuffer_clear(&c->sb);
    msgpack_pack_str_with_body(&c->pk, w->queue, strlen(w->queue));
    if (w->inflight) {
        msgpack_pack_map(&c->pk, 1);
        msgpack_pack_str_with_body(&c->pk, "inflight", 8);
        msgpack_pack_uint32(&c->pk, w->inflight);
    }
    size_t len;
    char *args = take_args(c, &len);
    if (!args)
        return WM_ENOMEM;
    int rc = send_req(c, WM_CH_OP_WATCH, w->inflight ? 2 : 1, args, len, NULL, NULL, false);
    free(args);
    return rc;
}

/* A new connection: auth, subscriptions, watches, then what waited. */
static void restore(wm_ch_client_t *c)
{
    if (c->auth) {
        msgpack_sbuffer_clear(&c->sb);
        msgpack_pack_str_with_body(&c->pk, c->auth, strlen(c->auth));
        size_t len;
        char *args = take_args(c, &len);
        if (args)
            send_req(c, WM_CH_OP_AUTH, 1, args, len, NULL, NULL, true);
        free(args);
    }
    for (size_t i = 0; i < c->nsubs; i += WM_CH_MAX_NAMES) {
        size_t n = c->nsubs - i < WM_CH_MAX_NAMES ? c->nsubs - i : WM_CH_MAX_NAMES;
        send_names(c, WM_CH_OP_SUBSCRIBE, (const char *const *)c->subs + i, n);
    }
    for (size_t i = 0; i < c->nwatches; i++)
        send_watch(c, &c->watches[i]);
    while (c->oq) {
        offline_t *o = c->oq;
        if (!(c->oq = o->next))
            c->oq_end = NULL;
        c->oq_n--;
        c->oq_bytes -= o->len;
        if (send_req(c, o->op, o->argc, o->args, o->len, o->cb, o->user_data, false) != WM_OK)
            finish_later(c, o->cb, o->user_data, WM_ENOMEM);
        offline_free(o);
    }
}

/* ---- Pushes -------------------------------------------------------------- */

static void fill_msg(wm_ch_msg_t *m, const wm__ch_incoming_t *in, const char *name)
{
    const char *p = in->data.p;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    *m = (wm_ch_msg_t){.name = name,
                       .mp = in->data.p,
                       .mp_len = in->data.n,
                       .is_queue = in->is_queue,
                       .id = in->msg_id,
                       .deliveries = in->deliveries};
    if (h.kind == WM_MP_STR || h.kind == WM_MP_BIN) {
        m->data = h.data;
        m->len = h.len;
    }
}

static void dispatch_event(wm_ch_client_t *c, const wm_ch_msg_t *m)
{
    bool taken = false;
    c->stats.events++;
    for (size_t i = 0; i < c->nhandlers && !c->dead; i++) {
        handler_t *h = &c->handlers[i];
        if (h->glob ? fnmatch(h->event, m->name, 0) != 0 : strcmp(h->event, m->name) != 0)
            continue;
        taken = true;
        h->cb(c, m, h->user_data);
    }
    if (!taken && !c->dead && c->catch_all)
        c->catch_all(c, m, c->catch_all_data);
}

static void dispatch_queue(wm_ch_client_t *c, const wm_ch_msg_t *m)
{
    c->stats.queue_messages++;
    for (size_t i = 0; i < c->nwatches; i++)
        if (strcmp(c->watches[i].queue, m->name) == 0) {
            c->watches[i].cb(c, m, c->watches[i].user_data);
            return;
        }
    /* Unwatched since: the server takes it back when the unwatch arrives. */
}

/* ---- The connection ------------------------------------------------------ */

static void on_retry(wm_timer_id_t id, void *user_data)
{
    wm_ch_client_t *c = user_data;
    (void)id;
    c->retry_timer = 0;
    start_connect(c);
}

static void schedule_retry(wm_ch_client_t *c)
{
    c->state = ST_DOWN;
    c->conn = NULL;
    if (!c->retry_ms)
        c->retry_ms = c->retry_min_ms;
    else if ((c->retry_ms *= 2) > c->retry_max_ms)
        c->retry_ms = c->retry_max_ms;
    if (!c->dead)
        c->retry_timer = wm_timer_add(c->retry_ms, false, on_retry, c, NULL);
}

static void on_conn_error(wm_conn_t *conn, int err, const char *reason, void *user_data)
{
    wm_ch_client_t *c = user_data;
    if (c->conn != conn)
        return;
    c->last_err = err;
    set_error(c, "channel server %s: %s", c->addr.url,
              reason && *reason ? reason : wm_strerror(err));
}

static void on_conn_close(wm_conn_t *conn, void *user_data)
{
    wm_ch_client_t *c = user_data;
    if (c->conn != conn)
        return;
    int err = c->last_err ? c->last_err : WM_ECONNRESET;
    if (!c->last_err)
        set_error(c, "channel server %s: %s", c->addr.url,
                  c->state == ST_UP ? "the connection ended" : "could not connect");
    enter(c);
    schedule_retry(c);
    fail_sent(c, err);
    leave(c);
}

static void on_conn_connect(wm_conn_t *conn, void *user_data)
{
    wm_ch_client_t *c = user_data;
    if (c->conn != conn)
        return;
    c->state = ST_UP;
    c->retry_ms = 0;
    c->last_err = 0;
    c->stats.connects++;
    restore(c);
}

static void protocol_error(wm_ch_client_t *c, const char *why)
{
    c->last_err = WM_EPROTO;
    set_error(c, "channel server %s: %s", c->addr.url, why);
    wm_conn_destroy(c->conn); /* on_close fails the rest and reconnects */
}

static void on_reply(wm_ch_client_t *c, const wm__ch_incoming_t *in)
{
    pend_t *p = (pend_t *)wm__svc_fifo_answer(&c->fifo, in->id);
    if (!p) {
        protocol_error(c, "a reply to no request");
        return;
    }
    if (p->pend.done) { /* timed out: its callback ran */
        free(p);
        return;
    }
    if (p->is_auth && in->status != WM_OK) {
        free(p);
        c->last_err = in->status;
        set_error(c, "channel server %s: auth: %s", c->addr.url, wm_ch_strerror(in->status));
        wm_conn_destroy(c->conn);
        return;
    }
    if (p->cb)
        p->cb(c, in->status, in->status == WM_OK ? in->result : 0, p->user_data);
    free(p);
}

static void on_message(wm_conn_t *conn, const wm_msg_t *m, void *user_data)
{
    wm_ch_client_t *c = user_data;
    wm__ch_incoming_t in;
    if (c->conn != conn || c->dead)
        return;
    if (wm__ch_incoming_read(m->data, m->len, &in) != WM_OK) {
        protocol_error(c, "an unreadable message");
        return;
    }
    enter(c);
    if (in.is_push) {
        char name[WM_CH_MAX_NAME + 1];
        memcpy(name, in.name, in.name_len);
        name[in.name_len] = '\0';
        wm_ch_msg_t msg;
        fill_msg(&msg, &in, name);
        if (in.is_queue)
            dispatch_queue(c, &msg);
        else
            dispatch_event(c, &msg);
    } else {
        on_reply(c, &in);
    }
    leave(c);
}

static void start_connect(wm_ch_client_t *c)
{
    c->last_err = 0;
    c->state = ST_CONNECTING;
    c->conn = wm_conn_new(c->addr.url);
    if (!c->conn) {
        set_error(c, "out of memory making a connection");
        schedule_retry(c);
        return;
    }
    wm_conn_set_connect_timeout(c->conn, c->connect_timeout_ms);
    wm_conn_set_max_send_buffer(c->conn, 64u * 1024 * 1024);
    wm_conn_set_max_package(c->conn, WM_CH_DEFAULT_MAX_FRAME * 2);
    wm_conn_on_connect(c->conn, on_conn_connect, c);
    wm_conn_on_message(c->conn, on_message, c);
    wm_conn_on_error(c->conn, on_conn_error, c);
    wm_conn_on_close(c->conn, on_conn_close, c);
    if (wm_conn_connect(c->conn) != WM_OK)
        wm_conn_destroy(c->conn); /* its on_close schedules the retry */
}

/* ---- Lifetime ------------------------------------------------------------ */

wm_ch_client_t *wm_ch_client_new(const char *url, const wm_ch_options_t *opt)
{
    static const wm_ch_options_t defaults = {0};
    if (!opt)
        opt = &defaults;
    wm_ch_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    msgpack_sbuffer_init(&c->sb);
    msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
    if (wm__svc_addr_parse(url ? url : "127.0.0.1:2206", &c->addr) != WM_OK) {
        wm_log_error("channel client: bad server address '%s'", url);
        goto fail;
    }
    c->connect_timeout_ms =
        opt->connect_timeout_ms ? opt->connect_timeout_ms : WM_CH_DEFAULT_CONNECT_TIMEOUT_MS;
    c->request_timeout_ms =
        opt->request_timeout_ms ? opt->request_timeout_ms : WM_CH_DEFAULT_REQUEST_TIMEOUT_MS;
    c->retry_min_ms = opt->retry_min_ms ? opt->retry_min_ms : WM_CH_DEFAULT_RETRY_MIN_MS;
    c->retry_max_ms = opt->retry_max_ms ? opt->retry_max_ms : WM_CH_DEFAULT_RETRY_MAX_MS;
    c->max_offline = opt->max_offline ? opt->max_offline : WM_CH_DEFAULT_MAX_OFFLINE;
    c->max_offline_bytes =
        opt->max_offline_bytes ? opt->max_offline_bytes : WM_CH_DEFAULT_MAX_OFFLINE_BYTES;
    c->next_id = 1;
    if (opt->auth && !(c->auth = strdup(opt->auth)))
        goto fail;
    start_connect(c);
    return c;
fail:
    client_destroy(c);
    return NULL;
}

/* Cancels everything: callbacks run with WM_ECANCELED. */
static void cancel_all(wm_ch_client_t *c)
{
    c->dead = true; /* first: a callback below calling free again does nothing */
    if (c->retry_timer)
        wm_timer_del(c->retry_timer);
    c->retry_timer = 0;
    if (c->tick)
        wm_timer_del(c->tick);
    c->tick = 0;
    if (c->conn) {
        wm_conn_t *conn = c->conn;
        c->conn = NULL; /* its on_close now ignores it */
        wm_conn_destroy(conn);
    }
    fail_sent(c, WM_ECANCELED);
    while (c->oq) {
        offline_t *o = c->oq;
        c->oq = o->next;
        if (o->cb)
            o->cb(c, WM_ECANCELED, 0, o->user_data);
        offline_free(o);
    }
    c->oq_end = NULL;
    c->oq_n = c->oq_bytes = 0;
    if (c->done_timer)
        wm_timer_del(c->done_timer);
    c->done_timer = 0;
    while (c->done) {
        pend_t *p = c->done;
        c->done = p->next;
        p->cb(c, WM_ECANCELED, 0, p->user_data); /* status was ENOBUFS: closed first */
        free(p);
    }
    c->done_end = NULL;
}

static void client_destroy(wm_ch_client_t *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        free(c->subs[i]);
    free(c->subs);
    for (size_t i = 0; i < c->nhandlers; i++)
        free(c->handlers[i].event);
    free(c->handlers);
    for (size_t i = 0; i < c->nwatches; i++)
        free(c->watches[i].queue);
    free(c->watches);
    free(c->auth);
    msgpack_sbuffer_destroy(&c->sb);
    free(c);
}

void wm_ch_client_free(wm_ch_client_t *c)
{
    if (!c || c->dead)
        return;
    enter(c);
    cancel_all(c);
    leave(c);
}

bool wm_ch_client_connected(const wm_ch_client_t *c)
{
    return c && c->state == ST_UP;
}

const char *wm_ch_client_last_error(const wm_ch_client_t *c)
{
    return c ? c->error : "";
}

void wm_ch_client_stats(const wm_ch_client_t *c, wm_ch_client_stats_t *out)
{
    *out = c->stats;
    out->offline_queued = c->oq_n;
}

/* ---- Subscriptions and handlers ------------------------------------------ */

static bool has_sub(const wm_ch_client_t *c, const char *name, size_t *at)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i], name) == 0) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

static int add_subs(wm_ch_client_t *c, const char *const *names, size_t n)
{
    char **grown = realloc(c->subs, (c->nsubs + n) * sizeof *grown);
    if (!grown)
        return WM_ENOMEM;
    c->subs = grown;
    for (size_t i = 0; i < n; i++) {
        if (has_sub(c, names[i], NULL))
            continue;
        if (!(c->subs[c->nsubs] = strdup(names[i])))
            return WM_ENOMEM;
        c->nsubs++;
    }
    return WM_OK;
}

static bool names_ok(const char *const *names, size_t n)
{
    if (!names || n == 0 || n > WM_CH_MAX_NAMES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!wm__ch_name_ok(names[i]))
            return false;
    return true;
}

int wm_ch_subscribe(wm_ch_client_t *c, const char *const *events, size_t n)
{
    if (!c || c->dead || !names_ok(events, n))
        return WM_EINVAL;
    int rc = add_subs(c, events, n);
    if (rc == WM_OK && c->state == ST_UP)
        rc = send_names(c, WM_CH_OP_SUBSCRIBE, events, n);
    return rc;
}

int wm_ch_unsubscribe(wm_ch_client_t *c, const char *const *events, size_t n)
{
    if (!c || c->dead || !names_ok(events, n))
        return WM_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t at;
        if (has_sub(c, events[i], &at)) {
            free(c->subs[at]);
            c->subs[at] = c->subs[--c->nsubs];
        }
        for (size_t k = 0; k < c->nhandlers; k++)
            if (strcmp(c->handlers[k].event, events[i]) == 0) {
                free(c->handlers[k].event);
                memmove(&c->handlers[k], &c->handlers[k + 1],
                        (c->nhandlers - k - 1) * sizeof *c->handlers);
                c->nhandlers--;
                break;
            }
    }
    return c->state == ST_UP ? send_names(c, WM_CH_OP_UNSUBSCRIBE, events, n) : WM_OK;
}

int wm_ch_on(wm_ch_client_t *c, const char *event, wm_ch_msg_cb cb, void *user_data)
{
    if (!c || c->dead || !cb || (event && !wm__ch_name_ok(event)))
        return WM_EINVAL;
    if (!event) {
        c->catch_all = cb;
        c->catch_all_data = user_data;
        return WM_OK;
    }
    for (size_t i = 0; i < c->nhandlers; i++)
        if (strcmp(c->handlers[i].event, event) == 0) {
            c->handlers[i].cb = cb;
            c->handlers[i].user_data = user_data;
            return WM_OK;
        }
    handler_t *grown = realloc(c->handlers, (c->nhandlers + 1) * sizeof *grown);
    if (!grown)
        return WM_ENOMEM;
    c->handlers = grown;
    char *name = strdup(event);
    if (!name)
        return WM_ENOMEM;
    c->handlers[c->nhandlers++] = (handler_t){name, strpbrk(event, "*?[") != NULL, cb, user_data};
    return wm_ch_subscribe(c, &event, 1);
}

/* ---- Publishing and queues ----------------------------------------------- */

static int start_data(wm_ch_client_t *c, int op, const char *const *names, size_t n,
                      const void *data, size_t len, uint64_t delay_ms, wm_ch_done_cb cb,
                      void *user_data)
{
    if (!c || c->dead || (!data && len) || !names_ok(names, n)) {
        if (c)
            set_error(c, "names are 1 to 1000 strings of 1 to 255 bytes");
        return WM_EINVAL;
    }
    if (len > WM_CH_DEFAULT_MAX_FRAME - 64 * 1024) {
        set_error(c, "a message is at most %d bytes", WM_CH_DEFAULT_MAX_FRAME - 64 * 1024);
        return WM_EINVAL;
    }
    msgpack_sbuffer_clear(&c->sb);
    wm__ch_pack_names(&c->pk, names, n);
    msgpack_pack_str_with_body(&c->pk, data ? data : "", len);
    if (delay_ms)
        msgpack_pack_uint64(&c->pk, delay_ms);
    size_t alen;
    char *args = take_args(c, &alen);
    if (!args)
        return WM_ENOMEM;
    return submit(c, op, delay_ms ? 3 : 2, args, alen, cb, user_data);
}

int wm_ch_publish(wm_ch_client_t *c, const char *const *events, size_t n, const void *data,
                  size_t len, wm_ch_done_cb cb, void *user_data)
{
    return start_data(c, WM_CH_OP_PUBLISH, events, n, data, len, 0, cb, user_data);
}

int wm_ch_publish_loop(wm_ch_client_t *c, const char *const *events, size_t n, const void *data,
                       size_t len, wm_ch_done_cb cb, void *user_data)
{
    return start_data(c, WM_CH_OP_PUBLISH_LOOP, events, n, data, len, 0, cb, user_data);
}

int wm_ch_enqueue(wm_ch_client_t *c, const char *const *queues, size_t n, const void *data,
                  size_t len, uint64_t delay_ms, wm_ch_done_cb cb, void *user_data)
{
    if (delay_ms > (uint64_t)WM_CH_MAX_DELAY_MS)
        return WM_EINVAL;
    return start_data(c, WM_CH_OP_ENQUEUE, queues, n, data, len, delay_ms, cb, user_data);
}

int wm_ch_watch(wm_ch_client_t *c, const char *queue, uint32_t inflight, wm_ch_msg_cb cb,
                void *user_data)
{
    if (!c || c->dead || !cb || !wm__ch_name_ok(queue) || inflight > WM_CH_MAX_INFLIGHT)
        return WM_EINVAL;
    watch_t *w = NULL;
    for (size_t i = 0; i < c->nwatches && !w; i++)
        if (strcmp(c->watches[i].queue, queue) == 0)
            w = &c->watches[i];
    if (!w) {
        watch_t *grown = realloc(c->watches, (c->nwatches + 1) * sizeof *grown);
        if (!grown)
            return WM_ENOMEM;
        c->watches = grown;
        char *name = strdup(queue);
        if (!name)
            return WM_ENOMEM;
        w = &c->watches[c->nwatches++];
        *w = (watch_t){.queue = name};
    }
    w->inflight = inflight;
    w->cb = cb;
    w->user_data = user_data;
    return c->state == ST_UP ? send_watch(c, w) : WM_OK;
}

int wm_ch_unwatch(wm_ch_client_t *c, const char *queue)
{
    if (!c || c->dead || !wm__ch_name_ok(queue))
        return WM_EINVAL;
    for (size_t i = 0; i < c->nwatches; i++)
        if (strcmp(c->watches[i].queue, queue) == 0) {
            free(c->watches[i].queue);
            c->watches[i] = c->watches[--c->nwatches];
            break;
        }
    return c->state == ST_UP ? send_names(c, WM_CH_OP_UNWATCH, &queue, 1) : WM_OK;
}

int wm_ch_ack(wm_ch_client_t *c, uint64_t id)
{
    if (!c || c->dead)
        return WM_EINVAL;
    if (c->state != ST_UP)
        return WM_ENOTCONN;
    char args[9];
    msgpack_sbuffer_clear(&c->sb);
    msgpack_pack_uint64(&c->pk, id);
    memcpy(args, c->sb.data, c->sb.size);
    return send_req(c, WM_CH_OP_ACK, 1, args, c->sb.size, NULL, NULL, false);
}
