/* SPDX-License-Identifier: MIT */
/* GlobalData's wire codec, with no I/O: bytes in, requests and responses out
 * (and back). The server and the client library share it.
 *
 * Requests are not unpacked with msgpack-c's unpacker: it allocates whatever
 * a count claims (PLATFORM.md: five bytes make it ask for ~12 GiB). Instead
 * one pass (wm__mp_check, common/src/svc_mp.c) walks the body without allocating, refusing any
 * array or map that claims more elements than bytes remain and any nesting
 * deeper than WM_GD_MAX_DEPTH; after that, values are kept as spans of the
 * frame (stored as given) and read with wm__mp_head, which may then trust
 * the bytes. Responses are packed with msgpack-c's packer. */
#include <string.h>

#include "gd_int.h"

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
    ssize_t n = wm__mp_check(buf, len, WM_GD_MAX_DEPTH);
    if (n < 0)
        return fail(why, n == WM_EAGAIN ? "not MessagePack: truncated, or a count larger than "
                                          "the frame"
                                        : "not MessagePack: a bad type byte or nesting too deep");
    if ((size_t)n != len)
        return fail(why, "bytes after the request's array");
    const char *p = buf;
    wm__mp_head_t h;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_ARRAY)
        return fail(why, "a request is an array [id, op, args...]");
    uint32_t items = h.len;
    if (items == 0)
        return fail(why, "a request is an array [id, op, args...]");
    wm__mp_head_t id;
    wm__mp_head(&p, &id);
    if (id.kind != WM_MP_UINT)
        return fail(why, "the request id must be an unsigned integer");
    req->has_id = true;
    req->id = id.u;
    if (items < 2)
        return fail(why, "a request is an array [id, op, args...]");
    const char *op_at = p;
    wm__mp_head_t op;
    wm__mp_head(&p, &op);
    if (op.kind != WM_MP_STR) {
        p = op_at;
        return fail(why, "the op must be a string");
    }
    req->op_name = (wm__mp_span_t){op.data, op.len};
    req->op = op_lookup(op.data, op.len);
    if (req->op < 0)
        return fail(why, "unknown op");
    req->argc = items - 2;
    if (req->argc < ops[req->op].min_args || req->argc > ops[req->op].max_args)
        return fail(why, "wrong number of arguments for this op");
    for (uint32_t i = 0; i < req->argc; i++) {
        const char *start = p;
        wm__mp_skip(&p);
        req->argv[i] = (wm__mp_span_t){start, (size_t)(p - start)};
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
    ssize_t n = wm__mp_check(buf, len, WM_GD_MAX_DEPTH);
    if (n < 0 || (size_t)n != len)
        return fail(why, "a response is one MessagePack object");
    const char *p = buf;
    wm__mp_head_t h, id, st;
    wm__mp_head(&p, &h);
    if (h.kind != WM_MP_ARRAY || h.len != 3)
        return fail(why, "a response is an array [id, status, result]");
    wm__mp_head(&p, &id);
    if (id.kind != WM_MP_UINT && id.kind != WM_MP_NIL)
        return fail(why, "a response id is an unsigned integer or nil");
    wm__mp_head(&p, &st);
    if (st.kind != WM_MP_UINT || st.u > UINT32_MAX)
        return fail(why, "a response status is an unsigned integer");
    resp->has_id = id.kind == WM_MP_UINT;
    resp->id = id.u;
    resp->status = (uint32_t)st.u;
    resp->result = (wm__mp_span_t){p, len - (size_t)(p - buf)};
    return WM_OK;
}
