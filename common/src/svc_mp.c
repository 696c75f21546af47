/* SPDX-License-Identifier: MIT */
/* The validating MessagePack reader (svc_mp.h): the pre-scan that defuses
 * count bombs, then heads, skips and comparisons on checked bytes. No I/O,
 * no allocation; shared by GlobalData's and Channel's codecs. */
#include <string.h>

#include "svc_mp.h"

/* ---- Reading MessagePack ----------------------------------------------- */

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The shape of the object whose first byte is `b`: how many bytes follow
 * the type byte in its head (`extra`), how many of those hold a length
 * (`lenbytes`, read big-endian after any fixed part), the payload size that
 * does not depend on a length (`fixed`), and what the length counts. */
typedef enum { SHAPE_SCALAR, SHAPE_BYTES, SHAPE_EXT, SHAPE_ARRAY, SHAPE_MAP, SHAPE_BAD } shape_t;

typedef struct head_info {
    shape_t shape;
    int lenbytes;        /* bytes of the length field after the type byte */
    uint64_t inline_len; /* for fix* types: the length in the type byte */
    int scalar;          /* scalar payload bytes after the type byte */
} head_info_t;

static head_info_t classify(unsigned char b)
{
    head_info_t h = {SHAPE_SCALAR, 0, 0, 0};
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return h;
    if (b <= 0x8f)
        return (head_info_t){SHAPE_MAP, 0, b & 0x0f, 0};
    if (b <= 0x9f)
        return (head_info_t){SHAPE_ARRAY, 0, b & 0x0f, 0};
    if (b <= 0xbf)
        return (head_info_t){SHAPE_BYTES, 0, b & 0x1f, 0};
    switch (b) {
    case 0xc4:
    case 0xd9:
        return (head_info_t){SHAPE_BYTES, 1, 0, 0};
    case 0xc5:
    case 0xda:
        return (head_info_t){SHAPE_BYTES, 2, 0, 0};
    case 0xc6:
    case 0xdb:
        return (head_info_t){SHAPE_BYTES, 4, 0, 0};
    case 0xc7:
        return (head_info_t){SHAPE_EXT, 1, 0, 1};
    case 0xc8:
        return (head_info_t){SHAPE_EXT, 2, 0, 1};
    case 0xc9:
        return (head_info_t){SHAPE_EXT, 4, 0, 1};
    case 0xca:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 4};
    case 0xcb:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 8};
    case 0xcc:
    case 0xd0:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 1};
    case 0xcd:
    case 0xd1:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 2};
    case 0xce:
    case 0xd2:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 4};
    case 0xcf:
    case 0xd3:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 8};
    case 0xd4:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 2};
    case 0xd5:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 3};
    case 0xd6:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 5};
    case 0xd7:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 9};
    case 0xd8:
        return (head_info_t){SHAPE_SCALAR, 0, 0, 17};
    case 0xdc:
        return (head_info_t){SHAPE_ARRAY, 2, 0, 0};
    case 0xdd:
        return (head_info_t){SHAPE_ARRAY, 4, 0, 0};
    case 0xde:
        return (head_info_t){SHAPE_MAP, 2, 0, 0};
    case 0xdf:
        return (head_info_t){SHAPE_MAP, 4, 0, 0};
    default:
        return (head_info_t){SHAPE_BAD, 0, 0, 0}; /* 0xc1 */
    }
}

ssize_t wm__mp_check(const char *buf, size_t len, int max_depth)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    uint64_t left[WM_MP_MAX_DEPTH + 1]; /* objects still to read at each level */
    int depth = 0;

    if (max_depth > WM_MP_MAX_DEPTH)
        max_depth = WM_MP_MAX_DEPTH;
    left[0] = 1;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        if (p >= end)
            return WM_EAGAIN;
        head_info_t h = classify(*p++);
        if (h.shape == SHAPE_BAD)
            return WM_EPROTO;
        if ((size_t)(end - p) < (size_t)h.lenbytes)
            return WM_EAGAIN;
        uint64_t n = h.lenbytes ? be(p, h.lenbytes) : h.inline_len;
        p += h.lenbytes;
        uint64_t avail = (uint64_t)(end - p);
        switch (h.shape) {
        case SHAPE_SCALAR:
            if (avail < (uint64_t)h.scalar)
                return WM_EAGAIN;
            p += h.scalar;
            break;
        case SHAPE_BYTES:
        case SHAPE_EXT:
            if (avail < n + (uint64_t)h.scalar)
                return WM_EAGAIN;
            p += n + (uint64_t)h.scalar;
            break;
        case SHAPE_ARRAY:
        case SHAPE_MAP:
            if (h.shape == SHAPE_MAP)
                n *= 2;
            /* Every element takes at least one byte: a count beyond the
             * bytes left cannot be honest, and is never trusted further. */
            if (n > avail)
                return WM_EAGAIN;
            if (n == 0)
                break;
            if (depth + 1 > max_depth)
                return WM_EPROTO;
            left[++depth] = n;
            break;
        case SHAPE_BAD:
            return WM_EPROTO;
        }
    }
    return (ssize_t)(p - (const unsigned char *)buf);
}

static double float_of(const unsigned char *p, int n)
{
    uint64_t bits = be(p, n);
    if (n == 4) {
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, sizeof f);
        return f;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static int64_t signed_of(const unsigned char *p, int n)
{
    uint64_t v = be(p, n);
    int shift = 64 - 8 * n;
    /* Sign-extend without relying on implementation-defined shifts. */
    if (shift > 0 && (v >> (8 * n - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * n);
    return (int64_t)v;
}

static void set_int(wm__mp_head_t *h, int64_t v)
{
    if (v >= 0) {
        h->kind = WM_MP_UINT;
        h->u = (uint64_t)v;
    } else {
        h->kind = WM_MP_INT;
        h->i = v;
    }
}

void wm__mp_head(const char **pp, wm__mp_head_t *h)
{
    const unsigned char *p = (const unsigned char *)*pp;
    unsigned char b = *p++;
    memset(h, 0, sizeof *h);
    head_info_t info = classify(b);
    uint64_t n = info.lenbytes ? be(p, info.lenbytes) : info.inline_len;
    p += info.lenbytes;
    switch (info.shape) {
    case SHAPE_ARRAY:
    case SHAPE_MAP:
        h->kind = info.shape == SHAPE_ARRAY ? WM_MP_ARRAY : WM_MP_MAP;
        h->len = (uint32_t)n;
        break;
    case SHAPE_BYTES:
        h->kind = (b >= 0xc4 && b <= 0xc6) ? WM_MP_BIN : WM_MP_STR;
        h->data = (const char *)p;
        h->len = (uint32_t)n;
        p += n;
        break;
    case SHAPE_EXT:
        h->kind = WM_MP_EXT;
        h->ext_type = (int8_t)p[0];
        h->data = (const char *)p + 1;
        h->len = (uint32_t)n;
        p += 1 + n;
        break;
    default:
        if (b <= 0x7f) {
            set_int(h, b);
        } else if (b >= 0xe0) {
            set_int(h, (int8_t)b);
        } else if (b == 0xc0) {
            h->kind = WM_MP_NIL;
        } else if (b == 0xc2 || b == 0xc3) {
            h->kind = WM_MP_BOOL;
            h->b = b == 0xc3;
        } else if (b == 0xca || b == 0xcb) {
            h->kind = WM_MP_FLOAT;
            h->f = float_of(p, info.scalar);
        } else if (b >= 0xcc && b <= 0xcf) {
            h->kind = WM_MP_UINT;
            h->u = be(p, info.scalar);
        } else if (b >= 0xd0 && b <= 0xd3) {
            set_int(h, signed_of(p, info.scalar));
        } else { /* fixext 1..16: a type byte, then the data */
            h->kind = WM_MP_EXT;
            h->ext_type = (int8_t)p[0];
            h->data = (const char *)p + 1;
            h->len = (uint32_t)info.scalar - 1;
        }
        p += info.scalar;
        break;
    }
    *pp = (const char *)p;
}

void wm__mp_skip(const char **p)
{
    uint64_t need = 1;
    while (need > 0) {
        wm__mp_head_t h;
        wm__mp_head(p, &h);
        need--;
        if (h.kind == WM_MP_ARRAY)
            need += h.len;
        else if (h.kind == WM_MP_MAP)
            need += 2 * (uint64_t)h.len;
    }
}

/* Recursion is bounded: both objects were checked to WM_MP_MAX_DEPTH. */
static bool equal_at(const char **a, const char **b)
{
    wm__mp_head_t x, y;
    wm__mp_head(a, &x);
    wm__mp_head(b, &y);
    if (x.kind != y.kind)
        return false;
    switch (x.kind) {
    case WM_MP_NIL:
        return true;
    case WM_MP_BOOL:
        return x.b == y.b;
    case WM_MP_UINT:
        return x.u == y.u;
    case WM_MP_INT:
        return x.i == y.i;
    case WM_MP_FLOAT:
        return x.f == y.f;
    case WM_MP_EXT:
        if (x.ext_type != y.ext_type)
            return false;
        /* fall through */
    case WM_MP_STR:
    case WM_MP_BIN:
        return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    case WM_MP_ARRAY:
    case WM_MP_MAP: {
        if (x.len != y.len)
            return false;
        uint64_t n = x.kind == WM_MP_MAP ? 2 * (uint64_t)x.len : x.len;
        for (uint64_t i = 0; i < n; i++)
            if (!equal_at(a, b))
                return false;
        return true;
    }
    }
    return false;
}

bool wm__mp_equal(wm__mp_span_t a, wm__mp_span_t b)
{
    const char *pa = a.p, *pb = b.p;
    return equal_at(&pa, &pb);
}

int wm__mp_span_str(wm__mp_span_t s, const char **data, size_t *len)
{
    const char *p = s.p;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_STR)
        return WM_EINVAL;
    *data = h.data;
    *len = h.len;
    return WM_OK;
}

int wm__mp_span_int64(wm__mp_span_t s, int64_t *out)
{
    const char *p = s.p;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    if (h.kind == WM_MP_INT) {
        *out = h.i;
        return WM_OK;
    }
    if (h.kind == WM_MP_UINT && h.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)h.u;
        return WM_OK;
    }
    return WM_EINVAL;
}

bool wm__mp_span_is_nil(wm__mp_span_t s)
{
    return s.n == 1 && (unsigned char)s.p[0] == 0xc0;
}
