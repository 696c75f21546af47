/* SPDX-License-Identifier: MIT */
/* TLS transport: OpenSSL 3 on a connection's own nonblocking socket and
 * events, under the same evbuffers and message loop as plain connections.
 *
 * Why not bufferevent_openssl: wm connections are raw events plus
 * evbuffers (conn.c, conn_io.c), and libevent 2.1.12's OpenSSL filter
 * predates OpenSSL 3 (an EOF without close_notify is an error, its free
 * never sends close_notify; PLATFORM.md). Here the SSL object reads and
 * writes the socket itself (SSL_set_fd), and the connection's read and write
 * events drive it:
 * - handshake: SSL_do_handshake on whichever event it asked for
 *   (WANT_READ arms the read event, WANT_WRITE the write event); the state
 *   is CONNECTING meanwhile, so sends queue, and on_connect runs at the end;
 * - reading: SSL_read into the input evbuffer until WANT_READ, bounded per
 *   wakeup; a record OpenSSL has already taken off the socket is always read
 *   to its end, since epoll cannot tell us about bytes inside OpenSSL;
 * - writing: conn_flush (conn.c) calls wm__tls_write instead of
 *   evbuffer_write; a write that needs the socket readable (renegotiation,
 *   key update) parks the write event and arms the read event instead;
 * - closing: close_notify (one nonblocking SSL_shutdown, no wait for the
 *   peer's) before the socket closes, unless the session failed.
 * Plain connections have c->tls == NULL and never reach this file. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "wm_int.h"

/* Plaintext per SSL_read / SSL_write: one full TLS record. */
#define WM_TLS_RECORD 16384
/* Plaintext read per wakeup (as WM_READ_CHUNK for plain connections). */
#define WM_TLS_READ_BUDGET (64 * 1024)

struct wm__tls {
    SSL_CTX *ctx;      /* a reference (SSL_CTX_up_ref) */
    SSL *ssl;          /* per connect attempt; NULL between attempts */
    char *server_name; /* client: SNI and the name verified; NULL: server */
    bool server;
    bool verify;
    bool handshaking;
    bool failed;           /* a fatal TLS error: no close_notify */
    bool write_waits_read; /* SSL_write said WANT_READ */
    bool read_waits_write; /* SSL_read said WANT_WRITE */
};

static void tls_read(wm_conn_t *c);

/* ---- contexts ---------------------------------------------------------------- */

/* OpenSSL's reason for the last failure, and clears the queue. */
static void tls_err_text(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "unknown OpenSSL error");
    ERR_clear_error();
}

/* Settings both sides share: TLS 1.2 at least; writes that may return after
 * one record and be retried from another address (our evbuffer moves);
 * and an EOF without close_notify read as a close (PLATFORM.md). */
static SSL_CTX *tls_ctx_new(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

int wm_worker_set_tls(wm_worker_t *w, const char *cert_file, const char *key_file)
{
    char why[256];
    if (w->url.transport == WM_TR_UDP) {
        wm_log_error("worker %s: TLS needs a stream socket, not %s", w->name, w->url_text);
        return WM_EINVAL;
    }
    if (!cert_file || !key_file) {
        wm_log_error("worker %s: TLS needs a certificate file and a key file", w->name);
        return WM_EINVAL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = tls_ctx_new(TLS_server_method());
    const char *what = "cannot make a TLS context";
    if (!ctx)
        goto fail;
    what = "cannot load the certificate chain";
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        goto fail;
    what = "cannot load the private key";
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
        goto fail;
    what = "the private key does not match the certificate";
    if (SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    SSL_CTX_free(w->tls_ctx); /* connections keep their own references */
    w->tls_ctx = ctx;
    return WM_OK;
fail:
    tls_err_text(why, sizeof why);
    wm_log_error("worker %s: TLS with certificate '%s' and key '%s': %s: %s", w->name, cert_file,
                 key_file, what, why);
    SSL_CTX_free(ctx);
    return WM_ETLS;
}

bool wm_worker_is_tls(const wm_worker_t *w)
{
    return w->tls_ctx != NULL;
}

void wm_worker_set_tls_handshake_timeout(wm_worker_t *w, uint64_t ms)
{
    w->tls_handshake_ms = ms;
}

void wm__tls_worker_free(wm_worker_t *w)
{
    SSL_CTX_free(w->tls_ctx);
    w->tls_ctx = NULL;
}

int wm__tls_accepted(wm_conn_t *c, SSL_CTX *ctx)
{
    struct wm__tls *t = calloc(1, sizeof *t);
    if (!t)
        return WM_ENOMEM;
    SSL_CTX_up_ref(ctx);
    t->ctx = ctx;
    t->server = true;
    c->tls = t;
    return WM_OK;
}

int wm_conn_set_tls(wm_conn_t *c, const wm_tls_client_opts_t *opts)
{
    static const wm_tls_client_opts_t defaults = {NULL, NULL, false};
    if (!opts)
        opts = &defaults;
    if (c->kind != WM_KIND_OUTGOING || c->transport == WM_TR_UDP ||
        !(c->state == WM_CONN_INITIAL || c->state == WM_CONN_CLOSED) || c->freed) {
        wm_log_error("connection %llu: TLS is set on an outgoing stream connection before it "
                     "connects",
                     (unsigned long long)c->id);
        return WM_EINVAL;
    }
    char why[256];
    ERR_clear_error();
    struct wm__tls *t = calloc(1, sizeof *t);
    const char *name = opts->server_name ? opts->server_name : c->url.host;
    if (!t || !(t->server_name = strdup(name)) || !(t->ctx = tls_ctx_new(TLS_client_method()))) {
        if (t)
            free(t->server_name);
        free(t);
        return WM_ENOMEM;
    }
    t->verify = !opts->insecure_skip_verify;
    if (t->verify) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        int ok = opts->ca_file ? SSL_CTX_load_verify_locations(t->ctx, opts->ca_file, NULL)
                               : SSL_CTX_set_default_verify_paths(t->ctx);
        if (ok != 1) {
            tls_err_text(why, sizeof why);
            wm_log_error("connection %llu: cannot load the CA certificates from %s: %s",
                         (unsigned long long)c->id,
                         opts->ca_file ? opts->ca_file : "the system store", why);
            SSL_CTX_free(t->ctx);
            free(t->server_name);
            free(t);
            return WM_ETLS;
        }
    }
    if (c->tls)
        wm__tls_free(c);
    c->tls = t;
    return WM_OK;
}

bool wm_conn_is_tls(const wm_conn_t *c)
{
    return c->tls != NULL;
}

const char *wm_conn_tls_version(const wm_conn_t *c)
{
    if (!c->tls || !c->tls->ssl || c->tls->handshaking)
        return NULL;
    return SSL_get_version(c->tls->ssl);
}

/* ---- per attempt -------------------------------------------------------------- */

int wm__tls_new_ssl(wm_conn_t *c, int fd)
{
    struct wm__tls *t = c->tls;
    if (t->ssl)
        wm__tls_close(c);
    ERR_clear_error();
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1)
        goto fail;
    if (t->server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        const char *name = t->server_name;
        unsigned char ip[16];
        bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
        /* SNI carries DNS names only (RFC 6066); an IP literal is checked
         * against the certificate's IP SANs instead of its DNS names. */
        if (is_ip) {
            if (t->verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
                goto fail;
        } else {
            if (SSL_set_tlsext_host_name(ssl, name) != 1)
                goto fail;
            if (t->verify && SSL_set1_host(ssl, name) != 1)
                goto fail;
        }
    }
    t->ssl = ssl;
    t->handshaking = t->failed = t->write_waits_read = t->read_waits_write = false;
    return WM_OK;
fail : {
    char why[256];
    tls_err_text(why, sizeof why);
    wm_log_error("connection %llu: cannot set up TLS: %s", (unsigned long long)c->id, why);
    SSL_free(ssl);
    return WM_ENOMEM;
}
}

/* An accepted connection whose TLS handshake is not done in time: a client
 * that connects and says nothing must not keep its slot. */
static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    if (!c->tls || !c->tls->handshaking)
        return;
    char why[128];
    snprintf(why, sizeof why, "TLS handshake not completed within %llu ms",
             (unsigned long long)c->worker->tls_handshake_ms);
    wm_log_info("connection %llu from %s: %s; closing", (unsigned long long)c->id,
                wm_conn_remote_address(c), why);
    c->tls->failed = true; /* no close_notify for a session never made */
    wm__conn_end(c, WM_ETIMEDOUT, why);
}

static void handshake_timer_arm(wm_conn_t *c)
{
    uint64_t ms = c->worker ? c->worker->tls_handshake_ms : 0;
    if (ms == 0)
        return;
    if (!c->timer && !(c->timer = evtimer_new(wm__base(), on_handshake_timeout, c)))
        return;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(c->timer, &tv);
}

void wm__tls_start(wm_conn_t *c)
{
    c->tls->handshaking = true;
    c->state = WM_CONN_CONNECTING;
    if (c->tls->server)
        handshake_timer_arm(c);
    /* The client speaks first; its write event fires at once, so the
     * ClientHello goes out from the loop, not from inside this call. */
    event_add(c->tls->server ? c->rev : c->wev, NULL);
}

void wm__tls_close(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    if (!t->ssl)
        return;
    /* OpenSSL forbids SSL_shutdown after a fatal error; a handshake that
     * never finished has no session to close. */
    if (!t->failed && !t->handshaking && c->fd >= 0) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
    }
    SSL_free(t->ssl);
    t->ssl = NULL;
    t->handshaking = false;
    ERR_clear_error();
}

void wm__tls_free(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    wm__tls_close(c);
    SSL_CTX_free(t->ctx);
    free(t->server_name);
    free(t);
    c->tls = NULL;
}

/* ---- handshake ----------------------------------------------------------------- */

/* Why a handshake or record failed, in words: the verification result when
 * that was it, else OpenSSL's error queue, else the socket error. */
static void tls_reason(wm_conn_t *c, int ret, int err, char *buf, size_t size)
{
    char ssl_text[200];
    SSL *ssl = c->tls->ssl;
    long v = c->tls->server ? X509_V_OK : SSL_get_verify_result(ssl);
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        const char *eof = "the peer closed the connection";
        snprintf(buf, size, "%s", errno && ret < 0 ? strerror(errno) : eof);
        ERR_clear_error();
        return;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
        snprintf(buf, size, "the peer closed the connection");
        ERR_clear_error();
        return;
    }
    tls_err_text(ssl_text, sizeof ssl_text);
    if (v != X509_V_OK)
        snprintf(buf, size, "certificate verification failed: %s (%s)",
                 X509_verify_cert_error_string(v), ssl_text);
    else
        snprintf(buf, size, "%s", ssl_text);
}

static void tls_fail(wm_conn_t *c, int ret, int err, const char *when)
{
    char reason[300], why[400];
    c->tls->failed = true;
    tls_reason(c, ret, err, reason, sizeof reason);
    snprintf(why, sizeof why, "TLS %s failed: %s", when, reason);
    wm_log_warn("connection %llu %s %s: %s; closing", (unsigned long long)c->id,
                c->tls->server ? "from" : "to", wm_conn_remote_address(c), why);
    wm__conn_end(c, WM_ETLS, why);
}

static void tls_handshake_done(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    t->handshaking = false;
    if (c->timer)
        event_del(c->timer); /* the connect or handshake timeout covered it */
    c->state = WM_CONN_ESTABLISHED;
    event_del(c->wev);
    if (c->holds)
        event_del(c->rev);
    else
        event_add(c->rev, NULL);
    wm_log_debug("connection %llu: %s handshake done with %s", (unsigned long long)c->id,
                 SSL_get_version(t->ssl), wm_conn_remote_address(c));
    wm__conn_emit_connect(c);
    if (c->state == WM_CONN_ESTABLISHED && c->close_after_connect) {
        c->close_after_connect = false;
        wm_conn_close(c);
    }
    /* Data queued during the handshake goes now; the peer may also have
     * sent data right behind its Finished. */
    if ((c->state == WM_CONN_ESTABLISHED || c->state == WM_CONN_CLOSING) &&
        evbuffer_get_length(c->out))
        wm__conn_on_writable(c->fd, EV_WRITE, c);
    if (c->state == WM_CONN_ESTABLISHED && !c->holds)
        event_active(c->rev, EV_READ, 0);
}

static void tls_handshake(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        tls_handshake_done(c);
        return;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        event_del(c->wev);
        event_add(c->rev, NULL);
    } else if (e == SSL_ERROR_WANT_WRITE) {
        event_del(c->rev);
        event_add(c->wev, NULL);
    } else {
        tls_fail(c, r, e, "handshake");
    }
}

/* ---- events --------------------------------------------------------------------- */

void wm__tls_on_readable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    struct wm__tls *t = c->tls;
    if (!t->ssl)
        return;
    if (t->handshaking) {
        if (c->state == WM_CONN_CONNECTING)
            tls_handshake(c);
        return;
    }
    if (t->write_waits_read) {
        t->write_waits_read = false;
        wm__conn_on_writable(fd, EV_WRITE, c);
        if (!t->ssl)
            return; /* the write failed and the connection ended */
    }
    tls_read(c);
}

void wm__tls_on_writable(evutil_socket_t fd, short what, void *arg)
{
    wm_conn_t *c = arg;
    struct wm__tls *t = c->tls;
    if (!t->ssl)
        return;
    if (t->handshaking) {
        if (c->state == WM_CONN_CONNECTING)
            tls_handshake(c);
        return;
    }
    if (t->read_waits_write) {
        t->read_waits_write = false;
        tls_read(c);
        if (!t->ssl)
            return;
    }
    if (evbuffer_get_length(c->out))
        wm__conn_on_writable(fd, what, c);
    else if (!t->read_waits_write)
        event_del(c->wev);
}

/* ---- reading and writing ------------------------------------------------------------ */

static void tls_read(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    if (c->state != WM_CONN_ESTABLISHED || c->holds) {
        /* The read event may be armed only for a waiting write. */
        if (!t->write_waits_read)
            event_del(c->rev);
        return;
    }
    size_t total = 0;
    bool eof = c->eof;
    while (!eof && (total < WM_TLS_READ_BUDGET || SSL_pending(t->ssl) > 0)) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(c->in, WM_TLS_RECORD, &v, 1) < 1) {
            wm__conn_end(c, WM_ENOMEM, NULL);
            return;
        }
        ERR_clear_error();
        int n = SSL_read(t->ssl, v.iov_base, v.iov_len > INT_MAX ? INT_MAX : (int)v.iov_len);
        if (n > 0) {
            v.iov_len = (size_t)n;
            evbuffer_commit_space(c->in, &v, 1);
            total += (size_t)n;
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_WANT_WRITE) {
            t->read_waits_write = true;
            event_add(c->wev, NULL);
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify, or a bare EOF */
            eof = true;
            break;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            /* A reset: as a failed read on a plain connection. */
            t->failed = true;
            wm_log_debug("connection %llu: read failed: %s", (unsigned long long)c->id,
                         strerror(errno));
            ERR_clear_error();
            wm__conn_end(c, 0, NULL);
            return;
        }
        tls_fail(c, n, e, "read");
        return;
    }
    c->bytes_read += total;
    wm__conn_dispatch(c);
    if (eof && c->state == WM_CONN_ESTABLISHED)
        wm__conn_on_eof(c);
    else
        wm__conn_close_if_idle(c);
}

int wm__tls_write(wm_conn_t *c)
{
    struct wm__tls *t = c->tls;
    size_t len = evbuffer_get_length(c->out);
    if (len > WM_TLS_RECORD)
        len = WM_TLS_RECORD;
    /* One record from contiguous bytes: small queued messages are gathered
     * (a copy of at most one record) rather than sent one record each. After
     * WANT_WRITE the retry passes the same leading bytes and at least as many
     * (the buffer only grows at its end), as OpenSSL requires. */
    struct evbuffer_iovec v;
    const void *p;
    if (evbuffer_peek(c->out, -1, NULL, &v, 1) >= 1 && v.iov_len >= len)
        p = v.iov_base;
    else
        p = evbuffer_pullup(c->out, (ssize_t)len);
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    ERR_clear_error();
    int n = SSL_write(t->ssl, p, (int)len);
    if (n > 0) {
        evbuffer_drain(c->out, (size_t)n);
        return n;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_WANT_READ) {
        t->write_waits_read = true;
        event_del(c->wev);
        event_add(c->rev, NULL);
        errno = EAGAIN;
        return -1;
    }
    t->failed = true;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (!errno || errno == EAGAIN)
            errno = EPIPE;
        return -1; /* conn_flush logs it as any failed write */
    }
    char why[256];
    tls_err_text(why, sizeof why);
    wm_log_warn("connection %llu: TLS write failed: %s; closing", (unsigned long long)c->id, why);
    errno = EPROTO;
    return -1;
}

bool wm__tls_write_waits_read(const wm_conn_t *c)
{
    return c->tls->write_waits_read;
}
