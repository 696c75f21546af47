/* SPDX-License-Identifier: MIT */
/* libFuzzer target for GlobalData's request decoder (globaldata/src/
 * gd_proto.c): the input is one frame body. The pre-scan must never read
 * outside the input (each input sits in its own allocation, so ASan sees an
 * overread), allocate, or accept more than it was given; a decoded request's
 * spans must lie inside the input, and every argument must walk (head, skip,
 * equality with itself) without leaving its span. The response decoder gets
 * the same input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec.h"

#include "gd_int.h"

#define CHECK WM_FUZZ_CHECK

static void check_span(const char *buf, size_t len, wm__mp_span_t s)
{
    CHECK(s.p >= buf && s.p + s.n <= buf + len);
    CHECK(wm__mp_check(s.p, s.n, WM_GD_MAX_DEPTH) == (ssize_t)s.n);
    const char *p = s.p;
    wm__mp_skip(&p);
    CHECK(p == s.p + s.n);
    (void)wm__mp_equal(s, s); /* NaN is unequal to itself: only the walk is checked */
    int64_t v;
    (void)wm__mp_span_int64(s, &v);
}

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    ssize_t n = wm__mp_check(buf, size, WM_GD_MAX_DEPTH);
    CHECK(n == WM_EAGAIN || n == WM_EPROTO || (n > 0 && (size_t)n <= size));
    wm__gd_req_t r;
    const char *why = NULL;
    int rc = wm__gd_req_decode(buf, size, &r, &why);
    if (rc == WM_OK) {
        CHECK(r.has_id && r.op >= 0 && r.op < WM_GD_OP_COUNT && r.argc <= WM_GD_MAX_ARGS);
        for (uint32_t i = 0; i < r.argc; i++)
            check_span(buf, size, r.argv[i]);
    } else {
        CHECK(rc == WM_EPROTO && why != NULL);
    }
    wm__gd_resp_t resp;
    if (wm__gd_resp_decode(buf, size, &resp, &why) == WM_OK)
        check_span(buf, size, resp.result);
    free(buf);
    return 0;
}
