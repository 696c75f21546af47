/* SPDX-License-Identifier: MIT */
/* The Channel client library (wm/channel.h) against real channel-server
 * processes: events through handlers (exact, glob, catch-all), publish_loop,
 * a queue watched and acknowledged, a server restarted by pid in the middle
 * (the client subscribes again and watches again by itself; what it
 * published while the server was down arrives after the reconnect), the
 * offline queue's bound (oldest dropped, counted, callbacks with
 * WM_ENOBUFS), per-request timeouts against a server stopped with SIGSTOP
 * (WM_ETIMEDOUT once, the connection kept, late replies ignored), freeing
 * the client inside a handler, and the blocking API (including a
 * connection broken by a restart). */
#include <event2/event.h>

#include <wm/channel.h>

#include "common/svc_proc.h"

/* ---- Helpers ------------------------------------------------------------- */

static int ready_sync(svc_proc_t *s)
{
    char url[64];
    snprintf(url, sizeof url, "127.0.0.1:%u", s->port);
    wm_ch_options_t o = {.connect_timeout_ms = 200, .timeout_ms = 500};
    wm_ch_sync_t *c = wm_ch_sync_new(url, &o);
    int rc = wm_ch_sync_publish(c, "ready", "", 0, NULL);
    wm_ch_sync_free(c);
    return rc == WM_OK || rc == WM_CH_EAUTHREQUIRED ? 0 : -1; /* up, with or without --auth */
}

static void start(svc_proc_t *s)
{
    svc_proc_init(s, "chc", CH_SERVER_BIN, NULL, ready_sync, NULL);
    proc_start(s);
}

static void url_of(const svc_proc_t *s, char *buf, size_t len)
{
    snprintf(buf, len, "127.0.0.1:%u", s->port);
}

static wm_ch_client_t *client(const svc_proc_t *s, size_t max_offline)
{
    char url[64];
    url_of(s, url, sizeof url);
    wm_ch_options_t o = {.retry_min_ms = 20, .retry_max_ms = 100, .max_offline = max_offline};
    wm_ch_client_t *c = wm_ch_client_new(url, &o);
    ASSERT(c != NULL);
    return c;
}

/* Runs the loop until *flag is true (10 s at most). */
static void spin_until(const bool *flag, const char *what)
{
    uint64_t end = wm_now_ms() + 10000;
    while (!*flag && wm_now_ms() < end)
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK), sleep_ms(1);
    if (!*flag)
        WM_TEST_FAIL("%s: not within 10 s", what);
}

static void spin_ms(int ms)
{
    uint64_t end = wm_now_ms() + (uint64_t)ms;
    while (wm_now_ms() < end)
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK), sleep_ms(1);
}

static void wait_connected(wm_ch_client_t *c, uint64_t connects)
{
    uint64_t end = wm_now_ms() + 10000;
    wm_ch_client_stats_t st;
    do {
        spin_ms(5);
        wm_ch_client_stats(c, &st);
    } while ((st.connects < connects || !wm_ch_client_connected(c)) && wm_now_ms() < end);
    if (!wm_ch_client_connected(c))
        WM_TEST_FAIL("not connected: %s", wm_ch_client_last_error(c));
}

/* What handlers saw: names and payloads, in order. */
typedef struct seen {
    int n;
    char what[64][80];
    uint64_t ids[64];
    bool got;
} seen_t;

static void record(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    seen_t *s = user_data;
    (void)c;
    if (s->n < 64) {
        snprintf(s->what[s->n], sizeof s->what[0], "%s=%.*s", m->name, (int)m->len, m->data);
        s->ids[s->n] = m->id;
    }
    s->n++;
    s->got = true;
}

static void record_ack(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    record(c, m, user_data);
    ASSERT(m->is_queue && m->deliveries >= 1);
    ASSERT_EQ(wm_ch_ack(c, m->id), WM_OK);
}

typedef struct done {
    bool got;
    int calls, status;
    uint64_t result;
} done_t;

static void on_done(wm_ch_client_t *c, int status, uint64_t result, void *user_data)
{
    done_t *d = user_data;
    (void)c;
    d->calls++;
    d->got = true;
    d->status = status;
    d->result = result;
}

/* Waits until seen has `n` entries. */
static void wait_seen(seen_t *s, int n)
{
    uint64_t end = wm_now_ms() + 10000;
    while (s->n < n && wm_now_ms() < end)
        spin_ms(2);
    if (s->n < n)
        WM_TEST_FAIL("saw %d messages, expected %d", s->n, n);
}

/* ---- Cases --------------------------------------------------------------- */

static void test_pubsub(void)
{
    svc_proc_t s;
    start(&s);
    wm_ch_client_t *sub = client(&s, 0), *pub = client(&s, 0);
    seen_t news = {0}, sport = {0}, rest = {0};
    ASSERT_EQ(wm_ch_on(sub, "news", record, &news), WM_OK);
    ASSERT_EQ(wm_ch_on(sub, "sport.*", record, &sport), WM_OK);
    ASSERT_EQ(wm_ch_on(sub, NULL, record, &rest), WM_OK);
    const char *other[] = {"other", "more"};
    ASSERT_EQ(wm_ch_subscribe(sub, other, 2), WM_OK);
    ASSERT_EQ(wm_ch_on(sub, "", record, &rest), WM_EINVAL);
    wait_connected(sub, 1);
    wait_connected(pub, 1);
    spin_ms(50); /* the subscriptions reach the server before the publishes (another connection) */

    done_t d = {0};
    const char *ev[] = {"news"};
    ASSERT_EQ(wm_ch_publish(pub, ev, 1, "hello", 5, on_done, &d), WM_OK);
    ASSERT(!d.got); /* never inside the starting call */
    spin_until(&d.got, "publish answered");
    ASSERT_EQ(d.status, WM_OK);
    ASSERT_EQ(d.result, 1);
    const char *many[] = {"sport.ski", "other", "nobody"};
    ASSERT_EQ(wm_ch_publish(pub, many, 3, "x", 1, NULL, NULL), WM_OK);
    for (int i = 0; i < 5; i++) {
        char text[8];
        snprintf(text, sizeof text, "%d", i);
        ASSERT_EQ(wm_ch_publish(pub, ev, 1, text, strlen(text), NULL, NULL), WM_OK);
    }
    wait_seen(&news, 6);
    wait_seen(&sport, 1);
    wait_seen(&rest, 1);
    ASSERT_STR_EQ(news.what[0], "news=hello");
    for (int i = 0; i < 5; i++) { /* publish order */
        char want[16];
        snprintf(want, sizeof want, "news=%d", i);
        ASSERT_STR_EQ(news.what[i + 1], want);
    }
    ASSERT_STR_EQ(sport.what[0], "sport.ski=x");
    ASSERT_STR_EQ(rest.what[0], "other=x");

    /* Unsubscribed: the handler is gone, nothing more arrives. */
    ASSERT_EQ(wm_ch_unsubscribe(sub, ev, 1), WM_OK);
    spin_ms(50);
    memset(&d, 0, sizeof d);
    ASSERT_EQ(wm_ch_publish(pub, ev, 1, "late", 4, on_done, &d), WM_OK);
    spin_until(&d.got, "publish answered");
    ASSERT_EQ(d.result, 0);
    spin_ms(50);
    ASSERT_EQ(news.n, 6);

    /* publish_loop: one of two subscribers each time, in rotation. */
    wm_ch_client_t *sub2 = client(&s, 0);
    seen_t a = {0}, b = {0};
    ASSERT_EQ(wm_ch_on(sub, "work", record, &a), WM_OK);
    ASSERT_EQ(wm_ch_on(sub2, "work", record, &b), WM_OK);
    wait_connected(sub2, 1);
    spin_ms(50);
    const char *work[] = {"work"};
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(wm_ch_publish_loop(pub, work, 1, "w", 1, NULL, NULL), WM_OK);
    wait_seen(&a, 2);
    wait_seen(&b, 2);
    spin_ms(30);
    ASSERT_EQ(a.n + b.n, 4);

    wm_ch_client_free(sub);
    wm_ch_client_free(sub2);
    wm_ch_client_free(pub);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

static void test_queue(void)
{
    svc_proc_t s;
    start(&s);
    wm_ch_client_t *w = client(&s, 0), *p = client(&s, 0);
    seen_t got = {0};
    ASSERT_EQ(wm_ch_watch(w, "jobs", 10, record_ack, &got), WM_OK);
    done_t d = {0};
    const char *q[] = {"jobs"};
    ASSERT_EQ(wm_ch_enqueue(p, q, 1, "job-1", 5, 0, on_done, &d), WM_OK);
    spin_until(&d.got, "enqueue confirmed");
    ASSERT_EQ(d.status, WM_OK);
    ASSERT(d.result > 0);
    wait_seen(&got, 1);
    ASSERT_STR_EQ(got.what[0], "jobs=job-1");
    ASSERT_EQ(got.ids[0], d.result);
    /* Acknowledged: not delivered again after unwatch + watch. */
    spin_ms(50);
    ASSERT_EQ(wm_ch_unwatch(w, "jobs"), WM_OK);
    ASSERT_EQ(wm_ch_watch(w, "jobs", 10, record_ack, &got), WM_OK);
    spin_ms(100);
    ASSERT_EQ(got.n, 1);
    wm_ch_client_free(w);
    wm_ch_client_free(p);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

/* The server stops (SIGTERM, by pid) and starts again on the same port and
 * data file: the client subscribes and watches again by itself; what it
 * published and enqueued meanwhile goes out after the restore, in order. */
static void test_reconnect(void)
{
    svc_proc_t s;
    start(&s);
    wm_ch_client_t *c = client(&s, 0);
    seen_t news = {0}, jobs = {0};
    ASSERT_EQ(wm_ch_on(c, "news", record, &news), WM_OK);
    ASSERT_EQ(wm_ch_watch(c, "jobs", 0, record_ack, &jobs), WM_OK);
    wait_connected(c, 1);
    const char *ev[] = {"news"}, *q[] = {"jobs"};
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "before", 6, NULL, NULL), WM_OK);
    wait_seen(&news, 1);

    proc_stop(&s);
    spin_ms(100); /* the client sees the end */
    ASSERT(!wm_ch_client_connected(c));
    done_t pd[3] = {{0}}, ed = {0};
    for (int i = 0; i < 3; i++) {
        char text[16];
        snprintf(text, sizeof text, "offline-%d", i);
        ASSERT_EQ(wm_ch_publish(c, ev, 1, text, strlen(text), on_done, &pd[i]), WM_OK);
    }
    ASSERT_EQ(wm_ch_enqueue(c, q, 1, "offline-job", 11, 0, on_done, &ed), WM_OK);
    wm_ch_client_stats_t st;
    wm_ch_client_stats(c, &st);
    ASSERT_EQ(st.offline_queued, 4);
    spin_ms(100);
    ASSERT(!pd[0].got); /* kept, not failed */

    proc_start(&s);
    wait_connected(c, 2);
    spin_until(&ed.got, "the offline enqueue confirmed");
    ASSERT_EQ(ed.status, WM_OK);
    wait_seen(&news, 4);
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "news=offline-%d", i);
        ASSERT_STR_EQ(news.what[i + 1], want);
        ASSERT_EQ(pd[i].status, WM_OK);
        ASSERT_EQ(pd[i].result, 1); /* subscribed again before it was published */
    }
    wait_seen(&jobs, 1); /* watched again */
    ASSERT_STR_EQ(jobs.what[0], "jobs=offline-job");

    /* Another client's publish reaches the restored subscription. */
    wm_ch_client_t *p = client(&s, 0);
    ASSERT_EQ(wm_ch_publish(p, ev, 1, "after", 5, NULL, NULL), WM_OK);
    wait_seen(&news, 5);
    ASSERT_STR_EQ(news.what[4], "news=after");
    wm_ch_client_stats(c, &st);
    ASSERT_EQ(st.connects, 2);
    ASSERT_EQ(st.offline_queued, 0);
    ASSERT_EQ(st.offline_dropped, 0);
    wm_ch_client_free(p);
    wm_ch_client_free(c);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

/* The offline queue holds max_offline requests; the oldest go first. */
static void test_offline_bound(void)
{
    svc_proc_t s;
    start(&s);
    proc_stop(&s);
    wm_ch_client_t *c = client(&s, 3);
    seen_t news = {0};
    ASSERT_EQ(wm_ch_on(c, "news", record, &news), WM_OK);
    done_t d[5] = {{0}};
    const char *ev[] = {"news"};
    for (int i = 0; i < 5; i++) {
        char text[8];
        snprintf(text, sizeof text, "%d", i);
        ASSERT_EQ(wm_ch_publish(c, ev, 1, text, 1, on_done, &d[i]), WM_OK);
    }
    ASSERT(!d[0].got); /* dropped, but told from the loop */
    spin_until(&d[1].got, "dropped requests told");
    ASSERT_EQ(d[0].status, WM_ENOBUFS);
    ASSERT_EQ(d[1].status, WM_ENOBUFS);
    wm_ch_client_stats_t st;
    wm_ch_client_stats(c, &st);
    ASSERT_EQ(st.offline_dropped, 2);
    ASSERT_EQ(st.offline_queued, 3);
    proc_start(&s);
    wait_seen(&news, 3);
    ASSERT_STR_EQ(news.what[0], "news=2");
    ASSERT_STR_EQ(news.what[2], "news=4");
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(d[i].calls, 1);
    wm_ch_client_free(c);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

/* Promises 3 and 4: free inside a handler; pending callbacks get
 * WM_ECANCELED, once. */
static void free_in_handler(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    bool *freed = user_data;
    (void)m;
    wm_ch_client_free(c);
    *freed = true;
}

static void test_free_in_callback(void)
{
    svc_proc_t s;
    start(&s);
    wm_ch_client_t *c = client(&s, 0);
    bool freed = false;
    ASSERT_EQ(wm_ch_on(c, "bye", free_in_handler, &freed), WM_OK);
    wait_connected(c, 1);
    const char *ev[] = {"bye"};
    done_t d1 = {0}, d2 = {0};
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "1", 1, on_done, &d1), WM_OK);
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "2", 1, on_done, &d2), WM_OK);
    spin_until(&freed, "the handler");
    spin_ms(50);
    ASSERT_EQ(d1.calls + d2.calls, 2);
    ASSERT(d1.status == WM_OK || d1.status == WM_ECANCELED);
    ASSERT_EQ(d2.status, WM_ECANCELED);
    /* Free with requests waiting offline. */
    proc_stop(&s);
    wm_ch_client_t *o = client(&s, 0);
    done_t d3 = {0};
    ASSERT_EQ(wm_ch_publish(o, ev, 1, "3", 1, on_done, &d3), WM_OK);
    wm_ch_client_free(o);
    ASSERT_EQ(d3.calls, 1);
    ASSERT_EQ(d3.status, WM_ECANCELED);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

/* The worker process of a server started by svc_proc (the master's only
 * child). */
static pid_t worker_of(pid_t master)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f) {
            if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (pid > 0)
            return pid;
        sleep_ms(10);
    }
    WM_TEST_FAIL("no worker under master %d", (int)master);
}

/* Waits for both (no failure while the server is stopped: the caller
 * resumes it first). */
static void spin_until_both(const bool *a, const bool *b, int ms)
{
    uint64_t end = wm_now_ms() + (uint64_t)ms;
    while (!(*a && *b) && wm_now_ms() < end)
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK), sleep_ms(1);
}

/* Promise 4 on the timeout path: the first timed-out callback frees the
 * client; the second request, timed out in the same tick, is cancelled. */
static void free_on_timeout(wm_ch_client_t *c, int status, uint64_t result, void *user_data)
{
    on_done(c, status, result, user_data);
    wm_ch_client_free(c);
}

/* A server that stops answering (SIGSTOP on its worker): requests end with
 * WM_ETIMEDOUT after request_timeout_ms, once; the connection stays, the
 * late replies are ignored, the late enqueue was stored all the same, and
 * the next requests are answered. */
static void test_request_timeout(void)
{
    svc_proc_t s;
    start(&s);
    char url[64];
    url_of(&s, url, sizeof url);
    wm_ch_options_t o = {.retry_min_ms = 20, .retry_max_ms = 100, .request_timeout_ms = 300};
    wm_ch_client_t *c = wm_ch_client_new(url, &o);
    ASSERT(c != NULL);
    seen_t news = {0}, jobs = {0};
    ASSERT_EQ(wm_ch_on(c, "news", record, &news), WM_OK);
    wait_connected(c, 1);
    spin_ms(50);
    pid_t worker = worker_of(s.master);

    ASSERT_EQ(kill(worker, SIGSTOP), 0);
    done_t pd = {0}, ed = {0};
    const char *ev[] = {"news"}, *q[] = {"late"};
    uint64_t t0 = wm_now_ms();
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "stopped", 7, on_done, &pd), WM_OK);
    ASSERT_EQ(wm_ch_enqueue(c, q, 1, "late-job", 8, 0, on_done, &ed), WM_OK);
    spin_until_both(&pd.got, &ed.got, 5000);
    uint64_t took = wm_now_ms() - t0;
    kill(worker, SIGCONT);
    ASSERT(pd.got && ed.got);
    ASSERT_EQ(pd.status, WM_ETIMEDOUT);
    ASSERT_EQ(ed.status, WM_ETIMEDOUT);
    ASSERT_GE(took, 300);
    ASSERT_LT(took, 2000);

    /* Resumed: the late replies are dropped, the connection was kept. */
    spin_ms(200);
    ASSERT_EQ(pd.calls, 1);
    ASSERT_EQ(ed.calls, 1);
    wm_ch_client_stats_t st;
    wm_ch_client_stats(c, &st);
    ASSERT_EQ(st.connects, 1);
    ASSERT(wm_ch_client_connected(c));
    wait_seen(&news, 1); /* the publish itself happened, late */
    ASSERT_STR_EQ(news.what[0], "news=stopped");
    memset(&pd, 0, sizeof pd);
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "again", 5, on_done, &pd), WM_OK);
    spin_until(&pd.got, "a publish after the resume");
    ASSERT_EQ(pd.status, WM_OK);
    ASSERT_EQ(pd.result, 1);
    ASSERT_EQ(wm_ch_watch(c, "late", 0, record_ack, &jobs), WM_OK);
    wait_seen(&jobs, 1); /* the timed-out enqueue was stored */
    ASSERT_STR_EQ(jobs.what[0], "late=late-job");

    /* Freed inside a timeout callback. */
    wm_ch_client_t *f = wm_ch_client_new(url, &o);
    ASSERT(f != NULL);
    wait_connected(f, 1);
    ASSERT_EQ(kill(worker, SIGSTOP), 0);
    done_t f1 = {0}, f2 = {0};
    ASSERT_EQ(wm_ch_publish(f, ev, 1, "1", 1, free_on_timeout, &f1), WM_OK);
    ASSERT_EQ(wm_ch_publish(f, ev, 1, "2", 1, on_done, &f2), WM_OK);
    spin_until_both(&f1.got, &f2.got, 5000);
    kill(worker, SIGCONT);
    ASSERT_EQ(f1.calls, 1);
    ASSERT_EQ(f1.status, WM_ETIMEDOUT);
    ASSERT_EQ(f2.calls, 1);
    ASSERT_EQ(f2.status, WM_ECANCELED);

    /* Freed while requests wait: WM_ECANCELED, not a timeout later. */
    ASSERT_EQ(kill(worker, SIGSTOP), 0);
    memset(&pd, 0, sizeof pd);
    ASSERT_EQ(wm_ch_publish(c, ev, 1, "x", 1, on_done, &pd), WM_OK);
    spin_ms(20);
    wm_ch_client_free(c);
    kill(worker, SIGCONT);
    ASSERT_EQ(pd.calls, 1);
    ASSERT_EQ(pd.status, WM_ECANCELED);
    spin_ms(400);
    ASSERT_EQ(pd.calls, 1);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

static void test_sync(void)
{
    svc_proc_t s;
    start(&s);
    char url[64];
    url_of(&s, url, sizeof url);
    wm_ch_client_t *c = client(&s, 0);
    seen_t news = {0}, jobs = {0};
    ASSERT_EQ(wm_ch_on(c, "news", record, &news), WM_OK);
    ASSERT_EQ(wm_ch_watch(c, "jobs", 0, record_ack, &jobs), WM_OK);
    wait_connected(c, 1);
    spin_ms(50);

    wm_ch_sync_t *b = wm_ch_sync_new(url, NULL);
    ASSERT(b != NULL);
    uint64_t n = 99, id = 0;
    ASSERT_EQ(wm_ch_sync_publish(b, "news", "sync", 4, &n), WM_OK);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(wm_ch_sync_enqueue(b, "jobs", "sync-job", 8, 0, &id), WM_OK);
    ASSERT(id > 0);
    wait_seen(&news, 1);
    wait_seen(&jobs, 1);
    ASSERT_STR_EQ(news.what[0], "news=sync");
    ASSERT_EQ(jobs.ids[0], id);
    ASSERT_EQ(wm_ch_sync_publish(b, "", "x", 1, NULL), WM_EINVAL);

    /* The server restarts: the kept connection is broken; the call makes a
     * new one. */
    proc_stop(&s);
    ASSERT(wm_ch_sync_publish(b, "news", "down", 4, NULL) < 0);
    ASSERT(strstr(wm_ch_sync_last_error(b), url) != NULL);
    proc_start(&s);
    ASSERT_EQ(wm_ch_sync_enqueue(b, "jobs", "again", 5, 0, &id), WM_OK);
    wm_ch_sync_free(b);

    /* auth: refused without the secret, accepted with it. */
    wm_ch_client_free(c);
    proc_stop(&s);
    s.extra[0] = "--auth";
    s.extra[1] = "s3cret";
    proc_start(&s);
    wm_ch_sync_t *no = wm_ch_sync_new(url, NULL);
    ASSERT_EQ(wm_ch_sync_publish(no, "news", "x", 1, NULL), WM_CH_EAUTHREQUIRED);
    wm_ch_sync_free(no);
    wm_ch_options_t o = {.auth = "s3cret"};
    wm_ch_sync_t *yes = wm_ch_sync_new(url, &o);
    ASSERT_EQ(wm_ch_sync_publish(yes, "news", "x", 1, NULL), WM_OK);
    wm_ch_sync_free(yes);
    proc_cleanup(&s);
    WM_TEST_CLEAN();
}

static const wm_test_case_t cases[] = {{"pubsub", test_pubsub},
                                       {"queue", test_queue},
                                       {"reconnect", test_reconnect},
                                       {"offline_bound", test_offline_bound},
                                       {"free_in_callback", test_free_in_callback},
                                       {"request_timeout", test_request_timeout},
                                       {"sync", test_sync},
                                       {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
