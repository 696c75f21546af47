/* SPDX-License-Identifier: MIT */
/* libFuzzer target for channel-server's request decoders (channel/src/
 * ch_proto.c): the input is one frame body, read both as a MessagePack
 * request (with its name lists walked) and as walkor/channel's PHP format
 * (with its channel names read and a push built from its data). Nothing may
 * read outside the input, and the zone stays bounded by the input's size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec.h"

#include "ch_int.h"

#define CHECK WM_FUZZ_CHECK

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    wm__svc_req_t r;
    const char *why = NULL;
    if (wm__ch_req_decode(buf, size, &r, &why) == WM_OK) {
        CHECK(r.op >= 0 && r.op < WM_CH_OP_COUNT && r.argc <= WM_SVC_MAX_ARGS);
        wm__ch_names_t it;
        const char *name;
        size_t len;
        if (r.argc > 0 && wm__ch_names_open(r.argv[0], &it, &why) == WM_OK)
            while (wm__ch_names_next(&it, &name, &len))
                CHECK(name >= buf && name + len <= buf + size && len <= WM_CH_MAX_NAME);
    } else {
        CHECK(why != NULL);
    }
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object root;
    wm__ch_php_req_t pr;
    if (wm__ch_php_decode(buf, size, &zone, &root, &pr, &why) == WM_OK && pr.channels) {
        const msgpack_object *ch = pr.channels;
        uint32_t n = ch->type == MSGPACK_OBJECT_ARRAY ? ch->via.array.size : ch->via.map.size;
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *o =
                ch->type == MSGPACK_OBJECT_ARRAY ? &ch->via.array.ptr[i] : &ch->via.map.ptr[i].val;
            char num[32];
            const char *name;
            size_t len;
            if (wm__ch_php_name(o, num, sizeof num, &name, &len))
                CHECK(len <= WM_CH_MAX_NAME);
        }
    }
    msgpack_zone_destroy(&zone);
    free(buf);
    return 0;
}
