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

static const wm__svc_op_def_t ops[WM_GD_OP_COUNT] = {
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

int wm__gd_req_decode(const char *buf, size_t len, wm__gd_req_t *req, const char **why)
{
    return wm__svc_req_decode(buf, len, ops, WM_GD_OP_COUNT, req, why);
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
    wm__svc_resp_begin(pk, id, status);
}

void wm__gd_resp_error(msgpack_packer *pk, const uint64_t *id, uint32_t status, const char *message)
{
    wm__svc_resp_error(pk, id, status, message);
}

static int fail(const char **why, const char *reason)
{
    *why = reason;
    return WM_EPROTO;
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
