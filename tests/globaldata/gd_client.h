/* SPDX-License-Identifier: MIT */
/* A small blocking test client for globaldata-server's protocol
 * (docs/protocol.md), on msgpack-c: requests are packed with the shared codec
 * (wm__gd_req_begin), responses unpacked with msgpack-c (the server is
 * trusted here; the server's own decoder is what the fuzz target attacks).
 * Also raw frames, for sending bad input. Header-only, for the tests. */
#ifndef GD_CLIENT_H
#define GD_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "gd_int.h"

typedef struct gdc {
    int fd;
    uint64_t next_id;
    char *buf;
    size_t cap;
    msgpack_unpacked up;
} gdc_t;

typedef struct gdc_resp {
    int rc; /* 0, or -1 when the connection ended or a frame was bad */
    bool has_id;
    uint64_t id;
    uint32_t status;
    msgpack_object result; /* valid until the next receive */
} gdc_resp_t;

static inline void gdc_timeouts(int fd, int secs)
{
    struct timeval tv = {secs, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static inline int gdc_init_fd(gdc_t *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->next_id = 1;
    msgpack_unpacked_init(&c->up);
    gdc_timeouts(fd, 15);
    return 0;
}

static inline int gdc_connect(gdc_t *c, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return gdc_init_fd(c, fd);
}

static inline int gdc_connect_unix(gdc_t *c, const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof a.sun_path)
        return -1;
    memcpy(a.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return gdc_init_fd(c, fd);
}

static inline void gdc_close(gdc_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
    msgpack_unpacked_destroy(&c->up);
}

static inline int gdc_write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline int gdc_read_all(int fd, void *p, size_t n)
{
    char *s = p;
    while (n > 0) {
        ssize_t r = recv(fd, s, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Appends one frame (4-byte big-endian length counting itself, then body). */
static inline void gdc_frame(msgpack_sbuffer *out, const void *body, size_t n)
{
    unsigned char h[4];
    uint32_t total = (uint32_t)n + 4;
    h[0] = (unsigned char)(total >> 24);
    h[1] = (unsigned char)(total >> 16);
    h[2] = (unsigned char)(total >> 8);
    h[3] = (unsigned char)total;
    msgpack_sbuffer_write(out, (const char *)h, 4);
    msgpack_sbuffer_write(out, body, n);
}

static inline int gdc_send_frame(gdc_t *c, const void *body, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    gdc_frame(&sb, body, n);
    int rc = gdc_write_all(c->fd, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Reads one frame's body into c->buf. Returns its length, or -1. */
static inline ssize_t gdc_read_frame(gdc_t *c)
{
    unsigned char h[4];
    if (gdc_read_all(c->fd, h, 4) < 0)
        return -1;
    uint32_t total = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (total < 4 || total > 64u * 1024 * 1024)
        return -1;
    size_t n = total - 4;
    if (n + 1 > c->cap) {
        c->cap = n + 1;
        c->buf = realloc(c->buf, c->cap);
    }
    if (gdc_read_all(c->fd, c->buf, n) < 0)
        return -1;
    return (ssize_t)n;
}

/* Receives one response. */
static inline gdc_resp_t gdc_recv(gdc_t *c)
{
    gdc_resp_t r = {.rc = -1};
    ssize_t n = gdc_read_frame(c);
    if (n < 0)
        return r;
    wm__gd_resp_t wr;
    const char *why;
    if (wm__gd_resp_decode(c->buf, (size_t)n, &wr, &why) != WM_OK)
        return r;
    if (msgpack_unpack_next(&c->up, wr.result.p, wr.result.n, NULL) != MSGPACK_UNPACK_SUCCESS)
        return r;
    r.rc = 0;
    r.has_id = wr.has_id;
    r.id = wr.id;
    r.status = wr.status;
    r.result = c->up.data;
    return r;
}

/* Packs arguments after a request head. fmt: s = C string (str),
 * b = bytes (const char *, size_t) as str, i = int64_t, n = nil,
 * r = one raw MessagePack object (const char *, size_t),
 * A = array of C strings (size_t count, const char **). */
static inline void gdc_pack_args(msgpack_packer *pk, const char *fmt, va_list ap)
{
    for (const char *f = fmt; *f; f++) {
        switch (*f) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            msgpack_pack_str_with_body(pk, s, strlen(s));
            break;
        }
        case 'b': {
            const char *s = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            msgpack_pack_str_with_body(pk, s, n);
            break;
        }
        case 'i':
            msgpack_pack_int64(pk, va_arg(ap, int64_t));
            break;
        case 'n':
            msgpack_pack_nil(pk);
            break;
        case 'r': {
            const char *s = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            msgpack_sbuffer_write((msgpack_sbuffer *)pk->data, s, n);
            break;
        }
        case 'A': {
            size_t n = va_arg(ap, size_t);
            const char **v = va_arg(ap, const char **);
            msgpack_pack_array(pk, (uint32_t)n);
            for (size_t i = 0; i < n; i++)
                msgpack_pack_str_with_body(pk, v[i], strlen(v[i]));
            break;
        }
        default:
            abort();
        }
    }
}

static inline int gdc_op(const char *name)
{
    for (int op = 0; op < WM_GD_OP_COUNT; op++)
        if (strcmp(wm__gd_op_name(op), name) == 0)
            return op;
    abort();
}

/* Appends one framed request to `out`; returns its id. */
static inline uint64_t gdc_build(gdc_t *c, msgpack_sbuffer *out, const char *op, const char *fmt,
                                 ...)
{
    msgpack_sbuffer body;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    uint64_t id = c->next_id++;
    wm__gd_req_begin(&pk, id, gdc_op(op), (uint32_t)strlen(fmt)); /* one char, one argument */
    va_list ap;
    va_start(ap, fmt);
    gdc_pack_args(&pk, fmt, ap);
    va_end(ap);
    gdc_frame(out, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    return id;
}

/* One request, one response (whose id must match). */
static inline gdc_resp_t gdc_call(gdc_t *c, const char *op, const char *fmt, ...)
{
    msgpack_sbuffer body, out;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    uint64_t id = c->next_id++;
    wm__gd_req_begin(&pk, id, gdc_op(op), (uint32_t)strlen(fmt));
    va_list ap;
    va_start(ap, fmt);
    gdc_pack_args(&pk, fmt, ap);
    va_end(ap);
    gdc_frame(&out, body.data, body.size);
    gdc_resp_t r = {.rc = -1};
    if (gdc_write_all(c->fd, out.data, out.size) == 0) {
        r = gdc_recv(c);
        if (r.rc == 0 && (!r.has_id || r.id != id))
            r.rc = -1;
    }
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&out);
    return r;
}

/* Helpers on results. */
static inline bool gdc_is_str(msgpack_object o, const char *s)
{
    return o.type == MSGPACK_OBJECT_STR && o.via.str.size == strlen(s) &&
           memcmp(o.via.str.ptr, s, o.via.str.size) == 0;
}

static inline int64_t gdc_int(msgpack_object o)
{
    if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o.via.u64;
    if (o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o.via.i64;
    return INT64_MIN;
}

/* A map result's value for a str key, or a nil object. */
static inline msgpack_object gdc_map_get(msgpack_object m, const char *key)
{
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    if (m.type != MSGPACK_OBJECT_MAP)
        return nil;
    for (uint32_t i = 0; i < m.via.map.size; i++)
        if (gdc_is_str(m.via.map.ptr[i].key, key))
            return m.via.map.ptr[i].val;
    return nil;
}

/* Whether the peer has closed: a read sees EOF (or a reset) within `ms`. */
static inline bool gdc_closed_within(gdc_t *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[256];
    for (;;) {
        ssize_t r = recv(c->fd, b, sizeof b, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

#endif
