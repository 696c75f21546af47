/* SPDX-License-Identifier: MIT */
/* libFuzzer target for gzip's input side (libwm/src/http_gzip.c): the input
 * is an Accept-Encoding value, read in place without a terminating NUL (ASan
 * catches a read past it), and a Content-Type, read as a string. Checks:
 * appending a member that is not gzip or "*" never changes the answer, and
 * a value that names gzip with no q is always accepted. The same bytes are
 * then gzipped whole and as a stream cut in pieces, and must inflate back
 * to themselves. Byte 0 picks the level and seeds the piece sizes. */
#include <zlib.h>

#include "fuzz_codec.h"

#include "../../libwm/src/http_int.h"

WM_FUZZ_QUIET_INIT()

static void inflate_check(const char *z, size_t zlen, const uint8_t *want, size_t len)
{
    char *out = malloc(len + 1);
    z_stream s = {0};
    WM_FUZZ_CHECK(inflateInit2(&s, 15 + 16) == Z_OK);
    s.next_in = (Bytef *)(uintptr_t)z;
    s.avail_in = (uInt)zlen;
    s.next_out = (Bytef *)out;
    s.avail_out = (uInt)len + 1;
    WM_FUZZ_CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
    WM_FUZZ_CHECK(s.total_out == len && memcmp(out, want, len) == 0);
    inflateEnd(&s);
    free(out);
}

static void check_accept(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1); /* exactly `size`: no NUL after it */
    memcpy(v, data, size);
    bool yes = wm__http_accepts_gzip(v, size);
    free(v);
    char *more = malloc(size + 9);
    memcpy(more, data, size);
    memcpy(more + size, ", deflate", 9);
    WM_FUZZ_CHECK(wm__http_accepts_gzip(more, size + 9) == yes);
    memcpy(more + size, ",gzip", 5);
    if (!memchr(data, ';', size) && !memchr(data, 'g', size) && !memchr(data, 'G', size))
        WM_FUZZ_CHECK(wm__http_accepts_gzip(more, size + 5));
    free(more);
    char *ct = malloc(size + 1);
    memcpy(ct, data, size);
    ct[size] = '\0';
    (void)wm__http_gzip_type(ct);
    free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_accept(data, size);
    if (size < 1)
        return 0;
    wm_http_set_gzip(1 + data[0] % 9);
    char *z;
    size_t zlen;
    WM_FUZZ_CHECK(wm__http_gzip_buf(data, size, &z, &zlen) == WM_OK);
    inflate_check(z, zlen, data, size);
    free(z);
    /* A stream: pieces of 1..16 bytes, each sync-flushed, then the end. */
    wm__http_gz_t *gz = wm__http_gz_new();
    WM_FUZZ_CHECK(gz != NULL);
    char *all = NULL;
    size_t all_len = 0, at = 0;
    uint32_t seed = data[0] + 1u;
    while (at <= size) {
        size_t n = at == size ? 0 : 1 + wm_fuzz_rand(&seed) % 16;
        if (n > size - at)
            n = size - at;
        WM_FUZZ_CHECK(wm__http_gz_write(gz, data + at, n, at + n == size, &z, &zlen) == WM_OK);
        all = realloc(all, all_len + zlen + 1);
        memcpy(all + all_len, z, zlen);
        all_len += zlen;
        free(z);
        at += n;
        if (at == size)
            break;
    }
    wm__http_gz_free(gz);
    inflate_check(all, all_len, data, size);
    free(all);
    return 0;
}
