/* SPDX-License-Identifier: MIT */
/* gzip for HTTP answers (wm/http.h, "gzip"): the process-wide switch, the
 * two decisions (does the client accept gzip, is this type worth
 * compressing) and the compressors, one-shot for whole bodies and
 * incremental for streamed ones. No I/O here: http.c decides when to call
 * these and puts the bytes on the wire.
 *
 * The one-shot compressor keeps one z_stream per process and resets it for
 * each body: deflateInit2 allocates about 256 KiB, which would otherwise be
 * allocated and freed once per answer. A stream has its own z_stream for
 * its whole life (its window carries over between writes). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "wm_int.h"
#include "http_int.h"

/* windowBits 15 + 16: a gzip wrapper (RFC 1952), not a zlib one: browsers
 * and curl accept both for "deflate", but "gzip" must be gzip. */
#define GZ_WINDOW_BITS (15 + 16)
#define GZ_MEM_LEVEL 8

static int gzip_level;
static size_t gzip_min_length = WM_HTTP_DEFAULT_GZIP_MIN_LENGTH;

int wm_http_set_gzip(int level)
{
    if (level < 0 || level > 9)
        return WM_EINVAL;
    gzip_level = level;
    return WM_OK;
}

int wm_http_gzip(void)
{
    return gzip_level;
}

void wm_http_set_gzip_min_length(size_t bytes)
{
    gzip_min_length = bytes;
}

size_t wm_http_gzip_min_length(void)
{
    return gzip_min_length;
}

/* ---- Accept-Encoding ---------------------------------------------------------- */

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The weight of one list member's parameters (";q=0.5;x=y"), in thousandths:
 * 0..1000, or 1000 when there is no q. A malformed q counts as 0: a member
 * we cannot read is not a permission. */
static int member_weight(const char *p, const char *end)
{
    int q = 1000;
    while (p < end) {
        p = skip_ows(p, end);
        if (p >= end || *p != ';')
            return p >= end ? q : 0;
        p = skip_ows(p + 1, end);
        const char *name = p;
        while (p < end && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        bool is_q = p - name == 1 && (*name == 'q' || *name == 'Q');
        p = skip_ows(p, end);
        const char *val = NULL, *val_end = NULL;
        if (p < end && *p == '=') {
            val = p = skip_ows(p + 1, end);
            while (p < end && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            val_end = p;
        }
        if (!is_q)
            continue;
        /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
        if (!val || val == val_end || (*val != '0' && *val != '1'))
            return 0;
        int whole = *val - '0', frac = 0, digits = 0;
        const char *d = val + 1;
        if (d < val_end) {
            if (*d++ != '.')
                return 0;
            for (; d < val_end; d++, digits++) {
                if (*d < '0' || *d > '9' || digits == 3)
                    return 0;
                frac = frac * 10 + (*d - '0');
            }
        }
        for (; digits < 3; digits++)
            frac *= 10;
        q = whole * 1000 + frac;
        if (q > 1000)
            return 0;
    }
    return q;
}

bool wm__http_accepts_gzip(const char *v, size_t len)
{
    /* -1: not named. gzip (or its alias x-gzip) by name wins over "*". */
    int gzip_q = -1, star_q = -1;
    const char *end = v + len, *p = v;
    while (p < end) {
        const char *m_end = memchr(p, ',', (size_t)(end - p));
        if (!m_end)
            m_end = end;
        const char *tok = skip_ows(p, m_end), *tok_end = tok;
        while (tok_end < m_end && *tok_end != ';' && *tok_end != ' ' && *tok_end != '\t')
            tok_end++;
        size_t n = (size_t)(tok_end - tok);
        int w = member_weight(tok_end, m_end);
        if ((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip_q = w > gzip_q ? w : gzip_q;
        else if (n == 1 && *tok == '*')
            star_q = w > star_q ? w : star_q;
        p = m_end + 1;
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

/* ---- Content types ------------------------------------------------------------- */

bool wm__http_gzip_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const char *const exact[] = {"application/json",         "application/javascript",
                                        "application/x-javascript", "application/ecmascript",
                                        "application/xml",          "image/svg+xml"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strlen(exact[i]) == n && strncasecmp(ct, exact[i], n) == 0)
            return true;
    if (n == 17 && strncasecmp(ct, "text/event-stream", 17) == 0)
        return false; /* events must reach the client as they are written */
    if (n > 5 && strncasecmp(ct, "text/", 5) == 0)
        return true;
    return n > 5 &&
           (strncasecmp(ct + n - 5, "+json", 5) == 0 || (strncasecmp(ct + n - 4, "+xml", 4) == 0));
}

/* ---- Compressors ------------------------------------------------------------------- */

/* Runs `in` through `z` with `flush` into a new buffer (*out, the caller
 * frees it). Grows the buffer when the bound guessed wrong, rather than
 * trusting it: with sync flushes the bound is only nearly exact. */
static int deflate_all(z_stream *z, const void *in, size_t len, int flush, char **out,
                       size_t *out_len)
{
    if (len > UINT32_MAX / 2)
        return WM_EINVAL;
    size_t cap = deflateBound(z, (uLong)len) + 32, used = 0;
    char *buf = malloc(cap);
    if (!buf)
        return WM_ENOMEM;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    for (;;) {
        z->next_out = (Bytef *)buf + used;
        z->avail_out = (uInt)(cap - used);
        int zr = deflate(z, flush);
        used = cap - z->avail_out;
        if (zr == Z_STREAM_END || (flush != Z_FINISH && z->avail_out > 0 &&
                                   (zr == Z_OK || zr == Z_BUF_ERROR /* nothing to flush */)))
            break;
        if ((zr != Z_OK && zr != Z_BUF_ERROR) || z->avail_out > 0) { /* no progress */
            free(buf);
            return WM_ENOMEM;
        }
        char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            return WM_ENOMEM;
        }
        buf = b;
        cap *= 2;
    }
    *out = buf;
    *out_len = used;
    return WM_OK;
}

static z_stream oneshot;
static int oneshot_level; /* 0: not initialised */

int wm__http_gzip_buf(const void *in, size_t len, char **out, size_t *out_len)
{
    if (oneshot_level != gzip_level) {
        if (oneshot_level)
            deflateEnd(&oneshot);
        oneshot_level = 0;
        memset(&oneshot, 0, sizeof oneshot);
        if (deflateInit2(&oneshot, gzip_level, Z_DEFLATED, GZ_WINDOW_BITS, GZ_MEM_LEVEL,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return WM_ENOMEM;
        oneshot_level = gzip_level;
    } else if (deflateReset(&oneshot) != Z_OK) {
        return WM_ENOMEM;
    }
    return deflate_all(&oneshot, in, len, Z_FINISH, out, out_len);
}

struct wm__http_gz {
    z_stream z;
};

wm__http_gz_t *wm__http_gz_new(void)
{
    wm__http_gz_t *gz = calloc(1, sizeof *gz);
    if (gz && deflateInit2(&gz->z, gzip_level ? gzip_level : Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                           GZ_WINDOW_BITS, GZ_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(gz);
        gz = NULL;
    }
    return gz;
}

void wm__http_gz_free(wm__http_gz_t *gz)
{
    if (!gz)
        return;
    deflateEnd(&gz->z);
    free(gz);
}

int wm__http_gz_write(wm__http_gz_t *gz, const void *in, size_t len, bool finish, char **out,
                      size_t *out_len)
{
    return deflate_all(&gz->z, in, len, finish ? Z_FINISH : Z_SYNC_FLUSH, out, out_len);
}
