/* SPDX-License-Identifier: MIT */
/* libFuzzer target for application/x-www-form-urlencoded parsing
 * (wm_http_urlencoded_parse): byte 0 picks the limits. A parsed form is
 * encoded again (every byte outside the unreserved set as %XX) and parsed
 * back: the same fields, in the same order. A failure must carry 400 or
 * 413 and an offset inside the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wm/wm.h"

static size_t encode(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c) != NULL) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    wm_http_form_opts_t o = {0};
    if (data[0] & 1) {
        o.max_fields = 1 + (data[0] >> 1 & 7);
        o.max_field_size = 1 + (data[0] >> 4) * 4;
    }
    const char *in = (const char *)data + 1;
    size--;
    wm_http_form_t *a = NULL, *b = NULL;
    wm_http_body_error_t e;
    int rc = wm_http_urlencoded_parse(in, size, &o, &a, &e);
    if (rc != WM_OK) {
        if (a || e.offset > size || (e.status != 400 && e.status != 413))
            abort();
        return 0;
    }
    char *enc = malloc(size * 3 + 2), *p = enc;
    for (size_t i = 0; i < wm_http_form_count(a); i++) {
        const wm_http_field_t *f = wm_http_form_field_at(a, i);
        if (i)
            *p++ = '&';
        p += encode(p, f->name, f->name_len);
        *p++ = '=';
        p += encode(p, f->value, f->value_len);
    }
    /* Every pair has an '=' now: a name-only pair had an empty value. The
     * limits apply to decoded values, so the same ones pass. */
    if (wm_http_urlencoded_parse(enc, (size_t)(p - enc), &o, &b, &e) != WM_OK)
        abort();
    if (wm_http_form_count(a) != wm_http_form_count(b))
        abort();
    for (size_t i = 0; i < wm_http_form_count(a); i++) {
        const wm_http_field_t *x = wm_http_form_field_at(a, i), *y = wm_http_form_field_at(b, i);
        if (x->name_len != y->name_len || x->value_len != y->value_len ||
            memcmp(x->name, y->name, x->name_len) != 0 ||
            memcmp(x->value, y->value, x->value_len) != 0)
            abort();
    }
    free(enc);
    wm_http_form_free(a);
    wm_http_form_free(b);
    return 0;
}
