/* SPDX-License-Identifier: MIT */
/* The shared body of every codec fuzz target: the input is fed through a
 * protocol's input/decode exactly as a connection would, in reads whose sizes
 * come from the input's first bytes, so the fuzzer explores where reads end
 * as well as what the bytes say. It aborts (a finding) when a codec breaks a
 * rule from protocol.h: input changing the buffer, a message longer than the
 * package limit, a decode error code that is not negative, or an encoded
 * message that does not decode back to itself (when the codec promises that).
 * Header-only so that a new target is one small .c file. */
#ifndef WM_FUZZ_CODEC_H
#define WM_FUZZ_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "wm/wm.h"

typedef struct wm_fuzz_codec {
    const wm_protocol_t *proto;
    /* Whether encode(decode(x)) must decode to x again; `roundtrip_ok`, if
     * set, says which messages can (text cannot carry a trailing "\r"). */
    bool roundtrip;
    bool (*roundtrip_ok)(const wm_msg_t *msg);
    /* Bytes beyond max_package that may wait, with no error, for the end of
     * a message (a terminator still to come); more means the codec let an
     * oversized message grow instead of failing it with WM_EMSGSIZE. */
    size_t slack;
} wm_fuzz_codec_t;

#define WM_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static inline uint32_t wm_fuzz_rand(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Runs input (and decode) over whatever is buffered. Returns the number of
 * messages, or -1 once the codec reported an error (the connection would
 * close). Each message is handed to `on_msg` when not NULL. */
static inline int wm_fuzz_drain(const wm_protocol_t *p, struct evbuffer *in, wm_proto_ctx_t *ctx,
                                void (*on_msg)(const wm_fuzz_codec_t *, const wm_msg_t *),
                                const wm_fuzz_codec_t *fc)
{
    int count = 0;
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail == 0)
            return count;
        ssize_t n = p->input(in, ctx);
        WM_FUZZ_CHECK(evbuffer_get_length(in) == avail); /* input only looks */
        if (n < 0)
            return -1;
        if (n == 0 || (size_t)n > avail)
            return count;
        const char *pkt = (const char *)evbuffer_pullup(in, n);
        WM_FUZZ_CHECK(pkt != NULL);
        wm_msg_t m = {pkt, (size_t)n, NULL};
        if (p->decode) {
            int rc = p->decode(pkt, (size_t)n, &m, ctx);
            WM_FUZZ_CHECK(rc <= 0);
            if (rc < 0)
                return -1;
        }
        WM_FUZZ_CHECK(m.len <= ctx->max_package);
        WM_FUZZ_CHECK(m.len == 0 || m.data != NULL);
        /* Touch every byte, so ASan sees a message that points past its data. */
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < m.len; i++)
            sum += (unsigned char)m.data[i];
        (void)sum;
        if (on_msg)
            on_msg(fc, &m);
        evbuffer_drain(in, (size_t)n);
        ctx->scanned = 0; /* protocol.h: reset after each message */
        count++;
    }
}

/* encode(msg) must come back as exactly one message equal to msg. */
static inline void wm_fuzz_roundtrip(const wm_fuzz_codec_t *fc, const wm_msg_t *m)
{
    if (!fc->roundtrip || (fc->roundtrip_ok && !fc->roundtrip_ok(m)))
        return;
    struct evbuffer *out = evbuffer_new();
    WM_FUZZ_CHECK(out != NULL);
    wm_proto_ctx_t ctx = {NULL, m->len + 64, 0, NULL};
    WM_FUZZ_CHECK(fc->proto->encode(out, m->data, m->len, &ctx) == WM_OK);
    size_t wire = evbuffer_get_length(out);
    ssize_t n = fc->proto->input(out, &ctx);
    WM_FUZZ_CHECK(n > 0 && (size_t)n == wire);
    const char *pkt = (const char *)evbuffer_pullup(out, n);
    wm_msg_t back = {pkt, (size_t)n, NULL};
    if (fc->proto->decode)
        WM_FUZZ_CHECK(fc->proto->decode(pkt, (size_t)n, &back, &ctx) == WM_OK);
    WM_FUZZ_CHECK(back.len == m->len);
    WM_FUZZ_CHECK(m->len == 0 || memcmp(back.data, m->data, m->len) == 0);
    evbuffer_free(out);
}

/* The input: byte 0 picks max_package (16 B .. 4 KiB), bytes 1-2 seed the
 * read sizes, the rest is the stream. */
static inline int wm_fuzz_codec_run(const wm_fuzz_codec_t *fc, const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    wm_proto_ctx_t ctx = {NULL, (size_t)16 << (data[0] % 9), 0, NULL};
    uint32_t seed = ((uint32_t)data[1] << 8 | data[2]) + 1;
    data += 3;
    size -= 3;

    struct evbuffer *in = evbuffer_new();
    WM_FUZZ_CHECK(in != NULL);
    size_t at = 0;
    int rc = 0;
    while (at < size && rc >= 0) {
        uint32_t x = wm_fuzz_rand(&seed);
        size_t n = x % 4 == 0 ? 1 : x % 4 == 1 ? 1 + (x >> 8) % 8 : 1 + (x >> 8) % 600;
        if (n > size - at)
            n = size - at;
        WM_FUZZ_CHECK(evbuffer_add(in, data + at, n) == 0);
        at += n;
        rc = wm_fuzz_drain(fc->proto, in, &ctx, wm_fuzz_roundtrip, fc);
    }
    /* Without an error, what waits is one unfinished message within the
     * limit: holding more is how a peer makes a server run out of memory. */
    if (rc >= 0)
        WM_FUZZ_CHECK(evbuffer_get_length(in) <= ctx.max_package + fc->slack);
    evbuffer_free(in);
    return 0;
}

/* Quiet: codecs may log their errors, and the fuzzer makes many. */
#define WM_FUZZ_QUIET_INIT()                                                                       \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                             \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        wm_log_set_level(WM_LOG_OFF);                                                              \
        return 0;                                                                                  \
    }

#endif
