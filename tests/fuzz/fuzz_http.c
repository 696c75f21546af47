/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the HTTP request codec (libwm/src/http_parse.h): the
 * input is a stream of pipelined requests, run through a server's receive
 * path (tests/http_parser/http_driver.h) once whole and twice in random
 * reads, with and without the last_len hint. All three logs must be equal;
 * the driver aborts on a span outside its buffer, more consumed than given,
 * or a status outside the documented set. The same bytes also go straight
 * to the chunked decoder, whole and in random pieces, which must agree.
 * Byte 0 picks the limits, bytes 1-2 seed the read sizes. */
#include "fuzz_codec.h"

#include "../http_parser/http_driver.h"

/* Read sizes like fuzz_codec.h's: often 1 byte, sometimes a few, sometimes
 * hundreds. */
static size_t fuzz_piece(void *arg)
{
    uint32_t x = wm_fuzz_rand(arg);
    return x % 4 == 0 ? 1 : x % 4 == 1 ? 1 + (x >> 8) % 8 : 1 + (x >> 8) % 600;
}

typedef struct ck_out {
    uint64_t sum; /* a hash of the body bytes, in order */
    size_t data_len, consumed;
    bool done;
    int status;
} ck_out_t;

static void ck_feed(const char *in, size_t size, uint64_t max_body, uint32_t *seed, ck_out_t *o)
{
    wm__http_chunked_t d;
    wm__http_chunked_init(&d, max_body);
    memset(o, 0, sizeof(*o));
    o->sum = 1469598103934665603u;
    size_t have = 0;
    while (have < size && !o->done && !o->status) {
        size_t n = seed ? fuzz_piece(seed) : size;
        have += n < size - have ? n : size - have;
        while (!o->done && !o->status) {
            /* An exact-size copy, so ASan sees a read past the end. */
            size_t avail = have - o->consumed;
            char *copy = malloc(avail ? avail : 1);
            WM_FUZZ_CHECK(copy != NULL);
            memcpy(copy, in + o->consumed, avail);
            const char *data, *why;
            size_t dlen;
            int status = 0;
            ssize_t r =
                wm__http_chunked_feed(&d, copy, avail, &data, &dlen, &o->done, &status, &why);
            if (r < 0) {
                WM_FUZZ_CHECK(r == WM_EPROTO || r == WM_EMSGSIZE);
                WM_FUZZ_CHECK(status == 400 || status == 413 || status == 431);
                WM_FUZZ_CHECK(why != NULL);
                o->status = status;
            } else {
                WM_FUZZ_CHECK((size_t)r <= avail && dlen <= (size_t)r);
                WM_FUZZ_CHECK(data >= copy && data + dlen <= copy + r);
                WM_FUZZ_CHECK(r > 0 || avail == 0 || o->done);
                for (size_t i = 0; i < dlen; i++)
                    o->sum = (o->sum ^ (unsigned char)data[i]) * 1099511628211u;
                o->data_len += dlen;
                o->consumed += (size_t)r;
            }
            free(copy);
            if (r <= 0)
                break;
        }
    }
    WM_FUZZ_CHECK(o->data_len <= max_body);
}

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    /* Small limits, so that inputs reach them. */
    wm__http_limits_t lim;
    lim.max_header_bytes = (size_t)32 << (data[0] % 6); /* 32 B .. 1 KiB */
    lim.max_headers = 1 + (data[0] >> 3) % 8;
    lim.max_uri = (size_t)8 << (data[0] >> 6);
    lim.max_body = (uint64_t)1 << (data[0] % 11);
    uint32_t seed0 = ((uint32_t)data[1] << 8 | data[2]) + 1;
    const char *in = (const char *)data + 3;
    size -= 3;

    char *whole = drv_run(in, size, &lim, false, NULL, NULL);
    uint32_t seed = seed0;
    char *pieces = drv_run(in, size, &lim, false, fuzz_piece, &seed);
    seed = seed0 * 2654435761u + 1;
    char *hinted = drv_run(in, size, &lim, true, fuzz_piece, &seed);
    if (strcmp(whole, pieces) != 0 || strcmp(whole, hinted) != 0) {
        fprintf(stderr, "--- whole:\n%s--- pieces:\n%s--- hinted:\n%s", whole, pieces, hinted);
        abort();
    }
    free(whole);
    free(pieces);
    free(hinted);

    ck_out_t a, b;
    ck_feed(in, size, lim.max_body, NULL, &a);
    seed = seed0;
    ck_feed(in, size, lim.max_body, &seed, &b);
    WM_FUZZ_CHECK(a.status == b.status && a.done == b.done && a.sum == b.sum &&
                  a.data_len == b.data_len);
    WM_FUZZ_CHECK(a.status || a.consumed == b.consumed);
    return 0;
}
