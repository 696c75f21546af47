/* SPDX-License-Identifier: MIT */
/* Address URLs and socket helpers.
 *
 *   scheme://host:port        scheme is a protocol name (tcp, text, frame, …)
 *   scheme://[v6addr]:port    IPv6 literals in brackets
 *   udp://host:port           datagrams, raw; proto+udp://… with a protocol
 *   unix:///path              a unix stream socket, raw; proto+unix:///path
 *   proto+tls://host:port     TCP with TLS (tls.h); "+ssl" is the same
 *   ws://host[:port]/path     the websocket protocol (port 80); wss:// is
 *                             websocket+tls (port 443). websocket:// URLs
 *                             may carry a path too; it is the client's
 *                             request target (ws_client.c), not parsed here. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wm_int.h"

static int parse_scheme(const char *url, wm__url_t *out, const char **rest)
{
    const char *sep = strstr(url, "://");
    size_t n = sep ? (size_t)(sep - url) : 0;
    if (!sep || n == 0 || n >= sizeof out->scheme)
        return WM_EBADURL;
    char scheme[sizeof out->scheme];
    memcpy(scheme, url, n);
    scheme[n] = '\0';
    out->transport = WM_TR_TCP;
    char *plus = strchr(scheme, '+');
    if (plus) {
        *plus = '\0';
        if (strcmp(plus + 1, "unix") == 0)
            out->transport = WM_TR_UNIX;
        else if (strcmp(plus + 1, "udp") == 0)
            out->transport = WM_TR_UDP;
        else if (strcmp(plus + 1, "tls") == 0 || strcmp(plus + 1, "ssl") == 0)
            out->tls = true; /* TCP with TLS on it (tls.h) */
        else if (strcmp(plus + 1, "tcp") != 0)
            return WM_EBADURL;
    } else if (strcmp(scheme, "unix") == 0) {
        out->transport = WM_TR_UNIX;
        strcpy(scheme, "tcp");
    } else if (strcmp(scheme, "udp") == 0) {
        out->transport = WM_TR_UDP;
        strcpy(scheme, "tcp");
    }
    if (!scheme[0])
        return WM_EBADURL;
    /* The WebSocket URL schemes name the websocket protocol (websocket.h). */
    if (!plus && (strcmp(scheme, "ws") == 0 || strcmp(scheme, "wss") == 0)) {
        out->tls = scheme[2] == 's';
        strcpy(scheme, "websocket");
    }
    strcpy(out->scheme, scheme);
    *rest = sep + 3;
    return WM_OK;
}

static int parse_host_port(const char *s, wm__url_t *out)
{
    const char *host = s, *colon;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return WM_EBADURL;
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return WM_EBADURL; /* unbracketed IPv6 or no port */
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return WM_EBADURL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return WM_EBADURL;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (uint16_t)port;
    return WM_OK;
}

/* host[:port] of a websocket URL, up to its path or query; the port
 * defaults to 80, or 443 with TLS. */
static int parse_ws_authority(const char *s, wm__url_t *out)
{
    char auth[sizeof out->host + 8];
    size_t n = strcspn(s, "/?#");
    if (n == 0 || n + 7 > sizeof auth)
        return WM_EBADURL;
    memcpy(auth, s, n);
    auth[n] = '\0';
    const char *close = strrchr(auth, ']');
    bool has_port = auth[0] == '[' ? close && close[1] == ':' : strchr(auth, ':') != NULL;
    if (!has_port)
        snprintf(auth + n, sizeof auth - n, ":%u", out->tls ? 443u : 80u);
    return parse_host_port(auth, out);
}

int wm__url_parse(const char *url, wm__url_t *out)
{
    const char *rest;
    memset(out, 0, sizeof *out);
    if (!url || parse_scheme(url, out, &rest) != WM_OK)
        return WM_EBADURL;
    if (out->transport == WM_TR_UNIX) {
        struct sockaddr_un sun;
        size_t len = strlen(rest);
        if (len == 0 || len >= sizeof sun.sun_path || len >= sizeof out->host)
            return WM_EBADURL;
        memcpy(out->host, rest, len + 1);
        return WM_OK;
    }
    if (strcmp(out->scheme, "websocket") == 0)
        return parse_ws_authority(rest, out);
    return parse_host_port(rest, out);
}

int wm__url_sockaddr(const wm__url_t *u, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (u->transport == WM_TR_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, u->host);
        *len = (socklen_t)sizeof *sun;
        return WM_OK;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, u->host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(u->port);
        *len = (socklen_t)sizeof *sin;
        return WM_OK;
    }
    if (inet_pton(AF_INET6, u->host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(u->port);
        *len = (socklen_t)sizeof *sin6;
        return WM_OK;
    }
    return WM_EINVAL;
}

void wm__sockaddr_text(const struct sockaddr *sa, socklen_t len, char *ip, size_t iplen,
                       uint16_t *port)
{
    ip[0] = '\0';
    *port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, (socklen_t)iplen);
        *port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, (socklen_t)iplen);
        *port = ntohs(sin6->sin6_port);
    } else if (sa->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t n = strnlen(sun->sun_path, len - offsetof(struct sockaddr_un, sun_path));
        if (n >= iplen)
            n = iplen - 1;
        memcpy(ip, sun->sun_path, n);
        ip[n] = '\0';
    }
}

int wm__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : WM_OK;
}

int wm__socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}
