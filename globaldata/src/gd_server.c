/* SPDX-License-Identifier: MIT */
/* globaldata-server's logic on the wm loop: one frame:// worker (one
 * process, not reloadable, so a project-wide reload keeps the data), its
 * connections, the operations, and the replies that wait for durability.
 *
 * Replies and durability. With --durability full a reply may only leave once
 * nothing it could reveal can still be lost: every reply produced after a
 * client write waits until that write's transaction has committed (the
 * writer thread, gd_persist.c, reports commits). Reads wait too, as Redis's
 * replies wait for its fsync, so no client ever sees a value that a crash
 * could take back. Replies on one connection leave in request order: a
 * connection's waiting replies sit in `frames`, with `marks` saying up to
 * which byte each needed sequence number reaches; a commit releases the
 * prefix it covers in one write. A connection with more than HELD_MAX bytes
 * waiting stops being read until they drain, so memory stays bounded.
 *
 * Formats. Each connection picks its wire format from its first frame
 * (detect_format): a MessagePack array is this server's protocol
 * (docs/protocol.md); a PHP serialize() body ("a:..." or "ping") is
 * walkor/GlobalData's, served by handle_php_frame() on the same store and
 * under the same durability rules (php_serial.c converts the values). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gd_int.h"
#include "php_serial.h"
#include "svc_cli.h"

#define HELD_MAX (4 * 1024 * 1024) /* waiting reply bytes before reading pauses */
#define SWEEP_MS 100               /* active expiry: how often */
#define SWEEP_BUDGET 10000         /* active expiry: keys per run at most */
#define SEND_BUFFER (16 * 1024 * 1024)

enum { FMT_UNKNOWN, FMT_MSGPACK, FMT_PHP };
enum { PAUSE_HELD = 1, PAUSE_SENDQ = 2 };

typedef struct mark {
    uint64_t seq; /* the commit these bytes wait for */
    size_t end;   /* ... up to this offset of frames */
} mark_t;

typedef struct gd_client gd_client_t;
struct gd_client {
    wm_conn_t *conn;
    int format;
    bool authed;
    bool close_when_sent; /* close once the waiting replies are out */
    unsigned paused;      /* PAUSE_* bits */
    char *frames;         /* waiting replies, framed */
    size_t frames_off, frames_len, frames_cap;
    mark_t *marks;
    size_t marks_head, marks_len, marks_cap;
    gd_client_t *wprev, *wnext; /* in srv.waiting while replies wait */
    bool waiting;
};

typedef struct gd_server {
    const wm__gd_config_t *cfg;
    wm__gd_store_t *store;
    wm__gd_persist_t *persist;
    bool hold_replies; /* durability full with a data file */
    uint64_t need_seq; /* sequence number of the last client write */
    msgpack_sbuffer sb;
    msgpack_sbuffer value; /* a PHP value packed as MessagePack */
    msgpack_zone zone;     /* PHP requests and stored values, unpacked */
    msgpack_packer pk;
    wm_timer_id_t sweep;
    gd_client_t *waiting;
    int64_t started_ms;
    uint64_t connections, requests, hits, misses, errors;
} gd_server_t;

static gd_server_t srv;

/* ---- Replies ------------------------------------------------------------- */

static void reply_error(const wm__gd_req_t *r, uint32_t status, const char *msg)
{
    srv.errors++;
    wm__gd_resp_error(&srv.pk, &r->id, status, msg);
}

static void reply_ok(const wm__gd_req_t *r)
{
    wm__gd_resp_begin(&srv.pk, r->id, WM_GD_OK);
}

static void set_pause(gd_client_t *c, unsigned why, bool on)
{
    unsigned before = c->paused;
    c->paused = on ? c->paused | why : c->paused & ~why;
    if (!before && c->paused)
        wm_conn_pause_recv(c->conn);
    else if (before && !c->paused)
        wm_conn_resume_recv(c->conn);
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return WM_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *b = realloc(*buf, n * elem);
    if (!b)
        return WM_ENOMEM;
    *buf = b;
    *cap = n;
    return WM_OK;
}

static void waiting_add(gd_client_t *c)
{
    if (c->waiting)
        return;
    c->waiting = true;
    c->wprev = NULL;
    c->wnext = srv.waiting;
    if (srv.waiting)
        srv.waiting->wprev = c;
    srv.waiting = c;
}

static void waiting_remove(gd_client_t *c)
{
    if (!c->waiting)
        return;
    c->waiting = false;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        srv.waiting = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
}

static void send_checked(gd_client_t *c, int (*send)(wm_conn_t *, const void *, size_t),
                         const void *data, size_t len)
{
    /* A dropped reply would break the request/response pairing: end the
     * connection instead (the send queue limit is far above what pausing
     * lets accumulate, so this means a client that stopped reading). */
    if (send(c->conn, data, len) == WM_ENOBUFS)
        wm_conn_destroy(c->conn);
}

/* Keeps the reply in srv.sb until `seq` has committed. */
static void hold_reply(gd_client_t *c, uint64_t seq)
{
    size_t n = srv.sb.size;
    if (grow((void **)&c->frames, &c->frames_cap, c->frames_len + 4 + n, 1) != WM_OK ||
        grow((void **)&c->marks, &c->marks_cap, c->marks_len + 1, sizeof *c->marks) != WM_OK) {
        wm_log_error("globaldata: out of memory holding a reply; closing connection %llu",
                     (unsigned long long)wm_conn_id(c->conn));
        wm_conn_destroy(c->conn);
        return;
    }
    uint32_t total = (uint32_t)(n + 4);
    unsigned char *h = (unsigned char *)c->frames + c->frames_len;
    h[0] = (unsigned char)(total >> 24);
    h[1] = (unsigned char)(total >> 16);
    h[2] = (unsigned char)(total >> 8);
    h[3] = (unsigned char)total;
    memcpy(h + 4, srv.sb.data, n);
    c->frames_len += 4 + n;
    if (c->marks_len > c->marks_head && c->marks[c->marks_len - 1].seq == seq)
        c->marks[c->marks_len - 1].end = c->frames_len;
    else
        c->marks[c->marks_len++] = (mark_t){seq, c->frames_len};
    waiting_add(c);
    if (c->frames_len - c->frames_off > HELD_MAX)
        set_pause(c, PAUSE_HELD, true);
}

/* Sends the waiting replies whose writes have committed. */
static void release_replies(gd_client_t *c, uint64_t committed)
{
    size_t end = c->frames_off;
    while (c->marks_head < c->marks_len && c->marks[c->marks_head].seq <= committed)
        end = c->marks[c->marks_head++].end;
    if (end > c->frames_off) {
        size_t off = c->frames_off;
        c->frames_off = end;
        send_checked(c, wm_conn_send_raw, c->frames + off, end - off);
    }
    if (c->marks_head == c->marks_len) {
        c->frames_off = c->frames_len = 0;
        c->marks_head = c->marks_len = 0;
        waiting_remove(c);
        if (c->close_when_sent) {
            wm_conn_close(c->conn);
            return;
        }
    }
    if (c->frames_len - c->frames_off <= HELD_MAX / 2)
        set_pause(c, PAUSE_HELD, false);
}

static void on_commit(uint64_t committed, void *user_data)
{
    gd_client_t *c = srv.waiting, *next;
    for (; c; c = next) {
        next = c->wnext;
        release_replies(c, committed);
    }
}

/* The reply in srv.sb is complete: send it now, or hold it while a write it
 * may reveal is not yet durable (or an earlier reply still waits). */
static void reply_done(gd_client_t *c)
{
    if (srv.hold_replies) {
        uint64_t committed = wm__gd_persist_committed(srv.persist);
        if (srv.need_seq > committed || c->marks_len > c->marks_head) {
            hold_reply(c, srv.need_seq);
            return;
        }
    }
    send_checked(c, wm_conn_send, srv.sb.data, srv.sb.size);
}

/* ---- Writes reach the data file ------------------------------------------ */

static void persist_entry(const wm__gd_entry_t *e)
{
    if (!srv.persist)
        return;
    size_t klen, vlen;
    const char *k = wm__gd_entry_key(e, &klen);
    const char *v = wm__gd_entry_value(e, &vlen);
    uint64_t seq = wm__gd_persist_put(srv.persist, k, klen, v, vlen, wm__gd_entry_expire(e));
    if (seq)
        srv.need_seq = seq;
    else
        wm_log_error("globaldata: out of memory queueing a write for the data file");
}

static void persist_delete(const char *key, size_t klen)
{
    if (!srv.persist)
        return;
    uint64_t seq = wm__gd_persist_del(srv.persist, key, klen);
    if (seq)
        srv.need_seq = seq;
    else
        wm_log_error("globaldata: out of memory queueing a delete for the data file");
}

/* An expired key leaves the file too. The reply that noticed the expiry
 * need not wait for it (a lost delete of an expired key changes nothing a
 * client can see), so need_seq stays. */
static void on_expired(const char *key, size_t klen, void *user_data)
{
    if (srv.persist && !wm__gd_persist_del(srv.persist, key, klen))
        wm_log_error("globaldata: out of memory queueing an expiry for the data file");
}

/* ---- Arguments ----------------------------------------------------------- */

static bool arg_key(const wm__gd_req_t *r, uint32_t i, const char **key, size_t *klen)
{
    if (wm__mp_span_str(r->argv[i], key, klen) != WM_OK) {
        reply_error(r, WM_GD_BAD_REQUEST, "a key is a MessagePack str");
        return false;
    }
    if (*klen > WM_GD_MAX_KEY) {
        reply_error(r, WM_GD_TOO_LARGE, "the key is longer than 1024 bytes");
        return false;
    }
    return true;
}

static bool value_ok(const wm__gd_req_t *r, wm__mp_span_t v)
{
    if (v.n > srv.cfg->max_value) {
        reply_error(r, WM_GD_TOO_LARGE, "the value is larger than the server's max value");
        return false;
    }
    return true;
}

/* A TTL in milliseconds: `optional` lets it be absent or nil (no expiry,
 * *expire_at = 0). */
static bool arg_ttl(const wm__gd_req_t *r, uint32_t i, bool optional, int64_t now,
                    int64_t *expire_at)
{
    *expire_at = 0;
    if (optional && (i >= r->argc || wm__mp_span_is_nil(r->argv[i])))
        return true;
    int64_t ttl;
    if (i >= r->argc || wm__mp_span_int64(r->argv[i], &ttl) != WM_OK || ttl <= 0 ||
        (uint64_t)ttl > WM_GD_MAX_TTL_MS) {
        reply_error(r, WM_GD_BAD_REQUEST,
                    "a ttl is a positive integer of milliseconds (at most 100 years)");
        return false;
    }
    *expire_at = now + ttl;
    return true;
}

static wm__gd_entry_t *find(const char *key, size_t klen, int64_t now)
{
    wm__gd_entry_t *e = wm__gd_store_find(srv.store, key, klen, now);
    e ? srv.hits++ : srv.misses++;
    return e;
}

static void pack_raw(const char *p, size_t n)
{
    msgpack_sbuffer_write(&srv.sb, p, n);
}

static void pack_value(const wm__gd_entry_t *e)
{
    size_t vlen;
    const char *v = wm__gd_entry_value(e, &vlen);
    pack_raw(v, vlen);
}

/* ---- Operations ---------------------------------------------------------- */

static void op_ping(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    reply_ok(r);
    msgpack_pack_str_with_body(&srv.pk, "pong", 4);
}

static bool secret_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0 && blen > 0;
}

static void op_auth(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *s;
    size_t n;
    if (wm__mp_span_str(r->argv[0], &s, &n) != WM_OK) {
        reply_error(r, WM_GD_BAD_REQUEST, "auth takes the secret as a str");
        return;
    }
    if (srv.cfg->auth && !secret_equal(s, n, srv.cfg->auth)) {
        /* No second guess on this connection. */
        reply_error(r, WM_GD_AUTH_FAILED, "wrong secret");
        c->close_when_sent = true;
        return;
    }
    c->authed = true;
    reply_ok(r);
    msgpack_pack_true(&srv.pk);
}

static void op_get(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *k;
    size_t kl;
    if (!arg_key(r, 0, &k, &kl))
        return;
    wm__gd_entry_t *e = find(k, kl, now);
    if (!e) {
        wm__gd_resp_begin(&srv.pk, r->id, WM_GD_NOT_FOUND);
        msgpack_pack_nil(&srv.pk);
        return;
    }
    reply_ok(r);
    pack_value(e);
}

/* set and add: [key, value, ttl?]. */
static void store_value(const wm__gd_req_t *r, int64_t now, bool only_if_absent)
{
    const char *k;
    size_t kl;
    int64_t exp;
    if (!arg_key(r, 0, &k, &kl) || !value_ok(r, r->argv[1]) || !arg_ttl(r, 2, true, now, &exp))
        return;
    if (only_if_absent && find(k, kl, now)) {
        wm__gd_resp_begin(&srv.pk, r->id, WM_GD_EXISTS);
        msgpack_pack_nil(&srv.pk);
        return;
    }
    wm__gd_entry_t *e = wm__gd_store_put(srv.store, k, kl, r->argv[1].p, r->argv[1].n, exp);
    if (!e) {
        reply_error(r, WM_GD_INTERNAL, "out of memory");
        return;
    }
    persist_entry(e);
    reply_ok(r);
    msgpack_pack_nil(&srv.pk);
}

static void op_set(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    store_value(r, now, false);
}

static void op_add(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    store_value(r, now, true);
}

static void not_found(const wm__gd_req_t *r)
{
    wm__gd_resp_begin(&srv.pk, r->id, WM_GD_NOT_FOUND);
    msgpack_pack_nil(&srv.pk);
}

/* The live entry named by argument 0, or NULL once the error (a bad key, or
 * NOT_FOUND with nil) has been packed. */
static wm__gd_entry_t *arg_existing(const wm__gd_req_t *r, int64_t now)
{
    const char *k;
    size_t kl;
    if (!arg_key(r, 0, &k, &kl))
        return NULL;
    wm__gd_entry_t *e = find(k, kl, now);
    if (!e)
        not_found(r);
    return e;
}

static void op_cas(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    int64_t exp;
    wm__gd_entry_t *e;
    if (!value_ok(r, r->argv[2]) || !arg_ttl(r, 3, true, now, &exp) || !(e = arg_existing(r, now)))
        return;
    size_t vlen;
    const char *v = wm__gd_entry_value(e, &vlen);
    if (!wm__mp_equal((wm__mp_span_t){v, vlen}, r->argv[1])) {
        wm__gd_resp_begin(&srv.pk, r->id, WM_GD_MISMATCH);
        pack_raw(v, vlen);
        return;
    }
    if (wm__gd_store_set_value(srv.store, e, r->argv[2].p, r->argv[2].n) != WM_OK) {
        reply_error(r, WM_GD_INTERNAL, "out of memory");
        return;
    }
    if (exp)
        wm__gd_store_set_expire(srv.store, e, exp);
    persist_entry(e);
    reply_ok(r);
    msgpack_pack_nil(&srv.pk);
}

/* msgpack_packer output into a fixed buffer (an integer needs at most 9). */
typedef struct fixed_buf {
    char data[16];
    size_t len;
} fixed_buf_t;

static int fixed_write(void *data, const char *buf, size_t len)
{
    fixed_buf_t *f = data;
    if (f->len + len > sizeof f->data)
        return -1;
    memcpy(f->data + f->len, buf, len);
    f->len += len;
    return 0;
}

static void op_incr(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *k;
    size_t kl;
    int64_t step = 1, cur, next;
    if (!arg_key(r, 0, &k, &kl))
        return;
    if (r->argc > 1 && wm__mp_span_int64(r->argv[1], &step) != WM_OK) {
        reply_error(r, WM_GD_BAD_REQUEST, "the step is an integer that fits in int64");
        return;
    }
    wm__gd_entry_t *e = find(k, kl, now);
    if (!e) {
        reply_error(r, WM_GD_NOT_FOUND, "no such key");
        return;
    }
    size_t vlen;
    const char *v = wm__gd_entry_value(e, &vlen);
    if (wm__mp_span_int64((wm__mp_span_t){v, vlen}, &cur) != WM_OK) {
        reply_error(r, WM_GD_NOT_INTEGER, "the value is not an integer that fits in int64");
        return;
    }
    if (__builtin_add_overflow(cur, step, &next)) {
        reply_error(r, WM_GD_OVERFLOW, "the result would not fit in int64");
        return;
    }
    fixed_buf_t fb = {.len = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_write);
    msgpack_pack_int64(&pk, next);
    if (wm__gd_store_set_value(srv.store, e, fb.data, fb.len) != WM_OK) {
        reply_error(r, WM_GD_INTERNAL, "out of memory");
        return;
    }
    persist_entry(e);
    reply_ok(r);
    msgpack_pack_int64(&srv.pk, next);
}

static void op_delete(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *k;
    size_t kl;
    if (!arg_key(r, 0, &k, &kl))
        return;
    wm__gd_entry_t *e = find(k, kl, now);
    if (e) {
        persist_delete(k, kl);
        wm__gd_store_delete(srv.store, e);
    }
    reply_ok(r);
    e ? msgpack_pack_true(&srv.pk) : msgpack_pack_false(&srv.pk);
}

static void op_exists(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *k;
    size_t kl;
    if (!arg_key(r, 0, &k, &kl))
        return;
    wm__gd_entry_t *e = find(k, kl, now);
    reply_ok(r);
    e ? msgpack_pack_true(&srv.pk) : msgpack_pack_false(&srv.pk);
}

/* Reads the head of a container argument; false (and an error reply) when
 * it is not one of `kind`. */
static bool arg_container(const wm__gd_req_t *r, uint32_t i, wm__mp_kind_t kind, const char **p,
                          uint32_t *n, const char *msg)
{
    wm__mp_head_t h;
    *p = r->argv[i].p;
    wm__mp_head(p, &h);
    if (h.kind != kind) {
        reply_error(r, WM_GD_BAD_REQUEST, msg);
        return false;
    }
    *n = h.len;
    return true;
}

static void op_mget(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *p, *start;
    uint32_t n, found = 0;
    if (!arg_container(r, 0, WM_MP_ARRAY, &p, &n, "mget takes an array of keys"))
        return;
    start = p;
    /* First pass: check every key and count the live ones (expired keys are
     * deleted here, so the second pass sees the same set). */
    for (uint32_t i = 0; i < n; i++) {
        wm__mp_head_t h;
        wm__mp_head(&p, &h);
        if (h.kind != WM_MP_STR || h.len > WM_GD_MAX_KEY) {
            reply_error(r, h.kind != WM_MP_STR ? WM_GD_BAD_REQUEST : WM_GD_TOO_LARGE,
                        "mget: every key is a str of at most 1024 bytes");
            return;
        }
        if (h.kind == WM_MP_STR)
            found += find(h.data, h.len, now) != NULL;
    }
    reply_ok(r);
    msgpack_pack_map(&srv.pk, found);
    p = start;
    for (uint32_t i = 0; i < n && found > 0; i++) {
        const char *key_at = p;
        wm__mp_head_t h;
        wm__mp_head(&p, &h);
        wm__gd_entry_t *e = wm__gd_store_find(srv.store, h.data, h.len, now);
        if (!e)
            continue;
        pack_raw(key_at, (size_t)(p - key_at));
        pack_value(e);
        found--;
    }
}

static void op_mset(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *p, *start;
    uint32_t n;
    int64_t exp;
    if (!arg_container(r, 0, WM_MP_MAP, &p, &n, "mset takes a map of keys to values") ||
        !arg_ttl(r, 1, true, now, &exp))
        return;
    start = p;
    /* Check everything before changing anything. */
    for (uint32_t i = 0; i < n; i++) {
        wm__mp_head_t h;
        wm__mp_head(&p, &h);
        if (h.kind != WM_MP_STR || h.len > WM_GD_MAX_KEY) {
            reply_error(r, h.kind != WM_MP_STR ? WM_GD_BAD_REQUEST : WM_GD_TOO_LARGE,
                        "mset: every key is a str of at most 1024 bytes");
            return;
        }
        const char *v = p;
        wm__mp_skip(&p);
        if (!value_ok(r, (wm__mp_span_t){v, (size_t)(p - v)}))
            return;
    }
    p = start;
    for (uint32_t i = 0; i < n; i++) {
        wm__mp_head_t h;
        wm__mp_head(&p, &h);
        const char *v = p;
        wm__mp_skip(&p);
        wm__gd_entry_t *e = wm__gd_store_put(srv.store, h.data, h.len, v, (size_t)(p - v), exp);
        if (!e) {
            reply_error(r, WM_GD_INTERNAL, "out of memory (some keys were set)");
            return;
        }
        persist_entry(e);
    }
    reply_ok(r);
    msgpack_pack_nil(&srv.pk);
}

static void op_ttl(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    wm__gd_entry_t *e = arg_existing(r, now);
    if (!e)
        return;
    int64_t exp = wm__gd_entry_expire(e);
    reply_ok(r);
    if (exp == 0)
        msgpack_pack_nil(&srv.pk);
    else
        msgpack_pack_int64(&srv.pk, exp - now);
}

static void op_expire(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    int64_t exp;
    wm__gd_entry_t *e;
    if (!arg_ttl(r, 1, false, now, &exp) || !(e = arg_existing(r, now)))
        return;
    wm__gd_store_set_expire(srv.store, e, exp);
    persist_entry(e);
    reply_ok(r);
    msgpack_pack_nil(&srv.pk);
}

static void op_persist(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    wm__gd_entry_t *e = arg_existing(r, now);
    if (!e)
        return;
    bool had = wm__gd_entry_expire(e) != 0;
    if (had) {
        wm__gd_store_set_expire(srv.store, e, 0);
        persist_entry(e);
    }
    reply_ok(r);
    had ? msgpack_pack_true(&srv.pk) : msgpack_pack_false(&srv.pk);
}

typedef struct key_list {
    wm__mp_span_t keys[WM_GD_KEYS_MAX];
    size_t n;
} key_list_t;

static void collect_key(const char *key, size_t klen, void *user_data)
{
    key_list_t *l = user_data;
    l->keys[l->n++] = (wm__mp_span_t){key, klen};
}

/* keys [prefix?, cursor?, count?]: nil stands for an absent argument. */
static void op_keys(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    const char *prefix = "", *cursor = NULL;
    size_t plen = 0, clen = 0;
    int64_t count = WM_GD_KEYS_DEFAULT;
    if (r->argc > 0 && !wm__mp_span_is_nil(r->argv[0]) &&
        wm__mp_span_str(r->argv[0], &prefix, &plen) != WM_OK) {
        reply_error(r, WM_GD_BAD_REQUEST, "keys: the prefix is a str or nil");
        return;
    }
    if (r->argc > 1 && !wm__mp_span_is_nil(r->argv[1]) &&
        wm__mp_span_str(r->argv[1], &cursor, &clen) != WM_OK) {
        reply_error(r, WM_GD_BAD_REQUEST, "keys: the cursor is a str or nil");
        return;
    }
    if (r->argc > 2 && !wm__mp_span_is_nil(r->argv[2]) &&
        (wm__mp_span_int64(r->argv[2], &count) != WM_OK || count < 1 || count > WM_GD_KEYS_MAX)) {
        reply_error(r, WM_GD_BAD_REQUEST, "keys: the count is an integer from 1 to 1000");
        return;
    }
    static key_list_t list;
    const char *next = NULL;
    size_t next_len = 0;
    list.n = 0;
    bool more = wm__gd_store_scan(srv.store, prefix, plen, cursor, clen, (size_t)count, now,
                                  collect_key, &list, &next, &next_len);
    reply_ok(r);
    msgpack_pack_array(&srv.pk, 2);
    if (more)
        msgpack_pack_str_with_body(&srv.pk, next, next_len);
    else
        msgpack_pack_nil(&srv.pk);
    msgpack_pack_array(&srv.pk, (uint32_t)list.n);
    for (size_t i = 0; i < list.n; i++)
        msgpack_pack_str_with_body(&srv.pk, list.keys[i].p, list.keys[i].n);
}

static void pack_stat(const char *name, uint64_t v)
{
    msgpack_pack_str_with_body(&srv.pk, name, strlen(name));
    msgpack_pack_uint64(&srv.pk, v);
}

static const char *durability_name(void)
{
    if (srv.cfg->memory)
        return "memory";
    return srv.cfg->durability == WM_GD_DURABILITY_FULL     ? "full"
           : srv.cfg->durability == WM_GD_DURABILITY_NORMAL ? "normal"
                                                            : "none";
}

static void op_stats(gd_client_t *c, const wm__gd_req_t *r, int64_t now)
{
    wm__gd_persist_stats_t ps = {0};
    if (srv.persist)
        wm__gd_persist_get_stats(srv.persist, &ps);
    reply_ok(r);
    msgpack_pack_map(&srv.pk, 18);
    msgpack_pack_str_with_body(&srv.pk, "version", 7);
    msgpack_pack_str_with_body(&srv.pk, WM_VERSION, strlen(WM_VERSION));
    msgpack_pack_str_with_body(&srv.pk, "durability", 10);
    msgpack_pack_str_with_body(&srv.pk, durability_name(), strlen(durability_name()));
    pack_stat("pid", (uint64_t)getpid());
    pack_stat("uptime_ms", (uint64_t)(now - srv.started_ms));
    pack_stat("keys", wm__gd_store_count(srv.store));
    pack_stat("expiring", wm__gd_store_expiring(srv.store));
    pack_stat("bytes", wm__gd_store_bytes(srv.store));
    pack_stat("expired", wm__gd_store_expired_total(srv.store));
    pack_stat("connections", c ? wm_worker_conn_count(wm_conn_worker(c->conn)) : 0);
    pack_stat("connections_total", srv.connections);
    pack_stat("requests", srv.requests);
    pack_stat("hits", srv.hits);
    pack_stat("misses", srv.misses);
    pack_stat("errors", srv.errors);
    pack_stat("persist_queued", ps.queued);
    pack_stat("persist_commits", ps.commits);
    pack_stat("persist_rows", ps.rows);
    pack_stat("persist_failures", ps.failures);
}

typedef void (*op_fn)(gd_client_t *c, const wm__gd_req_t *r, int64_t now);
static const op_fn op_table[WM_GD_OP_COUNT] = {
    [WM_GD_OP_PING] = op_ping,     [WM_GD_OP_AUTH] = op_auth,       [WM_GD_OP_GET] = op_get,
    [WM_GD_OP_SET] = op_set,       [WM_GD_OP_ADD] = op_add,         [WM_GD_OP_CAS] = op_cas,
    [WM_GD_OP_INCR] = op_incr,     [WM_GD_OP_DELETE] = op_delete,   [WM_GD_OP_EXISTS] = op_exists,
    [WM_GD_OP_MGET] = op_mget,     [WM_GD_OP_MSET] = op_mset,       [WM_GD_OP_TTL] = op_ttl,
    [WM_GD_OP_EXPIRE] = op_expire, [WM_GD_OP_PERSIST] = op_persist, [WM_GD_OP_KEYS] = op_keys,
    [WM_GD_OP_STATS] = op_stats,
};

/* ---- Connections and frames ---------------------------------------------- */

/* The per-connection format switch: the first frame decides. */
static int detect_format(const char *data, size_t len)
{
    unsigned char b = len ? (unsigned char)data[0] : 0;
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
        return FMT_MSGPACK;
    if ((len >= 2 && data[0] == 'a' && data[1] == ':') || (len == 4 && !memcmp(data, "ping", 4)))
        return FMT_PHP;
    return FMT_MSGPACK; /* and the decoder explains what is wrong */
}

/* Sends (or holds) the reply in srv.sb, then closes when the request asked
 * for it: at once, or after the held replies before it have gone out. */
static void finish_reply(gd_client_t *c)
{
    reply_done(c);
    if (c->close_when_sent && c->marks_len == c->marks_head)
        wm_conn_close(c->conn);
    else if (c->close_when_sent)
        set_pause(c, PAUSE_HELD, true); /* read nothing more; close after the release */
}

/* ---- walkor/GlobalData's format (PHP serialize() in frames) -------------- */

/* Workerman's GlobalData client sends serialize(['cmd' => ..., 'key' => ...,
 * 'value' | 'step' | 'md5' => ...]) in a frame and reads serialize() of the
 * result (docs/protocol.md, "Workerman clients"). Values are kept as
 * MessagePack (wm__php_unserialize maps them), so PHP and MessagePack clients
 * share every key. What the original server does with isset() is kept: a
 * field that is absent or null counts as missing, and so does a stored nil
 * for add and increment. */

#define PHP_KEY_NUM 24 /* an integer key as text */

typedef struct php_req {
    const msgpack_object *cmd, *value, *step, *md5;
    const char *key;
    size_t klen;
    char num[PHP_KEY_NUM];
} php_req_t;

/* Sends serialize(text) and closes once the replies before it are out. */
static void php_refuse(gd_client_t *c, const char *text)
{
    char buf[160];
    int n = snprintf(buf, sizeof buf, "s:%zu:\"%s\";", strlen(text), text);
    srv.errors++;
    msgpack_sbuffer_clear(&srv.sb);
    msgpack_sbuffer_write(&srv.sb, buf, (size_t)n);
    c->close_when_sent = true;
}

static void php_reply_bytes(const char *bytes)
{
    msgpack_sbuffer_clear(&srv.sb);
    msgpack_sbuffer_write(&srv.sb, bytes, strlen(bytes));
}

/* serialize(o); a value with no PHP form (ext, a map with a non-scalar key)
 * reads as null, as a key that is not there. */
static void php_reply_object(const msgpack_object *o)
{
    msgpack_sbuffer_clear(&srv.sb);
    if (wm__php_serialize(o, &srv.sb) != WM_OK)
        php_reply_bytes("N;");
}

/* A field of the request array; NULL when absent or null (PHP's isset). */
static const msgpack_object *php_field(const msgpack_object *map, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, name, n) == 0)
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
    }
    return NULL;
}

/* Reads cmd and key; false when the request is not one (a bad request). */
static bool php_parse(const msgpack_object *o, php_req_t *r)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return false;
    const msgpack_object *key = php_field(o, "key");
    r->cmd = php_field(o, "cmd");
    r->value = php_field(o, "value");
    r->step = php_field(o, "step");
    r->md5 = php_field(o, "md5");
    if (!r->cmd || r->cmd->type != MSGPACK_OBJECT_STR || !key)
        return false;
    /* A PHP array index: an integer key is the same key as its decimal text. */
    if (key->type == MSGPACK_OBJECT_STR) {
        r->key = key->via.str.ptr;
        r->klen = key->via.str.size;
    } else if (key->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
               key->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        int n = key->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                    ? snprintf(r->num, sizeof r->num, "%llu", (unsigned long long)key->via.u64)
                    : snprintf(r->num, sizeof r->num, "%lld", (long long)key->via.i64);
        r->key = r->num;
        r->klen = (size_t)n;
    } else {
        return false;
    }
    return r->klen <= WM_GD_MAX_KEY;
}

static bool php_cmd_is(const php_req_t *r, const char *name)
{
    size_t n = strlen(name);
    return r->cmd->via.str.size == n && memcmp(r->cmd->via.str.ptr, name, n) == 0;
}

/* The stored value as a msgpack object in srv.zone; false when it cannot be
 * unpacked (it always can: values are checked when they are stored). */
static bool php_stored(const wm__gd_entry_t *e, msgpack_object *out)
{
    size_t vlen, off = 0;
    const char *v = wm__gd_entry_value(e, &vlen);
    return msgpack_unpack(v, vlen, &off, &srv.zone, out) == MSGPACK_UNPACK_SUCCESS;
}

/* The request's value packed as MessagePack into srv.value (nil when absent). */
static bool php_pack_value(const php_req_t *r)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&srv.value);
    msgpack_packer_init(&pk, &srv.value, msgpack_sbuffer_write);
    if (r->value)
        msgpack_pack_object(&pk, *r->value);
    else
        msgpack_pack_nil(&pk);
    return srv.value.size <= srv.cfg->max_value;
}

static wm__gd_entry_t *php_store(const php_req_t *r, int64_t expire_at)
{
    wm__gd_entry_t *e =
        wm__gd_store_put(srv.store, r->key, r->klen, srv.value.data, srv.value.size, expire_at);
    if (e)
        persist_entry(e);
    return e;
}

/* A PHP number: an int, a float, or a numeric string as is_numeric() sees
 * it (leading and trailing blanks allowed). */
typedef struct php_num {
    bool is_int;
    int64_t i;
    double d;
} php_num_t;

static bool php_numeric_str(const char *p, size_t n, php_num_t *out)
{
    char buf[128], *end;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r' || *end == '\v' ||
           *end == '\f')
        end++;
    if (end != buf && *end == '\0' && errno == 0) {
        out->is_int = true;
        out->i = i;
        return true;
    }
    double d = strtod(buf, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r' || *end == '\v' ||
           *end == '\f')
        end++;
    if (end == buf || *end != '\0' || strpbrk(buf, "xXnN") != NULL) /* no hex, inf, nan */
        return false;
    out->is_int = false;
    out->d = d;
    return true;
}

static bool php_number(const msgpack_object *o, php_num_t *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        out->is_int = o->via.u64 <= INT64_MAX;
        out->i = (int64_t)o->via.u64;
        out->d = (double)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        out->is_int = true;
        out->i = o->via.i64;
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        out->is_int = false;
        out->d = o->via.f64;
        return true;
    case MSGPACK_OBJECT_STR:
        return php_numeric_str(o->via.str.ptr, o->via.str.size, out);
    default:
        return false;
    }
}

/* $old + $step as PHP adds: int + int stays int unless it overflows. */
static msgpack_object php_add(php_num_t a, php_num_t b)
{
    msgpack_object r = {.type = MSGPACK_OBJECT_FLOAT64};
    int64_t sum;
    if (a.is_int && b.is_int && !__builtin_add_overflow(a.i, b.i, &sum)) {
        r.type = sum < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
        r.via.i64 = sum;
        return r;
    }
    r.via.f64 = (a.is_int ? (double)a.i : a.d) + (b.is_int ? (double)b.i : b.d);
    return r;
}

static bool entry_is_nil(const wm__gd_entry_t *e)
{
    size_t vlen;
    const char *v = wm__gd_entry_value(e, &vlen);
    return wm__mp_span_is_nil((wm__mp_span_t){v, vlen});
}

static void php_get(const php_req_t *r, int64_t now)
{
    msgpack_object o;
    wm__gd_entry_t *e = find(r->key, r->klen, now);
    if (e && php_stored(e, &o))
        php_reply_object(&o);
    else
        php_reply_bytes("N;");
}

static void php_set(gd_client_t *c, const php_req_t *r, int64_t now, bool only_if_absent)
{
    if (!php_pack_value(r)) {
        php_refuse(c, "bad request: the value is too large");
        return;
    }
    wm__gd_entry_t *e = find(r->key, r->klen, now);
    if (only_if_absent && e && !entry_is_nil(e)) {
        php_reply_bytes("b:0;");
        return;
    }
    if (!php_store(r, 0)) {
        php_refuse(c, "out of memory");
        return;
    }
    php_reply_bytes("b:1;");
}

static void php_increment(gd_client_t *c, const php_req_t *r, int64_t now)
{
    php_num_t cur = {.is_int = true}, step = {.is_int = true};
    msgpack_object old, sum;
    if (r->step && !php_number(r->step, &step)) {
        php_refuse(c, "bad request: the step is not a number");
        return;
    }
    wm__gd_entry_t *e = find(r->key, r->klen, now);
    if (!e || entry_is_nil(e)) {
        php_reply_bytes("b:0;");
        return;
    }
    if (!php_stored(e, &old) || !php_number(&old, &cur))
        cur = (php_num_t){.is_int = true, .i = 0}; /* a non-number starts again from 0 */
    sum = php_add(cur, step);
    msgpack_packer pk;
    msgpack_sbuffer_clear(&srv.value);
    msgpack_packer_init(&pk, &srv.value, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, sum);
    if (wm__gd_store_set_value(srv.store, e, srv.value.data, srv.value.size) != WM_OK) {
        php_refuse(c, "out of memory");
        return;
    }
    persist_entry(e);
    php_reply_object(&sum);
}

static void php_cas(gd_client_t *c, const php_req_t *r, int64_t now)
{
    char md5[33] = {0};
    msgpack_object old;
    if (!r->md5 || r->md5->type != MSGPACK_OBJECT_STR || !php_pack_value(r)) {
        php_refuse(c, "bad request");
        return;
    }
    wm__gd_entry_t *e = find(r->key, r->klen, now);
    wm__php_serialize_md5_hex(e && php_stored(e, &old) ? &old : NULL, md5);
    if (r->md5->via.str.size != 32 || memcmp(r->md5->via.str.ptr, md5, 32) != 0) {
        php_reply_bytes("b:0;");
        return;
    }
    int64_t keep = e ? wm__gd_entry_expire(e) : 0;
    if (!php_store(r, keep)) {
        php_refuse(c, "out of memory");
        return;
    }
    php_reply_bytes("b:1;");
}

static void php_delete(const php_req_t *r, int64_t now)
{
    wm__gd_entry_t *e = find(r->key, r->klen, now);
    if (e) {
        persist_delete(r->key, r->klen);
        wm__gd_store_delete(srv.store, e);
    }
    php_reply_bytes("b:1;");
}

static void php_dispatch(gd_client_t *c, const php_req_t *r)
{
    int64_t now = wm__gd_wall_ms();
    if (php_cmd_is(r, "get")) {
        php_get(r, now);
    } else if (php_cmd_is(r, "set") || php_cmd_is(r, "add")) {
        php_set(c, r, now, php_cmd_is(r, "add"));
    } else if (php_cmd_is(r, "increment")) {
        php_increment(c, r, now);
    } else if (php_cmd_is(r, "cas")) {
        php_cas(c, r, now);
    } else if (php_cmd_is(r, "delete")) {
        php_delete(r, now);
    } else {
        char msg[80];
        snprintf(msg, sizeof msg, "bad cmd %.*s",
                 (int)(r->cmd->via.str.size > 40 ? 40 : r->cmd->via.str.size), r->cmd->via.str.ptr);
        php_refuse(c, msg);
    }
}

/* One frame of walkor/GlobalData's format. "ping" is its clients' keep-alive
 * and gets no answer. With --auth the format is refused: its clients have no
 * way to authenticate. */
static void handle_php_frame(gd_client_t *c, const char *data, size_t len)
{
    msgpack_object o;
    php_req_t r;
    if (len == 4 && memcmp(data, "ping", 4) == 0)
        return;
    srv.requests++;
    msgpack_zone_clear(&srv.zone);
    if (srv.cfg->auth)
        php_refuse(c, "bad request: this server requires auth, which the PHP format lacks");
    else if (wm__php_unserialize(data, len, &srv.zone, &o, NULL) != WM_OK || !php_parse(&o, &r))
        php_refuse(c, "bad request");
    else
        php_dispatch(c, &r);
    finish_reply(c);
}

static void handle_request(gd_client_t *c, const char *data, size_t len)
{
    wm__gd_req_t r;
    const char *why;
    srv.requests++;
    msgpack_sbuffer_clear(&srv.sb);
    if (wm__gd_req_decode(data, len, &r, &why) != WM_OK) {
        if (!r.has_id) {
            /* No id to answer to: explain once, then close (docs/protocol.md). */
            srv.errors++;
            wm__gd_resp_error(&srv.pk, NULL, WM_GD_BAD_REQUEST, why);
            c->close_when_sent = true;
        } else {
            reply_error(&r, r.op < 0 && r.op_name.p ? WM_GD_UNKNOWN_OP : WM_GD_BAD_REQUEST, why);
        }
    } else if (srv.cfg->auth && !c->authed && r.op != WM_GD_OP_AUTH && r.op != WM_GD_OP_PING) {
        reply_error(&r, WM_GD_AUTH_REQUIRED, "authenticate first: [id, \"auth\", secret]");
    } else {
        op_table[r.op](c, &r, wm__gd_wall_ms());
    }
    finish_reply(c);
}

static void on_message(wm_conn_t *conn, const wm_msg_t *m, void *user_data)
{
    gd_client_t *c = wm_conn_user_data(conn);
    if (!c || c->close_when_sent)
        return;
    if (c->format == FMT_UNKNOWN)
        c->format = detect_format(m->data, m->len);
    if (c->format == FMT_PHP)
        handle_php_frame(c, m->data, m->len);
    else
        handle_request(c, m->data, m->len);
}

static void client_free(void *p)
{
    gd_client_t *c = p;
    waiting_remove(c);
    free(c->frames);
    free(c->marks);
    free(c);
}

static void on_connect(wm_conn_t *conn, void *user_data)
{
    gd_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        wm_log_error("globaldata: out of memory for a connection");
        wm_conn_destroy(conn);
        return;
    }
    c->conn = conn;
    c->authed = srv.cfg->auth == NULL;
    srv.connections++;
    /* The replies to one read's worth of pipelined requests leave in one
     * write, not one system call each. */
    wm_conn_set_batch_sends(conn, true);
    wm_conn_set_user_data(conn, c, client_free);
}

static void on_close(wm_conn_t *conn, void *user_data)
{
    gd_client_t *c = wm_conn_user_data(conn);
    if (c)
        waiting_remove(c); /* its replies can never go out now */
}

static void on_buffer_full(wm_conn_t *conn, void *user_data)
{
    gd_client_t *c = wm_conn_user_data(conn);
    if (c)
        set_pause(c, PAUSE_SENDQ, true);
}

static void on_buffer_drain(wm_conn_t *conn, void *user_data)
{
    gd_client_t *c = wm_conn_user_data(conn);
    if (c)
        set_pause(c, PAUSE_SENDQ, false);
}

/* ---- The worker's life --------------------------------------------------- */

static void on_sweep(wm_timer_id_t id, void *user_data)
{
    wm__gd_store_expire_due(srv.store, wm__gd_wall_ms(), SWEEP_BUDGET);
}

/* Opening and loading the file blocks the loop, before any request is read:
 * the data must be there before the first answer. */
static int open_data(void)
{
    char err[512];
    size_t loaded, dropped;
    int64_t t0 = wm__gd_wall_ms();
    wm__svc_make_parent_dir(srv.cfg->data);
    srv.persist = wm__gd_persist_open(srv.cfg->data, srv.cfg->durability, err, sizeof err);
    if (!srv.persist) {
        wm_log_error("globaldata: cannot open %s: %s", srv.cfg->data, err);
        return WM_EINVAL;
    }
    if (wm__gd_persist_load(srv.persist, srv.store, wm__gd_wall_ms(), &loaded, &dropped, err,
                            sizeof err) != WM_OK) {
        wm_log_error("globaldata: cannot load %s: %s", srv.cfg->data, err);
        return WM_EINVAL;
    }
    if (wm__gd_persist_start(srv.persist, on_commit, NULL) != WM_OK) {
        wm_log_error("globaldata: cannot start the writer thread");
        return WM_ENOMEM;
    }
    srv.hold_replies = srv.cfg->durability == WM_GD_DURABILITY_FULL;
    wm_log_info("globaldata: %s: loaded %zu keys (%zu expired dropped) in %lld ms, durability %s",
                srv.cfg->data, loaded, dropped, (long long)(wm__gd_wall_ms() - t0),
                durability_name());
    return WM_OK;
}

static void on_worker_start(wm_worker_t *w, void *user_data)
{
    srv.started_ms = wm__gd_wall_ms();
    msgpack_sbuffer_init(&srv.sb);
    msgpack_packer_init(&srv.pk, &srv.sb, msgpack_sbuffer_write);
    msgpack_sbuffer_init(&srv.value);
    msgpack_zone_init(&srv.zone, 4096);
    srv.store = wm__gd_store_new(on_expired, NULL);
    if (!srv.store || (!srv.cfg->memory && open_data() != WM_OK)) {
        /* The master restarts the process with a back-off and logs each try. */
        wm_log_error("globaldata: not starting");
        exit(1);
    }
    srv.sweep = wm_timer_add(SWEEP_MS, true, on_sweep, NULL, NULL);
    wm_log_info("globaldata: serving %s", srv.cfg->listen);
}

static void on_worker_stop(wm_worker_t *w, void *user_data)
{
    wm_timer_del(srv.sweep);
    /* Every connection is gone by now; this commits what is queued. */
    wm__gd_persist_close(srv.persist);
    srv.persist = NULL;
    wm__gd_store_free(srv.store);
    srv.store = NULL;
    msgpack_sbuffer_destroy(&srv.sb);
    msgpack_sbuffer_destroy(&srv.value);
    msgpack_zone_destroy(&srv.zone);
}

static void on_worker_reload(wm_worker_t *w, void *user_data)
{
    wm_log_info("globaldata: reload: this worker keeps running (and its data)");
}

int wm__gd_server_setup(const wm__gd_config_t *cfg)
{
    srv.cfg = cfg;
    wm_worker_t *w = wm_worker_new(cfg->listen);
    if (!w)
        return WM_EINVAL; /* the reason is logged */
    wm_worker_set_name(w, "globaldata");
    wm_worker_set_count(w, 1); /* one process owns the data */
    wm_worker_set_reloadable(w, false);
    wm_worker_set_max_package(w, cfg->max_frame);
    wm_worker_set_max_send_buffer(w, SEND_BUFFER);
    wm_worker_on_worker_start(w, on_worker_start, NULL);
    wm_worker_on_worker_stop(w, on_worker_stop, NULL);
    wm_worker_on_worker_reload(w, on_worker_reload, NULL);
    wm_worker_on_connect(w, on_connect, NULL);
    wm_worker_on_message(w, on_message, NULL);
    wm_worker_on_close(w, on_close, NULL);
    wm_worker_on_buffer_full(w, on_buffer_full, NULL);
    wm_worker_on_buffer_drain(w, on_buffer_drain, NULL);
    return WM_OK;
}
