/* SPDX-License-Identifier: MIT */
/* JSON <-> MessagePack for globaldata-cli's values, on libwm's JSON module
 * (wm/json.h parses and writes; this file only maps the types).
 *
 * JSON to MessagePack: null, true/false; an integer that fits int64 is an
 * int, one past it that fits uint64 (an id up to 18446744073709551615) a
 * uint64, any other number a float64 (as JSON.parse reads it); strings as
 * str (decoded, "\u0000" included); arrays as arrays; objects as maps with
 * str keys, in input order, duplicates kept. Nesting is bounded by the
 * server's limit, so the recursion below is too.
 *
 * MessagePack to JSON: the reverse, plus what JSON lacks: bin is written as
 * a string, ext as null, a map key that is not a string as the JSON text of
 * the key (the key 5 is "5"; a container key inside such a key is shown as
 * "[...]" or "{...}", so that quoting inside quoting cannot grow the text
 * exponentially with the depth); a str or bin that is not UTF-8 is written byte
 * by byte as Latin-1 (U+0080-U+00FF), so nothing is lost or refused.
 * Floats are written in their shortest round-trip form, always with a '.'
 * or an exponent, so a value read back is a float again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gd_json.h"

/* ---- JSON -> MessagePack ------------------------------------------------- */

/* A number that wm_json could not hold as int64: a uint64 when its text is a
 * plain non-negative integer in range, else the double. */
static int pack_number(msgpack_packer *pk, const wm_json_t *v)
{
    double d;
    const char *text = wm_json_number_text(v);
    if (text[strspn(text, "0123456789")] == '\0') {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(text, &end, 10);
        if (errno == 0 && *end == '\0')
            return msgpack_pack_uint64(pk, u);
    }
    wm_json_as_double(v, &d);
    return msgpack_pack_double(pk, d);
}

static int pack_json(msgpack_packer *pk, const wm_json_t *v)
{
    bool b;
    int64_t i;
    size_t n, len;
    const char *s;
    switch (wm_json_type(v)) {
    case WM_JSON_BOOL:
        wm_json_as_bool(v, &b);
        return b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case WM_JSON_INT:
        wm_json_as_int(v, &i);
        return msgpack_pack_int64(pk, i);
    case WM_JSON_DOUBLE:
        return pack_number(pk, v);
    case WM_JSON_STRING:
        s = wm_json_as_string(v, &len);
        return msgpack_pack_str_with_body(pk, s, len);
    case WM_JSON_ARRAY:
        n = wm_json_size(v);
        if (msgpack_pack_array(pk, n) != 0)
            return -1;
        for (size_t k = 0; k < n; k++)
            if (pack_json(pk, wm_json_at(v, k)) != 0)
                return -1;
        return 0;
    case WM_JSON_OBJECT:
        n = wm_json_size(v);
        if (msgpack_pack_map(pk, n) != 0)
            return -1;
        for (size_t k = 0; k < n; k++) {
            s = wm_json_key_at(v, k, &len);
            if (msgpack_pack_str_with_body(pk, s, len) != 0 ||
                pack_json(pk, wm_json_value_at(v, k)) != 0)
                return -1;
        }
        return 0;
    default:
        return msgpack_pack_nil(pk);
    }
}

int wm__gd_json_to_msgpack(const char *json, size_t len, msgpack_sbuffer *out, wm_json_error_t *err)
{
    /* One level less than the server allows: the JSON parser counts the
     * containers, the MessagePack check the scalars inside them too. */
    wm_json_opts_t opts = {.max_depth = WM_GD_MAX_DEPTH - 1};
    wm_json_doc_t *doc;
    int rc = wm_json_parse(json, len, &opts, &doc, err);
    if (rc != WM_OK)
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    size_t before = out->size;
    if (pack_json(&pk, wm_json_root(doc)) != 0) {
        out->size = before;
        rc = WM_ENOMEM;
    }
    wm_json_doc_free(doc);
    return rc;
}

/* ---- MessagePack -> JSON ------------------------------------------------- */

/* Text for a string writer: the bytes themselves when they are UTF-8,
 * otherwise each byte as the code point of the same number (Latin-1) in
 * *tmp, which the caller frees. NULL when out of memory. */
static const char *as_text(const char *p, size_t n, size_t *out_len, char **tmp)
{
    *tmp = NULL;
    *out_len = n;
    if (wm_json_is_utf8(p, n))
        return p;
    char *t = malloc(2 * n + 1);
    if (!t)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x80) {
            t[k++] = (char)c;
        } else {
            t[k++] = (char)(0xc0 | c >> 6);
            t[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    *tmp = t;
    *out_len = k;
    return t;
}

static int write_text(wm_json_writer_t *w, const char *p, size_t n, bool key)
{
    char *tmp;
    size_t len;
    const char *s = as_text(p, n, &len, &tmp);
    if (!s)
        return WM_ENOMEM;
    int rc = key ? wm_json_write_keyn(w, s, len) : wm_json_write_stringn(w, s, len);
    free(tmp);
    return rc;
}

static int write_mp(wm_json_writer_t *w, const char **p, bool in_key);

/* A map key that is not a string: its JSON text, as the key. Inside such a
 * key's text (in_key), a container key is only named. */
static int write_other_key(wm_json_writer_t *w, const char **p, bool in_key)
{
    wm__mp_head_t h;
    const char *q = *p;
    wm__mp_head(&q, &h);
    if (in_key && (h.kind == WM_MP_ARRAY || h.kind == WM_MP_MAP)) {
        wm__mp_skip(p);
        return wm_json_write_key(w, h.kind == WM_MP_MAP ? "{...}" : "[...]");
    }
    wm_json_writer_t *kw = wm_json_writer_new();
    if (!kw)
        return WM_ENOMEM;
    int rc = write_mp(kw, p, true);
    size_t len;
    const char *text = wm_json_writer_text(kw, &len);
    if (rc == WM_OK)
        rc = text ? wm_json_write_keyn(w, text, len) : wm_json_writer_error(kw);
    wm_json_writer_free(kw);
    return rc;
}

/* Writes the checked object at *p and advances past it. */
static int write_mp(wm_json_writer_t *w, const char **p, bool in_key)
{
    wm__mp_head_t h;
    wm__mp_head(p, &h);
    int rc = WM_OK;
    switch (h.kind) {
    case WM_MP_NIL:
    case WM_MP_EXT:
        return wm_json_write_null(w);
    case WM_MP_BOOL:
        return wm_json_write_bool(w, h.b);
    case WM_MP_UINT:
        return wm_json_write_uint(w, h.u);
    case WM_MP_INT:
        return wm_json_write_int(w, h.i);
    case WM_MP_FLOAT:
        return wm_json_write_double(w, h.f);
    case WM_MP_STR:
    case WM_MP_BIN:
        return write_text(w, h.data, h.len, false);
    case WM_MP_ARRAY:
        rc = wm_json_write_array_begin(w);
        for (uint32_t i = 0; rc == WM_OK && i < h.len; i++)
            rc = write_mp(w, p, in_key);
        return rc == WM_OK ? wm_json_write_array_end(w) : rc;
    case WM_MP_MAP:
        rc = wm_json_write_object_begin(w);
        for (uint32_t i = 0; rc == WM_OK && i < h.len; i++) {
            wm__mp_head_t k;
            const char *q = *p;
            wm__mp_head(&q, &k);
            if (k.kind == WM_MP_STR || k.kind == WM_MP_BIN) {
                *p = q;
                rc = write_text(w, k.data, k.len, true);
            } else {
                rc = write_other_key(w, p, in_key);
            }
            if (rc == WM_OK)
                rc = write_mp(w, p, in_key);
        }
        return rc == WM_OK ? wm_json_write_object_end(w) : rc;
    }
    return WM_EPROTO;
}

int wm__gd_msgpack_to_json(const char *mp, size_t len, wm_json_writer_t *w)
{
    ssize_t n = wm__mp_check(mp, len, WM_GD_MAX_DEPTH);
    if (n < 0 || (size_t)n != len)
        return WM_EPROTO;
    return write_mp(w, &mp, false);
}
