/* SPDX-License-Identifier: MIT */
/* An open-addressing hash map from nonzero uint64 ids to pointers, used for
 * the process's timer and connection tables. Ids come from counters, so a
 * multiplicative hash spreads them; deletion uses backward shifting (no
 * tombstones), which keeps lookups short after heavy churn. */
#include <stdlib.h>

#include "wm_int.h"

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int grow(wm__map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    wm__map_entry_t *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return WM_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = slot_of(m->slots[i].key, ncap);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return WM_OK;
}

int wm__map_put(wm__map_t *m, uint64_t key, void *val)
{
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != WM_OK)
        return WM_ENOMEM;
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->len++;
    m->slots[i].key = key;
    m->slots[i].val = val;
    return WM_OK;
}

void *wm__map_get(const wm__map_t *m, uint64_t key)
{
    if (!m->cap || !key)
        return NULL;
    for (size_t i = slot_of(key, m->cap); m->slots[i].key; i = (i + 1) & (m->cap - 1))
        if (m->slots[i].key == key)
            return m->slots[i].val;
    return NULL;
}

void *wm__map_del(wm__map_t *m, uint64_t key)
{
    if (!m->cap || !key)
        return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].key != key) {
        if (!m->slots[i].key)
            return NULL;
        i = (i + 1) & (m->cap - 1);
    }
    void *val = m->slots[i].val;
    /* Shift later entries of the same run back so no lookup stops early. */
    size_t hole = i;
    for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1)) {
        size_t home = slot_of(m->slots[j].key, m->cap);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = 0;
    m->slots[hole].val = NULL;
    m->len--;
    return val;
}

void wm__map_free(wm__map_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}
