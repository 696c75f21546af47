/* SPDX-License-Identifier: MIT */
/* libFuzzer target for globaldata-cli's value conversion (globaldata/src/
 * gd_json.c): the input is the JSON text of `globaldata-cli set KEY JSON`.
 * A conversion either fails with a reason and leaves the output empty, or
 * yields exactly one well-formed MessagePack object that the server's check
 * accepts; that object written back as JSON must convert to the same bytes
 * again (the round trip loses nothing: numbers keep their type and value,
 * strings their bytes, maps their order). The input is also converted as
 * MessagePack to JSON, which must refuse or produce complete JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec.h"

#include "gd_json.h"

#define CHECK WM_FUZZ_CHECK

WM_FUZZ_QUIET_INIT()

/* MessagePack bytes to JSON text; NULL (and *rc) when refused. The caller
 * frees the writer. */
static const char *to_json(const char *mp, size_t len, wm_json_writer_t *w, size_t *tlen, int *rc)
{
    *rc = wm__gd_msgpack_to_json(mp, len, w);
    if (*rc != WM_OK)
        return NULL;
    CHECK(wm_json_writer_done(w));
    const char *text = wm_json_writer_text(w, tlen);
    CHECK(text != NULL);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    msgpack_sbuffer mp, again;
    msgpack_sbuffer_init(&mp);
    msgpack_sbuffer_init(&again);
    wm_json_error_t err = {0, ""};
    int rc = wm__gd_json_to_msgpack(buf, size, &mp, &err);
    if (rc != WM_OK) {
        CHECK(rc == WM_EPROTO || rc == WM_EMSGSIZE || rc == WM_ENOMEM);
        CHECK(mp.size == 0);
        CHECK(err.reason[0] != '\0' && err.offset <= size);
    } else {
        CHECK(wm__mp_check(mp.data, mp.size, WM_GD_MAX_DEPTH) == (ssize_t)mp.size);
        wm_json_writer_t *w = wm_json_writer_new();
        size_t tlen;
        const char *text = to_json(mp.data, mp.size, w, &tlen, &rc);
        CHECK(text != NULL);
        CHECK(wm__gd_json_to_msgpack(text, tlen, &again, &err) == WM_OK);
        CHECK(again.size == mp.size && memcmp(again.data, mp.data, mp.size) == 0);
        wm_json_writer_free(w);
    }
    /* The other direction on arbitrary bytes: refused, or valid JSON. */
    wm_json_writer_t *w = wm_json_writer_new();
    size_t tlen;
    const char *text = to_json(buf, size, w, &tlen, &rc);
    if (text) {
        wm_json_doc_t *doc;
        CHECK(wm_json_parse(text, tlen, NULL, &doc, NULL) == WM_OK);
        wm_json_doc_free(doc);
    } else {
        CHECK(rc == WM_EPROTO || rc == WM_ENOMEM);
    }
    wm_json_writer_free(w);
    msgpack_sbuffer_destroy(&mp);
    msgpack_sbuffer_destroy(&again);
    free(buf);
    return 0;
}
