/* SPDX-License-Identifier: MIT */
/* A validating MessagePack reader shared by globaldata-server and
 * channel-server (and their clients): one pass that checks a body without
 * allocating (wm__mp_check), then heads and spans read from the checked
 * bytes. msgpack-c's unpacker is not used on network input because it
 * allocates whatever a count claims (PLATFORM.md: five bytes make it ask for
 * ~12 GiB). Private to the project: nothing here is public API. */
#ifndef WM_SVC_MP_H
#define WM_SVC_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#include <wm/wm.h>

/* The deepest nesting of arrays and maps any checked object may have. */
#define WM_MP_MAX_DEPTH 64

/* Bytes of one whole MessagePack object, borrowed from a frame. */
typedef struct wm__mp_span {
    const char *p;
    size_t n;
} wm__mp_span_t;

/* A head of one object, as read by wm__mp_head(). */
typedef enum wm__mp_kind {
    WM_MP_NIL,
    WM_MP_BOOL,
    WM_MP_UINT, /* u holds it (non-negative integers, whatever the encoding) */
    WM_MP_INT,  /* i holds it (negative integers) */
    WM_MP_FLOAT,
    WM_MP_STR,
    WM_MP_BIN,
    WM_MP_ARRAY,
    WM_MP_MAP,
    WM_MP_EXT
} wm__mp_kind_t;

typedef struct wm__mp_head {
    wm__mp_kind_t kind;
    bool b;
    uint64_t u;
    int64_t i;
    double f;
    const char *data; /* str, bin, ext payload */
    uint32_t len;     /* payload bytes, or elements (array) / pairs (map) */
    int8_t ext_type;
} wm__mp_head_t;

/* Checks that buf[0..len) starts with one complete, well-formed object no
 * deeper than max_depth, where no array or map claims more elements than
 * bytes remain (the check that defuses MessagePack bombs). Returns its size
 * in bytes, WM_EAGAIN when the bytes end inside it, or WM_EPROTO (bad type
 * byte 0xc1, too deep, a count larger than the bytes left). O(len), no
 * allocation, no recursion. */
ssize_t wm__mp_check(const char *buf, size_t len, int max_depth);

/* Reads the head of the object at *p (which must be checked): its kind and
 * scalar value, or its payload / element count; advances *p past the head
 * (and past the payload of str, bin and ext, but not into containers). */
void wm__mp_head(const char **p, wm__mp_head_t *h);

/* Skips one checked object (containers included). */
void wm__mp_skip(const char **p);

/* Whether two checked objects are equal as values: integers by value
 * whatever their encoding, floats by value (float32 widened), str, bin and ext
 * by bytes, arrays element by element, maps pair by pair in their order. */
bool wm__mp_equal(wm__mp_span_t a, wm__mp_span_t b);

/* Reads a checked object as a string (str only): WM_OK or WM_EINVAL. */
int wm__mp_span_str(wm__mp_span_t s, const char **data, size_t *len);
/* Reads a checked object as an int64 (any integer encoding that fits). */
int wm__mp_span_int64(wm__mp_span_t s, int64_t *out);
bool wm__mp_span_is_nil(wm__mp_span_t s);

/* ---- The request envelope (svc_req.c) ------------------------------------ */

#define WM_SVC_MAX_ARGS 4 /* after [id, op] */

/* One op of a service's table: its name and allowed argument counts. */
typedef struct wm__svc_op_def {
    const char *name;
    uint8_t min_args, max_args;
} wm__svc_op_def_t;

/* A decoded request. Spans point into the frame given to the decoder. */
typedef struct wm__svc_req {
    bool has_id; /* false: the body was not [uint id, ...]; id is 0 */
    uint64_t id;
    int op;                /* index into the op table, or -1 when unknown */
    wm__mp_span_t op_name; /* the op's bytes (a str payload), for messages */
    uint32_t argc;
    wm__mp_span_t argv[WM_SVC_MAX_ARGS]; /* each one whole object */
} wm__svc_req_t;

/* Decodes one request body (a frame's payload) against `ops` (nops entries,
 * none with max_args above WM_SVC_MAX_ARGS). Returns WM_OK, or WM_EPROTO
 * with *why set to a static reason. On WM_EPROTO, req->has_id tells whether
 * the id could be read (then the server answers with that id and keeps the
 * connection); req->op is -1 for an unknown op name. */
int wm__svc_req_decode(const char *buf, size_t len, const wm__svc_op_def_t *ops, int nops,
                       wm__svc_req_t *req, const char **why);

/* Starts a response [id, status, result]: the caller packs the result. */
void wm__svc_resp_begin(msgpack_packer *pk, uint64_t id, uint32_t status);

/* A whole error response; a NULL id packs nil (an unreadable request). */
void wm__svc_resp_error(msgpack_packer *pk, const uint64_t *id, uint32_t status,
                        const char *message);

#endif
