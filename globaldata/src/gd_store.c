/* SPDX-License-Identifier: MIT */
/* GlobalData's data in memory: every key in a hash table (point operations)
 * and in a skip list ordered by key bytes (listing keys by prefix with a
 * stable cursor), and the keys that expire in a min-heap on their expiry
 * time (the active sweep pops what is due without scanning).
 *
 * One allocation holds an entry, its skip-list links and its key; the value
 * is a second one, so replacing a value never moves the entry. The hash is
 * seeded per process, so a client cannot choose keys that collide. Growing
 * the table rehashes every key at once (about 10 ms per million keys here),
 * a pause we accept instead of the bookkeeping of incremental rehashing. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gd_int.h"

#define SKIP_MAX_LEVEL 32
#define NOT_IN_HEAP SIZE_MAX

struct wm__gd_entry {
    wm__gd_entry_t *hnext; /* hash chain */
    uint64_t hash;
    char *val;
    size_t vlen;
    int64_t expire_at; /* Unix ms; 0 = never */
    size_t heap_at;    /* index in the expiry heap, or NOT_IN_HEAP */
    uint32_t klen;
    uint32_t level;
    wm__gd_entry_t *fwd[]; /* `level` skip-list links, then the key bytes */
};

struct wm__gd_store {
    wm__gd_entry_t **buckets;
    size_t nbuckets;
    size_t count;
    size_t bytes;
    uint64_t seed;
    uint64_t rng;
    uint64_t expired_total;
    wm__gd_entry_t *head; /* skip-list head: SKIP_MAX_LEVEL links, no key */
    uint32_t level;
    wm__gd_entry_t **heap;
    size_t heap_len, heap_cap;
    wm__gd_expired_cb on_expired;
    void *user_data;
};

static char *key_of(const wm__gd_entry_t *e)
{
    return (char *)&e->fwd[e->level];
}

/* ---- Hashing ------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t wm__gd_hash_key(uint64_t seed, const char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w) + 0x9E3779B97F4A7C15ull;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return mix64(h ^ tail ^ ((uint64_t)n << 56));
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int grow_buckets(wm__gd_store_t *s)
{
    size_t n = s->nbuckets * 2;
    wm__gd_entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return WM_ENOMEM;
    for (size_t i = 0; i < s->nbuckets; i++) {
        wm__gd_entry_t *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->hnext;
            size_t j = e->hash & (n - 1);
            e->hnext = b[j];
            b[j] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
    return WM_OK;
}

/* ---- Expiry heap --------------------------------------------------------- */

static void heap_place(wm__gd_store_t *s, size_t i, wm__gd_entry_t *e)
{
    s->heap[i] = e;
    e->heap_at = i;
}

static void heap_up(wm__gd_store_t *s, size_t i)
{
    wm__gd_entry_t *e = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s->heap[parent]->expire_at <= e->expire_at)
            break;
        heap_place(s, i, s->heap[parent]);
        i = parent;
    }
    heap_place(s, i, e);
}

static void heap_down(wm__gd_store_t *s, size_t i)
{
    wm__gd_entry_t *e = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len && s->heap[c + 1]->expire_at < s->heap[c]->expire_at)
            c++;
        if (e->expire_at <= s->heap[c]->expire_at)
            break;
        heap_place(s, i, s->heap[c]);
        i = c;
    }
    heap_place(s, i, e);
}

static void heap_remove(wm__gd_store_t *s, wm__gd_entry_t *e)
{
    size_t i = e->heap_at;
    if (i == NOT_IN_HEAP)
        return;
    e->heap_at = NOT_IN_HEAP;
    wm__gd_entry_t *last = s->heap[--s->heap_len];
    if (last == e)
        return;
    heap_place(s, i, last);
    heap_up(s, i);
    heap_down(s, last->heap_at);
}

/* Returns WM_ENOMEM only when adding to the heap needs memory it cannot get. */
static int heap_set(wm__gd_store_t *s, wm__gd_entry_t *e, int64_t expire_at)
{
    if (expire_at == 0) {
        heap_remove(s, e);
        e->expire_at = 0;
        return WM_OK;
    }
    if (e->heap_at == NOT_IN_HEAP) {
        if (s->heap_len == s->heap_cap) {
            size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
            wm__gd_entry_t **h = realloc(s->heap, cap * sizeof *h);
            if (!h)
                return WM_ENOMEM;
            s->heap = h;
            s->heap_cap = cap;
        }
        e->expire_at = expire_at;
        heap_place(s, s->heap_len++, e);
        heap_up(s, e->heap_at);
        return WM_OK;
    }
    e->expire_at = expire_at;
    heap_up(s, e->heap_at);
    heap_down(s, e->heap_at);
    return WM_OK;
}

/* ---- Skip list ----------------------------------------------------------- */

/* Fills `update` with the last node before `key` at every level. */
static void skip_find(wm__gd_store_t *s, const char *key, size_t klen,
                      wm__gd_entry_t *update[SKIP_MAX_LEVEL])
{
    wm__gd_entry_t *x = s->head;
    for (int i = SKIP_MAX_LEVEL - 1; i >= 0; i--) {
        while (x->fwd[i] && key_cmp(key_of(x->fwd[i]), x->fwd[i]->klen, key, klen) < 0)
            x = x->fwd[i];
        update[i] = x;
    }
}

static uint32_t random_level(wm__gd_store_t *s)
{
    uint32_t level = 1;
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    for (uint64_t r = s->rng; (r & 3) == 0 && level < SKIP_MAX_LEVEL; r >>= 2)
        level++;
    return level;
}

/* ---- The store ----------------------------------------------------------- */

wm__gd_store_t *wm__gd_store_new(wm__gd_expired_cb on_expired, void *user_data)
{
    wm__gd_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    s->head = calloc(1, sizeof *s->head + SKIP_MAX_LEVEL * sizeof s->head->fwd[0]);
    if (!s->buckets || !s->head) {
        free(s->buckets);
        free(s->head);
        free(s);
        return NULL;
    }
    s->head->level = SKIP_MAX_LEVEL;
    if (getrandom(&s->seed, sizeof s->seed, 0) != (ssize_t)sizeof s->seed)
        s->seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    s->rng = s->seed | 1;
    s->on_expired = on_expired;
    s->user_data = user_data;
    return s;
}

void wm__gd_store_free(wm__gd_store_t *s)
{
    if (!s)
        return;
    wm__gd_entry_t *e = s->head->fwd[0], *next;
    for (; e; e = next) {
        next = e->fwd[0];
        free(e->val);
        free(e);
    }
    free(s->head);
    free(s->buckets);
    free(s->heap);
    free(s);
}

static wm__gd_entry_t *lookup(const wm__gd_store_t *s, const char *key, size_t klen, uint64_t h)
{
    for (wm__gd_entry_t *e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->klen == klen && memcmp(key_of(e), key, klen) == 0)
            return e;
    return NULL;
}

static bool is_expired(const wm__gd_entry_t *e, int64_t now_ms)
{
    return e->expire_at != 0 && e->expire_at <= now_ms;
}

static void expire_entry(wm__gd_store_t *s, wm__gd_entry_t *e)
{
    if (s->on_expired)
        s->on_expired(key_of(e), e->klen, s->user_data);
    s->expired_total++;
    wm__gd_store_delete(s, e);
}

wm__gd_entry_t *wm__gd_store_find(wm__gd_store_t *s, const char *key, size_t klen, int64_t now_ms)
{
    wm__gd_entry_t *e = lookup(s, key, klen, wm__gd_hash_key(s->seed, key, klen));
    if (e && is_expired(e, now_ms)) {
        expire_entry(s, e);
        return NULL;
    }
    return e;
}

static char *copy_value(const char *val, size_t vlen)
{
    char *v = malloc(vlen ? vlen : 1);
    if (v && vlen)
        memcpy(v, val, vlen);
    return v;
}

wm__gd_entry_t *wm__gd_store_put(wm__gd_store_t *s, const char *key, size_t klen, const char *val,
                                 size_t vlen, int64_t expire_at)
{
    uint64_t h = wm__gd_hash_key(s->seed, key, klen);
    wm__gd_entry_t *e = lookup(s, key, klen, h);
    if (e) {
        if (wm__gd_store_set_value(s, e, val, vlen) != WM_OK)
            return NULL;
        if (heap_set(s, e, expire_at) != WM_OK) /* only when adding to the heap */
            return NULL;
        return e;
    }
    if (s->count >= s->nbuckets && grow_buckets(s) != WM_OK)
        return NULL;
    uint32_t level = random_level(s);
    e = calloc(1, sizeof *e + level * sizeof e->fwd[0] + klen);
    char *v = copy_value(val, vlen);
    if (!e || !v) {
        free(e);
        free(v);
        return NULL;
    }
    e->level = level;
    e->klen = (uint32_t)klen;
    e->hash = h;
    e->val = v;
    e->vlen = vlen;
    e->heap_at = NOT_IN_HEAP;
    memcpy(key_of(e), key, klen);
    if (heap_set(s, e, expire_at) != WM_OK) {
        free(v);
        free(e);
        return NULL;
    }
    wm__gd_entry_t *update[SKIP_MAX_LEVEL];
    skip_find(s, key, klen, update);
    for (uint32_t i = 0; i < level; i++) {
        e->fwd[i] = update[i]->fwd[i];
        update[i]->fwd[i] = e;
    }
    size_t b = h & (s->nbuckets - 1);
    e->hnext = s->buckets[b];
    s->buckets[b] = e;
    s->count++;
    s->bytes += klen + vlen;
    return e;
}

int wm__gd_store_set_value(wm__gd_store_t *s, wm__gd_entry_t *e, const char *val, size_t vlen)
{
    char *v = copy_value(val, vlen);
    if (!v)
        return WM_ENOMEM;
    free(e->val);
    s->bytes = s->bytes - e->vlen + vlen;
    e->val = v;
    e->vlen = vlen;
    return WM_OK;
}

void wm__gd_store_set_expire(wm__gd_store_t *s, wm__gd_entry_t *e, int64_t expire_at)
{
    /* Removing never fails; adding can only fail for the heap's memory,
     * and then the key simply keeps its old expiry. */
    (void)heap_set(s, e, expire_at);
}

void wm__gd_store_delete(wm__gd_store_t *s, wm__gd_entry_t *e)
{
    wm__gd_entry_t **pp = &s->buckets[e->hash & (s->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    wm__gd_entry_t *update[SKIP_MAX_LEVEL];
    skip_find(s, key_of(e), e->klen, update);
    for (uint32_t i = 0; i < e->level; i++)
        if (update[i]->fwd[i] == e)
            update[i]->fwd[i] = e->fwd[i];
    heap_remove(s, e);
    s->count--;
    s->bytes -= e->klen + e->vlen;
    free(e->val);
    free(e);
}

const char *wm__gd_entry_key(const wm__gd_entry_t *e, size_t *klen)
{
    *klen = e->klen;
    return key_of(e);
}

const char *wm__gd_entry_value(const wm__gd_entry_t *e, size_t *vlen)
{
    *vlen = e->vlen;
    return e->val;
}

int64_t wm__gd_entry_expire(const wm__gd_entry_t *e)
{
    return e->expire_at;
}

static bool has_prefix(const wm__gd_entry_t *e, const char *prefix, size_t plen)
{
    return e->klen >= plen && (plen == 0 || memcmp(key_of(e), prefix, plen) == 0);
}

/* The first entry after `cursor` (strictly), or at/after `prefix` when there
 * is no cursor or the cursor sorts before the prefix. */
static wm__gd_entry_t *scan_start(wm__gd_store_t *s, const char *prefix, size_t plen,
                                  const char *cursor, size_t clen)
{
    bool after_cursor = cursor && key_cmp(cursor, clen, prefix, plen) >= 0;
    const char *k = after_cursor ? cursor : prefix;
    size_t klen = after_cursor ? clen : plen;
    wm__gd_entry_t *x = s->head;
    for (int i = SKIP_MAX_LEVEL - 1; i >= 0; i--) {
        for (wm__gd_entry_t *n = x->fwd[i]; n; n = x->fwd[i]) {
            int c = key_cmp(key_of(n), n->klen, k, klen);
            if (c > 0 || (c == 0 && !after_cursor))
                break;
            x = n;
        }
    }
    return x->fwd[0];
}

bool wm__gd_store_scan(wm__gd_store_t *s, const char *prefix, size_t plen, const char *cursor,
                       size_t clen, size_t limit, int64_t now_ms, wm__gd_key_cb cb, void *user_data,
                       const char **next, size_t *next_len)
{
    wm__gd_entry_t *x = scan_start(s, prefix, plen, cursor, clen), *last = NULL;
    size_t returned = 0, looked = 0, max_look = 10 * limit + 10;
    for (; x && has_prefix(x, prefix, plen); x = x->fwd[0]) {
        if (returned == limit || looked == max_look)
            break;
        looked++;
        last = x;
        if (is_expired(x, now_ms))
            continue; /* the sweep or the next access deletes it */
        cb(key_of(x), x->klen, user_data);
        returned++;
    }
    if (!x || !has_prefix(x, prefix, plen) || !last)
        return false;
    *next = key_of(last);
    *next_len = last->klen;
    return true;
}

size_t wm__gd_store_expire_due(wm__gd_store_t *s, int64_t now_ms, size_t budget)
{
    size_t n = 0;
    while (n < budget && s->heap_len > 0 && s->heap[0]->expire_at <= now_ms) {
        expire_entry(s, s->heap[0]);
        n++;
    }
    return n;
}

size_t wm__gd_store_count(const wm__gd_store_t *s)
{
    return s->count;
}

size_t wm__gd_store_expiring(const wm__gd_store_t *s)
{
    return s->heap_len;
}

size_t wm__gd_store_bytes(const wm__gd_store_t *s)
{
    return s->bytes;
}

uint64_t wm__gd_store_expired_total(const wm__gd_store_t *s)
{
    return s->expired_total;
}

int64_t wm__gd_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
