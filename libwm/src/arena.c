/* SPDX-License-Identifier: MIT */
/* The arena behind JSON documents and parsed forms (body_int.h): one list
 * of chunks per owner, so that a tree of thousands of small values is
 * released with one call and never leaks a node on an error path. Also the
 * locale-independent number conversions the JSON code needs: a program
 * that calls setlocale(LC_ALL, "") may have ',' as its decimal point, and
 * JSON never does. */
#include <locale.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body_int.h"

struct wm__arena_chunk {
    wm__arena_chunk_t *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

#define ARENA_FIRST_CHUNK 1024
#define ARENA_MAX_CHUNK ((size_t)1 << 20)

void *wm__arena_alloc(wm__arena_t *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    size_t need = (n + align - 1) & ~(align - 1);
    if (need < n)
        return NULL;
    wm__arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t size = a->next_size ? a->next_size : ARENA_FIRST_CHUNK;
        bool own = need > size; /* gets a chunk of its own */
        if (own)
            size = need;
        if (size > SIZE_MAX - sizeof *c)
            return NULL;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = size;
        if (own && a->head) {
            /* Behind the current chunk, so the space left in that one stays
             * in use. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
            if (!own && size < ARENA_MAX_CHUNK)
                a->next_size = size * 2;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

char *wm__arena_strndup(wm__arena_t *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *d = wm__arena_alloc(a, n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void wm__arena_free(wm__arena_t *a)
{
    wm__arena_chunk_t *c = a->head;
    while (c) {
        wm__arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->next_size = 0;
}

/* Made once per process and never freed: a locale object is small and
 * every thread may share it. */
static locale_t c_locale(void)
{
    static locale_t loc;
    if (!loc)
        loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return loc;
}

double wm__strtod_c(const char *s, char **end)
{
    locale_t loc = c_locale();
    return loc ? strtod_l(s, end, loc) : strtod(s, end);
}

int wm__format_double_c(char *out, size_t cap, int precision, double d)
{
    locale_t loc = c_locale();
    locale_t old = loc ? uselocale(loc) : (locale_t)0;
    int n = snprintf(out, cap, "%.*g", precision, d);
    if (loc)
        uselocale(old);
    return n;
}
