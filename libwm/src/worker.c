/* SPDX-License-Identifier: MIT */
/* Workers: parse the listen URL, bind, accept (or receive datagrams), and
 * keep the table of live connections. wm_run_all (runall.c) drives them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "wm_int.h"

#define WM_ACCEPT_BUDGET 64     /* accepts per wakeup, so reads are not starved */
#define WM_ACCEPT_RETRY_MS 100  /* pause after EMFILE before accepting again */
#define WM_LISTEN_BACKLOG 65535 /* the kernel caps it at somaxconn */

static wm_worker_t *workers_head;

wm_worker_t *wm__workers(void)
{
    return workers_head;
}

wm_worker_t *wm__worker_at(int index)
{
    wm_worker_t *w = workers_head;
    for (int i = 0; w && i < index; i++)
        w = w->next;
    return w;
}

/* A worker with no address (Workerman's `new Worker()`): its processes run
 * on_worker_start and timers of their own but accept nothing. */
static wm_worker_t *worker_new_unbound(void)
{
    wm_worker_t *w = calloc(1, sizeof *w);
    if (!w || !(w->url_text = strdup("none")) || !(w->name = strdup("none"))) {
        if (w)
            free(w->url_text);
        free(w);
        wm_log_error("cannot make a worker: out of memory");
        return NULL;
    }
    w->unbound = true;
    w->proto = &wm_protocol_tcp;
    return w;
}

static void worker_append(wm_worker_t *w)
{
    w->count = 1;
    w->fd = -1;
    w->max_send_buffer = WM_DEFAULT_MAX_SEND_BUFFER;
    w->max_package = WM_DEFAULT_MAX_PACKAGE;
    w->tls_handshake_ms = WM_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    w->reloadable = true;
    wm_worker_t **tail = &workers_head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
}

wm_worker_t *wm_worker_new(const char *url)
{
    if (!url) {
        wm_worker_t *w = worker_new_unbound();
        if (w)
            worker_append(w);
        return w;
    }
    wm__url_t u;
    if (wm__url_parse(url, &u) != WM_OK) {
        wm_log_error("bad listen URL '%s': %s", url ? url : "(null)", wm_strerror(WM_EBADURL));
        return NULL;
    }
    const wm_protocol_t *proto = wm__protocol_for_url(&u);
    if (!proto) {
        wm_log_error("bad listen URL '%s': no protocol '%s' is registered (register it with "
                     "wm_protocol_register first)",
                     url, u.scheme);
        return NULL;
    }
    wm_worker_t *w = calloc(1, sizeof *w);
    if (!w || !(w->url_text = strdup(url)) || !(w->name = strdup("none"))) {
        if (w)
            free(w->url_text);
        free(w);
        wm_log_error("cannot make a worker for '%s': out of memory", url);
        return NULL;
    }
    w->url = u;
    w->proto = proto;
    worker_append(w);
    return w;
}

/* The master's own sockets are workers too, but not the user's: they stay
 * off the list that wm_run_all starts and status shows. */
wm_worker_t *wm__worker_new_hidden(const char *url)
{
    wm_worker_t *w = wm_worker_new(url);
    if (!w)
        return NULL;
    for (wm_worker_t **p = &workers_head; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    w->next = NULL;
    w->hidden = true;
    return w;
}

void wm__worker_free_hidden(wm_worker_t *w)
{
    wm_worker_free(w);
}

static void worker_release(void *arg)
{
    wm_worker_t *w = arg;
    wm__tls_worker_free(w);
    wm__ws_worker_free(w);
    free(w->url_text);
    free(w->name);
    free(w->user);
    free(w->group);
    free(w);
}

void wm_worker_free(wm_worker_t *w)
{
    if (!w)
        return;
    wm_worker_stop(w);
    for (wm_worker_t **p = &workers_head; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (w->user_free)
        w->user_free(w->user_data);
    /* The worker may be freed from inside one of its callbacks (its accept
     * or datagram loop is then still on the stack): release the memory on
     * the loop, as for connections. */
    if (!wm__loop_exists() || wm__defer(worker_release, w) != WM_OK)
        worker_release(w);
}

void wm__worker_free_all(void)
{
    while (workers_head)
        wm_worker_free(workers_head);
}

/* ---- settings ------------------------------------------------------------ */

void wm_worker_set_name(wm_worker_t *w, const char *name)
{
    char *copy = strdup(name ? name : "none");
    if (!copy)
        return;
    free(w->name);
    w->name = copy;
}

void wm_worker_set_count(wm_worker_t *w, int count)
{
    w->count = count > 0 ? count : 1;
}

void wm_worker_set_user_data(wm_worker_t *w, void *user_data, wm_free_cb free_cb)
{
    if (w->user_free && w->user_data != user_data)
        w->user_free(w->user_data);
    w->user_data = user_data;
    w->user_free = free_cb;
}

void wm_worker_set_max_send_buffer(wm_worker_t *w, size_t bytes)
{
    w->max_send_buffer = bytes;
}

void wm_worker_set_max_package(wm_worker_t *w, size_t bytes)
{
    w->max_package = bytes;
}

int wm_worker_set_protocol(wm_worker_t *w, const char *name)
{
    const wm_protocol_t *p = wm_protocol_find(name);
    if (!p)
        return WM_ENOPROTO;
    w->proto = p;
    return WM_OK;
}

void wm_worker_set_reuse_port(wm_worker_t *w, bool on)
{
    w->reuse_port = on;
}

void wm_worker_set_reloadable(wm_worker_t *w, bool on)
{
    w->reloadable = on;
}

void wm_worker_set_user(wm_worker_t *w, const char *user, const char *group)
{
    free(w->user);
    free(w->group);
    w->user = user ? strdup(user) : NULL;
    w->group = group ? strdup(group) : NULL;
}

void wm_worker_on_worker_reload(wm_worker_t *w, wm_worker_cb cb, void *user_data)
{
    w->on_reload = cb;
    w->on_reload_ud = user_data;
}

void wm_worker_on_status(wm_worker_t *w, wm_worker_status_cb cb, void *user_data)
{
    w->on_status = cb;
    w->on_status_ud = user_data;
}

void wm_worker_on_worker_start(wm_worker_t *w, wm_worker_cb cb, void *user_data)
{
    w->on_start = cb;
    w->on_start_ud = user_data;
}

void wm_worker_on_worker_stop(wm_worker_t *w, wm_worker_cb cb, void *user_data)
{
    w->on_stop = cb;
    w->on_stop_ud = user_data;
}

#define WM_WORKER_SETTER(what, type)                                                               \
    void wm_worker_##what(wm_worker_t *w, type cb, void *user_data)                                \
    {                                                                                              \
        w->cb.what = cb;                                                                           \
        w->cb.what##_ud = user_data;                                                               \
    }
WM_WORKER_SETTER(on_connect, wm_conn_cb)
WM_WORKER_SETTER(on_message, wm_message_cb)
WM_WORKER_SETTER(on_close, wm_conn_cb)
WM_WORKER_SETTER(on_error, wm_conn_error_cb)
WM_WORKER_SETTER(on_buffer_full, wm_conn_cb)
WM_WORKER_SETTER(on_buffer_drain, wm_conn_cb)

/* ---- facts ------------------------------------------------------------------ */

const char *wm_worker_name(const wm_worker_t *w)
{
    return w->name;
}

const char *wm_worker_url(const wm_worker_t *w)
{
    return w->url_text;
}

int wm_worker_count(const wm_worker_t *w)
{
    return w->count;
}

int wm_worker_id(const wm_worker_t *w)
{
    return w->id;
}

void *wm_worker_user_data(const wm_worker_t *w)
{
    return w->user_data;
}

const wm_protocol_t *wm_worker_protocol(const wm_worker_t *w)
{
    return w->proto;
}

uint16_t wm_worker_port(const wm_worker_t *w)
{
    return w->port;
}

size_t wm_worker_conn_count(const wm_worker_t *w)
{
    return w->nconns;
}

void wm__worker_conn_add(wm_worker_t *w, wm_conn_t *c)
{
    c->worker = w;
    c->wprev = NULL;
    c->wnext = w->conns;
    if (w->conns)
        w->conns->wprev = c;
    w->conns = c;
    w->nconns++;
}

void wm__worker_conn_remove(wm_worker_t *w, wm_conn_t *c)
{
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else if (w->conns == c)
        w->conns = c->wnext;
    else
        return; /* not on the list */
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wprev = c->wnext = NULL;
    w->nconns--;
    if (w->draining && w->nconns == 0)
        wm__worker_drained(w);
}

void wm_worker_foreach_conn(wm_worker_t *w, wm_conn_cb cb, void *user_data)
{
    /* Walk a snapshot of ids: the callback may close any connection. */
    size_t n = 0;
    uint64_t *ids = malloc((w->nconns ? w->nconns : 1) * sizeof *ids);
    if (!ids) {
        wm_log_error("worker %s: out of memory walking connections", w->name);
        return;
    }
    for (wm_conn_t *c = w->conns; c; c = c->wnext)
        ids[n++] = c->id;
    for (size_t i = 0; i < n; i++) {
        wm_conn_t *c = wm_conn_find(ids[i]);
        if (c && c->worker == w && c->state != WM_CONN_CLOSED)
            cb(c, user_data);
    }
    free(ids);
}

/* ---- listening ------------------------------------------------------------- */

/* A unix socket file left by a dead server would make bind fail; remove it,
 * but only when nothing answers on it, so a running server is never cut off. */
static int unix_clear_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return WM_OK;
    if (!S_ISSOCK(st.st_mode))
        return WM_EADDRINUSE;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    bool alive = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    if (fd >= 0)
        close(fd);
    if (alive)
        return WM_EADDRINUSE;
    unlink(path);
    return WM_OK;
}

static int listen_socket(wm_worker_t *w, struct sockaddr_storage *ss, socklen_t len)
{
    bool udp = w->url.transport == WM_TR_UDP;
    int fd = wm__socket(ss->ss_family, udp ? SOCK_DGRAM : SOCK_STREAM);
    if (fd < 0)
        return fd;
    int one = 1;
    if (ss->ss_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (w->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (ss->ss_family == AF_UNIX) {
        int rc = unix_clear_stale(w->url.host);
        if (rc != WM_OK) {
            close(fd);
            return rc;
        }
    }
    if (bind(fd, (struct sockaddr *)ss, len) < 0)
        goto fail;
    if (!udp && listen(fd, WM_LISTEN_BACKLOG) < 0)
        goto fail;
    return fd;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

int wm_worker_listen(wm_worker_t *w)
{
    if (w->listening || w->unbound)
        return WM_OK;
    if (w->url.tls && !w->tls_ctx) {
        wm_log_error("worker %s: cannot listen on %s: a +tls URL needs a certificate "
                     "(wm_worker_set_tls)",
                     w->name, w->url_text);
        return WM_ETLS;
    }
    wm__url_t u = w->url;
    if (strcmp(u.host, "localhost") == 0)
        strcpy(u.host, "127.0.0.1");
    struct sockaddr_storage ss;
    socklen_t len;
    if (wm__url_sockaddr(&u, &ss, &len) != WM_OK) {
        wm_log_error("worker %s: cannot listen on %s: the host must be an IP address "
                     "(0.0.0.0, 127.0.0.1, [::]) or localhost",
                     w->name, w->url_text);
        return WM_EINVAL;
    }
    int fd = listen_socket(w, &ss, len);
    if (fd < 0) {
        wm_log_error("worker %s: cannot listen on %s: %s", w->name, w->url_text, wm_strerror(fd));
        return fd;
    }
    wm__worker_adopt_listener(w, fd, w->url.transport == WM_TR_UNIX);
    return WM_OK;
}

void wm__worker_adopt_listener(wm_worker_t *w, int fd, bool owns_path)
{
    w->fd = fd;
    w->listening = true;
    w->owns_path = owns_path;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char ip[108];
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        wm__sockaddr_text((struct sockaddr *)&bound, blen, ip, sizeof ip, &w->port);
}

/* ---- accepting -------------------------------------------------------------- */

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    wm_worker_t *w = arg;
    if (w->accept_ev)
        event_add(w->accept_ev, NULL);
}

/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * listening socket that stays readable. */
static void accept_back_off(wm_worker_t *w, int err)
{
    wm_log_warn("worker %s: cannot accept on %s: %s; pausing accepts for %d ms", w->name,
                w->url_text, wm_strerror(err), WM_ACCEPT_RETRY_MS);
    event_del(w->accept_ev);
    if (!w->accept_retry)
        w->accept_retry = evtimer_new(wm__base(), on_accept_retry, w);
    struct timeval tv = {0, WM_ACCEPT_RETRY_MS * 1000};
    if (w->accept_retry)
        evtimer_add(w->accept_retry, &tv);
}

static void accept_one(wm_worker_t *w, int fd, struct sockaddr_storage *ss, socklen_t len)
{
    wm_conn_t *c = wm__conn_alloc(WM_KIND_ACCEPTED, w->proto, w->max_package, w->max_send_buffer);
    if (!c) {
        wm_log_error("worker %s: out of memory for a new connection; closing it", w->name);
        close(fd);
        return;
    }
    c->transport = (uint8_t)w->url.transport;
    c->cb = w->cb;
    memcpy(&c->remote, ss, len);
    c->remote_len = len;
    wm__worker_conn_add(w, c);
    if ((w->tls_ctx && wm__tls_accepted(c, w->tls_ctx) != WM_OK) ||
        wm__conn_attach_fd(c, fd) != WM_OK) {
        close(fd);
        wm_conn_destroy(c);
        return;
    }
    if (!c->tls) /* TLS: on_connect runs when the handshake completes */
        wm__conn_emit_connect(c);
}

static void on_acceptable(evutil_socket_t lfd, short what, void *arg)
{
    wm_worker_t *w = arg;
    for (int i = 0; i < WM_ACCEPT_BUDGET && w->fd >= 0; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(w->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(w, fd, &ss, len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            accept_back_off(w, -errno);
        else if (errno != EAGAIN)
            wm_log_warn("worker %s: accept on %s: %s", w->name, w->url_text, strerror(errno));
        break;
    }
}

static int accept_start(wm_worker_t *w, struct event_base *base)
{
    bool udp = w->url.transport == WM_TR_UDP;
    if (udp && !w->udp_peer) {
        w->udp_peer = wm__conn_alloc(WM_KIND_UDP_PEER, w->proto, w->max_package, 0);
        if (!w->udp_peer)
            return WM_ENOMEM;
        w->udp_peer->transport = WM_TR_UDP;
        w->udp_peer->worker = w;
    }
    w->accept_ev = event_new(base, w->fd, EV_READ | EV_PERSIST,
                             udp ? wm__udp_worker_on_readable : on_acceptable, w);
    if (!w->accept_ev || event_add(w->accept_ev, NULL) < 0)
        return WM_ENOMEM;
    return WM_OK;
}

int wm_worker_start(wm_worker_t *w)
{
    if (w->started)
        return WM_OK;
    struct event_base *base = wm__base();
    if (!base)
        return WM_ENOMEM;
    int rc = wm_worker_listen(w);
    if (rc == WM_OK && !w->unbound)
        rc = accept_start(w, base);
    if (rc != WM_OK)
        return rc;
    w->started = true;
    wm_log_debug("worker %s listening on %s (port %u)", w->name, w->url_text, w->port);
    if (w->on_start)
        w->on_start(w, w->on_start_ud);
    return WM_OK;
}

void wm__worker_stop_accepting(wm_worker_t *w)
{
    if (w->accept_ev) {
        event_free(w->accept_ev);
        w->accept_ev = NULL;
    }
    if (w->accept_retry) {
        event_free(w->accept_retry);
        w->accept_retry = NULL;
    }
    if (w->fd >= 0) {
        /* Only this process's copy: the master and the other processes
         * keep theirs, so the socket stays open and nothing is refused. */
        close(w->fd);
        w->fd = -1;
        if (w->owns_path)
            unlink(w->url.host);
        w->owns_path = false;
    }
    w->listening = false;
}

void wm_worker_stop(wm_worker_t *w)
{
    bool was_started = w->started;
    w->started = false;
    w->draining = false;
    wm__worker_stop_accepting(w);
    while (w->conns)
        wm_conn_destroy(w->conns);
    if (w->udp_peer) {
        /* Its datagram loop may be on the stack: free it on the loop. */
        wm__conn_free_detached(w->udp_peer);
        w->udp_peer = NULL;
    }
    if (was_started && w->on_stop)
        w->on_stop(w, w->on_stop_ud);
}
