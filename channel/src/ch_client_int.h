/* SPDX-License-Identifier: MIT */
/* What Channel's asynchronous client (ch_client.c) and its blocking one
 * (ch_sync.c) share, in ch_client_core.c: encoding requests with the op
 * table of ch_proto.c, and reading what the server sends (replies and
 * pushes). Private. */
#ifndef WM_CH_CLIENT_INT_H
#define WM_CH_CLIENT_INT_H

#include <wm/channel.h>

#include "ch_int.h"
#include "svc_net.h"

#define WM_CH_DEFAULT_TIMEOUT_MS 5000
#define WM_CH_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define WM_CH_DEFAULT_REQUEST_TIMEOUT_MS 10000
#define WM_CH_DEFAULT_RETRY_MIN_MS 100
#define WM_CH_DEFAULT_RETRY_MAX_MS 5000
#define WM_CH_DEFAULT_MAX_OFFLINE 10000
#define WM_CH_DEFAULT_MAX_OFFLINE_BYTES (16u * 1024 * 1024)

/* The op's name on the wire. */
const char *wm__ch_op_name(int op);

/* Whether a name is one the server takes (1 to 255 bytes). */
bool wm__ch_name_ok(const char *name);

/* Packs a list of names as an array; WM_EINVAL for 0 or over 1000 names or
 * a bad name. */
int wm__ch_pack_names(msgpack_packer *pk, const char *const *names, size_t n);

/* Starts a request [id, op, ...] of argc arguments. */
void wm__ch_req_begin(msgpack_packer *pk, uint64_t id, int op, uint32_t argc);

/* What the server sent: a reply or a push, read from a checked body. */
typedef struct wm__ch_incoming {
    bool is_push;
    /* replies */
    uint64_t id;
    int status;      /* WM_OK or WM_CH_E* */
    uint64_t result; /* an integer result, or the first of an array of them */
    /* pushes */
    bool is_queue;
    const char *name;
    size_t name_len;
    wm__mp_span_t data;
    uint64_t msg_id;
    uint32_t deliveries;
} wm__ch_incoming_t;

/* Reads one frame body. WM_OK or WM_EPROTO. */
int wm__ch_incoming_read(const char *body, size_t len, wm__ch_incoming_t *in);

#endif
