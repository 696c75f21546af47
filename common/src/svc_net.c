/* SPDX-License-Identifier: MIT */
/* Server addresses and blocking frame I/O for the services' client
 * libraries (svc_net.h): moved out of GlobalData's client so that Channel's
 * shares them. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <wm/error.h>
#include <wm/loop.h>

#include "svc_net.h"

/* ---- Addresses ----------------------------------------------------------- */

int wm__svc_addr_parse(const char *in, wm__svc_addr_t *out)
{
    memset(out, 0, sizeof *out);
    if (!in || !*in)
        return WM_EBADURL;
    const char *rest = in;
    if (strncmp(in, "unix://", 7) == 0 || strncmp(in, "frame+unix://", 13) == 0) {
        const char *path = strstr(in, "://") + 3;
        if (!*path || strlen(path) >= sizeof out->path)
            return WM_EBADURL;
        out->is_unix = true;
        snprintf(out->path, sizeof out->path, "%s", path);
        snprintf(out->url, sizeof out->url, "frame+unix://%s", path);
        return WM_OK;
    }
    if (strncmp(in, "tcp://", 6) == 0)
        rest = in + 6;
    else if (strncmp(in, "frame://", 8) == 0)
        rest = in + 8;
    else if (strstr(in, "://"))
        return WM_EBADURL;
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest)
        return WM_EBADURL;
    size_t hlen = (size_t)(colon - rest);
    if (rest[0] == '[') { /* [IPv6]:port */
        if (hlen < 3 || rest[hlen - 1] != ']')
            return WM_EBADURL;
        rest++;
        hlen -= 2;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (hlen >= sizeof out->host || *end || port <= 0 || port > 65535)
        return WM_EBADURL;
    memcpy(out->host, rest, hlen);
    out->port = (uint16_t)port;
    bool v6 = strchr(out->host, ':') != NULL;
    snprintf(out->url, sizeof out->url, v6 ? "frame://[%s]:%u" : "frame://%s:%u", out->host,
             out->port);
    return WM_OK;
}

/* ---- Blocking frame I/O -------------------------------------------------- */

/* Waits for fd to be ready until `deadline` (monotonic ms). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = wm_now_ms();
        if (now >= deadline)
            return WM_ETIMEDOUT;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return WM_OK;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int connect_addr(const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc = WM_OK;
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS)
            rc = -errno;
        else if ((rc = wait_fd(fd, POLLOUT, deadline)) == WM_OK) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
            rc = -err;
        }
    }
    if (rc != WM_OK) {
        close(fd);
        return rc;
    }
    int one = 1;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Opens the socket (blocking in getaddrinfo for host names: this is the
 * blocking API). Returns an fd or a WM_E* code. */
int wm__svc_sock_open(const wm__svc_addr_t *addr, uint64_t timeout_ms)
{
    uint64_t deadline = wm_now_ms() + timeout_ms;
    if (addr->is_unix) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        snprintf(un.sun_path, sizeof un.sun_path, "%s", addr->path);
        return connect_addr((struct sockaddr *)&un, sizeof un, deadline);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    char port[8];
    snprintf(port, sizeof port, "%u", addr->port);
    if (getaddrinfo(addr->host, port, &hints, &res) != 0)
        return WM_EDNS;
    int fd = WM_ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next)
        if ((fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline)) >= 0)
            break;
    freeaddrinfo(res);
    return fd;
}

int wm__svc_sock_write_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc != WM_OK)
                return rc;
        } else {
            return w < 0 ? -errno : WM_ECONNRESET;
        }
    }
    return WM_OK;
}

static int read_all(int fd, char *p, size_t n, uint64_t deadline)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc != WM_OK)
                return rc;
        } else {
            return r < 0 ? -errno : WM_ECONNRESET;
        }
    }
    return WM_OK;
}

int wm__svc_sock_read_frame(int fd, char **buf, size_t *cap, size_t *len, size_t max_frame,
                            uint64_t deadline)
{
    unsigned char h[4];
    int rc = read_all(fd, (char *)h, 4, deadline);
    if (rc != WM_OK)
        return rc;
    uint32_t total = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (total < 4 || total > max_frame)
        return WM_EPROTO;
    *len = total - 4;
    if (*len > *cap) {
        char *b = realloc(*buf, *len);
        if (!b)
            return WM_ENOMEM;
        *buf = b;
        *cap = *len;
    }
    return read_all(fd, *buf, *len, deadline);
}

void wm__svc_frame_header(char *buf, size_t total)
{
    unsigned char *h = (unsigned char *)buf;
    h[0] = (unsigned char)(total >> 24);
    h[1] = (unsigned char)(total >> 16);
    h[2] = (unsigned char)(total >> 8);
    h[3] = (unsigned char)total;
}
