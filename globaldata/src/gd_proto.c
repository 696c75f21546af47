/* SPDX-License-Identifier: MIT */
/* GlobalData's wire codec, with no I/O: bytes in, requests and responses out
 * (and back). The server and the client library share it.
 *
 * Requests are not unpacked with msgpack-c's unpacker: it allocates whatever
 * a count claims (PLATFORM.md: five bytes make it ask for ~12 GiB). Instead
 * one pass (wm__gd_mp_check) walks the body without allocating, refusing any
 * array or map that claims more elements than bytes remain and any nesting
 * deeper than WM_GD_MAX_DEPTH; after that, values are kept as spans of the
 * frame (stored as given) and read with wm__gd_mp_head, which may then trust
 * the bytes. Responses are packed with msgpack-c's packer. */
#include <string.h>

#include "gd_int.h"

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

ssize_t wm__gd_mp_check(const char *buf, size_t len, int max_depth)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    uint64_t left[WM_GD_MAX_DEPTH + 1]; /* objects still to read at each level */
    int depth = 0;

    if (max_depth > WM_GD_MAX_DEPTH)
        max_depth = WM_GD_MAX_DEPTH;
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

static void set_int(wm__gd_head_t *h, int64_t v)
{
    if (v >= 0) {
        h->kind = WM_GD_UINT;
        h->u = (uint64_t)v;
    } else {
        h->kind = WM_GD_INT;
        h->i = v;
    }
}

void wm__gd_mp_head(const char **pp, wm__gd_head_t *h)
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
        h->kind = info.shape == SHAPE_ARRAY ? WM_GD_ARRAY : WM_GD_MAP;
        h->len = (uint32_t)n;
        break;
    case SHAPE_BYTES:
        h->kind = (b >= 0xc4 && b <= 0xc6) ? WM_GD_BIN : WM_GD_STR;
        h->data = (const char *)p;
        h->len = (uint32_t)n;
        p += n;
        break;
    case SHAPE_EXT:
        h->kind = WM_GD_EXT;
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
            h->kind = WM_GD_NIL;
        } else if (b == 0xc2 || b == 0xc3) {
            h->kind = WM_GD_BOOL;
            h->b = b == 0xc3;
        } else if (b == 0xca || b == 0xcb) {
            h->kind = WM_GD_FLOAT;
            h->f = float_of(p, info.scalar);
        } else if (b >= 0xcc && b <= 0xcf) {
            h->kind = WM_GD_UINT;
            h->u = be(p, info.scalar);
        } else if (b >= 0xd0 && b <= 0xd3) {
            set_int(h, signed_of(p, info.scalar));
        } else { /* fixext 1..16: a type byte, then the data */
            h->kind = WM_GD_EXT;
            h->ext_type = (int8_t)p[0];
            h->data = (const char *)p + 1;
            h->len = (uint32_t)info.scalar - 1;
        }
        p += info.scalar;
        break;
    }
    *pp = (const char *)p;
}

void wm__gd_mp_skip(const char **p)
{
    uint64_t need = 1;
    while (need > 0) {
        wm__gd_head_t h;
        wm__gd_mp_head(p, &h);
        need--;
        if (h.kind == WM_GD_ARRAY)
            need += h.len;
        else if (h.kind == WM_GD_MAP)
            need += 2 * (uint64_t)h.len;
    }
}

/* Recursion is bounded: both objects were checked to WM_GD_MAX_DEPTH. */
static bool equal_at(const char **a, const char **b)
{
    wm__gd_head_t x, y;
    wm__gd_mp_head(a, &x);
    wm__gd_mp_head(b, &y);
    if (x.kind != y.kind)
        return false;
    switch (x.kind) {
    case WM_GD_NIL:
        return true;
    case WM_GD_BOOL:
        return x.b == y.b;
    case WM_GD_UINT:
        return x.u == y.u;
    case WM_GD_INT:
        return x.i == y.i;
    case WM_GD_FLOAT:
        return x.f == y.f;
    case WM_GD_EXT:
        if (x.ext_type != y.ext_type)
            return false;
        /* fall through */
    case WM_GD_STR:
    case WM_GD_BIN:
        return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    case WM_GD_ARRAY:
    case WM_GD_MAP: {
        if (x.len != y.len)
            return false;
        uint64_t n = x.kind == WM_GD_MAP ? 2 * (uint64_t)x.len : x.len;
        for (uint64_t i = 0; i < n; i++)
            if (!equal_at(a, b))
                return false;
        return true;
    }
    }
    return false;
}

bool wm__gd_mp_equal(wm__gd_span_t a, wm__gd_span_t b)
{
    const char *pa = a.p, *pb = b.p;
    return equal_at(&pa, &pb);
}

int wm__gd_span_str(wm__gd_span_t s, const char **data, size_t *len)
{
    const char *p = s.p;
    wm__gd_head_t h;
    wm__gd_mp_head(&p, &h);
    if (h.kind != WM_GD_STR)
        return WM_EINVAL;
    *data = h.data;
    *len = h.len;
    return WM_OK;
}

int wm__gd_span_int64(wm__gd_span_t s, int64_t *out)
{
    const char *p = s.p;
    wm__gd_head_t h;
    wm__gd_mp_head(&p, &h);
    if (h.kind == WM_GD_INT) {
        *out = h.i;
        return WM_OK;
    }
    if (h.kind == WM_GD_UINT && h.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)h.u;
        return WM_OK;
    }
    return WM_EINVAL;
}

bool wm__gd_span_is_nil(wm__gd_span_t s)
{
    return s.n == 1 && (unsigned char)s.p[0] == 0xc0;
}

/* ---- Requests ------------------------------------------------------------ */

static const struct op_def {
    const char *name;
    uint8_t min_args, max_args;
} ops[WM_GD_OP_COUNT] = {
    [WM_GD_OP_PING] = {"ping", 0, 0},      [WM_GD_OP_AUTH] = {"auth", 1, 1},
    [WM_GD_OP_GET] = {"get", 1, 1},        [WM_GD_OP_SET] = {"set", 2, 3},
    [WM_GD_OP_ADD] = {"add", 2, 3},        [WM_GD_OP_CAS] = {"cas", 3, 4},
    [WM_GD_OP_INCR] = {"increment", 1, 2}, [WM_GD_OP_DELETE] = {"delete", 1, 1},
    [WM_GD_OP_EXISTS] = {"exists", 1, 1},  [WM_GD_OP_MGET] = {"mget", 1, 1},
    [WM_GD_OP_MSET] = {"mset", 1, 2},      [WM_GD_OP_TTL] = {"ttl", 1, 1},
    [WM_GD_OP_EXPIRE] = {"expire", 2, 2},  [WM_GD_OP_PERSIST] = {"persist", 1, 1},
    [WM_GD_OP_KEYS] = {"keys", 0, 3},      [WM_GD_OP_STATS] = {"stats", 0, 0},
};

const char *wm__gd_op_name(int op)
{
    return op >= 0 && op < WM_GD_OP_COUNT ? ops[op].name : "?";
}

static int op_lookup(const char *name, size_t len)
{
    for (int i = 0; i < WM_GD_OP_COUNT; i++)
        if (strlen(ops[i].name) == len && memcmp(ops[i].name, name, len) == 0)
            return i;
    return -1;
}

static int fail(const char **why, const char *reason)
{
    *why = reason;
    return WM_EPROTO;
}

int wm__gd_req_decode(const char *buf, size_t len, wm__gd_req_t *req, const char **why)
{
    memset(req, 0, sizeof *req);
    req->op = -1;
    ssize_t n = wm__gd_mp_check(buf, len, WM_GD_MAX_DEPTH);
    if (n < 0)
        return fail(why, n == WM_EAGAIN ? "not MessagePack: truncated, or a count larger than "
                                          "the frame"
                                        : "not MessagePack: a bad type byte or nesting too deep");
    if ((size_t)n != len)
        return fail(why, "bytes after the request's array");
    const char *p = buf;
    wm__gd_head_t h;
    wm__gd_mp_head(&p, &h);
    if (h.kind != WM_GD_ARRAY)
        return fail(why, "a request is an array [id, op, args...]");
    uint32_t items = h.len;
    if (items == 0)
        return fail(why, "a request is an array [id, op, args...]");
    wm__gd_head_t id;
    wm__gd_mp_head(&p, &id);
    if (id.kind != WM_GD_UINT)
        return fail(why, "the request id must be an unsigned integer");
    req->has_id = true;
    req->id = id.u;
    if (items < 2)
        return fail(why, "a request is an array [id, op, args...]");
    const char *op_at = p;
    wm__gd_head_t op;
    wm__gd_mp_head(&p, &op);
    if (op.kind != WM_GD_STR) {
        p = op_at;
        return fail(why, "the op must be a string");
    }
    req->op_name = (wm__gd_span_t){op.data, op.len};
    req->op = op_lookup(op.data, op.len);
    if (req->op < 0)
        return fail(why, "unknown op");
    req->argc = items - 2;
    if (req->argc < ops[req->op].min_args || req->argc > ops[req->op].max_args)
        return fail(why, "wrong number of arguments for this op");
    for (uint32_t i = 0; i < req->argc; i++) {
        const char *start = p;
        wm__gd_mp_skip(&p);
        req->argv[i] = (wm__gd_span_t){start, (size_t)(p - start)};
    }
    return WM_OK;
}

void wm__gd_req_begin(msgpack_packer *pk, uint64_t id, int op, uint32_t nargs)
{
    const char *name = wm__gd_op_name(op);
    msgpack_pack_array(pk, 2 + nargs);
    msgpack_pack_uint64(pk, id);
    msgpack_pack_str_with_body(pk, name, strlen(name));
}

/* ---- Responses ----------------------------------------------------------- */

void wm__gd_resp_begin(msgpack_packer *pk, uint64_t id, uint32_t status)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, id);
    msgpack_pack_uint32(pk, status);
}

void wm__gd_resp_error(msgpack_packer *pk, const uint64_t *id, uint32_t status, const char *message)
{
    msgpack_pack_array(pk, 3);
    if (id)
        msgpack_pack_uint64(pk, *id);
    else
        msgpack_pack_nil(pk);
    msgpack_pack_uint32(pk, status);
    msgpack_pack_str_with_body(pk, message, strlen(message));
}

int wm__gd_resp_decode(const char *buf, size_t len, wm__gd_resp_t *resp, const char **why)
{
    memset(resp, 0, sizeof *resp);
    ssize_t n = wm__gd_mp_check(buf, len, WM_GD_MAX_DEPTH);
    if (n < 0 || (size_t)n != len)
        return fail(why, "a response is one MessagePack object");
    const char *p = buf;
    wm__gd_head_t h, id, st;
    wm__gd_mp_head(&p, &h);
    if (h.kind != WM_GD_ARRAY || h.len != 3)
        return fail(why, "a response is an array [id, status, result]");
    wm__gd_mp_head(&p, &id);
    if (id.kind != WM_GD_UINT && id.kind != WM_GD_NIL)
        return fail(why, "a response id is an unsigned integer or nil");
    wm__gd_mp_head(&p, &st);
    if (st.kind != WM_GD_UINT || st.u > UINT32_MAX)
        return fail(why, "a response status is an unsigned integer");
    resp->has_id = id.kind == WM_GD_UINT;
    resp->id = id.u;
    resp->status = (uint32_t)st.u;
    resp->result = (wm__gd_span_t){p, len - (size_t)(p - buf)};
    return WM_OK;
}
