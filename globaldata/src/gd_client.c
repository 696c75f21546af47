/* SPDX-License-Identifier: MIT */
/* The asynchronous GlobalData client on the wm loop (wm/globaldata.h).
 *
 * One frame:// connection per server. Requests are written at once (wm
 * queues them while the connection is being made) and wait in the server's
 * FIFO (svc_fifo.h, shared with Channel's client); the server answers in
 * order, so each answer belongs to the FIFO's head, and its id is checked
 * against it. A request whose deadline passes runs its callback with
 * WM_ETIMEDOUT and stays in the FIFO as a tombstone until its late answer
 * (or the connection's end) removes it, which keeps the pairing right
 * without ever reusing an id. One repeating timer per client checks
 * deadlines while anything is pending.
 *
 * A connection that fails or ends fails its FIFO and marks the server down;
 * it is made again after a back-off (retry_min_ms doubling up to
 * retry_max_ms). While a server is down, calls for its keys return
 * WM_ENOTCONN at once: failing fast is the point of a ring of servers.
 *
 * Promise 4 (free inside a callback): entry points from the loop count
 * themselves in `depth`; wm_gd_client_free() inside a callback cancels
 * everything and marks the client dead, and the outermost entry point frees
 * it on the way out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/conn.h>
#include <wm/log.h>
#include <wm/timer.h>

#include "gd_client_int.h"
#include "svc_fifo.h"

enum { SRV_CONNECTING, SRV_UP, SRV_DOWN };

typedef struct gd_multi gd_multi_t;
typedef struct gd_req gd_req_t;
struct gd_req {
    wm__svc_pend_t pend; /* first: the FIFO links these (id, deadline, done) */
    wm_gd_cb cb;
    void *user_data;
    gd_multi_t *multi; /* a part of an mget / mset */
    bool is_auth;
};

/* mget / mset split over servers: answered once every part is. */
struct gd_multi {
    wm_gd_cb cb;
    void *user_data;
    size_t parts;
    bool is_mget;
    int status;
    char reason[320];
    wm__gd_merge_t merge;
};

typedef struct gd_srv {
    wm_gd_client_t *client;
    size_t index;
    char *name; /* as given */
    wm__svc_addr_t addr;
    wm_conn_t *conn;
    int state;
    wm__svc_fifo_t fifo; /* of gd_req_t */
    uint64_t retry_ms;
    wm_timer_id_t retry_timer;
    int last_err;
    char reason[320];
} gd_srv_t;

struct wm_gd_client {
    gd_srv_t *srv;
    size_t nsrv;
    wm__gd_ring_t ring;
    char *auth;
    uint64_t timeout_ms, connect_timeout_ms, retry_min_ms, retry_max_ms;
    uint64_t next_id;
    size_t pending; /* requests whose callback has not run */
    wm_timer_id_t tick;
    unsigned depth;
    bool dead;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char error[300];
};

static void srv_connect(gd_srv_t *s);

/* ---- Small helpers ------------------------------------------------------- */

static void set_error(wm_gd_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

static void enter(wm_gd_client_t *c)
{
    c->depth++;
}

static void client_destroy(wm_gd_client_t *c);

/* Leaves an entry point; false when the client is gone (freed here). */
static bool leave(wm_gd_client_t *c)
{
    if (--c->depth == 0 && c->dead) {
        client_destroy(c);
        return false;
    }
    return !c->dead;
}

/* ---- Completing requests ------------------------------------------------- */

static void multi_part_done(wm_gd_client_t *c, gd_multi_t *m, int status, const wm_gd_val_t *res)
{
    if (status != WM_OK && m->status == WM_OK) {
        m->status = status;
        if (res->type == WM_GD_TYPE_STR)
            snprintf(m->reason, sizeof m->reason, "%.*s", (int)res->len, res->data);
        else
            snprintf(m->reason, sizeof m->reason, "%s", wm_gd_strerror(status));
    } else if (status == WM_OK) {
        wm__gd_merge_add(&m->merge, res);
    }
    if (--m->parts > 0)
        return;
    wm_gd_val_t out = wm_gd_nil(); /* mset answers nil */
    if (m->status != WM_OK)
        out = wm__gd_reason(m->reason);
    else if (m->is_mget)
        wm__gd_merge_result(&m->merge, &out);
    m->cb(c, m->status, &out, m->user_data);
    wm__gd_merge_destroy(&m->merge);
    free(m);
}

static void run_cb(wm_gd_client_t *c, gd_req_t *r, int status, const wm_gd_val_t *res)
{
    c->pending--;
    if (r->is_auth)
        return;
    if (r->multi)
        multi_part_done(c, r->multi, status, res);
    else
        r->cb(c, status, res, r->user_data);
}

/* Runs the callback of a request that left the FIFO, unless it timed out
 * (then it ran already). */
static void complete(wm_gd_client_t *c, gd_req_t *r, int status, const wm_gd_val_t *res)
{
    if (!r->pend.done)
        run_cb(c, r, status, res);
}

/* Fails every request of a server (the connection ended). */
static void fail_all(gd_srv_t *s, int status, const char *reason)
{
    wm_gd_client_t *c = s->client;
    wm_gd_val_t why = wm__gd_reason(reason);
    gd_req_t *r;
    while ((r = (gd_req_t *)wm__svc_fifo_pop(&s->fifo))) {
        complete(c, r, status, &why);
        free(r);
    }
}

/* ---- Connections --------------------------------------------------------- */

static void on_retry(wm_timer_id_t id, void *user_data)
{
    gd_srv_t *s = user_data;
    s->retry_timer = 0;
    srv_connect(s);
}

static void srv_down(gd_srv_t *s, int err, const char *why)
{
    wm_gd_client_t *c = s->client;
    s->state = SRV_DOWN;
    s->conn = NULL;
    s->last_err = err;
    if (why != s->reason)
        snprintf(s->reason, sizeof s->reason, "%s", why);
    if (!s->retry_ms)
        s->retry_ms = c->retry_min_ms;
    else if ((s->retry_ms *= 2) > c->retry_max_ms)
        s->retry_ms = c->retry_max_ms;
    if (!c->dead)
        s->retry_timer = wm_timer_add(s->retry_ms, false, on_retry, s, NULL);
}

static void on_conn_error(wm_conn_t *conn, int err, const char *reason, void *user_data)
{
    gd_srv_t *s = user_data;
    if (s->conn != conn)
        return;
    s->last_err = err;
    snprintf(s->reason, sizeof s->reason, "server %s: %s", s->name,
             reason && *reason ? reason : wm_strerror(err));
}

static void on_conn_close(wm_conn_t *conn, void *user_data)
{
    gd_srv_t *s = user_data;
    wm_gd_client_t *c = s->client;
    if (s->conn != conn)
        return;
    bool was_up = s->state == SRV_UP;
    int err = s->last_err ? s->last_err : (was_up ? WM_ECONNRESET : WM_ECONNREFUSED);
    char why[320];
    if (s->last_err)
        snprintf(why, sizeof why, "%s", s->reason);
    else
        snprintf(why, sizeof why, "server %s: %s", s->name,
                 was_up ? "the connection ended before the answer" : "could not connect");
    enter(c);
    srv_down(s, err, why);
    /* In-flight requests get the transport error; ENOTCONN stays for
     * requests refused while down. */
    fail_all(s, err, why);
    leave(c);
}

static void on_conn_connect(wm_conn_t *conn, void *user_data)
{
    gd_srv_t *s = user_data;
    s->state = SRV_UP;
    s->retry_ms = 0;
    s->last_err = 0;
}

/* Sends a request body, as one frame. */
static int srv_send(gd_srv_t *s, gd_req_t *r)
{
    wm_gd_client_t *c = s->client;
    int rc = wm_conn_send(s->conn, c->sb.data, c->sb.size);
    if (rc < 0)
        return rc;
    wm__svc_fifo_push(&s->fifo, &r->pend);
    return WM_OK;
}

static void on_tick(wm_timer_id_t id, void *user_data);

static void arm_tick(wm_gd_client_t *c)
{
    if (c->tick)
        return;
    c->tick = wm_timer_add(wm__svc_deadline_tick_ms(c->timeout_ms), true, on_tick, c, NULL);
}

static void on_message(wm_conn_t *conn, const wm_msg_t *m, void *user_data)
{
    gd_srv_t *s = user_data;
    wm_gd_client_t *c = s->client;
    uint64_t id;
    int status;
    wm_gd_val_t res;
    gd_req_t *r = NULL;
    if (s->conn != conn || c->dead)
        return;
    if (wm__gd_result_read(m->data, m->len, &id, &status, &res) != WM_OK ||
        !(r = (gd_req_t *)wm__svc_fifo_answer(&s->fifo, id))) {
        s->last_err = WM_EPROTO;
        snprintf(s->reason, sizeof s->reason, "server %s: an unreadable or unexpected answer",
                 s->name);
        wm_conn_destroy(conn); /* on_close fails the rest */
        return;
    }
    enter(c);
    if (r->is_auth && status != WM_OK && !r->pend.done) {
        s->last_err = status;
        snprintf(s->reason, sizeof s->reason, "server %s: %s", s->name, wm_gd_strerror(status));
        free(r);
        c->pending--;
        wm_conn_destroy(conn);
    } else {
        complete(c, r, status, &res);
        free(r);
    }
    leave(c);
}

static void srv_connect(gd_srv_t *s)
{
    wm_gd_client_t *c = s->client;
    s->last_err = 0;
    s->state = SRV_CONNECTING;
    s->conn = wm_conn_new(s->addr.url);
    if (!s->conn) {
        srv_down(s, WM_ENOMEM, "out of memory making a connection");
        return;
    }
    wm_conn_set_connect_timeout(s->conn, c->connect_timeout_ms);
    wm_conn_set_max_send_buffer(s->conn, 64u * 1024 * 1024);
    wm_conn_set_max_package(s->conn, WM_GD_DEFAULT_MAX_FRAME * 2);
    wm_conn_on_connect(s->conn, on_conn_connect, s);
    wm_conn_on_message(s->conn, on_message, s);
    wm_conn_on_error(s->conn, on_conn_error, s);
    wm_conn_on_close(s->conn, on_conn_close, s);
    if (c->auth) {
        /* Queued before anything else, so it is the first request. */
        gd_req_t *r = calloc(1, sizeof *r);
        wm__gd_call_t call = {.op = WM_GD_OP_AUTH, .key = c->auth};
        if (r) {
            r->pend.id = c->next_id++;
            r->is_auth = true;
            r->pend.deadline = wm_now_ms() + c->timeout_ms;
            msgpack_sbuffer_clear(&c->sb);
            wm__gd_call_encode(&c->pk, r->pend.id, &call);
            if (srv_send(s, r) == WM_OK) {
                c->pending++;
                arm_tick(c);
            } else {
                free(r);
            }
        }
    }
    if (wm_conn_connect(s->conn) != WM_OK) {
        wm_conn_destroy(s->conn);
    }
}

/* ---- Deadlines ----------------------------------------------------------- */

/* A request whose deadline passed (marked done by the FIFO's walk). */
static void on_expired(wm__svc_pend_t *p, void *user_data)
{
    gd_srv_t *s = user_data;
    wm_gd_client_t *c = s->client;
    gd_req_t *r = (gd_req_t *)p;
    char why[260];
    snprintf(why, sizeof why, "server %s: no answer within %llu ms", s->name,
             (unsigned long long)c->timeout_ms);
    if (r->is_auth) {
        /* A server that does not answer auth is no use: start over (this
         * fails the FIFO, which ends the walk). */
        c->pending--;
        s->last_err = WM_ETIMEDOUT;
        snprintf(s->reason, sizeof s->reason, "%s", why);
        wm_conn_destroy(s->conn);
        return;
    }
    wm_gd_val_t v = wm__gd_reason(why);
    run_cb(c, r, WM_ETIMEDOUT, &v);
}

static void on_tick(wm_timer_id_t id, void *user_data)
{
    wm_gd_client_t *c = user_data;
    uint64_t now = wm_now_ms();
    enter(c);
    for (size_t i = 0; i < c->nsrv && !c->dead; i++)
        wm__svc_fifo_expire(&c->srv[i].fifo, now, on_expired, &c->srv[i]);
    if (!c->dead && c->pending == 0) {
        wm_timer_del(c->tick);
        c->tick = 0;
    }
    leave(c);
}

/* ---- Starting requests --------------------------------------------------- */

static gd_srv_t *srv_for(wm_gd_client_t *c, const char *key)
{
    return &c->srv[wm__gd_ring_find(&c->ring, key, strlen(key))];
}

static int srv_usable(wm_gd_client_t *c, gd_srv_t *s)
{
    if (s->state != SRV_DOWN)
        return WM_OK;
    set_error(c, "%s (reconnecting)", s->reason);
    return WM_ENOTCONN;
}

/* Encodes and sends one call to one server. */
static int start_on(wm_gd_client_t *c, gd_srv_t *s, const wm__gd_call_t *call, wm_gd_cb cb,
                    void *user_data, gd_multi_t *multi)
{
    gd_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return WM_ENOMEM;
    r->pend.id = c->next_id++;
    r->cb = cb;
    r->user_data = user_data;
    r->multi = multi;
    r->pend.deadline = wm_now_ms() + c->timeout_ms;
    msgpack_sbuffer_clear(&c->sb);
    int rc = wm__gd_call_encode(&c->pk, r->pend.id, call);
    if (rc == WM_OK)
        rc = srv_send(s, r);
    if (rc != WM_OK) {
        set_error(c, "server %s: the request could not be sent: %s", s->name, wm_strerror(rc));
        free(r);
        return rc == WM_ENOBUFS ? WM_ENOMEM : rc;
    }
    c->pending++;
    arm_tick(c);
    return WM_OK;
}

static int start_key(wm_gd_client_t *c, const wm__gd_call_t *call, wm_gd_cb cb, void *user_data)
{
    const char *why;
    if (!c || !cb || c->dead)
        return WM_EINVAL;
    if (wm__gd_call_check(call, &why) != WM_OK) {
        set_error(c, "%s", why);
        return WM_EINVAL;
    }
    gd_srv_t *s = srv_for(c, call->key);
    int rc = srv_usable(c, s);
    return rc == WM_OK ? start_on(c, s, call, cb, user_data, NULL) : rc;
}

static int start_server(wm_gd_client_t *c, size_t server, const wm__gd_call_t *call, wm_gd_cb cb,
                        void *user_data)
{
    const char *why;
    if (!c || !cb || c->dead || server >= c->nsrv)
        return WM_EINVAL;
    if (wm__gd_call_check(call, &why) != WM_OK) {
        set_error(c, "%s", why);
        return WM_EINVAL;
    }
    int rc = srv_usable(c, &c->srv[server]);
    return rc == WM_OK ? start_on(c, &c->srv[server], call, cb, user_data, NULL) : rc;
}

/* mget / mset: the keys grouped by server, every server checked up before
 * anything is sent (so a refused call sends nothing). */
static int start_multi(wm_gd_client_t *c, wm__gd_call_t *call, size_t n, wm_gd_cb cb,
                       void *user_data)
{
    const char *why;
    if (!c || !cb || c->dead || (n && !call->keys))
        return WM_EINVAL;
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint32_t *owner = malloc((n ? n : 1) * sizeof *owner);
    size_t *count = calloc(c->nsrv, sizeof *count);
    gd_multi_t *m = calloc(1, sizeof *m);
    int rc = idx && owner && count && m ? WM_OK : WM_ENOMEM;
    for (size_t i = 0; rc == WM_OK && i < n; i++)
        idx[i] = (uint32_t)i;
    call->idx = idx;
    call->nidx = n;
    if (rc == WM_OK && wm__gd_call_check(call, &why) != WM_OK) {
        set_error(c, "%s", why);
        rc = WM_EINVAL;
    }
    for (size_t i = 0; rc == WM_OK && i < n; i++) {
        owner[i] = (uint32_t)wm__gd_ring_find(&c->ring, call->keys[i], strlen(call->keys[i]));
        if (count[owner[i]]++ == 0)
            rc = srv_usable(c, &c->srv[owner[i]]);
    }
    if (rc == WM_OK) {
        m->cb = cb;
        m->user_data = user_data;
        m->is_mget = call->op == WM_GD_OP_MGET;
        wm__gd_merge_init(&m->merge);
        /* An empty call still asks one server, so the callback runs from the loop. */
        if (n == 0) {
            count[0] = 1;
            rc = srv_usable(c, &c->srv[0]);
        }
        for (size_t s = 0; rc == WM_OK && s < c->nsrv; s++) {
            if (!count[s])
                continue;
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (owner[i] == s)
                    idx[k++] = (uint32_t)i;
            call->nidx = k;
            m->parts++;
            if (start_on(c, &c->srv[s], call, NULL, NULL, m) != WM_OK) {
                m->parts--;
                rc = WM_ENOMEM; /* the parts already sent answer, then the callback runs */
                m->status = WM_ENOMEM;
                snprintf(m->reason, sizeof m->reason, "out of memory sending a part");
                break;
            }
        }
        if (m->parts > 0)
            rc = WM_OK, m = NULL; /* owned by its parts now */
        else
            wm__gd_merge_destroy(&m->merge);
    }
    free(idx);
    free(owner);
    free(count);
    free(m);
    return rc;
}

/* ---- The API ------------------------------------------------------------- */

wm_gd_client_t *wm_gd_client_new(const wm_gd_options_t *opt)
{
    if (!opt || !opt->servers || opt->server_count == 0) {
        wm_log_error("globaldata client: no servers given");
        return NULL;
    }
    wm_gd_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : WM_GD_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms =
        opt->connect_timeout_ms ? opt->connect_timeout_ms : WM_GD_DEFAULT_CONNECT_TIMEOUT_MS;
    c->retry_min_ms = opt->retry_min_ms ? opt->retry_min_ms : WM_GD_DEFAULT_RETRY_MIN_MS;
    c->retry_max_ms = opt->retry_max_ms ? opt->retry_max_ms : WM_GD_DEFAULT_RETRY_MAX_MS;
    c->next_id = 1;
    msgpack_sbuffer_init(&c->sb);
    msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
    c->srv = calloc(opt->server_count, sizeof *c->srv);
    c->auth = opt->auth ? strdup(opt->auth) : NULL;
    if (!c->srv || (opt->auth && !c->auth))
        goto fail;
    c->nsrv = opt->server_count;
    for (size_t i = 0; i < c->nsrv; i++) {
        gd_srv_t *s = &c->srv[i];
        s->client = c;
        s->index = i;
        s->state = SRV_DOWN;
        if (!opt->servers[i] || wm__svc_addr_parse(opt->servers[i], &s->addr) != WM_OK) {
            wm_log_error("globaldata client: bad server address '%s'",
                         opt->servers[i] ? opt->servers[i] : "(null)");
            goto fail;
        }
        if (!(s->name = strdup(opt->servers[i])))
            goto fail;
    }
    if (wm__gd_ring_build(&c->ring, opt->servers, c->nsrv,
                          opt->vnodes ? opt->vnodes : WM_GD_DEFAULT_VNODES) != WM_OK)
        goto fail;
    for (size_t i = 0; i < c->nsrv; i++)
        srv_connect(&c->srv[i]);
    return c;
fail:
    client_destroy(c);
    return NULL;
}

/* Cancels everything: callbacks run with WM_ECANCELED. */
static void cancel_all(wm_gd_client_t *c)
{
    for (size_t i = 0; i < c->nsrv; i++) {
        gd_srv_t *s = &c->srv[i];
        fail_all(s, WM_ECANCELED, "the client was closed");
        if (s->retry_timer)
            wm_timer_del(s->retry_timer);
        s->retry_timer = 0;
        if (s->conn) {
            wm_conn_t *conn = s->conn;
            s->conn = NULL; /* its on_close now ignores it */
            wm_conn_destroy(conn);
        }
    }
    if (c->tick)
        wm_timer_del(c->tick);
    c->tick = 0;
}

static void client_destroy(wm_gd_client_t *c)
{
    for (size_t i = 0; c->srv && i < c->nsrv; i++)
        free(c->srv[i].name);
    free(c->srv);
    free(c->auth);
    wm__gd_ring_free(&c->ring);
    msgpack_sbuffer_destroy(&c->sb);
    free(c);
}

void wm_gd_client_free(wm_gd_client_t *c)
{
    if (!c || c->dead)
        return;
    c->dead = true;
    enter(c);
    cancel_all(c);
    leave(c);
}

void wm_gd_client_set_timeout(wm_gd_client_t *c, uint64_t ms)
{
    if (c && ms) {
        c->timeout_ms = ms;
        if (c->tick) { /* a shorter deadline may need a faster tick */
            wm_timer_del(c->tick);
            c->tick = 0;
            if (c->pending)
                arm_tick(c);
        }
    }
}

const char *wm_gd_client_last_error(const wm_gd_client_t *c)
{
    return c ? c->error : "";
}

size_t wm_gd_client_server_count(const wm_gd_client_t *c)
{
    return c->nsrv;
}

size_t wm_gd_client_server_of(const wm_gd_client_t *c, const char *key)
{
    return wm__gd_ring_find(&c->ring, key, strlen(key));
}

const char *wm_gd_client_server_url(const wm_gd_client_t *c, size_t index)
{
    return index < c->nsrv ? c->srv[index].name : NULL;
}

bool wm_gd_client_server_up(const wm_gd_client_t *c, size_t index)
{
    return index < c->nsrv && c->srv[index].state == SRV_UP;
}

int wm_gd_get(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_GET, .key = key};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_set(wm_gd_client_t *c, const char *key, wm_gd_val_t value, uint64_t ttl_ms, wm_gd_cb cb,
              void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_SET, .key = key, .v1 = &value, .ttl_ms = ttl_ms};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_add(wm_gd_client_t *c, const char *key, wm_gd_val_t value, uint64_t ttl_ms, wm_gd_cb cb,
              void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_ADD, .key = key, .v1 = &value, .ttl_ms = ttl_ms};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_cas(wm_gd_client_t *c, const char *key, wm_gd_val_t expected, wm_gd_val_t value,
              uint64_t ttl_ms, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {
        .op = WM_GD_OP_CAS, .key = key, .v1 = &expected, .v2 = &value, .ttl_ms = ttl_ms};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_increment(wm_gd_client_t *c, const char *key, int64_t step, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_INCR, .key = key, .num = step};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_delete(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_DELETE, .key = key};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_exists(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_EXISTS, .key = key};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_ttl(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_TTL, .key = key};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_expire(wm_gd_client_t *c, const char *key, uint64_t ttl_ms, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_EXPIRE, .key = key, .ttl_ms = ttl_ms};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_persist(wm_gd_client_t *c, const char *key, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_PERSIST, .key = key};
    return start_key(c, &call, cb, user_data);
}

int wm_gd_mget(wm_gd_client_t *c, const char *const *keys, size_t n, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_MGET, .keys = keys};
    return start_multi(c, &call, n, cb, user_data);
}

int wm_gd_mset(wm_gd_client_t *c, const char *const *keys, const wm_gd_val_t *values, size_t n,
               uint64_t ttl_ms, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_MSET, .keys = keys, .vals = values, .ttl_ms = ttl_ms};
    return start_multi(c, &call, n, cb, user_data);
}

int wm_gd_keys(wm_gd_client_t *c, size_t server, const char *prefix, const char *cursor,
               size_t count, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {
        .op = WM_GD_OP_KEYS, .prefix = prefix, .cursor = cursor, .num = (int64_t)count};
    return start_server(c, server, &call, cb, user_data);
}

int wm_gd_stats(wm_gd_client_t *c, size_t server, wm_gd_cb cb, void *user_data)
{
    wm__gd_call_t call = {.op = WM_GD_OP_STATS};
    return start_server(c, server, &call, cb, user_data);
}
