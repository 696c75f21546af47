/* SPDX-License-Identifier: MIT */
/* Private structures and wm__ functions shared by libwm's source files.
 * Nothing here is part of the API; users never include it. */
#ifndef WM_INT_H
#define WM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <event2/buffer.h>

#include "wm/wm.h"

/* ---- id map: uint64 key -> pointer (map.c) ------------------------------ */

typedef struct wm__map_entry {
    uint64_t key; /* 0 = empty slot */
    void *val;
} wm__map_entry_t;

typedef struct wm__map {
    wm__map_entry_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
} wm__map_t;

int wm__map_put(wm__map_t *m, uint64_t key, void *val);
void *wm__map_get(const wm__map_t *m, uint64_t key);
void *wm__map_del(wm__map_t *m, uint64_t key);
void wm__map_free(wm__map_t *m);

/* ---- loop (loop.c) ------------------------------------------------------- */

/* Work to run after the current callbacks have returned. Frees are deferred
 * this way so that no object is released while a callback of it (or of an
 * object holding it) is still on the stack. */
typedef struct wm__deferred {
    struct wm__deferred *next;
    void (*fn)(void *arg);
    void *arg;
} wm__deferred_t;

/* Runs fn(arg) on the next loop turn, in submission order. Returns WM_OK or
 * WM_ENOMEM (then runs nothing). */
int wm__defer(void (*fn)(void *arg), void *arg);
/* Runs every deferred task now (used when the loop is freed). */
void wm__run_deferred(void);
bool wm__loop_exists(void);
/* Makes sure the loop exists; returns it or NULL (logged). */
struct event_base *wm__base(void);

/* ---- addresses (addr.c) ------------------------------------------------- */

typedef enum wm__transport { WM_TR_TCP, WM_TR_UDP, WM_TR_UNIX } wm__transport_t;

/* A parsed address URL: scheme[+unix]://host:port or unix:///path. */
typedef struct wm__url {
    char scheme[32]; /* protocol name: "tcp", "text", … */
    wm__transport_t transport;
    char host[256]; /* without [] for IPv6; the path for unix */
    uint16_t port;
    bool tls; /* "proto+tls://": TLS over TCP */
} wm__url_t;

int wm__url_parse(const char *url, wm__url_t *out);
/* Fills `ss` for a numeric host (IPv4, IPv6 or unix path). Returns WM_OK or
 * WM_EINVAL when the host is not numeric (it needs DNS). */
int wm__url_sockaddr(const wm__url_t *u, struct sockaddr_storage *ss, socklen_t *len);
/* "ip" and port of a socket address; unix paths as ip with port 0. */
void wm__sockaddr_text(const struct sockaddr *sa, socklen_t len, char *ip, size_t iplen,
                       uint16_t *port);
/* Socket helpers: nonblocking + close-on-exec. */
int wm__socket(int family, int type);
int wm__set_nonblock(int fd);

/* ---- protocols (protocol.c) ----------------------------------------------- */

const wm_protocol_t *wm__protocol_for_url(const wm__url_t *u);

/* ---- connections (conn.c, conn_io.c, connect.c, udp.c) -------------------- */

typedef enum wm__conn_kind {
    WM_KIND_ACCEPTED = 0, /* made by a worker's accept */
    WM_KIND_OUTGOING = 1, /* made by wm_conn_new */
    WM_KIND_UDP_PEER = 2  /* a datagram's sender, for replying */
} wm__conn_kind_t;

typedef struct wm__callbacks {
    wm_conn_cb on_connect;
    void *on_connect_ud;
    wm_message_cb on_message;
    void *on_message_ud;
    wm_conn_cb on_close;
    void *on_close_ud;
    wm_conn_error_cb on_error;
    void *on_error_ud;
    wm_conn_cb on_buffer_full;
    void *on_buffer_full_ud;
    wm_conn_cb on_buffer_drain;
    void *on_buffer_drain_ud;
} wm__callbacks_t;

struct wm_conn {
    uint64_t id;
    int fd;
    uint8_t kind;  /* wm__conn_kind_t */
    uint8_t state; /* wm_conn_state_t */
    uint8_t transport;
    uint8_t holds;            /* WM__HOLD_* bits: delivery waits while any is set */
    bool close_fired;         /* on_close has run for this attempt */
    bool buffer_full;         /* on_buffer_full fired, drain pending */
    bool drain_wanted;        /* wm_conn_want_drain: on_buffer_drain at the next empty queue */
    bool dispatching;         /* inside the message loop */
    bool reconnect_armed;     /* wm_conn_reconnect scheduled a new attempt */
    bool freed;               /* the free is queued; the memory lives until then */
    bool eof;                 /* the peer closed its side */
    bool close_after_connect; /* wm_conn_close while connecting */
    bool destroying;          /* wm_conn_destroy ran: no more reconnects */
    bool batch_sends;         /* wm_conn_set_batch_sends: write once per dispatch */
    bool flush_due;           /* batched sends wait for the dispatch's end */

    const wm_protocol_t *proto;
    wm_proto_ctx_t ctx;
    size_t max_send_buffer;
    struct wm__tls *tls; /* NULL: plain socket (the fast path); tls.c */

    struct evbuffer *in;
    struct evbuffer *out;
    struct event *rev;
    struct event *wev;

    wm_worker_t *worker;           /* accepted connections */
    struct wm_conn *wprev, *wnext; /* the worker's list */
    wm__callbacks_t cb;

    wm_conn_t *pipe_dst; /* wm_conn_pipe: where our messages go */
    wm_conn_t *pipe_src; /* wm_conn_pipe: who we pause when full */

    uint64_t bytes_read, bytes_written;
    uint64_t msgs_in;       /* messages delivered to on_message */
    uint64_t answered_upto; /* msgs_in when we last sent something */
    void *user_data;
    wm_free_cb user_free;

    struct sockaddr_storage remote;
    socklen_t remote_len;
    char remote_ip[108], local_ip[108], remote_addr[120];
    uint16_t remote_port, local_port;
    bool local_known;

    /* Outgoing only. */
    wm__url_t url;
    struct evutil_addrinfo *addrs, *addr_next;
    struct evdns_getaddrinfo_request *dns_req;
    struct event *timer;    /* connect timeout */
    struct event *retry_ev; /* wm_conn_reconnect's delay */
    uint64_t connect_timeout_ms;
    int last_connect_err;
};

/* Who is holding a connection's delivery back. Each holder sets and clears
 * its own bit, so one cannot undo another's hold: a protocol answering a
 * request must not resume a connection its user paused. */
#define WM__HOLD_USER 1u  /* wm_conn_pause_recv */
#define WM__HOLD_PIPE 2u  /* wm_conn_pipe: the destination is full */
#define WM__HOLD_PROTO 4u /* the protocol waits (http: one request at a time) */
void wm__conn_hold(wm_conn_t *c, unsigned why);
void wm__conn_release(wm_conn_t *c, unsigned why);

/* Makes a connection object around `fd` (or -1) with fresh buffers and an id
 * registered in the process table. */
wm_conn_t *wm__conn_alloc(wm__conn_kind_t kind, const wm_protocol_t *proto, size_t max_package,
                          size_t max_send_buffer);
/* Frees a connection that was never in the table (UDP peers), on the loop. */
void wm__conn_free_detached(wm_conn_t *c);
/* Attaches an open, connected, nonblocking socket and starts reading.
 * Returns WM_OK or WM_ENOMEM. */
int wm__conn_attach_fd(wm_conn_t *c, int fd);
/* Ends the current socket: closes it, runs on_error (when err != 0) and then
 * on_close, once. Outgoing connections without a reconnect and accepted ones
 * are then queued for freeing. */
void wm__conn_end(wm_conn_t *c, int err, const char *reason);
/* Closes the socket and events without running callbacks. */
void wm__conn_close_socket(wm_conn_t *c);
void wm__conn_emit_error(wm_conn_t *c, int err, const char *reason);
void wm__conn_emit_connect(wm_conn_t *c);
/* Flushes what is queued; called when the socket becomes writable. */
void wm__conn_on_writable(evutil_socket_t fd, short what, void *arg);
/* Writes the sends batched during a dispatch (wm_conn_set_batch_sends). */
void wm__conn_flush_batch(wm_conn_t *c);
void wm__conn_on_readable(evutil_socket_t fd, short what, void *arg);
/* Delivers buffered messages (conn_io.c). */
void wm__conn_dispatch(wm_conn_t *c);
/* Outgoing connect machinery (connect.c). */
void wm__connect_cancel(wm_conn_t *c);
/* Datagram receive for connected UDP sockets (udp.c). */
void wm__udp_conn_on_readable(evutil_socket_t fd, short what, void *arg);
int wm__udp_send(wm_conn_t *c, const void *data, size_t len, bool raw);
/* Sends the datagrams queued before an outgoing UDP socket connected. */
void wm__udp_flush_queued(wm_conn_t *c);

/* The peer closed its side (conn_io.c): deliver the rest, then close. */
void wm__conn_on_eof(wm_conn_t *c);

/* ---- TLS (tls.c) ----------------------------------------------------------- */

/* Per-connection TLS state; c->tls is NULL for plain connections, so the
 * plain path costs one pointer test. */
struct wm__tls;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX, without its headers here */
/* Makes the accepted connection `c` serve TLS with `ctx`. WM_OK/WM_ENOMEM. */
int wm__tls_accepted(wm_conn_t *c, struct ssl_ctx_st *ctx);
/* wm__conn_attach_fd: a fresh SSL on `fd` (before the state changes), then,
 * once the events are set, the start of the handshake (state CONNECTING). */
int wm__tls_new_ssl(wm_conn_t *c, int fd);
void wm__tls_start(wm_conn_t *c);
/* Event callbacks that replace the plain ones on TLS connections. */
void wm__tls_on_readable(evutil_socket_t fd, short what, void *arg);
void wm__tls_on_writable(evutil_socket_t fd, short what, void *arg);
/* Encrypts the head of c->out. Returns plaintext bytes written, or -1 with
 * errno EAGAIN (retry on an event) or EPIPE (failed; logged). */
int wm__tls_write(wm_conn_t *c);
/* A write waits for the socket to be readable (SSL_ERROR_WANT_READ): the
 * write event must not be armed meanwhile, or it would spin. */
bool wm__tls_write_waits_read(const wm_conn_t *c);
/* Sends close_notify when the session ended cleanly, and frees the SSL
 * (before the socket is closed). */
void wm__tls_close(wm_conn_t *c);
void wm__tls_free(wm_conn_t *c);
void wm__tls_worker_free(wm_worker_t *w);

/* ---- Built-in protocols' connection hooks ---------------------------------- */

/* What the public codec (protocol.h: bytes in, messages out) cannot say:
 * built-in protocols that act on the connection itself, as a handshake, a
 * close handshake or a timeout from the accept need. conn.c calls them
 * through wm__proto_hooks(); users' protocols have none. */
typedef struct wm__proto_hooks {
    /* The transport is up (accepted or connected, TLS handshake done), just
     * before on_connect. Returns true when the protocol takes on_connect
     * over and runs it itself later (websocket: after its handshake). */
    bool (*transport_open)(wm_conn_t *c);
    /* wm_conn_close() on an established connection. Returns true when the
     * protocol closes in its own way (websocket: a close frame first);
     * wm_conn_close() then returns WM_OK without closing. */
    bool (*close_request)(wm_conn_t *c);
} wm__proto_hooks_t;

/* The hooks of protocol `p`, or NULL. */
const wm__proto_hooks_t *wm__proto_hooks(const wm_protocol_t *p);

extern const wm__proto_hooks_t wm__http_hooks;

/* ---- WebSocket (ws_conn.c, ws_client.c, ws_server.c) ----------------------- */

/* decode's private "consumed, nothing to deliver" result: a frame that
 * completes no message (a websocket fragment, ping or close). conn_io.c
 * drains it without running on_message. */
#define WM__DECODE_NOTHING 1
extern const wm__proto_hooks_t wm__ws_hooks;
/* wm_conn_new: keeps a ws:// URL's request target and Host. */
int wm__ws_client_init(wm_conn_t *c, const char *url);
/* worker_release: frees worker->ws. */
void wm__ws_worker_free(wm_worker_t *w);

/* ---- workers (worker.c, udp.c) ------------------------------------------ */

struct wm_worker {
    char *url_text;
    char *name;
    wm__url_t url;
    const wm_protocol_t *proto;
    int count;
    int id;
    bool reuse_port;
    bool unbound; /* made with no URL: accepts nothing */
    bool listening, started;
    int fd;
    uint16_t port;
    struct event *accept_ev;
    struct event *accept_retry; /* re-enables accept after EMFILE */
    struct ssl_ctx_st *tls_ctx; /* wm_worker_set_tls: serve TLS (tls.c) */
    uint64_t tls_handshake_ms;  /* wm_worker_set_tls_handshake_timeout */
    struct wm__ws_opts *ws;     /* websocket settings (ws_server.c), or NULL */
    size_t max_send_buffer, max_package;
    void *user_data;
    wm_free_cb user_free;
    wm_worker_cb on_start, on_stop;
    void *on_start_ud, *on_stop_ud;
    wm__callbacks_t cb;
    wm_conn_t *conns; /* head of the live list */
    size_t nconns;
    wm_conn_t *udp_peer; /* reused for each datagram */
    struct wm_worker *next;
    /* The process model (wproc.c, master.c). */
    bool reloadable;
    bool owns_path;  /* this process bound the unix socket: it unlinks it */
    bool draining;   /* not accepting; ends when the last connection goes */
    bool close_idle; /* reload: close each connection once it is idle */
    bool hidden;     /* internal (the master's control socket): not listed */
    char *user, *group;
    wm_worker_cb on_reload;
    void *on_reload_ud;
    wm_worker_status_cb on_status;
    void *on_status_ud;
};

void wm__worker_conn_add(wm_worker_t *w, wm_conn_t *c);
/* Takes `fd` as the worker's bound, listening socket and learns its port.
 * `owns_path`: this process made the unix socket file and removes it. */
void wm__worker_adopt_listener(wm_worker_t *w, int fd, bool owns_path);
/* Stops accepting (closes this process's copy of the listening socket). */
void wm__worker_stop_accepting(wm_worker_t *w);
void wm__worker_free_hidden(wm_worker_t *w);
/* wproc.c: a draining worker lost a connection (ends at the last). */
void wm__worker_drained(wm_worker_t *w);
/* Closes `c` if its worker is closing idle connections and nothing is
 * buffered either way. */
void wm__conn_close_if_idle(wm_conn_t *c);
/* wproc.c: counters for `status`. */
void wm__stats_request(void);
void wm__stats_send_failure(void);
void wm__worker_conn_remove(wm_worker_t *w, wm_conn_t *c);
void wm__udp_worker_on_readable(evutil_socket_t fd, short what, void *arg);
/* The list of every worker made (for wm_run_all), and its index-th one
 * (workers are numbered in the order the program makes them). */
wm_worker_t *wm__workers(void);
wm_worker_t *wm__worker_at(int index);
void wm__worker_free_all(void);

/* ---- conn table (conn.c), timers (timer.c) ------------------------------ */

void wm__conn_destroy_all(void);
void wm__timer_free_all(void);
void wm__signal_free_all(void);

#endif
