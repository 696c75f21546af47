/* SPDX-License-Identifier: MIT */
/* Structural equality of two JSON values, for the round-trip checks of
 * json_test.c and fuzz_json.c. Iterative, like the parser, so that a
 * document as deep as the parser allows cannot overflow the stack. */
#ifndef WM_JSON_TREE_H
#define WM_JSON_TREE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wm/json.h"

static inline bool json_scalar_equal(const wm_json_t *a, const wm_json_t *b)
{
    size_t la, lb;
    int64_t ia, ib;
    double da, db;
    bool ba, bb;
    switch (wm_json_type(a)) {
    case WM_JSON_NULL:
        return true;
    case WM_JSON_BOOL:
        return wm_json_as_bool(a, &ba) && wm_json_as_bool(b, &bb) && ba == bb;
    case WM_JSON_INT:
        return wm_json_as_int(a, &ia) && wm_json_as_int(b, &ib) && ia == ib;
    case WM_JSON_DOUBLE:
        return wm_json_as_double(a, &da) && wm_json_as_double(b, &db) && da == db;
    case WM_JSON_STRING: {
        const char *sa = wm_json_as_string(a, &la), *sb = wm_json_as_string(b, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;
    }
    default:
        return wm_json_size(a) == wm_json_size(b);
    }
}

/* Whether a and b have the same types, values, keys and order. */
static inline bool json_equal(const wm_json_t *a, const wm_json_t *b)
{
    typedef struct {
        const wm_json_t *a, *b;
    } pair_t;
    size_t cap = 64, n = 0;
    pair_t *st = malloc(cap * sizeof *st);
    bool eq = true;
    st[n++] = (pair_t){a, b};
    while (eq && n > 0) {
        pair_t p = st[--n];
        wm_json_type_t t = wm_json_type(p.a);
        if (t != wm_json_type(p.b) || !json_scalar_equal(p.a, p.b)) {
            eq = false;
            break;
        }
        for (size_t i = 0; (t == WM_JSON_ARRAY || t == WM_JSON_OBJECT) && i < wm_json_size(p.a);
             i++) {
            if (t == WM_JSON_OBJECT) {
                size_t ka, kb;
                const char *sa = wm_json_key_at(p.a, i, &ka), *sb = wm_json_key_at(p.b, i, &kb);
                if (ka != kb || memcmp(sa, sb, ka) != 0) {
                    eq = false;
                    break;
                }
            }
            if (n == cap)
                st = realloc(st, (cap *= 2) * sizeof *st);
            st[n++] = t == WM_JSON_ARRAY
                          ? (pair_t){wm_json_at(p.a, i), wm_json_at(p.b, i)}
                          : (pair_t){wm_json_value_at(p.a, i), wm_json_value_at(p.b, i)};
        }
    }
    free(st);
    return eq;
}

#endif
