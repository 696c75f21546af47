/* SPDX-License-Identifier: MIT */
/* Timers by id. Each timer is one libevent event; repeating timers use
 * EV_PERSIST, whose next deadline libevent computes from the previous one,
 * so periods do not drift. A timer deleted inside its own callback is only
 * marked; the callback's caller frees it once the callback returns. */
#include <stdlib.h>

#include "wm_int.h"

typedef struct wm_timer {
    wm_timer_id_t id;
    struct event *ev;
    wm_timer_cb cb;
    void *user_data;
    wm_free_cb free_cb;
    bool repeat;
    bool running; /* its callback is on the stack */
    bool deleted;
    bool zero; /* 0 ms period */
} wm_timer_t;

static wm__map_t timers;
static wm_timer_id_t next_timer_id = 1;

static void timer_release(wm_timer_t *t)
{
    event_free(t->ev);
    if (t->free_cb)
        t->free_cb(t->user_data);
    free(t);
}

static void timer_fire(evutil_socket_t fd, short what, void *arg)
{
    wm_timer_t *t = arg;
    wm_timer_id_t id = t->id;
    if (!t->repeat) {
        /* A one-shot is gone once it fires: deleting it from inside its own
         * callback answers WM_ENOENT, as for any fired timer. */
        wm__map_del(&timers, id);
        t->deleted = true;
    }
    t->running = true;
    t->cb(id, t->user_data);
    t->running = false;
    if (t->deleted) {
        timer_release(t);
    } else if (t->repeat && t->zero) {
        /* libevent does not re-arm a persistent event with a zero timeout:
         * a 0 ms repeating timer is re-added by hand, for the next turn. */
        struct timeval tv = {0, 0};
        event_add(t->ev, &tv);
    }
}

wm_timer_id_t wm_timer_add(uint64_t ms, bool repeat, wm_timer_cb cb, void *user_data,
                           wm_free_cb free_cb)
{
    struct event_base *base = wm__base();
    wm_timer_t *t = base && cb ? calloc(1, sizeof *t) : NULL;
    if (!t)
        goto fail;
    t->id = next_timer_id++;
    t->cb = cb;
    t->user_data = user_data;
    t->free_cb = free_cb;
    t->repeat = repeat;
    t->zero = ms == 0;
    t->ev = event_new(base, -1, repeat && ms ? EV_PERSIST : 0, timer_fire, t);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (!t->ev || wm__map_put(&timers, t->id, t) != WM_OK)
        goto fail;
    if (event_add(t->ev, &tv) < 0) {
        wm__map_del(&timers, t->id);
        goto fail;
    }
    return t->id;
fail:
    if (t && t->ev)
        event_free(t->ev);
    free(t);
    wm_log_error("cannot add a timer: %s", cb ? "out of memory" : "no callback");
    return 0;
}

int wm_timer_del(wm_timer_id_t id)
{
    wm_timer_t *t = wm__map_del(&timers, id);
    if (!t)
        return WM_ENOENT;
    event_del(t->ev);
    t->deleted = true;
    if (!t->running)
        timer_release(t);
    return WM_OK;
}

void wm_timer_del_all(void)
{
    /* Collect ids first: deleting reshuffles the table, and a destructor may
     * add or delete timers. */
    while (timers.len) {
        size_t n = 0, cap = timers.len;
        wm_timer_id_t *ids = malloc(cap * sizeof *ids);
        for (size_t i = 0; i < timers.cap && n < cap; i++) {
            if (timers.slots[i].key) {
                if (!ids) {
                    wm_timer_del(timers.slots[i].key); /* no memory: one by one */
                    break;
                }
                ids[n++] = timers.slots[i].key;
            }
        }
        for (size_t i = 0; i < n; i++)
            wm_timer_del(ids[i]);
        free(ids);
    }
}

size_t wm_timer_count(void)
{
    return timers.len;
}

void wm__timer_free_all(void)
{
    wm_timer_del_all();
    wm__map_free(&timers);
}
