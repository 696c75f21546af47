/* SPDX-License-Identifier: MIT */
/* Outgoing connections: resolve (evdns, never a blocking getaddrinfo), try
 * each address in turn, bound the whole attempt by a timeout, and reconnect
 * on request. Once connected, an outgoing connection is an ordinary one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "wm_int.h"

static void try_next_address(wm_conn_t *c);
static int arm_timeout(wm_conn_t *c);

wm_conn_t *wm_conn_new(const char *url)
{
    wm__url_t u;
    if (wm__url_parse(url, &u) != WM_OK) {
        wm_log_error("bad connection URL '%s': %s", url ? url : "(null)", wm_strerror(WM_EBADURL));
        return NULL;
    }
    const wm_protocol_t *proto = wm__protocol_for_url(&u);
    if (!proto) {
        wm_log_error("bad connection URL '%s': no protocol '%s' is registered", url, u.scheme);
        return NULL;
    }
    if (u.transport != WM_TR_UNIX && u.port == 0) {
        wm_log_error("bad connection URL '%s': port 0 cannot be connected to", url);
        return NULL;
    }
    if (!wm__base())
        return NULL;
    wm_conn_t *c =
        wm__conn_alloc(WM_KIND_OUTGOING, proto, WM_DEFAULT_MAX_PACKAGE, WM_DEFAULT_MAX_SEND_BUFFER);
    if (!c) {
        wm_log_error("cannot make a connection to '%s': out of memory", url);
        return NULL;
    }
    c->url = u;
    c->transport = (uint8_t)u.transport;
    /* ws://host/path: the protocol keeps the path for its handshake. */
    if (proto == &wm_protocol_websocket && wm__ws_client_init(c, url) != WM_OK) {
        wm_conn_destroy(c);
        return NULL;
    }
    if (u.tls && wm_conn_set_tls(c, NULL) != WM_OK) {
        wm_conn_destroy(c);
        return NULL;
    }
    return c;
}

void wm__connect_cancel(wm_conn_t *c)
{
    if (c->timer)
        event_del(c->timer);
    if (c->dns_req) {
        /* Runs dns_done with EVUTIL_EAI_CANCEL at once; it ignores that. */
        struct evdns_getaddrinfo_request *r = c->dns_req;
        c->dns_req = NULL;
        evdns_getaddrinfo_cancel(r);
    }
    if (c->addrs) {
        evutil_freeaddrinfo(c->addrs);
        c->addrs = c->addr_next = NULL;
    }
}

static void connect_fail(wm_conn_t *c, int err)
{
    char why[400];
    snprintf(why, sizeof why, "cannot connect to %s:%u: %s", c->url.host, c->url.port,
             wm_strerror(err));
    wm_log_debug("connection %llu: %s", (unsigned long long)c->id, why);
    wm__conn_end(c, err, why);
}

static void connect_established(wm_conn_t *c, int fd)
{
    wm__connect_cancel(c);
    c->remote_addr[0] = '\0'; /* recomputed from the address that answered */
    if (wm__conn_attach_fd(c, fd) != WM_OK) {
        close(fd);
        connect_fail(c, WM_ENOMEM);
        return;
    }
    if (c->tls) {
        /* on_connect waits for the handshake (tls.c); the connect timeout
         * bounds that too, so a server that never answers TLS cannot hang
         * us. */
        if (arm_timeout(c) != WM_OK)
            connect_fail(c, WM_ENOMEM);
        return;
    }
    if (c->transport == WM_TR_UDP)
        wm__udp_flush_queued(c);
    wm__conn_emit_connect(c);
    if (c->state == WM_CONN_ESTABLISHED && c->close_after_connect) {
        c->close_after_connect = false;
        wm_conn_close(c);
    }
}

static void on_connect_writable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        c->fd = -1; /* attach takes it over */
        connect_established(c, fd);
        return;
    }
    wm__conn_close_socket(c);
    c->last_connect_err = -err;
    try_next_address(c);
}

/* Starts a connect to c->remote. Returns WM_OK when connected or pending. */
static int start_connect(wm_conn_t *c)
{
    int type = c->transport == WM_TR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = wm__socket(c->remote.ss_family, type);
    if (fd < 0)
        return fd;
    if (connect(fd, (struct sockaddr *)&c->remote, c->remote_len) == 0) {
        connect_established(c, fd);
        return WM_OK;
    }
    if (errno != EINPROGRESS) {
        int err = -errno;
        close(fd);
        /* A unix socket with a full backlog answers EAGAIN, not a wait. */
        return err == WM_EAGAIN ? WM_ECONNREFUSED : err;
    }
    c->fd = fd;
    if (!c->wev)
        c->wev = event_new(wm__base(), fd, EV_WRITE, on_connect_writable, c);
    else
        event_assign(c->wev, wm__base(), fd, EV_WRITE, on_connect_writable, c);
    if (!c->wev || event_add(c->wev, NULL) < 0) {
        close(fd);
        c->fd = -1;
        return WM_ENOMEM;
    }
    return WM_OK;
}

static void try_next_address(wm_conn_t *c)
{
    while (c->addr_next && c->state == WM_CONN_CONNECTING) {
        struct evutil_addrinfo *ai = c->addr_next;
        c->addr_next = ai->ai_next;
        memcpy(&c->remote, ai->ai_addr, ai->ai_addrlen);
        c->remote_len = (socklen_t)ai->ai_addrlen;
        int rc = start_connect(c);
        if (rc == WM_OK)
            return;
        c->last_connect_err = rc;
    }
    if (c->state == WM_CONN_CONNECTING)
        connect_fail(c, c->last_connect_err ? c->last_connect_err : WM_ECONNREFUSED);
}

static void dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
    wm_conn_t *c = arg;
    if (result == EVUTIL_EAI_CANCEL)
        return; /* the connection was ended; it cleans up itself */
    c->dns_req = NULL;
    if (result != 0) {
        char why[400];
        snprintf(why, sizeof why, "cannot resolve '%s': %s", c->url.host,
                 evutil_gai_strerror(result));
        wm_log_debug("connection %llu: %s", (unsigned long long)c->id, why);
        wm__conn_end(c, WM_EDNS, why);
        return;
    }
    c->addrs = c->addr_next = res;
    try_next_address(c);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    char why[400];
    snprintf(why, sizeof why, "cannot connect to %s:%u: no answer within %llu ms", c->url.host,
             c->url.port, (unsigned long long)c->connect_timeout_ms);
    wm__conn_end(c, WM_ETIMEDOUT, why);
}

static int arm_timeout(wm_conn_t *c)
{
    if (!c->connect_timeout_ms)
        return WM_OK;
    if (!c->timer)
        c->timer = evtimer_new(wm__base(), on_connect_timeout, c);
    struct timeval tv = {(time_t)(c->connect_timeout_ms / 1000),
                         (suseconds_t)(c->connect_timeout_ms % 1000) * 1000};
    return c->timer && evtimer_add(c->timer, &tv) == 0 ? WM_OK : WM_ENOMEM;
}

static void resolve_and_connect(wm_conn_t *c)
{
    char port[8];
    snprintf(port, sizeof port, "%u", c->url.port);
    struct evutil_addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = c->transport == WM_TR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    struct evdns_base *dns = wm_dns_base();
    if (!dns) {
        connect_fail(c, WM_ENOMEM);
        return;
    }
    /* May call dns_done before returning (hosts file, bad name) and then
     * returns NULL. */
    struct evdns_getaddrinfo_request *r =
        evdns_getaddrinfo(dns, c->url.host, port, &hints, dns_done, c);
    if (r && c->state == WM_CONN_CONNECTING)
        c->dns_req = r;
}

static void start_attempt(wm_conn_t *c)
{
    c->state = WM_CONN_CONNECTING;
    c->close_fired = false;
    c->eof = false;
    c->last_connect_err = 0;
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    if (arm_timeout(c) != WM_OK) {
        connect_fail(c, WM_ENOMEM);
        return;
    }
    if (wm__url_sockaddr(&c->url, &c->remote, &c->remote_len) == WM_OK) {
        int rc = start_connect(c);
        if (rc != WM_OK)
            connect_fail(c, rc);
        return;
    }
    resolve_and_connect(c);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    c->reconnect_armed = false;
    start_attempt(c);
}

/* Schedules an attempt after `ms`. Even at 0 the attempt starts from the
 * loop, so no callback ever runs inside wm_conn_connect: a unix socket
 * connects (or fails) inside connect(2), and the caller must get to finish
 * its own setup first. */
static int schedule_attempt(wm_conn_t *c, uint64_t ms)
{
    if (!c->retry_ev)
        c->retry_ev = evtimer_new(wm__base(), on_retry, c);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return c->retry_ev && evtimer_add(c->retry_ev, &tv) == 0 ? WM_OK : WM_ENOMEM;
}

int wm_conn_connect(wm_conn_t *c)
{
    if (c->kind != WM_KIND_OUTGOING)
        return WM_EINVAL;
    if (c->freed || c->destroying || (c->state != WM_CONN_INITIAL && c->state != WM_CONN_CLOSED))
        return WM_ENOTCONN;
    if (schedule_attempt(c, 0) != WM_OK)
        return WM_ENOMEM;
    c->reconnect_armed = false;
    c->state = WM_CONN_CONNECTING; /* sends queue from now on */
    c->close_fired = false;
    return WM_OK;
}

int wm_conn_reconnect(wm_conn_t *c, uint64_t after_ms)
{
    if (c->kind != WM_KIND_OUTGOING)
        return WM_EINVAL;
    if (c->freed || c->destroying)
        return WM_ENOTCONN;
    if (schedule_attempt(c, after_ms) != WM_OK)
        return WM_ENOMEM;
    c->reconnect_armed = true;
    if (c->state == WM_CONN_CONNECTING || c->state == WM_CONN_ESTABLISHED ||
        c->state == WM_CONN_CLOSING)
        wm__conn_end(c, 0, NULL); /* on_close runs; the armed retry keeps us */
    return WM_OK;
}

void wm_conn_set_connect_timeout(wm_conn_t *c, uint64_t ms)
{
    c->connect_timeout_ms = ms;
}
