/* SPDX-License-Identifier: MIT */
/* The request/response envelope both services speak (docs/protocol.md):
 * a request is [id, op, args...], a response [id, status, result]. The
 * decoder checks the body with wm__mp_check first and then reads spans; each
 * service passes its own op table. */
#include <string.h>

#include "svc_mp.h"

static int op_lookup(const wm__svc_op_def_t *ops, int nops, const char *name, size_t len)
{
    for (int i = 0; i < nops; i++)
        if (strlen(ops[i].name) == len && memcmp(ops[i].name, name, len) == 0)
            return i;
    return -1;
}

static int fail(const char **why, const char *reason)
{
    *why = reason;
    return WM_EPROTO;
}

int wm__svc_req_decode(const char *buf, size_t len, const wm__svc_op_def_t *ops, int nops,
                       wm__svc_req_t *req, const char **why)
{
    memset(req, 0, sizeof *req);
    req->op = -1;
    ssize_t n = wm__mp_check(buf, len, WM_MP_MAX_DEPTH);
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
    req->op = op_lookup(ops, nops, op.data, op.len);
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

/* ---- Responses ----------------------------------------------------------- */

void wm__svc_resp_begin(msgpack_packer *pk, uint64_t id, uint32_t status)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, id);
    msgpack_pack_uint32(pk, status);
}

void wm__svc_resp_error(msgpack_packer *pk, const uint64_t *id, uint32_t status,
                        const char *message)
{
    msgpack_pack_array(pk, 3);
    if (id)
        msgpack_pack_uint64(pk, *id);
    else
        msgpack_pack_nil(pk);
    msgpack_pack_uint32(pk, status);
    msgpack_pack_str_with_body(pk, message, strlen(message));
}
