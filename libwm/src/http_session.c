/* SPDX-License-Identifier: MIT */
/* HTTP sessions (wm/http_session.h): session ids, the store handle with its
 * garbage-collection timer, and a session's life from start to commit. The
 * data and its stored format are in http_session_data.c; the two stores in
 * session_store_mem.c and session_store_file.c.
 *
 * A session remembers three facts that decide what commit does:
 *   in_store   the store holds its current id (loaded, or saved earlier);
 *   client_has the client sent exactly this id, so no Set-Cookie is needed;
 *   dirty      its data changed since it was loaded.
 * A regenerate or a destroy clears the first two; a destroy also empties
 * the data, so that a commit with nothing set expires the cookie. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "wm_int.h"
#include "http_session_int.h"

struct wm_http_session_store {
    const wm_http_session_store_ops_t *ops;
    void *impl;
    wm_timer_id_t gc_timer; /* 0: not armed in this process */
    int64_t gc_lifetime;    /* the longest lifetime of the configs seen */
};

struct wm_http_session {
    const wm_http_session_config_t *cfg;
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    bool in_store;
    bool client_has;
    bool had_cookie; /* the request carried a session cookie, valid or not */
    bool dirty;
    wm__sess_data_t data;
};

/* ---- Ids ------------------------------------------------------------------ */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool wm_http_session_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = 0;
    for (; id[n]; n++)
        if (n >= WM_HTTP_SESSION_ID_LEN || !memchr(b64url, id[n], sizeof b64url - 1))
            return false;
    return n == WM_HTTP_SESSION_ID_LEN;
}

int wm_http_session_id_new(char out[WM_HTTP_SESSION_ID_LEN + 1])
{
    unsigned char raw[WM_HTTP_SESSION_ID_LEN * 3 / 4];
    size_t got = 0;
    while (got < sizeof raw) {
        /* Requests up to 256 bytes are never cut short once the pool is
         * ready (getrandom(2)); an interrupted call is retried all the same. */
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            return -errno;
    }
    for (size_t i = 0, o = 0; i < sizeof raw; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    out[WM_HTTP_SESSION_ID_LEN] = '\0';
    return WM_OK;
}

/* Ids in the log are cut to a prefix: a full one would let a reader of the
 * log take the session over. */
#define ID_LOG_FMT "%.6s..."

/* ---- Stores ---------------------------------------------------------------- */

wm_http_session_store_t *wm_http_session_store_new(const wm_http_session_store_ops_t *ops,
                                                   void *impl)
{
    if (!ops || !ops->load || !ops->save || !ops->touch || !ops->remove) {
        wm_log_error("session store: load, save, touch and remove are required");
        if (ops && ops->free)
            ops->free(impl);
        return NULL;
    }
    wm_http_session_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        if (ops->free)
            ops->free(impl);
        return NULL;
    }
    st->ops = ops;
    st->impl = impl;
    return st;
}

void wm_http_session_store_free(wm_http_session_store_t *st)
{
    if (!st)
        return;
    if (st->gc_timer)
        wm_timer_del(st->gc_timer); /* its destructor clears st->gc_timer */
    if (st->ops->free)
        st->ops->free(st->impl);
    free(st);
}

int wm_http_session_store_load(wm_http_session_store_t *st, const char *id, int64_t lifetime,
                               void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!wm_http_session_id_valid(id))
        return WM_EINVAL;
    return st->ops->load(st->impl, id, lifetime, data, len);
}

int wm_http_session_store_save(wm_http_session_store_t *st, const char *id, const void *data,
                               size_t len, int64_t lifetime)
{
    if (!wm_http_session_id_valid(id) || (!data && len))
        return WM_EINVAL;
    return st->ops->save(st->impl, id, data, len, lifetime);
}

int wm_http_session_store_touch(wm_http_session_store_t *st, const char *id, int64_t lifetime)
{
    if (!wm_http_session_id_valid(id))
        return WM_EINVAL;
    return st->ops->touch(st->impl, id, lifetime);
}

int wm_http_session_store_remove(wm_http_session_store_t *st, const char *id)
{
    if (!wm_http_session_id_valid(id))
        return WM_EINVAL;
    return st->ops->remove(st->impl, id);
}

int wm_http_session_store_gc(wm_http_session_store_t *st, int64_t lifetime)
{
    return st->ops->gc ? st->ops->gc(st->impl, lifetime) : 0;
}

static void gc_tick(wm_timer_id_t id, void *ud)
{
    wm_http_session_store_t *st = ud;
    int n = wm_http_session_store_gc(st, st->gc_lifetime);
    if (n < 0)
        wm_log_warn("session store: garbage collection failed: %s", wm_strerror(n));
    else if (n > 0)
        wm_log_debug("session store: %d expired session(s) removed", n);
}

static void gc_timer_gone(void *ud)
{
    wm_http_session_store_t *st = ud;
    st->gc_timer = 0;
}

/* Arms the store's collector in this process, on the first start that uses
 * it (so a master that never starts sessions never collects). The longest
 * lifetime seen is the one collected with: a store shared by configs of
 * different lifetimes never loses a session one of them still keeps. */
static void gc_arm(wm_http_session_store_t *st, const wm_http_session_config_t *cfg,
                   int64_t lifetime)
{
    if (lifetime > st->gc_lifetime)
        st->gc_lifetime = lifetime;
    if (st->gc_timer || !st->ops->gc)
        return;
    int64_t every = cfg->gc_interval > 0 ? cfg->gc_interval : WM_HTTP_SESSION_DEFAULT_GC_INTERVAL;
    if (every > lifetime)
        every = lifetime;
    st->gc_timer = wm_timer_add((uint64_t)every * 1000, true, gc_tick, st, gc_timer_gone);
}

/* ---- Configuration ------------------------------------------------------------ */

void wm_http_session_config_init(wm_http_session_config_t *cfg, wm_http_session_store_t *store)
{
    *cfg = (wm_http_session_config_t){
        .store = store,
        .cookie_name = "WMSESSID",
        .cookie_path = "/",
        .cookie_http_only = true,
        .cookie_same_site = "Lax",
        .lifetime = WM_HTTP_SESSION_DEFAULT_LIFETIME,
        .gc_interval = WM_HTTP_SESSION_DEFAULT_GC_INTERVAL,
    };
}

/* A zeroed config (not passed through _init) still gets a name and a
 * lifetime. */
static const char *cookie_name(const wm_http_session_config_t *cfg)
{
    return cfg->cookie_name ? cfg->cookie_name : "WMSESSID";
}

static int64_t lifetime_of(const wm_http_session_config_t *cfg)
{
    return cfg->lifetime > 0 ? cfg->lifetime : WM_HTTP_SESSION_DEFAULT_LIFETIME;
}

/* ---- Starting -------------------------------------------------------------------- */

/* Loads `s->id` from the store. A failure leaves the session empty and not
 * in the store: the caller then gives it a fresh id. */
static void session_load(wm_http_session_t *s)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = wm_http_session_store_load(s->cfg->store, s->id, lifetime_of(s->cfg), &buf, &len);
    if (rc == WM_OK) {
        const char *why = NULL;
        s->in_store = true;
        s->client_has = true;
        if (wm__sess_data_decode(&s->data, buf, len, &why) != WM_OK) {
            /* Rewritten at commit, so that the next request loads cleanly. */
            wm_log_warn("session " ID_LOG_FMT ": stored data is corrupt (%s, %zu bytes); "
                        "starting it empty",
                        s->id, why, len);
            s->dirty = true;
        }
    } else if (rc != WM_ENOENT) {
        wm_log_error("session " ID_LOG_FMT ": the store failed to load it: %s", s->id,
                     wm_strerror(rc));
    }
    free(buf);
}

wm_http_session_t *wm_http_session_start_id(const wm_http_session_config_t *cfg,
                                            const char *cookie_value)
{
    if (!cfg || !cfg->store) {
        wm_log_error("session: the config has no store");
        return NULL;
    }
    wm_http_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    wm__sess_data_init(&s->data);
    s->had_cookie = cookie_value != NULL;
    gc_arm(cfg->store, cfg, lifetime_of(cfg));
    if (wm_http_session_id_valid(cookie_value)) {
        memcpy(s->id, cookie_value, sizeof s->id);
        session_load(s);
    }
    if (!s->in_store) {
        int rc = wm_http_session_id_new(s->id);
        if (rc != WM_OK) {
            wm_log_error("session: no random id: %s", wm_strerror(rc));
            free(s);
            return NULL;
        }
    }
    return s;
}

wm_http_session_t *wm_http_session_start(const wm_http_session_config_t *cfg,
                                         const wm_http_request_t *req)
{
    const char *v = req && cfg ? wm_http_request_cookie(req, cookie_name(cfg)) : NULL;
    return wm_http_session_start_id(cfg, v);
}

/* ---- Data ------------------------------------------------------------------------- */

const char *wm_http_session_id(const wm_http_session_t *s)
{
    return s->id;
}

bool wm_http_session_is_new(const wm_http_session_t *s)
{
    return !s->client_has;
}

const void *wm_http_session_get(const wm_http_session_t *s, const char *key, size_t *len)
{
    long i = wm__sess_data_find(&s->data, key, strlen(key));
    if (len)
        *len = i >= 0 ? s->data.items[i].vlen : 0;
    return i >= 0 ? s->data.items[i].val : NULL;
}

const char *wm_http_session_get_str(const wm_http_session_t *s, const char *key)
{
    return wm_http_session_get(s, key, NULL);
}

bool wm_http_session_has(const wm_http_session_t *s, const char *key)
{
    return wm__sess_data_find(&s->data, key, strlen(key)) >= 0;
}

int wm_http_session_set(wm_http_session_t *s, const char *key, const void *value, size_t len)
{
    int rc = wm__sess_data_set(&s->data, key, strlen(key), value, len);
    if (rc == WM_OK)
        s->dirty = true;
    return rc;
}

int wm_http_session_set_str(wm_http_session_t *s, const char *key, const char *value)
{
    return wm_http_session_set(s, key, value, value ? strlen(value) : 0);
}

int wm_http_session_delete(wm_http_session_t *s, const char *key)
{
    long i = wm__sess_data_find(&s->data, key, strlen(key));
    if (i < 0)
        return WM_ENOENT;
    wm__sess_data_del(&s->data, (size_t)i);
    s->dirty = true;
    return WM_OK;
}

void wm_http_session_clear(wm_http_session_t *s)
{
    if (s->data.n)
        s->dirty = true;
    wm__sess_data_clear(&s->data);
}

size_t wm_http_session_count(const wm_http_session_t *s)
{
    return s->data.n;
}

const char *wm_http_session_key_at(const wm_http_session_t *s, size_t i)
{
    return i < s->data.n ? s->data.items[i].key : NULL;
}

/* ---- Id changes ----------------------------------------------------------------------- */

int wm_http_session_regenerate_id(wm_http_session_t *s, bool delete_old)
{
    char fresh[WM_HTTP_SESSION_ID_LEN + 1];
    int rc = wm_http_session_id_new(fresh);
    if (rc != WM_OK)
        return rc;
    if (delete_old && s->in_store)
        rc = wm_http_session_store_remove(s->cfg->store, s->id);
    memcpy(s->id, fresh, sizeof s->id);
    s->in_store = false;
    s->client_has = false;
    s->dirty = true;
    return rc;
}

int wm_http_session_destroy(wm_http_session_t *s)
{
    wm__sess_data_clear(&s->data);
    int rc = wm_http_session_regenerate_id(s, true);
    s->dirty = false;
    return rc;
}

/* ---- Commit ---------------------------------------------------------------------------- */

static int session_save(wm_http_session_t *s)
{
    void *buf;
    size_t len;
    int64_t lifetime = lifetime_of(s->cfg);
    int rc = WM_OK;
    if (!s->dirty && s->in_store)
        rc = wm_http_session_store_touch(s->cfg->store, s->id, lifetime);
    /* A touch that finds nothing (collected since the load) saves instead. */
    if (s->dirty || !s->in_store || rc == WM_ENOENT) {
        rc = wm__sess_data_encode(&s->data, &buf, &len);
        if (rc == WM_OK) {
            rc = wm_http_session_store_save(s->cfg->store, s->id, buf, len, lifetime);
            free(buf);
        }
    }
    if (rc != WM_OK)
        wm_log_error("session " ID_LOG_FMT ": the store failed to save it: %s", s->id,
                     wm_strerror(rc));
    return rc;
}

static int add_cookie(const wm_http_session_t *s, wm_http_response_t *resp, bool expire)
{
    const wm_http_session_config_t *cfg = s->cfg;
    wm_http_cookie_opts_t o = {
        .domain = cfg->cookie_domain,
        .path = cfg->cookie_path,
        .secure = cfg->cookie_secure,
        .http_only = cfg->cookie_http_only,
        .same_site = cfg->cookie_same_site,
    };
    if (expire) {
        o.has_max_age = true;
        o.max_age = 0;
        o.expires = 1; /* for clients that predate Max-Age */
    } else if (cfg->cookie_max_age > 0) {
        o.has_max_age = true;
        o.max_age = cfg->cookie_max_age;
    }
    int rc = wm_http_response_cookie(resp, cookie_name(cfg), expire ? "" : s->id, &o);
    if (rc != WM_OK)
        wm_log_error("session: the config's cookie fields are refused: %s", wm_strerror(rc));
    return rc;
}

int wm_http_session_commit(wm_http_session_t *s, wm_http_response_t *resp)
{
    int rc = WM_OK;
    if (s->data.n > 0 || s->in_store) {
        rc = session_save(s);
        if (rc == WM_OK && !s->client_has && resp)
            rc = add_cookie(s, resp, false);
    } else if (s->had_cookie && resp) {
        /* Empty and not stored: nothing to keep, and the client's cookie
         * (destroyed, expired or forged) names nothing. */
        rc = add_cookie(s, resp, true);
    }
    wm_http_session_free(s);
    return rc;
}

void wm_http_session_free(wm_http_session_t *s)
{
    if (!s)
        return;
    wm__sess_data_clear(&s->data);
    free(s);
}
