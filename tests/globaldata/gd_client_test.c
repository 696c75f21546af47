/* SPDX-License-Identifier: MIT */
/* The GlobalData client library (wm/globaldata.h) against real
 * globaldata-server processes: every operation and its errors through the
 * async API, hundreds of pipelined requests, a per-request timeout (a
 * server stopped with SIGSTOP), reconnecting after a restart, auth, the
 * consistent-hash ring (how many keys move from 4 to 5 servers), several
 * servers with one dead, freeing the client inside a callback, and the
 * blocking API. */
#include <event2/event.h>

#include <wm/globaldata.h>

#include "gd_proc.h"

typedef struct res {
    bool done;
    int status;
    int calls;
    char mp[8192];
    wm_gd_val_t v;
    char text[400];
} res_t;

static void on_res(wm_gd_client_t *c, int status, const wm_gd_val_t *v, void *user_data)
{
    res_t *r = user_data;
    r->calls++;
    r->done = true;
    r->status = status;
    r->v = wm_gd_nil();
    if (v->mp && v->mp_len <= sizeof r->mp) {
        memcpy(r->mp, v->mp, v->mp_len);
        ASSERT_EQ(wm_gd_val_parse(r->mp, v->mp_len, &r->v), WM_OK);
    }
    if (v->type == WM_GD_TYPE_STR)
        snprintf(r->text, sizeof r->text, "%.*s", (int)v->len, v->data);
}

/* Runs the loop until r's callback ran (10 s at most). */
static res_t *await(res_t *r)
{
    uint64_t end = wm_now_ms() + 10000;
    while (!r->done && wm_now_ms() < end)
        event_base_loop(wm_loop_base(), EVLOOP_ONCE);
    if (!r->done)
        WM_TEST_FAIL("no callback within 10 s");
    ASSERT_EQ(r->calls, 1);
    return r;
}

#define CALL(r, fn, ...)                                                                           \
    do {                                                                                           \
        memset(&(r), 0, sizeof(r));                                                                \
        int rc_ = fn(__VA_ARGS__, on_res, &(r));                                                   \
        if (rc_ != WM_OK)                                                                          \
            WM_TEST_FAIL("%s: %s", #fn, wm_strerror(rc_));                                         \
        await(&(r));                                                                               \
    } while (0)

#define EXPECT(r, st)                                                                              \
    do {                                                                                           \
        if ((r).status != (st))                                                                    \
            WM_TEST_FAIL("status %s (%s), expected %s", wm_gd_strerror((r).status), (r).text,      \
                         wm_gd_strerror(st));                                                      \
    } while (0)

static wm_gd_client_t *client_for(const char *const *urls, size_t n, const char *auth)
{
    wm_gd_options_t o = {
        .servers = urls, .server_count = n, .auth = auth, .retry_min_ms = 50, .retry_max_ms = 200};
    wm_gd_client_t *c = wm_gd_client_new(&o);
    ASSERT(c != NULL);
    return c;
}

static void url_of(const gd_proc_t *s, char *buf, size_t len)
{
    snprintf(buf, len, "127.0.0.1:%u", s->port);
}

/* ---- Every operation ----------------------------------------------------- */

static void test_ops(void)
{
    gd_proc_t s;
    char url[32];
    res_t r;
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    wm_gd_client_t *c = client_for(urls, 1, NULL);

    CALL(r, wm_gd_set, c, "s", wm_gd_str("hello"), 0);
    EXPECT(r, WM_OK);
    ASSERT_EQ(r.v.type, WM_GD_TYPE_NIL);
    CALL(r, wm_gd_get, c, "s");
    ASSERT(wm_gd_val_is_str(&r.v, "hello"));
    CALL(r, wm_gd_set, c, "f", wm_gd_float(2.5), 0);
    CALL(r, wm_gd_get, c, "f");
    ASSERT(r.v.type == WM_GD_TYPE_FLOAT && r.v.f == 2.5);
    static const char arr[] = {(char)0x92, 0x01, (char)0xa1, 'x'};
    CALL(r, wm_gd_set, c, "a", wm_gd_msgpack(arr, sizeof arr), 0);
    CALL(r, wm_gd_get, c, "a");
    ASSERT_EQ(r.v.type, WM_GD_TYPE_ARRAY);
    ASSERT_EQ(r.v.len, 2);
    ASSERT_MEM_EQ(r.v.mp, arr, sizeof arr);
    wm_gd_val_t e;
    ASSERT_EQ(wm_gd_val_at(&r.v, 1, NULL, &e), WM_OK);
    ASSERT(wm_gd_val_is_str(&e, "x"));
    ASSERT_EQ(wm_gd_val_at(&r.v, 2, NULL, &e), WM_ENOENT);
    CALL(r, wm_gd_get, c, "nope");
    EXPECT(r, WM_GD_ENOTFOUND);
    ASSERT_EQ(r.v.type, WM_GD_TYPE_NIL);

    CALL(r, wm_gd_add, c, "s", wm_gd_int(1), 0);
    EXPECT(r, WM_GD_EEXISTS);
    CALL(r, wm_gd_add, c, "n", wm_gd_int(10), 0);
    EXPECT(r, WM_OK);
    CALL(r, wm_gd_increment, c, "n", 5);
    ASSERT(r.v.type == WM_GD_TYPE_INT && r.v.i == 15);
    CALL(r, wm_gd_increment, c, "n", -20);
    ASSERT_EQ(r.v.i, -5);
    CALL(r, wm_gd_increment, c, "missing", 1);
    EXPECT(r, WM_GD_ENOTFOUND);
    CALL(r, wm_gd_increment, c, "s", 1);
    EXPECT(r, WM_GD_ENOTINT);
    CALL(r, wm_gd_set, c, "big", wm_gd_int(INT64_MAX), 0);
    CALL(r, wm_gd_increment, c, "big", 1);
    EXPECT(r, WM_GD_EOVERFLOW);

    CALL(r, wm_gd_cas, c, "n", wm_gd_int(7), wm_gd_int(8), 0);
    EXPECT(r, WM_GD_EMISMATCH);
    ASSERT_EQ(r.v.i, -5); /* the current value */
    CALL(r, wm_gd_cas, c, "n", wm_gd_int(-5), wm_gd_str("eight"), 0);
    EXPECT(r, WM_OK);
    CALL(r, wm_gd_cas, c, "gone", wm_gd_nil(), wm_gd_int(1), 0);
    EXPECT(r, WM_GD_ENOTFOUND);

    CALL(r, wm_gd_exists, c, "n");
    ASSERT(r.v.type == WM_GD_TYPE_BOOL && r.v.b);
    CALL(r, wm_gd_delete, c, "n");
    ASSERT(r.v.b);
    CALL(r, wm_gd_delete, c, "n");
    ASSERT(r.v.type == WM_GD_TYPE_BOOL && !r.v.b);
    CALL(r, wm_gd_exists, c, "n");
    ASSERT(!r.v.b);

    CALL(r, wm_gd_set, c, "t", wm_gd_int(1), 60000);
    CALL(r, wm_gd_ttl, c, "t");
    ASSERT(r.v.type == WM_GD_TYPE_INT && r.v.i > 59000 && r.v.i <= 60000);
    CALL(r, wm_gd_persist, c, "t");
    ASSERT(r.v.b);
    CALL(r, wm_gd_ttl, c, "t");
    ASSERT_EQ(r.v.type, WM_GD_TYPE_NIL);
    CALL(r, wm_gd_expire, c, "t", 50);
    EXPECT(r, WM_OK);
    sleep_ms(80);
    CALL(r, wm_gd_get, c, "t");
    EXPECT(r, WM_GD_ENOTFOUND);

    const char *keys[] = {"k1", "k2", "k3"};
    wm_gd_val_t vals[] = {wm_gd_int(1), wm_gd_str("two"), wm_gd_bool(true)};
    CALL(r, wm_gd_mset, c, keys, vals, 3, 0);
    EXPECT(r, WM_OK);
    ASSERT_EQ(r.v.type, WM_GD_TYPE_NIL);
    const char *some[] = {"k1", "k3", "none"};
    CALL(r, wm_gd_mget, c, some, 3);
    ASSERT_EQ(r.v.type, WM_GD_TYPE_MAP);
    ASSERT_EQ(r.v.len, 2);
    ASSERT_EQ(wm_gd_val_get(&r.v, "k1", &e), WM_OK);
    ASSERT_EQ(e.i, 1);
    ASSERT_EQ(wm_gd_val_get(&r.v, "none", &e), WM_ENOENT);

    CALL(r, wm_gd_keys, c, 0, "k", NULL, 2);
    wm_gd_val_t cursor, list;
    ASSERT_EQ(wm_gd_val_at(&r.v, 0, NULL, &cursor), WM_OK);
    ASSERT_EQ(wm_gd_val_at(&r.v, 1, NULL, &list), WM_OK);
    ASSERT(wm_gd_val_is_str(&cursor, "k2"));
    ASSERT_EQ(list.len, 2);
    CALL(r, wm_gd_keys, c, 0, "k", "k2", 0);
    ASSERT_EQ(wm_gd_val_at(&r.v, 1, NULL, &list), WM_OK);
    ASSERT_EQ(list.len, 1);
    CALL(r, wm_gd_stats, c, 0);
    ASSERT_EQ(wm_gd_val_get(&r.v, "keys", &e), WM_OK);
    ASSERT_EQ(e.i, 7); /* s f a big k1 k2 k3 */

    /* Refused at the start: the callback never runs. */
    ASSERT_EQ(wm_gd_get(c, NULL, on_res, &r), WM_EINVAL);
    char long_key[1100];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    ASSERT_EQ(wm_gd_get(c, long_key, on_res, &r), WM_EINVAL);
    static const char bomb[] = {(char)0xdf, 0x0f, (char)0xff, (char)0xff, (char)0xff};
    ASSERT_EQ(wm_gd_set(c, "x", wm_gd_msgpack(bomb, sizeof bomb), 0, on_res, &r), WM_EINVAL);
    ASSERT_EQ(wm_gd_keys(c, 1, NULL, NULL, 0, on_res, &r), WM_EINVAL);
    ASSERT(strlen(wm_gd_client_last_error(c)) > 0);

    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

/* ---- Pipelining ---------------------------------------------------------- */

typedef struct pipe_state {
    int next;
    int bad;
} pipe_state_t;

static void on_incr(wm_gd_client_t *c, int status, const wm_gd_val_t *v, void *user_data)
{
    pipe_state_t *p = user_data;
    /* Answers come back in order: the i-th increment sees i. */
    if (status != WM_OK || v->type != WM_GD_TYPE_INT || v->i != ++p->next)
        p->bad++;
}

static void test_pipeline(void)
{
    gd_proc_t s;
    char url[32];
    res_t r;
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    wm_gd_client_t *c = client_for(urls, 1, NULL);
    CALL(r, wm_gd_set, c, "ctr", wm_gd_int(0), 0);
    pipe_state_t p = {0, 0};
    for (int i = 0; i < 500; i++)
        ASSERT_EQ(wm_gd_increment(c, "ctr", 1, on_incr, &p), WM_OK);
    CALL(r, wm_gd_get, c, "ctr"); /* behind all of them */
    ASSERT_EQ(p.next, 500);
    ASSERT_EQ(p.bad, 0);
    ASSERT_EQ(r.v.i, 500);
    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

/* ---- Timeouts, reconnecting, auth ---------------------------------------- */

static void test_timeout(void)
{
    gd_proc_t s;
    char url[32];
    res_t r;
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    wm_gd_client_t *c = client_for(urls, 1, NULL);
    CALL(r, wm_gd_set, c, "k", wm_gd_int(1), 0);
    pid_t w = worker_pid(&s);
    kill(w, SIGSTOP);
    wm_gd_client_set_timeout(c, 200);
    uint64_t t0 = wm_now_ms();
    CALL(r, wm_gd_get, c, "k");
    uint64_t took = wm_now_ms() - t0;
    EXPECT(r, WM_ETIMEDOUT);
    ASSERT(strstr(r.text, url) != NULL);
    ASSERT_GE(took, 190);
    ASSERT_LT(took, 2000);
    kill(w, SIGCONT);
    /* The late answer is dropped; the next request gets its own. */
    wm_gd_client_set_timeout(c, 5000);
    CALL(r, wm_gd_get, c, "k");
    EXPECT(r, WM_OK);
    ASSERT_EQ(r.v.i, 1);
    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

static void test_reconnect(void)
{
    gd_proc_t s;
    char url[32];
    res_t r;
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    wm_gd_client_t *c = client_for(urls, 1, NULL);
    CALL(r, wm_gd_set, c, "k", wm_gd_str("kept"), 0);
    proc_stop(&s);
    /* The client notices: the next request fails (the connection ended,
     * or the server is already known down). */
    memset(&r, 0, sizeof r);
    int rc = wm_gd_get(c, "k", on_res, &r);
    if (rc == WM_OK) {
        await(&r);
        ASSERT(r.status == WM_ECONNRESET || r.status == WM_ECONNREFUSED || r.status == WM_ENOTCONN);
    } else {
        ASSERT_EQ(rc, WM_ENOTCONN);
    }
    ASSERT(!wm_gd_client_server_up(c, 0));
    proc_start(&s);
    /* Back within a few back-offs (50..200 ms). */
    bool ok = false;
    for (int i = 0; i < 100 && !ok; i++) {
        memset(&r, 0, sizeof r);
        if (wm_gd_get(c, "k", on_res, &r) == WM_OK) {
            await(&r);
            ok = r.status == WM_OK;
        } else {
            uint64_t until = wm_now_ms() + 50;
            while (wm_now_ms() < until)
                event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        }
    }
    ASSERT(ok);
    ASSERT(wm_gd_val_is_str(&r.v, "kept"));
    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

static void test_auth(void)
{
    static const char *const extra[] = {"--auth", "s3cret", NULL};
    gd_proc_t s;
    char url[32];
    res_t r;
    proc_init(&s, extra);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    wm_gd_client_t *c = client_for(urls, 1, "s3cret");
    CALL(r, wm_gd_set, c, "k", wm_gd_int(3), 0);
    EXPECT(r, WM_OK);
    wm_gd_client_free(c);
    c = client_for(urls, 1, NULL);
    CALL(r, wm_gd_get, c, "k");
    EXPECT(r, WM_GD_EAUTHREQUIRED);
    wm_gd_client_free(c);
    c = client_for(urls, 1, "wrong");
    CALL(r, wm_gd_get, c, "k");
    EXPECT(r, WM_GD_EAUTHFAILED);
    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

/* ---- Several servers ----------------------------------------------------- */

/* No server needed: the ring is computed by the client. */
static void test_ring(void)
{
    const char *urls[] = {"10.0.0.1:2207", "10.0.0.2:2207", "10.0.0.3:2207", "10.0.0.4:2207",
                          "10.0.0.5:2207"};
    wm_gd_options_t four = {.servers = urls, .server_count = 4};
    wm_gd_options_t five = {.servers = urls, .server_count = 5};
    wm_gd_sync_t *a = wm_gd_sync_new(&four), *b = wm_gd_sync_new(&five);
    ASSERT(a && b);
    int moved = 0, per[4] = {0};
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "user:%d", i);
        size_t x = wm_gd_sync_server_of(a, key), y = wm_gd_sync_server_of(b, key);
        per[x]++;
        if (x != y) {
            moved++;
            ASSERT_EQ(y, 4); /* a key only ever moves to the new server */
        }
    }
    fprintf(stderr, "ring: 4 -> 5 servers moved %d of 10000 keys; per server %d %d %d %d\n", moved,
            per[0], per[1], per[2], per[3]);
    ASSERT_GT(moved, 1500);
    ASSERT_LT(moved, 2600);
    for (int i = 0; i < 4; i++) {
        ASSERT_GT(per[i], 1800);
        ASSERT_LT(per[i], 3200);
    }
    wm_gd_sync_free(a);
    wm_gd_sync_free(b);
}

static void test_multi_server(void)
{
    gd_proc_t s[3];
    char url[3][32];
    const char *urls[3];
    res_t r;
    for (int i = 0; i < 3; i++) {
        proc_init(&s[i], NULL);
        proc_start(&s[i]);
        url_of(&s[i], url[i], sizeof url[i]);
        urls[i] = url[i];
    }
    wm_gd_client_t *c = client_for(urls, 3, NULL);
    static char names[300][16];
    const char *keys[300];
    wm_gd_val_t vals[300];
    int per[3] = {0};
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        keys[i] = names[i];
        vals[i] = wm_gd_int(i);
        per[wm_gd_client_server_of(c, keys[i])]++;
    }
    CALL(r, wm_gd_mset, c, keys, vals, 300, 0);
    EXPECT(r, WM_OK);
    /* Each server holds exactly the keys the ring gives it. */
    for (int i = 0; i < 3; i++) {
        CALL(r, wm_gd_stats, c, (size_t)i);
        wm_gd_val_t k;
        ASSERT_EQ(wm_gd_val_get(&r.v, "keys", &k), WM_OK);
        ASSERT_EQ(k.i, per[i]);
        ASSERT_GT(per[i], 50);
    }
    CALL(r, wm_gd_mget, c, keys, 300);
    ASSERT_EQ(r.v.len, 300);
    wm_gd_val_t e;
    ASSERT_EQ(wm_gd_val_get(&r.v, "m299", &e), WM_OK);
    ASSERT_EQ(e.i, 299);

    /* One server dies: its keys fail fast, the others keep working. */
    proc_stop(&s[1]);
    const char *dead_key = NULL, *live_key = NULL;
    for (int i = 0; i < 300; i++) {
        size_t at = wm_gd_client_server_of(c, keys[i]);
        if (at == 1 && !dead_key)
            dead_key = keys[i];
        if (at != 1 && !live_key)
            live_key = keys[i];
    }
    memset(&r, 0, sizeof r);
    if (wm_gd_get(c, dead_key, on_res, &r) == WM_OK)
        await(&r); /* the first one may learn it the hard way */
    uint64_t t0 = wm_now_ms();
    memset(&r, 0, sizeof r);
    ASSERT_EQ(wm_gd_get(c, dead_key, on_res, &r), WM_ENOTCONN);
    ASSERT(strstr(wm_gd_client_last_error(c), url[1]) != NULL);
    ASSERT_LT(wm_now_ms() - t0, 50);
    ASSERT_EQ(wm_gd_mget(c, keys, 300, on_res, &r), WM_ENOTCONN);
    CALL(r, wm_gd_get, c, live_key);
    EXPECT(r, WM_OK);
    CALL(r, wm_gd_increment, c, live_key, 1000);
    EXPECT(r, WM_OK);
    wm_gd_client_free(c);
    WM_TEST_CLEAN();
    for (int i = 0; i < 3; i++)
        proc_cleanup(&s[i]);
}

/* ---- Promises ------------------------------------------------------------ */

typedef struct free_state {
    wm_gd_client_t *c;
    int calls, ok, canceled;
} free_state_t;

static void on_free_cb(wm_gd_client_t *c, int status, const wm_gd_val_t *v, void *user_data)
{
    free_state_t *f = user_data;
    f->calls++;
    if (status == WM_ECANCELED)
        f->canceled++;
    if (status == WM_OK && f->ok++ == 0)
        wm_gd_client_free(c); /* inside its own callback */
}

static void test_free_in_callback(void)
{
    gd_proc_t s;
    char url[32];
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    const char *urls[] = {url};
    free_state_t f = {client_for(urls, 1, NULL), 0, 0, 0};
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(wm_gd_exists(f.c, "x", on_free_cb, &f), WM_OK);
    uint64_t end = wm_now_ms() + 5000;
    while (f.calls < 10 && wm_now_ms() < end)
        event_base_loop(wm_loop_base(), EVLOOP_ONCE);
    ASSERT_EQ(f.calls, 10);
    ASSERT_EQ(f.ok, 1);
    ASSERT_EQ(f.canceled, 9);
    /* Freeing with requests in flight cancels them too. */
    free_state_t g = {client_for(urls, 1, NULL), 0, 1, 0};
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(wm_gd_exists(g.c, "x", on_free_cb, &g), WM_OK);
    wm_gd_client_free(g.c);
    ASSERT_EQ(g.canceled, 5);
    WM_TEST_CLEAN();
    proc_cleanup(&s);
}

/* ---- The blocking API ---------------------------------------------------- */

static void test_sync(void)
{
    gd_proc_t s;
    char url[32], dead[32];
    proc_init(&s, NULL);
    proc_start(&s);
    url_of(&s, url, sizeof url);
    snprintf(dead, sizeof dead, "127.0.0.1:%u", free_port());
    const char *urls[] = {url};
    wm_gd_options_t o = {.servers = urls, .server_count = 1};
    wm_gd_sync_t *b = wm_gd_sync_new(&o);
    wm_gd_val_t v, e;
    ASSERT_EQ(wm_gd_sync_set(b, "a", wm_gd_str("x"), 0, &v), WM_OK);
    ASSERT_EQ(wm_gd_sync_get(b, "a", &v), WM_OK);
    ASSERT(wm_gd_val_is_str(&v, "x"));
    ASSERT_EQ(wm_gd_sync_get(b, "b", &v), WM_GD_ENOTFOUND);
    ASSERT_EQ(wm_gd_sync_add(b, "n", wm_gd_int(1), 0, NULL), WM_OK);
    ASSERT_EQ(wm_gd_sync_add(b, "n", wm_gd_int(1), 0, NULL), WM_GD_EEXISTS);
    ASSERT_EQ(wm_gd_sync_increment(b, "n", 41, &v), WM_OK);
    ASSERT_EQ(v.i, 42);
    ASSERT_EQ(wm_gd_sync_cas(b, "n", wm_gd_int(1), wm_gd_int(0), 0, &v), WM_GD_EMISMATCH);
    ASSERT_EQ(v.i, 42);
    ASSERT_EQ(wm_gd_sync_cas(b, "n", wm_gd_int(42), wm_gd_int(0), 0, NULL), WM_OK);
    ASSERT_EQ(wm_gd_sync_expire(b, "n", 60000, NULL), WM_OK);
    ASSERT_EQ(wm_gd_sync_ttl(b, "n", &v), WM_OK);
    ASSERT_GT(v.i, 59000);
    ASSERT_EQ(wm_gd_sync_persist(b, "n", &v), WM_OK);
    ASSERT(v.b);
    ASSERT_EQ(wm_gd_sync_exists(b, "n", &v), WM_OK);
    ASSERT(v.b);
    ASSERT_EQ(wm_gd_sync_delete(b, "n", &v), WM_OK);
    ASSERT(v.b);
    const char *keys[] = {"p", "q"};
    wm_gd_val_t vals[] = {wm_gd_int(1), wm_gd_int(2)};
    ASSERT_EQ(wm_gd_sync_mset(b, keys, vals, 2, 0, NULL), WM_OK);
    ASSERT_EQ(wm_gd_sync_mget(b, keys, 2, &v), WM_OK);
    ASSERT_EQ(v.len, 2);
    ASSERT_EQ(wm_gd_val_get(&v, "q", &e), WM_OK);
    ASSERT_EQ(e.i, 2);
    ASSERT_EQ(wm_gd_sync_keys(b, 0, NULL, NULL, 0, &v), WM_OK);
    ASSERT_EQ(wm_gd_val_at(&v, 1, NULL, &e), WM_OK);
    ASSERT_EQ(e.len, 3); /* a p q */
    ASSERT_EQ(wm_gd_sync_stats(b, 0, &v), WM_OK);
    ASSERT_EQ(v.type, WM_GD_TYPE_MAP);
    ASSERT_EQ(wm_gd_sync_get(b, NULL, &v), WM_EINVAL);
    wm_gd_sync_free(b);

    /* Nobody listening: refused, then failed fast until the retry time. */
    const char *dead_urls[] = {dead};
    wm_gd_options_t d = {.servers = dead_urls, .server_count = 1, .retry_min_ms = 1000};
    b = wm_gd_sync_new(&d);
    ASSERT_EQ(wm_gd_sync_get(b, "a", &v), WM_ECONNREFUSED);
    ASSERT_EQ(wm_gd_sync_get(b, "a", &v), WM_ENOTCONN);
    ASSERT(v.type == WM_GD_TYPE_STR && memmem(v.data, v.len, dead, strlen(dead)) != NULL);
    wm_gd_sync_free(b);
    proc_cleanup(&s);
}

static const wm_test_case_t cases[] = {{"ops", test_ops},
                                       {"pipeline", test_pipeline},
                                       {"timeout", test_timeout},
                                       {"reconnect", test_reconnect},
                                       {"auth", test_auth},
                                       {"ring", test_ring},
                                       {"multi_server", test_multi_server},
                                       {"free_in_callback", test_free_in_callback},
                                       {"sync", test_sync},
                                       {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
