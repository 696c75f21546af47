/* SPDX-License-Identifier: MIT */
/* The process loop: a libevent base with precise timers, the deferred-work
 * queue that makes freeing inside callbacks safe, signal watches and the
 * asynchronous resolver. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>

#include "wm_int.h"

typedef struct signal_watch {
    int id;
    struct event *ev;
    wm_signal_cb cb;
    void *user_data;
} signal_watch_t;

static struct event_base *loop_base;
static struct event *deferred_ev;
static wm__deferred_t *deferred_head, *deferred_tail;
static bool loop_running;
static bool stop_pending; /* wm_loop_stop() before wm_loop_run() */
static wm__map_t signal_watches;
static int next_signal_id = 1;
static struct evdns_base *dns_base;

static void run_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    wm__run_deferred();
}

/* libevent's own messages (evdns giving up on a name server, …) go into
 * wm's log, so the user reads one stream in one format. */
static void libevent_log(int severity, const char *msg)
{
    static const wm_log_level_t map[] = {WM_LOG_DEBUG, WM_LOG_INFO, WM_LOG_WARN, WM_LOG_ERROR};
    wm_log(severity >= 0 && severity <= 3 ? map[severity] : WM_LOG_ERROR, "libevent: %s", msg);
}

struct event_base *wm__base(void)
{
    if (loop_base)
        return loop_base;
    event_set_log_callback(libevent_log);
    struct event_config *cfg = event_config_new();
    if (!cfg)
        goto oom;
    /* Without this flag libevent reads CLOCK_MONOTONIC_COARSE: 4 ms steps. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    loop_base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!loop_base)
        goto oom;
    deferred_ev = event_new(loop_base, -1, 0, run_deferred_cb, NULL);
    if (!deferred_ev) {
        event_base_free(loop_base);
        loop_base = NULL;
        goto oom;
    }
    /* A write to a closed socket must be an EPIPE return, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    return loop_base;
oom:
    wm_log_error("cannot create the event loop: out of memory");
    return NULL;
}

bool wm__loop_exists(void)
{
    return loop_base != NULL;
}

struct event_base *wm_loop_base(void)
{
    return wm__base();
}

int wm__defer(void (*fn)(void *arg), void *arg)
{
    if (!wm__base())
        return WM_ENOMEM;
    wm__deferred_t *d = malloc(sizeof *d);
    if (!d)
        return WM_ENOMEM;
    d->fn = fn;
    d->arg = arg;
    d->next = NULL;
    if (deferred_tail)
        deferred_tail->next = d;
    else
        deferred_head = d;
    deferred_tail = d;
    event_active(deferred_ev, 0, 0);
    return WM_OK;
}

void wm__run_deferred(void)
{
    /* Tasks deferred while these run go to a later turn, so a task that
     * defers itself cannot starve the loop. */
    wm__deferred_t *d = deferred_head;
    deferred_head = deferred_tail = NULL;
    while (d) {
        wm__deferred_t *next = d->next;
        d->fn(d->arg);
        free(d);
        d = next;
    }
}

int wm_loop_run(void)
{
    if (loop_running)
        return WM_EINVAL;
    if (!wm__base())
        return WM_ENOMEM;
    /* libevent forgets a break asked for while its loop was not running;
     * a stop asked for before the run (a worker whose master died while
     * it started) must still end the run. */
    if (stop_pending) {
        stop_pending = false;
        return WM_OK;
    }
    loop_running = true;
    int rc = event_base_dispatch(loop_base);
    loop_running = false;
    return rc < 0 ? WM_EINVAL : WM_OK;
}

void wm_loop_stop(void)
{
    if (!loop_running) {
        stop_pending = true;
        return;
    }
    event_base_loopbreak(loop_base);
}

uint64_t wm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wm_loop_free(void)
{
    if (!loop_base)
        return;
    for (wm_worker_t *w = wm__workers(); w; w = w->next)
        wm_worker_stop(w);
    wm__conn_destroy_all();
    wm__timer_free_all();
    /* Frees queued by the teardown above, and any they queue in turn. */
    while (deferred_head)
        wm__run_deferred();
    wm__signal_free_all();
    if (dns_base) {
        evdns_base_free(dns_base, 1);
        dns_base = NULL;
    }
    event_free(deferred_ev);
    deferred_ev = NULL;
    event_base_free(loop_base);
    loop_base = NULL;
    stop_pending = false;
}

/* ---- signals ------------------------------------------------------------- */

static void signal_cb(evutil_socket_t signum, short what, void *arg)
{
    signal_watch_t *s = arg;
    s->cb((int)signum, s->user_data);
}

int wm_signal_add(int signum, wm_signal_cb cb, void *user_data)
{
    if (!cb || signum <= 0 || signum >= NSIG)
        return WM_EINVAL;
    if (!wm__base())
        return WM_ENOMEM;
    signal_watch_t *s = calloc(1, sizeof *s);
    if (!s)
        return WM_ENOMEM;
    s->id = next_signal_id++;
    s->cb = cb;
    s->user_data = user_data;
    s->ev = evsignal_new(loop_base, signum, signal_cb, s);
    if (!s->ev || evsignal_add(s->ev, NULL) < 0 ||
        wm__map_put(&signal_watches, (uint64_t)s->id, s) != WM_OK) {
        if (s->ev)
            event_free(s->ev);
        free(s);
        return WM_ENOMEM;
    }
    return s->id;
}

int wm_signal_del(int watch_id)
{
    signal_watch_t *s = watch_id > 0 ? wm__map_del(&signal_watches, (uint64_t)watch_id) : NULL;
    if (!s)
        return WM_ENOENT;
    event_free(s->ev);
    free(s);
    return WM_OK;
}

void wm__signal_free_all(void)
{
    for (size_t i = 0; i < signal_watches.cap; i++) {
        signal_watch_t *s = signal_watches.slots[i].val;
        if (signal_watches.slots[i].key && s) {
            event_free(s->ev);
            free(s);
        }
    }
    wm__map_free(&signal_watches);
}

/* ---- DNS ----------------------------------------------------------------- */

struct evdns_base *wm_dns_base(void)
{
    if (dns_base || !wm__base())
        return dns_base;
    dns_base = evdns_base_new(loop_base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!dns_base) {
        /* No usable resolv.conf: start empty so /etc/hosts still works. */
        dns_base = evdns_base_new(loop_base, 0);
        if (dns_base)
            evdns_base_load_hosts(dns_base, NULL);
    }
    if (!dns_base)
        wm_log_error("cannot create the DNS resolver: out of memory");
    return dns_base;
}

int wm_dns_set_nameservers(const char *servers)
{
    if (!servers || !*servers || !wm__base())
        return WM_EINVAL;
    struct evdns_base *nb = evdns_base_new(loop_base, 0);
    if (!nb)
        return WM_ENOMEM;
    evdns_base_load_hosts(nb, NULL);
    char *copy = strdup(servers), *save = NULL;
    int rc = copy ? WM_OK : WM_ENOMEM;
    for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok && rc == WM_OK;
         tok = strtok_r(NULL, ", ", &save)) {
        if (evdns_base_nameserver_ip_add(nb, tok) != 0) {
            wm_log_error("bad DNS server address '%s': expected ip or ip:port", tok);
            rc = WM_EINVAL;
        }
    }
    free(copy);
    if (rc != WM_OK) {
        evdns_base_free(nb, 0);
        return rc;
    }
    if (dns_base)
        evdns_base_free(dns_base, 1);
    dns_base = nb;
    return WM_OK;
}
