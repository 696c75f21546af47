/* SPDX-License-Identifier: MIT */
/* The memory session store: a chained hash table from session id to the
 * serialized data and the time of its last use, in this process only.
 *
 * Only ids that wm made (random, 192 bits) are ever inserted; ids from
 * clients are only looked up. So the chains stay short without a keyed
 * hash: a client can choose what it looks up, not where entries land.
 * Times come from the monotonic clock, so a change of the wall clock
 * neither expires nor revives sessions. */
#include <stdlib.h>
#include <string.h>

#include "wm_int.h"
#include "http_session_int.h"

typedef struct mem_entry {
    struct mem_entry *next;
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    void *data;
    size_t len;
    uint64_t used_ms; /* wm_now_ms() of the last save or touch */
} mem_entry_t;

typedef struct mem_store {
    mem_entry_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t n;
} mem_store_t;

static size_t bucket_of(const mem_store_t *m, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < WM_HTTP_SESSION_ID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 0x100000001b3ull;
    return (size_t)h & (m->nbuckets - 1);
}

static bool expired(const mem_entry_t *e, int64_t lifetime, uint64_t now)
{
    return now - e->used_ms > (uint64_t)lifetime * 1000;
}

/* The link that points at `id`'s entry (or at the NULL ending its chain). */
static mem_entry_t **find_link(mem_store_t *m, const char *id)
{
    mem_entry_t **link = &m->buckets[bucket_of(m, id)];
    while (*link && memcmp((*link)->id, id, WM_HTTP_SESSION_ID_LEN) != 0)
        link = &(*link)->next;
    return link;
}

static void unlink_entry(mem_store_t *m, mem_entry_t **link)
{
    mem_entry_t *e = *link;
    *link = e->next;
    free(e->data);
    free(e);
    m->n--;
}

static int grow(mem_store_t *m)
{
    size_t ncap = m->nbuckets * 2;
    mem_entry_t **nb = calloc(ncap, sizeof *nb);
    if (!nb)
        return WM_ENOMEM;
    mem_entry_t **old = m->buckets;
    size_t oldcap = m->nbuckets;
    m->buckets = nb;
    m->nbuckets = ncap;
    for (size_t i = 0; i < oldcap; i++) {
        for (mem_entry_t *e = old[i], *next; e; e = next) {
            next = e->next;
            size_t b = bucket_of(m, e->id);
            e->next = nb[b];
            nb[b] = e;
        }
    }
    free(old);
    return WM_OK;
}

/* The entry of `id` if it is still alive; an expired one is dropped here,
 * so that load and touch never revive it before the collector runs. */
static mem_entry_t *live_entry(mem_store_t *m, const char *id, int64_t lifetime)
{
    mem_entry_t **link = find_link(m, id);
    if (*link && expired(*link, lifetime, wm_now_ms())) {
        unlink_entry(m, link); /* *link is now the next entry of the chain */
        return NULL;
    }
    return *link;
}

static int mem_load(void *impl, const char *id, int64_t lifetime, void **data, size_t *len)
{
    mem_entry_t *e = live_entry(impl, id, lifetime);
    if (!e)
        return WM_ENOENT;
    void *copy = malloc(e->len ? e->len : 1);
    if (!copy)
        return WM_ENOMEM;
    memcpy(copy, e->data, e->len);
    *data = copy;
    *len = e->len;
    return WM_OK;
}

static int mem_save(void *impl, const char *id, const void *data, size_t len, int64_t lifetime)
{
    mem_store_t *m = impl;
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return WM_ENOMEM;
    memcpy(copy, data, len);
    mem_entry_t *e = *find_link(m, id);
    if (!e) {
        /* Grown before the insert, so that a failed grow changes nothing. */
        if (m->n >= m->nbuckets && grow(m) != WM_OK) {
            free(copy);
            return WM_ENOMEM;
        }
        e = calloc(1, sizeof *e);
        if (!e) {
            free(copy);
            return WM_ENOMEM;
        }
        memcpy(e->id, id, sizeof e->id);
        size_t b = bucket_of(m, id);
        e->next = m->buckets[b];
        m->buckets[b] = e;
        m->n++;
    }
    free(e->data);
    e->data = copy;
    e->len = len;
    e->used_ms = wm_now_ms();
    return WM_OK;
}

static int mem_touch(void *impl, const char *id, int64_t lifetime)
{
    mem_entry_t *e = live_entry(impl, id, lifetime);
    if (!e)
        return WM_ENOENT;
    e->used_ms = wm_now_ms();
    return WM_OK;
}

static int mem_remove(void *impl, const char *id)
{
    mem_store_t *m = impl;
    mem_entry_t **link = find_link(m, id);
    if (*link)
        unlink_entry(m, link);
    return WM_OK;
}

static int mem_gc(void *impl, int64_t lifetime)
{
    mem_store_t *m = impl;
    uint64_t now = wm_now_ms();
    int removed = 0;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_entry_t **link = &m->buckets[i];
        while (*link) {
            if (expired(*link, lifetime, now)) {
                unlink_entry(m, link);
                removed++;
            } else {
                link = &(*link)->next;
            }
        }
    }
    return removed;
}

static void mem_free(void *impl)
{
    mem_store_t *m = impl;
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++)
        while (m->buckets[i])
            unlink_entry(m, &m->buckets[i]);
    free(m->buckets);
    free(m);
}

static const wm_http_session_store_ops_t mem_ops = {
    .load = mem_load,
    .save = mem_save,
    .touch = mem_touch,
    .remove = mem_remove,
    .gc = mem_gc,
    .free = mem_free,
};

wm_http_session_store_t *wm_http_session_store_memory_new(void)
{
    mem_store_t *m = calloc(1, sizeof *m);
    if (m) {
        m->nbuckets = 64;
        m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    }
    if (!m || !m->buckets) {
        free(m);
        return NULL;
    }
    return wm_http_session_store_new(&mem_ops, m);
}
