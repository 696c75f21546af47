/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the stored session format (libwm/src/
 * http_session_data.c), what wm_http_session_start decodes from a store:
 * the input is the stored bytes. The format is canonical, so whatever
 * decodes must encode back to exactly the input, within the limits; what
 * does not decode must leave the data empty. Then every key is deleted
 * again, which checks the size bookkeeping down to the bare header. */
#include "fuzz_codec.h"

#include "../../libwm/src/http_session_int.h"

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wm__sess_data_t d;
    const char *why = NULL;
    wm__sess_data_init(&d);
    int rc = wm__sess_data_decode(&d, data, size, &why);
    if (rc != WM_OK) {
        WM_FUZZ_CHECK(rc == WM_EPROTO || rc == WM_ENOMEM);
        WM_FUZZ_CHECK(why != NULL);
        WM_FUZZ_CHECK(d.n == 0 && d.size == WM__SESS_HEADER_SIZE);
        return 0;
    }
    WM_FUZZ_CHECK(d.n <= WM_HTTP_SESSION_MAX_KEYS);
    WM_FUZZ_CHECK(d.size == size && size <= WM_HTTP_SESSION_MAX_SIZE);
    void *out = NULL;
    size_t out_len = 0;
    WM_FUZZ_CHECK(wm__sess_data_encode(&d, &out, &out_len) == WM_OK);
    WM_FUZZ_CHECK(out_len == size && memcmp(out, data, size) == 0);
    free(out);
    for (size_t i = 0; i < d.n; i++) {
        const wm__sess_item_t *it = &d.items[i];
        WM_FUZZ_CHECK(it->klen > 0 && it->klen <= WM_HTTP_SESSION_KEY_MAX);
        WM_FUZZ_CHECK(strlen(it->key) == it->klen && it->val[it->vlen] == '\0');
        WM_FUZZ_CHECK(wm__sess_data_find(&d, it->key, it->klen) == (long)i);
    }
    while (d.n)
        wm__sess_data_del(&d, d.n - 1);
    WM_FUZZ_CHECK(d.size == WM__SESS_HEADER_SIZE);
    wm__sess_data_clear(&d);
    return 0;
}
