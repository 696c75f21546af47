/* SPDX-License-Identifier: MIT */
/* TLS (Workerman's `ssl` transport) for any stream protocol: a worker
 * listens with a certificate and key, an outgoing connection verifies its
 * server. OpenSSL 3 runs on the connection's own socket and events; the
 * protocol above it (text, frame, raw tcp, http, …) sees plain bytes.
 *
 * URLs: "text+tls://…", "frame+tls://…", "tcp+tls://…" (any protocol name
 * followed by "+tls"; "+ssl" is the same) ask for TLS in the URL itself. A worker made with such
 * a URL refuses to listen until wm_worker_set_tls() gave it a certificate;
 * an outgoing connection made with one uses TLS with the default client
 * options (verify against the system store, host name from the URL) unless
 * wm_conn_set_tls() changes them. wm_worker_set_tls()/wm_conn_set_tls() also
 * turn TLS on for a plain "tcp://"/"text://" URL.
 *
 * Connections over TLS
 * - on_connect runs once the handshake has completed; until then the state
 *   is WM_CONN_CONNECTING and data sent is queued.
 * - A handshake that fails (bad certificate, failed verification, a peer
 *   that does not speak TLS) is logged with OpenSSL's reason and ends that
 *   connection alone: on_error(WM_ETLS, reason), then on_close.
 * - A normal close sends close_notify first. A peer that closes TCP without
 *   close_notify is a normal close (the protocol above frames its data).
 * - bytes_read/bytes_written count plaintext bytes.
 * - An outgoing connection's connect timeout also bounds its handshake. */
#ifndef WM_TLS_H
#define WM_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "worker.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* Serves TLS (1.2 or newer) on `w`'s connections with the PEM certificate
 * chain in `cert_file` and the PEM private key in `key_file`. Both are read
 * and checked against each other now; call before the worker starts. Calling
 * it again replaces the certificate for connections accepted afterwards.
 * Returns WM_OK, WM_EINVAL (TCP and unix stream workers only), or WM_ETLS
 * when a file cannot be loaded or the key does not match (the OpenSSL reason
 * is logged). Paths are not kept. */
int wm_worker_set_tls(wm_worker_t *w, const char *cert_file, const char *key_file);

/* Whether `w` will serve TLS (wm_worker_set_tls succeeded). */
bool wm_worker_is_tls(const wm_worker_t *w);

#define WM_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000

/* How long an accepted connection may take to complete its TLS handshake
 * (0: forever). One that has not is closed, with on_error(WM_ETIMEDOUT) and
 * a log line: a client that connects and says nothing does not keep its
 * slot. Default 10 s. */
void wm_worker_set_tls_handshake_timeout(wm_worker_t *w, uint64_t ms);

/* Client options. Strings are copied by wm_conn_set_tls(). */
typedef struct wm_tls_client_opts {
    /* PEM file of trusted CA certificates; NULL: the system store. */
    const char *ca_file;
    /* Name sent as SNI and checked against the certificate (DNS name, or an
     * IP literal checked against its IP SANs, without SNI); NULL: the URL's
     * host. */
    const char *server_name;
    /* Explicit opt-out: do not verify the server's certificate at all. */
    bool insecure_skip_verify;
} wm_tls_client_opts_t;

/* Makes the outgoing connection `c` use TLS (1.2 or newer) with `opts`
 * (NULL: the defaults, all fields zero), verifying the server's certificate
 * chain and name unless opts->insecure_skip_verify. Call before
 * wm_conn_connect() (or between attempts); it applies to every later
 * attempt. Returns WM_OK; WM_EINVAL for accepted connections, UDP, or while
 * connected; WM_ETLS when the CA file cannot be loaded (logged). */
int wm_conn_set_tls(wm_conn_t *c, const wm_tls_client_opts_t *opts);

/* Whether `c` runs over TLS. */
bool wm_conn_is_tls(const wm_conn_t *c);

/* The negotiated protocol version ("TLSv1.3") once the handshake is done;
 * NULL before that or for plain connections. Static text. */
const char *wm_conn_tls_version(const wm_conn_t *c);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
